/* Webhooks in: /hooks/<instance>/<webhook-path> on the daemon's HTTP ingress.
 *
 * Square signs each notification with the subscription's signature key:
 *   x-square-hmacsha256-signature = base64(HMAC-SHA256(key, notification URL + raw body))
 * where the URL is the one configured at Square (what Square called, maybe through a proxy),
 * not what reached us: it is the notification-url option. It is checked over the raw bytes,
 * before anything is parsed, in constant time. Answers:
 *   401  missing or wrong signature: nothing is emitted
 *   400  a body that is not a JSON object with a string event_id and type
 *   200  inventory.count.updated: one stock.level per IN_STOCK count whose location and
 *        variation are known (the others are logged and counted, and skipped: Square would only
 *        send them again); other types are acknowledged and ignored (catalog.version.updated
 *        marks the SKU map stale first)
 *   503  with Retry-After: the daemon pushed back (emit said OMB_EAGAIN or OMB_ESTOPPED), or
 *        the SKU map could not be read; Square sends the notification again later
 * Each event's dedupe key is Square's event_id (with "#<index>" when one notification carries
 * several counts), so a notification Square sends again is dropped by the core within the
 * connector's dedupe-window, and a partly emitted one is completed, not doubled. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "square.h"

#define SIG_HEADER "x-square-hmacsha256-signature"
#define BUSY_RETRY_AFTER_S 5

static void answer(struct sq_ctx *c, struct omb_http_response *res, int status, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* Set the status and a one-line text body (kept in c->msg until the handler returns). */
static void answer(struct sq_ctx *c, struct omb_http_response *res, int status, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg) - 1, fmt, ap); /* room is kept for the newline */
    va_end(ap);
    size_t n = strlen(c->msg);
    c->msg[n++] = '\n';
    c->msg[n] = '\0';
    res->status = status;
    res->body = c->msg;
    res->body_len = n;
}

/* 0 when the signature is Square's, else OMB_EINVAL with why. */
static int verify(struct sq_ctx *c, const struct omb_http_request *req, char *why, size_t whylen)
{
    const char *sig = omb_http_header_get(req, SIG_HEADER);
    unsigned char claimed[OMB_HMAC_MAX + 3], mac[OMB_HMAC_MAX];
    size_t claimed_len = sizeof(claimed), maclen = sizeof(mac);
    if (!sig || !sig[0]) {
        snprintf(why, whylen, "missing signature header " SIG_HEADER);
        return OMB_EINVAL;
    }
    if (c->host->base64_decode(sig, strlen(sig), claimed, &claimed_len) != 0) {
        snprintf(why, whylen, "signature header " SIG_HEADER " is not base64");
        return OMB_EINVAL;
    }
    size_t ulen = strlen(c->notification_url);
    unsigned char *msg = malloc(ulen + req->body_len + 1);
    if (!msg) {
        snprintf(why, whylen, "out of memory");
        return OMB_ENOMEM;
    }
    memcpy(msg, c->notification_url, ulen);
    if (req->body_len) {
        memcpy(msg + ulen, req->body, req->body_len);
    }
    int rc = c->host->hmac("sha256", c->signature_key, strlen(c->signature_key), msg,
                           ulen + req->body_len, mac, &maclen);
    free(msg);
    if (rc != 0) {
        snprintf(why, whylen, "cannot compute the HMAC");
        return rc;
    }
    if (claimed_len != maclen || !c->host->mem_equal_ct(claimed, mac, maclen)) {
        snprintf(why, whylen,
                 "signature does not match (is notification-url exactly the URL "
                 "configured at Square?)");
        return OMB_EINVAL;
    }
    return 0;
}

/* A Square quantity ("12", "12.00000") as an integer; false for a fraction or junk. */
static bool whole_quantity(const char *q, json_int_t *out)
{
    if (!q || !q[0]) {
        return false;
    }
    char *end = NULL;
    long long v = strtoll(q, &end, 10);
    if (end == q) {
        return false;
    }
    if (*end == '.') {
        for (end++; *end == '0'; end++) {
        }
    }
    if (*end != '\0') {
        return false;
    }
    *out = (json_int_t)v;
    return true;
}

