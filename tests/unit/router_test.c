/* Unit test: core/src/router.c (route tables, workers, swap), with instance.c and host.c carrying
 * the events; in-process plugins from runtime_fixture.c, no .so. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omnibus/err.h>
#include "envelope.h"
#include "runtime_fixture.h"
#include "testlib.h"

#define SRC(name, slot) \
    "<connector name=\"" name "\" plugin=\"fx_source\"><option name=\"slot\">" #slot \
    "</option></connector>\n"
#define SINK(name, slot) \
    "<connector name=\"" name "\" plugin=\"fx_sink\"><option name=\"slot\">" #slot \
    "</option></connector>\n"

static const int SRC0[] = { 0, -1 };
static const int SRC01[] = { 0, 1, -1 };

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What a sink got, as sorted "source:type" items joined by commas (malloc'd). */
static char *got_types(int slot)
{
    size_t n;
    struct fx_call *calls = fx_calls_copy(slot, &n);
    char **items = calloc(n ? n : 1, sizeof(char *));
    size_t len = 1;
    for (size_t i = 0; i < n; i++) {
        if (asprintf(&items[i], "%s:%s", fx_str(calls[i].event, "source"),
                     fx_str(calls[i].event, "type")) < 0) {
            abort();
        }
        len += strlen(items[i]) + 1;
    }
    qsort(items, n, sizeof(char *), cmp_str);
    char *out = calloc(1, len);
    for (size_t i = 0; i < n; i++) {
        if (i) {
            strncat(out, ",", len - strlen(out) - 1);
        }
        strncat(out, items[i], len - strlen(out) - 1);
        free(items[i]);
    }
    free(items);
    free(calls);
    return out;
}

static void check_types(int slot, const char *expected)
{
    char *got = got_types(slot);
    CHECK_STR(got, expected);
    free(got);
}

/* The calls of sink `slot` are n deliveries, all OK, of seq 0..n-1 each exactly once, and
 * per key ("k<i>") in increasing seq order. Prints what differs. */
static bool check_once_in_order(int slot, size_t n, const char *what)
{
    size_t n_calls;
    struct fx_call *calls = fx_calls_copy(slot, &n_calls);
    unsigned char *seen = calloc(n, 1);
    json_int_t last[1024];
    bool ok = n_calls == n;
    for (size_t k = 0; k < 1024; k++) {
        last[k] = -1;
    }
    for (size_t i = 0; i < n_calls; i++) {
        json_int_t seq = fx_seq(calls[i].event);
        const char *key = fx_str(calls[i].event, "key");
        size_t k = key[0] == 'k' ? strtoul(key + 1, NULL, 10) % 1024 : 0;
        if (seq < 0 || (size_t)seq >= n || seen[seq] || calls[i].rc != OMB_OK) {
            ok = false;
            break;
        }
        seen[seq] = 1;
        if (seq <= last[k]) {
            fprintf(stderr, "%s: key %s: seq %lld after %lld\n", what, key, (long long)seq,
                    (long long)last[k]);
            ok = false;
            break;
        }
        last[k] = seq;
    }
    if (!ok) {
        fprintf(stderr, "%s: %zu call(s), expected %zu in order\n", what, n_calls, n);
    }
    free(seen);
    free(calls);
    return ok;
}

static void check_route(struct fx_world *w, const char *name, uint64_t in, uint64_t passed,
                        uint64_t filtered, uint64_t transformed, uint64_t errors, uint64_t queued)
{
    struct omb_route_rt *r = fx_route(w, name);
    CHECK(r != NULL);
    if (!r) {
        return;
    }
    uint64_t got[6] = { atomic_load(&r->in), atomic_load(&r->passed), atomic_load(&r->filtered),
                        atomic_load(&r->transformed), atomic_load(&r->errors),
                        atomic_load(&r->queued) };
    uint64_t want[6] = { in, passed, filtered, transformed, errors, queued };
    test_checks++;
    if (memcmp(got, want, sizeof(got)) != 0) {
        test_failures++;
        fprintf(stderr,
                "route '%s': in/passed/filtered/transformed/errors/queued = "
                "%llu/%llu/%llu/%llu/%llu/%llu, expected %llu/%llu/%llu/%llu/%llu/%llu\n",
                name, (unsigned long long)got[0], (unsigned long long)got[1],
                (unsigned long long)got[2], (unsigned long long)got[3],
                (unsigned long long)got[4], (unsigned long long)got[5],
                (unsigned long long)want[0], (unsigned long long)want[1],
                (unsigned long long)want[2], (unsigned long long)want[3],
                (unsigned long long)want[4], (unsigned long long)want[5]);
    }
}

