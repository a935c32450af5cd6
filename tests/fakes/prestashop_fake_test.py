#!/usr/bin/env python3
"""Self-test of tests/fakes/prestashop_fake.py: nothing uses the fake yet, so this proves it
behaves as vendor-apis.md section 3 and PrestaShop's source say, with urllib as the client and
xml.etree reading the XML:

- auth: the key as Basic username or ?ws_key=; none (401, code 16, the realm header), empty
  (17), of the wrong length (18: 401, or 400 when playing the 1.4 dispatcher), unknown (20 and
  21 together); a key without the resource (401, 26) or the method (405, 25); a method the
  resource forbids (405, 101); an unknown resource (400, 27, "Did you mean");
- formats: the XML envelope with CDATA and xlink:href, output_format=JSON (case-sensitive),
  errors in both formats, an empty JSON list as [], Content-Sha1, HEAD;
- lists: display minimum/full/[fields], every filter form (OR, interval, LIKE prefix and
  contains, >, <, !, plain), case-insensitive matching, sort (one and several keys), limit N
  and offset,N, schema=blank|synopsis, and each of their errors (28, 31-39);
- the read-modify-write workflow of vendor-apis.md end to end (find the row with filters,
  read it, change quantity, PUT the complete XML back), repeated PUTs idempotent, a
  combination's row re-summing the product's;
- incomplete and wrong PUTs: a required field missing (41), an optional one missing (reset),
  no id (90), the URL's id not the body's, an unknown id (92), invalid values (85), JSON
  instead of XML (127), products' read-only fields (93) and multilang ones (84); PATCH;
- the race switch: a writer that PUTs what it read before the other change loses it (and
  lost_updates() says so), one that re-reads does not;
- date_upd polling of products with date=1 (without it: code 32), an interval and a > cursor,
  sort by date_upd; stock rows have no date (500, code 97);
- switches: fail_next 401/500/503/502, hang_next, the page cap (a list without limit fails,
  paging with limit works), the switches over POST /_fake/...; requests recorded; run alone."""
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ beside the sources (a srcdir may be read-only)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from omb import check, done  # noqa: E402
from prestashop_fake import PrestaShopFake  # noqa: E402

KEY = "K3YF4K3PR3ST4SH0P0123456789ABCDE"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
REALM = ('Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key '
         'as the login. No password required."')


