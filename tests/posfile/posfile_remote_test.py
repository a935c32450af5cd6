#!/usr/bin/env python3
"""pos-file against real servers on loopback (tests/servers/servers.py): vsftpd for FTP and
FTPS (AUTH TLS, a generated certificate checked with ca-file), OpenSSH's sshd for SFTP (an
ed25519 key, the host key checked with known-hosts), and a flaky FTP server.

For each of FTP, FTPS and SFTP: the CP1250 stock export is taken from the server, its 12 events
stored, and the file renamed into processed/ on the server; a bad file goes to error/ there with
its .err; price events are written back to the server as a CSV, atomically (no temp name left)
with a .done marker. The flaky server: a refused login is reported clearly and nothing is
emitted or moved until the login works, then the file goes through once; a download that breaks
off half way is retried at the next poll and its events arrive exactly once."""
import json
import os
import sys
import time

top = os.environ.get("top_srcdir", ".")
sys.path[:0] = [os.path.join(top, "tests", "servers"), os.path.join(top, "tests", "integration")]
from omb import (SRCDIR, Daemon, check, config, count_lines, done, file_sink, read_lines,
                 wait_for, workdir, write_config)
from servers import FlakyFtp, Ftp, ServerUnavailable, Sftp

FIX = os.path.join(SRCDIR, "tests", "fixtures", "pos")
STOCK = "stock-WAW01-20261120.csv"
FORMAT = dict(format="csv", encoding="cp1250", decimal_comma="true",
              columns="NR_SKLEPU=location,KOD=sku,STAN=on_hand:int,DATA=as_of:datetime",
              trailer="#KONIEC", trailer_count_field="2", type="stock.level",
              key="sku,location")


def opts(**kw):
    return "".join(f'    <option name="{k.replace("_", "-")}">{v}</option>\n'
                   for k, v in kw.items())


def pos(name, **kw):
    return f'  <connector name="{name}" plugin="pos-file">\n{opts(**kw)}  </connector>\n'


def stock():
    with open(os.path.join(FIX, STOCK), "rb") as f:
        return f.read()


def put(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "." + name + ".tmp"), "wb") as f:
        f.write(data)
    os.rename(os.path.join(d, "." + name + ".tmp"), os.path.join(d, name))


def with_user(url, user):
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}@{rest}"


def round_trip(kind, server, access, d):
    """Stock in from the server's exports/, a bad file to error/, prices out to import/."""
    root = server.root
    os.makedirs(root + "/exports")
    os.makedirs(root + "/import")
    base = with_user(server.url, server.user)
    if kind == "ftps":
        base = base.replace("ftp://", "ftps://", 1)
    src = ('  <connector name="src" plugin="file">\n'
           f'    <option name="dir">{d}/in</option><option name="poll">50ms</option>\n'
           '  </connector>\n')
    os.makedirs(d + "/in")
    body = (pos("pos", source=base + "exports/", poll="100ms", spool=d, **access, **FORMAT) +
            pos("to-pos", target=base + "import/", spool=d + "/spool", format="csv",
                encoding="cp1250", decimal_comma="true", currency="PLN",
                columns="KOD=sku,CENA=price.amount:decimal:2", file_name="ceny-{seq}.csv",
                batch_max="2", batch_wait="200ms", marker="true", **access) +
            src + file_sink("out", d + "/out.ndjson") +
            '  <route name="in"><from connector="pos"/><to connector="out"/></route>\n'
            '  <route name="out"><from connector="src"/><to connector="to-pos"/></route>\n')
    dm = Daemon(write_config(d, config(body)), env={"OMB_TEST_PASSWORD": getattr(
        server, "password", "")})
    put(root + "/exports", STOCK, stock())
    wait_for(lambda: os.path.exists(f"{root}/exports/processed/{STOCK}"),
             what=f"{kind}: the export renamed into processed/ on the server")
    wait_for(lambda: count_lines(d + "/out.ndjson") >= 12, what=f"{kind}: the events delivered")
    events = read_lines(d + "/out.ndjson")
    check(len(events) == 12 and events[0]["key"] == "OB-1000-S@WAW01" and
          events[0]["body"]["on_hand"] == 18,
          f"{kind}: 12 stock.level events from the server: {len(events)}")
    put(root + "/exports", "bad.csv", stock().replace(b";18;39,99;", b";x;39,99;"))
    # The .err goes up first, then the file is moved beside it: wait for both.
    wait_for(lambda: os.path.exists(f"{root}/exports/error/bad.csv.err") and
             os.path.exists(f"{root}/exports/error/bad.csv"),
             what=f"{kind}: the bad file in error/ with its .err, on the server")
    check(os.path.exists(f"{root}/exports/error/bad.csv") and
          "line 2" in open(f"{root}/exports/error/bad.csv.err").read(),
          f"{kind}: the .err names line 2")
    check(count_lines(d + "/out.ndjson") == 12, f"{kind}: nothing from the bad file")
    prices = [{"type": "price.set", "key": f"S{i}",
               "body": {"sku": f"S{i}", "price": {"amount": 1999 + i, "currency": "PLN"}}}
              for i in range(2)]
    put(d + "/in", "p.ndjson", "\n".join(json.dumps(p) for p in prices).encode() + b"\n")
    wait_for(lambda: os.path.exists(root + "/import/ceny-1.csv.done"),
             what=f"{kind}: the price file and its marker on the server")
    files = sorted(os.listdir(root + "/import"))
    check(files == ["ceny-1.csv", "ceny-1.csv.done"], f"{kind}: no temp name left: {files}")
    data = open(root + "/import/ceny-1.csv", "rb").read()
    check(b"S0;19,99" in data and b"S1;20,00" in data, f"{kind}: the prices written: {data!r}")
    check(dm.stop() == 0, f"{kind}: the daemon stops cleanly")
    check("password" not in dm.text().lower() or server.password not in dm.text(),
          f"{kind}: no password in the log")


