#!/usr/bin/env python3
"""omnibusd with zmq connectors end to end: 10,000 events in over ipc:// (PUSH -> the connector's
PULL) and out again (the connector's PUSH -> PULL), exactly once and in order per key, a file
sink beside; invalid input counted while the daemon runs on; tcp:// endpoints; connect instead of
bind; retry while nobody reads; the ack mode (DEALER and REQ -> ROUTER, an answer once stored);
the three example clients; inbound throughput (printed only)."""
import os
import sys

try:
    import zmq
except ImportError:
    # python3 may be another interpreter than Debian's (pyenv); python3-zmq is Debian's.
    if os.environ.get("OMB_ZMQ_REEXEC") != "1" and os.access("/usr/bin/python3", os.X_OK):
        os.environ["OMB_ZMQ_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIP: pyzmq is not installed (Debian: python3-zmq)")
    sys.exit(77)

import json
import re
import socket
import subprocess
import time

from omb import (BUILDDIR, SRCDIR, VALGRIND, Daemon, check, config, done, file_sink, read_lines,
                 run, wait_for, workdir, write_config, count_lines)

CTX = zmq.Context()
SLOW = 10 if VALGRIND else 1


def zmq_in(name, endpoint, mode="bind", **opts):
    extra = "".join(f'    <option name="{k.replace("_", "-")}">{v}</option>\n'
                    for k, v in opts.items())
    return (f'  <connector name="{name}" plugin="zmq">\n'
            f'    <option name="{mode}">{endpoint}</option>\n{extra}  </connector>\n')


def zmq_out(name, endpoint, mode="publish-bind", **opts):
    return zmq_in(name, endpoint, mode, **opts)


def route(name, src, *dests):
    to = "".join(f'<to connector="{d}"/>' for d in dests)
    return f'  <route name="{name}"><from connector="{src}"/>{to}</route>\n'


def sock(kind, endpoint, bind=False):
    s = CTX.socket(kind)
    s.setsockopt(zmq.LINGER, 2000)
    s.setsockopt(zmq.RCVTIMEO, 10000 * SLOW)
    (s.bind if bind else s.connect)(endpoint)
    return s


def event(seq, key=None):
    key = key or f"SKU-{seq % 100:03d}@WAW01"
    return [json.dumps({"type": "stock.delta", "key": key}).encode(),
            json.dumps({"sku": key.split("@")[0], "location": "WAW01", "delta": -1,
                        "reason": "sale", "ref": f"r-{seq}", "seq": seq}).encode()]


def receive(pull, n):
    """Up to n messages from pull as (envelope, body) pairs; fewer when it times out."""
    got = []
    while len(got) < n:
        try:
            frames = pull.recv_multipart()
        except zmq.Again:
            break
        check(len(frames) == 2, f"two frames out, got {len(frames)}")
        got.append((json.loads(frames[0]), json.loads(frames[1])))
    return got


def in_order_per_key(seqs_by_key):
    return all(s == sorted(s) for s in seqs_by_key.values())


def test_doc_and_check():
    rc, out, err = run(["--plugin-doc", "zmq"])
    check(rc == 0, f"--plugin-doc zmq: {err}")
    for opt in ("bind", "connect", "publish-bind", "publish-connect", "hwm", "max-message",
                "linger", "ack"):
        check(re.search(rf"^\s+{opt}\s", out, re.M), f"--plugin-doc zmq lists {opt}")
    d = workdir("zmq-check")
    for opts, msg in (({}, "set bind or connect"),
                      ({"bind": "ipc:///x", "connect": "tcp://h:1"}, "not both"),
                      ({"bind": "inproc://x"}, "only tcp:// and ipc://"),
                      ({"publish-bind": "ipc:///x", "ack": "true"}, "ack answers inbound")):
        body = "".join(f'<option name="{k}">{v}</option>' for k, v in opts.items())
        cfg = write_config(d, config(f'  <connector name="z" plugin="zmq">{body}</connector>\n'))
        rc, out, err = run(["--check", "-c", cfg])
        check(rc == 1 and msg in err and cfg + ":" in err, f"--check {opts}: {rc} {err}")


