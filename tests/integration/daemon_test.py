#!/usr/bin/env python3
"""omnibusd end to end on the file connectors: the command line, routes (filter, transform,
split, fan-out, per-key order), bad input, reload and stop."""
import os
import re
import signal
import time

from omb import (Daemon, check, config, done, drop, file_sink, file_source, read_lines, run,
                 wait_for, workdir, write_config, count_lines, PLUGINS, SRCDIR)


def ev(type_, key, body, **extra):
    e = {"type": type_, "key": key, "body": body}
    e.update(extra)
    return e


def test_cli():
    rc, out, err = run(["--version"])
    check(rc == 0 and out.startswith("omnibusd ") and "plugin ABI 1.3" in out, f"--version: {out}")
    rc, out, err = run(["--help"])
    check(rc == 0 and "--check" in out and "--plugin-doc" in out, "--help")
    rc, out, err = run([])
    check(rc == 2 and "no configuration given" in err, f"no args: {rc} {err}")
    rc, out, err = run(["--plugin-doc", "file"])
    check(rc == 0, f"--plugin-doc file: {rc} {err}")
    for opt in ("dir", "pattern", "poll", "output", "output-format", "fsync"):
        check(opt in out, f"--plugin-doc file lists option {opt}")
    rc, out, err = run(["--plugin-doc", "nosuch"])
    check(rc == 1 and 'unknown plugin "nosuch"' in err and PLUGINS in err,
          f"--plugin-doc nosuch: {err}")
    # The plugin path: --plugin-dir beats OMNIBUS_PLUGIN_PATH.
    rc, out, err = run(["--plugin-doc", "file", "--plugin-dir", "/nonexistent"])
    check(rc == 1 and "/nonexistent" in err, f"--plugin-dir wins: {err}")


def test_check():
    d = workdir("daemon-check")
    good = write_config(d, config(file_source("src", d + "/in") + file_sink("out", d + "/o") +
                                  '  <route name="r"><from connector="src"/>'
                                  '<to connector="out"/></route>'))
    rc, out, err = run(["--check", "-c", good])
    check(rc == 0 and "ok" in out, f"--check good: {rc} {out} {err}")
    bad = write_config(d, config(file_source("src", d + "/in") +
                                 '  <route name="r"><from connector="src"/>\n'
                                 '  <filter>.a ==</filter>\n'
                                 '  <to connector="nowhere"/></route>'), "bad.xml")
    rc, out, err = run(["--check", "-c", bad])
    lines = [l for l in err.splitlines() if l]
    check(rc == 1, "--check bad exits 1")
    check(len(lines) >= 2, f"--check reports every error: {err}")
    check(all(l.startswith(bad + ":") for l in lines), f"each error is FILE:LINE: {err}")
    check(any("nowhere" in l for l in lines), f"the unknown destination is named: {err}")
    # The shipped demo config is valid.
    rc, out, err = run(["--check", "-c", os.path.join(SRCDIR, "config", "demo.xml")])
    check(rc == 0, f"config/demo.xml is valid: {err}")
    # The daemon refuses to start on it, with the same errors.
    rc, out, err = run(["-c", bad])
    check(rc == 1 and "nowhere" in err, f"omnibusd -c bad: {rc} {err}")


