/* Webhooks in: /hooks/<instance>/<webhook-path> on the daemon's HTTP ingress.
 *
 *   ping          form body webhook_id=N without a signature (sent when the webhook is saved):
 *                 200, nothing emitted
 *   signature     X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, raw body)), checked over
 *                 the raw bytes (the body is PHP-encoded: never a re-serialisation), in
 *                 constant time; missing or wrong: 401, nothing emitted
 *   order.created one canonical order.created (below), 200
 *   product.*     the SKU map entry of the product (or variation) is set, moved or dropped;
 *                 with emit-shop-changes, product.updated also becomes stock.level/price.set
 *                 for values this connector did not recently write itself (its own writes
 *                 come back as product.updated: those echoes are dropped, see
 *                 docs/connectors/woocommerce.md)
 *   other topics  200, ignored
 *
 * Dedupe key: "wc:<topic>:<resource id>:" + hex HMAC-SHA256(key "omnibus-wc", body), so the
 * same delivery sent twice (a retry of WooCommerce, or a resend) is one event, while two
 * deliveries within the same second (which share X-WC-Webhook-Delivery-ID) are not merged
 * unless their bodies are identical. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "woocommerce.h"

#define SIG_HEADER "X-WC-Webhook-Signature"
#define BUSY_RETRY_AFTER_S 5

static void answer(struct wc_ctx *c, struct omb_http_response *res, int status, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static void answer(struct wc_ctx *c, struct omb_http_response *res, int status, const char *fmt,
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

static int verify(struct wc_ctx *c, const struct omb_http_request *req, char *why, size_t whylen)
{
    const char *sig = omb_http_header_get(req, SIG_HEADER);
    unsigned char claimed[OMB_HMAC_MAX + 3], mac[OMB_HMAC_MAX];
    size_t claimed_len = sizeof(claimed), maclen = sizeof(mac);
    if (!sig || !sig[0]) {
        snprintf(why, whylen, "missing " SIG_HEADER);
        return OMB_EINVAL;
    }
    if (c->host->base64_decode(sig, strlen(sig), claimed, &claimed_len) != 0) {
        snprintf(why, whylen, SIG_HEADER " is not base64");
        return OMB_EINVAL;
    }
    if (c->host->hmac("sha256", c->webhook_secret, strlen(c->webhook_secret), req->body,
                      req->body_len, mac, &maclen) != 0) {
        snprintf(why, whylen, "cannot compute the HMAC");
        return OMB_EINVAL;
    }
    if (claimed_len != maclen || !c->host->mem_equal_ct(claimed, mac, maclen)) {
        snprintf(why, whylen,
                 "signature does not match (is webhook-secret the webhook's "
                 "secret?)");
        return OMB_EINVAL;
    }
    return 0;
}

static void dedupe_key(struct wc_ctx *c, const char *topic, json_int_t id,
                       const struct omb_http_request *req, char *out, size_t outlen)
{
    unsigned char mac[OMB_HMAC_MAX];
    size_t maclen = sizeof(mac);
    static const char key[] = "omnibus-wc";
    int n = snprintf(out, outlen, "wc:%.40s:%" JSON_INTEGER_FORMAT ":", topic, id);
    if (c->host->hmac("sha256", key, sizeof(key) - 1, req->body, req->body_len, mac, &maclen) !=
        0) {
        return;
    }
    for (size_t i = 0; i < maclen && (size_t)n + 2 < outlen; i++) {
        n += snprintf(out + n, outlen - (size_t)n, "%02x", mac[i]);
    }
}

/* A money string of the order as minor units, 0 when absent or unreadable. */
static json_int_t money_of(const json_t *o, const char *name)
{
    json_int_t v = 0;
    const json_t *j = json_object_get(o, name);
    if (json_is_string(j) && wc_money_parse(json_string_value(j), &v)) {
        return v;
    }
    return 0;
}

static json_t *money(json_int_t amount, const char *cur)
{
    return json_pack("{s:I, s:s}", "amount", amount, "currency", cur);
}

static void set_nonempty(json_t *obj, const char *name, const json_t *from, const char *field)
{
    const char *s = json_string_value(json_object_get(from, field));
    if (s && s[0]) {
        json_object_set_new(obj, name, json_string(s));
    }
}

