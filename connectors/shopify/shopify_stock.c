/* Stock out: stock.level and stock.available become quantities of one
 * inventorySetQuantities mutation (name "available", reason "correction"), up to 250 of them a
 * call (deliver_batch, ABI 1.3):
 *   stock.level      available := on_hand at location
 *   stock.available  available := available at location (or channel), each mapped by the
 *                    locations option
 * Levels are absolute, so the connector does not compare-and-set: before API 2026-04 it sends
 * ignoreCompareQuantity: true, from 2026-04 (where that is deprecated) changeFromQuantity: null
 * per quantity. The mutation carries @idempotent(key:) made from the ids of the events in it,
 * so a retried call (429, THROTTLED, 5xx, a lost answer) is applied once.
 *
 * Shopify runs the mutation all or nothing: a userError for one quantity (its field is
 * ["input", "quantities", "<index>", ...]) changes nothing. The event of each such quantity is
 * rejected with the code and message, and the others are sent again at once in a mutation of
 * their own (a new key, as the input changed). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shopify.h"

static const char MUTATION[] = "mutation($input: InventorySetQuantitiesInput!, $key: String!) { "
                               "inventorySetQuantities(input: $input) @idempotent(key: $key) { "
                               "userErrors { code field message } } }";
#define MUTATION_COST 10.0
#define MAX_ROUNDS 4

bool sh_is_stock(const char *type)
{
    return type && (strcmp(type, "stock.level") == 0 || strcmp(type, "stock.available") == 0);
}

struct item {
    size_t ev;      /* index in the batch */
    const char *id; /* the event's id */
    char inv[32];   /* inventory item id */
    char loc[32];   /* Shopify location id */
    json_int_t qty;
    bool in; /* still to be sent */
};

/* Check and map one event into it; OMB_OK, OMB_EREJECT or OMB_ERETRY (res filled). */
static int map_event(struct sh_ctx *c, const json_t *ev, bool *refreshed, struct item *it,
                     struct omb_deliver_result *res)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    bool level = strcmp(type, "stock.level") == 0;
    const json_t *body = json_object_get(ev, "body");
    const char *sku = json_string_value(json_object_get(body, "sku"));
    const char *loc = json_string_value(json_object_get(body, "location"));
    if (!level && !loc) {
        loc = json_string_value(json_object_get(body, "channel"));
    }
    const json_t *q = json_object_get(body, level ? "on_hand" : "available");
    if (!sh_sku_ok(sku)) {
        snprintf(res->reason, sizeof(res->reason), "%s without a valid body.sku", type);
        return OMB_EREJECT;
    }
    if (!loc) {
        snprintf(res->reason, sizeof(res->reason), "%s of %s without a location%s", type, sku,
                 level ? "" : " or channel");
        return OMB_EREJECT;
    }
    if (!json_is_integer(q)) {
        snprintf(res->reason, sizeof(res->reason), "%s without an integer body.%s", type,
                 level ? "on_hand" : "available");
        return OMB_EREJECT;
    }
    const char *shop_loc = json_string_value(json_object_get(c->loc_to_shop, loc));
    if (!shop_loc) {
        snprintf(res->reason, sizeof(res->reason),
                 "location %.64s is not mapped to a Shopify location (option locations)", loc);
        return OMB_EREJECT;
    }
    const json_t *entry = NULL;
    int rc = sh_idmap_resolve(c, sku, sh_event_received_ms(ev), refreshed, &entry, res);
    if (rc != OMB_OK) {
        return rc;
    }
    it->id = json_string_value(json_object_get(ev, "id"));
    snprintf(it->inv, sizeof(it->inv), "%s", json_string_value(json_object_get(entry, "i")));
    snprintf(it->loc, sizeof(it->loc), "%s", shop_loc);
    it->qty = json_integer_value(q);
    return OMB_OK;
}

/* The idempotency key of the items still in: "omb-" and 40 hex digits of an HMAC over their
 * event ids (the same events in the same order give the same key). */
