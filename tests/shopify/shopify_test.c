/* Plugin test: connectors/shopify (shopify.so).
 *
 * Part 1, in the harness host (tests/plugins/harness.c): every option documented, validate's
 * refusals, an omnibusd without the HTTP ingress refusing webhook-secret, and deliveries that
 * are decided without Shopify (a type it does not take, an unmapped location, a body without
 * its fields) or that cannot reach it (retry, reason).
 *
 * Part 2, in a host of this file with the webhook functions (OpenSSL behind hmac, base64 and
 * mem_equal_ct): the handler called directly with the vendor test vector, refused signatures,
 * a level that needs the identity map when the shop cannot be reached (503), and emit's
 * backpressure half-way through an order (503 with Retry-After, then the resend
 * completes it with the same dedupe keys). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "plugins/harness.h"
#include "testlib.h"

static const char *const base_opts[][2] = {
    {"shop-url", "http://127.0.0.1:1"},
    {"access-token", "shpat_test"},
    {"api-version", "2026-10"},
    {"locations", "WAW01=61000000001,web=61000000002"},
    {"webhook-path", "webhooks"},
    {"channel", "web"},
    {"timeout", "2s"},
    {"connect-timeout", "1s"},
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
        {"stock.available", "{\"sku\":\"OB-1\",\"channel\":\"app\",\"available\":1}", OMB_EREJECT,
         "location app is not mapped"},
        {"stock.level", "{\"sku\":\"OB-1\",\"location\":\"WAW01\"}", OMB_EREJECT,
         "without an integer body.on_hand"},
        {"stock.level", "{\"location\":\"WAW01\",\"on_hand\":1}", OMB_EREJECT,
         "without a valid body.sku"},
        {"price.set",
         "{\"sku\":\"OB-1\",\"price_list\":\"b2b\",\"price\":{\"amount\":1,"
         "\"currency\":\"PLN\"}}",
         OMB_EREJECT, "on price list b2b"},
        /* Shopify cannot be reached (port 1): the identity map cannot be read. */
        {"stock.level", "{\"sku\":\"OB-1\",\"location\":\"WAW01\",\"on_hand\":1}", OMB_ERETRY,
         "reading the catalog"},
        {"stock.available", "{\"sku\":\"OB-1\",\"channel\":\"web\",\"available\":1}", OMB_ERETRY,
         "reading the catalog"},
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

/* ---- part 2: a host with the webhook functions ---- */

#define VECTOR_BODY "{\"inventory_item_id\":111,\"location_id\":222,\"available\":5}"
#define VECTOR_SIG "EUhB2qAsur6nP/U5HnbZMqKE76kwYMmFhlprtMu0Czc="

static struct {
    omb_http_fn fn;
    void *arg;
    char suffix[64];
    json_t *events;
    int fail_after, fail_rc; /* emit fails with fail_rc after fail_after more successes */
} host_state;

static void h_log(struct omb_instance *self, enum omb_log_level level, const char *fmt, ...)
{
    (void)self;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[shopify %d] ", (int)level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int h_emit(struct omb_instance *self, json_t *event)
{
    (void)self;
    if (host_state.fail_after == 0) {
        return host_state.fail_rc;
    }
    if (host_state.fail_after > 0) {
        host_state.fail_after--;
    }
    json_array_append_new(host_state.events, event);
    return 0;
}

static int h_event_check(const json_t *event, char *err, size_t errlen)
{
    return harness_event_check(event, err, errlen);
}

static const char *h_instance_name(struct omb_instance *self)
{
    (void)self;
    return "shop";
}

static void h_counter(struct omb_instance *self, const char *name, uint64_t delta)
{
    (void)self, (void)name, (void)delta;
}

static void h_gauge(struct omb_instance *self, const char *name, int64_t value)
{
    (void)self, (void)name, (void)value;
}

static int64_t h_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t h_now(void)
{
    return h_clock(CLOCK_REALTIME);
}

static int64_t h_mono(void)
{
    return h_clock(CLOCK_MONOTONIC);
}

static int h_timer_add(struct omb_instance *self, uint64_t delay_ms, uint64_t interval_ms,
                       omb_timer_fn fn, void *arg, uint64_t *id_out)
{
    (void)self, (void)delay_ms, (void)interval_ms, (void)fn, (void)arg, (void)id_out;
    return OMB_EINVAL; /* no timers: the map is read at the first need */
}

static int h_timer_cancel(struct omb_instance *self, uint64_t id)
{
    (void)self, (void)id;
    return 0;
}

static bool h_stopping(struct omb_instance *self)
{
    (void)self;
    return false;
}

static int h_route_add(struct omb_instance *self, const char *suffix, omb_http_fn fn, void *arg)
{
    (void)self;
    host_state.fn = fn;
    host_state.arg = arg;
    snprintf(host_state.suffix, sizeof(host_state.suffix), "%s", suffix);
    return 0;
}

static int h_hmac(const char *alg, const void *key, size_t keylen, const void *data, size_t datalen,
                  unsigned char *out, size_t *outlen)
{
    unsigned int n = 0;
    if (strcmp(alg, "sha256") != 0 || *outlen < 32 ||
        !HMAC(EVP_sha256(), key, (int)keylen, data, datalen, out, &n)) {
        return OMB_EINVAL;
    }
    *outlen = n;
    return 0;
}

static bool h_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

static int h_b64_decode(const char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    if (inlen % 4 != 0 || 3 * inlen / 4 > *outlen) {
        return OMB_EINVAL;
    }
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)inlen);
    if (n < 0) {
        return OMB_EINVAL;
    }
    while (inlen > 0 && in[inlen - 1] == '=') {
        inlen--;
        n--;
    }
    *outlen = (size_t)n;
    return 0;
}