def call(fake, method, path, body=None, key=KEY, how="basic", headers=None):
    """(status, {lowercase header: value}, body bytes)."""
    h = dict(headers or {})
    url = fake.url + path
    if how == "basic":
        h["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    elif how == "ws_key":
        url += ("&" if "?" in url else "?") + "ws_key=" + urllib.parse.quote(key)
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def xml(body):
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        check(False, f"not XML: {body[:200]!r}")
        return ET.Element("prestashop")
    check(root.tag == "prestashop", f"the envelope is <prestashop>: {root.tag}")
    return root


def errors_of(body):
    """[(code, message)] of an XML or JSON error answer."""
    if body.lstrip().startswith(b"{"):
        return [(e["code"], e["message"]) for e in json.loads(body).get("errors", [])]
    root = xml(body)
    return [(int(e.findtext("code")), e.findtext("message"))
            for e in root.findall("./errors/error")]


def codes(body):
    return [c for c, _ in errors_of(body)]


def fields(el):
    return {c.tag: (c.text or "") for c in el}


def ids_of_list(body):
    return [int(e.get("id")) for e in xml(body)[0]]


def q(path, **params):
    return path + "?" + urllib.parse.urlencode(params)


# ---- the tests ----

def test_auth(fake):
    s, h, b = call(fake, "GET", "/api/stock_availables")
    check(s == 200 and h.get("psws-version", "").startswith("8.") and
          h.get("content-type") == "text/xml;charset=utf-8" and
          h.get("content-sha1") == hashlib.sha1(b).hexdigest(), f"Basic key: {s} {h}")
    s, _, _ = call(fake, "GET", "/api/stock_availables", how="ws_key")
    check(s == 200, f"?ws_key=: {s}")
    s, h, b = call(fake, "GET", "/api/stock_availables", how=None)
    check(s == 401 and h.get("www-authenticate") == REALM and codes(b) == [16] and
          "psws-version" not in h, f"no key: {s} {h.get('www-authenticate')} {b!r:.200}")
    s, h, b = call(fake, "GET", "/api/stock_availables", key="", how="ws_key")
    check(s == 401 and codes(b) == [17] and h.get("www-authenticate") == REALM,
          f"an empty key: {s} {b!r:.200}")
    s, h, b = call(fake, "GET", "/api/stock_availables", key="SHORTKEY")
    check(s == 401 and errors_of(b) == [(18, "Invalid authentication key format")] and
          h.get("www-authenticate") == REALM, f"a key of the wrong length: {s} {b!r:.200}")
    s, h, b = call(fake, "GET", "/api/stock_availables", key="X" * 32)
    check(s == 401 and codes(b) == [20, 21], f"an unknown key: 20 and 21: {s} {errors_of(b)}")
    fake.add_key("D" * 32, active=False)
    s, _, b = call(fake, "GET", "/api/stock_availables", key="D" * 32)
    check(s == 401 and codes(b) == [20, 21], f"a disabled key: {s} {codes(b)}")
    fake.add_key("R" * 32, permissions={"stock_availables": ["GET", "HEAD"]})
    s, _, _ = call(fake, "GET", "/api/stock_availables", key="R" * 32)
    check(s == 200, "a read-only key reads")
    s, _, b = call(fake, "PUT", "/api/stock_availables/1", "<prestashop/>", key="R" * 32)
    check(s == 405 and codes(b) == [25] and "with this authentication key" in errors_of(b)[0][1],
          f"without the method: 405, 25: {s} {errors_of(b)}")
    s, h, b = call(fake, "GET", "/api/products", key="R" * 32)
    check(s == 401 and codes(b) == [26] and "psws-version" in h,
          f"without the resource: 401, 26 (authenticated): {s} {errors_of(b)}")
    s, _, b = call(fake, "DELETE", "/api/stock_availables/1")
    check(s == 405 and errors_of(b) == [(101, "Method DELETE is not allowed for the resource "
                                              "stock_availables")], f"no DELETE: {s} {b!r:.200}")
    s, _, b = call(fake, "POST", "/api/stock_availables", "<prestashop/>")
    check(s == 405 and codes(b) == [101], f"no POST on stock_availables: {s}")
    s, _, b = call(fake, "GET", "/api/stock_availables/1?ps_method=DELETE")
    check(s == 405 and codes(b) == [101], f"ps_method overrides the verb: {s}")
    s, _, b = call(fake, "GET", "/api/stok_availables")
    e = errors_of(b)
    check(s == 400 and e and e[0][0] == 27 and 'Did you mean: "stock_availables"?' in e[0][1],
          f"an unknown resource: {s} {e!r:.200}")
    old = PrestaShopFake(key=KEY, key_format_status=400).start()
    try:
        s, _, b = call(old, "GET", "/api/stock_availables", key="SHORT")
        check(s == 400 and codes(b) == [18], f"key_format_status=400 (PrestaShop 1.4): {s}")
    finally:
        old.close()


def test_formats(fake, p1, s1):
    s, _, b = call(fake, "GET", f"/api/stock_availables/{s1}")
    root = xml(b)
    sa = root.find("stock_available")
    check(sa is not None and sa.findtext("id") == str(s1) and
          sa.findtext("quantity") == "7" and sa.find("id_product").get(XLINK_HREF) ==
          f"{fake.url}/api/products/{p1}", f"one stock row in XML: {b!r:.400}")
    check(b"<quantity><![CDATA[7]]></quantity>" in b and
          b'xmlns:xlink="http://www.w3.org/1999/xlink"' in b, "values in CDATA, the xlink ns")
    check([c.tag for c in sa] == ["id", "id_product", "id_product_attribute", "id_shop",
                                  "id_shop_group", "quantity", "depends_on_stock",
                                  "out_of_stock", "location"], f"its fields: {[c.tag for c in sa]}")
    s, h, b = call(fake, "GET", f"/api/stock_availables/{s1}?output_format=JSON")
    j = json.loads(b)
    check(s == 200 and h.get("content-type") == "application/json;charset=utf-8" and
          j.get("stock_available", {}).get("id") == s1 and
          j["stock_available"].get("quantity") == "7", f"one stock row in JSON: {b!r:.300}")
    s, _, b = call(fake, "GET", f"/api/stock_availables/{s1}?output_format=json")
    check(b.startswith(b"<?xml"), "output_format is case-sensitive (json is XML)")
    s, _, b = call(fake, "GET", f"/api/stock_availables/{s1}",
                   headers={"Output-Format": "JSON"})
    check(b.startswith(b"{"), "the Output-Format header works too")
    s, _, b = call(fake, "GET", "/api/stock_availables?output_format=JSON&filter[id]=[99999]")
    check(s == 200 and b == b"[]", f"an empty JSON list is []: {b!r}")
    s, _, b = call(fake, "GET", "/api/stock_availables?output_format=JSON&filter[nope]=[1]")
    j = json.loads(b)
    check(s == 400 and isinstance(j["errors"][0]["code"], int) and j["errors"][0]["code"] == 32,
          f"errors in JSON: {b!r:.200}")
    s, h, b = call(fake, "GET", "/api/stock_availables/99999")
    check(s == 404 and b == b"", f"a missing id: 404 and no body, as PrestaShop: {s} {b!r:.80}")
    s, h, b = call(fake, "HEAD", f"/api/stock_availables/{s1}")
    check(s == 200 and b == b"" and h.get("content-sha1"), f"HEAD: {s}")
    s, _, b = call(fake, "GET", f"/api/products/{p1}")
    p = xml(b).find("product")
    check(p is not None and p.findtext("price") == "29.900000" and
          p.find("quantity").get("notFilterable") == "true" and
          p.find("name/language").get("id") == "1" and p.findtext("name/language") == "Hoodie"
          and [e.findtext("id") for e in p.findall("associations/stock_availables/"
                                                   "stock_available")] == [str(s1)],
          f"a product: price excl. tax, multilang name, its stock rows: {b!r:.600}")
    s, _, b = call(fake, "GET", "/api/")
    check(s == 200 and xml(b).find("api/stock_availables") is not None, "GET /api/ lists them")


def test_lists(fake):
    refs = ["LS-A", "LS-B", "ls-c", "LS-D", "LS-E"]
    qty = [5, 0, 12, 3, 9]
    rows = [fake.add_product(r, 10 + i, quantity=qty[i], location=f"R{i}")
            for i, r in enumerate(refs)]
    sids = [sid for _, sid in rows]
    pids = [pid for pid, _ in rows]
    base = "/api/stock_availables"
    s, _, b = call(fake, "GET", base)
    el = xml(b)[0]
    check(el.tag == "stock_availables" and all(
        c.get(XLINK_HREF) == f"{fake.url}/api/stock_availables/{c.get('id')}" for c in el),
        "display=minimum by default: id and xlink:href")
    in_ls = f"[{'|'.join(map(str, pids))}]"
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls, "display": "full"}))
    full = [fields(e) for e in xml(b)[0]]
    check(len(full) == 5 and {f["quantity"] for f in full} == {"5", "0", "12", "3", "9"},
          f"display=full with an OR filter: {len(full)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls,
                                           "display": "[id,quantity]"}))
    sub = [fields(e) for e in xml(b)[0]]
    check(sub and all(set(f) == {"id", "quantity"} for f in sub),
          f"display=[id,quantity]: {sub[:2]}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id]": f"[{sids[1]},{sids[3]}]"}))
    check(ids_of_list(b) == sids[1:4], f"an interval: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls,
                                           "filter[quantity]": "[9,3]"}))
    check(ids_of_list(b) == [sids[0], sids[3], sids[4]],
          f"an interval's ends are sorted (9,3 is 3..9): {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls,
                                           "filter[quantity]": ">[4]"}))
    check(ids_of_list(b) == [sids[0], sids[2], sids[4]], f">[4]: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls,
                                           "filter[quantity]": "<[4]"}))
    check(ids_of_list(b) == [sids[1], sids[3]], f"<[4]: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls,
                                           "filter[quantity]": "![0|12]"}))
    check(ids_of_list(b) == [sids[0], sids[3], sids[4]], f"![0|12]: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[location]": "[r2]"}))
    check(ids_of_list(b) == [sids[2]], f"= is case-insensitive, as MySQL: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[location]": "R3"}))
    check(ids_of_list(b) == [sids[3]], f"a plain value: {ids_of_list(b)}")
    pr = "/api/products"
    s, _, b = call(fake, "GET", q(pr, **{"filter[reference]": "[LS-]%"}))
    check(ids_of_list(b) == pids, f"a prefix [LS-]% (case-insensitive): {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(pr, **{"filter[reference]": "%[-c]%"}))
    check(ids_of_list(b) == [pids[2]], f"contains %[-c]%: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(pr, **{"filter[name]": "[product ls-b]"}))
    check(ids_of_list(b) == [pids[1]], f"a multilang filter: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls,
                                           "sort": "[quantity_DESC]"}))
    check(ids_of_list(b) == [sids[2], sids[4], sids[0], sids[3], sids[1]],
          f"sort=[quantity_DESC] (numbers as numbers): {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls,
                                           "sort": "[depends_on_stock_ASC,id_DESC]"}))
    check(ids_of_list(b) == sids[::-1], f"two sort keys: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls, "sort": "id_DESC",
                                           "limit": "2"}))
    check(ids_of_list(b) == [sids[4], sids[3]], f"sort without brackets, limit=2: "
          f"{ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[id_product]": in_ls, "limit": "1,3"}))
    check(ids_of_list(b) == sids[1:4], f"limit=1,3 (offset, count): {ids_of_list(b)}")
    for params, code in (({"filter[quantyty]": "[1]"}, 32), ({"filter[quantity]": ""}, 33),
                         ({"sort": "[quantity]"}, 37), ({"sort": "[colour_ASC]"}, 38),
                         ({"limit": "1,2,3"}, 39), ({"display": "[id,colour]"}, 35),
                         ({"display": "id,quantity"}, 36), ({"schema": "full"}, 28),
                         ({"filter[stock][x]": "1"}, 31)):
        s, _, b = call(fake, "GET", q(base, **params))
        check(s == 400 and codes(b) == [code], f"{params}: 400 code {code}: {s} {errors_of(b)}")
    s, _, b = call(fake, "GET", q(base, **{"filter[quantyty]": "[1]"}))
    check('Did you mean: "quantity"?' in (errors_of(b) or [(0, "")])[0][1],
          f"did you mean: {errors_of(b)}")
    s, _, b = call(fake, "GET", q(pr, **{"filter[quantity]": "[1]"}))
    check(s == 400 and codes(b) == [34], f"a computed field is not filterable: {errors_of(b)}")
    s, _, b = call(fake, "GET", q(base, schema="blank"))
    blank = xml(b).find("stock_available")
    check(blank is not None and all((c.text or "") == "" and not c.attrib for c in blank),
          f"schema=blank: empty, no attributes: {b!r:.300}")
    s, _, b = call(fake, "GET", q(base, schema="synopsis"))
    syn = xml(b).find("stock_available")
    check(syn is not None and syn.find("quantity").get("required") == "true" and
          syn.find("quantity").get("format") == "isInt" and
          syn.find("location").get("required") is None, "schema=synopsis: required and format")


