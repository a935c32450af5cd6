#!/usr/bin/env python3
"""The shopify connector's webhooks end to end: the fake sends signed deliveries to the daemon's
HTTP ingress and a file sink collects what the connector emits. Proves: the vendor test vector
verifies; a tampered body with the original signature, a wrong and a missing signature get 401
and emit nothing; inventory_levels/update becomes stock.level with the SKU and the canonical
location; orders/create becomes order.created (lines in minor units, the discount, the pickup
location) and customer.identified; a replay of the same delivery gives no second event;
products/update teaches the identity map a new variant without a catalog read and (with
emit-prices) emits its price.set."""
import sys

sys.dont_write_bytecode = True

from shopify_helpers import SECRET, connector, env, mutations, route, sf
from omb import (Daemon, check, config, done, file_sink, read_lines, wait_for, workdir,
                 write_config)
from omb_http import listen_port

VECTOR_BODY = b'{"inventory_item_id":111,"location_id":222,"available":5}'
VECTOR_SIG = "EUhB2qAsur6nP/U5HnbZMqKE76kwYMmFhlprtMu0Czc="


def main():
    fake = sf.ShopifyFake().start()
    waw = fake.add_location("WAW01")
    gda = fake.add_location("GDA03")
    fake.add_product("K", [{"sku": "OB-1", "price": "129.99", "available": {waw: 5}},
                           {"sku": "OB-2", "price": "29.99", "available": {waw: 1}}])
    d = workdir("shopify-webhook")
    out = d + "/out.ndjson"
    cfg = config(connector("shop", fake, f"WAW01={waw},GDA03={gda}",
                           extra=[("webhook-secret", "env:OMB_TEST_SHOP_SECRET"),
                                  ("webhook-path", "shopify"), ("emit-prices", "true")]) +
                 file_sink("out", out) + route("in", "shop", "out"),
                 extra='  <http listen="127.0.0.1:0"/>\n')
    e = env()
    e["OMB_TEST_SHOP_SECRET"] = SECRET
    dm = Daemon(write_config(d, cfg), env=e)
    port = listen_port(dm)
    url = f"http://127.0.0.1:{port}/hooks/shop/shopify"
    wait_for(lambda: "catalog read: 2 SKUs" in dm.text(), what="the map read after start")
    reads = len(mutations(fake, "productVariants"))

    # The vendor vector: it verifies (the item is unknown: nothing to emit).
    check(sf.signature(SECRET, VECTOR_BODY) == VECTOR_SIG, "the fake agrees with the vector")
    r = fake.send_webhook(url, "inventory_levels/update", VECTOR_BODY, SECRET,
                          hmac_override=VECTOR_SIG)
    check(r["status"] == 200, f"the vendor vector verifies: {r['status']} {r['attempts']}")

    # Refused: tampered body with the original signature, wrong, missing.
    tampered = VECTOR_BODY.replace(b":5}", b":6}")
    for what, body, sig in [("tampered", tampered, VECTOR_SIG),
                            ("wrong", VECTOR_BODY, sf.signature("other", VECTOR_BODY)),
                            ("missing", VECTOR_BODY, "")]:
        r = fake.send_webhook(url, "inventory_levels/update", body, SECRET, hmac_override=sig)
        check(r["status"] == 401, f"{what} signature: 401, got {r['status']}")

    # A level: the SKU and the canonical location.
    item1 = fake.item_id_by_sku("OB-1")
    r = fake.send_webhook(url, "inventory_levels/update",
                          fake.inventory_level_payload(item1, waw, available=17), SECRET)
    check(r["status"] == 200, f"level accepted: {r['status']}")
    wait_for(lambda: len(read_lines(out)) == 1, what="the stock.level")
    ev = read_lines(out)[0]
    check(ev["type"] == "stock.level" and ev["key"] == "OB-1@WAW01" and
          ev["body"]["on_hand"] == 17 and ev["body"]["location"] == "WAW01",
          f"the stock.level: {ev}")

    # An order picked up in Gdańsk, with a customer and a line discount; then its replay.
    payload = fake.order_payload([{"sku": "OB-1", "quantity": 1, "discount": "13.00"},
                                  {"sku": "OB-2", "quantity": 2}],
                                 customer={"id": 7390123456789, "email": "anna@example.pl",
                                           "first_name": "Anna", "last_name": "Kowalska"},
                                 pickup_location_id=gda)
    r = fake.send_webhook(url, "orders/create", payload, SECRET, event_id="ev-order-1")
    check(r["status"] == 200, f"order accepted: {r['status']}")
    wait_for(lambda: len(read_lines(out)) == 3, what="order.created and customer.identified")
    fake.resend(r)
    r2 = fake.send_webhook(url, "orders/create", payload, SECRET, event_id="ev-order-1")
    check(r2["status"] == 200, f"the replays are answered 200: {r2['status']}")
    evs = read_lines(out)
    orders = [x for x in evs if x["type"] == "order.created"]
    custs = [x for x in evs if x["type"] == "customer.identified"]
    check(len(orders) == 1 and len(custs) == 1, f"one order, one customer: {len(evs)} events")
    if orders:
        b = orders[0]["body"]
        lines = [(li["sku"], li["qty"], li["unit_price"]["amount"], li.get("discount", {})
                  .get("amount")) for li in b["lines"]]
        check(lines == [("OB-1", 1, 12999, 1300), ("OB-2", 2, 2999, None)], f"lines: {lines}")
        check(b["fulfilment"] == {"method": "pickup", "location": "GDA03"},
              f"pickup at GDA03: {b['fulfilment']}")
        check(b["total"]["currency"] == "PLN" and b["order_id"] == str(payload["id"]),
              f"total and id: {b['total']} {b['order_id']}")
    if custs:
        ids = {(i["kind"], i["value"]) for i in custs[0]["body"]["identifiers"]}
        check(("email", "anna@example.pl") in ids and ("shopify", "7390123456789") in ids,
              f"identifiers: {ids}")

    # products/update: a new variant is learnt without a catalog read.
    p = fake.add_product("Nowa", [{"sku": "NEW-1", "price": "5.00", "available": {waw: 2}}])
    r = fake.send_webhook(url, "products/update", fake.product_payload(p["id"]), SECRET)
    check(r["status"] == 200, f"product accepted: {r['status']}")
    wait_for(lambda: any(x["type"] == "price.set" for x in read_lines(out)), what="its price.set")
    ps = [x for x in read_lines(out) if x["type"] == "price.set"]
    check(len(ps) == 1 and ps[0]["key"] == "NEW-1" and
          ps[0]["body"]["price"] == {"amount": 500, "currency": "PLN"},
          f"emit-prices: one price.set in minor units: {ps}")
    n = len(read_lines(out))
    r = fake.send_webhook(url, "inventory_levels/update",
                          fake.inventory_level_payload(fake.item_id_by_sku("NEW-1"), waw,
                                                       available=3), SECRET)
    wait_for(lambda: len(read_lines(out)) == n + 1, what="the new SKU's level")
    check(read_lines(out)[-1]["key"] == "NEW-1@WAW01", "the new SKU mapped")
    check(len(mutations(fake, "productVariants")) == reads, "no catalog read for it")
    check(dm.stop() == 0, "clean stop")
    fake.close()
    done()


if __name__ == "__main__":
    main()
