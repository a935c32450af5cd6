/* The prestashop connector: stock and prices out to a PrestaShop shop's Webservice
 * (stock_availables, products, combinations), price and stock changes in by polling (the
 * webservice has no webhooks), and snapshots of stock and prices. Options, validation,
 * lifecycle, the deliver dispatch and the descriptor; see docs/connectors/prestashop.md. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/plugin.h>

#include "prestashop.h"

#define OPT(name, type, def, flags, min, max, en, field, doc)                                      \
    {                                                                                              \
        name, type, def, flags, min, max, en, offsetof(struct ps_ctx, field), doc                  \
    }

static const char *const write_methods[] = {"auto", "put", "patch", NULL};

static const struct omb_option options[] = {
    OPT("shop-url", OMB_OPT_URL, NULL, OMB_OPTF_REQUIRED, 0, 0, NULL, shop_url,
        "the shop's base URL (the webservice is <shop-url>/api/)"),
    OPT("key", OMB_OPT_SECRET, NULL, OMB_OPTF_REQUIRED, 0, 0, NULL, key,
        "the 32-character webservice key (env:NAME or file:PATH), sent as the Basic username "
        "with an empty password; needs GET and PUT (or PATCH) on stock_availables, products "
        "and combinations"),
    OPT("id-shop", OMB_OPT_INT, "0", 0, 0, 1000000, NULL, id_shop,
        "multishop: the id_shop whose stock rows are written and read; 0: every row (a single "
        "shop)"),
    OPT("location", OMB_OPT_STRING, NULL, OMB_OPTF_REQUIRED, 0, 0, NULL, location,
        "the canonical location (or channel) whose stock feeds the shop, e.g. web: other "
        "locations' stock events are rejected, and polled stock is emitted for it"),
    OPT("currency", OMB_OPT_STRING, NULL, OMB_OPTF_REQUIRED, 0, 0, NULL, currency,
        "the shop's ISO 4217 currency (e.g. PLN): a price.set in another is rejected, polled "
        "prices carry it"),
    OPT("tax-rate", OMB_OPT_STRING, "0", 0, 0, 0, NULL, tax_rate,
        "percent of tax in the canonical prices (e.g. 23): PrestaShop stores prices without "
        "tax, so a price.set is divided by 1 + tax-rate/100 and a polled price multiplied"),
    OPT("write-method", OMB_OPT_ENUM, "auto", 0, 0, 0, write_methods, write_method,
        "put: write the whole object as just read (any version); patch: send only the changed "
        "field (PrestaShop 8 and later: no window for a concurrent change); auto: patch when the "
        "shop's PSWS-Version header says 8 or later, else put"),
    OPT("poll-interval", OMB_OPT_DURATION, "0s", 0, 0, 86400000, NULL, poll_ms,
        "how often products and stock rows are polled for changes; 0: no polling (a sink only)"),
    OPT("page-size", OMB_OPT_INT, "100", 0, 1, 1000, NULL, page_size,
        "rows per list request (limit=offset,count)"),
    OPT("timeout", OMB_OPT_DURATION, "10s", 0, 100, 600000, NULL, timeout_ms,
        "deadline of one webservice call, connecting included"),
    OPT("connect-timeout", OMB_OPT_DURATION, "5s", 0, 100, 600000, NULL, connect_timeout_ms,
        "deadline of connecting (and the TLS handshake)"),
    OPT("ca-file", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, ca_file,
        "PEM file of CA certificates to verify the shop with instead of the system's"),
    OPT("retry-after-max", OMB_OPT_DURATION, "1h", 0, 1000, 86400000, NULL, retry_after_max_ms,
        "the longest Retry-After from the shop that is honoured"),
    OMB_OPTION_END};

static const char *const consumes[] = {"stock.level", "stock.available", "price.set", NULL};
static const char *const produces[] = {"stock.level", "price.set", NULL};

static bool http_url(const char *u)
{
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
           !strpbrk(u, " \t\r\n");
}

static int parse_tax(const char *s, double *factor)
{
    char *end = NULL;
    if (!s) {
        s = "0"; /* absent: the default */
    }
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || v < 0.0 || v >= 100.0) {
        return OMB_EINVAL;
    }
    *factor = 1.0 + v / 100.0;
    return 0;
}

