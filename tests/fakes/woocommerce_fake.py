#!/usr/bin/env python3
"""A fake WooCommerce REST API v3 for the woocommerce connector's tests (python3 stdlib only).

A real HTTP server (ThreadingHTTPServer) on 127.0.0.1, an ephemeral port, that follows
../shared/vendor-apis.md section 2 and, where that page is silent or vague, WooCommerce's own
source (class-wc-rest-authentication.php, the abstract WC_REST_Controller and
WC_REST_CRUD_Controller, the v3 products controller, class-wc-webhook.php). Choices the sources
do not settle are marked [U] where they are made.

Auth (WC_REST_Authentication):
- https=True (the default: the fake is plain HTTP on loopback but plays a shop behind HTTPS):
  HTTP Basic ck_/cs_, or the query parameters consumer_key/consumer_secret, which win over the
  header. https=False: Basic and the query pair are ignored, as WooCommerce ignores them on
  plain HTTP; only OAuth 1.0a works.
- OAuth 1.0a one-legged, in both modes: oauth_consumer_key, oauth_timestamp, oauth_nonce,
  oauth_signature_method (HMAC-SHA1 or HMAC-SHA256), oauth_signature, from the query, a form
  body or an `Authorization: OAuth ...` header; the key is consumer secret + "&"; the base
  string is METHOD&enc(site URL + path)&enc(sorted k=v pairs) of the query (and form) parameters;
  a JSON body is not signed; the timestamp must be within 15 minutes, a nonce is refused when
  used again within 15 minutes.
- Errors as WooCommerce gives them: a wrong secret for a known key is 401
  woocommerce_rest_authentication_error "Consumer secret is invalid."; an unknown OAuth key
  "Consumer key is invalid."; a bad signature "Invalid signature - provided signature does not
  match."; "Invalid timestamp."; "Invalid nonce - nonce has already been used."; some OAuth
  parameters missing woocommerce_rest_authentication_missing_parameter. No credentials (or an
  unknown Basic key, which WooCommerce treats as none) reach the route's permission check: 401
  woocommerce_rest_cannot_view "Sorry, you cannot list resources." on a list,
  "Sorry, you cannot view this resource." on one object, woocommerce_rest_cannot_edit,
  woocommerce_rest_cannot_batch, woocommerce_rest_cannot_create, woocommerce_rest_cannot_delete;
  an object that does not exist is 404/400 "Invalid ID." even then (its permission check only
  runs on objects that exist). A read-only key writing: 401 "The API key provided does not have
  write permissions." No WWW-Authenticate header: WooCommerce's OAuth step, which always runs
  after a failed Basic one, resets the method that header depends on.

Products, variations (/wp-json/wc/v3/products[/{id}|/batch], .../{pid}/variations[/{id}|/batch]):
- money as strings with two decimals [U: WooCommerce stores the string it was given; the fake
  writes the store's two decimals]; `price` read-only (the sale price when on sale);
  stock_status derived when stock is managed (> 0 instock, else onbackorder when backorders are
  allowed, else outofstock), a variable product's from its variations; a variation that does
  not manage stock while its parent does reads manage_stock "parent" with the parent's
  quantity. stock_quantity is only stored when manage_stock is on (WooCommerce drops it, and
  clears the quantity, otherwise: a 200 that changed nothing).
- Lists: page (>= 1), per_page (1-100, default 10; out of range: 400 rest_invalid_param),
  offset, sku= (exact, comma-separated; also finds variations, as WooCommerce's products query
  does), type, status, orderby date|id|modified, order; X-WP-Total, X-WP-TotalPages and one
  Link header `<...>; rel="prev", <...>; rel="next"` carrying the request's own query.
  WooCommerce's controllers send prev and next only, not first/last (vendor-apis.md lists four
  rels; the source has two): a connector must follow next or count to X-WP-TotalPages.
- Single PUT/POST/PATCH: WordPress validates the arguments against the schema (prices must be
  JSON strings, stock_quantity an integer or an integer string, manage_stock a boolean, enums):
  400 rest_invalid_param listing every bad one. A body without Content-Type: application/json
  is not read as JSON by WordPress: the update is a 200 that changed nothing.
- Batch: create/update/delete whose sum is at most 100 (over: 413
  woocommerce_rest_request_entity_too_large "Unable to accept more than 100 items for this
  request."); a failed item is {"id": id (0 for a create), "error": {code, message, data:
  {status}}} inside the 200. Batch items are not schema-validated by WooCommerce (PHP coerces a
  number to a price string); the fake accepts what PHP would coerce and answers an item error
  (rest_invalid_param) for what it could not [U]. A duplicated SKU is product_invalid_sku
  "Invalid or duplicated SKU." (400); an unknown id is woocommerce_rest_product_invalid_id /
  woocommerce_rest_product_variation_invalid_id "Invalid ID." (400 on update, 404 on delete);
  deletes are forced. inventory_delta adds to the stock; stock_quantity is absolute.

Orders (/wp-json/wc/v3/orders[/{id}], GET only): add_order() places one (reducing managed stock,
as WooCommerce does for a paid order) and returns its REST representation: id, status,
currency, totals as strings, line_items [{id, name, product_id, variation_id, quantity, sku,
price (a JSON number, as WooCommerce writes it), subtotal, total, ...}], billing, shipping,
customer_id, date_created(_gmt), date_modified(_gmt). Lists take after/modified_after.

Webhooks (WC_Webhook): send_webhook() POSTs over HTTP/1.0 with the Hookshot user agent,
Content-Type: application/json and X-WC-Webhook-Source (site URL with a trailing slash), -Topic,
-Resource, -Event, -Signature (base64 HMAC-SHA256 of the raw body with the secret), -ID,
-Delivery-ID. The body is encoded as PHP's json_encode does (no spaces, "\\/" for "/", \\uXXXX
for non-ASCII): a receiver must verify the signature over the bytes it got. The delivery id is
WooCommerce's wp_hash(webhook id . time()): two deliveries of one webhook within the same second
share it. Success is a status from 200 to 302; a failure when the webhook has already failed
more than 5 times in a row disables it (so the 7th consecutive failure disables it) and a
disabled webhook sends nothing. add_webhook() saves one and, when it is active, pings it:
form body webhook_id=N, no signature headers; only a 200 is a good ping. With async_webhooks
(default), REST writes of products and variations send product.created/updated/deleted, and
add_order() order.created, from a background thread (WooCommerce's Action Scheduler): a
connector that writes stock receives its own change back. flush_webhooks() waits for them.

Switches a test flips (a Python API in-process, or POST /_fake/<name> with JSON arguments):
fail_next (the next N requests, optionally of one path prefix, get 401, 429 (+Retry-After, as a
host or WAF would send it: WooCommerce core documents no rate limit), 500 (WordPress's
"critical error" JSON), 502/503 (a proxy's HTML; 503 with Retry-After)), hang_next (answer
late), item_error (an error inside the 200 of the next batches for one id), set_page_cap
(answer at most N per page whatever per_page asks, the headers and Link telling the truth, as
a host filter lowering posts_per_page would). Every request is recorded (time, method, path,
route, query, params, headers, body, json, status) for assertions.

Run alone: python3 woocommerce_fake.py [--port N] [--key CK] [--secret CS] [--http]
"""
import base64
import copy
import datetime
import hashlib
import hmac
import http.server
import json
import queue
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
from decimal import Decimal

WC_VERSION = "9.4.2"
WP_VERSION = "6.7.1"
NS = "/wp-json/wc/v3"
DEFAULT_CK = "ck_" + "f" * 8 + "0123456789abcdef0123456789abcdef"
DEFAULT_CS = "cs_" + "e" * 8 + "0123456789abcdef0123456789abcdef"
USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"
OAUTH_WINDOW = 15 * 60
OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature",
                "oauth_signature_method")
MAX_FAILURES = 5          # woocommerce_max_webhook_delivery_failures
TOPIC_RESOURCES = {"coupon", "customer", "order", "product"}
TOPIC_EVENTS = {"created", "updated", "deleted", "restored"}
STOCK_STATUSES = ("instock", "outofstock", "onbackorder")
BACKORDERS = ("no", "notify", "yes")
PRODUCT_TYPES = ("simple", "grouped", "external", "variable")
MONEY_RE = re.compile(r"^\s*-?[0-9]*\.?[0-9]+\s*$")

HTML_ERRORS = {
    429: "<html><head><title>429 Too Many Requests</title></head><body><h1>Too Many Requests"
         "</h1></body></html>",
    502: "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
         "</h1></center><hr><center>nginx</center></body></html>",
    503: "<!DOCTYPE html><html><head><title>Maintenance</title></head><body><h1>Briefly "
         "unavailable for scheduled maintenance. Check back in a minute.</h1></body></html>",
    504: "<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway "
         "Time-out</h1></center><hr><center>nginx</center></body></html>",
}
CRITICAL_ERROR = ("<p>There has been a critical error on this website.</p><p><a href=\"https://"
                  "wordpress.org/documentation/article/faq-troubleshooting/\">Learn more about "
                  "troubleshooting WordPress.</a></p>")


# ---- encoding as PHP does it ----

