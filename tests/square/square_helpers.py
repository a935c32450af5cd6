"""Helpers for the square connector's integration tests (not a test itself): the import paths of
tests/integration (omb.py: Daemon, check...) and tests/fakes (square_fake.py), the connector's
config, canonical events, the dead-letter queue through omnibusctl, and the fake's requests."""
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
TOKEN = "EAAAfake-t0ken-never-logged"
LOCATIONS = "WAW01=LWAW01SQUARE,KRK02=LKRK02SQUARE,web=LWEBSQUARE"


def connector(name, fake_url, extra=(), attrs=""):
    """A square connector on the fake (the token from $OMB_TEST_SQUARE_TOKEN); extra options
    replace the defaults of the same name."""
    given = {k for k, _ in extra}
    opts = [(k, v) for k, v in [("base-url", fake_url),
                                ("access-token", "env:OMB_TEST_SQUARE_TOKEN"),
                                ("locations", LOCATIONS), ("currency", "PLN"),
                                ("timeout", "5s")] if k not in given] + list(extra)
    lines = "".join(f'    <option name="{k}">{v}</option>\n' for k, v in opts)
    return f'  <connector name="{name}" plugin="square"{attrs}>\n{lines}  </connector>\n'


def route(name, src, dst, types=None):
    t = f' type="{types}"' if types else ""
    return f'  <route name="{name}"><from connector="{src}"{t}/><to connector="{dst}"/></route>\n'


def env():
    return {"OMB_TEST_SQUARE_TOKEN": TOKEN}


def ts(seconds_ago=0.0):
    """An RFC 3339 UTC time, seconds_ago before now."""
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def level(sku, loc, on_hand, as_of=None):
    as_of = as_of or ts(30)
    return {"type": "stock.level", "key": f"{sku}@{loc}", "time": as_of,
            "body": {"sku": sku, "location": loc, "on_hand": on_hand, "as_of": as_of}}


def delta(sku, loc, d, reason, ref, when=None):
    return {"type": "stock.delta", "key": f"{sku}@{loc}", "time": when or ts(1),
            "body": {"sku": sku, "location": loc, "delta": d, "reason": reason, "ref": ref}}


def price(sku, amount, currency="PLN", **more):
    body = {"sku": sku, "price": {"amount": amount, "currency": currency}}
    body.update(more)
    return {"type": "price.set", "key": sku, "time": ts(1), "body": body}


def dead_letters(dm):
    """The dead-letter rows (dicts) of the daemon, oldest first."""
    p = subprocess.run([OMNIBUSCTL, "--socket", dm.admin, "--json", "dead-letters"],
                       capture_output=True, text=True, timeout=60)
    if not check(p.returncode == 0, f"omnibusctl dead-letters: {p.returncode} {p.stderr}"):
        return []
    return json.loads(p.stdout).get("dead_letters", [])


def batch_creates(fake):
    """The inventory batch-create requests the fake saw."""
    return fake.seen("/v2/inventory/changes/batch-create", "POST")


def changes_of(fake, variation):
    """Every change of one variation the fake was sent (in order, repeats included), as
    (idempotency key, change)."""
    out = []
    for r in batch_creates(fake):
        for ch in (r["json"] or {}).get("changes", []):
            obj = ch.get("physical_count") or ch.get("adjustment") or {}
            if obj.get("catalog_object_id") == variation:
                out.append((r["json"]["idempotency_key"], ch))
    return out
