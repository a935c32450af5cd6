/* The host API table (omnibus/host.h) as the daemon implements it: logging with secrets masked,
 * emit into the journal, timers, fd watches and metrics, all for the calling instance. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "envelope.h"
#include "err_str.h"
#include "host_http.h"
#include "instance.h"
#include "instance_priv.h"
#include "isolate.h"
#include "log.h"
#include "store.h"

static void host_log(struct omb_instance *self, enum omb_log_level level, const char *fmt, ...)
    OMB_PRINTF(3, 4);

static void host_log(struct omb_instance *self, enum omb_log_level level, const char *fmt, ...)
{
    int limit = atomic_load(&self->own_level) ? atomic_load(&self->log_level)
                                              : (int)omb_log_get_level();
    if ((int)level > limit || level < OMB_LOG_ERROR) {
        return;
    }
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* A plugin should never log a secret; if one slips through, mask it. Search on after the
     * masked part: a secret made of asterisks (a "********" placeholder) would otherwise match
     * its own mask forever. */
    for (char **s = self->secrets; s && *s; s++) {
        size_t len = strlen(*s);
        for (char *p = strstr(buf, *s); p; p = strstr(p + len, *s)) {
            memset(p, '*', len);
        }
    }
    omb_log_write(level, self->scope, buf);
}

static int host_event_check(const json_t *event, char *err, size_t errlen)
{
    return omb_event_check(event, err, errlen);
}

/* The commit of a plain emit: nobody waits for it, so a failure is logged and counted here. */
static void emit_committed(void *arg, int64_t seq, int rc)
{
    (void)seq;
    struct omb_instance *self = arg;
    if (rc < 0) {
        char why[256];
        omb_store_last_error(self->rt->store, why, sizeof(why));
        atomic_fetch_add(&self->stats.lost, 1);
        omb_log(OMB_LOG_ERROR, self->scope, "an emitted event was not journaled: %s", why);
    }
}

void omb_emit_scope_init(struct omb_emit_scope *scope, void (*done)(struct omb_emit_scope *))
{
    atomic_init(&scope->outstanding, 1);
    atomic_init(&scope->failed, false);
    scope->done = done;
}

void omb_emit_scope_release(struct omb_emit_scope *scope)
{
    if (atomic_fetch_sub(&scope->outstanding, 1) == 1) {
        scope->done(scope);
    }
}

void omb_instance_set_emit_scope(struct omb_instance *inst, struct omb_emit_scope *scope)
{
    inst->emit_scope = scope;
}

static void scope_committed(void *arg, int64_t seq, int rc)
{
    (void)seq;
    struct omb_emit_scope *scope = arg;
    if (rc < 0) {
        atomic_store(&scope->failed, true);
    }
    omb_emit_scope_release(scope);
}

/* The ack of an event with a dedupe key: counts a repeat (acknowledged with rc 0 like a
 * commit, but not journaled: see store.h) for the instance, then runs the ack it wraps. */
struct dedupe_ack {
    struct omb_instance *inst;
    omb_store_ack_fn ack;
    void *arg;
};

static void dedupe_committed(void *arg, int64_t seq, int rc)
{
    struct dedupe_ack da = *(struct dedupe_ack *)arg;
    free(arg);
    if (OMB_STORE_IS_DUPLICATE(seq, rc)) {
        atomic_fetch_add(&da.inst->stats.deduplicated, 1);
    }
    da.ack(da.arg, seq, rc);
}

/* Append sealed frames to the journal, with the event's dedupe key (borrowed, NULL: none) held
 * for the instance's dedupe-window. 0 (queued for the next group commit; ack is called on the
 * store's writer thread once it is on disk, or known to repeat an event already there: the
 * source is told success either way), OMB_EAGAIN (the store is full or past its budget:
 * nothing was queued), or another error. Does not free anything. */
