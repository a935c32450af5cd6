#!/usr/bin/env python3
"""pos-file from a local folder, end to end through the daemon:

1. The shared CP1250 stock export (semicolons, decimal commas, a '#KONIEC;12' trailer) becomes
   12 stock.level events keyed SKU@LOCATION with the Polish names intact; the file moves to
   processed/ only after its events are stored; dropped again (another name, same bytes) it
   emits nothing new (its dedupe keys).
2. Bad files go, whole, to error/ with FILE.err listing every bad line, and emit nothing: a
   trailer count that does not match, a value that is not an int, a truncated file, bytes that
   are not valid UTF-8 in a file declared utf-8. With bad-records="skip" the good lines go out
   and the .err lies beside the processed file.
3. complete="marker": a file without its .done marker is not taken; with it, it is, and the
   marker goes.
4. The shared POSLog transaction becomes its canonical events (stock.delta per line,
   order.created/return.created, loyalty.earn, customer.identified); the same transaction in
   another file emits nothing new.
5. Out: price events written as a CP1250 CSV in the target folder, atomically, with a .done
   marker; a body missing a column is a dead letter with the reason.
6. The shared fixed-width sales file (signed quantities, implied decimals) read with a declared
   field spec, and reshaped by a route's jq transform into canonical stock.delta events.
7. complete="stable": a file still growing is not taken; once its size holds for two polls it
   is. A file declared utf-8 with bytes that are not UTF-8 goes to error/."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "integration"))
from omb import (BUILDDIR, SRCDIR, Daemon, check, config, count_lines, done, file_sink,
                 read_lines, wait_for, workdir, write_config)

OMNIBUSCTL = os.path.join(os.path.abspath(BUILDDIR), "omnibusctl")


def deduplicated(dm, name):
    """The source's count of events dropped as repeats (omnibusctl metrics)."""
    p = subprocess.run([OMNIBUSCTL, "--socket", dm.admin, "--json", "metrics"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return -1
    for src in json.loads(p.stdout).get("sources", []):
        if src.get("name") == name:
            return src.get("deduplicated", 0)
    return 0

FIX = os.path.join(SRCDIR, "tests", "fixtures", "pos")
STOCK = "stock-WAW01-20261120.csv"
POSLOG = "poslog-WAW01-1042.xml"


def opts(**kw):
    return "".join(f'    <option name="{k.replace("_", "-")}">{v}</option>\n'
                   for k, v in kw.items())


def pos(name, attrs="", **kw):
    return f'  <connector name="{name}" plugin="pos-file"{attrs}>\n{opts(**kw)}  </connector>\n'


def route(name, src, dst):
    return f'  <route name="{name}"><from connector="{src}"/><to connector="{dst}"/></route>\n'


STOCK_FORMAT = dict(format="csv", encoding="cp1250", decimal_comma="true",
                    columns="NR_SKLEPU=location,KOD=sku,EAN=ean,NAZWA=name,STAN=on_hand:int,"
                            "CENA_BRUTTO=price:decimal:2,DATA=as_of:datetime",
                    trailer="#KONIEC", trailer_count_field="2", type="stock.level",
                    key="sku,location", time_field="as_of")


def put(d, name, data):
    """Write a file into d atomically (temp name, then rename), as a POS would."""
    tmp = os.path.join(d, "." + name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(d, name))


def stock_bytes():
    with open(os.path.join(FIX, STOCK), "rb") as f:
        return f.read()


def csv_in():
    d = workdir("posfile-dir")
    inp, out = d + "/in", d + "/out.ndjson"
    os.makedirs(inp)
    body = (pos("pos", source=inp, poll="50ms", **STOCK_FORMAT) +
            pos("skip", attrs="", source=d + "/in-skip", poll="50ms", bad_records="skip",
                **STOCK_FORMAT) +
            pos("marked", source=d + "/in-marker", poll="50ms", complete="marker",
                **STOCK_FORMAT) +
            file_sink("out", out) + file_sink("out-skip", d + "/skip.ndjson") +
            file_sink("out-marked", d + "/marked.ndjson") +
            route("r", "pos", "out") + route("r-skip", "skip", "out-skip") +
            route("r-marked", "marked", "out-marked"))
    os.makedirs(d + "/in-skip")
    os.makedirs(d + "/in-marker")
    dm = Daemon(write_config(d, config(body)))

    put(inp, STOCK, stock_bytes())
    wait_for(lambda: os.path.exists(f"{inp}/processed/{STOCK}"), what="the export processed")
    # Stored is not yet delivered: the sink consumes on its own thread.
    wait_for(lambda: count_lines(out) >= 12, what="the export's events at the sink")
    events = read_lines(out)
    check(len(events) == 12, f"12 stock.level events: {len(events)}")
    first = events[0] if events else {}
    check(first.get("type") == "stock.level" and first.get("key") == "OB-1000-S@WAW01",
          f"type and key SKU@LOCATION: {first.get('type')} {first.get('key')}")
    b = first.get("body", {})
    check(b.get("on_hand") == 18 and b.get("price") == 3999 and
          b.get("name") == "Koszulka bawełniana S" and b.get("location") == "WAW01",
          f"the body: ints, minor units, CP1250 decoded: {b}")
    check(first.get("time", "").startswith("2026-11-20T21:00:00"), f"time from as_of: {first}")
    check(all(e.get("dedupe", "").endswith(f":{i + 2}") for i, e in enumerate(events)),
          "dedupe keys <sha256>:<line>, lines 2..13")

    # The same bytes again under another name: nothing new.
    put(inp, "again-" + STOCK, stock_bytes())
    wait_for(lambda: os.path.exists(f"{inp}/processed/again-{STOCK}"), what="the repeat")
    wait_for(lambda: deduplicated(dm, "pos") == 12, what="its 12 events dropped as repeats")
    check(count_lines(out) == 12, f"the repeated file emitted nothing: {count_lines(out)}")

    # Bad files: whole to error/, every bad line listed, nothing emitted.
    text = stock_bytes()
    lines = text.split(b"\r\n") if b"\r\n" in text else text.split(b"\n")
    sep = b"\r\n" if b"\r\n" in text else b"\n"
    bad = {
        "count.csv": sep.join(lines[:-2] + [b"#KONIEC;99", b""]),
        "notint.csv": text.replace(b";18;39,99;", b";1x;39,99;").replace(b";29;19,99;",
                                                                         b";2y;19,99;"),
        "truncated.csv": sep.join(lines[:5]),
    }
    for name, data in bad.items():
        put(inp, name, data)
    for name in bad:
        wait_for(lambda n=name: os.path.exists(f"{inp}/error/{n}") and
                 os.path.exists(f"{inp}/error/{n}.err"), what=f"{name} in error/ with .err")
    time.sleep(0.3)
    check(count_lines(out) == 12, "no event from a bad file")
    err = open(f"{inp}/error/notint.csv.err", encoding="utf-8").read()
    check("line 2:" in err and "line 3:" in err and "1x" in err and "2y" in err,
          f"every bad line listed with its number and reason:\n{err}")
    err = open(f"{inp}/error/count.csv.err", encoding="utf-8").read()
    check("99" in err and "12" in err, f"the trailer mismatch is explained:\n{err}")
    err = open(f"{inp}/error/truncated.csv.err", encoding="utf-8").read()
    check("trailer" in err.lower(), f"a truncated file (no trailer) is explained:\n{err}")

    # bad-records="skip": the good lines go out, the .err beside the processed file.
    put(d + "/in-skip", "notint.csv", bad["notint.csv"])
    wait_for(lambda: os.path.exists(d + "/in-skip/processed/notint.csv.err"),
             what="the skip connector's report")
    wait_for(lambda: count_lines(d + "/skip.ndjson") == 10, what="10 good lines of 12")

    # complete="marker": not taken without its marker.
    put(d + "/in-marker", STOCK, stock_bytes())
    time.sleep(0.5)
    check(count_lines(d + "/marked.ndjson") == 0 and
          os.path.exists(f"{d}/in-marker/{STOCK}"), "no marker, not taken")
    put(d + "/in-marker", STOCK + ".done", b"")
    wait_for(lambda: count_lines(d + "/marked.ndjson") == 12, what="taken with its marker")
    wait_for(lambda: not os.path.exists(f"{d}/in-marker/{STOCK}.done"),
             what="the marker removed")
    check(dm.stop() == 0, "the daemon stops cleanly")


def poslog_in():
    d = workdir("posfile-poslog")
    inp, out = d + "/in", d + "/out.ndjson"
    os.makedirs(inp)
    body = (pos("tills", source=inp, poll="50ms", format="poslog", pattern="*.xml") +
            file_sink("out", out) + route("r", "tills", "out"))
    dm = Daemon(write_config(d, config(body)))
    with open(os.path.join(FIX, POSLOG), "rb") as f:
        xml = f.read()
    put(inp, POSLOG, xml)
    wait_for(lambda: os.path.exists(f"{inp}/processed/{POSLOG}"), what="the POSLog processed")
    wait_for(lambda: count_lines(out) >= 6, what="the transaction's events at the sink")
    events = read_lines(out)
    types = sorted(e["type"] for e in events)
    check("stock.delta" in types and "loyalty.earn" in types and
          "customer.identified" in types and
          ("order.created" in types or "return.created" in types),
          f"the transaction's events: {types}")
    deltas = [e for e in events if e["type"] == "stock.delta"]
    check(len(deltas) == 2, f"one stock.delta per sale/return line: {deltas}")
    check(len({e["dedupe"] for e in events}) == len(events),
          "each event its own dedupe key")
    n = len(events)
    put(inp, "copy-" + POSLOG, xml)
    wait_for(lambda: os.path.exists(f"{inp}/processed/copy-{POSLOG}"), what="the copy")
    wait_for(lambda: deduplicated(dm, "tills") == n, what=f"its {n} events dropped as repeats")
    check(count_lines(out) == n, "the same transaction in another file: nothing new")
    check(dm.stop() == 0, "the daemon stops cleanly")


def csv_out():
    d = workdir("posfile-out")
    inp, target = d + "/in", d + "/import"
    os.makedirs(inp)
    os.makedirs(target)
    body = ('  <connector name="src" plugin="file">\n'
            f'    <option name="dir">{inp}</option><option name="poll">50ms</option>\n'
            '  </connector>\n' +
            pos("to-pos", target=target, spool=d + "/spool", format="csv", encoding="cp1250",
                decimal_comma="true", columns="KOD=sku,NAZWA=name,CENA=price.amount:decimal:2",
                currency="PLN", file_name="ceny-{seq}.csv", batch_max="3", batch_wait="200ms",
                marker="true") +
            route("r", "src", "to-pos"))
    dm = Daemon(write_config(d, config(body)))
    evs = [{"type": "price.set", "key": f"SKU-{i}",
            "body": {"sku": f"SKU-{i}", "name": "Koszulka bawełniana",
                     "price": {"amount": 5999 + i, "currency": "PLN"}}} for i in range(4)]
    evs.append({"type": "price.set", "key": "NO-NAME", "body": {"sku": "NO-NAME"}})
    with open(inp + "/.p.tmp", "w") as f:
        f.write("\n".join(json.dumps(e) for e in evs) + "\n")
    os.rename(inp + "/.p.tmp", inp + "/p.ndjson")
    wait_for(lambda: os.path.exists(target + "/ceny-1.csv.done") and
             os.path.exists(target + "/ceny-2.csv.done"), what="two files and their markers")
    files = sorted(f for f in os.listdir(target) if f.endswith(".csv"))
    check(files == ["ceny-1.csv", "ceny-2.csv"], f"no temp file left: {os.listdir(target)}")
    one = open(target + "/ceny-1.csv", "rb").read()
    check("Koszulka bawełniana".encode("cp1250") in one and b"59,99" in one and
          b"KOD;NAZWA;CENA" in one, f"CP1250, decimal comma, a header: {one!r}")
    rows = sum(open(f"{target}/{f}", "rb").read().count(b"\n") - 1 for f in files)
    check(rows == 4, f"4 records across the files: {rows}")
    check(dm.stop() == 0, "the daemon stops cleanly")
    check("cannot be written as csv" in dm.text(), "the body without a name is a dead letter")


KRK_FIELDS = ("store:1:5,sku:6:12,quantity:18:6:int:leading,price.amount:24:7:int,"
              "sold_at:31:14:datetime")
TO_DELTA = ('{sku, location: .store, delta: (0 - .quantity), '
            'reason: (if .quantity &lt; 0 then "return" else "sale" end), '
            'ref: "\\(.store)/\\(.sold_at)/\\(.sku)"}')


def fixed_and_stable():
    d = workdir("posfile-fixed")
    for sub in ("in", "in-stable", "in-utf8"):
        os.makedirs(f"{d}/{sub}")
    body = (pos("sales", source=d + "/in", poll="50ms", format="fixed", fields=KRK_FIELDS,
                currency="PLN", type="pos.sale", key="sku,store", time_field="sold_at") +
            pos("stable", source=d + "/in-stable", poll="200ms", complete="stable",
                **STOCK_FORMAT) +
            pos("utf8", source=d + "/in-utf8", poll="50ms", format="csv",
                columns="KOD=sku,STAN=on_hand:int", type="stock.level", key="sku") +
            file_sink("deltas", d + "/deltas.ndjson") + file_sink("stable-out",
                                                                  d + "/stable.ndjson") +
            file_sink("utf8-out", d + "/utf8.ndjson") +
            '  <route name="sales"><from connector="sales"/>'
            f'<transform type="stock.delta">{TO_DELTA}</transform>'
            '<to connector="deltas"/></route>\n' +
            route("r-stable", "stable", "stable-out") + route("r-utf8", "utf8", "utf8-out"))
    dm = Daemon(write_config(d, config(body)))
    with open(os.path.join(FIX, "sales-KRK02-20261120.txt"), "rb") as f:
        put(d + "/in", "sales-KRK02-20261120.txt", f.read())
    wait_for(lambda: count_lines(d + "/deltas.ndjson") == 6, what="6 sales as stock.delta")
    ev = read_lines(d + "/deltas.ndjson")
    check([e["body"]["delta"] for e in ev] == [-1, -1, -2, 1, 1, -1] and
          all(e["type"] == "stock.delta" for e in ev),
          f"signed quantities turned into deltas by the route's jq: {[e['body'] for e in ev]}")
    check(ev[0]["key"] == "OB-1000-S@KRK02" and ev[0]["time"] == "2026-11-20T14:00:00" and
          ev[3]["body"]["reason"] == "return", f"key, time and reason: {ev[0]} {ev[3]}")

    # complete="stable": written in place, in two goes.
    data = stock_bytes()
    path = d + "/in-stable/" + STOCK
    with open(path, "wb") as f:
        f.write(data[:300])
    time.sleep(0.25)
    check(os.path.exists(path) and count_lines(d + "/stable.ndjson") == 0,
          "a file seen once (or still growing) is not taken")
    with open(path, "ab") as f:
        f.write(data[300:])
    wait_for(lambda: count_lines(d + "/stable.ndjson") == 12, what="taken once it held still")
    check(os.path.exists(d + "/in-stable/processed/" + STOCK), "and moved to processed/")

    # utf-8 declared, not what it is.
    put(d + "/in-utf8", "latin2.csv", "KOD;STAN\nZAŻÓŁĆ;1\n".encode("iso-8859-2"))
    wait_for(lambda: os.path.exists(d + "/in-utf8/error/latin2.csv.err"),
             what="the mis-encoded file in error/")
    err = open(d + "/in-utf8/error/latin2.csv.err", encoding="utf-8").read()
    check("line 2" in err and ("UTF-8" in err or "utf-8" in err or "encoding" in err),
          f"the .err says which line is not valid in the encoding:\n{err}")
    check(count_lines(d + "/utf8.ndjson") == 0, "nothing from it")
    check(dm.stop() == 0, "the daemon stops cleanly")


def main():
    csv_in()
    poslog_in()
    csv_out()
    fixed_and_stable()
    done()


if __name__ == "__main__":
    main()
