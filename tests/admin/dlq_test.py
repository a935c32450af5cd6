#!/usr/bin/env python3
"""The dead-letter commands of the admin socket end to end (docs/admin-protocol.md): omnibusd
with two http destinations that refuse (400) what the test says, and a file destination behind
a route it pauses (held rows). dead-letters with every filter, paging and state; dead-letter;
replay by id, destination and type (one that fails again comes back as a new dead letter);
edit; drop by id, type and all; the metrics gauge; every bad request (raw ZeroMQ and through
omnibusctl); and dead letters of a destination a reload removed: they can be dropped, not
replayed."""
import json
import os

from admin_helpers import Raw, ctl, sockdir
from omb import (Daemon, check, config, count_lines, done, drop, file_sink, file_source,
                 wait_for, workdir, write_config)
from omb_http import FakeServer, body_json

ROW_KEYS = {"id", "state", "destination", "route", "type", "event_id", "key", "attempts",
            "first_error", "last_error", "first_at", "last_at"}
REFUSE = [(400, {}, '{"error":"refused"}')]
ACCEPT = [(200, {}, "{}")]


def http_sink(name, url):
    return (f'  <connector name="{name}" plugin="http">\n'
            f'    <option name="url">{url}</option>\n  </connector>\n')


def make_config(d, sock, port, with_app=True):
    base = f"http://127.0.0.1:{port}"
    conns = file_source("src", d + "/in") + http_sink("web", base + "/web")
    routes = ('  <route name="orders"><from connector="src" type="order.*"/>'
              '<to connector="web"/></route>\n'
              '  <route name="prices"><from connector="src" type="price.*"/>'
              '<to connector="out"/></route>\n')
    if with_app:
        conns += http_sink("app", base + "/app")
        routes += ('  <route name="stock"><from connector="src" type="stock.*"/>'
                   '<to connector="app"/></route>\n')
    return config(conns + file_sink("out", d + "/out.ndjson") + routes,
                  extra=f'  <admin endpoint="ipc://{sock}"/>\n')


class Admin:
    """Raw requests: ask(cmd, args) gives the answer."""

    def __init__(self, sock):
        self.raw = Raw("ipc://" + sock)

    def ask(self, cmd, args=None):
        req = {"v": 1, "cmd": cmd}
        if args is not None:
            req["args"] = args
        return self.raw.ask(req) or {}

    def ok(self, cmd, args=None):
        a = self.ask(cmd, args)
        check(a.get("ok") is True, f"{cmd} {args}: {a}")
        return a.get("result") if a.get("ok") else None

    def total(self, **args):
        r = self.ok("dead-letters", args)
        return r["total"] if r else -1


def ev(n, type_, key=None):
    return {"type": type_, "key": key or f"k{n}", "body": {"n": n}}


