#!/usr/bin/env python3
"""The crash test of the durability issue: 200,000 events stream from drop files through two
routes to two destinations while omnibusd is killed with SIGKILL at random points (at least 5
times) and restarted on the same journal. At the end every accepted event (every file the
source moved to done/, which it does only once all its events are committed) reached both
destinations at least once, nothing reached a destination that was not sent, and the
duplicates are counted and reported."""
import json
import os
import random
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "integration"))
from omb import (VALGRIND, Daemon, check, config, done, drop, file_sink, file_source, wait_for,
                 workdir, write_config)

TOTAL = 20_000 if VALGRIND else 200_000
PER_FILE = 2_000
KILLS = 2 if VALGRIND else 6


def event(n):
    return {"type": "stock.level", "key": f"sku-{n % 97}",
            "body": {"n": n, "sku": f"sku-{n % 97}", "on_hand": n % 13}}


def feed(d, stop):
    """Drop the events file by file, a little at a time, whether the daemon runs or not."""
    for f in range(TOTAL // PER_FILE):
        if stop.is_set():
            return
        first = f * PER_FILE
        drop(d + "/in", f"batch-{f:04d}.ndjson", [event(n) for n in range(first, first + PER_FILE)])
        time.sleep(0.01)


def read_ns(path):
    """The body.n of every whole line; a line cut by the kill (at most one per kill) is counted
    apart: its event was not finished, so it is delivered again."""
    ns, torn = [], 0
    if not os.path.exists(path):
        return ns, torn
    with open(path, "rb") as f:
        for line in f:
            try:
                ns.append(json.loads(line)["body"]["n"])
            except (ValueError, KeyError, TypeError):
                torn += 1
    return ns, torn


def main():
    d = workdir("durability-crash")
    os.makedirs(d + "/in")
    body = (file_source("src", d + "/in", poll="10ms") + file_sink("a", d + "/a.ndjson") +
            file_sink("b", d + "/b.ndjson") +
            '  <route name="to-a"><from connector="src"/><to connector="a"/></route>\n'
            '  <route name="to-b"><from connector="src" type="stock.*"/>'
            '<to connector="b"/></route>\n')
    path = write_config(d, config(body, drain="30s"))
    rng = random.Random(int(os.environ.get("OMB_CRASH_SEED", "20261125")))
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(d, stop))
    feeder.start()
    t0 = time.time()
    kills = 0
    try:
        daemon = Daemon(path)
        while kills < KILLS:
            time.sleep(rng.uniform(0.2, 1.2) * (5 if VALGRIND else 1))
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait()
            daemon.log.close()
            os.rename(daemon.log_path, f"{daemon.log_path}.{kills}")
            kills += 1
            daemon = Daemon(path)
            check(re.search(r"journal .* \(last seq [1-9]", daemon.text()) is not None,
                  f"restart {kills}: the journal is opened where it stood")
    finally:
        stop.set() if feeder.is_alive() and kills < KILLS else None
    feeder.join()
    files = TOTAL // PER_FILE
    wait_for(lambda: len(os.listdir(d + "/in/done")) >= files if os.path.isdir(d + "/in/done")
             else False, timeout=300, what="every drop file to be stored and moved to done/")
    seen_all = lambda: all(len(set(read_ns(d + f"/{x}.ndjson")[0])) >= TOTAL for x in "ab")
    wait_for(seen_all, timeout=300, what="both destinations to have every event")
    check(daemon.stop() == 0, "the last daemon stops with 0")

    for x in "ab":
        ns, torn = read_ns(d + f"/{x}.ndjson")
        distinct = set(ns)
        missing = TOTAL - len(distinct & set(range(TOTAL)))
        phantom = len(distinct - set(range(TOTAL)))
        check(missing == 0, f"{x}: {missing} accepted event(s) never delivered")
        check(phantom == 0, f"{x}: {phantom} event(s) delivered that were never sent")
        check(torn <= kills, f"{x}: {torn} torn lines for {kills} kills")
        print(f"crash test: destination {x}: {TOTAL} events, {kills} kills, {len(ns)} delivered, "
              f"{len(ns) - len(distinct)} duplicate(s), {torn} torn line(s)")
    print(f"crash test: {time.time() - t0:.1f} s")
    done()


if __name__ == "__main__":
    main()
