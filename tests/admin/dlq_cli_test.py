#!/usr/bin/env python3
"""omnibusctl's dead-letter commands (dead-letters, dead-letter, replay, edit, drop) against a
scripted fake admin server: the requests each command line sends, the tables and texts, --json,
usage errors (exit 2, nothing sent), error answers (exit 1) and results of the wrong shape."""
import json
import os

from admin_helpers import FakeAdmin, ctl, error, ok, sockdir
from omb import check, done, workdir

AT = 1772359200123456  # 2026-03-01T10:00:00.123456Z

ROWS = [
    {"id": 12, "state": "dead", "destination": "web-eu", "route": "orders",
     "type": "order.created", "event_id": "01JNK0000000000000000000AA", "key": "A-1",
     "attempts": 1, "first_error": "HTTP 400: bad sku", "last_error": "HTTP 400: bad sku",
     "first_at": "2026-03-01T10:00:00.123456Z", "last_at": "2026-03-01T10:00:00.123456Z"},
    {"id": 15, "state": "dead", "destination": "app", "route": "stock", "type": "stock.level",
     "event_id": "01JNK0000000000000000000AB", "key": "OB-2@W", "attempts": 100,
     "first_error": "HTTP 503: down",
     "last_error": "HTTP 503: " + "the service is unavailable\x1b[31m " * 5,
     "first_at": "2026-03-01T09:00:00.000000Z", "last_at": "2026-03-01T10:30:00.000000Z"},
]

ONE = dict(ROWS[0], seq=4711,
           envelope={"id": ROWS[0]["event_id"], "type": "order.created", "key": "A-1",
                     "trace": "t-1"},
           body={"order_id": "A-1", "lines": [{"sku": "OB-404", "qty": 2}]},
           errors=[{"at": AT, "error": "HTTP 400: bad sku"},
                   {"at": AT + 2000000, "error": "HTTP 400: bad sku\nsecond line"}])


def scripted(req):
    cmd, args = req.get("cmd"), req.get("args") or {}
    if cmd == "dead-letters":
        if args.get("state") == "held":
            return ok({"dead_letters": [], "total": 0})
        return ok({"dead_letters": ROWS, "total": 5})
    if cmd == "dead-letter":
        if args.get("id") == 99:
            return error("not_found", "no dead letter with id 99")
        if args.get("id") == 7:
            return ok(dict(ONE, body="not json \x07 at all", errors=[]))
        return ok(ONE)
    if cmd == "replay":
        return ok({"replayed": 1 if "id" in args else 3})
    if cmd == "drop":
        return ok({"dropped": 1 if "id" in args else 0})
    if cmd == "edit":
        return ok({"id": args.get("id"), "replayed": 1})
    return error("unknown_command", cmd)


def test_requests(sock):
    s = ["--socket", sock.endpoint]
    cases = [
        (["dead-letters"], "dead-letters", {}),
        (["dead-letters", "--destination", "web-eu", "--route=orders", "--type", "order.paid",
          "--older-than", "1h", "--state", "held", "--limit", "5", "--after", "10"],
         "dead-letters", {"destination": "web-eu", "route": "orders", "type": "order.paid",
                          "older_than": "1h", "state": "held", "limit": 5, "after_id": 10}),
        (["--limit", "0", "dead-letters"], "dead-letters", {"limit": 0}),
        (["dead-letter", "12"], "dead-letter", {"id": 12}),
        (["replay", "12"], "replay", {"id": 12}),
        (["replay", "--all"], "replay", {"all": True}),
        (["replay", "--destination", "app", "--older-than", "30m"], "replay",
         {"destination": "app", "older_than": "30m"}),
        (["drop", "12"], "drop", {"id": 12}),
        (["drop", "--all"], "drop", {"all": True}),
        (["drop", "--type", "order.paid", "--route", "orders"], "drop",
         {"type": "order.paid", "route": "orders"}),
        (["edit", "12", "--body", '{"order_id": "A-1", "qty": 1}'], "edit",
         {"id": 12, "body": {"order_id": "A-1", "qty": 1}}),
    ]
    for args, cmd, want in cases:
        rc, out, err = ctl(s + args)
        last = sock.requests[-1] if sock.requests else None
        check(rc == 0 and last == {"v": 1, "cmd": cmd, "args": want},
              f"{args}: {rc} {err} sent {last}")


