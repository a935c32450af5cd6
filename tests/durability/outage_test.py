#!/usr/bin/env python3
"""The outage test of the durability issue: a destination refuses for a while — 503 five times,
then 429 with Retry-After twice, then 200 — while 2,000 events for 20 keys wait for it.
Everything arrives exactly once, in order per key; the head waits with exponential backoff and
honours Retry-After; the retries are counted in the metrics; nothing behind the head overtakes
it. A second destination on the same source is not held up by the first one's outage."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "integration"))
from omb import (BUILDDIR, Daemon, check, config, count_lines, done, drop, file_sink,
                 file_source, read_lines, wait_for, workdir, write_config)
from omb_http import FakeServer

N = 2000
KEYS = 20
OMNIBUSCTL = os.path.join(BUILDDIR, "omnibusctl")


def event(n):
    return {"type": "stock.level", "key": f"sku-{n % KEYS}",
            "body": {"n": n, "sku": f"sku-{n % KEYS}", "on_hand": n % 7}}


def metrics(daemon):
    out = subprocess.run([OMNIBUSCTL, "--socket", daemon.admin, "--json", "metrics"],
                         capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def main():
    srv = FakeServer()
    d = workdir("durability-outage")
    answers = ([(503, {}, "down for maintenance")] * 5 +
               [(429, {"Retry-After": "1"}, '{"errors":"Exceeded 2 calls per second"}')] * 2 +
               [(200, {}, "{}")])
    srv.script("/stock", answers)
    body = (file_source("src", d + "/in") +
            '  <connector name="shop" plugin="http">\n'
            f'    <option name="url">http://127.0.0.1:{srv.port}/stock</option>\n'
            '  </connector>\n' +
            file_sink("audit", d + "/audit.ndjson") +
            '  <route name="to-shop"><from connector="src"/><to connector="shop"/></route>\n'
            '  <route name="to-audit"><from connector="src"/><to connector="audit"/></route>\n')
    daemon = Daemon(write_config(d, config(body, drain="60s")))
    drop(d + "/in", "a.ndjson", [event(n) for n in range(N // 2)])
    drop(d + "/in", "b.ndjson", [event(n) for n in range(N // 2, N)])

    # The audit destination does not wait for the shop's outage.
    wait_for(lambda: count_lines(d + "/audit.ndjson") == N, what="the audit copy")
    check(len(srv.seen("/stock")) < 10,
          "the shop is still in its outage while the audit copy is complete")
    wait_for(lambda: len(srv.seen("/stock")) >= N + 7, timeout=60,
             what="every event at the shop")
    m = metrics(daemon)
    shop = {x["name"]: x for x in m.get("destinations", [])}.get("shop", {})
    check(shop.get("delivered") == N and shop.get("retried") == 7 and shop.get("rejected") == 0,
          f"the shop's counters show the outage: {shop}")
    check(daemon.stop() == 0, "exit 0")

    seen = srv.seen("/stock")
    attempts = [json.loads(r["body"]).get("n") for r in seen]
    check(len(seen) == N + 7, f"{len(seen)} requests for {N} events and 7 refusals")
    # The first 8 requests are the head event, tried until it went through.
    check(len(set(attempts[:8])) == 1, f"the head is retried alone: {attempts[:8]}")
    gaps = [seen[i + 1]["time"] - seen[i]["time"] for i in range(7)]
    # Backoff from 200 ms doubling (±20 %): 0.16, 0.32, 0.64, 1.28, 2.56 s at least; then
    # Retry-After: 1 s twice.
    lower = [0.16, 0.32, 0.64, 1.28, 2.56, 0.95, 0.95]
    check(all(g >= lo for g, lo in zip(gaps, lower)), f"backoff and Retry-After: {gaps}")
    delivered = attempts[7:]
    check(sorted(delivered) == list(range(N)), "every event delivered exactly once")
    last = {}
    in_order = True
    for n in delivered:
        k = n % KEYS
        if last.get(k, -1) > n:
            in_order = False
        last[k] = n
    check(in_order, "in order per key")
    audit = [e["body"]["n"] for e in read_lines(d + "/audit.ndjson")]
    check(sorted(audit) == list(range(N)), "the audit destination has every event once")
    srv.close()
    done()


if __name__ == "__main__":
    main()
