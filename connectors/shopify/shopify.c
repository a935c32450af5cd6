/* The shopify connector: stock levels and prices out to a Shopify shop (GraphQL Admin API:
 * inventorySetQuantities in batches of up to 250, productVariantsBulkUpdate), the snapshot of
 * levels and prices, and orders, inventory levels and products in from signed webhooks.
 * Options, validation, lifecycle, the deliver dispatch and the descriptor; the work is in the
 * other shopify_*.c files. See docs/connectors/shopify.md. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/plugin.h>

#include "shopify.h"

#define OPT(name, type, def, flags, min, max, field, doc)                                          \
    {                                                                                              \
        name, type, def, flags, min, max, NULL, offsetof(struct sh_ctx, field), doc                \
    }

static const struct omb_option options[] = {
    OPT("shop-url", OMB_OPT_URL, NULL, OMB_OPTF_REQUIRED, 0, 0, shop_url,
        "the shop's base URL, https://<shop>.myshopify.com (tests point it at a local fake); "
        "calls go to <shop-url>/admin/api/<api-version>/graphql.json"),
    OPT("access-token", OMB_OPT_SECRET, NULL, OMB_OPTF_REQUIRED, 0, 0, token,
        "the app's Admin API access token, sent as X-Shopify-Access-Token (env:NAME or "
        "file:PATH); needs read_products, write_products, read_inventory, write_inventory"),
    OPT("api-version", OMB_OPT_STRING, "2026-10", 0, 0, 0, api_version,
        "the Admin API version (YYYY-MM) the requests are written for; from 2026-04 levels are "
        "sent with changeFromQuantity: null, before with ignoreCompareQuantity"),
    OPT("locations", OMB_OPT_LIST, NULL, OMB_OPTF_REQUIRED | OMB_OPTF_MULTI, 0, 0, locations,
        "canonical location (or channel) = Shopify location id pairs, comma-separated or "
        "repeated, e.g. WAW01=123456,web=123457"),
    OPT("webhook-secret", OMB_OPT_SECRET, NULL, 0, 0, 0, webhook_secret,
        "the app's client secret that signs webhooks (X-Shopify-Hmac-Sha256; env:NAME or "
        "file:PATH); makes the instance a source of order.created, customer.identified and "
        "stock.level"),
    OPT("webhook-path", OMB_OPT_STRING, "webhooks", 0, 0, 0, webhook_path,
        "webhooks are served at /hooks/<connector name>/<webhook-path> on the daemon's <http> "
        "listener"),
    OPT("channel", OMB_OPT_STRING, "web", 0, 0, 0, channel,
        "the channel named in order.created events from this shop"),
    OPT("emit-prices", OMB_OPT_BOOL, "false", 0, 0, 0, emit_prices,
        "emit price.set for every variant of a products/update webhook (the shop as the price "
        "master; never route them back to this connector)"),
    OPT("timeout", OMB_OPT_DURATION, "15s", 0, 100, 600000, timeout_ms,
        "deadline of one API call, connecting included"),
    OPT("connect-timeout", OMB_OPT_DURATION, "5s", 0, 100, 600000, connect_timeout_ms,
        "deadline of connecting (and the TLS handshake)"),
    OPT("ca-file", OMB_OPT_STRING, NULL, 0, 0, 0, ca_file,
        "PEM file of CA certificates to verify the shop with instead of the system's"),
    OPT("retry-after-max", OMB_OPT_DURATION, "1h", 0, 1000, 86400000, retry_after_max_ms,
        "the longest Retry-After from Shopify that is honoured"),
    OMB_OPTION_END};

static const char *const consumes[] = {"stock.level", "stock.available", "price.set", NULL};
static const char *const produces[] = {"order.created", "customer.identified", "stock.level",
                                       "price.set", NULL};

static bool http_url(const char *u)
{
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
           !strpbrk(u, " \t\r\n");
}

static int sh_validate(const void *ctx, char *err, size_t errlen)
{
    const struct sh_ctx *c = ctx;
    if (!http_url(c->shop_url)) {
        snprintf(err, errlen, "shop-url must be an http:// or https:// URL");
        return OMB_EINVAL;
    }
    if (!c->token || !c->token[0] || strpbrk(c->token, "\r\n")) {
        snprintf(err, errlen, "access-token is empty or holds a line break");
        return OMB_EINVAL;
    }
    const char *v = c->api_version ? c->api_version : "";
    bool ok = strlen(v) == 7 && v[4] == '-';
    for (size_t i = 0; ok && i < 7; i++) {
        ok = i == 4 || isdigit((unsigned char)v[i]);
    }
    if (!ok) {
        snprintf(err, errlen, "api-version \"%.40s\" is not a version like 2026-10", v);
        return OMB_EINVAL;
    }
    json_t *to = NULL, *from = NULL;
    if (sh_locations_parse(c->locations, &to, &from, err, errlen) != 0) {
        return OMB_EINVAL;
    }
    size_t n = json_object_size(to);
    json_decref(to);
    json_decref(from);
    if (n == 0) {
        snprintf(err, errlen, "locations maps no location (LOCATION=SHOPIFY_LOCATION_ID, ...)");
        return OMB_EINVAL;
    }
    if (c->webhook_secret && !c->webhook_secret[0]) {
        snprintf(err, errlen, "webhook-secret is empty");
        return OMB_EINVAL;
    }
    if (!c->webhook_path || !c->webhook_path[0]) {
        snprintf(err, errlen, "webhook-path is empty");
        return OMB_EINVAL;
    }
    return 0;
}

static void sh_destroy(void *ctx);

static int sh_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct sh_ctx *c = ctx;
    char err[256];
    int rc;
    c->host = host;
    c->self = self;
    size_t n = strlen(c->shop_url ? c->shop_url : "");
    while (n > 0 && c->shop_url[n - 1] == '/') {
        n--;
    }
    if (asprintf(&c->base, "%.*s/admin/api/%s", (int)n, c->shop_url ? c->shop_url : "",
                 c->api_version) < 0) {
        c->base = NULL;
        return OMB_ENOMEM;
    }
    if (sh_locations_parse(c->locations, &c->loc_to_shop, &c->loc_from_shop, err, sizeof(err)) !=
        0) {
        host->log(self, OMB_LOG_ERROR, "%s", err);
        rc = OMB_EINVAL;
        goto fail;
    }
    rc = sh_webhook_register(c);
    if (rc != 0) {
        goto fail;
    }
    return 0;
fail:
    sh_destroy(c);
    return rc;
}

/* The one-shot timer after start: read the identity map when the state had none. */
static void warm_up(void *arg)
{
    struct sh_ctx *c = arg;
    struct omb_deliver_result res = {0};
    c->warm_timer = 0;
    if (!c->map.loaded && !c->host->stopping(c->self) && sh_idmap_load(c, &res) != OMB_OK) {
        c->host->log(c->self, OMB_LOG_WARN, "%s (read again at the first need)", res.reason);
    }
}