def test_volume_and_invalid():
    """10,000 events through in -> route -> out and a file sink; then invalid input."""
    n = 10_000
    d = workdir("zmq-volume")
    ep_in, ep_out = f"ipc://{d}/in.sock", f"ipc://{d}/out.sock"
    cfg = config(zmq_in("in", ep_in) + zmq_out("out", ep_out) +
                 file_sink("audit", d + "/audit.ndjson") + route("all", "in", "out", "audit"),
                 workers=4)
    daemon = Daemon(write_config(d, cfg))
    pull = sock(zmq.PULL, ep_out)
    push = sock(zmq.PUSH, ep_in)
    for i in range(n):
        push.send_multipart(event(i))
    got = receive(pull, n)
    check(len(got) == n, f"{len(got)} of {n} events came out")
    seqs = [b["seq"] for _, b in got]
    check(sorted(seqs) == list(range(n)), "every event exactly once")
    by_key = {}
    for env, body in got:
        by_key.setdefault(env["key"], []).append(body["seq"])
    check(in_order_per_key(by_key), "in order per key")
    env, body = got[0]
    check(env["source"] == "in" and env["route"] == "all" and env["type"] == "stock.delta"
          and len(env["id"]) == 26 and env["trace"] == env["id"] and "body" not in env,
          f"the outbound envelope: {env}")
    check(body["reason"] == "sale" and body["delta"] == -1, f"the body: {body}")
    wait_for(lambda: count_lines(d + "/audit.ndjson") >= n, what="the file sink")
    audit = read_lines(d + "/audit.ndjson")
    check(sorted(e["body"]["seq"] for e in audit) == list(range(n)), "the file sink: all, once")

    # Invalid input: counted, logged, dropped; the daemon runs on.
    bad = [[b'{"type":"x.y"}'],
           [b'{"type":"x.y"}', b'{}', b'{}'],
           [b'{"type":', b'{}'],
           [b'{"type":"x.y"}', b'{"a":'],
           [b'{"key":"A"}', b'{}'],
           [b'{"type":"x.y"}', b'[1,2]'],
           [b'{"type":"x.y"}', b'{"a":}']]
    for m in bad:
        push.send_multipart(m)
    push.send_multipart(event(n, key="after-invalid"))
    after = receive(pull, 1)
    check(len(after) == 1 and after[0][1]["seq"] == n, f"a valid event after the bad: {after}")
    check(daemon.proc.poll() is None, "the daemon is still running")
    check("invalid message dropped: expected 2 frames (envelope, body), got 1" in daemon.text(),
          "the first invalid message is logged with its reason")
    push.close()
    pull.close()
    check(daemon.stop() == 0, "exit 0")
    log = daemon.text()
    # The connector does not parse bodies (emit_raw): one that plainly is no object is refused
    # at once; one that looks like an object but is not JSON goes on and the router, which
    # parses every body once, drops it.
    check(f"inbound: received {n + 8}, invalid 6, emitted {n + 2}" in log,
          "the connector's counters in the log")
    check(re.search(r"5 more invalid message\(s\) dropped \(the last: the body frame must be a "
                    r"JSON object\)", log), "suppressed invalid lines counted")
    check(log.count("dropped: the body is not a JSON object") == 1,
          "the router drops the body that is not JSON, with a reason")
    check(re.search(r"route 'all': in \d+, passed \d+, filtered 0, transformed 0, errors 1,", log),
          "counted as a route error")
    check(f"outbound: sent {n + 1}" in log, "sent counted")
    check(f"connector 'in': emitted {n + 2}," in log, "the daemon counted the emits")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_and_connect():
    """tcp:// with a port picked by ZeroMQ (read back from the log) and by the test; connect and
    publish-connect to sockets the test binds."""
    d = workdir("zmq-tcp")
    port = free_port()
    ep_c_in, ep_c_out = f"ipc://{d}/peer-push.sock", f"ipc://{d}/peer-pull.sock"
    peer_push = sock(zmq.PUSH, ep_c_in, bind=True)
    peer_pull = sock(zmq.PULL, ep_c_out, bind=True)
    cfg = config(zmq_in("tin", "tcp://127.0.0.1:*") +
                 zmq_out("tout", f"tcp://127.0.0.1:{port}") +
                 zmq_in("cin", ep_c_in, "connect") + zmq_out("cout", ep_c_out, "publish-connect") +
                 route("t", "tin", "tout") + route("c", "cin", "cout"))
    daemon = Daemon(write_config(d, cfg))
    m = re.search(r"\[connector:zmq:tin\] inbound: PULL bound to (tcp://127\.0\.0\.1:\d+)",
                  daemon.text())
    check(m, "the bound tcp port is logged")
    if m:
        push = sock(zmq.PUSH, m.group(1))
        pull = sock(zmq.PULL, f"tcp://127.0.0.1:{port}")
        for i in range(100):
            push.send_multipart(event(i))
        got = receive(pull, 100)
        by_key = {}
        for env, body in got:
            by_key.setdefault(env["key"], []).append(body["seq"])
        check(sorted(b["seq"] for _, b in got) == list(range(100)) and in_order_per_key(by_key),
              f"tcp: {len(got)} of 100, once each, in order per key")
        push.close()
        pull.close()
    for i in range(100):
        peer_push.send_multipart(event(i, key="one-key"))
    got = receive(peer_pull, 100)
    check([b["seq"] for _, b in got] == list(range(100)), f"connect: {len(got)} of 100, in order")
    check(all(e["source"] == "cin" and e["route"] == "c" for e, _ in got), "connect: envelopes")
    peer_push.close()
    peer_pull.close()
    check(daemon.stop() == 0, "exit 0")


