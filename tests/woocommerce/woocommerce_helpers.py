"""Helpers for the woocommerce connector's integration tests (not a test itself): import paths
of tests/integration (omb.py) and tests/fakes (woocommerce_fake.py), the connector's config,
canonical events, dead letters and snapshots through omnibusctl."""
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
from woocommerce_fake import DEFAULT_CK, DEFAULT_CS  # noqa: E402

OMNIBUSCTL = os.path.join(os.path.abspath(BUILDDIR), "omnibusctl")
CK, CS = DEFAULT_CK, DEFAULT_CS
HOOK_SECRET = "whsec-fake-0123456789"


def connector(name, fake_url, extra=(), attrs=""):
    """A woocommerce connector on the fake (keys from the environment, see env())."""
    given = {k for k, _ in extra}
    opts = [(k, v) for k, v in [("site-url", fake_url),
                                ("consumer-key", "env:OMB_TEST_WC_CK"),
                                ("consumer-secret", "env:OMB_TEST_WC_CS"),
                                ("location", "web"), ("currency", "PLN"),
                                ("timeout", "5s")] if k not in given] + list(extra)
    lines = "".join(f'    <option name="{k}">{v}</option>\n' for k, v in opts)
    return f'  <connector name="{name}" plugin="woocommerce"{attrs}>\n{lines}  </connector>\n'


def route(name, src, dst, types=None, extra=""):
    t = f' type="{types}"' if types else ""
    return (f'  <route name="{name}"><from connector="{src}"{t}/>'
            f'<to connector="{dst}"{extra}/></route>\n')


def env():
    return {"OMB_TEST_WC_CK": CK, "OMB_TEST_WC_CS": CS, "OMB_TEST_WC_HOOK": HOOK_SECRET}


def ts(seconds_ago=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def level(sku, loc, on_hand, as_of=None):
    as_of = as_of or ts(30)
    return {"type": "stock.level", "key": f"{sku}@{loc}", "time": as_of,
            "body": {"sku": sku, "location": loc, "on_hand": on_hand, "as_of": as_of}}


def available(sku, channel, n):
    as_of = ts(10)
    return {"type": "stock.available", "key": f"{sku}@{channel}", "time": as_of,
            "body": {"sku": sku, "channel": channel, "available": n, "as_of": as_of}}


def price(sku, amount, currency="PLN", **more):
    body = {"sku": sku, "price": {"amount": amount, "currency": currency}}
    body.update(more)
    return {"type": "price.set", "key": sku, "time": ts(1), "body": body}


def ctl(dm, *args):
    p = subprocess.run([OMNIBUSCTL, "--socket", dm.admin, "--json"] + list(args),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"omnibusctl {args}: {p.returncode} {p.stdout} {p.stderr}")
    return json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else {}


def dead_letters(dm):
    return ctl(dm, "dead-letters").get("dead_letters", [])


def batches(fake):
    return fake.batch_sizes()
