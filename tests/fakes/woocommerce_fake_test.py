#!/usr/bin/env python3
"""Self-test of tests/fakes/woocommerce_fake.py: nothing uses the fake yet, so this proves it
behaves as vendor-apis.md section 2 and WooCommerce's source say, with urllib as the client,
an OAuth 1.0a signer written here from the OAuth spec (not the fake's), and a small webhook
receiver that checks signatures itself:

- auth: Basic, the consumer_key/consumer_secret query pair (which wins over the header), wrong
  secret, none at all (the per-route 401s, a missing object still 404), a read-only key
  writing, plain-HTTP mode (Basic refused, OAuth 1.0a with HMAC-SHA1 and -SHA256 in the query
  and in the header; stale timestamp, replayed nonce, bad signature, missing parameters);
- lists: per_page/page, X-WP-Total(Pages), Link prev/next followed to the end, per_page bounds,
  sku= (exact, comma lists, variations), a page cap;
- products and variations: two-decimal price strings, stock_status derived, manage_stock
  "parent", single PUTs (absolute stock, schema errors, stock dropped when not managed, a body
  without a JSON content type changing nothing);
- batch: 100 items taken, 101 refused with 413 and WooCommerce's body, item errors inside the
  200 (unknown id, invalid value, duplicated SKU, the item_error switch), absolute quantities
  idempotent, the batch sizes seen;
- orders and webhooks: add_order reduces stock and sends order.created; deliveries carry the
  WooCommerce headers over HTTP/1.0 with a body PHP-encoded and signed over its raw bytes; the
  ping; a re-send of the same delivery; one delivery id per webhook and second; the failure
  counter disabling a webhook on the 7th failure in a row and nothing sent after; REST writes
  echoed as product.updated;
- switches: fail_next 401/429/500/502/503 with their bodies and Retry-After, hang_next, the
  same switches over POST /_fake/...; every request recorded; the module run alone."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ beside the sources (a srcdir may be read-only)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from omb import check, done  # noqa: E402
from woocommerce_fake import NS, WooCommerceFake  # noqa: E402

CK = "ck_4b1d0c3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c"
CS = "cs_9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c"


# ---- a client ----

def call(fake, method, path, body=None, auth="basic", headers=None, raw=None, ck=CK, cs=CS):
    """(status, {lowercase header: value}, JSON or bytes)."""
    url = fake.url + (path if path.startswith("/wp-json") or path.startswith("/_fake")
                      else NS + path)
    h = dict(headers or {})
    if auth == "basic":
        h["Authorization"] = "Basic " + base64.b64encode(f"{ck}:{cs}".encode()).decode()
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, hdrs, out = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, out = e.code, e.headers, e.read()
    hd = {k.lower(): v for k, v in hdrs.items()}
    if hd.get("content-type", "").startswith("application/json"):
        try:
            return status, hd, json.loads(out)
        except ValueError:
            pass
    return status, hd, out


def links(header):
    """{rel: url} of a Link header."""
    return {m.group(2): m.group(1) for m in re.finditer(r'<([^>]*)>;\s*rel="([^"]+)"',
                                                        header or "")}


# ---- OAuth 1.0a, from RFC 5849 (one-legged: no token, key = secret + "&") ----

def enc(s):
    return urllib.parse.quote(str(s), safe="-._~")


def oauth_sign(method, url, query, ck, cs, algo="HMAC-SHA256", ts=None, nonce=None):
    """The oauth_* parameters (signature included) for a request to url with query pairs."""
    o = {"oauth_consumer_key": ck, "oauth_timestamp": str(int(ts or time.time())),
         "oauth_nonce": nonce or secrets.token_hex(16), "oauth_signature_method": algo}
    pairs = sorted((enc(k), enc(v)) for k, v in list(query) + list(o.items()))
    base = "&".join([method.upper(), enc(url), enc("&".join(f"{k}={v}" for k, v in pairs))])
    digest = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}[algo]
    o["oauth_signature"] = base64.b64encode(
        hmac.new(f"{enc(cs)}&".encode(), base.encode(), digest).digest()).decode()
    return o


def oauth_call(fake, method, path, query=(), body=None, where="query", **kw):
    url = fake.url + NS + path
    o = oauth_sign(method, url, query, kw.pop("ck", CK), kw.pop("cs", CS), **kw)
    headers = {}
    if where == "query":
        q = urllib.parse.urlencode(list(query) + list(o.items()))
    else:
        q = urllib.parse.urlencode(list(query))
        headers["Authorization"] = "OAuth " + ", ".join(f'{k}="{enc(v)}"' for k, v in o.items())
    return call(fake, method, path + ("?" + q if q else ""), body=body, auth=None,
                headers=headers)


# ---- a webhook receiver ----

class Receiver:
    """POSTs are recorded: {version, path, headers (lowercase), body}; answers follow a script
    (a list of statuses, the last repeating)."""

    def __init__(self, answers=(200,)):
        self.answers = list(answers)
        self.got = []
        self.lock = threading.Lock()
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with owner.lock:
                    owner.got.append({"version": self.request_version, "path": self.path,
                                      "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": body})
                    status = owner.answers.pop(0) if len(owner.answers) > 1 else owner.answers[0]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/woo"

    def script(self, answers):
        with self.lock:
            self.answers = list(answers)

    def count(self):
        with self.lock:
            return len(self.got)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def verify(secret, got):
    """The receiver's own check of X-WC-Webhook-Signature over the raw body."""
    mac = base64.b64encode(hmac.new(secret.encode(), got["body"], hashlib.sha256).digest())
    return hmac.compare_digest(mac.decode(), got["headers"].get("x-wc-webhook-signature", ""))


