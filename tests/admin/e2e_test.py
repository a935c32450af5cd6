#!/usr/bin/env python3
"""The admin socket end to end: omnibusd's server (docs/admin-protocol.md) driven by omnibusctl
and by raw ZeroMQ requests. Every command, the socket file's mode, malformed requests, a refused
reload, a routes-only reload, pause and resume of a route with events held in order."""
import hashlib
import json
import os
import stat
import time

from admin_helpers import Raw, ctl, parse_prometheus, sample_value, sockdir
from omb import (Daemon, check, config, count_lines, done, drop, file_sink, file_source,
                 read_lines, run, wait_for, workdir, write_config)


def routes_xml(free_filter=".n % 2 == 0"):
    return ('  <route name="held"><from connector="src" type="price.*"/>\n'
            '    <to connector="out"/></route>\n'
            '  <route name="free"><from connector="src" type="stock.*"/>\n'
            f'    <filter>{free_filter}</filter>\n'
            '    <to connector="other"/></route>\n')


def make_config(d, sock, routes):
    return config(file_source("src", d + "/in") + file_sink("out", d + "/out.ndjson") +
                  file_sink("other", d + "/other.ndjson") + routes,
                  extra=f'  <admin endpoint="ipc://{sock}"/>\n')


def price(seq, key="k"):
    return {"type": "price.set", "key": key,
            "body": {"sku": key, "seq": seq, "price": {"amount": 100 + seq, "currency": "PLN"}}}


def stock(n):
    return {"type": "stock.level", "key": f"s{n}", "body": {"sku": f"s{n}", "n": n}}


def js(sock, *args):
    """omnibusctl --json ARGS: (status, parsed result or None, stderr)."""
    rc, out, err = ctl(["--socket", sock, "--json"] + list(args))
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, err


def test_socket(d, sock, daemon):
    check(wait_for(lambda: os.path.exists(sock), what="the admin socket file"), "socket file")
    st = os.stat(sock)
    check(stat.S_ISSOCK(st.st_mode), "the admin endpoint is a socket file")
    check(stat.S_IMODE(st.st_mode) == 0o600, f"socket file mode {oct(stat.S_IMODE(st.st_mode))}")
    # The socket file exists a moment before the line saying so is written (under valgrind,
    # long enough for a reader to look too early).
    check(wait_for(lambda: f"ipc://{sock}" in daemon.text(), what="the admin endpoint's line"),
          "the log names the admin endpoint")


