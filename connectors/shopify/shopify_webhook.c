/* Webhooks in: /hooks/<instance>/<webhook-path> on the daemon's HTTP ingress.
 *
 * Shopify signs each delivery with the app's client secret:
 *   X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, raw body))
 * checked over the raw bytes, before anything is parsed, in constant time. Answers:
 *   401  missing or wrong signature: nothing is emitted
 *   400  a body that is not a JSON object, or no X-Shopify-Topic
 *   200  orders/create           order.created (+ customer.identified when there is a customer)
 *        inventory_levels/update  stock.level (item and location mapped back to SKU and code)
 *        products/update          the identity map updated with the product's variants (and
 *                                 with emit-prices, price.set per variant)
 *        other topics             acknowledged, nothing emitted
 *   503  with Retry-After: the daemon pushed back (emit said OMB_EAGAIN or OMB_ESTOPPED), or
 *        an inventory level came before the identity map could be read
 * The dedupe key of each event is X-Shopify-Event-Id (shared by every delivery of one merchant
 * action; X-Shopify-Webhook-Id when it is absent), with "#customer" for the second event of an
 * order: a delivery sent again is dropped by the core, a partly emitted one completed. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shopify.h"

#define SIG_HEADER "X-Shopify-Hmac-Sha256"
#define BUSY_RETRY_AFTER_S 5

static void answer(struct sh_ctx *c, struct omb_http_response *res, int status, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static void answer(struct sh_ctx *c, struct omb_http_response *res, int status, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg) - 1, fmt, ap);
    va_end(ap);
    size_t n = strlen(c->msg);
    c->msg[n++] = '\n';
    c->msg[n] = '\0';
    res->status = status;
    res->body = c->msg;
    res->body_len = n;
}

static int verify(struct sh_ctx *c, const struct omb_http_request *req, char *why, size_t whylen)
{
    const char *sig = omb_http_header_get(req, SIG_HEADER);
    unsigned char claimed[OMB_HMAC_MAX + 3], mac[OMB_HMAC_MAX];
    size_t claimed_len = sizeof(claimed), maclen = sizeof(mac);
    if (!sig || !sig[0]) {
        snprintf(why, whylen, "missing signature header " SIG_HEADER);
        return OMB_EINVAL;
    }
    if (strlen(sig) > 4 * sizeof(claimed) / 3 ||
        c->host->base64_decode(sig, strlen(sig), claimed, &claimed_len) != 0) {
        snprintf(why, whylen, "signature header " SIG_HEADER " is not base64");
        return OMB_EINVAL;
    }
    if (c->host->hmac("sha256", c->webhook_secret, strlen(c->webhook_secret), req->body,
                      req->body_len, mac, &maclen) != 0) {
        snprintf(why, whylen, "cannot compute the HMAC");
        return OMB_EINVAL;
    }
    if (claimed_len != maclen || !c->host->mem_equal_ct(claimed, mac, maclen)) {
        snprintf(why, whylen, "signature does not match (is webhook-secret the app's secret?)");
        return OMB_EINVAL;
    }
    return 0;
}

/* A money object from a Shopify decimal string (new), or NULL. */
static json_t *money(const char *s, const char *currency)
{
    int64_t minor = 0;
    if (!s || !currency || sh_price_to_minor(s, sh_currency_exponent(currency), &minor) != 0) {
        return NULL;
    }
    return json_pack("{s:I, s:s}", "amount", (json_int_t)minor, "currency", currency);
}

static const char *str_or_num(const json_t *j, char *buf, size_t len)
{
    if (json_is_string(j)) {
        return json_string_value(j);
    }
    if (json_is_integer(j)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return buf;
    }
    return NULL;
}

/* orders/create -> order.created, and customer.identified when the order has a customer;
 * appended to out. NULL reason on success. */