def stock_xml(f):
    """A stock row's complete XML as a client writes it back."""
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in f.items())
    return ('<prestashop xmlns:xlink="http://www.w3.org/1999/xlink"><stock_available>' + inner +
            "</stock_available></prestashop>")


def test_read_modify_write(fake):
    pid, sid = fake.add_product("RMW-1", "19.99", quantity=4, location="A-01", out_of_stock=1)
    # (1) find the row
    s, _, b = call(fake, "GET", q("/api/stock_availables", **{
        "filter[id_product]": f"[{pid}]", "filter[id_product_attribute]": "[0]",
        "display": "full"}))
    found = [fields(e) for e in xml(b)[0]]
    check(len(found) == 1 and found[0]["id"] == str(sid), f"(1) the row found: {found}")
    # (2) read it
    s, _, b = call(fake, "GET", f"/api/stock_availables/{sid}")
    root = xml(b)
    # (3) change the quantity, (4) PUT the complete document back
    root.find("stock_available/quantity").text = "11"
    doc = ET.tostring(root, encoding="unicode")
    s, h, b = call(fake, "PUT", f"/api/stock_availables/{sid}", doc)
    back = xml(b).find("stock_available")
    check(s == 200 and back is not None and back.findtext("quantity") == "11" and
          back.findtext("location") == "A-01" and back.findtext("out_of_stock") == "1",
          f"(4) the PUT echoes the object: {s} {b!r:.300}")
    check(fake.stock("RMW-1") == 11 and fake.stock_row(sid)["location"] == "A-01",
          "the quantity stored, the rest kept")
    s2, _, b2 = call(fake, "PUT", f"/api/stock_availables/{sid}", doc)
    check(s2 == 200 and fake.stock("RMW-1") == 11, "the same PUT again: the same state")
    # A combination: its row written, the product's row is the sum.
    cp, _ = fake.add_product("RMW-2", "30", quantity=0)
    c1, cs1 = fake.add_combination(cp, "RMW-2-S", "0", quantity=2)
    c2, cs2 = fake.add_combination(cp, "RMW-2-M", "1.5", quantity=3)
    check(fake.stock("RMW-2") == 5, f"the product row sums the combinations: "
          f"{fake.stock('RMW-2')}")
    row = fake.stock_row(cs1)
    row.update(quantity="10")
    s, _, b = call(fake, "PUT", f"/api/stock_availables/{cs1}", stock_xml(row))
    check(s == 200 and fake.stock("RMW-2-S") == 10 and fake.stock("RMW-2") == 13,
          f"writing a combination's row re-sums the product's: {fake.stock('RMW-2')}")
    s, _, b = call(fake, "GET", f"/api/combinations/{c2}?output_format=JSON")
    check(json.loads(b).get("combination", {}).get("price") == "1.500000" and
          json.loads(b)["combination"].get("reference") == "RMW-2-M", f"a combination: {b!r:.200}")


