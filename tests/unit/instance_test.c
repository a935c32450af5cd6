/* Unit test: core/src/instance.c (a connector's thread and its delivery dispatcher) and
 * core/src/host.c (the host API: emit, timers, metrics, log masking); in-process plugins from
 * runtime_fixture.c, no .so. */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <omnibus/err.h>
#include "envelope.h"
#include "log.h"
#include "runtime_fixture.h"
#include "testlib.h"

#define SRC(name, slot) \
    "<connector name=\"" name "\" plugin=\"fx_source\"><option name=\"slot\">" #slot \
    "</option></connector>\n"
#define SINK(name, slot) \
    "<connector name=\"" name "\" plugin=\"fx_sink\"><option name=\"slot\">" #slot \
    "</option></connector>\n"
#define ONE_ROUTE \
    SRC("src", 0) SINK("s", 0)  \
    "<route name=\"r\"><from connector=\"src\"/><to connector=\"s\"/></route>"

static const int SRC0[] = { 0, -1 };

struct at_least {
    atomic_int *v;
    int n;
};

static bool is_at_least(void *arg)
{
    struct at_least *a = arg;
    return atomic_load(a->v) >= a->n;
}

static bool wait_at_least(atomic_int *v, int n, const char *what)
{
    struct at_least a = { v, n };
    return fx_wait(is_at_least, &a, what);
}

static void push(int seq, int fail, int retry_after, bool reject)
{
    fx_push(0, json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:b}}", "type", "x.y", "key", "k", "body",
                         "seq", seq, "fail", fail, "retry_after", retry_after, "reject", reject));
}

static void check_sink_stats(struct fx_world *w, const char *name, uint64_t received,
                             uint64_t delivered, uint64_t retried, uint64_t rejected)
{
    struct omb_instance_stats st;
    omb_instance_stats(fx_inst(w, name), &st);
    CHECK(st.received == received);
    CHECK(st.delivered == delivered);
    CHECK(st.retried == retried);
    CHECK(st.rejected == rejected);
    CHECK(st.pending == 0);
}

/* A delivery that fails three times is attempted four times with backoff (base 10 ms, so at
 * least 8 ms apart with the jitter), and nothing behind it overtakes it. */
static void test_retry(void)
{
    fx_reset();
    struct fx_world *w = fx_start(ONE_ROUTE);
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    push(0, 3, 0, false);
    for (int i = 1; i < 10; i++) {
        push(i, 0, 0, false);
    }
    CHECK(fx_wait_idle(w, SRC0, "the retried events"));
    size_t n;
    struct fx_call *c = fx_calls_copy(0, &n);
    CHECK(n == 13);
    if (n == 13) {
        for (size_t i = 0; i < 4; i++) {
            CHECK(fx_seq(c[i].event) == 0);
            CHECK(c[i].rc == (i < 3 ? OMB_ERETRY : OMB_OK));
            if (i > 0) {
                CHECK(c[i].at_ms - c[i - 1].at_ms >= 8);
            }
        }
        for (size_t i = 4; i < 13; i++) {
            CHECK(fx_seq(c[i].event) == (json_int_t)(i - 3));
            CHECK(c[i].rc == OMB_OK);
        }
    }
    free(c);
    check_sink_stats(w, "s", 10, 10, 3, 0);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* OMB_ERETRY with retry_after_ms: the next attempt comes no sooner. */
static void test_retry_after(void)
{
    fx_reset();
    struct fx_world *w = fx_start(ONE_ROUTE);
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    push(0, 1, 300, false);
    push(1, 0, 0, false);
    CHECK(fx_wait_idle(w, SRC0, "the event retried after 300 ms"));
    size_t n;
    struct fx_call *c = fx_calls_copy(0, &n);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(fx_seq(c[0].event) == 0 && c[0].rc == OMB_ERETRY);
        CHECK(fx_seq(c[1].event) == 0 && c[1].rc == OMB_OK);
        CHECK(c[1].at_ms - c[0].at_ms >= 300);
        CHECK(fx_seq(c[2].event) == 1 && c[2].rc == OMB_OK);
    }
    free(c);
    check_sink_stats(w, "s", 2, 2, 1, 0);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* OMB_EREJECT finishes the delivery (counted, not retried); the next one is delivered. */
static void test_reject(void)
{
    fx_reset();
    struct fx_world *w = fx_start(ONE_ROUTE);
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    push(0, 0, 0, true);
    push(1, 0, 0, false);
    CHECK(fx_wait_idle(w, SRC0, "the rejected event and the next"));
    size_t n;
    struct fx_call *c = fx_calls_copy(0, &n);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(fx_seq(c[0].event) == 0 && c[0].rc == OMB_EREJECT);
        CHECK(fx_seq(c[1].event) == 1 && c[1].rc == OMB_OK);
    }
    free(c);
    check_sink_stats(w, "s", 2, 1, 0, 1);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* emit() of a malformed event: OMB_EINVAL, and the event stays the caller's (the source frees
 * it; valgrind and ASan would see a double free or a leak). */
