#!/usr/bin/env python3
"""A fake Square API for the square connector's tests (python3 stdlib only).

A real HTTP server (ThreadingHTTPServer) on 127.0.0.1, an ephemeral port, that follows
../shared/vendor-apis.md section 4 and Square's public reference where that page is silent:

- Bearer auth: a missing or wrong `Authorization: Bearer <token>` is answered 401 with Square's
  error JSON (AUTHENTICATION_ERROR / UNAUTHORIZED).
- `Square-Version`: optional; when given it must look like YYYY-MM-DD (else 400
  INVALID_SQUARE_VERSION_FORMAT); every answer echoes the version in effect.
- POST /v2/inventory/changes/batch-create: idempotency_key (1-128) required; the same key with
  the same body replays the first answer, the same key with another body is 400
  IDEMPOTENCY_KEY_REUSED; PHYSICAL_COUNT and ADJUSTMENT with decimal-string quantities (at most
  5 decimals), writable states only, occurred_at within the last 24 hours and not in the future.
  Counts are computed as Square documents it: the newest physical count (by occurred_at) plus
  the adjustments that occurred after it.
- POST /v2/inventory/counts/batch-retrieve: the IN_STOCK counts.
- GET /v2/catalog/list?types=...&cursor=...: objects in pages of `page_size` (small in tests, so
  that pagination is exercised), an opaque cursor, none on the last page.
- GET /v2/catalog/object/{id}, POST /v2/catalog/object: objects with versions. A write must
  carry the current version (stale or missing: 400 VERSION_MISMATCH), every write bumps it, and
  the object sent replaces the stored one whole (no sparse updates: what is left out is gone),
  so a client that does not send the full object loses data, visibly.

Switches a test flips (a Python API in-process, or POST /_fake/<name> with JSON arguments):
fail_next (the next N requests, optionally of one path prefix, get 401/403/429(+Retry-After)/
500/503), hang_next (answer late: timeouts), item_error (an error inside a 200 for a variation),
bump_version (someone else wrote the object), race (bump the version right after the next GETs
of an object), set_token. Every request is recorded (time, method, path, query, headers, body,
json, status) for assertions.

Webhooks: signature(), inventory_count_webhook(), count_entry() and send_webhook() build and
send Square's signed notifications (x-square-hmacsha256-signature = base64(HMAC-SHA256(key,
notification URL + raw body))).

Run alone: python3 square_fake.py [--port N] [--token T] [--page-size N] [--currency C]
"""
import base64
import copy
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import re
import secrets
import string
import sys
import threading
import time
import urllib.parse
from decimal import Decimal

DEFAULT_VERSION = "2025-01-23"
WRITABLE_STATES = {"IN_STOCK", "SOLD", "NONE", "WASTE", "UNLINKED_RETURN"}
READ_ONLY_STATES = {"CUSTOM", "RETURNED_BY_CUSTOMER", "RESERVED_FOR_SALE", "SOLD_ONLINE",
                    "ORDERED_FROM_VENDOR", "RECEIVED_FROM_VENDOR", "IN_TRANSIT_TO", "IN_TRANSIT"}
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]{1,5})?$")
VERSION_FORMAT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
STATUS_ERRORS = {
    400: ("INVALID_REQUEST_ERROR", "BAD_REQUEST", "Bad request."),
    401: ("AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized."),
    403: ("AUTHENTICATION_ERROR", "INSUFFICIENT_SCOPES",
          "The merchant has not given your application sufficient permissions to do that."),
    404: ("INVALID_REQUEST_ERROR", "NOT_FOUND", "Resource not found."),
    429: ("RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limit exceeded; back off and retry."),
    500: ("API_ERROR", "INTERNAL_SERVER_ERROR", "An internal error occurred."),
    502: ("API_ERROR", "BAD_GATEWAY", "Bad gateway."),
    503: ("API_ERROR", "SERVICE_UNAVAILABLE", "Service unavailable."),
    504: ("API_ERROR", "GATEWAY_TIMEOUT", "Gateway timeout."),
}


