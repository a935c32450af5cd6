#!/usr/bin/env python3
"""100,000 events through omnibusd on the file connectors: every one arrives exactly once in
each output it was routed to, in order per key."""
import json
import os
import time

from omb import (Daemon, check, config, count_lines, done, drop, file_sink, file_source,
                 wait_for, workdir, write_config)

N = 100_000
FILES = 10
KEYS = 1000

d = workdir("volume")
cfg = config(
    file_source("src", d + "/in", poll="10ms") +
    file_sink("all", d + "/all.ndjson") +
    file_sink("even", d + "/even.ndjson", "body") +
    '  <connector name="sink" plugin="null"/>\n'
    '  <route name="all"><from connector="src" type="stock.*"/>'
    '<to connector="all"/><to connector="sink"/></route>\n'
    '  <route name="even"><from connector="src" type="stock.delta"/>'
    '<filter>.seq % 2 == 0</filter><transform>{sku, seq, q: (.delta * 10)}</transform>'
    '<to connector="even"/></route>\n')
daemon = Daemon(write_config(d, cfg))
t0 = time.time()
seq = 0
for f in range(FILES):
    lines = []
    for i in range(N // FILES):
        k = f"SKU-{(seq * 7919) % KEYS:04d}@WAW01"
        lines.append(json.dumps({"type": "stock.delta", "key": k,
                                 "body": {"sku": k, "seq": seq, "delta": -1}}))
        seq += 1
    drop(d + "/in", f"part-{f:02d}.ndjson", lines)
wait_for(lambda: count_lines(d + "/all.ndjson") >= N and count_lines(d + "/even.ndjson") >= N // 2,
         timeout=600, what=f"{N} events")
elapsed = time.time() - t0
check(daemon.stop() == 0, "exit 0")
print(f"{N} events routed to 3 destinations in {elapsed:.1f} s")

# Exactly once and in order per key, in each output.
with open(d + "/all.ndjson") as f:
    all_events = [json.loads(line) for line in f]
seqs = [e["body"]["seq"] for e in all_events]
check(len(seqs) == N, f"all: {len(seqs)} lines, expected {N}")
check(sorted(seqs) == list(range(N)), "all: every event exactly once")
last = {}
bad = 0
for e in all_events:
    k = e["key"]
    if last.get(k, -1) >= e["body"]["seq"]:
        bad += 1
    last[k] = e["body"]["seq"]
check(bad == 0, f"all: {bad} events out of order per key")
ids = {e["id"] for e in all_events}
check(len(ids) == N, "all: ids unique")

with open(d + "/even.ndjson") as f:
    even = [json.loads(line) for line in f]
check(sorted(e["seq"] for e in even) == list(range(0, N, 2)), "even: exactly the even ones once")
check(all(e["q"] == -10 for e in even), "even: transformed")
last = {}
bad = 0
for e in even:
    if last.get(e["sku"], -1) >= e["seq"]:
        bad += 1
    last[e["sku"]] = e["seq"]
check(bad == 0, f"even: {bad} events out of order per key")
check(len(os.listdir(d + "/in/done")) == FILES, "every drop file moved to done/")
log = daemon.text()
check(f"connector 'sink': emitted 0, received {N}, delivered {N}" in log, "null sink counted all")
done()
