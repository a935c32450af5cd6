#!/usr/bin/env python3
"""The woocommerce connector's sink side end to end: omnibusd reads canonical events from ndjson
drop files (the file connector) and delivers them to the fake WooCommerce shop
(tests/fakes/woocommerce_fake.py) through deliver_batch.

Proves, with counts: the SKU map is read once over every page (products, then the variations of
the variable product); 250 stock levels end as the shop's stock in at most 3 batch requests of
at most 100 items (the fake's batch_sizes), with manage_stock true; stock.available for the web
channel too; levels for another location are dead letters; price.set becomes regular_price with
two decimals, a foreign currency a dead letter; variations go to their parent's variations/batch;
an item error inside a 200 dead-letters that event only; an unknown SKU reads the map once more
and is a dead letter naming the SKU and the shop; after a restart the map comes from state and
the shop is not listed again. No assertion is about speed."""
import sys

sys.dont_write_bytecode = True

from woocommerce_helpers import (available, batches, connector, dead_letters, env, level, price,
                                 route)
from omb import Daemon, check, config, done, drop, file_source, wait_for, workdir, write_config
from woocommerce_fake import WooCommerceFake

N = 250


def lists(fake):
    return [r for r in fake.seen("/wp-json/wc/v3/products", "GET")]


def main():
    fake = WooCommerceFake().start()
    fake.set_page_cap(60)  # the map takes 5 pages of products
    skus = [f"OB-{i:04d}" for i in range(N)]
    for s in skus:
        fake.add_product(s, "10.00", stock_quantity=1)
    fake.add_product("UNMANAGED", "5.00", manage_stock=False)
    pid, vids = fake.add_variable_product("VAR", variations=[
        {"sku": "VAR-S", "regular_price": "20.00", "stock_quantity": 3, "manage_stock": True},
        {"sku": "VAR-M", "regular_price": "20.00", "stock_quantity": 3, "manage_stock": True}])
    d = workdir("woocommerce-delivery")
    cfg = config(file_source("src", d + "/in") + connector("shop", fake.url) +
                 route("out", "src", "shop"), drain="30s")
    # 1. 250 levels for the web location: at most 3 batches, the stock right. How many
    #    deliveries the core offers at once is what it has queued for the destination, so the
    #    levels are in the drop directory before the daemon starts, and the first page of the
    #    map read (right after start, on the connector's thread) is slowed down: the whole
    #    backlog is journaled before the first delivery, also under valgrind.
    drop(d + "/in", "1-levels.ndjson", [level(s, "web", i + 5) for i, s in enumerate(skus)])
    fake.hang_next(1, 3, path="/wp-json/wc/v3/products")
    dm = Daemon(write_config(d, cfg), env=env())
    wait_for(lambda: "SKU map read" in dm.text(), what="the map read after start")
    first = lists(fake)
    check(len(first) == 6, f"the map: 5 pages of products and 1 of variations: {len(first)}")
    check(all("per_page=100" in r["query"] for r in first), "per_page=100")
    wait_for(lambda: all(fake.stock(s) == i + 5 for i, s in enumerate(skus)), timeout=60,
             what="the 250 levels in the shop")
    b = batches(fake)
    print(f"batches for {N} levels: {[x['total'] for x in b]}")
    check(1 <= len(b) <= 3 and all(x["total"] <= 100 and x["status"] == 200 for x in b) and
          sum(x["update"] for x in b) == N, f"<= 3 batches of <= 100: {b}")
    check(all(r["route"] == "POST /products/batch" for r in fake.seen(method="POST")),
          "simple products through /products/batch")
    req = fake.seen(method="POST")[0]
    item = req["json"]["update"][0]
    check(item.get("manage_stock") is True and isinstance(item.get("stock_quantity"), int)
          and "id" in item, f"an item: {item}")
    check(req["headers"].get("content-type") == "application/json" and
          req["headers"].get("authorization", "").startswith("Basic "), "JSON and Basic auth")
    check(fake.stock("UNMANAGED") is None, "untouched")

    # 2. stock.available for the web channel, a level and a price of variations, a level for
    #    another location (dead letter), a negative level (0).
    nb = len(batches(fake))
    drop(d + "/in", "2-mixed.ndjson", [
        available("OB-0000", "web", 42), level("VAR-S", "web", 7), price("VAR-M", 2599),
        level("OB-0001", "WAW01", 9), level("OB-0002", "web", -4)])
    wait_for(lambda: fake.stock("OB-0000") == 42 and fake.stock("VAR-S") == 7 and
             fake.price("VAR-M")["regular_price"] == "25.99" and fake.stock("OB-0002") == 0,
             timeout=60,
             what="the mixed batch")
    wait_for(lambda: len(dead_letters(dm)) == 1, what="the other location's dead letter")
    dl = dead_letters(dm)
    check(len(dl) == 1 and "WAW01" in dl[0]["last_error"] and "web" in dl[0]["last_error"],
          f"another location: {dl}")
    paths = [r["path"] for r in fake.seen(method="POST")][nb:]
    check(f"/wp-json/wc/v3/products/{pid}/variations/batch" in paths,
          f"variations by parent: {paths}")
    check(fake.stock("OB-0001") == 6, "the WAW01 level was not written")

    # 3. Prices: two decimals; a foreign currency is a dead letter without a request.
    n = len(fake.seen(method="POST"))
    drop(d + "/in", "3-prices.ndjson", [price("OB-0003", 12999), price("OB-0004", 5),
                                        price("OB-0005", 100, currency="EUR")])
    wait_for(lambda: fake.price("OB-0003")["regular_price"] == "129.99" and
             fake.price("OB-0004")["regular_price"] == "0.05",
             timeout=60, what="the prices")
    wait_for(lambda: len(dead_letters(dm)) == 2, what="the EUR dead letter")
    dl = dead_letters(dm)
    check(len(dl) == 2 and "EUR" in dl[1]["last_error"] and "PLN" in dl[1]["last_error"],
          f"currency: {dl[1:]}")
    check(len(fake.seen(method="POST")) - n == 1, "one batch for the two prices")
    check(fake.price("OB-0005")["regular_price"] == "10.00", "the EUR price was not written")

    # 4. An item error inside the 200: only that event is a dead letter.
    bad = fake.by_sku("OB-0007")["id"]
    fake.item_error(bad)
    drop(d + "/in", "4-item.ndjson", [level("OB-0006", "web", 66), level("OB-0007", "web", 77),
                                      level("OB-0008", "web", 88)])
    wait_for(lambda: len(dead_letters(dm)) == 3, timeout=60, what="the item error's dead letter")
    dl = dead_letters(dm)
    check(len(dl) == 3 and "OB-0007" in dl[2]["last_error"] and
          "woocommerce_rest_product_not_created" in dl[2]["last_error"] and
          "Could not save the product." in dl[2]["last_error"], f"the item error: {dl[2:]}")
    check(fake.stock("OB-0006") == 66 and fake.stock("OB-0008") == 88 and
          fake.stock("OB-0007") == 12, "the others written, the failed one not")

    # 5. An unknown SKU: the map is read once more, then a dead letter naming SKU and shop.
    before = len(lists(fake))
    drop(d + "/in", "5-unknown.ndjson", [level("NOPE-1", "web", 1), level("OB-0009", "web", 99)])
    wait_for(lambda: len(dead_letters(dm)) == 4, timeout=60, what="the unknown SKU")
    dl = dead_letters(dm)
    check(len(dl) == 4 and "NOPE-1" in dl[3]["last_error"] and fake.url in dl[3]["last_error"],
          f"unknown SKU: {dl[3:]}")
    wait_for(lambda: fake.stock("OB-0009") == 99, what="the next level")
    check(len(lists(fake)) - before == 6, f"the map read once more: {len(lists(fake)) - before}")

    # 6. A restart: the map comes from state, the shop is not listed again.
    check(dm.stop() == 0, "clean stop")
    before = len(lists(fake))
    dm = Daemon(write_config(d, cfg), env=env())
    wait_for(lambda: "SKU map restored from state" in dm.text(), what="the map restored")
    drop(d + "/in", "6-after.ndjson", [level("OB-0010", "web", 1010), level("VAR-M", "web", 11)])
    wait_for(lambda: fake.stock("OB-0010") == 1010 and fake.stock("VAR-M") == 11, timeout=60,
             what="levels after the restart")
    check(len(lists(fake)) == before, f"no listing after the restart: {len(lists(fake)) - before}")
    check(dm.stop() == 0, "clean stop")
    log = dm.text()
    check(env()["OMB_TEST_WC_CS"] not in log, "the secret is never logged")
    fake.close()


main()
done()