static const char *order_events(struct sh_ctx *c, const json_t *o, const char *dedupe, json_t *out)
{
    char idbuf[32], cidbuf[32];
    const char *id = str_or_num(json_object_get(o, "id"), idbuf, sizeof(idbuf));
    const char *cur = json_string_value(json_object_get(o, "currency"));
    json_t *lines = json_array(), *body = NULL;
    if (!id || !cur || !lines) {
        json_decref(lines);
        return "an order without id or currency";
    }
    size_t i;
    const json_t *li;
    json_array_foreach(json_object_get(o, "line_items"), i, li)
    {
        const char *sku = json_string_value(json_object_get(li, "sku"));
        json_t *price = money(json_string_value(json_object_get(li, "price")), cur);
        json_t *line =
            json_pack("{s:s, s:I, s:o*}", "sku", sku ? sku : "", "qty",
                      json_integer_value(json_object_get(li, "quantity")), "unit_price", price);
        /* The line's discount: its discount_allocations (total_discount is deprecated). */
        int64_t disc = 0;
        size_t k;
        const json_t *da;
        json_array_foreach(json_object_get(li, "discount_allocations"), k, da)
        {
            int64_t v = 0;
            if (sh_price_to_minor(json_string_value(json_object_get(da, "amount")),
                                  sh_currency_exponent(cur), &v) == 0) {
                disc += v;
            }
        }
        if (line && disc > 0) {
            json_object_set_new(
                line, "discount",
                json_pack("{s:I, s:s}", "amount", (json_int_t)disc, "currency", cur));
        }
        json_array_append_new(lines, line);
    }
    json_t *total = money(json_string_value(json_object_get(o, "total_price")), cur);
    body = json_pack("{s:s, s:s, s:o, s:o*}", "order_id", id, "channel",
                     c->channel ? c->channel : "web", "lines", lines, "total", total);
    if (!body) {
        return "out of memory";
    }
    int64_t ship = 0;
    json_array_foreach(json_object_get(o, "shipping_lines"), i, li)
    {
        int64_t v = 0;
        if (sh_price_to_minor(json_string_value(json_object_get(li, "price")),
                              sh_currency_exponent(cur), &v) == 0) {
            ship += v;
        }
    }
    if (ship > 0) {
        json_object_set_new(body, "shipping",
                            json_pack("{s:I, s:s}", "amount", (json_int_t)ship, "currency", cur));
    }
    const json_t *addr = json_object_get(o, "shipping_address");
    const json_t *sl0 = json_array_get(json_object_get(o, "shipping_lines"), 0);
    const char *pickup = json_string_value(json_object_get(sl0, "code"));
    if (json_is_object(addr)) {
        json_t *a = json_object();
        const char *pairs[][2] = {{"name", "name"},       {"line1", "address1"},
                                  {"line2", "address2"},  {"city", "city"},
                                  {"postal_code", "zip"}, {"country", "country_code"}};
        for (size_t k = 0; a && k < sizeof(pairs) / sizeof(pairs[0]); k++) {
            const char *v = json_string_value(json_object_get(addr, pairs[k][1]));
            if (v && v[0]) {
                json_object_set_new(a, pairs[k][0], json_string(v));
            }
        }
        json_object_set_new(body, "fulfilment",
                            json_pack("{s:s, s:o}", "method", "ship", "address", a));
    } else if (pickup && json_object_get(c->loc_to_shop, pickup)) {
        json_object_set_new(body, "fulfilment",
                            json_pack("{s:s, s:s}", "method", "pickup", "location", pickup));
    } else {
        json_object_set_new(body, "fulfilment", json_pack("{s:s}", "method", "ship"));
    }
    const json_t *cu = json_object_get(o, "customer");
    const char *cid = str_or_num(json_object_get(cu, "id"), cidbuf, sizeof(cidbuf));
    const char *email = json_string_value(json_object_get(cu, "email"));
    if (!email) {
        email = json_string_value(json_object_get(o, "email"));
    }
    const char *phone = json_string_value(json_object_get(cu, "phone"));
    json_t *ids = json_array();
    if (cid) {
        json_t *cust = json_object();
        if (email) {
            json_object_set_new(cust, "email", json_string(email));
        }
        json_object_set_new(cust, "id", json_sprintf("shopify:%s", cid));
        json_object_set_new(body, "customer", cust);
        if (email) {
            json_array_append_new(ids, json_pack("{s:s, s:s}", "kind", "email", "value", email));
        }
        if (phone) {
            json_array_append_new(ids, json_pack("{s:s, s:s}", "kind", "phone", "value", phone));
        }
        json_array_append_new(ids, json_pack("{s:s, s:s}", "kind", "shopify", "value", cid));
    }
    json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:o}", "type", "order.created", "key", id,
                                         "dedupe", dedupe, "body", body));
    if (json_array_size(ids) > 0) {
        const json_t *first = json_array_get(ids, 0);
        json_t *profile = json_object();
        const char *gn = json_string_value(json_object_get(cu, "first_name"));
        const char *fn = json_string_value(json_object_get(cu, "last_name"));
        if (gn) {
            json_object_set_new(profile, "given_name", json_string(gn));
        }
        if (fn) {
            json_object_set_new(profile, "family_name", json_string(fn));
        }
        json_t *cb = json_pack("{s:O, s:o}", "identifiers", ids, "profile", profile);
        json_array_append_new(
            out, json_pack("{s:s, s:o, s:o, s:o}", "type", "customer.identified", "key",
                           json_sprintf("%s:%s", json_string_value(json_object_get(first, "kind")),
                                        json_string_value(json_object_get(first, "value"))),
                           "dedupe", json_sprintf("%s#customer", dedupe), "body", cb));
    }
    json_decref(ids);
    return NULL;
}

