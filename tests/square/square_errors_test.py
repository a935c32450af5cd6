#!/usr/bin/env python3
"""The square connector when Square fails, end to end (omnibusd, the file connector as the
source, the fake Square API as the destination):

- 401 (a revoked token): a dead letter at the first attempt, naming the token as the cause, and
  exactly one request to Square: no retry storm;
- 429 with Retry-After: 2: retried no sooner than 2 s later (a lower bound only), delivered
  once, the retry carrying the same idempotency key and body;
- 500 twice, then taken: three attempts, applied once;
- 503 on the catalog read of a price: retried, then set;
- a timeout after Square applied the change (the answer was lost): the retry sends the same key
  and body, Square replays its first answer, and the sale is counted once, not twice;
- a 400 with Square's error is a dead letter with its code, detail and field; a sale older than
  Square's 24 hours is one without a call.
No assertion is about speed beyond "at least Retry-After"."""
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the sources

from square_helpers import (TOKEN, batch_creates, changes_of, connector, dead_letters, delta,
                            env, level, price, route, ts)
from omb import Daemon, check, config, done, drop, file_source, wait_for, workdir, write_config
from square_fake import SquareFake

WAW = "LWAW01SQUARE"


def main():
    fake = SquareFake(token=TOKEN, page_size=3).start()
    fake.add_location(WAW)
    var = {sku: fake.add_variation(sku, price=1000) for sku in ("OB-1", "OB-2", "OB-3", "OB-4")}
    d = workdir("square-errors")
    cfg = config(file_source("src", d + "/in") +
                 connector("sq", fake.url, extra=[("timeout", "1s")]) +
                 route("out", "src", "sq"), drain="30s")
    dm = Daemon(write_config(d, cfg), env=env())

    # Warm up: the SKU map is read and a first count taken.
    drop(d + "/in", "0.ndjson", [level("OB-1", "WAW01", 50)])
    wait_for(lambda: fake.count(var["OB-1"], WAW) == 50, what="the first count")

    # 401: Square no longer takes the token.
    fake.set_token("EAAArotated")
    n = len(fake.seen())
    drop(d + "/in", "1-401.ndjson", [level("OB-2", "WAW01", 5)])
    wait_for(lambda: len(dead_letters(dm)) == 1, what="the 401's dead letter")
    dl = dead_letters(dm)
    check(len(dl) == 1 and dl[0]["attempts"] == 1 and "HTTP 401" in dl[0]["last_error"] and
          "UNAUTHORIZED" in dl[0]["last_error"] and "access-token" in dl[0]["last_error"],
          f"dead-lettered at once with a clear reason: {dl}")
    check(len(fake.seen()) - n == 1, f"exactly one request: {len(fake.seen()) - n}")
    fake.set_token(TOKEN)

    # 429 with Retry-After: 2.
    fake.fail_next(1, 429, retry_after=2, path="/v2/inventory/changes/batch-create")
    drop(d + "/in", "2-429.ndjson", [delta("OB-1", "WAW01", -1, "sale", "S-429")])
    wait_for(lambda: fake.count(var["OB-1"], WAW) == 49, timeout=60, what="the sale after 429")
    tries = [r for r in batch_creates(fake) if r["json"]["changes"][0]["type"] == "ADJUSTMENT"]
    if check(len(tries) == 2, f"two attempts: {len(tries)}"):
        check([r["status"] for r in tries] == [429, 200], "429, then taken")
        gap = tries[1]["time"] - tries[0]["time"]
        check(gap >= 1.95, f"Retry-After honoured: the retry came {gap:.2f} s later")
        check(tries[0]["body"] == tries[1]["body"], "the same idempotency key and body")

    # 500 twice, then taken: applied once.
    fake.fail_next(2, 500, path="/v2/inventory/changes/batch-create")
    drop(d + "/in", "3-500.ndjson", [delta("OB-1", "WAW01", -4, "sale", "S-500")])
    wait_for(lambda: fake.count(var["OB-1"], WAW) == 45, timeout=60, what="the sale after 500s")
    mine = [r for r in batch_creates(fake) if b"S-500" in r["body"]]
    check([r["status"] for r in mine] == [500, 500, 200], f"500, 500, 200: {mine}")
    check(len({r["json"]["idempotency_key"] for r in mine}) == 1, "one key for the three")

    # 503 on reading the variation for a price.
    fake.fail_next(1, 503, path="/v2/catalog/object/")
    drop(d + "/in", "4-503.ndjson", [price("OB-3", 4242)])
    wait_for(lambda: fake.variation(var["OB-3"])["item_variation_data"]["price_money"]["amount"]
             == 4242, timeout=60, what="the price after 503")
    gets = fake.seen("/v2/catalog/object/" + var["OB-3"], "GET")
    check([r["status"] for r in gets] == [503, 200], f"503, then read: {gets}")

    # A timeout after Square applied the sale: the retry is replayed, not applied again.
    fake.hang_next(1, 2.5, path="/v2/inventory/changes/batch-create")
    drop(d + "/in", "5-timeout.ndjson", [delta("OB-4", "WAW01", 3, "receipt", "GR-1"),
                                         delta("OB-4", "WAW01", -1, "sale", "S-T")])
    wait_for(lambda: len(changes_of(fake, var["OB-4"])) == 3, timeout=60,
             what="the receipt twice and the sale")
    four = changes_of(fake, var["OB-4"])
    check(len(four) == 3 and four[0] == four[1], f"the receipt sent twice, same key: {four}")
    check(fake.count(var["OB-4"], WAW) == 2, f"3 - 1 = 2, the receipt counted once: "
          f"{fake.count(var['OB-4'], WAW)}")
    check("timed out" in dm.text().lower() or "timeout" in dm.text().lower(),
          "the timeout is in the log")

    # Square's 400 (a location Square does not know): code, detail and field in the reason.
    # And a sale older than 24 hours: refused before any call (Square would refuse it too).
    n = len(fake.seen())
    drop(d + "/in", "6-400.ndjson", [level("OB-2", "KRK02", 1),
                                     delta("OB-2", "WAW01", -1, "sale", "S-OLD",
                                           when=ts(25 * 3600))])
    wait_for(lambda: len(dead_letters(dm)) == 3, timeout=60, what="two more dead letters")
    dl = dead_letters(dm)
    check(len(dl) == 3 and dl[1]["last_error"].startswith(
        "inventory count of SKU OB-2 at KRK02: HTTP 400 INVALID_REQUEST_ERROR INVALID_VALUE: "
        "Location LKRK02SQUARE is not a location of the seller. "
        "(field: changes[0].physical_count.location_id)"), f"Square's error: {dl[1:2]}")
    check(len(dl) == 3 and "Square takes inventory changes of the last 24 hours only" in
          dl[2]["last_error"], f"the old sale: {dl[2:]}")
    check(len(fake.seen()) - n == 1, "one request: the old sale made none")

    check(dm.stop() == 0, "clean stop")
    log = dm.text()
    check(TOKEN not in log and "EAAArotated" not in log, "the token is never logged")
    fake.close()


main()
done()
