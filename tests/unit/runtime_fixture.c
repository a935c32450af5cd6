/* Test fixture: static test plugins and a running configuration (see runtime_fixture.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "diag.h"
#include "envelope.h"
#include "log.h"
#include "runtime_fixture.h"

struct fx_source fx_src[FX_SLOTS];
struct fx_sink fx_snk[FX_SLOTS];
struct fx_probe fx_prb[FX_SLOTS];

/* ---- fx_source ---- */

struct src_ctx {
    int64_t slot;
    const struct omb_host_api *host;
    struct omb_instance *self;
    struct fx_source *s;
};

/* Every fixture plugin's context starts with its slot. */
static const struct omb_option slot_options[] = {
    { "slot", OMB_OPT_INT, NULL, OMB_OPTF_REQUIRED, 0, FX_SLOTS - 1, NULL,
      offsetof(struct src_ctx, slot), "script slot" },
    OMB_OPTION_END
};

static int src_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct src_ctx *c = ctx;
    c->host = host;
    c->self = self;
    c->s = &fx_src[c->slot];
    return 0;
}

/* Emit up to `batch` events; on OMB_EAGAIN or OMB_ESTOPPED keep the event for the next tick. */
static void src_tick(void *arg)
{
    struct src_ctx *c = arg;
    struct fx_source *s = c->s;
    pthread_mutex_lock(&s->lock);
    for (size_t k = 0; k < s->batch && !s->hold && s->next < s->n;) {
        json_t *ev = s->ev[s->next];
        int rc = c->host->emit(c->self, ev);
        if (rc == 0) {
            s->ev[s->next++] = NULL;
            k++;
        } else if (rc == OMB_EINVAL) {
            s->einval++;
            if (ev->refcount != 1) {
                s->einval_kept = false;
            }
            json_decref(ev); /* still ours: emit() took nothing */
            s->ev[s->next++] = NULL;
        } else {
            if (rc == OMB_EAGAIN) {
                s->eagain++;
            } else if (rc == OMB_ESTOPPED) {
                s->estopped++;
            }
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static int src_start(void *ctx)
{
    struct src_ctx *c = ctx;
    return c->host->timer_add(c->self, 1, 1, src_tick, c, NULL);
}

/* Deliberately leaves the timer running, so that a test sees emit() refuse after the stop. */
static int src_stop(void *ctx)
{
    struct src_ctx *c = ctx;
    atomic_fetch_add(&c->s->stop_calls, 1);
    return 0;
}

static void src_destroy(void *ctx)
{
    struct src_ctx *c = ctx;
    atomic_fetch_add(&c->s->destroy_calls, 1);
}

static const struct omb_plugin_descriptor src_desc = {
    OMB_DESCRIPTOR_HEADER,
    .name = "fx_source",
    .version = "1",
    .description = "test source: emits a script",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE,
    .options = slot_options,
    .ctx_size = sizeof(struct src_ctx),
    .create = src_create,
    .start = src_start,
    .stop = src_stop,
    .destroy = src_destroy,
};

/* ---- fx_sink ---- */

struct sink_ctx {
    int64_t slot;
    const struct omb_host_api *host;
    struct fx_sink *k;
};

static int sink_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct sink_ctx *c = ctx;
    c->host = host;
    c->k = &fx_snk[c->slot];
    return 0;
}

static int sink_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res);

/* fx_batch: take at most 3 of the n offered; each one's outcome as sink_deliver's. */
static int batch_deliver(void *ctx, const struct omb_raw_event *ev, size_t n, int *rcs,
                         struct omb_deliver_result *res)
{
    struct sink_ctx *c = ctx;
    struct fx_sink *k = c->k;
    size_t take = n < 3 ? n : 3;
    pthread_mutex_lock(&k->lock);
    if (k->n_batches < 256) {
        k->batch_offered[k->n_batches] = n;
        k->batch_taken[k->n_batches++] = take;
    }
    pthread_mutex_unlock(&k->lock);
    for (size_t i = 0; i < take; i++) {
        char err[256];
        json_t *e = omb_event_from_frames(ev[i].route, ev[i].envelope, ev[i].envelope_len,
                                          ev[i].body, ev[i].body_len, err, sizeof(err));
        if (!e) {
            abort();
        }
        rcs[i] = sink_deliver(ctx, e, &res[i]);
        json_decref(e);
    }
    return (int)take;
}

static int sink_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    struct sink_ctx *c = ctx;
    struct fx_sink *k = c->k;
    int64_t now = c->host->monotonic_ms();
    char head[sizeof(k->head)];
    snprintf(head, sizeof(head), "%s/%s", fx_str(event, "route"), fx_str(event, "id"));
    if (strcmp(head, k->head) == 0) {
        k->attempts++;
    } else {
        memcpy(k->head, head, sizeof(head));
        k->attempts = 1;
    }
    const json_t *body = json_object_get(event, "body");
    int rc = OMB_OK;
    if (json_is_true(json_object_get(body, "reject"))) {
        rc = OMB_EREJECT;
        snprintf(res->reason, sizeof(res->reason), "told to reject");
    } else if (k->attempts <= json_integer_value(json_object_get(body, "fail"))) {
        rc = OMB_ERETRY;
        res->retry_after_ms = json_integer_value(json_object_get(body, "retry_after"));
        snprintf(res->reason, sizeof(res->reason), "told to fail");
    }
    pthread_mutex_lock(&k->lock);
    if (k->n_calls == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 256;
        struct fx_call *v = realloc(k->calls, cap * sizeof(*v));
        if (!v) {
            abort();
        }
        k->calls = v;
        k->cap = cap;
    }
    k->calls[k->n_calls++] = (struct fx_call){ json_deep_copy(event), rc, now };
    k->n_ok += rc == OMB_OK;
    pthread_mutex_unlock(&k->lock);
    return rc;
}

