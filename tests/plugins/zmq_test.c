/* Plugin test: connectors/zmq (zmq.so in the harness host), with real ZeroMQ sockets on ipc://
 * endpoints under tests/tmp. The harness does not watch fds, so the plugin falls back to its
 * timer: the test fires timers until what it sent has been read. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "plugins/harness.h"
#include "testlib.h"

static void *zctx;

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Send one message of n frames (given as strings). */
static void send_frames(void *s, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *f = va_arg(ap, const char *);
        CHECK(zmq_send(s, f, strlen(f), i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    }
    va_end(ap);
}

static void send_event(void *s, int seq)
{
    char env[128], body[128];
    snprintf(env, sizeof(env), "{\"type\":\"stock.delta\",\"key\":\"K%d\"}", seq % 3);
    snprintf(body, sizeof(body), "{\"sku\":\"K%d\",\"seq\":%d}", seq % 3, seq);
    send_frames(s, 2, env, body);
}

/* Fire the plugin's timers until `pred` holds, for up to 5 s. */
static bool wait_until(struct harness *h, bool (*pred)(struct harness *, size_t), size_t arg)
{
    for (int i = 0; i < 1000; i++) {
        harness_fire_timers(h);
        if (pred(h, arg)) {
            return true;
        }
        sleep_ms(5);
    }
    return false;
}

static bool have_events(struct harness *h, size_t n)
{
    return json_array_size(harness_events(h)) >= n;
}

static bool have_received(struct harness *h, size_t n)
{
    return harness_counter(h, "received") >= n;
}

static int seq_of(const json_t *ev)
{
    return (int)json_integer_value(json_object_get(json_object_get(ev, "body"), "seq"));
}

static struct harness *started(const char *opt1, const char *val1, const char *opt2,
                               const char *val2)
{
    char err[256];
    struct harness *h = harness_new("zmq");
    CHECK(h != NULL);
    if (!h) {
        exit(1);
    }
    CHECK(harness_set_option(h, opt1, val1) == 0);
    if (opt2) {
        CHECK(harness_set_option(h, opt2, val2) == 0);
    }
    CHECK(harness_create(h) == 0);
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    CHECK(harness_start(h) == 0);
    return h;
}

static void *peer(int type, const char *url)
{
    void *s = zmq_socket(zctx, type);
    int linger = 0;
    CHECK(s != NULL);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    CHECK(zmq_connect(s, url) == 0);
    return s;
}

/* validate: one direction at least, bind xor connect, tcp:// or ipc:// only. */
static void test_validate(void)
{
    static const struct {
        const char *o1, *v1, *o2, *v2, *expect;
    } cases[] = {
        { NULL, NULL, NULL, NULL, "set bind or connect" },
        { "bind", "ipc:///tmp/a", "connect", "tcp://h:1", "set bind or connect, not both" },
        { "publish-bind", "ipc:///tmp/a", "publish-connect", "ipc:///tmp/b",
          "set publish-bind or publish-connect, not both" },
        { "bind", "inproc://x", NULL, NULL, "only tcp:// and ipc://" },
        { "connect", "tcp://host", NULL, NULL, "expected tcp://HOST:PORT" },
        { "bind", "ipc:///tmp/a", "publish-bind", "ipc:///tmp/a", "the same endpoint" },
        { "bind",
          "ipc:///tmp/a-very-long-directory-name/another-very-long-directory-name/"
          "and-a-socket-name-that-is-much-too-long-for-sun-path.sock",
          NULL, NULL, "Unix sockets allow at most 107" },
        { "bind", "tcp://127.0.0.1:*", "publish-connect", "ipc:///tmp/b", NULL },
        { "publish-bind", "tcp://*:5602", NULL, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        struct harness *h = harness_new("zmq");
        if (cases[i].o1) {
            CHECK(harness_set_option(h, cases[i].o1, cases[i].v1) == 0);
        }
        if (cases[i].o2) {
            CHECK(harness_set_option(h, cases[i].o2, cases[i].v2) == 0);
        }
        CHECK(harness_create(h) == 0);
        int rc = harness_validate(h, err, sizeof(err));
        if (cases[i].expect) {
            CHECK(rc == OMB_EINVAL);
            CHECK(strstr(err, cases[i].expect) != NULL);
            if (!strstr(err, cases[i].expect)) {
                fprintf(stderr, "case %zu: %s\n", i, err);
            }
        } else {
            CHECK(rc == 0);
        }
        harness_destroy(&h);
    }
    struct harness *h = harness_new("zmq");
    CHECK(harness_set_option(h, "hwm", "0") == OMB_EINVAL);
    CHECK(harness_set_option(h, "max-message", "100") == OMB_EINVAL);
    CHECK(harness_set_option(h, "linger", "2m") == OMB_EINVAL);
    CHECK(harness_set_option(h, "subscribe", "x") == OMB_ENOTFOUND);
    harness_destroy(&h);
}

/* Inbound: events in order, envelope members kept or dropped, invalid input counted. */
static void test_inbound(const char *tmp)
{
    char *url = harness_path("ipc://%s/in.sock", tmp);
    struct harness *h = started("bind", url, "max-message", "1k");
    CHECK(harness_log_count(h, OMB_LOG_INFO, "PULL bound to ipc://") == 1);
    void *push = peer(ZMQ_PUSH, url);

    send_frames(push, 2,
                "{\"type\":\"price.set\",\"key\":\"A\",\"time\":\"2026-11-20T10:00:00Z\","
                "\"trace\":\"t-1\",\"id\":\"ext-1\",\"headers\":{\"x-till\":\"7\"},"
                "\"source\":\"elsewhere\",\"received\":\"2026-11-20T10:00:01Z\",\"route\":\"r\"}",
                "{\"sku\":\"A\",\"price\":{\"amount\":12999,\"currency\":\"PLN\"},"
                "\"big\":9007199254740993123}");
    /* Invalid, each counted and dropped. */
    send_frames(push, 1, "{\"type\":\"x.y\"}");
    send_frames(push, 3, "{\"type\":\"x.y\"}", "{}", "{}");
    send_frames(push, 2, "{\"type\":", "{}");
    send_frames(push, 2, "{\"type\":\"x.y\"}", "not json");
    send_frames(push, 2, "{\"key\":\"A\"}", "{}");
    send_frames(push, 2, "{\"type\":\"x.y\"}", "[1,2]");
    send_frames(push, 2, "[\"type\"]", "{}");
    send_frames(push, 2, "{\"type\":\"x.y\",\"kye\":\"A\"}", "{}");
    send_frames(push, 2, "{\"type\":\"x.y\",\"body\":{}}", "{}");
    send_frames(push, 2, "{\"type\":\"x.y\"}", "");
    send_frames(push, 2, "{\"type\":\"Not A Type\"}", "{}");     /* refused by emit */
    send_frames(push, 2, "{\"type\":\"x.y\",\"type\":\"x.z\"}", "{}"); /* duplicate member */
    char big[1100];
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"pad\":\"", 8);
    memset(big + 8, 'x', 600);
    memcpy(big + 608, "\"}", 3);
    send_frames(push, 2, "{\"type\":\"x.y\",\"headers\":{\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "\"}}",
                big); /* each frame < 1k, together > 1k */
    for (int i = 0; i < 5; i++) {
        send_event(push, i);
    }
    CHECK(wait_until(h, have_events, 6));
    CHECK(wait_until(h, have_received, 19));
    json_t *evs = harness_events(h);
    CHECK(json_array_size(evs) == 6);
    json_t *first = json_array_get(evs, 0);
    CHECK_STR(json_string_value(json_object_get(first, "type")), "price.set");
    CHECK_STR(json_string_value(json_object_get(first, "key")), "A");
    CHECK_STR(json_string_value(json_object_get(first, "time")), "2026-11-20T10:00:00Z");
    CHECK_STR(json_string_value(json_object_get(first, "trace")), "t-1");
    CHECK_STR(json_string_value(json_object_get(first, "id")), "ext-1");
    CHECK_STR(json_string_value(json_object_get(json_object_get(first, "headers"), "x-till")),
              "7");
    CHECK(json_object_get(first, "source") == NULL);
    CHECK(json_object_get(first, "received") == NULL);
    CHECK(json_object_get(first, "route") == NULL);
    json_t *price = json_object_get(json_object_get(first, "body"), "price");
    CHECK(json_integer_value(json_object_get(price, "amount")) == 12999);
    CHECK(json_integer_value(json_object_get(json_object_get(first, "body"), "big")) ==
          9007199254740993123LL);
    for (int i = 0; i < 5; i++) {
        CHECK(seq_of(json_array_get(evs, (size_t)i + 1)) == i);
    }
    CHECK(harness_counter(h, "received") == 19);
    CHECK(harness_counter(h, "invalid") == 13);
    CHECK(harness_counter(h, "emitted") == 6);
    /* At most one line per second about invalid input; the reasons are specific. */
    CHECK(harness_log_count(h, OMB_LOG_WARN, "invalid message dropped:") == 1);
    CHECK(harness_log_count(h, OMB_LOG_WARN, "expected 2 frames (envelope, body), got 1") == 1);

    /* stop finishes what is queued, then reads nothing more; stop is idempotent. */
    for (int i = 5; i < 8; i++) {
        send_event(push, i);
    }
    sleep_ms(100);
    CHECK(harness_stop(h) == 0);
    CHECK(json_array_size(harness_events(h)) == 9);
    CHECK(seq_of(json_array_get(harness_events(h), 8)) == 7);
    CHECK(harness_log_count(h, OMB_LOG_WARN, "12 more invalid message(s) dropped") == 1);
    CHECK(harness_stop(h) == 0);
    harness_fire_timers(h);
    CHECK(json_array_size(harness_events(h)) == 9);
    zmq_close(push);
    harness_destroy(&h);
    free(url);
}

/* Backpressure: emit pushes back (EAGAIN, then ESTOPPED); nothing is lost or reordered. */
static void test_backpressure(const char *tmp)
{
    char *url = harness_path("ipc://%s/bp.sock", tmp);
    struct harness *h = started("bind", url, "hwm", "100");
    void *push = peer(ZMQ_PUSH, url);
    harness_emit_fail(h, 2, 3, OMB_EAGAIN);
    for (int i = 0; i < 50; i++) {
        send_event(push, i);
    }
    CHECK(wait_until(h, have_events, 50));
    harness_emit_fail(h, 0, 2, OMB_ESTOPPED);
    for (int i = 50; i < 60; i++) {
        send_event(push, i);
    }
    CHECK(wait_until(h, have_events, 60));
    json_t *evs = harness_events(h);
    CHECK(json_array_size(evs) == 60);
    for (int i = 0; i < 60 && i < (int)json_array_size(evs); i++) {
        CHECK(seq_of(json_array_get(evs, (size_t)i)) == i);
    }
    CHECK(harness_emit_calls(h) == 65);
    CHECK(harness_counter(h, "invalid") == 0);
    CHECK(harness_counter(h, "emitted") == 60);
    zmq_close(push);
    harness_destroy(&h); /* destroy without stop: stops */
    free(url);
}

/* Outbound: two frames, the envelope with route and without body; retry when nobody reads. */
static void test_outbound(const char *tmp)
{
    char *url = harness_path("ipc://%s/out.sock", tmp);
    struct harness *h = started("publish-bind", url, "hwm", "5");
    struct omb_deliver_result res;
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:I}}", "id", "01ABC", "type",
                           "stock.level", "source", "pos", "key", "A@W", "route", "r1", "body",
                           "sku", "A", "on_hand", (json_int_t)3);
    memset(&res, 0, sizeof(res));
    CHECK(harness_deliver(h, ev, &res) == OMB_ERETRY); /* nobody connected */
    CHECK(res.retry_after_ms == 50);
    CHECK(strstr(res.reason, "peer not reading (HWM reached)") != NULL);

    void *pull = peer(ZMQ_PULL, url);
    int rc = OMB_ERETRY;
    for (int i = 0; i < 500 && rc != OMB_OK; i++) {
        memset(&res, 0, sizeof(res));
        rc = harness_deliver(h, ev, &res);
        if (rc != OMB_OK) {
            sleep_ms(5);
        }
    }
    CHECK(rc == OMB_OK);
    char buf[512];
    int n = zmq_recv(pull, buf, sizeof(buf) - 1, 0);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    json_t *env = json_loads(buf, 0, NULL);
    CHECK(env != NULL);
    CHECK_STR(json_string_value(json_object_get(env, "route")), "r1");
    CHECK_STR(json_string_value(json_object_get(env, "id")), "01ABC");
    CHECK_STR(json_string_value(json_object_get(env, "source")), "pos");
    CHECK(json_object_get(env, "body") == NULL);
    int more = 0;
    size_t len = sizeof(more);
    zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len);
    CHECK(more == 1);
    n = zmq_recv(pull, buf, sizeof(buf) - 1, 0);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    CHECK_STR(buf, "{\"sku\":\"A\",\"on_hand\":3}");
    zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len);
    CHECK(more == 0);
    json_decref(env);
    CHECK(harness_counter(h, "sent") == 1);

    /* The peer stops reading: the high-water mark fills and deliver asks for a retry. */
    /* The I/O thread keeps draining into the kernel's socket buffer, so a later send may
     * succeed again after a refusal: look at the reason of a refusal, not of the last call. */
    int retries = 0;
    char retry_reason[sizeof(res.reason)] = "";
    for (int i = 0; i < 100; i++) {
        memset(&res, 0, sizeof(res));
        if (harness_deliver(h, ev, &res) == OMB_ERETRY) {
            retries++;
            memcpy(retry_reason, res.reason, sizeof(retry_reason));
        }
    }
    CHECK(retries > 0);
    CHECK(strstr(retry_reason, "HWM") != NULL);

    /* No body: permanent. */
    json_t *nobody = json_pack("{s:s}", "type", "x.y");
    CHECK(harness_deliver(h, nobody, &res) == OMB_EREJECT);
    json_decref(nobody);
    json_decref(ev);
    zmq_close(pull);
    harness_destroy(&h);
    free(url);

    /* An inbound-only instance rejects deliveries. */
    url = harness_path("ipc://%s/in2.sock", tmp);
    h = started("bind", url, NULL, NULL);
    ev = json_pack("{s:s, s:{}}", "type", "x.y", "body");
    memset(&res, 0, sizeof(res));
    CHECK(harness_deliver(h, ev, &res) == OMB_EREJECT);
    CHECK(strstr(res.reason, "no publish-bind") != NULL);
    json_decref(ev);
    harness_destroy(&h);
    free(url);
}

