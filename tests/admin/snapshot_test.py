#!/usr/bin/env python3
"""The admin's `snapshot` (ABI 1.3), end to end through a daemon and omnibusctl: a connector
whose plugin reads back its system (tests/isolation/misbehave.so: stock is the SKU's length at
each location, a price 100 times it, SKUs starting with X unknown) answers for the SKUs and
locations asked; the table and --json show it; a plugin without the capability, an isolated
one, an unknown connector and a malformed request get clear errors and the daemon goes on."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "integration"))
from omb import (BUILDDIR, PLUGINS, Daemon, check, config, done, workdir,  # noqa: E402
                 write_config)

OMNIBUSCTL = os.path.join(os.path.abspath(BUILDDIR), "omnibusctl")
TEST_PLUGINS = os.path.join(os.path.abspath(BUILDDIR), "tests", "isolation", ".libs")


def ctl(dm, *args):
    p = subprocess.run([OMNIBUSCTL, "--socket", dm.admin] + list(args), capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def main():
    d = workdir("admin-snapshot")
    body = ('  <connector name="src" plugin="file"><option name="dir">' + d + '/in</option>'
            '</connector>\n'
            f'  <connector name="shop" plugin="misbehave"><option name="output">{d}/o</option>'
            '</connector>\n'
            f'  <connector name="iso" plugin="misbehave" isolate="process">'
            f'<option name="output">{d}/o2</option></connector>\n'
            '  <connector name="nul" plugin="null"/>\n'
            '  <route name="r"><from connector="src"/><to connector="shop"/><to connector="iso"/>'
            '<to connector="nul"/></route>\n')
    os.makedirs(d + "/in")
    dm = Daemon(write_config(d, config(body)),
                env={"OMNIBUS_PLUGIN_PATH": PLUGINS + ":" + TEST_PLUGINS})

    rc, out, err = ctl(dm, "--json", "snapshot", "shop", "stock", "AB,XYZ,ABCD", "W1,W2")
    check(rc == 0, f"snapshot stock: {rc} {err}")
    r = json.loads(out) if rc == 0 else {}
    items = sorted((i["sku"], i["location"], i["available"]) for i in r.get("items", []))
    check(items == [("AB", "W1", 2), ("AB", "W2", 2), ("ABCD", "W1", 4), ("ABCD", "W2", 4)],
          f"every SKU at every location asked: {items}")
    check(r.get("unknown") == ["XYZ"] and r.get("connector") == "shop" and
          r.get("what") == "stock", f"unknown SKUs, connector and what: {r}")

    rc, out, err = ctl(dm, "snapshot", "shop", "price", "ABC,X1")
    check(rc == 0 and "SKU" in out and "PRICE" in out and "300" in out and "PLN" in out and
          "unknown to the system: X1" in out, f"the price table:\n{out}{err}")

    rc, out, err = ctl(dm, "snapshot", "nul", "stock", "A")
    check(rc != 0 and "no snapshot capability" in err, f"no capability: {rc} {err}")
    rc, out, err = ctl(dm, "snapshot", "iso", "stock", "A")
    check(rc != 0 and "isolated" in err, f"isolated: {rc} {err}")
    rc, out, err = ctl(dm, "snapshot", "nope", "stock", "A")
    check(rc != 0 and "no connector named 'nope'" in err, f"unknown connector: {rc} {err}")
    rc, out, err = ctl(dm, "snapshot", "shop", "colour", "A")
    check(rc != 0 and "stock or price" in err, f"a bad 'what' is a usage error: {rc} {err}")
    rc, out, err = ctl(dm, "snapshot", "shop", "stock", ",")
    check(rc != 0 and "bad_request" in err, f"no SKUs: {rc} {err}")

    rc, out, err = ctl(dm, "status")
    check(rc == 0, "the daemon answers after all that")
    check(dm.stop() == 0, "the daemon stops cleanly")
    done()


if __name__ == "__main__":
    main()
