/* The woocommerce connector: stock and prices out to a WooCommerce shop (REST API v3, batch
 * endpoints, ABI 1.3 deliver_batch), snapshots of stock and prices back (OMB_CAP_SNAPSHOT),
 * webhooks in (order.created; product.* for the SKU map and, with emit-shop-changes, the
 * shop's own changes). Options, validation, lifecycle and the descriptor; the work is in the
 * wc_*.c files. See docs/connectors/woocommerce.md. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/plugin.h>

#include "woocommerce.h"

#define OPT(name, type, def, flags, min, max, field, doc)                                          \
    {                                                                                              \
        name, type, def, flags, min, max, NULL, offsetof(struct wc_ctx, field), doc                \
    }

static const char *const auth_modes[] = {"basic", "query", "oauth1", NULL};

static const struct omb_option options[] = {
    OPT("site-url", OMB_OPT_URL, NULL, OMB_OPTF_REQUIRED, 0, 0, site_url,
        "the shop's site URL (https://shop.example); the API is under /wp-json/wc/v3"),
    OPT("consumer-key", OMB_OPT_SECRET, NULL, OMB_OPTF_REQUIRED, 0, 0, consumer_key,
        "the REST API consumer key (ck_..., env:NAME or file:PATH), read_write permission"),
    OPT("consumer-secret", OMB_OPT_SECRET, NULL, OMB_OPTF_REQUIRED, 0, 0, consumer_secret,
        "the REST API consumer secret (cs_..., env:NAME or file:PATH)"),
    {"auth", OMB_OPT_ENUM, "basic", 0, 0, 0, auth_modes, offsetof(struct wc_ctx, auth),
     "basic: HTTP Basic over HTTPS; query: consumer_key/consumer_secret query parameters over "
     "HTTPS, for servers that strip Authorization; oauth1: OAuth 1.0a (HMAC-SHA256) signed "
     "query, for a shop on plain HTTP"},
    OPT("location", OMB_OPT_STRING, "web", 0, 0, 0, location,
        "the canonical location or channel whose stock.level (location) or stock.available "
        "(location or channel) becomes the shop's one stock_quantity; snapshots report it"),
    OPT("currency", OMB_OPT_STRING, NULL, 0, 0, 0, currency,
        "the shop's ISO 4217 currency (2 decimals, e.g. PLN): price.set in another one is "
        "rejected; needed for price.set and price snapshots"),
    OPT("webhook-secret", OMB_OPT_SECRET, NULL, 0, 0, 0, webhook_secret,
        "the webhooks' secret (env:NAME or file:PATH); makes the instance a source of "
        "order.created and keeps the SKU map from product.* webhooks"),
    OPT("webhook-path", OMB_OPT_STRING, "woocommerce", 0, 0, 0, webhook_path,
        "webhooks are served at /hooks/<connector name>/<webhook-path> on the daemon's <http> "
        "listener"),
    OPT("emit-shop-changes", OMB_OPT_BOOL, "false", 0, 0, 0, emit_changes,
        "with webhook-secret: turn product.updated webhooks into stock.level (at location) and "
        "price.set when the value is not one this connector recently wrote (echoes dropped)"),
    OPT("timeout", OMB_OPT_DURATION, "30s", 0, 100, 600000, timeout_ms,
        "deadline of one API call, connecting included"),
    OPT("connect-timeout", OMB_OPT_DURATION, "5s", 0, 100, 600000, connect_timeout_ms,
        "deadline of connecting (and the TLS handshake)"),
    OPT("ca-file", OMB_OPT_STRING, NULL, 0, 0, 0, ca_file,
        "PEM file of CA certificates to verify the shop with instead of the system's"),
    OPT("retry-after-max", OMB_OPT_DURATION, "1h", 0, 1000, 86400000, retry_after_max_ms,
        "the longest Retry-After (from the shop's host or WAF) that is honoured"),
    OMB_OPTION_END};

static const char *const consumes[] = {"stock.level", "stock.available", "price.set", NULL};
static const char *const produces[] = {"order.created", "stock.level", "price.set", NULL};

static bool http_url(const char *u)
{
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
           !strpbrk(u, " \t\r\n?#");
}

static int wc_validate(const void *ctx, char *err, size_t errlen)
{
    const struct wc_ctx *c = ctx;
    if (!http_url(c->site_url)) {
        snprintf(err, errlen, "site-url must be an http:// or https:// URL without a query");
        return OMB_EINVAL;
    }
    if (!c->consumer_key || !c->consumer_key[0] || strpbrk(c->consumer_key, "\r\n:") ||
        !c->consumer_secret || !c->consumer_secret[0] || strpbrk(c->consumer_secret, "\r\n")) {
        snprintf(err, errlen,
                 "consumer-key or consumer-secret is empty, or holds a line break "
                 "(or the key a ':')");
        return OMB_EINVAL;
    }
    if (!c->location || !wc_sku_ok(c->location)) {
        snprintf(err, errlen,
                 "location must be a canonical location or channel (no blanks, "
                 "no '@')");
        return OMB_EINVAL;
    }
    if (c->currency &&
        (strlen(c->currency) != 3 || !isupper((unsigned char)c->currency[0]) ||
         !isupper((unsigned char)c->currency[1]) || !isupper((unsigned char)c->currency[2]))) {
        snprintf(err, errlen, "currency \"%.20s\" is not an ISO 4217 code like PLN", c->currency);
        return OMB_EINVAL;
    }
    if (c->webhook_secret && !c->webhook_secret[0]) {
        snprintf(err, errlen, "webhook-secret is empty");
        return OMB_EINVAL;
    }
    if (c->emit_changes && !c->webhook_secret) {
        snprintf(err, errlen,
                 "emit-shop-changes needs webhook-secret (the changes come from "
                 "product.updated webhooks)");
        return OMB_EINVAL;
    }
    if (!c->webhook_path || !c->webhook_path[0]) {
        snprintf(err, errlen, "webhook-path is empty");
        return OMB_EINVAL;
    }
    return 0;
}

static void wc_destroy(void *ctx);

static int wc_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct wc_ctx *c = ctx;
    c->host = host;
    c->self = self;
    const char *site = c->site_url ? c->site_url : "";
    size_t n = strlen(site);
    while (n > 0 && site[n - 1] == '/') {
        n--;
    }
    if (asprintf(&c->api, "%.*s/wp-json/wc/v3", (int)n, site) < 0) {
        c->api = NULL;
        return OMB_ENOMEM;
    }
    int rc = wc_webhook_register(c);
    if (rc != 0) {
        wc_destroy(c);
    }
    return rc;
}

/* After start: read the SKU map when state had none. A failure is only logged: the map is read
 * again at the first need. */