/* The canonical order.created of a WooCommerce order (new), or NULL with why. */
static json_t *order_event(struct wc_ctx *c, const json_t *o, char *why, size_t whylen)
{
    json_int_t id = json_integer_value(json_object_get(o, "id"));
    const char *cur = json_string_value(json_object_get(o, "currency"));
    const json_t *lines = json_object_get(o, "line_items");
    if (id <= 0 || !cur || !json_is_array(lines) || json_array_size(lines) == 0) {
        snprintf(why, whylen, "not an order with id, currency and line_items");
        return NULL;
    }
    char oid[32];
    snprintf(oid, sizeof(oid), "%" JSON_INTEGER_FORMAT, id);
    json_t *body = json_pack("{s:s, s:s}", "order_id", oid, "channel", "web");
    json_t *out_lines = json_array();
    size_t i;
    const json_t *l;
    json_array_foreach(lines, i, l)
    {
        const char *sku = json_string_value(json_object_get(l, "sku"));
        json_int_t qty = json_integer_value(json_object_get(l, "quantity"));
        if (!wc_sku_ok(sku) || qty <= 0) {
            snprintf(why, whylen, "line %zu has no canonical SKU or quantity", i + 1);
            json_decref(out_lines);
            json_decref(body);
            return NULL;
        }
        json_int_t gross = money_of(l, "subtotal") + money_of(l, "subtotal_tax");
        json_int_t net = money_of(l, "total") + money_of(l, "total_tax");
        json_t *line = json_pack("{s:s, s:I, s:o}", "sku", sku, "qty", qty, "unit_price",
                                 money((gross + qty / 2) / qty, cur));
        if (gross > net) {
            json_object_set_new(line, "discount", money(gross - net, cur));
        }
        json_array_append_new(out_lines, line);
    }
    json_object_set_new(body, "lines", out_lines);
    json_int_t ship = money_of(o, "shipping_total") + money_of(o, "shipping_tax");
    if (ship > 0) {
        json_object_set_new(body, "shipping", money(ship, cur));
    }
    json_object_set_new(body, "total", money(money_of(o, "total"), cur));
    const json_t *billing = json_object_get(o, "billing");
    const json_t *shipping = json_object_get(o, "shipping");
    const char *a1 = json_string_value(json_object_get(shipping, "address_1"));
    const json_t *addr_from = a1 && a1[0] ? shipping : billing;
    json_t *addr = json_object();
    const char *fn = json_string_value(json_object_get(addr_from, "first_name"));
    const char *ln = json_string_value(json_object_get(addr_from, "last_name"));
    char name[200];
    snprintf(name, sizeof(name), "%s%s%s", fn ? fn : "", fn && fn[0] && ln && ln[0] ? " " : "",
             ln ? ln : "");
    if (name[0]) {
        json_object_set_new(addr, "name", json_string(name));
    }
    set_nonempty(addr, "line1", addr_from, "address_1");
    set_nonempty(addr, "line2", addr_from, "address_2");
    set_nonempty(addr, "city", addr_from, "city");
    set_nonempty(addr, "postal_code", addr_from, "postcode");
    set_nonempty(addr, "country", addr_from, "country");
    json_object_set_new(body, "fulfilment",
                        json_pack("{s:s, s:o}", "method", "ship", "address", addr));
    json_t *cust = json_object();
    set_nonempty(cust, "email", billing, "email");
    const char *phone = json_string_value(json_object_get(billing, "phone"));
    if (phone && phone[0] == '+') {
        json_object_set_new(cust, "phone", json_string(phone));
    }
    fn = json_string_value(json_object_get(billing, "first_name"));
    ln = json_string_value(json_object_get(billing, "last_name"));
    snprintf(name, sizeof(name), "%s%s%s", fn ? fn : "", fn && fn[0] && ln && ln[0] ? " " : "",
             ln ? ln : "");
    if (name[0]) {
        json_object_set_new(cust, "name", json_string(name));
    }
    json_int_t cid = json_integer_value(json_object_get(o, "customer_id"));
    if (cid > 0) {
        char s[32];
        snprintf(s, sizeof(s), "%" JSON_INTEGER_FORMAT, cid);
        json_object_set_new(cust, "ids", json_pack("{s:s}", "woocommerce", s));
    }
    if (json_object_size(cust) > 0) {
        json_object_set_new(body, "customer", cust);
    } else {
        json_decref(cust);
    }
    json_t *ev = json_pack("{s:s, s:s, s:o}", "type", "order.created", "key", oid, "body", body);
    const char *created = json_string_value(json_object_get(o, "date_created_gmt"));
    if (ev && created && strlen(created) == 19) {
        char t[32];
        snprintf(t, sizeof(t), "%sZ", created);
        json_object_set_new(ev, "time", json_string(t));
    }
    (void)c;
    return ev;
}

