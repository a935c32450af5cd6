"""Real FTP, FTPS and SFTP servers on loopback for the tests (python3, stdlib only).

    Ftp(workdir, tls=False)    vsftpd; with tls=True explicit FTPS (AUTH TLS) on a generated
                               self-signed certificate (ca_file)
    Sftp(workdir)              OpenSSH's sshd with internal-sftp and throwaway ed25519 keys
    FlakyFtp(workdir, mode)    a small FTP server in Python for fault injection: "ok",
                               "refuse-login", "drop-mid-transfer"

Each is a context manager: entering starts the server on 127.0.0.1 on a free port, with its
configuration, keys, logs and served directory under workdir; leaving stops it and every process
it started, even when the test failed. A server that cannot run here (a Debian package missing)
raises ServerUnavailable, a unittest.SkipTest. See tests/servers/README.md.
"""
import atexit
import base64
import hashlib
import os
import posixpath
import pwd
import secrets
import shutil
import signal
import socket
import socketserver
import stat
import struct
import subprocess
import threading
import time
import unittest
import urllib.parse
import weakref

__all__ = ["ServerUnavailable", "Ftp", "Sftp", "FlakyFtp", "alive"]

HOST = "127.0.0.1"
START_TIMEOUT = 15.0
START_TRIES = 8
SBIN = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]


class ServerUnavailable(unittest.SkipTest):
    """The server cannot run on this machine (e.g. its Debian package is missing)."""


def _which(name, package):
    """An absolute path to a program (also in /usr/sbin, which a user's PATH may lack)."""
    path = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))
    if not path:
        raise ServerUnavailable(f"{name} is not installed: apt-get install {package} "
                                f"(or sudo tools/deps.sh test)")
    return os.path.abspath(path)


def _free_port():
    """A port nobody listens on now. Another process may take it before the server binds it:
    the servers retry with another port when their bind fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# Processes: a server and everything it forks, found through /proc and stopped together.

def _stat(pid):
    """(ppid, state, start time) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], fields[19]


def _descendants(root):
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st:
                children.setdefault(st[0], []).append(int(d))
    out, stack = [], [root]
    while stack:
        for c in children.get(stack.pop(), []):
            out.append(c)
            stack.append(c)
    return out


def alive(pids):
    """The processes of pids ((pid, start time) pairs, as Server.pids holds) still running."""
    out = []
    for pid, start in pids:
        st = _stat(pid)
        if st and st[2] == start and st[1] not in ("Z", "X"):
            out.append(pid)
    return out


_live = set()


@atexit.register
def _stop_all():
    for srv in list(_live):
        srv.stop()


class _Server:
    """A daemon run in its own session: stop() freezes it and all its descendants (sshd puts
    each connection in a session of its own, so the process group is not enough), then ends
    them. setpriv --pdeathsig ends the daemon if the test process dies without cleaning up."""

    name = "server"

    def __init__(self, workdir):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.proc = None
        self.port = None
        self.pids = set()   # (pid, start time) of every process stopped, for alive()
        self._out = None

    def _spawn(self, argv, out_path, out_on_stdin=False):
        setpriv = shutil.which("setpriv") or shutil.which("setpriv", path=os.pathsep.join(SBIN))
        if setpriv:
            argv = [setpriv, "--pdeathsig", "TERM", "--"] + argv
        self._out = open(out_path, "wb")
        stdin = self._out if out_on_stdin else subprocess.DEVNULL
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=self.workdir)
        _live.add(self)

    def _start(self):
        raise NotImplementedError

    def start(self):
        if self.proc is None:
            try:
                self._start()
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self):
        """Stop the server and everything it started; idempotent."""
        _live.discard(self)
        proc, self.proc = self.proc, None
        if proc is None:
            return
        frozen = []
        while True:     # SIGSTOP until no new process appears: a stopped process cannot fork
            tree = [proc.pid] + _descendants(proc.pid)
            new = [p for p in tree if p not in frozen]
            if not new:
                break
            for p in new:
                st = _stat(p)
                if st:
                    self.pids.add((p, st[2]))
                try:
                    os.kill(p, signal.SIGSTOP)
                except ProcessLookupError:
                    pass
            frozen += new
        for sig in (signal.SIGTERM, signal.SIGCONT):
            for p in frozen:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            try:    # the group too, while its leader is not reaped (its pid not reusable)
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        end = time.time() + 5
        while alive(self.pids) and time.time() < end:
            time.sleep(0.02)
        for p in alive(self.pids):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        if self._out:
            self._out.close()
            self._out = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------------------------------------
