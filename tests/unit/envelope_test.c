/* Unit test: core/src/envelope.c */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/err.h>
#include "envelope.h"
#include "testlib.h"

#define IDS_PER_THREAD 20000

static void *make_ids(void *arg)
{
    char(*ids)[OMB_EVENT_ID_LEN + 1] = arg;
    for (int i = 0; i < IDS_PER_THREAD; i++) {
        omb_id_new(ids[i]);
    }
    return NULL;
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_ids(void)
{
    char prev[OMB_EVENT_ID_LEN + 1] = "";
    for (int i = 0; i < 10000; i++) {
        char id[OMB_EVENT_ID_LEN + 1];
        omb_id_new(id);
        CHECK(strlen(id) == OMB_EVENT_ID_LEN);
        if (strcmp(prev, id) >= 0) {
            CHECK(!"ids are strictly increasing");
            break;
        }
        memcpy(prev, id, sizeof(id));
    }
    /* Two threads at once: all ids unique. */
    char(*all)[OMB_EVENT_ID_LEN + 1] = calloc(2 * IDS_PER_THREAD, OMB_EVENT_ID_LEN + 1);
    pthread_t a, b;
    pthread_create(&a, NULL, make_ids, all);
    pthread_create(&b, NULL, make_ids, all + IDS_PER_THREAD);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    qsort(all, 2 * IDS_PER_THREAD, OMB_EVENT_ID_LEN + 1, cmp_ids);
    int dups = 0;
    for (int i = 1; i < 2 * IDS_PER_THREAD; i++) {
        dups += strcmp(all[i - 1], all[i]) == 0;
    }
    CHECK(dups == 0);
    free(all);
    /* The time prefix orders ids across milliseconds: 10 chars of 48-bit ms. */
    char id[OMB_EVENT_ID_LEN + 1];
    omb_id_new(id);
    CHECK(strchr("01234567", id[0]) != NULL);
}

static void test_time(void)
{
    char t[OMB_TIME_LEN + 1];
    omb_time_format(0, t);
    CHECK_STR(t, "1970-01-01T00:00:00.000Z");
    omb_time_format(1795568523456LL, t);
    CHECK_STR(t, "2026-11-25T01:02:03.456Z");
    char tu[OMB_TIME_US_LEN + 1];
    omb_time_format_us(1795568523456789LL, tu);
    CHECK_STR(tu, "2026-11-25T01:02:03.456789Z");
    int64_t us = 0;
    CHECK(omb_time_parse_us(tu, &us) == 0 && us == 1795568523456789LL);
    CHECK(omb_time_parse_us("2026-11-25T01:02:03Z", &us) == 0 && us == 1795568523000000LL);
    CHECK(omb_time_parse_us("2026-11-25T01:02:03.4Z", &us) == 0 && us == 1795568523400000LL);
    CHECK(omb_time_parse_us("1970-01-01T00:00:00.000Z", &us) == 0 && us == 0);
    CHECK(omb_time_parse_us("2000-02-29T12:00:00Z", &us) == 0 && us == 951825600000000LL);
    CHECK(omb_time_parse_us("2026-11-25 01:02:03Z", &us) == OMB_EINVAL);
    CHECK(omb_time_parse_us("2026-11-25T01:02:03+01:00", &us) == OMB_EINVAL);
    CHECK(omb_time_parse_us("2026-13-25T01:02:03Z", &us) == OMB_EINVAL);
    CHECK(omb_time_parse_us("2026-11-25T01:02:03.Z", &us) == OMB_EINVAL);
    CHECK(omb_time_parse_us("", &us) == OMB_EINVAL);
    /* The envelope's received round-trips through both. */
    int64_t now = omb_now_us();
    omb_time_format_us(now, tu);
    CHECK(omb_time_parse_us(tu, &us) == 0 && us == now);
}

static void test_types(void)
{
    CHECK(omb_type_valid("stock.level"));
    CHECK(omb_type_valid("price.set"));
    CHECK(omb_type_valid("x"));
    CHECK(!omb_type_valid(""));
    CHECK(!omb_type_valid("Stock.level"));
    CHECK(!omb_type_valid("stock..level"));
    CHECK(!omb_type_valid(".stock"));
    CHECK(!omb_type_valid("stock."));
    CHECK(!omb_type_valid("stock.1level"));
    CHECK(!omb_type_valid("stock level"));
    CHECK(omb_type_pattern_valid("*"));
    CHECK(omb_type_pattern_valid("stock.*"));
    CHECK(omb_type_pattern_valid("stock.level"));
    CHECK(!omb_type_pattern_valid("stock*"));
    CHECK(!omb_type_pattern_valid("*.level"));
    CHECK(!omb_type_pattern_valid(".*"));
    CHECK(omb_type_match("*", "price.set"));
    CHECK(omb_type_match("stock.*", "stock.level"));
    CHECK(omb_type_match("stock.*", "stock.delta.x"));
    CHECK(!omb_type_match("stock.*", "stock"));
    CHECK(!omb_type_match("stock.*", "stocks.level"));
    CHECK(omb_type_match("price.set", "price.set"));
    CHECK(!omb_type_match("price.set", "price.setx"));
}

static void expect_bad(const char *text, const char *reason)
{
    char err[256] = "";
    json_t *ev = json_loads(text, JSON_DECODE_ANY, NULL);
    CHECK(ev != NULL);
    CHECK(omb_event_check(ev, err, sizeof(err)) == OMB_EINVAL);
    CHECK_STR(err, reason);
    json_decref(ev);
}

static void test_check(void)
{
    expect_bad("[1]", "an event must be a JSON object");
    expect_bad("{\"body\":{}}", "event has no \"type\"");
    expect_bad("{\"type\":\"Price\",\"body\":{}}",
               "\"type\" must be lowercase words joined by dots, like \"stock.level\"");
    expect_bad("{\"type\":\"price.set\"}", "event has no \"body\"");
    expect_bad("{\"type\":\"price.set\",\"body\":[]}", "\"body\" must be a JSON object");
    expect_bad("{\"type\":\"price.set\",\"body\":{},\"key\":5}", "\"key\" must be a string");
    expect_bad("{\"type\":\"price.set\",\"body\":{},\"headers\":{\"a\":1}}",
               "header \"a\" must be a string");
    char err[256];
    json_t *ok = json_loads("{\"type\":\"price.set\",\"key\":\"A\",\"body\":{}}", 0, NULL);
    CHECK(omb_event_check(ok, err, sizeof(err)) == 0);
    json_decref(ok);
}

/* The envelope is written directly, not by jansson: every string must survive the trip. */
static void test_seal_escapes(void)
{
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:{}}", "type", "x.y", "key",
                           "a\"b\\c\n\t\r\x01/\xc5\xbc", "time", "2026-11-20T10:00:00Z",
                           "trace", "t\"1", "headers", "x-h", "v\"\\", "body");
    char *env = NULL, *body = NULL, err[256];
    size_t env_len, body_len;
    const char *key = NULL;
    CHECK(omb_event_seal(ev, "src", &env, &env_len, &body, &body_len, &key, err,
                         sizeof(err)) == 0);
    json_t *e = json_loads(env, 0, NULL);
    CHECK(e != NULL);
    CHECK_STR(json_string_value(json_object_get(e, "key")), "a\"b\\c\n\t\r\x01/\xc5\xbc");
    CHECK_STR(json_string_value(json_object_get(e, "trace")), "t\"1");
    CHECK_STR(json_string_value(json_object_get(json_object_get(e, "headers"), "x-h")), "v\"\\");
    CHECK(strncmp(env, "{\"id\":\"", 7) == 0 && strstr(env, "\",\"type\":\"x.y\",\"source\":\"src\""));
    json_decref(e);
    json_decref(ev);
    free(env);
    free(body);
}