# ---- the tests ----

def test_auth(fake, pid):
    s, _, b = call(fake, "GET", "/products")
    check(s == 200 and isinstance(b, list), f"Basic auth: {s} {b!r:.200}")
    s, _, b = call(fake, "GET", f"/products?consumer_key={CK}&consumer_secret={CS}", auth=None)
    check(s == 200, f"query-parameter auth: {s}")
    # The query pair wins over a wrong Basic header (WooCommerce reads $_GET first).
    s, _, b = call(fake, "GET", f"/products?consumer_key={CK}&consumer_secret={CS}",
                   cs="cs_wrong")
    check(s == 200, f"query pair over a bad header: {s}")
    s, h, b = call(fake, "GET", "/products", cs="cs_wrong")
    check(s == 401 and b == {"code": "woocommerce_rest_authentication_error",
                             "message": "Consumer secret is invalid.", "data": {"status": 401}},
          f"wrong secret: {s} {b}")
    check("www-authenticate" not in h, "no WWW-Authenticate (WooCommerce's OAuth step resets it)")
    s, _, b = call(fake, "GET", "/products", auth=None)
    check(s == 401 and b == {"code": "woocommerce_rest_cannot_view",
                             "message": "Sorry, you cannot list resources.",
                             "data": {"status": 401}}, f"no credentials on a list: {s} {b}")
    s, _, b = call(fake, "GET", "/products", ck="ck_unknown")
    check(s == 401 and b.get("code") == "woocommerce_rest_cannot_view",
          f"an unknown Basic key is no credentials: {s} {b}")
    s, _, b = call(fake, "GET", f"/products/{pid}", auth=None)
    check(s == 401 and b.get("message") == "Sorry, you cannot view this resource.",
          f"no credentials, one product: {s} {b}")
    s, _, b = call(fake, "GET", "/products/99999", auth=None)
    check(s == 404 and b.get("code") == "woocommerce_rest_product_invalid_id",
          f"no credentials, a missing product is still a 404: {s} {b}")
    s, _, b = call(fake, "PUT", f"/products/{pid}", {"stock_quantity": 1}, auth=None)
    check(s == 401 and b.get("code") == "woocommerce_rest_cannot_edit", f"PUT anonymous: {s} {b}")
    s, _, b = call(fake, "POST", "/products/batch", {"update": []}, auth=None)
    check(s == 401 and b.get("code") == "woocommerce_rest_cannot_batch",
          f"batch anonymous: {s} {b}")
    fake.add_key("ck_readonly", "cs_readonly", permissions="read")
    s, _, b = call(fake, "GET", "/products", ck="ck_readonly", cs="cs_readonly")
    check(s == 200, f"a read key reads: {s}")
    s, _, b = call(fake, "PUT", f"/products/{pid}", {"stock_quantity": 1}, ck="ck_readonly",
                   cs="cs_readonly")
    check(s == 401 and b.get("message") ==
          "The API key provided does not have write permissions.", f"a read key writes: {s} {b}")
    s, _, b = call(fake, "GET", "/nothing/here")
    check(s == 404 and b.get("code") == "rest_no_route", f"an unknown route: {s} {b}")


