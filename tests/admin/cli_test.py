#!/usr/bin/env python3
"""omnibusctl against a scripted fake admin server: the requests it sends, each command's table
and --json output, --prometheus (parsed back), exit statuses 0/1/2/3, the endpoint rules,
unreachable daemons and malformed answers."""
import json
import math
import os
import shutil
import socket
import subprocess
import time

from admin_helpers import (FakeAdmin, OMNIBUSCTL, ctl, error, ok, parse_prometheus,
                           sample_value, sockdir)
from omb import check, done, workdir

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

STATUS = {
    "version": "0.1.0", "abi": "1.0", "pid": 4242, "uptime_s": 3723.5,
    "started_at": "2026-03-01T10:00:00Z",
    "config": {"path": "/etc/omnibus/omnibus.xml", "sha256": SHA,
               "loaded_at": "2026-03-01T10:00:00Z"},
    "reloads": 2, "last_reload_error": None, "inflight": 7,
    "store": {"path": "/var/lib/omnibus/journal.db", "first_seq": 120, "last_seq": 4711,
              "used_bytes": 3145728, "commits": 90, "events": 4711, "largest_group": 256,
              "failures": 0},
    "connectors": [{"name": "pos", "plugin": "file", "state": "running"},
                   {"name": "web-eu", "plugin": "shopify", "state": "starting"}],
    "routes": [{"name": "prices", "enabled": True, "paused": False},
               {"name": "stock", "enabled": True, "paused": True}],
}

CONNECTORS = [
    {"name": "pos", "plugin": "file", "plugin_version": "0.1.0", "kind": "connector",
     "capabilities": ["source", "sink"], "state": "running", "log_level": "info",
     "stats": {"emitted": 1200, "received": 0, "delivered": 0, "retried": 0, "rejected": 0,
               "pending": 0},
     "metrics": {"files_done": 3}},
    {"name": "web-eu", "plugin": "shopify", "plugin_version": "1.2.3", "kind": "connector",
     "capabilities": ["sink"], "state": "failed", "log_level": "debug",
     "stats": {"emitted": 0, "received": 1150, "delivered": 1100, "retried": 37,
               "rejected": 2, "pending": 48},
     "metrics": {}},
]

ROUTES = [
    {"name": "prices", "enabled": True, "paused": False,
     "from": [{"connector": "pos", "type": "price.*"}],
     "filter": (".price.amount > 0 and\n  (.sku | startswith(\"X\") | not)"
                " and .price.currency == \"PLN\""),
     "transform": None, "transform_type": None,
     "to": [{"connector": "web-eu", "conflate": "none"}, {"connector": "app", "conflate": "key"}]},
    {"name": "stock", "enabled": True, "paused": True,
     "from": [{"connector": "pos", "type": None}, {"connector": "wms", "type": "stock.level"}],
     "filter": None, "transform": "{sku, available: .on_hand}",
     "transform_type": "stock.available", "to": [{"connector": "web-eu", "conflate": "none"}]},
]

METRICS = {
    "uptime_s": 12.5, "inflight": 3,
    "routes": [
        {"name": "prices", "in": 100, "passed": 90, "filtered": 10, "transformed": 0,
         "errors": 0, "queued": 180, "held": 0},
        {"name": "stock", "in": 50, "passed": 50, "filtered": 0, "transformed": 50,
         "errors": 1, "queued": 50, "held": 12},
    ],
    "destinations": [
        {"name": "web-eu", "queued": 5, "delivered": 135, "retried": 4, "rejected": 1,
         "dead": 3, "dead_letters": 2,
         "latency_ms": {"count": 135, "p50": 1.234, "p99": 45.6, "p999": 1234.6, "max": 2000.25}},
        {"name": "app", "queued": 0, "delivered": 0, "retried": 0, "rejected": 0,
         "latency_ms": {"count": 0, "p50": 0, "p99": 0, "p999": 0, "max": 0}},
    ],
    "connectors": {"web-eu": {"api_calls": 140, "rate_limit_remaining": 0.75},
                   "pos": {}},
}

RELOAD_ERRORS = ["/etc/omnibus/omnibus.xml:12: route 'r': unknown connector 'nowhere'",
                 "/etc/omnibus/omnibus.xml:14: filter: syntax error"]