static void push_type(int slot, const char *type, int seq)
{
    fx_push(slot, json_pack("{s:s, s:s, s:{s:i}}", "type", type, "key", "a", "body", "seq", seq));
}

/* Routing by connector and type pattern ("*", "stock.*", exact, several <from>); what the sink
 * sees of an event that no transform touched. */
static void test_patterns(void)
{
    fx_reset();
    struct fx_world *w = fx_start(
        SRC("src", 0) SRC("src2", 1) SINK("all", 0) SINK("stock", 1) SINK("exact", 2)
        SINK("multi", 3)
        "<route name=\"r-all\"><from connector=\"src\"/><to connector=\"all\"/></route>"
        "<route name=\"r-stock\"><from connector=\"src\" type=\"stock.*\"/>"
        "  <to connector=\"stock\"/></route>"
        "<route name=\"r-exact\"><from connector=\"src2\" type=\"price.set\"/>"
        "  <to connector=\"exact\"/></route>"
        "<route name=\"r-multi\"><from connector=\"src\" type=\"price.set\"/>"
        "  <from connector=\"src2\" type=\"stock.*\"/><to connector=\"multi\"/></route>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    /* The first event carries everything a sink must get back unchanged. */
    json_t *body = json_pack("{s:i, s:I, s:s, s:f, s:[i, {}]}", "seq", 0, "big",
                             (json_int_t)9007199254740993LL, "text",
                             "za\xc5\xbc\xc3\xb3\xc5\x82\xc4\x87", "real", 0.1, "list", 1);
    fx_push(0, json_pack("{s:s, s:s, s:s, s:{s:s}, s:o}", "type", "stock.level", "key", "a",
                         "time", "2026-11-20T10:00:00Z", "headers", "x-test", "yes", "body",
                         json_deep_copy(body)));
    push_type(0, "stock.delta.x", 1);
    push_type(0, "price.set", 2);
    push_type(0, "order.created", 3);
    push_type(0, "stockx.level", 4);
    push_type(0, "stock", 5);
    push_type(1, "price.set", 6);
    push_type(1, "stock.level", 7);
    push_type(1, "order.created", 8);
    CHECK(fx_wait_idle(w, SRC01, "the pattern events"));

    check_types(0, "src:order.created,src:price.set,src:stock,src:stock.delta.x,"
                   "src:stock.level,src:stockx.level");
    check_types(1, "src:stock.delta.x,src:stock.level");
    check_types(2, "src2:price.set");
    check_types(3, "src2:stock.level,src:price.set");

    size_t n;
    struct fx_call *calls = fx_calls_copy(0, &n);
    CHECK(n == 6);
    if (n == 6) {
        const json_t *ev = calls[0].event;
        CHECK_STR(fx_str(ev, "route"), "r-all");
        CHECK_STR(fx_str(ev, "source"), "src");
        CHECK_STR(fx_str(ev, "type"), "stock.level");
        CHECK_STR(fx_str(ev, "key"), "a");
        CHECK_STR(fx_str(ev, "time"), "2026-11-20T10:00:00Z");
        CHECK(strlen(fx_str(ev, "id")) == OMB_EVENT_ID_LEN);
        CHECK_STR(fx_str(ev, "trace"), fx_str(ev, "id"));
        CHECK(strlen(fx_str(ev, "received")) == OMB_TIME_US_LEN);
        CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "headers"), "x-test")),
                  "yes");
        CHECK(json_equal(json_object_get(ev, "body"), body));
        CHECK(json_integer_value(json_object_get(json_object_get(ev, "body"), "big")) ==
              9007199254740993LL);
        /* One key from one source: delivered in the order emitted, ids increasing. */
        for (size_t i = 1; i < n; i++) {
            CHECK(fx_seq(calls[i].event) == (json_int_t)i);
            CHECK(strcmp(fx_str(calls[i - 1].event, "id"), fx_str(calls[i].event, "id")) < 0);
        }
    }
    free(calls);
    json_decref(body);

    struct omb_instance_stats st;
    omb_instance_stats(fx_inst(w, "src"), &st);
    CHECK(st.emitted == 6);
    omb_instance_stats(fx_inst(w, "src2"), &st);
    CHECK(st.emitted == 3);
    omb_instance_stats(fx_inst(w, "all"), &st);
    CHECK(st.received == 6 && st.delivered == 6 && st.pending == 0 && st.rejected == 0);
    check_route(w, "r-all", 6, 6, 0, 0, 0, 6);
    check_route(w, "r-stock", 2, 2, 0, 0, 0, 2);
    check_route(w, "r-exact", 1, 1, 0, 0, 0, 1);
    check_route(w, "r-multi", 2, 2, 0, 0, 0, 2);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* One route to two sinks; a disabled route. */