/* The stock.level for one count (new), or NULL when it is skipped (logged and counted).
 * *failed: the SKU map could not be read. */
static json_t *count_event(struct sq_ctx *c, const json_t *count, const char *event_id,
                           size_t index, size_t total, const char *merchant, bool *failed)
{
    const char *state = json_string_value(json_object_get(count, "state"));
    const char *var_id = json_string_value(json_object_get(count, "catalog_object_id"));
    const char *loc_id = json_string_value(json_object_get(count, "location_id"));
    const char *qty = json_string_value(json_object_get(count, "quantity"));
    const char *calc = json_string_value(json_object_get(count, "calculated_at"));
    const char *skip = NULL;
    json_int_t on_hand = 0;
    int64_t at_ms = 0;
    const char *location = NULL, *sku = NULL;
    if (!state || strcmp(state, "IN_STOCK") != 0) {
        c->host->metric_counter_add(c->self, "webhook_counts_other_state", 1);
        return NULL; /* SOLD, WASTE... are not stock on hand: nothing to say */
    }
    if (!var_id || !loc_id || !qty || !calc || sq_time_parse(calc, &at_ms) != 0) {
        skip = "malformed (catalog_object_id, location_id, quantity and an RFC 3339 "
               "calculated_at are needed)";
    } else if (!whole_quantity(qty, &on_hand)) {
        skip = "the quantity is not a whole number (canonical stock is counted in units)";
    } else if (!(location = json_string_value(json_object_get(c->loc_from_square, loc_id)))) {
        skip = "its location is not in the option locations";
    } else if (!(sku = sq_catalog_sku(c, var_id, failed))) {
        if (*failed) {
            return NULL;
        }
        skip = "its variation is not in the catalog map (or has no SKU)";
    } else if (!sq_sku_ok(sku)) {
        skip = "its SKU is not a canonical one (1-64 characters, no blanks or '@')";
    }
    if (skip) {
        c->host->log(c->self, OMB_LOG_WARN,
                     "webhook %s: count %zu (variation %s, location %s, "
                     "quantity %s) skipped: %s",
                     event_id, index, var_id ? var_id : "?", loc_id ? loc_id : "?", qty ? qty : "?",
                     skip);
        c->host->metric_counter_add(c->self, "webhook_counts_skipped", 1);
        return NULL;
    }
    char as_of[40], key[300], dedupe[300];
    sq_time_format(at_ms, as_of, sizeof(as_of));
    snprintf(key, sizeof(key), "%s@%s", sku, location);
    if (total > 1) {
        snprintf(dedupe, sizeof(dedupe), "%.200s#%zu", event_id, index);
    } else {
        snprintf(dedupe, sizeof(dedupe), "%.200s", event_id);
    }
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:I, s:s, s:{s:{s:s, s:s}}}}", "type",
                           "stock.level", "key", key, "time", as_of, "dedupe", dedupe, "body",
                           "sku", sku, "location", location, "on_hand", on_hand, "as_of", as_of,
                           "ext", "square", "catalog_object_id", var_id, "location_id", loc_id);
    if (ev && merchant) {
        json_object_set_new(
            json_object_get(json_object_get(json_object_get(ev, "body"), "ext"), "square"),
            "merchant_id", json_string(merchant));
    }
    char why[256];
    if (ev && c->host->event_check(ev, why, sizeof(why)) != 0) {
        /* A SKU with a blank or an '@' (Square allows them, canonical SKUs do not): answering
         * anything but 200 would only make Square send it again for a day. */
        c->host->log(c->self, OMB_LOG_WARN,
                     "webhook %s: count %zu (variation %s, SKU \"%s\") "
                     "skipped: not a valid stock.level: %s",
                     event_id, index, var_id, sku, why);
        c->host->metric_counter_add(c->self, "webhook_counts_skipped", 1);
        json_decref(ev);
        return NULL;
    }
    return ev;
}

