#!/usr/bin/env python3
"""The poison test (docs/durability.md, step 4): a destination that refuses some events for good
(HTTP 400) must not hold up the others, and what it refused must wait in the dead-letter queue
until a person replays, edits or drops it.

omnibusd takes 55 orders from a file drop (50 good, 5 poison, interleaved over 5 keys, each with
its own trace) and sends them with the http connector to a local shop that answers 400 to a body
with "poison": true. An "audit" route copies every event to a file, to know the ids and traces
omnibus gave them. Checked: every good order arrives once and in per-key order; each poison one
is dead-lettered after exactly one attempt, listed and shown by omnibusctl; a replay that fails
again comes back as a new dead letter; an edited one arrives with the new body; a dropped one
never arrives; once the shop is fixed, `replay --all` delivers the rest with their original
event ids and traces, and the queue is empty; metrics count all of it."""
import http.server
import json
import os
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from omb import (BUILDDIR, SRCDIR, VALGRIND, Daemon, check, config, done, drop,  # noqa: E402
                 file_sink, file_source, read_lines, wait_for, workdir, write_config)

OMNIBUSCTL = os.path.join(os.path.abspath(BUILDDIR), "omnibusctl")
KEYS = 5
TOTAL = 55
POISON = (7, 18, 29, 40, 51)  # one per key (n % 5), of both types


class Shop:
    """The destination, on 127.0.0.1: while strict it answers 400 to a JSON body with
    "poison": true, else 200. Every request is kept: its parsed body and its status."""

    def __init__(self):
        self.strict = True
        self.requests = []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with owner.lock:
                    bad = (owner.strict and isinstance(body, dict)
                           and body.get("poison") is True)
                    owner.requests.append({"body": body, "status": 400 if bad else 200,
                                           "key": self.headers.get("Idempotency-Key")})
                out = b'{"error":"poison refused"}' if bad else b"{}"
                self.send_response(400 if bad else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def seen(self, status=None):
        with self.lock:
            return [r for r in self.requests if status is None or r["status"] == status]

    def delivered_n(self, n):
        """The bodies of the accepted requests for order n."""
        return [r["body"] for r in self.seen(200) if (r["body"] or {}).get("n") == n]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def ctl(args, stdin=None):
    """omnibusctl ARGS (under valgrind with OMB_VALGRIND=1): (status, stdout, stderr)."""
    cmd = [OMNIBUSCTL] + list(args)
    if VALGRIND:
        cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
               "--suppressions=" + os.path.join(SRCDIR, "tests", "valgrind.supp")] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, input=stdin,
                       timeout=600 if VALGRIND else 60)
    check(p.returncode != 99 or not VALGRIND, f"valgrind errors in omnibusctl {args}:\n{p.stderr}")
    return p.returncode, p.stdout, p.stderr


def js(*args):
    rc, out, err = ctl(["--json"] + list(args))
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, err


def order(n):
    body = {"n": n, "key": f"k{n % KEYS}"}
    if n in POISON:
        body["poison"] = True
    return {"type": "order.paid" if n % 3 == 0 else "order.created", "key": f"k{n % KEYS}",
            "trace": f"trace-{n}", "body": body}


def dead_letters(*args):
    rc, r, err = js("dead-letters", *args)
    check(rc == 0 and isinstance(r, dict), f"dead-letters {args}: {rc} {err}")
    return r if isinstance(r, dict) else {"dead_letters": [], "total": -1}


def shop_metrics():
    rc, m, err = js("metrics")
    for dest in (m or {}).get("destinations", []):
        if dest.get("name") == "shop":
            return dest
    return {}


def by_n(rows):
    """Dead-letter rows by the order number of their event, from the audit ids."""
    return {AUDIT_N.get(r.get("event_id")): r for r in rows}


AUDIT_N = {}  # event id -> order number


def main():
    d = workdir("durability-poison")
    shop = Shop()
    url = f"http://127.0.0.1:{shop.port}/orders"
    cfg = config(
        file_source("src", d + "/in") +
        '  <connector name="shop" plugin="http">\n'
        f'    <option name="url">{url}</option>\n'
        '    <option name="idempotency-header">Idempotency-Key</option>\n'
        # The shop gets the body with the envelope's id and trace beside it, to compare.
        '    <option name="body">.body + {_id: .id, _trace: .trace}</option>\n'
        '  </connector>\n' +
        file_sink("audit", d + "/audit.ndjson") +
        '  <route name="orders"><from connector="src" type="order.*"/>'
        '<to connector="shop"/></route>\n'
        '  <route name="audit"><from connector="src"/><to connector="audit"/></route>\n')
    # The daemon and omnibusctl meet on this socket, whatever OMNIBUS_ADMIN said before.
    os.environ["OMNIBUS_ADMIN"] = "ipc://" + os.path.join(d, "admin.sock")
    dm = Daemon(write_config(d, cfg))
    try:
        run(d, shop, dm)
    finally:
        rc = dm.stop()
        check(rc == 0, f"clean stop ({rc}):\n{dm.text()[-2000:]}")
        shop.close()
    done()