def php_json(value):
    """Bytes as PHP's json_encode writes them (WordPress's wp_json_encode with no flags):
    no spaces, "/" escaped, non-ASCII as \\uXXXX."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def rfc3986(s):
    """PHP's rawurlencode (and WooCommerce's wc_rest_urlencode_rfc3986)."""
    return urllib.parse.quote(str(s), safe="~")


def wp_error(code, message, status, **data):
    d = {"status": status}
    d.update(data)
    return {"code": code, "message": message, "data": d}


def invalid_params(problems):
    """WordPress's 400 rest_invalid_param for {param: (code, message)}."""
    return wp_error("rest_invalid_param", "Invalid parameter(s): " + ", ".join(problems), 400,
                    params={k: m for k, (_, m) in problems.items()},
                    details={k: {"code": c, "message": m, "data": {"param": k}}
                             for k, (c, m) in problems.items()})


def money(v):
    """A price as the fake stores it: "" or a string with two decimals."""
    if v is None or v == "":
        return ""
    return str(Decimal(str(v).strip()).quantize(Decimal("0.01")))


def parse_query(query):
    """The query string as PHP's $_GET: the last value of a key wins; `a[b]=c` nests."""
    out = {}
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        m = re.match(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$", k)
        if not m:
            out[k] = v
            continue
        node = out.setdefault(m.group(1), {})
        if not isinstance(node, dict):
            node = out[m.group(1)] = {}
        subs = re.findall(r"\[([^\[\]]*)\]", m.group(2))
        for s in subs[:-1]:
            nxt = node.setdefault(s or str(len(node)), {})
            if not isinstance(nxt, dict):
                nxt = node[s] = {}
            node = nxt
        node[subs[-1] or str(len(node))] = v
    return out


# ---- OAuth 1.0a as WooCommerce checks it ----

def _join_with_equals(params, out, key=""):
    for k, v in params.items():
        if key:
            k = key + "%5B" + k + "%5D"
        if isinstance(v, dict):
            _join_with_equals(v, out, k)
        else:
            out.append(rfc3986(f"{k}={v}"))
    return out


def _encode_values(v):
    if isinstance(v, dict):
        return {k: _encode_values(x) for k, x in v.items()}
    return rfc3986(v)


def oauth_base_string(method, url, params):
    """WooCommerce's string to sign: params is the PHP-style dict of the query (and form)
    parameters and the OAuth ones, oauth_signature left out."""
    p = {k: v for k, v in params.items() if k != "oauth_signature"}
    p = {rfc3986(k): _encode_values(p[k]) for k in sorted(p)}
    return method.upper() + "&" + rfc3986(url) + "&" + "%26".join(_join_with_equals(p, []))


def oauth_signature(method, url, params, consumer_secret, signature_method="HMAC-SHA256"):
    algo = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}[signature_method]
    mac = hmac.new((consumer_secret + "&").encode(),
                   oauth_base_string(method, url, params).encode(), algo).digest()
    return base64.b64encode(mac).decode()


def parse_oauth_header(value):
    """WooCommerce's parse_header: the oauth_* parameters of `Authorization: OAuth ...`."""
    if not value.startswith("OAuth "):
        return {}
    out = {}
    for name, _, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))', value):
        out[name] = urllib.parse.unquote_plus(quoted if quoted else bare)
    return out