def scripted(req):
    """The fake daemon: canned answers by command."""
    if not isinstance(req, dict):
        return error("bad_request", "not a JSON object")
    cmd, args = req.get("cmd"), req.get("args") or {}
    if cmd == "status":
        return ok(STATUS)
    if cmd == "connectors":
        return ok(CONNECTORS)
    if cmd == "routes":
        return ok(ROUTES)
    if cmd == "metrics":
        return ok(METRICS)
    if cmd == "reload":
        return ok({"mode": "routes", "sha256": SHA, "reloads": 3})
    if cmd in ("pause", "resume"):
        if args.get("route") not in ("prices", "stock"):
            return error("not_found", f"no route '{args.get('route')}'")
        return ok({"route": args["route"], "paused": cmd == "pause"})
    if cmd == "log-level":
        return ok({"instance": args.get("instance"), "level": args["level"]})
    return error("unknown_command", f"unknown command '{cmd}'")


def table(out, header_first):
    """The rows (lists of fields) of the table whose header starts with header_first."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.split()[:1] == [header_first]:
            rows = []
            for row in lines[i:]:
                if not row.strip():
                    break
                rows.append(row.split())
            return rows
    return []


def test_usage(sock):
    rc, out, err = ctl(["--version"])
    check(rc == 0 and out.startswith("omnibusctl 0.1.0") and "protocol 1" in out,
          f"--version: {rc} {out}")
    for args in (["--help"], ["-h"], ["help"]):
        rc, out, err = ctl(args)
        check(rc == 0 and out.startswith("usage: omnibusctl") and "log-level" in out
              and "OMNIBUS_ADMIN" in out, f"{args}: {rc} {out} {err}")
    bad = [
        [], ["frobnicate"], ["--frob", "status"], ["pause"], ["pause", "a", "b"], ["resume"],
        ["log-level"], ["log-level", "verbose"], ["log-level", "a", "b", "c"],
        ["log-level", "pos", "loud"], ["status", "extra"], ["--timeout", "abc", "status"],
        ["--timeout", "0", "status"], ["--timeout", "-1", "status"], ["--timeout"],
        ["--socket"], ["--socket", "", "status"], ["--prometheus", "status"],
        ["metrics", "--prometheus", "--json"], ["--socket", "nosuch://x", "status"],
        ["pause", b"\xff"], ["log-level", b"\xc3", "info"],
    ]
    before = len(sock.requests)
    for args in bad:
        extra = [] if "--socket" in args else ["--socket", sock.endpoint]
        rc, out, err = ctl(extra + args)
        check(rc == 2, f"usage error {args}: exit {rc} (want 2): {err}")
        check(err.startswith("omnibusctl: ") and not out, f"usage error {args} on stderr: {err}")
    check(len(sock.requests) == before, "a usage error sends nothing")
    rc, out, err = ctl(["--socket", "nosuch://x", "status"])
    check("invalid endpoint 'nosuch://x'" in err, f"bad endpoint named: {err}")


def test_commands(sock):
    s = ["--socket", sock.endpoint]
    sent = []

    def last():
        return sock.requests[-1] if sock.requests else None

    # status
    rc, out, err = ctl(s + ["status"])
    check(rc == 0 and not err, f"status: {rc} {err}")
    sent.append(last())
    check(last() == {"v": 1, "cmd": "status"}, f"status request: {last()}")
    lines = out.splitlines()
    check(lines[0].split() == ["version", "0.1.0", "(plugin", "ABI", "1.0)"], f"status: {out}")
    check("pid        4242" in lines, f"status pid: {out}")
    check("started    2026-03-01T10:00:00Z (up 1h 02m 03s)" in lines, f"status uptime: {out}")
    check(f"sha256     {SHA}" in lines and "config     /etc/omnibus/omnibus.xml" in lines,
          f"status config: {out}")
    check("journal    /var/lib/omnibus/journal.db (events 120..4711, 3.0 MiB)" in lines,
          f"the journal line: {lines}")
    check("reloads    2 (last error: none)" in lines and "in flight  7" in lines,
          f"status counters: {out}")
    check(table(out, "CONNECTOR") == [["CONNECTOR", "PLUGIN", "STATE"],
                                      ["pos", "file", "running"],
                                      ["web-eu", "shopify", "starting"]], f"status conns: {out}")
    check(table(out, "ROUTE") == [["ROUTE", "ENABLED", "PAUSED"], ["prices", "yes", "no"],
                                  ["stock", "yes", "yes"]], f"status routes: {out}")
    # columns line up: every row of a table has its fields at the header's offsets
    hdr = [l for l in lines if l.startswith("CONNECTOR")][0]
    row = [l for l in lines if l.startswith("web-eu")][0]
    check(hdr.index("PLUGIN") == row.index("shopify") and hdr.index("STATE") == row.index("start"),
          f"status table aligned:\n{hdr}\n{row}")
    check(all(l == l.rstrip() for l in lines), "no trailing blanks")

    # a reload error in status
    bad = dict(STATUS, last_reload_error="x.xml:3: bad\nthing\x1b[31m")
    with_err = FakeAdmin(os.path.join(os.path.dirname(sock.path), "err.sock"),
                         lambda r: ok(bad))
    rc, out, err = ctl(["--socket", with_err.endpoint, "status"])
    with_err.close()
    check(rc == 0 and "reloads    2 (last error: x.xml:3: bad thing?[31m)" in out,
          f"status with a reload error, cleaned of control characters: {out!r}")

    # connectors
    rc, out, err = ctl(s + ["connectors"])
    check(rc == 0 and last() == {"v": 1, "cmd": "connectors"}, f"connectors: {rc} {err}")
    t = table(out, "NAME")
    check(t == [["NAME", "PLUGIN", "STATE", "EMITTED", "DELIVERED", "RETRIED", "REJECTED",
                 "PENDING"],
                ["pos", "file", "running", "1200", "0", "0", "0", "0"],
                ["web-eu", "shopify", "failed", "0", "1100", "37", "2", "48"]],
          f"connectors table: {out}")
    lines = out.splitlines()
    check(lines[0].index("PENDING") + len("PENDING") == len(lines[2]),
          f"number columns are right-aligned: {out}")

    # routes
    rc, out, err = ctl(s + ["routes"])
    check(rc == 0 and last() == {"v": 1, "cmd": "routes"}, f"routes: {rc} {err}")
    lines = out.splitlines()
    check(lines[0].split() == ["NAME", "ENABLED", "PAUSED", "FROM", "TO", "FILTER", "TRANSFORM"],
          f"routes header: {out}")
    check(lines[1].startswith("prices") and "pos:price.*" in lines[1]
          and "web-eu, app (conflate key)" in lines[1], f"routes prices row: {out}")
    check(".price.amount > 0 and (.sku | startsw..." in lines[1],
          f"a long filter is on one line and cut: {out}")
    check(lines[2].startswith("stock") and "pos, wms:stock.level" in lines[2]
          and "{sku, available: .on_hand} (as stock.available)" in lines[2],
          f"routes stock row: {out}")
    check(len(lines) == 3, f"one line per route: {out}")

    # metrics
    rc, out, err = ctl(s + ["metrics"])
    check(rc == 0 and last() == {"v": 1, "cmd": "metrics"}, f"metrics: {rc} {err}")
    check(out.startswith("uptime 12.5 s, in flight 3\n"), f"metrics head: {out}")
    check(table(out, "ROUTE") == [
        ["ROUTE", "IN", "PASSED", "FILTERED", "TRANSFORMED", "ERRORS", "QUEUED", "HELD"],
        ["prices", "100", "90", "10", "0", "0", "180", "0"],
        ["stock", "50", "50", "0", "50", "1", "50", "12"]], f"metrics routes: {out}")
    check(table(out, "DESTINATION") == [
        ["DESTINATION", "QUEUED", "DELIVERED", "RETRIED", "REJECTED", "DEAD_LETTERS", "P50_MS",
         "P99_MS", "P999_MS", "MAX_MS"],
        ["web-eu", "5", "135", "4", "1", "2", "1.23", "45.6", "1235", "2000"],
        ["app", "0", "0", "0", "0", "-", "-", "-", "-", "-"]], f"metrics destinations: {out}")
    check(table(out, "CONNECTOR") == [["CONNECTOR", "METRIC", "VALUE"],
                                      ["web-eu", "api_calls", "140"],
                                      ["web-eu", "rate_limit_remaining", "0.75"]],
          f"metrics plugin metrics: {out}")

    # --json prints the result, pretty, for every command; options go anywhere
    for cmd, result in (("status", STATUS), ("connectors", CONNECTORS), ("routes", ROUTES),
                        ("metrics", METRICS)):
        rc, out, err = ctl(s + [cmd, "--json"])
        try:
            parsed = json.loads(out)
        except ValueError:
            parsed = None
        check(rc == 0 and parsed == result, f"{cmd} --json: {rc} {out[:200]} {err}")
        check(out.count("\n") > 3 and out.endswith("\n"), f"{cmd} --json is pretty: {out[:100]}")

    # reload
    rc, out, err = ctl(s + ["reload"])
    check(rc == 0 and last() == {"v": 1, "cmd": "reload"}, f"reload: {rc} {err}")
    check(out == f"reloaded (routes swapped, connectors kept), config sha256 {SHA}, reloads 3\n",
          f"reload output: {out!r}")

    # pause, resume
    rc, out, err = ctl(s + ["pause", "stock"])
    check(rc == 0 and last() == {"v": 1, "cmd": "pause", "args": {"route": "stock"}},
          f"pause: {rc} {err} {last()}")
    check(out == "route stock: paused (events are held)\n", f"pause output: {out!r}")
    rc, out, err = ctl(s + ["resume", "stock"])
    check(rc == 0 and last() == {"v": 1, "cmd": "resume", "args": {"route": "stock"}},
          f"resume: {rc} {err}")
    check(out == "route stock: running\n", f"resume output: {out!r}")
    rc, out, err = ctl(s + ["--json", "pause", "prices"])
    check(rc == 0 and json.loads(out) == {"route": "prices", "paused": True}, f"pause --json {out}")
    rc, out, err = ctl(s + ["pause", "nosuch"])
    check(rc == 1 and err == "omnibusctl: not_found: no route 'nosuch'\n" and not out,
          f"pause unknown route: {rc} {out!r} {err!r}")

    # log-level
    rc, out, err = ctl(s + ["log-level", "debug"])
    check(rc == 0 and last() == {"v": 1, "cmd": "log-level", "args": {"level": "debug"}},
          f"log-level: {rc} {err} {last()}")
    check(out == "log level: debug\n", f"log-level output: {out!r}")
    rc, out, err = ctl(s + ["log-level", "web-eu", "warn"])
    check(rc == 0 and last() == {"v": 1, "cmd": "log-level",
                                 "args": {"instance": "web-eu", "level": "warn"}},
          f"log-level instance: {rc} {err} {last()}")
    check(out == "log level of web-eu: warn\n", f"log-level instance output: {out!r}")

    # every request was one JSON object with v 1
    check(all(isinstance(r, dict) and r.get("v") == 1 for r in sock.requests),
          f"requests: {sock.requests}")


def test_prometheus(sock):
    rc, out, err = ctl(["--socket", sock.endpoint, "metrics", "--prometheus"])
    check(rc == 0 and not err, f"--prometheus: {rc} {err}")
    try:
        types, samples = parse_prometheus(out)
    except ValueError as e:
        check(False, f"--prometheus output parses: {e}\n{out}")
        return
    want_types = {
        "omnibus_uptime_seconds": "gauge", "omnibus_inflight": "gauge",
        "omnibus_route_events_total": "counter",
        "omnibus_route_deliveries_queued_total": "counter", "omnibus_route_held": "gauge",
        "omnibus_destination_events_total": "counter", "omnibus_destination_queued": "gauge",
        "omnibus_destination_dead_letters": "gauge",
        "omnibus_destination_conflated_total": "counter",
        "omnibus_destination_stale_total": "counter",
        "omnibus_source_emitted_total": "counter",
        "omnibus_source_deduplicated_total": "counter",
        "omnibus_source_lost_total": "counter",
        "omnibus_destination_latency_ms": "gauge",
        "omnibus_destination_latency_max_ms": "gauge",
        "omnibus_destination_latency_samples": "gauge",
        "omnibus_connector_metric": "untyped",
    }
    check(types == want_types, f"families and types: {types}")
    check(sample_value(samples, "omnibus_uptime_seconds") == 12.5, "uptime")
    check(sample_value(samples, "omnibus_inflight") == 3, "inflight")
    for r in METRICS["routes"]:
        for outcome in ("in", "passed", "filtered", "transformed", "errors"):
            check(sample_value(samples, "omnibus_route_events_total", route=r["name"],
                               outcome=outcome) == r[outcome], f"route {r['name']} {outcome}")
        check(sample_value(samples, "omnibus_route_deliveries_queued_total", route=r["name"])
              == r["queued"], f"route {r['name']} queued")
        check(sample_value(samples, "omnibus_route_held", route=r["name"]) == r["held"],
              f"route {r['name']} held")
    for d in METRICS["destinations"]:
        for outcome in ("delivered", "retried", "rejected"):
            check(sample_value(samples, "omnibus_destination_events_total",
                               destination=d["name"], outcome=outcome) == d[outcome],
                  f"destination {d['name']} {outcome}")
        check(sample_value(samples, "omnibus_destination_queued", destination=d["name"])
              == d["queued"], f"destination {d['name']} queued")
    check(sample_value(samples, "omnibus_destination_dead_letters", destination="web-eu") == 2,
          "dead letters of web-eu")
    check(sample_value(samples, "omnibus_destination_dead_letters", destination="app") is None,
          "no dead-letter sample for a destination the daemon gave no count for")
    lat = METRICS["destinations"][0]["latency_ms"]
    for q, key in (("0.5", "p50"), ("0.99", "p99"), ("0.999", "p999")):
        check(sample_value(samples, "omnibus_destination_latency_ms", destination="web-eu",
                           quantile=q) == lat[key], f"latency {q}")
        v = sample_value(samples, "omnibus_destination_latency_ms", destination="app", quantile=q)
        check(v is not None and math.isnan(v), f"no samples: quantile {q} is NaN ({v})")
    check(sample_value(samples, "omnibus_destination_latency_max_ms", destination="web-eu")
          == 2000.25, "latency max")
    check(sample_value(samples, "omnibus_destination_latency_samples", destination="web-eu")
          == 135, "latency samples")
    check(sample_value(samples, "omnibus_connector_metric", connector="web-eu",
                       name="rate_limit_remaining") == 0.75, "plugin gauge")
    check(sample_value(samples, "omnibus_connector_metric", connector="web-eu",
                       name="api_calls") == 140, "plugin counter")
    check("1.234\n" in out and "45.6\n" in out, f"reals in their shortest form: {out}")

    # label values with \, " and newline are escaped, and read back the same
    odd = 'we"ird\\name\nline2'
    m = json.loads(json.dumps(METRICS))
    m["destinations"][0]["name"] = odd
    m["connectors"] = {odd: {odd: 5, "up": True, "text": "not a number", "nested": {"a": 1}}}
    f = FakeAdmin(os.path.join(os.path.dirname(sock.path), "prom.sock"), lambda r: ok(m))
    rc, out, err = ctl(["--socket", f.endpoint, "metrics", "--prometheus"])
    f.close()
    check(rc == 0, f"--prometheus with odd names: {rc} {err}")
    check('destination="we\\"ird\\\\name\\nline2"' in out, f"escaped label: {out}")
    try:
        types, samples = parse_prometheus(out)
    except ValueError as e:
        check(False, f"escaped output parses: {e}\n{out}")
        return
    check(sample_value(samples, "omnibus_destination_events_total", destination=odd,
                       outcome="delivered") == 135, "escaped label reads back")
    check(sample_value(samples, "omnibus_connector_metric", connector=odd, name=odd) == 5,
          "escaped connector and metric names read back")
    check(sample_value(samples, "omnibus_connector_metric", connector=odd, name="up") == 1,
          "a boolean plugin metric is 1")
    check(not any(l.get("name") in ("text", "nested") for (_, l, _) in samples),
          "non-numeric plugin metrics are left out")


def test_errors(sock_dir):
    """ok: false answers: exit 1, 'omnibusctl: CODE: MESSAGE', and reload's errors lines."""
    f = FakeAdmin(os.path.join(sock_dir, "errs.sock"), lambda r: (
        error("invalid_config", "the new config has 2 errors; the running one stays",
              errors=RELOAD_ERRORS) if r.get("cmd") == "reload"
        else error("internal", "something broke")))
    rc, out, err = ctl(["--socket", f.endpoint, "reload"])
    check(rc == 1 and not out, f"reload refused: exit {rc}")
    check(err.splitlines() == ["omnibusctl: invalid_config: the new config has 2 errors; the "
                               "running one stays"] + RELOAD_ERRORS, f"reload errors: {err!r}")
    rc, out, err = ctl(["--socket", f.endpoint, "--json", "reload"])
    check(rc == 1 and not out and RELOAD_ERRORS[1] in err, f"reload --json refused: {rc} {err}")
    rc, out, err = ctl(["--socket", f.endpoint, "status"])
    check(rc == 1 and err == "omnibusctl: internal: something broke\n", f"internal: {err!r}")
    f.close()


