#!/usr/bin/env python3
"""Deliveries out of omnibusd through the http connector's sink side, against a scripted local
HTTP server: 2xx delivers, 429 with Retry-After and 503 retry (the delay is checked as a lower
bound only), 400 rejects with the response body in the log, the body program, PUT, headers and
secrets, and HTTPS with TLS verification on."""
import json
import os

from omb import (Daemon, check, config, done, drop, file_source, wait_for, workdir,
                 write_config)
from omb_http import FakeServer, body_json, self_signed


def http_sink(name, opts):
    lines = "".join(f'    <option name="{k}">{v}</option>\n' for k, v in opts)
    return f'  <connector name="{name}" plugin="http">\n{lines}  </connector>\n'


def ev(key, body, type_="order.created"):
    return {"type": type_, "key": key, "body": body}


def test_delivery():
    srv = FakeServer()
    d = workdir("http-delivery")
    base = f"http://127.0.0.1:{srv.port}"
    cfg = config(
        file_source("src", d + "/in") +
        http_sink("ok", [("url", base + "/ok"), ("header", "X-Shop: acme"),
                         ("header", "Accept: application/json, text/plain"),
                         ("auth-header", "env:OMB_TEST_AUTH_HEADER"),
                         ("idempotency-header", "Idempotency-Key")]) +
        http_sink("limited", [("url", base + "/limited")]) +
        http_sink("flaky", [("url", base + "/flaky")]) +
        http_sink("picky", [("url", base + "/picky")]) +
        http_sink("shaped", [("url", base + "/shaped"), ("method", "PUT"),
                             ("body", '{sku: .body.sku, qty: .body.on_hand, id: .id}')]) +
        '  <route name="to-ok"><from connector="src" type="order.created"/>'
        '<to connector="ok"/></route>\n'
        '  <route name="to-limited"><from connector="src" type="price.set"/>'
        '<to connector="limited"/></route>\n'
        '  <route name="to-flaky"><from connector="src" type="loyalty.earn"/>'
        '<to connector="flaky"/></route>\n'
        '  <route name="to-picky"><from connector="src" type="message.out"/>'
        '<to connector="picky"/></route>\n'
        '  <route name="to-shaped"><from connector="src" type="stock.level"/>'
        '<to connector="shaped"/></route>\n',
        drain="30s")
    srv.script("/limited", [(429, {"Retry-After": "2"}, '{"errors":"Exceeded 2 calls per second"}'),
                            (200, {}, "{}")])
    srv.script("/flaky", [(503, {}, "down"), (503, {}, "still down"), (200, {}, "ok")])
    srv.script("/picky", [(400, {}, "bad sku OB-404\nsecond line")])
    secret = "X-Api-Token: tok-s3cret-value"
    dm = Daemon(write_config(d, cfg), env={"OMB_TEST_AUTH_HEADER": secret})
    drop(d + "/in", "a.ndjson", [
        ev("A-1", {"order_id": "A-1", "total": {"amount": 12999, "currency": "PLN"}}),
        ev("OB-1", {"sku": "OB-1", "price": {"amount": 100, "currency": "PLN"}}, "price.set"),
        ev("C-1", {"txn_id": "t1", "points": 5}, "loyalty.earn"),
        ev("OB-404", {"text": "hi"}, "message.out"),
        ev("OB-2@W", {"sku": "OB-2", "location": "W", "on_hand": 7}, "stock.level"),
    ])

    # 2xx: the body as the event's, the configured headers, the secret one, the event id.
    wait_for(lambda: srv.seen("/ok"), what="the delivery to /ok")
    r = srv.seen("/ok")[0] if srv.seen("/ok") else {"headers": {}, "body": b"{}"}
    check(r["method"] == "POST", f"POST: {r['method']}")
    check(body_json(r) == {"order_id": "A-1", "total": {"amount": 12999, "currency": "PLN"}},
          f"the body: {r['body']}")
    h = r["headers"]
    check(h.get("content-type") == "application/json", f"content type: {h}")
    check(h.get("x-shop") == "acme", f"header option: {h}")
    check(h.get("accept") == "application/json,text/plain", f"comma in a header value: {h}")
    check(h.get("x-api-token") == "tok-s3cret-value", f"auth-header: {h}")
    check(len(h.get("idempotency-key", "")) == 26, f"idempotency key is the event id: {h}")
    check("expect" not in h, f"no Expect header: {h}")

    # 429 + Retry-After: 2 -> the next attempt no sooner than that.
    wait_for(lambda: len(srv.seen("/limited")) == 2, timeout=60, what="the retry after 429")
    lim = srv.seen("/limited")
    if check(len(lim) == 2, f"two attempts at /limited: {len(lim)}"):
        gap = lim[1]["time"] - lim[0]["time"]
        check(gap >= 1.9, f"Retry-After honoured: the retry came {gap:.2f} s later")
        check(lim[1]["body"] == lim[0]["body"], "the same event again")

    # 503 without Retry-After: the core's backoff, until it succeeds.
    wait_for(lambda: len(srv.seen("/flaky")) == 3, timeout=60, what="three attempts at /flaky")
    check(len(srv.seen("/flaky")) == 3, "503 twice, then delivered")

    # 400: rejected at once, the response body in the log.
    wait_for(lambda: "rejected after 1 attempt(s)" in dm.text(), what="the rejection")
    check(len(srv.seen("/picky")) == 1, "a 400 is not retried")
    check("HTTP 400: bad sku OB-404 second line" in dm.text(), "the body is in the reason")

    # The body program and PUT.
    wait_for(lambda: srv.seen("/shaped"), what="the shaped delivery")
    s = srv.seen("/shaped")
    if check(len(s) == 1, "one shaped delivery"):
        b = body_json(s[0])
        check(s[0]["method"] == "PUT", f"PUT: {s[0]['method']}")
        check(b.get("sku") == "OB-2" and b.get("qty") == 7 and len(b.get("id", "")) == 26,
              f"the body program's result: {b}")

    check(dm.stop() == 0, "clean stop")
    log = dm.text()
    check("tok-s3cret-value" not in log, "the secret header is never logged")
    check("connector 'flaky': emitted 0, received 1, delivered 1, retried 2" in log,
          f"flaky's counters: {log[-900:]}")
    srv.close()


def test_https():
    d = workdir("http-delivery-tls")
    cert, key = self_signed(d)
    srv = FakeServer(tls=(cert, key))
    base = f"https://127.0.0.1:{srv.port}"
    cfg = config(
        file_source("src", d + "/in") +
        http_sink("trusted", [("url", base + "/t"), ("ca-file", cert)]) +
        http_sink("untrusted", [("url", base + "/u"), ("timeout", "2s")]) +
        '  <route name="r"><from connector="src"/><to connector="trusted"/>'
        '<to connector="untrusted"/></route>\n',
        drain="1s")
    dm = Daemon(write_config(d, cfg))
    drop(d + "/in", "a.ndjson", [ev("A-1", {"order_id": "A-1"})])
    wait_for(lambda: srv.seen("/t"), what="the HTTPS delivery")
    check(len(srv.seen("/t")) == 1, "delivered over HTTPS with the given CA")
    wait_for(lambda: "route 'r': event" in dm.text() and "retrying in" in dm.text(),
             what="the unverified delivery to fail")
    check(not srv.seen("/u"), "nothing sent to a server whose certificate is not trusted")
    dm.stop()
    check("certificate" in dm.text().lower() or "SSL" in dm.text(),
          "the TLS failure is in the log")
    srv.close()


test_delivery()
test_https()
done()
