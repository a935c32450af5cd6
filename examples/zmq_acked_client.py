#!/usr/bin/env python3
"""Send events into omnibus and learn, for each, whether it is stored (docs/wire-protocol.md,
"Acknowledged mode"). Needs pyzmq (Debian: python3-zmq).

    zmq_acked_client.py ENDPOINT TYPE KEY BODY-JSON [BODY-JSON ...]
    zmq_acked_client.py tcp://127.0.0.1:5603 stock.delta A-1@WAW01 '{"sku": "A-1",
        "location": "WAW01", "delta": -1, "reason": "sale", "ref": "r-1"}'   (one argument)

ENDPOINT is a zmq connector's `bind` with `ack` on. Prints one line per event, {"id": ...,
"stored": true} or {"id": ..., "stored": false, "error": ...}; exits 0 when all were stored.
"""
import json
import sys
import time
import uuid

import zmq

endpoint, type_, key, *bodies = sys.argv[1:]
ctx = zmq.Context()
dealer = ctx.socket(zmq.DEALER)  # a DEALER may send many before reading the answers (a REQ: one)
dealer.setsockopt(zmq.LINGER, 0)
dealer.setsockopt(zmq.RCVTIMEO, 10000)  # ms; raises zmq.Again when no answer comes
dealer.connect(endpoint)

# Give each event its own id: the answer names it, and an event sent twice (after a retry, or a
# lost answer) keeps one id, so that a receiver can recognise the duplicate.
todo = []
for body in bodies:
    envelope = {"type": type_, "key": key, "id": str(uuid.uuid4())}
    todo.append([json.dumps(envelope).encode(), json.dumps(json.loads(body)).encode()])
failed = 0
for attempt in range(5):
    for frames in todo:
        dealer.send_multipart(frames)  # frame 1: the envelope, frame 2: the body
    again = []
    for frames in todo:  # the answers come in the order the events were sent
        try:
            answer = json.loads(dealer.recv())  # one frame of JSON
        except zmq.Again:
            sys.exit("no answer: these events may or may not be stored; send them again "
                     "(with the same ids)")
        event_id = json.loads(frames[0])["id"]
        assert answer.get("id") == event_id, answer
        if answer["ok"]:  # durably in omnibus's journal
            print(json.dumps({"id": event_id, "stored": True}))
        elif answer["retry"]:  # busy, stopping, or the commit failed: send it again later
            again.append(frames)
        else:  # invalid: it will never be accepted
            print(json.dumps({"id": event_id, "stored": False, "error": answer["error"]}))
            failed += 1
    todo = again
    if not todo:
        break
    time.sleep(0.1 * 2 ** attempt)
for frames in todo:
    print(json.dumps({"id": json.loads(frames[0])["id"], "stored": False,
                      "error": "still refused after 5 attempts"}))
dealer.close()
ctx.term()
sys.exit(1 if failed or todo else 0)