/* emit_raw's envelope: checked like an event's, without a body of its own. */
static void test_envelope_seal(void)
{
    char *env = NULL, err[256];
    size_t len = 0;
    const char *key = NULL;
    json_t *bad = json_loads("{\"type\":\"x.y\",\"body\":{}}", 0, NULL);
    CHECK(omb_envelope_seal(bad, "z", &env, &len, &key, err, sizeof(err)) == OMB_EINVAL);
    CHECK_STR(err, "the envelope of a raw event must not hold a \"body\"");
    json_decref(bad);
    bad = json_loads("{\"type\":\"X\"}", 0, NULL);
    CHECK(omb_envelope_seal(bad, "z", &env, &len, &key, err, sizeof(err)) == OMB_EINVAL);
    CHECK(strstr(err, "lowercase words") != NULL && env == NULL);
    json_decref(bad);
    bad = json_loads("{\"key\":\"k\"}", 0, NULL);
    CHECK(omb_envelope_seal(bad, "z", &env, &len, &key, err, sizeof(err)) == OMB_EINVAL);
    CHECK_STR(err, "event has no \"type\"");
    json_decref(bad);
    json_t *good = json_loads("{\"type\":\"x.y\",\"key\":\"k1\"}", 0, NULL);
    CHECK(omb_envelope_seal(good, "z", &env, &len, &key, err, sizeof(err)) == 0);
    CHECK_STR(key, "k1");
    CHECK(env && strlen(env) == len && strstr(env, "\"source\":\"z\"") != NULL);
    free(env);
    json_decref(good);
}

