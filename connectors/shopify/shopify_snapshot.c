/* The snapshot (ABI 1.3, OMB_CAP_SNAPSHOT): what the shop holds now for some SKUs.
 *   {"what": "stock", "skus": [...], "locations": [...]}  -> items {sku, location, available}
 *   {"what": "price", "skus": [...]}                      -> items {sku, price {amount, currency}}
 * The SKUs are looked up by GraphQL productVariants(query: "sku:'A' OR sku:'B' ..."),
 * SKUS_PER_QUERY at a time, following the cursor over pages; for stock each variant's inventory
 * item is asked for its level at every requested location (aliases l0, l1, ... of
 * inventoryLevel(locationId)). A SKU no variant has is listed in "unknown". A level at a location
 * where the item is not stocked is left out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shopify.h"

#define SKUS_PER_QUERY 25
#define PAGE 10

/* The query text for stock at the locations (new string) or NULL. */
static char *build_query(bool stock, const json_t *locs)
{
    size_t cap = 1024 + json_array_size(locs) * 200, o = 0;
    char *q = malloc(cap);
    if (!q) {
        return NULL;
    }
    o += (size_t)snprintf(q + o, cap - o,
                          "query($q: String!, $after: String) { shop { currencyCode } "
                          "productVariants(first: %d, after: $after, query: $q) { "
                          "pageInfo { hasNextPage endCursor } nodes { sku price",
                          PAGE);
    if (stock) {
        o += (size_t)snprintf(q + o, cap - o, " inventoryItem {");
        size_t i;
        const json_t *l;
        json_array_foreach(locs, i, l)
        {
            o += (size_t)snprintf(q + o, cap - o,
                                  " l%zu: inventoryLevel(locationId: "
                                  "\"gid://shopify/Location/%s\") { quantities(names: "
                                  "[\"available\"]) { name quantity } }",
                                  i, json_string_value(json_object_get(l, "id")));
        }
        o += (size_t)snprintf(q + o, cap - o, " }");
    }
    snprintf(q + o, cap - o, " } } }");
    return q;
}

static int add_items(struct sh_ctx *c, bool stock, const json_t *locs, const json_t *node,
                     const char *currency, json_t *items, json_t *seen)
{
    const char *sku = json_string_value(json_object_get(node, "sku"));
    if (!sku) {
        return 0;
    }
    json_object_set_new(seen, sku, json_true());
    if (!stock) {
        int64_t minor = 0;
        const char *p = json_string_value(json_object_get(node, "price"));
        if (!p || sh_price_to_minor(p, sh_currency_exponent(currency), &minor) != 0) {
            c->host->log(c->self, OMB_LOG_WARN, "snapshot: price \"%s\" of %s unreadable",
                         p ? p : "", sku);
            return 0;
        }
        return json_array_append_new(items,
                                     json_pack("{s:s, s:{s:I, s:s}}", "sku", sku, "price", "amount",
                                               (json_int_t)minor, "currency", currency));
    }
    const json_t *inv = json_object_get(node, "inventoryItem");
    size_t i;
    const json_t *l;
    json_array_foreach(locs, i, l)
    {
        char alias[24];
        snprintf(alias, sizeof(alias), "l%zu", i);
        const json_t *qs = json_object_get(json_object_get(inv, alias), "quantities");
        const json_t *q = json_object_get(json_array_get(qs, 0), "quantity");
        if (json_is_integer(q)) {
            json_array_append_new(items, json_pack("{s:s, s:s, s:I}", "sku", sku, "location",
                                                   json_string_value(json_object_get(l, "code")),
                                                   "available", json_integer_value(q)));
        }
    }
    return 0;
}

/* The locations asked (or all mapped) as [{code, id}] (new), or NULL with err. */
static json_t *which_locations(struct sh_ctx *c, const json_t *asked, char *err, size_t errlen)
{
    json_t *out = json_array();
    if (json_array_size(asked) > 0) {
        size_t i;
        const json_t *l;
        json_array_foreach(asked, i, l)
        {
            const char *code = json_string_value(l);
            const char *id = json_string_value(json_object_get(c->loc_to_shop, code ? code : ""));
            if (!id) {
                snprintf(err, errlen, "location %.64s is not mapped to a Shopify location",
                         code ? code : "(not a string)");
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, json_pack("{s:s, s:s}", "code", code, "id", id));
        }
    } else {
        const char *code;
        json_t *id;
        json_object_foreach(c->loc_to_shop, code, id)
        {
            json_array_append_new(out, json_pack("{s:s, s:O}", "code", code, "id", id));
        }
    }
    return out;
}