static const struct omb_host_api full_host = {
    .abi_minor = OMB_ABI_MINOR,
    .size = sizeof(struct omb_host_api),
    .log = h_log,
    .emit = h_emit,
    .event_check = h_event_check,
    .instance_name = h_instance_name,
    .timer_add = h_timer_add,
    .timer_cancel = h_timer_cancel,
    .metric_counter_add = h_counter,
    .metric_gauge_set = h_gauge,
    .now_ms = h_now,
    .monotonic_ms = h_mono,
    .stopping = h_stopping,
    .http_route_add = h_route_add,
    .hmac = h_hmac,
    .mem_equal_ct = h_equal,
    .base64_decode = h_b64_decode,
};

/* Call the handler with body, topic, event id and signature (NULL: no such header). */
static int post(const char *method, const char *topic, const char *event_id, const char *body,
                const char *sig, struct omb_http_response *res)
{
    struct omb_http_header hdr[4];
    size_t n = 0;
    hdr[n++] = (struct omb_http_header){"Content-Type", "application/json"};
    if (topic) {
        hdr[n++] = (struct omb_http_header){"X-Shopify-Topic", topic};
    }
    if (event_id) {
        hdr[n++] = (struct omb_http_header){"X-Shopify-Event-Id", event_id};
    }
    if (sig) {
        hdr[n++] = (struct omb_http_header){"x-shopify-hmac-sha256", sig}; /* any case */
    }
    struct omb_http_request req = {
        .method = method,
        .path = "/hooks/shop/webhooks",
        .suffix = "webhooks",
        .query = "",
        .headers = hdr,
        .n_headers = n,
        .body = (const unsigned char *)body,
        .body_len = strlen(body),
        .remote_addr = "127.0.0.1",
    };
    memset(res, 0, sizeof(*res));
    host_state.fn(host_state.arg, &req, res);
    return res->status;
}

/* Shopify's signature of body with test_secret (a static buffer). */
static const char *sign(const char *body)
{
    static char b64[64];
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), "test_secret", 11, (const unsigned char *)body, strlen(body), mac, &n);
    EVP_EncodeBlock((unsigned char *)b64, mac, (int)n);
    return b64;
}