def test_chain():
    """omnibus -> omnibus: a zmq sink's output is a zmq source's input; id, trace, key, time
    and headers cross the hop, source and route are the second hop's."""
    n = 50
    d = workdir("zmq-chain")
    ep_a, ep_b, ep_c = (f"ipc://{d}/{x}.sock" for x in "abc")
    cfg = config(zmq_in("a", ep_a) + zmq_out("to-b", ep_b, "publish-connect") +
                 file_sink("first-hop", d + "/first.ndjson") + zmq_in("b", ep_b) +
                 zmq_out("to-c", ep_c) + route("r1", "a", "to-b", "first-hop") +
                 route("r2", "b", "to-c"))
    daemon = Daemon(write_config(d, cfg))
    push = sock(zmq.PUSH, ep_a)
    pull = sock(zmq.PULL, ep_c)
    for i in range(n):
        env, body = event(i, key="chain")
        if i == 0:
            env = json.dumps({"type": "stock.delta", "key": "chain", "trace": "trace-0",
                              "time": "2026-11-20T10:00:00Z", "headers": {"x-till": "7"}}).encode()
        push.send_multipart([env, body])
    got = receive(pull, n)
    check([b["seq"] for _, b in got] == list(range(n)), f"chain: {len(got)} of {n}, in order")
    wait_for(lambda: count_lines(d + "/first.ndjson") >= n, what="the first hop's file")
    first = read_lines(d + "/first.ndjson")
    check(got and got[0][0]["trace"] == "trace-0" and
          got[0][0]["time"] == "2026-11-20T10:00:00Z" and got[0][0]["headers"] == {"x-till": "7"},
          f"chain: trace, time and headers kept: {got[:1]}")
    check([e["id"] for e, _ in got] == [e["id"] for e in first], "chain: ids kept across the hop")
    check(all(e["source"] == "b" and e["route"] == "r2" and e["key"] == "chain" for e, _ in got),
          "chain: source and route of the second hop")
    push.close()
    pull.close()
    check(daemon.stop() == 0, "exit 0")


def test_retry_until_read():
    """Nobody reads the publish endpoint: deliver retries (HWM), nothing is lost."""
    n = 200
    d = workdir("zmq-retry")
    ep_in, ep_out = f"ipc://{d}/in.sock", f"ipc://{d}/out.sock"
    cfg = config(zmq_in("in", ep_in) + zmq_out("out", ep_out, hwm=10) + route("r", "in", "out"))
    daemon = Daemon(write_config(d, cfg))
    push = sock(zmq.PUSH, ep_in)
    for i in range(n):
        push.send_multipart(event(i, key="k"))
    wait_for(lambda: "peer not reading (HWM reached)" in daemon.text(),
             what="a retry because nobody reads")
    time.sleep(0.3)
    pull = sock(zmq.PULL, ep_out)
    got = receive(pull, n)
    check([b["seq"] for _, b in got] == list(range(n)), f"all {n} in order after the retries")
    push.close()
    pull.close()
    check(daemon.stop() == 0, "exit 0")