def test_list(a):
    r = a.ok("dead-letters")
    rows = r["dead_letters"]
    check(r["total"] == 6 and len(rows) == 6, f"six dead letters: {r}")
    check(all(set(x) == ROW_KEYS for x in rows), f"members of a row: {rows[:1]}")
    check([x["id"] for x in rows] == sorted(x["id"] for x in rows), "in id order")
    check(sorted((x["destination"], x["route"], x["type"]) for x in rows) ==
          [("app", "stock", "stock.level")] * 2 + [("web", "orders", "order.created")] * 3 +
          [("web", "orders", "order.paid")], f"destinations, routes, types: {rows}")
    check(all(x["state"] == "dead" and x["attempts"] == 1 and "HTTP 400" in x["last_error"]
              and x["key"].startswith("k") and len(x["event_id"]) == 26 for x in rows),
          f"rows: {rows}")
    for args, want in (({"destination": "web"}, 4), ({"destination": "app"}, 2),
                       ({"route": "stock"}, 2), ({"type": "order.paid"}, 1),
                       ({"type": "order.created", "destination": "web"}, 3),
                       ({"type": "order.created", "destination": "app"}, 0),
                       ({"destination": "nosuch"}, 0), ({"older_than": "1h"}, 0),
                       ({"older_than": "0s"}, 6), ({"state": "dead"}, 6),
                       ({"state": "replay"}, 0), ({"state": "held"}, 0)):
        r = a.ok("dead-letters", args)
        check(r and r["total"] == want and len(r["dead_letters"]) == want,
              f"dead-letters {args}: want {want}, got {r}")
    # Paging: limit and after_id; total ignores both.
    p1 = a.ok("dead-letters", {"limit": 4})
    p2 = a.ok("dead-letters", {"limit": 4, "after_id": p1["dead_letters"][-1]["id"]})
    check(len(p1["dead_letters"]) == 4 and len(p2["dead_letters"]) == 2
          and p1["total"] == p2["total"] == 6
          and [x["id"] for x in p1["dead_letters"] + p2["dead_letters"]] ==
          [x["id"] for x in rows], f"pages: {p1} {p2}")
    p = a.ok("dead-letters", {"type": "order.created", "limit": 2})
    q = a.ok("dead-letters", {"type": "order.created", "after_id": p["dead_letters"][-1]["id"]})
    check(len(p["dead_letters"]) == 2 and p["total"] == 3 and len(q["dead_letters"]) == 1,
          f"paging with a type: {p} {q}")
    r = a.ok("dead-letters", {"after_id": 10 ** 12, "limit": 10000})
    check(r["dead_letters"] == [] and r["total"] == 6, f"past the end: {r}")
    return rows


def test_show(a, rows):
    x = rows[0]
    r = a.ok("dead-letter", {"id": x["id"]})
    check(set(r) == ROW_KEYS | {"seq", "envelope", "body", "errors"}
          and all(r[k] == x[k] for k in ROW_KEYS), f"dead-letter: {r}")
    check(r["envelope"]["id"] == x["event_id"] and r["envelope"]["type"] == x["type"]
          and r["envelope"]["trace"] == x["event_id"] and isinstance(r["body"], dict)
          and isinstance(r["seq"], int) and r["seq"] > 0, f"envelope, body, seq: {r}")
    check(len(r["errors"]) == 1 and "HTTP 400" in r["errors"][0]["error"]
          and isinstance(r["errors"][0]["at"], int), f"errors: {r['errors']}")
    rc, out, err = ctl(["--socket", a.sock, "dead-letter", str(x["id"])])
    check(rc == 0 and out.startswith(f"id           {x['id']}\nstate        dead\n")
          and "\nerrors:\n  " in out and "\nenvelope:\n  {\n" in out
          and "\nbody:\n  {\n" in out, f"dead-letter table: {rc} {out} {err}")