def test_routes():
    d = workdir("daemon-routes")
    inp = d + "/in"
    cfg = config(
        file_source("src", inp) +
        file_sink("a", d + "/a.ndjson") + file_sink("b", d + "/b.ndjson", "body") +
        file_sink("split", d + "/split.ndjson") + file_sink("ids", d + "/ids.ndjson") +
        file_sink("avail", d + "/avail.ndjson") +
        # fan-out with a filter
        '  <route name="prices"><from connector="src" type="price.*"/>\n'
        '    <filter>.price.amount &gt; 0</filter>\n'
        '    <to connector="a"/><to connector="b"/></route>\n'
        # a transform with several results splits the event
        '  <route name="lines"><from connector="src" type="order.created"/>\n'
        '    <transform>.lines[] | {order_id: $__loc__.file, sku, qty}</transform>\n'
        '    <to connector="split"/></route>\n'
        # 64-bit ids through jq
        '  <route name="ids"><from connector="src" type="customer.identified"/>\n'
        '    <transform>{shopify_id: .shopify_id, big: .big}</transform>\n'
        '    <to connector="ids"/></route>\n'
        # a transform that changes the type
        '  <route name="avail"><from connector="src" type="stock.level"/>\n'
        '    <transform type="stock.available">{sku, channel: "web", '
        'available: ([.on_hand - 2, 0] | max)}</transform>\n'
        '    <to connector="avail"/></route>\n')
    # $__loc__ is not jq 1.6; use a plain transform instead.
    cfg = cfg.replace("{order_id: $__loc__.file, sku, qty}", "{sku, qty}")
    daemon = Daemon(write_config(d, cfg))
    drop(inp, "1.ndjson", [
        ev("price.set", "A", {"sku": "A", "price": {"amount": 100, "currency": "PLN"}}),
        ev("price.set", "B", {"sku": "B", "price": {"amount": 0, "currency": "PLN"}}),
        ev("price.changed", "C", {"sku": "C", "price": {"amount": 5, "currency": "PLN"}},
           headers={"x-test": "1"}, time="2026-11-20T10:00:00Z"),
        ev("order.created", "o1", {"lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2},
                                              {"sku": "C", "qty": 3}]}),
        ev("customer.identified", "c1", {"shopify_id": "9007199254740993123",
                                          "big": 9007199254740993123}),
        ev("stock.level", "A@WH1", {"sku": "A", "location": "WH1", "on_hand": 1}),
        ev("stock.level", "B@WH1", {"sku": "B", "location": "WH1", "on_hand": 12}),
    ])
    # Every destination consumes on its own thread: wait for each one read below.
    wait_for(lambda: count_lines(d + "/avail.ndjson") == 2 and count_lines(d + "/b.ndjson") == 2
             and count_lines(d + "/a.ndjson") == 2
             and count_lines(d + "/split.ndjson") == 3 and count_lines(d + "/ids.ndjson") == 1,
             what="the routed events")
    a = read_lines(d + "/a.ndjson")
    check([e["body"]["sku"] for e in a] == ["A", "C"], f"filter drops amount 0: {a}")
    check(all(e["route"] == "prices" and e["source"] == "src" for e in a), "route and source set")
    check(a[1]["type"] == "price.changed" and a[1]["headers"] == {"x-test": "1"}
          and a[1]["time"] == "2026-11-20T10:00:00Z", f"envelope kept: {a[1]}")
    check(all(len(e["id"]) == 26 and e["trace"] == e["id"] for e in a), "ids and traces")
    b = read_lines(d + "/b.ndjson")
    check(b == [x["body"] for x in a], f"fan-out: the same bodies to b: {b}")
    split = read_lines(d + "/split.ndjson")
    check([e["body"] for e in split] == [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2},
                                         {"sku": "C", "qty": 3}], f"split: {split}")
    base = split[0]["id"][:-2]
    check([e["id"] for e in split] == [base + ".1", base + ".2", base + ".3"],
          f"split ids: {[e['id'] for e in split]}")
    check(len({e["trace"] for e in split}) == 1 and split[0]["trace"] == base,
          "split parts keep the trace")
    with open(d + "/ids.ndjson") as f:
        raw = f.read()
    check('"shopify_id":"9007199254740993123"' in raw, f"a 64-bit id as a string is exact: {raw}")
    # The number form is the documented limitation of libjq 1.6: it comes back as a double.
    check('"big":9007199254740993123' not in raw, "numbers above 2^53 are not exact in jq")
    avail = sorted(read_lines(d + "/avail.ndjson"), key=lambda e: e["key"])  # two keys: any order
    check([(e["type"], e["body"]["available"]) for e in avail] ==
          [("stock.available", 0), ("stock.available", 10)], f"type from transform: {avail}")
    check(avail[0]["key"] == "A@WH1", "the key is kept")
    check(daemon.stop() == 0, "exit 0 after SIGTERM")
    log = daemon.text()
    check("route 'prices': in 3, passed 2, filtered 1" in log, "route counters in the log")
    check(os.path.exists(inp + "/done/1.ndjson"), "the drop file moved to done/")


def test_passthrough_exact():
    """Without a transform, bodies pass byte for byte (numbers above 2^53 too)."""
    d = workdir("daemon-exact")
    cfg = config(file_source("src", d + "/in") + file_sink("out", d + "/out.ndjson", "body") +
                 file_sink("ids", d + "/ids.ndjson") +
                 '  <route name="r"><from connector="src"/><to connector="out"/></route>\n'
                 '  <route name="s"><from connector="src"/><transform>., .</transform>'
                 '<to connector="ids"/></route>')
    daemon = Daemon(write_config(d, cfg))
    line = ('{"type":"order.created","key":"o","body":{"id":9007199254740993123,'
            '"total":{"amount":12999,"currency":"PLN"},"name":"Zażółć"}}')
    drop(d + "/in", "x.ndjson", [line])
    wait_for(lambda: count_lines(d + "/out.ndjson") == 1, what="the event")
    with open(d + "/out.ndjson", encoding="utf-8") as f:
        got = f.read().strip()
    check(got == '{"id":9007199254740993123,"total":{"amount":12999,"currency":"PLN"},'
          '"name":"Zażółć"}', f"bit-exact body: {got}")
    # An id the source chose, with characters that need escaping, still routes (the router reads
    # envelopes without parsing them unless they hold such a thing).
    drop(d + "/in", "y.ndjson", [ev("order.created", "o", {"n": 1}, id='ext-"1"\\x')])
    wait_for(lambda: count_lines(d + "/out.ndjson") == 2, what="the event with an odd id")
    # Each destination reads the journal on its own thread: wait for this one too.
    wait_for(lambda: count_lines(d + "/ids.ndjson") == 4, what="both events' parts in ids")
    ids = [e["id"] for e in read_lines(d + "/ids.ndjson")]
    check('ext-"1"\\x.1' in ids and 'ext-"1"\\x.2' in ids,
          f"the odd id is kept through a split: {ids}")
    check(daemon.stop() == 0, "exit 0")