static void sink_destroy(void *ctx)
{
    struct sink_ctx *c = ctx;
    atomic_fetch_add(&c->k->destroy_calls, 1);
}

static const struct omb_plugin_descriptor sink_desc = {
    OMB_DESCRIPTOR_HEADER,
    .name = "fx_sink",
    .version = "1",
    .description = "test sink: records deliveries",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SINK,
    .options = slot_options,
    .ctx_size = sizeof(struct sink_ctx),
    .create = sink_create,
    .deliver = sink_deliver,
    .destroy = sink_destroy,
};

static const struct omb_plugin_descriptor batch_desc = {
    OMB_DESCRIPTOR_HEADER,
    .name = "fx_batch",
    .version = "1",
    .description = "test sink: records deliveries, takes them in batches of 3 (ABI 1.3)",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SINK,
    .options = slot_options,
    .ctx_size = sizeof(struct sink_ctx),
    .create = sink_create,
    .deliver = sink_deliver,
    .destroy = sink_destroy,
    .deliver_batch = batch_deliver,
};

/* ---- fx_probe ---- */

struct probe_ctx {
    int64_t slot;
    char *token;     /* SECRET */
    char *password;  /* STRING, SENSITIVE */
    char *label;     /* STRING */
    int64_t start_fails;
    bool fail_create;
    const struct omb_host_api *host;
    struct omb_instance *self;
    struct fx_probe *p;
    uint64_t self_cancel_id;
};

static const struct omb_option probe_options[] = {
    { "slot", OMB_OPT_INT, NULL, OMB_OPTF_REQUIRED, 0, FX_SLOTS - 1, NULL,
      offsetof(struct probe_ctx, slot), "script slot" },
    { "token", OMB_OPT_SECRET, NULL, 0, 0, 0, NULL, offsetof(struct probe_ctx, token),
      "a secret" },
    { "password", OMB_OPT_STRING, NULL, OMB_OPTF_SENSITIVE, 0, 0, NULL,
      offsetof(struct probe_ctx, password), "a sensitive string" },
    { "label", OMB_OPT_STRING, "-", 0, 0, 0, NULL, offsetof(struct probe_ctx, label),
      "an ordinary string" },
    { "start-fails", OMB_OPT_INT, "0", 0, 0, 100, NULL, offsetof(struct probe_ctx, start_fails),
      "start() says OMB_ERETRY this many times first" },
    { "fail-create", OMB_OPT_BOOL, "false", 0, 0, 0, NULL,
      offsetof(struct probe_ctx, fail_create), "create() fails with OMB_EIO" },
    OMB_OPTION_END
};

static int probe_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct probe_ctx *c = ctx;
    if (c->fail_create) {
        return OMB_EIO;
    }
    c->host = host;
    c->self = self;
    c->p = &fx_prb[c->slot];
    snprintf(c->p->name, sizeof(c->p->name), "%s", host->instance_name(self));
    atomic_store(&c->p->created, 1);
    return 0;
}

