/* Plugin test: connectors/zmq (zmq.so in the harness host), with real ZeroMQ sockets on ipc://
 * endpoints under tests/tmp. The harness does not watch fds, so the plugin falls back to its
 * timer: the test fires timers until what it sent has been read (and, in ack mode, until the
 * harness has delivered the acks, which it does at the start of each round). */
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
        { "ack", "true", "publish-bind", "ipc:///tmp/a", "ack answers inbound messages" },
        { "ack", "yes", "connect", "tcp://h:1", NULL },
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
    CHECK(harness_set_option(h, "ack", "maybe") == OMB_EINVAL);
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

/* ---- ack mode: a ROUTER that answers ------------------------------------------------------- */

/* The next answer on s (a DEALER or a REQ: one frame), parsed; NULL after 5 s. Fires the plugin's
 * timers meanwhile (the harness delivers the acks queued at the start of each round). */
static json_t *next_reply(struct harness *h, void *s)
{
    char buf[1024];
    for (int i = 0; i < 1000; i++) {
        int n = zmq_recv(s, buf, sizeof(buf) - 1, ZMQ_DONTWAIT), more = 0;
        size_t len = sizeof(more);
        if (n >= 0) {
            zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len);
            CHECK(more == 0 && n < (int)sizeof(buf) - 1); /* the answer is one small frame */
            buf[n < (int)sizeof(buf) - 1 ? n : (int)sizeof(buf) - 1] = '\0';
            json_t *r = json_loads(buf, 0, NULL);
            CHECK(json_is_object(r) || !fprintf(stderr, "not a JSON answer: %s\n", buf));
            return r;
        }
        harness_fire_timers(h);
        sleep_ms(2);
    }
    CHECK(!"an answer came");
    return NULL;
}

static bool reply_ok(const json_t *r)
{
    return json_is_true(json_object_get(r, "ok"));
}

static const char *reply_id(const json_t *r)
{
    return json_string_value(json_object_get(r, "id"));
}

/* An error answer with retry as expected and a reason containing `reason`. */
static bool reply_error(const json_t *r, bool retry, const char *reason)
{
    const char *e = json_string_value(json_object_get(r, "error"));
    bool good = json_is_false(json_object_get(r, "ok")) &&
                json_is_boolean(json_object_get(r, "retry")) &&
                json_is_true(json_object_get(r, "retry")) == retry && e && strstr(e, reason);
    if (!good) {
        char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
        fprintf(stderr, "unexpected answer %s (wanted retry:%s, \"%s\")\n",
                text ? text : "(none)", retry ? "true" : "false", reason);
        free(text);
    }
    return good;
}

static void send_event_id(void *s, int seq, const char *id)
{
    char env[160], body[128];
    snprintf(env, sizeof(env), "{\"type\":\"stock.delta\",\"key\":\"K%d\"%s%s%s}", seq % 3,
             id ? ",\"id\":\"" : "", id ? id : "", id ? "\"" : "");
    snprintf(body, sizeof(body), "{\"sku\":\"K%d\",\"seq\":%d}", seq % 3, seq);
    send_frames(s, 2, env, body);
}

static struct harness *started_ack(const char *url, const char *opt, const char *val)
{
    char err[256];
    struct harness *h = harness_new("zmq");
    if (!h) {
        exit(1);
    }
    harness_offer_acks(h, true);
    CHECK(harness_set_option(h, "bind", url) == 0);
    CHECK(harness_set_option(h, "ack", "true") == 0);
    CHECK(!opt || harness_set_option(h, opt, val) == 0);
    CHECK(harness_create(h) == 0);
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    CHECK(harness_start(h) == 0);
    return h;
}

/* A DEALER pipelines N events: N "ok" answers, in the order sent, each naming the event's id
 * (the sender's own when it set one, else the one assigned, which the emitted event carries).
 * Then a REQ client. */