def test_order_per_key():
    d = workdir("daemon-order")
    cfg = config(file_source("src", d + "/in") + file_sink("out", d + "/out.ndjson") +
                 '  <route name="r"><from connector="src"/><to connector="out"/></route>',
                 workers=4)
    daemon = Daemon(write_config(d, cfg))
    keys = [f"K{k}" for k in range(50)]
    n = 0
    for f in range(5):
        events = []
        for i in range(400):
            k = keys[(i * 7 + f) % len(keys)]
            events.append(ev("stock.delta", k, {"sku": k, "seq": n}))
            n += 1
        drop(d + "/in", f"{f}.ndjson", events)
    wait_for(lambda: count_lines(d + "/out.ndjson") == n, what=f"{n} events")
    out = read_lines(d + "/out.ndjson")
    last = {}
    ordered = True
    for e in out:
        k, s = e["key"], e["body"]["seq"]
        if last.get(k, -1) > s:
            ordered = False
        last[k] = s
    check(ordered, "per-key order holds across 4 workers")
    check(sorted(e["body"]["seq"] for e in out) == list(range(n)), "each event exactly once")
    check(daemon.stop() == 0, "exit 0")


def test_bad_input():
    d = workdir("daemon-bad")
    cfg = config(file_source("src", d + "/in") + file_sink("out", d + "/out.ndjson") +
                 '  <route name="r"><from connector="src"/>'
                 '<transform>{v: (10 / .n)} | if .v &gt; 4 then error("too big") else . end'
                 '</transform><to connector="out"/></route>')
    daemon = Daemon(write_config(d, cfg))
    drop(d + "/in", "bad.ndjson", [ev("x.y", "k", {"n": 1}), "{not json",
                                   '{"key":"k","body":{}}'])
    drop(d + "/in", "good.ndjson", [ev("x.y", "k", {"n": 1}), ev("x.y", "k", {"n": 5}),
                                    ev("x.y", "k", {"n": 10})])
    wait_for(lambda: count_lines(d + "/out.ndjson") == 2, what="the good events")
    wait_for(lambda: os.path.exists(d + "/in/error/bad.ndjson.err"), what="the error sidecar")
    with open(d + "/in/error/bad.ndjson.err") as f:
        side = f.read()
    check("bad.ndjson:2:" in side and "bad.ndjson:3:" in side and "type" in side,
          f"sidecar names each bad line: {side}")
    check(os.path.exists(d + "/in/error/bad.ndjson"), "the bad file is kept in error/")
    out = read_lines(d + "/out.ndjson")
    check([e["body"]["v"] for e in out] == [2, 1], f"a transform error skips one event: {out}")
    check(daemon.proc.poll() is None, "the daemon keeps running")
    check(daemon.stop() == 0, "exit 0")
    log = daemon.text()
    check("transform error" in log and "too big" in log and "route 'r'" in log,
          "the transform error is logged with the route and jq's message")
    check("errors 1" in log, "and counted")