static void probe_oneshot(void *arg)
{
    struct probe_ctx *c = arg;
    atomic_fetch_add(&c->p->oneshot, 1);
}

static void probe_cancelled(void *arg)
{
    struct probe_ctx *c = arg;
    atomic_fetch_add(&c->p->cancelled, 1);
}

static void probe_chained(void *arg)
{
    struct probe_ctx *c = arg;
    atomic_fetch_add(&c->p->chained, 1);
}

/* A timer callback that adds a timer. */
static void probe_chain(void *arg)
{
    struct probe_ctx *c = arg;
    c->host->timer_add(c->self, 1, 0, probe_chained, c, NULL);
}

/* An interval timer that cancels itself on its third run. */
static void probe_self_cancel(void *arg)
{
    struct probe_ctx *c = arg;
    int n = atomic_load(&c->p->self_cancel) + 1;
    if (n == 3) {
        c->p->self_cancel_rc = c->host->timer_cancel(c->self, c->self_cancel_id);
    }
    atomic_store(&c->p->self_cancel, n);
}

/* Every 2 ms: count, and log when the test asks. */
static void probe_interval(void *arg)
{
    struct probe_ctx *c = arg;
    if (atomic_load(&c->p->log_req) == 1) {
        c->host->log(c->self, OMB_LOG_WARN, "token=%s password=%s label=%s", c->token,
                     c->password, c->label);
        c->host->log(c->self, OMB_LOG_INFO, "an info line");
        c->host->log(c->self, OMB_LOG_ERROR, "an error line\n");
        atomic_store(&c->p->log_req, 2);
    }
    atomic_fetch_add(&c->p->interval, 1);
}

static int probe_start(void *ctx)
{
    struct probe_ctx *c = ctx;
    struct fx_probe *p = c->p;
    const struct omb_host_api *h = c->host;
    if (atomic_fetch_add(&p->start_calls, 1) < c->start_fails) {
        return OMB_ERETRY;
    }
    uint64_t id = 0;
    h->timer_add(c->self, 5, 0, probe_oneshot, c, NULL);
    h->timer_add(c->self, 2, 2, probe_interval, c, NULL);
    h->timer_add(c->self, 30, 0, probe_cancelled, c, &id);
    p->cancel_rc = h->timer_cancel(c->self, id);
    p->cancel_again_rc = h->timer_cancel(c->self, id);
    h->timer_add(c->self, 1, 0, probe_chain, c, NULL);
    h->timer_add(c->self, 1, 1, probe_self_cancel, c, &c->self_cancel_id);
    p->null_fn_rc = h->timer_add(c->self, 1, 0, NULL, c, NULL);

    h->metric_counter_add(c->self, "fx.count", 2);
    h->metric_counter_add(c->self, "fx.count", 2);
    h->metric_gauge_set(c->self, "fx.gauge", 7);
    h->metric_gauge_set(c->self, "fx.gauge", -3);

    /* Not a source: emit() refuses and leaves the event with us. */
    json_t *ev = json_pack("{s:s, s:{}}", "type", "probe.test", "body");
    p->emit_rc = h->emit(c->self, ev);
    p->emit_refs = (int)ev->refcount;
    json_decref(ev);
    p->stopping_at_start = h->stopping(c->self);
    atomic_store(&p->started, 1);
    return 0;
}

static void probe_destroy(void *ctx)
{
    struct probe_ctx *c = ctx;
    if (c->p) {
        atomic_fetch_add(&c->p->destroy_calls, 1);
    }
}

static const struct omb_plugin_descriptor probe_desc = {
    OMB_DESCRIPTOR_HEADER,
    .name = "fx_probe",
    .version = "1",
    .description = "test probe: timers, metrics, logs",
    .kind = OMB_PLUGIN_PROCESSOR,
    .capabilities = 0,
    .options = probe_options,
    .ctx_size = sizeof(struct probe_ctx),
    .create = probe_create,
    .start = probe_start,
    .destroy = probe_destroy,
};

/* dl is NULL: these plugins are never closed through the loader. */
static const struct omb_plugin fx_plugins[] = {
    { "fx_source.so", NULL, &src_desc },
    { "fx_sink.so", NULL, &sink_desc },
    { "fx_batch.so", NULL, &batch_desc },
    { "fx_probe.so", NULL, &probe_desc },
};