def test_examples():
    """The C and the Python example clients each do a round trip."""
    d = workdir("zmq-examples")
    ep_in, ep_out = f"ipc://{d}/in.sock", f"ipc://{d}/out.sock"
    cfg = config(zmq_in("in", ep_in) + zmq_out("out", ep_out) + route("echo", "in", "out"))
    daemon = Daemon(write_config(d, cfg))
    body = '{"sku":"A-1","location":"WAW01","on_hand":3,"as_of":"2026-11-20T10:00:00Z"}'
    client = os.path.join(BUILDDIR, "examples", "zmq-client")
    p = subprocess.run([client, ep_in, ep_out, '{"type":"stock.level","key":"A-1@WAW01"}', body],
                       capture_output=True, text=True, timeout=60 * SLOW)
    check(p.returncode == 0, f"examples/zmq-client: {p.returncode} {p.stderr}")
    env, _, out_body = p.stdout.strip().partition("\t")
    try:
        env = json.loads(env)
        check(env["route"] == "echo" and env["source"] == "in" and env["key"] == "A-1@WAW01",
              f"C client: envelope {env}")
        check(json.loads(out_body) == json.loads(body), f"C client: body {out_body}")
    except ValueError:
        check(False, f"C client output: {p.stdout!r}")
    py = os.path.join(SRCDIR, "examples", "zmq_client.py")
    p = subprocess.run([sys.executable, py, ep_in, ep_out, "stock.level", "B-2@WAW01",
                        '{"sku": "B-2", "location": "WAW01", "on_hand": 0}'],
                       capture_output=True, text=True, timeout=60 * SLOW)
    check(p.returncode == 0, f"examples/zmq_client.py: {p.returncode} {p.stderr}")
    try:
        out = json.loads(p.stdout)
        check(out["envelope"]["key"] == "B-2@WAW01" and out["envelope"]["route"] == "echo" and
              out["body"] == {"sku": "B-2", "location": "WAW01", "on_hand": 0},
              f"Python client: {out}")
    except ValueError:
        check(False, f"Python client output: {p.stdout!r}")
    check(daemon.stop() == 0, "exit 0")
    # docs/wire-protocol.md shows both clients inline: the copies must be the files.
    with open(os.path.join(SRCDIR, "docs", "wire-protocol.md")) as f:
        doc = f.read()
    for name in ("zmq-client.c", "zmq_client.py", "zmq_acked_client.py"):
        with open(os.path.join(SRCDIR, "examples", name)) as f:
            check(f.read() in doc, f"docs/wire-protocol.md shows examples/{name} as it is")


def test_ack():
    """ack: a DEALER pipelines events and gets one answer each, in the order sent, once the event
    is stored; the events reach a file sink with the ids the answers named. Invalid input is
    answered; a REQ client works; a sender that leaves before its answers does no harm; the
    example client."""
    n = 300 if VALGRIND else 2000
    d = workdir("zmq-ack")
    ep = f"ipc://{d}/in.sock"
    audit = d + "/audit.ndjson"
    cfg = config(zmq_in("in", ep, ack="true") + file_sink("audit", audit) +
                 route("all", "in", "audit"))
    daemon = Daemon(write_config(d, cfg))
    wait_for(lambda: "[connector:zmq:in] inbound: ROUTER bound to ipc://" in daemon.text(),
             what="the ROUTER bind in the log")
    dealer = sock(zmq.DEALER, ep)
    for i in range(n):
        env, body = event(i)
        if i % 10 == 0:  # some senders name their events
            env = json.dumps({"type": "stock.delta", "key": json.loads(env)["key"],
                              "id": f"own-{i}"}).encode()
        dealer.send_multipart([env, body])
    answers = []
    for i in range(n):
        try:
            frames = dealer.recv_multipart()
        except zmq.Again:
            break
        check(len(frames) == 1, f"one frame per answer, got {frames}")
        answers.append(json.loads(frames[-1]))
    check(len(answers) == n and all(a["ok"] is True for a in answers),
          f"{len(answers)} of {n} answered, all ok: {[a for a in answers if not a['ok']][:3]}")
    check(all(a["id"] == f"own-{i}" if i % 10 == 0 else len(a["id"]) == 26
              for i, a in enumerate(answers)), "each answer names the event's id, in order")
    check(len({a["id"] for a in answers}) == len(answers), "the ids are distinct")
    # Answered means stored: every one of them reaches the sink, under the id it was given.
    wait_for(lambda: count_lines(audit) >= n, what="the file sink")
    seq_by_id = {e["id"]: e["body"]["seq"] for e in read_lines(audit)}
    check(all(seq_by_id.get(a["id"]) == i for i, a in enumerate(answers)),
          "the file sink has each event under the id its answer named")

    dealer.send_multipart([b'{"type":"x.y","kye":"A","id":"bad-1"}', b'{}'])
    dealer.send_multipart([b'{"type":"x.y"}', b'{"a":}'])
    dealer.send_multipart(event(n, key="after-invalid"))
    got = [json.loads(dealer.recv()) for _ in range(3)]
    check(got[0] == {"ok": False, "id": "bad-1", "error": 'unknown envelope member "kye"',
                     "retry": False}, f"an invalid envelope is answered: {got[0]}")
    check(got[1]["ok"] is False and got[1]["retry"] is False and
          got[1]["error"].startswith("the body frame is not JSON"), f"a bad body: {got[1]}")
    check(got[2]["ok"] is True, f"a valid event after them: {got[2]}")

    req = sock(zmq.REQ, ep)
    req.send_multipart(event(n + 1, key="req"))
    a = json.loads(req.recv())
    check(a["ok"] is True and len(a["id"]) == 26, f"REQ: {a}")
    req.close()

    # A sender that leaves without reading its answers: they are dropped, the events stay.
    gone = sock(zmq.DEALER, ep)
    for i in range(20):
        gone.send_multipart(event(n + 2 + i, key="gone"))
    gone.close()  # LINGER lets the messages out first
    wait_for(lambda: count_lines(audit) >= n + 22, what="the events of the sender that left")

    py = os.path.join(SRCDIR, "examples", "zmq_acked_client.py")
    p = subprocess.run([sys.executable, py, ep, "stock.level", "C-3@WAW01",
                        '{"sku": "C-3", "location": "WAW01", "on_hand": 5}',
                        '{"sku": "C-3", "location": "WAW01", "on_hand": 4}'],
                       capture_output=True, text=True, timeout=60 * SLOW)
    check(p.returncode == 0, f"examples/zmq_acked_client.py: {p.returncode} {p.stderr}")
    try:
        out = [json.loads(line) for line in p.stdout.splitlines()]
        check(len(out) == 2 and all(o["stored"] for o in out), f"acked client: {out}")
        wait_for(lambda: count_lines(audit) >= n + 24, what="the acked client's events")
        stored = {e["id"]: e for e in read_lines(audit)}
        check(all(stored.get(o["id"], {}).get("key") == "C-3@WAW01" for o in out),
              "the acked client's events are stored under its ids")
    except ValueError:
        check(False, f"acked client output: {p.stdout!r}")
    dealer.close()
    check(daemon.proc.poll() is None, "the daemon is still running")
    check(daemon.stop() == 0, "exit 0")
    log = daemon.text()
    m = re.search(r"inbound: replies ok (\d+), error 2, dropped (\d+), never answered 0", log)
    check(m and int(m.group(1)) + int(m.group(2)) == n + 24,
          "the answers counted: every valid event answered ok, or dropped with its sender")


