#!/usr/bin/env python3
"""Publish one event into omnibus and print the next event omnibus sends out
(docs/wire-protocol.md). Needs pyzmq (Debian: python3-zmq).

    zmq_client.py IN OUT TYPE KEY BODY-JSON
    zmq_client.py tcp://127.0.0.1:5601 tcp://127.0.0.1:5602 price.set A-1 '{"sku": "A-1",
        "price": {"amount": 12999, "currency": "PLN"}}'    (one argument: the body)

IN is a zmq connector's `bind`, OUT a zmq connector's `publish-bind`.
"""
import json
import sys

import zmq

inp, out, type_, key, body = sys.argv[1:6]
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)
push.connect(inp)
pull = ctx.socket(zmq.PULL)
pull.connect(out)
pull.setsockopt(zmq.RCVTIMEO, 10000)  # ms; raises zmq.Again when nothing comes
# Frame 1: the envelope (type required; key, time, trace, id, headers optional). Frame 2: the body.
push.send_multipart([json.dumps({"type": type_, "key": key}).encode(),
                     json.dumps(json.loads(body)).encode()])
envelope, body_out = pull.recv_multipart()  # what a route sent to the publish endpoint
print(json.dumps({"envelope": json.loads(envelope), "body": json.loads(body_out)}))
push.close(linger=1000)
pull.close()
ctx.term()