static int sh_start(void *ctx)
{
    struct sh_ctx *c = ctx;
    int rc = sh_api_start(c);
    if (rc != 0) {
        return rc;
    }
    if (!c->map.loaded) {
        sh_idmap_restore(c);
    }
    if (!c->map.loaded && !c->warm_timer &&
        c->host->timer_add(c->self, 0, 0, warm_up, c, &c->warm_timer) != 0) {
        c->warm_timer = 0;
    }
    return 0;
}

static void count(struct sh_ctx *c, int rc)
{
    c->host->metric_counter_add(c->self,
                                rc == OMB_OK       ? "deliveries_ok"
                                : rc == OMB_ERETRY ? "deliveries_retried"
                                                   : "deliveries_rejected",
                                1);
}

/* One event that is not a stock level: price.set, or a reject. */
static int deliver_other(struct sh_ctx *c, const json_t *event, struct omb_deliver_result *res)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    if (!json_is_object(json_object_get(event, "body"))) {
        snprintf(res->reason, sizeof(res->reason), "the event has no body object");
        return OMB_EREJECT;
    }
    if (type && strcmp(type, "price.set") == 0) {
        return sh_price_deliver(c, event, res);
    }
    snprintf(res->reason, sizeof(res->reason),
             "event type %.64s is not one the shopify connector takes (stock.level, "
             "stock.available, price.set)",
             type ? type : "(none)");
    return OMB_EREJECT;
}

