/* Out: canonical events become items of WooCommerce's batch update, one request for as many
 * deliveries as the core offers, up to 100 items, all for one endpoint:
 *   simple products      POST /products/batch                     {"update": [...]}
 *   variations of P      POST /products/P/variations/batch        {"update": [...]}
 * The head's endpoint decides; the prefix ends at the first event for another endpoint (that
 * one comes in the next request). Items:
 *   stock.level (location = option location)            {"id", "manage_stock": true,
 *   stock.available (channel or location = location)     "stock_quantity": N}   (N < 0 -> 0)
 *   price.set (base list, currency = option currency)    {"id", "regular_price": "129.99"}
 * Absolute values only, so a batch is idempotent per item, as deliver_batch requires.
 * Outcomes: a failed item inside the 200 rejects that event alone (WooCommerce's code and
 * message in the reason); an invalid id (the product is gone) refreshes the map (once per
 * batch) and rejects naming the SKU; an unknown SKU refreshes the map once per batch and is
 * then rejected naming the SKU and the shop; 401/403 rejects the whole request (no retry
 * storm); 429/5xx/no answer retries the first item sent (after Retry-After). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "woocommerce.h"

#define WC_NOT_MINE 1 /* internal: build() says "unknown SKU" */

struct item {
    json_int_t id, parent;
    const char *sku; /* borrowed from the event */
};

/* The batch item of one event (new in *out) and its target. OMB_OK, OMB_EREJECT (reason in
 * res), or WC_NOT_MINE when the SKU is not in the map. */
static int build(struct wc_ctx *c, const char *type, const json_t *body, json_t **out,
                 struct item *it, struct omb_deliver_result *res)
{
    *out = NULL;
    const char *sku = json_string_value(json_object_get(body, "sku"));
    if (!type || !json_is_object(body)) {
        snprintf(res->reason, sizeof(res->reason), "the event has no type or no body object");
        return OMB_EREJECT;
    }
    if (!wc_sku_ok(sku)) {
        snprintf(res->reason, sizeof(res->reason), "%s without a canonical body.sku", type);
        return OMB_EREJECT;
    }
    it->sku = sku;
    json_t *item = NULL;
    if (strcmp(type, "stock.level") == 0 || strcmp(type, "stock.available") == 0) {
        bool level = type[6] == 'l';
        const char *where = json_string_value(json_object_get(body, "location"));
        if (!level && !where) {
            where = json_string_value(json_object_get(body, "channel"));
        }
        const json_t *q = json_object_get(body, level ? "on_hand" : "available");
        if (!json_is_integer(q)) {
            snprintf(res->reason, sizeof(res->reason), "%s of SKU %s without an integer %s", type,
                     sku, level ? "on_hand" : "available");
            return OMB_EREJECT;
        }
        if (!where || strcmp(where, c->location) != 0) {
            snprintf(res->reason, sizeof(res->reason),
                     "%s of SKU %s is for %s, but this shop's stock follows %s (option "
                     "location): filter the route",
                     type, sku, where ? where : "(no location)", c->location);
            return OMB_EREJECT;
        }
        json_int_t n = json_integer_value(q);
        item =
            json_pack("{s:b, s:I}", "manage_stock", 1, "stock_quantity", n < 0 ? (json_int_t)0 : n);
    } else if (strcmp(type, "price.set") == 0) {
        const json_t *price = json_object_get(body, "price");
        const json_t *amount = json_object_get(price, "amount");
        const char *cur = json_string_value(json_object_get(price, "currency"));
        const char *list = json_string_value(json_object_get(body, "price_list"));
        if (!json_is_integer(amount) || json_integer_value(amount) < 0 || !cur) {
            snprintf(res->reason, sizeof(res->reason),
                     "price.set of SKU %s without a price "
                     "{amount, currency}",
                     sku);
            return OMB_EREJECT;
        }
        if (list && strcmp(list, "base") != 0) {
            snprintf(res->reason, sizeof(res->reason),
                     "price.set of SKU %s is for price list %s: WooCommerce has only the base "
                     "list",
                     sku, list);
            return OMB_EREJECT;
        }
        if (json_object_get(body, "valid_from") || json_object_get(body, "valid_to")) {
            snprintf(res->reason, sizeof(res->reason),
                     "price.set of SKU %s has a validity window: the woocommerce connector "
                     "writes plain prices only (let the price book send it when it applies)",
                     sku);
            return OMB_EREJECT;
        }
        if (!c->currency || strcmp(cur, c->currency) != 0) {
            snprintf(res->reason, sizeof(res->reason),
                     "price.set of SKU %s is in %s, the shop's currency is %s", sku, cur,
                     c->currency ? c->currency : "not configured (option currency)");
            return OMB_EREJECT;
        }
        char s[40];
        wc_money_format(json_integer_value(amount), s, sizeof(s));
        item = json_pack("{s:s}", "regular_price", s);
    } else {
        snprintf(res->reason, sizeof(res->reason),
                 "event type %.64s is not one the woocommerce connector takes (stock.level, "
                 "stock.available, price.set)",
                 type);
        return OMB_EREJECT;
    }
    if (!item) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        return OMB_EREJECT;
    }
    if (wc_map_find(c, sku, &it->id, &it->parent) != OMB_OK) {
        json_decref(item);
        return WC_NOT_MINE;
    }
    json_object_set_new(item, "id", json_integer(it->id));
    *out = item;
    return OMB_OK;
}

