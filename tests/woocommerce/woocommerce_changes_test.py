#!/usr/bin/env python3
"""emit-shop-changes: product.updated webhooks become stock.level and price.set for values the
connector did not write itself. Proves, with counts: the echoes of the connector's own batch
writes (WooCommerce sends product.updated for each) emit nothing; a stock edit in wp-admin
becomes one stock.level at the option's location, a price edit one price.set in minor units,
and a field that did not change emits nothing; the same delivery sent again is one event."""
import sys

sys.dont_write_bytecode = True

from woocommerce_helpers import HOOK_SECRET, connector, env, level, price, route
from omb import (Daemon, check, config, done, drop, file_sink, file_source, read_lines,
                 wait_for, workdir, write_config)
from omb_http import listen_port
from woocommerce_fake import WooCommerceFake

PATH = "/hooks/shop/woocommerce"


def main():
    fake = WooCommerceFake().start()
    p1 = fake.add_product("OB-1", "129.99", stock_quantity=10)
    p2 = fake.add_product("OB-2", "49.90", stock_quantity=4)
    d = workdir("woocommerce-changes")
    out = d + "/out.ndjson"
    cfg = config(file_source("src", d + "/in") +
                 connector("shop", fake.url, extra=[("webhook-secret", "env:OMB_TEST_WC_HOOK"),
                                                    ("emit-shop-changes", "true")]) +
                 file_sink("out", out) + route("in", "shop", "out") +
                 route("to-shop", "src", "shop"),
                 extra='  <http listen="127.0.0.1:0"/>\n')
    dm = Daemon(write_config(d, cfg), env=env())
    port = listen_port(dm)
    wait_for(lambda: "SKU map read" in dm.text(), what="the map")
    hook = fake.add_webhook(f"http://127.0.0.1:{port}{PATH}", "product.updated", HOOK_SECRET)

    # Our own writes: echoed by the shop, nothing emitted.
    drop(d + "/in", "1.ndjson", [level("OB-1", "web", 30), price("OB-2", 5990)])
    wait_for(lambda: fake.stock("OB-1") == 30 and
             fake.price("OB-2")["regular_price"] == "59.90", what="the writes")
    fake.flush_webhooks()
    wait_for(lambda: len([x for x in fake.deliveries(hook["id"]) if x["kind"] == "delivery"
                          and x["status"] == 200]) >= 2, what="the echoes")
    check(read_lines(out) == [], f"no echo emitted: {read_lines(out)}")

    # Edits in wp-admin, announced by product.updated.
    fake.set_stock("OB-2", 7)
    sent = fake.deliver("product.updated", p2)
    fake.set_price("OB-1", regular_price="99.00")
    fake.deliver("product.updated", p1)
    wait_for(lambda: len(read_lines(out)) == 2, what="the two changes")
    evs = read_lines(out)
    check([(e["type"], e["key"]) for e in evs] == [("stock.level", "OB-2@web"),
                                                  ("price.set", "OB-1")], f"the changes: {evs}")
    if len(evs) == 2:
        check(evs[0]["body"]["on_hand"] == 7 and evs[0]["body"]["location"] == "web",
              f"stock: {evs[0]['body']}")
        check(evs[1]["body"]["price"] == {"amount": 9900, "currency": "PLN"},
              f"price: {evs[1]['body']}")
    fake.resend(sent[0])
    fake.deliver("product.updated", p2)  # nothing changed since
    wait_for(lambda: len([x for x in fake.deliveries(hook["id"]) if x["kind"] == "delivery"])
             >= 6, what="the repeats")
    check(len(read_lines(out)) == 2, f"still two events: {len(read_lines(out))}")
    check(dm.stop() == 0, "clean stop")
    fake.close()


main()
done()