static void make_key(struct sh_ctx *c, const struct item *items, size_t n, char *out, size_t outlen)
{
    size_t cap = 1, used = 0;
    for (size_t i = 0; i < n; i++) {
        cap += strlen(items[i].id ? items[i].id : "") + strlen(items[i].inv) + 3;
    }
    char *text = malloc(cap);
    unsigned char mac[OMB_HMAC_MAX];
    size_t maclen = sizeof(mac);
    if (!text) {
        snprintf(out, outlen, "omb-%s", items[0].id ? items[0].id : "x");
        return;
    }
    text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (items[i].in) {
            used += (size_t)snprintf(text + used, cap - used, "%s/%s\n",
                                     items[i].id ? items[i].id : "", items[i].inv);
        }
    }
    c->host->hmac("sha256", "omnibus-shopify", 15, text, used, mac, &maclen);
    free(text);
    size_t o = (size_t)snprintf(out, outlen, "omb-");
    for (size_t i = 0; i < 20 && o + 3 <= outlen; i++) {
        o += (size_t)snprintf(out + o, outlen - o, "%02x", mac[i]);
    }
}

/* The variables of the mutation for the items still in (new). */
static json_t *variables(struct sh_ctx *c, const struct item *items, size_t n, const char *key)
{
    bool new_api = strcmp(c->api_version, "2026-04") >= 0;
    json_t *qs = json_array();
    for (size_t i = 0; qs && i < n; i++) {
        if (!items[i].in) {
            continue;
        }
        char inv[64], loc[64];
        snprintf(inv, sizeof(inv), "gid://shopify/InventoryItem/%s", items[i].inv);
        snprintf(loc, sizeof(loc), "gid://shopify/Location/%s", items[i].loc);
        json_t *q = json_pack("{s:s, s:s, s:I}", "inventoryItemId", inv, "locationId", loc,
                              "quantity", items[i].qty);
        if (q && new_api) {
            json_object_set_new(q, "changeFromQuantity", json_null());
        }
        json_array_append_new(qs, q);
    }
    /* The reference names the call (its key), so Shopify's inventory history links to it. */
    char uri[96];
    snprintf(uri, sizeof(uri), "gid://omnibus/StockSync/%s", key);
    json_t *input = json_pack("{s:s, s:s, s:s, s:o}", "name", "available", "reason", "correction",
                              "referenceDocumentUri", uri, "quantities", qs);
    if (input && !new_api) {
        json_object_set_new(input, "ignoreCompareQuantity", json_true());
    }
    return json_pack("{s:o, s:s}", "input", input, "key", key);
}

/* The index in the mutation a userError names (field ["input","quantities","3",...]), or -1. */
static long error_index(const json_t *ue)
{
    const json_t *f = json_object_get(ue, "field");
    const char *a = json_string_value(json_array_get(f, 0));
    const char *b = json_string_value(json_array_get(f, 1));
    const json_t *idx = json_array_get(f, 2);
    if (!a || !b || strcmp(a, "input") != 0 || strcmp(b, "quantities") != 0) {
        return -1;
    }
    if (json_is_integer(idx)) {
        return (long)json_integer_value(idx);
    }
    const char *s = json_string_value(idx);
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : -1;
    return s && end && *end == '\0' ? v : -1;
}

static void set_all(struct item *items, size_t m, int *rcs, struct omb_deliver_result *res, int rc,
                    const struct omb_deliver_result *why)
{
    for (size_t i = 0; i < m; i++) {
        if (items[i].in) {
            rcs[items[i].ev] = rc;
            res[items[i].ev] = *why;
            items[i].in = false;
        }
    }
}