def test_bad_puts(fake):
    pid, sid = fake.add_product("BAD-1", "5", quantity=6, location="SHELF-9")
    full = fake.stock_row(sid)
    url = f"/api/stock_availables/{sid}"
    no_qty = {k: v for k, v in full.items() if k != "quantity"}
    s, _, b = call(fake, "PUT", url, stock_xml(no_qty))
    check(s == 400 and errors_of(b) == [(41, 'parameter "quantity" required')],
          f"a required field missing: {s} {errors_of(b)}")
    s, _, b = call(fake, "PUT", url + "?output_format=JSON", stock_xml(no_qty))
    check(s == 400 and json.loads(b) == {"errors": [{"code": 41, "message":
                                                     'parameter "quantity" required'}]},
          f"... in JSON: {b!r}")
    check(fake.stock("BAD-1") == 6, "a refused PUT changed nothing")
    s, _, b = call(fake, "PUT", url, stock_xml({k: v for k, v in full.items()
                                                if k != "location"}))
    check(s == 200 and fake.stock_row(sid)["location"] == "",
          "an optional field left out is reset (the complete object is the contract)")
    s, _, b = call(fake, "PUT", url, stock_xml({k: v for k, v in full.items() if k != "id"}))
    check(s == 400 and codes(b) == [90], f"no id in the body: {s} {errors_of(b)}")
    s, _, b = call(fake, "PUT", f"/api/stock_availables/{sid - 1}", stock_xml(full))
    check(s == 400 and "[fake]" in (errors_of(b) or [(0, "")])[0][1],
          f"the body's id is not the URL's: {s} {errors_of(b)}")
    s, _, b = call(fake, "PUT", "/api/stock_availables/99999",
                   stock_xml(dict(full, id="99999")))
    check(s == 404 and errors_of(b) == [(92, "Invalid ID")], f"an unknown id: {s}")
    s, _, b = call(fake, "PUT", url, stock_xml(dict(full, quantity="7.5")))
    check(s == 400 and errors_of(b) == [(85, 'Validation error: "Property StockAvailable->'
                                             'quantity is not valid"')],
          f"an invalid value: {s} {errors_of(b)}")
    s, _, b = call(fake, "PUT", url, stock_xml(dict(full, depends_on_stock="yes")))
    check(s == 400 and codes(b) == [85], f"a bool that is not 0/1: {codes(b)}")
    s, _, b = call(fake, "PUT", url, json.dumps({"stock_available": full}),
                   headers={"Content-Type": "application/json"})
    check(s == 500 and codes(b) == [127] and "String could not be parsed as XML" in
          errors_of(b)[0][1], f"JSON in: PrestaShop reads XML only: {s} {errors_of(b)!r:.100}")
    s, _, b = call(fake, "PATCH", url, '<prestashop><stock_available><id>%d</id><quantity>9'
                   '</quantity></stock_available></prestashop>' % sid)
    check(s == 200 and fake.stock("BAD-1") == 9 and fake.stock_row(sid)["out_of_stock"] ==
          full["out_of_stock"], f"PATCH writes only what it sends: {s} {b!r:.200}")
    # Products: read-only and multilang fields.
    s, _, b = call(fake, "GET", f"/api/products/{pid}")
    root = xml(b)
    s, _, b = call(fake, "PUT", f"/api/products/{pid}", ET.tostring(root, encoding="unicode"))
    check(s == 400 and codes(b) == [93] and 'parameter "manufacturer_name" not writable' in
          errors_of(b)[0][1], f"a product PUT as read: read-only fields refused: {errors_of(b)}")
    prod = root.find("product")
    for ro in ("manufacturer_name", "quantity"):
        prod.remove(prod.find(ro))
    prod.find("price").text = "6.50"
    saved = fake.clock
    fake.clock = lambda: time.time() + 3600
    s, _, b = call(fake, "PUT", f"/api/products/{pid}", ET.tostring(root, encoding="unicode"))
    fake.clock = saved
    check(s == 200 and fake.price("BAD-1") == "6.500000" and
          fake.product(pid)["date_upd"] > fake.product(pid)["date_add"],
          f"read-only fields stripped: the price written, date_upd moved: {s} "
          f"{errors_of(b) if s != 200 else ''}")
    prod.remove(prod.find("name"))
    s, _, b = call(fake, "PUT", f"/api/products/{pid}", ET.tostring(root, encoding="unicode"))
    check(s == 400 and codes(b) == [84], f"a required multilang field missing: {errors_of(b)}")