static int journal_append(struct omb_instance *self, const char *env, size_t env_len,
                          const char *body, size_t body_len, const char *key, const char *dedupe,
                          unsigned flags, omb_store_ack_fn ack, void *arg)
{
    if (self->rt->isolated_child) {
        /* The daemon journals it, dedupes it and answers for the scope (isolate_child.c). */
        return omb_isolate_uplink_emit(self, env, env_len, body, body_len, ack, arg);
    }
    struct omb_store *store = self->rt->store;
    int64_t budget = atomic_load(&self->rt->store_budget);
    if (budget > 0 && omb_store_used_bytes(store) >= budget) {
        return OMB_EAGAIN;
    }
    char id[160], type[OMB_EVENT_TYPE_MAX + 1];
    omb_envelope_field(env, env_len, "id", id, sizeof(id));
    omb_envelope_field(env, env_len, "type", type, sizeof(type));
    struct omb_emit_scope *scope = ack ? NULL : self->emit_scope;
    if (scope) {
        ack = scope_committed;
        arg = scope;
        atomic_fetch_add(&scope->outstanding, 1);
    }
    struct omb_store_event ev = {
        .env = env, .env_len = env_len, .body = body, .body_len = body_len, .id = id,
        .source = self->name, .type = type, .key = key, .flags = flags};
    if (!ack) {
        ack = emit_committed;
        arg = self;
    }
    struct dedupe_ack *da = NULL;
    int rc = 0;
    if (dedupe && self->dedupe_window_us > 0) {
        /* Only events with a key pay for the wrapper. */
        if (!(da = malloc(sizeof(*da)))) {
            rc = OMB_ENOMEM;
        } else {
            *da = (struct dedupe_ack){.inst = self, .ack = ack, .arg = arg};
            ev.dedupe = dedupe;
            ev.dedupe_window_us = self->dedupe_window_us;
            ack = dedupe_committed;
            arg = da;
        }
    }
    if (rc == 0 && (rc = omb_store_append_event(store, &ev, ack, arg)) != 0) {
        free(da);
    }
    if (rc != 0 && scope) {
        atomic_fetch_sub(&scope->outstanding, 1); /* its own hold keeps it above 0 */
    }
    if (rc == 0) {
        atomic_fetch_add(&self->stats.emitted, 1);
    } else if (rc != OMB_EAGAIN) {
        host_log(self, OMB_LOG_ERROR, "emit: the journal refused the event: %s",
                 omb_strerror(rc));
    }
    return rc;
}

static int emit_allowed(struct omb_instance *self)
{
    if (!(self->desc->capabilities & OMB_CAP_SOURCE)) {
        host_log(self, OMB_LOG_ERROR, "emit: this plugin did not declare the source capability");
        return OMB_EINVAL;
    }
    return self->sources_stopped ? OMB_ESTOPPED : 0;
}

/* An acknowledged emit's outcome, carried from the writer thread to the instance's. */
struct posted_ack {
    struct omb_instance *inst;
    omb_ack_fn fn;
    void *arg;
    int rc;
};

static void run_posted_ack(struct omb_instance *inst, void *arg)
{
    (void)inst;
    struct posted_ack *pa = arg;
    pa->fn(pa->arg, pa->rc);
    free(pa);
}

/* Writer thread: hand the outcome to the plugin on its own thread. */
static void acked_committed(void *arg, int64_t seq, int rc)
{
    (void)seq;
    struct posted_ack *pa = arg;
    pa->rc = rc;
    if (omb_instance_post(pa->inst, run_posted_ack, pa) != 0) {
        /* The instance has ended: nobody is left to tell. */
        omb_log(OMB_LOG_WARN, pa->inst->scope, "an acknowledgement came after the connector "
                "stopped (%s)", rc == 0 ? "the event is stored" : "the event was not stored");
        free(pa);
    }
}

