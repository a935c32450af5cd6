#!/usr/bin/env python3
"""Webhooks into omnibusd: the HTTP ingress and the http connector's source side, end to end.
Every status code the sender can get (200 with the event in a file sink, 400, 401, 404, 405,
413, 503 with Retry-After while stopping), the Shopify, WooCommerce and Slack signatures with the
shared signed fixtures, a slow client, and TLS. No assertion is about speed."""
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import time

from omb import (Daemon, SRCDIR, check, config, done, file_sink, read_lines, run, wait_for,
                 workdir, write_config)
from omb_http import fixture, listen_port, request, self_signed

SECRET = "test_secret"


def http_connector(name, opts):
    lines = "".join(f'    <option name="{k}">{v}</option>\n' for k, v in opts)
    return f'  <connector name="{name}" plugin="http">\n{lines}  </connector>\n'


def route(name, src, dst):
    return f'  <route name="{name}"><from connector="{src}"/><to connector="{dst}"/></route>\n'


def sign_b64(body, secret=SECRET):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_statuses():
    d = workdir("http-statuses")
    out = d + "/out.ndjson"
    cfg = config(
        http_connector("orders", [("path", "orders"), ("type", '"order.created"'),
                                  ("key", ".body.order_id"),
                                  ("keep-headers", "X-Request-Id")]) +
        file_sink("out", out) + route("r", "orders", "out"),
        extra='  <http listen="127.0.0.1:0" body-limit="1k" timeout="5s"/>\n')
    dm = Daemon(write_config(d, cfg))
    port = listen_port(dm)

    # 200: accepted, and the event arrives.
    st, h, body = request(port, "/hooks/orders/orders", b'{"order_id":"A-1","total":100}',
                          {"Content-Type": "application/json", "X-Request-Id": "rq-1"})
    check(st == 200, f"valid webhook: {st} {body}")
    wait_for(lambda: len(read_lines(out)) == 1, what="the event in the sink")
    evs = read_lines(out)
    if check(len(evs) == 1, f"one event: {evs}"):
        ev = evs[0]
        check(ev["type"] == "order.created" and ev["key"] == "A-1" and ev["source"] == "orders",
              f"type, key, source: {ev}")
        check(ev["body"] == {"order_id": "A-1", "total": 100}, f"body: {ev}")
        check(ev.get("headers") == {"x-request-id": "rq-1"}, f"kept header: {ev}")
    # An integer key is made a string.
    st, _, _ = request(port, "/hooks/orders/orders", b'{"order_id":42}')
    check(st == 200, f"integer key: {st}")

    # 400: not JSON, not an object, a key expression that gives nothing usable.
    st, _, body = request(port, "/hooks/orders/orders", b"order_id=A-2")
    check(st == 400 and b"not JSON" in body, f"not JSON: {st} {body}")
    st, _, body = request(port, "/hooks/orders/orders", b'[{"order_id":"A-3"}]')
    check(st == 400 and b"JSON object" in body, f"array: {st} {body}")
    st, _, body = request(port, "/hooks/orders/orders", b'{"total":1}')
    check(st == 400 and b"key expression gave null" in body, f"no key: {st} {body}")
    st, _, body = request(port, "/hooks/orders/orders", b'{"order_id":"A-4"')
    check(st == 400, f"truncated JSON: {st} {body}")

    # 404: unknown paths.
    for path in ("/hooks/orders/other", "/hooks/nobody/orders", "/", "/hooks/orders/orders/x"):
        st, _, _ = request(port, path, b"{}")
        check(st == 404, f"{path}: {st}")
    # 405: a method the connector does not take.
    st, h, _ = request(port, "/hooks/orders/orders", method="GET")
    check(st == 405 and h.get("allow") == "POST", f"GET: {st} {h}")

    # 413: just over the limit, with Content-Length and chunked; at the limit it is taken.
    pad = 1024 - len(b'{"order_id":"A-5","pad":""}')
    at_limit = b'{"order_id":"A-5","pad":"' + b"x" * pad + b'"}'
    check(len(at_limit) == 1024, "the body is exactly 1k")
    st, _, body = request(port, "/hooks/orders/orders", at_limit)
    check(st == 200, f"at the limit: {st} {body}")
    over = b'{"order_id":"A-6","pad":"' + b"x" * (pad + 1) + b'"}'
    st, _, body = request(port, "/hooks/orders/orders", over)
    check(st == 413, f"one byte over: {st} {body}")
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /hooks/orders/orders HTTP/1.1\r\nHost: x\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    for _ in range(3):
        s.sendall(b"200\r\n" + b"y" * 512 + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    resp = s.recv(4096)
    s.close()
    check(resp.startswith(b"HTTP/1.1 413"), f"chunked over the limit: {resp[:60]}")

    wait_for(lambda: len(read_lines(out)) == 3, what="three events in the sink")
    time.sleep(0.2)
    check(len(read_lines(out)) == 3, "only the accepted requests became events")
    check(dm.stop() == 0, "clean stop")
    log = dm.text()
    check("[http] stopped:" in log and "2xx 3" in log, f"counters logged: {log[-600:]}")


def test_signatures():
    d = workdir("http-signatures")
    out = d + "/out.ndjson"
    shop, shop_h = fixture("shopify-inventory_levels-update")
    woo, woo_h = fixture("woocommerce-product-updated")
    slack, slack_h = fixture("slack-event-message")
    sig = [("signature-secret", "env:OMB_TEST_WEBHOOK_SECRET")]
    slack_opts = [("path", "events"), ("type", '"message.in"'),
                  ("key", ".body.event_id"),
                  ("challenge",
                   'if .body.type == "url_verification" then .body.challenge else empty end'),
                  ("signature-algorithm", "sha256"), ("signature-header", "X-Slack-Signature"),
                  ("signature-prefix", "v0="),
                  ("signature-payload", "v0:{header:X-Slack-Request-Timestamp}:{body}"),
                  ("signature-timestamp-header", "X-Slack-Request-Timestamp"),
                  ("signature-tolerance", "300s")] + sig
    cfg = config(
        http_connector("shop", [
            ("path", "shopify"),
            ("type", 'if .headers["x-shopify-topic"] == "inventory_levels/update" then '
                     '"stock.level" else "shopify.other" end'),
            ("key", '"\\(.body.inventory_item_id)@\\(.body.location_id)"'),
            ("keep-headers", "X-Shopify-Webhook-Id,X-Shopify-Event-Id"),
            ("signature-algorithm", "sha256"), ("signature-header", "X-Shopify-Hmac-Sha256"),
            ("signature-encoding", "base64")] + sig) +
        http_connector("woo", [
            ("path", "woocommerce"),
            ("type", '.headers["x-wc-webhook-topic"] | sub("product.updated"; "product.updated")'
                     ' | "woo." + .'),
            ("key", ".body.sku"), ("ping-prefix", "webhook_id="),
            ("signature-algorithm", "sha256"), ("signature-header", "X-WC-Webhook-Signature"),
            ("signature-encoding", "base64")] + sig) +
        http_connector("slack", slack_opts + [("signature-now", "1700000100")]) +
        http_connector("slack-late", slack_opts + [("signature-now", "1700000301")]) +
        http_connector("meta", [
            ("path", "meta"), ("type", '"message.in"'),
            ("signature-algorithm", "sha256"), ("signature-header", "X-Hub-Signature-256"),
            ("signature-prefix", "sha256=")] + sig) +
        http_connector("legacy", [
            ("path", "sha1"), ("type", '"message.in"'),
            ("signature-algorithm", "sha1"), ("signature-header", "X-Hub-Signature"),
            ("signature-prefix", "sha1=")] + sig) +
        http_connector("big", [
            ("path", "sha512"), ("type", '"message.in"'),
            ("signature-algorithm", "sha512"), ("signature-header", "X-Signature"),
            ("signature-encoding", "base64")] + sig) +
        file_sink("out", out) +
        '  <route name="all"><from connector="shop"/><from connector="woo"/>'
        '<from connector="slack"/><from connector="slack-late"/><from connector="meta"/>'
        '<from connector="legacy"/><from connector="big"/><to connector="out"/></route>\n',
        extra='  <http listen="127.0.0.1:0"/>\n')
    dm = Daemon(write_config(d, cfg), env={"OMB_TEST_WEBHOOK_SECRET": SECRET})
    port = listen_port(dm)
    expected = 0

    def ok(path, body, headers, what):
        nonlocal expected
        st, _, resp = request(port, path, body, dict(headers))
        if check(st == 200, f"{what}: {st} {resp}"):
            expected += 1

    def refused(path, body, headers, what, reason=b""):
        st, _, resp = request(port, path, body, dict(headers))
        check(st == 401 and reason in resp, f"{what}: {st} {resp}")

    # Shopify: base64 HMAC-SHA256 of the raw body.
    ok("/hooks/shop/shopify", shop, shop_h, "Shopify fixture")
    no_sig = [(k, v) for k, v in shop_h if k.lower() != "x-shopify-hmac-sha256"]
    refused("/hooks/shop/shopify", shop, no_sig, "Shopify without signature", b"missing")
    tampered = shop.replace(b'"available":5', b'"available":500')
    refused("/hooks/shop/shopify", tampered, shop_h, "Shopify tampered body", b"does not match")
    bad_secret = no_sig + [("X-Shopify-Hmac-Sha256", sign_b64(shop, "other_secret"))]
    refused("/hooks/shop/shopify", shop, bad_secret, "Shopify, another secret", b"does not match")
    # Header names in any case.
    lower = [(k.lower(), v) for k, v in shop_h]
    ok("/hooks/shop/shopify", shop, lower, "Shopify with lowercase header names")

    # WooCommerce: the same scheme in its own header; the unsigned ping is answered, not emitted.
    ok("/hooks/woo/woocommerce", woo, woo_h, "WooCommerce fixture")
    refused("/hooks/woo/woocommerce", woo + b" ", woo_h, "WooCommerce, a byte added")
    st, _, resp = request(port, "/hooks/woo/woocommerce", b"webhook_id=3",
                          {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 200, f"WooCommerce ping: {st} {resp}")
    refused("/hooks/woo/woocommerce", b"hello", [], "WooCommerce unsigned non-ping")

    # Slack: v0=hex over "v0:<timestamp>:<body>", timestamp within 300 s of "now".
    ok("/hooks/slack/events", slack, slack_h, "Slack fixture")
    refused("/hooks/slack-late/events", slack, slack_h, "Slack fixture 301 s later",
            b"tolerance")
    other_ts = [(k, "1700000001" if k == "X-Slack-Request-Timestamp" else v) for k, v in slack_h]
    refused("/hooks/slack/events", slack, other_ts, "Slack with another timestamp")
    no_ts = [(k, v) for k, v in slack_h if k != "X-Slack-Request-Timestamp"]
    refused("/hooks/slack/events", slack, no_ts, "Slack without timestamp", b"timestamp")
    upper = [(k, v.upper().replace("V0=", "v0=") if k == "X-Slack-Signature" else v)
             for k, v in slack_h]
    ok("/hooks/slack/events", slack, upper, "Slack with uppercase hex")
    # url_verification: signed too; the challenge is the answer and nothing is emitted.
    chal = b'{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",' \
           b'"type":"url_verification"}'
    mac = hmac.new(SECRET.encode(), b"v0:1700000000:" + chal, hashlib.sha256).hexdigest()
    st, _, resp = request(port, "/hooks/slack/events", chal,
                          {"X-Slack-Request-Timestamp": "1700000000",
                           "X-Slack-Signature": "v0=" + mac})
    check(st == 200 and resp == b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
          f"Slack url_verification: {st} {resp}")

    # Meta's vector from vendor-apis.md (sha256= hex); SHA-1 and SHA-512 computed here.
    meta = b'{"object":"page","entry":[]}'
    ok("/hooks/meta/meta", meta, [("X-Hub-Signature-256", "sha256=838bc81771fbd6aa7ba4deceb274b"
                                   "1791ed4cae84831df8ef3d4c7fb457ee964")], "Meta vector")
    refused("/hooks/meta/meta", meta, [("X-Hub-Signature-256", "838bc81771fbd6aa7ba4deceb274b"
                                        "1791ed4cae84831df8ef3d4c7fb457ee964")],
            "Meta without the sha256= prefix", b"does not start")
    ok("/hooks/legacy/sha1", meta,
       [("X-Hub-Signature", "sha1=" + hmac.new(SECRET.encode(), meta, hashlib.sha1).hexdigest())],
       "HMAC-SHA1")
    b512 = base64.b64encode(hmac.new(SECRET.encode(), meta, hashlib.sha512).digest()).decode()
    ok("/hooks/big/sha512", meta, [("X-Signature", b512)], "HMAC-SHA512")
    refused("/hooks/big/sha512", meta, [("X-Signature", sign_b64(meta))],
            "SHA-256 signature where SHA-512 is expected")

    wait_for(lambda: len(read_lines(out)) == expected, what=f"{expected} events in the sink")
    time.sleep(0.3)
    evs = read_lines(out)
    check(len(evs) == expected, f"only signed requests became events: {len(evs)} != {expected}")
    by_src = {}
    for ev in evs:
        by_src.setdefault(ev["source"], []).append(ev)
    s = by_src.get("shop", [{}])[0]
    check(s.get("type") == "stock.level" and s.get("key") == "111@222",
          f"Shopify event: {s}")
    check(s.get("headers", {}).get("x-shopify-webhook-id") ==
          "5d1a0b6e-1111-4c4e-9e0f-000000000001", f"Shopify webhook id kept: {s}")
    check(s.get("body") == json.loads(shop), "Shopify body as sent")
    w = by_src.get("woo", [{}])[0]
    check(w.get("type") == "woo.product.updated" and w.get("key") == "OB-1000-S",
          f"WooCommerce event: {w}")
    sl = by_src.get("slack", [{}])[0]
    check(sl.get("type") == "message.in" and sl.get("key") == "Ev0001" and
          sl.get("body", {}).get("event", {}).get("text", "").startswith("Czy rozmiar"),
          f"Slack event: {sl}")
    check("slack-late" not in by_src, "nothing from the late Slack request")
    check(dm.stop() == 0, "clean stop")
    log = dm.text()
    check(SECRET not in log, "the secret is never logged")
    check("refused (401): signature does not match" in log, "401s are logged with the reason")


def test_slow_client():
    d = workdir("http-slow")
    out = d + "/out.ndjson"
    cfg = config(http_connector("in", [("path", "p"), ("type", '"order.created"')]) +
                 file_sink("out", out) + route("r", "in", "out"),
                 extra='  <http listen="127.0.0.1:0" timeout="1s" threads="1"/>\n')
    dm = Daemon(write_config(d, cfg))
    port = listen_port(dm)
    # One sends its headers and stalls before the body; another stalls inside the headers.
    slow = socket.create_connection(("127.0.0.1", port), timeout=60)
    slow.sendall(b"POST /hooks/in/p HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    half = socket.create_connection(("127.0.0.1", port), timeout=60)
    half.sendall(b"POST /hooks/in/p HTTP/1.1\r\nHost: x\r\nContent-Le")
    t0 = time.monotonic()
    # The listener (one thread) still serves others meanwhile.
    for i in range(5):
        st, _, body = request(port, "/hooks/in/p", json.dumps({"n": i}))
        check(st == 200, f"served while a client stalls: {st} {body}")
    # Both are cut once the timeout passes (read returns end of file or a reset).
    for s, what in ((slow, "stalled body"), (half, "stalled headers")):
        try:
            data = s.recv(4096)
        except (ConnectionResetError, socket.timeout) as e:
            data = repr(e).encode()
        check(data == b"" or b"Reset" in data or data.startswith(b"HTTP/1.1 4"),
              f"{what}: cut by the server: {data[:80]}")
        s.close()
    check(time.monotonic() - t0 >= 0.9, "not cut before the timeout")
    wait_for(lambda: len(read_lines(out)) == 5, what="five events")
    check(dm.stop() == 0, "clean stop")


def test_tls():
    d = workdir("http-tls")
    out = d + "/out.ndjson"
    cert, key = self_signed(d)
    cfg = config(http_connector("in", [("path", "p"), ("type", '"order.created"')]) +
                 file_sink("out", out) + route("r", "in", "out"),
                 extra=f'  <http listen="127.0.0.1:0" tls-cert="{cert}" tls-key="{key}"/>\n')
    dm = Daemon(write_config(d, cfg))
    port = listen_port(dm, "https")
    st, _, body = request(port, "/hooks/in/p", b'{"over":"tls"}', tls_ca=cert)
    check(st == 200, f"POST over TLS: {st} {body}")
    st, _, body = request(port, "/hooks/in/nope", b"{}", tls_ca=cert)
    check(st == 404, f"404 over TLS: {st}")
    try:
        st, _, _ = request(port, "/hooks/in/p", b'{"plain":true}', timeout=10)
        check(st >= 400, f"plain HTTP to the TLS port is not taken: {st}")
    except (OSError, Exception):
        pass
    wait_for(lambda: len(read_lines(out)) == 1, what="the TLS event")
    evs = read_lines(out)
    check(len(evs) == 1 and evs[0]["body"] == {"over": "tls"}, f"TLS event only: {evs}")
    check(dm.stop() == 0, "clean stop")
    # A key without its certificate is a config error.
    bad = write_config(d, config("", extra=f'  <http tls-key="{key}"/>\n'), "bad.xml")
    rc, _, err = run(["--check", "-c", bad])
    check(rc == 1 and "<http>: attribute 'tls-key' needs 'tls-cert'" in err, f"--check: {err}")


def test_stopping():
    """While the daemon drains, webhooks get 503 with Retry-After and nothing is taken."""
    d = workdir("http-stopping")
    # The sink never succeeds (nothing listens on port 1): the drain waits its full deadline.
    cfg = config(http_connector("in", [("path", "p"), ("type", '"order.created"')]) +
                 http_connector("dead", [("url", "http://127.0.0.1:1/x"),
                                         ("connect-timeout", "200ms")]) +
                 route("r", "in", "dead"),
                 drain="3s", extra='  <http listen="127.0.0.1:0"/>\n')
    dm = Daemon(write_config(d, cfg))
    port = listen_port(dm)
    st, _, _ = request(port, "/hooks/in/p", b'{"n":1}')
    check(st == 200, f"taken before the stop: {st}")
    wait_for(lambda: "retrying in" in dm.text(), what="the delivery to fail once")
    dm.signal(signal.SIGTERM)
    wait_for(lambda: "draining and stopping" in dm.text(), what="the drain to begin")
    st, h, body = request(port, "/hooks/in/p", b'{"n":2}')
    check(st == 503 and h.get("retry-after", "").isdigit() and int(h["retry-after"]) >= 1,
          f"503 with Retry-After while stopping: {st} {h} {body}")
    check(dm.stop() == 0, "exits after the drain deadline")
    check("emitted 1," in dm.text(), "only the first request was emitted")


def test_no_listener_by_default():
    d = workdir("http-default")
    cfg = config(file_sink("out", d + "/out.ndjson"))
    dm = Daemon(write_config(d, cfg))
    time.sleep(0.2)
    check(dm.stop() == 0, "clean stop")
    check("listening on" not in dm.text(), "no <http> and no webhook path: no listener")


def test_check_errors():
    d = workdir("http-check")
    cfg = write_config(d, config(
        http_connector("a", [("path", "p")]) +
        http_connector("b", [("path", "q"), ("type", '"x.y"'), ("signature-algorithm", "sha256")]) +
        http_connector("c", [("url", "ftp://example.com/")]) +
        http_connector("e", [("path", "r"), ("type", ".a |||")])))
    rc, _, err = run(["--check", "-c", cfg])
    check(rc == 1, "--check fails")
    check("path needs option type" in err, f"path without type: {err}")
    check("needs signature-header and signature-secret" in err, f"signature options: {err}")
    check("url must start with http:// or https://" in err, f"url scheme: {err}")
    check("option type does not compile" in err, f"jq: {err}")


def test_docs():
    """docs/connectors/http.md documents every option, and its example configs are valid."""
    with open(os.path.join(SRCDIR, "docs", "connectors", "http.md")) as f:
        doc = f.read()
    rc, out, err = run(["--plugin-doc", "http"])
    check(rc == 0, f"--plugin-doc http: {err}")
    names = []
    in_table = False
    for line in out.splitlines():
        if line.strip().startswith("NAME"):
            in_table = True
            continue
        if in_table and line.strip():
            names.append(line.split()[0])
    check(len(names) >= 25, f"options listed: {names}")
    for n in names:
        check(f"| `{n}` |" in doc, f"option {n} is documented in docs/connectors/http.md")
    blocks = re.findall(r"```xml\n(.*?)```", doc, re.S)
    connectors = [b for b in blocks if "<connector" in b and "<http " not in b]
    check(len(connectors) >= 4, f"worked examples found: {len(connectors)}")
    d = workdir("http-docs")
    env = {k: "x-secret-value" for k in ("SHOPIFY_CLIENT_SECRET", "WOO_WEBHOOK_SECRET",
                                         "SLACK_SIGNING_SECRET", "SHOPIFY_WEBHOOK_SECRET")}
    env["CRM_AUTH_HEADER"] = "Authorization: Bearer x"
    for i, b in enumerate(blocks):
        if "<connector" not in b:
            continue
        body = re.sub(r"<http [^>]*/>", "", b)
        cfg = write_config(d, config(body, extra='  <http listen="127.0.0.1:0"/>\n'),
                           f"doc{i}.xml")
        rc, out, err = run(["--check", "-c", cfg], env=env)
        check(rc == 0, f"docs example {i} is valid: {err}\n{b}")


test_statuses()
test_signatures()
test_slow_client()
test_tls()
test_stopping()
test_no_listener_by_default()
test_check_errors()
test_docs()
done()
