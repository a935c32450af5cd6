#!/usr/bin/env python3
"""The fake Shopify Admin API (tests/fakes/shopify_fake.py) proven on its own, over real HTTP
with urllib: auth and scopes, versions and 404s, Link/page_info pagination and its filter rule,
variants and prices (REST and GraphQL), inventory levels (set, adjust, connect, their errors),
the REST leaky bucket, GraphQL inventorySetQuantities (compare-and-set, @idempotent replay,
userErrors, throttling, cost), the webhook signature vector and signed deliveries with retries,
the failure switches, the /_fake/ control endpoints, the bulk seed and the command line.
No assertion is about speed, beyond "Retry-After is at least what the bucket needs"."""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ beside the sources (a srcdir may be read-only)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from omb import check, done  # noqa: E402
from omb_http import FakeServer  # noqa: E402
import shopify_fake as sf  # noqa: E402

TOKEN = sf.DEFAULT_TOKEN
VER = "2025-01"
OFFSET_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


def call(fake, method, path, body=None, token=TOKEN, ctype="application/json", version=VER,
         headers=None, raw_url=None, timeout=30):
    """(status, {lowercase header: value}, parsed JSON or raw bytes)."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    url = raw_url or f"{fake.url}/admin/api/{version}/{path}"
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("X-Shopify-Access-Token", token)
    if data is not None and ctype:
        req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        r = urllib.request.urlopen(req, timeout=timeout)
        status, h, out = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, h, out = e.code, e.headers, e.read()
    hd = {k.lower(): v for k, v in h.items()}
    try:
        out = json.loads(out) if out else None
    except ValueError:
        pass
    return status, hd, out


def gql(fake, query, variables=None, token=TOKEN, version=VER):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return call(fake, "POST", "graphql.json", body, token=token, version=version)


def links(header):
    """{rel: url} of a Link header."""
    out = {}
    for part in (header or "").split(","):
        m = re.match(r'\s*<([^>]+)>;\s*rel="([a-z]+)"', part)
        if m:
            out[m.group(2)] = m.group(1)
    return out


def page_info(url):
    return re.search(r"[?&]page_info=([^&]+)", url).group(1)


SET_MUTATION = """
mutation SetQty($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) @idempotent(key: "%s") {
    inventoryAdjustmentGroup { id reason referenceDocumentUri
      changes { name delta quantityAfterChange item { id sku } location { id } } }
    userErrors { code field message }
  }
}"""

SET_NO_KEY = """
mutation SetQty($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}"""


def set_input(quantities, name="available", **extra):
    d = {"name": name, "reason": "correction", "referenceDocumentUri": "gid://our-esb/SyncJob/42",
         "quantities": quantities}
    d.update(extra)
    return {"input": d}


def q(item, loc, quantity, compare=None, **extra):
    d = {"inventoryItemId": sf.gid("InventoryItem", item), "locationId": sf.gid("Location", loc),
         "quantity": quantity}
    if compare is not None:
        d["compareQuantity"] = compare
    d.update(extra)
    return d


def seed(fake):
    waw = fake.add_location("WAW01")
    krk = fake.add_location("KRK02")
    fake.add_product("Koszulka bawełniana", [
        {"sku": "OB-1000-S", "price": "59.99", "available": {waw: 5, krk: 2}},
        {"sku": "OB-1000-M", "price": 39.9, "available": {waw: 1}}])
    fake.add_product("Bluza z kapturem", [{"sku": "OB-1001-S", "price": "249.99",
                                           "available": {waw: 10}}])
    fake.add_product("Karta podarunkowa", [{"sku": "GIFT-1", "price": "100.00",
                                            "tracked": False}])
    return waw, krk


# ---------------------------------------------------------------------------------------------

def test_auth_versions_404(fake):
    st, h, out = call(fake, "GET", "shop.json", token=None)
    check(st == 401 and out == {"errors": sf.MSG_401}, f"no token: {st} {out}")
    check(out == {"errors": "[API] Invalid API key or access token (unrecognized login or "
                            "wrong password)"}, "the documented 401 text")
    st, _, out = call(fake, "GET", "shop.json", token="shpat_wrong")
    check(st == 401 and out == {"errors": sf.MSG_401}, f"wrong token: {st} {out}")
    st, h, out = call(fake, "GET", "shop.json")
    check(st == 200 and out["shop"]["myshopify_domain"] == sf.DEFAULT_SHOP, f"shop: {st} {out}")
    check(h.get("x-shopify-api-version") == VER, f"version echoed: {h}")
    rid1 = h.get("x-request-id")
    st, h2, _ = call(fake, "GET", "shop.json", version="2026-01")
    check(st == 200 and h2.get("x-shopify-api-version") == "2026-01", f"2026-01: {st} {h2}")
    check(rid1 and h2.get("x-request-id") and rid1 != h2.get("x-request-id"),
          f"X-Request-Id on every answer, unique: {rid1} {h2.get('x-request-id')}")
    for bad in ("2025-13", "25-01", "latest", "2025-1"):
        st, h, out = call(fake, "GET", "shop.json", version=bad)
        check(st == 404 and out == {"errors": "Not Found"} and "x-request-id" in h,
              f"malformed version {bad}: {st} {out}")
    st, _, out = call(fake, "GET", "nothing_here.json")
    check(st == 404 and out == {"errors": "Not Found"}, f"unknown path: {st} {out}")
    st, _, out = call(fake, "GET", "variants/1.json")
    check(st == 404 and out == {"errors": "Not Found"}, f"unknown variant: {st} {out}")
    st, _, out = call(fake, "GET", "", raw_url=fake.url + "/admin/products.json")
    check(st == 404, f"no version in the path: {st} {out}")


def test_scopes(fake, waw):
    fake.add_token("shpat_readonly", scopes=("read_products", "read_inventory",
                                             "read_locations"))
    item = fake.item_id_by_sku("OB-1000-S")
    st, _, out = call(fake, "POST", "inventory_levels/set.json",
                      {"inventory_item_id": item, "location_id": waw, "available": 3},
                      token="shpat_readonly")
    check(st == 403 and out == {"errors": "[API] This action requires merchant approval for "
                                          "write_inventory scope."}, f"403 set: {st} {out}")
    check(fake.level(item, waw) == 5, "a 403 changes nothing")
    vid = fake.variant_id_by_sku("OB-1000-S")
    st, _, out = call(fake, "PUT", f"variants/{vid}.json",
                      {"variant": {"id": vid, "price": "1.00"}}, token="shpat_readonly")
    check(st == 403 and out == {"errors": "[API] This action requires merchant approval for "
                                          "write_products scope."}, f"403 price: {st} {out}")
    st, _, out = call(fake, "GET", f"variants/{vid}.json", token="shpat_readonly")
    check(st == 200, f"the read scope reads: {st}")
    fake.add_token("shpat_inventory_only", scopes=("write_inventory",))
    st, _, out = call(fake, "GET", f"inventory_levels.json?inventory_item_ids={item}",
                      token="shpat_inventory_only")
    check(st == 200, f"write_inventory implies read_inventory: {st} {out}")
    st, _, out = call(fake, "GET", "products.json", token="shpat_inventory_only")
    check(st == 403 and "read_products" in out["errors"], f"403 products: {st} {out}")
    # GraphQL: ACCESS_DENIED inside a 200, no change.
    st, _, out = gql(fake, SET_MUTATION % "scope-1", set_input([q(item, waw, 1, 5)]),
                     token="shpat_readonly")
    err = (out.get("errors") or [{}])[0]
    check(st == 200 and err.get("extensions", {}).get("code") == "ACCESS_DENIED"
          and "write_inventory" in err.get("message", "")
          and out.get("data", {}).get("inventorySetQuantities") is None,
          f"GraphQL ACCESS_DENIED: {st} {out}")
    check(fake.level(item, waw) == 5, "ACCESS_DENIED changes nothing")
    fake.remove_token("shpat_readonly")
    st, _, _ = call(fake, "GET", "shop.json", token="shpat_readonly")
    check(st == 401, f"a removed token (uninstalled app): {st}")


def test_content_type(fake, waw):
    item = fake.item_id_by_sku("OB-1000-S")
    body = json.dumps({"inventory_item_id": item, "location_id": waw, "available": 3}).encode()
    st, _, out = call(fake, "POST", "inventory_levels/set.json", body,
                      ctype="application/x-www-form-urlencoded")
    check(st == 400 and out == {"errors": {"inventory_item_id":
                                           "Required parameter missing or invalid"}},
          f"not JSON content type: {st} {out}")
    st, _, out = call(fake, "POST", "inventory_levels/set.json", body, ctype=None)
    check(st == 400, f"no content type: {st} {out}")
    st, _, out = call(fake, "POST", "inventory_levels/set.json", b"{not json")
    check(st == 400 and "errors" in out, f"bad JSON: {st} {out}")
    vid = fake.variant_id_by_sku("OB-1000-S")
    st, _, out = call(fake, "PUT", f"variants/{vid}.json", {"price": "1.00"})
    check(st == 400 and out == {"errors": {"variant": "Required parameter missing or invalid"}},
          f"no variant root: {st} {out}")
    check(fake.level(item, waw) == 5 and fake.price_by_sku("OB-1000-S") == "59.99",
          "400s change nothing")
    st, _, out = call(fake, "POST", "graphql.json", b"{}", ctype="text/plain")
    check(st == 400 and out == {"errors": {"query": "Required parameter missing or invalid"}},
          f"GraphQL without a query: {st} {out}")
    st, _, out = call(fake, "POST", "graphql.json", b"{ shop { name } }",
                      ctype="application/graphql")
    check(st == 200 and out.get("data", {}).get("shop", {}).get("name"),
          f"application/graphql body: {st} {out}")


def test_pagination(fake):
    base = len(fake.products)
    for i in range(7 - base):
        fake.add_product(f"Pager {i}", [{"sku": f"PG-{i}", "price": "1.00"}])
    all_ids = sorted(fake.products)
    check(len(all_ids) == 7, f"7 products seeded: {len(all_ids)}")
    st, h, out = call(fake, "GET", "products.json?limit=3&fields=id,title&status=active")
    check(st == 200 and len(out["products"]) == 3, f"page 1: {st} {out}")
    check(set(out["products"][0]) == {"id", "title"}, f"fields: {out['products'][0]}")
    l1 = links(h.get("link"))
    check(set(l1) == {"next"}, f"page 1 links: {h.get('link')}")
    check(l1.get("next", "").startswith(f"{fake.url}/admin/api/{VER}/products.json?"),
          f"the link points at the fake: {l1}")
    check("limit=3" in l1.get("next", "") and "status" not in l1.get("next", ""),
          f"the link keeps limit, not the filters: {l1}")
    got = [p["id"] for p in out["products"]]
    # The next link as it is (a client following Link verbatim).
    st, h, out = call(fake, "GET", "", raw_url=l1["next"])
    l2 = links(h.get("link"))
    check(st == 200 and len(out["products"]) == 3 and set(l2) == {"next", "previous"},
          f"page 2: {st} {h.get('link')}")
    got += [p["id"] for p in out["products"]]
    # page 3 rebuilt from page_info alone (as the Ruby client does).
    st, h, out = call(fake, "GET", f"products.json?limit=3&page_info={page_info(l2['next'])}")
    l3 = links(h.get("link"))
    check(st == 200 and len(out["products"]) == 1 and set(l3) == {"previous"},
          f"page 3, the last: {st} {out} {h.get('link')}")
    got += [p["id"] for p in out["products"]]
    check(got == all_ids, f"3 pages, every product once, in id order: {got} {all_ids}")
    st, h, out = call(fake, "GET", "", raw_url=l3["previous"])
    check(st == 200 and [p["id"] for p in out["products"]] == all_ids[3:6],
          f"previous of page 3 is page 2: {[p['id'] for p in out['products']]}")
    # The filter rule: with page_info only limit and fields.
    st, _, out = call(fake, "GET", f"products.json?page_info={page_info(l1['next'])}"
                                   "&status=active")
    check(st == 400 and "status cannot be passed when page_info is present" in
          json.dumps(out), f"page_info + status: {st} {out}")
    st, _, out = call(fake, "GET", f"products.json?page_info={page_info(l1['next'])}"
                                   "&limit=2&fields=id")
    check(st == 200 and len(out["products"]) == 2 and set(out["products"][0]) == {"id"},
          f"page_info + limit + fields: {st} {out}")
    st, _, out = call(fake, "GET", "products.json?page=2")
    check(st == 400 and "page" in out["errors"], f"page= rejected: {st} {out}")
    st, _, out = call(fake, "GET", "products.json?page_info=garbage")
    check(st == 400 and out == {"errors": {"page_info": "Invalid value."}},
          f"bad page_info: {st} {out}")
    # The filters of the first request stay in force on the later pages.
    st, h, out = call(fake, "GET", f"products.json?limit=2&since_id={all_ids[2]}")
    ids = [p["id"] for p in out["products"]]
    st, h, out = call(fake, "GET", f"products.json?limit=2&page_info="
                                   f"{page_info(links(h.get('link'))['next'])}")
    ids += [p["id"] for p in out["products"]]
    check(ids == all_ids[3:7], f"since_id carried in page_info: {ids}")
    st, h, out = call(fake, "GET", "products.json")
    check(len(out["products"]) == 7 and "link" not in h, f"one page: no Link: {h.get('link')}")
    st, _, out = call(fake, "GET", "products.json?limit=300")
    check(st == 200 and len(out["products"]) == 7, f"limit above 250: {st}")
    # The page-boundary switch: whatever limit the client asks.
    fake.set_page_size(3)
    st, h, out = call(fake, "GET", "products.json?limit=250")
    check(len(out["products"]) == 3 and "next" in links(h.get("link")),
          f"set_page_size(3): {len(out['products'])} {h.get('link')}")
    fake.set_page_size(None)
    st, _, out = call(fake, "GET", "products/count.json")
    check(st == 200 and out == {"count": 7}, f"count: {out}")


def test_variants_prices(fake):
    vid = fake.variant_id_by_sku("OB-1000-S")
    st, h, out = call(fake, "GET", f"variants/{vid}.json")
    v = out["variant"]
    check(st == 200 and v["price"] == "59.99" and isinstance(v["price"], str),
          f"price a string: {v}")
    check(v["sku"] == "OB-1000-S" and v["inventory_item_id"] == fake.item_id_by_sku("OB-1000-S")
          and v["inventory_quantity"] == 7 and v["product_id"] in fake.products,
          f"variant fields: {v}")
    check(fake.variant_by_sku("OB-1000-M")["price"] == "39.90", "a number seeds as 39.90")
    check(h.get("x-shopify-api-deprecated-reason"), f"GET variant deprecated: {h}")
    st, h, out = call(fake, "PUT", f"variants/{vid}.json",
                      {"variant": {"id": vid, "price": "54.99", "inventory_quantity": 999}})
    check(st == 200 and out["variant"]["price"] == "54.99", f"PUT price: {st} {out}")
    check(h.get("x-shopify-api-deprecated-reason", "").startswith("https://"),
          f"PUT deprecated reason: {h}")
    check(fake.price_by_sku("OB-1000-S") == "54.99", "price_by_sku after PUT")
    check(out["variant"]["inventory_quantity"] == 7, "inventory_quantity is read-only")
    st, _, out = call(fake, "PUT", f"variants/{vid}.json", {"variant": {"id": vid, "price": 60}})
    check(st == 200 and out["variant"]["price"] == "60.00", f"a number price: {out}")
    st, _, out = call(fake, "PUT", f"variants/{vid}.json",
                      {"variant": {"id": vid, "price": "-1.00"}})
    check(st == 422 and "price" in out["errors"], f"negative price: {st} {out}")
    st, _, out = call(fake, "PUT", f"variants/{vid}.json",
                      {"variant": {"id": vid, "price": "abc"}})
    check(st == 422 and "price" in out["errors"], f"non-numeric price: {st} {out}")
    check(fake.price_by_sku("OB-1000-S") == "60.00", "422s change nothing")
    check([c["after"] for c in fake.changes(sku="OB-1000-S", kind="price")] ==
          ["54.99", "60.00"], f"change log: {fake.changes(sku='OB-1000-S', kind='price')}")
    st, _, out = call(fake, "GET", f"products/{v['product_id']}/variants.json")
    check(st == 200 and len(out["variants"]) == 2, f"product variants: {st}")
    st, _, out = call(fake, "PUT", "variants/1.json", {"variant": {"price": "1.00"}})
    check(st == 404, f"PUT unknown variant: {st}")

    # GraphQL: productVariantsBulkUpdate.
    pid = v["product_id"]
    mut = """mutation P($pid: ID!, $vs: [ProductVariantsBulkInput!]!) {
      productVariantsBulkUpdate(productId: $pid, variants: $vs) {
        product { id } productVariants { id sku price } userErrors { code field message } } }"""
    st, _, out = gql(fake, mut, {"pid": sf.gid("Product", pid), "vs": [
        {"id": sf.gid("ProductVariant", vid), "price": "49.99"}]})
    pv = out.get("data", {}).get("productVariantsBulkUpdate") or {}
    check(st == 200 and pv.get("userErrors") == [] and
          pv.get("productVariants") == [{"id": sf.gid("ProductVariant", vid),
                                         "sku": "OB-1000-S", "price": "49.99"}],
          f"productVariantsBulkUpdate: {out}")
    check(fake.price_by_sku("OB-1000-S") == "49.99", "price_by_sku after GraphQL")
    other = fake.variant_id_by_sku("OB-1001-S")
    st, _, out = gql(fake, mut, {"pid": sf.gid("Product", pid), "vs": [
        {"id": sf.gid("ProductVariant", vid), "price": "1.00"},
        {"id": sf.gid("ProductVariant", other), "price": "2.00"}]})
    pv = out["data"]["productVariantsBulkUpdate"]
    check(pv["userErrors"] and pv["userErrors"][0]["code"] == "PRODUCT_VARIANT_DOES_NOT_EXIST"
          and pv["userErrors"][0]["field"] == ["variants", "1", "id"],
          f"a variant of another product: {pv}")
    check(fake.price_by_sku("OB-1000-S") == "49.99" and
          fake.price_by_sku("OB-1001-S") == "249.99", "all or nothing")
    st, _, out = gql(fake, mut, {"pid": "gid://shopify/Product/1", "vs": []})
    check(out["data"]["productVariantsBulkUpdate"]["userErrors"][0]["code"] ==
          "PRODUCT_DOES_NOT_EXIST", f"unknown product: {out}")
    # The drift switch: someone else changed it; the client sees it on its next read.
    fake.drift(sku="OB-1000-S", price="45.00")
    st, _, out = call(fake, "GET", f"variants/{vid}.json")
    check(out["variant"]["price"] == "45.00", f"drift visible: {out['variant']['price']}")
    check(fake.changes(sku="OB-1000-S", via="drift")[-1]["after"] == "45.00", "drift logged")


def test_levels(fake, waw, krk):
    s, m = fake.item_id_by_sku("OB-1000-S"), fake.item_id_by_sku("OB-1000-M")
    gift = fake.item_id_by_sku("GIFT-1")
    st, _, out = call(fake, "GET", "locations.json")
    check(st == 200 and [loc["id"] for loc in out["locations"]] == [waw, krk]
          and out["locations"][0]["name"] == "WAW01", f"locations: {out}")
    st, _, out = call(fake, "GET", f"inventory_levels.json?inventory_item_ids={s},{m}"
                                   f"&location_ids={waw}")
    lv = {x["inventory_item_id"]: x for x in out.get("inventory_levels", [])}
    check(st == 200 and lv.get(s, {}).get("available") == 5 and lv.get(m, {}).get("available") == 1
          and len(lv) == 2, f"GET levels: {st} {out}")
    first = lv.get(s, {})
    check(OFFSET_TIME.match(first.get("updated_at", "")) and
          first.get("admin_graphql_api_id") ==
          f"gid://shopify/InventoryLevel/{waw}?inventory_item_id={s}",
          f"level fields: {first}")
    ids = ",".join(str(i) for i in range(1, 52))
    st, _, out = call(fake, "GET", f"inventory_levels.json?inventory_item_ids={ids}")
    check(st == 422, f"51 ids: {st} {out}")
    st, _, out = call(fake, "GET", "inventory_levels.json?inventory_item_ids=" +
                      ",".join(str(i) for i in range(1, 51)))
    check(st == 200, f"50 ids: {st}")
    st, _, out = call(fake, "GET", "inventory_levels.json")
    check(st == 422, f"neither list: {st} {out}")
    # set: absolute, auto-connects, 404 unknown location, 422 untracked.
    st, h, out = call(fake, "POST", "inventory_levels/set.json",
                      {"location_id": waw, "inventory_item_id": s, "available": 8})
    il = out.get("inventory_level", {})
    check(st == 200 and il.get("available") == 8 and il.get("location_id") == waw and
          OFFSET_TIME.match(il.get("updated_at", "")) and fake.level(s, waw) == 8,
          f"set: {st} {out}")
    check(il.get("updated_at", "").endswith("+01:00"), f"the shop's offset: {il}")
    st, _, out = call(fake, "POST", "inventory_levels/set.json",
                      {"location_id": waw, "inventory_item_id": s, "available": 8})
    check(st == 200 and fake.level(s, waw) == 8, "set twice: the same level (idempotent)")
    check(fake.level(m, krk) is None, "OB-1000-M not stocked at KRK02 yet")
    st, _, out = call(fake, "POST", "inventory_levels/set.json",
                      {"location_id": krk, "inventory_item_id": m, "available": 4})
    check(st == 200 and fake.level(m, krk) == 4, f"set auto-connects: {st} {out}")
    st, _, out = call(fake, "POST", "inventory_levels/set.json",
                      {"location_id": 999, "inventory_item_id": s, "available": 1})
    check(st == 404 and out == {"errors": "Not Found"}, f"unknown location: {st} {out}")
    st, _, out = call(fake, "POST", "inventory_levels/set.json",
                      {"location_id": waw, "inventory_item_id": gift, "available": 1})
    check(st == 422 and isinstance(out["errors"], list), f"untracked item: {st} {out}")
    st, _, out = call(fake, "POST", "inventory_levels/set.json",
                      {"location_id": waw, "inventory_item_id": s})
    check(st == 400 and out == {"errors": {"available": "Required parameter missing or "
                                                        "invalid"}}, f"no available: {out}")
    # adjust: a delta; not connected: 422.
    st, _, out = call(fake, "POST", "inventory_levels/adjust.json",
                      {"location_id": waw, "inventory_item_id": s, "available_adjustment": 3})
    check(st == 200 and out["inventory_level"]["available"] == 11 and fake.level(s, waw) == 11,
          f"adjust +3: {st} {out}")
    st, _, out = call(fake, "POST", "inventory_levels/adjust.json",
                      {"location_id": waw, "inventory_item_id": s, "available_adjustment": -2})
    check(st == 200 and fake.level(s, waw) == 9, f"adjust -2: {fake.level(s, waw)}")
    b1001 = fake.item_id_by_sku("OB-1001-S")
    st, _, out = call(fake, "POST", "inventory_levels/adjust.json",
                      {"location_id": krk, "inventory_item_id": b1001,
                       "available_adjustment": 1})
    check(st == 422 and fake.level(b1001, krk) is None, f"adjust not stocked: {st} {out}")
    st, _, out = call(fake, "POST", "inventory_levels/adjust.json",
                      {"location_id": 999, "inventory_item_id": s, "available_adjustment": 1})
    check(st == 404, f"adjust unknown location: {st}")
    # connect: 201, available 0; already connected: unchanged.
    st, _, out = call(fake, "POST", "inventory_levels/connect.json",
                      {"location_id": krk, "inventory_item_id": b1001})
    check(st == 201 and out["inventory_level"]["available"] == 0 and
          fake.level(b1001, krk) == 0, f"connect: {st} {out}")
    st, _, out = call(fake, "POST", "inventory_levels/connect.json",
                      {"location_id": waw, "inventory_item_id": b1001})
    check(st == 201 and fake.level(b1001, waw) == 10, f"connect a connected pair: {out}")
    st, _, out = call(fake, "POST", "inventory_levels/connect.json",
                      {"location_id": 999, "inventory_item_id": b1001})
    check(st == 404, f"connect unknown location: {st}")
    # A fulfillment-service location: the documented 422, and disconnect_if_necessary.
    fs = fake.add_location("Fulfillment Co", fulfillment_service=True)
    st, _, out = call(fake, "POST", "inventory_levels/set.json",
                      {"location_id": fs, "inventory_item_id": s, "available": 1})
    check(st == 422 and out == {"errors": [sf.ShopifyFake.FS_CONFLICT]},
          f"fulfillment service conflict: {st} {out}")
    st, _, out = call(fake, "POST", "inventory_levels/set.json",
                      {"location_id": fs, "inventory_item_id": s, "available": 1,
                       "disconnect_if_necessary": True})
    check(st == 200 and fake.level(s, fs) == 1 and fake.level(s, waw) is None,
          f"disconnect_if_necessary: {st} {out} {fake.level(s, waw)}")
    st, _, out = call(fake, "DELETE", f"inventory_levels.json?inventory_item_id={s}"
                                      f"&location_id={fs}")
    check(st == 204 and fake.level(s, fs) is None, f"DELETE level: {st}")
    fake.set_level(s, waw, 5)
    fake.set_level(s, krk, 2)
    st, _, out = call(fake, "GET", f"inventory_items/{s}.json")
    check(st == 200 and out["inventory_item"]["sku"] == "OB-1000-S" and
          out["inventory_item"]["tracked"] is True, f"inventory item: {out}")
    check(fake.level_by_sku("OB-1000-S", waw) == 5, "level_by_sku")
    # Pages of levels, by Link as well.
    fake.set_page_size(2)
    st, h, out = call(fake, "GET", f"inventory_levels.json?location_ids={waw},{krk}")
    seen = [(x["inventory_item_id"], x["location_id"]) for x in out["inventory_levels"]]
    while "next" in links(h.get("link")):
        st, h, out = call(fake, "GET", "", raw_url=links(h.get("link"))["next"])
        seen += [(x["inventory_item_id"], x["location_id"]) for x in out["inventory_levels"]]
    want = sorted(k for k in fake.levels if k[1] in (waw, krk))
    check(sorted(seen) == want and len(seen) == len(set(seen)),
          f"levels paged by Link: {seen} {want}")
    fake.set_page_size(None)


def test_bucket():
    fake = sf.ShopifyFake().start()     # Shopify's default: 40, leaking 2/s
    try:
        seed(fake)
        statuses, limits, ra, body, used_at_429 = [], [], None, None, None
        for i in range(80):
            st, h, out = call(fake, "GET", "shop.json")
            statuses.append(st)
            if st == 429:
                ra, body, used_at_429 = h.get("retry-after"), out, \
                    h.get("x-shopify-shop-api-call-limit")
                break
            limits.append(int(h["x-shopify-shop-api-call-limit"].split("/")[0]))
            check(h["x-shopify-shop-api-call-limit"].endswith("/40"), f"header: {h}")
        check(429 in statuses and statuses.count(200) >= 40,
              f"41 quick requests: a 429 after at least 40: {statuses}")
        check(limits[:3] == [1, 2, 3] and all(b >= a - 1 for a, b in zip(limits, limits[1:])),
              f"the header counts up: {limits}")
        check(max(limits) >= 39, f"the bucket filled: {limits}")
        check(body == {"errors": "Exceeded 2 calls per second for api client. Reduce request "
                                 "rates to resume uninterrupted service."}, f"429 body: {body}")
        check(used_at_429 == "40/40", f"429 header: {used_at_429}")
        check(ra is not None and float(ra) >= 1 / 2.0 and ra == "2.0",
              f"Retry-After at least what the bucket needs (0.5 s): {ra}")
        time.sleep(float(ra or 2))
        st, h, _ = call(fake, "GET", "shop.json")
        check(st == 200, f"after Retry-After: {st}")
        # Another token has a bucket of its own.
        fake.add_token("shpat_other")
        fake.set_bucket(used=40)
        st, _, _ = call(fake, "GET", "shop.json", token="shpat_other")
        check(st == 200, f"per-token buckets: {st}")
        # A tiny, slow bucket: Retry-After says how long it really needs.
        fake.set_bucket(bucket=2, leak=0.25, used=0)
        sts = [call(fake, "GET", "shop.json")[0] for _ in range(2)]
        st, h, out = call(fake, "GET", "shop.json")
        check(sts == [200, 200] and st == 429, f"tiny bucket: {sts} {st}")
        check(float(h.get("retry-after", 0)) >= (2 + 1 - 2) / 0.25 - 0.05,
              f"Retry-After >= 4 s for leak 0.25/s: {h.get('retry-after')}")
        check(h.get("x-shopify-shop-api-call-limit") == "2/2", f"{h}")
        # GraphQL does not use the REST bucket (it has its own, cost based).
        st, _, out = gql(fake, "{ shop { name } }")
        check(st == 200 and out.get("data"), f"GraphQL while REST is full: {st} {out}")
    finally:
        fake.close()


def test_graphql_set(fake, waw, krk):
    s, m = fake.item_id_by_sku("OB-1000-S"), fake.item_id_by_sku("OB-1000-M")
    fake.set_level(s, waw, 5)
    fake.set_level(m, waw, 1)
    # compare-and-set with an idempotency key.
    inp = set_input([q(s, waw, 9, 5), q(m, waw, 3, 1)])
    st, _, out = gql(fake, SET_MUTATION % "esb-42-a", inp)
    r1 = out.get("data", {}).get("inventorySetQuantities") or {}
    grp = r1.get("inventoryAdjustmentGroup") or {}
    check(st == 200 and r1.get("userErrors") == [] and grp.get("reason") == "correction"
          and grp.get("referenceDocumentUri") == "gid://our-esb/SyncJob/42",
          f"inventorySetQuantities: {out}")
    ch = {(c["name"], c["item"]["sku"]): c for c in grp.get("changes", [])}
    check(ch.get(("available", "OB-1000-S"), {}).get("delta") == 4 and
          ch.get(("available", "OB-1000-S"), {}).get("quantityAfterChange") == 9 and
          ch.get(("on_hand", "OB-1000-M"), {}).get("quantityAfterChange") == 3,
          f"changes: {grp.get('changes')}")
    check(fake.level(s, waw) == 9 and fake.level(m, waw) == 3, "levels after the mutation")
    cost = out.get("extensions", {}).get("cost", {})
    ts = cost.get("throttleStatus", {})
    check(cost.get("requestedQueryCost") == 10 and ts.get("maximumAvailable") == 1000.0 and
          ts.get("restoreRate") == 100.0 and ts.get("currentlyAvailable", 1000) < 1000,
          f"extensions.cost: {cost}")
    # The same key and input: the same answer, no second change, even after a drift.
    fake.drift(sku="OB-1000-S", available={waw: 2})
    st, _, out2 = gql(fake, SET_MUTATION % "esb-42-a", inp)
    check(out2.get("data") == out.get("data"), f"replay: the same result: {out2} {out}")
    check(fake.level(s, waw) == 2, f"replay: no second change: {fake.level(s, waw)}")
    check(len(fake.changes(sku="OB-1000-S", via="graphql inventorySetQuantities")) == 1,
          f"one change in the log: {fake.changes(sku='OB-1000-S')}")
    # The same key with other input.
    st, _, out = gql(fake, SET_MUTATION % "esb-42-a", set_input([q(s, waw, 7, 2)]))
    ue = out["data"]["inventorySetQuantities"]["userErrors"]
    check(ue and ue[0]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH" and
          fake.level(s, waw) == 2, f"key reuse with other input: {out}")
    # compareQuantity mismatch: COMPARE_QUANTITY_STALE, nothing changes (m neither).
    st, _, out = gql(fake, SET_MUTATION % "esb-43", set_input([q(m, waw, 8, 3), q(s, waw, 7, 5)]))
    r = out["data"]["inventorySetQuantities"]
    check(r["inventoryAdjustmentGroup"] is None and len(r["userErrors"]) == 1 and
          r["userErrors"][0]["code"] == "COMPARE_QUANTITY_STALE" and
          r["userErrors"][0]["field"] == ["input", "quantities", "1", "compareQuantity"],
          f"compareQuantity mismatch: {r}")
    check(fake.level(s, waw) == 2 and fake.level(m, waw) == 3, "a userError: all or nothing")
    # No compareQuantity: required unless ignoreCompareQuantity (before 2026-04).
    st, _, out = gql(fake, SET_MUTATION % "esb-44", set_input([q(s, waw, 7)]))
    check(out["data"]["inventorySetQuantities"]["userErrors"][0]["code"] ==
          "COMPARE_QUANTITY_REQUIRED", f"no compareQuantity: {out}")
    st, _, out = gql(fake, SET_MUTATION % "esb-45",
                     set_input([q(s, waw, 7)], ignoreCompareQuantity=True))
    check(out["data"]["inventorySetQuantities"]["userErrors"] == [] and fake.level(s, waw) == 7,
          f"ignoreCompareQuantity: {out}")
    st, _, out = gql(fake, SET_MUTATION % "esb-46",
                     set_input([q(s, waw, 6, changeFromQuantity=9)]), version="2026-01")
    check(out["data"]["inventorySetQuantities"]["userErrors"][0]["code"] ==
          "CHANGE_FROM_QUANTITY_STALE", f"changeFromQuantity stale: {out}")
    # on_hand = available + committed.
    fake.set_level(m, waw, 3, committed=2)
    st, _, out = gql(fake, SET_MUTATION % "esb-47", set_input([q(m, waw, 10, 5)], name="on_hand"))
    check(out["data"]["inventorySetQuantities"]["userErrors"] == [] and fake.level(m, waw) == 8,
          f"on_hand 10 with 2 committed: available 8: {out} {fake.level(m, waw)}")
    fake.set_level(m, waw, 3, committed=0)
    # A bad gid, an unknown item, a location where it is not stocked, an untracked item.
    st, _, out = gql(fake, SET_MUTATION % "esb-48", set_input([{
        "inventoryItemId": "gid://shopify/InventoryItem/999", "locationId":
        sf.gid("Location", waw), "quantity": 1, "compareQuantity": 0}]))
    ue = out["data"]["inventorySetQuantities"]["userErrors"]
    check(ue and ue[0]["code"] == "INVALID_INVENTORY_ITEM" and
          ue[0]["field"] == ["input", "quantities", "0", "inventoryItemId"],
          f"unknown item gid: {out}")
    st, _, out = gql(fake, SET_MUTATION % "esb-49", set_input([{
        "inventoryItemId": "111", "locationId": sf.gid("Location", waw), "quantity": 1,
        "compareQuantity": 0}]))
    check(out.get("errors") and "Invalid global id" in out["errors"][0]["message"],
          f"malformed gid: a GraphQL error: {out}")
    b1001 = fake.item_id_by_sku("OB-1001-S")
    fake.levels.pop((b1001, krk), None)
    st, _, out = gql(fake, SET_MUTATION % "esb-50", set_input([q(b1001, krk, 1, 0)]))
    check(out["data"]["inventorySetQuantities"]["userErrors"][0]["code"] ==
          "ITEM_NOT_STOCKED_AT_LOCATION", f"not stocked (GraphQL does not connect): {out}")
    st, _, out = gql(fake, SET_MUTATION % "esb-51",
                     set_input([q(s, 999, 1, 0)]))
    check(out["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "INVALID_LOCATION",
          f"unknown location: {out}")
    st, _, out = gql(fake, SET_MUTATION % "esb-52", set_input([q(s, waw, 1, 7)], reason="bogus"))
    check(out["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "INVALID_REASON",
          f"bad reason: {out}")
    # The switch: a userError for one item.
    fake.graphql_item_error(m, code="NON_MUTABLE_INVENTORY_ITEM", message="Not now.", times=1)
    st, _, out = gql(fake, SET_MUTATION % "esb-53", set_input([q(s, waw, 4, 7), q(m, waw, 4, 3)]))
    ue = out["data"]["inventorySetQuantities"]["userErrors"]
    check(len(ue) == 1 and ue[0]["code"] == "NON_MUTABLE_INVENTORY_ITEM" and
          ue[0]["field"][:3] == ["input", "quantities", "1"] and fake.level(s, waw) == 7,
          f"graphql_item_error: {out}")
    st, _, out = gql(fake, SET_MUTATION % "esb-54", set_input([q(s, waw, 4, 7), q(m, waw, 4, 3)]))
    check(out["data"]["inventorySetQuantities"]["userErrors"] == [] and
          fake.level(m, waw) == 4, f"the switch's times ran out: {out}")
    # 250 quantities at most.
    many = [q(s, waw, 1, 4)] * 251
    st, _, out = gql(fake, SET_MUTATION % "esb-55", set_input(many))
    check(out.get("errors") and out["errors"][0]["extensions"]["code"] ==
          "MAX_INPUT_SIZE_EXCEEDED", f"251 quantities: {str(out)[:300]}")
    # From 2026-04 the key is required.
    st, _, out = gql(fake, SET_NO_KEY, set_input([q(s, waw, 3, 4)]), version="2026-04")
    check(out.get("errors") and "idempotent" in out["errors"][0]["message"] and
          fake.level(s, waw) == 4, f"2026-04 without @idempotent: {out}")
    st, _, out = gql(fake, SET_NO_KEY, set_input([q(s, waw, 3, 4)]), version="2025-10")
    check(out["data"]["inventorySetQuantities"]["userErrors"] == [] and
          fake.level(s, waw) == 3, f"2025-10 without a key: {out}")
    # The directive on the operation, or on a field that does not take it: errors.
    st, _, out = gql(fake, 'mutation M @idempotent(key: "x") { inventorySetQuantities(input: '
                           '{name: "available", reason: "correction", quantities: []}) '
                           '{ userErrors { code } } }')
    check(out.get("errors") and "data" not in out, f"@idempotent on the operation: {out}")
    # Literal input (as in vendor-apis.md), enum-free: the documented example shape.
    lit = ('mutation { inventorySetQuantities(input: {name: "available", reason: "correction", '
           'referenceDocumentUri: "gid://our-esb/SyncJob/42", quantities: [{inventoryItemId: '
           f'"gid://shopify/InventoryItem/{s}", locationId: "gid://shopify/Location/{waw}", '
           'quantity: 5, compareQuantity: 3}]}) @idempotent(key: "esb-42-111-222") '
           '{ inventoryAdjustmentGroup { id } userErrors { code field message } } }')
    st, _, out = gql(fake, lit)
    check(out.get("data", {}).get("inventorySetQuantities", {}).get("userErrors") == [] and
          fake.level(s, waw) == 5, f"the vendor doc's literal mutation: {out}")
    # inventoryAdjustQuantities (deltas) and inventoryActivate.
    adj = """mutation A($input: InventoryAdjustQuantitiesInput!) {
      inventoryAdjustQuantities(input: $input) @idempotent(key: "adj-1") {
        inventoryAdjustmentGroup {
          changes(quantityNames: ["available"]) { delta quantityAfterChange } }
        userErrors { code field message } } }"""
    ainp = {"input": {"name": "available", "reason": "correction", "changes": [
        {"delta": -2, "inventoryItemId": sf.gid("InventoryItem", s),
         "locationId": sf.gid("Location", waw)}]}}
    st, _, out = gql(fake, adj, ainp)
    st, _, out2 = gql(fake, adj, ainp)
    check(out["data"]["inventoryAdjustQuantities"]["inventoryAdjustmentGroup"]["changes"] ==
          [{"delta": -2, "quantityAfterChange": 3}] and out2["data"] == out["data"] and
          fake.level(s, waw) == 3, f"adjust once with a key, replayed: {out} {out2}")
    act = """mutation { inventoryActivate(inventoryItemId: "%s", locationId: "%s") {
      inventoryLevel { id quantities(names: ["available"]) { name quantity } }
      userErrors { field message } } }""" % (sf.gid("InventoryItem", b1001),
                                             sf.gid("Location", krk))
    st, _, out = gql(fake, act)
    check(out["data"]["inventoryActivate"]["userErrors"] == [] and fake.level(b1001, krk) == 0,
          f"inventoryActivate: {out}")


def test_graphql_reads_and_errors(fake, waw, krk):
    query = """query Levels($q: String!, $n: Int!) {
      productVariants(first: $n, query: $q) {
        edges { cursor node { sku price inventoryItem { id
          inventoryLevels(first: 5) { nodes { location { id }
            quantities(names: ["available", "on_hand"]) { name quantity } } } } } }
        pageInfo { hasNextPage endCursor } } }"""
    st, _, out = gql(fake, query, {"q": "sku:OB-1000-S OR sku:OB-1001-S", "n": 10})
    edges = out.get("data", {}).get("productVariants", {}).get("edges", [])
    got = {e["node"]["sku"]: e["node"] for e in edges}
    check(set(got) == {"OB-1000-S", "OB-1001-S"}, f"variants by SKU: {out}")
    lv = {n["location"]["id"]: {x["name"]: x["quantity"] for x in n["quantities"]}
          for n in got.get("OB-1000-S", {}).get("inventoryItem", {})
          .get("inventoryLevels", {}).get("nodes", [])}
    check(lv.get(sf.gid("Location", waw), {}).get("available") ==
          fake.level_by_sku("OB-1000-S", waw) and
          got.get("OB-1001-S", {}).get("price") == fake.price_by_sku("OB-1001-S"),
          f"levels and prices: {lv} {got}")
    # Cursor pages.
    seen, after = [], None
    for _ in range(10):
        args = {"q": "sku:OB-* OR sku:PG-*", "n": 2}
        qq = query.replace("first: $n, query: $q", "first: $n, query: $q, after: $a") \
            .replace("$n: Int!)", "$n: Int!, $a: String)")
        args["a"] = after
        st, _, out = gql(fake, qq, args)
        pv = out["data"]["productVariants"]
        seen += [e["node"]["sku"] for e in pv["edges"]]
        if not pv["pageInfo"]["hasNextPage"]:
            break
        after = pv["pageInfo"]["endCursor"]
    want = sorted((v for v in fake.variants.values() if v["sku"].startswith(("OB-", "PG-"))),
                  key=lambda v: v["id"])
    check(seen == [v["sku"] for v in want], f"cursor pages: {seen}")
    # Aliases, fragments, nodes.
    qn = """query { a: nodes(ids: ["%s", "%s"]) { __typename ...V ... on Location { name } }
      s: shop { myshopifyDomain } }
      fragment V on ProductVariant { sku price }""" % (
        sf.gid("ProductVariant", fake.variant_id_by_sku("OB-1000-M")), sf.gid("Location", krk))
    st, _, out = gql(fake, qn)
    check(out.get("data", {}).get("a") == [
        {"__typename": "ProductVariant", "sku": "OB-1000-M",
         "price": fake.price_by_sku("OB-1000-M")},
        {"__typename": "Location", "name": "KRK02"}] and
        out["data"]["s"]["myshopifyDomain"] == sf.DEFAULT_SHOP, f"nodes and fragments: {out}")
    # Unsupported texts: an errors array, no data.
    for text in ("{ shop { nonsense } }", "{ orders(first: 5) { nodes { id } } }",
                 "{ productVariants { nodes { id } } }", "{ shop { name }",
                 "subscription { shop { name } }",
                 '{ productVariants(first: 5, query: "vendor:x") { nodes { id } } }'):
        st, _, out = gql(fake, text)
        check(st == 200 and isinstance(out.get("errors"), list) and out["errors"] and
              not (out.get("data") or {}).get("productVariants"),
              f"unsupported: {text!r}: {out}")
    st, _, out = gql(fake, "query($x: Int!) { shop { name } }")
    check(out.get("errors"), f"a required variable not given, and unused: {out}")
    # Cost: MAX_COST_EXCEEDED, then THROTTLED with the bucket nearly empty.
    big = ("{ productVariants(first: 250) { nodes { inventoryItem { inventoryLevels(first: 250)"
           " { nodes { id } } } } } }")
    st, _, out = gql(fake, big)
    check(st == 200 and out.get("errors") and out["errors"][0]["extensions"]["code"] ==
          "MAX_COST_EXCEEDED", f"MAX_COST_EXCEEDED: {out}")
    s = fake.item_id_by_sku("OB-1000-S")
    before = fake.level(s, waw)
    fake.set_graphql_bucket(restore=0.001, available=5)
    st, h, out = gql(fake, SET_MUTATION % "thr-1", set_input([q(s, waw, before + 1, before)]))
    check(st == 200 and out.get("errors") == [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
        and "data" not in out, f"THROTTLED: {out}")
    ts = out.get("extensions", {}).get("cost", {}).get("throttleStatus", {})
    check(ts.get("currentlyAvailable") == 5 and ts.get("maximumAvailable") == 1000.0,
          f"throttleStatus when throttled: {ts}")
    check(fake.level(s, waw) == before, "a throttled mutation changes nothing")
    fake.set_graphql_bucket(restore=100.0, available=1000)
    st, _, out = gql(fake, SET_MUTATION % "thr-1", set_input([q(s, waw, before + 1, before)]))
    check(out["data"]["inventorySetQuantities"]["userErrors"] == [] and
          fake.level(s, waw) == before + 1, f"the same key after throttling runs: {out}")


def test_webhooks(fake, waw, krk):
    vector = b'{"inventory_item_id":111,"location_id":222,"available":5}'
    check(sf.signature("test_secret", vector) ==
          "EUhB2qAsur6nP/U5HnbZMqKE76kwYMmFhlprtMu0Czc=", "the vendor test vector")
    rx = FakeServer()
    try:
        rx.script("/hooks/shop", [(200, {}, b"ok")])
        url = f"http://127.0.0.1:{rx.port}/hooks/shop"
        s = fake.item_id_by_sku("OB-1000-S")
        payload = fake.inventory_level_payload(s, waw)
        check(set(payload) == {"inventory_item_id", "location_id", "available", "updated_at",
                               "admin_graphql_api_id"} and payload["available"] ==
              fake.level(s, waw) and OFFSET_TIME.match(payload["updated_at"]),
              f"inventory_levels/update payload: {payload}")
        d = fake.send_webhook(url, "inventory_levels/update", payload, "test_secret")
        got = rx.seen("/hooks/shop")
        check(d["ok"] and d["status"] == 200 and len(got) == 1, f"delivered: {d['attempts']}")
        r = got[0] if got else {"headers": {}, "body": b""}
        h = r["headers"]
        mac = base64.b64encode(hmac.new(b"test_secret", r["body"], hashlib.sha256).digest())
        check(h.get("x-shopify-hmac-sha256") == mac.decode(),
              f"the receiver verifies the HMAC of the raw body: {h}")
        check(json.loads(r["body"]) == payload, "the body is the payload")
        for k in ("x-shopify-topic", "x-shopify-shop-domain", "x-shopify-api-version",
                  "x-shopify-webhook-id", "x-shopify-event-id", "x-shopify-triggered-at"):
            check(h.get(k), f"header {k}: {h}")
        check(h.get("x-shopify-topic") == "inventory_levels/update" and
              h.get("x-shopify-shop-domain") == sf.DEFAULT_SHOP and
              h.get("content-type") == "application/json", f"header values: {h}")
        # Retries: the receiver fails twice; the same delivery is repeated byte for byte.
        rx.script("/hooks/retry", [(500, {}, b"no"), (503, {}, b"no"), (200, {}, b"ok")])
        d = fake.deliver(f"http://127.0.0.1:{rx.port}/hooks/retry", "orders/create",
                         {"id": 1}, "test_secret", attempts=5)
        got = rx.seen("/hooks/retry")
        check(d["ok"] and [a["status"] for a in d["attempts"]] == [500, 503, 200] and
              len(got) == 3, f"deliver retries until 2xx: {d['attempts']}")
        check(len({(g["body"], g["headers"]["x-shopify-webhook-id"],
                    g["headers"]["x-shopify-event-id"], g["headers"]["x-shopify-hmac-sha256"],
                    g["headers"]["x-shopify-triggered-at"]) for g in got}) == 1,
              "every retry: the same body, ids, signature and time")
        fake.resend(d)
        check(len(rx.seen("/hooks/retry")) == 4 and
              rx.seen("/hooks/retry")[-1]["body"] == got[0]["body"], "resend()")
        # The same event to a second subscription: a new webhook id, the same event id.
        d2 = fake.send_webhook(url, "orders/create", {"id": 1}, "test_secret",
                               event_id=d["event_id"])
        check(d2["event_id"] == d["event_id"] and d2["webhook_id"] != d["webhook_id"],
              "event id shared, webhook id per delivery")
        d3 = fake.send_webhook(url, "orders/create", {"id": 1}, "wrong", hmac_override="")
        check("x-shopify-hmac-sha256" not in rx.seen("/hooks/shop")[-1]["headers"],
              f"hmac_override='' sends none: {d3['headers']}")
        # A receiver that is not there: no status, an error.
        s_ = socket.socket()
        s_.bind(("127.0.0.1", 0))
        port = s_.getsockname()[1]
        s_.close()
        d4 = fake.send_webhook(f"http://127.0.0.1:{port}/x", "orders/create", {}, "k",
                               timeout=2)
        check(not d4["ok"] and d4["status"] is None and d4["attempts"][0]["error"],
              f"connection refused: {d4['attempts']}")
    finally:
        rx.close()
    # orders/create, with a pickup and with shipping.
    o = fake.order_payload([{"sku": "OB-1000-S", "quantity": 2},
                            {"sku": "OB-1001-S", "quantity": 1, "price": "199.99",
                             "discount": "20.00"}],
                           customer={"email": "anna.kowalska@example.pl", "phone": "+48601234567",
                                     "first_name": "Anna", "last_name": "Kowalska"},
                           pickup_location_id=krk)
    li = o["line_items"]
    p_s = fake.price_by_sku("OB-1000-S")
    check(li[0]["sku"] == "OB-1000-S" and li[0]["quantity"] == 2 and li[0]["price"] == p_s and
          li[0]["variant_id"] == fake.variant_id_by_sku("OB-1000-S") and
          li[1]["price"] == "199.99" and li[1]["discount_allocations"][0]["amount"] == "20.00",
          f"line items: {li}")
    from decimal import Decimal
    want_total = Decimal(p_s) * 2 + Decimal("199.99") - Decimal("20.00")
    check(Decimal(o["total_price"]) == want_total and isinstance(o["total_price"], str) and
          o["total_discounts"] == "20.00", f"totals: {o['total_price']} {want_total}")
    check(o["customer"]["email"] == "anna.kowalska@example.pl" and
          isinstance(o["customer"]["id"], int) and o["email"] == "anna.kowalska@example.pl",
          f"customer: {o.get('customer')}")
    check(o["shipping_lines"][0]["title"] == "KRK02" and "shipping_address" not in o,
          f"pickup: {o['shipping_lines']}")
    st, _, out = call(fake, "GET", f"orders/{o['id']}/fulfillment_orders.json")
    fo = (out or {}).get("fulfillment_orders", [{}])[0]
    check(st == 200 and fo.get("assigned_location_id") == krk and
          fo.get("delivery_method", {}).get("method_type") == "pick_up",
          f"fulfillment order of a pickup: {out}")
    st, _, out = call(fake, "GET", f"orders/{o['id']}.json")
    check(st == 200 and out["order"]["id"] == o["id"], f"GET order: {st}")
    o2 = fake.order_payload([{"sku": "OB-1000-M", "quantity": 1}], shipping_price="15.00")
    check("customer" not in o2 and o2["shipping_address"]["country_code"] == "PL" and
          o2["total_price"] == str(Decimal(fake.price_by_sku("OB-1000-M")) + Decimal("15.00")),
          f"a guest order shipped: {o2['total_price']}")
    pp = fake.product_payload(fake.variant_by_sku("OB-1000-S")["product_id"])
    check(pp["variants"][0]["price"] == fake.price_by_sku("OB-1000-S") and
          isinstance(pp["variants"][0]["price"], str) and "admin_graphql_api_id" in pp,
          f"products/update payload: {pp['variants'][0]}")


def test_switches(fake):
    fake.fail_next(2, 503)
    sts = [call(fake, "GET", "shop.json")[0] for _ in range(3)]
    check(sts == [503, 503, 200], f"fail_next(2, 503): {sts}")
    prefix = f"/admin/api/{VER}/inventory_levels"
    fake.fail_next(1, 500, path=prefix)
    st1, _, _ = call(fake, "GET", "shop.json")
    st2, _, out = call(fake, "GET", "inventory_levels.json?location_ids=1")
    check(st1 == 200 and st2 == 500 and out == {"errors": "Internal Server Error"},
          f"fail_next with a path prefix: {st1} {st2} {out}")
    for status in (401, 402, 403, 502):
        fake.fail_next(1, status)
        st, h, out = call(fake, "GET", "shop.json")
        check(st == status and isinstance(out, dict) and "errors" in out and
              "x-request-id" in h, f"fail_next {status}: {st} {out}")
    fake.fail_next(1, 429)
    st, h, out = call(fake, "GET", "shop.json")
    check(st == 429 and h.get("retry-after") == "2.0" and "Exceeded" in out["errors"],
          f"injected 429: {st} {h} {out}")
    fake.fail_next(1, 429, retry_after="7.5")
    st, h, _ = call(fake, "GET", "shop.json")
    check(h.get("retry-after") == "7.5", f"injected Retry-After: {h}")
    fake.fail_next(1, 502, body="<html><body>502 Bad Gateway</body></html>")
    st, h, out = call(fake, "GET", "shop.json")
    check(st == 502 and h.get("content-type", "").startswith("text/html") and
          isinstance(out, bytes) and b"502" in out, f"an HTML 502: {st} {h} {out}")
    fake.fail_next(1, 503, path="/admin/api/2025-01/graphql")
    st, _, out = gql(fake, "{ shop { name } }")
    check(st == 503, f"fail_next on GraphQL: {st}")
    # hang_next: a client's timeout.
    fake.hang_next(1, 1.5)
    t0 = time.monotonic()
    try:
        call(fake, "GET", "shop.json", timeout=0.3)
        timed_out = False
    except (socket.timeout, TimeoutError, urllib.error.URLError):
        timed_out = True
    check(timed_out, "hang_next: the client times out")
    time.sleep(max(0, 1.6 - (time.monotonic() - t0)))
    st, _, _ = call(fake, "GET", "shop.json")
    check(st == 200, f"after the hang: {st}")
    # Over HTTP: the control endpoints.
    st, _, out = call(fake, "POST", "", {"n": 1, "status": 500}, token=None,
                      raw_url=fake.url + "/_fake/fail_next")
    check(st == 200, f"/_fake/fail_next: {st} {out}")
    st, _, _ = call(fake, "GET", "shop.json")
    check(st == 500, f"the HTTP switch works: {st}")
    st, _, out = call(fake, "POST", "", {"name": "GDA03"}, token=None,
                      raw_url=fake.url + "/_fake/add_location")
    gda = out.get("result")
    check(st == 200 and fake.location_id("GDA03") == gda, f"/_fake/add_location: {out}")
    st, _, out = call(fake, "POST", "", {"title": "HTTP seeded", "variants": [
        {"sku": "HTTP-1", "price": "9.99", "available": {str(gda): 3}}]}, token=None,
        raw_url=fake.url + "/_fake/add_product")
    check(st == 200 and fake.level_by_sku("HTTP-1", gda) == 3, f"/_fake/add_product: {out}")
    st, _, out = call(fake, "POST", "", {"sku": "HTTP-1", "location_id": gda}, token=None,
                      raw_url=fake.url + "/_fake/level_by_sku")
    check(out == {"result": 3}, f"/_fake/level_by_sku: {out}")
    st, _, out = call(fake, "POST", "", {"sku": "HTTP-1", "price": "8.00"}, token=None,
                      raw_url=fake.url + "/_fake/drift")
    check(st == 200 and fake.price_by_sku("HTTP-1") == "8.00", f"/_fake/drift: {out}")
    st, _, out = call(fake, "POST", "", {}, token=None, raw_url=fake.url + "/_fake/counts")
    check(st == 200 and out["result"].get("GET shop", 0) >= 10, f"/_fake/counts: {out}")
    st, _, out = call(fake, "POST", "", {"nope": 1}, token=None,
                      raw_url=fake.url + "/_fake/fail_next")
    check(st == 400, f"/_fake/ with bad arguments: {st} {out}")
    st, _, out = call(fake, "POST", "", {}, token=None, raw_url=fake.url + "/_fake/unknown")
    check(st == 404, f"/_fake/unknown: {st}")


def test_recording(fake):
    n_set = fake.count("POST inventory_levels/set")
    check(n_set >= 5 and n_set == len(fake.requests.where(endpoint="POST inventory_levels/set")),
          f"count(): {n_set}")
    sets = fake.seen(endpoint="POST inventory_levels/set", status=200)
    check(sets and all(r["json"] and "inventory_item_id" in r["json"] for r in sets) and
          all(r["headers"].get("x-shopify-access-token") == TOKEN for r in sets),
          "recorded: json body and headers")
    check(fake.count("graphql inventorySetQuantities") >= 10 and
          len(fake.requests.where(graphql="productVariantsBulkUpdate")) >= 3,
          f"GraphQL counted by root field: {fake.counts()}")
    bugs = [r["path"] for r in fake.requests if r.get("fake_bug")]
    check(not bugs, f"no request hit a bug of the fake: {bugs}")


def test_bulk_and_big_ids():
    fake = sf.ShopifyFake(bucket=1000, leak=1000, big_ids=True).start()
    try:
        waw = fake.add_location("WAW01")
        wh = fake.add_location("WH1")
        skus = fake.add_bulk(10000, price="19.99", available=7)
        check(len(skus) == 10000 and len(fake.variants) == 10000 and
              len(fake.levels) == 20000, f"10,000 SKUs at 2 locations: {len(fake.levels)}")
        check(fake.level_by_sku(skus[-1], wh) == 7 and fake.price_by_sku(skus[1234]) == "19.99",
              "bulk levels and prices")
        st, h, out = call(fake, "GET", "products.json?limit=250&fields=id,variants")
        check(st == 200 and len(out["products"]) == 250 and "next" in links(h.get("link")),
              f"a full page of 250: {st}")
        st, _, out = call(fake, "GET", "products/count.json")
        check(out == {"count": 10000}, f"count: {out}")
        check(min(fake.variants) > 2 ** 53 and min(fake.locations) > 2 ** 53,
              "big_ids: every id above 2^53")
        vid = fake.variant_id_by_sku(skus[5])
        st, _, out = call(fake, "GET", f"variants/{vid}.json")
        check(out["variant"]["id"] == vid, "an id above 2^53 round-trips exactly in JSON")
        q250 = " OR ".join(f"sku:{s}" for s in skus[:250])
        st, _, out = gql(fake, """query($q: String!) { productVariants(first: 250, query: $q) {
            nodes { sku inventoryItem { inventoryLevel(locationId: "%s") {
              quantities(names: ["available"]) { quantity } } } } } }""" % sf.gid("Location", waw),
                         {"q": q250})
        nodes = (out.get("data") or {}).get("productVariants", {}).get("nodes", [])
        check(len(nodes) == 250 and all(n["inventoryItem"]["inventoryLevel"]["quantities"][0]
                                        ["quantity"] == 7 for n in nodes),
              f"250 SKUs in one GraphQL read: {len(nodes)} {str(out)[:300]}")
    finally:
        fake.close()


def test_command_line():
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "shopify_fake.py"), "--port", "0",
                          "--bulk", "5", "--page-size", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        check(m, f"the command line prints its URL: {line!r}")
        if not m:
            return
        url = f"http://127.0.0.1:{m.group(1)}"

        class U:
            pass
        u = U()
        u.url = url
        st, h, out = call(u, "GET", "products.json")
        check(st == 200 and len(out["products"]) == 2 and "next" in links(h.get("link")),
              f"the fake run alone: {st} {out}")
    finally:
        p.terminate()
        p.wait(timeout=30)
        p.stdout.close()


def main():
    fake = sf.ShopifyFake(bucket=100000, leak=10000.0).start()
    try:
        waw, krk = seed(fake)
        test_auth_versions_404(fake)
        test_scopes(fake, waw)
        test_content_type(fake, waw)
        test_pagination(fake)
        test_variants_prices(fake)
        test_levels(fake, waw, krk)
        test_graphql_set(fake, waw, krk)
        test_graphql_reads_and_errors(fake, waw, krk)
        test_webhooks(fake, waw, krk)
        test_switches(fake)
        test_recording(fake)
    finally:
        fake.close()
    test_bucket()
    test_bulk_and_big_ids()
    test_command_line()
    done()


if __name__ == "__main__":
    main()
