"""Helpers for the integration tests: run omnibusd on a config, drop files, read outputs.

Environment (set by `make check`): OMNIBUSD, OMNIBUS_PLUGIN_PATH, top_builddir, top_srcdir.
OMB_VALGRIND=1 runs the daemon under valgrind and fails the test on any valgrind error.
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import time

OMNIBUSD = os.environ.get("OMNIBUSD", "omnibusd")
PLUGINS = os.environ.get("OMNIBUS_PLUGIN_PATH", "")
BUILDDIR = os.environ.get("top_builddir", ".")
SRCDIR = os.environ.get("top_srcdir", ".")
VALGRIND = os.environ.get("OMB_VALGRIND") == "1"

failures = 0


def check(cond, what):
    """Record one assertion; print it when it fails."""
    global failures
    if not cond:
        failures += 1
        frame = sys._getframe(1)
        print(f"{frame.f_code.co_filename}:{frame.f_lineno}: FAILED: {what}", flush=True)
    return cond


def done():
    print(f"{'FAIL' if failures else 'ok'}: {failures} failure(s)")
    sys.exit(1 if failures else 0)


def workdir(name):
    """A fresh directory for one test under $top_builddir/tests/tmp."""
    d = os.path.abspath(os.path.join(BUILDDIR, "tests", "tmp", name))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def config(body, workers=2, drain="10s", extra=""):
    return (f'<?xml version="1.0"?>\n<omnibus xmlns="urn:omnibus:config:1">\n'
            f'  <daemon workers="{workers}" drain-timeout="{drain}" log-level="info"/>\n'
            f'{extra}{body}\n</omnibus>\n')


def file_source(name, d, poll="20ms"):
    return (f'  <connector name="{name}" plugin="file">\n'
            f'    <option name="dir">{d}</option>\n'
            f'    <option name="poll">{poll}</option>\n  </connector>\n')


def file_sink(name, path, fmt="event"):
    return (f'  <connector name="{name}" plugin="file">\n'
            f'    <option name="output">{path}</option>\n'
            f'    <option name="output-format">{fmt}</option>\n  </connector>\n')


def write_config(d, text, name="omnibus.xml"):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def drop(d, name, events):
    """Write events as ndjson into the drop dir d, atomically (temp name, then rename)."""
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, "." + name + ".tmp")
    with open(tmp, "w") as f:
        for ev in events:
            f.write(ev if isinstance(ev, str) else json.dumps(ev))
            f.write("\n")
    os.rename(tmp, os.path.join(d, name))


def read_lines(path):
    """The JSON lines of path; a last line still being written (no newline yet) is left out."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip() and line.endswith("\n")]


def count_lines(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def wait_for(pred, timeout=30.0, what="condition"):
    end = time.time() + timeout * (10 if VALGRIND else 1)
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    check(False, f"timed out waiting for {what}")
    return False


class Daemon:
    """omnibusd running on a config file; stderr goes to <dir>/omnibusd.log."""

    def __init__(self, cfg_path, args=(), env=None):
        self.dir = os.path.dirname(cfg_path)
        self.log_path = os.path.join(self.dir, "omnibusd.log")
        self.log = open(self.log_path, "w")
        cmd = [OMNIBUSD, "-c", cfg_path] + list(args)
        if VALGRIND:
            cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                   "--suppressions=" + os.path.join(SRCDIR, "tests", "valgrind.supp")] + cmd
        e = dict(os.environ)
        # Each daemon its own admin socket, unless the config names one.
        self.admin = "ipc://" + os.path.join(self.dir, "admin.sock")
        e.setdefault("OMNIBUS_ADMIN", self.admin)
        # ... and its own journal beside its config (a restart on the same config resumes it).
        e.setdefault("OMNIBUS_STATE_DIR", self.dir)
        e.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=e)
        # A test that dies half-way must not leave its daemon running on its directory.
        atexit.register(lambda p=self.proc: p.poll() is None and p.kill())
        wait_for(lambda: "running " in self.text() or self.proc.poll() is not None,
                 what="the daemon to start")
        if self.proc.poll() is not None:
            check(False, f"omnibusd exited at start ({self.proc.returncode}):\n{self.text()}")
            raise SystemExit(1)

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=60):
        """SIGTERM, then the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout * (10 if VALGRIND else 1))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            check(False, "the daemon did not stop after SIGTERM")
        self.log.close()
        return rc


def run(args, env=None):
    """Run omnibusd with args; returns (status, stdout, stderr)."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([OMNIBUSD] + list(args), capture_output=True, text=True, env=e)
    return p.returncode, p.stdout, p.stderr