static void unknown_reason(struct wc_ctx *c, const char *sku, struct omb_deliver_result *res)
{
    snprintf(res->reason, sizeof(res->reason),
             "SKU %s is unknown in shop %s: no product or variation has it (the SKU map was "
             "read again)",
             sku, c->site_url);
    c->host->metric_counter_add(c->self, "unknown_skus", 1);
}

/* The core of deliver and deliver_batch over parsed events (types[i], bodies[i] borrowed). */
static int run(struct wc_ctx *c, const char *const *types, json_t *const *bodies, size_t n,
               int *rcs, struct omb_deliver_result *res)
{
    json_t *updates = json_array();
    struct item items[WC_BATCH_MAX];
    size_t where[WC_BATCH_MAX], count = 0, taken = 0;
    bool reloaded = false;
    json_int_t group = -1;
    int ret;
    if (!updates) {
        rcs[0] = OMB_ERETRY;
        snprintf(res[0].reason, sizeof(res[0].reason), "out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = NULL;
        struct item it = {0};
        int rc = build(c, types[i], bodies[i], &item, &it, &res[i]);
        if (rc == WC_NOT_MINE && !reloaded) {
            struct omb_deliver_result lr = {0};
            reloaded = true;
            int lrc = wc_map_load(c, &lr);
            if (lrc != OMB_OK) {
                if (count == 0) {
                    rcs[i] = lrc;
                    res[i] = lr;
                    taken = i + 1;
                    json_decref(updates);
                    return (int)taken;
                }
                break; /* send what is ready; this one comes again */
            }
            rc = build(c, types[i], bodies[i], &item, &it, &res[i]);
        }
        if (rc == WC_NOT_MINE) {
            unknown_reason(c, it.sku, &res[i]);
            rc = OMB_EREJECT;
        }
        if (rc != OMB_OK) {
            rcs[i] = rc;
            taken = i + 1;
            continue;
        }
        if ((group >= 0 && it.parent != group) || count == WC_BATCH_MAX) {
            json_decref(item);
            break;
        }
        group = it.parent;
        json_array_append_new(updates, item);
        items[count] = it;
        where[count++] = i;
        rcs[i] = OMB_OK;
        taken = i + 1;
    }
    if (count == 0) {
        json_decref(updates);
        return (int)taken;
    }
    char path[96], err[300], what[160];
    if (group > 0) {
        snprintf(path, sizeof(path), "/products/%" JSON_INTEGER_FORMAT "/variations/batch", group);
    } else {
        snprintf(path, sizeof(path), "/products/batch");
    }
    json_t *req = json_pack("{s:O}", "update", updates); /* updates kept for the outcomes */
    struct wc_resp r = {0};
    int rc = req ? wc_call(c, "POST", path, req, &r, err, sizeof(err)) : OMB_ENOMEM;
    json_decref(req);
    c->host->metric_counter_add(c->self, "batch_requests", 1);
    snprintf(what, sizeof(what), "POST %s (%zu items, first SKU %s)", path, count, items[0].sku);
    if (rc != 0) {
        struct omb_deliver_result *h = &res[where[0]];
        snprintf(h->reason, sizeof(h->reason), "%s: %s", what, err);
        rcs[where[0]] = OMB_ERETRY;
        ret = (int)where[0] + 1;
        goto out;
    }
    if (r.status < 200 || r.status > 299) {
        struct omb_deliver_result fr = {0};
        int frc = wc_fail(c, &r, what, &fr);
        if (frc == OMB_ERETRY) {
            res[where[0]] = fr;
            rcs[where[0]] = OMB_ERETRY;
            ret = (int)where[0] + 1;
            goto out;
        }
        if (r.status == 404 && !reloaded) {
            struct omb_deliver_result lr = {0};
            reloaded = true;
            if (wc_map_load(c, &lr) != OMB_OK) {
                c->host->log(c->self, OMB_LOG_WARN, "%s", lr.reason);
            }
        }
        for (size_t k = 0; k < count; k++) {
            res[where[k]] = fr;
            if (r.status == 404) {
                snprintf(res[where[k]].reason, sizeof(res[where[k]].reason),
                         "SKU %s: its product (id %" JSON_INTEGER_FORMAT
                         ", parent %" JSON_INTEGER_FORMAT ") is gone from shop %s (404; the SKU "
                         "map was read again)",
                         items[k].sku, items[k].id, items[k].parent, c->site_url);
            }
            rcs[where[k]] = OMB_EREJECT;
        }
        ret = (int)taken;
        goto out;
    }
    const json_t *answers = json_object_get(r.json, "update");
    for (size_t k = 0; k < count; k++) {
        const json_t *a = json_array_get(answers, k);
        const json_t *e = json_object_get(a, "error");
        struct omb_deliver_result *ir = &res[where[k]];
        if (!a) {
            /* The shop did not read the body (no item answers at all): try again. */
            snprintf(ir->reason, sizeof(ir->reason), "%s: the answer lists no outcome for SKU %s",
                     what, items[k].sku);
            rcs[where[k]] = OMB_ERETRY;
            ret = (int)where[k] + 1;
            goto out;
        }
        if (!e) {
            wc_written_note(c, items[k].id, json_array_get(updates, k));
            continue;
        }
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        json_int_t st = json_integer_value(json_object_get(json_object_get(e, "data"), "status"));
        if (code && strstr(code, "invalid_id")) {
            if (!reloaded) {
                struct omb_deliver_result lr = {0};
                reloaded = true;
                if (wc_map_load(c, &lr) != OMB_OK) {
                    c->host->log(c->self, OMB_LOG_WARN, "%s", lr.reason);
                }
            }
            snprintf(ir->reason, sizeof(ir->reason),
                     "SKU %s: product id %" JSON_INTEGER_FORMAT " is gone from shop %s (%s: %s; "
                     "the SKU map was read again: replay the dead letter)",
                     items[k].sku, items[k].id, c->site_url, code, msg ? msg : "");
        } else {
            snprintf(ir->reason, sizeof(ir->reason),
                     "SKU %s (id %" JSON_INTEGER_FORMAT "): the shop refused the item: %s: %s "
                     "(status %" JSON_INTEGER_FORMAT ")",
                     items[k].sku, items[k].id, code ? code : "?", msg ? msg : "", st);
        }
        c->host->metric_counter_add(c->self, "items_rejected", 1);
        rcs[where[k]] = OMB_EREJECT;
    }
    ret = (int)taken;
out:
    wc_resp_clear(&r);
    json_decref(updates);
    return ret;
}

#define WC_WRITTEN_KEEP 8
#define WC_WRITTEN_MS (10 * 60 * 1000) /* an echo comes within minutes of its write */

/* The record of one field of product id: {"last": value, "w": [[value, ms], ...]} (borrowed,
 * created when create is set), or NULL. */
static json_t *field_record(struct wc_ctx *c, json_int_t id, const char *field, bool create)
{
    if (!c->written) {
        if (!create || !(c->written = json_object())) {
            return NULL;
        }
    }
    char key[32];
    snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, id);
    json_t *w = json_object_get(c->written, key);
    if (!w && create) {
        if (json_object_size(c->written) >= 200000) {
            json_object_clear(c->written); /* bounded; the worst case is one echo emitted */
        }
        w = json_object();
        if (!w || json_object_set_new(c->written, key, w) != 0) {
            return NULL;
        }
    }
    json_t *f = json_object_get(w, field);
    if (!f && create && w) {
        f = json_pack("{s:n, s:[]}", "last", "w");
        if (!f || json_object_set_new(w, field, f) != 0) {
            return NULL;
        }
    }
    return f;
}