def test_reload():
    d = workdir("daemon-reload")
    base = file_source("src", d + "/in") + file_sink("a", d + "/a.ndjson") + \
        file_sink("b", d + "/b.ndjson")
    # A disabled route keeps b a destination: the set of destinations stays the same.
    spare = '  <route name="spare" enabled="false"><from connector="src"/><to connector="b"/></route>'
    path = write_config(d, config(base + '  <route name="r"><from connector="src"/>'
                                  '<to connector="a"/></route>' + spare))
    daemon = Daemon(path)
    drop(d + "/in", "1.ndjson", [ev("x.y", "k", {"n": 1})])
    wait_for(lambda: count_lines(d + "/a.ndjson") == 1, what="event 1 to a")
    # Only the routes change: swapped under the running connectors.
    write_config(d, config(base + '  <route name="r"><from connector="src"/>'
                           '<to connector="b"/></route>' + spare.replace('"b"', '"a"')))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "routes swapped" in daemon.text(), what="the route swap")
    drop(d + "/in", "2.ndjson", [ev("x.y", "k", {"n": 2})])
    wait_for(lambda: count_lines(d + "/b.ndjson") == 1, what="event 2 to b")
    # An invalid config is refused and the old one keeps running.
    write_config(d, config(base + '  <route name="r"><from connector="src"/>'
                           '<to connector="zzz"/></route>' + spare))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in daemon.text(), what="the refusal")
    drop(d + "/in", "3.ndjson", [ev("x.y", "k", {"n": 3})])
    wait_for(lambda: count_lines(d + "/b.ndjson") == 2, what="event 3 still to b")
    # Connectors change: drained and restarted, nothing lost.
    write_config(d, config(base + file_sink("c", d + "/c.ndjson") +
                           '  <route name="r"><from connector="src"/><to connector="c"/>'
                           '<to connector="a"/></route>'))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "connectors restarted" in daemon.text(), what="the restart")
    drop(d + "/in", "4.ndjson", [ev("x.y", "k", {"n": 4})])
    wait_for(lambda: count_lines(d + "/c.ndjson") == 1 and count_lines(d + "/a.ndjson") == 2,
             what="event 4 to c and a")
    check([e["body"]["n"] for e in read_lines(d + "/a.ndjson")] == [1, 4], "a got 1 and 4")
    check([e["body"]["n"] for e in read_lines(d + "/b.ndjson")] == [2, 3], "b got 2 and 3")
    check(daemon.stop() == 0, "exit 0")
    check("zzz" in daemon.text(), "the refused config's error is logged")


def test_reload_fallback():
    """A new config that passes the checks but does not start (its HTTP port is taken): the
    daemon goes back to the config that ran — not to the file, which holds the new one."""
    import socket
    d = workdir("daemon-reload-fallback")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    base = file_source("src", d + "/in") + file_sink("a", d + "/a.ndjson")
    route = '  <route name="r"><from connector="src"/><to connector="a"/></route>'
    path = write_config(d, config(base + route))
    os.makedirs(d + "/in")
    daemon = Daemon(path)
    write_config(d, config(base + '  <connector name="web" plugin="http">'
                           '<option name="path">x</option><option name="type">"x.y"</option>'
                           '</connector>\n' + route,
                           extra=f'  <http listen="127.0.0.1:{port}"/>\n'))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "going back to the old one" in daemon.text(), what="the failed restart")
    drop(d + "/in", "1.ndjson", [ev("x.y", "k", {"n": 1})])
    wait_for(lambda: count_lines(d + "/a.ndjson") == 1, what="an event through the old config")
    log = daemon.text()
    first = re.search(r"running .* \(sha256 ([0-9a-f]+)\)", log).group(1)
    check("the old config did not start either" not in log and
          log.count(f"(sha256 {first})") == 2, "the config that ran before runs again")
    check(daemon.stop() == 0, "exit 0")
    busy.close()


def test_drain_on_stop():
    """SIGTERM right after a drop: every event of the file is delivered before exit."""
    d = workdir("daemon-drain")
    cfg = config(file_source("src", d + "/in") + file_sink("out", d + "/out.ndjson") +
                 '  <route name="r"><from connector="src"/><to connector="out"/></route>')
    daemon = Daemon(write_config(d, cfg))
    drop(d + "/in", "1.ndjson", [ev("x.y", f"k{i}", {"n": i}) for i in range(5000)])
    wait_for(lambda: count_lines(d + "/out.ndjson") > 0, what="the first event")
    check(daemon.stop() == 0, "exit 0")
    n = count_lines(d + "/out.ndjson")
    moved = os.path.exists(d + "/in/done/1.ndjson")
    check(n == 5000 and moved, f"all 5000 delivered before exit ({n}), file done ({moved})")


def test_wrong_abi():
    """A wrong-ABI plugin is refused with the file and both versions named."""
    d = workdir("daemon-abi")
    abi_dir = os.path.join(os.environ.get("top_builddir", "."), "tests", "abi", ".libs")
    src = os.path.join(abi_dir, "abi_major2.so")
    if not os.path.exists(src):
        check(False, f"{src} was not built")
        return
    os.makedirs(d + "/plugins")
    os.symlink(src, d + "/plugins/shop.so")
    cfg = write_config(d, config('  <connector name="s" plugin="shop"/>'))
    rc, out, err = run(["--check", "-c", cfg, "--plugin-dir", d + "/plugins"])
    check(rc == 1 and "shop.so" in err and "ABI 2." in err and "ABI 1.3" in err,
          f"wrong ABI refused: {err}")


test_cli()
test_check()
test_routes()
test_passthrough_exact()
test_order_per_key()
test_bad_input()
test_reload()
test_reload_fallback()
test_drain_on_stop()
test_wrong_abi()
done()