static int emit_json(struct omb_instance *self, json_t *event, omb_store_ack_fn ack, void *arg)
{
    char err[256];
    char *env = NULL, *body = NULL;
    size_t env_len = 0, body_len = 0;
    const char *key = NULL;

    int rc = emit_allowed(self);
    if (rc != 0) {
        return rc;
    }
    rc = omb_event_seal(event, self->name, &env, &env_len, &body, &body_len, &key, err,
                        sizeof(err));
    if (rc != 0) {
        host_log(self, OMB_LOG_DEBUG, "emit refused: %s", err);
        return rc;
    }
    rc = journal_append(self, env, env_len, body, body_len, key, omb_event_dedupe(event), 0,
                        ack, arg);
    free(env);
    free(body);
    if (rc == 0) {
        json_decref(event);
    }
    return rc;
}

static int emit_text(struct omb_instance *self, const json_t *envelope, const char *body,
                     size_t body_len, omb_store_ack_fn ack, void *arg)
{
    char err[256];
    char *env = NULL;
    size_t env_len = 0;
    const char *key = NULL;

    int rc = emit_allowed(self);
    if (rc != 0) {
        return rc;
    }
    /* Not a parse: a cheap guard against what is plainly no object. */
    size_t first = 0, last = body_len;
    while (body && first < body_len && strchr(" \t\r\n", body[first])) {
        first++;
    }
    while (body && last > first && strchr(" \t\r\n", body[last - 1])) {
        last--;
    }
    if (!body || last - first < 2 || body[first] != '{' || body[last - 1] != '}') {
        host_log(self, OMB_LOG_DEBUG, "emit_raw refused: the body is not a JSON object");
        return OMB_EINVAL;
    }
    rc = omb_envelope_seal(envelope, self->name, &env, &env_len, &key, err, sizeof(err));
    if (rc != 0) {
        host_log(self, OMB_LOG_DEBUG, "emit_raw refused: %s", err);
        return rc;
    }
    rc = journal_append(self, env, env_len, body, body_len, key, omb_event_dedupe(envelope),
                        OMB_STORE_UNCHECKED, ack, arg);
    free(env);
    return rc;
}

int omb_host_emit_forward(struct omb_instance *self, const json_t *envelope, const char *body,
                          size_t body_len, omb_store_ack_fn ack, void *arg)
{
    return emit_text(self, envelope, body, body_len, ack, arg);
}

static int host_emit(struct omb_instance *self, json_t *event)
{
    return emit_json(self, event, NULL, NULL);
}

static int host_emit_raw(struct omb_instance *self, const json_t *envelope, const char *body,
                         size_t body_len)
{
    return emit_text(self, envelope, body, body_len, NULL, NULL);
}

static struct posted_ack *posted_ack_new(struct omb_instance *self, omb_ack_fn fn, void *arg)
{
    struct posted_ack *pa = fn ? malloc(sizeof(*pa)) : NULL;
    if (pa) {
        *pa = (struct posted_ack){ .inst = self, .fn = fn, .arg = arg };
    }
    return pa;
}

static int host_emit_acked(struct omb_instance *self, json_t *event, omb_ack_fn fn, void *arg)
{
    if (!fn) {
        return OMB_EINVAL;
    }
    struct posted_ack *pa = posted_ack_new(self, fn, arg);
    if (!pa) {
        return OMB_ENOMEM;
    }
    int rc = emit_json(self, event, acked_committed, pa);
    if (rc != 0) {
        free(pa);
    }
    return rc;
}

static int host_emit_raw_acked(struct omb_instance *self, const json_t *envelope,
                               const char *body, size_t body_len, omb_ack_fn fn, void *arg)
{
    if (!fn) {
        return OMB_EINVAL;
    }
    struct posted_ack *pa = posted_ack_new(self, fn, arg);
    if (!pa) {
        return OMB_ENOMEM;
    }
    int rc = emit_text(self, envelope, body, body_len, acked_committed, pa);
    if (rc != 0) {
        free(pa);
    }
    return rc;
}