int sh_snapshot(void *ctx, const json_t *request, json_t **result, char *err, size_t errlen)
{
    struct sh_ctx *c = ctx;
    const char *what = json_string_value(json_object_get(request, "what"));
    const json_t *skus = json_object_get(request, "skus");
    json_t *locs = NULL, *items = json_array(), *seen = json_object(), *vars = json_object();
    char *query = NULL;
    int rc = OMB_OK;
    bool stock = what && strcmp(what, "stock") == 0;
    *result = NULL;
    if (!what || (!stock && strcmp(what, "price") != 0) || !json_is_array(skus)) {
        snprintf(err, errlen,
                 "a snapshot request is {\"what\": \"stock\"|\"price\", \"skus\": [...]}");
        rc = OMB_EREJECT;
        goto out;
    }
    if (stock && !(locs = which_locations(c, json_object_get(request, "locations"), err, errlen))) {
        rc = OMB_EREJECT;
        goto out;
    }
    if (!(query = build_query(stock, locs)) || !items || !seen || !vars) {
        snprintf(err, errlen, "out of memory");
        rc = OMB_ERETRY;
        goto out;
    }
    size_t nskus = json_array_size(skus);
    for (size_t first = 0; first < nskus; first += SKUS_PER_QUERY) {
        char search[SKUS_PER_QUERY * 80] = "", cursor[512] = "";
        size_t o = 0;
        for (size_t i = first; i < nskus && i < first + SKUS_PER_QUERY; i++) {
            const char *sku = json_string_value(json_array_get(skus, i));
            if (sh_sku_ok(sku) && !strchr(sku, '\'')) {
                o += (size_t)snprintf(search + o, sizeof(search) - o, "%ssku:'%s'", o ? " OR " : "",
                                      sku);
            }
        }
        if (o == 0) {
            continue;
        }
        json_object_set_new(vars, "q", json_string(search));
        for (;;) {
            struct sh_resp r = {0};
            struct omb_deliver_result why = {0};
            int64_t wait_ms = 0;
            json_object_set_new(vars, "after", cursor[0] ? json_string(cursor) : json_null());
            double cost = 3 + PAGE * (2.0 + (double)json_array_size(locs) * 3);
            if (sh_graphql(c, query, vars, cost, SH_READ_WAIT_MAX_MS, &r, &wait_ms, err, errlen) !=
                0) {
                rc = OMB_ERETRY;
                goto out;
            }
            rc = sh_check(c, &r, "snapshot (productVariants)", &why);
            if (rc != OMB_OK) {
                snprintf(err, errlen, "%s", why.reason);
                sh_resp_clear(&r);
                goto out;
            }
            const json_t *data = json_object_get(r.json, "data");
            const char *cur =
                json_string_value(json_object_get(json_object_get(data, "shop"), "currencyCode"));
            const json_t *pv = json_object_get(data, "productVariants");
            size_t i;
            const json_t *n;
            json_array_foreach(json_object_get(pv, "nodes"), i, n)
            {
                add_items(c, stock, locs, n, cur ? cur : c->map.currency, items, seen);
            }
            const json_t *pi = json_object_get(pv, "pageInfo");
            const char *end = json_string_value(json_object_get(pi, "endCursor"));
            bool more = json_is_true(json_object_get(pi, "hasNextPage")) && end;
            if (more) {
                snprintf(cursor, sizeof(cursor), "%s", end);
            }
            sh_resp_clear(&r);
            if (!more) {
                break;
            }
        }
    }
    json_t *unknown = json_array();
    size_t i;
    const json_t *s;
    json_array_foreach(skus, i, s)
    {
        if (json_is_string(s) && !json_object_get(seen, json_string_value(s))) {
            json_array_append(unknown, (json_t *)s);
        }
    }
    *result = json_pack("{s:O, s:o}", "items", items, "unknown", unknown);
    if (!*result) {
        snprintf(err, errlen, "out of memory");
        rc = OMB_ERETRY;
    }
out:
    free(query);
    json_decref(locs);
    json_decref(items);
    json_decref(seen);
    json_decref(vars);
    return rc;
}
