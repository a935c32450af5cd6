#!/usr/bin/env python3
"""The reload test of the durability issue: 20 reloads (SIGHUP) while 100,000 events stream
through two routes: route-only reloads (the filter changes, the meaning does not: a swap marker
in the journal cuts them) and reloads that restart the connectors (a connector is added or
removed). Zero loss: every event reaches both destinations; duplicates are counted (a restart
is at least once) and none is delivered that was not sent."""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "integration"))
from omb import (VALGRIND, Daemon, check, config, done, drop, file_sink, file_source, wait_for,
                 workdir, write_config)

TOTAL = 10_000 if VALGRIND else 100_000
PER_FILE = 1_000
RELOADS = 20


def event(n):
    return {"type": "price.set", "key": f"sku-{n % 50}",
            "body": {"n": n, "sku": f"sku-{n % 50}", "price": {"amount": n, "currency": "PLN"}}}


def cfg(d, variant):
    base = (file_source("src", d + "/in", poll="10ms") + file_sink("a", d + "/a.ndjson") +
            file_sink("b", d + "/b.ndjson"))
    if variant == 2:  # a connector more: the connectors restart
        base += file_sink("spare", d + "/spare.ndjson")
    filt = ["", "<filter>.n &gt;= 0</filter>", "<filter>.price.amount &gt; -1</filter>"][variant]
    return config(base +
                  f'  <route name="to-a"><from connector="src"/>{filt}<to connector="a"/></route>\n'
                  '  <route name="to-b"><from connector="src" type="price.*"/>'
                  '<to connector="b"/></route>\n', drain="30s")


def feed(d):
    for f in range(TOTAL // PER_FILE):
        first = f * PER_FILE
        drop(d + "/in", f"p-{f:04d}.ndjson", [event(n) for n in range(first, first + PER_FILE)])
        time.sleep(0.02 * (5 if VALGRIND else 1))


def ns(path):
    out = []
    if os.path.exists(path):
        with open(path, "rb") as f:
            # A last line still being written (no newline yet) is read next time.
            out = [json.loads(line)["body"]["n"] for line in f
                   if line.strip() and line.endswith(b"\n")]
    return out


def main():
    d = workdir("durability-reload")
    os.makedirs(d + "/in")
    path = os.path.join(d, "omnibus.xml")
    write_config(d, cfg(d, 0))
    daemon = Daemon(path)
    feeder = threading.Thread(target=feed, args=(d,))
    feeder.start()
    modes = {"routes": 0, "restart": 0}
    for i in range(1, RELOADS + 1):
        time.sleep(0.1 * (5 if VALGRIND else 1))
        variant = (1, 0, 1, 0, 2)[i % 5]  # 2 is the one with a connector more
        write_config(d, cfg(d, variant))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: daemon.text().count("reloaded:") >= i, timeout=60,
                 what=f"reload {i}")
    feeder.join()
    log = daemon.text()
    modes["routes"] = log.count("reloaded: routes swapped")
    modes["restart"] = log.count("reloaded: connectors restarted")
    check(modes["routes"] >= 10 and modes["restart"] >= 6, f"both kinds of reload: {modes}")
    wait_for(lambda: all(len(set(ns(d + f"/{x}.ndjson"))) >= TOTAL for x in "ab"), timeout=300,
             what="every event at both destinations")
    check(daemon.stop() == 0, "exit 0")
    for x in "ab":
        got = ns(d + f"/{x}.ndjson")
        distinct = set(got)
        check(distinct == set(range(TOTAL)), f"{x}: {TOTAL - len(distinct & set(range(TOTAL)))} "
              f"lost, {len(distinct - set(range(TOTAL)))} never sent")
        print(f"reload test: destination {x}: {TOTAL} events, {RELOADS} reloads {modes}, "
              f"{len(got) - len(distinct)} duplicate(s)")
    done()


if __name__ == "__main__":
    main()
