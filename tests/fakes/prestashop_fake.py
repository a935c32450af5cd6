#!/usr/bin/env python3
"""A fake PrestaShop Webservice (8.x) for the prestashop connector's tests (python3 stdlib only).

A real HTTP server (ThreadingHTTPServer) on 127.0.0.1, an ephemeral port, that follows
../shared/vendor-apis.md section 3 and, where that page is silent or vague, PrestaShop's own
source (classes/webservice/WebserviceRequest.php, WebserviceOutputXML/JSON, SQLUtils, the
install SQL, StockAvailable). Choices the sources do not settle are marked [U].

- /api/{resource}[/{id}] for products, combinations and stock_availables; GET /api/ lists what
  the key may use. The key is the Basic username (password ignored) or ?ws_key=. No key: 401
  code 16, an empty one 17, one not 32 characters long 18 ("Invalid authentication key
  format": 401 in PrestaShop 1.7/8/9, 400 only in the 1.4 dispatcher vendor-apis.md quotes;
  key_format_status=400 plays the old one), an unknown or disabled key 20 and 21 together;
  every auth failure carries WWW-Authenticate: Basic realm="Welcome to PrestaShop Webservice,
  please enter the authentication key as the login. No password required.". A key without
  the resource: 401 code 26; without the method: 405 code 25 (not 401: PrestaShop's
  checkHTTPMethod). A method the resource forbids (stock_availables: POST, DELETE): 405 code
  101. An unknown resource: 400 code 27 with PrestaShop's "Did you mean".
- XML by default (<prestashop xmlns:xlink=...>, values in CDATA, xlink:href on linked ids,
  notFilterable on computed fields, <language id="1"> for multilang ones); JSON with
  output_format=JSON (or io_format, or the Io-Format/Output-Format header; case matters, as in
  PrestaShop): {"stock_available":{...}}, lists {"stock_availables":[...]}, an empty list [],
  ids as numbers and every other value a string.
- Lists: display=minimum (default: id and xlink:href only) | full | [f1,f2]; filter[f]=[a|b]
  (OR), [a,b] (BETWEEN, for digits, dots, colons, dashes, spaces), [ab]% %[ab]% %[ab] (LIKE),
  >[x] <[x] ![a|b], [x] and x (=), compared as MySQL would (case-insensitive strings, numbers
  as numbers); sort=[f_ASC,g_DESC] or f_DESC; limit=N or offset,N; schema=blank|synopsis.
  The errors are PrestaShop's (codes 28, 31-39). date_add/date_upd can be filtered and sorted
  on only with date=1 (PrestaShop removes them otherwise: code 32). Products have them;
  stock_availables and combinations have no date columns in PrestaShop's schema, so date=1
  with filter[date_upd] on them is PrestaShop's 500 code 97 [SQL Error]: a poller can follow
  products by date_upd, not stock.
- GET one: display=full by default; a missing id is a 404 with no body (PrestaShop sends none).
- PUT: the complete object. A required field missing: 400 code 41 `parameter "x" required`; an
  optional one missing is reset (PrestaShop sets it to null, stored as 0 or ""); a read-only
  one sent (products: quantity, manufacturer_name): 400 code 93 "not writable"; no id in the
  body: 400 code 90; an id that does not exist: 404 code 92; invalid values: 400 code 85
  'Validation error: "Property StockAvailable->quantity is not valid"'; a required multilang
  field missing: 400 code 84; a body that is not XML (JSON included: PrestaShop reads XML
  only): 500 code 127. PrestaShop itself updates the object the body's id names whatever the
  URL says; the fake refuses a body id that is not the URL's (400, a "[fake]" message) so that
  the mistake shows. PATCH (PrestaShop 8) changes only the fields sent. The answer is 200 with
  the object. A combination's stock row being written makes the product's own row (id 0) the
  sum of its combinations', as StockAvailable::postSave does. Writing a product bumps date_upd.
- Errors in the requested format: <errors><error><code><![CDATA[..]]></code><message>
  <![CDATA[..]]></message></error></errors>, {"errors":[{"code":..,"message":..}]}.
- No webhooks: PrestaShop core sends none; a connector polls.

Switches (Python API in-process, or POST /_fake/<name> with JSON arguments): fail_next (401 as
a disabled key, 500, 503 as a disabled webservice (code 22), 502/504 a proxy's HTML, with
Retry-After when given), hang_next (answer late), race (after the next GET of a row, someone
in the back office changes another of its fields: a connector that PUTs what it read before
that GET loses the change; lost_updates() lists such writes), set_page_cap (a list of more than
N rows is a PHP fatal 500, as on a host whose memory or time limit a big list exceeds, so a
connector must page with limit). Every request is recorded for assertions.

Run alone: python3 prestashop_fake.py [--port N] [--key KEY]
"""
import base64
import copy
import datetime
import hashlib
import http.server
import json
import re
import sys
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation

PS_VERSION = "8.1.7"
DEFAULT_KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"
XLINK = "http://www.w3.org/1999/xlink"
REALM = ('Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key '
         'as the login. No password required."')
ALL_METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD")
# PrestaShop's resource names (WebserviceRequest::getResources), for "Did you mean".
PS_RESOURCES = sorted([
    "addresses", "attachments", "carriers", "carts", "cart_rules", "categories", "combinations",
    "configurations", "contacts", "countries", "currencies", "customers", "customer_threads",
    "customer_messages", "deliveries", "groups", "guests", "images", "image_types",
    "languages", "manufacturers", "messages", "order_carriers", "order_cart_rules",
    "order_details", "order_histories", "order_invoices", "orders", "order_payments",
    "order_states", "order_slip", "price_ranges", "product_features",
    "product_feature_values", "product_options", "product_option_values", "products",
    "states", "stores", "suppliers", "tags", "translated_configurations", "weight_ranges",
    "zones", "employees", "search", "content_management_system", "shops", "shop_groups",
    "taxes", "stock_movements", "stock_movement_reasons", "warehouses", "stocks",
    "stock_availables", "warehouse_product_locations", "supply_orders", "supply_order_details",
    "supply_order_states", "supply_order_histories", "supply_order_receipt_histories",
    "product_suppliers", "tax_rules", "tax_rule_groups", "specific_prices",
    "specific_price_rules", "shop_urls", "product_customization_fields", "customizations"])


class F:
    """A field of a resource: kind is int, dec, date, bool or str (how MySQL compares it)."""

    def __init__(self, name, kind="str", required=False, validate=None, size=None, xlink=None,
                 i18n=False, getter=False, setter=True, default=None):
        self.name, self.kind, self.required, self.validate = name, kind, required, validate
        self.size, self.xlink, self.i18n, self.getter, self.setter = size, xlink, i18n, getter, \
            setter
        defaults = {"int": "0", "bool": "0", "dec": "0.000000", "date": "0000-00-00 00:00:00"}
        self.default = default if default is not None else defaults.get(kind, "")