def test_oauth():
    fake = WooCommerceFake(consumer_key=CK, consumer_secret=CS, https=False).start()
    try:
        fake.add_product("OA-1", "10.00", stock_quantity=3)
        s, _, b = call(fake, "GET", "/products")
        check(s == 401 and b.get("code") == "woocommerce_rest_cannot_view",
              f"plain HTTP: Basic is not even read: {s} {b}")
        s, _, b = call(fake, "GET", f"/products?consumer_key={CK}&consumer_secret={CS}",
                       auth=None)
        check(s == 401, f"plain HTTP: nor the query pair: {s}")
        for algo in ("HMAC-SHA1", "HMAC-SHA256"):
            for where in ("query", "header"):
                s, _, b = oauth_call(fake, "GET", "/products",
                                     query=[("per_page", "5"), ("sku", "OA-1")],
                                     algo=algo, where=where)
                check(s == 200 and [p["sku"] for p in b] == ["OA-1"],
                      f"OAuth {algo} in the {where}: {s} {b!r:.200}")
        # A JSON body is not signed.
        pid = fake.by_sku("OA-1")["id"]
        s, _, b = oauth_call(fake, "PUT", f"/products/{pid}", body={"stock_quantity": 9})
        check(s == 200 and b.get("stock_quantity") == 9, f"OAuth PUT with a body: {s} {b!r:.200}")
        s, _, b = oauth_call(fake, "GET", "/products", ts=time.time() - 16 * 60)
        check(s == 401 and b.get("message") == "Invalid timestamp.", f"stale timestamp: {s} {b}")
        nonce = secrets.token_hex(16)
        s1, _, _ = oauth_call(fake, "GET", "/products", nonce=nonce)
        s2, _, b = oauth_call(fake, "GET", "/products", nonce=nonce)
        check(s1 == 200 and s2 == 401 and
              b.get("message") == "Invalid nonce - nonce has already been used.",
              f"replayed nonce: {s1} {s2} {b}")
        s, _, b = oauth_call(fake, "GET", "/products", cs="cs_not_the_secret")
        check(s == 401 and b.get("message") ==
              "Invalid signature - provided signature does not match.", f"bad signature: {s} {b}")
        s, _, b = oauth_call(fake, "GET", "/products", ck="ck_nobody")
        check(s == 401 and b.get("message") == "Consumer key is invalid.", f"unknown key: {s} {b}")
        s, _, b = call(fake, "GET", f"/products?oauth_consumer_key={CK}&oauth_nonce=x", auth=None)
        check(s == 401 and b.get("code") == "woocommerce_rest_authentication_missing_parameter"
              and "oauth_timestamp" in b.get("message", ""), f"missing OAuth params: {s} {b}")
        # Signed for another query: refused.
        o = oauth_sign("GET", fake.url + NS + "/products", [("per_page", "5")], CK, CS)
        q = urllib.parse.urlencode([("per_page", "6")] + list(o.items()))
        s, _, b = call(fake, "GET", "/products?" + q, auth=None)
        check(s == 401, f"a query changed after signing: {s}")
    finally:
        fake.close()


def test_lists(fake):
    ids = [fake.add_product(f"LIST-{i:02d}", "5.00", stock_quantity=i) for i in range(25)]
    s, h, b = call(fake, "GET", "/products?sku=" + ",".join(f"LIST-{i:02d}" for i in range(25)))
    check(s == 200 and len(b) == 10, f"default per_page is 10: {len(b)}")
    check(h.get("x-wp-total") == "25" and h.get("x-wp-totalpages") == "3",
          f"X-WP-Total/TotalPages: {h.get('x-wp-total')} {h.get('x-wp-totalpages')}")
    first = links(h.get("link"))
    check(set(first) == {"next"}, f"page 1 links only next: {h.get('link')}")
    seen, url, pages = [], None, 0
    path = "/products?per_page=10&sku=" + ",".join(f"LIST-{i:02d}" for i in range(25))
    while True:
        s, h, b = call(fake, "GET", path if url is None else url[len(fake.url):])
        pages += 1
        seen += [p["id"] for p in b]
        rels = links(h.get("link"))
        if pages == 2:
            check(set(rels) == {"prev", "next"} and "page=1" in rels.get("prev", ""),
                  f"page 2 links prev and next: {h.get('link')}")
        if "next" not in rels:
            check("prev" in rels and "first" not in rels and "last" not in rels,
                  f"the last page links prev only (WooCommerce sends no first/last): "
                  f"{h.get('link')}")
            break
        url = rels["next"]
        check("sku=" in url, "the next link keeps the request's query")
    check(pages == 3 and sorted(seen) == sorted(ids),
          f"Link next walks all 25 exactly once: {pages} pages, {len(seen)} ids")
    s, _, b = call(fake, "GET", "/products?per_page=101")
    check(s == 400 and b.get("code") == "rest_invalid_param" and
          b["data"]["params"].get("per_page") ==
          "per_page must be between 1 (inclusive) and 100 (inclusive)", f"per_page=101: {s} {b}")
    s, _, b = call(fake, "GET", "/products?per_page=0")
    check(s == 400, f"per_page=0: {s}")
    s, _, b = call(fake, "GET", "/products?page=0")
    check(s == 400, f"page=0: {s}")
    s, h, b = call(fake, "GET", "/products?per_page=100&sku=LIST-03")
    check(s == 200 and [p["id"] for p in b] == [ids[3]] and h.get("x-wp-total") == "1",
          f"sku= is exact: {[p['sku'] for p in b]}")
    s, h, b = call(fake, "GET", "/products?sku=LIST-0")
    check(s == 200 and b == [], f"sku= is not a prefix match: {len(b)}")
    fake.set_page_cap(4)
    s, h, b = call(fake, "GET", "/products?per_page=100&sku=" +
                   ",".join(f"LIST-{i:02d}" for i in range(25)))
    check(len(b) == 4 and h.get("x-wp-totalpages") == "7" and "next" in links(h.get("link")),
          f"page cap: {len(b)} a page, {h.get('x-wp-totalpages')} pages")
    fake.set_page_cap(None)
    s, h, b = call(fake, "GET", "/products?per_page=5&page=9")
    check(s == 200 and b == [], f"a page past the end is empty: {s} {b!r:.80}")