static void test_ack_dealer(const char *tmp)
{
    enum { N = 60 };
    char *url = harness_path("ipc://%s/ack.sock", tmp);
    struct harness *h = harness_new("zmq"); /* a host before ABI 1.2: start says why not */
    CHECK(harness_set_option(h, "bind", url) == 0 && harness_set_option(h, "ack", "1") == 0);
    CHECK(harness_create(h) == 0 && harness_start(h) == OMB_EINVAL);
    CHECK(harness_log_count(h, OMB_LOG_ERROR, "ack needs an omnibusd with plugin ABI 1.2") == 1);
    harness_destroy(&h);
    h = started_ack(url, NULL, NULL);
    CHECK(harness_log_count(h, OMB_LOG_INFO, "ROUTER bound to ipc://") == 1);
    void *dealer = peer(ZMQ_DEALER, url);
    for (int i = 0; i < N; i++) {
        char own[32];
        snprintf(own, sizeof(own), "own-%d", i);
        send_event_id(dealer, i, i % 5 == 0 ? own : NULL);
    }
    char last_assigned[32] = "";
    for (int i = 0; i < N; i++) {
        json_t *r = next_reply(h, dealer);
        CHECK(reply_ok(r));
        const char *id = reply_id(r);
        CHECK(id != NULL);
        json_t *ev = json_array_get(harness_events(h), (size_t)i);
        CHECK(seq_of(ev) == i); /* emitted in order, and answered in the same order */
        CHECK_STR(json_string_value(json_object_get(ev, "id")), id ? id : "?");
        if (i % 5 == 0) {
            char own[32];
            snprintf(own, sizeof(own), "own-%d", i);
            CHECK_STR(id, own);
        } else if (id) {
            CHECK(strlen(id) == 26);
            CHECK(strcmp(id, last_assigned) > 0); /* time-ordered, distinct */
            snprintf(last_assigned, sizeof(last_assigned), "%s", id);
        }
        json_decref(r);
    }
    CHECK(harness_emitted(h) == N);
    CHECK(harness_counter(h, "replies_ok") == N);
    CHECK(harness_counter(h, "replies_error") == 0);
    CHECK(harness_counter(h, "replies_dropped") == 0);
    CHECK(harness_gauge(h, "awaiting_reply") == 0);
    CHECK(harness_acks_pending(h) == 0);

    /* A REQ client, in lock step: the ROUTER echoes its empty delimiter. */
    void *req = peer(ZMQ_REQ, url);
    for (int i = 0; i < 3; i++) {
        send_event_id(req, N + i, i == 1 ? "req-1" : NULL);
        json_t *r = next_reply(h, req);
        CHECK(reply_ok(r) && (i != 1 || strcmp(reply_id(r), "req-1") == 0));
        json_decref(r);
    }
    send_frames(req, 2, "{\"type\":\"x.y\",\"kye\":\"A\"}", "{}");
    json_t *r = next_reply(h, req);
    CHECK(reply_error(r, false, "unknown envelope member \"kye\""));
    json_decref(r);
    CHECK(harness_emitted(h) == N + 3);
    zmq_close(req);
    zmq_close(dealer);
    harness_destroy(&h);
    free(url);
}

/* Invalid messages are answered retry:false with the reason, in their place among the others,
 * naming the sender's id when the envelope had one. */