RESOURCES = {
    "stock_availables": {
        "node": "stock_available", "class": "StockAvailable", "forbidden": ("POST", "DELETE"),
        "description": "Available quantities",
        "fields": [
            F("id", "int"),
            F("id_product", "int", True, "isUnsignedId", xlink="products"),
            F("id_product_attribute", "int", True, "isUnsignedId", xlink="combinations"),
            F("id_shop", "int", False, "isUnsignedId", xlink="shops"),
            F("id_shop_group", "int", False, "isUnsignedId", xlink="shop_groups"),
            F("quantity", "int", True, "isInt"),
            F("depends_on_stock", "bool", True, "isBool"),
            F("out_of_stock", "int", True, "isInt"),
            F("location", "str", False, "isString", size=255),
        ], "associations": []},
    "combinations": {
        "node": "combination", "class": "Combination", "forbidden": (),
        "description": "The product combinations",
        "fields": [
            F("id", "int"),
            F("id_product", "int", True, "isUnsignedId", xlink="products"),
            F("location", "str", False, "isString", size=255),
            F("ean13", "str", False, "isEan13", size=13),
            F("reference", "str", False, "isReference", size=64),
            F("supplier_reference", "str", False, "isReference", size=64),
            F("wholesale_price", "dec", False, "isPrice"),
            F("price", "dec", False, "isNegativePrice"),
            F("ecotax", "dec", False, "isPrice"),
            F("weight", "dec", False, "isFloat"),
            F("unit_price_impact", "dec", False, "isNegativePrice"),
            F("minimal_quantity", "int", True, "isPositiveInt", default="1"),
            F("default_on", "bool", False, "isBool"),
            F("available_date", "date", False, "isDateFormat", default="0000-00-00"),
        ], "associations": []},
    "products": {
        "node": "product", "class": "Product", "forbidden": (),
        "description": "The products",
        "fields": [
            F("id", "int"),
            F("id_manufacturer", "int", False, "isUnsignedId", xlink="manufacturers"),
            F("id_supplier", "int", False, "isUnsignedId", xlink="suppliers"),
            F("id_category_default", "int", False, "isUnsignedId", xlink="categories",
              default="2"),
            F("new", "str"),
            F("id_default_combination", "int", False, "isUnsignedId", xlink="combinations",
              getter=True),
            F("id_tax_rules_group", "int", False, "isUnsignedId", xlink="tax_rule_groups",
              default="1"),
            F("manufacturer_name", "str", getter=True, setter=False),
            F("quantity", "int", getter=True, setter=False),
            F("id_shop_default", "int", False, "isUnsignedId", default="1"),
            F("reference", "str", False, "isReference", size=64),
            F("supplier_reference", "str", False, "isReference", size=64),
            F("ean13", "str", False, "isEan13", size=13),
            F("state", "int", False, "isUnsignedInt", default="1"),
            F("product_type", "str", False, "isGenericName", default="standard"),
            F("price", "dec", True, "isPrice"),
            F("wholesale_price", "dec", False, "isPrice"),
            F("on_sale", "bool", False, "isBool"),
            F("unity", "str", False, "isString"),
            F("active", "bool", False, "isBool", default="1"),
            F("available_for_order", "bool", False, "isBool", default="1"),
            F("show_price", "bool", False, "isBool", default="1"),
            F("date_add", "date", False, "isDate"),
            F("date_upd", "date", False, "isDate"),
            F("name", "str", True, "isCatalogName", size=128, i18n=True),
            F("link_rewrite", "str", True, "isLinkRewrite", size=128, i18n=True),
        ], "associations": [("combinations", "combination", ("id",), False),
                            ("stock_availables", "stock_available",
                             ("id", "id_product_attribute"), True)]},
}
FIELDS = {r: {f.name: f for f in d["fields"]} for r, d in RESOURCES.items()}
CLASS_NAMES = {d["class"] for d in RESOURCES.values()}


# ---- validation as PrestaShop's Validate class ----

def _is_int(v):
    try:
        return str(int(v)) == v
    except ValueError:
        return False


def _is_float(v):
    try:
        Decimal(v)
        return re.match(r"^\s*-?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*$", v) is not None
    except InvalidOperation:
        return False