static void test_emit_invalid(void)
{
    fx_reset();
    struct fx_world *w = fx_start(ONE_ROUTE);
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    fx_push(0, json_pack("{s:s, s:{}}", "type", "Bad Type", "body"));
    fx_push(0, json_pack("{s:s}", "type", "x.y"));
    fx_push(0, json_pack("{s:s, s:[]}", "type", "x.y", "body"));
    fx_push(0, json_pack("{s:s, s:{}, s:i}", "type", "x.y", "body", "key", 5));
    fx_push(0, json_pack("{s:s, s:{}, s:{s:i}}", "type", "x.y", "body", "headers", "h", 1));
    fx_push(0, json_string("not an object"));
    push(0, 0, 0, false);
    CHECK(fx_wait_idle(w, SRC0, "the malformed events"));
    CHECK(fx_src[0].einval == 6);
    CHECK(fx_src[0].einval_kept);
    CHECK(fx_ok(0) == 1);
    struct omb_instance_stats st;
    omb_instance_stats(fx_inst(w, "src"), &st);
    CHECK(st.emitted == 1);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

static bool saw_estopped(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&fx_src[0].lock);
    bool yes = fx_src[0].estopped > 0;
    pthread_mutex_unlock(&fx_src[0].lock);
    return yes;
}

struct calls_arg {
    int slot;
    size_t n;
};

static bool has_calls(void *arg)
{
    struct calls_arg *a = arg;
    return fx_calls(a->slot) >= a->n;
}

static bool source_done(void *arg)
{
    return fx_source_done(*(int *)arg);
}

/* After stop_sources, emit() says OMB_ESTOPPED and the source keeps the event; stop() runs once
 * however often the sources are stopped; the drain waits for a delivery still being retried;
 * destroy() runs once per instance. */
static void test_stop_drain(void)
{
    fx_reset();
    struct fx_world *w = fx_start(ONE_ROUTE);
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    int slot = 0;
    push(0, 2, 0, false);
    CHECK(fx_wait(source_done, &slot, "the first event to be emitted"));
    omb_instance_stop_sources(fx_inst(w, "src"));
    CHECK(atomic_load(&fx_src[0].stop_calls) == 1);
    push(1, 0, 0, false);
    CHECK(fx_wait(saw_estopped, NULL, "emit() to say OMB_ESTOPPED"));
    CHECK(!fx_source_done(0)); /* the refused event is still the source's */
    omb_instance_stop_sources(fx_inst(w, "src"));
    CHECK(fx_stop(w, FX_DEADLINE_MS));
    CHECK(fx_calls(0) == 3 && fx_ok(0) == 1);
    CHECK(atomic_load(&fx_src[0].stop_calls) == 1);
    CHECK(atomic_load(&fx_src[0].destroy_calls) == 1);
    CHECK(atomic_load(&fx_snk[0].destroy_calls) == 1);
}