static const char *const fields[][2] = {{"stock_quantity", "stock"}, {"regular_price", "price"}};

void wc_written_note(struct wc_ctx *c, json_int_t id, const json_t *item)
{
    if (!c->emit_changes || !item) {
        return; /* only needed to recognise echoes of the connector's own writes */
    }
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(item, fields[i][0]);
        json_t *f = v ? field_record(c, id, fields[i][1], true) : NULL;
        if (!f) {
            continue;
        }
        json_t *list = json_object_get(f, "w");
        json_array_append_new(list, json_pack("[O, I]", v, (json_int_t)c->host->now_ms()));
        while (json_array_size(list) > WC_WRITTEN_KEEP) {
            json_array_remove(list, 0);
        }
        json_object_set(f, "last", v);
    }
}

void wc_seen_note(struct wc_ctx *c, json_int_t id, const char *field, const json_t *value)
{
    json_t *f = c->emit_changes && value ? field_record(c, id, field, true) : NULL;
    if (f) {
        json_object_set(f, "last", (json_t *)value);
    }
}

bool wc_written_recent(struct wc_ctx *c, json_int_t id, const char *field, const json_t *value)
{
    const json_t *f = field_record(c, id, field, false);
    if (json_equal(json_object_get(f, "last"), (json_t *)value)) {
        return true; /* nothing changed */
    }
    int64_t now = c->host->now_ms();
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(f, "w"), i, e)
    {
        if (json_equal(json_array_get(e, 0), (json_t *)value) &&
            now - json_integer_value(json_array_get(e, 1)) <= WC_WRITTEN_MS) {
            return true; /* an echo of a recent write, maybe a late one */
        }
    }
    return false;
}