def test_products(fake):
    pid = fake.by_sku("OB-1")["id"]
    p = fake.product(pid)
    check(p["regular_price"] == "39.90" and p["price"] == "39.90" and p["sale_price"] == "",
          f"prices are two-decimal strings: {p['regular_price']!r} {p['price']!r}")
    check(p["stock_status"] == "instock" and p["stock_quantity"] == 5 and p["type"] == "simple",
          f"stock: {p['stock_status']} {p['stock_quantity']}")
    s, _, b = call(fake, "PUT", f"/products/{pid}", {"stock_quantity": 0})
    check(s == 200 and b["stock_quantity"] == 0 and b["stock_status"] == "outofstock",
          f"stock 0 is outofstock: {s} {b.get('stock_status')}")
    s, _, b = call(fake, "PUT", f"/products/{pid}", {"stock_quantity": "7", "sale_price": "35"})
    check(s == 200 and b["stock_quantity"] == 7 and b["stock_status"] == "instock" and
          b["price"] == "35.00" and b["on_sale"] is True, f"PUT stock and sale: {s} {b!r:.300}")
    s, _, b = call(fake, "PUT", f"/products/{pid}", {"regular_price": 41.5, "stock_quantity": 2.5,
                                                      "stock_status": "maybe"})
    check(s == 400 and b.get("code") == "rest_invalid_param" and
          set(b["data"]["params"]) == {"regular_price", "stock_quantity", "stock_status"},
          f"schema errors, all named: {s} {b}")
    check(fake.stock("OB-1") == 7, "a refused PUT changed nothing")
    s, _, b = call(fake, "PUT", f"/products/{pid}", raw=json.dumps({"stock_quantity": 3}).encode(),
                   headers={"Content-Type": "text/plain"})
    check(s == 200 and b["stock_quantity"] == 7,
          f"a body without a JSON content type is not read (a 200 that changed nothing): "
          f"{s} {b.get('stock_quantity')}")
    s, _, b = call(fake, "PATCH", f"/products/{pid}", {"stock_quantity": 6})
    check(s == 200 and b["stock_quantity"] == 6, f"PATCH is an edit too: {s}")
    s, _, b = call(fake, "POST", f"/products/{pid}", {"stock_quantity": 6})
    check(s == 200 and b["stock_quantity"] == 6, f"POST to one product is an edit: {s}")
    # Not managing stock: the quantity sent is dropped.
    nm = fake.add_product("NM-1", "3.00", manage_stock=False)
    s, _, b = call(fake, "PUT", f"/products/{nm}", {"stock_quantity": 50})
    check(s == 200 and b["stock_quantity"] is None and b["manage_stock"] is False,
          f"stock_quantity without manage_stock is dropped: {b.get('stock_quantity')}")
    s, _, b = call(fake, "PUT", f"/products/{nm}", {"manage_stock": True, "stock_quantity": 50})
    check(s == 200 and b["stock_quantity"] == 50, f"with manage_stock it is kept: {s}")
    s, _, b = call(fake, "PUT", f"/products/{nm}", {"manage_stock": False, "stock_status":
                                                     "outofstock"})
    check(s == 200 and b["stock_quantity"] is None and b["stock_status"] == "outofstock",
          f"turning manage_stock off clears the quantity: {b.get('stock_quantity')}")
    s, _, b = call(fake, "PUT", f"/products/{nm}", {"manage_stock": True})
    check(s == 200 and b["stock_quantity"] in (0, None),
          f"... so turning it on again does not bring the old 50 back: {b.get('stock_quantity')}")
    s, _, b = call(fake, "GET", "/products/99999")
    check(s == 404 and b == {"code": "woocommerce_rest_product_invalid_id",
                             "message": "Invalid ID.", "data": {"status": 404}},
          f"a missing product: {s} {b}")
    s, _, b = call(fake, "PUT", "/products/99999", {"stock_quantity": 1})
    check(s == 400 and b.get("code") == "woocommerce_rest_product_invalid_id",
          f"PUT a missing product: {s} {b}")
    # Variations.
    vp, (vs, vm) = fake.by_sku("OB-2")["id"], fake.by_sku("OB-2")["variations"]
    s, _, b = call(fake, "GET", f"/products/{vp}/variations?per_page=100")
    check(s == 200 and {v["sku"] for v in b} == {"OB-2-S", "OB-2-M"},
          f"variations: {[v.get('sku') for v in b]}")
    v = fake.product(vm)
    check(v["on_sale"] and v["price"] == "9.50" and v["regular_price"] == "12.00" and
          v["stock_status"] == "outofstock", f"a variation on sale and out of stock: {v!r:.300}")
    s, _, b = call(fake, "GET", f"/products/{vp}")
    check(b["type"] == "variable" and b["price"] == "9.50" and b["stock_status"] == "instock"
          and b["regular_price"] == "", f"the parent's price and status from its variations: "
          f"{b.get('price')} {b.get('stock_status')}")
    s, _, b = call(fake, "GET", f"/products/{vp + 1000}/variations/{vs}")
    check(s == 404 and b.get("code") == "woocommerce_rest_product_variation_invalid_id",
          f"a variation under another product: {s} {b}")
    s, _, b = call(fake, "GET", "/products?sku=OB-2-S")
    check(s == 200 and len(b) == 1 and b[0]["type"] == "variation" and b[0]["parent_id"] == vp,
          f"sku= finds a variation: {b!r:.200}")
    # manage_stock "parent".
    pp, (pv,) = fake.add_variable_product("PAR", manage_stock=True, stock_quantity=8,
                                          variations=[{"sku": "PAR-L", "regular_price": "20",
                                                       "manage_stock": False}])
    s, _, b = call(fake, "GET", f"/products/{pp}/variations/{pv}")
    check(b.get("manage_stock") == "parent" and b.get("stock_quantity") == 8,
          f"manage_stock parent reads the parent's stock: {b.get('manage_stock')} "
          f"{b.get('stock_quantity')}")
    check(fake.stock("PAR-L") == 8, "stock() of a variation managed by its parent")