/* inventory_levels/update -> stock.level. NULL on success (or a skip, logged). */
static const char *level_event(struct sh_ctx *c, const json_t *p, const char *dedupe, json_t *out,
                               bool *busy)
{
    char ib[32], lb[32];
    const char *item = str_or_num(json_object_get(p, "inventory_item_id"), ib, sizeof(ib));
    const char *loc = str_or_num(json_object_get(p, "location_id"), lb, sizeof(lb));
    const json_t *avail = json_object_get(p, "available");
    const char *at = json_string_value(json_object_get(p, "updated_at"));
    if (!item || !loc) {
        return "an inventory level without inventory_item_id or location_id";
    }
    if (!c->map.loaded) {
        /* Not read yet (or its read failed): read it now; failing that, Shopify sends again. */
        struct omb_deliver_result why = {0};
        if (sh_idmap_load(c, &why) != OMB_OK) {
            c->host->log(c->self, OMB_LOG_WARN, "inventory_levels/update: %s", why.reason);
            *busy = true;
            return NULL;
        }
    }
    const char *sku = json_string_value(json_object_get(c->map.by_item, item));
    const char *code = json_string_value(json_object_get(c->loc_from_shop, loc));
    if (!sku || !code || !json_is_integer(avail)) {
        c->host->log(c->self, OMB_LOG_INFO,
                     "inventory_levels/update of item %s at location %s skipped: %s", item, loc,
                     !sku    ? "the item is not in the identity map"
                     : !code ? "the location is not in the option locations"
                             : "untracked (available is null)");
        c->host->metric_counter_add(c->self, "webhook_levels_skipped", 1);
        return NULL;
    }
    json_t *ev = json_pack("{s:s, s:o, s:s, s:{s:s, s:s, s:O}}", "type", "stock.level", "key",
                           json_sprintf("%s@%s", sku, code), "dedupe", dedupe, "body", "sku", sku,
                           "location", code, "on_hand", avail);
    if (ev && at) {
        json_object_set_new(json_object_get(ev, "body"), "as_of", json_string(at));
    }
    json_array_append_new(out, ev);
    return NULL;
}

/* The price.set of one variant (new) in the shop's currency, or NULL (no currency known, or a
 * price that is not a decimal string). */
static json_t *price_event(struct sh_ctx *c, const json_t *v, const char *sku, const char *dedupe)
{
    const char *cur = c->map.currency;
    json_t *price = cur[0] ? money(json_string_value(json_object_get(v, "price")), cur) : NULL;
    if (!price) {
        return NULL;
    }
    json_t *body = json_pack("{s:s, s:o}", "sku", sku, "price", price);
    json_t *cmp = money(json_string_value(json_object_get(v, "compare_at_price")), cur);
    if (body && cmp) {
        json_object_set_new(body, "compare_at", cmp);
    } else {
        json_decref(cmp);
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "type", "price.set", "key", sku, "dedupe",
                     json_sprintf("%s#%s", dedupe, sku), "body", body);
}

/* products/update: the identity map learns the product's variants and is stored; with
 * emit-prices, one price.set per variant is appended to out. */
static void product_update(struct sh_ctx *c, const json_t *p, const char *dedupe, json_t *out)
{
    char pb[32], vb[32], ib[32];
    const char *pid = str_or_num(json_object_get(p, "id"), pb, sizeof(pb));
    size_t i, n = 0;
    const json_t *v;
    json_array_foreach(json_object_get(p, "variants"), i, v)
    {
        const char *sku = json_string_value(json_object_get(v, "sku"));
        const char *vid = str_or_num(json_object_get(v, "id"), vb, sizeof(vb));
        const char *iid = str_or_num(json_object_get(v, "inventory_item_id"), ib, sizeof(ib));
        if (sku && sku[0] && vid && iid) {
            sh_idmap_set(c, sku, vid, iid, pid);
            n++;
        }
        json_t *ev =
            c->emit_prices && sku && sh_sku_ok(sku) ? price_event(c, v, sku, dedupe) : NULL;
        if (ev) {
            json_array_append_new(out, ev);
        }
    }
    if (n > 0) {
        sh_idmap_save(c);
    }
    c->host->metric_counter_add(c->self, "webhook_products_mapped", n);
}