def test_edit_input(sock, d):
    s = ["--socket", sock.endpoint]
    body = {"order_id": "A-1", "note": "zażółć"}
    path = os.path.join(d, "body.json")
    with open(path, "w") as f:
        json.dump(body, f)
    rc, out, err = ctl(s + ["edit", "12", "--body-file", path])
    check(rc == 0 and sock.requests[-1]["args"] == {"id": 12, "body": body}
          and out == "dead letter 12 edited; replaying it\n", f"--body-file: {rc} {out} {err}")
    rc, out, err = ctl(s + ["edit", "12"], stdin=json.dumps(body))
    check(rc == 0 and sock.requests[-1]["args"] == {"id": 12, "body": body},
          f"edit from standard input: {rc} {err} {sock.requests[-1]}")


def test_views(sock):
    s = ["--socket", sock.endpoint]
    rc, out, err = ctl(s + ["dead-letters"])
    lines = out.splitlines()
    check(rc == 0 and lines[0].split() == ["ID", "DESTINATION", "ROUTE", "TYPE", "KEY",
                                           "ATTEMPTS", "LAST_AT", "LAST_ERROR"],
          f"dead-letters header: {rc} {out} {err}")
    check(lines[1].split()[:8] == ["12", "web-eu", "orders", "order.created", "A-1", "1",
                                   "2026-03-01T10:00:00.123456Z", "HTTP"],
          f"first row: {lines[1]}")
    check(lines[2].endswith("...") and "\x1b" not in out and len(lines[2].split("HTTP 503")[1])
          <= 60, f"a long error is cut, cleaned: {lines[2]!r}")
    check(lines[3:] == ["", "2 shown of 5 (the next ones: --after 15)"], f"footer: {lines[3:]}")
    rc, out, err = ctl(s + ["dead-letters", "--state", "held"])
    check(rc == 0 and out == "no dead letters here (0 in all)\n", f"none: {out!r}")
    rc, out, err = ctl(s + ["--json", "dead-letters"])
    check(rc == 0 and json.loads(out) == {"dead_letters": ROWS, "total": 5}, f"--json: {out}")

    rc, out, err = ctl(s + ["dead-letter", "12"])
    check(rc == 0 and not err, f"dead-letter: {rc} {err}")
    head, errors, env, body = (out.split("\n\n") + ["", "", ""])[:4]
    check(head.splitlines() == [
        "id           12", "state        dead", "destination  web-eu", "route        orders",
        "type         order.created", "event id     01JNK0000000000000000000AA",
        "key          A-1", "journal seq  4711", "attempts     1",
        "first at     2026-03-01T10:00:00.123456Z", "last at      2026-03-01T10:00:00.123456Z",
        "first error  HTTP 400: bad sku", "last error   HTTP 400: bad sku"], f"head: {head}")
    check(errors == "errors:\n  2026-03-01T10:00:00.123456Z  HTTP 400: bad sku\n"
                    "  2026-03-01T10:00:02.123456Z  HTTP 400: bad sku second line",
          f"errors one per line: {errors!r}")
    check(env.startswith("envelope:\n  {\n    \"id\": ") and '    "trace": "t-1"' in env,
          f"envelope pretty-printed: {env!r}")
    check(body.startswith("body:\n  {\n    \"order_id\": \"A-1\",\n    \"lines\": [")
          and body.endswith("  }\n"), f"body pretty-printed: {body!r}")
    rc, out, err = ctl(s + ["dead-letter", "7"])
    check(rc == 0 and "errors:\n  -\n" in out and out.endswith("body:\n  not json ? at all\n"),
          f"a body that is text, no errors: {out!r}")
    rc, out, err = ctl(s + ["--json", "dead-letter", "12"])
    check(rc == 0 and json.loads(out) == ONE, f"dead-letter --json: {out}")

    for args, want in ((["replay", "12"], "replaying 1 dead letter\n"),
                       (["replay", "--all"], "replaying 3 dead letters\n"),
                       (["drop", "12"], "dropped 1 dead letter\n"),
                       (["drop", "--all"], "dropped 0 dead letters\n"),
                       (["edit", "12", "--body", "{}"], "dead letter 12 edited; replaying it\n")):
        rc, out, err = ctl(s + args)
        check(rc == 0 and out == want, f"{args}: {rc} {out!r} {err}")
    rc, out, err = ctl(s + ["--json", "replay", "--all"])
    check(rc == 0 and json.loads(out) == {"replayed": 3}, f"replay --json: {out}")


