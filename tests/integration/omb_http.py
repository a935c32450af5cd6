"""Helpers for the HTTP tests: the daemon's listening port, requests with raw bodies, the signed
webhook fixtures, a self-signed certificate, and a scripted HTTP server standing in for a vendor.
"""
import http.client
import http.server
import json
import os
import re
import ssl
import subprocess
import threading
import time

from omb import SRCDIR, check, wait_for

FIXTURES = os.path.join(SRCDIR, "tests", "fixtures", "webhooks")


def listen_port(daemon, scheme="http"):
    """The port of the daemon's "listening on" log line (the config says port 0)."""
    found = {}

    def seen():
        m = re.search(scheme + r"://[0-9.\[\]:a-f]*:(\d+) ", daemon.text())
        if m:
            found["port"] = int(m.group(1))
        return bool(m)
    wait_for(seen, what="the HTTP listener")
    return found.get("port", 0)


def request(port, path, body=b"", headers=None, method="POST", tls_ca=None, timeout=30):
    """One request on a fresh connection: (status, {lowercase header: value}, body bytes)."""
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body if method != "GET" else None, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def fixture(name):
    """(raw body bytes, [(name, value)...]) of tests/fixtures/webhooks/NAME.{body,headers}."""
    with open(os.path.join(FIXTURES, name + ".body"), "rb") as f:
        body = f.read()
    headers = []
    with open(os.path.join(FIXTURES, name + ".headers")) as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line:
                k, v = line.split(":", 1)
                headers.append((k.strip(), v.strip()))
    return body, headers


def self_signed(d):
    """A certificate for 127.0.0.1 and its key, made with openssl in d: (cert, key)."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class FakeServer:
    """A vendor stand-in on 127.0.0.1 (a thread). script(path, [(status, headers, body), ...])
    sets the answers for a path, the last repeating; every request is recorded as a dict with
    time (monotonic), method, path, headers (lowercase names) and body (bytes)."""

    def __init__(self, tls=None):
        self.scripts = {}
        self.requests = []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY the second waits for
            # the client's delayed ACK, 40 ms a request.
            disable_nagle_algorithm = True

            def log_message(self, fmt, *args):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with owner.lock:
                    owner.requests.append({
                        "time": time.monotonic(), "method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body})
                    script = owner.scripts.get(self.path) or [(200, {}, b"ok")]
                    status, headers, out = script.pop(0) if len(script) > 1 else script[0]
                if isinstance(out, str):
                    out = out.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_POST = do_PUT = do_PATCH = do_GET = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def script(self, path, answers):
        with self.lock:
            self.scripts[path] = list(answers)

    def seen(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def body_json(req):
    return json.loads(req["body"].decode())


__all__ = ["listen_port", "request", "fixture", "self_signed", "FakeServer", "body_json",
           "check"]
