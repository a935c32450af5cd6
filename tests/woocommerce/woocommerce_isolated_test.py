#!/usr/bin/env python3
"""The woocommerce connector in a supervised child process (isolate="process"): deliveries
come one at a time (deliver, not deliver_batch), the SKU map is stored through the link to the
daemon's state and restored after a restart of the daemon without listing the shop again; an
unknown SKU is still a dead letter naming it."""
import sys

sys.dont_write_bytecode = True

from woocommerce_helpers import connector, dead_letters, env, level, route
from omb import Daemon, check, config, done, drop, file_source, wait_for, workdir, write_config
from woocommerce_fake import WooCommerceFake


def main():
    fake = WooCommerceFake().start()
    for s in ("OB-1", "OB-2", "OB-3"):
        fake.add_product(s, "10.00", stock_quantity=0)
    d = workdir("woocommerce-isolated")
    cfg = config(file_source("src", d + "/in") +
                 connector("shop", fake.url, attrs=' isolate="process"') +
                 route("out", "src", "shop"), drain="30s")
    dm = Daemon(write_config(d, cfg), env=env())
    drop(d + "/in", "1.ndjson", [level("OB-1", "web", 1), level("OB-2", "web", 2),
                                 level("NOPE", "web", 3), level("OB-3", "web", 4)])
    wait_for(lambda: fake.stock("OB-1") == 1 and fake.stock("OB-2") == 2 and
             fake.stock("OB-3") == 4, what="the levels")
    wait_for(lambda: len(dead_letters(dm)) == 1, what="the unknown SKU")
    dl = dead_letters(dm)
    check(len(dl) == 1 and "NOPE" in dl[0]["last_error"], f"unknown SKU: {dl}")
    check(all(b["total"] == 1 for b in fake.batch_sizes()), f"one item a request: "
          f"{fake.batch_sizes()}")
    check(dm.stop() == 0, "clean stop")
    lists = len(fake.seen("/wp-json/wc/v3/products", "GET"))
    dm = Daemon(write_config(d, cfg), env=env())
    drop(d + "/in", "2.ndjson", [level("OB-1", "web", 10)])
    wait_for(lambda: fake.stock("OB-1") == 10, what="a level after the restart")
    check(len(fake.seen("/wp-json/wc/v3/products", "GET")) == lists,
          "the map restored from state through the link: no listing")
    check(dm.stop() == 0, "clean stop")
    fake.close()


main()
done()
