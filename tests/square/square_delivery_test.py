#!/usr/bin/env python3
"""The square connector's sink side end to end: omnibusd reads canonical events from ndjson drop
files (the file connector) and delivers them to the fake Square API (tests/fakes/square_fake.py).

Proves, with counts: stock.level and stock.available become PHYSICAL_COUNTs and stock.delta
ADJUSTMENTs with the documented states, decimal-string quantities, the event's time as
occurred_at and an idempotency key from the event id, so that the fake's counts come out right;
the SKU map is read once, over every page of the catalog; price.set reads the variation and
upserts the whole object with the version it read and the price in minor units; a version
bumped behind the connector's back is re-read and written once more; unknown, deleted and
ambiguous SKUs, an error inside a 200, a TEMPORARY_ERROR, a foreign currency, a price list, a
future price and an unmapped location end as the documented dead letters or retries. No
assertion is about speed."""
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the sources

from decimal import Decimal

from square_helpers import (batch_creates, changes_of, connector, dead_letters, delta, env,
                            level, price, route, ts)
from omb import Daemon, check, config, done, drop, file_source, wait_for, workdir, write_config
from square_fake import SquareFake

WAW, KRK, WEB = "LWAW01SQUARE", "LKRK02SQUARE", "LWEBSQUARE"


def dead_count(dm, n, what):
    wait_for(lambda: len(dead_letters(dm)) >= n, what=what)
    return dead_letters(dm)