static void test_fanout_disabled(void)
{
    fx_reset();
    struct fx_world *w = fx_start(
        SRC("src", 0) SINK("s1", 0) SINK("s2", 1) SINK("s3", 2)
        "<route name=\"fan\"><from connector=\"src\"/><to connector=\"s1\"/>"
        "  <to connector=\"s2\"/></route>"
        "<route name=\"off\" enabled=\"false\"><from connector=\"src\"/>"
        "  <to connector=\"s3\"/></route>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    fx_push_seq(0, "x.y", 0, 50, 1);
    CHECK(fx_wait_idle(w, SRC0, "the fan-out events"));
    CHECK(check_once_in_order(0, 50, "s1"));
    CHECK(check_once_in_order(1, 50, "s2"));
    CHECK(fx_calls(2) == 0);
    size_t n1, n2;
    struct fx_call *c1 = fx_calls_copy(0, &n1), *c2 = fx_calls_copy(1, &n2);
    int same = 0;
    for (size_t i = 0; i < n1 && i < n2; i++) {
        same += strcmp(fx_str(c1[i].event, "id"), fx_str(c2[i].event, "id")) == 0;
    }
    CHECK(same == 50);
    free(c1);
    free(c2);
    check_route(w, "fan", 50, 50, 0, 0, 0, 100);
    check_route(w, "off", 0, 0, 0, 0, 0, 0);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* Filter, transform, split (ids <id>.<n>, trace kept) and <transform type>. */
static void test_transforms(void)
{
    fx_reset();
    struct fx_world *w = fx_start(
        SRC("src", 0) SINK("filt", 0) SINK("tr", 1) SINK("split", 2) SINK("typed", 3)
        "<route name=\"r-filter\"><from connector=\"src\"/><filter>.keep</filter>"
        "  <to connector=\"filt\"/></route>"
        "<route name=\"r-tr\"><from connector=\"src\" type=\"order.created\"/>"
        "  <transform>{seq: .seq, total: (.qty * .price)}</transform>"
        "  <to connector=\"tr\"/></route>"
        "<route name=\"r-split\"><from connector=\"src\" type=\"order.created\"/>"
        "  <transform type=\"order.line\">.seq as $s | .items[] | {seq: $s, sku: .}</transform>"
        "  <to connector=\"split\"/></route>"
        "<route name=\"r-typed\"><from connector=\"src\" type=\"order.created\"/>"
        "  <transform type=\"order.total\">{seq: .seq}</transform>"
        "  <to connector=\"typed\"/></route>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    fx_push(0, json_pack("{s:s, s:s, s:{s:i, s:b, s:i, s:i, s:[s,s,s]}}", "type",
                         "order.created", "key", "o", "body", "seq", 0, "keep", 1, "qty", 2,
                         "price", 150, "items", "a", "b", "c"));
    fx_push(0, json_pack("{s:s, s:s, s:{s:i, s:b, s:i, s:i, s:[]}}", "type", "order.created",
                         "key", "o", "body", "seq", 1, "keep", 0, "qty", 1, "price", 5, "items"));
    fx_push(0, json_pack("{s:s, s:s, s:{s:i, s:b, s:i, s:i, s:[s]}}", "type", "order.created",
                         "key", "o", "body", "seq", 2, "keep", 1, "qty", 3, "price", 7, "items",
                         "z"));
    CHECK(fx_wait_idle(w, SRC0, "the transform events"));

    size_t n;
    struct fx_call *c = fx_calls_copy(0, &n);
    CHECK(n == 2 && fx_seq(c[0].event) == 0 && fx_seq(c[1].event) == 2);
    CHECK(n == 2 && json_is_true(json_object_get(json_object_get(c[1].event, "body"), "keep")));
    free(c);

    c = fx_calls_copy(1, &n);
    CHECK(n == 3);
    static const json_int_t totals[] = { 300, 5, 21 };
    for (size_t i = 0; i < n && i < 3; i++) {
        const json_t *b = json_object_get(c[i].event, "body");
        CHECK(json_integer_value(json_object_get(b, "total")) == totals[i]);
        CHECK(json_object_size(b) == 2);
        CHECK_STR(fx_str(c[i].event, "type"), "order.created");
        CHECK_STR(fx_str(c[i].event, "id"), fx_str(c[i].event, "trace"));
    }
    free(c);

    /* seq 0 splits in three, seq 1 yields nothing, seq 2 one part (which keeps its id). */
    c = fx_calls_copy(2, &n);
    CHECK(n == 4);
    if (n == 4) {
        const char *trace = fx_str(c[0].event, "trace");
        static const char *const skus[] = { "a", "b", "c" };
        for (size_t i = 0; i < 3; i++) {
            char want[160];
            snprintf(want, sizeof(want), "%s.%zu", trace, i + 1);
            CHECK_STR(fx_str(c[i].event, "id"), want);
            CHECK_STR(fx_str(c[i].event, "trace"), trace);
            CHECK_STR(fx_str(c[i].event, "type"), "order.line");
            CHECK_STR(fx_str(json_object_get(c[i].event, "body"), "sku"), skus[i]);
            CHECK(fx_seq(c[i].event) == 0);
        }
        CHECK(strlen(trace) == OMB_EVENT_ID_LEN);
        CHECK(fx_seq(c[3].event) == 2);
        CHECK_STR(fx_str(c[3].event, "id"), fx_str(c[3].event, "trace"));
        CHECK_STR(fx_str(c[3].event, "type"), "order.line");
        CHECK_STR(fx_str(c[3].event, "source"), "src");
    }
    free(c);

    c = fx_calls_copy(3, &n);
    CHECK(n == 3);
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(fx_str(c[i].event, "type"), "order.total");
        CHECK_STR(fx_str(c[i].event, "id"), fx_str(c[i].event, "trace"));
        CHECK(fx_seq(c[i].event) == (json_int_t)i);
    }
    free(c);
    check_route(w, "r-filter", 3, 2, 1, 0, 0, 2);
    check_route(w, "r-split", 3, 3, 0, 4, 0, 4);
    check_route(w, "r-typed", 3, 3, 0, 3, 0, 3);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* Every route counter, exactly, and omb_routes_stats. */
static void test_counters(void)
{
    fx_reset();
    struct fx_world *w = fx_start(
        SRC("src", 0) SINK("s1", 0) SINK("s2", 1)
        "<route name=\"r1\"><from connector=\"src\"/><filter>.keep</filter>"
        "  <transform>{v: (.n * 10)}</transform><to connector=\"s1\"/></route>"
        "<route name=\"r2\"><from connector=\"src\" type=\"x.*\"/><filter>.keep</filter>"
        "  <to connector=\"s1\"/><to connector=\"s2\"/></route>"
        "<route name=\"r3\"><from connector=\"src\"/><transform>.items[]</transform>"
        "  <to connector=\"s2\"/></route>"
        "<route name=\"r4\"><from connector=\"src\" type=\"no.match\"/>"
        "  <to connector=\"s1\"/></route>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    for (int i = 0; i < 10; i++) {
        fx_push(0, json_pack("{s:s, s:s, s:{s:i, s:b, s:[{s:i}, {s:i}]}}", "type", "x.y", "key",
                             "k", "body", "n", i, "keep", i % 3 != 0, "items", "a", i, "b", i));
    }
    CHECK(fx_wait_idle(w, SRC0, "the counted events"));
    check_route(w, "r1", 10, 6, 4, 6, 0, 6);
    check_route(w, "r2", 10, 6, 4, 0, 0, 12);
    check_route(w, "r3", 10, 10, 0, 20, 0, 20);
    check_route(w, "r4", 0, 0, 0, 0, 0, 0);
    struct omb_instance_stats st;
    omb_instance_stats(fx_inst(w, "s1"), &st);
    CHECK(st.received == 12 && st.delivered == 12 && st.pending == 0);
    omb_instance_stats(fx_inst(w, "s2"), &st);
    CHECK(st.received == 26 && st.delivered == 26 && st.pending == 0);

    json_t *stats = omb_routes_stats(w->routes);
    json_t *want = json_pack("{s:s, s:b, s:b, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "name", "r1",
                             "enabled", 1, "paused", 0, "in", 10, "passed", 6, "filtered", 4,
                             "transformed", 6, "errors", 0, "queued", 6, "held", 0);
    CHECK(json_array_size(stats) == 4);
    CHECK(json_equal(json_array_get(stats, 0), want));
    json_decref(want);
    json_decref(stats);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* Errors at run time are counted and the routes keep working: a transform that raises, a result
 * that is not an object, a filter that raises, and a program that does not compile in the
 * workers (swapped in behind the config check's back). */
static void test_errors(void)
{
    static const char xml[] =
        SRC("src", 0) SINK("s", 0)
        "<route name=\"r-tr\"><from connector=\"src\"/>"
        "  <transform>if .bad then error(\"boom\") elif .num then 42 else {seq: .seq} end"
        "  </transform><to connector=\"s\"/></route>"
        "<route name=\"r-filter\"><from connector=\"src\"/>"
        "  <filter>if .bad then error(\"fboom\") else false end</filter>"
        "  <to connector=\"s\"/></route>"
        "<route name=\"r-broken\"><from connector=\"src\"/><filter>true</filter>"
        "  <to connector=\"s\"/></route>";
    fx_reset();
    struct fx_world *w = fx_start(xml);
    struct omb_config *cfg = fx_config(xml);
    CHECK(w != NULL && cfg != NULL);
    if (!w || !cfg) {
        fx_stop(w, 0);
        omb_config_destroy(&cfg);
        return;
    }
    free(cfg->routes[2].filter);
    cfg->routes[2].filter = strdup("this is not jq (");
    CHECK(fx_swap(w, cfg));
    omb_config_destroy(&cfg);

    for (int i = 0; i < 6; i++) {
        fx_push(0, json_pack("{s:s, s:s, s:{s:i, s:b, s:b}}", "type", "x.y", "key", "k", "body",
                             "seq", i, "bad", i == 1 || i == 4, "num", i == 2));
    }
    CHECK(fx_wait_idle(w, SRC0, "the events with errors"));
    size_t n;
    struct fx_call *c = fx_calls_copy(0, &n);
    CHECK(n == 3);
    for (size_t i = 0; i < n && i < 3; i++) {
        static const json_int_t want[] = { 0, 3, 5 };
        CHECK(fx_seq(c[i].event) == want[i]);
        CHECK_STR(fx_str(c[i].event, "route"), "r-tr");
    }
    free(c);
    check_route(w, "r-tr", 6, 6, 0, 3, 3, 3);
    check_route(w, "r-filter", 6, 0, 4, 0, 2, 0);
    check_route(w, "r-broken", 6, 0, 0, 0, 6, 0);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* 4 workers, 20,000 events over 100 keys: each key's events arrive in the order emitted. */
static void test_order(void)
{
    fx_reset();
    fx_src[0].batch = 256; /* before the instance thread exists */
    struct fx_world *w = fx_start(
        SRC("src", 0) SINK("s", 0)
        "<route name=\"all\"><from connector=\"src\"/><to connector=\"s\"/></route>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    fx_push_seq(0, "x.y", 0, 20000, 100);
    CHECK(fx_wait_idle(w, SRC0, "20,000 events"));
    CHECK(check_once_in_order(0, 20000, "order"));
    struct omb_instance_stats st;
    omb_instance_stats(fx_inst(w, "src"), &st);
    CHECK(st.emitted == 20000);
    omb_instance_stats(fx_inst(w, "s"), &st);
    CHECK(st.received == 20000 && st.delivered == 20000 && st.pending == 0);
    check_route(w, "all", 20000, 20000, 0, 0, 0, 20000);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

static bool saw_eagain(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&fx_src[0].lock);
    bool yes = fx_src[0].eagain > 0;
    pthread_mutex_unlock(&fx_src[0].lock);
    return yes;
}

/* Backpressure: while the store is past its budget, emit() says OMB_EAGAIN; the source keeps
 * the event, and once there is room again nothing is lost or reordered. */
static void test_backpressure(void)
{
    fx_reset();
    fx_src[0].batch = 1024;
    struct fx_world *w = fx_start(
        SRC("src", 0) SINK("s", 0)
        "<route name=\"all\"><from connector=\"src\"/><to connector=\"s\"/></route>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    atomic_store(&w->rt.store_budget, 1); /* any store is past it */
    size_t total = 30000;
    fx_push_seq(0, "x.y", 0, total, 10);
    CHECK(fx_wait(saw_eagain, NULL, "emit() to say OMB_EAGAIN"));
    struct omb_instance_stats st;
    omb_instance_stats(fx_inst(w, "src"), &st);
    CHECK(st.emitted < total);
    atomic_store(&w->rt.store_budget, 0);
    CHECK(fx_wait_idle(w, SRC0, "the events held back"));
    CHECK(check_once_in_order(0, total, "backpressure"));
    omb_instance_stats(fx_inst(w, "src"), &st);
    CHECK(st.emitted == total);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

static bool a_got_some(void *arg)
{
    (void)arg;
    return fx_ok(0) > 0;
}

/* Swapping the route table under load: every event arrives exactly once, in A or in B, and
 * per key in order within each. */
static void test_swap(void)
{
    static const char conn[] = SRC("src", 0) SINK("a", 0) SINK("b", 1);
    /* A disabled route keeps the other sink a destination (with its consumer) in both tables:
     * the daemon restarts the connectors when the set of destinations changes. */
    static const char to_a[] =
        "<route name=\"r\"><from connector=\"src\"/><to connector=\"a\"/></route>"
        "<route name=\"idle\" enabled=\"false\"><from connector=\"src\"/>"
        "<to connector=\"b\"/></route>";
    static const char to_b[] =
        "<route name=\"r\"><from connector=\"src\"/><to connector=\"b\"/></route>"
        "<route name=\"idle\" enabled=\"false\"><from connector=\"src\"/>"
        "<to connector=\"a\"/></route>";
    char xml_a[1024], xml_b[1024];
    snprintf(xml_a, sizeof(xml_a), "%s%s", conn, to_a);
    snprintf(xml_b, sizeof(xml_b), "%s%s", conn, to_b);

    fx_reset();
    fx_src[0].batch = 32;
    struct fx_world *w = fx_start(xml_a);
    struct omb_config *cfg_a = fx_config(xml_a), *cfg_b = fx_config(xml_b);
    CHECK(w != NULL && cfg_a != NULL && cfg_b != NULL);
    if (!w || !cfg_a || !cfg_b) {
        fx_stop(w, 0);
        omb_config_destroy(&cfg_a);
        omb_config_destroy(&cfg_b);
        return;
    }
    size_t total = 20000, tail = 100;
    fx_push_seq(0, "x.y", 0, total, 100);
    CHECK(fx_wait(a_got_some, NULL, "the first events in A"));
    unsigned swaps = 0;
    bool ok = true;
    while (ok && !fx_source_done(0)) {
        ok = fx_swap(w, swaps % 2 ? cfg_a : cfg_b);
        swaps++;
        struct timespec ts = { 0, 500000 };
        nanosleep(&ts, NULL);
    }
    CHECK(ok);
    CHECK(fx_swap(w, cfg_b));
    fx_push_seq(0, "x.y", total, tail, 100);
    CHECK(fx_wait_idle(w, SRC0, "the events around the swaps"));
    CHECK(swaps >= 1);

    size_t na, nb;
    struct fx_call *ca = fx_calls_copy(0, &na), *cb = fx_calls_copy(1, &nb);
    unsigned char *seen = calloc(total + tail, 1);
    size_t once = 0, bad = 0;
    json_int_t last_a[100], last_b[100];
    for (int k = 0; k < 100; k++) {
        last_a[k] = last_b[k] = -1;
    }
    for (int side = 0; side < 2; side++) {
        struct fx_call *c = side ? cb : ca;
        json_int_t *last = side ? last_b : last_a;
        for (size_t i = 0; i < (side ? nb : na); i++) {
            json_int_t seq = fx_seq(c[i].event);
            if (seq < 0 || (size_t)seq >= total + tail || seen[seq] || seq <= last[seq % 100]) {
                bad++;
                continue;
            }
            seen[seq] = 1;
            last[seq % 100] = seq;
            once++;
        }
    }
    CHECK(bad == 0);
    CHECK(once == total + tail);
    CHECK(na + nb == total + tail);
    CHECK(na > 0 && nb >= tail);
    free(seen);
    free(ca);
    free(cb);
    omb_config_destroy(&cfg_a);
    omb_config_destroy(&cfg_b);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

struct held_arg {
    struct fx_world *w;
    uint64_t n;
};

static bool route_holds(void *arg)
{
    struct held_arg *a = arg;
    return atomic_load(&fx_route(a->w, "r")->held) == a->n;
}

/* A paused route holds its events (in flight, not delivered); resumed, it delivers them all, in
 * order, before what comes after. */
static void test_pause(void)
{
    fx_reset();
    struct fx_world *w = fx_start(
        SRC("src", 0) SINK("s", 0)
        "<route name=\"r\"><from connector=\"src\"/><to connector=\"s\"/></route>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    CHECK(omb_router_pause(w->router, "nosuch", true) == OMB_ENOTFOUND);
    CHECK(omb_router_pause(w->router, "r", true) == 0);
    fx_push_seq(0, "x.y", 0, 500, 10);
    struct held_arg all = { w, 500 };
    CHECK(fx_wait(route_holds, &all, "the paused route to hold 500 events"));
    CHECK(fx_calls(0) == 0);
    /* Held deliveries are parked in the store: the journal is done with them. */
    CHECK(fx_wait_idle(w, SRC0, "the journal to be consumed"));
    check_route(w, "r", 500, 500, 0, 0, 0, 500);
    CHECK(omb_router_pause(w->router, "r", false) == 0);
    fx_push_seq(0, "x.y", 500, 500, 10);
    CHECK(fx_wait_idle(w, SRC0, "the held events after the resume"));
    CHECK(check_once_in_order(0, 1000, "pause"));
    check_route(w, "r", 1000, 1000, 0, 0, 0, 1000);
    CHECK(atomic_load(&fx_route(w, "r")->held) == 0);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* A route naming a connector that has no instance. */
static void test_build_errors(void)
{
    fx_reset();
    struct omb_config *cfg = fx_config(
        SRC("src", 0) SINK("s", 0)
        "<route name=\"r\"><from connector=\"src\"/><to connector=\"s\"/></route>");
    CHECK(cfg != NULL);
    if (!cfg) {
        return;
    }
    char err[256] = "";
    struct omb_routes *routes = omb_routes_build(cfg, NULL, 0, 1, err, sizeof(err));
    CHECK(routes == NULL);
    CHECK(strstr(err, "route 'r' sends to 's', which is not running") != NULL);
    omb_routes_destroy(&routes);
    omb_routes_destroy(&routes);
    omb_config_destroy(&cfg);
}

int main(void)
{
    test_build_errors();
    test_patterns();
    test_fanout_disabled();
    test_transforms();
    test_counters();
    test_errors();
    test_order();
    test_backpressure();
    test_swap();
    test_pause();
    fx_reset();
    return test_result();
}