static void test_ack_invalid(const char *tmp)
{
    char *url = harness_path("ipc://%s/inv.sock", tmp);
    struct harness *h = started_ack(url, "max-message", "1k");
    void *dealer = peer(ZMQ_DEALER, url);
    static const struct {
        int n;
        const char *f1, *f2, *f3, *reason; /* reason NULL: valid */
    } msgs[] = {
        { 2, "{\"type\":\"a.b\",\"id\":\"v-0\"}", "{\"seq\":0}", NULL, NULL },
        { 1, "{\"type\":\"x.y\"}", NULL, NULL, "expected 2 frames (envelope, body), got 1" },
        { 3, "{\"type\":\"x.y\"}", "{}", "{}", "expected 2 frames (envelope, body), got 3" },
        { 2, "{\"type\":", "{}", NULL, "the envelope frame is not JSON: " },
        { 2, "{\"type\":\"a.b\",\"id\":\"v-1\"}", "{\"seq\":1}", NULL, NULL },
        { 2, "{\"type\":\"x.y\",\"id\":\"bad-1\",\"kye\":\"A\"}", "{}", NULL,
          "unknown envelope member \"kye\"" },
        { 2, "{\"type\":\"x.y\"}", "not json", NULL, "the body frame is not JSON: " },
        { 2, "{\"type\":\"x.y\"}", "{\"a\":}", NULL, "the body frame is not JSON: " },
        { 2, "{\"type\":\"x.y\"}", "[1,2]", NULL, "body frame must be a JSON object, not an" },
        { 2, "{\"type\":\"x.y\"}", "", NULL, "the body frame is empty" },
        { 2, "{\"type\":\"Not A Type\",\"id\":\"bad-2\"}", "{}", NULL,
          "\"type\" must be lowercase words" }, /* refused by emit */
        { 2, "{\"type\":\"a.b\"}", "{\"big\":123456789012345678901234567890}", NULL, NULL },
        { 2, "{\"type\":\"a.b\",\"id\":\"v-3\"}", "{\"seq\":3}", NULL, NULL },
    };
    size_t n = sizeof(msgs) / sizeof(msgs[0]);
    size_t invalid = 0;
    for (size_t i = 0; i < n; i++) {
        send_frames(dealer, msgs[i].n, msgs[i].f1, msgs[i].f2, msgs[i].f3); /* n of them */
        invalid += msgs[i].reason != NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = next_reply(h, dealer);
        if (!msgs[i].reason) {
            CHECK(reply_ok(r));
        } else {
            CHECK(reply_error(r, false, msgs[i].reason));
        }
        json_t *own = json_loads(msgs[i].f1, 0, NULL);
        const char *own_id = json_string_value(json_object_get(own, "id"));
        if (own_id) {
            CHECK_STR(reply_id(r), own_id); /* ok or not, the sender's id is named */
        } else if (msgs[i].reason) {
            CHECK(json_object_get(r, "id") == NULL);
        }
        json_decref(own);
        json_decref(r);
    }
    CHECK(harness_emitted(h) == n - invalid);
    CHECK(harness_counter(h, "invalid") == invalid);
    CHECK(harness_counter(h, "replies_error") == invalid);
    CHECK(harness_counter(h, "replies_ok") == n - invalid);
    /* An integer beyond 64 bits passes the check and its bytes go on untouched (the harness,
     * which cannot parse it, keeps the body as text). */
    json_t *big = json_object_get(json_array_get(harness_events(h), 2), "body");
    CHECK(json_is_string(big) && strstr(json_string_value(big), ":12345678901234567890123456789"));
    /* Invalid input is still logged, rate-limited. */
    CHECK(harness_log_count(h, OMB_LOG_WARN, "invalid message dropped:") == 1);
    zmq_close(dealer);
    harness_destroy(&h);
    free(url);
}

/* Backpressure and stopping are answered at once, retry:true; a commit that fails is answered
 * retry:true when its ack says so. Nothing is held back, and the order stays. */
static void test_ack_refusals(const char *tmp)
{
    char *url = harness_path("ipc://%s/bp-ack.sock", tmp);
    struct harness *h = started_ack(url, NULL, NULL);
    void *dealer = peer(ZMQ_DEALER, url);
    harness_emit_fail(h, 2, 3, OMB_EAGAIN); /* 0, 1 taken; 2, 3, 4 pushed back; then taken */
    char own[8][16];
    for (int i = 0; i < 8; i++) {
        snprintf(own[i], sizeof(own[i]), "bp-%d", i);
        send_event_id(dealer, i, own[i]);
    }
    for (int i = 0; i < 8; i++) {
        json_t *r = next_reply(h, dealer);
        CHECK_STR(reply_id(r), own[i]);
        if (i >= 2 && i <= 4) {
            CHECK(reply_error(r, true, "busy (backpressure)"));
        } else {
            CHECK(reply_ok(r));
        }
        json_decref(r);
    }
    CHECK(harness_emitted(h) == 5);
    CHECK(harness_emit_calls(h) == 8); /* answered, not retried by the connector */

    harness_emit_fail(h, 0, 1, OMB_ESTOPPED);
    send_event_id(dealer, 8, NULL);
    json_t *r = next_reply(h, dealer);
    CHECK(reply_error(r, true, "stopping"));
    CHECK(json_object_get(r, "id") == NULL); /* the sender set none: nothing to name */
    json_decref(r);

    harness_commit_fail(h, 1, 2); /* of the next three commits, the 2nd and 3rd fail */
    for (int i = 9; i < 13; i++) {
        send_event_id(dealer, i, NULL);
    }
    for (int i = 9; i < 13; i++) {
        r = next_reply(h, dealer);
        if (i == 10 || i == 11) {
            CHECK(reply_error(r, true, "not stored"));
            CHECK(reply_id(r) && strlen(reply_id(r)) == 26); /* the id it would have had */
        } else {
            CHECK(reply_ok(r));
        }
        json_decref(r);
    }
    CHECK(harness_counter(h, "replies_ok") == 7);
    CHECK(harness_counter(h, "replies_error") == 6);
    CHECK(harness_counter(h, "invalid") == 0);
    zmq_close(dealer);
    harness_destroy(&h);
    free(url);
}

