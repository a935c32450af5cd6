#!/usr/bin/env python3
"""A fake Shopify Admin API for the shopify connector's tests (python3 stdlib only).

A real HTTP server (ThreadingHTTPServer) on 127.0.0.1, an ephemeral port, that follows
../shared/vendor-apis.md section 1 and its fake-server checklist; where that page marks a fact
[U] (unconfirmed) or is silent, the choice made here is marked "[U]" in a comment beside it.
docs/fakes/shopify.md lists the API, the endpoints, the GraphQL understood and every [U] choice.

- Paths /admin/api/{YYYY-MM|unstable}/<resource>.json; any well-formed version is served and
  echoed in X-Shopify-API-Version; a malformed one (and any unknown path) is 404
  {"errors":"Not Found"}. Every answer carries X-Request-Id.
- Auth: X-Shopify-Access-Token; missing or unknown: 401 with Shopify's "[API] Invalid API key or
  access token ..." body. Tokens carry scopes (write_x implies read_x); a missing one is 403
  "[API] This action requires merchant approval for <scope> scope." (REST) or an ACCESS_DENIED
  error (GraphQL).
- REST rate limit: a leaky bucket per token (40 requests, leaking 2/s by default),
  X-Shopify-Shop-Api-Call-Limit: used/size on every REST answer past auth; over it, 429 with
  Retry-After (2.0, or longer when the bucket needs longer) and Shopify's body.
- Writes need Content-Type application/json (else the body is not read, as in Shopify's Rails:
  400 "Required parameter missing or invalid"); a body that is not JSON is 400.
- REST: shop, products (+count, +{id}, +{id}/variants), variants/{id} (GET, PUT price;
  deprecated, so X-Shopify-API-Deprecated-Reason), locations (+{id}), inventory_items (+{id}),
  inventory_levels (GET, DELETE, POST set/adjust/connect), orders/{id} (+fulfillment_orders).
  Lists page by cursor only through the Link header (opaque page_info; a request with page_info
  may add only limit and fields; page= is rejected).
- GraphQL: POST graphql.json with a small real parser (operations, variables, aliases, fragments,
  @include/@skip, @idempotent) and a typed executor over the fields listed in
  docs/fakes/shopify.md: inventorySetQuantities, inventoryAdjustQuantities, inventoryActivate,
  productVariantsBulkUpdate; productVariants/products/inventoryItems/locations connections with
  Shopify's search syntax for sku/id; node/nodes. Anything else is answered with a GraphQL
  `errors` array. Cost-based throttling (bucket 1000, restore 100/s), extensions.cost with
  throttleStatus, THROTTLED and MAX_COST_EXCEEDED.
- Webhooks: send_webhook() posts Shopify's signed deliveries (X-Shopify-Hmac-Sha256 = base64
  HMAC-SHA256 of the raw body); resend() and deliver() repeat a delivery with the same ids and
  bytes; order_payload(), inventory_level_payload(), product_payload() build bodies shaped like
  the REST representation.

Switches a test flips (a Python API in-process, or POST /_fake/<name> with JSON arguments):
fail_next, hang_next, set_bucket, set_graphql_bucket, graphql_item_error, drift, set_page_size,
add_token/set_scopes, set_tracked. Every request is recorded (fake.requests, filterable with
fake.requests.where(...)); fake.count()/counts() count them per endpoint.

Run alone: python3 shopify_fake.py [--port N] [--token T] [--bucket N] [--leak R]
           [--page-size N] [--bulk N]
"""
import base64
import bisect
import copy
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import math
import re
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DEFAULT_TOKEN = "shpat_fake0000000000000000000000000000"
DEFAULT_SHOP = "omnibus-test.myshopify.com"
DEFAULT_WEBHOOK_VERSION = "2025-01"
ALL_SCOPES = ("read_products", "write_products", "read_inventory", "write_inventory",
              "read_locations", "read_orders")
API_PATH = re.compile(r"^/admin/api/([^/]+)/(.+)\.json$")
VERSION = re.compile(r"^(?:[0-9]{4}-(?:0[1-9]|1[0-2])|unstable)$")
MSG_401 = "[API] Invalid API key or access token (unrecognized login or wrong password)"
PAGINATION_DOC = "https://shopify.dev/api/usage/pagination-rest"
DEPRECATED_REASON = "https://shopify.dev/api/admin-rest/latest/resources/product-variant"
MAX_IDS = 50                 # inventory_levels.json: ids per list
MAX_LIMIT, DEFAULT_LIMIT = 250, 50
MAX_QUANTITIES = 250         # inventorySetQuantities: quantities per call
QTY_LIMIT = 1_000_000_000
SET_REASONS = {"correction", "cycle_count_available", "damaged", "movement_created",
               "movement_updated", "movement_received", "movement_canceled", "other",
               "promotion", "quality_control", "received", "reservation_created",
               "reservation_deleted", "reservation_updated", "restock", "safety_stock",
               "shrinkage"}
QUANTITY_NAMES = ("available", "on_hand", "committed", "incoming", "reserved", "damaged",
                  "safety_stock", "quality_control")