def test_race(fake):
    pid, sid = fake.add_product("RACE-1", "1", quantity=5, location="BIN-1")
    lst = q("/api/stock_availables", **{"filter[id_product]": f"[{pid}]", "display": "full"})
    # A writer that PUTs what the list gave it.
    fake.race(sid, {"location": "BIN-7"}, after="list")
    s, _, b = call(fake, "GET", lst)
    row = fields(xml(b)[0][0])
    check(row["location"] == "BIN-1", "the list shows the row as it was")
    row["quantity"] = "4"
    s, _, _ = call(fake, "PUT", f"/api/stock_availables/{sid}", stock_xml(row))
    lost = fake.lost_updates()
    check(s == 200 and fake.stock_row(sid)["location"] == "BIN-1" and
          lost == [{"resource": "stock_availables", "id": sid, "field": "location",
                    "overwritten": "BIN-7", "with": "BIN-1"}],
          f"the stale write put back the old location, and lost_updates() says so: {lost}")
    # A writer that re-reads the row before the PUT keeps the other change.
    fake.race(sid, {"location": "BIN-9", "out_of_stock": "1"}, after="list")
    call(fake, "GET", lst)
    s, _, b = call(fake, "GET", f"/api/stock_availables/{sid}")
    root = xml(b)
    root.find("stock_available/quantity").text = "3"
    s, _, _ = call(fake, "PUT", f"/api/stock_availables/{sid}",
                   ET.tostring(root, encoding="unicode"))
    r = fake.stock_row(sid)
    check(s == 200 and r["location"] == "BIN-9" and r["out_of_stock"] == "1" and
          r["quantity"] == "3" and len(fake.lost_updates()) == 1,
          f"re-read, then written: nothing lost: {r}")
    fake.race(sid, {"location": "BIN-0"}, after="single", times=1)
    call(fake, "GET", lst)
    check(fake.stock_row(sid)["location"] == "BIN-9", "after=single ignores lists")
    call(fake, "GET", f"/api/stock_availables/{sid}")
    check(fake.stock_row(sid)["location"] == "BIN-0", "and fires after the single GET")
    fake.set_stock("RACE-1", 2)
    fake.rows["stock_availables"][sid]["location"] = "BIN-5"
    call(fake, "GET", f"/api/stock_availables/{sid}")
    check(fake.stock_row(sid)["location"] == "BIN-5", "a race fires only `times` times")