/* The changes a product.updated shows that are not echoes of this connector's own writes, as
 * events appended to out (emit-shop-changes). */
static void product_changes(struct wc_ctx *c, const char *topic, const json_t *p, json_int_t id,
                            const char *sku, json_t *out)
{
    if (!c->emit_changes || strcmp(topic, "product.updated") != 0 || !wc_sku_ok(sku)) {
        return;
    }
    const char *mod = json_string_value(json_object_get(p, "date_modified_gmt"));
    char as_of[32], key[300], dd[300];
    if (mod && strlen(mod) == 19) {
        snprintf(as_of, sizeof(as_of), "%sZ", mod);
    } else {
        as_of[0] = '\0';
    }
    const json_t *q = json_object_get(p, "stock_quantity");
    if (json_is_true(json_object_get(p, "manage_stock")) && json_is_integer(q) && as_of[0]) {
        if (wc_written_recent(c, id, "stock", q)) {
            c->host->metric_counter_add(c->self, "webhook_echoes_dropped", 1);
        } else {
            wc_seen_note(c, id, "stock", q);
            snprintf(key, sizeof(key), "%s@%s", sku, c->location);
            snprintf(dd, sizeof(dd), "wc:stock:%" JSON_INTEGER_FORMAT ":%s:%" JSON_INTEGER_FORMAT,
                     id, as_of, json_integer_value(q));
            json_array_append_new(out,
                                  json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:I, s:s}}", "type",
                                            "stock.level", "key", key, "time", as_of, "dedupe", dd,
                                            "body", "sku", sku, "location", c->location, "on_hand",
                                            json_integer_value(q), "as_of", as_of));
        }
    }
    const json_t *reg = json_object_get(p, "regular_price");
    json_int_t minor;
    if (c->currency && json_is_string(reg) && wc_money_parse(json_string_value(reg), &minor)) {
        if (wc_written_recent(c, id, "price", reg)) {
            c->host->metric_counter_add(c->self, "webhook_echoes_dropped", 1);
        } else {
            wc_seen_note(c, id, "price", reg);
            snprintf(dd, sizeof(dd), "wc:price:%" JSON_INTEGER_FORMAT ":%s:%s", id, as_of,
                     json_string_value(reg));
            json_t *ev = json_pack("{s:s, s:s, s:s, s:{s:s, s:{s:I, s:s}}}", "type", "price.set",
                                   "key", sku, "dedupe", dd, "body", "sku", sku, "price", "amount",
                                   minor, "currency", c->currency);
            if (ev && as_of[0]) {
                json_object_set_new(ev, "time", json_string(as_of));
            }
            json_array_append_new(out, ev);
        }
    }
}

/* product.created/updated/restored/deleted: keep the SKU map, and with emit-shop-changes
 * collect the changes into out. */
static void product_hook(struct wc_ctx *c, const char *topic, const json_t *p, json_t *out)
{
    json_int_t id = json_integer_value(json_object_get(p, "id"));
    const char *sku = json_string_value(json_object_get(p, "sku"));
    const char *type = json_string_value(json_object_get(p, "type"));
    json_int_t parent = type && strcmp(type, "variation") == 0
                            ? json_integer_value(json_object_get(p, "parent_id"))
                            : 0;
    if (id <= 0) {
        return;
    }
    const char *old = wc_map_sku_of(c, id);
    bool deleted = strstr(topic, ".deleted") != NULL;
    if (old && (deleted || !sku || strcmp(old, sku) != 0)) {
        char *o = strdup(old);
        if (o) {
            wc_map_set(c, o, 0, 0); /* the SKU moved away from this product, or it is gone */
            free(o);
        }
    }
    if (!deleted && sku && sku[0]) {
        wc_map_set(c, sku, id, parent);
    }
    c->host->metric_counter_add(c->self, "webhook_map_updates", 1);
    product_changes(c, topic, p, id, sku, out);
}

/* Emit the events of out in order; 0, or the emit's error (the rest stay unsent: the sender
 * sends again and dedupe drops what went through). */
static int emit_all(struct wc_ctx *c, json_t *out)
{
    while (json_array_size(out) > 0) {
        json_t *ev = json_incref(json_array_get(out, 0));
        json_array_remove(out, 0);
        char why[256];
        if (!ev || c->host->event_check(ev, why, sizeof(why)) != 0) {
            c->host->log(c->self, OMB_LOG_WARN, "product webhook: event skipped: %s",
                         ev ? why : "out of memory");
            json_decref(ev);
            continue;
        }
        int rc = c->host->emit(c->self, ev);
        if (rc != OMB_OK) {
            json_decref(ev);
            return rc;
        }
        c->host->metric_counter_add(c->self, "webhook_changes_emitted", 1);
    }
    return 0;
}