/* conflate="key": while the head is retried, ten more stock levels for one key and one for
 * another arrive; of the pending ones only the newest per key is sent. A level older (by its own
 * time) than one already delivered for its key is never sent after it. */
static void push_level(int seq, const char *key, int second, int fail)
{
    char when[32];
    snprintf(when, sizeof(when), "2026-11-25T10:00:%02dZ", second);
    fx_push(0, json_pack("{s:s, s:s, s:s, s:{s:i, s:i}}", "type", "stock.level", "key", key,
                         "time", when, "body", "seq", seq, "fail", fail));
}

static void test_conflate(void)
{
    fx_reset();
    struct fx_world *w = fx_start(
        SRC("src", 0) SINK("s", 0)
        "<route name=\"r\"><from connector=\"src\"/><to connector=\"s\" conflate=\"key\"/>"
        "</route>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    push_level(0, "k1", 0, 3); /* the head: three failed attempts, 10 + 20 + 40 ms */
    struct calls_arg one = { 0, 1 };
    CHECK(fx_wait(has_calls, &one, "the first attempt"));
    for (int i = 1; i <= 9; i++) {
        push_level(i, "k1", i, 0);
    }
    push_level(10, "k2", 10, 0);
    CHECK(fx_wait_idle(w, SRC0, "the conflated levels"));
    size_t n = 0;
    struct fx_call *c = fx_calls_copy(0, &n);
    json_int_t ok[8];
    size_t n_ok = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].rc == OMB_OK && n_ok < 8) {
            ok[n_ok++] = fx_seq(c[i].event);
        }
    }
    free(c);
    CHECK(n_ok == 3 && ok[0] == 0 && ok[1] == 9 && ok[2] == 10);
    struct omb_instance_stats st;
    omb_instance_stats(fx_inst(w, "s"), &st);
    CHECK(st.conflated == 8 && st.stale == 0 && st.delivered == 3);

    /* An older level for k1 (its time is before seq 9's): not sent. A newer one is. */
    push_level(11, "k1", 5, 0);
    CHECK(fx_wait_idle(w, SRC0, "the late level"));
    omb_instance_stats(fx_inst(w, "s"), &st);
    CHECK(st.stale == 1 && st.delivered == 3);
    push_level(12, "k1", 30, 0);
    CHECK(fx_wait_idle(w, SRC0, "a newer level"));
    omb_instance_stats(fx_inst(w, "s"), &st);
    CHECK(st.stale == 1 && st.delivered == 4);
    c = fx_calls_copy(0, &n);
    CHECK(n > 0 && fx_seq(c[n - 1].event) == 12);
    free(c);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

/* A delivery still failing when the instance exits is not lost: it stays in the journal (the
 * consumer's cursor never passed it) and is delivered by the next world on the same store. */
static void test_resume_after_exit(void)
{
    fx_reset();
    struct fx_world *w = fx_start(ONE_ROUTE);
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    push(0, 3, 0, false);
    struct calls_arg two = { 0, 2 };
    CHECK(fx_wait(has_calls, &two, "two failed attempts"));
    char path[sizeof(w->store_path)];
    memcpy(path, w->store_path, sizeof(path));
    w->keep_store = true;
    CHECK(!fx_stop(w, 0)); /* no drain: the event is still owed to s */
    CHECK(fx_ok(0) == 0);
    CHECK(atomic_load(&fx_snk[0].destroy_calls) == 1);

    /* The same connectors on the same journal; sink slot 1 counts its attempts afresh. */
    w = fx_start_at(SRC("src", 1) SINK("s", 1)
                    "<route name=\"r\"><from connector=\"src\"/><to connector=\"s\"/></route>",
                    path);
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    struct calls_arg ok = { 1, 4 };
    CHECK(fx_wait(has_calls, &ok, "the event to be tried again after the restart"));
    CHECK(fx_stop(w, FX_DEADLINE_MS));
    CHECK(fx_ok(1) == 1);
    size_t n = 0;
    struct fx_call *calls = fx_calls_copy(1, &n);
    CHECK(n == 4 && calls && fx_seq(calls[n - 1].event) == 0 && calls[n - 1].rc == OMB_OK);
    free(calls);
}

