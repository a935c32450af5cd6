#!/usr/bin/env python3
"""The woocommerce connector when the shop fails, end to end (omnibusd, the file connector as
the source, the fake shop as the destination):

- 401 (the key revoked): the events of the request are dead letters at the first attempt,
  naming the consumer key, after exactly one request: no retry storm;
- 429 from the host's WAF with Retry-After: 2: retried no sooner than 2 s later, then applied
  once (one batch answered 200 carries it);
- 500 twice, then taken: three attempts, applied once;
- a 503 on the map read at start: the map is read at the first need;
- a timeout: retried, applied;
- a product deleted in the shop after the map was read (an invalid id inside the 200): the map
  is read again once, the event is a dead letter naming the SKU, the others of the batch are
  written; a product re-created under the same SKU is then found by replaying nothing new: the
  next level for it goes to the new id.
No assertion is about speed beyond "at least Retry-After"."""
import sys

sys.dont_write_bytecode = True

from woocommerce_helpers import CS, connector, dead_letters, env, level, route
from omb import Daemon, check, config, done, drop, file_source, wait_for, workdir, write_config
from woocommerce_fake import WooCommerceFake

BATCH = "/wp-json/wc/v3/products/batch"


def posts(fake, sku_id):
    return [r for r in fake.seen(BATCH, "POST")
            if any(i.get("id") == sku_id for i in (r["json"] or {}).get("update", []))]


def main():
    fake = WooCommerceFake().start()
    ids = {s: fake.add_product(s, "10.00", stock_quantity=0) for s in
           ("OB-1", "OB-2", "OB-3", "OB-4", "OB-5", "OB-6")}
    fake.fail_next(1, 503, path="/wp-json/wc/v3/products")  # the map read at start
    d = workdir("woocommerce-errors")
    cfg = config(file_source("src", d + "/in") +
                 connector("shop", fake.url, extra=[("timeout", "1s")]) +
                 route("out", "src", "shop"), drain="30s")
    dm = Daemon(write_config(d, cfg), env=env())
    wait_for(lambda: "read again at the first need" in dm.text(), what="the failed map read")

    drop(d + "/in", "0.ndjson", [level("OB-1", "web", 50)])
    wait_for(lambda: fake.stock("OB-1") == 50, what="the first level (map read at need)")

    # 401: one request, two dead letters, a clear reason.
    n = len(fake.seen(BATCH))
    fake.fail_next(1, 401, path=BATCH)
    drop(d + "/in", "1-401.ndjson", [level("OB-2", "web", 5), level("OB-3", "web", 6)])
    wait_for(lambda: len(dead_letters(dm)) == 2, what="the 401's dead letters")
    dl = dead_letters(dm)
    check(len(dl) == 2 and all(x["attempts"] == 1 and "HTTP 401" in x["last_error"] and
                               "consumer key" in x["last_error"] for x in dl),
          f"dead-lettered at once with a clear reason: {dl}")
    check(len(fake.seen(BATCH)) - n == 1, f"exactly one request: {len(fake.seen(BATCH)) - n}")
    check(fake.stock("OB-2") == 0, "nothing written")

    # 429 with Retry-After: 2.
    fake.fail_next(1, 429, retry_after=2, path=BATCH)
    drop(d + "/in", "2-429.ndjson", [level("OB-4", "web", 44)])
    wait_for(lambda: fake.stock("OB-4") == 44, timeout=60, what="the level after 429")
    tries = posts(fake, ids["OB-4"])
    if check(len(tries) == 2, f"two attempts: {len(tries)}"):
        check([r["status"] for r in tries] == [429, 200], "429, then taken")
        gap = tries[1]["time"] - tries[0]["time"]
        check(gap >= 1.95, f"Retry-After honoured: the retry came {gap:.2f} s later")

    # 500 twice, then taken.
    fake.fail_next(2, 500, path=BATCH)
    drop(d + "/in", "3-500.ndjson", [level("OB-5", "web", 55)])
    wait_for(lambda: fake.stock("OB-5") == 55, timeout=60, what="the level after 500s")
    tries = posts(fake, ids["OB-5"])
    check([r["status"] for r in tries] == [500, 500, 200], f"500, 500, 200: "
          f"{[r['status'] for r in tries]}")

    # A timeout: retried, applied.
    fake.hang_next(1, 2.5, path=BATCH)
    drop(d + "/in", "4-timeout.ndjson", [level("OB-6", "web", 66)])
    wait_for(lambda: fake.stock("OB-6") == 66 and len(posts(fake, ids["OB-6"])) >= 2,
             timeout=60, what="the level after a timeout")
    check(len(dead_letters(dm)) == 2, "no more dead letters")

    # A product deleted behind the connector's back.
    gone = ids["OB-2"]
    with fake.lock:
        fake._delete(fake.objects[gone])
    lists = len(fake.seen("/wp-json/wc/v3/products", "GET"))
    drop(d + "/in", "5-gone.ndjson", [level("OB-1", "web", 51), level("OB-2", "web", 52),
                                      level("OB-3", "web", 53)])
    wait_for(lambda: len(dead_letters(dm)) == 3, timeout=60, what="the deleted product")
    dl = dead_letters(dm)
    check(len(dl) == 3 and "SKU OB-2" in dl[2]["last_error"] and
          f"product id {gone} is gone" in dl[2]["last_error"] and
          "invalid_id" in dl[2]["last_error"], f"the deleted product: {dl[2:]}")
    check(fake.stock("OB-1") == 51 and fake.stock("OB-3") == 53, "the others written")
    check(len(fake.seen("/wp-json/wc/v3/products", "GET")) - lists == 1,
          "the map read again once (one page)")
    new = fake.add_product("OB-2", "10.00", stock_quantity=0)
    drop(d + "/in", "6-new.ndjson", [level("OB-2", "web", 62)])
    wait_for(lambda: fake.stock("OB-2") == 62, timeout=60, what="the re-created product")
    check(new != gone and len(dead_letters(dm)) == 3, "written to the new id")

    check(dm.stop() == 0, "clean stop")
    check(CS not in dm.text(), "the secret is never logged")
    fake.close()


main()
done()
