/* Prices out: price.set sets the price of the SKU's ITEM_VARIATION. Square's catalog takes no
 * sparse updates (a field left out of an upsert is cleared), and every write must carry the
 * object's current `version`. So:
 *   1. GET /v2/catalog/object/{id}: the whole variation and its version;
 *   2. set item_variation_data.price_money {amount, currency} and pricing_type FIXED_PRICING,
 *      leaving every other field as read (nothing is written when the price is already so);
 *   3. POST /v2/catalog/object with the whole object and the idempotency key
 *      "omb-<event id>-price-<version>": the same event on the same version of the object sends
 *      the same key and body, a newer version a new key;
 *   4. VERSION_MISMATCH (someone wrote the object between 1 and 3): read and write once more
 *      within this delivery, then retry later.
 * The price's currency must be the variation's (and the `currency` option's when given): Square
 * keeps one currency per seller, and a price in another is rejected, not converted. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "square.h"

/* Check the event's price and its window. OMB_OK, or OMB_EREJECT with a reason. */
static int check_price(struct sq_ctx *c, const json_t *event, json_int_t *amount,
                       const char **currency, struct omb_deliver_result *res)
{
    const json_t *body = json_object_get(event, "body");
    const json_t *price = json_object_get(body, "price");
    const json_t *amt = json_object_get(price, "amount");
    *currency = json_string_value(json_object_get(price, "currency"));
    if (!json_is_integer(amt) || json_integer_value(amt) < 0 || !*currency ||
        strlen(*currency) != 3) {
        snprintf(res->reason, sizeof(res->reason),
                 "price.set without body.price {amount: an "
                 "integer >= 0 in minor units, currency: an ISO 4217 code}");
        return OMB_EREJECT;
    }
    *amount = json_integer_value(amt);
    if (c->currency && strcmp(c->currency, *currency) != 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "currency mismatch: the price is in %s, the "
                 "Square seller's currency (option currency) is %s; Square does not convert",
                 *currency, c->currency);
        c->host->metric_counter_add(c->self, "currency_mismatches", 1);
        return OMB_EREJECT;
    }
    const char *list = json_string_value(json_object_get(body, "price_list"));
    if (list && strcmp(list, "base") != 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "price list \"%.40s\": Square keeps one price "
                 "per variation; route only the base list (no price_list, or \"base\") here",
                 list);
        return OMB_EREJECT;
    }
    int64_t now = c->host->now_ms(), t;
    const char *from = json_string_value(json_object_get(body, "valid_from"));
    const char *to = json_string_value(json_object_get(body, "valid_to"));
    if (from && sq_time_parse(from, &t) == 0 && t > now) {
        snprintf(res->reason, sizeof(res->reason),
                 "the price is valid from %s: Square cannot "
                 "schedule a price; let the price book send it when the window opens",
                 from);
        return OMB_EREJECT;
    }
    if (to && sq_time_parse(to, &t) == 0 && t < now) {
        snprintf(res->reason, sizeof(res->reason), "the price was valid until %s: it has expired",
                 to);
        return OMB_EREJECT;
    }
    return OMB_OK;
}

/* Read the variation: OMB_OK with *obj (new), OMB_ENOTFOUND (404), or what the call says. */
static int read_variation(struct sq_ctx *c, const char *var_id, const char *what, json_t **obj,
                          struct omb_deliver_result *res)
{
    struct sq_resp r = {0};
    char err[256], path[512];
    int rc;
    *obj = NULL;
    char *esc = curl_easy_escape(c->curl, var_id, 0);
    if (!esc) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        return OMB_ERETRY;
    }
    snprintf(path, sizeof(path), "/v2/catalog/object/%.400s", esc);
    curl_free(esc);
    if (sq_call(c, "GET", path, NULL, &r, err, sizeof(err)) != 0) {
        return sq_transport_fail(c, what, err, res);
    }
    if (r.status == 404) {
        rc = OMB_ENOTFOUND;
    } else if (!sq_ok(&r)) {
        rc = sq_fail(c, &r, what, res);
    } else {
        json_t *o = json_object_get(r.json, "object");
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!json_is_object(json_object_get(o, "item_variation_data")) || !type ||
            strcmp(type, "ITEM_VARIATION") != 0) {
            snprintf(res->reason, sizeof(res->reason),
                     "%s: catalog object %s is not an "
                     "ITEM_VARIATION with item_variation_data",
                     what, var_id);
            rc = OMB_EREJECT;
        } else if (json_is_true(json_object_get(o, "is_deleted"))) {
            rc = OMB_ENOTFOUND;
        } else {
            *obj = json_deep_copy(o);
            rc = *obj ? OMB_OK : OMB_ERETRY;
            if (!*obj) {
                snprintf(res->reason, sizeof(res->reason), "out of memory");
            }
        }
    }
    sq_resp_clear(&r);
    return rc;
}