static void test_seal_roundtrip(void)
{
    /* A 64-bit id and money must come out byte for byte. */
    const char *text = "{\"type\":\"order.created\",\"key\":\"o-1\",\"time\":\"2026-11-20T10:00:00Z\","
                       "\"headers\":{\"x-shop\":\"eu\"},"
                       "\"body\":{\"order_id\":\"9007199254740993123\",\"n\":9007199254740993,"
                       "\"total\":{\"amount\":12999,\"currency\":\"PLN\"}}}";
    json_t *ev = json_loads(text, 0, NULL);
    char *env = NULL, *body = NULL, err[256];
    size_t env_len, body_len;
    const char *key = NULL;
    CHECK(omb_event_seal(ev, "shop", &env, &env_len, &body, &body_len, &key, err,
                         sizeof(err)) == 0);
    CHECK_STR(key, "o-1");
    CHECK_STR(body, "{\"order_id\":\"9007199254740993123\",\"n\":9007199254740993,"
                    "\"total\":{\"amount\":12999,\"currency\":\"PLN\"}}");
    json_t *e = json_loads(env, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(e, "source")), "shop");
    CHECK_STR(json_string_value(json_object_get(e, "type")), "order.created");
    CHECK_STR(json_string_value(json_object_get(e, "time")), "2026-11-20T10:00:00Z");
    CHECK(strlen(json_string_value(json_object_get(e, "id"))) == OMB_EVENT_ID_LEN);
    CHECK_STR(json_string_value(json_object_get(e, "trace")),
              json_string_value(json_object_get(e, "id")));
    CHECK_STR(json_string_value(json_object_get(json_object_get(e, "headers"), "x-shop")), "eu");
    CHECK(json_object_get(e, "body") == NULL);

    json_t *back = omb_event_from_frames("r1", env, env_len, body, body_len, err, sizeof(err));
    CHECK(back != NULL);
    CHECK_STR(json_string_value(json_object_get(back, "route")), "r1");
    CHECK(json_integer_value(json_object_get(json_object_get(back, "body"), "n")) ==
          9007199254740993LL);
    json_decref(back);
    CHECK(omb_event_from_frames("r1", "nope", 4, body, body_len, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "bad envelope frame") == err);
    json_decref(e);
    json_decref(ev);
    free(env);
    free(body);

    /* An event that brings its own id and trace keeps them. */
    ev = json_loads("{\"type\":\"price.set\",\"id\":\"01ABC\",\"trace\":\"t-9\",\"body\":{}}", 0,
                    NULL);
    CHECK(omb_event_seal(ev, "x", &env, &env_len, &body, &body_len, &key, err, sizeof(err)) == 0);
    e = json_loads(env, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(e, "id")), "01ABC");
    CHECK_STR(json_string_value(json_object_get(e, "trace")), "t-9");
    CHECK_STR(json_string_value(json_object_get(e, "key")), "");
    json_decref(e);
    json_decref(ev);
    free(env);
    free(body);
}

int main(void)
{
    test_ids();
    test_time();
    test_types();
    test_check();
    test_seal_roundtrip();
    test_seal_escapes();
    test_envelope_seal();
    CHECK(omb_key_hash("a", 1) != omb_key_hash("b", 1));
    return test_result();
}
