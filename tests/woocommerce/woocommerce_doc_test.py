#!/usr/bin/env python3
"""docs/connectors/woocommerce.md against the plugin: every option of the plugin's table (as
`omnibusd --plugin-doc woocommerce` prints it) has a row in the page's options table, and the
worked configuration passes `omnibusd --check` (secrets from the environment)."""
import os
import re
import sys

sys.dont_write_bytecode = True

import woocommerce_helpers  # noqa: F401  (import paths)
from omb import SRCDIR, check, done, run, workdir, write_config


def main():
    page = open(os.path.join(SRCDIR, "docs", "connectors", "woocommerce.md")).read()
    rc, out, err = run(["--plugin-doc", "woocommerce"])
    check(rc == 0, f"--plugin-doc: {rc} {err}")
    names = re.findall(r"^  ([a-z][a-z0-9-]+) ", out.split("options:", 1)[-1], re.M)
    names = [n for n in names if n != "NAME"]
    check(len(names) >= 10, f"the options: {names}")
    for n in names:
        check(f"| `{n}` |" in page, f"option {n} has a row in docs/connectors/woocommerce.md")
    xml = re.search(r"```xml\n(.*?)```", page, re.S)
    if check(xml is not None, "a worked configuration"):
        d = workdir("woocommerce-doc")
        path = write_config(d, xml.group(1))
        rc, out, err = run(["--check", "-c", path], env={
            "WC_CONSUMER_KEY": "ck_doc", "WC_CONSUMER_SECRET": "cs_doc",
            "WC_WEBHOOK_SECRET": "whsec_doc"})
        check(rc == 0, f"omnibusd --check on the worked config: {rc} {out} {err}")


main()
done()