def log_time(line):
    """The time of a log line, in seconds since midnight (UTC)."""
    hh, mm, ss = line.split(" ", 1)[0].split("T")[1].rstrip("Z").split(":")
    return int(hh) * 3600 + int(mm) * 60 + float(ss)


def measure_throughput():
    """Inbound into a null sink: printed, not asserted (not under valgrind). A Python sender is
    slower than the daemon, so the events are queued in the sender's socket before the daemon
    starts (connect creates the queue at once) and ZeroMQ's I/O thread sends them at C speed;
    the time is from the connector binding to the null sink counting the last one."""
    n = int(os.environ.get("OMB_ZMQ_BENCH_EVENTS", "100000"))
    d = workdir("zmq-throughput")
    ep_in = f"ipc://{d}/in.sock"
    cfg = config(zmq_in("in", ep_in) +
                 f'  <connector name="sink" plugin="null"><option name="log-every">{n}</option>'
                 '</connector>\n' + route("r", "in", "sink"))
    push = CTX.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDHWM, 0)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(ep_in)
    for i in range(n):
        push.send_multipart(event(i))
    daemon = Daemon(write_config(d, cfg))
    wait_for(lambda: f"{n} events discarded" in daemon.text(), timeout=120, what="the null sink")
    push.close()
    check(daemon.stop() == 0, "exit 0")
    lines = daemon.text().splitlines()
    t0 = [log_time(l) for l in lines if "inbound: PULL bound to" in l]
    t1 = [log_time(l) for l in lines if f"{n} events discarded" in l]
    if t0 and t1 and t1[0] > t0[0]:
        print(f"throughput: {n} events in over ipc -> router -> null sink in "
              f"{t1[0] - t0[0]:.2f} s: {n / (t1[0] - t0[0]):,.0f} events/s")


test_doc_and_check()
test_volume_and_invalid()
test_tcp_and_connect()
test_chain()
test_retry_until_read()
test_examples()
test_ack()
if not VALGRIND:
    measure_throughput()
CTX.term()
done()