# [U] the {"errors": ...} texts of the injected failures (401 and 429 are documented).
STATUS_BODIES = {
    400: "Bad Request",
    401: MSG_401,
    402: "Unavailable Shop",
    404: "Not Found",
    406: "Not Acceptable",
    423: "Locked",
    429: "Exceeded 2 calls per second for api client. Reduce request rates to resume "
         "uninterrupted service.",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
TWO_53 = 2 ** 53


class ApiError(Exception):
    """A REST answer other than success: status, {"errors": ...} body, extra headers."""

    def __init__(self, status, errors, headers=None):
        super().__init__(status)
        self.status, self.errors, self.headers = status, errors, headers or {}


def missing(name):
    return ApiError(400, {name: "Required parameter missing or invalid"})


def gid(kind, num):
    return f"gid://shopify/{kind}/{num}"


def level_gid(item_id, loc_id):
    return f"gid://shopify/InventoryLevel/{loc_id}?inventory_item_id={item_id}"


GID = re.compile(r"^gid://shopify/([A-Za-z]+)/([0-9]+)(?:\?inventory_item_id=([0-9]+))?$")


def parse_gid(value):
    """(kind, id, inventory item id or None), or None for a malformed global id."""
    m = GID.match(value) if isinstance(value, str) else None
    if not m:
        return None
    return m.group(1), int(m.group(2)), int(m.group(3)) if m.group(3) else None


def money(value):
    """A price as Shopify stores it: a string with 2 decimals ("59.90"). ValueError if it is
    not a number; a JSON number is accepted too, as Shopify does."""
    if isinstance(value, bool) or value is None:
        raise ValueError(value)
    if isinstance(value, (int, float)):
        d = Decimal(str(value))
    elif isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+(\.[0-9]+)?\s*", value):
        d = Decimal(value.strip())
    else:
        raise ValueError(value)
    # [U] more than 2 decimals: rounded half up, not rejected.
    return str(d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def as_int(value):
    """An integer from JSON (not a bool, not a fraction), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    return None


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso_utc(t):
    """GraphQL's DateTime: UTC with Z."""
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def signature(secret, body):
    """X-Shopify-Hmac-Sha256 of a raw body: base64 of HMAC-SHA256 keyed with the secret."""
    if isinstance(secret, str):
        secret = secret.encode()
    if isinstance(body, str):
        body = body.encode()
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def encode_cursor(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()) \
        .decode().rstrip("=")


def decode_cursor(text):
    try:
        pad = "=" * (-len(text) % 4)
        obj = json.loads(base64.urlsafe_b64decode((text + pad).encode()).decode())
    except (ValueError, UnicodeDecodeError, TypeError):
        return None
    return obj if isinstance(obj, dict) else None


class Requests(list):
    """The recorded requests (dicts: time, method, path, query, headers, body, json, status,
    endpoint, version, token, graphql). where() filters them."""

    def where(self, endpoint=None, method=None, path=None, status=None, graphql=None):
        """Requests of this endpoint label ("POST inventory_levels/set", "POST graphql"), method,
        path prefix (version included, e.g. "/admin/api/2025-01/products"), status, or
        GraphQL root field ("inventorySetQuantities")."""
        return [r for r in list(self)
                if (endpoint is None or r["endpoint"] == endpoint)
                and (method is None or r["method"] == method)
                and (path is None or r["path"].startswith(path))
                and (status is None or r["status"] == status)
                and (graphql is None or graphql in (r.get("graphql") or ()))]


class ShopifyFake:
    """The fake. start() serves it; the methods below seed it, flip its switches and read what
    it holds and saw. Thread-safe (one lock)."""

    def __init__(self, token=DEFAULT_TOKEN, scopes=ALL_SCOPES, shop=DEFAULT_SHOP,
                 bucket=40, leak=2.0, graphql_bucket=1000.0, graphql_restore=100.0,
                 currency="PLN", utc_offset_minutes=60, big_ids=False):
        self.lock = threading.RLock()
        self.tokens = {token: set(scopes)}
        self.token = token
        self.shop = shop
        self.currency = currency
        self.tz = datetime.timezone(datetime.timedelta(minutes=utc_offset_minutes))
        self.bucket_size, self.leak = bucket, float(leak)
        self.buckets = {}              # token -> [used, monotonic time]
        self.gql_max, self.gql_restore = float(graphql_bucket), float(graphql_restore)
        self.gql_buckets = {}          # token -> [available, monotonic time]
        # Ids like Shopify's (13-14 digits); big_ids puts them all above 2^53, where a JSON
        # reader that holds numbers as doubles (jq) silently changes them.
        base = TWO_53 + 1 if big_ids else 0
        self.next_ids = {"product": base + 7390000000001, "variant": base + 42000000000001,
                         "item": base + 44000000000001, "location": base + 61000000001,
                         "order": base + 5871234560001, "line": base + 13000000000001,
                         "group": base + 90000000001, "fulfillment_order": base + 6400000000001,
                         "customer": base + 7390123450001}
        self.locations = {}            # id -> location
        self.products = {}             # id -> product (variant_ids)
        self.product_ids = []          # sorted (ids only grow)
        self.variants = {}             # id -> variant
        self.items = {}                # inventory item id -> item
        self.levels = {}               # (item id, location id) -> level
        self.skus = {}                 # sku -> variant id
        self.orders = {}               # id -> order payload
        self.fulfillment_orders = {}   # order id -> [fulfillment order]
        self.change_log = []           # every change of a level or a price
        self.idempotency = {}          # (mutation, key) -> (canonical input, payload)
        self.groups = 0
        self.requests = Requests()
        self.failures = []             # [count, status, retry_after, path prefix, hang, body]
        self.item_errors = {}          # inventory item id -> [code, message, times or None]
        self.page_size = None          # a cap on every page (a test's page boundary)
        self.deliveries = []
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
                if isinstance(answer, bytes):
                    out = answer
                else:
                    out = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Type" not in headers and status != 204:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                try:
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True    # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def api_url(self, version="2025-01"):
        """The base a connector is configured with: .../admin/api/{version}."""
        return f"{self.url}/admin/api/{version}"

    def close(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    # ---- seeding ----

    def _id(self, kind):
        n = self.next_ids[kind]
        self.next_ids[kind] += 1
        return n

    def add_location(self, name, fulfillment_service=False, active=True, city="Warszawa"):
        """A location; returns its id. A fulfillment-service location (legacy=true) may not
        stock an item that another location stocks."""
        with self.lock:
            lid = self._id("location")
            now = utc_now()
            self.locations[lid] = {"id": lid, "name": name, "legacy": bool(fulfillment_service),
                                   "active": bool(active), "city": city,
                                   "created_at": now, "updated_at": now}
            return lid

    def add_product(self, title, variants, vendor="Omnibus", product_type="", status="active"):
        """A product with variants: [{"sku", "price" ("59.99" or a number), "available":
        {location_id: n}, optional "compare_at_price", "title", "barcode", "tracked" (default
        True), "committed": {location_id: n}}]. Every variant gets an inventory item, connected
        to the locations named in "available". Returns the product in its REST representation."""
        with self.lock:
            pid = self._id("product")
            now = utc_now()
            handle = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or str(pid)
            p = {"id": pid, "title": title, "handle": handle, "vendor": vendor,
                 "product_type": product_type, "status": status, "tags": "",
                 "created_at": now, "updated_at": now, "variant_ids": []}
            self.products[pid] = p
            self.product_ids.append(pid)
            for pos, spec in enumerate(variants, 1):
                self._add_variant(p, pos, spec, now)
            return self._product_json(p)

    def _add_variant(self, p, pos, spec, now):
        sku = spec.get("sku")
        if sku in self.skus:
            raise ValueError(f"SKU {sku} exists")
        vid, iid = self._id("variant"), self._id("item")
        v = {"id": vid, "product_id": p["id"], "title": spec.get("title") or (
            "Default Title" if pos == 1 and "title" not in spec else f"Variant {pos}"),
            "sku": sku, "price": money(spec.get("price", "0.00")),
            "compare_at_price": money(spec["compare_at_price"])
            if spec.get("compare_at_price") is not None else None,
            "position": pos, "barcode": spec.get("barcode"), "inventory_item_id": iid,
            "created_at": now, "updated_at": now}
        self.variants[vid] = v
        self.items[iid] = {"id": iid, "variant_id": vid, "tracked": spec.get("tracked", True),
                           "requires_shipping": True, "cost": None,
                           "created_at": now, "updated_at": now}
        if sku:
            self.skus[sku] = vid
        p["variant_ids"].append(vid)
        committed = spec.get("committed") or {}
        for loc, n in (spec.get("available") or {}).items():
            loc = int(loc)
            if loc not in self.locations:
                raise KeyError(f"location {loc}")
            self._connect(iid, loc, int(n), now)
            self.levels[(iid, loc)]["committed"] = int(committed.get(loc, committed.get(
                str(loc), 0)))
        return v

    def add_bulk(self, n=10000, locations=None, prefix="BULK-", price="19.99", available=10,
                 variants_per_product=1):
        """n SKUs (prefix + 6 digits) in products of variants_per_product variants, each stocked
        with `available` at every location given (all when None). Returns the SKUs."""
        with self.lock:
            locs = list(self.locations) if locations is None else list(locations)
            skus = []
            i = 0
            while i < n:
                specs = []
                for _ in range(min(variants_per_product, n - i)):
                    sku = f"{prefix}{i:06d}"
                    skus.append(sku)
                    specs.append({"sku": sku, "price": price, "title": sku,
                                  "available": {loc: available for loc in locs}})
                    i += 1
                self.add_product(f"Bulk product {specs[0]['sku']}", specs)
            return skus

    def add_token(self, token, scopes=ALL_SCOPES):
        """Another access token (another app) with these scopes; a bucket of its own."""
        with self.lock:
            self.tokens[token] = set(scopes)

    def set_scopes(self, token, scopes):
        with self.lock:
            self.tokens[token] = set(scopes)

    def remove_token(self, token):
        """The app was uninstalled: its token is answered 401."""
        with self.lock:
            self.tokens.pop(token, None)

    def set_tracked(self, inventory_item_id, tracked):
        with self.lock:
            self.items[int(inventory_item_id)]["tracked"] = bool(tracked)

    def set_level(self, inventory_item_id, location_id, available, committed=None):
        """Seed a level (connecting the item there); not a change in the change log."""
        with self.lock:
            key = (int(inventory_item_id), int(location_id))
            if key not in self.levels:
                self._connect(key[0], key[1], int(available), utc_now())
            self.levels[key]["available"] = int(available)
            if committed is not None:
                self.levels[key]["committed"] = int(committed)

    # ---- switches ----

    def fail_next(self, n, status, retry_after=None, path=None, body=None):
        """Answer the next n requests (whose path starts with `path`, when given; the version
        is part of the path: "/admin/api/2025-01/inventory_levels") with this status and
        Shopify's {"errors": ...} for it (or `body`: a dict, or a string sent as it is, e.g.
        an HTML 502 page). A 429 gets Retry-After (2.0 unless given); others only when given."""
        with self.lock:
            if status == 429 and retry_after is None:
                retry_after = "2.0"
            self.failures.append([int(n), int(status), retry_after, path, 0, body])

    def hang_next(self, n, seconds, path=None):
        """Answer the next n requests (of `path`) only after `seconds` (a client's timeout)."""
        with self.lock:
            self.failures.append([int(n), 0, None, path, float(seconds), None])

    def set_bucket(self, bucket=None, leak=None, used=None, token=None):
        """The REST leaky bucket: its size and leak rate (requests/s) for every token; `used`
        fills the bucket of `token` (the default token when None) to that level now."""
        with self.lock:
            if bucket is not None:
                self.bucket_size = int(bucket)
            if leak is not None:
                self.leak = float(leak)
            if used is not None:
                self.buckets[token or self.token] = [float(used), time.monotonic()]

    def set_graphql_bucket(self, maximum=None, restore=None, available=None, token=None):
        """The GraphQL cost bucket: maximumAvailable, restoreRate (points/s), and the points
        currently available to `token` (the default token when None)."""
        with self.lock:
            if maximum is not None:
                self.gql_max = float(maximum)
            if restore is not None:
                self.gql_restore = float(restore)
            if available is not None:
                self.gql_buckets[token or self.token] = [float(available), time.monotonic()]

    def graphql_item_error(self, inventory_item_id, code="INVALID_INVENTORY_ITEM",
                           message=None, times=None):
        """inventorySetQuantities/inventoryAdjustQuantities calls that touch this item answer a
        userError for it (and, as Shopify's mutations are all or nothing, change nothing),
        `times` times (None: always; 0: no more)."""
        with self.lock:
            self.item_errors[int(inventory_item_id)] = [
                code, message or "The specified inventory item could not be found.", times]

    def drift(self, sku=None, variant_id=None, price=None, compare_at_price=None,
              available=None):
        """Someone else changed the variant (behind the connector's back): a new price and/or
        new levels ({location_id: n}). Logged as via="drift". Returns the variant (REST)."""
        with self.lock:
            v = self.variants[int(variant_id)] if variant_id is not None else \
                self.variants[self.skus[sku]]
            now = utc_now()
            if price is not None:
                self._set_price(v, money(price), "drift", now)
            if compare_at_price is not None:
                v["compare_at_price"] = money(compare_at_price)
                v["updated_at"] = now
            for loc, n in (available or {}).items():
                key = (v["inventory_item_id"], int(loc))
                if key not in self.levels:
                    self._connect(key[0], key[1], 0, now)
                self._set_available(key, int(n), "drift", now)
            return self._variant_json(v)

    def set_page_size(self, n):
        """Cap every page (REST lists and GraphQL connections) at n whatever limit/first the
        client asks for (None: no cap): a page boundary with few records. Not a Shopify
        behaviour: a test switch."""
        with self.lock:
            self.page_size = int(n) if n else None

    # ---- reading ----

    def level(self, inventory_item_id, location_id):
        """`available` at the location; None when the item is not stocked there (or not
        tracked)."""
        with self.lock:
            lv = self.levels.get((int(inventory_item_id), int(location_id)))
            if lv is None or not self.items[int(inventory_item_id)]["tracked"]:
                return None
            return lv["available"]

    def level_by_sku(self, sku, location_id):
        with self.lock:
            return self.level(self.item_id_by_sku(sku), location_id)

    def price_by_sku(self, sku):
        """The variant's price as Shopify holds it: a string ("59.99")."""
        with self.lock:
            return self.variants[self.skus[sku]]["price"]

    def item_id_by_sku(self, sku):
        with self.lock:
            return self.variants[self.skus[sku]]["inventory_item_id"]

    def variant_id_by_sku(self, sku):
        with self.lock:
            return self.skus[sku]

    def variant_by_sku(self, sku):
        """The variant's REST representation."""
        with self.lock:
            return self._variant_json(self.variants[self.skus[sku]])

    def product(self, product_id):
        with self.lock:
            return self._product_json(self.products[int(product_id)])

    def location_id(self, name):
        with self.lock:
            for lid, loc in self.locations.items():
                if loc["name"] == name:
                    return lid
            raise KeyError(name)

    def changes(self, sku=None, kind=None, via=None):
        """The change log: dicts {kind: "available"|"price", sku, inventory_item_id,
        location_id, before, after, via, time}; via is "rest set", "rest adjust",
        "graphql inventorySetQuantities", "graphql productVariantsBulkUpdate", "drift", ..."""
        with self.lock:
            return [dict(c) for c in self.change_log
                    if (sku is None or c["sku"] == sku) and (kind is None or c["kind"] == kind)
                    and (via is None or c["via"] == via)]

    def seen(self, endpoint=None, method=None, path=None, status=None, graphql=None):
        return self.requests.where(endpoint, method, path, status, graphql)

    def count(self, endpoint):
        """How many requests reached this endpoint ("POST inventory_levels/set", "PUT
        variants/{id}", "POST graphql", or "graphql inventorySetQuantities")."""
        return self.counts().get(endpoint, 0)

    def counts(self):
        """{endpoint label: requests}, GraphQL ones also as "graphql <root field>"."""
        out = {}
        for r in list(self.requests):
            if r["endpoint"]:
                out[r["endpoint"]] = out.get(r["endpoint"], 0) + 1
            for f in r.get("graphql") or ():
                out["graphql " + f] = out.get("graphql " + f, 0) + 1
        return out

    # ---- the model ----

    def _fmt(self, t):
        """REST times: the shop's offset, seconds ("2025-03-01T10:00:00+01:00")."""
        return t.astimezone(self.tz).isoformat(timespec="seconds")

    def _connect(self, item_id, loc_id, available, now):
        self.levels[(item_id, loc_id)] = {"inventory_item_id": item_id, "location_id": loc_id,
                                          "available": available, "committed": 0,
                                          "created_at": now, "updated_at": now}

    def _sku_of_item(self, item_id):
        return self.variants[self.items[item_id]["variant_id"]]["sku"]

    def _set_available(self, key, value, via, now):
        lv = self.levels[key]
        before = lv["available"]
        lv["available"] = value
        lv["updated_at"] = now
        self.items[key[0]]["updated_at"] = now
        self.change_log.append({"kind": "available", "sku": self._sku_of_item(key[0]),
                                "inventory_item_id": key[0], "location_id": key[1],
                                "before": before, "after": value, "via": via,
                                "time": time.time()})

    def _set_price(self, v, price, via, now):
        before = v["price"]
        v["price"] = price
        v["updated_at"] = now
        self.products[v["product_id"]]["updated_at"] = now
        self.change_log.append({"kind": "price", "sku": v["sku"], "inventory_item_id":
                                v["inventory_item_id"], "location_id": None, "before": before,
                                "after": price, "via": via, "time": time.time()})

    def _total_available(self, item_id):
        if not self.items[item_id]["tracked"]:
            return 0
        return sum(lv["available"] for (i, _), lv in self.levels.items() if i == item_id)

    def _variant_json(self, v):
        item = self.items[v["inventory_item_id"]]
        qty = self._total_available(item["id"])
        return {"id": v["id"], "product_id": v["product_id"], "title": v["title"],
                "price": v["price"], "position": v["position"], "inventory_policy": "deny",
                "compare_at_price": v["compare_at_price"], "option1": v["title"],
                "option2": None, "option3": None,
                "created_at": self._fmt(v["created_at"]), "updated_at": self._fmt(v["updated_at"]),
                "taxable": True, "barcode": v["barcode"], "fulfillment_service": "manual",
                "grams": 0, "inventory_management": "shopify" if item["tracked"] else None,
                "requires_shipping": item["requires_shipping"], "sku": v["sku"],
                "weight": 0.0, "weight_unit": "kg", "inventory_item_id": item["id"],
                "inventory_quantity": qty, "old_inventory_quantity": qty, "image_id": None,
                "admin_graphql_api_id": gid("ProductVariant", v["id"])}

    def _product_json(self, p):
        vs = [self._variant_json(self.variants[vid]) for vid in p["variant_ids"]]
        return {"id": p["id"], "title": p["title"], "body_html": "", "vendor": p["vendor"],
                "product_type": p["product_type"], "created_at": self._fmt(p["created_at"]),
                "handle": p["handle"], "updated_at": self._fmt(p["updated_at"]),
                "published_at": self._fmt(p["created_at"]), "template_suffix": None,
                "published_scope": "global", "tags": p["tags"], "status": p["status"],
                "admin_graphql_api_id": gid("Product", p["id"]), "variants": vs,
                "options": [{"id": p["id"] * 10 + 1, "product_id": p["id"], "name": "Title",
                             "position": 1, "values": [v["title"] for v in vs]}],
                "images": [], "image": None}

    def _location_json(self, loc):
        return {"id": loc["id"], "name": loc["name"], "address1": "ul. Złota 59",
                "address2": None, "city": loc["city"], "zip": "00-120", "province": None,
                "country": "PL", "phone": None, "created_at": self._fmt(loc["created_at"]),
                "updated_at": self._fmt(loc["updated_at"]), "country_code": "PL",
                "country_name": "Poland", "province_code": None, "legacy": loc["legacy"],
                "active": loc["active"], "admin_graphql_api_id": gid("Location", loc["id"]),
                "localized_country_name": "Poland", "localized_province_name": None}

    def _item_json(self, item):
        v = self.variants[item["variant_id"]]
        return {"id": item["id"], "sku": v["sku"], "created_at": self._fmt(item["created_at"]),
                "updated_at": self._fmt(item["updated_at"]),
                "requires_shipping": item["requires_shipping"], "cost": item["cost"],
                "country_code_of_origin": None, "province_code_of_origin": None,
                "harmonized_system_code": None, "tracked": item["tracked"],
                "country_harmonized_system_codes": [],
                "admin_graphql_api_id": gid("InventoryItem", item["id"])}

    def _level_json(self, key):
        lv = self.levels[key]
        tracked = self.items[key[0]]["tracked"]
        return {"inventory_item_id": key[0], "location_id": key[1],
                "available": lv["available"] if tracked else None,
                "updated_at": self._fmt(lv["updated_at"]),
                "admin_graphql_api_id": level_gid(key[0], key[1])}

    # ---- requests ----

    def handle(self, method, raw_path, headers, body):
        """(status, headers, answer) for one request; answer is JSON-able, or bytes."""
        url = urllib.parse.urlsplit(raw_path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        h = {k.lower(): v for k, v in headers.items()}
        rec = {"time": time.monotonic(), "method": method, "path": path, "query": url.query,
               "headers": h, "body": body, "json": None, "status": 0, "endpoint": None,
               "version": None, "token": h.get("x-shopify-access-token"), "graphql": None}
        try:
            rec["json"] = json.loads(body) if body else None
        except ValueError:
            pass
        route = self._route(method, path)
        if route:
            rec["version"], rec["endpoint"] = route[0], route[1]
        with self.lock:
            self.requests.append(rec)
            if path.startswith("/_fake/"):
                status, answer = self._control(path[len("/_fake/"):], rec["json"] or {})
                rec["status"] = status
                return status, {"X-Request-Id": str(uuid.uuid4())}, answer
            injected = self._injected(path)
        if injected and injected[4]:
            time.sleep(injected[4])
        with self.lock:
            out_headers = {"X-Request-Id": str(uuid.uuid4())}
            try:
                status, answer = self._answer(method, path, query, h, body, rec, injected,
                                              out_headers, route)
            except ApiError as e:
                status, answer = e.status, {"errors": e.errors}
                out_headers.update(e.headers)
            except Exception as e:   # a bug in the fake: loud, not a dropped connection
                import traceback
                traceback.print_exc()
                status, answer = 500, {"errors": f"shopify_fake bug: {type(e).__name__}: {e}"}
                rec["fake_bug"] = True
            rec["status"] = status
            return status, out_headers, answer

    def _injected(self, path):
        for f in self.failures:
            if f[0] > 0 and (f[3] is None or path.startswith(f[3])):
                f[0] -= 1
                return list(f)
        return None

    ROUTES = [
        # (method, path pattern after the version, label, scope, handler name)
        ("GET", r"shop", "GET shop", None, "_r_shop"),
        ("GET", r"products", "GET products", "read_products", "_r_products"),
        ("GET", r"products/count", "GET products/count", "read_products", "_r_products_count"),
        ("GET", r"products/([0-9]+)", "GET products/{id}", "read_products", "_r_product"),
        ("GET", r"products/([0-9]+)/variants", "GET products/{id}/variants", "read_products",
         "_r_product_variants"),
        ("GET", r"variants/([0-9]+)", "GET variants/{id}", "read_products", "_r_variant"),
        ("PUT", r"variants/([0-9]+)", "PUT variants/{id}", "write_products", "_r_variant_put"),
        ("GET", r"locations", "GET locations", "read_locations", "_r_locations"),
        ("GET", r"locations/([0-9]+)", "GET locations/{id}", "read_locations", "_r_location"),
        ("GET", r"inventory_items", "GET inventory_items", "read_inventory", "_r_items"),
        ("GET", r"inventory_items/([0-9]+)", "GET inventory_items/{id}", "read_inventory",
         "_r_item"),
        ("GET", r"inventory_levels", "GET inventory_levels", "read_inventory", "_r_levels"),
        ("DELETE", r"inventory_levels", "DELETE inventory_levels", "write_inventory",
         "_r_level_delete"),
        ("POST", r"inventory_levels/set", "POST inventory_levels/set", "write_inventory",
         "_r_set"),
        ("POST", r"inventory_levels/adjust", "POST inventory_levels/adjust", "write_inventory",
         "_r_adjust"),
        ("POST", r"inventory_levels/connect", "POST inventory_levels/connect",
         "write_inventory", "_r_connect"),
        ("GET", r"orders/([0-9]+)", "GET orders/{id}", "read_orders", "_r_order"),
        ("GET", r"orders/([0-9]+)/fulfillment_orders", "GET orders/{id}/fulfillment_orders",
         "read_orders", "_r_fulfillment_orders"),
        ("POST", r"graphql", "POST graphql", None, "_graphql"),
    ]

    def _route(self, method, path):
        """(version, label, scope, handler, ids) of a well-formed API path; (version, None,
        ...) for an unknown resource; None for a path that is not /admin/api/{version}/...json
        or whose version is malformed."""
        m = API_PATH.match(path)
        if not m or not VERSION.match(m.group(1)):
            return None
        for r_method, pattern, label, scope, fn in self.ROUTES:
            mm = re.fullmatch(pattern, m.group(2))
            if mm and r_method == method:
                return m.group(1), label, scope, fn, mm.groups()
        return m.group(1), None, None, None, ()

    def _answer(self, method, path, query, h, body, rec, injected, out, route):
        if injected and injected[1]:
            status, retry_after, body_override = injected[1], injected[2], injected[5]
            if retry_after is not None:
                out["Retry-After"] = str(retry_after)
            if isinstance(body_override, str):
                out["Content-Type"] = "text/html; charset=utf-8"
                return status, body_override.encode()
            if body_override is not None:
                return status, body_override
            if status == 403:
                return status, {"errors": "[API] This action requires merchant approval for "
                                          "write_inventory scope."}
            return status, {"errors": STATUS_BODIES.get(status, "Error")}
        if route is None:
            # [U] a well-formed version Shopify does not (or no longer) serve is answered here
            # as the version asked for; Shopify falls forward to a supported one.
            raise ApiError(404, "Not Found")
        version, label, scope, fn, groups = route
        out["X-Shopify-API-Version"] = version
        token = h.get("x-shopify-access-token")
        if token not in self.tokens:
            raise ApiError(401, MSG_401)
        if label is None:
            raise ApiError(404, "Not Found")
        if fn == "_graphql":
            return self._graphql(h, body, rec, version, token)
        self._take(token, out)
        if scope and not self._has_scope(token, scope):
            raise ApiError(403, f"[API] This action requires merchant approval for {scope} "
                                "scope.")
        req = None
        if method in ("POST", "PUT"):
            if not h.get("content-type", "").split(";")[0].strip().lower() == \
                    "application/json":
                req = {}     # the body is not read: every parameter is missing
            else:
                try:
                    req = json.loads(body) if body.strip() else {}
                except ValueError:
                    raise ApiError(400, "Bad Request: the body is not valid JSON")  # [U] text
                if not isinstance(req, dict):
                    raise ApiError(400, "Bad Request")
        ctx = {"query": query, "req": req, "version": version, "host": h.get("host") or
               f"127.0.0.1:{self.port}", "out": out}
        return getattr(self, fn)(ctx, *[int(g) for g in groups])

    def _has_scope(self, token, scope):
        s = self.tokens.get(token, set())
        return scope in s or scope.replace("read_", "write_", 1) in s

    def _take(self, token, out):
        """One request from the token's leaky bucket, or 429."""
        now = time.monotonic()
        b = self.buckets.setdefault(token, [0.0, now])
        b[0] = max(0.0, b[0] - (now - b[1]) * self.leak)
        b[1] = now
        if b[0] + 1 > self.bucket_size + 1e-9:
            out["X-Shopify-Shop-Api-Call-Limit"] = \
                f"{min(self.bucket_size, math.ceil(b[0] - 1e-9))}/{self.bucket_size}"
            need = (b[0] + 1 - self.bucket_size) / self.leak if self.leak > 0 else 3600.0
            # Shopify always says 2.0; a slower bucket (a test's) needs longer, and says so.
            ra = max(2.0, math.ceil(need * 10 - 1e-9) / 10)
            rate = f"{self.leak:g}"
            raise ApiError(429, f"Exceeded {rate} calls per second for api client. Reduce "
                                "request rates to resume uninterrupted service.",
                           {"Retry-After": f"{ra:.1f}"})
        b[0] += 1
        out["X-Shopify-Shop-Api-Call-Limit"] = \
            f"{math.ceil(b[0] - 1e-9)}/{self.bucket_size}"

    # ---- REST: lists and pages ----

    def _limit(self, query):
        if "limit" not in query:
            n = DEFAULT_LIMIT
        else:
            n = as_int(query["limit"][0])
            if n is None or n < 1:
                raise ApiError(400, {"limit": "Invalid value."})   # [U] text
            n = min(n, MAX_LIMIT)   # [U] above 250: capped, not rejected
        return min(n, self.page_size) if self.page_size else n

    def _page(self, ctx, resource, filter_names, select, key):
        """One page of a cursor-paged list: (records, Link header or None). select(filters)
        gives every record matching the filters, sorted by key(record)."""
        q = ctx["query"]
        if "page" in q:
            raise ApiError(400, {"page": "page cannot be passed. See "   # [U] text
                                         f"{PAGINATION_DOC} for more information."})
        if "page_info" in q:
            extra = sorted(k for k in q if k not in ("page_info", "limit", "fields"))
            if extra:
                raise ApiError(400, {extra[0]: f"{extra[0]} cannot be passed when page_info is "
                                               f"present. See {PAGINATION_DOC} for more "
                                               "information."})
            cur = decode_cursor(q["page_info"][0])
            if not cur or cur.get("r") != resource or cur.get("d") not in ("n", "p") or \
                    not isinstance(cur.get("k"), list) or not isinstance(cur.get("f"), dict):
                raise ApiError(400, {"page_info": "Invalid value."})
            filters = cur["f"]
        else:
            cur = None
            filters = {k: q[k][0] for k in filter_names if k in q}
        limit = self._limit(q)
        records = select(filters)
        keys = [key(r) for r in records]
        if cur is None:
            start, end = 0, min(limit, len(records))
        elif cur["d"] == "n":
            start = bisect.bisect_right(keys, cur["k"])
            end = min(start + limit, len(records))
        else:
            end = bisect.bisect_left(keys, cur["k"])
            start = max(0, end - limit)
        page = records[start:end]
        links = []
        base = f"http://{ctx['host']}/admin/api/{ctx['version']}/{resource}.json?"
        keep = {k: q[k][0] for k in ("limit", "fields") if k in q}

        def link(direction, k, rel):
            info = encode_cursor({"r": resource, "d": direction, "k": k, "f": filters})
            return f'<{base}{urllib.parse.urlencode(dict(keep, page_info=info))}>; rel="{rel}"'
        if page and start > 0:
            links.append(link("p", keys[start], "previous"))
        if page and end < len(records):
            links.append(link("n", keys[end - 1], "next"))
        if links:
            ctx["out"]["Link"] = ", ".join(links)
        return page

    @staticmethod
    def _fields(obj, query):
        if "fields" not in query:
            return obj
        names = [f.strip() for f in query["fields"][0].split(",") if f.strip()]
        return {k: obj[k] for k in names if k in obj}

    @staticmethod
    def _id_list(text):
        out = []
        for part in text.split(","):
            n = as_int(part.strip()) if part.strip() else None
            if n is None:
                return None
            out.append(n)
        return out

    def _time_filter(self, value, name):
        try:
            t = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(400, {name: "Invalid value."})   # [U]
        return t if t.tzinfo else t.replace(tzinfo=self.tz)

    # ---- REST handlers ----

    def _r_shop(self, ctx):
        return 200, {"shop": {"id": 1, "name": "Omnibus Test", "domain": self.shop,
                              "myshopify_domain": self.shop, "currency": self.currency,
                              "iana_timezone": "Europe/Warsaw", "country_code": "PL",
                              "plan_name": "basic", "timezone": "(GMT+01:00) Europe/Warsaw"}}

    def _select_products(self, f):
        ids = self._id_list(f["ids"]) if "ids" in f else None
        if "ids" in f and ids is None:
            raise ApiError(400, {"ids": "Invalid value."})
        since = as_int(f.get("since_id", "0")) or 0
        upd = self._time_filter(f["updated_at_min"], "updated_at_min") \
            if "updated_at_min" in f else None
        handles = set(f["handle"].split(",")) if "handle" in f else None
        statuses = set(f["status"].split(",")) if "status" in f else None
        out = []
        start = bisect.bisect_right(self.product_ids, since)
        for pid in (sorted(set(ids)) if ids is not None else self.product_ids[start:]):
            p = self.products.get(pid)
            if p is None or pid <= since:
                continue
            if "title" in f and f["title"].lower() not in p["title"].lower():
                continue
            if "vendor" in f and f["vendor"] != p["vendor"]:
                continue
            if "product_type" in f and f["product_type"] != p["product_type"]:
                continue
            if handles is not None and p["handle"] not in handles:
                continue
            if statuses is not None and p["status"] not in statuses:
                continue
            if upd is not None and p["updated_at"] < upd:
                continue
            out.append(p)
        return out

    PRODUCT_FILTERS = ("ids", "since_id", "title", "vendor", "handle", "product_type", "status",
                       "updated_at_min")

    def _deprecated(self, ctx):
        # [U] every products/variants REST call from 2024-04 on is marked, as Shopify marks
        # deprecated calls, with a link to the resource's page.
        if ctx["version"] == "unstable" or ctx["version"] >= "2024-04":
            ctx["out"]["X-Shopify-API-Deprecated-Reason"] = DEPRECATED_REASON

    def _r_products(self, ctx):
        self._deprecated(ctx)
        page = self._page(ctx, "products", self.PRODUCT_FILTERS, self._select_products,
                          lambda p: [p["id"]])
        return 200, {"products": [self._fields(self._product_json(p), ctx["query"])
                                  for p in page]}

    def _r_products_count(self, ctx):
        self._deprecated(ctx)
        f = {k: ctx["query"][k][0] for k in self.PRODUCT_FILTERS if k in ctx["query"]}
        return 200, {"count": len(self._select_products(f))}

    def _r_product(self, ctx, pid):
        self._deprecated(ctx)
        if pid not in self.products:
            raise ApiError(404, "Not Found")
        return 200, {"product": self._fields(self._product_json(self.products[pid]),
                                             ctx["query"])}

    def _r_product_variants(self, ctx, pid):
        self._deprecated(ctx)
        if pid not in self.products:
            raise ApiError(404, "Not Found")
        vs = [self.variants[v] for v in self.products[pid]["variant_ids"]]
        return 200, {"variants": [self._fields(self._variant_json(v), ctx["query"])
                                  for v in vs]}

    def _r_variant(self, ctx, vid):
        self._deprecated(ctx)
        if vid not in self.variants:
            raise ApiError(404, "Not Found")
        return 200, {"variant": self._fields(self._variant_json(self.variants[vid]),
                                             ctx["query"])}

    def _r_variant_put(self, ctx, vid):
        self._deprecated(ctx)
        if vid not in self.variants:
            raise ApiError(404, "Not Found")
        body = ctx["req"].get("variant")
        if not isinstance(body, dict):
            raise missing("variant")
        v = self.variants[vid]
        errors, price, compare = {}, None, False
        if "price" in body:
            try:
                price = money(body["price"])
                if Decimal(price) < 0:
                    errors["price"] = ["must be greater than or equal to 0"]
            except ValueError:
                errors["price"] = ["is not a number"]        # [U] text
        if "compare_at_price" in body and body["compare_at_price"] not in (None, ""):
            try:
                compare = money(body["compare_at_price"])
            except ValueError:
                errors["compare_at_price"] = ["is not a number"]
        if "sku" in body and body["sku"] != v["sku"] and body["sku"] in self.skus:
            # A limit of the fake (its SKU index), not Shopify's: Shopify accepts duplicates.
            errors["sku"] = ["has already been taken"]
        if errors:
            raise ApiError(422, errors)
        now = utc_now()
        # [U] inventory_quantity (read-only since 2019-10) is ignored, not rejected.
        if price is not None and price != v["price"]:
            self._set_price(v, price, "rest variant", now)
        if "compare_at_price" in body:
            v["compare_at_price"] = compare if compare is not False else None
        if "sku" in body and body["sku"] != v["sku"]:
            self.skus.pop(v["sku"], None)
            v["sku"] = body["sku"]
            if v["sku"]:
                self.skus[v["sku"]] = vid
        if "barcode" in body:
            v["barcode"] = body["barcode"]
        v["updated_at"] = now
        return 200, {"variant": self._variant_json(v)}

    def _r_locations(self, ctx):
        return 200, {"locations": [self._location_json(loc)
                                   for _, loc in sorted(self.locations.items())]}

    def _r_location(self, ctx, lid):
        if lid not in self.locations:
            raise ApiError(404, "Not Found")
        return 200, {"location": self._location_json(self.locations[lid])}

    def _r_items(self, ctx):
        q = ctx["query"]
        ids = self._id_list(q["ids"][0]) if "ids" in q else None
        if not ids:
            raise ApiError(422, {"ids": ["must be given"]})          # [U]
        if len(ids) > 100:
            raise ApiError(422, {"ids": ["must contain at most 100 ids"]})   # [U]
        return 200, {"inventory_items": [self._item_json(self.items[i]) for i in ids
                                         if i in self.items]}

    def _r_item(self, ctx, iid):
        if iid not in self.items:
            raise ApiError(404, "Not Found")
        return 200, {"inventory_item": self._item_json(self.items[iid])}

    def _select_levels(self, f):
        items = self._id_list(f["inventory_item_ids"]) if "inventory_item_ids" in f else None
        locs = self._id_list(f["location_ids"]) if "location_ids" in f else None
        upd = self._time_filter(f["updated_at_min"], "updated_at_min") \
            if "updated_at_min" in f else None
        items, locs = set(items or ()) or None, set(locs or ()) or None
        out = [lv for key, lv in self.levels.items()
               if (items is None or key[0] in items) and (locs is None or key[1] in locs)
               and (upd is None or lv["updated_at"] >= upd)]
        out.sort(key=lambda lv: (lv["location_id"], lv["inventory_item_id"]))
        return out

    def _r_levels(self, ctx):
        q = ctx["query"]
        if "page_info" not in q:
            for name in ("inventory_item_ids", "location_ids"):
                if name in q:
                    ids = self._id_list(q[name][0])
                    if ids is None:
                        raise ApiError(422, {name: ["is invalid"]})               # [U] text
                    if len(ids) > MAX_IDS:
                        raise ApiError(422, {name: [f"must contain {MAX_IDS} or fewer ids"]})  # [U]
            if "inventory_item_ids" not in q and "location_ids" not in q:
                raise ApiError(422, "Must specify at least one of inventory_item_ids or "
                                    "location_ids")                                  # [U] text
        page = self._page(ctx, "inventory_levels",
                          ("inventory_item_ids", "location_ids", "updated_at_min"),
                          self._select_levels,
                          lambda lv: [lv["location_id"], lv["inventory_item_id"]])
        return 200, {"inventory_levels": [
            self._level_json((lv["inventory_item_id"], lv["location_id"])) for lv in page]}

    def _ids_from(self, req, names):
        out = []
        for name in names:
            n = as_int(req.get(name)) if name in req else None
            if n is None:
                raise missing(name)
            out.append(n)
        return out

    def _find(self, item_id, loc_id):
        """404 for an unknown location (documented) or item ([U]: also 404)."""
        if loc_id not in self.locations or item_id not in self.items:
            raise ApiError(404, "Not Found")

    FS_CONFLICT = ("An item cannot be active at more than one location if one of them is a "
                   "fulfillment service location.")

    def _fs_conflict(self, item_id, loc_id):
        """The other locations that stock the item, when stocking it at loc_id too would break
        the fulfillment-service rule."""
        others = [l2 for (i, l2) in self.levels if i == item_id and l2 != loc_id]
        if not others:
            return []
        if self.locations[loc_id]["legacy"] or any(self.locations[o]["legacy"] for o in others):
            return others
        return []

    def _r_set(self, ctx):
        req = ctx["req"]
        item_id, loc_id, available = self._ids_from(req, ("inventory_item_id", "location_id",
                                                          "available"))
        self._find(item_id, loc_id)
        if not self.items[item_id]["tracked"]:
            raise ApiError(422, ["Inventory item does not have inventory tracking enabled"])  # [U]
        now = utc_now()
        key = (item_id, loc_id)
        if key not in self.levels:
            conflict = self._fs_conflict(item_id, loc_id)
            if conflict and not req.get("disconnect_if_necessary"):
                raise ApiError(422, [self.FS_CONFLICT])
            for other in conflict:
                del self.levels[(item_id, other)]
            self._connect(item_id, loc_id, self.levels.get(key, {}).get("available", 0), now)
        self._set_available(key, available, "rest set", now)
        return 200, {"inventory_level": self._level_json(key)}

    def _r_adjust(self, ctx):
        req = ctx["req"]
        item_id, loc_id, delta = self._ids_from(req, ("inventory_item_id", "location_id",
                                                      "available_adjustment"))
        self._find(item_id, loc_id)
        if not self.items[item_id]["tracked"]:
            raise ApiError(422, ["Inventory item does not have inventory tracking enabled"])  # [U]
        key = (item_id, loc_id)
        if key not in self.levels:
            # [U] adjust does not connect (set does): 422.
            raise ApiError(422, ["Inventory level not found: the item is not stocked at the "
                                 "location"])
        self._set_available(key, self.levels[key]["available"] + delta, "rest adjust",
                            utc_now())
        return 200, {"inventory_level": self._level_json(key)}

    def _r_connect(self, ctx):
        req = ctx["req"]
        item_id, loc_id = self._ids_from(req, ("inventory_item_id", "location_id"))
        self._find(item_id, loc_id)
        key = (item_id, loc_id)
        if key not in self.levels:   # [U] connecting a connected pair: 201, level unchanged
            conflict = self._fs_conflict(item_id, loc_id)
            if conflict and not req.get("relocate_if_necessary"):
                raise ApiError(422, [self.FS_CONFLICT])
            moved = 0
            for other in conflict:
                moved += self.levels.pop((item_id, other))["available"]
            self._connect(item_id, loc_id, moved, utc_now())
        return 201, {"inventory_level": self._level_json(key)}

    def _r_level_delete(self, ctx):
        q = ctx["query"]
        item_id = as_int(q.get("inventory_item_id", [""])[0])
        loc_id = as_int(q.get("location_id", [""])[0])
        if item_id is None:
            raise missing("inventory_item_id")
        if loc_id is None:
            raise missing("location_id")
        if (item_id, loc_id) not in self.levels:
            raise ApiError(404, "Not Found")
        del self.levels[(item_id, loc_id)]
        return 204, None

    def _r_order(self, ctx, oid):
        if oid not in self.orders:
            raise ApiError(404, "Not Found")
        return 200, {"order": self._fields(self.orders[oid], ctx["query"])}

    def _r_fulfillment_orders(self, ctx, oid):
        if oid not in self.orders:
            raise ApiError(404, "Not Found")
        return 200, {"fulfillment_orders": copy.deepcopy(self.fulfillment_orders.get(oid, []))}

    # ---- webhooks ----

    def send_webhook(self, url, topic, payload, secret, webhook_id=None, event_id=None,
                     api_version=DEFAULT_WEBHOOK_VERSION, triggered_at=None, name=None,
                     headers=None, hmac_override=None, timeout=5.0, cafile=None):
        """POST one delivery as Shopify does: the raw body (payload: a dict, serialized
        compactly, or bytes sent as they are), X-Shopify-Topic, X-Shopify-Hmac-Sha256 (base64
        HMAC-SHA256 of the raw body keyed with `secret`; hmac_override sends another value, ""
        none), X-Shopify-Shop-Domain, X-Shopify-API-Version, X-Shopify-Webhook-Id (per
        delivery), X-Shopify-Event-Id (per merchant action: give the same one for the same
        event to another subscription), X-Shopify-Triggered-At, X-Shopify-Name when given.
        Shopify waits `timeout` (5 s) for the answer. Returns the delivery: a dict with url,
        topic, body, headers, webhook_id, event_id, attempts [{status, body, error}], status
        (of the last attempt, None when it failed to connect or timed out) and ok (2xx)."""
        body = payload if isinstance(payload, bytes) else \
            json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        h = {"Content-Type": "application/json", "User-Agent": "Shopify-Captain-Hook",
             "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": self.shop,
             "X-Shopify-API-Version": api_version,
             "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
             "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
             "X-Shopify-Triggered-At": triggered_at or (
                 utc_now().strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z")}
        sig = signature(secret, body) if hmac_override is None else hmac_override
        if sig:
            h["X-Shopify-Hmac-Sha256"] = sig
        if name:
            h["X-Shopify-Name"] = name
        h.update(headers or {})
        d = {"url": url, "topic": topic, "body": body, "headers": h,
             "webhook_id": h["X-Shopify-Webhook-Id"], "event_id": h["X-Shopify-Event-Id"],
             "attempts": [], "status": None, "ok": False, "timeout": timeout, "cafile": cafile}
        with self.lock:
            self.deliveries.append(d)
        return self._attempt(d)

    def resend(self, delivery):
        """Shopify's retry of a delivery: the same bytes and headers (the same webhook id, event
        id, triggered-at and signature). Returns the delivery, with one more attempt."""
        return self._attempt(delivery)

    def deliver(self, url, topic, payload, secret, attempts=9, interval=0.0, **kw):
        """send_webhook(), then resend() while the answer is not 2xx, up to `attempts` in all
        (Shopify: the first and 8 retries over 4 hours; here `interval` seconds apart)."""
        d = self.send_webhook(url, topic, payload, secret, **kw)
        while not d["ok"] and len(d["attempts"]) < attempts:
            time.sleep(interval)
            self.resend(d)
        return d

    def _attempt(self, d):
        u = urllib.parse.urlsplit(d["url"])
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        a = {"status": None, "body": None, "error": None, "time": time.time()}
        try:
            if u.scheme == "https":
                ctx = ssl.create_default_context(cafile=d["cafile"]) if d["cafile"] else \
                    ssl._create_unverified_context()
                conn = http.client.HTTPSConnection(u.hostname, u.port or 443,
                                                   timeout=d["timeout"], context=ctx)
            else:
                conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                                  timeout=d["timeout"])
            try:
                conn.request("POST", path, body=d["body"], headers=d["headers"])
                r = conn.getresponse()
                a["status"], a["body"] = r.status, r.read()
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as e:
            a["error"] = f"{type(e).__name__}: {e}"
        d["attempts"].append(a)
        d["status"] = a["status"]
        d["ok"] = a["status"] is not None and 200 <= a["status"] < 300
        return d

    # ---- webhook payloads (the REST representation) ----

    def inventory_level_payload(self, inventory_item_id, location_id, available=None,
                                updated_at=None):
        """inventory_levels/update: the level as REST shows it (available: the fake's own
        unless given)."""
        with self.lock:
            key = (int(inventory_item_id), int(location_id))
            lv = self.levels.get(key)
            if available is None:
                available = lv["available"] if lv else None
            return {"inventory_item_id": key[0], "location_id": key[1], "available": available,
                    "updated_at": updated_at or self._fmt(lv["updated_at"] if lv else utc_now()),
                    "admin_graphql_api_id": level_gid(*key)}

    def product_payload(self, product_id):
        """products/update: the product as REST shows it, variants (prices as strings)
        included."""
        with self.lock:
            return self._product_json(self.products[int(product_id)])

    def _money_set(self, amount, currency):
        m = {"amount": amount, "currency_code": currency}
        return {"shop_money": dict(m), "presentment_money": dict(m)}

    def order_payload(self, line_items, customer=None, pickup_location_id=None, order_id=None,
                      shipping_address=None, shipping_price="0.00", email=None, phone=None,
                      financial_status="paid", currency=None, source_name="web", note=None,
                      number=None):
        """orders/create: an order as REST shows it, stored in the fake (GET orders/{id}.json,
        orders/{id}/fulfillment_orders.json). line_items: [{"sku", "quantity", optional
        "price" (the variant's when absent), "discount" (for the whole line)}]; customer: a dict
        ({"email", "phone", "first_name", "last_name", "id"}, all optional) or None (no
        "customer" member, [U] as Shopify leaves it out for a guest with no customer);
        pickup_location_id: a local pickup at that location ([U] as REST shows it: a shipping
        line titled and coded with the location's name, price 0, no shipping address; the
        location id itself only in the fulfillment order's assigned_location_id with
        delivery_method.method_type "pick_up"); else shipped to shipping_address."""
        with self.lock:
            cur = currency or self.currency
            now = self._fmt(utc_now())
            oid = int(order_id) if order_id is not None else self._id("order")
            num = number or 1000 + len(self.orders) + 1
            lines, subtotal, discounts = [], Decimal(0), Decimal(0)
            for li in line_items:
                vid = self.skus.get(li.get("sku"))
                v = self.variants.get(vid) if vid else None
                p = self.products[v["product_id"]] if v else None
                price = money(li["price"]) if li.get("price") is not None else \
                    (v["price"] if v else "0.00")
                qty = int(li.get("quantity", 1))
                disc = money(li["discount"]) if li.get("discount") is not None else None
                subtotal += Decimal(price) * qty
                lid = self._id("line")
                title = p["title"] if p else li.get("title", li.get("sku") or "Custom item")
                line = {"id": lid, "admin_graphql_api_id": gid("LineItem", lid),
                        "variant_id": v["id"] if v else None,
                        "product_id": v["product_id"] if v else None,
                        "sku": li.get("sku"), "title": title,
                        "variant_title": v["title"] if v else None,
                        "name": f"{title} - {v['title']}" if v else title,
                        "vendor": p["vendor"] if p else None, "quantity": qty,
                        "current_quantity": qty, "fulfillable_quantity": qty,
                        "fulfillment_service": "manual", "fulfillment_status": None,
                        "price": price, "price_set": self._money_set(price, cur),
                        "total_discount": "0.00",
                        "total_discount_set": self._money_set("0.00", cur),
                        "discount_allocations": [], "requires_shipping": True,
                        "taxable": True, "tax_lines": [], "gift_card": False, "grams": 0,
                        "product_exists": v is not None, "properties": []}
                if disc is not None:
                    discounts += Decimal(disc)
                    line["discount_allocations"] = [{
                        "amount": disc, "amount_set": self._money_set(disc, cur),
                        "discount_application_index": 0}]
                lines.append(line)
            ship = Decimal(money(shipping_price)) if pickup_location_id is None else Decimal(0)
            sub = subtotal - discounts
            total = sub + ship
            fmt = lambda d: str(d.quantize(Decimal("0.01")))   # noqa: E731
            order = {
                "id": oid, "admin_graphql_api_id": gid("Order", oid), "name": f"#{num}",
                "order_number": num, "number": num - 1000, "token": uuid.uuid4().hex,
                "email": email or (customer or {}).get("email") or "",
                "contact_email": email or (customer or {}).get("email"),
                "phone": phone, "created_at": now, "updated_at": now, "processed_at": now,
                "currency": cur, "presentment_currency": cur,
                "financial_status": financial_status, "fulfillment_status": None,
                "confirmed": True, "test": False, "source_name": source_name,
                "location_id": None, "taxes_included": True, "tax_exempt": False,
                "total_line_items_price": fmt(subtotal),
                "total_line_items_price_set": self._money_set(fmt(subtotal), cur),
                "subtotal_price": fmt(sub), "subtotal_price_set": self._money_set(fmt(sub), cur),
                "total_discounts": fmt(discounts),
                "total_discounts_set": self._money_set(fmt(discounts), cur),
                "total_shipping_price_set": self._money_set(fmt(ship), cur),
                "total_tax": "0.00", "total_tax_set": self._money_set("0.00", cur),
                "total_price": fmt(total), "total_price_set": self._money_set(fmt(total), cur),
                "current_total_price": fmt(total), "discount_codes": [],
                "discount_applications": [{"type": "manual", "value": fmt(discounts),
                                           "value_type": "fixed_amount",
                                           "allocation_method": "each", "target_type":
                                           "line_item", "target_selection": "explicit",
                                           "title": "Discount", "description": "Discount"}]
                if discounts else [],
                "note": note, "note_attributes": [], "tags": "", "cancelled_at": None,
                "cancel_reason": None, "closed_at": None, "buyer_accepts_marketing": False,
                "line_items": lines, "fulfillments": [], "refunds": [],
                "order_status_url": f"https://{self.shop}/orders/{uuid.uuid4().hex}/authenticate",
            }
            if customer is not None:
                cid = int(customer["id"]) if customer.get("id") is not None else \
                    self._id("customer")
                order["customer"] = {
                    "id": cid, "email": customer.get("email"), "phone": customer.get("phone"),
                    "first_name": customer.get("first_name"),
                    "last_name": customer.get("last_name"), "created_at": now,
                    "updated_at": now, "state": "enabled", "verified_email": True,
                    "tags": "", "currency": cur, "tax_exempt": False, "note": None,
                    "email_marketing_consent": {
                        "state": "subscribed" if customer.get("accepts_marketing")
                        else "not_subscribed", "opt_in_level": "single_opt_in",
                        "consent_updated_at": None},
                    "sms_marketing_consent": None,
                    "admin_graphql_api_id": gid("Customer", cid)}
            fo_lines = [{"id": li["id"] + 1, "shop_id": 1, "line_item_id": li["id"],
                         "inventory_item_id": self.variants[li["variant_id"]]["inventory_item_id"]
                         if li["variant_id"] else None, "quantity": li["quantity"],
                         "fulfillable_quantity": li["quantity"], "variant_id": li["variant_id"]}
                        for li in lines]
            fo = {"id": self._id("fulfillment_order"), "shop_id": 1, "order_id": oid,
                  "request_status": "unsubmitted", "status": "open",
                  "supported_actions": ["create_fulfillment", "move"],
                  "line_items": fo_lines, "fulfill_at": now, "fulfill_by": None,
                  "international_duties": None, "fulfillment_holds": [],
                  "created_at": now, "updated_at": now}
            if pickup_location_id is not None:
                loc = self.locations[int(pickup_location_id)]
                order["shipping_lines"] = [{
                    "id": self._id("line"), "title": loc["name"], "code": loc["name"],
                    "source": "shopify", "price": "0.00",
                    "price_set": self._money_set("0.00", cur), "discounted_price": "0.00",
                    "carrier_identifier": None, "requested_fulfillment_service_id": None,
                    "phone": None, "tax_lines": [], "discount_allocations": []}]
                fo.update({"assigned_location_id": loc["id"], "destination": None,
                           "delivery_method": {"id": fo["id"] + 1, "method_type": "pick_up"}})
            else:
                addr = shipping_address or {"first_name": (customer or {}).get("first_name"),
                                            "last_name": (customer or {}).get("last_name"),
                                            "address1": "ul. Długa 1", "city": "Gdańsk",
                                            "zip": "80-001", "country": "Poland",
                                            "country_code": "PL"}
                order["shipping_address"] = dict(addr)
                order["billing_address"] = dict(addr)
                order["shipping_lines"] = [{
                    "id": self._id("line"), "title": "Standard", "code": "Standard",
                    "source": "shopify", "price": fmt(ship),
                    "price_set": self._money_set(fmt(ship), cur), "discounted_price": fmt(ship),
                    "carrier_identifier": None, "requested_fulfillment_service_id": None,
                    "phone": None, "tax_lines": [], "discount_allocations": []}]
                first_loc = min(self.locations) if self.locations else None
                fo.update({"assigned_location_id": first_loc, "destination": dict(addr),
                           "delivery_method": {"id": fo["id"] + 1, "method_type": "shipping"}})
            self.orders[oid] = copy.deepcopy(order)
            self.fulfillment_orders[oid] = [fo]
            return order

    # ---- control over HTTP ----

    def _control(self, name, args):
        calls = {"fail_next": self.fail_next, "hang_next": self.hang_next,
                 "set_bucket": self.set_bucket, "set_graphql_bucket": self.set_graphql_bucket,
                 "graphql_item_error": self.graphql_item_error, "drift": self.drift,
                 "set_page_size": self.set_page_size, "add_token": self.add_token,
                 "set_scopes": self.set_scopes, "remove_token": self.remove_token,
                 "set_tracked": self.set_tracked, "set_level": self.set_level,
                 "add_location": self.add_location, "add_product": self.add_product,
                 "add_bulk": lambda **a: len(self.add_bulk(**a)),
                 "level": self.level, "level_by_sku": self.level_by_sku,
                 "price_by_sku": self.price_by_sku, "item_id_by_sku": self.item_id_by_sku,
                 "variant_by_sku": self.variant_by_sku, "location_id": self.location_id,
                 "changes": self.changes, "counts": self.counts,
                 "order_payload": self.order_payload,
                 "inventory_level_payload": self.inventory_level_payload,
                 "product_payload": self.product_payload}
        if name == "state":
            return 200, {"locations": [self._location_json(v) for v in self.locations.values()],
                         "products": len(self.products), "variants": len(self.variants),
                         "inventory_levels": [self._level_json(k) for k in self.levels]}
        if name == "requests":
            return 200, {"requests": [{k: v for k, v in r.items() if k != "body"}
                                      for r in list(self.requests)]}
        if name not in calls:
            return 404, {"errors": "Not Found"}
        try:
            return 200, {"result": calls[name](**args)}
        except (TypeError, KeyError, ValueError) as e:
            return 400, {"errors": f"{type(e).__name__}: {e}"}

    # ---- GraphQL ----

    def _graphql(self, h, body, rec, version, token):
        ctype = h.get("content-type", "").split(";")[0].strip().lower()
        variables, opname = {}, None
        if ctype == "application/graphql":
            query = body.decode("utf-8", "replace")
        elif ctype == "application/json":
            try:
                req = json.loads(body) if body.strip() else {}
            except ValueError:
                raise ApiError(400, "Bad Request: the body is not valid JSON")   # [U] text
            if not isinstance(req, dict):
                raise missing("query")
            query, variables, opname = req.get("query"), req.get("variables"), \
                req.get("operationName")
            if isinstance(variables, str):
                try:
                    variables = json.loads(variables) if variables.strip() else {}
                except ValueError:
                    variables = None
            if variables is None:
                variables = {}
            if not isinstance(variables, dict):
                raise missing("variables")
        else:
            query = None
        if not isinstance(query, str) or not query.strip():
            raise missing("query")
        try:
            doc = _Parser(query).document()
            op = _pick_operation(doc, opname)
        except _GQLError as e:
            return 200, {"errors": [e.as_dict()]}
        st = _Analysis(self, doc, op, variables)
        rec["graphql"] = st.root_fields()
        requested = st.run()
        if st.errors:
            return 200, {"errors": st.errors}
        bucket = self._gql_bucket(token)
        if requested > 1000:
            return 200, {"errors": [{
                "message": f"Query cost is {requested}, which exceeds the single query max cost "
                           "limit (1000).\n\nSee https://shopify.dev/concepts/about-apis/rate-"
                           "limits for more information on how the\ncost of a query is "
                           "calculated.\n\nTo query larger amounts of data with fewer limits, "
                           "bulk operations should be used instead.\nSee https://shopify.dev/"
                           "tutorials/perform-bulk-operations-with-admin-api for usage "
                           "details.\n",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                               "maxCost": 1000}}]}
        if requested > bucket[0]:
            return 200, {"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                        "throttleStatus": self._throttle_status(bucket)}}}
        bucket[0] -= requested
        c = _Ctx(self, version, token, st.vars)
        root = "Mutation" if op["type"] == "mutation" else "QueryRoot"
        data = self._exec(op["sel"], root, None, [], c, doc["fragments"])
        actual = min(c.actual, requested)
        bucket[0] = min(self.gql_max, bucket[0] + requested - actual)
        answer = {"data": data}
        if c.errors:
            answer = {"errors": c.errors, "data": data}
        answer["extensions"] = {"cost": {"requestedQueryCost": requested,
                                         "actualQueryCost": actual,
                                         "throttleStatus": self._throttle_status(bucket)}}
        return 200, answer

    def _gql_bucket(self, token):
        now = time.monotonic()
        b = self.gql_buckets.setdefault(token, [self.gql_max, now])
        b[0] = min(self.gql_max, b[0] + (now - b[1]) * self.gql_restore)
        b[1] = now
        return b

    def _throttle_status(self, b):
        # [U] the exact shape: numbers as Shopify shows them (floats for the maximum and the
        # rate, the points available as an integer).
        return {"maximumAvailable": self.gql_max, "currentlyAvailable": int(b[0]),
                "restoreRate": self.gql_restore}

    def _collect(self, sel, tname, c, frags, out=None):
        out = {} if out is None else out
        for node in sel:
            if not _included(node, c.vars):
                continue
            if node["kind"] == "field":
                out.setdefault(node["alias"] or node["name"], []).append(node)
                continue
            cond = node["on"] if node["kind"] == "inline" else frags[node["name"]]["on"]
            sub = node["sel"] if node["kind"] == "inline" else frags[node["name"]]["sel"]
            if cond is None or cond == tname or (cond == "Node" and tname in NODE_TYPES):
                self._collect(sub, tname, c, frags, out)
        return out

    def _exec(self, sel, tname, obj, path, c, frags):
        out = {}
        for key, nodes in self._collect(sel, tname, c, frags).items():
            node = nodes[0]
            name = node["name"]
            if name == "__typename":
                out[key] = tname
                continue
            fd = SCHEMA[tname][name]
            args = {k: _value(v, c.vars) for k, v in node["args"].items()}
            sub = [s for n in nodes for s in (n["sel"] or ())]
            if fd.scope and not self._has_scope(c.token, fd.scope):
                # [U] the exact message and extensions of Shopify's ACCESS_DENIED.
                out[key] = None
                c.errors.append({
                    "message": f"Access denied for {name} field. Required access: "
                               f"`{fd.scope}` access scope.",
                    "locations": [{"line": node["line"], "column": node["col"]}],
                    "path": path + [key],
                    "extensions": {"code": "ACCESS_DENIED",
                                   "documentation": "https://shopify.dev/api/usage/access-scopes",
                                   "requiredAccess": f"`{fd.scope}` access scope."}})
                continue
            mut = fd.mutation and not c.in_mut
            if mut:
                c.actual += 10
                c.in_mut = True
            try:
                val = fd.resolve(self, obj, args, c, node)
                out[key] = self._complete(fd, val, sub, path + [key], c, args, frags)
            except _GQLError as e:
                out[key] = None
                e.path = e.path or path + [key]
                if not e.line:
                    e.line, e.col = node["line"], node["col"]
                c.errors.append(e.as_dict())
            finally:
                if mut:
                    c.in_mut = False
        return out

    def _complete(self, fd, val, sub, path, c, args, frags):
        if val is None or fd.kind in ("s", "ls"):
            return val
        if fd.kind == "o":
            return self._object(fd.type, val, sub, path, c, frags)
        if fd.kind == "l":
            return [self._object(fd.type, v, sub, path + [i], c, frags) if v is not None
                    else None for i, v in enumerate(val)]
        # a connection: val is every record, in order; args page it
        if not c.in_mut:
            c.actual += 2
        return self._exec(sub, fd.type + "Connection", self._conn_page(val, args),
                          path, c, frags)

    def _object(self, tname, val, sub, path, c, frags):
        if tname == "Node":
            tname, val = val
        if tname not in NO_COST and not c.in_mut:
            c.actual += 1
        return self._exec(sub, tname, val, path, c, frags)

    def _conn_page(self, records, args):
        keys = [r["_key"] if "_key" in r else r["id"] for r in records]
        lo, hi = 0, len(records)
        for name, side in (("after", "lo"), ("before", "hi")):
            if args.get(name) is not None:
                cur = decode_cursor(args[name]) if isinstance(args[name], str) else None
                if not cur or "last_id" not in cur:
                    raise _GQLError(f"Invalid cursor for {name}: {args[name]!r}",
                                    code="argumentLiteralsIncompatible")   # [U] text
                k = cur["last_id"]
                if side == "lo":
                    lo = bisect.bisect_right(keys, k)
                else:
                    hi = bisect.bisect_left(keys, k)
        if args.get("reverse"):
            order = list(range(hi - 1, lo - 1, -1))
        else:
            order = list(range(lo, hi))
        n = args.get("first") if args.get("first") is not None else args.get("last")
        if self.page_size:
            n = min(n, self.page_size)
        idx = order[:n] if args.get("first") is not None else order[-n:] if n else []
        page = [records[i] for i in idx]
        edges = [{"cursor": encode_cursor({"last_id": keys[i]}), "node": records[i]}
                 for i in idx]
        if idx:
            first_pos, last_pos = order.index(idx[0]), order.index(idx[-1])
            has_next = last_pos < len(order) - 1 or (not args.get("reverse") and hi < len(keys))
            has_prev = first_pos > 0 or (not args.get("reverse") and lo > 0)
        else:
            has_next = has_prev = False
        return {"edges": edges, "nodes": page,
                "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_prev,
                             "startCursor": edges[0]["cursor"] if edges else None,
                             "endCursor": edges[-1]["cursor"] if edges else None}}

    # -- resolvers' helpers --

    def _node(self, value):
        """(type, object) for a global id, or None. [U] a malformed global id is a top-level
        error "Invalid global id '...'" (code argumentLiteralsIncompatible)."""
        g = parse_gid(value)
        if g is None:
            raise _GQLError(f"Invalid global id '{value}'", code="argumentLiteralsIncompatible")
        kind, num, extra = g
        obj = {"Product": self.products, "ProductVariant": self.variants,
               "InventoryItem": self.items, "Location": self.locations}.get(kind, {}).get(num)
        if kind == "InventoryLevel" and extra is not None:
            obj = self.levels.get((extra, num))
        if kind == "Shop" and num == 1:
            obj = {}
        return (kind, obj) if obj is not None else None

    def _typed(self, value, kind, table):
        g = parse_gid(value)
        if g is None:
            raise _GQLError(f"Invalid global id '{value}'", code="argumentLiteralsIncompatible")
        if g[0] != kind:
            return None
        return table.get(g[1])

    def _search(self, text, getters):
        """A predicate for Shopify's search syntax, as far as this fake understands it:
        field:value terms (value bare, "quoted" or 'quoted', a trailing * a prefix), joined by
        AND (or a space) and OR. An index (field -> {value: [records]}) is used when given."""
        if text is None or not str(text).strip():
            return None
        groups, cur = [], []
        for m in re.finditer(r'\s*(?:(OR|AND)(?=\s)|([A-Za-z_]+):(?:"((?:[^"\\]|\\.)*)"|'
                             r"'((?:[^'\\]|\\.)*)'|(\S+))|(\S+))", str(text)):
            if m.group(1) == "OR":
                groups.append(cur)
                cur = []
            elif m.group(1) == "AND":
                continue
            elif m.group(2):
                field = m.group(2)
                value = next(g for g in (m.group(3), m.group(4), m.group(5)) if g is not None)
                if field not in getters:
                    raise _GQLError(f"The fake does not search by '{field}' (it knows "
                                    f"{', '.join(sorted(getters))})", code="FAKE_UNSUPPORTED")
                cur.append((field, value.lower()))
            elif m.group(6):
                raise _GQLError(f"The fake understands only field:value search terms, not "
                                f"'{m.group(6)}'", code="FAKE_UNSUPPORTED")
        groups.append(cur)
        groups = [g for g in groups if g]

        def match(obj):
            for g in groups:
                ok = True
                for field, value in g:
                    have = getters[field](obj)
                    have = "" if have is None else str(have).lower()
                    if value.endswith("*"):
                        ok = have.startswith(value[:-1])
                    else:
                        ok = have == value
                    if not ok:
                        break
                if ok:
                    return True
            return False
        match.groups = groups
        return match

    def _variants_matching(self, query):
        pred = self._search(query, {
            "sku": lambda v: v["sku"], "id": lambda v: v["id"],
            "product_id": lambda v: v["product_id"], "barcode": lambda v: v["barcode"],
            "title": lambda v: v["title"]})
        if pred is None:
            return sorted(self.variants.values(), key=lambda v: v["id"])
        # Exact sku terms, each a group of its own (sku:A OR sku:B ...): the index.
        if all(len(g) == 1 and g[0][0] == "sku" and not g[0][1].endswith("*")
               for g in pred.groups):
            lower = {}
            wanted = {g[0][1] for g in pred.groups}
            for sku, vid in self.skus.items():
                if sku.lower() in wanted:
                    lower[vid] = self.variants[vid]
            return [lower[k] for k in sorted(lower)]
        return [v for _, v in sorted(self.variants.items()) if pred(v)]

    def _products_matching(self, query):
        pred = self._search(query, {
            "id": lambda p: p["id"], "title": lambda p: p["title"],
            "handle": lambda p: p["handle"], "status": lambda p: p["status"],
            "vendor": lambda p: p["vendor"],
            "sku": lambda p: " ".join(self.variants[v]["sku"] or "" for v in p["variant_ids"])})
        out = [self.products[i] for i in self.product_ids]
        return out if pred is None else [p for p in out if pred(p)]

    def _items_matching(self, query):
        if query and re.fullmatch(r"\s*sku:\S+(\s+OR\s+sku:\S+)*\s*", str(query)):
            vs = self._variants_matching(query)
            return sorted((self.items[v["inventory_item_id"]] for v in vs),
                          key=lambda i: i["id"])
        pred = self._search(query, {"id": lambda i: i["id"],
                                    "sku": lambda i: self.variants[i["variant_id"]]["sku"]})
        out = [i for _, i in sorted(self.items.items())]
        return out if pred is None else [i for i in out if pred(i)]

    def _levels_of(self, item_id=None, loc_id=None):
        out = []
        for (i, l2), lv in self.levels.items():
            if (item_id is None or i == item_id) and (loc_id is None or l2 == loc_id):
                out.append(dict(lv, _key=[lv["location_id"], lv["inventory_item_id"]]
                                if item_id is None else lv["location_id"]))
        out.sort(key=lambda lv: lv["_key"])
        return out

    def _quantity(self, lv, name):
        if name == "available":
            return lv["available"]
        if name == "on_hand":
            return lv["available"] + lv["committed"]
        if name == "committed":
            return lv["committed"]
        return 0

    # -- mutations --

    def _idempotency_key(self, node, c, mutation):
        key = None
        for d in node["dirs"]:
            if d["name"] == "idempotent":
                key = _value(d["args"].get("key"), c.vars) if "key" in d["args"] else None
                if not isinstance(key, str) or not key:
                    raise _GQLError("The idempotency key must be a non-empty string",  # [U]
                                    code="BAD_REQUEST")
        if key is None and (c.version == "unstable" or c.version >= "2026-04"):
            # [U] text and code; Shopify only says "an error at runtime".
            raise _GQLError(f"The @idempotent directive is required for {mutation} from "
                            "version 2026-04.", code="BAD_REQUEST")
        return key

    def _idempotent(self, mutation, node, c, inp, apply):
        key = self._idempotency_key(node, c, mutation)
        canon = json.dumps(inp, sort_keys=True, separators=(",", ":"))
        if key is not None:
            seen = self.idempotency.get((mutation, key))
            if seen is not None:
                if seen[0] == canon:
                    return seen[1]
                return {"inventoryAdjustmentGroup": None, "userErrors": [_user_error(
                    None, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                    "The same idempotency key cannot be used with different operation "
                    "parameters.")]}
        payload = apply()
        if key is not None:
            # [U] failed attempts are remembered too: the same key gets the same answer.
            self.idempotency[(mutation, key)] = (canon, payload)
        return payload

    def _check_reason_uri(self, inp, errors):
        if inp.get("reason") not in SET_REASONS:
            errors.append(_user_error(["input", "reason"], "INVALID_REASON",
                                      "The specified reason is invalid."))
        uri = inp.get("referenceDocumentUri")
        if uri is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://\S+", str(uri)):
            errors.append(_user_error(["input", "referenceDocumentUri"],
                                      "INVALID_REFERENCE_DOCUMENT",
                                      "The specified reference document is invalid."))

    def _item_loc_errors(self, item_gid, loc_gid, field, errors, seen_pairs):
        """(item id, location id) when both are fine, else None with userErrors added."""
        item = self._typed(item_gid, "InventoryItem", self.items)
        if item is None:
            errors.append(_user_error(field + ["inventoryItemId"], "INVALID_INVENTORY_ITEM",
                                      "The specified inventory item could not be found."))
            return None
        ie = self.item_errors.get(item["id"])
        if ie and (ie[2] is None or ie[2] > 0):
            if ie[2] is not None:
                ie[2] -= 1
            errors.append(_user_error(field + ["inventoryItemId"], ie[0], ie[1]))
            return None
        loc = self._typed(loc_gid, "Location", self.locations)
        if loc is None:
            errors.append(_user_error(field + ["locationId"], "INVALID_LOCATION",
                                      "The specified location could not be found."))
            return None
        key = (item["id"], loc["id"])
        if key in seen_pairs:
            errors.append(_user_error(field, "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                                      "The combination of inventoryItemId and locationId must "
                                      "be unique."))
            return None
        seen_pairs.add(key)
        if key not in self.levels:
            errors.append(_user_error(field + ["locationId"], "ITEM_NOT_STOCKED_AT_LOCATION",
                                      "The specified inventory item is not stocked at the "
                                      "location."))
            return None
        if not item["tracked"]:
            # [U] an untracked item: this code, not a silent success.
            errors.append(_user_error(field + ["inventoryItemId"], "NON_MUTABLE_INVENTORY_ITEM",
                                      "The specified inventory item is not tracked, so its "
                                      "quantities cannot be changed."))
            return None
        return key

    def _group(self, inp, changes):
        if not changes:
            return None    # [U] nothing changed: no adjustment group
        self.groups += 1
        return {"id": gid("InventoryAdjustmentGroup", self.next_ids["group"] + self.groups),
                "created_at": utc_now(), "reason": inp.get("reason"),
                "uri": inp.get("referenceDocumentUri"), "changes": changes}

    def _m_set_quantities(self, obj, a, c, node):
        inp = a.get("input")
        _check_input(inp, "InventorySetQuantitiesInput",
                     {"name": "String!", "reason": "String!", "referenceDocumentUri": "String",
                      "quantities": "[InventoryQuantityInput!]!",
                      "ignoreCompareQuantity": "Boolean"}, ["input"])
        qs = inp["quantities"]
        if len(qs) > MAX_QUANTITIES:
            raise _GQLError(f"The input array size of {len(qs)} is greater than the maximum "
                            f"allowed of {MAX_QUANTITIES}.", code="MAX_INPUT_SIZE_EXCEEDED",
                            path=["inventorySetQuantities", "input", "quantities"])
        for i, q in enumerate(qs):
            _check_input(q, "InventoryQuantityInput",
                         {"inventoryItemId": "ID!", "locationId": "ID!", "quantity": "Int!",
                          "compareQuantity": "Int", "changeFromQuantity": "Int"},
                         ["input", "quantities", i])
            for k in ("inventoryItemId", "locationId"):
                if parse_gid(q[k]) is None:
                    raise _GQLError(f"Invalid global id '{q[k]}'",
                                    code="argumentLiteralsIncompatible")

        def apply():
            errors, keys, seen_pairs = [], [], set()
            if inp["name"] not in ("available", "on_hand"):
                errors.append(_user_error(["input", "name"], "INVALID_NAME",
                                          "The quantity name must be either 'available' or "
                                          "'on_hand'."))
            self._check_reason_uri(inp, errors)
            for i, q in enumerate(qs):
                field = ["input", "quantities", str(i)]
                key = self._item_loc_errors(q["inventoryItemId"], q["locationId"], field,
                                            errors, seen_pairs)
                if key is None:
                    continue
                n = q["quantity"]
                if n > QTY_LIMIT:
                    errors.append(_user_error(field + ["quantity"], "INVALID_QUANTITY_TOO_HIGH",
                                              "The total quantity can't be higher than "
                                              "1,000,000,000."))
                    continue
                if n < -QTY_LIMIT:
                    errors.append(_user_error(field + ["quantity"], "INVALID_QUANTITY_TOO_LOW",
                                              "The total quantity can't be lower than "
                                              "-1,000,000,000."))
                    continue
                if n < 0 and inp["name"] == "on_hand":
                    # [U] a negative "available" is allowed (oversold), on_hand is not.
                    errors.append(_user_error(field + ["quantity"], "INVALID_QUANTITY_NEGATIVE",
                                              "The quantity can't be negative."))
                    continue
                cur = self._quantity(self.levels[key], inp.get("name"))
                if "changeFromQuantity" in q:
                    # 2026-01 on: null opts out of the check; a value must match.
                    if q["changeFromQuantity"] is not None and q["changeFromQuantity"] != cur:
                        errors.append(_user_error(field + ["changeFromQuantity"],
                                                  "CHANGE_FROM_QUANTITY_STALE",
                                                  "The changeFromQuantity value does not match "
                                                  "persisted value."))
                        continue
                elif inp.get("ignoreCompareQuantity") is True:
                    pass
                elif q.get("compareQuantity") is None:   # [U] null counts as absent
                    errors.append(_user_error(field + ["compareQuantity"],
                                              "COMPARE_QUANTITY_REQUIRED",
                                              "The compareQuantity argument must be given to "
                                              "each quantity or ignored using "
                                              "ignoreCompareQuantity."))
                    continue
                elif q["compareQuantity"] != cur:
                    errors.append(_user_error(field + ["compareQuantity"],
                                              "COMPARE_QUANTITY_STALE",
                                              "The compareQuantity value does not match "
                                              "persisted value."))
                    continue
                keys.append((key, n))
            if errors:
                # [U] all or nothing: one userError and nothing is changed.
                return {"inventoryAdjustmentGroup": None, "userErrors": errors}
            now, changes = utc_now(), []
            for key, n in keys:
                lv = self.levels[key]
                new = n if inp["name"] == "available" else n - lv["committed"]
                delta = new - lv["available"]
                if delta == 0:
                    continue
                self._set_available(key, new, "graphql inventorySetQuantities", now)
                for qname, after in (("available", new), ("on_hand", new + lv["committed"])):
                    changes.append({"name": qname, "delta": delta, "after": after,
                                    "item": key[0], "loc": key[1],
                                    "ledger": inp.get("referenceDocumentUri")})
            return {"inventoryAdjustmentGroup": self._group(inp, changes), "userErrors": []}
        return self._idempotent("inventorySetQuantities", node, c, inp, apply)

    def _m_adjust_quantities(self, obj, a, c, node):
        inp = a.get("input")
        _check_input(inp, "InventoryAdjustQuantitiesInput",
                     {"name": "String!", "reason": "String!", "referenceDocumentUri": "String",
                      "changes": "[InventoryChangeInput!]!"}, ["input"])
        chs = inp["changes"]
        if len(chs) > MAX_QUANTITIES:
            raise _GQLError(f"The input array size of {len(chs)} is greater than the maximum "
                            f"allowed of {MAX_QUANTITIES}.", code="MAX_INPUT_SIZE_EXCEEDED",
                            path=["inventoryAdjustQuantities", "input", "changes"])
        for i, ch in enumerate(chs):
            _check_input(ch, "InventoryChangeInput",
                         {"delta": "Int!", "inventoryItemId": "ID!", "locationId": "ID!",
                          "ledgerDocumentUri": "String", "changeFromQuantity": "Int"},
                         ["input", "changes", i])
            for k in ("inventoryItemId", "locationId"):
                if parse_gid(ch[k]) is None:
                    raise _GQLError(f"Invalid global id '{ch[k]}'",
                                    code="argumentLiteralsIncompatible")

        def apply():
            errors, keys, seen_pairs = [], [], set()
            if inp["name"] != "available":
                # [U] the fake adjusts only "available" (Shopify has more names).
                errors.append(_user_error(["input", "name"], "INVALID_QUANTITY_NAME",
                                          "The quantity name must be 'available' in this "
                                          "fake."))
            self._check_reason_uri(inp, errors)
            for i, ch in enumerate(chs):
                field = ["input", "changes", str(i)]
                key = self._item_loc_errors(ch["inventoryItemId"], ch["locationId"], field,
                                            errors, seen_pairs)
                if key is None:
                    continue
                cff = ch.get("changeFromQuantity")
                if cff is not None and cff != self.levels[key]["available"]:
                    errors.append(_user_error(field + ["changeFromQuantity"],
                                              "CHANGE_FROM_QUANTITY_STALE",
                                              "The changeFromQuantity value does not match "
                                              "persisted value."))
                    continue
                keys.append((key, ch["delta"], ch.get("ledgerDocumentUri")))
            if errors:
                return {"inventoryAdjustmentGroup": None, "userErrors": errors}
            now, changes = utc_now(), []
            for key, delta, ledger in keys:
                lv = self.levels[key]
                new = lv["available"] + delta
                self._set_available(key, new, "graphql inventoryAdjustQuantities", now)
                for qname, after in (("available", new), ("on_hand", new + lv["committed"])):
                    changes.append({"name": qname, "delta": delta, "after": after,
                                    "item": key[0], "loc": key[1], "ledger": ledger})
            return {"inventoryAdjustmentGroup": self._group(inp, changes), "userErrors": []}
        return self._idempotent("inventoryAdjustQuantities", node, c, inp, apply)

    def _m_activate(self, obj, a, c, node):
        item = self._typed(a["inventoryItemId"], "InventoryItem", self.items)
        loc = self._typed(a["locationId"], "Location", self.locations)
        errors = []
        if item is None:
            errors.append(_user_error(["inventoryItemId"], None,
                                      "Inventory item does not exist"))      # [U] text
        if loc is None:
            errors.append(_user_error(["locationId"], None, "Location does not exist"))
        if errors:
            return {"inventoryLevel": None, "userErrors": errors}
        key = (item["id"], loc["id"])
        if key not in self.levels:
            if self._fs_conflict(*key):
                return {"inventoryLevel": None, "userErrors": [
                    _user_error(["locationId"], None, self.FS_CONFLICT)]}
            self._connect(key[0], key[1], 0, utc_now())
            if a.get("available") is not None:
                self._set_available(key, as_int(a["available"]) or 0,
                                    "graphql inventoryActivate", utc_now())
        return {"inventoryLevel": self.levels[key], "userErrors": []}

    def _m_variants_bulk_update(self, obj, a, c, node):
        p = self._typed(a["productId"], "Product", self.products)
        variants = a.get("variants")
        if not isinstance(variants, list):
            raise _GQLError("Argument 'variants' on Field 'productVariantsBulkUpdate' has an "
                            "invalid value. Expected type '[ProductVariantsBulkInput!]!'.",
                            code="argumentLiteralsIncompatible")
        if len(variants) > 250:
            raise _GQLError(f"The input array size of {len(variants)} is greater than the "
                            "maximum allowed of 250.", code="MAX_INPUT_SIZE_EXCEEDED")
        if p is None:
            return {"product": None, "productVariants": None, "userErrors": [_user_error(
                ["productId"], "PRODUCT_DOES_NOT_EXIST", "Product does not exist")]}
        errors, ok = [], []
        for i, vin in enumerate(variants):
            _check_input(vin, "ProductVariantsBulkInput",
                         {"id": "ID", "price": "Money", "compareAtPrice": "Money",
                          "barcode": "String", "taxable": "Boolean",
                          "inventoryPolicy": "ProductVariantInventoryPolicy",
                          "inventoryItem": "InventoryItemInput"}, ["variants", i])
            field = ["variants", str(i)]
            if vin.get("id") is None:
                errors.append(_user_error(field + ["id"], "PRODUCT_VARIANT_ID_MISSING",
                                          "Product variant is missing ID attribute"))  # [U]
                continue
            if parse_gid(vin["id"]) is None:
                raise _GQLError(f"Invalid global id '{vin['id']}'",
                                code="argumentLiteralsIncompatible")
            v = self._typed(vin["id"], "ProductVariant", self.variants)
            if v is None or v["product_id"] != p["id"]:
                errors.append(_user_error(field + ["id"], "PRODUCT_VARIANT_DOES_NOT_EXIST",
                                          "Product variant does not exist"))
                continue
            upd = {}
            for k in ("price", "compareAtPrice"):
                if k in vin and vin[k] is not None:
                    try:
                        upd[k] = money(vin[k])
                    except ValueError:
                        raise _GQLError(f"Argument '{k}' on InputObject "
                                        f"'ProductVariantsBulkInput' has an invalid value "
                                        f"({json.dumps(vin[k])}). Expected type 'Money'.",
                                        code="argumentLiteralsIncompatible")
                    if Decimal(upd[k]) < 0:
                        what = "Price" if k == "price" else "Compare at price"
                        errors.append(_user_error(field + [k], "GREATER_THAN_OR_EQUAL_TO",
                                                  f"{what} must be greater than or equal to "
                                                  "0"))  # [U]
                        upd = None
                        break
            if upd is None:
                continue
            ok.append((v, vin, upd))
        if errors and not a.get("allowPartialUpdates"):
            # [U] all or nothing unless allowPartialUpdates: true.
            return {"product": p, "productVariants": None, "userErrors": errors}
        now = utc_now()
        for v, vin, upd in ok:
            if "price" in upd and upd["price"] != v["price"]:
                self._set_price(v, upd["price"], "graphql productVariantsBulkUpdate", now)
            if "compareAtPrice" in vin:
                v["compare_at_price"] = upd.get("compareAtPrice")
            if "barcode" in vin:
                v["barcode"] = vin["barcode"]
            v["updated_at"] = now
        return {"product": p, "productVariants": [v for v, _, _ in ok], "userErrors": errors}


# ---- GraphQL: errors, parser, analysis ----

class _GQLError(Exception):
    def __init__(self, message, line=0, col=0, code=None, path=None, extensions=None):
        super().__init__(message)
        self.message, self.line, self.col, self.path = message, line, col, path
        self.extensions = dict(extensions or {})
        if code:
            self.extensions["code"] = code

    def as_dict(self):
        d = {"message": self.message}
        if self.line:
            d["locations"] = [{"line": self.line, "column": self.col}]
        if self.path:
            d["path"] = self.path
        if self.extensions:
            d["extensions"] = self.extensions
        return d


def _user_error(field, code, message):
    e = {"field": field, "message": message}
    if code is not None:
        e["code"] = code
    return e


_TOKEN = re.compile(r'''
   (?P<skip>[\s,\ufeff]+|\#[^\n\r]*)
  |(?P<block>"""(?:[^"\\]|\\.|"(?!""))*""")
  |(?P<string>"(?:[^"\\\n\r]|\\.)*")
  |(?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  |(?P<name>[_A-Za-z][_0-9A-Za-z]*)
  |(?P<punct>\.\.\.|[!$&():=@\[\]{|}])
''', re.X)
_PUNCT_NAMES = {"{": "LCURLY", "}": "RCURLY", "(": "LPAREN", ")": "RPAREN", "[": "LBRACKET",
                "]": "RBRACKET", ":": "COLON", "!": "BANG", "$": "VAR_SIGN", "@": "DIR_SIGN",
                "=": "EQUALS", "...": "ELLIPSIS", "|": "PIPE", "&": "AMP"}


class _Parser:
    """GraphQL executable documents: operations (query, mutation; subscription is refused),
    variable definitions with defaults, aliases, arguments, directives, selection sets,
    fragment definitions, spreads and inline fragments."""

    def __init__(self, text):
        self.text = text
        self.toks = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                line, col = self._lc(pos)
                raise _GQLError(f'Parse error on "{text[pos]}" (error) at [{line}, {col}]',
                                line, col)
            if m.lastgroup != "skip":
                self.toks.append((m.lastgroup, m.group(), pos))
            pos = m.end()
        self.toks.append(("eof", None, len(text)))
        self.i = 0

    def _lc(self, pos):
        line = self.text.count("\n", 0, pos) + 1
        return line, pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def at(self, kind, value=None):
        t = self.toks[self.i]
        return t[0] == kind and (value is None or t[1] == value)

    def take(self, kind, value=None):
        if not self.at(kind, value):
            self.fail()
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self):
        kind, value, pos = self.toks[self.i]
        line, col = self._lc(pos)
        if kind == "eof":
            raise _GQLError("Unexpected end of document", line, col)
        name = {"name": "IDENTIFIER", "string": "STRING", "block": "STRING",
                "number": "FLOAT" if re.search(r"[.eE]", value) else "INT"}.get(
            kind, _PUNCT_NAMES.get(value, kind.upper()))
        raise _GQLError(f'Parse error on "{value}" ({name}) at [{line}, {col}]', line, col)

    def document(self):
        ops, frags = [], {}
        while not self.at("eof"):
            if self.at("name", "fragment"):
                f = self.fragment()
                if f["name"] in frags:
                    raise _GQLError(f"Fragment name \"{f['name']}\" must be unique",
                                    f["line"], f["col"])
                frags[f["name"]] = f
            elif self.at("punct", "{") or (self.at("name") and self.toks[self.i][1] in
                                           ("query", "mutation", "subscription")):
                ops.append(self.operation())
            else:
                self.fail()
        if not ops:
            raise _GQLError("Document has no operations")      # [U] text
        return {"ops": ops, "fragments": frags}

    def operation(self):
        t = self.toks[self.i]
        line, col = self._lc(t[2])
        if self.at("punct", "{"):
            return {"type": "query", "name": None, "vars": [], "dirs": [],
                    "sel": self.selection_set(), "line": line, "col": col}
        typ = self.take("name")[1]
        name = self.take("name")[1] if self.at("name") else None
        var_defs = self.variable_definitions() if self.at("punct", "(") else []
        return {"type": typ, "name": name, "vars": var_defs, "dirs": self.directives(),
                "sel": self.selection_set(), "line": line, "col": col}

    def variable_definitions(self):
        self.take("punct", "(")
        out = []
        while not self.at("punct", ")"):
            t = self.take("punct", "$")
            name = self.take("name")[1]
            self.take("punct", ":")
            typ = self.type_ref()
            d = {"name": name, "type": typ, "line": self._lc(t[2])[0], "col": self._lc(t[2])[1]}
            if self.at("punct", "="):
                self.take("punct", "=")
                d["default"] = self.value(const=True)
            self.directives()
            out.append(d)
        if not out:
            self.fail()
        self.take("punct", ")")
        return out

    def type_ref(self):
        if self.at("punct", "["):
            self.take("punct", "[")
            s = "[" + self.type_ref() + "]"
            self.take("punct", "]")
        else:
            s = self.take("name")[1]
        if self.at("punct", "!"):
            self.take("punct", "!")
            s += "!"
        return s

    def directives(self):
        out = []
        while self.at("punct", "@"):
            t = self.take("punct", "@")
            line, col = self._lc(t[2])
            name = self.take("name")[1]
            args = self.arguments() if self.at("punct", "(") else {}
            out.append({"name": name, "args": args, "line": line, "col": col})
        return out

    def selection_set(self):
        self.take("punct", "{")
        out = []
        while not self.at("punct", "}"):
            out.append(self.selection())
        if not out:
            self.fail()
        self.take("punct", "}")
        return out

    def selection(self):
        t = self.toks[self.i]
        line, col = self._lc(t[2])
        if self.at("punct", "..."):
            self.take("punct", "...")
            if self.at("name", "on"):
                self.take("name")
                cond = self.take("name")[1]
                return {"kind": "inline", "on": cond, "dirs": self.directives(),
                        "sel": self.selection_set(), "line": line, "col": col}
            if self.at("name"):
                name = self.take("name")[1]
                return {"kind": "spread", "name": name, "dirs": self.directives(),
                        "line": line, "col": col}
            return {"kind": "inline", "on": None, "dirs": self.directives(),
                    "sel": self.selection_set(), "line": line, "col": col}
        name = self.take("name")[1]
        alias = None
        if self.at("punct", ":"):
            self.take("punct", ":")
            alias, name = name, self.take("name")[1]
        args = self.arguments() if self.at("punct", "(") else {}
        dirs = self.directives()
        sel = self.selection_set() if self.at("punct", "{") else None
        return {"kind": "field", "alias": alias, "name": name, "args": args, "dirs": dirs,
                "sel": sel, "line": line, "col": col}

    def fragment(self):
        t = self.take("name", "fragment")
        line, col = self._lc(t[2])
        if self.at("name", "on"):
            self.fail()
        name = self.take("name")[1]
        self.take("name", "on")
        cond = self.take("name")[1]
        return {"name": name, "on": cond, "dirs": self.directives(),
                "sel": self.selection_set(), "line": line, "col": col}

    def arguments(self):
        self.take("punct", "(")
        out = {}
        while not self.at("punct", ")"):
            name = self.take("name")[1]
            self.take("punct", ":")
            out[name] = self.value()
        if not out:
            self.fail()
        self.take("punct", ")")
        return out

    def value(self, const=False):
        kind, text, pos = self.toks[self.i]
        if kind == "punct" and text == "$" and not const:
            self.i += 1
            return ("var", self.take("name")[1])
        if kind == "number":
            self.i += 1
            return ("lit", float(text) if re.search(r"[.eE]", text) else int(text))
        if kind == "string":
            self.i += 1
            return ("lit", json.loads(text))
        if kind == "block":
            self.i += 1
            return ("lit", _block_string(text[3:-3]))
        if kind == "name":
            self.i += 1
            return ("lit", {"true": True, "false": False, "null": None}[text]) \
                if text in ("true", "false", "null") else ("enum", text)
        if kind == "punct" and text == "[":
            self.i += 1
            items = []
            while not self.at("punct", "]"):
                items.append(self.value(const))
            self.take("punct", "]")
            return ("list", items)
        if kind == "punct" and text == "{":
            self.i += 1
            fields = {}
            while not self.at("punct", "}"):
                name = self.take("name")[1]
                self.take("punct", ":")
                fields[name] = self.value(const)
            self.take("punct", "}")
            return ("obj", fields)
        self.fail()


def _block_string(raw):
    lines = raw.replace('\\"""', '"""').splitlines()
    indent = min((len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip()), default=0)
    lines = lines[:1] + [ln[indent:] for ln in lines[1:]]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _value(v, variables):
    if v is None:
        return None
    kind, x = v
    if kind in ("lit", "enum"):
        return x
    if kind == "var":
        return variables.get(x)
    if kind == "list":
        return [_value(i, variables) for i in x]
    return {k: _value(i, variables) for k, i in x.items()}


def _vars_in(v, out):
    if v is None:
        return
    kind, x = v
    if kind == "var":
        out.add(x)
    elif kind == "list":
        for i in x:
            _vars_in(i, out)
    elif kind == "obj":
        for i in x.values():
            _vars_in(i, out)


def _included(node, variables):
    for d in node.get("dirs") or ():
        if d["name"] in ("skip", "include"):
            cond = _value(d["args"].get("if"), variables)
            if (d["name"] == "skip") == bool(cond):
                return False
    return True


def _pick_operation(doc, name):
    ops = doc["ops"]
    if name:
        for op in ops:
            if op["name"] == name:
                break
        else:
            raise _GQLError(f'No operation named "{name}"')
    elif len(ops) > 1:
        raise _GQLError("An operation name is required")
    else:
        op = ops[0]
    if op["type"] not in ("query", "mutation"):
        raise _GQLError(f"The fake does not serve {op['type']} operations", op["line"],
                        op["col"], code="FAKE_UNSUPPORTED")
    return op


TYPE_OF_JSON = {"Int": lambda v: isinstance(v, int) and not isinstance(v, bool),
                "String": lambda v: isinstance(v, str), "ID": lambda v: isinstance(v, str),
                "Boolean": lambda v: isinstance(v, bool),
                "Money": lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool)}


def _check_input(obj, tname, fields, path):
    """An input object: only its fields, the required ones (type ending in !) present, scalars
    of their type. A top-level error (as graphql-ruby gives) otherwise."""
    where = ".".join(str(p) for p in path)
    if not isinstance(obj, dict):
        raise _GQLError(f"Argument '{where}' has an invalid value. Expected type '{tname}!'.",
                        code="argumentLiteralsIncompatible")
    for k in obj:
        if k not in fields:
            raise _GQLError(f"InputObject '{tname}' doesn't accept argument '{k}'",
                            code="argumentNotAccepted",
                            extensions={"name": k, "typeName": "InputObject",
                                        "argumentName": k})
    for k, t in fields.items():
        if t.endswith("!") and obj.get(k) is None:
            raise _GQLError(f"Argument '{k}' on InputObject '{tname}' is required. Expected "
                            f"type {t}", code="missingRequiredInputObjectAttribute",
                            extensions={"argumentName": k, "argumentType": t,
                                        "inputObjectType": tname})
        base = t.rstrip("!")
        if obj.get(k) is None:
            continue
        if base.startswith("["):
            if not isinstance(obj[k], list):
                raise _GQLError(f"Argument '{k}' on InputObject '{tname}' has an invalid "
                                f"value ({json.dumps(obj[k])}). Expected type '{t}'.",
                                code="argumentLiteralsIncompatible")
        elif base in TYPE_OF_JSON and not TYPE_OF_JSON[base](obj[k]):
            raise _GQLError(f"Argument '{k}' on InputObject '{tname}' has an invalid value "
                            f"({json.dumps(obj[k])}). Expected type '{t}'.",
                            code="argumentLiteralsIncompatible")


class _Ctx:
    def __init__(self, fake, version, token, variables):
        self.fake, self.version, self.token, self.vars = fake, version, token, variables
        self.errors, self.actual, self.in_mut = [], 0, False


class _Analysis:
    """Validation of one operation against SCHEMA and its requested cost: objects 1, scalars
    0, connections 2 + first x (the node's cost), mutation fields 10 ([U] an approximation of
    Shopify's calculated cost)."""

    def __init__(self, fake, doc, op, variables):
        self.fake, self.doc, self.op, self.given = fake, doc, op, variables
        self.errors, self.vars, self.used_frags, self.used_vars = [], {}, set(), set()

    def err(self, message, node=None, code=None, path=None, **ext):
        e = _GQLError(message, node["line"] if node else 0, node["col"] if node else 0,
                      code=code, path=path, extensions=ext)
        self.errors.append(e.as_dict())

    def root_fields(self):
        out = []

        def walk(sel, seen):
            for n in sel:
                if n["kind"] == "field":
                    out.append(n["name"])
                elif n["kind"] == "inline":
                    walk(n["sel"], seen)
                elif n["name"] in self.doc["fragments"] and n["name"] not in seen:
                    walk(self.doc["fragments"][n["name"]]["sel"], seen | {n["name"]})
        walk(self.op["sel"], frozenset())
        return out

    def run(self):
        opname = self.op["name"] or "anonymous " + self.op["type"]
        for d in self.op["vars"]:
            if d["name"] in self.given:
                self.vars[d["name"]] = self.given[d["name"]]
            elif "default" in d:
                self.vars[d["name"]] = _value(d["default"], {})
            elif d["type"].endswith("!"):
                self.err(f"Variable ${d['name']} of type {d['type']} was provided invalid "
                         "value", d, code="INVALID_VARIABLE")
            else:
                self.vars[d["name"]] = None
        for d in self.op["dirs"]:
            if d["name"] == "idempotent":
                # [U] the directive belongs on the mutation field, not the operation.
                self.err("'@idempotent' can't be applied to mutations (allowed: fields)", d,
                         code="directiveCannotBeApplied")
            else:
                self.err(f"Directive @{d['name']} is not defined", d, code="undefinedDirective")
        root = "Mutation" if self.op["type"] == "mutation" else "QueryRoot"
        cost = self.selection(self.op["sel"], root, [self.op["type"]], ())
        declared = {d["name"] for d in self.op["vars"]}
        for v in sorted(self.used_vars - declared):
            self.err(f"Variable ${v} is used by {opname} but not declared",
                     code="variableNotDefined")
        for v in sorted(declared - self.used_vars):
            self.err(f"Variable ${v} is declared by {opname} but not used",
                     code="variableNotUsed")
        for f in sorted(set(self.doc["fragments"]) - self.used_frags):
            self.err(f"Fragment {f} was defined, but not used", self.doc["fragments"][f],
                     code="useAndDefineFragment")
        return cost

    def directives(self, node, field_name=None):
        for d in node.get("dirs") or ():
            for v in d["args"].values():
                _vars_in(v, self.used_vars)
            if d["name"] in ("skip", "include"):
                if "if" not in d["args"]:
                    self.err(f"Directive '@{d['name']}' is missing required arguments: if", d,
                             code="missingRequiredArguments")
            elif d["name"] == "idempotent":
                if field_name not in IDEMPOTENT_FIELDS:
                    # [U] Shopify accepts it on the inventory and refund mutations only.
                    self.err(f"'@idempotent' is not supported on field "
                             f"'{field_name or 'fragment'}'", d,
                             code="directiveCannotBeApplied")
                elif "key" not in d["args"]:
                    self.err("Directive '@idempotent' is missing required arguments: key", d,
                             code="missingRequiredArguments")
            else:
                self.err(f"Directive @{d['name']} is not defined", d, code="undefinedDirective")
        return _included(node, self.vars)

    def fragment_target(self, cond, tname, node):
        if cond is None:
            return tname
        if cond != "Node" and cond not in SCHEMA:
            self.err(f"No such type {cond}, so it can't be a fragment condition", node,
                     code="undefinedType")
            return None
        if cond == tname or (cond == "Node" and tname in NODE_TYPES):
            return tname
        if tname == "Node" and cond in NODE_TYPES:
            return cond
        self.err(f"Fragment on {cond} can't be spread inside {tname}", node,
                 code="cannotSpreadFragment")
        return None

    def selection(self, sel, tname, path, frag_stack):
        cost = 0
        for node in sel:
            if node["kind"] == "field":
                if not self.directives(node, node["name"]):
                    continue
                cost += self.field(node, tname, path)
                continue
            if not self.directives(node):
                continue
            if node["kind"] == "inline":
                target, sub = self.fragment_target(node["on"], tname, node), node["sel"]
            else:
                frag = self.doc["fragments"].get(node["name"])
                if frag is None:
                    self.err(f"Fragment {node['name']} was used, but not defined", node,
                             code="useAndDefineFragment")
                    continue
                self.used_frags.add(node["name"])
                if node["name"] in frag_stack:
                    self.err(f"Fragment {node['name']} contains an infinite loop", node,
                             code="infiniteLoop")
                    continue
                frag_stack = frag_stack + (node["name"],)
                self.directives(frag)
                target, sub = self.fragment_target(frag["on"], tname, frag), frag["sel"]
            if target is not None:
                cost += self.selection(sub, target, path, frag_stack)
        return cost

    def field(self, node, tname, path):
        name = node["name"]
        key = node["alias"] or name
        for v in node["args"].values():
            _vars_in(v, self.used_vars)
        if name == "__typename":
            return 0
        fd = SCHEMA.get(tname, {}).get(name)
        if fd is None:
            self.err(f"Field '{name}' doesn't exist on type '{tname}'", node,
                     code="undefinedField", path=path + [key], typeName=tname, fieldName=name)
            return 0
        for a in node["args"]:
            if a not in fd.args:
                self.err(f"Field '{name}' doesn't accept argument '{a}'", node,
                         code="argumentNotAccepted", path=path + [key], name=name,
                         typeName="Field", argumentName=a)
        for r in fd.required:
            if r not in node["args"]:
                self.err(f"Field '{name}' is missing required arguments: {r}", node,
                         code="missingRequiredArguments", path=path + [key],
                         className="Field", name=name, arguments=r)
        if fd.kind in ("s", "ls"):
            if node["sel"]:
                names = ", ".join(n.get("name", "...") for n in node["sel"])
                self.err(f"Selections can't be made on scalars (field '{name}' returns "
                         f"{fd.type} but has selections [{names}])",
                         node, code="selectionMismatch", path=path + [key])
            return 0
        if not node["sel"]:
            self.err(f"Field must have selections (field '{name}' returns {fd.type} but has no "
                     f"selections. Did you mean '{name} {{ ... }}'?)", node,
                     code="selectionMismatch", path=path + [key])
            return 0
        if fd.kind == "c":
            args = {k: _value(v, self.vars) for k, v in node["args"].items()}
            first, last = args.get("first"), args.get("last")
            if first is None and last is None:
                self.err("you must provide one of first or last", node,
                         code="argumentLiteralsIncompatible", path=path + [key])
                return 0
            n = first if first is not None else last
            if not isinstance(n, int) or n < 0 or n > 250:
                self.err(f"The {'first' if first is not None else 'last'} argument must be "
                         "between 0 and 250", node, code="argumentLiteralsIncompatible",
                         path=path + [key])       # [U] text
                return 0
            inner = self.selection(node["sel"], fd.type + "Connection", path + [key], ())
            return 2 + n * inner
        inner = self.selection(node["sel"], fd.type, path + [key], ())
        if fd.mutation:
            return 10
        own = (0 if fd.type in NO_COST else 1) + inner
        if name == "nodes":
            ids = _value(node["args"].get("ids"), self.vars)
            return own * (len(ids) if isinstance(ids, list) else 1)
        return own


class _F:
    """A field: kind s (scalar), ls (list of scalars), o (object), l (list of objects),
    c (connection of objects); its type; resolve(fake, parent, args, ctx, node)."""
    __slots__ = ("kind", "type", "resolve", "args", "required", "scope", "mutation")

    def __init__(self, kind, type_, resolve, args=(), required=(), scope=None, mutation=False):
        self.kind, self.type, self.resolve = kind, type_, resolve
        self.args, self.required = set(args) | set(required), tuple(required)
        self.scope, self.mutation = scope, mutation


CONN_ARGS = ("first", "last", "after", "before", "reverse", "query", "sortKey")
IDEMPOTENT_FIELDS = {"inventorySetQuantities", "inventoryAdjustQuantities"}
NODE_TYPES = {"Product", "ProductVariant", "InventoryItem", "InventoryLevel", "Location",
              "Shop"}


def _s(fn, type_="String"):
    return _F("s", type_, lambda fk, o, a, c, n: fn(fk, o))


def _level_of(fk, obj, a, key_index):
    other = fk._typed(a[key_index], "Location" if key_index == "locationId" else "InventoryItem",
                      fk.locations if key_index == "locationId" else fk.items)
    if other is None:
        return None
    key = (obj["id"], other["id"]) if key_index == "locationId" else (other["id"], obj["id"])
    return fk.levels.get(key)


def _quantities(fk, lv, a, c, n):
    out = []
    for name in a["names"] if isinstance(a["names"], list) else [a["names"]]:
        if name not in QUANTITY_NAMES:
            raise _GQLError(f"'{name}' is not a valid quantity name", code="BAD_REQUEST")  # [U]
        out.append({"name": name, "quantity": fk._quantity(lv, name),
                    "updated_at": lv["updated_at"], "lv": lv})
    return out


def _userr(type_name):
    return {"field": _F("ls", "String", lambda fk, o, a, c, n: o["field"]),
            "message": _F("s", "String", lambda fk, o, a, c, n: o["message"]),
            "code": _F("s", type_name + "Code", lambda fk, o, a, c, n: o.get("code"))}


SCHEMA = {
    "QueryRoot": {
        "shop": _F("o", "Shop", lambda fk, o, a, c, n: {}),
        "productVariants": _F("c", "ProductVariant",
                              lambda fk, o, a, c, n: fk._variants_matching(a.get("query")),
                              CONN_ARGS, scope="read_products"),
        "productVariant": _F("o", "ProductVariant", lambda fk, o, a, c, n: fk._typed(
            a["id"], "ProductVariant", fk.variants), required=("id",), scope="read_products"),
        "products": _F("c", "Product",
                       lambda fk, o, a, c, n: fk._products_matching(a.get("query")),
                       CONN_ARGS, scope="read_products"),
        "product": _F("o", "Product", lambda fk, o, a, c, n: fk._typed(
            a["id"], "Product", fk.products), required=("id",), scope="read_products"),
        "inventoryItems": _F("c", "InventoryItem",
                             lambda fk, o, a, c, n: fk._items_matching(a.get("query")),
                             CONN_ARGS, scope="read_inventory"),
        "inventoryItem": _F("o", "InventoryItem", lambda fk, o, a, c, n: fk._typed(
            a["id"], "InventoryItem", fk.items), required=("id",), scope="read_inventory"),
        "inventoryLevel": _F("o", "InventoryLevel", lambda fk, o, a, c, n: (
            fk._node(a["id"]) or (None, None))[1] if (parse_gid(a["id"]) or ("",))[0] ==
            "InventoryLevel" else None, required=("id",), scope="read_inventory"),
        "locations": _F("c", "Location", lambda fk, o, a, c, n: [
            loc for _, loc in sorted(fk.locations.items())
            if loc["active"] or a.get("includeInactive")],
            CONN_ARGS + ("includeInactive", "includeLegacy"), scope="read_locations"),
        "location": _F("o", "Location", lambda fk, o, a, c, n: fk._typed(
            a["id"], "Location", fk.locations) if a.get("id") is not None else
            next(iter(sorted(fk.locations.items())), (None, None))[1], ("id",),
            scope="read_locations"),
        "node": _F("o", "Node", lambda fk, o, a, c, n: fk._node(a["id"]), required=("id",)),
        "nodes": _F("l", "Node", lambda fk, o, a, c, n: [fk._node(i) for i in a["ids"]],
                    required=("ids",)),
    },
    "Mutation": {
        "inventorySetQuantities": _F("o", "InventorySetQuantitiesPayload",
                                     lambda fk, o, a, c, n: fk._m_set_quantities(o, a, c, n),
                                     required=("input",), scope="write_inventory",
                                     mutation=True),
        "inventoryAdjustQuantities": _F("o", "InventoryAdjustQuantitiesPayload",
                                        lambda fk, o, a, c, n: fk._m_adjust_quantities(o, a, c, n),
                                        required=("input",), scope="write_inventory",
                                        mutation=True),
        "inventoryActivate": _F("o", "InventoryActivatePayload",
                                lambda fk, o, a, c, n: fk._m_activate(o, a, c, n),
                                ("available", "onHand"),
                                required=("inventoryItemId", "locationId"),
                                scope="write_inventory", mutation=True),
        "productVariantsBulkUpdate": _F("o", "ProductVariantsBulkUpdatePayload",
                                        lambda fk, o, a, c, n: fk._m_variants_bulk_update(
                                            o, a, c, n), ("allowPartialUpdates", "media"),
                                        required=("productId", "variants"),
                                        scope="write_products", mutation=True),
    },
    "Node": {"id": _F("s", "ID", lambda fk, o, a, c, n: None)},
    "Shop": {
        "id": _s(lambda fk, o: "gid://shopify/Shop/1", "ID"),
        "name": _s(lambda fk, o: "Omnibus Test"),
        "myshopifyDomain": _s(lambda fk, o: fk.shop),
        "currencyCode": _s(lambda fk, o: fk.currency, "CurrencyCode"),
        "ianaTimezone": _s(lambda fk, o: "Europe/Warsaw"),
    },
    "Product": {
        "id": _s(lambda fk, p: gid("Product", p["id"]), "ID"),
        "legacyResourceId": _s(lambda fk, p: str(p["id"]), "UnsignedInt64"),
        "title": _s(lambda fk, p: p["title"]),
        "handle": _s(lambda fk, p: p["handle"]),
        "vendor": _s(lambda fk, p: p["vendor"]),
        "productType": _s(lambda fk, p: p["product_type"]),
        "status": _s(lambda fk, p: p["status"].upper(), "ProductStatus"),
        "createdAt": _s(lambda fk, p: iso_utc(p["created_at"]), "DateTime"),
        "updatedAt": _s(lambda fk, p: iso_utc(p["updated_at"]), "DateTime"),
        "totalInventory": _s(lambda fk, p: sum(fk._total_available(
            fk.variants[v]["inventory_item_id"]) for v in p["variant_ids"]), "Int"),
        "variants": _F("c", "ProductVariant", lambda fk, p, a, c, n: [
            fk.variants[v] for v in sorted(p["variant_ids"])], CONN_ARGS),
    },
    "ProductVariant": {
        "id": _s(lambda fk, v: gid("ProductVariant", v["id"]), "ID"),
        "legacyResourceId": _s(lambda fk, v: str(v["id"]), "UnsignedInt64"),
        "sku": _s(lambda fk, v: v["sku"]),
        "title": _s(lambda fk, v: v["title"]),
        "displayName": _s(lambda fk, v: f"{fk.products[v['product_id']]['title']} - "
                                        f"{v['title']}"),
        "price": _s(lambda fk, v: v["price"], "Money"),
        "compareAtPrice": _s(lambda fk, v: v["compare_at_price"], "Money"),
        "barcode": _s(lambda fk, v: v["barcode"]),
        "position": _s(lambda fk, v: v["position"], "Int"),
        "inventoryQuantity": _s(lambda fk, v: fk._total_available(v["inventory_item_id"]),
                                "Int"),
        "createdAt": _s(lambda fk, v: iso_utc(v["created_at"]), "DateTime"),
        "updatedAt": _s(lambda fk, v: iso_utc(v["updated_at"]), "DateTime"),
        "product": _F("o", "Product", lambda fk, v, a, c, n: fk.products[v["product_id"]]),
        "inventoryItem": _F("o", "InventoryItem",
                            lambda fk, v, a, c, n: fk.items[v["inventory_item_id"]]),
    },
    "InventoryItem": {
        "id": _s(lambda fk, i: gid("InventoryItem", i["id"]), "ID"),
        "legacyResourceId": _s(lambda fk, i: str(i["id"]), "UnsignedInt64"),
        "sku": _s(lambda fk, i: fk.variants[i["variant_id"]]["sku"]),
        "tracked": _s(lambda fk, i: i["tracked"], "Boolean"),
        "requiresShipping": _s(lambda fk, i: i["requires_shipping"], "Boolean"),
        "createdAt": _s(lambda fk, i: iso_utc(i["created_at"]), "DateTime"),
        "updatedAt": _s(lambda fk, i: iso_utc(i["updated_at"]), "DateTime"),
        "variant": _F("o", "ProductVariant", lambda fk, i, a, c, n: fk.variants[i["variant_id"]]),
        "inventoryLevels": _F("c", "InventoryLevel",
                              lambda fk, i, a, c, n: fk._levels_of(item_id=i["id"]), CONN_ARGS,
                              scope="read_inventory"),
        "inventoryLevel": _F("o", "InventoryLevel",
                             lambda fk, i, a, c, n: _level_of(fk, i, a, "locationId"),
                             required=("locationId",), scope="read_inventory"),
    },
    "InventoryLevel": {
        "id": _s(lambda fk, lv: level_gid(lv["inventory_item_id"], lv["location_id"]), "ID"),
        "createdAt": _s(lambda fk, lv: iso_utc(lv["created_at"]), "DateTime"),
        "updatedAt": _s(lambda fk, lv: iso_utc(lv["updated_at"]), "DateTime"),
        "isActive": _s(lambda fk, lv: True, "Boolean"),
        "canDeactivate": _s(lambda fk, lv: True, "Boolean"),
        "item": _F("o", "InventoryItem", lambda fk, lv, a, c, n: fk.items[lv["inventory_item_id"]]),
        "location": _F("o", "Location", lambda fk, lv, a, c, n: fk.locations[lv["location_id"]]),
        "quantities": _F("l", "InventoryQuantity", _quantities, required=("names",)),
    },
    "InventoryQuantity": {
        "id": _s(lambda fk, q: f"gid://shopify/InventoryQuantity/{q['lv']['location_id']}?"
                               f"inventory_item_id={q['lv']['inventory_item_id']}&name="
                               f"{q['name']}", "ID"),
        "name": _s(lambda fk, q: q["name"]),
        "quantity": _s(lambda fk, q: q["quantity"], "Int"),
        "updatedAt": _s(lambda fk, q: iso_utc(q["updated_at"]), "DateTime"),
    },
    "Location": {
        "id": _s(lambda fk, loc: gid("Location", loc["id"]), "ID"),
        "legacyResourceId": _s(lambda fk, loc: str(loc["id"]), "UnsignedInt64"),
        "name": _s(lambda fk, loc: loc["name"]),
        "isActive": _s(lambda fk, loc: loc["active"], "Boolean"),
        "fulfillsOnlineOrders": _s(lambda fk, loc: True, "Boolean"),
        "inventoryLevel": _F("o", "InventoryLevel",
                             lambda fk, loc, a, c, n: _level_of(fk, loc, a, "inventoryItemId"),
                             required=("inventoryItemId",), scope="read_inventory"),
        "inventoryLevels": _F("c", "InventoryLevel",
                              lambda fk, loc, a, c, n: fk._levels_of(loc_id=loc["id"]),
                              CONN_ARGS, scope="read_inventory"),
    },
    "InventoryAdjustmentGroup": {
        "id": _s(lambda fk, g: g["id"], "ID"),
        "createdAt": _s(lambda fk, g: iso_utc(g["created_at"]), "DateTime"),
        "reason": _s(lambda fk, g: g["reason"]),
        "referenceDocumentUri": _s(lambda fk, g: g["uri"], "URL"),
        "changes": _F("l", "InventoryChange", lambda fk, g, a, c, n: [
            ch for ch in g["changes"]
            if (a.get("quantityNames") is None or ch["name"] in a["quantityNames"])
            and (a.get("inventoryItemIds") is None
                 or gid("InventoryItem", ch["item"]) in a["inventoryItemIds"])
            and (a.get("locationIds") is None
                 or gid("Location", ch["loc"]) in a["locationIds"])],
            ("quantityNames", "inventoryItemIds", "locationIds")),
    },
    "InventoryChange": {
        "name": _s(lambda fk, ch: ch["name"]),
        "delta": _s(lambda fk, ch: ch["delta"], "Int"),
        "quantityAfterChange": _s(lambda fk, ch: ch["after"], "Int"),
        "ledgerDocumentUri": _s(lambda fk, ch: ch["ledger"], "URL"),
        "item": _F("o", "InventoryItem", lambda fk, ch, a, c, n: fk.items.get(ch["item"])),
        "location": _F("o", "Location", lambda fk, ch, a, c, n: fk.locations.get(ch["loc"])),
    },
    "InventorySetQuantitiesPayload": {
        "inventoryAdjustmentGroup": _F("o", "InventoryAdjustmentGroup",
                                       lambda fk, p, a, c, n: p["inventoryAdjustmentGroup"]),
        "userErrors": _F("l", "InventorySetQuantitiesUserError",
                         lambda fk, p, a, c, n: p["userErrors"]),
    },
    "InventoryAdjustQuantitiesPayload": {
        "inventoryAdjustmentGroup": _F("o", "InventoryAdjustmentGroup",
                                       lambda fk, p, a, c, n: p["inventoryAdjustmentGroup"]),
        "userErrors": _F("l", "InventoryAdjustQuantitiesUserError",
                         lambda fk, p, a, c, n: p["userErrors"]),
    },
    "InventoryActivatePayload": {
        "inventoryLevel": _F("o", "InventoryLevel", lambda fk, p, a, c, n: p["inventoryLevel"]),
        "userErrors": _F("l", "UserError", lambda fk, p, a, c, n: p["userErrors"]),
    },
    "ProductVariantsBulkUpdatePayload": {
        "product": _F("o", "Product", lambda fk, p, a, c, n: p["product"]),
        "productVariants": _F("l", "ProductVariant", lambda fk, p, a, c, n: p["productVariants"]),
        "userErrors": _F("l", "ProductVariantsBulkUpdateUserError",
                         lambda fk, p, a, c, n: p["userErrors"]),
    },
    "InventorySetQuantitiesUserError": _userr("InventorySetQuantitiesUserError"),
    "InventoryAdjustQuantitiesUserError": _userr("InventoryAdjustQuantitiesUserError"),
    "ProductVariantsBulkUpdateUserError": _userr("ProductVariantsBulkUpdateUserError"),
    "UserError": {k: v for k, v in _userr("UserError").items() if k != "code"},
    "PageInfo": {
        "hasNextPage": _F("s", "Boolean", lambda fk, o, a, c, n: o["hasNextPage"]),
        "hasPreviousPage": _F("s", "Boolean", lambda fk, o, a, c, n: o["hasPreviousPage"]),
        "startCursor": _F("s", "String", lambda fk, o, a, c, n: o["startCursor"]),
        "endCursor": _F("s", "String", lambda fk, o, a, c, n: o["endCursor"]),
    },
}
# Connections and their edges for every type listed as a connection somewhere.
for _t in {f.type for fields in list(SCHEMA.values()) for f in fields.values() if f.kind == "c"}:
    SCHEMA[_t + "Connection"] = {
        "edges": _F("l", _t + "Edge", lambda fk, o, a, c, n: o["edges"]),
        "nodes": _F("l", _t, lambda fk, o, a, c, n: o["nodes"]),
        "pageInfo": _F("o", "PageInfo", lambda fk, o, a, c, n: o["pageInfo"]),
    }
    SCHEMA[_t + "Edge"] = {
        "cursor": _F("s", "String", lambda fk, o, a, c, n: o["cursor"]),
        "node": _F("o", _t, lambda fk, o, a, c, n: o["node"]),
    }
# Objects that cost nothing of their own: payloads, errors, edges, page info, quantities.
NO_COST = {t for t in SCHEMA if t.endswith(("Payload", "UserError", "Edge", "Connection"))} | \
    {"UserError", "PageInfo", "InventoryQuantity", "InventoryChange", "Node"}


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description="a fake Shopify Admin API on 127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default=DEFAULT_TOKEN)
    p.add_argument("--bucket", type=int, default=40)
    p.add_argument("--leak", type=float, default=2.0)
    p.add_argument("--page-size", type=int, default=0)
    p.add_argument("--bulk", type=int, default=0, help="seed this many SKUs at two locations")
    a = p.parse_args(argv)
    fake = ShopifyFake(token=a.token, bucket=a.bucket, leak=a.leak)
    if a.page_size:
        fake.set_page_size(a.page_size)
    if a.bulk:
        fake.add_location("WAW01")
        fake.add_location("WH1")
        fake.add_bulk(a.bulk)
    fake.start(a.port)
    print(f"shopify fake listening on {fake.url} (token {a.token})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.close()


if __name__ == "__main__":
    main(sys.argv[1:])