VALIDATE = {
    "isUnsignedId": lambda v: re.match(r"^[0-9]+$", v) is not None and int(v) < 4294967296,
    "isUnsignedInt": lambda v: re.match(r"^[0-9]+$", v) is not None and int(v) < 4294967296,
    "isInt": _is_int,
    "isPositiveInt": lambda v: _is_int(v) and int(v) > 0,
    "isBool": lambda v: v in ("0", "1"),
    "isPrice": lambda v: _is_float(v) and Decimal(v) >= 0 and Decimal(v) < Decimal(10) ** 10,
    "isNegativePrice": lambda v: _is_float(v) and abs(Decimal(v)) < Decimal(10) ** 10,
    "isFloat": _is_float,
    "isString": lambda v: True,
    "isGenericName": lambda v: re.match(r"^[^<>={}]*$", v) is not None,
    "isReference": lambda v: re.match(r"^[^<>;={}]*$", v) is not None,
    "isEan13": lambda v: re.match(r"^[0-9]{0,13}$", v) is not None,
    "isCatalogName": lambda v: re.match(r"^[^<>;=#{}]*$", v) is not None,
    "isLinkRewrite": lambda v: re.match(r"^[_a-zA-Z0-9\-]+$", v) is not None,
    "isDate": lambda v: re.match(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$", v) is not None,
    "isDateFormat": lambda v: re.match(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$", v)
    is not None,
}


# ---- MySQL-ish comparisons ----

def _num(v):
    """A string as MySQL casts it to a number: its leading numeric part, else 0."""
    m = re.match(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", v or "")
    return Decimal(m.group(0)) if m else Decimal(0)


def _date(v):
    v = (v or "").strip()
    return v + " 00:00:00" if re.match(r"^\d{4}-\d{2}-\d{2}$", v) else v


def _key(kind, v):
    if kind in ("int", "dec", "bool"):
        return _num(v)
    if kind == "date":
        return _date(v)
    return (v or "").casefold()


def _like(pattern, value):
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.match("^" + rx + "$", value or "", re.S | re.I) is not None


def _filter_pred(kind, filter_value):
    """SQLUtils::getSQLRetrieveFilter as a predicate on one column value (a string)."""
    m = re.match(r"^(.*)\[(.*)\](.*)$", filter_value, re.S)
    if not m:
        return lambda v: _key(kind, v) == _key(kind, filter_value)
    pre, inner, post = m.groups()
    if pre == "%" or post == "%":
        return lambda v: _like(pre + inner + post, v)
    if pre == "" and post == "":
        if inner.find("|") > 0:
            wanted = [_key(kind, x) for x in inner.split("|")]
            return lambda v: _key(kind, v) in wanted
        m3 = re.match(r"^([\d.:\-\s]+),([\d.:\-\s]+)$", inner)
        if m3:
            a, b = m3.group(1), m3.group(2)
            if _is_float(a) and _is_float(b):
                a, b = sorted((a, b), key=Decimal)
            else:
                a, b = sorted((a, b))
            lo, hi = _key(kind, a), _key(kind, b)
            return lambda v: lo <= _key(kind, v) <= hi
        return lambda v: _key(kind, v) == _key(kind, inner)
    if pre == ">":
        return lambda v: _key(kind, v) > _key(kind, inner)
    if pre == "<":
        return lambda v: _key(kind, v) < _key(kind, inner)
    if pre == "!":
        unwanted = [_key(kind, x) for x in inner.split("|")]
        return lambda v: _key(kind, v) not in unwanted
    return lambda v: True  # PrestaShop adds no condition for any other prefix


def _levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def did_you_mean(label, value, words):
    """WebserviceRequest::setErrorDidYouMean's message."""
    closest, shortest = "", -1
    for w in words:
        d = _levenshtein(value, w)
        if d == 0:
            closest = w
            break
        if d <= shortest or shortest < 0:
            closest, shortest = w, d
    msg = f'{label}. Did you mean: "{closest}"?'
    if len(words) > 1:
        msg += ' The full list is: "' + '", "'.join(words) + '"'
    return msg


def parse_php_query(query):
    """$_GET: the last value of a key wins; filter[a]=b nests one level."""
    out = {}
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        m = re.match(r"^([^\[\]]+)\[([^\[\]]*)\](.*)$", k)
        if m:
            d = out.get(m.group(1))
            if not isinstance(d, dict):
                d = out[m.group(1)] = {}
            sub = m.group(2)
            if m.group(3):
                inner = d.get(sub)
                if not isinstance(inner, dict):
                    inner = d[sub] = {}
                inner[m.group(3).strip("[]")] = v
            else:
                d[sub] = v
        else:
            out[k] = v
    return out


def cdata(v):
    return "<![CDATA[" + str(v).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def attr(v):
    return str(v).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def php_json(value):
    """PrestaShop's json_encode: "/" escaped, UTF-8 left as it is [U]."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/")


class WsError(Exception):
    def __init__(self, status, errors, headers=None):
        super().__init__(errors)
        self.status, self.errors, self.headers = status, errors, headers or []


class Fatal(Exception):
    """A PHP fatal error: a 500 with PHP's text, not PrestaShop's envelope."""


class PrestaShopFake:
    """The fake. start() serves it; the methods below set it up, flip its switches and read
    what it holds and saw. Thread-safe (one lock)."""

    def __init__(self, key=DEFAULT_KEY, languages=(1,), key_format_status=401,
                 ps_version=PS_VERSION, strict_put_id=True, shop_name="omnibus fake shop"):
        self.lock = threading.RLock()
        self.languages = list(languages)
        self.key_format_status = key_format_status
        self.ps_version = ps_version
        self.strict_put_id = strict_put_id
        self.shop_name = shop_name
        self.keys = {}
        self.add_key(key)
        self.rows = {r: {} for r in RESOURCES}
        self.next_ids = {r: 1 for r in RESOURCES}
        self.requests = []
        self.failures = []         # [count, status, retry_after, path prefix, hang seconds]
        self.races = {}            # (resource, id) -> {"changes", "after", "times"}
        self.raced = {}            # (resource, id) -> {field: (before, after)}
        self.lost = []
        self.page_cap = None
        self.clock = time.time     # replaceable: date_add/date_upd
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
    def ws_url(self):
        """PrestaShop's webservice base (used in xlink:href)."""
        return self.url + "/api/"

    def close(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    # ---- setting up ----

    def add_key(self, key, permissions=None, active=True):
        """A webservice key; permissions {resource: [methods]} (default: every method on the
        three resources)."""
        if permissions is None:
            permissions = {r: list(ALL_METHODS) for r in RESOURCES}
        with self.lock:
            self.keys[key] = {"active": active,
                              "permissions": {r: set(m) for r, m in permissions.items()}}

    def _now(self):
        return datetime.datetime.fromtimestamp(self.clock(), datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S")

    def _insert(self, resource, values):
        rid = self.next_ids[resource]
        self.next_ids[resource] += 1
        row = {}
        for f in RESOURCES[resource]["fields"]:
            if f.i18n:
                row[f.name] = {lang: "" for lang in self.languages}
            elif not f.getter or f.setter:
                row[f.name] = f.default
        row["id"] = str(rid)
        for k, v in values.items():
            if isinstance(row.get(k), dict):
                row[k] = {lang: str(v) for lang in self.languages}
            else:
                row[k] = str(v)
        self.rows[resource][rid] = row
        return rid

    def add_product(self, reference, price, quantity=0, name=None, out_of_stock=2,
                    depends_on_stock=0, location="", active=1):
        """A product (price excl. tax) with its stock row (id_product_attribute 0, shop 1);
        returns (product id, stock_available id)."""
        with self.lock:
            now = self._now()
            name = name or f"Product {reference}"
            pid = self._insert("products", {
                "reference": reference, "price": f"{Decimal(str(price)):.6f}",
                "wholesale_price": "0.000000", "active": str(active), "date_add": now,
                "date_upd": now, "name": name,
                "link_rewrite": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "p"})
            sid = self._insert("stock_availables", {
                "id_product": pid, "id_product_attribute": 0, "id_shop": 1, "id_shop_group": 0,
                "quantity": int(quantity), "depends_on_stock": depends_on_stock,
                "out_of_stock": out_of_stock, "location": location})
            return pid, sid

    def add_combination(self, product_id, reference, price="0", quantity=0, default_on=0):
        """A combination of a product (price = impact on the product's price) with its stock
        row; the product's own row becomes the sum of its combinations'. Returns
        (combination id, stock_available id)."""
        with self.lock:
            cid = self._insert("combinations", {
                "id_product": product_id, "reference": reference,
                "price": f"{Decimal(str(price)):.6f}", "minimal_quantity": 1,
                "default_on": default_on})
            p = self.rows["products"][product_id]
            p["product_type"] = "combinations"
            if default_on or p["id_default_combination"] in ("", "0"):
                p["id_default_combination"] = str(cid)
            sid = self._insert("stock_availables", {
                "id_product": product_id, "id_product_attribute": cid, "id_shop": 1,
                "id_shop_group": 0, "quantity": int(quantity), "depends_on_stock": 0,
                "out_of_stock": 2, "location": ""})
            self._sync_product_stock(self.rows["stock_availables"][sid])
            return cid, sid

    def set_stock(self, reference, quantity):
        """Someone changed the quantity in the back office (no date changes: the stock table
        has none)."""
        with self.lock:
            row = self._stock_row_of(reference)
            row["quantity"] = str(int(quantity))
            self._sync_product_stock(row)

    def set_price(self, reference, price):
        """A back-office price edit: the product's price (or a combination's impact); a
        product's date_upd moves."""
        with self.lock:
            res, rid = self._find(reference)
            row = self.rows[res][rid]
            row["price"] = f"{Decimal(str(price)):.6f}"
            pid = rid if res == "products" else int(row["id_product"])
            self.rows["products"][pid]["date_upd"] = self._now()

    def touch(self, product_id):
        """A back-office save of a product: date_upd moves."""
        with self.lock:
            self.rows["products"][int(product_id)]["date_upd"] = self._now()

    # ---- switches ----

    def fail_next(self, n, status, retry_after=None, path=None):
        """Answer the next n requests (whose path starts with `path`, when given) with this
        status: 401 as a key disabled in the back office (codes 20 and 21), 500 a PHP error,
        503 a disabled webservice (code 22), 502/504 a proxy's HTML page."""
        with self.lock:
            self.failures.append([n, status, retry_after, path, 0])

    def hang_next(self, n, seconds, path=None):
        with self.lock:
            self.failures.append([n, 0, None, path, seconds])

    def race(self, row_id, changes=None, after="any", times=1, resource="stock_availables"):
        """Right after the next `times` GETs that return this row (after="list": lists only,
        "single": GET /api/{resource}/{id} only, "any": both), change `changes` (default: the
        location) as someone in the back office would, between the connector's read and its
        write."""
        with self.lock:
            self.races[(resource, int(row_id))] = {
                "changes": dict(changes or {"location": "changed-in-back-office"}),
                "after": after, "times": times}

    def set_page_cap(self, n):
        """A list answer of more than n rows fails (None: no cap)."""
        with self.lock:
            self.page_cap = n

    # ---- reading ----

    def stock_row(self, stock_id):
        with self.lock:
            r = self.rows["stock_availables"].get(int(stock_id))
            return dict(r) if r else None

    def product(self, product_id):
        with self.lock:
            r = self.rows["products"].get(int(product_id))
            return copy.deepcopy(r) if r else None

    def combination(self, combination_id):
        with self.lock:
            r = self.rows["combinations"].get(int(combination_id))
            return dict(r) if r else None

    def stock(self, reference):
        """The quantity of the shop-1 stock row of the product or combination with this
        reference."""
        with self.lock:
            return int(self._stock_row_of(reference)["quantity"])

    def stock_id(self, reference):
        with self.lock:
            return int(self._stock_row_of(reference)["id"])

    def price(self, reference):
        """A product's price excl. tax (or a combination's impact), as stored ("29.900000")."""
        with self.lock:
            res, rid = self._find(reference)
            return self.rows[res][rid]["price"]

    def lost_updates(self):
        """Writes that put back a value a race() had changed after the writer's read:
        [{"resource", "id", "field", "overwritten", "with"}]."""
        with self.lock:
            return [dict(x) for x in self.lost]

    def seen(self, path=None, method=None, route=None):
        with self.lock:
            return [r for r in self.requests
                    if (path is None or r["path"].startswith(path))
                    and (method is None or r["method"] == method)
                    and (route is None or r["route"] == route)]

    def endpoint_counts(self):
        """{route: count}, e.g. {"GET /api/stock_availables": 2, "PUT /api/stock_availables/{id}":
        1}."""
        with self.lock:
            out = {}
            for r in self.requests:
                out[r["route"]] = out.get(r["route"], 0) + 1
            return out

    def _find(self, reference):
        for res in ("products", "combinations"):
            for rid, row in self.rows[res].items():
                if row["reference"] == reference:
                    return res, rid
        raise KeyError(f"no product or combination with reference {reference}")

    def _stock_row_of(self, reference, shop="1"):
        res, rid = self._find(reference)
        pid, attr_id = (rid, 0) if res == "products" else \
            (int(self.rows["combinations"][rid]["id_product"]), rid)
        for row in self.rows["stock_availables"].values():
            if int(row["id_product"]) == pid and int(row["id_product_attribute"]) == attr_id \
                    and row["id_shop"] == shop:
                return row
        raise KeyError(f"no stock row for {reference}")

    def _sync_product_stock(self, row):
        """StockAvailable::postSave: a combination's row written, the product's own row (same
        shop) becomes the sum of the combinations'."""
        if int(row["id_product_attribute"] or 0) != 0:
            self._resum(row["id_product"], row["id_shop"])

    def _resum(self, pid, shop):
        rows = self.rows["stock_availables"].values()
        total = sum(int(r["quantity"]) for r in rows
                    if r["id_product"] == pid and r["id_shop"] == shop and
                    int(r["id_product_attribute"] or 0) != 0)
        for r in rows:
            if r["id_product"] == pid and r["id_shop"] == shop and \
                    int(r["id_product_attribute"] or 0) == 0:
                r["quantity"] = str(total)

    def _computed(self, resource, row, name):
        """Fields PrestaShop computes on output."""
        if resource == "products" and name == "quantity":
            for r in self.rows["stock_availables"].values():
                if r["id_product"] == row["id"] and int(r["id_product_attribute"]) == 0 and \
                        r["id_shop"] == "1":
                    return r["quantity"]
            return "0"
        if resource == "products" and name == "manufacturer_name":
            return ""
        return row.get(name, "")

    def _associations(self, resource, row):
        if resource != "products":
            return []
        combos = [{"id": str(c)} for c, r in sorted(self.rows["combinations"].items())
                  if r["id_product"] == row["id"]]
        stocks = [{"id": str(s), "id_product_attribute": r["id_product_attribute"]}
                  for s, r in sorted(self.rows["stock_availables"].items())
                  if r["id_product"] == row["id"] and r["id_shop"] == "1"]
        return [("combinations", "combination", combos), ("stock_availables", "stock_available",
                                                          stocks)]

    # ---- the API ----

    def handle(self, method, raw_path, headers, body):
        """(status, [(header, value)], body bytes) for one request."""
        url = urllib.parse.urlsplit(raw_path)
        path, query = url.path, url.query
        h = {k.lower(): v for k, v in headers.items()}
        params = parse_php_query(query)
        rec = {"time": time.monotonic(), "method": method, "path": path, "query": query,
               "params": params, "headers": h, "body": body, "status": 0,
               "route": method + " " + re.sub(r"/\d+$", "/{id}", path.rstrip("/"))}
        with self.lock:
            self.requests.append(rec)
            if path.startswith("/_fake/"):
                try:
                    args = json.loads(body) if body else {}
                except ValueError:
                    args = {}
                status, answer = self._control(path[len("/_fake/"):], args or {})
                rec["status"] = status
                return status, [("Content-Type", "application/json")], \
                    json.dumps(answer).encode()
            injected = self._injected(path)
        if injected and injected[4]:
            time.sleep(injected[4])
        start = time.monotonic()
        with self.lock:
            fmt = self._format(params, h)
            if injected and injected[1]:
                status, out_headers, out = self._failure(injected[1], injected[2], fmt)
            else:
                status, out_headers, out = self._serve(method, path, params, h, body, fmt, rec)
            out_headers = [("Access-Time", str(int(time.time()))),
                           ("X-Powered-By", "PrestaShop Webservice"),
                           ("Execution-Time", f"{time.monotonic() - start:.3f}")] + out_headers
            rec["status"] = status
            return status, out_headers, out

    def _injected(self, path):
        for f in self.failures:
            if f[0] > 0 and (f[3] is None or path.startswith(f[3])):
                f[0] -= 1
                return list(f)
        return None

    @staticmethod
    def _format(params, h):
        if "io-format" in h:
            fmt = h["io-format"]
        elif "output-format" in h:
            fmt = h["output-format"]
        else:
            fmt = params.get("output_format", params.get("io_format", "XML"))
        return "JSON" if fmt == "JSON" else "XML"

    def _failure(self, status, retry_after, fmt):
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        if status == 401:
            ctype, out = self._errors_body([(20, "Authentification key is not active"),
                                            (21, "No permission for this authentication key")],
                                           fmt)
            return 401, headers + [("WWW-Authenticate", REALM), ("Content-Type", ctype)], out
        if status in (500, 503):
            errors = ([(22, "The PrestaShop webservice is disabled. Please activate it in the "
                            "PrestaShop Back Office")] if status == 503 else
                      [(2, "[PHP Error #1] Internal error (injected by the fake)")])
            ctype, out = self._errors_body(errors, fmt)
            return status, headers + [("Content-Type", ctype)], out
        page = (f"<html><head><title>{status}</title></head><body><center><h1>{status}</h1>"
                "</center><hr><center>nginx</center></body></html>")
        return status, headers + [("Content-Type", "text/html")], page.encode()

    def _errors_body(self, errors, fmt):
        if fmt == "JSON":
            body = php_json({"errors": [{"code": c, "message": m} for c, m in errors]})
            return "application/json;charset=utf-8", body.encode()
        inner = "<errors>\n" + "".join(
            f"<error>\n<code>{cdata(c)}</code>\n<message>{cdata(m)}</message>\n</error>\n"
            for c, m in errors) + "</errors>\n"
        return "text/xml;charset=utf-8", self._envelope(inner).encode()

    @staticmethod
    def _envelope(content):
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="' + XLINK +
                '">\n' + content + "</prestashop>\n")

    def _serve(self, method, path, params, h, body, fmt, rec):
        if "ps_method" in params:
            method = params["ps_method"]
        authed = False
        try:
            key = self._authenticate(params, h)
            authed = True
            if not (path == "/api" or path.startswith("/api/")):
                raise WsError(404, [(0, "Not a webservice URL (the fake serves /api/...)")])
            segs = path[len("/api/"):].split("/") if path.startswith("/api/") else [""]
            resource = segs[0]
            rid = segs[1] if len(segs) > 1 else ""
            if resource == "":
                return self._ok(200, self._api_index(key, fmt), fmt)
            self._check_resource(key, resource)
            self._check_method(key, resource, method)
            if rid != "" and not re.match(r"^[0-9]+$", rid):
                rid = str(int(re.match(r"^\d*", rid).group(0) or 0))
            if method in ("GET", "HEAD"):
                if rid == "":
                    out = self._get_list(resource, params, fmt)
                else:
                    out = self._get_one(resource, int(rid), params, fmt)
                    if out is None:
                        return 404, [("PSWS-Version", self.ps_version)], b""
                return self._ok(200, out, fmt)
            if method in ("PUT", "PATCH"):
                if method == "PATCH" and not self.ps_version.startswith(("8", "9")):
                    raise WsError(405, [(23, "Method PATCH is not valid")])
                return self._ok(200, self._put(resource, rid, method, body, params, fmt, rec),
                                fmt)
            if method == "DELETE":
                self._delete(resource, rid)
                return 200, [("PSWS-Version", self.ps_version)], b""
            raise WsError(501, [(0, f"The fake does not implement {method} on {resource}")])
        except WsError as e:
            ctype, out = self._errors_body(e.errors, fmt)
            headers = list(e.headers)
            if authed:
                headers.append(("PSWS-Version", self.ps_version))
            return e.status, headers + [("Content-Type", ctype)], out
        except Fatal as e:
            rec["note"] = e.args[0]
            page = f"<br />\n<b>Fatal error</b>:  {e.args[0]}"
            return 500, [("Content-Type", "text/html; charset=utf-8")], page.encode()

    def _ok(self, status, out, fmt):
        data = out.encode()
        ctype = "application/json;charset=utf-8" if fmt == "JSON" else "text/xml;charset=utf-8"
        return status, [("PSWS-Version", self.ps_version), ("Content-Type", ctype),
                        ("Content-Sha1", hashlib.sha1(data).hexdigest())], data

    def _authenticate(self, params, h):
        auth = h.get("authorization")
        key = None
        if auth is not None and auth[:6].lower() == "basic ":
            try:
                key = base64.b64decode(auth[6:].strip()).decode("utf-8", "replace") \
                    .partition(":")[0]
            except ValueError:
                key = ""
        elif "ws_key" in params:
            key = params["ws_key"] if isinstance(params["ws_key"], str) else ""
        realm = [("WWW-Authenticate", REALM)]
        if key is None:
            raise WsError(401, [(16, "Please enter the authentication key as the login. No "
                                     "password required")], realm)
        key = key.strip()
        if key == "":
            raise WsError(401, [(17, "Authentication key is empty")], realm)
        if len(key) != 32:
            raise WsError(self.key_format_status, [(18, "Invalid authentication key format")],
                          realm)
        k = self.keys.get(key)
        errors = []
        if not k or not k["active"]:
            errors.append((20, "Authentification key is not active"))
        if not k or not k["active"] or not k["permissions"]:
            errors.append((21, "No permission for this authentication key"))
        if errors:
            raise WsError(401, errors, realm)
        return k

    def _check_resource(self, key, resource):
        if resource in key["permissions"] or resource in RESOURCES:
            if resource not in key["permissions"]:
                raise WsError(401, [(26, f'Resource of type "{resource}" is not allowed with this '
                                         "authentication key")])
            if resource not in RESOURCES:
                raise WsError(501, [(0, f"The fake does not implement {resource}")])
            return
        if resource in PS_RESOURCES:
            raise WsError(401, [(26, f'Resource of type "{resource}" is not allowed with this '
                                     "authentication key")])
        raise WsError(400, [(27, did_you_mean(f'Resource of type "{resource}" does not exists',
                                              resource, PS_RESOURCES))])

    def _check_method(self, key, resource, method):
        if method not in ALL_METHODS:
            raise WsError(405, [(23, f"Method {method} is not valid")])
        if method in RESOURCES[resource]["forbidden"]:
            raise WsError(405, [(101, f"Method {method} is not allowed for the resource "
                                      f"{resource}")])
        if method not in key["permissions"][resource]:
            raise WsError(405, [(25, f"Method {method} is not allowed for the resource "
                                     f"{resource} with this authentication key")])

    def _api_index(self, key, fmt):
        names = sorted(key["permissions"])
        if fmt == "JSON":
            return php_json(names)
        out = [f'<api shopName="{attr(self.shop_name)}">']
        for r in names:
            perms = key["permissions"][r]
            flags = " ".join(f'{m.lower()}="{"true" if m in perms else "false"}"'
                             for m in ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"))
            href = f'xlink:href="{self.ws_url}{r}"'
            desc = RESOURCES.get(r, {}).get("description", r)
            out.append(f"<{r} {href} {flags}>\n<description {href} {flags}>{desc}</description>"
                       f'\n<schema xlink:href="{self.ws_url}{r}?schema=blank" type="blank"/>'
                       f'\n<schema xlink:href="{self.ws_url}{r}?schema=synopsis" '
                       f'type="synopsis"/>\n</{r}>')
        out.append("</api>")
        return self._envelope("\n".join(out) + "\n")

    # ---- reads ----

    def _available(self, resource, params):
        """(filterable fields, filterable multilang fields) as manageFilters builds them."""
        plain = [f.name for f in RESOURCES[resource]["fields"] if not f.i18n]
        i18n = [f.name for f in RESOURCES[resource]["fields"] if f.i18n]
        if params.get("date"):
            for d in ("date_add", "date_upd"):
                if d not in plain:
                    plain.append(d)
        else:
            plain = [f for f in plain if f not in ("date_add", "date_upd")]
        return plain, i18n

    def _display(self, resource, params, default):
        """setFieldsToDisplay: "minimum", "full" or {field: None | [subfields]}."""
        if "display" not in params:
            return default
        d = params["display"]
        if d in ("full", "minimum"):
            return d
        fields = FIELDS[resource]
        m = re.match(r"^\[(.*)\]$", d if isinstance(d, str) else "", re.S)
        names = ", ".join(f.name for f in RESOURCES[resource]["fields"])
        if not m:
            raise WsError(400, [(36, "The 'display' syntax is wrong. You can set 'full' or "
                                     "'[field_1,field_2,field_3,...]'. These are available: " +
                                     names)])
        parts, depth, cur = [], 0, ""
        for ch in m.group(1):
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            cur += ch
            depth += (ch == "[") - (ch == "]")
        if cur != "":
            parts.append(cur)
        out = {}
        assoc = {a[0]: a[2] for a in RESOURCES[resource]["associations"]}
        for p in parts:
            name = p.split("[", 1)[0].strip()
            sub = re.findall(r"\[(.*)\]", p)
            if sub:
                subs = sub[0].split(",")
                if name not in assoc or any(s != "id" and s not in assoc[name] for s in subs):
                    raise WsError(400, [(35, f'Unable to display this field "{name} (details : '
                                             f'{subs})". However, these are available: {names}')])
                out[name] = subs
            else:
                if name not in fields:
                    raise WsError(400, [(35, f'Unable to display this field "{name}". However, '
                                             f"these are available: {names}")])
                out[name] = None
        return out

    def _get_list(self, resource, params, fmt):
        plain, i18n = self._available(resource, params)
        fields = FIELDS[resource]
        rows = [self.rows[resource][i] for i in sorted(self.rows[resource])]
        schema = params.get("schema")
        if schema is not None:
            if schema not in ("blank", "synopsis"):
                raise WsError(400, [(28, "Please select a schema of type 'synopsis' to get the "
                                         "whole schema informations (which fields are required, "
                                         "which kind of content...) or 'blank' to get an empty "
                                         "schema to fill before using POST request")])
            return self._render_schema(resource, schema, fmt)
        filters = params.get("filter") if isinstance(params.get("filter"), dict) else {}
        for field, value in filters.items():
            if field in ("sort", "limit"):
                continue
            if field not in plain:
                if field in i18n and value != "" and not isinstance(value, dict):
                    pred = _filter_pred("str", value)
                    rows = [r for r in rows if any(pred(v) for v in r[field].values())]
                    continue
                if isinstance(value, dict):
                    raise WsError(400, [(31, "There is no existing linked table for this "
                                             "resource")])
                raise WsError(400, [(32, did_you_mean("This filter does not exist", field,
                                                      plain))])
            if value == "":
                raise WsError(400, [(33, f'The filter "{field}" is malformed.')])
            if isinstance(value, dict):
                raise Fatal("Uncaught TypeError: preg_match(): Argument #2 ($subject) must be of "
                            "type string, array given in classes/webservice/SQLUtils.php")
            if field in fields and fields[field].getter:
                raise WsError(400, [(34, f'The field "{field}" is dynamic. It is not possible to '
                                         "filter GET query with this field.")])
            if field not in fields:
                self._sql_error(resource, field)
            pred = _filter_pred(fields[field].kind, value)
            rows = [r for r in rows if pred(r[field])]
        display = self._display(resource, params, "minimum")
        if "sort" in params:
            s = params["sort"] if isinstance(params["sort"], str) else ""
            m = re.match(r"^\[(.*)\]$", s, re.S)
            sorts = m.group(1).split(",") if m else [s]
            keys = []
            for item in sorts:
                pos = item.rfind("_")
                name, direction = (item[:pos], item[pos + 1:].upper()) if pos >= 0 else ("", "")
                if pos < 0 or direction not in ("ASC", "DESC"):
                    raise WsError(400, [(37, 'The "sort" value has to be formed as this example: '
                                             '"field_ASC" or \'[field_1_DESC,field_2_ASC,'
                                             'field_3_ASC,...]\' ("field" has to be an available '
                                             "field)")])
                if name not in plain and name not in i18n:
                    raise WsError(400, [(38, "Unable to filter by this field. However, these are "
                                             "available: " + ", ".join(plain) +
                                             ", for i18n fields:" + ", ".join(i18n))])
                if name not in fields:
                    self._sql_error(resource, name)
                keys.append((name, direction))
            for name, direction in reversed(keys):
                f = fields[name]
                rows.sort(key=(lambda r, f=f: _key("str", r[f.name][self.languages[0]]))
                          if f.i18n else (lambda r, f=f: _key(f.kind, r[f.name])),
                          reverse=direction == "DESC")
        if "limit" in params:
            parts = str(params["limit"]).split(",")
            if len(parts) > 2:
                raise WsError(400, [(39, 'The "limit" value has to be formed as this example: '
                                         '"5,25" or "10"')])
            nums = [int(_num(p)) for p in parts]
            rows = rows[:nums[0]] if len(nums) == 1 else rows[nums[0]:nums[0] + nums[1]]
        if self.page_cap is not None and len(rows) > self.page_cap:
            raise Fatal("Allowed memory size of 134217728 bytes exhausted (the fake's page cap: "
                        f"more than {self.page_cap} rows in one answer; page with limit)")
        out = self._render_list(resource, rows, display, fmt, params)
        for r in rows:
            self._fire_race(resource, int(r["id"]), "list")
        return out

    def _sql_error(self, resource, field):
        table = RESOURCES[resource]["node"]
        raise WsError(500, [(97, f"[SQL Error] Unknown column 'main.{field}' in 'where clause'. "
                                 f"From WebserviceRequest->getFilteredObjectList() Query was : "
                                 f"SELECT DISTINCT main.`id_{table}` FROM `ps_{table}` AS main "
                                 f"WHERE 1 AND main.`{field}` ...")])

    def _get_one(self, resource, rid, params, fmt):
        display = self._display(resource, params, "full")
        row = self.rows[resource].get(rid)
        if row is None:
            return None
        out = self._render_detail(resource, [row], display, fmt, params)
        self._fire_race(resource, rid, "single")
        return out

    def _fire_race(self, resource, rid, kind):
        r = self.races.get((resource, rid))
        if not r or r["times"] <= 0 or r["after"] not in ("any", kind):
            return
        r["times"] -= 1
        row = self.rows[resource][rid]
        changed = self.raced.setdefault((resource, rid), {})
        for k, v in r["changes"].items():
            changed[k] = (row[k], str(v))
            row[k] = str(v)
        if resource == "stock_availables":
            self._sync_product_stock(row)

    # ---- rendering ----

    def _value(self, resource, row, f):
        if not f.setter:
            return self._computed(resource, row, f.name)
        return row.get(f.name, "")

    def _wanted(self, display, name):
        if display == "minimum":
            return name == "id"
        return display == "full" or (isinstance(display, dict) and name in display)

    def _xml_object(self, resource, row, display, schema=None, indent="\t"):
        node = RESOURCES[resource]["node"]
        lines = [f"<{node}>"]
        for f in RESOURCES[resource]["fields"]:
            if not self._wanted(display, f.name) and schema is None:
                continue
            value = "" if schema else self._value(resource, row, f)
            lines.append(indent + self._xml_field(f, value, schema))
        assocs = self._associations(resource, row) if schema is None else [
            (a[0], a[1], [{k: "" for k in a[2]}]) for a in RESOURCES[resource]["associations"]]
        if assocs and (display == "full" or (isinstance(display, dict) and any(
                a[0] in display for a in assocs)) or schema):
            lines.append(indent + "<associations>")
            meta = {a[0]: a for a in RESOURCES[resource]["associations"]}
            for name, child, items in assocs:
                if isinstance(display, dict) and name not in display and not schema:
                    continue
                ro = ' readOnly="true"' if meta[name][3] and schema != "blank" else ""
                extra = f' nodeType="{child}" api="{name}"' if schema != "blank" else ""
                lines.append(indent + f"<{name}{ro}{extra}>")
                subs = display.get(name) if isinstance(display, dict) else None
                for it in items:
                    href = (f' xlink:href="{self.ws_url}{name}/{it["id"]}"'
                            if schema is None else "")
                    lines.append(indent + f"\t<{child}{href}>")
                    for k, v in it.items():
                        if subs and k not in subs:
                            continue
                        lines.append(indent + f"\t<{k}>{cdata(v) if v != '' else ''}</{k}>")
                    lines.append(indent + f"\t</{child}>")
                lines.append(indent + f"</{name}>")
            lines.append(indent + "</associations>")
        lines.append(f"</{node}>")
        return "\n".join(lines) + "\n"

    def _xml_field(self, f, value, schema):
        if f.i18n:
            inner = ""
            for lang in self.languages:
                v = value.get(lang, "") if isinstance(value, dict) else ""
                more = "" if schema == "blank" else f' xlink:href="{self.ws_url}languages/{lang}"'
                if schema == "synopsis":
                    more += ' format="isUnsignedId"'
                inner += f'<language id="{lang}"{more}>{cdata(v) if v != "" else ""}</language>'
            attrs = self._synopsis(f) if schema == "synopsis" else ""
            return f"<{f.name}{attrs}>{inner}</{f.name}>"
        attrs = ""
        if f.xlink and schema != "blank":
            attrs += f' xlink:href="{self.ws_url}{f.xlink}/{attr(value)}"'
        if f.getter and schema != "blank":
            attrs += ' notFilterable="true"'
        if schema == "synopsis":
            attrs += self._synopsis(f)
        return f"<{f.name}{attrs}>{cdata(value) if value != '' else ''}</{f.name}>"

    @staticmethod
    def _synopsis(f):
        out = ""
        if f.required:
            out += ' required="true"'
        if f.size:
            out += f' maxSize="{f.size}"'
        if f.validate:
            out += f' format="{f.validate}"'
        return out

    def _json_object(self, resource, row, display, schema=None):
        obj = {}
        for f in RESOURCES[resource]["fields"]:
            if not self._wanted(display, f.name) and schema is None:
                continue
            if schema:
                obj[f.name] = ""
                continue
            v = self._value(resource, row, f)
            if f.name == "id":
                v = int(v)
            elif f.i18n:
                v = v[self.languages[0]] if len(self.languages) == 1 else \
                    [{"id": str(lang), "value": v.get(lang, "")} for lang in self.languages]
            obj[f.name] = v
        if schema is None:
            assocs = {}
            for name, _, items in self._associations(resource, row):
                if display == "full" or (isinstance(display, dict) and name in display):
                    subs = display.get(name) if isinstance(display, dict) else None
                    if items:
                        assocs[name] = [{k: v for k, v in it.items() if not subs or k in subs}
                                        for it in items]
            if assocs:
                obj["associations"] = assocs
        return obj

    def _render_list(self, resource, rows, display, fmt, params):
        plural, node = resource, RESOURCES[resource]["node"]
        if fmt == "JSON":
            if not rows:
                return "[]"
            if display == "minimum":
                return php_json({plural: [{"id": int(r["id"])} for r in rows]})
            return php_json({plural: [self._json_object(resource, r, display) for r in rows]})
        if display == "minimum":
            inner = "".join(f'\t<{node} id="{r["id"]}" xlink:href="{self.ws_url}{plural}/'
                            f'{r["id"]}"/>\n' for r in rows)
        else:
            inner = "".join(self._xml_object(resource, r, display) for r in rows)
        return self._envelope(f"<{plural}>\n{inner}</{plural}>\n")

    def _render_detail(self, resource, rows, display, fmt, params):
        node = RESOURCES[resource]["node"]
        if fmt == "JSON":
            objs = [self._json_object(resource, r, display) for r in rows]
            if "display" in params:
                return php_json({resource: objs})
            return php_json({node: objs[-1]})
        return self._envelope("".join(self._xml_object(resource, r, display) for r in rows))

    def _render_schema(self, resource, schema, fmt):
        if fmt == "JSON":
            return php_json({RESOURCES[resource]["node"]:
                             self._json_object(resource, {}, "full", schema)})
        return self._envelope(self._xml_object(resource, {}, "full", schema))

    # ---- writes ----

    def _put(self, resource, rid, method, body, params, fmt, rec):
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            text = body.decode("utf-8", "replace")
            raise WsError(500, [(127, "XML error : String could not be parsed as XML\nXML length "
                                      f": {len(body)}\nOriginal XML : {text}")])
        entities = list(root)
        ids = []
        for e in entities:
            el = e.find("id")
            if el is not None and (el.text or "").strip() != "":
                ids.append(int(_num(el.text)))
        if len(set(ids)) != len(ids):
            raise WsError(400, [(89, "id is duplicate in request")])
        if len(entities) != len(ids):
            raise WsError(400, [(90, "id is required when modifying a resource")])
        if self.strict_put_id and rid != "" and (len(ids) != 1 or ids[0] != int(rid)):
            raise WsError(400, [(0, f"[fake] the id in the body ({', '.join(map(str, ids))}) is "
                                    f"not the id in the URL ({rid}); PrestaShop would write the "
                                    "body's")])
        fields = RESOURCES[resource]["fields"]
        cls = RESOURCES[resource]["class"]
        written = []
        for e, oid in zip(entities, ids):
            cur = self.rows[resource].get(oid)
            if cur is None:
                raise WsError(404, [(92, "Invalid ID")])
            new = copy.deepcopy(cur)
            present = {c.tag: c for c in e}
            i18n_touched = False
            for f in fields:
                if method == "PATCH" and f.name not in present:
                    continue
                if f.i18n:
                    i18n_touched = True
                    el = present.get(f.name)
                    langs = el.findall("language") if el is not None else []
                    if langs:
                        for lg in langs:
                            new[f.name][int(_num(lg.get("id")))] = (lg.text or "").strip()
                    else:
                        text = (el.text or "").strip() if el is not None else ""
                        new[f.name] = {lang: text for lang in self.languages}
                    continue
                if f.name in present:
                    if not f.setter:
                        raise WsError(400, [(93, f'parameter "{f.name}" not writable. Please '
                                                 "remove this attribute of this XML")])
                    new[f.name] = (present[f.name].text or "").strip()
                elif f.required:
                    raise WsError(400, [(41, f'parameter "{f.name}" required')])
                elif f.setter and f.name not in ("date_add", "date_upd"):
                    # PrestaShop sets it to null; MySQL stores 0 or "" [U: dates kept].
                    new[f.name] = f.default if f.kind != "str" else ""
            if i18n_touched:
                for f in fields:
                    if f.i18n and f.required and new[f.name].get(self.languages[0], "") == "":
                        raise WsError(400, [(84, f'Validation error: "Property {cls}->{f.name} is '
                                                 'empty for default language."')])
            for f in fields:
                if f.i18n or not f.setter or f.name == "id":
                    continue
                v = new[f.name]
                if f.required and v == "":
                    raise WsError(400, [(85, f'Validation error: "Property {cls}->{f.name} is '
                                             'empty."')])
                if v != "" and f.validate and not VALIDATE[f.validate](v):
                    raise WsError(400, [(85, f'Validation error: "Property {cls}->{f.name} is '
                                             'not valid"')])
                if f.size and len(v) > f.size:
                    raise WsError(400, [(85, f'Validation error: "Property {cls}->{f.name} is '
                                             f'too long ({f.size} chars max)."')])
            written.append((oid, new))
        out_rows = []
        for oid, new in written:
            for fname, (before, after) in self.raced.pop((resource, oid), {}).items():
                if fname in new and new[fname] == before and new[fname] != after:
                    self.lost.append({"resource": resource, "id": oid, "field": fname,
                                      "overwritten": after, "with": before})
            for f in fields:
                if f.kind == "dec" and new[f.name] != "" and _is_float(new[f.name]):
                    new[f.name] = f"{Decimal(new[f.name]):.6f}"
                elif f.kind in ("int", "bool") and not f.i18n and new.get(f.name, "") != "" \
                        and f.setter:
                    new[f.name] = str(int(_num(new[f.name])))
            if resource == "products":
                new["date_upd"] = self._now()
            new["id"] = str(oid)
            self.rows[resource][oid] = new
            if resource == "stock_availables":
                self._sync_product_stock(new)
            out_rows.append(new)
        return self._render_detail(resource, out_rows, "full", fmt, params)

    def _delete(self, resource, rid):
        if rid == "":
            raise WsError(404, [(87, "Id(s) not exists: ")])
        rid = int(rid)
        if rid not in self.rows[resource]:
            raise WsError(404, [(87, f"Id(s) not exists: {rid}")])
        row = self.rows[resource].pop(rid)
        if resource == "products":
            for res in ("combinations", "stock_availables"):
                for k in [k for k, r in self.rows[res].items() if r["id_product"] == row["id"]]:
                    del self.rows[res][k]
        elif resource == "combinations":
            for k in [k for k, r in self.rows["stock_availables"].items()
                      if r["id_product_attribute"] == row["id"]]:
                del self.rows["stock_availables"][k]
            self._resum(row["id_product"], "1")

    # ---- control over HTTP ----

    def _control(self, name, args):
        calls = {"fail_next": self.fail_next, "hang_next": self.hang_next, "race": self.race,
                 "set_page_cap": self.set_page_cap, "add_key": self.add_key,
                 "add_product": self.add_product, "add_combination": self.add_combination,
                 "set_stock": self.set_stock, "set_price": self.set_price, "touch": self.touch,
                 "stock": self.stock, "stock_id": self.stock_id, "price": self.price,
                 "stock_row": self.stock_row, "lost_updates": self.lost_updates}
        if name == "state":
            return 200, {r: {str(k): v for k, v in rows.items()} for r, rows in
                         self.rows.items()}
        if name == "requests":
            return 200, {"requests": [{k: v for k, v in r.items() if k != "body"}
                                      for r in self.requests]}
        if name not in calls:
            return 404, {"errors": [{"code": 0, "message": f"no switch {name}"}]}
        try:
            return 200, {"result": calls[name](**args)}
        except (TypeError, KeyError, ValueError) as e:
            return 400, {"errors": [{"code": 0, "message": str(e)}]}


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description="a fake PrestaShop Webservice on 127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--key", default=DEFAULT_KEY)
    a = p.parse_args(argv)
    fake = PrestaShopFake(key=a.key).start(a.port)
    print(f"prestashop fake listening on {fake.ws_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.close()


if __name__ == "__main__":
    main(sys.argv[1:])