BAD = [
    # (command, args, code, words the message must have)
    ("dead-letters", {"state": "bogus"}, "bad_request", "state"),
    ("dead-letters", {"state": 5}, "bad_request", "state"),
    ("dead-letters", {"limit": 0}, "bad_request", "limit"),
    ("dead-letters", {"limit": 10001}, "bad_request", "10000"),
    ("dead-letters", {"limit": "5"}, "bad_request", "limit"),
    ("dead-letters", {"limit": 1.5}, "bad_request", "limit"),
    ("dead-letters", {"after_id": -1}, "bad_request", "after_id"),
    ("dead-letters", {"destination": 5}, "bad_request", "destination"),
    ("dead-letters", {"destination": ""}, "bad_request", "destination"),
    ("dead-letters", {"type": ["order.paid"]}, "bad_request", "type"),
    ("dead-letters", {"older_than": "1d"}, "bad_request", "duration"),
    ("dead-letters", {"older_than": "soon"}, "bad_request", "duration"),
    ("dead-letters", {"older_than": 60}, "bad_request", "older_than"),
    ("dead-letters", {"dest": "web"}, "bad_request", "expected: state, destination"),
    ("dead-letter", {}, "bad_request", "id"),
    ("dead-letter", {"id": 0}, "bad_request", "id"),
    ("dead-letter", {"id": -3}, "bad_request", "id"),
    ("dead-letter", {"id": "1"}, "bad_request", "id"),
    ("dead-letter", {"id": 1, "body": {}}, "bad_request", "expected: id"),
    ("dead-letter", {"id": 10 ** 12}, "not_found", "no dead letter"),
    ("replay", {}, "bad_request", "all"),
    ("replay", {"all": False}, "bad_request", "all"),
    ("replay", {"all": "yes"}, "bad_request", "all"),
    ("replay", {"id": 1, "all": True}, "bad_request", "alone"),
    ("replay", {"id": 1, "route": "orders"}, "bad_request", "alone"),
    ("replay", {"all": True, "destination": "web"}, "bad_request", "alone"),
    ("replay", {"state": "dead"}, "bad_request", "expected: id, destination"),
    ("replay", {"limit": 5}, "bad_request", "expected"),
    ("replay", {"id": "1"}, "bad_request", "id"),
    ("replay", {"id": 0}, "bad_request", "id"),
    ("replay", {"older_than": "yesterday"}, "bad_request", "duration"),
    ("replay", {"destination": "nosuch"}, "not_found", "nosuch"),
    ("replay", {"destination": "src"}, "not_found", "src"),  # a source only: no consumer
    ("replay", {"id": 10 ** 12}, "not_found", "no dead letter"),
    ("edit", {}, "bad_request", "id"),
    ("edit", {"body": {"n": 1}}, "bad_request", "id"),
    ("edit", {"id": "x", "body": {}}, "bad_request", "id"),
    ("edit", {"id": 10 ** 12, "body": {}}, "not_found", "no dead letter"),
    ("edit", {"id": 10 ** 12, "body": {}, "trace": "t"}, "bad_request", "expected: id, body"),
    ("drop", {}, "bad_request", "all"),
    ("drop", {"all": False}, "bad_request", "all"),
    ("drop", {"all": 1}, "bad_request", "all"),
    ("drop", {"id": 1, "all": True}, "bad_request", "alone"),
    ("drop", {"all": True, "type": "order.paid"}, "bad_request", "alone"),
    ("drop", {"state": "held"}, "bad_request", "expected"),
    ("drop", {"route": ""}, "bad_request", "route"),
    ("drop", {"id": 10 ** 12}, "not_found", "no dead letter"),
]


def test_bad(a, rows):
    web = [x["id"] for x in rows if x["destination"] == "web"][0]
    cases = BAD + [
        ("edit", {"id": web}, "bad_request", "body"),
        ("edit", {"id": web, "body": [1, 2]}, "bad_request", "object"),
        ("edit", {"id": web, "body": "text"}, "bad_request", "object"),
        ("edit", {"id": web, "body": None}, "bad_request", "object"),
        ("edit", {"id": web, "body": 5}, "bad_request", "object"),
    ]
    for cmd, args, code, words in cases:
        r = a.ask(cmd, args)
        e = r.get("error") or {}
        check(r.get("ok") is False and e.get("code") == code and words in e.get("message", ""),
              f"{cmd} {args}: want {code} with '{words}', got {r}")
    r = a.ask("frobnicate")
    check("dead-letters, dead-letter, replay, edit, drop" in r["error"]["message"],
          f"the unknown-command message lists the new commands: {r}")
    check(a.total() == 6, "bad requests changed nothing")


def test_held(d, a):
    """A paused route's rows are state "held": listed, shown, never replayed, edited or dropped."""
    a.ok("pause", {"route": "prices"})
    drop(d + "/in", "prices.ndjson", [ev(i, "price.set") for i in range(3)])
    wait_for(lambda: a.total(state="held") == 3, what="3 held rows")
    held = a.ok("dead-letters", {"state": "held", "destination": "out"})["dead_letters"]
    check(len(held) == 3 and all(x["state"] == "held" and x["route"] == "prices"
                                 and x["attempts"] == 0 for x in held), f"held rows: {held}")
    h = held[0]["id"]
    check(a.ok("dead-letter", {"id": h})["state"] == "held", "a held row can be shown")
    for cmd, args in (("replay", {"id": h}), ("drop", {"id": h}),
                      ("edit", {"id": h, "body": {"n": 9}})):
        r = a.ask(cmd, args)
        check(r.get("ok") is False and r["error"]["code"] == "not_found"
              and "held" in r["error"]["message"], f"{cmd} of a held row: {r}")
    check(a.ok("drop", {"older_than": "1h"}) == {"dropped": 0}, "none older than 1h")
    a.ok("resume", {"route": "prices"})
    wait_for(lambda: count_lines(d + "/out.ndjson") == 3, what="the held rows delivered")
    wait_for(lambda: a.total(state="held") == 0, what="no held rows")
    check(a.total() == 6, "the dead letters stay")