const struct omb_plugin *fx_plugin(const char *name)
{
    for (size_t i = 0; i < sizeof(fx_plugins) / sizeof(fx_plugins[0]); i++) {
        if (strcmp(fx_plugins[i].desc->name, name) == 0) {
            return &fx_plugins[i];
        }
    }
    return NULL;
}

static const struct omb_plugin_descriptor *fx_lookup(void *arg, const char *name, char *err,
                                                     size_t errlen)
{
    const struct omb_plugin *p = fx_plugin(name);
    if (!p) {
        snprintf(err, errlen, "no test plugin '%s'", name);
        return NULL;
    }
    return p->desc;
}

/* ---- scripts ---- */

void fx_reset(void)
{
    static bool inited;
    for (int i = 0; i < FX_SLOTS; i++) {
        struct fx_source *s = &fx_src[i];
        struct fx_sink *k = &fx_snk[i];
        if (!inited) {
            pthread_mutex_init(&s->lock, NULL);
            pthread_mutex_init(&k->lock, NULL);
        }
        for (size_t e = 0; e < s->n; e++) {
            json_decref(s->ev[e]);
        }
        free(s->ev);
        s->ev = NULL;
        s->n = s->cap = s->next = 0;
        s->batch = 64;
        s->hold = false;
        s->eagain = s->estopped = s->einval = 0;
        s->einval_kept = true;
        atomic_store(&s->stop_calls, 0);
        atomic_store(&s->destroy_calls, 0);

        for (size_t c = 0; c < k->n_calls; c++) {
            json_decref(k->calls[c].event);
        }
        free(k->calls);
        k->calls = NULL;
        k->n_calls = k->cap = k->n_ok = 0;
        k->head[0] = '\0';
        k->attempts = 0;
        k->n_batches = 0;
        atomic_store(&k->destroy_calls, 0);

        memset(&fx_prb[i], 0, sizeof(fx_prb[i]));
    }
    inited = true;
    omb_log_set_level(OMB_LOG_INFO);
}

void fx_push(int slot, json_t *event)
{
    struct fx_source *s = &fx_src[slot];
    pthread_mutex_lock(&s->lock);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        json_t **v = realloc(s->ev, cap * sizeof(*v));
        if (!v) {
            abort();
        }
        s->ev = v;
        s->cap = cap;
    }
    s->ev[s->n++] = event;
    pthread_mutex_unlock(&s->lock);
}

void fx_push_seq(int slot, const char *type, size_t first, size_t n, size_t keys)
{
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%zu", (first + i) % (keys ? keys : 1));
        fx_push(slot, json_pack("{s:s, s:s, s:{s:I}}", "type", type, "key", key, "body", "seq",
                                (json_int_t)(first + i)));
    }
}

void fx_hold(int slot, bool hold)
{
    pthread_mutex_lock(&fx_src[slot].lock);
    fx_src[slot].hold = hold;
    pthread_mutex_unlock(&fx_src[slot].lock);
}

bool fx_source_done(int slot)
{
    pthread_mutex_lock(&fx_src[slot].lock);
    bool done = fx_src[slot].next == fx_src[slot].n;
    pthread_mutex_unlock(&fx_src[slot].lock);
    return done;
}

size_t fx_calls(int slot)
{
    pthread_mutex_lock(&fx_snk[slot].lock);
    size_t n = fx_snk[slot].n_calls;
    pthread_mutex_unlock(&fx_snk[slot].lock);
    return n;
}

size_t fx_ok(int slot)
{
    pthread_mutex_lock(&fx_snk[slot].lock);
    size_t n = fx_snk[slot].n_ok;
    pthread_mutex_unlock(&fx_snk[slot].lock);
    return n;
}

struct fx_call *fx_calls_copy(int slot, size_t *n)
{
    struct fx_sink *k = &fx_snk[slot];
    pthread_mutex_lock(&k->lock);
    struct fx_call *v = malloc((k->n_calls ? k->n_calls : 1) * sizeof(*v));
    if (v) {
        memcpy(v, k->calls, k->n_calls * sizeof(*v));
    }
    *n = v ? k->n_calls : 0;
    pthread_mutex_unlock(&k->lock);
    return v;
}