def webhook_signature(body, secret):
    """X-WC-Webhook-Signature of a raw body (bytes)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WooCommerceFake:
    """The fake. start() serves it; the methods below set it up, flip its switches and read
    what it holds and saw. Thread-safe (one lock)."""

    def __init__(self, consumer_key=DEFAULT_CK, consumer_secret=DEFAULT_CS, https=True,
                 site_url=None, currency="PLN", batch_limit=100, async_webhooks=True):
        self.lock = threading.RLock()
        self.https = https
        self.site_url = site_url
        self.currency = currency
        self.batch_limit = batch_limit
        self.async_webhooks = async_webhooks
        self.keys = {}             # ck -> {"secret", "permissions", "nonces": {nonce: ts}}
        self.add_key(consumer_key, consumer_secret)
        self.objects = {}          # id -> product, variation or order (one id sequence: posts)
        self.next_id = 100
        self.webhooks = {}         # id -> webhook
        self.next_webhook_id = 1
        self.delivery_log = []
        self.requests = []
        self.batches = []
        self.failures = []         # [count, status, retry_after, path prefix, hang seconds]
        self.item_errors = {}      # id -> [code, message, status, times left or None]
        self.page_cap = None
        self.clock = time.time     # replaceable: dates, OAuth windows, delivery ids
        self.salt = secrets.token_hex(16)
        self.webhook_cafile = None
        self.queue = queue.Queue()
        self.worker = None
        self.httpd = None
        self.port = 0

    # ---- serving ----

    def start(self, port=0):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def version_string(self):
                return "Apache"

            def log_message(self, fmt, *args):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                try:
                    status, headers, out = owner.handle(self.command, self.path,
                                                        dict(self.headers.items()), body)
                except Exception:  # a bug of the fake: say so rather than drop the connection
                    status, headers = 500, [("Content-Type", "text/plain")]
                    out = ("fake internal error\n" + traceback.format_exc()).encode()
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def site(self):
        """home_url(): the site's own URL (used in links, OAuth and X-WC-Webhook-Source)."""
        return (self.site_url or self.url).rstrip("/")

    @property
    def api_url(self):
        return self.url + NS

    def close(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.worker:
            self.queue.put(None)
            self.worker.join(timeout=10)
            self.worker = None

    # ---- setting up ----

    def add_key(self, consumer_key, consumer_secret, permissions="read_write"):
        """An API key (permissions read, write or read_write)."""
        with self.lock:
            self.keys[consumer_key] = {"secret": consumer_secret, "permissions": permissions,
                                       "nonces": {}}

    def _new_id(self):
        self.next_id += 1
        return self.next_id

    def _stamp(self):
        return self.clock()

    def add_product(self, sku, regular_price=None, sale_price=None, stock_quantity=None,
                    manage_stock=True, name=None, backorders="no", stock_status="instock"):
        """A simple product; returns its id."""
        with self.lock:
            self._check_sku_free(sku)
            pid = self._new_id()
            t = self._stamp()
            self.objects[pid] = {
                "id": pid, "kind": "product", "type": "simple", "name": name or f"Product {sku}",
                "status": "publish", "sku": sku, "regular_price": money(regular_price),
                "sale_price": money(sale_price), "manage_stock": bool(manage_stock),
                "stock_quantity": (int(stock_quantity or 0) if manage_stock else None),
                "stock_status": stock_status, "backorders": backorders, "variations": [],
                "attributes": [], "created": t, "modified": t}
            return pid

    def add_variable_product(self, sku, name=None, variations=(), manage_stock=False,
                             stock_quantity=None, attribute="Size"):
        """A variable product and its variations (dicts: sku, regular_price, sale_price,
        stock_quantity, manage_stock (default True), option); returns (id, [variation ids])."""
        with self.lock:
            self._check_sku_free(sku)
            pid = self._new_id()
            t = self._stamp()
            options = [v.get("option") or v["sku"].rsplit("-", 1)[-1] for v in variations]
            self.objects[pid] = {
                "id": pid, "kind": "product", "type": "variable", "name": name or f"Product {sku}",
                "status": "publish", "sku": sku, "regular_price": "", "sale_price": "",
                "manage_stock": bool(manage_stock),
                "stock_quantity": int(stock_quantity or 0) if manage_stock else None,
                "stock_status": "instock", "backorders": "no", "variations": [],
                "attributes": [{"id": 0, "name": attribute, "position": 0, "visible": True,
                                "variation": True, "options": options}],
                "created": t, "modified": t}
            vids = [self.add_variation(pid, **v) for v in variations]
            return pid, vids

    def add_variation(self, product_id, sku, regular_price=None, sale_price=None,
                      stock_quantity=None, manage_stock=True, option=None, backorders="no",
                      stock_status="instock"):
        with self.lock:
            parent = self.objects[product_id]
            if parent["type"] != "variable":
                raise ValueError(f"product {product_id} is not variable")
            self._check_sku_free(sku)
            vid = self._new_id()
            t = self._stamp()
            attr = parent["attributes"][0]["name"] if parent["attributes"] else "Size"
            opt = option or sku.rsplit("-", 1)[-1]
            self.objects[vid] = {
                "id": vid, "kind": "variation", "parent_id": product_id, "sku": sku,
                "status": "publish", "regular_price": money(regular_price),
                "sale_price": money(sale_price), "manage_stock": bool(manage_stock),
                "stock_quantity": int(stock_quantity or 0) if manage_stock else None,
                "stock_status": stock_status, "backorders": backorders,
                "attributes": [{"id": 0, "name": attr, "option": opt}],
                "created": t, "modified": t}
            parent["variations"].append(vid)
            if parent["attributes"] and opt not in parent["attributes"][0]["options"]:
                parent["attributes"][0]["options"].append(opt)
            return vid

    def _check_sku_free(self, sku, except_id=None):
        if sku and self._by_sku(sku, except_id) is not None:
            raise ValueError(f"duplicated SKU {sku}")

    def set_stock(self, sku, quantity):
        """Someone changed the stock in wp-admin (no webhook sent)."""
        with self.lock:
            o = self._stock_holder(self._require_sku(sku))
            o["stock_quantity"] = int(quantity)
            o["modified"] = self._stamp()

    def set_price(self, sku, regular_price=None, sale_price=None):
        with self.lock:
            o = self._require_sku(sku)
            if regular_price is not None:
                o["regular_price"] = money(regular_price)
            if sale_price is not None:
                o["sale_price"] = money(sale_price)
            o["modified"] = self._stamp()

    def add_order(self, lines, status="processing", billing=None, shipping=None, customer_id=0,
                  shipping_total="0.00", payment_method="bacs", reduce_stock=True, notify=True):
        """A placed order: lines are (sku, quantity) pairs or dicts {sku, quantity[, price]}.
        Managed stock goes down (WooCommerce reduces it for processing/completed/on-hold
        orders). With notify, order.created goes to the active webhooks of that topic.
        Returns the order's REST representation."""
        with self.lock:
            oid = self._new_id()
            t = self._stamp()
            items, subtotal = [], Decimal("0")
            for i, line in enumerate(lines):
                if not isinstance(line, dict):
                    line = {"sku": line[0], "quantity": line[1]}
                o = self._require_sku(line["sku"])
                qty = int(line["quantity"])
                unit = Decimal(str(line.get("price") or self._price_fields(o)[2] or "0"))
                total = (unit * qty).quantize(Decimal("0.01"))
                subtotal += total
                parent = self.objects[o["parent_id"]] if o["kind"] == "variation" else o
                name = parent["name"] + (" - " + o["attributes"][0]["option"]
                                         if o["kind"] == "variation" else "")
                items.append({
                    "id": oid * 100 + i + 1, "name": name, "product_id": parent["id"],
                    "variation_id": o["id"] if o["kind"] == "variation" else 0,
                    "quantity": qty, "tax_class": "", "subtotal": str(total),
                    "subtotal_tax": "0.00", "total": str(total), "total_tax": "0.00",
                    "taxes": [], "meta_data": [], "sku": o["sku"], "price": float(unit),
                    "image": {"id": "", "src": ""},
                    "parent_name": parent["name"] if o["kind"] == "variation" else None})
                if reduce_stock and status in ("processing", "completed", "on-hold"):
                    h = self._stock_holder(o)
                    if h is not None and h["manage_stock"]:
                        h["stock_quantity"] = (h["stock_quantity"] or 0) - qty
            ship = Decimal(money(shipping_total) or "0")
            billing = dict({"first_name": "Anna", "last_name": "Kowalska", "company": "",
                            "address_1": "ul. Długa 1", "address_2": "", "city": "Gdańsk",
                            "state": "", "postcode": "80-001", "country": "PL",
                            "email": "anna.kowalska@example.pl", "phone": ""}, **(billing or {}))
            shipping = dict({k: v for k, v in billing.items() if k not in ("email",)},
                            **(shipping or {}))
            self.objects[oid] = {
                "id": oid, "kind": "order", "parent_id": 0, "status": status,
                "currency": self.currency, "customer_id": customer_id, "billing": billing,
                "shipping": shipping, "line_items": items, "shipping_total": str(ship),
                "total": str((subtotal + ship).quantize(Decimal("0.01"))),
                "payment_method": payment_method, "order_key": "wc_order_" + secrets.token_hex(6),
                "created": t, "modified": t}
            order = self._order_json(self.objects[oid])
        if notify:
            self._enqueue("order.created", oid)
        return order

    # ---- switches ----

    def fail_next(self, n, status, retry_after=None, path=None):
        """Answer the next n requests (whose path starts with `path`, when given: the full path,
        /wp-json/wc/v3/...) with this status and the body a WordPress site or the proxy in
        front of it gives, with Retry-After when given (503 always has one)."""
        with self.lock:
            self.failures.append([n, status, retry_after, path, 0])

    def hang_next(self, n, seconds, path=None):
        """Answer the next n requests (of `path`) only after `seconds`."""
        with self.lock:
            self.failures.append([n, 0, None, path, seconds])

    def item_error(self, object_id, code="woocommerce_rest_product_not_created",
                   message="Could not save the product.", status=400, times=1):
        """The next `times` batch items (update or delete) of this id fail inside the 200 with
        this error (None: always). [U] the default code is the one WooCommerce's save_object
        gives when saving throws."""
        with self.lock:
            self.item_errors[int(object_id)] = [code, message, status, times]

    def set_page_cap(self, n):
        """At most n objects a page whatever per_page asks (None: no cap); X-WP-Total,
        X-WP-TotalPages and Link follow the pages actually served."""
        with self.lock:
            self.page_cap = n

    def set_webhook_status(self, webhook_id, status):
        """active, paused or disabled, as in wp-admin (re-activating clears the failures [U])."""
        with self.lock:
            w = self.webhooks[int(webhook_id)]
            w["status"] = status
            if status == "active":
                w["failure_count"] = 0

    # ---- reading ----

    def product(self, object_id):
        """The REST representation of a product or variation (as its own endpoint gives it)."""
        with self.lock:
            o = self.objects.get(int(object_id))
            if o is None or o["kind"] == "order":
                return None
            return self._variation_json(o) if o["kind"] == "variation" else self._product_json(o)

    def by_sku(self, sku):
        with self.lock:
            o = self._by_sku(sku)
            return None if o is None else self.product(o["id"])

    def stock(self, sku):
        """stock_quantity as the SKU's own endpoint reads it (a variation managed by its parent:
        the parent's); None when stock is not managed."""
        with self.lock:
            return self._stock_view(self._require_sku(sku))[1]

    def stock_status(self, sku):
        with self.lock:
            return self._stock_view(self._require_sku(sku))[2]

    def price(self, sku):
        """{"regular_price", "sale_price", "price"} of a SKU (strings)."""
        with self.lock:
            reg, sale, price, _ = self._price_fields(self._require_sku(sku))
            return {"regular_price": reg, "sale_price": sale, "price": price}

    def order(self, order_id):
        with self.lock:
            o = self.objects.get(int(order_id))
            return self._order_json(o) if o and o["kind"] == "order" else None

    def seen(self, path=None, method=None, route=None):
        """Recorded requests whose path starts with `path` (query excluded), of `method`, of
        `route` (e.g. "PUT /products/{id}")."""
        with self.lock:
            return [r for r in self.requests
                    if (path is None or r["path"].startswith(path))
                    and (method is None or r["method"] == method)
                    and (route is None or r["route"] == route)]

    def endpoint_counts(self):
        """{route: number of requests}, e.g. {"GET /products": 3, "POST /products/batch": 1}."""
        with self.lock:
            out = {}
            for r in self.requests:
                out[r["route"]] = out.get(r["route"], 0) + 1
            return out

    def batch_sizes(self):
        """Every batch request: {"route", "create", "update", "delete", "total", "status"}."""
        with self.lock:
            return [dict(b) for b in self.batches]

    def webhook(self, webhook_id):
        with self.lock:
            w = self.webhooks.get(int(webhook_id))
            return copy.deepcopy(w) if w else None

    def deliveries(self, webhook_id=None):
        with self.lock:
            return [dict(d) for d in self.delivery_log
                    if webhook_id is None or d["webhook_id"] == int(webhook_id)]

    # ---- the model ----

    def _by_sku(self, sku, except_id=None):
        for o in self.objects.values():
            if o["kind"] != "order" and o.get("sku") == sku and o["id"] != except_id:
                return o
        return None

    def _require_sku(self, sku):
        o = self._by_sku(sku)
        if o is None:
            raise KeyError(f"no product or variation with SKU {sku}")
        return o

    def _stock_holder(self, o):
        """The object whose stock_quantity counts for o (a variation may use its parent's)."""
        if o["kind"] == "variation" and not o["manage_stock"]:
            parent = self.objects[o["parent_id"]]
            return parent if parent["manage_stock"] else None
        return o if o["manage_stock"] else None

    @staticmethod
    def _derived_status(qty, backorders):
        if (qty or 0) > 0:
            return "instock"
        return "onbackorder" if backorders != "no" else "outofstock"

    def _stock_view(self, o):
        """(manage_stock as shown, stock_quantity, stock_status)."""
        if o["kind"] == "variation":
            if o["manage_stock"]:
                return True, o["stock_quantity"], self._derived_status(o["stock_quantity"],
                                                                       o["backorders"])
            parent = self.objects[o["parent_id"]]
            if parent["manage_stock"]:
                return "parent", parent["stock_quantity"], self._derived_status(
                    parent["stock_quantity"], o["backorders"])
            return False, None, o["stock_status"]
        if o["type"] == "variable":
            kids = [self._stock_view(self.objects[v])[2] for v in o["variations"]]
            status = ("instock" if "instock" in kids else
                      "onbackorder" if "onbackorder" in kids else
                      "outofstock" if kids else o["stock_status"])
            return o["manage_stock"], o["stock_quantity"] if o["manage_stock"] else None, status
        if o["manage_stock"]:
            return True, o["stock_quantity"], self._derived_status(o["stock_quantity"],
                                                                   o["backorders"])
        return False, None, o["stock_status"]

    def _price_fields(self, o):
        """(regular_price, sale_price, price, on_sale)."""
        if o["kind"] == "product" and o["type"] == "variable":
            kids = [self._price_fields(self.objects[v]) for v in o["variations"]]
            prices = [Decimal(k[2]) for k in kids if k[2] != ""]
            return "", "", str(min(prices)) if prices else "", any(k[3] for k in kids)
        reg, sale = o["regular_price"], o["sale_price"]
        on_sale = sale != "" and (reg == "" or Decimal(sale) < Decimal(reg))
        return reg, sale, sale if on_sale else reg, on_sale

    @staticmethod
    def _date(ts):
        return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S")

    def _dates(self, o):
        # The site's timezone is UTC [U: a setting of each shop], so the _gmt twins are equal.
        return {"date_created": self._date(o["created"]),
                "date_created_gmt": self._date(o["created"]),
                "date_modified": self._date(o["modified"]),
                "date_modified_gmt": self._date(o["modified"])}

    def _links(self, path, collection):
        return {"self": [{"href": self.site + NS + path}],
                "collection": [{"href": self.site + NS + collection}]}

    def _product_json(self, o):
        if o["kind"] == "variation":
            return self._variation_as_product(o)
        reg, sale, price, on_sale = self._price_fields(o)
        manage, qty, status = self._stock_view(o)
        slug = re.sub(r"[^a-z0-9]+", "-", o["name"].lower()).strip("-")
        d = {"id": o["id"], "name": o["name"], "slug": slug,
             "permalink": f"{self.site}/product/{slug}/"}
        d.update(self._dates(o))
        d.update({
            "type": o["type"], "status": o["status"], "featured": False,
            "catalog_visibility": "visible", "description": "", "short_description": "",
            "sku": o["sku"], "price": price, "regular_price": reg, "sale_price": sale,
            "on_sale": on_sale, "purchasable": price != "", "total_sales": 0,
            "virtual": False, "downloadable": False, "tax_status": "taxable", "tax_class": "",
            "manage_stock": manage, "stock_quantity": qty, "backorders": o["backorders"],
            "backorders_allowed": o["backorders"] != "no",
            "backordered": False, "stock_status": status, "parent_id": 0,
            "attributes": copy.deepcopy(o["attributes"]), "variations": list(o["variations"]),
            "meta_data": [],
            "_links": self._links(f"/products/{o['id']}", "/products")})
        return d

    def _variation_json(self, o):
        """A variation as /products/{pid}/variations/{id} gives it."""
        reg, sale, price, on_sale = self._price_fields(o)
        manage, qty, status = self._stock_view(o)
        pid = o["parent_id"]
        d = {"id": o["id"]}
        d.update(self._dates(o))
        d.update({
            "description": "", "permalink": f"{self.site}/?p={pid}&variation_id={o['id']}",
            "sku": o["sku"], "price": price, "regular_price": reg, "sale_price": sale,
            "on_sale": on_sale, "status": o["status"], "purchasable": price != "",
            "virtual": False, "downloadable": False, "tax_status": "taxable", "tax_class": "",
            "manage_stock": manage, "stock_quantity": qty, "stock_status": status,
            "backorders": o["backorders"], "backorders_allowed": o["backorders"] != "no",
            "backordered": False, "attributes": copy.deepcopy(o["attributes"]),
            "menu_order": 0, "parent_id": pid, "meta_data": [],
            "_links": self._links(f"/products/{pid}/variations/{o['id']}",
                                  f"/products/{pid}/variations")})
        return d

    def _variation_as_product(self, o):
        """A variation as the products endpoint (and a product.* webhook) gives it."""
        parent = self.objects[o["parent_id"]]
        v = self._variation_json(o)
        name = parent["name"] + " - " + o["attributes"][0]["option"]
        d = {"id": o["id"], "name": name,
             "slug": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
             "permalink": v["permalink"]}
        d.update(self._dates(o))
        d.update({k: v[k] for k in ("sku", "price", "regular_price", "sale_price", "on_sale",
                                    "status", "purchasable", "virtual", "downloadable",
                                    "tax_status", "tax_class", "manage_stock", "stock_quantity",
                                    "backorders", "backorders_allowed", "backordered",
                                    "stock_status", "attributes", "meta_data")})
        d.update({"type": "variation", "parent_id": parent["id"], "variations": [],
                  "_links": self._links(f"/products/{o['id']}", "/products")})
        return d

    def _order_json(self, o):
        d = {"id": o["id"], "parent_id": 0, "status": o["status"], "currency": o["currency"],
             "version": WC_VERSION, "prices_include_tax": True}
        d.update(self._dates(o))
        d.update({
            "discount_total": "0.00", "discount_tax": "0.00",
            "shipping_total": o["shipping_total"], "shipping_tax": "0.00", "cart_tax": "0.00",
            "total": o["total"], "total_tax": "0.00", "customer_id": o["customer_id"],
            "order_key": o["order_key"], "billing": dict(o["billing"]),
            "shipping": dict(o["shipping"]), "payment_method": o["payment_method"],
            "payment_method_title": "Direct bank transfer", "transaction_id": "",
            "customer_ip_address": "127.0.0.1", "customer_user_agent": "",
            "created_via": "checkout",
            "customer_note": "", "date_completed": None,
            "date_paid": self._date(o["created"]) if o["status"] in ("processing", "completed")
            else None, "cart_hash": "", "number": str(o["id"]), "meta_data": [],
            "line_items": copy.deepcopy(o["line_items"]), "tax_lines": [],
            "shipping_lines": [{"id": o["id"] * 100 + 99, "method_title": "Flat rate",
                                "method_id": "flat_rate", "instance_id": "1",
                                "total": o["shipping_total"], "total_tax": "0.00", "taxes": [],
                                "meta_data": []}] if Decimal(o["shipping_total"]) else [],
            "fee_lines": [], "coupon_lines": [], "refunds": [], "payment_url": "",
            "is_editable": False, "needs_payment": False, "needs_processing": True,
            "currency_symbol": "zł" if o["currency"] == "PLN" else o["currency"],
            "_links": self._links(f"/orders/{o['id']}", "/orders")})
        return d

    # ---- the API ----

    def handle(self, method, raw_path, headers, body):
        """(status, [(header, value)], body bytes) for one request."""
        url = urllib.parse.urlsplit(raw_path)
        path, query = url.path, url.query
        h = {k.lower(): v for k, v in headers.items()}
        params = parse_query(query)
        rec = {"time": time.monotonic(), "method": method, "path": path, "query": query,
               "params": params, "headers": h, "body": body, "json": None, "status": 0,
               "route": method + " " + (path[len(NS):] if path.startswith(NS) else path)}
        try:
            rec["json"] = json.loads(body) if body else None
        except ValueError:
            pass
        with self.lock:
            self.requests.append(rec)
            if path.startswith("/_fake/"):
                status, answer = self._control(path[len("/_fake/"):], rec["json"] or {})
                rec["status"] = status
                return status, [("Content-Type", "application/json")], \
                    json.dumps(answer).encode()
            injected = self._injected(path)
        if injected and injected[4]:
            time.sleep(injected[4])
        with self.lock:
            if injected and injected[1]:
                status, out_headers, out = self._failure(injected[1], injected[2], method, path)
            else:
                status, out_headers, answer = self._serve(method, path, params, h, body, rec)
                out = php_json(answer)
                out_headers = [("Content-Type", "application/json; charset=UTF-8"),
                               ("X-Robots-Tag", "noindex"),
                               ("Access-Control-Expose-Headers",
                                "X-WP-Total, X-WP-TotalPages, Link")] + out_headers
            rec["status"] = status
            return status, out_headers, out

    def _injected(self, path):
        for f in self.failures:
            if f[0] > 0 and (f[3] is None or path.startswith(f[3])):
                f[0] -= 1
                return list(f)
        return None

    def _failure(self, status, retry_after, method, path):
        headers = []
        if status == 503 and retry_after is None:
            retry_after = 600   # WordPress's maintenance mode sends Retry-After: 600
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        if status == 401:
            err = self._anonymous_error(method, path) or wp_error(
                "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401)
            err["data"]["status"] = 401
            return 401, headers + [("Content-Type", "application/json; charset=UTF-8")], \
                php_json(err)
        if status == 500:
            err = wp_error("internal_server_error", CRITICAL_ERROR, 500)
            err["additional_errors"] = []
            return 500, headers + [("Content-Type", "application/json; charset=UTF-8")], \
                php_json(err)
        html = HTML_ERRORS.get(status, f"<html><body><h1>{status}</h1></body></html>")
        return status, headers + [("Content-Type", "text/html; charset=UTF-8")], html.encode()

    def _route(self, path):
        """(kind, ids) of a path under /wp-json/wc/v3, or None."""
        if not path.startswith(NS):
            return None
        p = path[len(NS):].rstrip("/") or "/"
        for rx, kind in ROUTES:
            m = rx.match(p)
            if m:
                return kind, [int(g) for g in m.groups()]
        return None

    def _serve(self, method, path, params, h, body, rec):
        route = self._route(path)
        if route:
            kind, ids = route
            rec["route"] = method + " " + ROUTE_NAMES[kind]
        # Authentication runs first (rest_authentication_errors, then rest_pre_dispatch).
        key, error = self._authenticate(method, path, params, h, body)
        if error:
            return error["data"]["status"], [], error
        if key is not None:
            need = "read" if method in ("GET", "HEAD") else "write"
            if key["permissions"] not in (need, "read_write"):
                return 401, [], wp_error("woocommerce_rest_authentication_error",
                                         f"The API key provided does not have {need} "
                                         "permissions.", 401)
        if path.rstrip("/") in (NS, "/wp-json/wc/v3"):
            if method in ("GET", "HEAD"):
                return 200, [], {"namespace": "wc/v3", "routes": {
                    "/wc/v3" + ROUTE_NAMES[k].replace("{id}", "(?P<id>[\\d]+)").replace(
                        "{product_id}", "(?P<product_id>[\\d]+)"): {} for k in ROUTE_NAMES}}
        if not route or method not in ROUTE_METHODS[kind]:
            return 404, [], wp_error("rest_no_route",
                                     "No route was found matching the URL and request method.",
                                     404)
        if key is None:
            err = self._anonymous_error(method, path)
            if err:
                return err["data"]["status"], [], err
        data = self._body_params(h, body)
        if data.get("__invalid_json__") and method not in ("GET", "HEAD", "DELETE"):
            return 400, [], wp_error("rest_invalid_json", "Invalid JSON body passed.", 400,
                                     json_error_code=4, json_error_message="Syntax error")
        if kind in ("products", "variations") and method in ("GET", "HEAD"):
            return self._list(kind, ids, params, path)
        if kind == "orders":
            return self._list(kind, ids, params, path)
        if kind in ("products", "variations"):
            return self._create_one(kind, ids, data)
        if kind in ("products_batch", "variations_batch"):
            return self._batch(kind, ids, data, params, rec)
        if kind == "order":
            o = self.objects.get(ids[0])
            if not o or o["kind"] != "order":
                return 404, [], wp_error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.",
                                         404)
            return 200, [], self._order_json(o)
        # product or variation
        obj = self._get_object(kind, ids)
        post_type = "product" if kind == "product" else "product_variation"
        if method in ("GET", "HEAD"):
            if obj is None:
                return 404, [], wp_error(f"woocommerce_rest_{post_type}_invalid_id",
                                         "Invalid ID.", 404)
            return 200, [], self._render(kind, obj)
        if method == "DELETE":
            if obj is None:
                return 404, [], wp_error(f"woocommerce_rest_{post_type}_invalid_id",
                                         "Invalid ID.", 404)
            force = str(params.get("force", "")).lower() in ("1", "true", "yes")
            if kind == "product" and not force:
                obj["status"] = "trash"
                obj["modified"] = self._stamp()
                return 200, [], self._render(kind, obj)
            answer = self._render(kind, obj)
            self._delete(obj)
            return 200, [], answer
        if obj is None:
            return 400, [], wp_error(f"woocommerce_rest_{post_type}_invalid_id", "Invalid ID.",
                                     400)
        problems = self._validate_strict(data, kind)
        if problems:
            return 400, [], invalid_params(problems)
        err = self._update(obj, data, strict=True)
        if err:
            return err["data"]["status"], [], err
        self._enqueue("product.updated", obj["id"])
        return 200, [], self._render(kind, obj)

    def _render(self, kind, o):
        return self._variation_json(o) if kind in ("variation", "variations") \
            else self._product_json(o)

    def _get_object(self, kind, ids):
        o = self.objects.get(ids[-1])
        if o is None or o["kind"] == "order":
            return None
        if kind in ("variation", "variations"):
            if o["kind"] != "variation" or o["parent_id"] != ids[0]:
                return None
        return o

    def _anonymous_error(self, method, path):
        """The permission error of a request without credentials, or None when WooCommerce
        would go on to answer it (an object that does not exist: its 404/400)."""
        route = self._route(path)
        if not route:
            return None
        kind, ids = route
        if method in ("GET", "HEAD"):
            if kind in ("products", "variations", "orders"):
                return wp_error("woocommerce_rest_cannot_view",
                                "Sorry, you cannot list resources.", 401)
            exists = (self.objects.get(ids[-1]) is not None if kind == "order"
                      else self._get_object(kind, ids) is not None)
            return wp_error("woocommerce_rest_cannot_view",
                            "Sorry, you cannot view this resource.", 401) if exists else None
        if kind in ("products_batch", "variations_batch"):
            return wp_error("woocommerce_rest_cannot_batch",
                            "Sorry, you are not allowed to batch manipulate this resource.", 401)
        if kind in ("products", "variations"):
            return wp_error("woocommerce_rest_cannot_create",
                            "Sorry, you are not allowed to create resources.", 401)
        if kind in ("product", "variation") and self._get_object(kind, ids) is not None:
            if method == "DELETE":
                return wp_error("woocommerce_rest_cannot_delete",
                                "Sorry, you are not allowed to delete this resource.", 401)
            return wp_error("woocommerce_rest_cannot_edit",
                            "Sorry, you are not allowed to edit this resource.", 401)
        return None

    def _authenticate(self, method, path, params, h, body):
        """(key or None, error or None), as WC_REST_Authentication decides."""
        if self.https:
            ck = cs = None
            if params.get("consumer_key") and params.get("consumer_secret"):
                ck, cs = params["consumer_key"], params["consumer_secret"]
            else:
                auth = h.get("authorization", "")
                if auth[:6].lower() == "basic ":
                    try:
                        user, _, pw = base64.b64decode(auth[6:].strip()).decode().partition(":")
                    except (ValueError, UnicodeDecodeError):
                        user, pw = "", ""
                    if user and pw:
                        ck, cs = user, pw
            if ck and cs and isinstance(ck, str) and isinstance(cs, str):
                key = self.keys.get(ck)
                if key is not None:
                    if hmac.compare_digest(key["secret"].encode(), cs.encode()):
                        return key, None
                    # The error stays; OAuth then finds no parameters and changes nothing.
                    err = wp_error("woocommerce_rest_authentication_error",
                                   "Consumer secret is invalid.", 401)
                    key2, err2 = self._oauth(method, path, params, h, body)
                    return (None, err2 or err) if key2 is None else (key2, None)
        return self._oauth(method, path, params, h, body)

    def _oauth(self, method, path, params, h, body):
        p = {k: v for k, v in params.items()}
        if h.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            p.update(parse_query(body.decode("utf-8", "replace")))
        p.update(parse_oauth_header(h.get("authorization", "").strip()))
        missing = [n for n in OAUTH_PARAMS if not p.get(n)]
        if len(missing) == len(OAUTH_PARAMS):
            return None, None
        if missing:
            word = "parameter" if len(missing) == 1 else "parameters"
            return None, wp_error("woocommerce_rest_authentication_missing_parameter",
                                  f"Missing OAuth {word} " + ", ".join(missing), 401)
        key = self.keys.get(p["oauth_consumer_key"])
        if key is None:
            return None, wp_error("woocommerce_rest_authentication_error",
                                  "Consumer key is invalid.", 401)
        sig_method = p["oauth_signature_method"]
        if sig_method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return None, wp_error("woocommerce_rest_authentication_error",
                                  "Invalid signature - signature method is invalid.", 401)
        given = urllib.parse.unquote(str(p["oauth_signature"]).replace(" ", "+"))
        base_url = ("https" if self.https else "http") + self.site[self.site.index(":"):] + path
        expected = oauth_signature(method, base_url, p, key["secret"], sig_method)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return None, wp_error("woocommerce_rest_authentication_error",
                                  "Invalid signature - provided signature does not match.", 401)
        now = self.clock()
        try:
            ts = int(p["oauth_timestamp"])
        except (TypeError, ValueError):
            ts = None
        if ts is None or ts < now - OAUTH_WINDOW or ts > now + OAUTH_WINDOW:
            return None, wp_error("woocommerce_rest_authentication_error", "Invalid timestamp.",
                                  401)
        nonces = key["nonces"]
        for n, t in list(nonces.items()):
            if t < now - OAUTH_WINDOW:
                del nonces[n]
        if p["oauth_nonce"] in nonces:
            return None, wp_error("woocommerce_rest_authentication_error",
                                  "Invalid nonce - nonce has already been used.", 401)
        nonces[p["oauth_nonce"]] = ts
        return key, None

    @staticmethod
    def _body_params(h, body):
        """The body as WordPress reads it: JSON only with a JSON content type."""
        ctype = h.get("content-type", "")
        if ctype.startswith("application/json"):
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                return {"__invalid_json__": True}
            return data if isinstance(data, dict) else {}
        if ctype.startswith("application/x-www-form-urlencoded"):
            return parse_query(body.decode("utf-8", "replace"))
        return {}

    # ---- lists ----

    def _list(self, kind, ids, params, path):
        problems = {}
        page = self._int_param(params, "page", 1, 1, None, problems)
        per_page = self._int_param(params, "per_page", 10, 1, 100, problems)
        offset = self._int_param(params, "offset", None, None, None, problems)
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            problems["order"] = ("rest_not_in_enum", "order is not one of asc and desc.")
        orderby = params.get("orderby", "date")
        allowed = ["date", "id", "include", "title", "slug", "modified"]
        if orderby not in allowed:
            problems["orderby"] = ("rest_not_in_enum", "orderby is not one of " +
                                   ", ".join(allowed[:-1]) + ", and " + allowed[-1] + ".")
        if problems:
            return 400, [], invalid_params(problems)
        if kind == "products":
            if params.get("sku"):
                skus = str(params["sku"]).split(",")
                if len(skus) > 1:
                    skus.append(params["sku"])
                objs = [o for o in self.objects.values()
                        if o["kind"] in ("product", "variation") and o["sku"] in skus]
            else:
                objs = [o for o in self.objects.values() if o["kind"] == "product"]
            if params.get("type"):
                objs = [o for o in objs if o["kind"] == "product" and o["type"] == params["type"]]
            status = params.get("status", "any")
            objs = [o for o in objs if (status == "any" and o["status"] != "trash")
                    or o["status"] == status]
            render = self._product_json
        elif kind == "variations":
            parent = self.objects.get(ids[0])
            objs = [self.objects[v] for v in parent["variations"]] \
                if parent and parent["kind"] == "product" else []
            if params.get("sku"):
                objs = [o for o in objs if o["sku"] in str(params["sku"]).split(",")]
            render = self._variation_json
        else:
            objs = [o for o in self.objects.values() if o["kind"] == "order"]
            if params.get("status") and params["status"] != "any":
                objs = [o for o in objs if o["status"] in str(params["status"]).split(",")]
            for name, field in (("after", "created"), ("modified_after", "modified")):
                if params.get(name):
                    t = _parse_iso(params[name])
                    if t is None:
                        return 400, [], invalid_params({name: ("rest_invalid_date",
                                                               "Invalid date.")})
                    objs = [o for o in objs if o[field] > t]
            render = self._order_json
        field = {"date": "created", "modified": "modified"}.get(orderby, "id")
        objs.sort(key=lambda o: (o[field], o["id"]) if field != "id" else o["id"],
                  reverse=(order == "desc"))
        size = min(per_page, self.page_cap) if self.page_cap else per_page
        total = len(objs)
        pages = -(-total // size) if total else 0
        start = offset if offset is not None else (page - 1) * size
        answer = [render(o) for o in objs[start:start + size]]
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
        links = []
        base_q = [(k, v) for k, v in urllib.parse.parse_qsl(self._query_of(params),
                                                            keep_blank_values=True)]

        def link(p):
            q = [(k, v) for k, v in base_q if k != "page"]
            pos = next((i for i, (k, _) in enumerate(base_q) if k == "page"), len(q))
            q.insert(pos, ("page", str(p)))
            return self.site + path + "?" + urllib.parse.urlencode(q)
        if page > 1:
            links.append(f'<{link(min(page - 1, pages) if pages else page - 1)}>; rel="prev"')
        if pages > page:
            links.append(f'<{link(page + 1)}>; rel="next"')
        if links:
            headers.append(("Link", ", ".join(links)))
        return 200, headers, answer

    @staticmethod
    def _query_of(params):
        def flat(prefix, v, out):
            if isinstance(v, dict):
                for k, x in v.items():
                    flat(f"{prefix}[{k}]", x, out)
            else:
                out.append((prefix, v))
            return out
        pairs = []
        for k, v in params.items():
            flat(k, v, pairs)
        return urllib.parse.urlencode(pairs)

    @staticmethod
    def _int_param(params, name, default, lo, hi, problems):
        if name not in params:
            return default
        v = params[name]
        if not isinstance(v, str) or not re.match(r"^-?[0-9]+$", v.strip()):
            problems[name] = ("rest_invalid_type", f"{name} is not of type integer.")
            return default
        n = int(v)
        if lo is not None and hi is not None and not lo <= n <= hi:
            problems[name] = ("rest_out_of_bounds",
                              f"{name} must be between {lo} (inclusive) and {hi} (inclusive)")
        elif lo is not None and n < lo:
            problems[name] = ("rest_out_of_bounds",
                              f"{name} must be greater than or equal to {lo}")
        return n

    # ---- writes ----

    def _validate_strict(self, data, kind):
        """WordPress's schema validation of a single write: {param: (code, message)}."""
        problems = {}
        for k in ("regular_price", "sale_price", "sku", "name"):
            if k in data and not isinstance(data[k], str):
                problems[k] = ("rest_invalid_type", f"{k} is not of type string.")
        if "stock_quantity" in data:
            v = data["stock_quantity"]
            if not (_is_integer(v)):
                problems["stock_quantity"] = ("rest_invalid_type",
                                              "stock_quantity is not of type integer.")
        if "inventory_delta" in data and not _is_integer(data["inventory_delta"]):
            problems["inventory_delta"] = ("rest_invalid_type",
                                           "inventory_delta is not of type integer.")
        if "manage_stock" in data:
            v = data["manage_stock"]
            ok = _is_boolean(v) or (kind in ("variation", "variations") and v == "parent")
            if not ok:
                problems["manage_stock"] = ("rest_invalid_type",
                                            "manage_stock is not of type boolean.")
        for k, allowed in (("stock_status", STOCK_STATUSES), ("backorders", BACKORDERS)):
            if k in data and data[k] not in allowed:
                problems[k] = ("rest_not_in_enum", f"{k} is not one of " +
                               ", ".join(allowed[:-1]) + ", and " + allowed[-1] + ".")
        if kind in ("products",) and "type" in data and data["type"] not in PRODUCT_TYPES:
            problems["type"] = ("rest_not_in_enum", "type is not one of simple, grouped, "
                                "external, and variable.")
        for k in ("regular_price", "sale_price"):
            if k not in problems and isinstance(data.get(k), str) and data[k] != "" and \
                    not MONEY_RE.match(data[k]):
                # [U] WooCommerce's wc_format_decimal would keep what digits it finds.
                problems[k] = ("rest_invalid_param", f"{k} is not a decimal number.")
        return problems

    def _coerce_item(self, item, kind):
        """A batch item as PHP would coerce it, or {param: (code, message)} for what it could
        not make sense of [U]."""
        problems = {}
        out = dict(item)
        for k in ("regular_price", "sale_price"):
            if k in out:
                v = out[k]
                if isinstance(v, bool) or not (isinstance(v, (int, float)) or
                                               (isinstance(v, str) and
                                                (v == "" or MONEY_RE.match(v)))):
                    problems[k] = ("rest_invalid_param", f"{k} is not a decimal number.")
                else:
                    out[k] = v if isinstance(v, str) else repr(v)
        for k in ("stock_quantity", "inventory_delta"):
            if k in out:
                v = out[k]
                if not (_is_integer(v) or (isinstance(v, float) and not isinstance(v, bool))):
                    problems[k] = ("rest_invalid_type", f"{k} is not of type integer.")
        if "manage_stock" in out and not (_is_boolean(out["manage_stock"]) or
                                          out["manage_stock"] == "parent"):
            problems["manage_stock"] = ("rest_invalid_type", "manage_stock is not of type "
                                        "boolean.")
        for k, allowed in (("stock_status", STOCK_STATUSES), ("backorders", BACKORDERS)):
            if k in out and out[k] not in allowed:
                problems[k] = ("rest_not_in_enum", f"{k} is not one of " +
                               ", ".join(allowed[:-1]) + ", and " + allowed[-1] + ".")
        if "sku" in out and not isinstance(out["sku"], (str, int)):
            problems["sku"] = ("rest_invalid_type", "sku is not of type string.")
        elif "sku" in out:
            out["sku"] = str(out["sku"])
        return out, problems

    def _update(self, o, data, strict):
        """Apply a write to a product or variation (prepare_object_for_database); an error
        dict when it cannot be saved."""
        if "sku" in data and data["sku"] != o["sku"] and data["sku"] != "":
            other = self._by_sku(data["sku"], o["id"])
            if other is not None:
                return wp_error("product_invalid_sku", "Invalid or duplicated SKU.", 400,
                                resource_id=other["id"], unique_sku=data["sku"])
        if "sku" in data:
            o["sku"] = data["sku"]
        if "name" in data and o["kind"] == "product":
            o["name"] = str(data["name"])
        for k in ("regular_price", "sale_price"):
            if k in data and not (o["kind"] == "product" and o["type"] == "variable"):
                o[k] = money(data[k])
        if "status" in data and data["status"] in ("draft", "pending", "private", "publish"):
            o["status"] = data["status"]
        if "backorders" in data:
            o["backorders"] = data["backorders"]
        if "manage_stock" in data:
            v = data["manage_stock"]
            o["manage_stock"] = False if v == "parent" else _to_bool(v)
        if "stock_status" in data:
            o["stock_status"] = data["stock_status"]
        if o["manage_stock"]:
            if o["stock_quantity"] is None:
                o["stock_quantity"] = 0
            if "stock_quantity" in data:
                o["stock_quantity"] = int(float(data["stock_quantity"]))
            elif "inventory_delta" in data:
                o["stock_quantity"] += int(float(data["inventory_delta"]))
        else:
            # WooCommerce: not managing stock clears the quantity (and what was sent is lost).
            o["stock_quantity"] = None
            if o["kind"] == "variation":
                o["backorders"] = "no"
        o["modified"] = self._stamp()
        return None

    def _create(self, kind, parent_id, data):
        """Create from a (coerced) body; (object, None) or (None, error)."""
        if data.get("id"):
            pt = "product" if kind.startswith("product") else "product_variation"
            return None, wp_error(f"woocommerce_rest_{pt}_exists",
                                  f"Cannot create existing {pt}.", 400)
        sku = data.get("sku", "")
        if sku and self._by_sku(sku) is not None:
            return None, wp_error("product_invalid_sku", "Invalid or duplicated SKU.", 400,
                                  resource_id=self._by_sku(sku)["id"], unique_sku=sku)
        manage = _to_bool(data.get("manage_stock", False)) if data.get("manage_stock") != \
            "parent" else False
        if kind.startswith("product"):
            if data.get("type", "simple") == "variable":
                pid, _ = self.add_variable_product(sku, name=data.get("name"),
                                                   manage_stock=manage)
                o = self.objects[pid]
            else:
                o = self.objects[self.add_product(sku, name=data.get("name"),
                                                  manage_stock=manage)]
                o["type"] = data.get("type", "simple")
        else:
            parent = self.objects.get(parent_id)
            if not parent or parent["kind"] != "product" or parent["type"] != "variable":
                return None, wp_error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            opt = None
            for a in data.get("attributes") or []:
                if isinstance(a, dict) and a.get("option"):
                    opt = str(a["option"])
            o = self.objects[self.add_variation(parent_id, sku, manage_stock=manage,
                                                option=opt or (sku or "x").rsplit("-", 1)[-1])]
        err = self._update(o, {k: v for k, v in data.items() if k not in ("type",)},
                           strict=False)
        return (None, err) if err else (o, None)

    def _create_one(self, kind, ids, data):
        problems = self._validate_strict(data, kind)
        if problems:
            return 400, [], invalid_params(problems)
        o, err = self._create(kind, ids[0] if ids else None, data)
        if err:
            return err["data"]["status"], [], err
        self._enqueue("product.created", o["id"])
        path = (f"/products/{o['id']}" if kind == "products"
                else f"/products/{ids[0]}/variations/{o['id']}")
        return 201, [("Location", self.site + NS + path)], self._render(kind, o)

    def _delete(self, o):
        if o["kind"] == "product":
            for v in list(o["variations"]):
                self.objects.pop(v, None)
        else:
            parent = self.objects.get(o["parent_id"])
            if parent and o["id"] in parent["variations"]:
                parent["variations"].remove(o["id"])
        self.objects.pop(o["id"], None)

    def _item_error(self, oid):
        ie = self.item_errors.get(oid)
        if ie and (ie[3] is None or ie[3] > 0):
            if ie[3] is not None:
                ie[3] -= 1
            return wp_error(ie[0], ie[1], ie[2])
        return None

    def _batch(self, kind, ids, data, params, rec):
        single = "variation" if kind == "variations_batch" else "product"
        parent_id = ids[0] if ids else None
        problems = {}
        for k in ("create", "update", "delete"):
            if k in data and data[k] and not isinstance(data[k], list):
                problems[k] = ("rest_invalid_type", f"{k} is not of type array.")
        if problems:
            return 400, [], invalid_params(problems)
        items = {k: data.get(k) or [] for k in ("create", "update", "delete")}
        total = sum(len(v) for v in items.values())
        entry = {"route": rec["route"], "create": len(items["create"]),
                 "update": len(items["update"]), "delete": len(items["delete"]),
                 "total": total, "status": 0}
        self.batches.append(entry)
        if total > self.batch_limit:
            entry["status"] = 413
            return 413, [], wp_error("woocommerce_rest_request_entity_too_large",
                                     f"Unable to accept more than {self.batch_limit} items for "
                                     "this request.", 413)
        pt = "product" if single == "product" else "product_variation"
        answer = {}
        for item in items["create"]:
            if not isinstance(item, dict):
                item = {}
            coerced, problems = self._coerce_item(item, single)
            if problems:
                res = {"id": 0, "error": invalid_params(problems)}
            else:
                o, err = self._create("products" if single == "product" else "variations",
                                      parent_id, coerced)
                if err:
                    res = {"id": 0, "error": err}
                else:
                    res = self._render(single, o)
                    self._enqueue("product.created", o["id"])
            answer.setdefault("create", []).append(res)
        for item in items["update"]:
            if not isinstance(item, dict):
                item = {}
            raw_id = item.get("id")
            try:
                oid = int(raw_id)
            except (TypeError, ValueError):
                oid = 0
            o = self._get_object(single, [parent_id, oid]) if oid else None
            err = self._item_error(oid) if oid else None
            if err is None and o is None:
                err = wp_error(f"woocommerce_rest_{pt}_invalid_id", "Invalid ID.", 400)
            if err is None:
                coerced, problems = self._coerce_item(item, single)
                err = invalid_params(problems) if problems else self._update(o, coerced, False)
            if err:
                answer.setdefault("update", []).append({"id": raw_id, "error": err})
            else:
                answer.setdefault("update", []).append(self._render(single, o))
                self._enqueue("product.updated", o["id"])
        for raw_id in items["delete"]:
            try:
                oid = int(raw_id)
            except (TypeError, ValueError):
                oid = 0
            if oid == 0:
                continue
            o = self._get_object(single, [parent_id, oid])
            err = self._item_error(oid)
            if err is None and o is None:
                err = wp_error(f"woocommerce_rest_{pt}_invalid_id", "Invalid ID.", 404)
            if err:
                answer.setdefault("delete", []).append({"id": oid, "error": err})
            else:
                answer.setdefault("delete", []).append(self._render(single, o))
                self._delete(o)
                self._enqueue("product.deleted", oid)
        entry["status"] = 200
        return 200, [], answer if answer else []

    # ---- webhooks ----

    def add_webhook(self, url, topic, secret, name=None, status="active", ping=True):
        """Save a webhook; an active one is pinged (form body webhook_id=N, no signature; only
        a 200 is good, else ping_error says what WooCommerce would show). Returns the webhook
        (a dict with id, status, failure_count, ping_status, ping_error)."""
        resource, _, event = topic.partition(".")
        if not (resource in TOPIC_RESOURCES and event in TOPIC_EVENTS) and resource != "action":
            raise ValueError(f"not a valid webhook topic: {topic}")
        with self.lock:
            wid = self.next_webhook_id
            self.next_webhook_id += 1
            w = {"id": wid, "name": name or f"Webhook {wid}", "status": status,
                 "delivery_url": url, "secret": secret, "topic": topic, "resource": resource,
                 "event": event, "failure_count": 0, "pending_delivery": True,
                 "ping_status": None, "ping_error": None}
            self.webhooks[wid] = w
        if ping and status == "active":
            self.ping(wid)
        return self.webhook(wid)

    def ping(self, webhook_id):
        """WC_Webhook::deliver_ping: (status or None, error message or None)."""
        with self.lock:
            w = self.webhooks[int(webhook_id)]
            url = w["delivery_url"]
        body = f"webhook_id={webhook_id}".encode()
        headers = [("User-Agent", USER_AGENT),
                   ("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")]
        status, _, err = self._post(url, headers, body, "HTTP/1.0")
        if err is not None:
            msg = f"Error: Delivery URL cannot be reached: {err}"
        elif status != 200:
            msg = f"Error: Delivery URL returned response code: {status}"
        else:
            msg = None
        with self.lock:
            w["ping_status"], w["ping_error"] = status, msg
            if msg is None:
                w["pending_delivery"] = False
            self.delivery_log.append({"webhook_id": int(webhook_id), "kind": "ping",
                                      "delivery_id": None, "url": url, "topic": None,
                                      "headers": headers, "body": body, "status": status,
                                      "error": err, "sent": True})
        return status, msg

    def delivery_id(self, webhook_id):
        """wp_hash(webhook id . time()): the same for one webhook within one second."""
        data = f"{webhook_id}{int(self.clock())}".encode()
        return hmac.new(self.salt.encode(), data, hashlib.md5).hexdigest()

    def send_webhook(self, url, topic, payload, secret, webhook_id, delivery_id=None,
                     timeout=60):
        """Deliver one payload as WC_Webhook::deliver does and count the result against the
        webhook (created on the fly when webhook_id is not known). A disabled or paused webhook
        sends nothing. Returns the delivery: {webhook_id, delivery_id, url, topic, headers,
        body, status (None: no answer), error, sent, failure_count, webhook_status}."""
        webhook_id = int(webhook_id)
        with self.lock:
            w = self.webhooks.get(webhook_id)
            if w is None:
                resource, _, event = topic.partition(".")
                w = self.webhooks[webhook_id] = {
                    "id": webhook_id, "name": f"Webhook {webhook_id}", "status": "active",
                    "delivery_url": url, "secret": secret, "topic": topic,
                    "resource": resource, "event": event, "failure_count": 0,
                    "pending_delivery": False, "ping_status": None, "ping_error": None}
                self.next_webhook_id = max(self.next_webhook_id, webhook_id + 1)
            if w["status"] != "active":
                d = {"webhook_id": webhook_id, "kind": "delivery", "delivery_id": None,
                     "url": url, "topic": topic, "headers": [], "body": b"", "status": None,
                     "error": f"webhook {w['status']}", "sent": False,
                     "failure_count": w["failure_count"], "webhook_status": w["status"]}
                self.delivery_log.append(d)
                return dict(d)
            body = payload if isinstance(payload, bytes) else php_json(payload)
            resource, _, event = topic.partition(".")
            headers = [("User-Agent", USER_AGENT), ("Content-Type", "application/json"),
                       ("X-WC-Webhook-Source", self.site + "/"),
                       ("X-WC-Webhook-Topic", topic), ("X-WC-Webhook-Resource", resource),
                       ("X-WC-Webhook-Event", event),
                       ("X-WC-Webhook-Signature", webhook_signature(body, secret)),
                       ("X-WC-Webhook-ID", str(webhook_id)),
                       ("X-WC-Webhook-Delivery-ID", delivery_id or self.delivery_id(webhook_id))]
        return self._deliver(webhook_id, url, topic, headers, body, timeout)

    def resend(self, delivery, timeout=60):
        """Send a delivery again, byte for byte (same delivery id and signature), counting
        the result like any delivery."""
        with self.lock:
            w = self.webhooks.get(delivery["webhook_id"])
            if w is not None and w["status"] != "active":
                return {"webhook_id": delivery["webhook_id"], "sent": False, "status": None,
                        "error": f"webhook {w['status']}", "delivery_id": None,
                        "webhook_status": w["status"], "failure_count": w["failure_count"]}
        return self._deliver(delivery["webhook_id"], delivery["url"], delivery["topic"],
                             list(delivery["headers"]), delivery["body"], timeout)

    def _deliver(self, webhook_id, url, topic, headers, body, timeout):
        status, resp, err = self._post(url, headers, body, "HTTP/1.0", timeout)
        with self.lock:
            w = self.webhooks[webhook_id]
            if status is not None and 200 <= status < 303:
                w["failure_count"] = 0
            elif w["failure_count"] > MAX_FAILURES:
                w["status"] = "disabled"
            else:
                w["failure_count"] += 1
            d = {"webhook_id": webhook_id, "kind": "delivery",
                 "delivery_id": dict(headers).get("X-WC-Webhook-Delivery-ID"), "url": url,
                 "topic": topic, "headers": headers, "body": body, "status": status,
                 "response": resp, "error": err, "sent": True,
                 "failure_count": w["failure_count"], "webhook_status": w["status"]}
            self.delivery_log.append(d)
            return dict(d)

    def _post(self, url, headers, body, version, timeout=60):
        """POST with WordPress's HTTP client manners (no redirects followed): (status or None,
        response body, error or None)."""
        u = urllib.parse.urlsplit(url)
        port = u.port or (443 if u.scheme == "https" else 80)
        target = (u.path or "/") + ("?" + u.query if u.query else "")
        lines = [f"POST {target} {version}", f"Host: {u.netloc}", "Accept: */*",
                 "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines += [f"Content-Length: {len(body)}", "", ""]
        raw = "\r\n".join(lines).encode("utf-8") + body
        try:
            s = socket.create_connection((u.hostname, port), timeout=timeout)
            try:
                if u.scheme == "https":
                    ctx = ssl.create_default_context(cafile=self.webhook_cafile)
                    s = ctx.wrap_socket(s, server_hostname=u.hostname)
                s.sendall(raw)
                chunks = []
                while True:
                    c = s.recv(65536)
                    if not c:
                        break
                    chunks.append(c)
                    if _complete(b"".join(chunks)):
                        break
            finally:
                s.close()
        except OSError as e:
            return None, b"", f"http_request_failed: {e}"
        data = b"".join(chunks)
        m = re.match(rb"^HTTP/\d\.\d (\d{3})", data)
        if not m:
            return None, b"", "http_request_failed: no HTTP answer"
        return int(m.group(1)), data.partition(b"\r\n\r\n")[2], None

    def payload(self, topic, resource_id):
        """The body WooCommerce builds for a topic: the REST representation of the resource
        (deleted: only {"id": ...})."""
        resource, _, event = topic.partition(".")
        with self.lock:
            if event == "deleted":
                return {"id": resource_id}
            o = self.objects.get(int(resource_id))
            if o is None:
                return {"id": resource_id}
            if resource == "order":
                return self._order_json(o)
            return self._product_json(o)

    def deliver(self, topic, resource_id):
        """Send topic for resource_id to every active webhook of that topic, now; returns the
        deliveries."""
        with self.lock:
            hooks = [dict(w) for w in self.webhooks.values()
                     if w["topic"] == topic and w["status"] == "active"]
        body = php_json(self.payload(topic, resource_id))
        return [self.send_webhook(w["delivery_url"], topic, body, w["secret"], w["id"])
                for w in hooks]

    def _enqueue(self, topic, resource_id):
        if not self.async_webhooks:
            return
        with self.lock:
            if not any(w["topic"] == topic and w["status"] == "active"
                       for w in self.webhooks.values()):
                return
            payload = php_json(self.payload(topic, resource_id))
            if self.worker is None:
                self.worker = threading.Thread(target=self._work, daemon=True)
                self.worker.start()
        self.queue.put((topic, payload))

    def _work(self):
        while True:
            job = self.queue.get()
            try:
                if job is None:
                    return
                topic, body = job
                with self.lock:
                    hooks = [dict(w) for w in self.webhooks.values()
                             if w["topic"] == topic and w["status"] == "active"]
                for w in hooks:
                    self.send_webhook(w["delivery_url"], topic, body, w["secret"], w["id"])
            finally:
                self.queue.task_done()

    def flush_webhooks(self, timeout=30):
        """Wait until the queued deliveries are done (True) or timeout (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    # ---- control over HTTP ----

    def _control(self, name, args):
        calls = {"fail_next": self.fail_next, "hang_next": self.hang_next,
                 "item_error": self.item_error, "set_page_cap": self.set_page_cap,
                 "add_key": self.add_key, "add_product": self.add_product,
                 "add_variable_product": self.add_variable_product,
                 "add_variation": self.add_variation, "set_stock": self.set_stock,
                 "set_price": self.set_price, "add_order": self.add_order,
                 "add_webhook": self.add_webhook, "deliver": self.deliver,
                 "send_webhook": self.send_webhook, "set_webhook_status": self.set_webhook_status,
                 "flush_webhooks": self.flush_webhooks, "stock": self.stock,
                 "price": self.price, "by_sku": self.by_sku}
        if name == "state":
            return 200, {"objects": [self.product(i) if o["kind"] != "order"
                                     else self._order_json(o)
                                     for i, o in sorted(self.objects.items())],
                         "webhooks": list(self.webhooks.values())}
        if name == "requests":
            return 200, {"requests": [{k: v for k, v in r.items() if k != "body"}
                                      for r in self.requests]}
        if name == "batches":
            return 200, {"batches": self.batch_sizes()}
        if name == "deliveries":
            return 200, {"deliveries": [{k: (v.decode("utf-8", "replace")
                                             if isinstance(v, bytes) else v)
                                         for k, v in d.items()} for d in self.delivery_log]}
        if name not in calls:
            return 404, wp_error("rest_no_route", "No such switch.", 404)
        try:
            result = calls[name](**args)
        except (TypeError, KeyError, ValueError) as e:
            return 400, wp_error("fake_bad_request", str(e), 400)
        if isinstance(result, list):
            result = [{k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
                       for k, v in r.items()} if isinstance(r, dict) else r for r in result]
        elif isinstance(result, dict):
            result = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
                      for k, v in result.items()}
        return 200, {"result": result}


ROUTES = [
    (re.compile(r"^/products$"), "products"),
    (re.compile(r"^/products/batch$"), "products_batch"),
    (re.compile(r"^/products/(\d+)$"), "product"),
    (re.compile(r"^/products/(\d+)/variations$"), "variations"),
    (re.compile(r"^/products/(\d+)/variations/batch$"), "variations_batch"),
    (re.compile(r"^/products/(\d+)/variations/(\d+)$"), "variation"),
    (re.compile(r"^/orders$"), "orders"),
    (re.compile(r"^/orders/(\d+)$"), "order"),
]
ROUTE_NAMES = {
    "products": "/products", "products_batch": "/products/batch", "product": "/products/{id}",
    "variations": "/products/{product_id}/variations",
    "variations_batch": "/products/{product_id}/variations/batch",
    "variation": "/products/{product_id}/variations/{id}",
    "orders": "/orders", "order": "/orders/{id}",
}
READ = ("GET", "HEAD")
EDIT = ("POST", "PUT", "PATCH")
ROUTE_METHODS = {
    "products": READ + ("POST",), "products_batch": EDIT,
    "product": READ + EDIT + ("DELETE",), "variations": READ + ("POST",),
    "variations_batch": EDIT, "variation": READ + EDIT + ("DELETE",),
    "orders": READ, "order": READ,
}


def _is_integer(v):
    """WordPress's rest_is_integer: an int, a whole float, or a string of one."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    if isinstance(v, float):
        return v == int(v)
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return False
        return f == int(f) and re.match(r"^\s*-?[0-9.e+]+\s*$", v) is not None
    return False


def _is_boolean(v):
    """WordPress's rest_is_boolean."""
    if isinstance(v, bool):
        return True
    if isinstance(v, int):
        return v in (0, 1)
    if isinstance(v, str):
        return v.lower() in ("", "false", "0", "true", "1")
    return False


def _to_bool(v):
    if isinstance(v, str):
        return v.lower() in ("true", "1", "yes")
    return bool(v)


def _parse_iso(s):
    try:
        t = datetime.datetime.fromisoformat(str(s).replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.timestamp()


def _complete(data):
    """Whether a raw HTTP answer is complete by its Content-Length (else read to EOF)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return m is not None and len(rest) >= int(m.group(1))


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description="a fake WooCommerce REST API on 127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--key", default=DEFAULT_CK)
    p.add_argument("--secret", default=DEFAULT_CS)
    p.add_argument("--http", action="store_true",
                   help="play a plain-HTTP shop: no Basic auth, OAuth 1.0a only")
    a = p.parse_args(argv)
    fake = WooCommerceFake(consumer_key=a.key, consumer_secret=a.secret,
                           https=not a.http).start(a.port)
    print(f"woocommerce fake listening on {fake.api_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.close()


if __name__ == "__main__":
    main(sys.argv[1:])