static void test_webhooks(void)
{
    struct harness *h = make((const char *const[]){"webhook-secret", "test_secret", NULL});
    if (!h) {
        return;
    }
    memset(&host_state, 0, sizeof(host_state));
    host_state.events = json_array();
    host_state.fail_after = -1;
    CHECK(harness_descriptor(h)->create(&full_host, NULL, harness_ctx(h)) == 0);
    CHECK(harness_descriptor(h)->start(harness_ctx(h)) == 0);
    CHECK(host_state.fn != NULL && strcmp(host_state.suffix, "webhooks") == 0);
    if (!host_state.fn) {
        harness_destroy(&h);
        return;
    }
    struct omb_http_response res;
    const char *lvl = "inventory_levels/update";
    /* The vendor vector verifies; as a level it needs the identity map, which cannot be read
     * here (the shop is at port 1): 503, Shopify sends it again later. */
    CHECK(strcmp(sign(VECTOR_BODY), VECTOR_SIG) == 0);
    CHECK(post("POST", "app/uninstalled", "e0", VECTOR_BODY, VECTOR_SIG, &res) == 200);
    CHECK(post("POST", lvl, "e0", VECTOR_BODY, VECTOR_SIG, &res) == 503);
    CHECK(res.retry_after_s == 5);
    CHECK(json_array_size(host_state.events) == 0);
    /* A tampered body with the original signature, a wrong one, none, not base64. */
    CHECK(post("POST", lvl, "e0", VECTOR_BODY " ", VECTOR_SIG, &res) == 401);
    CHECK(post("POST", lvl, "e0", VECTOR_BODY,
               "FUhB2qAsur6nP/U5HnbZMqKE76kwYMmFhlprtMu0Czc=", &res) == 401);
    CHECK(post("POST", lvl, "e0", VECTOR_BODY, NULL, &res) == 401);
    CHECK(post("POST", lvl, "e0", VECTOR_BODY, "%%%", &res) == 401);
    CHECK(post("GET", lvl, "e0", VECTOR_BODY, VECTOR_SIG, &res) == 405);
    CHECK(post("POST", lvl, "e0", "[1]", sign("[1]"), &res) == 400);
    CHECK(post("POST", NULL, "e0", VECTOR_BODY, VECTOR_SIG, &res) == 400);
    CHECK(post("POST", "app/uninstalled", "e0", "{}", sign("{}"), &res) == 200);
    CHECK(json_array_size(host_state.events) == 0);

    /* An order with a customer: two events. The daemon takes one, then pushes back. */
    const char *order = "{\"id\":5871234567890,\"currency\":\"PLN\",\"total_price\":\"59.99\","
                        "\"line_items\":[{\"sku\":\"OB-1\",\"quantity\":1,\"price\":\"59.99\"}],"
                        "\"customer\":{\"id\":42,\"email\":\"a@example.pl\"},"
                        "\"shipping_address\":{\"address1\":\"Prosta 1\",\"city\":\"Warszawa\","
                        "\"country_code\":\"PL\"}}";
    host_state.fail_after = 1;
    host_state.fail_rc = OMB_EAGAIN;
    CHECK(post("POST", "orders/create", "ev-7", order, sign(order), &res) == 503);
    CHECK(res.retry_after_s == 5);
    CHECK(json_array_size(host_state.events) == 1);
    host_state.fail_after = 0;
    host_state.fail_rc = OMB_ESTOPPED;
    CHECK(post("POST", "orders/create", "ev-7", order, sign(order), &res) == 503);
    CHECK(json_array_size(host_state.events) == 1);
    /* Shopify sends it again: both, with the same keys (the core drops the first repeat). */
    host_state.fail_after = -1;
    CHECK(post("POST", "orders/create", "ev-7", order, sign(order), &res) == 200);
    static const char *const keys[] = {"shopify:ev-7", "shopify:ev-7", "shopify:ev-7#customer"};
    CHECK(json_array_size(host_state.events) == 3);
    for (size_t i = 0; i < json_array_size(host_state.events) && i < 3; i++) {
        const json_t *ev = json_array_get(host_state.events, i);
        const char *k = json_string_value(json_object_get(ev, "dedupe"));
        CHECK(k && strcmp(k, keys[i]) == 0);
        char err[256];
        CHECK(harness_event_check(ev, err, sizeof(err)) == 0);
    }
    const json_t *b = json_object_get(json_array_get(host_state.events, 0), "body");
    CHECK(json_integer_value(json_object_get(
              json_object_get(json_array_get(json_object_get(b, "lines"), 0), "unit_price"),
              "amount")) == 5999);
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(b, "fulfilment"), "method")),
                 "ship") == 0);
    harness_descriptor(h)->stop(harness_ctx(h));
    harness_descriptor(h)->destroy(harness_ctx(h)); /* not harness_create'd: ours to call */
    harness_destroy(&h);
    json_decref(host_state.events);
    host_state.events = NULL;
}

int main(void)
{
    test_docs_and_validate();
    test_deliveries();
    test_no_ingress();
    test_webhooks();
    return test_result();
}