static void on_request(void *arg, const struct omb_http_request *req, struct omb_http_response *res)
{
    struct sh_ctx *c = arg;
    char why[256], dedupe[300];
    json_t *body = NULL, *events = NULL;
    if (strcmp(req->method, "POST") != 0) {
        answer(c, res, 405, "only POST");
        res->headers[0] = (struct omb_http_header){"Allow", "POST"};
        res->n_headers = 1;
        return;
    }
    if (verify(c, req, why, sizeof(why)) != 0) {
        c->host->metric_counter_add(c->self, "webhooks_unauthorized", 1);
        c->host->log(c->self, OMB_LOG_WARN, "webhook from %s refused (401): %s", req->remote_addr,
                     why);
        answer(c, res, 401, "%s", why);
        return;
    }
    const char *topic = omb_http_header_get(req, "X-Shopify-Topic");
    const char *eid = omb_http_header_get(req, "X-Shopify-Event-Id");
    if (!eid || !eid[0]) {
        eid = omb_http_header_get(req, "X-Shopify-Webhook-Id");
    }
    body = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    if (!json_is_object(body) || !topic) {
        c->host->metric_counter_add(c->self, "webhooks_bad", 1);
        answer(c, res, 400, "expected a JSON object and X-Shopify-Topic");
        goto out;
    }
    snprintf(dedupe, sizeof(dedupe), "shopify:%.200s", eid && eid[0] ? eid : "");
    events = json_array();
    const char *bad = NULL;
    if (strcmp(topic, "orders/create") == 0) {
        bad = order_events(c, body, dedupe, events);
    } else if (strcmp(topic, "inventory_levels/update") == 0) {
        bool busy = false;
        bad = level_event(c, body, dedupe, events, &busy);
        if (busy) {
            answer(c, res, 503, "the shop's identity map could not be read: try again later");
            res->retry_after_s = BUSY_RETRY_AFTER_S;
            goto out;
        }
    } else if (strcmp(topic, "products/update") == 0) {
        product_update(c, body, dedupe, events);
    } else {
        c->host->metric_counter_add(c->self, "webhooks_ignored", 1);
        answer(c, res, 200, "ignored: %.64s", topic);
        goto out;
    }
    if (bad) {
        c->host->log(c->self, OMB_LOG_WARN, "webhook %s (%s) refused (400): %s", eid ? eid : "?",
                     topic, bad);
        answer(c, res, 400, "%s", bad);
        goto out;
    }
    if (!eid || !eid[0]) {
        /* No id to dedupe by: the events go without one. */
        size_t i;
        json_t *ev;
        json_array_foreach(events, i, ev)
        {
            json_object_del(ev, "dedupe");
        }
    }
    size_t emitted = 0;
    while (json_array_size(events) > 0) {
        json_t *ev = json_incref(json_array_get(events, 0));
        json_array_remove(events, 0);
        int rc = c->host->emit(c->self, ev);
        if (rc != OMB_OK) {
            if (rc == OMB_EAGAIN || rc == OMB_ESTOPPED) {
                c->host->metric_counter_add(c->self, "webhooks_deferred", 1);
                answer(c, res, 503, "%s: try again later", rc == OMB_EAGAIN ? "busy" : "stopping");
                res->retry_after_s = BUSY_RETRY_AFTER_S;
            } else {
                c->host->event_check(ev, why, sizeof(why));
                c->host->log(c->self, OMB_LOG_WARN, "webhook %s: event refused: %s",
                             eid ? eid : "?", why);
                answer(c, res, 400, "the event is not valid: %s", why);
            }
            json_decref(ev);
            goto out;
        }
        emitted++;
    }
    c->host->metric_counter_add(c->self, "webhooks_accepted", 1);
    answer(c, res, 200, "accepted: %zu event(s)", emitted);
out:
    json_decref(events);
    json_decref(body);
}

int sh_webhook_register(struct sh_ctx *c)
{
    if (!c->webhook_secret) {
        return 0;
    }
    if (!OMB_HOST_HAS(c->host, http_route_add) || !OMB_HOST_HAS(c->host, hmac) ||
        !OMB_HOST_HAS(c->host, mem_equal_ct) || !OMB_HOST_HAS(c->host, base64_decode)) {
        c->host->log(c->self, OMB_LOG_ERROR,
                     "webhook-secret (webhooks) needs omnibusd with ABI "
                     "1.1 or newer");
        return OMB_EINVAL;
    }
    int rc = c->host->http_route_add(c->self, c->webhook_path, on_request, c);
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "cannot serve webhooks at %s: %d", c->webhook_path,
                     rc);
    }
    return rc;
}
