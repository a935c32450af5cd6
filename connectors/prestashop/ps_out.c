/* Out to PrestaShop, one event per request cycle (the webservice has no batch endpoint):
 *
 *   stock.level / stock.available  -> the SKU's stock_available row in the shop:
 *       GET /api/stock_availables/{id}, then (write-method put) PUT the object exactly as read
 *       with only <quantity> changed, or (write-method patch, PrestaShop 8+) PATCH
 *       <id> and <quantity> alone; write-method auto (the default) is patch when the shop's
 *       PSWS-Version header says 8 or later, put otherwise. The row is read right before each
 * write, never from the map or an earlier read, so a change made since is kept; nothing is written
 * when the shop already holds the quantity. price.set -> a product's price (tax excluded: the
 * canonical price divided by 1 + tax-rate) or, for a combination's SKU, the combination's price
 * impact (that price minus the product's base price). put: the object as read, minus the read-only
 * quantity and manufacturer_name, with <price> changed; patch: <id> and <price> alone. Absolute
 * values only, so a retried or replayed delivery writes the same thing again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "prestashop.h"

static const char *body_string(const json_t *event, const char *name)
{
    return json_string_value(json_object_get(json_object_get(event, "body"), name));
}

/* GET resource/id into r. OMB_OK, OMB_ENOTFOUND (404), or the failure's meaning. */
static int get_one(struct ps_ctx *c, const char *resource, long long id, struct ps_resp *r,
                   struct omb_deliver_result *res)
{
    char path[128], err[300], what[160];
    snprintf(path, sizeof(path), "%s/%lld", resource, id);
    int rc = ps_call(c, "GET", path, NULL, 0, r, err, sizeof(err));
    if (rc != 0) {
        snprintf(res->reason, sizeof(res->reason), "reading %s: %s", path, err);
        return OMB_ERETRY;
    }
    if (r->status == 404) {
        ps_resp_clear(r);
        return OMB_ENOTFOUND;
    }
    if (!ps_ok(r)) {
        snprintf(what, sizeof(what), "reading %s", path);
        rc = ps_fail(c, r, "GET", what, res->reason, sizeof(res->reason), &res->retry_after_ms);
        ps_resp_clear(r);
        return rc;
    }
    if (!ps_body(r)) {
        snprintf(res->reason, sizeof(res->reason), "reading %s: the answer is not PrestaShop XML",
                 path);
        ps_resp_clear(r);
        return OMB_ERETRY;
    }
    return OMB_OK;
}

/* Write field=value of resource/id: the whole object of r (put) or just the field (patch). */
static int write_field(struct ps_ctx *c, const char *resource, const char *node, long long id,
                       struct ps_resp *r, const char *field, const char *value,
                       struct omb_deliver_result *res)
{
    char path[128], err[300], what[160];
    xmlChar *xml = NULL;
    char *patch = NULL;
    int len = 0, rc;
    /* auto: PATCH where the shop said it is PrestaShop 8 or later (PSWS-Version of the GET
     * just made), PUT otherwise. */
    bool use_patch =
        c->write_method == PS_WRITE_PATCH || (c->write_method == PS_WRITE_AUTO && c->ps_major >= 8);
    const char *method = use_patch ? "PATCH" : "PUT";
    snprintf(path, sizeof(path), "%s/%lld", resource, id);
    if (use_patch) {
        len = asprintf(&patch,
                       "<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\"><%s><id>%lld"
                       "</id><%s>%s</%s></%s></prestashop>",
                       node, id, field, value, field, node);
        if (len < 0) {
            patch = NULL;
        }
    } else {
        xmlNode *obj = ps_body(r);
        xmlNode *f = ps_child(obj, field);
        if (!f) {
            snprintf(res->reason, sizeof(res->reason), "%s has no <%s>", path, field);
            return OMB_EREJECT;
        }
        xmlNodeSetContent(f, (const xmlChar *)value);
        /* Read-only fields PrestaShop refuses in a PUT (code 93). */
        static const char *const readonly[] = {"quantity", "manufacturer_name", NULL};
        if (strcmp(resource, "products") == 0) {
            for (size_t i = 0; readonly[i]; i++) {
                xmlNode *ro = ps_child(obj, readonly[i]);
                if (ro) {
                    xmlUnlinkNode(ro);
                    xmlFreeNode(ro);
                }
            }
        }
        xmlDocDumpMemoryEnc(r->doc, &xml, &len, "UTF-8");
    }
    if (!xml && !patch) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        return OMB_ERETRY;
    }
    struct ps_resp w = {0};
    rc = ps_call(c, method, path, xml ? (const char *)xml : patch, (size_t)len, &w, err,
                 sizeof(err));
    xmlFree(xml);
    free(patch);
    if (rc != 0) {
        snprintf(res->reason, sizeof(res->reason), "writing %s: %s", path, err);
        return OMB_ERETRY;
    }
    if (!ps_ok(&w)) {
        snprintf(what, sizeof(what), "%s %s", method, path);
        rc = ps_fail(c, &w, method, what, res->reason, sizeof(res->reason), &res->retry_after_ms);
    }
    ps_resp_clear(&w);
    return rc;
}