static void count_outcomes(struct wc_ctx *c, const int *rcs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c->host->metric_counter_add(c->self,
                                    rcs[i] == OMB_OK       ? "deliveries_ok"
                                    : rcs[i] == OMB_ERETRY ? "deliveries_retried"
                                                           : "deliveries_rejected",
                                    1);
        if (rcs[i] == OMB_ERETRY) {
            break;
        }
    }
}

int wc_deliver_one(struct wc_ctx *c, const json_t *event, struct omb_deliver_result *res)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    json_t *body = json_object_get(event, "body");
    int rc = OMB_EREJECT;
    run(c, &type, &body, 1, &rc, res);
    count_outcomes(c, &rc, 1);
    return rc;
}

int wc_deliver_batch(void *ctx, const struct omb_raw_event *events, size_t n, int *rcs,
                     struct omb_deliver_result *res)
{
    struct wc_ctx *c = ctx;
    if (n > 250) {
        n = 250;
    }
    const char *types[250] = {0};
    json_t *envs[250] = {0}, *bodies[250] = {0};
    for (size_t i = 0; i < n; i++) {
        envs[i] = json_loadb(events[i].envelope, events[i].envelope_len, 0, NULL);
        bodies[i] = json_loadb(events[i].body, events[i].body_len, 0, NULL);
        types[i] = json_string_value(json_object_get(envs[i], "type"));
        rcs[i] = OMB_EREJECT;
    }
    int taken = run(c, types, bodies, n, rcs, res);
    count_outcomes(c, rcs, (size_t)taken);
    for (size_t i = 0; i < n; i++) {
        json_decref(envs[i]);
        json_decref(bodies[i]);
    }
    return taken;
}
