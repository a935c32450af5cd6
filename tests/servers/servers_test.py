#!/usr/bin/env python3
"""The test-server kit (servers.py) against real clients: libcurl through curl_probe (what the
pos-file connector uses), Python's ftplib and OpenSSH's sftp. For each server: list, download,
upload (creating directories), rename; the errors libcurl reports (bad password, missing file,
unknown certificate or host key, refused login, dropped transfer); nothing left running.

A server whose Debian package is missing is skipped as another user and fails as root (as
root, tools/test.sh installs the packages first)."""
import base64
import ftplib
import hashlib
import os
import shutil
import ssl
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "integration")]

from omb import BUILDDIR, check, done, workdir                                  # noqa: E402
from servers import FlakyFtp, Ftp, ServerUnavailable, Sftp, alive, _keygen      # noqa: E402

PROBE = os.path.join(os.path.abspath(BUILDDIR), "tests", "servers", "curl_probe")
TMP = os.path.join(os.path.abspath(BUILDDIR), "tests", "tmp")

# CURLcodes
OK, QUOTE_ERROR, PARTIAL_FILE, PEER_FAILED_VERIFICATION = 0, 21, 18, 60
LOGIN_DENIED, REMOTE_FILE_NOT_FOUND, RECV_ERROR, GOT_NOTHING = 67, 78, 56, 52

BODY = b"sku;qty\n" + b"".join(b"SKU%06d;%d\n" % (i, i % 7) for i in range(20000))
stopped = []            # every server run, to check that none left a process behind


def probe(*args):
    """curl_probe ARGS: (CURLcode, stdout, stderr)."""
    r = subprocess.run([PROBE] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=90)
    return r.returncode, r.stdout, r.stderr


def expect(rc_out_err, code, what):
    rc, out, err = rc_out_err
    check(rc == code, f"{what}: CURLcode {rc}, expected {code}: {err.strip()}")
    return out


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return repr(e).encode()