/* Timers (one-shot, interval, cancel, a callback adding a timer, an interval timer cancelling
 * itself), metrics, emit() from a plugin that is not a source, start() retried. */
static void test_probe(void)
{
    fx_reset();
    struct fx_world *w = fx_start(
        "<connector name=\"p1\" plugin=\"fx_probe\"><option name=\"slot\">0</option>"
        "  <option name=\"start-fails\">2</option></connector>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    struct fx_probe *p = &fx_prb[0];
    CHECK(wait_at_least(&p->started, 1, "the probe to start"));
    CHECK(wait_at_least(&p->oneshot, 1, "the one-shot timer"));
    CHECK(wait_at_least(&p->chained, 1, "the timer added by a timer"));
    CHECK(wait_at_least(&p->self_cancel, 3, "the self-cancelling timer"));
    /* 40 runs of a 2 ms interval: well past the cancelled timer's 30 ms. */
    CHECK(wait_at_least(&p->interval, 40, "40 runs of the interval timer"));
    CHECK(atomic_load(&p->start_calls) == 3);
    CHECK(atomic_load(&p->oneshot) == 1);
    CHECK(atomic_load(&p->chained) == 1);
    CHECK(atomic_load(&p->self_cancel) == 3);
    CHECK(atomic_load(&p->cancelled) == 0);
    CHECK(p->cancel_rc == 0);
    CHECK(p->cancel_again_rc == OMB_ENOTFOUND);
    CHECK(p->self_cancel_rc == 0);
    CHECK(p->null_fn_rc == OMB_EINVAL);
    CHECK(p->emit_rc == OMB_EINVAL);
    CHECK(p->emit_refs == 1);
    CHECK(!p->stopping_at_start);
    CHECK_STR(p->name, "p1");

    struct omb_instance *inst = fx_inst(w, "p1");
    json_t *m = omb_instance_metrics(inst);
    json_t *want = json_pack("{s:i, s:i}", "fx.count", 4, "fx.gauge", -3);
    CHECK(json_equal(m, want));
    json_decref(m);
    json_decref(want);
    CHECK(omb_instance_state(inst) == OMB_INSTANCE_RUNNING);
    CHECK_STR(omb_instance_descriptor(inst)->name, "fx_probe");
    CHECK(!omb_instance_is_sink(inst));
    CHECK(fx_stop(w, FX_DEADLINE_MS));
    CHECK(atomic_load(&p->destroy_calls) == 1);
}

/* host->log: the scope prefix, SECRET and SENSITIVE values masked wherever they appear (also a
 * value made of asterisks), the connector's own level, else the daemon's. */
static void test_log_masking(void)
{
    static const char secret[] = "tok-3f9a-SECRET";
    fx_reset();
    setenv("OMB_FX_TOKEN", secret, 1);
    struct fx_world *w = fx_start(
        "<connector name=\"p2\" plugin=\"fx_probe\" log-level=\"warn\">"
        "  <option name=\"slot\">0</option><option name=\"token\">env:OMB_FX_TOKEN</option>"
        "  <option name=\"password\">********</option>"
        "  <option name=\"label\">a-tok-3f9a-SECRET-b-tok-3f9a-SECRET</option></connector>"
        "<connector name=\"p3\" plugin=\"fx_probe\">"
        "  <option name=\"slot\">1</option><option name=\"label\">p3-label</option></connector>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    CHECK(wait_at_least(&fx_prb[0].started, 1, "p2 to start"));
    CHECK(wait_at_least(&fx_prb[1].started, 1, "p3 to start"));
    omb_log_set_level(OMB_LOG_ERROR);
    struct fx_capture cap;
    CHECK(fx_capture_begin(&cap));
    atomic_store(&fx_prb[0].log_req, 1);
    atomic_store(&fx_prb[1].log_req, 1);
    bool logged = wait_at_least(&fx_prb[0].log_req, 2, "p2 to log") &&
                  wait_at_least(&fx_prb[1].log_req, 2, "p3 to log");
    char *out = fx_capture_end(&cap);
    omb_log_set_level(OMB_LOG_INFO);
    CHECK(logged);
    CHECK(out != NULL);
    if (out) {
        char stars[sizeof(secret)];
        memset(stars, '*', sizeof(secret) - 1);
        stars[sizeof(secret) - 1] = '\0';
        char want[512];
        snprintf(want, sizeof(want),
                 " WARN  [connector:fx_probe:p2] token=%s password=******** label=a-%s-b-%s\n",
                 stars, stars, stars);
        CHECK(strstr(out, want) != NULL);
        CHECK(strstr(out, secret) == NULL);
        CHECK(strstr(out, " ERROR [connector:fx_probe:p2] an error line\n") != NULL);
        CHECK(strstr(out, "an error line\n\n") == NULL);
        CHECK(strstr(out, "an info line") == NULL);
        /* p3 follows the daemon's level (error) */
        CHECK(strstr(out, " ERROR [connector:fx_probe:p3] an error line\n") != NULL);
        CHECK(strstr(out, "p3-label") == NULL);
        if (!strstr(out, want)) {
            fprintf(stderr, "captured:\n%s\nexpected a line with:\n%s", out, want);
        }
    }
    free(out);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
    unsetenv("OMB_FX_TOKEN");
}

/* An instance whose create() fails; one whose options are wrong; one that never ran. */
static void test_instance_errors(void)
{
    fx_reset();
    struct omb_runtime rt = { .gen = 900, .retry_base_ms = 10, .retry_max_ms = 100 };
    atomic_init(&rt.stopping, false);
    rt.zctx = zmq_ctx_new();
    struct omb_config *cfg = fx_config(
        "<connector name=\"bad\" plugin=\"fx_probe\"><option name=\"slot\">0</option>"
        "  <option name=\"fail-create\">true</option></connector>"
        "<connector name=\"idle\" plugin=\"fx_probe\"><option name=\"slot\">1</option>"
        "</connector>");
    CHECK(rt.zctx != NULL && cfg != NULL);
    if (!rt.zctx || !cfg) {
        omb_config_destroy(&cfg);
        zmq_ctx_term(rt.zctx);
        return;
    }
    const struct omb_plugin *probe = fx_plugin("fx_probe");
    struct omb_diags diags;
    omb_diags_init(&diags);

    struct omb_instance *bad = omb_instance_new(&rt, &cfg->connectors[0], probe,
                                                cfg->path, &diags);
    CHECK(bad != NULL);
    if (bad) {
        CHECK(omb_instance_run(bad) == OMB_EIO);
        CHECK(omb_instance_state(bad) == OMB_INSTANCE_FAILED);
        CHECK(atomic_load(&fx_prb[0].created) == 0);
        omb_instance_stop_sources(bad);
        omb_instance_exit(bad);
        CHECK(atomic_load(&fx_prb[0].destroy_calls) == 0); /* create failed: no destroy */
    }
    omb_instance_destroy(&bad);
    omb_instance_destroy(&bad);
    CHECK(bad == NULL);

    struct omb_instance *idle = omb_instance_new(&rt, &cfg->connectors[1], probe,
                                                 cfg->path, &diags);
    CHECK(idle != NULL);
    CHECK(diags.errors == 0);
    CHECK(idle && omb_instance_state(idle) == OMB_INSTANCE_NEW);
    omb_instance_destroy(&idle); /* never ran */

    /* slot 99 is out of the option's range: no instance, an error naming the option */
    free(cfg->connectors[1].options[0].value);
    cfg->connectors[1].options[0].value = strdup("99");
    idle = omb_instance_new(&rt, &cfg->connectors[1], probe, cfg->path, &diags);
    CHECK(idle == NULL);
    CHECK(diags.errors == 1);
    CHECK(diags.n == 1 && strstr(diags.v[0].msg, "option 'slot'") != NULL);
    omb_diags_clear(&diags);
    omb_config_destroy(&cfg);
    zmq_ctx_term(rt.zctx);
}

/* ABI 1.3 deliver_batch: ten deliveries queued behind one another go out in calls of up to 3
 * (the plugin takes a prefix of what it is offered); a retry inside a batch leaves it and those
 * behind it to be offered again (the retried one alone), a reject dead-letters just that one;
 * every event is delivered once, in order. */
static void test_batch(void)
{
    fx_reset();
    struct fx_world *w = fx_start(
        SRC("src", 0)
        "<connector name=\"b\" plugin=\"fx_batch\"><option name=\"slot\">0</option></connector>"
        "<route name=\"r\"><from connector=\"src\"/><to connector=\"b\"/></route>");
    CHECK(w != NULL);
    if (!w) {
        return;
    }
    fx_hold(0, true); /* queue them all before the destination looks */
    for (int i = 0; i < 10; i++) {
        push(i, i == 4 ? 1 : 0, 0, i == 7);
    }
    fx_hold(0, false);
    CHECK(fx_wait_idle(w, SRC0, "the batched events"));
    size_t n;
    struct fx_call *c = fx_calls_copy(0, &n);
    /* Every event but the rejected 7 delivered. 5, taken by the plugin after the failed 4, was
     * offered again (its first outcome was not looked at), so the last success of each event
     * comes in journal order: the system's final state is the newest. */
    int last_ok[10], fives = 0;
    for (int i = 0; i < 10; i++) {
        last_ok[i] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        int seq = (int)fx_seq(c[i].event);
        fives += seq == 5;
        if (c[i].rc == OMB_OK && seq >= 0 && seq < 10) {
            last_ok[seq] = (int)i;
        }
    }
    for (int i = 0, prev = -1; i < 10; i++) {
        CHECK((last_ok[i] >= 0) == (i != 7));
        if (last_ok[i] >= 0) {
            CHECK(last_ok[i] > prev);
            prev = last_ok[i];
        }
    }
    CHECK(fives == 2);
    free(c);
    struct fx_sink *k = &fx_snk[0];
    pthread_mutex_lock(&k->lock);
    size_t nb = k->n_batches, max_taken = 0, multi = 0;
    for (size_t i = 0; i < nb; i++) {
        max_taken = k->batch_taken[i] > max_taken ? k->batch_taken[i] : max_taken;
        multi += k->batch_offered[i] > 1;
    }
    pthread_mutex_unlock(&k->lock);
    CHECK(max_taken == 3);  /* offered more than it took */
    CHECK(multi >= 2);
    CHECK(nb < n);          /* fewer calls than deliveries */
    struct omb_instance_stats st;
    omb_instance_stats(fx_inst(w, "b"), &st);
    CHECK(st.received == 10 && st.delivered == 9 && st.rejected == 1 && st.retried >= 1 &&
          st.pending == 0);
    CHECK(fx_stop(w, FX_DEADLINE_MS));
}

int main(void)
{
    test_retry();
    test_retry_after();
    test_reject();
    test_conflate();
    test_batch();
    test_emit_invalid();
    test_stop_drain();
    test_resume_after_exit();
    test_probe();
    test_log_masking();
    test_instance_errors();
    fx_reset();
    return test_result();
}
