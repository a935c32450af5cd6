/* The admin's snapshot (ABI 1.3): what the shop holds now for a set of SKUs, read with
 * GET /products?sku=A,B,...&per_page=100 (WooCommerce's sku filter is exact and also returns
 * variations), every page of it, at most 50 SKUs a request.
 *   stock: {"sku", "location": <option location>, "available": stock_quantity} for SKUs whose
 *          stock is managed (on the product, or on a variable product's parent); a SKU that is
 *          not in the shop, or whose stock is not managed, is listed in "unknown"
 *   price: {"sku", "price": {"amount", "currency"}} from regular_price; a SKU without one is
 *          "unknown" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "woocommerce.h"

#define SNAP_SKUS 50

/* Read every page for one group of SKUs into found (sku -> object). */
static int read_group(struct wc_ctx *c, const char *list, json_t *found, char *err, size_t errlen)
{
    char *enc = wc_urlencode(list);
    if (!enc) {
        snprintf(err, errlen, "out of memory");
        return OMB_ERETRY;
    }
    struct wc_resp r = {0};
    int rc = OMB_OK;
    size_t plen = strlen(enc) + 96;
    char *path = malloc(plen);
    for (long page = 1; path; page++) {
        snprintf(path, plen, "/products?sku=%s&per_page=%d&page=%ld", enc, WC_PER_PAGE, page);
        char cerr[300];
        if (wc_call(c, "GET", path, NULL, &r, cerr, sizeof(cerr)) != 0) {
            snprintf(err, errlen, "reading products: %s", cerr);
            rc = OMB_ERETRY;
            break;
        }
        if (r.status != 200 || !json_is_array(r.json)) {
            struct omb_deliver_result fr = {0};
            rc = wc_fail(c, &r, "reading products", &fr);
            snprintf(err, errlen, "%s", fr.reason);
            break;
        }
        size_t i;
        json_t *it;
        json_array_foreach(r.json, i, it)
        {
            const char *sku = json_string_value(json_object_get(it, "sku"));
            if (sku && sku[0]) {
                json_object_set(found, sku, it);
            }
        }
        bool more = r.total_pages >= 0 ? page < r.total_pages : r.next[0] != '\0';
        size_t got = json_array_size(r.json);
        wc_resp_clear(&r);
        if (!more || got == 0) {
            break;
        }
    }
    wc_resp_clear(&r);
    free(path);
    free(enc);
    return path ? rc : OMB_ERETRY;
}

int wc_snapshot(void *ctx, const json_t *request, json_t **result, char *err, size_t errlen)
{
    struct wc_ctx *c = ctx;
    const char *what = json_string_value(json_object_get(request, "what"));
    const json_t *skus = json_object_get(request, "skus");
    const json_t *locs = json_object_get(request, "locations");
    bool stock = what && strcmp(what, "stock") == 0;
    if (!what || (!stock && strcmp(what, "price") != 0) || !json_is_array(skus)) {
        snprintf(err, errlen, "expected {\"what\": \"stock\"|\"price\", \"skus\": [...]}");
        return OMB_EREJECT;
    }
    if (!stock && !c->currency) {
        snprintf(err, errlen, "price snapshots need the option currency");
        return OMB_EREJECT;
    }
    bool ours = !json_is_array(locs) || json_array_size(locs) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(locs, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), c->location) == 0) {
            ours = true;
        }
    }
    json_t *found = json_object(), *items = json_array(), *unknown = json_array();
    int rc = OMB_OK;
    if (!found || !items || !unknown) {
        snprintf(err, errlen, "out of memory");
        rc = OMB_ERETRY;
        goto out;
    }
    if (stock && !ours) {
        goto done; /* the shop has only the location it follows */
    }
    /* Groups of SNAP_SKUS, comma-joined. */
    size_t n = json_array_size(skus);
    for (size_t start = 0; start < n && rc == OMB_OK; start += SNAP_SKUS) {
        size_t len = 1;
        for (size_t k = start; k < n && k < start + SNAP_SKUS; k++) {
            len += strlen(json_string_value(json_array_get(skus, k))
                              ? json_string_value(json_array_get(skus, k))
                              : "") +
                   1;
        }
        char *list = calloc(1, len);
        if (!list) {
            snprintf(err, errlen, "out of memory");
            rc = OMB_ERETRY;
            break;
        }
        for (size_t k = start; k < n && k < start + SNAP_SKUS; k++) {
            const char *s = json_string_value(json_array_get(skus, k));
            if (s && s[0] && !strchr(s, ',')) {
                if (list[0]) {
                    strncat(list, ",", len - strlen(list) - 1);
                }
                strncat(list, s, len - strlen(list) - 1);
            }
        }
        if (list[0]) {
            rc = read_group(c, list, found, err, errlen);
        }
        free(list);
    }
    if (rc != OMB_OK) {
        goto out;
    }
done:
    json_array_foreach(skus, i, v)
    {
        const char *sku = json_string_value(v);
        if (!sku) {
            continue;
        }
        const json_t *p = json_object_get(found, sku);
        json_t *item = NULL;
        if (stock && !ours) {
            continue;
        }
        if (p && stock) {
            const json_t *q = json_object_get(p, "stock_quantity");
            const json_t *m = json_object_get(p, "manage_stock");
            if (json_is_integer(q) && !json_is_false(m)) {
                item = json_pack("{s:s, s:s, s:I}", "sku", sku, "location", c->location,
                                 "available", json_integer_value(q));
            }
        } else if (p) {
            json_int_t minor;
            const char *reg = json_string_value(json_object_get(p, "regular_price"));
            if (reg && reg[0] && wc_money_parse(reg, &minor)) {
                item = json_pack("{s:s, s:{s:I, s:s}}", "sku", sku, "price", "amount", minor,
                                 "currency", c->currency);
            }
        }
        if (item) {
            json_array_append_new(items, item);
        } else {
            json_array_append_new(unknown, json_string(sku));
        }
        if (p) {
            /* Keep the map fresh while at it. */
            json_int_t id = json_integer_value(json_object_get(p, "id"));
            json_int_t parent = json_integer_value(json_object_get(p, "parent_id"));
            json_int_t oid, op;
            if (wc_map_find(c, sku, &oid, &op) != OMB_OK || oid != id || op != parent) {
                wc_map_set(c, sku, id, parent);
            }
        }
    }
    *result = json_pack("{s:o, s:o}", "items", items, "unknown", unknown);
    items = unknown = NULL;
    if (!*result) {
        snprintf(err, errlen, "out of memory");
        rc = OMB_ERETRY;
    }
out:
    json_decref(found);
    json_decref(items);
    json_decref(unknown);
    return rc;
}