def error(category, code, detail, field=None):
    e = {"category": category, "code": code, "detail": detail}
    if field:
        e["field"] = field
    return e


def now_rfc3339():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_rfc3339(s):
    """A timezone-aware datetime, or None."""
    if not isinstance(s, str) or not re.match(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}", s):
        return None
    t = s.replace("z", "Z").replace("t", "T")
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    m = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}:\d{2})$", t)
    if not m:
        return None
    frac = (m.group(2) or ".0")[1:7].ljust(6, "0")
    try:
        return datetime.datetime.fromisoformat(f"{m.group(1)}.{frac}{m.group(3)}")
    except ValueError:
        return None


def fmt_qty(d):
    """A Decimal as Square writes quantities: "8", "2.5"."""
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def new_id():
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(24))


class SquareFake:
    """The fake. start() serves it; the methods below set it up, flip its switches and read
    what it holds and saw. Thread-safe (one lock)."""

    def __init__(self, token="EAAAfake-square-token", currency="PLN", page_size=100,
                 default_version=DEFAULT_VERSION):
        self.lock = threading.RLock()
        self.token = token
        self.currency = currency
        self.page_size = page_size
        self.default_version = default_version
        self.locations = set()
        self.objects = {}          # id -> catalog object
        self.order = []            # ids, in creation order (the list order)
        self.history = {}          # (variation, location) -> [applied change]
        self.idempotency = {}      # (endpoint, key) -> (canonical body, status, answer)
        self.requests = []
        self.failures = []         # [count, status, retry_after, path prefix, hang seconds]
        self.item_errors = {}      # variation id -> [code, detail, times left or None]
        self.races = {}            # variation id -> GETs after which the version is bumped
        self.next_version = int(time.time() * 1000)
        self.seq = 0               # the order changes were applied in
        self.httpd = None
        self.port = 0

    # ---- serving ----

    def start(self, port=0):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, fmt, *args):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                status, headers, answer = owner.handle(self.command, self.path,
                                                       dict(self.headers.items()), body)
                out = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    # ---- setting up ----

    def add_location(self, location_id):
        with self.lock:
            self.locations.add(location_id)
        return location_id

    def _version(self):
        self.next_version += 1
        return self.next_version

    def add_variation(self, sku, name=None, price=None, currency=None, item_name=None):
        """An ITEM with one ITEM_VARIATION of this SKU (a price in minor units makes it
        FIXED_PRICING, none VARIABLE_PRICING). Returns the variation's id."""
        with self.lock:
            item_id, var_id = new_id(), new_id()
            stamp = now_rfc3339()
            item = {"type": "ITEM", "id": item_id, "updated_at": stamp, "created_at": stamp,
                    "version": self._version(), "is_deleted": False,
                    "present_at_all_locations": True,
                    "item_data": {"name": item_name or f"Item {sku}", "variations": [var_id],
                                  "product_type": "REGULAR"}}
            data = {"item_id": item_id, "name": name or sku, "sku": sku, "ordinal": 1,
                    "track_inventory": True, "sellable": True, "stockable": True}
            if price is None:
                data["pricing_type"] = "VARIABLE_PRICING"
            else:
                data["pricing_type"] = "FIXED_PRICING"
                data["price_money"] = {"amount": price, "currency": currency or self.currency}
            var = {"type": "ITEM_VARIATION", "id": var_id, "updated_at": stamp,
                   "created_at": stamp, "version": self._version(), "is_deleted": False,
                   "present_at_all_locations": True, "item_variation_data": data}
            for o in (item, var):
                self.objects[o["id"]] = o
                self.order.append(o["id"])
            return var_id

    def delete_object(self, object_id):
        with self.lock:
            o = self.objects[object_id]
            o["is_deleted"] = True
            o["version"] = self._version()

    def set_token(self, token):
        with self.lock:
            self.token = token

    # ---- switches ----

    def fail_next(self, n, status, retry_after=None, path=None):
        """Answer the next n requests (whose path starts with `path`, when given) with this
        status and Square's error JSON for it, with Retry-After when given."""
        with self.lock:
            self.failures.append([n, status, retry_after, path, 0])

    def hang_next(self, n, seconds, path=None):
        """Answer the next n requests (of `path`) only after `seconds` (a client's timeout)."""
        with self.lock:
            self.failures.append([n, 0, None, path, seconds])

    def item_error(self, variation_id, code="INVALID_VALUE",
                   detail="The inventory change is not valid for this item.", times=None):
        """Changes of this variation in batch-create get an error inside a 200 (not applied),
        `times` times (None: always)."""
        with self.lock:
            self.item_errors[variation_id] = [code, detail, times]

    def bump_version(self, object_id, price=None):
        """Someone else wrote the object: a new version (and a new price, when given)."""
        with self.lock:
            o = self.objects[object_id]
            o["version"] = self._version()
            o["updated_at"] = now_rfc3339()
            if price is not None:
                o["item_variation_data"]["price_money"] = {"amount": price,
                                                           "currency": self.currency}
                o["item_variation_data"]["pricing_type"] = "FIXED_PRICING"
            return o["version"]

    def race(self, object_id, times=1):
        """Bump the object's version right after each of its next `times` GETs are answered, as
        if another app wrote it between the connector's read and write."""
        with self.lock:
            self.races[object_id] = times

    # ---- reading ----

    def variation(self, object_id):
        with self.lock:
            return copy.deepcopy(self.objects.get(object_id))

    def count(self, variation_id, location_id):
        """The IN_STOCK quantity as Square computes it (a Decimal; 0 when never counted)."""
        with self.lock:
            return self._count(variation_id, location_id)

    def seen(self, path=None, method=None):
        """Recorded requests whose path starts with `path` (query excluded), of `method`."""
        with self.lock:
            return [r for r in self.requests
                    if (path is None or r["path"].startswith(path))
                    and (method is None or r["method"] == method)]

    # ---- the API ----

    def handle(self, method, raw_path, headers, body):
        """(status, headers, answer JSON) for one request."""
        url = urllib.parse.urlsplit(raw_path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        h = {k.lower(): v for k, v in headers.items()}
        rec = {"time": time.monotonic(), "method": method, "path": path, "query": url.query,
               "headers": h, "body": body, "json": None, "status": 0}
        try:
            rec["json"] = json.loads(body) if body else None
        except ValueError:
            pass
        with self.lock:
            self.requests.append(rec)
            if path.startswith("/_fake/"):
                status, answer = self._control(path[len("/_fake/"):], rec["json"] or {})
                rec["status"] = status
                return status, {}, answer
            injected = self._injected(path)
        if injected and injected[4]:
            time.sleep(injected[4])
        with self.lock:
            version = h.get("square-version", self.default_version)
            out_headers = {"Square-Version": version}
            if injected and injected[1]:
                status, retry_after = injected[1], injected[2]
                cat, code, detail = STATUS_ERRORS.get(status, STATUS_ERRORS[400])
                if retry_after is not None:
                    out_headers["Retry-After"] = str(retry_after)
                rec["status"] = status
                return status, out_headers, {"errors": [error(cat, code, detail)]}
            status, answer = self._serve(method, path, query, h, body, rec)
            rec["status"] = status
            return status, out_headers, answer

    def _injected(self, path):
        for f in self.failures:
            if f[0] > 0 and (f[3] is None or path.startswith(f[3])):
                f[0] -= 1
                return list(f)
        return None

    def _serve(self, method, path, query, h, body, rec):
        auth = h.get("authorization", "")
        if auth != f"Bearer {self.token}":
            return 401, {"errors": [error(*STATUS_ERRORS[401])]}
        if "square-version" in h and not VERSION_FORMAT.match(h["square-version"]):
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "INVALID_SQUARE_VERSION_FORMAT",
                                          "Invalid Square-Version format: "
                                          f"{h['square-version']}", "Square-Version")]}
        if method == "POST":
            if not h.get("content-type", "").startswith("application/json"):
                return 400, {"errors": [error("INVALID_REQUEST_ERROR", "INVALID_CONTENT_TYPE",
                                              "Content-Type must be application/json.")]}
            if not isinstance(rec["json"], dict):
                return 400, {"errors": [error("INVALID_REQUEST_ERROR", "BAD_REQUEST",
                                              "The body is not a JSON object.")]}
        if method == "POST" and path == "/v2/inventory/changes/batch-create":
            return self._idempotent("inventory", rec["json"], self._batch_create)
        if method == "POST" and path == "/v2/inventory/counts/batch-retrieve":
            return self._batch_retrieve(rec["json"])
        if method == "GET" and path == "/v2/catalog/list":
            return self._catalog_list(query)
        if method == "GET" and path.startswith("/v2/catalog/object/"):
            return self._catalog_get(urllib.parse.unquote(path[len("/v2/catalog/object/"):]))
        if method == "POST" and path == "/v2/catalog/object":
            return self._idempotent("catalog", rec["json"], self._catalog_upsert)
        return 404, {"errors": [error(*STATUS_ERRORS[404])]}

    def _idempotent(self, endpoint, req, fn):
        key = req.get("idempotency_key")
        if not isinstance(key, str) or not key:
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER",
                                          "Missing required parameter.", "idempotency_key")]}
        if len(key) > 128:
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "VALUE_TOO_LONG",
                                          "Must be at most 128 characters.",
                                          "idempotency_key")]}
        canon = json.dumps(req, sort_keys=True, separators=(",", ":"))
        seen = self.idempotency.get((endpoint, key))
        if seen:
            if seen[0] == canon:
                return seen[1], copy.deepcopy(seen[2])
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "IDEMPOTENCY_KEY_REUSED",
                                          "The idempotency key has already been used with a "
                                          "different request.", "idempotency_key")]}
        status, answer = fn(req)
        # A request that failed (an error inside a 200 included: TEMPORARY_ERROR may be retried
        # with the same key) leaves the key free.
        if status == 200 and not answer.get("errors"):
            self.idempotency[(endpoint, key)] = (canon, status, copy.deepcopy(answer))
        return status, answer

    # ---- inventory ----

    def _variation_ok(self, object_id):
        o = self.objects.get(object_id)
        return o is not None and o["type"] == "ITEM_VARIATION" and not o["is_deleted"]

    def _check_change(self, i, ch, now):
        """An error (dict) for a malformed change, or None."""
        kind = ch.get("type") if isinstance(ch, dict) else None
        member = {"PHYSICAL_COUNT": "physical_count", "ADJUSTMENT": "adjustment"}.get(kind)
        if not member:
            return error("INVALID_REQUEST_ERROR", "INVALID_ENUM_VALUE",
                         f"Expected PHYSICAL_COUNT or ADJUSTMENT, got {kind!r}.",
                         f"changes[{i}].type")
        o = ch.get(member)
        f = f"changes[{i}].{member}"
        if not isinstance(o, dict):
            return error("INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER",
                         "Missing required parameter.", f)
        need = ["catalog_object_id", "location_id", "quantity", "occurred_at"]
        need += ["state"] if member == "physical_count" else ["from_state", "to_state"]
        for k in need:
            if not isinstance(o.get(k), str) or not o[k]:
                return error("INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER",
                             "Missing required parameter.", f"{f}.{k}")
        if not QUANTITY.match(o["quantity"]):
            return error("INVALID_REQUEST_ERROR", "INVALID_VALUE",
                         "Quantity must be a non-negative decimal string with at most 5 "
                         "decimal places.", f"{f}.quantity")
        if member == "adjustment" and Decimal(o["quantity"]) == 0:
            return error("INVALID_REQUEST_ERROR", "INVALID_VALUE",
                         "Adjustment quantity must be positive.", f"{f}.quantity")
        for k in ("state", "from_state", "to_state"):
            if k in need and o[k] not in WRITABLE_STATES:
                ro = o[k] in READ_ONLY_STATES
                return error("INVALID_REQUEST_ERROR", "INVALID_ENUM_VALUE",
                             f"State {o[k]} {'is read-only' if ro else 'is not a state'}.",
                             f"{f}.{k}")
        if member == "physical_count" and o["state"] != "IN_STOCK":
            return error("INVALID_REQUEST_ERROR", "INVALID_VALUE",
                         "A physical count must be of state IN_STOCK.", f"{f}.state")
        if member == "adjustment" and o["from_state"] == o["to_state"]:
            return error("INVALID_REQUEST_ERROR", "INVALID_VALUE",
                         "from_state and to_state must differ.", f"{f}.to_state")
        t = parse_rfc3339(o["occurred_at"])
        if t is None:
            return error("INVALID_REQUEST_ERROR", "INVALID_TIME",
                         "occurred_at is not an RFC 3339 timestamp.", f"{f}.occurred_at")
        if t > now + datetime.timedelta(seconds=1) or now - t > datetime.timedelta(hours=24):
            return error("INVALID_REQUEST_ERROR", "INVALID_VALUE",
                         "occurred_at must be within the last 24 hours and not in the future.",
                         f"{f}.occurred_at")
        if not self._variation_ok(o["catalog_object_id"]):
            return error("INVALID_REQUEST_ERROR", "INVALID_VALUE",
                         f"Object {o['catalog_object_id']} is not an ITEM_VARIATION in the "
                         "catalog.", f"{f}.catalog_object_id")
        if o["location_id"] not in self.locations:
            return error("INVALID_REQUEST_ERROR", "INVALID_VALUE",
                         f"Location {o['location_id']} is not a location of the seller.",
                         f"{f}.location_id")
        return None

    def _count(self, var, loc):
        hist = self.history.get((var, loc), [])
        counts = [c for c in hist if c["type"] == "PHYSICAL_COUNT"]
        base, since = Decimal(0), None
        if counts:
            last = max(counts, key=lambda c: (c["_t"], c["_seq"]))
            base, since = Decimal(last["physical_count"]["quantity"]), last
        q = base
        for c in hist:
            if c["type"] != "ADJUSTMENT":
                continue
            if since is not None and (c["_t"], c["_seq"]) <= (since["_t"], since["_seq"]):
                continue
            a = c["adjustment"]
            if a["to_state"] == "IN_STOCK":
                q += Decimal(a["quantity"])
            if a["from_state"] == "IN_STOCK":
                q -= Decimal(a["quantity"])
        return q

    def _count_json(self, var, loc):
        return {"catalog_object_id": var, "catalog_object_type": "ITEM_VARIATION",
                "state": "IN_STOCK", "location_id": loc,
                "quantity": fmt_qty(self._count(var, loc)), "calculated_at": now_rfc3339()}

    def _batch_create(self, req):
        changes = req.get("changes")
        if not isinstance(changes, list) or not 1 <= len(changes) <= 100:
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "INVALID_ARRAY_LENGTH",
                                          "changes must hold 1 to 100 changes.", "changes")]}
        now = datetime.datetime.now(datetime.timezone.utc)
        errors = [e for e in (self._check_change(i, ch, now) for i, ch in enumerate(changes))
                  if e]
        if errors:
            return 400, {"errors": errors}
        applied, item_errs, touched = [], [], []
        for i, ch in enumerate(changes):
            member = "physical_count" if ch["type"] == "PHYSICAL_COUNT" else "adjustment"
            o = ch[member]
            ie = self.item_errors.get(o["catalog_object_id"])
            if ie and (ie[2] is None or ie[2] > 0):
                if ie[2] is not None:
                    ie[2] -= 1
                item_errs.append(error("INVALID_REQUEST_ERROR" if ie[0] != "TEMPORARY_ERROR"
                                       else "API_ERROR", ie[0], ie[1],
                                       f"changes[{i}].{member}.catalog_object_id"))
                continue
            stored = copy.deepcopy(ch)
            stored[member]["id"] = new_id()
            stored[member]["catalog_object_type"] = "ITEM_VARIATION"
            stored[member]["created_at"] = now_rfc3339()
            stored["_t"] = parse_rfc3339(o["occurred_at"])
            self.seq += 1
            stored["_seq"] = self.seq
            key = (o["catalog_object_id"], o["location_id"])
            self.history.setdefault(key, []).append(stored)
            applied.append({k: v for k, v in stored.items() if not k.startswith("_")})
            if key not in touched:
                touched.append(key)
        answer = {"counts": [self._count_json(v, l) for v, l in touched], "changes": applied}
        if item_errs:
            answer["errors"] = item_errs
        return 200, answer

    def _batch_retrieve(self, req):
        ids = req.get("catalog_object_ids") or []
        locs = req.get("location_ids") or sorted(self.locations)
        counts = [self._count_json(v, l) for v in ids for l in locs if (v, l) in self.history]
        return 200, {"counts": counts} if counts else {}

    # ---- catalog ----

    def _catalog_list(self, query):
        types = set()
        for t in query.get("types", []):
            types |= {x.strip().upper() for x in t.split(",") if x.strip()}
        objs = [self.objects[i] for i in self.order
                if not self.objects[i]["is_deleted"]
                and (not types or self.objects[i]["type"] in types)]
        start = 0
        if "cursor" in query:
            try:
                start = int(base64.urlsafe_b64decode(query["cursor"][0].encode()).decode()
                            .split(":")[1])
            except (ValueError, IndexError, UnicodeDecodeError):
                return 400, {"errors": [error("INVALID_REQUEST_ERROR", "INVALID_CURSOR",
                                              "The pagination cursor is invalid.", "cursor")]}
        page = objs[start:start + self.page_size]
        answer = {}
        if page:
            answer["objects"] = copy.deepcopy(page)
        if start + self.page_size < len(objs):
            answer["cursor"] = base64.urlsafe_b64encode(
                f"offset:{start + self.page_size}".encode()).decode()
        return 200, answer

    def _catalog_get(self, object_id):
        o = self.objects.get(object_id)
        if not o or o["is_deleted"]:
            return 404, {"errors": [error("INVALID_REQUEST_ERROR", "NOT_FOUND",
                                          f"Object `{object_id}` not found.")]}
        answer = {"object": copy.deepcopy(o)}
        if self.races.get(object_id, 0) > 0:
            self.races[object_id] -= 1
            o["version"] = self._version()
            o["updated_at"] = now_rfc3339()
        return 200, answer

    def _catalog_upsert(self, req):
        o = req.get("object")
        if not isinstance(o, dict) or not isinstance(o.get("type"), str) or \
                not isinstance(o.get("id"), str):
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER",
                                          "object with type and id is required.", "object")]}
        if o["id"].startswith("#"):
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "BAD_REQUEST",
                                          "This fake only updates existing objects.",
                                          "object.id")]}
        cur = self.objects.get(o["id"])
        if not cur or cur["is_deleted"]:
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "NOT_FOUND",
                                          f"Object `{o['id']}` not found.", "object.id")]}
        if o["type"] != cur["type"]:
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "INVALID_VALUE",
                                          "The object's type cannot change.", "object.type")]}
        if o.get("version") != cur["version"]:
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "VERSION_MISMATCH",
                                          "Object version does not match latest database "
                                          "version.", "object.version")]}
        if cur["type"] == "ITEM_VARIATION":
            data = o.get("item_variation_data")
            if not isinstance(data, dict) or "item_id" not in data:
                return 400, {"errors": [error("INVALID_REQUEST_ERROR",
                                              "MISSING_REQUIRED_PARAMETER",
                                              "Missing required parameter.",
                                              "object.item_variation_data.item_id")]}
            if data["item_id"] != cur["item_variation_data"]["item_id"]:
                return 400, {"errors": [error("INVALID_REQUEST_ERROR", "INVALID_VALUE",
                                              "item_id cannot change.",
                                              "object.item_variation_data.item_id")]}
            if data.get("pricing_type") == "FIXED_PRICING":
                pm = data.get("price_money")
                if not isinstance(pm, dict) or "amount" not in pm or "currency" not in pm:
                    return 400, {"errors": [error(
                        "INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER",
                        "FIXED_PRICING needs price_money.",
                        "object.item_variation_data.price_money")]}
                if not isinstance(pm["amount"], int) or isinstance(pm["amount"], bool) \
                        or pm["amount"] < 0:
                    return 400, {"errors": [error(
                        "INVALID_REQUEST_ERROR", "EXPECTED_INTEGER",
                        "amount must be a non-negative integer in the smallest unit.",
                        "object.item_variation_data.price_money.amount")]}
                if pm["currency"] != self.currency:
                    return 400, {"errors": [error(
                        "INVALID_REQUEST_ERROR", "CURRENCY_MISMATCH",
                        f"The currency must be the seller's ({self.currency}).",
                        "object.item_variation_data.price_money.currency")]}
        # The object sent replaces the one stored: no sparse updates. Only the server's own
        # fields are the server's.
        new = copy.deepcopy(o)
        new["created_at"] = cur["created_at"]
        new["updated_at"] = now_rfc3339()
        new["is_deleted"] = False
        new["version"] = self._version()
        self.objects[o["id"]] = new
        return 200, {"catalog_object": copy.deepcopy(new), "id_mappings": []}

    # ---- control over HTTP ----

    def _control(self, name, args):
        calls = {"fail_next": self.fail_next, "hang_next": self.hang_next,
                 "item_error": self.item_error, "bump_version": self.bump_version,
                 "race": self.race, "set_token": self.set_token,
                 "add_variation": self.add_variation, "add_location": self.add_location}
        if name == "state":
            return 200, {"objects": self.objects, "counts": [
                self._count_json(v, l) for (v, l) in self.history]}
        if name == "requests":
            return 200, {"requests": [{k: v for k, v in r.items() if k != "body"}
                                      for r in self.requests]}
        if name not in calls:
            return 404, {"errors": [error(*STATUS_ERRORS[404])]}
        try:
            return 200, {"result": calls[name](**args)}
        except (TypeError, KeyError) as e:
            return 400, {"errors": [error("INVALID_REQUEST_ERROR", "BAD_REQUEST", str(e))]}


