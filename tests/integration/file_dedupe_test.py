#!/usr/bin/env python3
"""Repeated drop files, end to end: the file connector keys every line with the file's checksum
and line number, so the same file dropped twice (under another name), or again after a restart,
is acknowledged (moved to done/) but delivers each line once. A connector with
dedupe-window="off" delivers every copy. No assertion is about speed."""
import json
import os
import subprocess

from omb import (BUILDDIR, Daemon, check, config, done, drop, file_sink, file_source, read_lines,
                 wait_for, workdir, write_config)

OMNIBUSCTL = os.path.join(os.path.abspath(BUILDDIR), "omnibusctl")


def ev(seq):
    return {"type": "stock.level", "key": f"SKU-{seq}@WAW01", "time": "2026-11-20T10:00:00Z",
            "body": {"sku": f"SKU-{seq}", "location": "WAW01", "on_hand": seq, "seq": seq}}


def ctl(dm, *args):
    """omnibusctl --json ARGS against the daemon: the parsed result, or None."""
    p = subprocess.run([OMNIBUSCTL, "--socket", dm.admin, "--json"] + list(args),
                       capture_output=True, text=True, timeout=60)
    if not check(p.returncode == 0, f"omnibusctl {args}: {p.returncode} {p.stderr}"):
        return None
    return json.loads(p.stdout)


def seqs(path):
    return [e["body"]["seq"] for e in read_lines(path)]


def in_done(d, name):
    return os.path.exists(os.path.join(d, "done", name))


def main():
    d = workdir("file-dedupe")
    src, src_off = d + "/in", d + "/in-off"
    out, out_off = d + "/out.ndjson", d + "/out-off.ndjson"
    os.makedirs(src)
    os.makedirs(src_off)
    off = file_source("pos-off", src_off).replace('plugin="file"',
                                                  'plugin="file" dedupe-window="off"')
    cfg_path = write_config(d, config(
        file_source("pos", src) + off + file_sink("out", out) + file_sink("out-off", out_off) +
        '  <route name="r"><from connector="pos"/><to connector="out"/></route>\n'
        '  <route name="r-off"><from connector="pos-off"/><to connector="out-off"/></route>\n'))
    dm = Daemon(cfg_path)

    # The first file: three events, delivered.
    drop(src, "a.ndjson", [ev(1), ev(2), ev(3)])
    wait_for(lambda: in_done(src, "a.ndjson") and len(read_lines(out)) == 3,
             what="a.ndjson delivered and done")
    keys = [e.get("dedupe", "") for e in read_lines(out)]
    check(len(keys) == 3 and all(len(k) > 65 and k[64] == ":" for k in keys),
          f"keys are <checksum>:<line>: {keys}")
    check([k[65:] for k in keys] == ["1", "2", "3"], f"line numbers: {keys}")
    check(len({k[:64] for k in keys}) == 1, f"one checksum: {keys}")

    # The same bytes under another name: acknowledged (done/), nothing delivered, logged.
    drop(src, "b.ndjson", [ev(1), ev(2), ev(3)])
    wait_for(lambda: in_done(src, "b.ndjson"), what="b.ndjson in done/")
    check("b.ndjson: a repeat of a file read before" in dm.text(), "the repeat is logged")
    # A different file after it: once it is delivered, b's events would have been too.
    drop(src, "c.ndjson", [ev(4)])
    wait_for(lambda: 4 in seqs(out), what="c.ndjson delivered")
    check(seqs(out) == [1, 2, 3, 4], f"one delivery per line: {seqs(out)}")

    # With dedupe-window="off", both copies are delivered.
    drop(src_off, "a.ndjson", [ev(1), ev(2), ev(3)])
    wait_for(lambda: in_done(src_off, "a.ndjson"), what="the first copy, dedupe off")
    drop(src_off, "b.ndjson", [ev(1), ev(2), ev(3)])
    wait_for(lambda: len(read_lines(out_off)) == 6, what="both copies, dedupe off")
    check(seqs(out_off) == [1, 2, 3, 1, 2, 3], f"dedupe off: {seqs(out_off)}")

    # The per-connector count: `omnibusctl metrics` reports it per source.
    metrics = ctl(dm, "metrics") or {}
    sources = {s["name"]: s for s in metrics.get("sources", [])}
    if "deduplicated" in sources.get("pos", {}):
        check(sources["pos"]["deduplicated"] == 3, f"pos: {sources['pos']}")
        check(sources["pos"]["emitted"] == 7, f"pos emitted (repeats included): {sources['pos']}")
        check(sources["pos-off"]["deduplicated"] == 0, f"pos-off: {sources['pos-off']}")
    else:
        print("note: `omnibusctl metrics` does not report sources' 'deduplicated' yet; not checked")
    check(dm.stop() == 0, "clean stop")

    # After a restart (the connector remembers nothing, the journal does): the same file again,
    # as when a file is read again after a crash, delivers nothing new.
    dm = Daemon(cfg_path)
    drop(src, "a-again.ndjson", [ev(1), ev(2), ev(3)])
    wait_for(lambda: in_done(src, "a-again.ndjson"), what="a-again.ndjson in done/")
    drop(src, "d.ndjson", [ev(5)])
    wait_for(lambda: 5 in seqs(out), what="d.ndjson delivered")
    check(seqs(out) == [1, 2, 3, 4, 5], f"nothing new after the restart: {seqs(out)}")
    check(dm.stop() == 0, "clean stop after the restart")
    done()


if __name__ == "__main__":
    main()
