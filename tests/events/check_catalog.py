#!/usr/bin/env python3
"""tools/catalog-to-ndjson: runs it on the catalog fixture and checks that it writes one price.set
per product and one stock.level per stock record, that every line is a valid canonical event
(docs/schemas), that keys and values match the catalog, and that the output is deterministic."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import omb_schemas  # noqa: E402

TOP = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOOL = os.path.join(TOP, "tools", "catalog-to-ndjson")
FIXTURES = os.environ.get("OMB_FIXTURES") or os.path.join(TOP, "tests", "fixtures")
CATALOG = os.path.join(FIXTURES, "catalog.json")

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg)


def run(*args):
    return subprocess.run([sys.executable, TOOL] + list(args), capture_output=True, text=True)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def main():
    schemas = omb_schemas.Schemas(os.path.join(TOP, "docs", "schemas"))
    catalog = omb_schemas.load_json(CATALOG)
    tmp = tempfile.mkdtemp(prefix="catalog_test.")
    try:
        out1, out2, out3 = (os.path.join(tmp, d) for d in ("a", "b", "c"))
        r = run(CATALOG, out1)
        check(r.returncode == 0, "tool failed: %s" % r.stderr)
        if r.returncode != 0:
            return 1
        check(sorted(os.listdir(out1)) == ["prices.ndjson", "stock.ndjson"],
              "unexpected files in the output: %s" % os.listdir(out1))

        expect = {
            "prices.ndjson": ("price.set", len(catalog["products"])),
            "stock.ndjson": ("stock.level", len(catalog["stock"])),
        }
        prices = {p["sku"]: p["price"] for p in catalog["products"]}
        stock = {(s["sku"], s["location"]): s["on_hand"] for s in catalog["stock"]}
        for name, (etype, count) in expect.items():
            lines = read_lines(os.path.join(out1, name))
            check(lines[-1] == "", "%s: does not end with a newline" % name)
            lines = lines[:-1]
            check(len(lines) == count, "%s: %d lines, catalog has %d" % (name, len(lines), count))
            keys = set()
            for i, line in enumerate(lines, 1):
                where = "%s:%d" % (name, i)
                ev = json.loads(line)
                check(list(ev) == ["type", "key", "time", "body"],
                      "%s: members %s" % (where, list(ev)))
                check(ev["type"] == etype, where + ": type " + ev["type"])
                for e in schemas.event_errors(ev):
                    check(False, "%s: %s" % (where, e))
                b = ev["body"]
                if etype == "price.set":
                    check(ev["key"] == b["sku"], where + ": key is not the sku")
                    check(b["price"] == prices.get(b["sku"]),
                          where + ": price differs from catalog")
                    check(b["price_list"] == "base", where + ": price_list")
                else:
                    check(ev["key"] == "%s@%s" % (b["sku"], b["location"]),
                          where + ": key is not SKU@LOCATION")
                    check(b["on_hand"] == stock.get((b["sku"], b["location"])),
                          where + ": on_hand differs from catalog")
                    check(b["as_of"] == ev["time"], where + ": as_of differs from time")
                check(ev["key"] not in keys, where + ": duplicate key " + ev["key"])
                keys.add(ev["key"])
                check(ev["time"] == "2026-11-20T06:00:00Z", where + ": default time")

        # Deterministic: a second run writes the same bytes; --time changes only the times.
        check(run(CATALOG, out2).returncode == 0, "second run failed")
        for name in expect:
            with open(os.path.join(out1, name), "rb") as f1:
                with open(os.path.join(out2, name), "rb") as f2:
                    check(f1.read() == f2.read(), name + ": two runs differ")
        r = run("--time", "2026-12-01T00:00:00.5Z", CATALOG, out3)
        check(r.returncode == 0, "--time run failed: " + r.stderr)
        first = json.loads(read_lines(os.path.join(out3, "stock.ndjson"))[0])
        check(first["time"] == "2026-12-01T00:00:00.5Z" and
              first["body"]["as_of"] == "2026-12-01T00:00:00.5Z", "--time not applied")

        # Bad input and bad arguments fail without writing anything.
        bad = os.path.join(tmp, "bad.json")
        broken = json.loads(json.dumps(catalog))
        broken["products"][3]["price"]["amount"] = 99.99
        with open(bad, "w", encoding="utf-8") as f:
            json.dump(broken, f)
        r = run(bad, os.path.join(tmp, "d"))
        check(r.returncode == 1 and "products[3].price.amount" in r.stderr,
              "a float price must fail with its path: rc=%d %s" % (r.returncode, r.stderr))
        check(not os.path.exists(os.path.join(tmp, "d")), "a failed run wrote output")
        r = run("--time", "2026-11-20T07:00:00+01:00", CATALOG, os.path.join(tmp, "e"))
        check(r.returncode != 0 and "RFC 3339 UTC" in r.stderr, "a local --time must fail")
        r = run(os.path.join(tmp, "missing.json"), os.path.join(tmp, "f"))
        check(r.returncode == 1, "a missing catalog must fail")
    finally:
        shutil.rmtree(tmp)

    print("catalog: %d products, %d stock records; %d failures"
          % (len(catalog["products"]), len(catalog["stock"]), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
