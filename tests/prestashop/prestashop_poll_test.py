#!/usr/bin/env python3
"""The prestashop connector's source side, end to end: it polls the fake PrestaShop
(tests/fakes/prestashop_fake.py) and omnibusd writes what it emits to a file (the file
connector).

Proves, with counts: the first poll records the shop and emits nothing; a back-office stock
change becomes exactly one stock.level of the configured location, a price change exactly one
price.set (tax added back); polls after that emit nothing new; the cursor and the quantities
seen are in host state, so after a restart only a change made while the daemon was down is
emitted, once; a product without reference costs no map reads; a new product's price and stock
are emitted, the map read again once for it. No assertion is about speed."""
import os
import sys

sys.dont_write_bytecode = True

from urllib.parse import unquote

from prestashop_helpers import KEY, connector
from omb import (Daemon, check, config, done, file_sink, read_lines, wait_for, workdir,
                 write_config)
from prestashop_fake import PrestaShopFake


def polls(fake):
    """How many stock listings (one per poll) the fake has answered."""
    return len([r for r in fake.seen("/api/stock_availables", "GET")
                if r["route"] == "GET /api/stock_availables" and
                "display=[id,quantity]" in unquote(r["query"]) and "limit=0," in r["query"]])


def map_reads(fake):
    return len([r for r in fake.seen("/api/products", "GET")
                if "display=full" in r["query"] and "limit=0," in r["query"]])


def main():
    fake = PrestaShopFake(key=KEY).start()
    p1, s1 = fake.add_product("OB-1", "100.00", quantity=18)
    p2, s2 = fake.add_product("OB-2", "20.00", quantity=3)
    p3, _ = fake.add_product("OB-3", "50.00")
    fake.add_combination(p3, "OB-3-S", price="0", quantity=5)
    fake.add_product("", "5.00", quantity=2)  # no reference: no SKU, never emitted

    d = workdir("prestashop-poll")
    out = os.path.join(d, "out.ndjson")
    body = (connector("ps", fake.url, [("poll-interval", "1s"), ("tax-rate", "23")]) +
            file_sink("sink", out) +
            '  <route name="in"><from connector="ps"/><to connector="sink"/></route>\n')
    cfg_path = write_config(d, config(body, drain="30s"))
    env = {"OMB_TEST_PS_KEY": KEY}
    dm = Daemon(cfg_path, env=env)

    # The first poll records the shop; the next ones find nothing.
    wait_for(lambda: polls(fake) >= 3, what="three polls")
    check(read_lines(out) == [], f"nothing emitted for the shop as it was: {read_lines(out)}")

    # A stock change and a price change in the back office: one event each.
    fake.set_stock("OB-1", 5)
    fake.set_price("OB-2", "30.00")
    wait_for(lambda: len(read_lines(out)) >= 2, what="two events")
    n = polls(fake)
    wait_for(lambda: polls(fake) >= n + 3, what="three more polls")
    evs = read_lines(out)
    check(len(evs) == 2, f"exactly two events: {evs}")
    lv = [e for e in evs if e["type"] == "stock.level"]
    pr = [e for e in evs if e["type"] == "price.set"]
    check(len(lv) == 1 and lv[0]["body"]["sku"] == "OB-1" and lv[0]["body"]["on_hand"] == 5 and
          lv[0]["body"]["location"] == "web" and lv[0]["key"] == "OB-1@web",
          f"the stock.level: {lv}")
    check(len(pr) == 1 and pr[0]["body"]["sku"] == "OB-2" and
          pr[0]["body"]["price"] == {"amount": 3690, "currency": "PLN"} and pr[0]["key"] == "OB-2",
          f"the price.set, 30.00 + 23%: {pr}")
    check(all(e.get("dedupe", "").startswith("prestashop:") for e in evs),
          f"dedupe keys from the rows: {[e.get('dedupe') for e in evs]}")
    dated = [r for r in fake.seen("/api/products", "GET") if "date=1" in r["query"]]
    check(dated and all("filter[date_upd]=[" in unquote(r["query"]) for r in dated),
          "products polled by date_upd")
    check(all(r["status"] == 200 for r in fake.seen()), "every request answered 200")

    # Touching a product without changing its price emits nothing.
    fake.touch(p1)
    n = polls(fake)
    wait_for(lambda: polls(fake) >= n + 2, what="two more polls")
    check(len(read_lines(out)) == 2, f"a save without a price change is no price.set: "
          f"{read_lines(out)[2:]}")
    check(map_reads(fake) == 1, f"the map read once, though a row has no SKU: {map_reads(fake)}")

    # A new product: its price and, once the map knows it, its stock.
    fake.add_product("OB-9", "10.00", quantity=4)
    wait_for(lambda: len(read_lines(out)) >= 4, what="the new product's two events")
    n = polls(fake)
    wait_for(lambda: polls(fake) >= n + 2, what="two more polls")
    new = read_lines(out)[2:]
    check(sorted((e["type"], e["body"]["sku"]) for e in new) ==
          [("price.set", "OB-9"), ("stock.level", "OB-9")] and
          [e["body"]["on_hand"] for e in new if e["type"] == "stock.level"] == [4] and
          [e["body"]["price"]["amount"] for e in new if e["type"] == "price.set"] == [1230],
          f"the new product: {new}")
    check(map_reads(fake) == 2, f"the map read again once for it: {map_reads(fake)}")
    check(dm.stop() == 0, "the daemon stopped cleanly")

    # While the daemon is down: one more change. After the restart it alone is emitted.
    fake.set_stock("OB-3-S", 9)
    dm = Daemon(cfg_path, env=env)
    wait_for(lambda: len(read_lines(out)) >= 5, what="the change made while down")
    n = polls(fake)
    wait_for(lambda: polls(fake) >= n + 3, what="three polls after the restart")
    evs = read_lines(out)
    check(len(evs) == 5, f"five events in all, no repeat: {evs}")
    check(evs[-1]["type"] == "stock.level" and evs[-1]["body"]["sku"] == "OB-3-S" and
          evs[-1]["body"]["on_hand"] == 9, f"the change made while down: {evs[-1]}")
    check(dm.stop() == 0, "the daemon stopped cleanly")
    fake.close()
    done()


if __name__ == "__main__":
    main()