def test_endpoints(d, sock):
    """--socket beats OMNIBUS_ADMIN beats the default; a path means ipc://PATH."""
    rc, out, err = ctl(["status"], env={"OMNIBUS_ADMIN": sock.path})
    check(rc == 0, f"OMNIBUS_ADMIN as a path: {rc} {err}")
    rc, out, err = ctl(["status"], env={"OMNIBUS_ADMIN": sock.endpoint})
    check(rc == 0, f"OMNIBUS_ADMIN as ipc://: {rc} {err}")
    rc, out, err = ctl(["--socket", sock.path, "status"], env={"OMNIBUS_ADMIN": d + "/nope"})
    check(rc == 0, f"--socket beats OMNIBUS_ADMIN: {rc} {err}")
    rc, out, err = ctl(["--socket=" + sock.path, "status"])
    check(rc == 0, f"--socket=PATH: {rc} {err}")
    rc, out, err = ctl(["status"], env={"OMNIBUS_ADMIN": d + "/nope.sock"})
    check(rc == 3 and f"ipc://{d}/nope.sock" in err, f"OMNIBUS_ADMIN is used: {rc} {err}")
    # (Only where no daemon listens on the default: a test must not talk to a real one.)
    default = "/run/omnibus/admin.sock" if os.geteuid() == 0 else None
    if default and not os.path.exists(default):
        rc, out, err = ctl(["status"], env={"OMNIBUS_ADMIN": ""})
        check(rc == 3 and f"ipc://{default}:" in err, f"an empty OMNIBUS_ADMIN: {rc} {err}")

    # The default: root → /run/omnibus; else $XDG_RUNTIME_DIR/omnibus; else /tmp/omnibus-<uid>.
    xdg = os.path.join(d, "xdg")
    if os.geteuid() == 0:
        if not os.path.exists("/run/omnibus/admin.sock"):
            rc, out, err = ctl(["status"], env={"XDG_RUNTIME_DIR": xdg})
            check(rc == 3 and "at ipc:///run/omnibus/admin.sock: no such socket file" in err,
                  f"root's default endpoint: {rc} {err}")
        nobody = non_root_runner()
        if nobody:
            os.makedirs(xdg, exist_ok=True)
            os.chmod(d, 0o755)
            os.chmod(xdg, 0o777)
            run_as = nobody + [OMNIBUSCTL, "status"]
            env = {k: v for k, v in os.environ.items() if k != "OMNIBUS_ADMIN"}
            p = subprocess.run(run_as, capture_output=True, text=True,
                               env=dict(env, XDG_RUNTIME_DIR=xdg))
            check(p.returncode == 3 and f"at ipc://{xdg}/omnibus/admin.sock:" in p.stderr,
                  f"a user's default with XDG_RUNTIME_DIR: {p.returncode} {p.stderr}")
            env.pop("XDG_RUNTIME_DIR", None)
            p = subprocess.run(run_as, capture_output=True, text=True, env=env)
            check(p.returncode == 3 and "at ipc:///tmp/omnibus-65534/admin.sock:" in p.stderr,
                  f"a user's default without XDG_RUNTIME_DIR: {p.returncode} {p.stderr}")
            # A socket that belongs to someone else: denied, fast, with a reason.
            p = subprocess.run(nobody + [OMNIBUSCTL, "--socket", sock.path, "status"],
                               capture_output=True, text=True, env=env)
            check(p.returncode == 3 and "permission denied" in p.stderr,
                  f"another user's 0600 socket: {p.returncode} {p.stderr}")
        else:
            print("note: no setpriv; the non-root default endpoints are not tested")
    else:
        os.makedirs(os.path.join(xdg, "omnibus"), exist_ok=True)
        f = FakeAdmin(os.path.join(xdg, "omnibus", "admin.sock"), lambda r: ok(STATUS))
        rc, out, err = ctl(["status"], env={"XDG_RUNTIME_DIR": xdg})
        f.close()
        check(rc == 0, f"default endpoint under XDG_RUNTIME_DIR: {rc} {err}")
        env = {"XDG_RUNTIME_DIR": ""}
        rc, out, err = ctl(["--timeout", "1", "status"], env=env)
        check(f"/tmp/omnibus-{os.getuid()}/admin.sock" in err or rc == 0,
              f"default without XDG_RUNTIME_DIR: {rc} {err}")