json_int_t fx_seq(const json_t *event)
{
    const json_t *v = json_object_get(json_object_get(event, "body"), "seq");
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

const char *fx_str(const json_t *event, const char *member)
{
    const char *s = json_string_value(json_object_get(event, member));
    return s ? s : "";
}

/* ---- waiting ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

bool fx_wait(bool (*cond)(void *arg), void *arg, const char *what)
{
    int64_t deadline = omb_monotonic_ms() + FX_DEADLINE_MS;
    while (!cond(arg)) {
        if (omb_monotonic_ms() > deadline) {
            fprintf(stderr, "timed out after %d ms waiting for %s\n", FX_DEADLINE_MS, what);
            return false;
        }
        sleep_ms(2);
    }
    return true;
}

struct idle_arg {
    struct fx_world *w;
    const int *slots;
};

static bool is_idle(void *arg)
{
    struct idle_arg *a = arg;
    for (const int *s = a->slots; s && *s >= 0; s++) {
        if (!fx_source_done(*s)) {
            return false;
        }
    }
    return omb_router_backlog(a->w->router) == 0;
}

bool fx_wait_idle(struct fx_world *w, const int *slots, const char *what)
{
    struct idle_arg a = { w, slots };
    return fx_wait(is_idle, &a, what);
}

/* ---- the configuration ---- */

static const char *tmp_dir(void)
{
    const char *d = getenv("TMPDIR");
    return d && d[0] ? d : "/tmp";
}

struct omb_config *fx_config(const char *xml)
{
    char path[512];
    struct omb_config *cfg = NULL;
    struct omb_diags diags;
    omb_diags_init(&diags);
    snprintf(path, sizeof(path), "%s/omb-runtime-test-XXXXXX.xml", tmp_dir());
    int fd = mkstemps(path, 4);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<omnibus xmlns=\"urn:omnibus:config:1\">\n%s\n</omnibus>\n", xml);
    fclose(f);
    if (omb_config_load(path, fx_lookup, NULL, &cfg, &diags) != 0) {
        fprintf(stderr, "the test config does not load:\n%s\n", xml);
        omb_diags_print(&diags, stderr);
    }
    omb_diags_clear(&diags);
    unlink(path);
    return cfg;
}

struct fx_world *fx_start_at(const char *xml, const char *store_path)
{
    static unsigned gen;
    struct omb_diags diags;
    char err[512];
    struct fx_world *w = calloc(1, sizeof(*w));
    omb_diags_init(&diags);
    if (!w) {
        return NULL;
    }
    w->rt.zctx = zmq_ctx_new();
    w->rt.gen = ++gen; /* each world its own endpoints */
    w->rt.retry_base_ms = 10;
    w->rt.retry_max_ms = 100;
    atomic_init(&w->rt.stopping, false);
    if (store_path) {
        snprintf(w->store_path, sizeof(w->store_path), "%s", store_path);
    } else {
        snprintf(w->store_path, sizeof(w->store_path), "%s/omb-runtime-test-XXXXXX.db",
                 tmp_dir());
        int fd = mkstemps(w->store_path, 3);
        if (fd < 0) {
            fprintf(stderr, "cannot create %s: %s\n", w->store_path, strerror(errno));
            w->store_path[0] = '\0';
            goto fail;
        }
        close(fd);
    }
    w->store = omb_store_open(w->store_path, NULL, err, sizeof(err));
    if (!w->store) {
        fprintf(stderr, "omb_store_open: %s\n", err);
        goto fail;
    }
    w->rt.store = w->store;
    w->cfg = fx_config(xml);
    if (!w->rt.zctx || !w->cfg) {
        goto fail;
    }
    w->inst = calloc(w->cfg->n_connectors ? w->cfg->n_connectors : 1, sizeof(*w->inst));
    if (!w->inst) {
        goto fail;
    }
    for (size_t i = 0; i < w->cfg->n_connectors; i++) {
        const struct omb_config_connector *cc = &w->cfg->connectors[i];
        w->inst[i] = omb_instance_new(&w->rt, cc, fx_plugin(cc->plugin), w->cfg->path, &diags);
        if (!w->inst[i]) {
            omb_diags_print(&diags, stderr);
            goto fail;
        }
        w->n_inst++;
    }
    w->routes = omb_routes_build(w->cfg, w->inst, w->n_inst, 1, err, sizeof(err));
    w->next_version = 2;
    if (!w->routes) {
        fprintf(stderr, "omb_routes_build: %s\n", err);
        goto fail;
    }
    w->router = omb_router_new(&w->rt, w->inst, w->n_inst, w->routes);
    if (!w->router) {
        w->routes = NULL; /* the router freed it */
    }
    if (!w->router || omb_router_start(w->router) != 0) {
        fprintf(stderr, "the router did not start\n");
        goto fail;
    }
    for (size_t i = 0; i < w->n_inst; i++) {
        int rc = omb_instance_run(w->inst[i]);
        if (rc != 0) {
            fprintf(stderr, "omb_instance_run(%s): %d\n", omb_instance_name(w->inst[i]), rc);
            goto fail;
        }
    }
    omb_diags_clear(&diags);
    return w;
fail:
    omb_diags_clear(&diags);
    fx_stop(w, 0);
    return NULL;
}

