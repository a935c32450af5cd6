"""Helpers for the prestashop connector's integration tests (not a test itself): the import paths
of tests/integration (omb.py) and tests/fakes (prestashop_fake.py), the connector's config,
canonical events, dead letters and snapshots through omnibusctl."""
import datetime
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the sources (a srcdir may be read-only)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

from omb import BUILDDIR, check  # noqa: E402

OMNIBUSCTL = os.path.join(os.path.abspath(BUILDDIR), "omnibusctl")
KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"


def connector(name, fake_url, extra=(), key_env="OMB_TEST_PS_KEY"):
    """A prestashop connector on the fake, paging by 2 rows (so that every list read has several
    pages); extra options replace the defaults of the same name."""
    given = {k for k, _ in extra}
    opts = [(k, v) for k, v in [("shop-url", fake_url), ("key", "env:" + key_env),
                                ("location", "web"), ("currency", "PLN"),
                                ("timeout", "5s"), ("page-size", "2")]
            if k not in given] + list(extra)
    lines = "".join(f'    <option name="{k}">{v}</option>\n' for k, v in opts)
    return f'  <connector name="{name}" plugin="prestashop">\n{lines}  </connector>\n'


def route(name, src, dst, types=None):
    t = f' type="{types}"' if types else ""
    return f'  <route name="{name}"><from connector="{src}"{t}/><to connector="{dst}"/></route>\n'


def ts(seconds_ago=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def level(sku, on_hand, loc="web"):
    return {"type": "stock.level", "key": f"{sku}@{loc}", "time": ts(5),
            "body": {"sku": sku, "location": loc, "on_hand": on_hand, "as_of": ts(5)}}


def available(sku, n, channel="web"):
    return {"type": "stock.available", "key": f"{sku}@{channel}", "time": ts(5),
            "body": {"sku": sku, "channel": channel, "available": n, "as_of": ts(5)}}


def price(sku, amount, currency="PLN"):
    return {"type": "price.set", "key": sku, "time": ts(1),
            "body": {"sku": sku, "price": {"amount": amount, "currency": currency}}}


def ctl(dm, *args):
    p = subprocess.run([OMNIBUSCTL, "--socket", dm.admin, "--json"] + list(args),
                       capture_output=True, text=True, timeout=60)
    if not check(p.returncode == 0, f"omnibusctl {args}: {p.returncode} {p.stdout} {p.stderr}"):
        return {}
    return json.loads(p.stdout)


def dead_letters(dm):
    return ctl(dm, "dead-letters").get("dead_letters", [])
