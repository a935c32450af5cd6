#!/usr/bin/env python3
"""Webhook repeats, end to end: the http connector's `dedupe` option (a jq expression over the
request) gives each event an idempotency key; the same Shopify webhook delivered twice (same
X-Shopify-Event-Id, the shared signed fixture) is answered 200 both times and yields one event.
A connector with dedupe-window="off" keeps both. No assertion is about speed."""
import json
import os
import subprocess

from omb import (BUILDDIR, Daemon, check, config, done, file_sink, read_lines, wait_for, workdir,
                 write_config)
from omb_http import fixture, listen_port, request

SECRET = "test_secret"
OMNIBUSCTL = os.path.join(os.path.abspath(BUILDDIR), "omnibusctl")


def http_connector(name, opts, attrs=""):
    lines = "".join(f'    <option name="{k}">{v}</option>\n' for k, v in opts)
    return f'  <connector name="{name}" plugin="http"{attrs}>\n{lines}  </connector>\n'


def shop_opts(path):
    return [("path", path), ("type", '"stock.level"'),
            ("key", '"\\(.body.inventory_item_id)@\\(.body.location_id)"'),
            ("dedupe", '.headers["x-shopify-event-id"]'),
            ("signature-algorithm", "sha256"), ("signature-header", "X-Shopify-Hmac-Sha256"),
            ("signature-encoding", "base64"),
            ("signature-secret", "env:OMB_TEST_WEBHOOK_SECRET")]


def source_stats(dm, name):
    """The source's counters from `omnibusctl --json metrics` ({} when absent)."""
    p = subprocess.run([OMNIBUSCTL, "--socket", dm.admin, "--json", "metrics"],
                       capture_output=True, text=True, timeout=60)
    if not check(p.returncode == 0, f"omnibusctl metrics: {p.returncode} {p.stderr}"):
        return {}
    for s in json.loads(p.stdout).get("sources", []):
        if s.get("name") == name:
            return s
    return {}


def main():
    d = workdir("http-dedupe")
    out = d + "/out.ndjson"
    out_off = d + "/out-off.ndjson"
    cfg = config(
        http_connector("shop", shop_opts("shopify")) +
        http_connector("shop-off", shop_opts("shopify"), ' dedupe-window="off"') +
        http_connector("plain", [("path", "plain"), ("type", '"order.created"'),
                                 ("dedupe", ".body.delivery")]) +
        file_sink("out", out) + file_sink("out-off", out_off) +
        '  <route name="r"><from connector="shop"/><from connector="plain"/>'
        '<to connector="out"/></route>\n'
        '  <route name="r-off"><from connector="shop-off"/><to connector="out-off"/></route>\n',
        extra='  <http listen="127.0.0.1:0"/>\n')
    dm = Daemon(write_config(d, cfg), env={"OMB_TEST_WEBHOOK_SECRET": SECRET})
    port = listen_port(dm)
    body, headers = fixture("shopify-inventory_levels-update")
    event_id = dict(headers)["X-Shopify-Event-Id"]

    # The same webhook twice (Shopify's retry after a lost answer): 200 both times.
    for i in range(2):
        st, _, resp = request(port, "/hooks/shop/shopify", body, dict(headers))
        check(st == 200 and resp == b"accepted\n", f"delivery {i + 1}: {st} {resp}")
    # Then another event of the same source: once it is out, the repeat would have been too.
    other = [(k, v if k != "X-Shopify-Event-Id" else "9b2c7f10-2222-4a1b-8c3d-000000000002")
             for k, v in headers]
    st, _, resp = request(port, "/hooks/shop/shopify", body, dict(other))
    check(st == 200, f"another event id: {st} {resp}")
    wait_for(lambda: len(read_lines(out)) >= 2, what="two events in the sink")
    evs = read_lines(out)
    check(len(evs) == 2, f"the repeat was dropped: {len(evs)} events: {evs}")
    if len(evs) == 2:
        check(evs[0].get("dedupe") == event_id, f"the event carries its key: {evs[0]}")
        check(evs[1].get("dedupe") == "9b2c7f10-2222-4a1b-8c3d-000000000002", f"{evs[1]}")
        check(evs[0]["body"] == json.loads(body), f"the body: {evs[0]}")

    # dedupe-window="off": both deliveries are events.
    for i in range(2):
        st, _, resp = request(port, "/hooks/shop-off/shopify", body, dict(headers))
        check(st == 200, f"off, delivery {i + 1}: {st} {resp}")
    wait_for(lambda: len(read_lines(out_off)) == 2, what="both events with dedupe off")
    check(all(e.get("dedupe") == event_id for e in read_lines(out_off)),
          f"the key is still in the envelope: {read_lines(out_off)}")

    # Unsigned, a key from the body: null gives no key (every one is an event), a string or an
    # integer is a key, anything else is a 400.
    for payload, want in ((b'{"n":1}', 200), (b'{"n":2,"delivery":null}', 200),
                          (b'{"n":3,"delivery":"d-1"}', 200), (b'{"n":4,"delivery":"d-1"}', 200),
                          (b'{"n":5,"delivery":7}', 200), (b'{"n":6,"delivery":7}', 200),
                          (b'{"n":7,"delivery":{"x":1}}', 400),
                          (b'{"n":8,"delivery":"' + b"x" * 257 + b'"}', 400),
                          (b'{"n":9}', 200)):
        st, _, resp = request(port, "/hooks/plain/plain", payload)
        check(st == want, f"{payload[:40]}: {st} {resp}")
    wait_for(lambda: any(e["body"].get("n") == 9 for e in read_lines(out)),
             what="the last plain event")
    ns = [e["body"]["n"] for e in read_lines(out) if e.get("source") == "plain"]
    check(ns == [1, 2, 3, 5, 9], f"plain events: {ns}")
    keys = [e.get("dedupe") for e in read_lines(out) if e.get("source") == "plain"]
    check(keys == [None, None, "d-1", "7", None], f"plain keys: {keys}")

    # Counted per connector: `omnibusctl metrics` reports it per source.
    stats = source_stats(dm, "shop")
    if "deduplicated" in stats:
        check(stats["deduplicated"] == 1, f"shop: {stats}")
        check(source_stats(dm, "plain").get("deduplicated") == 2, "plain deduplicated")
        check(source_stats(dm, "shop-off").get("deduplicated") == 0, "shop-off deduplicated")
    else:
        print("note: `omnibusctl metrics` does not report sources' 'deduplicated' yet; not checked")
    check(dm.stop() == 0, "clean stop")
    done()


if __name__ == "__main__":
    main()
