"""Helpers for the shopify connector's integration tests (not a test itself): import paths of
tests/integration (omb.py) and tests/fakes (shopify_fake.py), the connector's config, canonical
events, the dead-letter queue and snapshots through omnibusctl."""
import datetime
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

from omb import BUILDDIR, check  # noqa: E402
import shopify_fake as sf  # noqa: E402

OMNIBUSCTL = os.path.join(os.path.abspath(BUILDDIR), "omnibusctl")
TOKEN = sf.DEFAULT_TOKEN
SECRET = "test_secret"
VERSION = "2026-01"


def connector(name, fake, locations, extra=(), attrs=""):
    """A shopify connector on the fake; extra options replace the defaults of the same name."""
    given = {k for k, _ in extra}
    opts = [(k, v) for k, v in [("shop-url", fake.url), ("access-token", "env:OMB_TEST_SHOP_TOKEN"),
                                ("api-version", VERSION), ("locations", locations),
                                ("timeout", "5s")] if k not in given] + list(extra)
    lines = "".join(f'    <option name="{k}">{v}</option>\n' for k, v in opts)
    return f'  <connector name="{name}" plugin="shopify"{attrs}>\n{lines}  </connector>\n'


def route(name, src, dst, types=None, conflate=False):
    t = f' type="{types}"' if types else ""
    c = ' conflate="key"' if conflate else ""
    return (f'  <route name="{name}"><from connector="{src}"{t}/>'
            f'<to connector="{dst}"{c}/></route>\n')


def env():
    return {"OMB_TEST_SHOP_TOKEN": TOKEN}


def ts(seconds_ago=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def level(sku, loc, on_hand):
    as_of = ts(30)
    return {"type": "stock.level", "key": f"{sku}@{loc}", "time": as_of,
            "body": {"sku": sku, "location": loc, "on_hand": on_hand, "as_of": as_of}}


def price(sku, amount, currency="PLN"):
    return {"type": "price.set", "key": sku, "time": ts(1),
            "body": {"sku": sku, "price": {"amount": amount, "currency": currency}}}


def ctl(dm, *args):
    p = subprocess.run([OMNIBUSCTL, "--socket", dm.admin] + list(args), capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def dead_letters(dm):
    rc, out, err = ctl(dm, "--json", "dead-letters")
    if not check(rc == 0, f"omnibusctl dead-letters: {rc} {err}"):
        return []
    return json.loads(out).get("dead_letters", [])


def mutations(fake, field="inventorySetQuantities"):
    """The GraphQL requests that carried this root field."""
    return [r for r in fake.requests if r.get("graphql") and field in r["graphql"]]
