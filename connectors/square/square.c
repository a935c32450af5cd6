/* The square connector: stock and prices out to Square (Inventory and Catalog APIs), stock
 * counts in from Square's inventory.count.updated webhooks. Options, validation, lifecycle,
 * the deliver dispatch and the descriptor; the work is in the other square_*.c files.
 * See docs/connectors/square.md. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/plugin.h>

#include "square.h"

#define OPT(name, type, def, flags, min, max, field, doc)                                          \
    {                                                                                              \
        name, type, def, flags, min, max, NULL, offsetof(struct sq_ctx, field), doc                \
    }

static const struct omb_option options[] = {
    OPT("base-url", OMB_OPT_URL, "https://connect.squareup.com", 0, 0, 0, base_url,
        "Square API base URL (https://connect.squareupsandbox.com for the sandbox; tests point "
        "it at a local fake)"),
    OPT("access-token", OMB_OPT_SECRET, NULL, OMB_OPTF_REQUIRED, 0, 0, token,
        "the seller's access token, sent as Authorization: Bearer (env:NAME or file:PATH); "
        "needs INVENTORY_READ, INVENTORY_WRITE, ITEMS_READ and ITEMS_WRITE"),
    OPT("square-version", OMB_OPT_STRING, "2025-01-23", 0, 0, 0, square_version,
        "the Square-Version header (YYYY-MM-DD): the API version the requests are written for"),
    OPT("locations", OMB_OPT_LIST, NULL, OMB_OPTF_REQUIRED | OMB_OPTF_MULTI, 0, 0, locations,
        "canonical location = Square location_id pairs, comma-separated or repeated, e.g. "
        "WAW01=L8J2ZK5ND3V1A,KRK02=L9Q4XW2HT0S7B"),
    OPT("currency", OMB_OPT_STRING, NULL, 0, 0, 0, currency,
        "the seller's ISO 4217 currency (e.g. PLN): a price.set in another one is rejected "
        "before any call; absent: only the variation's own currency is checked"),
    OPT("signature-key", OMB_OPT_SECRET, NULL, 0, 0, 0, signature_key,
        "the webhook subscription's signature key (env:NAME or file:PATH); makes the instance "
        "a source of stock.level from inventory.count.updated webhooks"),
    OPT("notification-url", OMB_OPT_URL, NULL, 0, 0, 0, notification_url,
        "the notification URL exactly as configured at Square (the signature covers it and the "
        "raw body); needed with signature-key"),
    OPT("webhook-path", OMB_OPT_STRING, "webhooks", 0, 0, 0, webhook_path,
        "webhooks are served at /hooks/<connector name>/<webhook-path> on the daemon's <http> "
        "listener"),
    OPT("timeout", OMB_OPT_DURATION, "10s", 0, 100, 600000, timeout_ms,
        "deadline of one API call, connecting included"),
    OPT("connect-timeout", OMB_OPT_DURATION, "5s", 0, 100, 600000, connect_timeout_ms,
        "deadline of connecting (and the TLS handshake)"),
    OPT("ca-file", OMB_OPT_STRING, NULL, 0, 0, 0, ca_file,
        "PEM file of CA certificates to verify Square with instead of the system's"),
    OPT("retry-after-max", OMB_OPT_DURATION, "1h", 0, 1000, 86400000, retry_after_max_ms,
        "the longest Retry-After from Square that is honoured"),
    OMB_OPTION_END};

static const char *const consumes[] = {"stock.level", "stock.delta", "stock.available", "price.set",
                                       NULL};
static const char *const produces[] = {"stock.level", NULL};

static bool http_url(const char *u)
{
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
           !strpbrk(u, " \t\r\n");
}

static int sq_validate(const void *ctx, char *err, size_t errlen)
{
    const struct sq_ctx *c = ctx;
    if (!http_url(c->base_url)) {
        snprintf(err, errlen, "base-url must be an http:// or https:// URL");
        return OMB_EINVAL;
    }
    if (!c->token || !c->token[0] || strpbrk(c->token, "\r\n")) {
        snprintf(err, errlen, "access-token is empty or holds a line break");
        return OMB_EINVAL;
    }
    const char *v = c->square_version ? c->square_version : "";
    bool ok = strlen(v) == 10 && v[4] == '-' && v[7] == '-';
    for (size_t i = 0; ok && i < 10; i++) {
        ok = i == 4 || i == 7 || isdigit((unsigned char)v[i]);
    }
    if (!ok) {
        snprintf(err, errlen, "square-version \"%.40s\" is not a date like 2025-01-23", v);
        return OMB_EINVAL;
    }
    json_t *to = NULL, *from = NULL;
    if (sq_locations_parse(c->locations, &to, &from, err, errlen) != 0) {
        return OMB_EINVAL;
    }
    size_t n = json_object_size(to);
    json_decref(to);
    json_decref(from);
    if (n == 0) {
        snprintf(err, errlen, "locations maps no location (LOCATION=SQUARE_LOCATION_ID, ...)");
        return OMB_EINVAL;
    }
    if (c->currency &&
        (strlen(c->currency) != 3 || !isupper((unsigned char)c->currency[0]) ||
         !isupper((unsigned char)c->currency[1]) || !isupper((unsigned char)c->currency[2]))) {
        snprintf(err, errlen, "currency \"%.20s\" is not an ISO 4217 code like PLN", c->currency);
        return OMB_EINVAL;
    }
    if (c->signature_key && !c->notification_url) {
        snprintf(err, errlen,
                 "signature-key needs notification-url (the URL configured at "
                 "Square: the signature covers it)");
        return OMB_EINVAL;
    }
    if (c->notification_url && !c->signature_key) {
        snprintf(err, errlen,
                 "notification-url is set but signature-key is not: webhooks are "
                 "only taken signed");
        return OMB_EINVAL;
    }
    if (c->signature_key && !c->signature_key[0]) {
        snprintf(err, errlen, "signature-key is empty");
        return OMB_EINVAL;
    }
    if (c->notification_url && !http_url(c->notification_url)) {
        snprintf(err, errlen, "notification-url must be an http:// or https:// URL");
        return OMB_EINVAL;
    }
    if (!c->webhook_path || !c->webhook_path[0]) {
        snprintf(err, errlen, "webhook-path is empty");
        return OMB_EINVAL;
    }
    return 0;
}

static void sq_destroy(void *ctx);

static int sq_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct sq_ctx *c = ctx;
    char err[256];
    int rc;
    c->host = host;
    c->self = self;
    c->base = strdup(c->base_url ? c->base_url : "");
    if (!c->base) {
        return OMB_ENOMEM;
    }
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/') {
        c->base[--n] = '\0';
    }
    if (sq_locations_parse(c->locations, &c->loc_to_square, &c->loc_from_square, err,
                           sizeof(err)) != 0) {
        host->log(self, OMB_LOG_ERROR, "%s", err);
        rc = OMB_EINVAL;
        goto fail;
    }
    /* The webhook path is registered now, so that the daemon's listener knows of it when it
     * starts; requests that come before start() are answered 503 by the host. */
    rc = sq_webhook_register(c);
    if (rc != 0) {
        goto fail;
    }
    return 0;
