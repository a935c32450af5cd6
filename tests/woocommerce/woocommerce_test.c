/* Plugin test: connectors/woocommerce (woocommerce.so) in the harness host
 * (tests/plugins/harness.c): every option documented in docs/connectors/woocommerce.md,
 * validate's refusals, and deliveries decided without the shop (another location, a foreign
 * currency, another price list, a price window, another type, no body) or that cannot reach it
 * (a retry with a reason). The shop itself is exercised by the python tests beside this one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/harness.h"
#include "testlib.h"

static const char *const base_opts[][2] = {
    {"site-url", "http://127.0.0.1:1"},
    {"consumer-key", "ck_test"},
    {"consumer-secret", "cs_test"},
    {"location", "web"},
    {"currency", "PLN"},
    {"timeout", "1s"},
    {"connect-timeout", "500ms"},
    {"webhook-path", "woocommerce"},
};

static struct harness *make(const char *const *more)
{
    struct harness *h = harness_new("woocommerce");
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
        CHECK(!"woocommerce.so loads");
        return;
    }
    const char *src = getenv("top_srcdir");
    char *doc = harness_path("%s/docs/connectors/woocommerce.md", src ? src : ".");
    CHECK(harness_options_documented(h, doc));
    free(doc);
    char err[256];
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    harness_destroy(&h);

    static const char *const bad[][3] = {
        {"site-url", "ftp://shop.example", "site-url"},
        {"site-url", "https://shop.example/?x=1", "site-url"},
        {"consumer-key", "ck:x", "consumer-key"},
        {"location", "WAW 01", "location"},
        {"currency", "pln", "currency"},
        {"webhook-path", "", "webhook-path"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *more[] = {bad[i][0], bad[i][1], NULL};
        h = make(more);
        err[0] = '\0';
        int rc = harness_validate(h, err, sizeof(err));
        CHECK(rc == OMB_EINVAL);
        CHECK(strstr(err, bad[i][2]) != NULL);
        if (rc != OMB_EINVAL || !strstr(err, bad[i][2])) {
            fprintf(stderr, "  %s=%s: %d \"%s\"\n", bad[i][0], bad[i][1], rc, err);
        }
        harness_destroy(&h);
    }
}

static int deliver(struct harness *h, const char *json, char *reason, size_t len)
{
    json_error_t jerr;
    json_t *ev = json_loads(json, 0, &jerr);
    CHECK(ev != NULL);
    struct omb_deliver_result res;
    memset(&res, 0, sizeof(res));
    int rc = harness_deliver(h, ev, &res);
    snprintf(reason, len, "%s", res.reason);
    json_decref(ev);
    return rc;
}

static void test_decided_without_the_shop(void)
{
    struct harness *h = make(NULL);
    if (!h) {
        return;
    }
    CHECK(harness_create(h) == 0);
    CHECK(harness_start(h) == 0);
    char r[OMB_DELIVER_REASON_MAX];
    CHECK(deliver(h,
                  "{\"type\":\"stock.level\",\"body\":{\"sku\":\"A\",\"location\":\"WAW01\","
                  "\"on_hand\":1,\"as_of\":\"2026-11-25T00:00:00Z\"}}",
                  r, sizeof(r)) == OMB_EREJECT);
    CHECK(strstr(r, "WAW01") && strstr(r, "location"));
    CHECK(deliver(h,
                  "{\"type\":\"price.set\",\"body\":{\"sku\":\"A\",\"price\":{\"amount\":100,"
                  "\"currency\":\"EUR\"}}}",
                  r, sizeof(r)) == OMB_EREJECT);
    CHECK(strstr(r, "EUR") && strstr(r, "PLN"));
    CHECK(deliver(h,
                  "{\"type\":\"price.set\",\"body\":{\"sku\":\"A\",\"price\":{\"amount\":100,"
                  "\"currency\":\"PLN\"},\"price_list\":\"b2b\"}}",
                  r, sizeof(r)) == OMB_EREJECT);
    CHECK(strstr(r, "b2b") != NULL);
    CHECK(deliver(h,
                  "{\"type\":\"price.set\",\"body\":{\"sku\":\"A\",\"price\":{\"amount\":100,"
                  "\"currency\":\"PLN\"},\"valid_from\":\"2030-01-01T00:00:00Z\"}}",
                  r, sizeof(r)) == OMB_EREJECT);
    CHECK(strstr(r, "window") != NULL);
    CHECK(deliver(h, "{\"type\":\"stock.delta\",\"body\":{\"sku\":\"A\"}}", r, sizeof(r)) ==
          OMB_EREJECT);
    CHECK(strstr(r, "stock.delta") != NULL);
    CHECK(deliver(h, "{\"type\":\"stock.level\"}", r, sizeof(r)) == OMB_EREJECT);
    /* A SKU the map must be read for: the shop cannot be reached, so a retry with a reason. */
    CHECK(deliver(h,
                  "{\"type\":\"stock.available\",\"body\":{\"sku\":\"A\",\"channel\":\"web\","
                  "\"available\":3}}",
                  r, sizeof(r)) == OMB_ERETRY);
    CHECK(strstr(r, "SKU map") != NULL);
    CHECK(harness_counter(h, "deliveries_rejected") == 6);
    CHECK(harness_counter(h, "deliveries_retried") == 1);
    CHECK(harness_stop(h) == 0);
    harness_destroy(&h);
}

int main(void)
{
    test_docs_and_validate();
    test_decided_without_the_shop();
    return test_result();
}