def test_polling(fake):
    t0 = float(int(time.time()) + 30 * 86400)    # later than anything else in the fake
    saved = fake.clock
    fake.clock = lambda: t0
    a, _ = fake.add_product("POLL-A", "1")
    b_, _ = fake.add_product("POLL-B", "2")
    fake.clock = lambda: t0 + 120
    fake.set_price("POLL-B", "2.5")
    fake.clock = saved
    d0 = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t0))
    d1 = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t0 + 60))
    d2 = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t0 + 3600))
    pr = "/api/products"
    s, _, b = call(fake, "GET", q(pr, **{"filter[date_upd]": f"[{d1},{d2}]", "date": "1",
                                         "display": "[id,reference,price,date_upd]"}))
    got = [fields(e) for e in xml(b)[0]]
    check(s == 200 and [g["reference"] for g in got] == ["POLL-B"] and
          got[0]["price"] == "2.500000", f"changed between two times: {got}")
    s, _, b = call(fake, "GET", q(pr, **{"filter[date_upd]": f">[{d0}]", "date": "1"}))
    check(ids_of_list(b) == [b_], f"a > cursor: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(pr, **{"filter[date_upd]": f"[{d1},{d2}]"}))
    check(s == 400 and codes(b) == [32], f"without date=1 PrestaShop refuses the filter: "
          f"{s} {errors_of(b)!r:.120}")
    s, _, b = call(fake, "GET", q(pr, **{"filter[reference]": "[POLL-A|POLL-B]",
                                         "sort": "[date_upd_DESC]", "date": "1"}))
    check(ids_of_list(b) == [b_, a], f"sort by date_upd with date=1: {ids_of_list(b)}")
    s, _, b = call(fake, "GET", q(pr, **{"sort": "[date_upd_DESC]"}))
    check(s == 400 and codes(b) == [38], f"... and not without: {codes(b)}")
    s, _, b = call(fake, "GET", q("/api/stock_availables",
                                  **{"filter[date_upd]": f">[{d0}]", "date": "1"}))
    check(s == 500 and codes(b) == [97] and "Unknown column" in errors_of(b)[0][1],
          f"stock rows have no date_upd: PrestaShop's SQL error: {s} {errors_of(b)!r:.120}")


def test_switches(fake):
    fake.fail_next(1, 401)
    s, h, b = call(fake, "GET", "/api/stock_availables")
    check(s == 401 and h.get("www-authenticate") == REALM and codes(b) == [20, 21],
          f"401: {s} {codes(b)}")
    fake.fail_next(1, 503, retry_after=30)
    s, h, b = call(fake, "GET", "/api/stock_availables?output_format=JSON")
    check(s == 503 and h.get("retry-after") == "30" and codes(b) == [22],
          f"503: webservice disabled, in JSON: {s} {b!r:.150}")
    fake.fail_next(1, 500)
    s, _, b = call(fake, "GET", "/api/stock_availables")
    check(s == 500 and codes(b) == [2], f"500: {s}")
    fake.fail_next(1, 502, path="/api/products")
    s, _, _ = call(fake, "GET", "/api/stock_availables")
    check(s == 200, "a failure for another path leaves this one alone")
    s, h, b = call(fake, "GET", "/api/products")
    check(s == 502 and h.get("content-type") == "text/html" and b"502" in b, f"502: {s}")
    fake.hang_next(1, 0.5)
    t = time.monotonic()
    s, _, _ = call(fake, "GET", "/api/stock_availables")
    check(s == 200 and time.monotonic() - t >= 0.5, "hang_next delays the answer")
    total = len(fake.rows["stock_availables"])
    fake.set_page_cap(4)
    s, h, b = call(fake, "GET", "/api/stock_availables")
    check(s == 500 and b"Fatal error" in b, f"a list over the cap fails: {s}")
    got, off = [], 0
    while True:
        s, _, b = call(fake, "GET", q("/api/stock_availables", limit=f"{off},4",
                                      sort="[id_ASC]"))
        ids = ids_of_list(b) if s == 200 else []
        check(s == 200, f"a page of 4: {s}")
        got += ids
        off += 4
        if len(ids) < 4:
            break
    check(len(got) == total and len(set(got)) == total, f"paging with limit reads all: "
          f"{len(got)}/{total}")
    fake.set_page_cap(None)
    s, _, b = call(fake, "POST", "/_fake/fail_next", json.dumps({"n": 1, "status": 503}), how=None)
    check(s == 200, f"POST /_fake/fail_next: {s} {b}")
    s, _, _ = call(fake, "GET", "/api/stock_availables")
    check(s == 503, "switched over HTTP")
    s, _, b = call(fake, "POST", "/_fake/add_product",
                   json.dumps({"reference": "HTTP-1", "price": 3, "quantity": 2}), how=None)
    sid = json.loads(b)["result"][1]
    s, _, b = call(fake, "POST", "/_fake/race", json.dumps({"row_id": sid}), how=None)
    check(s == 200 and fake.stock("HTTP-1") == 2, f"/_fake/add_product and race: {s}")
    s, _, b = call(fake, "POST", "/_fake/nope", "{}", how=None)
    check(s == 404, f"an unknown switch: {s}")
    counts = fake.endpoint_counts()
    check(counts.get("GET /api/stock_availables", 0) >= 10 and
          counts.get("PUT /api/stock_availables/{id}", 0) >= 5, f"requests per endpoint: {counts}")
    last = fake.seen(route="GET /api/stock_availables")[-1]
    check(last["status"] == 503 and "authorization" in last["headers"],
          "requests are recorded with their status and headers")


def test_alone():
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "prestashop_fake.py"), "--port", "0",
                          "--key", KEY], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)/api/", line)
        check(m is not None, f"run alone, it says where it listens: {line!r}")
        if m:
            req = urllib.request.Request(m.group(1) + "/api/stock_availables?output_format=JSON",
                                         headers={"Authorization": "Basic " + base64.b64encode(
                                             (KEY + ":").encode()).decode()})
            with urllib.request.urlopen(req, timeout=30) as r:
                check(r.status == 200 and r.read() == b"[]", "it answers")
    finally:
        p.terminate()
        p.wait(timeout=30)


def main():
    fake = PrestaShopFake(key=KEY).start()
    try:
        p1, s1 = fake.add_product("OB-1", "29.9", quantity=7, name="Hoodie")
        test_auth(fake)
        test_formats(fake, p1, s1)
        test_lists(fake)
        test_read_modify_write(fake)
        test_bad_puts(fake)
        test_race(fake)
        test_polling(fake)
        test_switches(fake)
    finally:
        fake.close()
    test_alone()
    done()


if __name__ == "__main__":
    main()