def test_status(d, sock, cfg_path, daemon):
    rc, out, err = run(["--version"])
    version = out.split()[1] if rc == 0 and out.split()[1:] else None
    rc, r, err = js(sock, "status")
    check(rc == 0 and isinstance(r, dict), f"status --json: {rc} {err}")
    if not isinstance(r, dict):
        return
    check(r.get("version") == version, f"version {r.get('version')} (omnibusd --version {version})")
    check(isinstance(r.get("abi"), str) and r["abi"].startswith("1."), f"abi {r.get('abi')}")
    check(r.get("pid") == daemon.proc.pid, f"pid {r.get('pid')} (want {daemon.proc.pid})")
    check(isinstance(r.get("uptime_s"), (int, float)) and r["uptime_s"] >= 0, "uptime_s")
    check(isinstance(r.get("started_at"), str) and r["started_at"].endswith("Z"), "started_at")
    with open(cfg_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    cfgs = r.get("config") or {}
    check(cfgs.get("path") == cfg_path and cfgs.get("sha256") == sha
          and isinstance(cfgs.get("loaded_at"), str), f"config: {cfgs}")
    check(r.get("reloads") == 0 and r.get("last_reload_error") is None, "no reloads yet")
    st = r.get("store") or {}
    check(st.get("path") == os.path.join(os.path.dirname(cfg_path), "journal.db")
          and isinstance(st.get("last_seq"), int) and isinstance(st.get("used_bytes"), int)
          and isinstance(r.get("inflight"), int), f"store, inflight: {st}")
    check([(c.get("name"), c.get("plugin")) for c in r.get("connectors", [])] ==
          [("src", "file"), ("out", "file"), ("other", "file")],
          f"connectors {r.get('connectors')}")
    check(all(c.get("state") in ("running", "starting", "failed", "stopped")
              for c in r.get("connectors", [])), "connector states")
    check(r.get("routes") == [{"name": "held", "enabled": True, "paused": False},
                              {"name": "free", "enabled": True, "paused": False}],
          f"routes {r.get('routes')}")
    rc, out, err = ctl(["--socket", sock, "status"])
    check(rc == 0 and f"pid        {daemon.proc.pid}" in out and "CONNECTOR" in out
          and "held" in out, f"status table: {rc} {out} {err}")
    # all connectors reach running
    check(wait_for(lambda: all(c["state"] == "running"
                               for c in js(sock, "status")[1]["connectors"]),
                   what="every connector running"), "connectors running")


def test_connectors_routes(sock):
    rc, r, err = js(sock, "connectors")
    check(rc == 0 and isinstance(r, list) and len(r) == 3, f"connectors --json: {rc} {err}")
    for c in r or []:
        check(c.get("plugin") == "file" and c.get("kind") == "connector"
              and isinstance(c.get("plugin_version"), str)
              and "source" in c.get("capabilities", []) and "sink" in c.get("capabilities", [])
              and c.get("log_level") == "info" and isinstance(c.get("metrics"), dict),
              f"connector {c}")
        check(sorted((c.get("stats") or {}).keys()) ==
              sorted(["emitted", "received", "delivered", "retried", "rejected", "pending"]),
              f"connector stats {c.get('stats')}")
    rc, out, err = ctl(["--socket", sock, "connectors"])
    check(rc == 0 and out.split("\n")[0].split() == ["NAME", "PLUGIN", "STATE", "EMITTED",
                                                     "DELIVERED", "RETRIED", "REJECTED",
                                                     "PENDING"], f"connectors table: {out}")
    rc, r, err = js(sock, "routes")
    check(rc == 0 and isinstance(r, list), f"routes --json: {rc} {err}")
    want = [
        {"name": "held", "enabled": True, "paused": False,
         "from": [{"connector": "src", "type": "price.*"}], "filter": None, "transform": None,
         "transform_type": None, "to": [{"connector": "out", "conflate": "none"}]},
        {"name": "free", "enabled": True, "paused": False,
         "from": [{"connector": "src", "type": "stock.*"}], "filter": ".n % 2 == 0",
         "transform": None, "transform_type": None,
         "to": [{"connector": "other", "conflate": "none"}]},
    ]
    check(r == want, f"routes: {r}")
    rc, out, err = ctl(["--socket", sock, "routes"])
    check(rc == 0 and "src:price.*" in out and ".n % 2 == 0" in out, f"routes table: {out}")


def test_metrics(d, sock):
    drop(d + "/in", "m.ndjson", [price(i) for i in range(4)] + [stock(n) for n in range(10)])
    wait_for(lambda: count_lines(d + "/out.ndjson") == 4 and count_lines(d + "/other.ndjson") == 5,
             what="the first events delivered")
    check(wait_for(lambda: js(sock, "metrics")[1]["inflight"] == 0, what="inflight 0"),
          "nothing in flight")
    rc, m, err = js(sock, "metrics")
    check(rc == 0 and isinstance(m, dict), f"metrics --json: {rc} {err}")
    if not isinstance(m, dict):
        return
    routes = {r["name"]: r for r in m.get("routes", [])}
    check(routes.get("held", {}).get("in") == 4 and routes["held"].get("passed") == 4,
          f"held route counters {routes.get('held')}")
    fr = routes.get("free", {})
    check(fr.get("in") == 10 and fr.get("passed") == 5 and fr.get("filtered") == 5
          and fr.get("errors") == 0, f"free route counters {fr}")
    dests = {x["name"]: x for x in m.get("destinations", [])}
    check(sorted(dests) == ["other", "out"], f"destinations {sorted(dests)}")
    out = dests.get("out", {})
    lat = out.get("latency_ms", {})
    check(out.get("delivered") == 4 and out.get("queued") == 0 and out.get("rejected") == 0,
          f"out counters {out}")
    check(lat.get("count") == 4 and 0 < lat.get("p50", 0) <= lat.get("p99", 0)
          <= lat.get("p999", 0) <= lat.get("max", 0) + 1e-9, f"latency {lat}")
    check(set(m.get("connectors", {})) == {"src", "out", "other"},
          f"plugin metrics by connector {m.get('connectors')}")
    rc, r, err = js(sock, "connectors")
    stats = {c["name"]: c["stats"] for c in r or []}
    check(stats.get("src", {}).get("emitted") == 14 and stats.get("out", {}).get("delivered") == 4
          and stats.get("other", {}).get("delivered") == 5, f"connector stats {stats}")

    rc, text, err = ctl(["--socket", sock, "metrics"])
    check(rc == 0 and "DESTINATION" in text and "\nfree " in text, f"metrics table: {text}")
    rc, text, err = ctl(["--socket", sock, "metrics", "--prometheus"])
    check(rc == 0, f"--prometheus: {rc} {err}")
    try:
        types, samples = parse_prometheus(text)
    except ValueError as e:
        check(False, f"--prometheus parses: {e}\n{text}")
        return
    check(sample_value(samples, "omnibus_route_events_total", route="free", outcome="filtered")
          == 5, "prometheus: free filtered")
    check(sample_value(samples, "omnibus_destination_events_total", destination="out",
                       outcome="delivered") == 4, "prometheus: out delivered")
    check(sample_value(samples, "omnibus_destination_latency_samples", destination="out") == 4,
          "prometheus: latency samples")
    check(sample_value(samples, "omnibus_inflight") == 0, "prometheus: inflight")


def test_log_level(sock):
    rc, r, err = js(sock, "log-level", "debug")
    check(rc == 0 and r == {"instance": None, "level": "debug"}, f"log-level debug: {rc} {r} {err}")
    rc, r, err = js(sock, "log-level", "out", "warn")
    check(rc == 0 and r == {"instance": "out", "level": "warn"}, f"log-level out warn: {r} {err}")
    rc, c, err = js(sock, "connectors")
    levels = {x["name"]: x["log_level"] for x in c or []}
    check(levels.get("out") == "warn", f"connector log level: {levels}")
    rc, out, err = ctl(["--socket", sock, "log-level", "nosuch", "debug"])
    check(rc == 1 and err.startswith("omnibusctl: not_found: "), f"unknown instance: {rc} {err}")
    rc, out, err = ctl(["--socket", sock, "log-level", "info"])
    check(rc == 0 and out == "log level: info\n", f"log-level info: {rc} {out} {err}")
    ctl(["--socket", sock, "log-level", "out", "info"])


def test_pause(d, sock):
    before_out = count_lines(d + "/out.ndjson")
    before_other = count_lines(d + "/other.ndjson")
    rc, r, err = js(sock, "pause", "held")
    check(rc == 0 and r == {"route": "held", "paused": True}, f"pause: {rc} {r} {err}")
    rc, s, err = js(sock, "status")
    check({x["name"]: x["paused"] for x in s["routes"]} == {"held": True, "free": False},
          f"status shows the pause: {s['routes']}")
    rc, out, err = ctl(["--socket", sock, "pause", "nosuch"])
    check(rc == 1 and err.startswith("omnibusctl: not_found: "), f"pause unknown: {rc} {err}")

    n = 20
    # One key for the held events: their order is defined (docs/architecture.md, Order).
    drop(d + "/in", "p.ndjson", [price(100 + i, "ord") for i in range(n)] +
         [stock(n) for n in range(10, 14)])
    wait_for(lambda: count_lines(d + "/other.ndjson") == before_other + 2,
             what="the unpaused route to go on")
    wait_for(lambda: os.path.exists(d + "/in/done/p.ndjson"), what="the source to read the file")
    time.sleep(0.5)
    check(count_lines(d + "/out.ndjson") == before_out,
          f"a paused route delivers nothing: {count_lines(d + '/out.ndjson') - before_out}")
    rc, m, err = js(sock, "metrics")
    held = {r["name"]: r for r in m["routes"]}["held"]
    # A paused route still filters and transforms; its deliveries are parked in the store.
    check(held.get("paused") is True and held.get("queued") == 4 + n,
          f"the paused route parked its deliveries: {held}")
    if "held" in held:  # beyond the spec's members; omnibusd sends it
        check(held["held"] == n, f"the paused route holds {n}: {held}")

    rc, out, err = ctl(["--socket", sock, "resume", "held"])
    check(rc == 0 and out == "route held: running\n", f"resume: {rc} {out} {err}")
    wait_for(lambda: count_lines(d + "/out.ndjson") == before_out + n, what="the held events")
    got = [e["body"]["seq"] for e in read_lines(d + "/out.ndjson")[before_out:]]
    check(got == [100 + i for i in range(n)], f"all held events, in order: {got}")
    rc, s, err = js(sock, "status")
    check(all(not x["paused"] for x in s["routes"]), "resumed")


def test_malformed(sock):
    raw = Raw("ipc://" + sock)
    cases = [
        ((b"not json",), "bad_request"),
        ((b"[1, 2]",), "bad_request"),
        ((b'"status"',), "bad_request"),
        (({"v": 1},), "bad_request"),
        (({"v": 1, "cmd": 5},), "bad_request"),
        (({"v": 2, "cmd": "status"},), "unsupported_version"),
        (({"v": 1, "cmd": "frobnicate"},), "unknown_command"),
        (({"v": 1, "cmd": "pause"},), "bad_request"),
        (({"v": 1, "cmd": "pause", "args": {"route": 5}},), "bad_request"),
        (({"v": 1, "cmd": "pause", "args": "held"},), "bad_request"),
        (({"v": 1, "cmd": "pause", "args": {"route": "nosuch"}},), "not_found"),
        (({"v": 1, "cmd": "log-level", "args": {"level": "loud"}},), "bad_request"),
        (({"v": 1, "cmd": "status"}, b"second frame"), "bad_request"),
    ]
    for frames, code in cases:
        a = raw.ask(*frames)
        check(isinstance(a, dict) and a.get("v") == 1 and a.get("ok") is False
              and (a.get("error") or {}).get("code") == code
              and isinstance(a["error"].get("message"), str) and a["error"]["message"],
              f"request {frames}: want {code}, got {a}")
        b = raw.ask({"v": 1, "cmd": "status"})
        check(isinstance(b, dict) and b.get("ok") is True, f"still answering after {frames}")
    a = raw.ask({"v": 1, "cmd": "status", "args": {}})
    check(isinstance(a, dict) and a.get("ok") is True, "status with empty args")
    raw.close()
    rc, out, err = ctl(["--socket", sock, "status"])
    check(rc == 0, "omnibusctl still gets answers")


def test_reload(d, sock, cfg_path, daemon):
    with open(cfg_path) as f:
        good = f.read()
    old_sha = hashlib.sha256(good.encode()).hexdigest()
    broken = good.replace('<to connector="other"/>', '<to connector="nowhere"/>')
    write_config(d, broken)
    rc, out, err = ctl(["--socket", sock, "reload"])
    lines = err.splitlines()
    check(rc == 1 and not out and lines and lines[0].startswith("omnibusctl: invalid_config: "),
          f"a broken config is refused: {rc} {out} {err}")
    check(any(l.startswith(cfg_path + ":") and "nowhere" in l for l in lines[1:]),
          f"the errors are printed as FILE:LINE: message: {err}")
    rc, s, err = js(sock, "status")
    check(s["config"]["sha256"] == old_sha and s["reloads"] == 0
          and isinstance(s["last_reload_error"], str), f"the old config still runs: {s}")
    # ... and still works
    n0 = count_lines(d + "/other.ndjson")
    drop(d + "/in", "r1.ndjson", [stock(20)])
    check(wait_for(lambda: count_lines(d + "/other.ndjson") == n0 + 1,
                   what="delivery after the refused reload"), "old config delivers")

    # A routes-only change is swapped in.
    changed = good.replace(".n % 2 == 0", ".n % 2 == 1")
    write_config(d, changed)
    rc, r, err = js(sock, "reload")
    new_sha = hashlib.sha256(changed.encode()).hexdigest()
    check(rc == 0 and r == {"mode": "routes", "sha256": new_sha, "reloads": 1},
          f"routes-only reload: {rc} {r} {err}")
    rc, s, err = js(sock, "status")
    check(s["config"]["sha256"] == new_sha and s["reloads"] == 1, f"status after reload: {s}")
    drop(d + "/in", "r2.ndjson", [stock(21), stock(22)])
    check(wait_for(lambda: count_lines(d + "/other.ndjson") == n0 + 2,
                   what="the new filter"), "the new routes run")
    check(read_lines(d + "/other.ndjson")[-1]["body"]["n"] == 21, "odd numbers now")
    rc, out, err = ctl(["--socket", sock, "reload"])
    check(rc == 0 and out.startswith("reloaded (routes swapped, connectors kept), config sha256 "
                                     + new_sha + ", reloads 2"), f"reload table: {out} {err}")


def test_stopped(d, sock, daemon):
    check(daemon.stop() == 0, "the daemon stops cleanly")
    rc, out, err = ctl(["--socket", sock, "--timeout", "1", "status"])
    check(rc == 3 and f"cannot reach omnibusd at ipc://{sock}: " in err,
          f"after stop: unreachable: {rc} {err}")


def main():
    d = workdir("admin-e2e")
    os.makedirs(d + "/in")
    sock = sockdir("e2e") + "/admin.sock"
    cfg_path = write_config(d, make_config(d, sock, routes_xml()))
    daemon = Daemon(cfg_path)
    try:
        test_socket(d, sock, daemon)
        test_status(d, sock, cfg_path, daemon)
        test_connectors_routes(sock)
        test_metrics(d, sock)
        test_log_level(sock)
        test_pause(d, sock)
        test_malformed(sock)
        test_reload(d, sock, cfg_path, daemon)
    finally:
        if daemon.proc.poll() is None:
            test_stopped(d, sock, daemon)
    done()


if __name__ == "__main__":
    main()
