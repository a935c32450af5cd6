#!/usr/bin/env python3
"""Square's webhooks into omnibusd through the square connector, end to end: signed
notifications (tests/fakes/square_fake.py builds and signs them) to the daemon's HTTP ingress,
the events they become in a file sink, and the fake Square API for the SKU map.

Proves, with counts: the test vector of vendor-apis.md section 4 verifies (200, and it carries no
counts, so nothing is emitted); a wrong, missing or not-base64 signature, or one made for another
URL than notification-url, is 401 and emits nothing; a catalog that cannot be read when a
notification needs it is 503 with Retry-After (Square sends again) and the resend is 200; inventory.count.updated becomes one
stock.level per IN_STOCK count (location and SKU mapped back, on_hand, as_of, key, dedupe from
event_id); a repeated event_id yields one event; counts of unknown locations or variations,
non-canonical SKUs, other states and fractional quantities are skipped and counted; other types are acknowledged;
the map is read once after start, and again after catalog.version.updated. No assertion is about speed."""
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the sources

from square_helpers import TOKEN, connector, route
from omb import (Daemon, check, config, done, file_sink, read_lines, wait_for, workdir,
                 write_config)
from omb_http import listen_port, request
from square_fake import (SquareFake, count_entry, inventory_count_webhook, send_webhook,
                         signature)

KEY = "test_secret"
URL = "https://esb.example.com/hooks/square"
PATH = "/hooks/sq/square"
WAW, KRK = "LWAW01SQUARE", "LKRK02SQUARE"