def put_file(d, name, data=BODY):
    path = os.path.join(d, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def curl_rounds(s, auth, rename_before, rename_after, what):
    """List, download, upload into new directories with a rename after it, rename alone,
    overwrite: the pos-file connector's moves, with libcurl."""
    local = os.path.join(s.workdir, "local")
    os.makedirs(local, exist_ok=True)
    put_file(s.root, "in/a.csv")
    out = expect(probe(*auth, s.url + "in/", "names"), OK, f"{what}: names of in/")
    names = [n for n in out.split() if n not in (".", "..")]     # SFTP lists . and ..
    check(names == ["a.csv"], f"{what}: names of in/: {out!r}")
    out = expect(probe(*auth, s.url + "in/", "list"), OK, f"{what}: list of in/")
    check("a.csv" in out and str(len(BODY)) in out, f"{what}: list of in/: {out!r}")
    expect(probe(*auth, s.url + "in/a.csv", "get", local + "/a.csv"), OK, f"{what}: get")
    check(read(local + "/a.csv") == BODY, f"{what}: the download is the file")
    up = put_file(local, "up.csv", BODY[::-1])
    expect(probe(*auth, "-m", *rename_after("b.csv.part", "b.csv"),
                 s.url + "out/2026/b.csv.part", "put", up), OK, f"{what}: put + rename")
    out_dir = os.path.join(s.root, "out", "2026")
    check(read(os.path.join(out_dir, "b.csv")) == BODY[::-1]
          and not os.path.exists(os.path.join(out_dir, "b.csv.part")),
          f"{what}: uploaded under a temporary name into new directories, then renamed: "
          f"{sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else 'no out/2026'}")
    expect(probe(*auth, *rename_before("in/a.csv", "in/a.csv.done"), s.url, "none"), OK,
           f"{what}: rename alone")
    check(os.path.exists(os.path.join(s.root, "in/a.csv.done"))
          and not os.path.exists(os.path.join(s.root, "in/a.csv")), f"{what}: renamed")
    small = put_file(local, "small.csv", b"x\n")
    expect(probe(*auth, s.url + "out/2026/b.csv", "put", small), OK, f"{what}: overwrite")
    check(read(os.path.join(s.root, "out/2026/b.csv")) == b"x\n", f"{what}: overwritten")
    expect(probe(*auth, s.url + "in/nosuch.csv", "get", local + "/x"), REMOTE_FILE_NOT_FOUND,
           f"{what}: a missing file")


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """ftplib's FTPS with the control connection's TLS session reused on the data connections,
    which vsftpd requires (require_ssl_reuse=YES, its default) and libcurl does."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


def ftp_quote(before):
    flag = "-q" if before else "-Q"
    return lambda a, b: [flag, f"RNFR {a}", flag, f"RNTO {b}"]


def test_ftp(tls):
    what = "FTPS" if tls else "FTP"
    d = workdir("servers-ftps" if tls else "servers-ftp")
    with Ftp(d, tls=tls) as s:
        stopped.append(s)
        check(s.url == f"ftp://127.0.0.1:{s.port}/" and os.path.isdir(s.root), f"{what}: url")
        # TLS 1.2 at most: vsftpd 3.0.3 with TLS 1.3 answers 426 to an upload and keeps only
        # part of the file (see below and README.md)
        ca = ["-c", s.ca_file, "-2"] if tls else []
        auth = ["-u", f"{s.user}:{s.password}"] + ca
        curl_rounds(s, auth, ftp_quote(True), ftp_quote(False), what)
        expect(probe("-u", f"{s.user}:wrong", *ca, s.url, "list"), LOGIN_DENIED,
               f"{what}: a wrong password")
        if tls:
            # downloads over TLS 1.3 work; uploads lose their end (the client closes the data
            # connection with vsftpd's session ticket unread: a reset, which discards what
            # vsftpd had not read yet)
            auth13 = ["-u", f"{s.user}:{s.password}", "-c", s.ca_file]
            expect(probe(*auth13, s.url + "in/a.csv.done", "get", s.workdir + "/local/13.csv"),
                   OK, "FTPS: a download over TLS 1.3")
            check(read(s.workdir + "/local/13.csv") == BODY, "FTPS: TLS 1.3 download")
            rc, _, err = probe(*auth13, s.url + "tls13.csv", "put", s.workdir + "/local/up.csv")
            print(f"FTPS: an upload of {len(BODY)} bytes over TLS 1.3: CURLcode {rc} "
                  f"{err.strip()}; {len(read(s.root + '/tls13.csv'))} bytes arrived")
            expect(probe("-u", f"{s.user}:{s.password}", s.url, "list"), LOGIN_DENIED,
                   "FTPS: a login without TLS is refused")
            expect(probe("-u", f"{s.user}:{s.password}", "-c", "/etc/ssl/certs/ca-certificates.crt",
                         s.url, "list"), PEER_FAILED_VERIFICATION,
                   "FTPS: the certificate is checked")
        # Python's ftplib, as a second client
        try:
            if tls:
                f = ReusingFTP_TLS(context=ssl.create_default_context(cafile=s.ca_file),
                                   timeout=20)
            else:
                f = ftplib.FTP(timeout=20)
            f.connect("127.0.0.1", s.port)
            f.login(s.user, s.password)
            if tls:
                f.prot_p()
            check(sorted(f.nlst("in")) in (["a.csv.done"], ["in/a.csv.done"]),
                  f"{what}: ftplib NLST")
            got = bytearray()
            f.retrbinary("RETR in/a.csv.done", got.extend)
            check(bytes(got) == BODY, f"{what}: ftplib RETR")
            with open(os.path.join(s.workdir, "local", "small.csv"), "rb") as up:
                f.storbinary("STOR ftplib.csv", up)
            f.mkd("made")
            f.rename("ftplib.csv", "made/ftplib.csv")
            check(read(os.path.join(s.root, "made", "ftplib.csv")) == b"x\n",
                  f"{what}: ftplib STOR, MKD, RNFR/RNTO")
            f.quit()
        except (ftplib.Error, OSError) as e:
            check(False, f"{what}: ftplib: {e!r}")
    # the same workdir again: a new port, new keys, the files kept
    with Ftp(d, tls=tls) as s2:
        stopped.append(s2)
        expect(probe("-u", f"{s2.user}:{s2.password}", *(["-c", s2.ca_file] if tls else []),
                     s2.url + "made/", "names"), OK, f"{what}: restarted in the same workdir")


def test_sftp():
    d = workdir("servers-sftp")
    with Sftp(d) as s:
        stopped.append(s)
        check(s.url == f"sftp://127.0.0.1:{s.port}{s.root}/", f"SFTP: url {s.url}")
        auth = ["-u", s.user, "-k", s.key, "-p", s.pubkey, "-K", s.known_hosts]
        r = s.root

        def rename(flag):
            return lambda a, b: [flag, f"rename {r}/{posix(a)} {r}/{posix(b)}"]

        def posix(name):        # put's -Q names are in the upload's directory
            return name if "/" in name else "out/2026/" + name
        curl_rounds(s, auth, rename("-q"), rename("-Q"), "SFTP")
        # errors: an unknown host key, a key not authorised
        other = os.path.join(d, "other_ed25519")
        _keygen(other, "other")
        with open(other + ".pub") as f:
            kind, blob = f.read().split()[:2]
        wrong_hosts = os.path.join(d, "wrong_known_hosts")
        with open(wrong_hosts, "w") as f:
            f.write(f"[127.0.0.1]:{s.port} {kind} {blob}\n")
        expect(probe("-u", s.user, "-k", s.key, "-p", s.pubkey, "-K", wrong_hosts, s.url,
                     "list"), PEER_FAILED_VERIFICATION, "SFTP: a host key not in known_hosts")
        expect(probe("-u", s.user, "-k", s.key, "-H", s.host_key_sha256, s.url, "names"), OK,
               "SFTP: the host key's SHA256 fingerprint, and no public key file")
        fp = subprocess.run(["ssh-keygen", "-lf", s.host_key + ".pub"], stdout=subprocess.PIPE,
                            text=True).stdout
        check(f"SHA256:{s.host_key_sha256} " in fp, f"SFTP: host_key_sha256 as ssh-keygen: {fp}")
        wrong = base64.b64encode(hashlib.sha256(base64.b64decode(blob)).digest()).decode()
        expect(probe("-u", s.user, "-k", s.key, "-H", wrong.rstrip("="), s.url, "names"),
               PEER_FAILED_VERIFICATION, "SFTP: a wrong fingerprint")
        expect(probe("-u", s.user, "-k", other, "-p", other + ".pub", "-K", s.known_hosts,
                     s.url, "list"), LOGIN_DENIED, "SFTP: a key not authorised")
        # OpenSSH's sftp, as a second client
        sftp = shutil.which("sftp")
        if not check(sftp is not None, "SFTP: the sftp client (openssh-client) is installed"):
            return
        batch = os.path.join(d, "batch")
        with open(batch, "w") as f:
            f.write(f"ls\nget in/a.csv.done {d}/local/sftp.csv\n"
                    f"put {d}/local/small.csv sftp.up\nmkdir madedir\n"
                    f"rename sftp.up madedir/sftp.csv\n")
        res = subprocess.run([sftp, "-F", "/dev/null", "-b", batch, "-i", s.key,
                              "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                              "-o", "StrictHostKeyChecking=yes",
                              "-o", f"UserKnownHostsFile={s.known_hosts}",
                              "-P", str(s.port), f"{s.user}@127.0.0.1"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=60)
        check(res.returncode == 0, f"SFTP: the sftp batch: {res.stdout}")
        check(read(f"{d}/local/sftp.csv") == BODY
              and read(os.path.join(r, "madedir", "sftp.csv")) == b"x\n",
              f"SFTP: sftp get, put, mkdir, rename (relative to root): {res.stdout}")


def test_flaky():
    d = workdir("servers-flaky")
    local = os.path.join(d, "local")
    os.makedirs(local)
    with FlakyFtp(d, "refuse-login") as s:
        expect(probe("-u", f"{s.user}:{s.password}", s.url, "list"), LOGIN_DENIED,
               "refuse-login: CURLE_LOGIN_DENIED")
        check(f"USER {s.user}" in s.commands and f"PASS {s.password}" in s.commands,
              f"refuse-login: the commands are recorded: {s.commands}")
    with FlakyFtp(d, "drop-mid-transfer", drops=1) as s:
        put_file(s.root, "in/big.csv")
        auth = ["-u", f"{s.user}:{s.password}"]
        rc, _, err = probe(*auth, s.url + "in/big.csv", "get", local + "/big1.csv")
        check(rc in (PARTIAL_FILE, RECV_ERROR, GOT_NOTHING),
              f"drop-mid-transfer: a partial file or a receive error, not {rc}: {err}")
        check(rc == PARTIAL_FILE, f"drop-mid-transfer: CURLE_PARTIAL_FILE, got {rc}: {err}")
        check(0 < len(read(local + "/big1.csv")) < len(BODY), "drop-mid-transfer: a part came")
        check(s.drops_left == 0 and s.drops == 1, f"drops_left {s.drops_left}")
        expect(probe(*auth, s.url + "in/big.csv", "get", local + "/big2.csv"), OK,
               "drop-mid-transfer: the retry after the one drop")
        check(read(local + "/big2.csv") == BODY, "drop-mid-transfer: the retry's file")
        check(sum(c.startswith("RETR") for c in s.commands) == 2, f"RETRs: {s.commands}")
    with FlakyFtp(d, "drop-mid-transfer") as s:
        for i in range(2):
            rc, _, err = probe("-u", f"{s.user}:{s.password}", s.url + "in/big.csv", "get",
                               local + "/big3.csv")
            check(rc == PARTIAL_FILE, f"drop-mid-transfer, drops=None: try {i}: {rc} {err}")
        check(s.drops_left is None and s.drops == 2, "drop-mid-transfer, drops=None: drops")
    with FlakyFtp(d, "ok") as s:
        check(s.url == f"ftp://127.0.0.1:{s.port}/", "ok: url")
        os.remove(os.path.join(s.root, "in", "big.csv"))
        curl_rounds(s, ["-u", f"{s.user}:{s.password}"], ftp_quote(True), ftp_quote(False),
                    "FlakyFtp ok")
        expect(probe("-u", f"{s.user}:bad", s.url, "list"), LOGIN_DENIED, "ok: a bad password")
        for cmd in ("EPSV", "TYPE I", "SIZE", "STOR", "RNFR", "RNTO", "MKD", "NLST", "LIST"):
            check(any(c.startswith(cmd) for c in s.commands), f"ok: libcurl sent {cmd}")


def test_parallel():
    """Two servers of each kind at once: distinct ports, both answer."""
    a, b = workdir("servers-par-a"), workdir("servers-par-b")
    with Ftp(a) as x, Ftp(b) as y, Sftp(a + "/s") as u, Sftp(b + "/s") as v:
        stopped.extend([x, y, u, v])
        check(len({x.port, y.port, u.port, v.port}) == 4, "four ports")
        for s in (x, y):
            expect(probe("-u", f"{s.user}:{s.password}", s.url, "names"), OK, "parallel FTP")
        for s in (u, v):
            expect(probe("-u", s.user, "-k", s.key, "-p", s.pubkey, "-K", s.known_hosts, s.url,
                         "names"), OK, "parallel SFTP")


def run(name, fn, *args):
    try:
        fn(*args)
    except ServerUnavailable as e:
        if os.geteuid() == 0:
            check(False, f"{name}: {e}")
        else:
            print(f"SKIP {name}: {e}")


check(os.access(PROBE, os.X_OK), f"{PROBE} is built (make check builds it)")
run("ftp", test_ftp, False)
run("ftps", test_ftp, True)
run("sftp", test_sftp)
run("flaky", test_flaky)
run("parallel", test_parallel)

# nothing left behind: no process of any server, none naming a workdir
left = [p for s in stopped for p in alive(s.pids)]
check(not left, f"processes left behind: {left}")
check(all(s.pids for s in stopped), "every server's processes were tracked")
pg = subprocess.run(["pgrep", "-af", os.path.join(TMP, "servers-")], stdout=subprocess.PIPE,
                    text=True)
check(pg.returncode == 1, f"pgrep finds none: {pg.stdout}")
done()
