/* Plugin test: connectors/square (square.so).
 *
 * Part 1, in the harness host (tests/plugins/harness.c): every option documented, validate's
 * refusals, an omnibusd without the HTTP ingress (no http_route_add) refusing signature-key,
 * and deliveries that are decided without Square (wrong type, unmapped location, foreign
 * currency, no id) or that cannot reach it (retry).
 *
 * Part 2, in a host of this file that has the ABI 1.1/1.2 functions (http_route_add, hmac,
 * base64, mem_equal_ct; OpenSSL behind them): the webhook handler called directly, with the
 * test vector of vendor-apis.md, refused signatures, a catalog that cannot be read (503), and
 * emit's backpressure half-way through a notification (503, then the resend completes it with
 * the same dedupe keys), against the fake Square API (tests/fakes/square_fake.py, run as a
 * child; skipped without python3). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "plugins/harness.h"
#include "testlib.h"

#define VECTOR_URL "https://esb.example.com/hooks/square"
#define VECTOR_BODY "{\"event_id\":\"e1\",\"type\":\"inventory.count.updated\"}"
#define VECTOR_SIG "oI76JaepU13dB33XjFfhshmepcZiRxTiZ0nCi816JeQ="

/* Every option with an explicit value (the harness fills defaults only in harness_create). */
static const char *const base_opts[][2] = {
    {"base-url", "http://127.0.0.1:1"}, {"access-token", "EAAAtest"},
    {"square-version", "2025-01-23"},   {"locations", "WAW01=LWAW,KRK02=LKRK"},
    {"webhook-path", "webhooks"},       {"timeout", "2s"},
    {"connect-timeout", "1s"},          {"retry-after-max", "1h"},
};