/* Set the price in obj. OMB_OK, OMB_EREJECT (another currency), or 1: the price is so already. */
static int set_price(struct sq_ctx *c, json_t *obj, const char *var_id, json_int_t amount,
                     const char *currency, struct omb_deliver_result *res)
{
    json_t *data = json_object_get(obj, "item_variation_data");
    const json_t *old = json_object_get(data, "price_money");
    const char *old_cur = json_string_value(json_object_get(old, "currency"));
    const char *pricing = json_string_value(json_object_get(data, "pricing_type"));
    if (old_cur && strcmp(old_cur, currency) != 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "currency mismatch: Square variation %s is "
                 "priced in %s, the event in %s; Square does not convert",
                 var_id, old_cur, currency);
        c->host->metric_counter_add(c->self, "currency_mismatches", 1);
        return OMB_EREJECT;
    }
    if (old_cur && pricing && strcmp(pricing, "FIXED_PRICING") == 0 &&
        json_is_integer(json_object_get(old, "amount")) &&
        json_integer_value(json_object_get(old, "amount")) == amount) {
        return 1;
    }
    if (json_object_set_new(data, "price_money",
                            json_pack("{s:I, s:s}", "amount", amount, "currency", currency)) ||
        json_object_set_new(data, "pricing_type", json_string("FIXED_PRICING"))) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        return OMB_ERETRY;
    }
    return OMB_OK;
}

int sq_price_deliver(struct sq_ctx *c, const json_t *event, struct omb_deliver_result *res)
{
    const char *sku = sq_body_string(event, "sku");
    const char *event_id = json_string_value(json_object_get(event, "id"));
    const char *currency = NULL, *var_id = NULL;
    json_int_t amount = 0;
    json_t *obj = NULL, *req = NULL;
    struct sq_resp r = {0};
    char err[256], what[160], key[200];
    bool reloaded = false;
    int rc;
    if (!sku) {
        snprintf(res->reason, sizeof(res->reason), "price.set without body.sku");
        return OMB_EREJECT;
    }
    if (!event_id || strlen(event_id) > 100) {
        snprintf(res->reason, sizeof(res->reason),
                 "the event has no usable id for the "
                 "idempotency key");
        return OMB_EREJECT;
    }
    rc = check_price(c, event, &amount, &currency, res);
    if (rc != OMB_OK) {
        return rc;
    }
    int64_t received = sq_event_received_ms(event);
    rc = sq_catalog_variation(c, sku, received, &reloaded, &var_id, res);
    if (rc != OMB_OK) {
        return rc;
    }
    snprintf(what, sizeof(what), "price of SKU %.60s", sku);
    for (int mismatches = 0;;) {
        rc = read_variation(c, var_id, what, &obj, res);
        if (rc == OMB_ENOTFOUND) {
            /* Deleted in Square since the map was read: read the map again (once). */
            sq_catalog_forget(c, sku);
            if (reloaded) {
                snprintf(res->reason, sizeof(res->reason),
                         "%s: variation %s is gone from the "
                         "Square catalog and no other has this SKU",
                         what, var_id);
                rc = OMB_EREJECT;
                goto out;
            }
            rc = sq_catalog_variation(c, sku, INT64_MAX, &reloaded, &var_id, res);
            if (rc != OMB_OK) {
                goto out;
            }
            continue;
        }
        if (rc != OMB_OK) {
            goto out;
        }
        rc = set_price(c, obj, var_id, amount, currency, res);
        if (rc == 1) {
            c->host->metric_counter_add(c->self, "prices_unchanged", 1);
            rc = OMB_OK;
            goto out;
        }
        if (rc != OMB_OK) {
            goto out;
        }
        const json_t *version = json_object_get(obj, "version");
        snprintf(key, sizeof(key), "omb-%s-price-%" JSON_INTEGER_FORMAT, event_id,
                 json_is_integer(version) ? json_integer_value(version) : (json_int_t)0);
        req = json_pack("{s:s, s:O}", "idempotency_key", key, "object", obj);
        if (!req) {
            snprintf(res->reason, sizeof(res->reason), "out of memory");
            rc = OMB_ERETRY;
            goto out;
        }
        if (sq_call(c, "POST", "/v2/catalog/object", req, &r, err, sizeof(err)) != 0) {
            rc = sq_transport_fail(c, what, err, res);
            goto out;
        }
        if (sq_ok(&r)) {
            c->host->metric_counter_add(c->self, "prices_set", 1);
            rc = OMB_OK;
            goto out;
        }
        if (strcmp(sq_error_code(r.json), "VERSION_MISMATCH") != 0) {
            rc = sq_fail(c, &r, what, res);
            goto out;
        }
        c->host->metric_counter_add(c->self, "version_mismatches", 1);
        if (++mismatches >= 2) {
            snprintf(res->reason, sizeof(res->reason),
                     "%s: variation %s changed in Square "
                     "while it was being written, twice (VERSION_MISMATCH): retrying later",
                     what, var_id);
            rc = OMB_ERETRY;
            goto out;
        }
        c->host->log(c->self, OMB_LOG_INFO,
                     "%s: variation %s was changed meanwhile "
                     "(VERSION_MISMATCH): reading it again",
                     what, var_id);
        sq_resp_clear(&r);
        json_decref(req);
        json_decref(obj);
        req = obj = NULL;
    }
out:
    sq_resp_clear(&r);
    json_decref(req);
    json_decref(obj);
    return rc;
}
