/* Plugin test: connectors/example (example.so in the harness host), and a test of the harness
 * itself, since the example is what SDK users copy. */
#include <stdlib.h>

#include "plugins/harness.h"
#include "testlib.h"

static void test_source(void)
{
    char err[256];
    struct harness *h = harness_new("example");
    CHECK(h != NULL);
    if (!h) {
        exit(1);
    }
    CHECK(harness_set_option(h, "interval", "1s") == 0);
    CHECK(harness_set_option(h, "text", "ping") == 0);
    CHECK(harness_create(h) == 0);
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    CHECK(harness_start(h) == 0);
    CHECK(harness_timers(h) == 1);

    harness_fire_timers(h);
    harness_fire_timers(h);
    json_t *evs = harness_events(h);
    CHECK(json_array_size(evs) == 2);
    json_t *ev = json_array_get(evs, 1);
    CHECK_STR(json_string_value(json_object_get(ev, "type")), "message.out");
    CHECK_STR(json_string_value(json_object_get(ev, "key")), "example");
    json_t *body = json_object_get(ev, "body");
    CHECK_STR(json_string_value(json_object_get(body, "text")), "ping");
    CHECK(json_integer_value(json_object_get(body, "seq")) == 2);
    CHECK(harness_counter(h, "heartbeats") == 2);

    /* Backpressure: the same heartbeat is sent again, not a new one. */
    harness_emit_fail(h, 0, 2, OMB_EAGAIN);
    harness_fire_timers(h);
    harness_fire_timers(h);
    CHECK(json_array_size(evs) == 2);
    harness_fire_timers(h);
    CHECK(json_array_size(evs) == 3);
    CHECK(json_integer_value(json_object_get(json_object_get(json_array_get(evs, 2), "body"),
                                             "seq")) == 3);

    /* Stopping: nothing new. stop() disarms the timer. */
    harness_set_stopping(h, true);
    harness_fire_timers(h);
    CHECK(json_array_size(evs) == 3);
    CHECK(harness_stop(h) == 0);
    CHECK(harness_timers(h) == 0);
    CHECK(harness_stop(h) == 0);

    /* A heartbeat still pending at destroy is freed (valgrind checks). */
    harness_destroy(&h);
    h = harness_new("example");
    CHECK(harness_create(h) == 0);
    CHECK(harness_start(h) == 0);
    harness_emit_fail(h, 0, 1, OMB_ESTOPPED);
    harness_fire_timers(h);
    CHECK(json_array_size(harness_events(h)) == 0);
    harness_destroy(&h);
}

static void test_sink(void)
{
    struct omb_deliver_result res;
    struct harness *h = harness_new("example");
    CHECK(harness_set_option(h, "interval", "0") == 0);
    CHECK(harness_set_option(h, "max-per-second", "2") == 0);
    CHECK(harness_create(h) == 0);
    CHECK(harness_start(h) == 0);
    CHECK(harness_timers(h) == 0);

    json_t *good = json_pack("{s:s, s:s, s:{s:s}}", "type", "message.out", "key", "c1", "body",
                             "text", "hi");
    json_t *bad = json_pack("{s:s, s:{s:s}}", "type", "message.out", "body", "txt", "hi");

    harness_clock_set(5000);
    CHECK(harness_deliver(h, bad, &res) == OMB_EREJECT);
    CHECK_STR(res.reason, "message.out event has no body field \"text\"");
    CHECK(harness_deliver(h, good, &res) == OMB_OK);
    CHECK(harness_log_count(h, OMB_LOG_INFO, "received message.out key=c1 text=hi") == 1);
    harness_clock_advance(200);
    CHECK(harness_deliver(h, good, &res) == OMB_OK);
    harness_clock_advance(100);
    CHECK(harness_deliver(h, good, &res) == OMB_ERETRY);
    CHECK(res.retry_after_ms == 700);
    CHECK_STR(res.reason, "more than 2 events a second");
    harness_clock_advance(700);
    CHECK(harness_deliver(h, good, &res) == OMB_OK);
    CHECK(harness_counter(h, "events_received") == 3);
    harness_destroy(&h);
    json_decref(good);
    json_decref(bad);
}

static void test_validate(void)
{
    char err[256];
    struct harness *h = harness_new("example");
    CHECK(harness_set_option(h, "interval", "50ms") == 0);
    CHECK(harness_create(h) == 0);
    CHECK(harness_validate(h, err, sizeof(err)) == OMB_EINVAL);
    CHECK_STR(err, "interval must be 0 (off) or at least 100ms, not 50ms");
    harness_destroy(&h);
    h = harness_new("example");
    CHECK(harness_set_option(h, "require-field", "") == 0);
    CHECK(harness_create(h) == 0);
    CHECK(harness_validate(h, err, sizeof(err)) == OMB_EINVAL);
    harness_destroy(&h);
}

/* The harness's own event check, which stands in for the core's. */
static void test_event_check(void)
{
    static const char *const good[] = {
        "{\"type\":\"stock.level\",\"body\":{}}",
        "{\"type\":\"a\",\"key\":\"k\",\"time\":\"t\",\"headers\":{\"h\":\"v\"},\"body\":{}}",
        "{\"type\":\"loyalty.earn_v2\",\"body\":{\"x\":1}}",
    };
    static const char *const bad[] = {
        "[]",
        "{\"body\":{}}",
        "{\"type\":\"\",\"body\":{}}",
        "{\"type\":\"Stock.level\",\"body\":{}}",
        "{\"type\":\"stock..level\",\"body\":{}}",
        "{\"type\":\"stock.\",\"body\":{}}",
        "{\"type\":\"stock.level\"}",
        "{\"type\":\"stock.level\",\"body\":[]}",
        "{\"type\":\"stock.level\",\"key\":1,\"body\":{}}",
        "{\"type\":\"stock.level\",\"time\":1,\"body\":{}}",
        "{\"type\":\"stock.level\",\"headers\":{\"h\":1},\"body\":{}}",
    };
    char err[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *ev = json_loads(good[i], 0, NULL);
        CHECK(harness_event_check(ev, err, sizeof(err)) == 0);
        json_decref(ev);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *ev = json_loads(bad[i], 0, NULL);
        CHECK(harness_event_check(ev, err, sizeof(err)) == OMB_EINVAL);
        json_decref(ev);
    }
}

int main(void)
{
    test_source();
    test_sink();
    test_validate();
    test_event_check();
    return test_result();
}
