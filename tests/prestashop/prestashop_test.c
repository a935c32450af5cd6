/* Plugin test: connectors/prestashop (prestashop.so) in the harness host
 * (tests/plugins/harness.c): every option documented, validate's refusals, and deliveries
 * decided without the shop (wrong type, another location, a foreign currency, a price list, no
 * quantity) or that cannot reach it (retried). The shop itself is tested end to end by
 * prestashop_delivery_test.py and prestashop_poll_test.py against the fake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/harness.h"
#include "testlib.h"

static const char *const base_opts[][2] = {
    {"shop-url", "http://127.0.0.1:1"},
    {"key", "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"},
    {"location", "web"},
    {"currency", "PLN"},
    {"timeout", "2s"},
    {"connect-timeout", "1s"},
};

/* A harness with base_opts, then the NULL-terminated name/value pairs of `more`. */
static struct harness *make(const char *const *more)
{
    struct harness *h = harness_new("prestashop");
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
        CHECK(!"prestashop.so loads");
        return;
    }
    const char *src = getenv("top_srcdir");
    char *doc = harness_path("%s/docs/connectors/prestashop.md", src ? src : ".");
    CHECK(harness_options_documented(h, doc));
    free(doc);
    char err[256];
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    harness_destroy(&h);

    static const struct {
        const char *opts[5];
        const char *expect;
    } bad[] = {
        {{"shop-url", "ftp://shop.example", NULL}, "shop-url must be an http://"},
        {{"key", "SHORTKEY", NULL}, "key must be the 32-character webservice key"},
        {{"key", "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RA-", NULL}, "not a letter or digit"},
        {{"currency", "pln", NULL}, "currency is not an ISO 4217 code"},
        {{"tax-rate", "23%", NULL}, "tax-rate \"23%\" is not a percentage"},
        {{"tax-rate", "100", NULL}, "is not a percentage"},
        {{"location", "web@x", NULL}, "location is empty or holds '@'"},
        {{"poll-interval", "500ms", NULL}, "poll-interval is 0 (off) or at least 1s"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        h = make(bad[i].opts);
        if (!h) {
            continue;
        }
        err[0] = '\0';
        int rc = harness_validate(h, err, sizeof(err));
        CHECK(rc == OMB_EINVAL);
        if (!strstr(err, bad[i].expect)) {
            fprintf(stderr, "case %zu: expected \"%s\" in \"%s\"\n", i, bad[i].expect, err);
            CHECK(!"validate's message");
        }
        harness_destroy(&h);
    }
}

static void test_deliver_without_shop(void)
{
    struct harness *h = make(NULL);
    if (!h) {
        return;
    }
    CHECK(harness_create(h) == 0);
    CHECK(harness_start(h) == 0);
    CHECK(harness_timers(h) == 0); /* poll-interval 0: no polling */
    static const struct {
        const char *type, *body, *expect;
        int rc;
    } cases[] = {
        {"stock.delta", "{\"sku\":\"A\",\"location\":\"web\",\"delta\":1}",
         "not one the prestashop connector takes", OMB_EREJECT},
        {"stock.level", "{\"sku\":\"A\",\"location\":\"WAW01\",\"on_hand\":1}",
         "is for WAW01, but this shop's stock is fed by location web", OMB_EREJECT},
        {"stock.available", "{\"sku\":\"A\",\"channel\":\"app\",\"available\":1}", "is for app",
         OMB_EREJECT},
        {"stock.level", "{\"sku\":\"A\",\"location\":\"web\",\"on_hand\":\"7\"}",
         "without body.sku or an integer body.on_hand", OMB_EREJECT},
        {"price.set", "{\"sku\":\"A\",\"price\":{\"amount\":100,\"currency\":\"EUR\"}}",
         "is in EUR, the shop's prices are in PLN", OMB_EREJECT},
        {"price.set",
         "{\"sku\":\"A\",\"price\":{\"amount\":100,\"currency\":\"PLN\"},\"price_list\":\"b2b\"}",
         "price list b2b", OMB_EREJECT},
        /* The shop is not there (port 1): the map cannot be read, retried. */
        {"stock.level", "{\"sku\":\"A\",\"location\":\"web\",\"on_hand\":1}", "reading products",
         OMB_ERETRY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ev = json_pack("{s:s, s:s, s:o}", "type", cases[i].type, "route", "r", "body",
                               json_loads(cases[i].body, 0, NULL));
        struct omb_deliver_result res = {0};
        int rc = harness_deliver(h, ev, &res);
        json_decref(ev);
        CHECK(rc == cases[i].rc);
        if (rc != cases[i].rc || !strstr(res.reason, cases[i].expect)) {
            fprintf(stderr, "case %zu: rc %d, expected \"%s\" in \"%s\"\n", i, rc, cases[i].expect,
                    res.reason);
            CHECK(!"the reason");
        }
    }
    CHECK(harness_counter(h, "deliveries_rejected") == 6);
    CHECK(harness_counter(h, "deliveries_retried") == 1);
    CHECK(harness_log_count(h, -1, "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ") == 0);
    CHECK(harness_stop(h) == 0);
    CHECK(harness_stop(h) == 0);
    harness_destroy(&h);
}

int main(void)
{
    test_docs_and_validate();
    test_deliver_without_shop();
    return test_result();
}