# vsftpd

class Ftp(_Server):
    """vsftpd on 127.0.0.1:port serving root (writable: uploads, renames, mkdir, delete).

    Login: user "anonymous" with the generated password (anonymous logins, whose password
    vsftpd checks against a list, need no system user and no root); any other password gets
    530. With tls=True, explicit FTPS: AUTH TLS, login and data must be encrypted, with the
    self-signed certificate ca_file (CN and subjectAltName 127.0.0.1).

    vsftpd runs as whoever starts it (run_as_launching_user), root or not, with no chroot: PWD
    answers the absolute path of root, and paths in URLs are relative to it, as to a home
    directory. Logs: workdir/vsftpd.log (every command and reply), workdir/vsftpd.out.
    """

    name = "vsftpd"

    def __init__(self, workdir, tls=False):
        super().__init__(workdir)
        self.tls = tls
        self.user = "anonymous"
        self.password = "pw-" + secrets.token_hex(8)
        self.root = os.path.join(self.workdir, "root")
        self.ca_file = os.path.join(self.workdir, "ftps-cert.pem") if tls else None
        self.key_file = os.path.join(self.workdir, "ftps-key.pem") if tls else None
        self.log = os.path.join(self.workdir, "vsftpd.log")
        self.conf = os.path.join(self.workdir, "vsftpd.conf")
        self.url = None
        self._token = secrets.token_hex(6)

    def _start(self):
        vsftpd = _which("vsftpd", "vsftpd")
        os.makedirs(self.root, exist_ok=True)
        empty = os.path.join(self.workdir, "empty")
        os.makedirs(empty, exist_ok=True)
        _write(os.path.join(self.workdir, "passwords"), self.password + "\n", 0o600)
        if self.tls:
            self._make_cert()
        for _ in range(START_TRIES):
            self.port = _free_port()
            self._write_conf(empty)
            # vsftpd writes its fatal errors ("500 OOPS: could not bind ...") to fd 0, the
            # client's socket in inetd mode: here, its output file
            self._spawn([vsftpd, self.conf], os.path.join(self.workdir, "vsftpd.out"),
                        out_on_stdin=True)
            if self._wait_ready():
                self.url = f"ftp://{HOST}:{self.port}/"
                return
            self.stop()
        raise RuntimeError(f"vsftpd: no free port after {START_TRIES} tries: "
                           + _tail(os.path.join(self.workdir, "vsftpd.out")))

    def _make_cert(self):
        openssl = _which("openssl", "openssl")
        r = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "7",
                            "-subj", f"/CN={HOST}",
                            "-addext", f"subjectAltName=IP:{HOST},DNS:localhost",
                            "-keyout", self.key_file, "-out", self.ca_file],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"openssl req: {r.stdout}")

    def _write_conf(self, empty):
        conf = [
            # standalone, in the foreground, as whoever runs the tests (no root needed)
            "listen=YES", "listen_ipv6=NO", f"listen_address={HOST}",
            f"listen_port={self.port}", "background=NO", "run_as_launching_user=YES",
            "seccomp_sandbox=NO", f"secure_chroot_dir={empty}",
            f"ftpd_banner=omnibus test vsftpd {self._token}",
            # anonymous only, with a password from a list, writable
            "anonymous_enable=YES", "local_enable=NO", f"anon_root={self.root}",
            "no_anon_password=NO", "secure_email_list_enable=YES",
            f"email_password_file={self.workdir}/passwords",
            "write_enable=YES", "anon_upload_enable=YES", "anon_mkdir_write_enable=YES",
            "anon_other_write_enable=YES", "anon_world_readable_only=NO", "anon_umask=022",
            "file_open_mode=0666", "hide_ids=YES",
            # passive mode on any free loopback port; active mode too
            "pasv_enable=YES", "pasv_min_port=0", "pasv_max_port=0", "port_enable=YES",
            "connect_from_port_20=NO", "dirmessage_enable=NO", "use_localtime=NO",
            # logs
            "xferlog_enable=YES", "log_ftp_protocol=YES", "dual_log_enable=YES",
            f"vsftpd_log_file={self.log}", f"xferlog_file={self.workdir}/xferlog",
        ]
        if self.tls:
            conf += [
                "ssl_enable=YES", f"rsa_cert_file={self.ca_file}",
                f"rsa_private_key_file={self.key_file}", "allow_anon_ssl=YES",
                "force_anon_logins_ssl=YES", "force_anon_data_ssl=YES", "ssl_tlsv1=YES",
                "ssl_sslv2=NO", "ssl_sslv3=NO", "ssl_request_cert=NO", "ssl_ciphers=HIGH",
                "require_ssl_reuse=YES",
            ]
        _write(self.conf, "\n".join(conf) + "\n")

    def _wait_ready(self):
        """True once our vsftpd answers with its banner; False when it exited (port taken)."""
        end = time.time() + START_TIMEOUT
        while time.time() < end:
            if self.proc.poll() is not None:
                out = _tail(os.path.join(self.workdir, "vsftpd.out"))
                if "could not bind" in out:
                    return False
                raise RuntimeError(f"vsftpd exited ({self.proc.returncode}): {out}")
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    banner = s.makefile("rb").readline().decode("latin-1")
                    s.sendall(b"QUIT\r\n")
                if self._token in banner:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("vsftpd did not answer within %gs: %s"
                           % (START_TIMEOUT, _tail(os.path.join(self.workdir, "vsftpd.out"))))


