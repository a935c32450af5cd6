#!/usr/bin/env python3
"""The disk-full test of the durability issue. A destination is down, so the journal grows;
webhooks keep coming. (1) With a disk budget on the store: once the store reaches it, the
ingress answers 503 with Retry-After and takes nothing. (2) As root, with the store on a small
tmpfs (8 MiB) that really fills: commits fail with "database or disk is full", the ingress answers 503,
the store is not corrupted. In both, every request answered 200 is delivered once the
destination is back, and the ingress accepts again once the delivered events are pruned."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "integration"))
from omb import Daemon, check, config, done, wait_for, workdir, write_config
from omb_http import FakeServer, listen_port, request


def scenario(name, store_attrs, store_dir, max_posts):
    srv = FakeServer()
    srv.script("/stock", [(503, {}, "down")])
    d = workdir(name)
    os.makedirs(store_dir, exist_ok=True)
    body = ('  <connector name="hook" plugin="http">\n'
            '    <option name="path">stock</option>\n'
            '    <option name="type">"stock.level"</option>\n'
            '    <option name="key">.body.sku</option>\n  </connector>\n'
            '  <connector name="shop" plugin="http">\n'
            f'    <option name="url">http://127.0.0.1:{srv.port}/stock</option>\n'
            '  </connector>\n'
            '  <route name="r"><from connector="hook"/><to connector="shop"/></route>\n')
    extra = (f'  <store path="{store_dir}/journal.db" {store_attrs}/>\n'
             '  <http listen="127.0.0.1:0"/>\n')
    dm = Daemon(write_config(d, config(body, drain="30s", extra=extra)))
    port = listen_port(dm)
    pad = "x" * 900
    accepted, refused, n = [], [], 0
    while n < max_posts and len(refused) < 20:
        st, h, _ = request(port, "/hooks/hook/stock",
                           json.dumps({"sku": f"sku-{n % 30}", "n": n, "pad": pad}),
                           {"Content-Type": "application/json"})
        if st == 200:
            accepted.append(n)
        else:
            check(st == 503 and h.get("retry-after", "").isdigit(),
                  f"{name}: a full store answers 503 with Retry-After, got {st} {h}")
            refused.append(n)
        n += 1
    check(len(refused) > 0 and len(accepted) > 100,
          f"{name}: the store filled after {len(accepted)} accepted webhooks")
    print(f"{name}: {len(accepted)} accepted, then 503 ({len(refused)} refused)")

    # The destination comes back: everything accepted is delivered, the space is reused.
    srv.script("/stock", [(200, {}, "{}")])
    delivered = lambda: {json.loads(r["body"])["n"] for r in srv.seen("/stock")
                         if r["body"]} >= set(accepted)
    wait_for(delivered, timeout=120, what=f"{name}: every accepted event delivered")
    got = {json.loads(r["body"])["n"] for r in srv.seen("/stock") if r["body"]}
    check(not (got & set(refused)), f"{name}: nothing refused was delivered")

    def accepts_again():
        st, _, _ = request(port, "/hooks/hook/stock",
                           json.dumps({"sku": "sku-again", "n": -1}),
                           {"Content-Type": "application/json"})
        time.sleep(0.2)
        return st == 200
    wait_for(accepts_again, timeout=60, what=f"{name}: the ingress to accept again")
    check(dm.stop() == 0, f"{name}: exit 0")
    # The journal is a sound SQLite file.
    out = subprocess.run(["sqlite3", f"{store_dir}/journal.db", "PRAGMA integrity_check"],
                         capture_output=True, text=True)
    check(out.returncode == 0 and out.stdout.strip() == "ok",
          f"{name}: integrity_check: {out.stdout} {out.stderr}")
    srv.close()


def unmount_under(d):
    """A run killed halfway may have left its tmpfs mounted: workdir could not remove it."""
    if not os.path.isdir(d):
        return
    for name in os.listdir(d):
        path = os.path.join(d, name)
        if os.path.ismount(path):
            subprocess.run(["umount", path], capture_output=True)


def main():
    if os.geteuid() == 0:
        unmount_under(os.path.join(os.environ.get("top_builddir", "."), "tests", "tmp",
                                   "durability-diskfull"))
    d = workdir("durability-diskfull")
    scenario("durability-budget", 'budget="1M" group-wait="0ms"', d + "/budget", 5000)
    if os.geteuid() != 0:
        print("SKIP (not root): the tmpfs half of the disk-full test; the budget half ran")
        done()
    tmpfs = d + "/tmpfs"
    os.makedirs(tmpfs)
    # 8 MiB: the store keeps 4 MiB of it back as its reserve, to get out of the full disk.
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", tmpfs]).returncode != 0:
        print("SKIP: cannot mount a tmpfs; the budget half ran")
        done()
    try:
        scenario("durability-enospc", 'group-wait="0ms"', tmpfs, 20000)
    finally:
        if subprocess.run(["umount", tmpfs], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", tmpfs])
    done()


if __name__ == "__main__":
    main()