def test_batch(fake):
    base = [fake.add_product(f"B-{i:03d}", "1.00", stock_quantity=0) for i in range(100)]
    upd = [{"id": i, "stock_quantity": 12} for i in base[:60]]
    create = [{"name": f"New {i}", "sku": f"BN-{i:02d}", "regular_price": "2.50",
               "manage_stock": True, "stock_quantity": i} for i in range(30)]
    delete = base[90:100]
    s, _, b = call(fake, "POST", "/products/batch",
                   {"create": create, "update": upd, "delete": delete})
    check(s == 200 and len(b.get("create", [])) == 30 and len(b.get("update", [])) == 60 and
          len(b.get("delete", [])) == 10, f"100 items (30+60+10) taken: {s}")
    check(all(x.get("stock_quantity") == 12 for x in b.get("update", [])),
          "updates answered with the objects")
    check(fake.stock("B-000") == 12 and fake.by_sku("B-095") is None and
          fake.stock("BN-07") == 7 and fake.price("BN-07")["regular_price"] == "2.50",
          "the batch applied")
    s, _, b = call(fake, "POST", "/products/batch",
                   {"update": [{"id": i, "stock_quantity": 1} for i in base[:51]],
                    "delete": base[51:90] + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]})
    check(s == 413 and b == {"code": "woocommerce_rest_request_entity_too_large",
                             "message": "Unable to accept more than 100 items for this request.",
                             "data": {"status": 413}}, f"101 items: {s} {b}")
    check(fake.stock("B-000") == 12, "a refused batch changed nothing")
    # Item errors inside the 200.
    fake.add_product("DUP-1", "1.00")
    fake.item_error(base[2])
    s, _, b = call(fake, "POST", "/products/batch", {"update": [
        {"id": base[0], "stock_quantity": 4},
        {"id": 424242, "regular_price": "49.90"},
        {"id": base[1], "regular_price": "abc"},
        {"id": base[3], "sku": "DUP-1"},
        {"id": base[2], "stock_quantity": 5},
        {"id": base[4], "regular_price": 17.5}]})
    u = b.get("update", [])
    check(s == 200 and len(u) == 6, f"item errors stay in a 200: {s} {len(u)}")
    if len(u) == 6:
        check(u[0].get("stock_quantity") == 4 and "error" not in u[0], "the good item applied")
        check(u[1] == {"id": 424242, "error": {"code": "woocommerce_rest_product_invalid_id",
                                               "message": "Invalid ID.",
                                               "data": {"status": 400}}},
              f"an unknown id: {u[1]}")
        check(u[2].get("id") == base[1] and u[2].get("error", {}).get("code") ==
              "rest_invalid_param" and u[2]["error"]["data"]["status"] == 400,
              f"an invalid value: {u[2]}")
        check(u[3].get("error", {}).get("code") == "product_invalid_sku" and
              u[3]["error"]["message"] == "Invalid or duplicated SKU.", f"duplicated SKU: {u[3]}")
        check(u[4].get("id") == base[2] and u[4].get("error", {}).get("code") ==
              "woocommerce_rest_product_not_created", f"the item_error switch: {u[4]}")
        check(u[5].get("regular_price") == "17.50",
              f"a number as a price is coerced in a batch, as PHP does: {u[5]!r:.120}")
    check(fake.stock("B-002") == 12, "the switched item was not applied")
    s, _, b = call(fake, "POST", "/products/batch", {"update": [{"id": base[2],
                                                                 "stock_quantity": 5}]})
    check(b.get("update", [{}])[0].get("stock_quantity") == 5, "item_error is used up")
    # Absolute quantities: the same batch twice, the same state.
    body = {"update": [{"id": base[5], "stock_quantity": 33}]}
    call(fake, "PUT", "/products/batch", body)
    call(fake, "PATCH", "/products/batch", body)
    check(fake.stock("B-005") == 33, "a repeated absolute batch is idempotent")
    s, _, b = call(fake, "POST", "/products/batch", {"update": [{"id": base[6],
                                                                 "inventory_delta": -2}]})
    check(fake.stock("B-006") == 10, f"inventory_delta is relative: {fake.stock('B-006')}")
    s, _, b = call(fake, "POST", "/products/batch", raw=b'{"update": [{"id": 1}]}',
                   headers={"Content-Type": "text/plain"})
    check(s == 200 and b == [], f"a batch without a JSON content type does nothing: {s} {b}")
    s, _, b = call(fake, "POST", "/products/batch", {"update": "all of them"})
    check(s == 400 and b.get("code") == "rest_invalid_param", f"update not an array: {s} {b}")
    # Deletes of unknown ids.
    s, _, b = call(fake, "POST", "/products/batch", {"delete": [777777]})
    check(b.get("delete", [{}])[0].get("error", {}).get("data", {}).get("status") == 404,
          f"deleting an unknown id: {b}")
    # Variations batch.
    vp = fake.by_sku("OB-2")["id"]
    vs, vm = fake.by_sku("OB-2")["variations"]
    other = fake.by_sku("PAR-L")["id"]
    s, _, b = call(fake, "POST", f"/products/{vp}/variations/batch", {"update": [
        {"id": vs, "stock_quantity": 12, "manage_stock": True}, {"id": other, "stock_quantity": 1},
        {"id": 999, "regular_price": "49.90"}]})
    u = b.get("update", [])
    check(s == 200 and len(u) == 3 and u[0].get("stock_quantity") == 12 and
          u[0].get("stock_status") == "instock", f"variations batch: {s} {u!r:.300}")
    check(len(u) == 3 and u[1].get("error", {}).get("code") ==
          "woocommerce_rest_product_variation_invalid_id" and u[2].get("id") == 999 and
          u[2].get("error", {}).get("message") == "Invalid ID.",
          f"a variation of another product and an unknown one: {u[1:]}")
    s, _, b = call(fake, "POST", f"/products/{vp}/variations/batch",
                   {"create": [{"sku": "OB-2-XL", "regular_price": "14.00", "manage_stock": True,
                                "stock_quantity": 4, "attributes": [{"name": "Size",
                                                                     "option": "XL"}]}]})
    c = b.get("create", [{}])[0]
    check(s == 200 and c.get("sku") == "OB-2-XL" and c.get("stock_quantity") == 4,
          f"variation created in a batch: {c!r:.200}")
    sizes = fake.batch_sizes()
    check({"route": "POST /products/batch", "create": 30, "update": 60, "delete": 10,
           "total": 100, "status": 200} in sizes, f"batch sizes recorded: {sizes[:2]}")
    check(any(x["total"] == 101 and x["status"] == 413 for x in sizes), "the 413 is recorded")
    check(any(x["route"] == "POST /products/{product_id}/variations/batch" for x in sizes),
          "variation batches are recorded")