int ps_stock_deliver(struct ps_ctx *c, const json_t *event, const char *type,
                     struct omb_deliver_result *res)
{
    bool level = strcmp(type, "stock.level") == 0;
    const char *sku = body_string(event, "sku");
    const char *loc = body_string(event, "location");
    if (!level && !loc) {
        loc = body_string(event, "channel");
    }
    const json_t *q =
        json_object_get(json_object_get(event, "body"), level ? "on_hand" : "available");
    if (!sku || !json_is_integer(q)) {
        snprintf(res->reason, sizeof(res->reason), "%s without body.sku or an integer body.%s",
                 type, level ? "on_hand" : "available");
        return OMB_EREJECT;
    }
    if (!loc || strcmp(loc, c->location) != 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "%s of SKU %.64s is for %.64s, but this shop's stock is fed by location %.64s "
                 "(option location): filter the route",
                 type, sku, loc ? loc : "(none)", c->location);
        return OMB_EREJECT;
    }
    long long qty = (long long)json_integer_value(q);
    int64_t received = ps_event_received_ms(c, event);
    bool reloaded = false;
    for (;;) {
        long long pid, pa, sid;
        int rc = ps_map_lookup(c, sku, received, &reloaded, &pid, &pa, &sid, res->reason,
                               sizeof(res->reason), &res->retry_after_ms);
        if (rc != OMB_OK) {
            return rc;
        }
        if (pa == 0 && ps_map_is_parent(c, pid)) {
            snprintf(res->reason, sizeof(res->reason),
                     "SKU %.64s is a product with combinations in shop %s: its stock is the sum "
                     "of theirs, send the combinations' SKUs",
                     sku, c->shop_url);
            return OMB_EREJECT;
        }
        if (sid <= 0 && !reloaded) {
            reloaded = true;
            rc = ps_map_load(c, res->reason, sizeof(res->reason), &res->retry_after_ms);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (sid <= 0) {
            snprintf(res->reason, sizeof(res->reason),
                     "SKU %.64s (id_product %lld, id_product_attribute %lld) has no "
                     "stock_available row in shop %s (id_shop %lld)",
                     sku, pid, pa, c->shop_url, (long long)c->id_shop);
            return OMB_EREJECT;
        }
        struct ps_resp r = {0};
        rc = get_one(c, "stock_availables", sid, &r, res);
        if (rc == OMB_ENOTFOUND) {
            if (!reloaded) {
                reloaded = true;
                rc = ps_map_load(c, res->reason, sizeof(res->reason), &res->retry_after_ms);
                if (rc != 0) {
                    return rc;
                }
                continue;
            }
            snprintf(res->reason, sizeof(res->reason),
                     "SKU %.64s: stock_available %lld is gone from shop %s", sku, sid, c->shop_url);
            return OMB_EREJECT;
        }
        if (rc != OMB_OK) {
            return rc;
        }
        xmlNode *row = ps_body(&r);
        long long have = ps_child_int(row, "quantity", qty + 1);
        if (have == qty) {
            c->host->metric_counter_add(c->self, "writes_skipped_unchanged", 1);
            ps_resp_clear(&r);
            return OMB_OK;
        }
        char v[32];
        snprintf(v, sizeof(v), "%lld", qty);
        rc = write_field(c, "stock_availables", "stock_available", sid, &r, "quantity", v, res);
        ps_resp_clear(&r);
        if (rc == OMB_OK) {
            c->host->metric_counter_add(c->self, "stock_written", 1);
        }
        return rc;
    }
}

