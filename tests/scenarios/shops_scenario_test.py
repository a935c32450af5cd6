#!/usr/bin/env python3
"""Issue 7's scenarios across connectors, through one daemon and the three fake shops:

1. POS stock → Shopify: the shared CP1250 stock export from the Warsaw store (pos-file, 12
   rows) becomes 12 stock.level events, and the fake Shopify's levels at its WAW01 location
   equal the export's STAN column, in one inventory mutation (deliver_batch, conflated route).
2. A price change → all three shops: price.set events from a file reach the fake Shopify
   (variant price "…"), WooCommerce (regular_price) and PrestaShop (price without tax, 23 %
   VAT configured), each with the same amount.

(The third scenario — a Shopify order → order.created → a stock delta → WooCommerce and
PrestaShop lowered — needs the stock ledger of issue 8 to turn deltas into levels; not here.)"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path[:0] = [os.path.join(HERE, "..", "integration"), os.path.join(HERE, "..", "fakes")]
from omb import SRCDIR, Daemon, check, config, done, drop, wait_for, workdir  # noqa: E402
from omb import write_config  # noqa: E402
import shopify_fake as sf  # noqa: E402
from prestashop_fake import PrestaShopFake  # noqa: E402
from woocommerce_fake import DEFAULT_CK, DEFAULT_CS, WooCommerceFake  # noqa: E402

PS_KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"
STOCK = os.path.join(SRCDIR, "tests", "fixtures", "pos", "stock-WAW01-20261120.csv")


def export_rows():
    """(sku, on_hand) of the shared export, read here independently of the connector."""
    rows = []
    with open(STOCK, encoding="cp1250") as f:
        for line in f.read().splitlines()[1:]:
            cols = line.split(";")
            if len(cols) == 7:
                rows.append((cols[1], int(cols[4])))
    return rows


def opts(**kw):
    return "".join(f'    <option name="{k.replace("_", "-")}">{v}</option>\n'
                   for k, v in kw.items())


def main():
    d = workdir("scenario-shops")
    rows = export_rows()
    skus = [s for s, _ in rows]
    shop = sf.ShopifyFake(graphql_restore=5000.0).start()
    waw = shop.add_location("WAW01")
    for s in skus:
        shop.add_product(s, [{"sku": s, "price": "10.00", "available": {waw: 0}}])
    woo = WooCommerceFake().start()
    presta = PrestaShopFake(key=PS_KEY).start()
    for s in skus[:3]:
        woo.add_product(s, "10.00", stock_quantity=0)
        presta.add_product(s, "10.00", quantity=0)
    os.makedirs(d + "/pos")
    body = (
        '  <connector name="pos-waw" plugin="pos-file">\n' +
        opts(source=d + "/pos", poll="50ms", format="csv", encoding="cp1250",
             decimal_comma="true", currency="PLN",
             columns="NR_SKLEPU=location,KOD=sku,STAN=on_hand:int,DATA=as_of:datetime",
             trailer="#KONIEC", type="stock.level", key="sku,location") +
        '  </connector>\n'
        f'  <connector name="prices" plugin="file"><option name="dir">{d}/prices</option>'
        '<option name="poll">50ms</option></connector>\n'
        '  <connector name="shopify" plugin="shopify">\n' +
        opts(shop_url=shop.url, access_token="env:OMB_TEST_SHOP_TOKEN", api_version="2026-01",
             locations=f"WAW01={waw}", timeout="5s") +
        '  </connector>\n'
        '  <connector name="woo" plugin="woocommerce">\n' +
        opts(site_url=woo.url, consumer_key="env:OMB_TEST_WC_CK",
             consumer_secret="env:OMB_TEST_WC_CS", location="web", currency="PLN",
             timeout="5s") +
        '  </connector>\n'
        '  <connector name="presta" plugin="prestashop">\n' +
        opts(shop_url=presta.url, key="env:OMB_TEST_PS_KEY", location="web", currency="PLN",
             tax_rate="23", timeout="5s") +
        '  </connector>\n'
        '  <route name="stock-to-shopify"><from connector="pos-waw" type="stock.level"/>'
        '<to connector="shopify" conflate="key"/></route>\n'
        '  <route name="prices-to-shops"><from connector="prices" type="price.set"/>'
        '<to connector="shopify"/><to connector="woo"/><to connector="presta"/></route>\n')
    dm = Daemon(write_config(d, config(body, drain="30s")),
                env={"OMB_TEST_SHOP_TOKEN": sf.DEFAULT_TOKEN, "OMB_TEST_WC_CK": DEFAULT_CK,
                     "OMB_TEST_WC_CS": DEFAULT_CS, "OMB_TEST_PS_KEY": PS_KEY})

    # 1. POS stock → Shopify.
    with open(STOCK, "rb") as f:
        data = f.read()
    with open(d + "/pos/.s.tmp", "wb") as f:
        f.write(data)
    os.rename(d + "/pos/.s.tmp", d + "/pos/" + os.path.basename(STOCK))
    wait_for(lambda: all(shop.level_by_sku(s, waw) == n for s, n in rows), timeout=60,
             what="Shopify's levels equal the POS export")
    got = {s: shop.level_by_sku(s, waw) for s, _ in rows}
    check(got == dict(rows), f"Shopify holds the export's stock: {got}")
    sets = shop.requests.where(graphql="inventorySetQuantities", status=200)
    print(f"{len(rows)} levels reached Shopify in {len(sets)} inventory mutation(s)")
    check(0 < len(sets) <= 2, f"batched: {len(sets)} mutation(s) for {len(rows)} levels")

    # 2. A price change → all three shops.
    events = [{"type": "price.set", "key": s, "body": {"sku": s, "price": {
        "amount": 5999 + i, "currency": "PLN"}}} for i, s in enumerate(skus[:3])]
    drop(d + "/prices", "p.ndjson", [json.dumps(e) for e in events])

    def all_priced():
        return all(shop.price_by_sku(s) == f"{(5999 + i) / 100:.2f}" and
                   woo.price(s)["regular_price"] == f"{(5999 + i) / 100:.2f}"
                   for i, s in enumerate(skus[:3]))
    wait_for(all_priced, timeout=60, what="the prices in Shopify and WooCommerce")
    check(all_priced(), "Shopify and WooCommerce hold the new prices")
    wait_for(lambda: all(abs(float(presta.price(s)) * 1.23 - (5999 + i) / 100) < 0.01
                         for i, s in enumerate(skus[:3])), timeout=60,
             what="the prices in PrestaShop (without 23 % VAT)")
    ps = [presta.price(s) for s in skus[:3]]
    check(all(abs(float(p) * 1.23 - (5999 + i) / 100) < 0.01 for i, p in enumerate(ps)),
          f"PrestaShop holds the prices without VAT: {ps}")
    check(dm.stop() == 0, "the daemon stops cleanly")
    for fake in (shop, woo, presta):
        fake.close()
    done()


if __name__ == "__main__":
    main()