def test_orders_and_webhooks(fake):
    rx = Receiver()
    try:
        secret = "whsec_fake_0123"
        w = fake.add_webhook(rx.url, "order.created", secret)
        check(w["status"] == "active" and w["ping_status"] == 200 and w["ping_error"] is None,
              f"a webhook saved and pinged: {w}")
        ping = rx.got[0] if rx.got else {}
        check(ping.get("body") == f"webhook_id={w['id']}".encode() and
              "x-wc-webhook-signature" not in ping.get("headers", {}) and
              ping.get("headers", {}).get("content-type", "").startswith(
                  "application/x-www-form-urlencoded") and
              "Hookshot" in ping.get("headers", {}).get("user-agent", ""),
              f"the ping: form body webhook_id=N, no signature: {ping}")
        rx204 = Receiver([204])
        try:
            w2 = fake.add_webhook(rx204.url, "order.created", "s2", status="active")
            check(w2["ping_status"] == 204 and
                  w2["ping_error"] == "Error: Delivery URL returned response code: 204",
                  f"only a 200 is a good ping: {w2}")
            fake.set_webhook_status(w2["id"], "paused")
        finally:
            rx204.close()
        stock0 = fake.stock("OB-2-S")
        order = fake.add_order([("OB-2-S", 2), ("OB-1", 1)], billing={"email": "jan@example.pl"})
        check(fake.stock("OB-2-S") == stock0 - 2, "the order reduced the stock")
        check(fake.flush_webhooks(), "order.created delivered")
        got = [g for g in rx.got if g["headers"].get("x-wc-webhook-topic") == "order.created"]
        check(len(got) == 1, f"one order.created: {len(got)}")
        if got:
            g = got[0]
            hd = g["headers"]
            check(g["version"] == "HTTP/1.0", f"HTTP/1.0 like WordPress: {g['version']}")
            check(verify(secret, g), "the receiver verifies the signature over the raw body")
            check(hd.get("x-wc-webhook-resource") == "order" and
                  hd.get("x-wc-webhook-event") == "created" and
                  hd.get("x-wc-webhook-id") == str(w["id"]) and
                  re.match(r"^[0-9a-f]{32}$", hd.get("x-wc-webhook-delivery-id", "")) and
                  hd.get("x-wc-webhook-source") == fake.site + "/" and
                  hd.get("content-type") == "application/json" and
                  re.match(r"^WooCommerce/[\d.]+ Hookshot \(WordPress/[\d.]+\)$",
                           hd.get("user-agent", "")), f"the headers: {hd}")
            check(b"\\/" in g["body"] and b": " not in g["body"],
                  "the body is PHP-encoded (\\/ and no spaces): verify the bytes, never a "
                  "re-serialisation")
            body = json.loads(g["body"])
            li = body.get("line_items", [])
            check(body.get("id") == order["id"] and body.get("status") == "processing" and
                  body.get("billing", {}).get("email") == "jan@example.pl" and len(li) == 2 and
                  li[0].get("sku") == "OB-2-S" and li[0].get("quantity") == 2 and
                  li[0].get("variation_id") == fake.by_sku("OB-2-S")["id"] and
                  li[0].get("product_id") == fake.by_sku("OB-2")["id"] and
                  li[0].get("price") == 10.0 and isinstance(li[0].get("price"), float) and
                  li[0].get("total") == "20.00" and body.get("total") == "55.00",
                  f"the order.created payload: {body!r:.600}")
            bad = dict(g, body=g["body"].replace(b"processing", b"completed!"))
            check(not verify(secret, bad), "a changed body fails the receiver's check")
        s, _, b = call(fake, "GET", f"/orders/{order['id']}")
        check(s == 200 and b.get("line_items", [{}])[0].get("sku") == "OB-2-S",
              f"GET the order: {s}")
        s, h, b = call(fake, "GET", "/orders?per_page=10")
        check(s == 200 and h.get("x-wp-total") == "1", f"orders list: {s} {h.get('x-wp-total')}")
        # Send, re-send: the same delivery.
        d1 = fake.send_webhook(rx.url, "product.updated", {"id": 1, "name": "Zażółć/gęślą"},
                               secret, w["id"])
        d2 = fake.resend(d1)
        check(d1["status"] == 200 and d2["status"] == 200 and rx.got[-1]["body"] ==
              rx.got[-2]["body"] and rx.got[-1]["headers"]["x-wc-webhook-delivery-id"] ==
              rx.got[-2]["headers"]["x-wc-webhook-delivery-id"] ==
              d1["delivery_id"] and verify(secret, rx.got[-1]),
              "a re-send is the same delivery, byte for byte")
        check(b"\\u017c" in rx.got[-1]["body"], "non-ASCII as \\uXXXX, as PHP writes it")
        d3 = fake.send_webhook(rx.url, "product.updated", {"id": 1}, secret, w["id"],
                               delivery_id="replayed-delivery-1")
        check(d3["status"] == 200 and rx.got[-1]["headers"].get("x-wc-webhook-delivery-id") ==
              "replayed-delivery-1", "send_webhook(delivery_id=...) sends that id")
        saved = fake.clock
        fake.clock = lambda: 1764000000.5
        a = fake.send_webhook(rx.url, "product.updated", {"id": 2}, secret, w["id"])
        b2 = fake.send_webhook(rx.url, "product.updated", {"id": 3}, secret, w["id"])
        fake.clock = lambda: 1764000001.5
        c = fake.send_webhook(rx.url, "product.updated", {"id": 3}, secret, w["id"])
        fake.clock = saved
        check(a["delivery_id"] == b2["delivery_id"] != c["delivery_id"],
              "WooCommerce's delivery id is per webhook and second: two payloads in one second "
              "share it (ID:Delivery-ID alone is no dedupe key)")
        # The failure counter.
        rx.script([500])
        n0 = rx.count()
        results = [fake.send_webhook(rx.url, "order.created", {"id": i}, secret, w["id"])
                   for i in range(6)]
        check([r["failure_count"] for r in results] == [1, 2, 3, 4, 5, 6] and
              fake.webhook(w["id"])["status"] == "active",
              f"six failures in a row: still active: {[r['failure_count'] for r in results]}")
        r7 = fake.send_webhook(rx.url, "order.created", {"id": 7}, secret, w["id"])
        check(r7["sent"] and r7["status"] == 500 and r7["webhook_status"] == "disabled",
              f"the 7th failure (more than 5 before it) disables: {r7['webhook_status']}")
        r8 = fake.send_webhook(rx.url, "order.created", {"id": 8}, secret, w["id"])
        check(not r8["sent"] and rx.count() == n0 + 7, "a disabled webhook sends nothing")
        fake.add_order([("OB-1", 1)])
        fake.flush_webhooks()
        check(rx.count() == n0 + 7, "nor does an order placed while it is disabled")
        fake.set_webhook_status(w["id"], "active")
        rx.script([503, 503, 301, 500])
        rs = [fake.send_webhook(rx.url, "order.created", {"id": i}, secret, w["id"])
              for i in range(4)]
        check([r["failure_count"] for r in rs] == [1, 2, 0, 1],
              f"a 301 is a success and resets the count: {[r['failure_count'] for r in rs]}")
        dead = fake.send_webhook("http://127.0.0.1:9/nobody", "order.created", {"id": 1},
                                 secret, 4242)
        check(dead["status"] is None and dead["failure_count"] == 1 and dead["error"],
              f"no answer at all is a failure: {dead['error']}")
        # REST writes come back as product.updated.
        rx.script([200])
        w3 = fake.add_webhook(rx.url, "product.updated", secret)
        pid = fake.by_sku("OB-1")["id"]
        n1 = rx.count()
        call(fake, "PUT", f"/products/{pid}", {"stock_quantity": 40})
        check(fake.flush_webhooks(), "product.updated flushed")
        echo = [g for g in rx.got[n1:] if g["headers"].get("x-wc-webhook-id") == str(w3["id"])]
        check(len(echo) == 1 and json.loads(echo[0]["body"]).get("stock_quantity") == 40 and
              verify(secret, echo[0]), f"the connector's own write comes back: {len(echo)}")
    finally:
        rx.close()