def test_usage(sock, d):
    s = ["--socket", sock.endpoint]
    bad = [
        ["dead-letters", "12"], ["dead-letters", "--limit", "x"], ["dead-letters", "--limit"],
        ["dead-letters", "--after", "-1"], ["dead-letters", "--all"], ["dead-letters", "--body",
                                                                      "{}"],
        ["dead-letters", "--route", "a", "--route", "b"], ["dead-letters", "--route="],
        ["dead-letters", "--destination", b"\xff"],
        ["dead-letter"], ["dead-letter", "abc"], ["dead-letter", "0"], ["dead-letter", "1", "2"],
        ["dead-letter", "--route", "r", "1"],
        ["replay"], ["replay", "abc"], ["replay", "1", "--all"], ["replay", "1", "--type", "t"],
        ["replay", "--all", "--route", "r"], ["replay", "--all=yes"], ["replay", "--limit", "5"],
        ["replay", "--state", "dead", "--all"],
        ["drop"], ["drop", "-5"], ["drop", "--all", "--older-than", "1h"],
        ["edit"], ["edit", "--body", "{}"], ["edit", "x", "--body", "{}"],
        ["edit", "1", "--body", "[1, 2]"], ["edit", "1", "--body", "nope"],
        ["edit", "1", "--body", '"text"'], ["edit", "1", "--body", "{}", "--body-file", "f"],
        ["edit", "1", "--body-file", os.path.join(d, "missing.json")], ["edit", "1", "--all"],
        ["status", "--route", "r"], ["metrics", "--all"], ["pause", "r", "--limit", "3"],
    ]
    before = len(sock.requests)
    for args in bad:
        rc, out, err = ctl(s + args)
        check(rc == 2 and not out and err.startswith("omnibusctl: "),
              f"usage error {args}: {rc} {out!r} {err!r}")
    rc, out, err = ctl(s + ["edit", "1"], stdin="{not json")
    check(rc == 2 and "not JSON" in err, f"bad JSON on standard input: {rc} {err}")
    rc, out, err = ctl(s + ["edit", "1"], stdin="")
    check(rc == 2 and "not JSON" in err, f"nothing on standard input: {rc} {err}")
    check(len(sock.requests) == before, "usage errors send nothing")
    rc, out, err = ctl(s + ["--help"])
    check(all(w in out for w in ("dead-letters [--destination D]", "dead-letter ID",
                                 "replay ID | --all | FILTERS", "edit ID [--body JSON",
                                 "drop ID | --all | FILTERS", "FILTERS: ")), f"--help: {out}")


def test_errors(sock, d):
    rc, out, err = ctl(["--socket", sock.endpoint, "dead-letter", "99"])
    check(rc == 1 and not out and err == "omnibusctl: not_found: no dead letter with id 99\n",
          f"an error answer: {rc} {out!r} {err!r}")
    wrong = [("dead-letters", ["dead-letters"], {"dead_letters": {}, "total": 1}),
             ("dead-letters", ["dead-letters"], [1]),
             ("dead-letter", ["dead-letter", "1"], [1]),
             ("replay", ["replay", "--all"], {"replayed": "3"}),
             ("drop", ["drop", "1"], {}),
             ("edit", ["edit", "1", "--body", "{}"], {"replayed": 1})]
    for i, (cmd, args, result) in enumerate(wrong):
        f = FakeAdmin(f"{d}/shape{i}.sock", lambda r, x=result: ok(x))
        rc, out, err = ctl(["--socket", f.endpoint] + args)
        check(rc == 1 and "wrong shape" in err and not out, f"{cmd} wrong shape: {rc} {err}")
        rc, out, err = ctl(["--socket", f.endpoint, "--json"] + args)
        f.close()
        check(rc == 0 and json.loads(out) == result, f"{cmd} --json of any shape: {rc} {out}")
    # Junk members print as "-", never crash.
    junk = {"dead_letters": [{"id": "x", "attempts": None, "last_error": 5}, 3, None],
            "total": "many"}
    f = FakeAdmin(f"{d}/junk.sock", lambda r: ok(junk if r["cmd"] == "dead-letters" else
                                                 {"errors": [1, {"at": "x"}], "body": None}))
    rc, out, err = ctl(["--socket", f.endpoint, "dead-letters"])
    check(rc == 0 and out.count("\n") == 4, f"junk rows: {rc} {out!r} {err}")
    rc, out, err = ctl(["--socket", f.endpoint, "dead-letter", "1"])
    f.close()
    check(rc == 0 and "id           -" in out and "body:\n  null\n" in out,
          f"junk dead letter: {rc} {out!r} {err}")


def main():
    d = workdir("admin-dlq-cli")
    sd = sockdir("dlqcli")
    sock = FakeAdmin(sd + "/admin.sock", scripted)
    try:
        test_requests(sock)
        test_edit_input(sock, d)
        test_views(sock)
        test_usage(sock, d)
        test_errors(sock, sd)
    finally:
        sock.close()
    done()


if __name__ == "__main__":
    main()