static int ps_validate(const void *ctx, char *err, size_t errlen)
{
    const struct ps_ctx *c = ctx;
    double f;
    if (!http_url(c->shop_url)) {
        snprintf(err, errlen, "shop-url must be an http:// or https:// URL");
        return OMB_EINVAL;
    }
    if (!c->key || strlen(c->key) != 32) {
        snprintf(err, errlen, "key must be the 32-character webservice key");
        return OMB_EINVAL;
    }
    for (const char *p = c->key; *p; p++) {
        if (!isalnum((unsigned char)*p)) {
            snprintf(err, errlen, "key holds a character that is not a letter or digit");
            return OMB_EINVAL;
        }
    }
    if (!c->location || !c->location[0] || strchr(c->location, '@')) {
        snprintf(err, errlen, "location is empty or holds '@'");
        return OMB_EINVAL;
    }
    if (!c->currency || strlen(c->currency) != 3 || !isupper((unsigned char)c->currency[0]) ||
        !isupper((unsigned char)c->currency[1]) || !isupper((unsigned char)c->currency[2])) {
        snprintf(err, errlen, "currency is not an ISO 4217 code like PLN");
        return OMB_EINVAL;
    }
    if (parse_tax(c->tax_rate, &f) != 0) {
        snprintf(err, errlen, "tax-rate \"%.20s\" is not a percentage from 0 to below 100",
                 c->tax_rate ? c->tax_rate : "");
        return OMB_EINVAL;
    }
    if (c->poll_ms > 0 && c->poll_ms < 1000) {
        snprintf(err, errlen, "poll-interval is 0 (off) or at least 1s");
        return OMB_EINVAL;
    }
    return 0;
}

static void ps_destroy(void *ctx);

static int ps_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct ps_ctx *c = ctx;
    c->host = host;
    c->self = self;
    if (parse_tax(c->tax_rate, &c->tax_factor) != 0) {
        c->tax_factor = 1.0;
    }
    c->base = strdup(c->shop_url ? c->shop_url : "");
    if (!c->base) {
        return OMB_ENOMEM;
    }
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/') {
        c->base[--n] = '\0';
    }
    /* A base that already ends in /api is taken as the shop's URL. */
    if (n >= 4 && strcmp(c->base + n - 4, "/api") == 0) {
        c->base[n - 4] = '\0';
    }
    return 0;
}

static int ps_start(void *ctx)
{
    struct ps_ctx *c = ctx;
    int rc = ps_api_start(c);
    if (rc != 0) {
        return rc;
    }
    if (!c->map) {
        ps_map_restore(c);
    }
    /* No call to the shop here: the map is read at the first need (or the first poll), so an
     * outage shows as retried deliveries, not as a connector that never starts. */
    if (c->poll_ms > 0 && !c->poll_timer &&
        c->host->timer_add(c->self, 0, (uint64_t)c->poll_ms, ps_poll_tick, c, &c->poll_timer) !=
            0) {
        c->poll_timer = 0;
        c->host->log(c->self, OMB_LOG_ERROR, "cannot arm the poll timer");
        return OMB_ERETRY;
    }
    return 0;
}

static int ps_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    struct ps_ctx *c = ctx;
    const char *type = json_string_value(json_object_get(event, "type"));
    int rc;
    if (!json_is_object(json_object_get(event, "body"))) {
        snprintf(res->reason, sizeof(res->reason), "the event has no body object");
        rc = OMB_EREJECT;
    } else if (type && (strcmp(type, "stock.level") == 0 || strcmp(type, "stock.available") == 0)) {
        rc = ps_stock_deliver(c, event, type, res);
    } else if (type && strcmp(type, "price.set") == 0) {
        rc = ps_price_deliver(c, event, res);
    } else {
        snprintf(res->reason, sizeof(res->reason),
                 "event type %.64s is not one the prestashop connector takes (stock.level, "
                 "stock.available, price.set)",
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

static int ps_stop(void *ctx)
{
    struct ps_ctx *c = ctx;
    if (c->poll_timer) {
        c->host->timer_cancel(c->self, c->poll_timer);
        c->poll_timer = 0;
    }
    return 0;
}

static void ps_destroy(void *ctx)
{
    struct ps_ctx *c = ctx;
    ps_poll_free(c);
    ps_api_stop(c);
    ps_map_free(c);
    free(c->base);
    c->base = NULL;
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "prestashop",
    .version = "1.0.0",
    .description = "PrestaShop Webservice: stock levels and prices out (stock_availables, "
                   "products, combinations); price and stock changes in by polling; snapshots",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK | OMB_CAP_SNAPSHOT,
    .consumes = consumes,
    .produces = produces,
    .options = options,
    .ctx_size = sizeof(struct ps_ctx),
    .create = ps_create,
    .validate = ps_validate,
    .start = ps_start,
    .deliver = ps_deliver,
    .stop = ps_stop,
    .destroy = ps_destroy,
    .snapshot = ps_snapshot,
};