# ---------------------------------------------------------------------------------------------
# OpenSSH

def _keygen(path, comment):
    for p in (path, path + ".pub"):
        if os.path.exists(p):
            os.unlink(p)
    r = subprocess.run([_which("ssh-keygen", "openssh-client"), "-q", "-t", "ed25519", "-N", "",
                        "-C", comment, "-f", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ssh-keygen: {r.stdout}")


def _quote(path):
    """A path for sshd_config, which splits arguments at spaces unless quoted."""
    return '"' + path + '"'


def _root_locked():
    """Root's password is locked ("!..."): sshd with UsePAM no then refuses root's logins,
    even with a key."""
    try:
        with open("/etc/shadow") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name == "root":
                    pw = rest.split(":", 1)[0]
                    return pw.startswith("!") or pw == "*LK*"
    except OSError:
        pass
    return False


class Sftp(_Server):
    """OpenSSH's sshd on 127.0.0.1:port: SFTP only (internal-sftp), public-key logins only,
    for the user that runs the tests (root too: PermitRootLogin prohibit-password).

    Keys are thrown away with the workdir: the host key (ed25519), the client's key pair
    (ed25519: libssh2 1.10 signs RSA keys with SHA-1 only, which OpenSSH 9.2 refuses), and a
    known_hosts file naming the host key for [127.0.0.1]:port; host_key_sha256 is its
    fingerprint (base64, no padding: CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256). root is a directory under
    workdir; url is sftp://127.0.0.1:port/<absolute path of root, %-encoded>/. The SFTP session
    starts in root too (unless its path has a space), so relative paths and curl's /~/ name
    it. Log: workdir/sshd.log.
    """

    name = "sshd"

    def __init__(self, workdir):
        super().__init__(workdir)
        try:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:
            raise ServerUnavailable(f"uid {os.geteuid()} has no passwd entry: sshd logs in "
                                    f"only users it can look up") from None
        self.root = os.path.join(self.workdir, "root")
        self.host_key = os.path.join(self.workdir, "ssh_host_ed25519_key")
        self.key = os.path.join(self.workdir, "client_ed25519")
        self.pubkey = self.key + ".pub"
        self.known_hosts = os.path.join(self.workdir, "known_hosts")
        self.host_key_sha256 = None
        self.log = os.path.join(self.workdir, "sshd.log")
        self.conf = os.path.join(self.workdir, "sshd_config")
        self.url = None

    def _start(self):
        sshd = _which("sshd", "openssh-server")     # absolute: sshd re-executes itself
        os.makedirs(self.root, exist_ok=True)
        _keygen(self.host_key, "omnibus-test-host")
        _keygen(self.key, "omnibus-test-client")
        with open(self.pubkey) as f:
            _write(os.path.join(self.workdir, "authorized_keys"), f.read(), 0o600)
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            # sshd started as root wants its privilege separation directory, which systemd
            # creates for the system's sshd (RuntimeDirectory=sshd) and nothing else does.
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        for _ in range(START_TRIES):
            self.port = _free_port()
            self._write_conf()
            if os.path.exists(self.log):
                os.unlink(self.log)
            self._spawn([sshd, "-D", "-f", self.conf, "-E", self.log],
                        os.path.join(self.workdir, "sshd.out"))
            if self._wait_ready():
                with open(self.host_key + ".pub") as f:
                    kind, blob = f.read().split()[:2]
                _write(self.known_hosts, f"[{HOST}]:{self.port} {kind} {blob}\n")
                digest = hashlib.sha256(base64.b64decode(blob)).digest()
                self.host_key_sha256 = base64.b64encode(digest).decode().rstrip("=")
                self.url = f"sftp://{HOST}:{self.port}{urllib.parse.quote(self.root)}/"
                return
            self.stop()
        raise RuntimeError(f"sshd: no free port after {START_TRIES} tries: " + _tail(self.log))

    def _write_conf(self):
        root = os.geteuid() == 0
        q = _quote
        # internal-sftp splits its command line at spaces, quotes or not: a root whose path
        # has a space cannot be the start directory (the session starts in the user's home)
        sftp = "internal-sftp" + ("" if " " in self.root else f" -d {self.root}")
        conf = [
            f"ListenAddress {HOST}:{self.port}",
            f"HostKey {q(self.host_key)}",
            "PidFile none",
            f"AuthorizedKeysFile {q(self.workdir + '/authorized_keys')}",
            "AuthenticationMethods publickey",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            # the workdir and its files belong to the tests, not to a home directory's rules
            "StrictModes no",
            # PAM needs root; as root, PAM keeps a locked root account usable with a key
            "UsePAM " + ("yes" if root and _root_locked() else "no"),
            "PermitRootLogin prohibit-password",
            f"AllowUsers {self.user}",
            "UseDNS no",
            "PrintMotd no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "PermitTTY no",
            f"Subsystem sftp {sftp}",
            f"ForceCommand {sftp}",
            "LogLevel VERBOSE",
        ]
        _write(self.conf, "\n".join(conf) + "\n")

    def _wait_ready(self):
        ready = f"Server listening on {HOST} port {self.port}."
        end = time.time() + START_TIMEOUT
        while time.time() < end:
            log = _tail(self.log, 50)
            if ready in log:
                return True
            if self.proc.poll() is not None:
                if "Address already in use" in log:
                    return False
                raise RuntimeError(f"sshd exited ({self.proc.returncode}): {log}"
                                   + _tail(os.path.join(self.workdir, "sshd.out")))
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not start within {START_TIMEOUT}s: {_tail(self.log)}")


# ---------------------------------------------------------------------------------------------
# A small FTP server in Python, for fault injection

class _Drop(Exception):
    """Close the control connection abruptly."""


class _FtpHandler(socketserver.StreamRequestHandler):
    timeout = 60

    def setup(self):
        super().setup()
        self.ftp = self.server.ftp
        self.ftp._track(self.connection, threading.current_thread())
        self.cwd = "/"
        self.user = None
        self.logged_in = False
        self.pasv = None
        self.rest = 0
        self.rnfr = None
        self.binary = True

    def finish(self):
        self.ftp._untrack(self.connection)
        self._close_pasv()
        try:
            super().finish()
        except OSError:
            pass

    def reply(self, code, text):
        lines = text.split("\n")
        out = "".join(f"{code}-{l}\r\n" for l in lines[:-1]) + f"{code} {lines[-1]}\r\n"
        self.wfile.write(out.encode("utf-8"))

    def handle(self):
        self.reply(220, "omnibus flaky FTP server ready")
        try:
            while True:
                line = self.rfile.readline(8192)
                if not line:
                    return
                line = line.decode("utf-8", "replace").rstrip("\r\n")
                cmd, _, arg = line.partition(" ")
                cmd = cmd.upper()
                self.ftp._record(line)
                fn = getattr(self, "ftp_" + cmd, None)
                if fn is None:
                    self.reply(502, f"{cmd} not implemented")
                elif not self.logged_in and cmd not in self.OPEN:
                    self.reply(530, "Please login with USER and PASS")
                else:
                    if cmd != "RETR" and cmd != "STOR" and cmd != "APPE" and cmd != "REST":
                        self.rest = 0
                    if fn(arg) is False:
                        return
        except _Drop:
            # SO_LINGER on, 0 s: close() sends a reset, not the orderly FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass

    OPEN = {"USER", "PASS", "QUIT", "FEAT", "SYST", "OPTS", "AUTH", "NOOP", "HELP"}

    # paths ---------------------------------------------------------------------------------
    def vpath(self, arg):
        return posixpath.normpath(posixpath.join(self.cwd, arg or "."))

    def real(self, arg):
        v = self.vpath(arg)
        return os.path.join(self.ftp.root, v.lstrip("/")) if v != "/" else self.ftp.root

    # data connections ----------------------------------------------------------------------
    def _close_pasv(self):
        if self.pasv:
            self.ftp._untrack(self.pasv)
            self.pasv.close()
            self.pasv = None

    def _open_pasv(self):
        self._close_pasv()
        self.pasv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.pasv.bind((HOST, 0))
        self.pasv.listen(1)
        self.pasv.settimeout(20)
        self.ftp._track(self.pasv)
        return self.pasv.getsockname()[1]

    def data(self):
        if not self.pasv:
            self.reply(425, "Use PASV or EPSV first")
            return None
        try:
            conn, _ = self.pasv.accept()
        except OSError:
            self.reply(425, "Can't open data connection")
            return None
        finally:
            self._close_pasv()
        conn.settimeout(60)
        self.ftp._track(conn)
        return conn

    # commands ------------------------------------------------------------------------------
    def ftp_USER(self, arg):
        self.user, self.logged_in = arg, False
        self.reply(331, "Please specify the password")

    def ftp_PASS(self, arg):
        if self.ftp.mode == "refuse-login" or self.user != self.ftp.user \
                or arg != self.ftp.password:
            self.reply(530, "Login incorrect")
        else:
            self.logged_in = True
            self.reply(230, "Login successful")

    def ftp_QUIT(self, arg):
        self.reply(221, "Goodbye")
        return False

    def ftp_FEAT(self, arg):
        self.reply(211, "Features:\n EPSV\n PASV\n MDTM\n SIZE\n REST STREAM\n UTF8\nEnd")

    def ftp_OPTS(self, arg):
        if arg.upper().startswith("UTF8"):
            self.reply(200, "Always in UTF8 mode")
        else:
            self.reply(501, "Option not understood")

    def ftp_SYST(self, arg):
        self.reply(215, "UNIX Type: L8")

    def ftp_NOOP(self, arg):
        self.reply(200, "NOOP ok")

    def ftp_HELP(self, arg):
        self.reply(214, "Help OK")

    def ftp_AUTH(self, arg):
        self.reply(502, "No TLS here")

    def ftp_PWD(self, arg):
        self.reply(257, f'"{self.cwd}" is the current directory')

    def ftp_CWD(self, arg):
        if os.path.isdir(self.real(arg)):
            self.cwd = self.vpath(arg)
            self.reply(250, "Directory successfully changed")
        else:
            self.reply(550, "Failed to change directory")

    def ftp_CDUP(self, arg):
        return self.ftp_CWD("..")

    def ftp_TYPE(self, arg):
        self.binary = arg.upper().startswith("I")
        self.reply(200, f"Switching to {'Binary' if self.binary else 'ASCII'} mode")

    def ftp_MODE(self, arg):
        self.reply(200 if arg.upper() == "S" else 504, "Mode")

    def ftp_STRU(self, arg):
        self.reply(200 if arg.upper() == "F" else 504, "Structure")

    def ftp_PASV(self, arg):
        port = self._open_pasv()
        self.reply(227, "Entering Passive Mode (%s,%d,%d)"
                   % (HOST.replace(".", ","), port >> 8, port & 255))

    def ftp_EPSV(self, arg):
        if arg.upper() == "ALL":
            self.reply(200, "EPSV ALL ok")
            return
        self.reply(229, f"Entering Extended Passive Mode (|||{self._open_pasv()}|)")

    def ftp_PORT(self, arg):
        self.reply(502, "Active mode not supported: use PASV or EPSV")

    ftp_EPRT = ftp_PORT

    def ftp_REST(self, arg):
        try:
            self.rest = int(arg)
            self.reply(350, f"Restart position accepted ({self.rest})")
        except ValueError:
            self.reply(501, "Bad REST")

    def _list(self, arg, names_only):
        args = [a for a in arg.split() if not a.startswith("-")]
        path = self.real(args[0] if args else "")
        if os.path.isdir(path):
            entries = sorted(os.listdir(path))
            base = path
        elif os.path.exists(path):
            entries, base = [os.path.basename(path)], os.path.dirname(path)
        else:
            self.reply(550, "No such file or directory")
            return
        lines = []
        for name in entries:
            if names_only:
                lines.append(name)
                continue
            st = os.stat(os.path.join(base, name))
            kind = "d" if stat.S_ISDIR(st.st_mode) else "-"
            when = time.strftime("%b %d %H:%M", time.gmtime(st.st_mtime))
            lines.append(f"{kind}rw-r--r--    1 ftp      ftp      {st.st_size:>10} {when} {name}")
        self.reply(150, "Here comes the directory listing")
        conn = self.data()
        if conn is None:
            return
        with conn:
            conn.sendall("".join(l + "\r\n" for l in lines).encode("utf-8"))
        self.reply(226, "Directory send OK")

    def ftp_LIST(self, arg):
        self._list(arg, False)

    def ftp_NLST(self, arg):
        self._list(arg, True)

    def ftp_SIZE(self, arg):
        path = self.real(arg)
        if os.path.isfile(path):
            self.reply(213, str(os.path.getsize(path)))
        else:
            self.reply(550, "Could not get file size")

    def ftp_MDTM(self, arg):
        path = self.real(arg)
        if os.path.isfile(path):
            self.reply(213, time.strftime("%Y%m%d%H%M%S", time.gmtime(os.path.getmtime(path))))
        else:
            self.reply(550, "Could not get file modification time")

    def ftp_RETR(self, arg):
        path = self.real(arg)
        if not os.path.isfile(path):
            self.reply(550, "Failed to open file")
            return
        with open(path, "rb") as f:
            f.seek(self.rest)
            body = f.read()
        self.rest = 0
        drop = self.ftp._take_drop()
        self.reply(150, f"Opening BINARY mode data connection for {arg} ({len(body)} bytes)")
        conn = self.data()
        if conn is None:
            return
        with conn:
            if drop:
                conn.sendall(body[:len(body) // 2])
                conn.shutdown(socket.SHUT_RDWR)
                raise _Drop()
            conn.sendall(body)
        self.reply(226, "Transfer complete")

    def _store(self, arg, append):
        path = self.real(arg)
        if not os.path.isdir(os.path.dirname(path)):
            self.reply(553, "Could not create file")
            return
        self.reply(150, "Ok to send data")
        conn = self.data()
        if conn is None:
            return
        mode = "ab" if append else ("r+b" if self.rest and os.path.exists(path) else "wb")
        with conn, open(path, mode) as f:
            if self.rest and not append:
                f.seek(self.rest)
                f.truncate()
            self.rest = 0
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                f.write(chunk)
        self.reply(226, "Transfer complete")

    def ftp_STOR(self, arg):
        self._store(arg, False)

    def ftp_APPE(self, arg):
        self._store(arg, True)

    def ftp_DELE(self, arg):
        try:
            os.unlink(self.real(arg))
            self.reply(250, "Delete operation successful")
        except OSError:
            self.reply(550, "Delete operation failed")

    def ftp_MKD(self, arg):
        try:
            os.mkdir(self.real(arg))
            self.reply(257, f'"{self.vpath(arg)}" created')
        except OSError:
            self.reply(550, "Create directory operation failed")

    def ftp_RMD(self, arg):
        try:
            os.rmdir(self.real(arg))
            self.reply(250, "Remove directory operation successful")
        except OSError:
            self.reply(550, "Remove directory operation failed")

    def ftp_RNFR(self, arg):
        if os.path.exists(self.real(arg)):
            self.rnfr = self.real(arg)
            self.reply(350, "Ready for RNTO")
        else:
            self.reply(550, "RNFR command failed")

    def ftp_RNTO(self, arg):
        src, self.rnfr = self.rnfr, None
        if src is None:
            self.reply(503, "RNFR required first")
            return
        try:
            os.rename(src, self.real(arg))
            self.reply(250, "Rename successful")
        except OSError:
            self.reply(550, "Rename failed")

    def ftp_ABOR(self, arg):
        self.reply(225, "No transfer to ABOR")


class _ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = True


class FlakyFtp:
    """A small FTP server written in Python, serving root, for fault injection.

    mode "ok": a plain FTP server (login user/password, PASV and EPSV only).
    mode "refuse-login": 530 Login incorrect for every PASS.
    mode "drop-mid-transfer": RETR sends half the file, then closes the data connection and
    resets the control connection. drops=None drops every RETR; drops=N only the first N
    (drops_left counts down), so a retry succeeds.
    commands holds every command line received, in order ("PASS" lines included).
    """

    MODES = ("ok", "refuse-login", "drop-mid-transfer")

    def __init__(self, workdir, mode="ok", drops=None):
        if mode not in self.MODES:
            raise ValueError(f"FlakyFtp mode {mode!r}: one of {', '.join(self.MODES)}")
        self.workdir = os.path.abspath(workdir)
        self.mode = mode
        self.drops_left = drops
        self.user = "omnibus"
        self.password = "pw-" + secrets.token_hex(8)
        self.root = os.path.join(self.workdir, "root")
        self.commands = []
        self.drops = 0          # how many transfers were dropped
        self.port = None
        self.url = None
        self._lock = threading.Lock()
        self._socks = weakref.WeakSet()     # the sockets in use, to shut down on stop()
        self._threads = weakref.WeakSet()   # the connections' threads, to join on stop()
        self._server = None
        self._thread = None

    def _record(self, line):
        with self._lock:
            self.commands.append(line)

    def _track(self, sock, thread=None):
        with self._lock:
            self._socks.add(sock)
            if thread:
                self._threads.add(thread)

    def _untrack(self, sock):
        with self._lock:
            self._socks.discard(sock)

    def _take_drop(self):
        with self._lock:
            if self.mode != "drop-mid-transfer":
                return False
            if self.drops_left is not None:
                if self.drops_left <= 0:
                    return False
                self.drops_left -= 1
            self.drops += 1
            return True

    def start(self):
        if self._server is None:
            os.makedirs(self.root, exist_ok=True)
            self._server = _ThreadingServer((HOST, 0), _FtpHandler)
            self._server.ftp = self
            self.port = self._server.server_address[1]
            self.url = f"ftp://{HOST}:{self.port}/"
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.05}, daemon=True)
            self._thread.start()
            _live.add(self)
        return self

    def stop(self):
        _live.discard(self)
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            socks, threads = list(self._socks), list(self._threads)
        for c in socks:     # wakes the threads blocked in accept() or recv() on them
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join()
        for t in threads:
            t.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
