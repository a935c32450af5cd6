#!/usr/bin/env python3
"""The prestashop connector's sink side and snapshots, end to end: omnibusd reads canonical
events from ndjson drop files (the file connector) and delivers them to the fake PrestaShop
(tests/fakes/prestashop_fake.py).

Proves, with counts: stock levels and availabilities become the quantities of the right
stock_available rows, every other field of each row intact (no lost update), also when the row
changes behind the connector's back (a race after a list read with write-method put, after the
single read with write-method auto, which is PATCH on PrestaShop 8 and PUT on 1.7); the SKU map
is read once and restored from state after a restart (no list read then); prices are written
tax excluded, a product's whole and a combination's impact; 401 is a dead letter after one
request, 405 one naming the method, 5xx and a timeout retried; an unknown SKU a dead letter
naming it and the shop; snapshots of stock and prices, with an unknown SKU; every option
documented, the documented config valid. No assertion is about speed."""
import os
import sys
from urllib.parse import unquote

sys.dont_write_bytecode = True

from prestashop_helpers import (KEY, available, connector, ctl, dead_letters, level, price,
                                route)
from omb import (SRCDIR, Daemon, check, config, done, drop, file_source, run, wait_for, workdir,
                 write_config)
from prestashop_fake import PrestaShopFake

BAD_KEY = "AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH"
RO_KEY = "READONLY5VWQHCWE4EE7SQ7HPNX00RAJ"


def list_reads(fake, resource):
    return [r for r in fake.seen(f"/api/{resource}", "GET") if r["route"] == f"GET /api/{resource}"]


def docs_checked():
    """Every option of the plugin has a row in docs/connectors/prestashop.md, and the worked
    config there passes omnibusd --check."""
    rc, text, err = run(["--plugin-doc", "prestashop"])
    check(rc == 0, f"--plugin-doc: {rc} {err}")
    names = [ln.split()[0] for ln in text.split("options:", 1)[-1].splitlines()[2:] if ln.strip()]
    with open(os.path.join(SRCDIR, "docs", "connectors", "prestashop.md")) as f:
        doc = f.read()
    missing = [n for n in names if f"| `{n}` |" not in doc]
    check(len(names) >= 10 and not missing, f"options not documented: {missing} of {names}")
    xml = doc.split("```xml\n", 1)[1].split("```", 1)[0]
    d = workdir("prestashop-doc")
    rc, out, err = run(["--check", "-c", write_config(d, xml)], env={"PRESTASHOP_WS_KEY": KEY})
    check(rc == 0, f"the documented config passes --check: {out} {err}")