#define STATE_KEY_MAX 200

static bool state_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n >= 1 && n <= STATE_KEY_MAX;
}

/* In the daemon, the store; an isolated plugin's child asks the daemon over the link. */
static bool state_available(struct omb_instance *self)
{
    if (!self->rt->store) {
        host_log(self, OMB_LOG_ERROR, "state is not available without a store");
        return false;
    }
    return true;
}

static json_t *host_state_get(struct omb_instance *self, const char *key)
{
    if (state_key_ok(key) && self->rt->isolated_child) {
        return omb_isolate_uplink_state_get(self, key);
    }
    if (!state_key_ok(key) || !state_available(self)) {
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = omb_store_state_get(self->rt->store, self->name, key, &text, &len);
    if (rc != 0) {
        if (rc != OMB_ENOTFOUND) {
            host_log(self, OMB_LOG_ERROR, "state_get %s: %s", key, omb_strerror(rc));
        }
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    free(text);
    if (!v) {
        host_log(self, OMB_LOG_ERROR, "state_get %s: the stored value is not JSON: %s", key,
                 jerr.text);
    }
    return v;
}

static int host_state_put(struct omb_instance *self, const char *key, const json_t *value)
{
    if (!state_key_ok(key)) {
        return OMB_EINVAL;
    }
    if (!self->rt->isolated_child && !state_available(self)) {
        return OMB_EIO;
    }
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (value && !text) {
        return OMB_ENOMEM;
    }
    int rc = self->rt->isolated_child
                 ? omb_isolate_uplink_state_put(self, key, text, text ? strlen(text) : 0)
                 : omb_store_state_put(self->rt->store, self->name, key, text,
                                       text ? strlen(text) : 0);
    free(text);
    if (rc != 0 && rc != OMB_EINVAL) {
        host_log(self, OMB_LOG_ERROR, "state_put %s: %s", key, omb_strerror(rc));
        rc = OMB_EIO;
    }
    return rc;
}

static const char *host_instance_name(struct omb_instance *self)
{
    return self->name;
}

static int host_timer_add(struct omb_instance *self, uint64_t delay_ms, uint64_t interval_ms,
                          omb_timer_fn fn, void *arg, uint64_t *id_out)
{
    if (!fn) {
        return OMB_EINVAL;
    }
    if (self->n_timers == self->cap_timers) {
        size_t cap = self->cap_timers ? self->cap_timers * 2 : 8;
        struct host_timer *v = realloc(self->timers, cap * sizeof(*v));
        if (!v) {
            return OMB_ENOMEM;
        }
        self->timers = v;
        self->cap_timers = cap;
    }
    uint64_t id = ++self->next_timer_id;
    self->timers[self->n_timers++] = (struct host_timer){
        .id = id, .due = omb_monotonic_ms() + (int64_t)delay_ms, .interval = interval_ms,
        .fn = fn, .arg = arg };
    if (id_out) {
        *id_out = id;
    }
    return 0;
}

static int host_timer_cancel(struct omb_instance *self, uint64_t id)
{
    for (size_t i = 0; i < self->n_timers; i++) {
        if (self->timers[i].id == id) {
            self->timers[i] = self->timers[--self->n_timers];
            return 0;
        }
    }
    return OMB_ENOTFOUND;
}

int64_t omb_host_timers_next(struct omb_instance *inst)
{
    int64_t next = -1;
    for (size_t i = 0; i < inst->n_timers; i++) {
        if (next < 0 || inst->timers[i].due < next) {
            next = inst->timers[i].due;
        }
    }
    return next;
}

void omb_host_timers_run(struct omb_instance *inst)
{
    int64_t now = omb_monotonic_ms();
    /* A callback may add or cancel timers, so look each due one up by id before firing. */
    uint64_t due_ids[64];
    size_t n_due = 0;
    for (size_t i = 0; i < inst->n_timers && n_due < 64; i++) {
        if (inst->timers[i].due <= now) {
            due_ids[n_due++] = inst->timers[i].id;
        }
    }
    for (size_t k = 0; k < n_due; k++) {
        for (size_t i = 0; i < inst->n_timers; i++) {
            if (inst->timers[i].id != due_ids[k]) {
                continue;
            }
            struct host_timer t = inst->timers[i];
            if (t.interval > 0) {
                inst->timers[i].due = now + (int64_t)t.interval;
            } else {
                inst->timers[i] = inst->timers[--inst->n_timers];
            }
            t.fn(t.arg);
            break;
        }
    }
}

void omb_host_timers_clear(struct omb_instance *inst)
{
    free(inst->timers);
    inst->timers = NULL;
    inst->n_timers = inst->cap_timers = 0;
}

static int host_fd_watch(struct omb_instance *self, int fd, unsigned events, omb_fd_fn fn,
                         void *arg)
{
    if (fd < 0 || !fn || !events) {
        return OMB_EINVAL;
    }
    for (size_t i = 0; i < self->n_fds; i++) {
        if (self->fds[i].fd == fd) {
            self->fds[i] = (struct host_fd){ fd, events, fn, arg };
            return 0;
        }
    }
    if (self->n_fds == OMB_MAX_FDS) {
        return OMB_ENOMEM;
    }
    self->fds[self->n_fds++] = (struct host_fd){ fd, events, fn, arg };
    return 0;
}

static int host_fd_unwatch(struct omb_instance *self, int fd)
{
    for (size_t i = 0; i < self->n_fds; i++) {
        if (self->fds[i].fd == fd) {
            self->fds[i] = self->fds[--self->n_fds];
            return 0;
        }
    }
    return OMB_ENOTFOUND;
}

size_t omb_host_fds_count(struct omb_instance *inst)
{
    return inst->n_fds;
}

size_t omb_host_fds_fill(struct omb_instance *inst, zmq_pollitem_t *items, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < inst->n_fds && n < max; i++, n++) {
        short ev = 0;
        if (inst->fds[i].events & OMB_FD_READ) {
            ev |= ZMQ_POLLIN;
        }
        if (inst->fds[i].events & OMB_FD_WRITE) {
            ev |= ZMQ_POLLOUT;
        }
        items[n] = (zmq_pollitem_t){ .socket = NULL, .fd = inst->fds[i].fd, .events = ev };
    }
    return n;
}

void omb_host_fds_dispatch(struct omb_instance *inst, const zmq_pollitem_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!items[i].revents) {
            continue;
        }
        unsigned ev = 0;
        if (items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
            ev |= OMB_FD_READ;
        }
        if (items[i].revents & ZMQ_POLLOUT) {
            ev |= OMB_FD_WRITE;
        }
        /* The watch may have been removed by an earlier callback in this round. */
        for (size_t k = 0; k < inst->n_fds; k++) {
            if (inst->fds[k].fd == items[i].fd) {
                inst->fds[k].fn(items[i].fd, ev, inst->fds[k].arg);
                break;
            }
        }
    }
}