def test_replay(a, srv, rows):
    # By type, while web still refuses: it comes back as a new dead letter.
    paid = [x for x in rows if x["type"] == "order.paid"][0]
    check(a.ok("replay", {"type": "order.paid"}) == {"replayed": 1}, "replay by type")
    wait_for(lambda: len([r for r in srv.seen("/web") if body_json(r)["n"] == 1]) == 2,
             what="order.paid tried again")
    wait_for(lambda: a.total(type="order.paid") == 1 and a.total(state="replay") == 0,
             what="order.paid dead again")
    again = a.ok("dead-letters", {"type": "order.paid"})["dead_letters"][0]
    check(again["id"] > paid["id"] and again["event_id"] == paid["event_id"],
          f"a new row, the same event: {again}")
    # By destination and route, once app accepts.
    srv.script("/app", ACCEPT)
    check(a.ok("replay", {"destination": "app", "route": "stock"}) == {"replayed": 2},
          "replay by destination")
    check(a.ok("replay", {"destination": "app"}) == {"replayed": 0}, "not dead any more")
    wait_for(lambda: a.total(destination="app") == 0 and a.total(state="replay") == 0,
             what="app's replays done")
    check(len(srv.seen("/app")) == 4,
          f"app: 2 refusals, 2 deliveries: {len(srv.seen('/app'))}")
    # By id, of a row just replayed (no longer there): not_found.
    app_row = [x for x in rows if x["destination"] == "app"][0]
    r = a.ask("replay", {"id": app_row["id"]})
    check(r.get("ok") is False and r["error"]["code"] == "not_found", f"gone: {r}")
    return again


def test_edit_drop(d, a, srv, sock):
    srv.script("/web", ACCEPT)
    created = a.ok("dead-letters", {"type": "order.created"})["dead_letters"]
    x = created[0]
    r = a.ok("edit", {"id": x["id"], "body": {"n": 100, "fixed": "yes"}})
    check(r == {"id": x["id"], "replayed": 1}, f"edit: {r}")
    wait_for(lambda: any(body_json(q) == {"n": 100, "fixed": "yes"} for q in srv.seen("/web")),
             what="the edited body delivered")
    r = a.ask("edit", {"id": x["id"], "body": {"n": 101}})
    check(r.get("ok") is False and r["error"]["code"] == "not_found", f"edit twice: {r}")
    wait_for(lambda: a.total(state="replay") == 0, what="the edit replayed")
    # Through omnibusctl: a body file, then drop by type, by id, and --all.
    y = created[1]
    path = os.path.join(d, "body.json")
    with open(path, "w") as f:
        json.dump({"n": 200}, f)
    srv.script("/web", REFUSE)
    rc, out, err = ctl(["--socket", sock, "edit", str(y["id"]), "--body-file", path])
    check(rc == 0 and out == f"dead letter {y['id']} edited; replaying it\n", f"{rc} {out} {err}")
    wait_for(lambda: a.total(state="replay") == 0 and a.total(type="order.created") == 2,
             what="the edited body refused: dead again")
    rows = a.ok("dead-letters", {"type": "order.created"})["dead_letters"]
    check(any(a.ok("dead-letter", {"id": z["id"]})["body"] == {"n": 200} for z in rows),
          "the dead letter keeps the edited body")
    rc, out, err = ctl(["--socket", sock, "drop", "--type", "order.created",
                        "--destination", "web"])
    check(rc == 0 and out == "dropped 2 dead letters\n", f"drop by type: {rc} {out} {err}")
    check(a.ok("drop", {"all": True}) == {"dropped": 1}, "drop all")
    check(a.total() == 0, "the queue is empty")
    rc, out, err = ctl(["--socket", sock, "drop", "--all"])
    check(rc == 0 and out == "dropped 0 dead letters\n", f"drop --all, none: {rc} {out} {err}")