/* A harness with base_opts, then the NULL-terminated name/value pairs of `more`. */
static struct harness *make(const char *const *more)
{
    struct harness *h = harness_new("square");
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
        CHECK(!"square.so loads");
        return;
    }
    const char *src = getenv("top_srcdir");
    char *doc = harness_path("%s/docs/connectors/square.md", src ? src : ".");
    CHECK(harness_options_documented(h, doc));
    free(doc);
    char err[256];
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    harness_destroy(&h);

    static const struct {
        const char *opts[5];
        const char *expect;
    } bad[] = {
        {{"square-version", "2025-1-23", NULL}, "square-version \"2025-1-23\" is not a date"},
        {{"currency", "pln", NULL}, "currency \"pln\" is not an ISO 4217 code"},
        {{"locations", "WAW01", NULL}, "\"WAW01\" is not LOCATION=SQUARE_LOCATION_ID"},
        {{"locations", "WAW01=A,WAW01=B", NULL}, "location WAW01 is mapped twice"},
        {{"locations", "WAW01=A,KRK02=A", NULL}, "Square location A is mapped twice"},
        {{"locations", "WAW 01=A", NULL}, "without blanks"},
        {{"signature-key", "k", NULL}, "signature-key needs notification-url"},
        {{"notification-url", VECTOR_URL, NULL}, "but signature-key is not"},
        {{"access-token", "a\nb", NULL}, "access-token is empty or holds a line break"},
        {{"base-url", "ftp://x.example.com", NULL}, "base-url must be an http://"},
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

/* A delivered event: type, id (may be NULL) and body (JSON text). New. */
static json_t *event(const char *type, const char *id, const char *body)
{
    json_t *ev = json_pack("{s:s, s:s, s:s, s:o}", "type", type, "time", "2026-11-20T06:00:00Z",
                           "route", "r", "body", json_loads(body, 0, NULL));
    if (ev && id) {
        json_object_set_new(ev, "id", json_string(id));
    }
    return ev;
}

static void test_deliver_without_square(void)
{
    struct harness *h = make((const char *const[]){"currency", "PLN", NULL});
    if (!h) {
        return;
    }
    CHECK(harness_create(h) == 0);
    CHECK(harness_start(h) == 0);
    /* start arms one timer that reads the SKU map; Square is not there: a warning, no more. */
    CHECK(harness_timers(h) == 1);
    CHECK(harness_fire_timers(h) == 1);
    CHECK(harness_log_count(h, OMB_LOG_WARN, "reading the catalog: ") == 1);
    CHECK(harness_timers(h) == 0);
    struct omb_deliver_result res;
    static const struct {
        const char *type, *id, *body, *expect;
        int rc;
    } cases[] = {
        {"order.created", "01A", "{\"order_id\":\"A-1\"}",
         "event type order.created is not one the square connector takes", OMB_EREJECT},
        {"stock.level", "01B", "{\"sku\":\"OB-1\",\"location\":\"GDN03\",\"on_hand\":1}",
         "location GDN03 is not in the option locations", OMB_EREJECT},
        {"price.set", "01C", "{\"sku\":\"OB-1\",\"price\":{\"amount\":100,\"currency\":\"EUR\"}}",
         "currency mismatch: the price is in EUR", OMB_EREJECT},
        {"price.set", "01D", "{\"sku\":\"OB-1\",\"price\":{\"amount\":1.5,\"currency\":\"PLN\"}}",
         "price.set without body.price {amount: an integer", OMB_EREJECT},
        {"stock.level", NULL, "{\"sku\":\"OB-1\",\"location\":\"WAW01\",\"on_hand\":1}",
         "no usable id", OMB_EREJECT},
        {"stock.level", "01E", "{\"sku\":\"OB-1\",\"location\":\"WAW01\",\"on_hand\":1}",
         "reading the catalog: GET /v2/catalog/list?types=ITEM_VARIATION: ", OMB_ERETRY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ev = event(cases[i].type, cases[i].id, cases[i].body);
        int rc = harness_deliver(h, ev, &res);
        json_decref(ev);
        CHECK(rc == cases[i].rc);
        if (!strstr(res.reason, cases[i].expect)) {
            fprintf(stderr, "case %zu: expected \"%s\" in \"%s\"\n", i, cases[i].expect,
                    res.reason);
            CHECK(!"the reason");
        }
    }
    CHECK(harness_counter(h, "deliveries_rejected") == 5);
    CHECK(harness_counter(h, "deliveries_retried") == 1);
    CHECK(harness_counter(h, "api_transport_errors") == 2);
    CHECK(harness_stop(h) == 0);
    harness_destroy(&h);

    /* signature-key needs the HTTP ingress, which the harness host does not offer. */
    h = make((const char *const[]){"signature-key", "k", "notification-url", VECTOR_URL, NULL});
    if (h) {
        CHECK(harness_create(h) == OMB_EINVAL);
        CHECK(harness_log_count(h, OMB_LOG_ERROR, "needs omnibusd with ABI 1.1") == 1);
        harness_destroy(&h);
    }
}

/* ---- part 2: a host with the webhook functions ---- */

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
    fprintf(stderr, "[square %d] ", (int)level);
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
    return "sq";
}

static void h_counter(struct omb_instance *self, const char *name, uint64_t delta)
{
    (void)self, (void)name, (void)delta;
}

static void h_gauge(struct omb_instance *self, const char *name, int64_t value)
{
    (void)self, (void)name, (void)value;
}

static int64_t h_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t h_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int h_timer_add(struct omb_instance *self, uint64_t delay_ms, uint64_t interval_ms,
                       omb_timer_fn fn, void *arg, uint64_t *id_out)
{
    (void)self, (void)delay_ms, (void)interval_ms, (void)fn, (void)arg, (void)id_out;
    return OMB_EINVAL; /* no timers here: the SKU map is read at the first need */
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

/* Call the handler with a POST of body, signed with sig (NULL: no header). */
static int post(const char *method, const char *body, const char *sig,
                struct omb_http_response *res)
{
    struct omb_http_header hdr[2] = {{"Content-Type", "application/json"},
                                     {"X-Square-HmacSha256-Signature", sig}};
    struct omb_http_request req = {
        .method = method,
        .path = "/hooks/sq/webhooks",
        .suffix = "webhooks",
        .query = "",
        .headers = hdr,
        .n_headers = sig ? 2 : 1,
        .body = (const unsigned char *)body,
        .body_len = strlen(body),
        .remote_addr = "127.0.0.1",
    };
    memset(res, 0, sizeof(*res));
    host_state.fn(host_state.arg, &req, res);
    return res->status;
}

/* Square's signature of body for VECTOR_URL with key test_secret (a static buffer). */
static const char *sign(const char *body)
{
    static char b64[64];
    unsigned char mac[32];
    unsigned int n = 0;
    size_t ul = strlen(VECTOR_URL), bl = strlen(body);
    unsigned char *msg = malloc(ul + bl);
    memcpy(msg, VECTOR_URL, ul);
    memcpy(msg + ul, body, bl);
    HMAC(EVP_sha256(), "test_secret", 11, msg, ul + bl, mac, &n);
    free(msg);
    EVP_EncodeBlock((unsigned char *)b64, mac, (int)n);
    return b64;
}

/* The fake Square API as a child: {"port": N, "vars": [...]} on its stdout; it ends when its
 * standard input closes. */
struct fake {
    pid_t pid;
    int to_child;
    int port;
    char vars[3][32];
};

static bool fake_start(struct fake *f)
{
    const char *src = getenv("top_srcdir");
    char *script = harness_path(
        "import sys, json; sys.dont_write_bytecode = True\n"
        "sys.path.insert(0, '%s/tests/fakes'); import square_fake as sf\n"
        "f = sf.SquareFake(token='EAAAtest', page_size=2).start(); f.add_location('LWAW')\n"
        "v = [f.add_variation(s) for s in ('OB-1', 'OB-2', 'OB-3')]\n"
        "print(json.dumps({'port': f.port, 'vars': v}), flush=True); sys.stdin.read()\n",
        src ? src : ".");
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
        free(script);
        return false;
    }
    f->pid = fork();
    if (f->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execlp("python3", "python3", "-c", script, (char *)NULL);
        _exit(127);
    }
    free(script);
    close(in[0]);
    close(out[1]);
    f->to_child = in[1];
    FILE *r = fdopen(out[0], "r");
    char line[512];
    bool ok = r && fgets(line, sizeof(line), r);
    if (r) {
        fclose(r);
    }
    json_t *j = ok ? json_loads(line, 0, NULL) : NULL;
    f->port = (int)json_integer_value(json_object_get(j, "port"));
    for (size_t i = 0; i < 3; i++) {
        const char *v = json_string_value(json_array_get(json_object_get(j, "vars"), i));
        snprintf(f->vars[i], sizeof(f->vars[i]), "%s", v ? v : "");
    }
    json_decref(j);
    return f->port > 0;
}

static void fake_stop(struct fake *f)
{
    close(f->to_child);
    int st;
    waitpid(f->pid, &st, 0);
}

/* Create an instance on the full host; NULL when it cannot. */
static struct harness *webhook_instance(const char *base_url)
{
    struct harness *h =
        make((const char *const[]){"base-url", base_url, "signature-key", "test_secret",
                                   "notification-url", VECTOR_URL, NULL});
    if (!h) {
        return NULL;
    }
    memset(&host_state, 0, sizeof(host_state));
    host_state.events = json_array();
    host_state.fail_after = -1;
    /* The instance handle is opaque and unused by this host. */
    CHECK(harness_descriptor(h)->create(&full_host, NULL, harness_ctx(h)) == 0);
    CHECK(harness_descriptor(h)->start(harness_ctx(h)) == 0);
    CHECK(host_state.fn != NULL && strcmp(host_state.suffix, "webhooks") == 0);
    return h;
}

static void webhook_done(struct harness **hp)
{
    harness_descriptor(*hp)->stop(harness_ctx(*hp));
    harness_descriptor(*hp)->destroy(harness_ctx(*hp)); /* not harness_create'd: ours to call */
    harness_destroy(hp);
    json_decref(host_state.events);
    host_state.events = NULL;
}

static void test_webhooks_offline(void)
{
    struct harness *h = webhook_instance("http://127.0.0.1:1");
    if (!h || !host_state.fn) {
        return;
    }
    struct omb_http_response res;
    CHECK(post("POST", VECTOR_BODY, VECTOR_SIG, &res) == 200);
    CHECK(res.body_len == 27 && memcmp(res.body, "accepted: 0 stock level(s)\n", 27) == 0);
    CHECK(post("POST", VECTOR_BODY, "pI76JaepU13dB33XjFfhshmepcZiRxTiZ0nCi816JeQ=", &res) == 401);
    CHECK(post("POST", VECTOR_BODY, NULL, &res) == 401);
    CHECK(post("POST", VECTOR_BODY " ", VECTOR_SIG, &res) == 401);
    CHECK(post("GET", VECTOR_BODY, VECTOR_SIG, &res) == 405);
    CHECK(post("POST", "[1]", sign("[1]"), &res) == 400);
    const char *cat = "{\"event_id\":\"c1\",\"type\":\"catalog.version.updated\"}";
    CHECK(post("POST", cat, sign(cat), &res) == 200);
    const char *inv = "{\"event_id\":\"e2\",\"type\":\"inventory.count.updated\",\"data\":{"
                      "\"object\":{\"inventory_counts\":[{\"catalog_object_id\":\"V1\","
                      "\"location_id\":\"LWAW\",\"state\":\"IN_STOCK\",\"quantity\":\"4\","
                      "\"calculated_at\":\"2026-11-25T06:00:00Z\"}]}}}";
    CHECK(post("POST", inv, sign(inv), &res) == 503);
    CHECK(res.retry_after_s == 5);
    CHECK(json_array_size(host_state.events) == 0);
    webhook_done(&h);
}

static void test_webhook_backpressure(void)
{
    struct fake f;
    if (!fake_start(&f)) {
        fprintf(stderr, "no python3 fake: backpressure part skipped\n");
        return;
    }
    char *url = harness_path("http://127.0.0.1:%d", f.port);
    struct harness *h = webhook_instance(url);
    free(url);
    if (h && host_state.fn) {
        char *body = harness_path(
            "{\"event_id\":\"e9\",\"type\":\"inventory.count.updated\",\"data\":{\"object\":{"
            "\"inventory_counts\":[%s%s%s,%s%s%s,%s%s%s]}}}",
            "{\"catalog_object_id\":\"", f.vars[0],
            "\",\"location_id\":\"LWAW\",\"state\":"
            "\"IN_STOCK\",\"quantity\":\"1\",\"calculated_at\":\"2026-11-25T06:00:00Z\"}",
            "{\"catalog_object_id\":\"", f.vars[1],
            "\",\"location_id\":\"LWAW\",\"state\":"
            "\"IN_STOCK\",\"quantity\":\"2\",\"calculated_at\":\"2026-11-25T06:00:00Z\"}",
            "{\"catalog_object_id\":\"", f.vars[2],
            "\",\"location_id\":\"LWAW\",\"state\":"
            "\"IN_STOCK\",\"quantity\":\"3\",\"calculated_at\":\"2026-11-25T06:00:00Z\"}");
        struct omb_http_response res;
        /* The daemon takes one event, then pushes back: 503, and one event is out. */
        host_state.fail_after = 1;
        host_state.fail_rc = OMB_EAGAIN;
        CHECK(post("POST", body, sign(body), &res) == 503);
        CHECK(res.retry_after_s == 5);
        CHECK(json_array_size(host_state.events) == 1);
        /* Stopping: 503 as well, nothing taken. */
        host_state.fail_after = 0;
        host_state.fail_rc = OMB_ESTOPPED;
        CHECK(post("POST", body, sign(body), &res) == 503);
        CHECK(json_array_size(host_state.events) == 1);
        /* Square sends it again: all three, with the same keys (the core drops e9#0). */
        host_state.fail_after = -1;
        CHECK(post("POST", body, sign(body), &res) == 200);
        static const char *const keys[] = {"e9#0", "e9#0", "e9#1", "e9#2"};
        CHECK(json_array_size(host_state.events) == 4);
        for (size_t i = 0; i < json_array_size(host_state.events) && i < 4; i++) {
            json_t *ev = json_array_get(host_state.events, i);
            CHECK_STR(json_string_value(json_object_get(ev, "dedupe")), keys[i]);
            char err[256];
            CHECK(harness_event_check(ev, err, sizeof(err)) == 0);
        }
        json_t *last = json_array_get(host_state.events, 3);
        CHECK_STR(json_string_value(json_object_get(last, "key")), "OB-3@WAW01");
        CHECK(json_integer_value(json_object_get(json_object_get(last, "body"), "on_hand")) == 3);
        free(body);
        webhook_done(&h);
    }
    fake_stop(&f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_docs_and_validate();
    test_deliver_without_square();
    test_webhooks_offline();
    test_webhook_backpressure();
    return test_result();
}