def main():
    fake = SquareFake(token=TOKEN, page_size=2).start()
    for loc in (WAW, KRK):
        fake.add_location(loc)
    var = {sku: fake.add_variation(sku, price=1000) for sku in ("OB-1", "OB-2", "OB-3")}
    spaced = fake.add_variation("HAS SPACE")  # Square allows it; a canonical SKU does not
    d = workdir("square-webhook")
    out = d + "/out.ndjson"
    cfg = config(
        connector("sq", fake.url, extra=[("signature-key", "env:OMB_TEST_SQUARE_KEY"),
                                         ("notification-url", URL), ("webhook-path", "square")])
        + file_sink("out", out) + route("in", "sq", "out"),
        extra='  <http listen="127.0.0.1:0"/>\n')
    dm = Daemon(write_config(d, cfg), env={"OMB_TEST_SQUARE_TOKEN": TOKEN,
                                            "OMB_TEST_SQUARE_KEY": KEY})
    port = listen_port(dm)
    wait_for(lambda: "catalog read: 4 variations" in dm.text(), what="the map read after start")
    check(len(fake.seen("/v2/catalog/list")) == 2, "the map is read once after start (2 pages)")

    def hook(body, **kw):
        return send_webhook(port, PATH, body, KEY, URL, **kw)

    # The vendor test vector: the signature verifies; no counts, nothing to emit.
    vector = b'{"event_id":"e1","type":"inventory.count.updated"}'
    st, _, resp = hook(vector, sig="oI76JaepU13dB33XjFfhshmepcZiRxTiZ0nCi816JeQ=")
    check(st == 200 and resp == b"accepted: 0 stock level(s)\n", f"the test vector: {st} {resp}")

    # Refused signatures: 401, nothing emitted.
    body = inventory_count_webhook("e-bad", [count_entry(var["OB-1"], WAW, 5)])
    bad = [("another key", {"sig": signature("other_secret", URL, body)}),
           ("the local URL", {"sig": signature(KEY, f"http://127.0.0.1:{port}{PATH}", body)}),
           ("missing", {"sig": ""}), ("not base64", {"sig": "%%%not-base64%%%"}),
           ("another body", {"sig": signature(KEY, URL, body + b" ")})]
    for what, kw in bad:
        st, _, resp = hook(body, **kw)
        check(st == 401, f"{what}: {st} {resp}")
    st, h, _ = request(port, PATH, method="GET")
    check(st == 405 and h.get("allow") == "POST", f"GET: {st}")

    # catalog.version.updated: acknowledged, and the map is stale; when it cannot be read for
    # the next notification, that one is answered 503 with Retry-After.
    cat = (b'{"merchant_id":"MLFAKE0MERCHANT","type":"catalog.version.updated","event_id":"e-0",'
           b'"data":{"type":"catalog","id":"","object":{"catalog_version":{"updated_at":"x"}}}}')
    st, _, resp = hook(cat)
    check(st == 200 and resp == b"ignored: catalog.version.updated\n", f"catalog: {st} {resp}")
    fake.fail_next(1, 500, path="/v2/catalog/list")
    at = "2026-11-25T06:00:00.5Z"
    two = inventory_count_webhook("e-2", [count_entry(var["OB-1"], WAW, 12, calculated_at=at),
                                          count_entry(var["OB-2"], KRK, "3.00000")])
    st, h, resp = hook(two)
    check(st == 503 and h.get("retry-after") == "5", f"catalog down: {st} {h} {resp}")
    time.sleep(0.3)
    check(read_lines(out) == [], "nothing emitted yet")

    # Sent again: 200, two stock levels.
    st, _, resp = hook(two)
    check(st == 200 and resp == b"accepted: 2 stock level(s)\n", f"two counts: {st} {resp}")
    wait_for(lambda: len(read_lines(out)) == 2, what="two events")
    evs = read_lines(out)
    if check(len(evs) == 2, f"two events: {evs}"):
        e = evs[0]
        check(e["type"] == "stock.level" and e["source"] == "sq" and e["key"] == "OB-1@WAW01" and
              e["dedupe"] == "e-2#0" and e["time"] == "2026-11-25T06:00:00.500Z",
              f"the first event's envelope: {e}")
        check(e["body"] == {"sku": "OB-1", "location": "WAW01", "on_hand": 12,
                            "as_of": "2026-11-25T06:00:00.500Z",
                            "ext": {"square": {"catalog_object_id": var["OB-1"],
                                               "location_id": WAW,
                                               "merchant_id": "MLFAKE0MERCHANT"}}},
              f"the first event's body: {e['body']}")
        check(evs[1]["body"]["sku"] == "OB-2" and evs[1]["body"]["location"] == "KRK02" and
              evs[1]["body"]["on_hand"] == 3 and evs[1]["dedupe"] == "e-2#1",
              f"the second: {evs[1]}")

    # A repeated event_id: 200 each time, one event.
    one = inventory_count_webhook("e-3", [count_entry(var["OB-3"], WAW, 7)])
    for i in range(3):
        st, _, resp = hook(one)
        check(st == 200, f"e-3 delivery {i + 1}: {st} {resp}")
    wait_for(lambda: len(read_lines(out)) >= 3, what="e-3's event")
    time.sleep(0.3)
    evs = read_lines(out)
    check(len(evs) == 3 and evs[2]["dedupe"] == "e-3" and evs[2]["body"]["on_hand"] == 7,
          f"e-3 once: {evs[2:]}")

    # Skipped counts: an unknown location, an unknown variation, another state, a fraction.
    lists = len(fake.seen("/v2/catalog/list"))
    mixed = inventory_count_webhook("e-4", [
        count_entry(var["OB-1"], "LUNKNOWN", 1), count_entry("NOSUCHVARIATION", WAW, 2),
        count_entry(var["OB-1"], WAW, 3, state="WASTE"), count_entry(var["OB-2"], WAW, "1.5"),
        count_entry(var["OB-2"], WAW, 4), count_entry(spaced, WAW, 5)])
    st, _, resp = hook(mixed)
    check(st == 200 and resp == b"accepted: 1 stock level(s)\n", f"mixed: {st} {resp}")
    check(len(fake.seen("/v2/catalog/list")) - lists == 2,
          "the unknown variation made the map be read again (2 pages), once")
    st, _, resp = hook(inventory_count_webhook("e-5", [count_entry("NOSUCHVARIATION", WAW, 2)]))
    check(st == 200 and len(fake.seen("/v2/catalog/list")) - lists == 2,
          "not again within 30 s")
    wait_for(lambda: len(read_lines(out)) >= 4, what="e-4's event")
    evs = read_lines(out)
    check(len(evs) == 4 and evs[3]["key"] == "OB-2@WAW01" and evs[3]["dedupe"] == "e-4#4",
          f"only the good count of e-4: {evs[3:]}")

    # Other types are acknowledged; catalog.version.updated marks the map stale.
    new_var = fake.add_variation("NEW-9", price=1)
    st, _, resp = hook(cat.replace(b'"e-0"', b'"e-6"'))
    check(st == 200 and resp == b"ignored: catalog.version.updated\n", f"catalog: {st} {resp}")
    st, _, resp = hook(inventory_count_webhook("e-7", [count_entry(new_var, KRK, 11)]))
    check(st == 200 and resp == b"accepted: 1 stock level(s)\n", f"the new SKU: {st} {resp}")
    wait_for(lambda: len(read_lines(out)) >= 5, what="e-7's event")
    evs = read_lines(out)
    check(len(evs) == 5 and evs[4]["key"] == "NEW-9@KRK02", f"the new SKU's level: {evs[4:]}")
    st, _, resp = hook(b'{"type":"inventory.count.updated"}')
    check(st == 400, f"no event_id: {st} {resp}")

    time.sleep(0.3)
    check(len(read_lines(out)) == 5, "five events in all")
    check(dm.stop() == 0, "clean stop")
    log = dm.text()
    check(log.count("refused (401)") == 5, "each refused signature is logged")
    check(log.count("skipped:") == 5, "each skipped count is logged: four of e-4 (its WASTE "
          "count is another state, not a skip) and e-5's")
    check("skipped: its SKU is not a canonical one" in log, "the SKU with a blank")
    check(KEY not in log and TOKEN not in log, "no secret in the log")
    check("connector 'sq': emitted 7," in log and "route 'in': in 5," in log,
          "7 emitted (e-3 three times), 5 routed: the core dropped e-3's two repeats")
    fake.close()


main()
done()