/* The notification's events, in order, into out (an array). 0, or 503 when the map failed. */
static int build_events(struct sq_ctx *c, const json_t *body, const char *event_id, json_t *out)
{
    const json_t *counts = json_object_get(json_object_get(json_object_get(body, "data"), "object"),
                                           "inventory_counts");
    const char *merchant = json_string_value(json_object_get(body, "merchant_id"));
    size_t n = json_array_size(counts), i;
    const json_t *count;
    json_array_foreach(counts, i, count)
    {
        bool failed = false;
        json_t *ev = count_event(c, count, event_id, i, n, merchant, &failed);
        if (failed) {
            return 503;
        }
        if (ev) {
            json_array_append_new(out, ev);
        }
    }
    return 0;
}

void sq_webhook_request(void *arg, const struct omb_http_request *req,
                        struct omb_http_response *res)
{
    struct sq_ctx *c = arg;
    char why[256];
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
    json_error_t jerr;
    body = json_loadb((const char *)req->body, req->body_len, 0, &jerr);
    const char *event_id = json_string_value(json_object_get(body, "event_id"));
    const char *type = json_string_value(json_object_get(body, "type"));
    if (!json_is_object(body) || !event_id || !event_id[0] || !type) {
        c->host->metric_counter_add(c->self, "webhooks_bad", 1);
        answer(c, res, 400, "expected a JSON object with event_id and type");
        c->host->log(c->self, OMB_LOG_INFO, "webhook from %s refused (400): %s", req->remote_addr,
                     body ? "no event_id or type" : jerr.text);
        goto out;
    }
    if (strcmp(type, "inventory.count.updated") != 0) {
        if (strcmp(type, "catalog.version.updated") == 0) {
            c->catalog.stale = true; /* the SKU map is read again at the next need */
        }
        c->host->metric_counter_add(c->self, "webhooks_ignored", 1);
        c->host->log(c->self, OMB_LOG_DEBUG, "webhook %s of type %s: nothing to emit", event_id,
                     type);
        answer(c, res, 200, "ignored: %s", type);
        goto out;
    }
    events = json_array();
    if (!events) {
        answer(c, res, 500, "out of memory");
        goto out;
    }
    if (build_events(c, body, event_id, events) != 0) {
        answer(c, res, 503, "the Square catalog could not be read: try again later");
        res->retry_after_s = BUSY_RETRY_AFTER_S;
        goto out;
    }
    size_t emitted = 0;
    while (json_array_size(events) > 0) {
        /* Out of the array first: emit takes the only reference. */
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
                c->host->log(c->self, OMB_LOG_WARN, "webhook %s: event refused: %s", event_id, why);
                answer(c, res, 500, "the event could not be queued");
            }
            json_decref(ev); /* not taken: still ours */
            goto out;
        }
        emitted++;
    }
    c->host->metric_counter_add(c->self, "webhooks_accepted", 1);
    c->host->metric_counter_add(c->self, "webhook_levels_emitted", emitted);
    answer(c, res, 200, "accepted: %zu stock level(s)", emitted);
out:
    json_decref(events);
    json_decref(body);
}

int sq_webhook_register(struct sq_ctx *c)
{
    if (!c->signature_key) {
        return 0; /* no webhooks: a sink only */
    }
    if (!OMB_HOST_HAS(c->host, http_route_add) || !OMB_HOST_HAS(c->host, hmac) ||
        !OMB_HOST_HAS(c->host, mem_equal_ct) || !OMB_HOST_HAS(c->host, base64_decode)) {
        c->host->log(c->self, OMB_LOG_ERROR,
                     "signature-key (webhooks) needs omnibusd with ABI "
                     "1.1 (the HTTP ingress); this one has no http_route_add");
        return OMB_EINVAL;
    }
    int rc = c->host->http_route_add(c->self, c->webhook_path, sq_webhook_request, c);
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "cannot register webhook path \"%s\"",
                     c->webhook_path);
        return rc;
    }
    c->host->log(c->self, OMB_LOG_INFO, "webhooks at /hooks/%s/%s, signed for %s",
                 c->host->instance_name(c->self), c->webhook_path, c->notification_url);
    return 0;
}