def main():
    fake = SquareFake(token="EAAAfake-t0ken-never-logged", page_size=2).start()
    for loc in (WAW, KRK, WEB):
        fake.add_location(loc)
    var = {sku: fake.add_variation(sku, price=p) for sku, p in
           [("OB-1", 12999), ("OB-2", 5000), ("OB-3", None), ("OB-4", 100), ("OB-5", 200),
            ("GONE-1", 300)]}
    d = workdir("square-delivery")
    cfg = config(file_source("src", d + "/in") + connector("sq", fake.url) +
                 route("out", "src", "sq"), drain="30s")
    dm = Daemon(write_config(d, cfg), env=env())

    # 1. Levels (and one stock.available for the web channel): counts set absolutely.
    as_of = ts(120)
    drop(d + "/in", "1-levels.ndjson", [
        level("OB-1", "WAW01", 18, as_of), level("OB-2", "WAW01", 5, as_of),
        level("OB-1", "KRK02", 7, as_of), level("OB-2", "KRK02", -3, as_of),
        {"type": "stock.available", "key": "OB-3@web", "time": as_of,
         "body": {"sku": "OB-3", "channel": "web", "available": 60, "as_of": as_of}}])
    wait_for(lambda: len(batch_creates(fake)) == 5, what="five batch-creates")
    check(fake.count(var["OB-1"], WAW) == 18 and fake.count(var["OB-2"], WAW) == 5 and
          fake.count(var["OB-1"], KRK) == 7 and fake.count(var["OB-3"], WEB) == 60,
          "the levels are Square's counts")
    check(fake.count(var["OB-2"], KRK) == 0, "a negative level is sent as 0")
    reqs = batch_creates(fake)
    keys = [r["json"]["idempotency_key"] for r in reqs]
    check(all(k.startswith("omb-") and k.endswith("-inv") and len(k) == 34 for k in keys) and
          len(set(keys)) == 5, f"one idempotency key per event, from its id: {keys}")
    pc = reqs[0]["json"]["changes"][0]
    check(pc["type"] == "PHYSICAL_COUNT" and pc["physical_count"] == {
        "catalog_object_id": var["OB-1"], "location_id": WAW, "state": "IN_STOCK",
        "quantity": "18", "occurred_at": as_of}, f"the physical count: {pc}")
    check(all(r["status"] == 200 for r in reqs), "every batch-create was taken")
    h = reqs[0]["headers"]
    check(h.get("authorization") == "Bearer EAAAfake-t0ken-never-logged" and
          h.get("square-version") == "2025-01-23" and
          h.get("content-type") == "application/json", f"headers: {h}")
    lists = fake.seen("/v2/catalog/list")
    check(len(lists) == 3, f"the SKU map read once, over its 3 pages of 2: {len(lists)}")
    check(all("types=ITEM_VARIATION" in r["query"] for r in lists) and
          "cursor=" not in lists[0]["query"] and "cursor=" in lists[2]["query"],
          f"the pages: {[r['query'] for r in lists]}")

    # 2. Deltas after the count: sale, return, receipt, adjustment (waste).
    drop(d + "/in", "2-deltas.ndjson", [
        delta("OB-1", "WAW01", -2, "sale", "WAW01-3-1042/1"),
        delta("OB-1", "WAW01", 1, "return", "WAW01-3-1043/1"),
        delta("OB-1", "WAW01", 10, "receipt", "GR-77/1"),
        delta("OB-1", "WAW01", -3, "adjustment", "INV-5/2")])
    wait_for(lambda: len(batch_creates(fake)) == 9, what="four more batch-creates")
    check(fake.count(var["OB-1"], WAW) == Decimal(18 - 2 + 1 + 10 - 3),
          f"18 - 2 + 1 + 10 - 3 = 24: {fake.count(var['OB-1'], WAW)}")
    adj = [ch["adjustment"] for _, ch in changes_of(fake, var["OB-1"])
           if ch["type"] == "ADJUSTMENT"]
    check([(a["from_state"], a["to_state"], a["quantity"], a.get("reference_id")) for a in adj] ==
          [("IN_STOCK", "SOLD", "2", "WAW01-3-1042/1"),
           ("UNLINKED_RETURN", "IN_STOCK", "1", "WAW01-3-1043/1"),
           ("NONE", "IN_STOCK", "10", "GR-77/1"), ("IN_STOCK", "WASTE", "3", "INV-5/2")],
          f"the states of each reason: {adj}")

    # 3. Prices: the whole object, the version read, the amount in minor units.
    before = fake.variation(var["OB-2"])
    drop(d + "/in", "3-prices.ndjson", [price("OB-2", 14999), price("OB-3", 999)])
    wait_for(lambda: len(fake.seen("/v2/catalog/object", "POST")) == 2, what="two upserts")
    ups = fake.seen("/v2/catalog/object", "POST")
    obj = ups[0]["json"]["object"] if ups else {}
    check(ups and ups[0]["status"] == 200, "the upsert was taken")
    check(obj.get("version") == before["version"], "sent with the version it read")
    check(obj.get("item_variation_data", {}).get("price_money") ==
          {"amount": 14999, "currency": "PLN"} and
          obj["item_variation_data"]["pricing_type"] == "FIXED_PRICING", f"the price: {obj}")
    rest = {k: v for k, v in before["item_variation_data"].items() if k != "price_money"}
    check(all(obj["item_variation_data"].get(k) == v for k, v in rest.items()),
          "every other field of the variation was sent back as read (no sparse update)")
    check(ups[0]["json"]["idempotency_key"].endswith(f"-price-{before['version']}"),
          f"the key names the version: {ups[0]['json']['idempotency_key']}")
    after = fake.variation(var["OB-2"])
    check(after["item_variation_data"]["price_money"]["amount"] == 14999 and
          after["item_variation_data"]["sku"] == "OB-2" and after["version"] > before["version"],
          f"Square holds the new price, the SKU and a new version: {after}")
    o3 = fake.variation(var["OB-3"])["item_variation_data"]
    check(o3["pricing_type"] == "FIXED_PRICING" and o3["price_money"]["amount"] == 999,
          f"a variable-priced variation gets a fixed price: {o3}")

    # 4. The version changes between the read and the write: read again, write again, done.
    fake.race(var["OB-1"], 1)
    gets_before = len(fake.seen("/v2/catalog/object/" + var["OB-1"]))
    drop(d + "/in", "4-race.ndjson", [price("OB-1", 11999)])
    wait_for(lambda: fake.variation(var["OB-1"])["item_variation_data"]["price_money"]["amount"]
             == 11999, what="the price after the race")
    ups = [r for r in fake.seen("/v2/catalog/object", "POST")
           if r["json"]["object"]["id"] == var["OB-1"]]
    check([r["status"] for r in ups] == [400, 200], f"VERSION_MISMATCH, then taken: {ups}")
    check(len(ups) == 2 and ups[0]["json"]["object"]["version"] <
          ups[1]["json"]["object"]["version"], "the second write carries the newer version")
    check(len(fake.seen("/v2/catalog/object/" + var["OB-1"])) - gets_before == 2,
          "the object was read twice")

    # 5. Unknown SKUs: dead letters naming them, one catalog read each at most; a SKU added to
    #    the catalog meanwhile is found by reading it again.
    lists_before = len(fake.seen("/v2/catalog/list"))
    drop(d + "/in", "5-unknown.ndjson", [price("NOPE-1", 100), level("NOPE-2", "WAW01", 1)])
    dl = dead_count(dm, 2, "two dead letters")
    reasons = [x["last_error"] for x in dl]
    check(len(dl) == 2 and "unknown SKU NOPE-1" in reasons[0] and "unknown SKU NOPE-2" in
          reasons[1], f"the reasons name the SKUs: {reasons}")
    check(all(x["attempts"] == 1 for x in dl), "rejected at the first attempt")
    check(len(fake.seen("/v2/catalog/list")) - lists_before == 3,
          "one re-read of the map (3 pages) for the first unknown SKU; the second, older than "
          "that read, is rejected without another")
    new_var = fake.add_variation("NEW-1", price=500)
    drop(d + "/in", "5b-new.ndjson", [level("NEW-1", "KRK02", 4)])
    wait_for(lambda: fake.count(new_var, KRK) == 4, what="the new SKU's count")
    check(fake.count(new_var, KRK) == 4, "a SKU added after the map was read is found")

    # A variation deleted since the map was read (404, the map read again: gone), and a SKU
    # that two variations share: dead letters that say so.
    fake.delete_object(var["GONE-1"])
    dups = [fake.add_variation("DUP-1"), fake.add_variation("DUP-1")]
    drop(d + "/in", "5c-gone.ndjson", [price("GONE-1", 100), price("DUP-1", 100)])
    dl = dead_count(dm, 4, "the gone and the ambiguous SKU")
    reasons = [x["last_error"] for x in dl[2:]]
    check(len(reasons) == 2 and "unknown SKU GONE-1" in reasons[0] and
          f"SKU DUP-1 is ambiguous: 2 Square variations have it ({dups[0]}, {dups[1]})" in
          reasons[1], f"the reasons: {reasons}")
    check([r["status"] for r in fake.seen("/v2/catalog/object/" + var["GONE-1"])] == [404],
          "the deleted variation was asked for once")

    # 6. An error inside a 200 rejects; a TEMPORARY_ERROR there is retried with the same key.
    fake.item_error(var["OB-4"], "INVALID_VALUE", "Inventory is not tracked for this item.")
    fake.item_error(var["OB-5"], "TEMPORARY_ERROR", "Try again.", times=1)
    drop(d + "/in", "6-item-errors.ndjson", [level("OB-4", "WAW01", 9), level("OB-5", "WAW01", 6)])
    dl = dead_count(dm, 5, "the item error's dead letter")
    wait_for(lambda: fake.count(var["OB-5"], WAW) == 6, what="OB-5 after its temporary error")
    check(len(dl) == 5 and "INVALID_VALUE" in dl[4]["last_error"] and
          "Inventory is not tracked" in dl[4]["last_error"] and dl[4]["key"] == "OB-4@WAW01",
          f"the item error's code and detail: {dl[-1:]}")
    check(fake.count(var["OB-4"], WAW) == 0, "nothing applied for OB-4")
    five = changes_of(fake, var["OB-5"])
    check(len(five) == 2 and five[0] == five[1], f"OB-5 sent twice, the same key and body: {five}")

    # 7. Refused before any call: a foreign currency, another price list, a future price, an
    #    unmapped location.
    n_requests = len(fake.seen())
    drop(d + "/in", "7-refused.ndjson", [
        price("OB-1", 2999, "EUR"), price("OB-1", 100, price_list="b2b"),
        price("OB-1", 100, valid_from=ts(-3600)), level("OB-1", "GDN03", 3)])
    dl = dead_count(dm, 9, "four more dead letters")
    reasons = [x["last_error"] for x in dl[5:]]
    check(len(reasons) == 4 and "currency mismatch" in reasons[0] and "EUR" in reasons[0] and
          "b2b" in reasons[1] and "cannot schedule" in reasons[2] and
          "location GDN03 is not in the option locations" in reasons[3], f"reasons: {reasons}")
    check(len(fake.seen()) == n_requests, "no request for any of them")

    check(dm.stop() == 0, "clean stop")
    log = dm.text()
    check("EAAAfake-t0ken-never-logged" not in log, "the token is never logged")
    check("connector 'sq': emitted 0, received 23, delivered 14" in log,
          f"the connector's counters: {[x for x in log.splitlines() if 'connector' in x][-3:]}")
    fake.close()


main()
done()
