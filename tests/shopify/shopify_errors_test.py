#!/usr/bin/env python3
"""The shopify connector's failures end to end against the fake Shopify Admin API (at API
2026-10, where levels opt out of compare-and-set with changeFromQuantity: null): a 401 is a
dead letter after exactly one request, with a reason naming the token; a 429 with Retry-After
is retried no sooner than it says and applied once (the same @idempotent key on both tries);
THROTTLED (the cost bucket empty) is retried and applied once; 503s and a timeout are retried;
an unsupported event type is a dead letter with a reason; an isolated instance (a child
process) delivers too. Counts, no timing beyond "no sooner
than Retry-After"."""
import sys

sys.dont_write_bytecode = True

from shopify_helpers import connector, dead_letters, env, level, route, sf
from omb import Daemon, check, config, done, drop, file_source, wait_for, workdir, write_config

NEW = "2026-10"  # the default: changeFromQuantity: null, the key required
GQL = f"/admin/api/{NEW}/graphql"


def tries_of(fake, item, qty):
    """The inventory mutations that set item to qty, in order."""
    out = []
    for r in fake.seen(path=GQL):
        v = (r.get("json") or {}).get("variables") or {}
        for q in (v.get("input") or {}).get("quantities", []):
            if q["inventoryItemId"].endswith("/" + str(item)) and q["quantity"] == qty:
                out.append(r)
    return out


def main():
    fake = sf.ShopifyFake().start()
    waw = fake.add_location("WAW01")
    fake.add_product("K", [{"sku": f"OB-{i}", "price": "10.00", "available": {waw: 0}}
                           for i in range(1, 6)])
    item = {f"OB-{i}": fake.item_id_by_sku(f"OB-{i}") for i in range(1, 6)}
    d = workdir("shopify-errors")
    cfg = config(file_source("src", d + "/in") +
                 connector("shop", fake, f"WAW01={waw}",
                           extra=[("timeout", "1s"), ("api-version", NEW)]) +
                 route("out", "src", "shop"), drain="30s")
    dm = Daemon(write_config(d, cfg), env=env())
    drop(d + "/in", "0.ndjson", [level("OB-1", "WAW01", 50)])
    wait_for(lambda: fake.level_by_sku("OB-1", waw) == 50, what="the first level")
    first = fake.seen(path=GQL, graphql="inventorySetQuantities")[0]["json"]["variables"]["input"]
    check("ignoreCompareQuantity" not in first and
          all("changeFromQuantity" in q and q["changeFromQuantity"] is None
              for q in first["quantities"]), f"from 2026-04 changeFromQuantity: null: {first}")

    # 401: exactly one request, then the dead letter.
    n = len(fake.requests)
    fake.fail_next(1, 401, path=GQL)
    drop(d + "/in", "1-401.ndjson", [level("OB-2", "WAW01", 5)])
    wait_for(lambda: len(dead_letters(dm)) == 1, what="the 401's dead letter")
    dl = dead_letters(dm)
    check(len(dl) == 1 and dl[0]["attempts"] == 1 and "HTTP 401" in dl[0]["last_error"] and
          "access-token" in dl[0]["last_error"], f"dead-lettered at once, clearly: {dl}")
    check(len(fake.requests) - n == 1, f"exactly one request: {len(fake.requests) - n}")

    # 429 with Retry-After 2: retried no sooner, applied once with the same key.
    fake.fail_next(1, 429, retry_after=2, path=GQL)
    drop(d + "/in", "2-429.ndjson", [level("OB-3", "WAW01", 7)])
    wait_for(lambda: fake.level_by_sku("OB-3", waw) == 7, timeout=60, what="the level after 429")
    t = tries_of(fake, item["OB-3"], 7)
    if check(len(t) == 2, f"two tries: {len(t)}"):
        check([r["status"] for r in t] == [429, 200],
              f"429, then taken: {[r['status'] for r in t]}")
        check(t[1]["time"] - t[0]["time"] >= 2.0, f"no sooner than Retry-After: "
              f"{t[1]['time'] - t[0]['time']:.3f} s")
        check(t[0]["json"]["variables"]["key"] == t[1]["json"]["variables"]["key"],
              "the same idempotency key")
    check(len([c for c in fake.changes(sku="OB-3") if c["via"].startswith("graphql")]) == 1,
          "applied once")

    # THROTTLED: the bucket emptied behind the connector's back.
    fake.set_graphql_bucket(available=0)
    drop(d + "/in", "3-throttled.ndjson", [level("OB-4", "WAW01", 9)])
    wait_for(lambda: fake.level_by_sku("OB-4", waw) == 9, timeout=60,
             what="the level after THROTTLED")
    t = tries_of(fake, item["OB-4"], 9)
    check(len(t) >= 2, f"THROTTLED, then taken: {len(t)} tries")
    check(len({r["json"]["variables"]["key"] for r in t}) == 1, "one idempotency key")
    check(len([c for c in fake.changes(sku="OB-4") if c["via"].startswith("graphql")]) == 1,
          "applied once")

    # 503 twice, then a timeout: retried, applied once.
    fake.fail_next(2, 503, path=GQL)
    drop(d + "/in", "4-503.ndjson", [level("OB-5", "WAW01", 11)])
    wait_for(lambda: fake.level_by_sku("OB-5", waw) == 11, timeout=60, what="the level after 503s")
    t = tries_of(fake, item["OB-5"], 11)
    check([r["status"] for r in t] == [503, 503, 200], f"503, 503, 200: {[r['status'] for r in t]}")
    fake.hang_next(1, 3.0, path=GQL)
    drop(d + "/in", "5-hang.ndjson", [level("OB-5", "WAW01", 12)])
    wait_for(lambda: fake.level_by_sku("OB-5", waw) == 12, timeout=60,
             what="the level after a timeout")
    check(len([c for c in fake.changes(sku="OB-5") if c["via"].startswith("graphql")]) == 2,
          "each level applied once")

    # An event type the connector does not take.
    drop(d + "/in", "6-other.ndjson", [{"type": "order.created", "key": "1",
                                        "body": {"order_id": "1"}}])
    wait_for(lambda: len(dead_letters(dm)) == 2, what="the unsupported type's dead letter")
    check("not one the shopify connector takes" in dead_letters(dm)[-1]["last_error"],
          "the reason names the types it takes")
    check(dm.stop() == 0, "clean stop")

    # Isolated in a child process (deliver_batch with one at a time, state over the link).
    d2 = workdir("shopify-errors-isolated")
    cfg = config(file_source("src", d2 + "/in") +
                 connector("shop", fake, f"WAW01={waw}", attrs=' isolate="process"',
                           extra=[("api-version", NEW)]) +
                 route("out", "src", "shop"), drain="30s")
    dm = Daemon(write_config(d2, cfg), env=env())
    drop(d2 + "/in", "1.ndjson", [level("OB-1", "WAW01", 77), level("OB-2", "WAW01", 78)])
    wait_for(lambda: fake.level_by_sku("OB-1", waw) == 77 and fake.level_by_sku("OB-2", waw) == 78,
             what="levels from an isolated instance")
    check(dm.stop() == 0, "clean stop of the isolated instance")
    fake.close()
    done()


if __name__ == "__main__":
    main()