long long ps_price_to_minor(const struct ps_ctx *c, const char *price)
{
    double p = price ? strtod(price, NULL) : 0.0;
    return llround(p * c->tax_factor * 100.0);
}

/* The price of resource/id as read into r (a decimal string, new). */
static double read_price(struct ps_resp *r)
{
    char *t = ps_text(ps_child(ps_body(r), "price"));
    double v = t ? strtod(t, NULL) : 0.0;
    free(t);
    return v;
}

int ps_price_deliver(struct ps_ctx *c, const json_t *event, struct omb_deliver_result *res)
{
    const char *sku = body_string(event, "sku");
    const json_t *price = json_object_get(json_object_get(event, "body"), "price");
    const json_t *amount = json_object_get(price, "amount");
    const char *cur = json_string_value(json_object_get(price, "currency"));
    const char *list = body_string(event, "price_list");
    if (!sku || !json_is_integer(amount) || !cur) {
        snprintf(res->reason, sizeof(res->reason),
                 "price.set without body.sku or body.price {amount, currency}");
        return OMB_EREJECT;
    }
    if (strcmp(cur, c->currency) != 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "price.set of SKU %.64s is in %.8s, the shop's prices are in %.8s", sku, cur,
                 c->currency);
        return OMB_EREJECT;
    }
    if (list && strcmp(list, "base") != 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "price.set of SKU %.64s is for price list %.64s: the prestashop connector "
                 "writes the base price only",
                 sku, list);
        return OMB_EREJECT;
    }
    double excl = (double)json_integer_value(amount) / 100.0 / c->tax_factor;
    int64_t received = ps_event_received_ms(c, event);
    bool reloaded = false;
    long long pid, pa, sid;
    int rc = ps_map_lookup(c, sku, received, &reloaded, &pid, &pa, &sid, res->reason,
                           sizeof(res->reason), &res->retry_after_ms);
    if (rc != OMB_OK) {
        return rc;
    }
    struct ps_resp prod = {0}, comb = {0};
    rc = get_one(c, "products", pid, &prod, res);
    if (rc == OMB_ENOTFOUND) {
        snprintf(res->reason, sizeof(res->reason), "SKU %.64s: product %lld is gone from shop %s",
                 sku, pid, c->shop_url);
        return OMB_EREJECT;
    }
    if (rc != OMB_OK) {
        return rc;
    }
    char v[48];
    if (pa == 0) {
        snprintf(v, sizeof(v), "%.6f", excl);
        char *have = ps_text(ps_child(ps_body(&prod), "price"));
        bool same = have && fabs(strtod(have, NULL) - excl) < 0.0000005;
        free(have);
        rc = same ? OMB_OK : write_field(c, "products", "product", pid, &prod, "price", v, res);
    } else {
        double base = read_price(&prod);
        snprintf(v, sizeof(v), "%.6f", excl - base);
        rc = get_one(c, "combinations", pa, &comb, res);
        if (rc == OMB_ENOTFOUND) {
            snprintf(res->reason, sizeof(res->reason),
                     "SKU %.64s: combination %lld is gone from shop %s", sku, pa, c->shop_url);
            rc = OMB_EREJECT;
        } else if (rc == OMB_OK) {
            bool same = fabs(read_price(&comb) - (excl - base)) < 0.0000005;
            rc = same ? OMB_OK
                      : write_field(c, "combinations", "combination", pa, &comb, "price", v, res);
        }
    }
    ps_resp_clear(&prod);
    ps_resp_clear(&comb);
    if (rc == OMB_OK) {
        c->host->metric_counter_add(c->self, "prices_written", 1);
    }
    return rc;
}