static void metric_set(struct omb_instance *self, const char *name, bool gauge, int64_t value)
{
    pthread_mutex_lock(&self->metrics_lock);
    for (size_t i = 0; i < self->n_metrics; i++) {
        if (strcmp(self->metrics[i].name, name) == 0) {
            self->metrics[i].value = gauge ? value : self->metrics[i].value + value;
            goto out;
        }
    }
    if (self->n_metrics == self->cap_metrics) {
        size_t cap = self->cap_metrics ? self->cap_metrics * 2 : 8;
        struct host_metric *v = realloc(self->metrics, cap * sizeof(*v));
        if (!v) {
            goto out;
        }
        self->metrics = v;
        self->cap_metrics = cap;
    }
    char *copy = strdup(name);
    if (copy) {
        self->metrics[self->n_metrics++] = (struct host_metric){ copy, gauge, value };
    }
out:
    pthread_mutex_unlock(&self->metrics_lock);
}

static void host_metric_counter_add(struct omb_instance *self, const char *name, uint64_t delta)
{
    metric_set(self, name, false, (int64_t)delta);
}

static void host_metric_gauge_set(struct omb_instance *self, const char *name, int64_t value)
{
    metric_set(self, name, true, value);
}

json_t *omb_instance_metrics(const struct omb_instance *inst)
{
    struct omb_instance *self = (struct omb_instance *)inst;
    json_t *out = json_object();
    pthread_mutex_lock(&self->metrics_lock);
    for (size_t i = 0; out && i < self->n_metrics; i++) {
        json_object_set_new(out, self->metrics[i].name, json_integer(self->metrics[i].value));
    }
    pthread_mutex_unlock(&self->metrics_lock);
    return out;
}

