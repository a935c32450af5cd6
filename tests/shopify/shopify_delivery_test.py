#!/usr/bin/env python3
"""The shopify connector's sink side end to end: omnibusd reads canonical events from ndjson drop
files (the file connector) and delivers them to the fake Shopify Admin API
(tests/fakes/shopify_fake.py).

Proves, with counts: the identity map is read over every page of productVariants once; 600
stock levels arrive as at most 3 inventorySetQuantities mutations (deliver_batch, 250 a call),
each with an @idempotent key, and the fake's levels are right; a price.set becomes one
productVariantsBulkUpdate with the decimal price; a foreign currency, an unknown SKU and an
unmapped location are dead letters naming what is wrong; a userError for one item dead-letters
that event only; after a restart the map comes from the daemon's state without a catalog read;
the snapshot through omnibusctl reads levels and prices back, over a page boundary, with the
unknown SKUs listed. No assertion is about speed."""
import json
import shutil
import sys

sys.dont_write_bytecode = True

from shopify_helpers import (connector, ctl, dead_letters, env, level, mutations, price,
                             route, sf)
from omb import Daemon, check, config, done, drop, file_source, wait_for, workdir, write_config


def main():
    # A fast-refilling cost bucket: 2500 SKUs are 26 catalog pages of 303 points.
    fake = sf.ShopifyFake(graphql_restore=5000.0).start()
    waw = fake.add_location("WAW01")
    krk = fake.add_location("KRK02")
    every = fake.add_bulk(n=2500, locations=[waw], prefix="BULK-", price="19.99", available=10)
    skus = every[:600]
    fake.add_product("Koszulka", [{"sku": "OB-1", "price": "59.99", "available": {waw: 5, krk: 2}},
                                  {"sku": "OB-2", "price": "10.00", "available": {waw: 1}}])
    locations = f"WAW01={waw},KRK02={krk}"
    d = workdir("shopify-delivery")
    cfg = config(file_source("src", d + "/in") + connector("shop", fake, locations) +
                 route("out", "src", "shop", conflate=True), drain="30s")
    dm = Daemon(write_config(d, cfg), env=env())

    # 1. 600 levels, dropped while the connector reads its catalog.
    drop(d + "/in", "1-levels.ndjson", [level(s, "WAW01", i % 50) for i, s in enumerate(skus)])
    wait_for(lambda: all(fake.level_by_sku(s, waw) == i % 50 for i, s in enumerate(skus)),
             timeout=60, what="600 levels set")
    muts = mutations(fake)
    sizes = [len(r["json"]["variables"]["input"]["quantities"]) for r in muts]
    # Levels are absolute: the route conflates by key (as the docs advise), and the core then
    # offers up to 250 at a time (a plain route's queue admits only 128: see the report).
    check(1 <= len(muts) <= 3, f"600 levels in at most 3 mutations: {sizes}")
    check(all("@idempotent" in r["json"]["query"] and
              r["json"]["variables"]["key"].startswith("omb-") for r in muts),
          "every mutation carries an idempotency key")
    reads = mutations(fake, "productVariants")
    check(len(reads) == 26, f"the catalog read once, in 26 pages of 100: {len(reads)}")
    q0 = muts[0]["json"]["variables"]["input"]
    check(q0["name"] == "available" and q0.get("ignoreCompareQuantity") is True,
          f"available, without compare-and-set before 2026-04: {q0['name']}")

    # 2. A price, a foreign currency, an unknown SKU, an unmapped location.
    # NOPE-3's price and NOPE-1's level go in two deliveries: one catalog read serves both.
    drop(d + "/in", "2-price.ndjson", [price("OB-1", 11999), price("OB-2", 500, "EUR"),
                                       price("NOPE-3", 100), level("NOPE-1", "WAW01", 3),
                                       level("OB-1", "GDA03", 3)])
    wait_for(lambda: fake.price_by_sku("OB-1") == "119.99", what="the price")
    check(len(mutations(fake, "productVariantsBulkUpdate")) == 1, "one price mutation")
    wait_for(lambda: len(dead_letters(dm)) == 4, what="four dead letters")
    dl = " | ".join(x["last_error"] for x in dead_letters(dm))
    check("EUR" in dl and "PLN" in dl, f"the currency mismatch named: {dl}")
    check("NOPE-1" in dl and "NOPE-3" in dl and fake.url in dl, f"the SKUs and shop: {dl}")
    check("GDA03" in dl, f"the unmapped location named: {dl}")
    check(len(mutations(fake, "productVariants")) == 52,
          "the unknown SKUs read the catalog once more (26 pages), not once each")

    # 3. A userError for one item: only its event is dead-lettered, the others are set.
    fake.graphql_item_error(fake.item_id_by_sku("OB-2"), code="INVALID_INVENTORY_ITEM", times=None)
    n = len(dead_letters(dm))
    drop(d + "/in", "3-item.ndjson", [level("OB-1", "WAW01", 7), level("OB-2", "WAW01", 8),
                                      level("OB-1", "KRK02", 9)])
    wait_for(lambda: fake.level_by_sku("OB-1", waw) == 7 and fake.level_by_sku("OB-1", krk) == 9,
             what="the other two levels")
    wait_for(lambda: len(dead_letters(dm)) == n + 1, what="one more dead letter")
    last = dead_letters(dm)[-1]["last_error"]
    check("INVALID_INVENTORY_ITEM" in last, f"the userError's code in the reason: {last}")
    check(fake.level_by_sku("OB-2", waw) == 1, "OB-2 untouched")

    # 4. The snapshot, over a page boundary (pages of 2), with unknown SKUs.
    fake.set_page_size(2)
    rc, out, err = ctl(dm, "--json", "--timeout", "90", "snapshot", "shop", "stock",
                       "OB-1,OB-2,BULK-000001,NOPE-9")
    r = json.loads(out) if rc == 0 else {}
    items = sorted((i["sku"], i["location"], i["available"]) for i in r.get("items", []))
    check(items == [("BULK-000001", "WAW01", 1), ("OB-1", "KRK02", 9), ("OB-1", "WAW01", 7),
                    ("OB-2", "WAW01", 1)], f"the levels read back: {rc} {items} {err}")
    check(r.get("unknown") == ["NOPE-9"], f"the unknown SKU: {r.get('unknown')}")
    rc, out, err = ctl(dm, "--json", "--timeout", "90", "snapshot", "shop", "price",
                       "OB-1,OB-2,NOPE-9")
    r = json.loads(out) if rc == 0 else {}
    prices = sorted((i["sku"], i["price"]["amount"], i["price"]["currency"])
                    for i in r.get("items", []))
    check(prices == [("OB-1", 11999, "PLN"), ("OB-2", 1000, "PLN")],
          f"the prices read back: {rc} {prices} {err}")
    fake.set_page_size(None)
    check(dm.stop() == 0, "clean stop")

    shutil.copy(d + "/omnibusd.log", d + "/omnibusd-1.log")

    # 5. A restart: the map comes from the state, the catalog is not read again.
    reads = len(mutations(fake, "productVariants"))
    dm = Daemon(write_config(d, cfg), env=env())
    # The map is 2 values of 2000 SKUs in the state: SKUs of both come back.
    drop(d + "/in", "5-after.ndjson", [level("OB-1", "WAW01", 42), level(every[-1], "WAW01", 43),
                                       level(every[0], "WAW01", 44)])
    wait_for(lambda: fake.level_by_sku("OB-1", waw) == 42 and
             fake.level_by_sku(every[-1], waw) == 43 and fake.level_by_sku(every[0], waw) == 44,
             what="levels after the restart")
    check(len(mutations(fake, "productVariants")) == reads,
          f"no catalog read after the restart: {len(mutations(fake, 'productVariants')) - reads}")
    check(dm.stop() == 0, "clean stop")
    fake.close()
    done()


if __name__ == "__main__":
    main()