def test_switches(fake):
    s, h, b = call(fake, "GET", "/products")
    fake.fail_next(1, 429, retry_after=7)
    s, h, b = call(fake, "GET", "/products")
    check(s == 429 and h.get("retry-after") == "7" and h.get("content-type", "").startswith(
        "text/html"), f"429 with Retry-After, an HTML body from the host: {s} {h}")
    fake.fail_next(1, 401)
    s, h, b = call(fake, "GET", "/products")
    check(s == 401 and b.get("code") == "woocommerce_rest_cannot_view", f"401: {s} {b}")
    fake.fail_next(1, 500)
    s, h, b = call(fake, "GET", "/products")
    check(s == 500 and b.get("code") == "internal_server_error", f"500: {s} {b!r:.100}")
    fake.fail_next(1, 502)
    s, h, b = call(fake, "GET", "/products")
    check(s == 502 and b"Bad Gateway" in b, f"502: {s}")
    fake.fail_next(2, 503, path=NS + "/products/batch")
    s, h, b = call(fake, "GET", "/products")
    check(s == 200, "a failure for another path leaves this one alone")
    s1, h1, _ = call(fake, "POST", "/products/batch", {"update": []})
    s2, _, _ = call(fake, "POST", "/products/batch", {"update": []})
    s3, _, _ = call(fake, "POST", "/products/batch", {"update": []})
    check((s1, s2, s3) == (503, 503, 200) and h1.get("retry-after") == "600",
          f"503 twice (maintenance, Retry-After 600), then served: {s1} {s2} {s3}")
    fake.hang_next(1, 0.5)
    t = time.monotonic()
    s, _, _ = call(fake, "GET", "/products")
    check(s == 200 and time.monotonic() - t >= 0.5, "hang_next delays the answer")
    # The same over HTTP.
    s, _, b = call(fake, "POST", "/_fake/fail_next", {"n": 1, "status": 503, "retry_after": 3},
                   auth=None)
    check(s == 200, f"POST /_fake/fail_next: {s} {b}")
    s, h, _ = call(fake, "GET", "/products")
    check(s == 503 and h.get("retry-after") == "3", f"switched over HTTP: {s}")
    s, _, b = call(fake, "POST", "/_fake/add_product", {"sku": "HTTP-1", "regular_price": "1.5",
                                                        "stock_quantity": 2}, auth=None)
    check(s == 200 and fake.stock("HTTP-1") == 2, f"/_fake/add_product: {s} {b}")
    s, _, b = call(fake, "POST", "/_fake/stock", {"sku": "HTTP-1"}, auth=None)
    check(s == 200 and b.get("result") == 2, f"/_fake/stock: {b}")
    s, _, b = call(fake, "POST", "/_fake/no_such_switch", {}, auth=None)
    check(s == 404, f"an unknown switch: {s}")
    counts = fake.endpoint_counts()
    check(counts.get("GET /products", 0) >= 10 and counts.get("PUT /products/{id}", 0) >= 3 and
          counts.get("POST /products/batch", 0) >= 5, f"requests per endpoint: {counts}")
    recs = fake.seen(route="GET /products")
    check([r["status"] for r in recs[-2:]] == [200, 503] and
          recs[-2]["headers"].get("authorization", "").startswith("Basic"),
          f"requests are recorded with headers and status: {[r['status'] for r in recs[-2:]]}")