def main():
    docs_checked()
    fake = PrestaShopFake(key=KEY).start()
    fake.add_key(BAD_KEY, active=False)
    fake.add_key(RO_KEY, permissions={"stock_availables": ["GET", "HEAD"],
                                      "products": ["GET", "HEAD"],
                                      "combinations": ["GET", "HEAD"]})
    p1, s1 = fake.add_product("OB-1", "100.00", quantity=18, location="A-1", out_of_stock=1)
    p2, s2 = fake.add_product("OB-2", "20.00", quantity=3)
    p3, s3 = fake.add_product("OB-3", "50.00")
    c3s, s3s = fake.add_combination(p3, "OB-3-S", price="0", quantity=5)
    c3m, s3m = fake.add_combination(p3, "OB-3-M", price="2.5", quantity=6)
    rows_before = {s: fake.stock_row(s) for s in (s1, s2, s3s)}
    fake.set_page_cap(2)  # a list of more than 2 rows is a PHP fatal: every read must page

    d = workdir("prestashop-delivery")
    tax = [("tax-rate", "23"), ("write-method", "put")]
    old = PrestaShopFake(key=KEY, ps_version="1.7.8.11").start()  # no PATCH there
    o1, os1 = old.add_product("OB-1", "10.00", quantity=1, location="Z-9")
    body = (file_source("src", d + "/in") + file_source("src401", d + "/in401") +
            file_source("src405", d + "/in405") + file_source("srcp", d + "/inp") +
            file_source("src17", d + "/in17") +
            connector("ps", fake.url, tax) +
            connector("ps401", fake.url, key_env="OMB_TEST_PS_BAD") +
            connector("ps405", fake.url, key_env="OMB_TEST_PS_RO") +
            connector("pspatch", fake.url, [("timeout", "1s")]) +
            connector("ps17", old.url, [("id-shop", "1")]) + route("out17", "src17", "ps17") +
            route("out", "src", "ps") + route("out401", "src401", "ps401") +
            route("out405", "src405", "ps405") + route("outp", "srcp", "pspatch"))
    cfg_path = write_config(d, config(body, drain="30s"))
    env = {"OMB_TEST_PS_KEY": KEY, "OMB_TEST_PS_BAD": BAD_KEY, "OMB_TEST_PS_RO": RO_KEY}
    dm = Daemon(cfg_path, env=env)

    # 1. Levels and an availability: quantities set, every other field as it was.
    drop(d + "/in", "1.ndjson", [level("OB-1", 7), level("OB-3-S", 4), available("OB-2", 60)])
    wait_for(lambda: (fake.stock("OB-1"), fake.stock("OB-3-S"), fake.stock("OB-2")) == (7, 4, 60),
             what="three quantities")
    for s, want in ((s1, "7"), (s2, "60"), (s3s, "4")):
        row = fake.stock_row(s)
        before = dict(rows_before[s], quantity=want)
        check(row == before, f"row {s}: only the quantity changed: {before} -> {row}")
    puts = fake.seen("/api/stock_availables/", "PUT")
    check(len(puts) == 3, f"three PUTs: {len(puts)}")
    check(fake.lost_updates() == [], f"no lost update: {fake.lost_updates()}")
    check(len(list_reads(fake, "products")) == 2,
          f"the map read once, products over 2 pages of 2: {len(list_reads(fake, 'products'))}")
    check(all("limit=" in r["query"] for r in list_reads(fake, "products")), "paged with limit")

    # 2. A race after a list read (the unknown SKU refreshes the map, which lists the row): the
    #    write re-reads the row, so the new location survives. The unknown SKU is a dead letter.
    #    A second unknown SKU right behind it costs no second map read.
    fake.race(s1, changes={"location": "B-7"}, after="list")
    reads = len(list_reads(fake, "products"))
    drop(d + "/in", "2.ndjson", [level("NOPE-1", 1), level("NOPE-1B", 1), level("OB-1", 9)])
    wait_for(lambda: fake.stock("OB-1") == 9, what="OB-1 at 9")
    check(len(list_reads(fake, "products")) == reads + 2,
          f"one more map read (2 pages) for two unknown SKUs: {len(list_reads(fake, 'products'))}")
    check(fake.stock_row(s1)["location"] == "B-7", f"the raced location kept: {fake.stock_row(s1)}")
    check(fake.lost_updates() == [], f"no lost update under the race: {fake.lost_updates()}")
    dl = dead_letters(dm)
    check(len(dl) == 2 and "NOPE-1:" in dl[0]["last_error"] and "NOPE-1B" in dl[1]["last_error"]
          and fake.url in dl[0]["last_error"],
          f"the unknown SKUs' dead letters name them and the shop: {dl}")

    # 3. write-method auto on PrestaShop 8 (PSWS-Version 8.1.7) is PATCH; a race right after the
    #    single read loses nothing either.
    fake.race(s2, changes={"location": "C-3"}, after="single")
    drop(d + "/inp", "3.ndjson", [level("OB-2", 61)])
    wait_for(lambda: fake.stock("OB-2") == 61, what="OB-2 at 61 by PATCH")
    check(len(fake.seen("/api/stock_availables/", "PATCH")) == 1, "one PATCH")
    check(fake.stock_row(s2)["location"] == "C-3" and fake.lost_updates() == [],
          f"patch loses nothing: {fake.stock_row(s2)} {fake.lost_updates()}")

    # 3a. write-method auto on PrestaShop 1.7 (no PATCH there) is PUT, of the whole row.
    drop(d + "/in17", "3a.ndjson", [level("OB-1", 4)])
    wait_for(lambda: old.stock("OB-1") == 4, what="OB-1 at 4 on the 1.7 shop")
    check(any("filter[id_shop]=[1]" in unquote(r["query"])
              for r in old.seen("/api/stock_availables", "GET")), "id-shop filters the rows")
    check(len(old.seen("/api/stock_availables/", "PUT")) == 1 and
          not old.seen("/api/stock_availables/", "PATCH") and
          old.stock_row(os1)["location"] == "Z-9", "auto is PUT on 1.7, the row intact")

    # 3b. A timeout (the shop hangs for 3 s, the connector waits 1 s): retried, then written.
    n_dl = len(dead_letters(dm))
    fake.hang_next(1, 3, path="/api/stock_availables/")
    drop(d + "/inp", "3b.ndjson", [level("OB-2", 62)])
    wait_for(lambda: fake.stock("OB-2") == 62, timeout=60, what="OB-2 at 62 after a timeout")
    check(len(dead_letters(dm)) == n_dl, "no dead letter for the timeout")
    check(len([r for r in fake.seen("/api/stock_availables/", "GET")
               if r["path"] == f"/api/stock_availables/{s2}"]) >= 3,
          "the read was made again after the timeout")

    # 4. Prices, 23% tax in the canonical price: a product's price and a combination's impact.
    prod_before = fake.product(p1)
    drop(d + "/in", "4.ndjson", [price("OB-1", 12300), price("OB-3-M", 7380)])
    wait_for(lambda: fake.price("OB-3-M") == "10.000000", what="the combination's impact")
    check(fake.price("OB-1") == "100.000000", f"100 excl. tax: {fake.price('OB-1')}")
    drop(d + "/in", "4b.ndjson", [price("OB-1", 14760)])
    wait_for(lambda: fake.price("OB-1") == "120.000000", what="OB-1 at 120 excl. tax")
    after = fake.product(p1)
    same = {k: v for k, v in prod_before.items() if k not in ("price", "date_upd")}
    check(all(after.get(k) == v for k, v in same.items()),
          f"the product's other fields intact: {prod_before} -> {after}")
    check(len(fake.seen("/api/products/", "PUT")) == 1 and
          len(fake.seen("/api/combinations/", "PUT")) == 1,
          "one PUT per changed price (an unchanged price is not written)")

    # 5. 5xx twice, then a 503 (the webservice disabled) with Retry-After: retried, then written.
    n_dl = len(dead_letters(dm))
    fake.fail_next(2, 500, path="/api/stock_availables/")
    drop(d + "/in", "5.ndjson", [level("OB-1", 11)])
    wait_for(lambda: fake.stock("OB-1") == 11, timeout=60, what="OB-1 at 11 after two 500s")
    fake.fail_next(1, 503, retry_after=1, path="/api/stock_availables/")
    drop(d + "/in", "5b.ndjson", [level("OB-1", 12)])
    wait_for(lambda: fake.stock("OB-1") == 12, timeout=60, what="OB-1 at 12 after a 503")
    check(len(dead_letters(dm)) == n_dl, "no dead letter for the 500s and the 503")
    check([r["status"] for r in fake.seen(f"/api/stock_availables/{s1}", "GET")][-2:] == [503, 200],
          "the 503's read made again")

    # 6. 401 (a disabled key): a dead letter after exactly one request.
    n_req = len(fake.seen())
    drop(d + "/in401", "6.ndjson", [level("OB-1", 1)])
    wait_for(lambda: len(dead_letters(dm)) == n_dl + 1, what="the 401's dead letter")
    dl = dead_letters(dm)[-1]
    check(dl["attempts"] == 1 and "HTTP 401" in dl["last_error"] and "[20]" in dl["last_error"]
          and "key" in dl["last_error"], f"401: {dl}")
    check(len(fake.seen()) - n_req == 1, f"one request: {len(fake.seen()) - n_req}")

    # 7. 405: the key may read but not write.
    drop(d + "/in405", "7.ndjson", [level("OB-2", 2)])
    wait_for(lambda: len(dead_letters(dm)) == n_dl + 2, what="the 405's dead letter")
    dl = dead_letters(dm)[-1]
    check(dl["attempts"] == 1 and "HTTP 405" in dl["last_error"] and "PATCH" in dl["last_error"]
          and "[25]" in dl["last_error"], f"405: {dl}")
    check(fake.stock("OB-2") == 62, "nothing written with the read-only key")

    # 8. Snapshots: stock and price, batched by filter[id], an unknown SKU listed.
    snap = ctl(dm, "snapshot", "ps", "stock", "OB-1,OB-3-S,NOPE-2")
    items = sorted((i["sku"], i["location"], i["available"]) for i in snap.get("items", []))
    check(items == [("OB-1", "web", 12), ("OB-3-S", "web", 4)] and
          snap.get("unknown") == ["NOPE-2"], f"stock snapshot: {snap}")
    check(any("filter[id]=[" in unquote(r["query"]) and "|" in unquote(r["query"])
              for r in fake.seen("/api/stock_availables", "GET")), "batched filter[id] read")
    snap = ctl(dm, "snapshot", "ps", "price", "OB-1,OB-3-M")
    prices = sorted((i["sku"], i["price"]["amount"], i["price"]["currency"])
                    for i in snap.get("items", []))
    check(prices == [("OB-1", 14760, "PLN"), ("OB-3-M", 7380, "PLN")], f"price snapshot: {snap}")
    check(dm.stop() == 0, "the daemon stopped cleanly")
    os.replace(dm.log_path, dm.log_path + ".1")  # the first run's log, kept

    # 9. Restart: the map comes from state, no list read before the write.
    lists = len(list_reads(fake, "products"))
    dm = Daemon(cfg_path, env=env)
    drop(d + "/in", "9.ndjson", [level("OB-3-M", 8)])
    wait_for(lambda: fake.stock("OB-3-M") == 8, what="OB-3-M at 8 after the restart")
    check(len(list_reads(fake, "products")) == lists,
          f"no map read after the restart: {len(list_reads(fake, 'products')) - lists}")
    check("identity map restored from state" in dm.text(), "the log says so")
    check(fake.lost_updates() == [], "no lost update at all")
    check(dm.stop() == 0, "the daemon stopped cleanly")
    fake.close()
    old.close()
    done()


if __name__ == "__main__":
    main()
