#!/usr/bin/env python3
"""WooCommerce's webhooks into omnibusd through the woocommerce connector, end to end (the fake
shop sends them as WooCommerce does: PHP-encoded bodies, signatures over the raw bytes, the
ping), the events they become in a file sink; and the admin's snapshot of stock and prices.

Proves, with counts: the ping is answered 200 (the webhook stays active, nothing emitted); an
order placed in the shop becomes one order.created (order id, lines with SKU, quantity and unit
price in minor units, total, shipping address, customer email); a body changed after signing is
401 and emits nothing, as is a missing signature; the same delivery sent again is one event;
the connector's own writes come back as product.updated and emit nothing (no echo loop) while
keeping the SKU map; a product whose SKU changed in the shop is found under its new SKU through
product.updated without listing the shop again; `omnibusctl snapshot` reads stock and prices
over a page boundary and lists an unknown SKU."""
import sys

sys.dont_write_bytecode = True

from woocommerce_helpers import HOOK_SECRET, connector, ctl, env, level, route
from omb import (Daemon, check, config, done, drop, file_sink, file_source, read_lines,
                 wait_for, workdir, write_config)
from omb_http import listen_port, request
from woocommerce_fake import WooCommerceFake

PATH = "/hooks/shop/woocommerce"


def main():
    fake = WooCommerceFake().start()
    fake.add_product("OB-1", "129.99", stock_quantity=10)
    fake.add_product("OB-2", "49.90", stock_quantity=4)
    fake.add_product("OB-3", "5.00", stock_quantity=1)
    d = workdir("woocommerce-webhook")
    out = d + "/out.ndjson"
    cfg = config(file_source("src", d + "/in") +
                 connector("shop", fake.url, extra=[("webhook-secret", "env:OMB_TEST_WC_HOOK")])
                 + file_sink("out", out) + route("in", "shop", "out") +
                 route("stock", "src", "shop"),
                 extra='  <http listen="127.0.0.1:0"/>\n')
    dm = Daemon(write_config(d, cfg), env=env())
    port = listen_port(dm)
    url = f"http://127.0.0.1:{port}{PATH}"
    wait_for(lambda: "SKU map read" in dm.text(), what="the map")

    # The ping on save: 200, the webhook active.
    orders = fake.add_webhook(url, "order.created", HOOK_SECRET)
    check(orders["ping_status"] == 200 and orders["ping_error"] is None and
          orders["status"] == "active", f"the ping: {orders}")
    products = fake.add_webhook(url, "product.updated", HOOK_SECRET)
    check(products["ping_status"] == 200, f"the second ping: {products}")

    # An order placed: one order.created.
    order = fake.add_order([("OB-1", 2), ("OB-2", 1)], shipping_total="15.00")
    fake.flush_webhooks()
    wait_for(lambda: len(read_lines(out)) == 1, what="the order.created")
    evs = read_lines(out)
    ev = evs[0] if evs else {}
    body = ev.get("body", {})
    check(ev.get("type") == "order.created" and ev.get("key") == str(order["id"]) and
          body.get("order_id") == str(order["id"]) and body.get("channel") == "web",
          f"the order: {ev}")
    check(body.get("lines") == [
        {"sku": "OB-1", "qty": 2, "unit_price": {"amount": 12999, "currency": "PLN"}},
        {"sku": "OB-2", "qty": 1, "unit_price": {"amount": 4990, "currency": "PLN"}}],
        f"the lines: {body.get('lines')}")
    check(body.get("total") == {"amount": 2 * 12999 + 4990 + 1500, "currency": "PLN"} and
          body.get("shipping") == {"amount": 1500, "currency": "PLN"}, f"money: {body}")
    addr = body.get("fulfilment", {}).get("address", {})
    check(body.get("fulfilment", {}).get("method") == "ship" and addr.get("country") == "PL" and
          addr.get("city") == "Gdańsk" and addr.get("line1") == "ul. Długa 1",
          f"the address (PHP-encoded \\u escapes decoded): {body.get('fulfilment')}")
    check(body.get("customer", {}).get("email") == "anna.kowalska@example.pl", "the customer")
    check(ev.get("dedupe", "").startswith("wc:order.created:"), f"dedupe: {ev.get('dedupe')}")

    # The same delivery again (byte for byte): still one event.
    dl = [x for x in fake.deliveries(orders["id"]) if x["kind"] == "delivery"]
    again = fake.resend(dl[0])
    check(again["status"] == 200, f"the resend is acknowledged: {again['status']}")

    # Tampered body with the original signature, and no signature: 401, nothing emitted.
    h = dict(dl[0]["headers"])
    tampered = dl[0]["body"].replace(b'"quantity":2', b'"quantity":20')
    check(tampered != dl[0]["body"], "the body was changed")
    st, _, _ = request(port, PATH, tampered, headers=h)
    check(st == 401, f"tampered: {st}")
    h2 = {k: v for k, v in h.items() if k != "X-WC-Webhook-Signature"}
    st, _, _ = request(port, PATH, dl[0]["body"], headers=h2)
    check(st == 401, f"no signature: {st}")
    st, _, _ = request(port, PATH, method="GET")
    check(st == 405, f"GET: {st}")

    # A second order in the same second (same Delivery-ID possible): its own event.
    fake.add_order([("OB-3", 1)])
    fake.flush_webhooks()
    wait_for(lambda: len(read_lines(out)) == 2, what="the second order")

    # Our own writes come back as product.updated: the map is kept, nothing is emitted.
    drop(d + "/in", "1.ndjson", [level("OB-1", "web", 30)])
    wait_for(lambda: fake.stock("OB-1") == 30, what="the level")
    fake.flush_webhooks()
    wait_for(lambda: any(x["topic"] == "product.updated" and x["status"] == 200
                         for x in fake.deliveries(products["id"])),
             what="the product.updated echo")
    # A SKU renamed in the shop (wp-admin): product.updated moves it in the map.
    pid = fake.by_sku("OB-3")["id"]
    with fake.lock:
        fake.objects[pid]["sku"] = "OB-3-NEW"
    fake.deliver("product.updated", pid)
    lists = len(fake.seen("/wp-json/wc/v3/products", "GET"))
    drop(d + "/in", "2.ndjson", [level("OB-3-NEW", "web", 33)])
    wait_for(lambda: fake.stock("OB-3-NEW") == 33, what="the renamed SKU's level")
    check(len(fake.seen("/wp-json/wc/v3/products", "GET")) == lists,
          "found through the webhook, not by listing the shop")
    check(len(read_lines(out)) == 2 and all(e["type"] == "order.created"
                                            for e in read_lines(out)),
          f"two events in all: {len(read_lines(out))}")
    check(dm.text().count("webhook from") == 2, "the two 401s logged")

    # Snapshots over a page boundary (2 a page) with an unknown SKU.
    fake.set_page_cap(2)
    snap = ctl(dm, "snapshot", "shop", "stock", "OB-1,OB-2,OB-3-NEW,NOPE")
    items = {i["sku"]: i for i in snap.get("items", [])}
    check(items.get("OB-1", {}).get("available") == 30 and
          items.get("OB-2", {}).get("available") == fake.stock("OB-2") and
          items.get("OB-3-NEW", {}).get("available") == 33 and
          all(i["location"] == "web" for i in items.values()), f"the stock snapshot: {snap}")
    check(snap.get("unknown") == ["NOPE"], f"the unknown SKU: {snap.get('unknown')}")
    q = [r["query"] for r in fake.seen("/wp-json/wc/v3/products", "GET") if "sku=" in r["query"]]
    check(len(q) == 2 and "page=2" in q[1], f"two pages read: {q}")
    snap = ctl(dm, "snapshot", "shop", "price", "OB-1,OB-2,NOPE")
    items = {i["sku"]: i["price"] for i in snap.get("items", [])}
    check(items == {"OB-1": {"amount": 12999, "currency": "PLN"},
                    "OB-2": {"amount": 4990, "currency": "PLN"}} and
          snap.get("unknown") == ["NOPE"], f"the price snapshot: {snap}")

    check(dm.stop() == 0, "clean stop")
    fake.close()


main()
done()