def test_alone():
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "woocommerce_fake.py"), "--port",
                          "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        check(m is not None, f"run alone, it says where it listens: {line!r}")
        if m:
            with urllib.request.urlopen(m.group(1) + "/_fake/add_product", data=json.dumps(
                    {"sku": "ALONE", "regular_price": "1"}).encode(), timeout=30) as r:
                check(r.status == 200, "its control endpoint works")
            req = urllib.request.Request(m.group(1) + NS + "/products?sku=ALONE", headers={
                "Authorization": "Basic " + base64.b64encode(
                    b"ck_ffffffff0123456789abcdef0123456789abcdef:"
                    b"cs_eeeeeeee0123456789abcdef0123456789abcdef").decode()})
            with urllib.request.urlopen(req, timeout=30) as r:
                check(json.loads(r.read())[0]["sku"] == "ALONE", "and its API")
    finally:
        p.terminate()
        p.wait(timeout=30)


def main():
    fake = WooCommerceFake(consumer_key=CK, consumer_secret=CS).start()
    try:
        pid = fake.add_product("OB-1", "39.9", stock_quantity=5)
        fake.add_variable_product("OB-2", variations=[
            {"sku": "OB-2-S", "regular_price": "10", "stock_quantity": 3},
            {"sku": "OB-2-M", "regular_price": "12", "sale_price": "9.5", "stock_quantity": 0}])
        test_auth(fake, pid)
        test_products(fake)
        test_lists(fake)
        test_batch(fake)
        test_orders_and_webhooks(fake)
        test_switches(fake)
    finally:
        fake.close()
    test_oauth()
    test_alone()
    done()


if __name__ == "__main__":
    main()