# ---- webhooks ----

def signature(key, url, body):
    """Square's x-square-hmacsha256-signature of body (bytes) sent to url."""
    mac = hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def count_entry(variation_id, location_id, quantity, state="IN_STOCK", calculated_at=None):
    return {"catalog_object_id": variation_id, "catalog_object_type": "ITEM_VARIATION",
            "state": state, "location_id": location_id, "quantity": str(quantity),
            "calculated_at": calculated_at or now_rfc3339()}


def inventory_count_webhook(event_id, counts, merchant_id="MLFAKE0MERCHANT", created_at=None):
    """The raw body of an inventory.count.updated notification."""
    return json.dumps({
        "merchant_id": merchant_id, "type": "inventory.count.updated", "event_id": event_id,
        "created_at": created_at or now_rfc3339(),
        "data": {"type": "inventory_counts", "id": new_id(),
                 "object": {"inventory_counts": counts}}}).encode()


def send_webhook(port, path, body, key=None, url=None, sig=None, headers=None, timeout=60):
    """POST a notification to the daemon at 127.0.0.1:port: signed with key for url unless sig
    is given (sig="" sends no signature). (status, {lowercase header: value}, body bytes)."""
    h = {"Content-Type": "application/json", "square-environment": "Sandbox"}
    if sig is None:
        sig = signature(key, url, body)
    if sig:
        h["x-square-hmacsha256-signature"] = sig
    h.update(headers or {})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=body, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description="a fake Square API on 127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default="EAAAfake-square-token")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--currency", default="PLN")
    a = p.parse_args(argv)
    fake = SquareFake(token=a.token, currency=a.currency, page_size=a.page_size).start(a.port)
    print(f"square fake listening on {fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.close()


if __name__ == "__main__":
    main(sys.argv[1:])