def run(d, shop, dm):
    drop(d + "/in", "orders.ndjson", [order(n) for n in range(TOTAL)])
    wait_for(lambda: len(read_lines(d + "/audit.ndjson")) == TOTAL, what="the audit copy")
    audit = {e["body"]["n"]: e for e in read_lines(d + "/audit.ndjson")}
    AUDIT_N.update({e["id"]: n for n, e in audit.items()})
    check(all(audit[n]["trace"] == f"trace-{n}" for n in audit), "the source kept the traces")
    good = [n for n in range(TOTAL) if n not in POISON]
    wait_for(lambda: len(shop.seen(200)) == len(good) and len(shop.seen(400)) == len(POISON),
             what="50 deliveries and 5 refusals")
    wait_for(lambda: dead_letters()["total"] == len(POISON), what="5 dead letters")

    # Every good order once, in per-key order, with its id and trace.
    got = [r["body"] for r in shop.seen(200)]
    check(sorted(b["n"] for b in got) == good, f"each good order delivered once: "
          f"{sorted(b['n'] for b in got)}")
    for k in range(KEYS):
        seq = [b["n"] for b in got if b["key"] == f"k{k}"]
        check(seq == [n for n in good if n % KEYS == k], f"key k{k} in order: {seq}")
    check(all(b["_id"] == audit[b["n"]]["id"] and b["_trace"] == f"trace-{b['n']}" for b in got),
          "deliveries carry the event's id and trace")
    # Each poison order tried once: a 400 is not retried.
    refused = [r["body"]["n"] for r in shop.seen(400)]
    check(sorted(refused) == list(POISON), f"each poison order tried exactly once: {refused}")

    # The dead-letter queue, as JSON.
    r = dead_letters()
    rows = by_n(r["dead_letters"])
    check(sorted(n for n in rows if n is not None) == list(POISON),
          f"the dead letters are the poison orders: {r}")
    for n, row in rows.items():
        if n is None:
            continue
        ev = audit[n]
        check(row["attempts"] == 1 and "400" in (row["last_error"] or "")
              and row["first_error"] == row["last_error"], f"one attempt, HTTP 400: {row}")
        check(row["state"] == "dead" and row["destination"] == "shop" and row["route"] == "orders"
              and row["type"] == ev["type"] and row["key"] == ev["key"], f"row of {n}: {row}")
        check(row["first_at"].endswith("Z") and row["last_at"].endswith("Z"), f"times: {row}")

    # ... as a table, and filtered.
    rc, out, err = ctl(["dead-letters"])
    lines = out.splitlines()
    check(rc == 0 and lines and lines[0].split() == ["ID", "DESTINATION", "ROUTE", "TYPE", "KEY",
                                                     "ATTEMPTS", "LAST_AT", "LAST_ERROR"],
          f"dead-letters table: {rc} {out} {err}")
    body_rows = [l.split() for l in lines[1:] if l.strip()]
    check(len(body_rows) == len(POISON)
          and all(x[1] == "shop" and x[2] == "orders" and x[3].startswith("order.")
                  and x[5] == "1" and "400" in " ".join(x[7:]) for x in body_rows),
          f"one row per dead letter, with destination, route, type: {out}")
    paid = dead_letters("--type", "order.paid")
    check(sorted(AUDIT_N[x["event_id"]] for x in paid["dead_letters"]) == [18, 51]
          and paid["total"] == 2, f"--type order.paid: {paid}")
    check(dead_letters("--route", "orders", "--destination", "shop")["total"] == 5, "--route")
    check(dead_letters("--older-than", "1h")["total"] == 0, "none older than an hour")
    page = dead_letters("--limit", "2")
    rest = dead_letters("--after", str(page["dead_letters"][-1]["id"]))
    check(len(page["dead_letters"]) == 2 and page["total"] == 5
          and len(rest["dead_letters"]) == 3, f"paging: {page} {rest}")

    # One dead letter whole: readable, and as JSON.
    ids = {n: row["id"] for n, row in rows.items()}
    rc, out, err = ctl(["dead-letter", str(ids[18])])
    check(rc == 0 and "state        dead" in out and "route        orders" in out
          and f"event id     {audit[18]['id']}" in out, f"dead-letter ID: {rc} {out} {err}")
    sections = out.split("\n\n")
    check(len(sections) == 4 and sections[1].startswith("errors:\n  ")
          and "HTTP 400" in sections[1] and sections[1].count("\n") == 1,
          f"the errors, one per line: {sections[1:2]}")
    check(sections[2].startswith("envelope:\n  {\n") and f'"trace": "trace-18"' in sections[2],
          f"the envelope pretty-printed: {sections[2:3]}")
    check(sections[3].startswith("body:\n  {\n") and '    "poison": true' in sections[3],
          f"the body pretty-printed: {sections[3:]}")
    rc, one, err = js("dead-letter", str(ids[18]))
    check(rc == 0 and one["envelope"]["id"] == audit[18]["id"]
          and one["envelope"]["trace"] == "trace-18" and one["body"] == order(18)["body"]
          and len(one["errors"]) == 1 and "400" in one["errors"][0]["error"]
          and isinstance(one["errors"][0]["at"], int), f"dead-letter --json: {one}")

    m = shop_metrics()
    check(m.get("dead_letters") == 5 and m.get("dead") == 5 and m.get("delivered") == 50,
          f"metrics before replay: {m}")

    # A replay that fails again comes back as a new dead letter (the shop still refuses it).
    rc, out, err = ctl(["replay", str(ids[29])])
    check(rc == 0 and out == "replaying 1 dead letter\n", f"replay ID: {rc} {out} {err}")
    wait_for(lambda: len([r for r in shop.seen(400) if r["body"]["n"] == 29]) == 2,
             what="order 29 tried again")
    wait_for(lambda: 29 in by_n(dead_letters()["dead_letters"]), what="order 29 dead again")
    again = by_n(dead_letters()["dead_letters"]).get(29, {})
    check(again.get("id", 0) > ids[29] and again.get("attempts") == 1,
          f"a new dead letter for 29: {again}")
    ids[29] = again.get("id", 0)

    # Edit: the poison order 7 gets a good body and arrives with it, with its id and trace.
    fixed = {"n": 7, "key": "k2", "note": "fixed by hand"}
    rc, out, err = ctl(["edit", str(ids[7])], stdin=json.dumps(fixed))
    check(rc == 0 and out == f"dead letter {ids[7]} edited; replaying it\n",
          f"edit: {rc} {out} {err}")
    wait_for(lambda: shop.delivered_n(7), what="the edited order")
    b = (shop.delivered_n(7) or [{}])[0]
    check({k: v for k, v in b.items() if not k.startswith("_")} == fixed
          and b.get("_id") == audit[7]["id"] and b.get("_trace") == "trace-7",
          f"the edited body arrived with the original id and trace: {b}")

    # Drop: order 51 leaves the queue and is never delivered.
    rc, out, err = ctl(["drop", str(ids[51])])
    check(rc == 0 and out == "dropped 1 dead letter\n", f"drop: {rc} {out} {err}")
    wait_for(lambda: dead_letters()["total"] == 3, what="3 dead letters left")

    # The shop is fixed: replay the rest.
    shop.strict = False
    rc, out, err = ctl(["replay", "--all"])
    check(rc == 0 and out == "replaying 3 dead letters\n", f"replay --all: {rc} {out} {err}")
    wait_for(lambda: all(shop.delivered_n(n) for n in (18, 29, 40)), what="the replayed orders")
    for n in (18, 29, 40):
        got = shop.delivered_n(n)
        check(len(got) == 1 and got[0]["_id"] == audit[n]["id"]
              and got[0]["_trace"] == f"trace-{n}" and got[0]["poison"] is True,
              f"order {n} delivered once with its original id and trace: {got}")
    check(all(r["key"] == r["body"]["_id"] for r in shop.seen()),
          "the idempotency key is the event id, replays included")
    # A replayed row leaves the store once the shop has taken it (and the consumer counted it).
    wait_for(lambda: dead_letters("--state", "replay")["total"] == 0, what="the replays done")
    check(dead_letters()["total"] == 0, "an empty dead-letter queue")
    wait_for(lambda: shop_metrics().get("delivered") == 54, what="54 deliveries counted")
    check(not shop.delivered_n(51) and len(shop.seen()) == TOTAL + 1 + 1 + 3,
          f"the dropped order never arrived; {len(shop.seen())} requests in all")
    rc, out, err = ctl(["dead-letters"])
    check(rc == 0 and out.startswith("no dead letters here (0 in all)"), f"empty list: {out}")

    # Metrics: 6 went to the queue (29 twice), 54 delivered, none left.
    m = shop_metrics()
    check(m.get("dead_letters") == 0 and m.get("dead") == 6 and m.get("delivered") == 54,
          f"metrics after replay: {m}")
    rc, out, err = ctl(["metrics", "--prometheus"])
    check(rc == 0 and 'omnibus_destination_dead_letters{destination="shop"} 0\n' in out
          and "# TYPE omnibus_destination_dead_letters gauge\n" in out,
          f"prometheus dead-letter gauge: {out}")
    check("dead letter(s) set to replay" in dm.text() and "dead letter(s) dropped" in dm.text(),
          "the log says who changed the queue")


if __name__ == "__main__":
    main()