/* The sender goes away before its acks: the answers are dropped and counted, nothing breaks.
 * Acks that never come (an abnormal end) leave nothing behind at destroy. */
static void test_ack_peer_gone(const char *tmp)
{
    char *url = harness_path("ipc://%s/gone.sock", tmp);
    struct harness *h = started_ack(url, NULL, NULL);
    harness_hold_acks(h, true);
    void *dealer = peer(ZMQ_DEALER, url);
    for (int i = 0; i < 5; i++) {
        send_event_id(dealer, i, NULL);
    }
    CHECK(wait_until(h, have_events, 5));
    zmq_close(dealer);
    for (int i = 0; i < 10; i++) { /* the ROUTER learns of the disconnect as it works */
        sleep_ms(10);
        harness_fire_timers(h);
    }
    CHECK(harness_acks_pending(h) == 5 && harness_run_acks(h) == 5);
    CHECK(harness_counter(h, "replies_dropped") == 5 && harness_counter(h, "replies_ok") == 0);
    CHECK(harness_gauge(h, "awaiting_reply") == 0);

    /* A new sender still gets its answers. */
    dealer = peer(ZMQ_DEALER, url);
    send_event_id(dealer, 5, "after");
    CHECK(wait_until(h, have_events, 6));
    CHECK(harness_run_acks(h) == 1);
    json_t *r = next_reply(h, dealer);
    CHECK(reply_ok(r) && reply_id(r) && strcmp(reply_id(r), "after") == 0);
    json_decref(r);

    /* Emitted, acks held, destroy: no answer, no leak (valgrind), a warning. */
    for (int i = 6; i < 9; i++) {
        send_event_id(dealer, i, NULL);
    }
    CHECK(wait_until(h, have_events, 9) && harness_acks_pending(h) == 3);
    zmq_close(dealer);
    harness_destroy(&h);
    free(url);
}

/* At most hwm messages await their answer: reading pauses there. stop emits nothing more and
 * answers what is still queued "retry"; the socket stays open for the acks still to come. */
static void test_ack_window_and_stop(const char *tmp)
{
    char *url = harness_path("ipc://%s/win.sock", tmp);
    struct harness *h = started_ack(url, "hwm", "3");
    harness_hold_acks(h, true);
    void *dealer = peer(ZMQ_DEALER, url);
    for (int i = 0; i < 5; i++) {
        send_event_id(dealer, i, NULL);
    }
    CHECK(wait_until(h, have_events, 3));
    for (int i = 0; i < 20; i++) {
        harness_fire_timers(h);
        sleep_ms(2);
    }
    /* The window is full: the 4th is not read. */
    CHECK(harness_emitted(h) == 3 && harness_counter(h, "received") == 3);
    CHECK(harness_gauge(h, "awaiting_reply") == 3);
    CHECK(harness_run_acks(h) == 3); /* three answers leave: reading resumes */
    CHECK(wait_until(h, have_events, 5) && harness_run_acks(h) == 2);
    for (int i = 0; i < 5; i++) {
        json_t *r = next_reply(h, dealer);
        CHECK(reply_ok(r));
        json_decref(r);
    }

    /* Fill the window again, queue two more, stop. */
    for (int i = 5; i < 10; i++) {
        send_event_id(dealer, i, NULL);
    }
    CHECK(wait_until(h, have_events, 8));
    sleep_ms(50); /* the other two are in the socket's queue */
    CHECK(harness_stop(h) == 0);
    CHECK(harness_emitted(h) == 8 && harness_counter(h, "received") == 10);
    CHECK(harness_log_count(h, OMB_LOG_INFO, "2 message(s) queued at stop answered") == 1);
    CHECK(harness_run_acks(h) == 3); /* the host acks after stop, before destroy */
    for (int i = 5; i < 10; i++) {
        json_t *r = next_reply(h, dealer);
        CHECK(i < 8 ? reply_ok(r) : reply_error(r, true, "stopping"));
        json_decref(r);
    }
    CHECK(harness_stop(h) == 0);
    zmq_close(dealer);
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
    test_ack_dealer(tmp);
    test_ack_invalid(tmp);
    test_ack_refusals(tmp);
    test_ack_peer_gone(tmp);
    test_ack_window_and_stop(tmp);
    free(tmp);
    zmq_ctx_term(zctx);
    return test_result();
}