static int sh_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    struct sh_ctx *c = ctx;
    const char *type = json_string_value(json_object_get(event, "type"));
    int rc = OMB_ERETRY;
    if (sh_is_stock(type) && json_is_object(json_object_get(event, "body"))) {
        json_t *const evs[1] = {(json_t *)event};
        sh_stock_batch(c, evs, 1, &rc, res);
    } else {
        rc = deliver_other(c, event, res);
    }
    count(c, rc);
    return rc;
}

/* The event of raw frames (new), or NULL. */
static json_t *parse_raw(const struct omb_raw_event *r)
{
    json_t *ev = json_loadb(r->envelope, r->envelope_len, 0, NULL);
    json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        json_decref(body);
        return NULL;
    }
    json_object_set_new(ev, "body", body ? body : json_null());
    if (r->route) {
        json_object_set_new(ev, "route", json_string(r->route));
    }
    return ev;
}

static int sh_deliver_batch(void *ctx, const struct omb_raw_event *events, size_t n, int *rcs,
                            struct omb_deliver_result *res)
{
    struct sh_ctx *c = ctx;
    size_t m = n < SH_BATCH_MAX ? n : SH_BATCH_MAX, parsed = 0, done;
    json_t **evs = calloc(m, sizeof(*evs));
    if (!evs) {
        return OMB_ERETRY;
    }
    /* The stock events at the head, parsed; a non-stock head goes alone. */
    for (; parsed < m; parsed++) {
        evs[parsed] = parse_raw(&events[parsed]);
        const char *type = json_string_value(json_object_get(evs[parsed], "type"));
        bool stock = sh_is_stock(type) && json_is_object(json_object_get(evs[parsed], "body"));
        if (!stock) {
            if (parsed > 0) {
                json_decref(evs[parsed]);
                evs[parsed] = NULL;
            } else {
                parsed = 1;
            }
            break;
        }
    }
    const char *type0 = json_string_value(json_object_get(evs[0], "type"));
    if (!evs[0]) {
        snprintf(res[0].reason, sizeof(res[0].reason), "the event's frames are not JSON");
        rcs[0] = OMB_EREJECT;
        done = 1;
    } else if (sh_is_stock(type0) && json_is_object(json_object_get(evs[0], "body"))) {
        done = sh_stock_batch(c, evs, parsed, rcs, res);
    } else {
        rcs[0] = deliver_other(c, evs[0], &res[0]);
        done = 1;
    }
    for (size_t i = 0; i < done; i++) {
        count(c, rcs[i]);
        if (rcs[i] == OMB_ERETRY) {
            break;
        }
    }
    for (size_t i = 0; i < parsed; i++) {
        json_decref(evs[i]);
    }
    free(evs);
    return (int)done;
}

static int sh_stop(void *ctx)
{
    struct sh_ctx *c = ctx;
    if (c->warm_timer) {
        c->host->timer_cancel(c->self, c->warm_timer);
        c->warm_timer = 0;
    }
    return 0;
}

static void sh_destroy(void *ctx)
{
    struct sh_ctx *c = ctx;
    sh_api_stop(c);
    sh_idmap_free(&c->map);
    json_decref(c->loc_to_shop);
    json_decref(c->loc_from_shop);
    c->loc_to_shop = c->loc_from_shop = NULL;
    free(c->base);
    c->base = NULL;
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "shopify",
    .version = "0.1.0",
    .description = "Shopify: stock levels (batched inventorySetQuantities) and prices out, "
                   "snapshots of both; orders, levels and products in from signed webhooks",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK | OMB_CAP_SNAPSHOT,
    .consumes = consumes,
    .produces = produces,
    .options = options,
    .ctx_size = sizeof(struct sh_ctx),
    .create = sh_create,
    .validate = sh_validate,
    .start = sh_start,
    .deliver = sh_deliver,
    .stop = sh_stop,
    .destroy = sh_destroy,
    .deliver_batch = sh_deliver_batch,
    .snapshot = sh_snapshot,
};