struct fx_world *fx_start(const char *xml)
{
    return fx_start_at(xml, NULL);
}

bool fx_swap(struct fx_world *w, const struct omb_config *cfg)
{
    char err[512];
    struct omb_routes *routes = omb_routes_build(cfg, w->inst, w->n_inst, w->next_version++,
                                                 err, sizeof(err));
    if (!routes) {
        fprintf(stderr, "omb_routes_build: %s\n", err);
        return false;
    }
    if (omb_router_swap(w->router, routes) != 0) {
        return false;
    }
    w->routes = omb_router_routes(w->router);
    return true;
}

bool fx_stop(struct fx_world *w, int64_t drain_ms)
{
    if (!w) {
        return true;
    }
    atomic_store(&w->rt.stopping, true);
    for (size_t i = 0; i < w->n_inst; i++) {
        omb_instance_stop_sources(w->inst[i]);
    }
    int64_t deadline = omb_monotonic_ms() + drain_ms;
    while (w->router && omb_router_backlog(w->router) > 0 && omb_monotonic_ms() < deadline) {
        sleep_ms(2);
    }
    int64_t left = w->router ? omb_router_backlog(w->router) : 0;
    if (left != 0 && drain_ms > 0) {
        fprintf(stderr, "drain: %lld event(s) still in flight after %lld ms\n", (long long)left,
                (long long)drain_ms);
    }
    if (w->store) {
        (void)omb_store_wait_acked(w->store, 30000); /* acks name their instances */
    }
    if (w->router) {
        omb_router_stop(w->router);
    }
    for (size_t i = 0; i < w->n_inst; i++) {
        omb_instance_exit(w->inst[i]);
    }
    if (w->router) {
        omb_router_destroy(&w->router); /* and every table it took */
        w->routes = NULL;
    }
    for (size_t i = 0; i < w->n_inst; i++) {
        omb_instance_destroy(&w->inst[i]);
    }
    free(w->inst);
    omb_routes_destroy(&w->routes);
    omb_config_destroy(&w->cfg);
    if (w->rt.zctx) {
        zmq_ctx_term(w->rt.zctx);
    }
    omb_store_close(&w->store);
    if (w->store_path[0] && !w->keep_store) {
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
            char p[600];
            snprintf(p, sizeof(p), "%s%s", w->store_path, suffixes[i]);
            unlink(p);
        }
    }
    free(w);
    return left == 0;
}

struct omb_instance *fx_inst(struct fx_world *w, const char *name)
{
    for (size_t i = 0; i < w->n_inst; i++) {
        if (strcmp(omb_instance_name(w->inst[i]), name) == 0) {
            return w->inst[i];
        }
    }
    return NULL;
}

struct omb_route_rt *fx_route(struct fx_world *w, const char *name)
{
    for (size_t i = 0; i < w->routes->n; i++) {
        if (strcmp(w->routes->v[i].name, name) == 0) {
            return &w->routes->v[i];
        }
    }
    return NULL;
}

/* ---- stderr capture ---- */

bool fx_capture_begin(struct fx_capture *c)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/omb-stderr-XXXXXX", tmp_dir());
    c->fd = mkstemp(path);
    if (c->fd < 0) {
        return false;
    }
    unlink(path);
    fflush(stderr);
    c->saved = dup(2);
    if (c->saved < 0 || dup2(c->fd, 2) < 0) {
        close(c->fd);
        return false;
    }
    return true;
}

char *fx_capture_end(struct fx_capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    off_t size = lseek(c->fd, 0, SEEK_END);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    size_t got = 0;
    if (buf && lseek(c->fd, 0, SEEK_SET) == 0) {
        while (got < (size_t)size) {
            ssize_t r = read(c->fd, buf + got, (size_t)size - got);
            if (r <= 0) {
                break;
            }
            got += (size_t)r;
        }
        buf[got] = '\0';
    }
    close(c->fd);
    return buf;
}
