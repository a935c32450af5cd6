#!/usr/bin/env python3
"""The woocommerce connector on a plain-HTTP shop (auth oauth1): the fake shop with https=False
takes only OAuth 1.0a (signature over the method, the base URL and the sorted parameters, key =
secret + "&", a timestamp within 15 minutes, a nonce used once). Proves: the SKU map is read
over several pages, levels and a price are written with the batch endpoint, and a snapshot
(sku=A,B,C: commas encoded and signed) reads them back; every request is signed
(oauth_signature in the query, HMAC-SHA256, no Authorization header) and none is refused.
Beside it, a second connector with auth query on an HTTPS-playing fake sends the key pair as
consumer_key/consumer_secret query parameters, without an Authorization header."""
import sys

sys.dont_write_bytecode = True

from woocommerce_helpers import connector, ctl, env, level, price, route
from omb import Daemon, check, config, done, drop, file_source, wait_for, workdir, write_config
from woocommerce_fake import WooCommerceFake


def main():
    fake = WooCommerceFake(https=False).start()
    qfake = WooCommerceFake().start()
    qfake.add_product("Q-1", "1.00", stock_quantity=0)
    fake.set_page_cap(2)
    for s in ("OB-1", "OB-2", "OB-3", "OB-4", "OB-5"):
        fake.add_product(s, "10.00", stock_quantity=0)
    d = workdir("woocommerce-oauth")
    cfg = config(file_source("src", d + "/in") +
                 connector("shop", fake.url, extra=[("auth", "oauth1")]) +
                 route("out", "src", "shop", types="stock.level") +
                 connector("q", qfake.url, extra=[("auth", "query")]) +
                 route("q-out", "src", "q", types="stock.available") +
                 route("p-out", "src", "shop", types="price.set"), drain="30s")
    dm = Daemon(write_config(d, cfg), env=env())
    wait_for(lambda: "SKU map read: 5 SKUs" in dm.text(), what="the map over 3 pages")
    drop(d + "/in", "1.ndjson", [level("OB-1", "web", 11), level("OB-4", "web", 44),
                                 price("OB-5", 1999)])
    wait_for(lambda: fake.stock("OB-1") == 11 and fake.stock("OB-4") == 44 and
             fake.price("OB-5")["regular_price"] == "19.99", what="the writes")
    drop(d + "/in", "2.ndjson", [{"type": "stock.available", "key": "Q-1@web",
                                  "body": {"sku": "Q-1", "channel": "web", "available": 7}}])
    wait_for(lambda: qfake.stock("Q-1") == 7, what="the query-auth write")
    qreqs = qfake.seen("/wp-json/wc/v3")
    check(qreqs and all(r["status"] == 200 and "consumer_key=ck_" in r["query"] and
                        "consumer_secret=cs_" in r["query"] and
                        "authorization" not in r["headers"] for r in qreqs),
          f"query auth: {[(r['route'], r['status']) for r in qreqs]}")
    snap = ctl(dm, "snapshot", "shop", "stock", "OB-1,OB-4,OB-2,NOPE")
    got = {i["sku"]: i["available"] for i in snap.get("items", [])}
    check(got == {"OB-1": 11, "OB-4": 44, "OB-2": 0} and snap.get("unknown") == ["NOPE"],
          f"the snapshot: {snap}")
    reqs = [r for r in fake.seen("/wp-json/wc/v3")]
    check(len(reqs) >= 6, f"requests: {len(reqs)}")
    check(all(r["status"] == 200 for r in reqs),
          f"none refused: {[(r['route'], r['status']) for r in reqs if r['status'] != 200]}")
    check(all("oauth_signature=" in r["query"] and "oauth_signature_method=HMAC-SHA256" in
              r["query"] and "authorization" not in r["headers"] for r in reqs),
          "every request signed in the query")
    check(dm.stop() == 0, "clean stop")
    check(env()["OMB_TEST_WC_CS"] not in dm.text(), "the secret is never logged")
    fake.close()
    qfake.close()


main()
done()