def non_root_runner():
    """A command prefix that runs as nobody (uid 65534), when setpriv can do it here."""
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None
    cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    p = subprocess.run(cmd + [OMNIBUSCTL, "--version"], capture_output=True, text=True)
    return cmd if p.returncode == 0 else None


def test_unreachable(d):
    hint = "(is omnibusd running? choose another with --socket or OMNIBUS_ADMIN)"
    # no socket file: a clear message, at once
    t = time.time()
    rc, out, err = ctl(["--socket", d + "/none.sock", "status"])
    check(rc == 3 and not out, f"no socket file: exit {rc}")
    check(err == f"omnibusctl: cannot reach omnibusd at ipc://{d}/none.sock: no such socket "
                 f"file {hint}\n", f"no socket file message: {err!r}")
    check(time.time() - t < 3, "no socket file fails fast")
    rc, out, err = ctl(["--socket", d + "/nodir/none.sock", "status"])
    check(rc == 3 and "no such socket file" in err, f"no directory: {rc} {err}")
    # a file that is not a socket
    with open(d + "/plain", "w") as f:
        f.write("x")
    rc, out, err = ctl(["--socket", d + "/plain", "status"])
    check(rc == 3 and "is not a socket" in err, f"not a socket: {rc} {err}")
    # a socket file nobody answers on (a stale socket): the timeout
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(d + "/stale.sock")
    t = time.time()
    rc, out, err = ctl(["--socket", d + "/stale.sock", "--timeout", "1", "status"])
    took = time.time() - t
    stale.close()
    check(rc == 3 and err == f"omnibusctl: cannot reach omnibusd at ipc://{d}/stale.sock: no "
                             f"answer within 1 s {hint}\n", f"stale socket: {rc} {err!r}")
    check(0.9 <= took < 5, f"--timeout 1 waits about 1 s: {took:.2f}")
    # a server that takes the request and never answers
    mute = FakeAdmin(d + "/mute.sock", lambda r: None)
    t = time.time()
    rc, out, err = ctl(["--socket", mute.path, "-t", "0.5", "metrics"])
    took = time.time() - t
    mute.close()
    check(rc == 3 and "no answer within 0.5 s" in err, f"mute server: {rc} {err}")
    check(0.4 <= took < 5, f"--timeout 0.5: {took:.2f}")