static void warm_up(void *arg)
{
    struct wc_ctx *c = arg;
    struct omb_deliver_result res = {0};
    c->warm_timer = 0;
    if (!c->map_loaded_ms && !c->host->stopping(c->self) && wc_map_load(c, &res) != OMB_OK) {
        c->host->log(c->self, OMB_LOG_WARN, "%s (read again at the first need)", res.reason);
    }
}

static int wc_start(void *ctx)
{
    struct wc_ctx *c = ctx;
    int rc = wc_api_start(c);
    if (rc != 0) {
        return rc;
    }
    if (!c->map_loaded_ms) {
        wc_map_restore(c);
    }
    if (!c->map_loaded_ms && !c->warm_timer &&
        c->host->timer_add(c->self, 0, 0, warm_up, c, &c->warm_timer) != 0) {
        c->warm_timer = 0;
    }
    return 0;
}

static int wc_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    return wc_deliver_one(ctx, event, res);
}

static int wc_stop(void *ctx)
{
    struct wc_ctx *c = ctx;
    if (c->warm_timer) {
        c->host->timer_cancel(c->self, c->warm_timer);
        c->warm_timer = 0;
    }
    return 0;
}

static void wc_destroy(void *ctx)
{
    struct wc_ctx *c = ctx;
    wc_api_stop(c);
    json_decref(c->map);
    c->map = NULL;
    json_decref(c->written);
    c->written = NULL;
    free(c->api);
    c->api = NULL;
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "woocommerce",
    .version = "0.9.0",
    .description = "WooCommerce: stock and prices out through the batch endpoints; "
                   "order.created webhooks in; stock and price snapshots",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK | OMB_CAP_SNAPSHOT,
    .consumes = consumes,
    .produces = produces,
    .options = options,
    .ctx_size = sizeof(struct wc_ctx),
    .create = wc_create,
    .validate = wc_validate,
    .start = wc_start,
    .deliver = wc_deliver,
    .stop = wc_stop,
    .destroy = wc_destroy,
    .deliver_batch = wc_deliver_batch,
    .snapshot = wc_snapshot,
};