fail:
    sq_destroy(c); /* destroy is not called after a failed create: free what was made */
    return rc;
}

/* The one-shot timer after start: read the SKU map now, so that the first delivery or webhook
 * does not wait for it, and a wrong token shows in the log at once. A failure is only logged:
 * the map is read again at the first need. */
static void warm_up(void *arg)
{
    struct sq_ctx *c = arg;
    struct omb_deliver_result res = {0};
    c->warm_timer = 0;
    if (!c->catalog.loaded_ms && !c->host->stopping(c->self) &&
        sq_catalog_load(c, &res) != OMB_OK) {
        c->host->log(c->self, OMB_LOG_WARN, "%s (read again at the first need)", res.reason);
    }
}

static int sq_start(void *ctx)
{
    struct sq_ctx *c = ctx;
    /* No call to Square in start itself: an outage (or a wrong token) shows up as failed
     * deliveries and a warning, not as a connector that never starts. */
    int rc = sq_api_start(c);
    if (rc == 0 && !c->warm_timer &&
        c->host->timer_add(c->self, 0, 0, warm_up, c, &c->warm_timer) != 0) {
        c->warm_timer = 0; /* no timer: the map is read at the first need */
    }
    return rc;
}

static int sq_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    struct sq_ctx *c = ctx;
    const char *type = json_string_value(json_object_get(event, "type"));
    int rc;
    if (!json_is_object(json_object_get(event, "body"))) {
        snprintf(res->reason, sizeof(res->reason), "the event has no body object");
        rc = OMB_EREJECT;
    } else if (type && (strcmp(type, "stock.level") == 0 || strcmp(type, "stock.delta") == 0 ||
                        strcmp(type, "stock.available") == 0)) {
        rc = sq_stock_deliver(c, event, type, res);
    } else if (type && strcmp(type, "price.set") == 0) {
        rc = sq_price_deliver(c, event, res);
    } else {
        snprintf(res->reason, sizeof(res->reason),
                 "event type %.64s is not one the square "
                 "connector takes (stock.level, stock.delta, stock.available, price.set)",
                 type ? type : "(none)");
        rc = OMB_EREJECT;
    }
    c->host->metric_counter_add(c->self,
                                rc == OMB_OK       ? "deliveries_ok"
                                : rc == OMB_ERETRY ? "deliveries_retried"
                                                   : "deliveries_rejected",
                                1);
    return rc;
}

static int sq_stop(void *ctx)
{
    struct sq_ctx *c = ctx;
    if (c->warm_timer) {
        c->host->timer_cancel(c->self, c->warm_timer);
        c->warm_timer = 0;
    }
    return 0; /* webhooks: the host answers 503 from now on; deliveries: until destroy */
}

static void sq_destroy(void *ctx)
{
    struct sq_ctx *c = ctx;
    sq_api_stop(c);
    sq_catalog_free(&c->catalog);
    json_decref(c->loc_to_square);
    json_decref(c->loc_from_square);
    c->loc_to_square = c->loc_from_square = NULL;
    free(c->base);
    c->base = NULL;
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "square",
    .version = "1.0.0",
    .description = "Square: stock counts, adjustments and prices out (Inventory and Catalog "
                   "APIs); inventory.count.updated webhooks in as stock.level",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK,
    .consumes = consumes,
    .produces = produces,
    .options = options,
    .ctx_size = sizeof(struct sq_ctx),
    .create = sq_create,
    .validate = sq_validate,
    .start = sq_start,
    .deliver = sq_deliver,
    .stop = sq_stop,
    .destroy = sq_destroy,
};