def ftp(tls):
    kind = "ftps" if tls else "ftp"
    d = workdir("posfile-" + kind)
    with Ftp(d + "/server", tls=tls) as server:
        access = dict(password="env:OMB_TEST_PASSWORD")
        if tls:
            access["ca_file"] = server.ca_file
        round_trip(kind, server, access, d + "/omnibus")


def sftp():
    d = workdir("posfile-sftp")
    with Sftp(d + "/server") as server:
        access = dict(ssh_key=server.key, ssh_public_key=server.pubkey,
                      known_hosts=server.known_hosts)
        round_trip("sftp", server, access, d + "/omnibus")


def flaky():
    d = workdir("posfile-flaky")
    with FlakyFtp(d + "/refuse", "refuse-login") as refuse, \
            FlakyFtp(d + "/drop", "drop-mid-transfer", drops=1) as drop:
        for s in (refuse, drop):
            put(s.root + "/exports", STOCK, stock())
        body = ''.join(
            pos(name, source=with_user(s.url, s.user) + "exports/", poll="100ms",
                password=f"env:OMB_TEST_{name.upper()}", spool=d, **FORMAT) +
            file_sink(name + "-out", f"{d}/{name}.ndjson") +
            f'  <route name="{name}"><from connector="{name}"/>'
            f'<to connector="{name}-out"/></route>\n'
            for name, s in (("refuse", refuse), ("drop", drop)))
        dm = Daemon(write_config(d, config(body)), env={"OMB_TEST_REFUSE": refuse.password,
                                                        "OMB_TEST_DROP": drop.password})
        wait_for(lambda: "Login denied" in dm.text() or "login" in dm.text().lower(),
                 what="the refused login in the log")
        time.sleep(0.5)
        check(count_lines(d + "/refuse.ndjson") == 0 and
              os.path.exists(f"{refuse.root}/exports/{STOCK}"),
              "refused login: nothing emitted, the file left where it is")
        check(dm.text().count("Login denied") <= 2,
              "the refused login is logged once, not at every poll")
        refuse.mode = "ok"
        wait_for(lambda: count_lines(d + "/refuse.ndjson") == 12,
                 what="the file once the login works")
        wait_for(lambda: count_lines(d + "/drop.ndjson") == 12,
                 what="the dropped download retried")
        time.sleep(0.5)
        check(drop.drops == 1, f"the first download broke off ({drop.drops} drop)")
        got = [e["key"] for e in read_lines(d + "/drop.ndjson")]
        check(len(got) == 12 and len(set(got)) == 12, "dropped and retried: exactly once")
        check(dm.stop() == 0, "the daemon stops cleanly")


def main():
    try:
        ftp(False)
        ftp(True)
        sftp()
        flaky()
    except ServerUnavailable as e:
        print(f"SKIP: {e}")
        sys.exit(77)
    done()


if __name__ == "__main__":
    main()