def test_malformed(d):
    """Answers that break the protocol: exit 1 with a reason; never a crash."""
    cases = [
        (b"not json", "is not JSON"),
        (b"", "is not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"ok": true, "result": 1}', "protocol version (none)"),
        (b'{"v": 2, "ok": true, "result": 1}', "protocol version 2"),
        (b'{"v": "1", "ok": true, "result": 1}', 'protocol version "1"'),
        (b'{"v": 1, "result": {}}', 'no boolean "ok"'),
        (b'{"v": 1, "ok": "yes", "result": {}}', 'no boolean "ok"'),
        (b'{"v": 1, "ok": true}', 'no "result"'),
        (b'{"v": 1, "ok": false}', 'no "error"'),
        (b'{"v": 1, "ok": false, "error": {"code": 5, "message": "x"}}', 'no "error"'),
        (b'{"v": 1, "ok": false, "error": "boom"}', 'no "error"'),
        ((b'{"v": 1, "ok": true, "result": {}}', b"extra"), "2 frames"),
        (b'\xff\xfe{"v": 1}', "is not JSON"),
        (b'{"v": 1, "ok": true, "result": 99999999999999999999999}', "is not JSON"),
    ]
    for i, (answer, why) in enumerate(cases):
        f = FakeAdmin(f"{d}/bad{i}.sock", lambda r, a=answer: a)
        rc, out, err = ctl(["--socket", f.endpoint, "status"])
        f.close()
        check(rc == 1 and not out and err.startswith(f"omnibusctl: bad answer from omnibusd at "
                                                     f"ipc://{d}/bad{i}.sock: ")
              and why in err, f"malformed answer {answer!r}: {rc} {out!r} {err!r}")

    # A result of the wrong shape: exit 1 in the table views; --json prints it as it is.
    wrong = [("status", [1]), ("connectors", {"a": 1}), ("routes", "x"), ("metrics", None),
             ("reload", 3), ("pause", {"route": "r"}), ("log-level", [])]
    for i, (cmd, result) in enumerate(wrong):
        f = FakeAdmin(f"{d}/shape{i}.sock", lambda r, x=result: ok(x))
        args = {"pause": ["pause", "r"], "log-level": ["log-level", "info"]}.get(cmd, [cmd])
        rc, out, err = ctl(["--socket", f.endpoint] + args)
        check(rc == 1 and "wrong shape" in err and not out, f"{cmd} wrong shape: {rc} {out} {err}")
        rc, out, err = ctl(["--socket", f.endpoint, "--json"] + args)
        f.close()
        check(rc == 0 and json.loads(out) == result, f"{cmd} --json of any shape: {rc} {out}")

    # Members of the wrong type, missing members, hostile strings: printed as "-", cleaned.
    junk_conn = [{"name": 5, "plugin": None, "state": ["x"], "stats": "lots"},
                 {"name": "esc\x1b]0;pwned\x07", "stats": {"emitted": -1, "delivered": 1.5}},
                 7, None, {}]
    junk_routes = [{"name": "r", "from": "pos", "to": [1, None, {"connector": 2}],
                    "filter": 5, "transform": {"a": 1}, "transform_type": 3}, "x"]
    junk_metrics = {"uptime_s": "long", "inflight": None, "routes": {"a": 1},
                    "destinations": [{"name": "d", "latency_ms": [1, 2]}, {"latency_ms": None},
                                     3],
                    "connectors": [1, 2]}
    junk_status = {"config": "x", "connectors": {"a": 1}, "routes": [1, "x", None],
                   "uptime_s": -5, "last_reload_error": 7}
    junk = {"connectors": junk_conn, "routes": junk_routes, "metrics": junk_metrics,
            "status": junk_status}
    f = FakeAdmin(f"{d}/junk.sock", lambda r: ok(junk[r["cmd"]]))
    for cmd in ("status", "connectors", "routes", "metrics"):
        rc, out, err = ctl(["--socket", f.endpoint, cmd])
        check(rc == 0 and "\x1b" not in out and "\x07" not in out,
              f"{cmd} junk: {rc} {out!r} {err}")
    rc, out, err = ctl(["--socket", f.endpoint, "metrics", "--prometheus"])
    check(rc == 0, f"--prometheus junk: {rc} {err}")
    try:
        parse_prometheus(out)
    except ValueError as e:
        check(False, f"--prometheus of junk still parses: {e}\n{out}")
    f.close()
    # A big answer (10,000 connectors) is fine.
    many = [dict(CONNECTORS[0], name=f"c{i}") for i in range(10000)]
    f = FakeAdmin(f"{d}/many.sock", lambda r: ok(many))
    rc, out, err = ctl(["--socket", f.endpoint, "connectors"])
    f.close()
    check(rc == 0 and out.count("\n") == 10001, f"10,000 rows: {rc} {err}")


def main():
    workdir("admin-cli")
    d = sockdir("cli")
    sock = FakeAdmin(d + "/admin.sock", scripted)
    try:
        test_usage(sock)
        test_commands(sock)
        test_prometheus(sock)
        test_errors(d)
        test_endpoints(d, sock)
        test_unreachable(d)
        test_malformed(d)
    finally:
        sock.close()
    done()


if __name__ == "__main__":
    main()