def test_cli_errors(sock):
    for args, code in ((["dead-letters", "--limit", "0"], "bad_request"),
                       (["dead-letters", "--limit", "10001"], "bad_request"),
                       (["dead-letters", "--state", "bogus"], "bad_request"),
                       (["dead-letters", "--older-than", "2d"], "bad_request"),
                       (["dead-letter", "99999999"], "not_found"),
                       (["replay", "--destination", "nosuch"], "not_found"),
                       (["drop", "99999999"], "not_found"),
                       (["edit", "99999999", "--body", "{}"], "not_found")):
        rc, out, err = ctl(["--socket", sock] + args)
        check(rc == 1 and not out and err.startswith(f"omnibusctl: {code}: "),
              f"omnibusctl {args}: {rc} {out!r} {err!r}")


def test_removed_destination(d, a, srv, sock, cfg_path):
    """Rows of a destination a reload removed: listed, dropped, never replayed."""
    srv.script("/app", REFUSE)
    drop(d + "/in", "late.ndjson", [ev(300, "stock.level")])
    wait_for(lambda: a.total(destination="app") == 1, what="a dead letter for app")
    app_id = a.ok("dead-letters", {"destination": "app"})["dead_letters"][0]["id"]
    write_config(d, make_config(d, sock, srv.port, with_app=False), os.path.basename(cfg_path))
    r = a.ok("reload")
    check(r and r["mode"] == "restart", f"reload without app: {r}")
    check(a.ok("replay", {"all": True}) == {"replayed": 0}, "replay --all skips it")
    r = a.ask("replay", {"id": app_id})
    check(r.get("ok") is False and r["error"]["code"] == "not_found"
          and "not a destination of the running configuration" in r["error"]["message"], f"by id: {r}")
    r = a.ask("replay", {"destination": "app"})
    check(r.get("ok") is False and r["error"]["code"] == "not_found", f"by destination: {r}")
    m = a.ok("metrics")
    check(sorted(x["name"] for x in m["destinations"]) == ["out", "web"], f"metrics: {m}")
    check(a.ok("drop", {"destination": "app"}) == {"dropped": 1}, "dropped")


def main():
    d = workdir("admin-dlq")
    os.makedirs(d + "/in")
    sock = sockdir("dlq") + "/admin.sock"
    srv = FakeServer()
    srv.script("/web", REFUSE)
    srv.script("/app", REFUSE)
    cfg_path = write_config(d, make_config(d, sock, srv.port))
    daemon = Daemon(cfg_path)
    a = Admin(sock)
    a.sock = sock
    try:
        wait_for(lambda: os.path.exists(sock), what="the admin socket")
        drop(d + "/in", "a.ndjson", [ev(0, "order.created"), ev(1, "order.paid"),
                                     ev(2, "order.created"), ev(3, "stock.level"),
                                     ev(4, "order.created"), ev(5, "stock.level")])
        wait_for(lambda: a.total() == 6, what="6 dead letters")
        m = {x["name"]: x for x in a.ok("metrics")["destinations"]}
        check(m["web"]["dead_letters"] == 4 and m["app"]["dead_letters"] == 2
              and m["out"]["dead_letters"] == 0 and m["web"]["dead"] == 4,
              f"the dead_letters gauge: {m}")
        rows = test_list(a)
        test_show(a, rows)
        test_bad(a, rows)
        test_held(d, a)
        test_cli_errors(sock)
        test_replay(a, srv, rows)
        test_edit_drop(d, a, srv, sock)
        test_removed_destination(d, a, srv, sock, cfg_path)
    finally:
        a.raw.close()
        rc = daemon.stop()
        check(rc == 0, f"clean stop: {rc}\n{daemon.text()[-2000:]}")
        srv.close()
    done()


if __name__ == "__main__":
    main()