static bool host_stopping(struct omb_instance *self)
{
    return self->sources_stopped || atomic_load(&self->rt->stopping);
}

static const struct omb_host_api host_api = {
    .abi_minor = OMB_ABI_MINOR,
    .size = sizeof(struct omb_host_api),
    .log = host_log,
    .emit = host_emit,
    .event_check = host_event_check,
    .instance_name = host_instance_name,
    .timer_add = host_timer_add,
    .timer_cancel = host_timer_cancel,
    .fd_watch = host_fd_watch,
    .fd_unwatch = host_fd_unwatch,
    .metric_counter_add = host_metric_counter_add,
    .metric_gauge_set = host_metric_gauge_set,
    .now_ms = omb_now_ms,
    .monotonic_ms = omb_monotonic_ms,
    .stopping = host_stopping,
    /* ABI 1.1 (host_http.c) */
    .http_route_add = omb_host_http_route_add,
    .hmac = omb_host_hmac,
    .mem_equal_ct = omb_host_mem_equal_ct,
    .base64_encode = omb_host_base64_encode,
    .emit_raw = host_emit_raw,
    .base64_decode = omb_host_base64_decode,
    /* ABI 1.2 */
    .emit_acked = host_emit_acked,
    .emit_raw_acked = host_emit_raw_acked,
    /* ABI 1.3 */
    .state_get = host_state_get,
    .state_put = host_state_put,
};

const struct omb_host_api *omb_host_api_table(void)
{
    return &host_api;
}

int omb_host_collect_secrets(struct omb_instance *inst, const struct omb_config_connector *cc)
{
    (void)cc;
    size_t n = 0;
    const struct omb_option *opt = inst->desc->options;
    for (; opt && opt->name; opt++) {
        n++;
    }
    inst->secrets = calloc(n + 1, sizeof(char *));
    if (!inst->secrets) {
        return OMB_ENOMEM;
    }
    size_t k = 0;
    for (opt = inst->desc->options; opt && opt->name; opt++) {
        bool sensitive = opt->type == OMB_OPT_SECRET || (opt->flags & OMB_OPTF_SENSITIVE);
        bool stringy = opt->type == OMB_OPT_SECRET || opt->type == OMB_OPT_STRING ||
                       opt->type == OMB_OPT_URL;
        if (!sensitive || !stringy) {
            continue;
        }
        const char *v = *(char *const *)((const char *)inst->ctx + opt->offset);
        /* Masking very short values would garble ordinary words in log lines. */
        if (v && strlen(v) >= 4) {
            inst->secrets[k++] = (char *)v; /* borrowed from ctx, which outlives the logs */
        }
    }
    return 0;
}

void omb_host_free(struct omb_instance *inst)
{
    free(inst->secrets);
    inst->secrets = NULL;
    omb_host_timers_clear(inst);
    for (size_t i = 0; i < inst->n_metrics; i++) {
        free(inst->metrics[i].name);
    }
    free(inst->metrics);
    inst->metrics = NULL;
    inst->n_metrics = inst->cap_metrics = 0;
}
