/* Plugin test: connectors/shopify (shopify.so) in the harness host (tests/plugins/harness.c):
 * every option documented, validate's refusals, an omnibusd without the HTTP ingress refusing
 * webhook-secret, and deliveries that are decided without Shopify (a type it does not take, an
 * unmapped location, a body without its fields) or that cannot reach it (retry, reason). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/harness.h"
#include "testlib.h"

static const char *const base_opts[][2] = {
    {"shop-url", "http://127.0.0.1:1"}, {"access-token", "shpat_test"},
    {"api-version", "2026-10"},         {"locations", "WAW01=61000000001,web=61000000002"},
    {"webhook-path", "webhooks"},       {"channel", "web"},
    {"timeout", "2s"},                  {"connect-timeout", "1s"},
    {"retry-after-max", "1h"},
};

static struct harness *make(const char *const *more)
{
    struct harness *h = harness_new("shopify");
    if (!h) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(base_opts) / sizeof(base_opts[0]); i++) {
        bool overridden = false;
        for (const char *const *m = more; m && *m; m += 2) {
            overridden |= strcmp(*m, base_opts[i][0]) == 0;
        }
        if (!overridden) {
            CHECK(harness_set_option(h, base_opts[i][0], base_opts[i][1]) == 0);
        }
    }
    for (const char *const *m = more; m && *m; m += 2) {
        CHECK(harness_set_option(h, m[0], m[1]) == 0);
    }
    return h;
}

static void test_docs_and_validate(void)
{
    struct harness *h = make(NULL);
    if (!h) {
        CHECK(!"shopify.so loads");
        return;
    }
    const char *src = getenv("top_srcdir");
    char *doc = harness_path("%s/docs/connectors/shopify.md", src ? src : ".");
    CHECK(harness_options_documented(h, doc));
    free(doc);
    char err[256];
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    harness_destroy(&h);

    static const struct {
        const char *opts[5];
        const char *expect;
    } bad[] = {
        {{"api-version", "2026-4", NULL}, "api-version \"2026-4\" is not a version"},
        {{"locations", "WAW01", NULL}, "\"WAW01\" is not LOCATION=SHOPIFY_LOCATION_ID"},
        {{"locations", "WAW01=1,WAW01=2", NULL}, "location WAW01 is mapped twice"},
        {{"locations", "WAW01=1,KRK02=1", NULL}, "Shopify location 1 is mapped twice"},
        {{"locations", "WAW01=abc", NULL}, "the Shopify location id a number"},
        {{"access-token", "a\nb", NULL}, "access-token is empty or holds a line break"},
        {{"shop-url", "ftp://x.example.com", NULL}, "shop-url must be an http://"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        h = make(bad[i].opts);
        if (!h) {
            continue;
        }
        err[0] = '\0';
        CHECK(harness_validate(h, err, sizeof(err)) == OMB_EINVAL);
        if (!strstr(err, bad[i].expect)) {
            fprintf(stderr, "case %zu: expected \"%s\" in \"%s\"\n", i, bad[i].expect, err);
            CHECK(!"validate's message");
        }
        harness_destroy(&h);
    }
    /* A gid is taken as the location id. */
    const char *gid[] = {"locations", "WAW01=gid://shopify/Location/61000000001", NULL};
    h = make(gid);
    if (h) {
        CHECK(harness_validate(h, err, sizeof(err)) == 0);
        harness_destroy(&h);
    }
}

static json_t *event(const char *type, const char *body)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", type, "id", "01JD3Q7W5X0000000000000000",
                     "time", "2026-11-20T06:00:00Z", "route", "r", "body",
                     json_loads(body, 0, NULL));
}

static void test_deliveries(void)
{
    struct harness *h = make(NULL);
    if (!h) {
        return;
    }
    CHECK(harness_create(h) == 0);
    CHECK(harness_start(h) == 0);
    struct omb_deliver_result res;
    static const struct {
        const char *type, *body;
        int rc;
        const char *expect;
    } cases[] = {
        {"order.created", "{\"order_id\":\"1\"}", OMB_EREJECT,
         "not one the shopify connector takes"},
        {"stock.level", "{\"sku\":\"OB-1\",\"location\":\"GDA03\",\"on_hand\":1}", OMB_EREJECT,
         "location GDA03 is not mapped"},
        {"stock.available", "{\"sku\":\"OB-1\",\"channel\":\"app\",\"available\":1}",
         OMB_EREJECT, "location app is not mapped"},
        {"stock.level", "{\"sku\":\"OB-1\",\"location\":\"WAW01\"}", OMB_EREJECT,
         "without an integer body.on_hand"},
        {"stock.level", "{\"location\":\"WAW01\",\"on_hand\":1}", OMB_EREJECT,
         "without a valid body.sku"},
        {"price.set", "{\"sku\":\"OB-1\",\"price_list\":\"b2b\",\"price\":{\"amount\":1,"
                      "\"currency\":\"PLN\"}}",
         OMB_EREJECT, "on price list b2b"},
        /* Shopify cannot be reached (port 1): the identity map cannot be read. */
        {"stock.level", "{\"sku\":\"OB-1\",\"location\":\"WAW01\",\"on_hand\":1}", OMB_ERETRY,
         "reading the catalog"},
        {"stock.available", "{\"sku\":\"OB-1\",\"channel\":\"web\",\"available\":1}",
         OMB_ERETRY, "reading the catalog"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ev = event(cases[i].type, cases[i].body);
        memset(&res, 0, sizeof(res));
        int rc = harness_deliver(h, ev, &res);
        json_decref(ev);
        if (rc != cases[i].rc || !strstr(res.reason, cases[i].expect)) {
            fprintf(stderr, "case %zu: rc %d, reason \"%s\"; expected %d, \"%s\"\n", i, rc,
                    res.reason, cases[i].rc, cases[i].expect);
            CHECK(!"delivery outcome");
        }
    }
    CHECK(harness_counter(h, "deliveries_rejected") == 6);
    CHECK(harness_counter(h, "deliveries_retried") == 2);
    CHECK(harness_log_count(h, -1, "shpat_test") == 0); /* the token is never logged */
    CHECK(harness_stop(h) == 0);
    harness_destroy(&h);
}

static void test_no_ingress(void)
{
    const char *more[] = {"webhook-secret", "test_secret", NULL};
    struct harness *h = make(more);
    if (!h) {
        return;
    }
    /* The harness host has no http_route_add: webhooks cannot be served. */
    const struct omb_plugin_descriptor *d = harness_descriptor(h);
    CHECK(d->deliver_batch != NULL && d->snapshot != NULL);
    CHECK((d->capabilities & OMB_CAP_SNAPSHOT) != 0);
    int rc = harness_create(h);
    if (rc == 0) {
        harness_stop(h);
    } else {
        CHECK(rc == OMB_EINVAL);
        CHECK(harness_log_count(h, OMB_LOG_ERROR, "webhook-secret") == 1);
    }
    harness_destroy(&h);
}

int main(void)
{
    test_docs_and_validate();
    test_deliveries();
    test_no_ingress();
    return test_result();
}