/* The invalid-input log line is rate-limited per second (fake clock). */
static void test_log_rate(const char *tmp)
{
    char *url = harness_path("ipc://%s/rate.sock", tmp);
    harness_clock_set(1000000);
    struct harness *h = started("bind", url, NULL, NULL);
    void *push = peer(ZMQ_PUSH, url);
    for (int i = 0; i < 5; i++) {
        send_frames(push, 1, "{}");
    }
    CHECK(wait_until(h, have_received, 5));
    CHECK(harness_log_count(h, OMB_LOG_WARN, "invalid message dropped:") == 1);
    harness_fire_timers(h);
    CHECK(harness_log_count(h, OMB_LOG_WARN, "more invalid") == 0);
    harness_clock_advance(1000); /* the second is over: the tick reports the 4 suppressed */
    harness_fire_timers(h);
    CHECK(harness_log_count(h, OMB_LOG_WARN, "4 more invalid message(s) dropped (the last: "
                                             "expected 2 frames") == 1);
    harness_clock_advance(1000);
    send_frames(push, 1, "{}");
    CHECK(wait_until(h, have_received, 6));
    CHECK(harness_log_count(h, OMB_LOG_WARN, "invalid message dropped:") == 2);
    CHECK(harness_log_count(h, -1, NULL) == 5); /* bound, fd fallback, and the three above */
    CHECK(harness_counter(h, "invalid") == 6);

    /* Each reason, one second apart so that each is logged. */
    static const struct {
        int n;
        const char *f1, *f2, *f3, *reason;
    } bad[] = {
        { 3, "{\"type\":\"x.y\"}", "{}", "{}", "expected 2 frames (envelope, body), got 3" },
        { 2, "{\"type\":", "{}", NULL, "the envelope frame is not JSON: " },
        { 2, "{\"type\":\"x.y\"}", "nope", NULL, "the body frame is not JSON: " },
        { 2, "{\"key\":\"A\"}", "{}", NULL, "the envelope has no \"type\"" },
        { 2, "{\"type\":\"x.y\"}", "[1]", NULL, "body frame must be a JSON object, not an array" },
        { 2, "{\"type\":\"x.y\"}", "7", NULL, "body frame must be a JSON object, not a number" },
        { 2, "\"x.y\"", "{}", NULL, "the envelope frame must be a JSON object, not a string" },
        { 2, "{\"type\":\"x.y\",\"kye\":\"A\"}", "{}", NULL, "unknown envelope member \"kye\"" },
        { 2, "{\"type\":\"x.y\",\"body\":{}}", "{}", NULL, "\"body\" belongs in the second frame" },
        { 2, "{\"type\":\"x.y\"}", "", NULL, "the body frame is empty" },
        { 2, "{\"type\":\"X\"}", "{}", NULL, "\"type\" must be lowercase words" },
        { 2, "{\"type\":\"x.y\",\"type\":\"x.z\"}", "{}", NULL, "duplicate object key" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        harness_clock_advance(1001);
        if (bad[i].n == 3) {
            send_frames(push, 3, bad[i].f1, bad[i].f2, bad[i].f3);
        } else {
            send_frames(push, 2, bad[i].f1, bad[i].f2);
        }
        CHECK(wait_until(h, have_received, 7 + i));
        CHECK(harness_log_count(h, OMB_LOG_WARN, bad[i].reason) == 1);
        if (harness_log_count(h, OMB_LOG_WARN, bad[i].reason) != 1) {
            fprintf(stderr, "reason not logged: %s\n", bad[i].reason);
        }
    }
    CHECK(harness_counter(h, "invalid") == 6 + sizeof(bad) / sizeof(bad[0]));
    CHECK(harness_emitted(h) == 0);
    zmq_close(push);
    harness_destroy(&h);
    free(url);
}

int main(void)
{
    zctx = zmq_ctx_new();
    struct harness *h = harness_new("zmq");
    CHECK(h != NULL);
    if (!h) {
        return 1;
    }
    CHECK_STR(harness_descriptor(h)->name, "zmq");
    CHECK(harness_descriptor(h)->capabilities == (OMB_CAP_SOURCE | OMB_CAP_SINK));
    const char *top = getenv("top_srcdir");
    char *doc = harness_path("%s/docs/connectors/zmq.md", top ? top : ".");
    CHECK(harness_options_documented(h, doc));
    free(doc);
    harness_destroy(&h);

    char *tmp = harness_tmpdir("zmq");
    test_validate();
    test_inbound(tmp);
    test_backpressure(tmp);
    test_outbound(tmp);
    test_log_rate(tmp);
    free(tmp);
    zmq_ctx_term(zctx);
    return test_result();
}
