"""Helpers for the admin tests: run omnibusctl, a scripted fake admin server (pyzmq REP), and a
parser for the Prometheus text format. Not a test itself.

Environment (set by `make check`): top_builddir, top_srcdir, OMNIBUSD, OMNIBUS_PLUGIN_PATH.
OMB_VALGRIND=1 runs omnibusctl under valgrind and fails on any valgrind error (status 99).
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from omb import BUILDDIR, SRCDIR, VALGRIND, check  # noqa: E402,F401

OMNIBUSCTL = os.path.join(os.path.abspath(BUILDDIR), "omnibusctl")


def require_zmq():
    """Import pyzmq. When this python lacks it (a pyenv python, say) but the system's python3 has
    it (Debian: python3-zmq), run the test again under that one; else skip (exit 77)."""
    try:
        import zmq
        return zmq
    except ImportError:
        pass
    if not os.environ.get("OMB_ADMIN_REEXEC"):
        for py in ("/usr/bin/python3", "/usr/local/bin/python3"):
            if (os.access(py, os.X_OK)
                    and os.path.realpath(py) != os.path.realpath(sys.executable)
                    and subprocess.run([py, "-c", "import zmq"],
                                       capture_output=True).returncode == 0):
                os.environ["OMB_ADMIN_REEXEC"] = "1"
                sys.stdout.flush()
                os.execv(py, [py, os.path.abspath(sys.argv[0])] + sys.argv[1:])
    print("SKIP: needs the python3 zmq module (Debian: apt-get install python3-zmq)")
    sys.exit(77)


zmq = require_zmq()


def sockdir(name):
    """A fresh directory for socket files, short enough for a unix socket path (at most 107
    bytes, which a deep build tree can pass), removed at exit. Mode 0755: the tests that run
    omnibusctl as another user need to reach it."""
    d = tempfile.mkdtemp(prefix=f"omb-{name}-", dir="/tmp")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    return d


def ctl(args, env=None, timeout=60, clean_env=True, stdin=None):
    """Run omnibusctl with args (and stdin, text, as its standard input when given); returns
    (status, stdout, stderr). OMNIBUS_ADMIN is removed from the environment unless env sets
    it."""
    e = dict(os.environ)
    if clean_env:
        e.pop("OMNIBUS_ADMIN", None)
    e.update(env or {})
    cmd = [OMNIBUSCTL] + list(args)
    if VALGRIND:
        cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
               "--suppressions=" + os.path.join(SRCDIR, "tests", "valgrind.supp")] + cmd
        timeout *= 10
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout, input=stdin)
    check(p.returncode != 99 or not VALGRIND, f"valgrind errors in omnibusctl {args}:\n{p.stderr}")
    check(p.returncode >= 0, f"omnibusctl {args} died of signal {-p.returncode}:\n{p.stderr}")
    return p.returncode, p.stdout, p.stderr


class FakeAdmin:
    """A REP socket bound at ipc://path answering each request with handler(request).

    request is the parsed JSON of a one-frame request, else the list of raw frames. The handler
    returns a dict/list (sent as JSON), bytes (sent as is), a tuple of bytes (sent as that many
    frames) or None: then the server goes mute for good (it never answers again)."""

    def __init__(self, path, handler):
        self.path = path
        self.endpoint = "ipc://" + path
        self.handler = handler
        self.requests = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake admin server did not start")

    def _run(self):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REP)
        sock.linger = 0
        sock.bind(self.endpoint)
        self._ready.set()
        mute = False
        while not self._stop.is_set():
            if mute or not sock.poll(50):
                time.sleep(0.05 if mute else 0)
                continue
            frames = sock.recv_multipart()
            req = frames
            if len(frames) == 1:
                try:
                    req = json.loads(frames[0])
                except ValueError:
                    pass
            self.requests.append(req)
            ans = self.handler(req)
            if ans is None:
                mute = True
            elif isinstance(ans, tuple):
                sock.send_multipart(list(ans))
            elif isinstance(ans, bytes):
                sock.send(ans)
            else:
                sock.send(json.dumps(ans).encode())
        sock.close()
        ctx.term()

    def close(self):
        self._stop.set()
        self._thread.join()


def ok(result):
    return {"v": 1, "ok": True, "result": result}


def error(code, message, **extra):
    a = {"v": 1, "ok": False, "error": {"code": code, "message": message}}
    a.update(extra)
    return a


class Raw:
    """A REQ client for requests omnibusctl never sends (not JSON, two frames, ...)."""

    def __init__(self, endpoint, timeout_ms=5000):
        self.ctx = zmq.Context()
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms

    def ask(self, *frames):
        """Send frames (bytes, or objects sent as JSON) as one request; the parsed answer, or
        None when there is no answer in time."""
        s = self.ctx.socket(zmq.REQ)
        s.linger = 0
        s.rcvtimeo = self.timeout_ms
        s.sndtimeo = self.timeout_ms
        try:
            s.connect(self.endpoint)
            s.send_multipart([f if isinstance(f, bytes) else json.dumps(f).encode()
                              for f in frames])
            parts = s.recv_multipart()
            if len(parts) != 1:
                return {"frames": parts}
            return json.loads(parts[0])
        except zmq.Again:
            return None
        finally:
            s.close()

    def close(self):
        self.ctx.term()


# Prometheus text exposition format 0.0.4.
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(r"^(" + _NAME + r")(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def _unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], v)


def parse_prometheus(text):
    """Parse text strictly; returns (types {family: type}, samples [(name, {labels}, float)]).
    Raises ValueError on a line that breaks the format, a TYPE after its samples, samples of a
    family that are not contiguous, or a sample whose family has no TYPE."""
    types, helps, samples = {}, {}, []
    seen_done = set()
    current = None
    if text and not text.endswith("\n"):
        raise ValueError("the text does not end with a newline")
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            helps[name] = line.split(" ", 3)[3] if len(line.split(" ", 3)) > 3 else ""
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            if typ not in ("counter", "gauge", "summary", "histogram", "untyped"):
                raise ValueError(f"line {n}: unknown type {typ}")
            if name in types:
                raise ValueError(f"line {n}: second TYPE for {name}")
            types[name] = typ
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {n}: not a sample: {line!r}")
        name, labels_text, value = m.group(1), m.group(2), m.group(3)
        if name not in types:
            raise ValueError(f"line {n}: {name} has no TYPE line before it")
        if name != current:
            if name in seen_done:
                raise ValueError(f"line {n}: the samples of {name} are not together")
            if current:
                seen_done.add(current)
            current = name
        labels = {}
        rest = labels_text or ""
        while rest:
            lm = _LABEL.match(rest)
            if not lm:
                raise ValueError(f"line {n}: bad labels {rest!r}")
            labels[lm.group(1)] = _unescape(lm.group(2))
            rest = rest[lm.end():]
        samples.append((name, labels, float(value)))
    for name in types:
        if name not in helps:
            raise ValueError(f"{name} has a TYPE and no HELP")
    return types, samples


def sample_value(samples, metric, /, **labels):
    """The value of the one sample with this name and exactly these labels, else None."""
    found = [v for (n, l, v) in samples if n == metric and l == labels]
    return found[0] if len(found) == 1 else None