size_t sh_stock_batch(struct sh_ctx *c, json_t *const *events, size_t n, int *rcs,
                      struct omb_deliver_result *res)
{
    struct item *items = calloc(n < SH_BATCH_MAX ? n : SH_BATCH_MAX, sizeof(*items));
    size_t handled = 0, m = 0;
    bool refreshed = false;
    if (!items) {
        rcs[0] = OMB_ERETRY;
        snprintf(res[0].reason, sizeof(res[0].reason), "out of memory");
        return 1;
    }
    for (size_t i = 0; i < n && m < SH_BATCH_MAX; i++) {
        const char *type = json_string_value(json_object_get(events[i], "type"));
        if (!sh_is_stock(type)) {
            break;
        }
        struct item it = {.ev = i};
        int rc = map_event(c, events[i], &refreshed, &it, &res[i]);
        if (rc == OMB_ERETRY && i > 0) {
            res[i] = (struct omb_deliver_result){0};
            break; /* offered again after the others went */
        }
        bool dup = false;
        for (size_t k = 0; rc == OMB_OK && k < m; k++) {
            dup = dup || (strcmp(items[k].inv, it.inv) == 0 && strcmp(items[k].loc, it.loc) == 0);
        }
        if (dup) {
            break; /* one mutation may not set the same pair twice: the next call takes it */
        }
        handled = i + 1;
        rcs[i] = rc;
        if (rc == OMB_OK) {
            it.in = true;
            items[m++] = it;
        } else if (rc == OMB_ERETRY) {
            break;
        }
    }
    for (int round = 0; round < MAX_ROUNDS; round++) {
        size_t left = 0;
        for (size_t i = 0; i < m; i++) {
            left += items[i].in;
        }
        if (left == 0) {
            break;
        }
        char key[64], err[256];
        make_key(c, items, m, key, sizeof(key));
        json_t *vars = variables(c, items, m, key);
        struct sh_resp r = {0};
        struct omb_deliver_result why = {0};
        int64_t wait_ms = 0;
        int rc = vars ? sh_graphql(c, MUTATION, vars, MUTATION_COST, SH_THROTTLE_WAIT_MAX_MS, &r,
                                   &wait_ms, err, sizeof(err))
                      : OMB_ENOMEM;
        json_decref(vars);
        if (rc != 0) {
            snprintf(why.reason, sizeof(why.reason), "inventorySetQuantities: %s",
                     rc == OMB_ENOMEM ? "out of memory" : err);
            why.retry_after_ms = wait_ms;
            set_all(items, m, rcs, res, OMB_ERETRY, &why);
            break;
        }
        c->host->metric_counter_add(c->self, "inventory_mutations", 1);
        rc = sh_check(c, &r, "inventorySetQuantities", &why);
        if (rc != OMB_OK) {
            set_all(items, m, rcs, res, rc, &why);
            sh_resp_clear(&r);
            break;
        }
        const json_t *ues = json_object_get(
            json_object_get(json_object_get(r.json, "data"), "inventorySetQuantities"),
            "userErrors");
        if (json_array_size(ues) == 0) {
            for (size_t i = 0; i < m; i++) {
                if (items[i].in) {
                    rcs[items[i].ev] = OMB_OK;
                    items[i].in = false;
                }
            }
            sh_resp_clear(&r);
            break;
        }
        /* Map the indexes of this call back to the items still in. */
        size_t pos[SH_BATCH_MAX], k = 0;
        for (size_t i = 0; i < m; i++) {
            if (items[i].in) {
                pos[k++] = i;
            }
        }
        bool general = false;
        size_t j;
        const json_t *ue;
        json_array_foreach(ues, j, ue)
        {
            long idx = error_index(ue);
            const char *code = json_string_value(json_object_get(ue, "code"));
            const char *msg = json_string_value(json_object_get(ue, "message"));
            if (idx < 0 || (size_t)idx >= k) {
                general = true;
                snprintf(why.reason, sizeof(why.reason),
                         "inventorySetQuantities: userError %s: %.300s", code ? code : "?",
                         msg ? msg : "?");
                continue;
            }
            struct item *it = &items[pos[idx]];
            if (!it->in) {
                continue;
            }
            rcs[it->ev] = OMB_EREJECT;
            snprintf(res[it->ev].reason, sizeof(res[it->ev].reason),
                     "inventorySetQuantities: userError %s for inventory item %s at location "
                     "%s: %.300s",
                     code ? code : "?", it->inv, it->loc, msg ? msg : "?");
            it->in = false;
            c->host->metric_counter_add(c->self, "item_errors", 1);
        }
        if (general) {
            set_all(items, m, rcs, res, OMB_EREJECT, &why);
        }
        sh_resp_clear(&r);
    }
    /* Items still in after MAX_ROUNDS: tried again later. */
    struct omb_deliver_result again = {0};
    snprintf(again.reason, sizeof(again.reason),
             "inventorySetQuantities: still failing after %d rounds", MAX_ROUNDS);
    set_all(items, m, rcs, res, OMB_ERETRY, &again);
    free(items);
    return handled ? handled : 1;
}