static void on_request(void *arg, const struct omb_http_request *req, struct omb_http_response *res)
{
    struct wc_ctx *c = arg;
    char why[256];
    json_t *body = NULL;
    if (strcmp(req->method, "POST") != 0) {
        answer(c, res, 405, "only POST");
        res->headers[0] = (struct omb_http_header){"Allow", "POST"};
        res->n_headers = 1;
        return;
    }
    if (!omb_http_header_get(req, SIG_HEADER) && req->body_len < 64 &&
        strncmp((const char *)req->body, "webhook_id=", 11) == 0) {
        c->host->metric_counter_add(c->self, "webhook_pings", 1);
        c->host->log(c->self, OMB_LOG_INFO, "webhook ping: %s", (const char *)req->body);
        answer(c, res, 200, "pong");
        return;
    }
    if (verify(c, req, why, sizeof(why)) != 0) {
        c->host->metric_counter_add(c->self, "webhooks_unauthorized", 1);
        c->host->log(c->self, OMB_LOG_WARN, "webhook from %s refused (401): %s", req->remote_addr,
                     why);
        answer(c, res, 401, "%s", why);
        return;
    }
    const char *topic = omb_http_header_get(req, "X-WC-Webhook-Topic");
    body = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    if (!topic || !json_is_object(body)) {
        c->host->metric_counter_add(c->self, "webhooks_bad", 1);
        answer(c, res, 400, "expected X-WC-Webhook-Topic and a JSON object");
        goto out;
    }
    if (strncmp(topic, "product.", 8) == 0) {
        json_t *changes = json_array();
        product_hook(c, topic, body, changes);
        int erc = emit_all(c, changes);
        json_decref(changes);
        if (erc == OMB_EAGAIN || erc == OMB_ESTOPPED) {
            answer(c, res, 503, "busy: try again later");
            res->retry_after_s = BUSY_RETRY_AFTER_S;
        } else if (erc != 0) {
            answer(c, res, 500, "the event could not be queued");
        } else {
            answer(c, res, 200, "map updated");
        }
        goto out;
    }
    if (strcmp(topic, "order.created") != 0) {
        c->host->metric_counter_add(c->self, "webhooks_ignored", 1);
        answer(c, res, 200, "ignored: %.64s", topic);
        goto out;
    }
    json_t *ev = order_event(c, body, why, sizeof(why));
    if (!ev || c->host->event_check(ev, why, sizeof(why)) != 0) {
        /* Answering anything else than 2xx would only get the webhook disabled. */
        c->host->log(c->self, OMB_LOG_WARN, "order.created webhook skipped: %s", why);
        c->host->metric_counter_add(c->self, "webhooks_skipped", 1);
        json_decref(ev);
        answer(c, res, 200, "skipped: %s", why);
        goto out;
    }
    char dd[200];
    dedupe_key(c, topic, json_integer_value(json_object_get(body, "id")), req, dd, sizeof(dd));
    json_object_set_new(ev, "dedupe", json_string(dd));
    int rc = c->host->emit(c->self, ev);
    if (rc != OMB_OK) {
        json_decref(ev);
        if (rc == OMB_EAGAIN || rc == OMB_ESTOPPED) {
            answer(c, res, 503, "busy: try again later");
            res->retry_after_s = BUSY_RETRY_AFTER_S;
        } else {
            answer(c, res, 500, "the event could not be queued");
        }
        goto out;
    }
    c->host->metric_counter_add(c->self, "webhooks_accepted", 1);
    answer(c, res, 200, "accepted");
out:
    json_decref(body);
}

int wc_webhook_register(struct wc_ctx *c)
{
    if (!c->webhook_secret) {
        return 0;
    }
    if (!OMB_HOST_HAS(c->host, http_route_add) || !OMB_HOST_HAS(c->host, hmac) ||
        !OMB_HOST_HAS(c->host, mem_equal_ct) || !OMB_HOST_HAS(c->host, base64_decode)) {
        c->host->log(c->self, OMB_LOG_ERROR, "webhook-secret needs omnibusd with ABI 1.1");
        return OMB_EINVAL;
    }
    int rc = c->host->http_route_add(c->self, c->webhook_path, on_request, c);
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "cannot register webhook path \"%s\"",
                     c->webhook_path);
    }
    return rc;
}
