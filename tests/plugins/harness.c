/* A fake host for plugin tests (see harness.h). */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness_priv.h"

struct omb_instance {
    struct harness *h;
};

struct h_log {
    int level;
    char *text;
};

struct h_metric {
    char *name;
    int64_t value;
};

struct h_ack {
    struct h_ack *next;
    omb_ack_fn fn;
    void *arg;
};

struct h_timer {
    uint64_t id;
    uint64_t interval_ms;
    omb_timer_fn fn;
    void *arg;
    bool active;
};

struct harness {
    struct omb_instance inst;
    char *path;
    void *dl;
    const struct omb_plugin_descriptor *desc;
    size_t noptions;
    bool *opt_set;
    void *ctx;
    bool created;

    json_t *events;
    bool keep;
    size_t emitted, emit_calls;
    void (*on_emit)(const json_t *event, void *arg);
    void *on_emit_arg;
    unsigned fail_after, fail_count;
    int fail_rc;
    bool stopping;

    struct omb_host_api api; /* the table the plugin gets: host_api, + acked emits if offered */
    bool offer_acks;
    struct h_ack *acks, *acks_tail; /* acknowledgements not yet delivered, in emit order */
    size_t nacks;
    bool hold_acks;
    unsigned commit_fail_after, commit_fail_count;

    struct h_timer *timers;
    size_t ntimers;
    uint64_t next_timer_id;

    struct h_log *logs;
    size_t nlogs;
    struct h_metric *counters, *gauges;
    size_t ncounters, ngauges;
};

static bool fake_clock;
static int64_t fake_clock_ms;

void *harness_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return q;
}

char *harness_xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return d;
}

/* ---- the fake host -------------------------------------------------------------------------- */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static void h_log(struct omb_instance *self, enum omb_log_level level, const char *fmt, ...)
{
    struct harness *h = self->h;
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0) {
        abort();
    }
    va_end(ap);
    fprintf(stderr, "[connector:%s:test] %s: %s\n", h->desc->name,
            (unsigned)level < 4 ? level_names[level] : "?", text);
    h->logs = harness_xrealloc(h->logs, (h->nlogs + 1) * sizeof(*h->logs));
    h->logs[h->nlogs++] = (struct h_log){ .level = (int)level, .text = text };
}

static bool valid_type(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > OMB_EVENT_TYPE_MAX) {
        return false;
    }
    bool word_start = true;
    for (const char *c = t; *c; c++) {
        if (word_start) {
            if (!(*c >= 'a' && *c <= 'z')) {
                return false;
            }
            word_start = false;
        } else if (*c == '.') {
            word_start = true;
        } else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) {
            return false;
        }
    }
    return !word_start;
}

int harness_event_check(const json_t *event, char *err, size_t errlen)
{
    if (!json_is_object(event)) {
        snprintf(err, errlen, "an event must be a JSON object");
        return OMB_EINVAL;
    }
    const json_t *type = json_object_get(event, "type");
    if (!type) {
        snprintf(err, errlen, "\"type\" is missing");
        return OMB_EINVAL;
    }
    if (!json_is_string(type) || !valid_type(json_string_value(type))) {
        snprintf(err, errlen, "\"type\" must be lowercase words joined by dots (like stock.level)");
        return OMB_EINVAL;
    }
    const json_t *key = json_object_get(event, "key");
    if (key && (!json_is_string(key) || json_string_length(key) > OMB_EVENT_KEY_MAX)) {
        snprintf(err, errlen, "\"key\" must be a string of at most %d bytes", OMB_EVENT_KEY_MAX);
        return OMB_EINVAL;
    }
    const json_t *time = json_object_get(event, "time");
    if (time && !json_is_string(time)) {
        snprintf(err, errlen, "\"time\" must be a string (RFC 3339)");
        return OMB_EINVAL;
    }
    const json_t *headers = json_object_get(event, "headers");
    if (headers) {
        const char *name;
        const json_t *v;
        if (!json_is_object(headers)) {
            snprintf(err, errlen, "\"headers\" must be an object");
            return OMB_EINVAL;
        }
        json_object_foreach ((json_t *)headers, name, v) {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "header \"%s\" must be a string", name);
                return OMB_EINVAL;
            }
        }
    }
    const json_t *body = json_object_get(event, "body");
    if (!body) {
        snprintf(err, errlen, "\"body\" is missing");
        return OMB_EINVAL;
    }
    if (!json_is_object(body)) {
        snprintf(err, errlen, "\"body\" must be an object");
        return OMB_EINVAL;
    }
    return 0;
}

/* emit's part before the event is checked: the failures a test asked for. 0 to go on. */
static int emit_injected(struct harness *h)
{
    h->emit_calls++;
    if (h->fail_count > 0 && h->fail_after == 0) {
        h->fail_count--;
        return h->fail_rc;
    }
    return 0;
}

/* emit's part once the event is accepted: count it, keep it (steals). */
static void emit_take(struct harness *h, json_t *event)
{
    if (h->fail_after > 0) {
        h->fail_after--;
    }
    h->emitted++;
    if (h->on_emit) {
        h->on_emit(event, h->on_emit_arg);
    }
    if (h->keep) {
        json_array_append_new(h->events, event); /* steals */
    } else {
        json_decref(event);
    }
}

static int h_emit(struct omb_instance *self, json_t *event)
{
    struct harness *h = self->h;
    char err[256];
    int rc = emit_injected(h);
    if (rc != 0) {
        return rc;
    }
    if (harness_event_check(event, err, sizeof(err)) != 0) {
        fprintf(stderr, "harness: emit refused an event: %s\n", err);
        return OMB_EINVAL;
    }
    emit_take(h, event);
    return 0;
}

/* Queue the acknowledgement of an accepted event: harness_run_acks (or the next
 * harness_fire_timers) delivers it. */
static void ack_queue(struct harness *h, omb_ack_fn fn, void *arg)
{
    struct h_ack *a = harness_xrealloc(NULL, sizeof(*a));
    *a = (struct h_ack){ .next = NULL, .fn = fn, .arg = arg };
    if (h->acks_tail) {
        h->acks_tail->next = a;
    } else {
        h->acks = a;
    }
    h->acks_tail = a;
    h->nacks++;
}

static int h_emit_acked(struct omb_instance *self, json_t *event, omb_ack_fn fn, void *arg)
{
    if (!fn) {
        return OMB_EINVAL;
    }
    int rc = h_emit(self, event);
    if (rc == 0) {
        ack_queue(self->h, fn, arg);
    }
    return rc;
}

/* As the core: the envelope is checked as an event without its body, the body only looks like an
 * object ({...}). The kept event holds the body parsed (or, if it does not parse, as a string). */
static int h_emit_raw_acked(struct omb_instance *self, const json_t *envelope, const char *body,
                            size_t body_len, omb_ack_fn fn, void *arg)
{
    struct harness *h = self->h;
    char err[256];
    if (!fn) {
        return OMB_EINVAL;
    }
    int rc = emit_injected(h);
    if (rc != 0) {
        return rc;
    }
    size_t first = 0, last = body_len;
    while (body && first < body_len && strchr(" \t\r\n", body[first])) {
        first++;
    }
    while (body && last > first && strchr(" \t\r\n", body[last - 1])) {
        last--;
    }
    if (!body || last - first < 2 || body[first] != '{' || body[last - 1] != '}') {
        fprintf(stderr, "harness: emit_raw refused an event: the body is not a JSON object\n");
        return OMB_EINVAL;
    }
    if (json_object_get(envelope, "body")) {
        fprintf(stderr, "harness: emit_raw refused an event: the envelope holds a body\n");
        return OMB_EINVAL;
    }
    json_t *event = json_deep_copy(envelope);
    if (!event || json_object_set_new(event, "body", json_object()) != 0 ||
        harness_event_check(event, err, sizeof(err)) != 0) {
        fprintf(stderr, "harness: emit_raw refused an event: %s\n", event ? err : "no memory");
        json_decref(event);
        return OMB_EINVAL;
    }
    json_t *b = json_loadb(body, body_len, JSON_DECODE_ANY, NULL);
    json_object_set_new(event, "body", b ? b : json_stringn(body, body_len));
    emit_take(h, event);
    ack_queue(h, fn, arg);
    return 0;
}

static const char *h_instance_name(struct omb_instance *self)
{
    return "test";
}

static int h_timer_add(struct omb_instance *self, uint64_t delay_ms, uint64_t interval_ms,
                       omb_timer_fn fn, void *arg, uint64_t *id_out)
{
    struct harness *h = self->h;
    h->timers = harness_xrealloc(h->timers, (h->ntimers + 1) * sizeof(*h->timers));
    uint64_t id = ++h->next_timer_id;
    h->timers[h->ntimers++] = (struct h_timer){
        .id = id, .interval_ms = interval_ms, .fn = fn, .arg = arg, .active = true
    };
    if (id_out) {
        *id_out = id;
    }
    return 0;
}

static int h_timer_cancel(struct omb_instance *self, uint64_t id)
{
    struct harness *h = self->h;
    for (size_t i = 0; i < h->ntimers; i++) {
        if (h->timers[i].id == id && h->timers[i].active) {
            h->timers[i].active = false;
            return 0;
        }
    }
    return OMB_ENOTFOUND;
}

static int h_fd_watch(struct omb_instance *self, int fd, unsigned events, omb_fd_fn fn, void *arg)
{
    return OMB_EINVAL; /* not faked yet */
}

static int h_fd_unwatch(struct omb_instance *self, int fd)
{
    return OMB_ENOTFOUND;
}

static struct h_metric *metric(struct h_metric **v, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*v)[i].name, name) == 0) {
            return &(*v)[i];
        }
    }
    *v = harness_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n] = (struct h_metric){ .name = harness_xstrdup(name), .value = 0 };
    return &(*v)[(*n)++];
}

static void h_counter_add(struct omb_instance *self, const char *name, uint64_t delta)
{
    metric(&self->h->counters, &self->h->ncounters, name)->value += (int64_t)delta;
}

static void h_gauge_set(struct omb_instance *self, const char *name, int64_t value)
{
    metric(&self->h->gauges, &self->h->ngauges, name)->value = value;
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    if (fake_clock) {
        return fake_clock_ms;
    }
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t h_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

static int64_t h_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

static bool h_stopping(struct omb_instance *self)
{
    return self->h->stopping;
}

static const struct omb_host_api host_api = {
    .abi_minor = OMB_ABI_MINOR,
    .size = sizeof(struct omb_host_api),
    .log = h_log,
    .emit = h_emit,
    .event_check = harness_event_check,
    .instance_name = h_instance_name,
    .timer_add = h_timer_add,
    .timer_cancel = h_timer_cancel,
    .fd_watch = h_fd_watch,
    .fd_unwatch = h_fd_unwatch,
    .metric_counter_add = h_counter_add,
    .metric_gauge_set = h_gauge_set,
    .now_ms = h_now_ms,
    .monotonic_ms = h_monotonic_ms,
    .stopping = h_stopping,
    /* emit_acked and emit_raw_acked only when the test offers them (harness_offer_acks) */
};

/* ---- loading -------------------------------------------------------------------------------- */

struct harness *harness_new_path(const char *path)
{
    struct harness *h = calloc(1, sizeof(*h));
    if (!h) {
        return NULL;
    }
    h->inst.h = h;
    h->keep = true;
    h->path = harness_xstrdup(path);
    h->events = json_array();
    h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h->dl) {
        fprintf(stderr, "harness: cannot load %s: %s\n", path, dlerror());
        goto fail;
    }
    h->desc = dlsym(h->dl, "omb_plugin_descriptor");
    if (!h->desc) {
        fprintf(stderr, "harness: %s has no omb_plugin_descriptor\n", path);
        goto fail;
    }
    if (h->desc->abi_major != OMB_ABI_MAJOR || h->desc->struct_size < sizeof(*h->desc) ||
        h->desc->ctx_size == 0 || !h->desc->create || !h->desc->destroy) {
        fprintf(stderr, "harness: %s: bad descriptor (ABI %u.%u, %u bytes)\n", path,
                h->desc->abi_major, h->desc->abi_minor, h->desc->struct_size);
        goto fail;
    }
    for (const struct omb_option *o = h->desc->options; o && o->name; o++) {
        h->noptions++;
    }
    h->opt_set = calloc(h->noptions + 1, sizeof(bool));
    h->ctx = calloc(1, h->desc->ctx_size);
    if (!h->opt_set || !h->ctx) {
        goto fail;
    }
    return h;
fail:
    harness_destroy(&h);
    return NULL;
}

struct harness *harness_new(const char *name)
{
    const char *top = getenv("top_builddir");
    char *path = harness_path("%s/connectors/%s/.libs/%s.so", top ? top : ".", name, name);
    if (access(path, F_OK) != 0) {
        const char *pp = getenv("OMNIBUS_PLUGIN_PATH");
        char *dirs = harness_xstrdup(pp ? pp : "");
        char *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            char *p = harness_path("%s/%s.so", d, name);
            if (access(p, F_OK) == 0) {
                free(path);
                path = p;
                break;
            }
            free(p);
        }
        free(dirs);
    }
    struct harness *h = harness_new_path(path);
    free(path);
    return h;
}

static void free_option_values(struct harness *h)
{
    if (!h->ctx || !h->desc) {
        return;
    }
    for (size_t i = 0; i < h->noptions; i++) {
        harness_option_free(&h->desc->options[i], h->ctx);
    }
}

void harness_destroy(struct harness **hp)
{
    if (!hp || !*hp) {
        return;
    }
    struct harness *h = *hp;
    if (h->created) {
        /* The daemon runs every acknowledgement before destroy when it stops normally; a test
         * that holds them sees destroy without them (an abnormal end). */
        for (int i = 0; i < 100 && !h->hold_acks && harness_run_acks(h) > 0; i++) {
        }
        h->desc->destroy(h->ctx);
    }
    while (h->acks) {
        struct h_ack *a = h->acks;
        h->acks = a->next;
        free(a);
    }
    free_option_values(h);
    free(h->ctx);
    free(h->opt_set);
    json_decref(h->events);
    free(h->timers);
    for (size_t i = 0; i < h->nlogs; i++) {
        free(h->logs[i].text);
    }
    free(h->logs);
    for (size_t i = 0; i < h->ncounters; i++) {
        free(h->counters[i].name);
    }
    free(h->counters);
    for (size_t i = 0; i < h->ngauges; i++) {
        free(h->gauges[i].name);
    }
    free(h->gauges);
    const char *keep = getenv("OMB_NO_DLCLOSE");
    if (h->dl && !(keep && keep[0] == '1')) {
        dlclose(h->dl);
    }
    free(h->path);
    free(h);
    *hp = NULL;
}

const struct omb_plugin_descriptor *harness_descriptor(const struct harness *h)
{
    return h->desc;
}

void *harness_ctx(struct harness *h)
{
    return h->ctx;
}

int harness_set_option(struct harness *h, const char *name, const char *value)
{
    for (size_t i = 0; i < h->noptions; i++) {
        if (strcmp(h->desc->options[i].name, name) == 0) {
            int rc = harness_option_store(&h->desc->options[i], h->ctx, value);
            if (rc == 0) {
                h->opt_set[i] = true;
            }
            return rc;
        }
    }
    fprintf(stderr, "harness: plugin %s has no option %s\n", h->desc->name, name);
    return OMB_ENOTFOUND;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int harness_create(struct harness *h)
{
    for (size_t i = 0; i < h->noptions; i++) {
        const struct omb_option *o = &h->desc->options[i];
        if (h->opt_set[i]) {
            continue;
        }
        if (o->flags & OMB_OPTF_REQUIRED) {
            fprintf(stderr, "harness: option %s is required\n", o->name);
            return OMB_EINVAL;
        }
        if (o->default_value) {
            int rc = harness_option_store(o, h->ctx, o->default_value);
            if (rc != 0) {
                fprintf(stderr, "harness: the default of %s does not parse\n", o->name);
                return rc;
            }
        }
    }
    h->api = host_api;
    if (h->offer_acks) {
        h->api.emit_acked = h_emit_acked;
        h->api.emit_raw_acked = h_emit_raw_acked;
    }
    int rc = h->desc->create(&h->api, &h->inst, h->ctx);
    h->created = rc == 0;
    return rc;
}

int harness_validate(struct harness *h, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }
    return h->desc->validate ? h->desc->validate(h->ctx, err, errlen) : 0;
}

int harness_start(struct harness *h)
{
    return h->desc->start ? h->desc->start(h->ctx) : 0;
}

int harness_deliver(struct harness *h, const json_t *event, struct omb_deliver_result *res)
{
    memset(res, 0, sizeof(*res));
    return h->desc->deliver(h->ctx, event, res);
}

int harness_stop(struct harness *h)
{
    return h->desc->stop ? h->desc->stop(h->ctx) : 0;
}

/* ---- accessors ------------------------------------------------------------------------------ */

json_t *harness_events(struct harness *h)
{
    return h->events;
}

size_t harness_emitted(const struct harness *h)
{
    return h->emitted;
}

size_t harness_emit_calls(const struct harness *h)
{
    return h->emit_calls;
}

void harness_keep_events(struct harness *h, bool keep)
{
    h->keep = keep;
}

void harness_on_emit(struct harness *h, void (*fn)(const json_t *event, void *arg), void *arg)
{
    h->on_emit = fn;
    h->on_emit_arg = arg;
}

void harness_emit_fail(struct harness *h, unsigned after, unsigned count, int rc)
{
    h->fail_after = after;
    h->fail_count = count;
    h->fail_rc = rc;
}

void harness_set_stopping(struct harness *h, bool stopping)
{
    h->stopping = stopping;
}

size_t harness_timers(const struct harness *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->ntimers; i++) {
        n += h->timers[i].active;
    }
    return n;
}

void harness_offer_acks(struct harness *h, bool offer)
{
    h->offer_acks = offer;
}

int harness_run_acks(struct harness *h)
{
    /* Only those queued now: the callbacks may emit again, and those wait for the next call. */
    size_t n = h->nacks;
    int ran = 0;
    for (size_t i = 0; i < n && h->acks; i++) {
        struct h_ack *a = h->acks;
        h->acks = a->next;
        if (!h->acks) {
            h->acks_tail = NULL;
        }
        h->nacks--;
        int rc = 0;
        if (h->commit_fail_count > 0 && h->commit_fail_after == 0) {
            h->commit_fail_count--;
            rc = OMB_EIO;
        } else if (h->commit_fail_after > 0) {
            h->commit_fail_after--;
        }
        omb_ack_fn fn = a->fn;
        void *arg = a->arg;
        free(a);
        fn(arg, rc);
        ran++;
    }
    return ran;
}

size_t harness_acks_pending(const struct harness *h)
{
    return h->nacks;
}

void harness_hold_acks(struct harness *h, bool hold)
{
    h->hold_acks = hold;
}

void harness_commit_fail(struct harness *h, unsigned after, unsigned count)
{
    h->commit_fail_after = after;
    h->commit_fail_count = count;
}

int harness_fire_timers(struct harness *h)
{
    int fired = 0;
    if (!h->hold_acks) {
        (void)harness_run_acks(h); /* the commits done since the last turn of the "loop" */
    }
    size_t n = h->ntimers; /* timers added by a callback wait for the next call */
    for (size_t i = 0; i < n; i++) {
        if (!h->timers[i].active) {
            continue;
        }
        if (h->timers[i].interval_ms == 0) {
            h->timers[i].active = false;
        }
        /* The callback may add timers (moving the array): copy what we need first. */
        omb_timer_fn fn = h->timers[i].fn;
        void *arg = h->timers[i].arg;
        fn(arg);
        fired++;
    }
    return fired;
}

void harness_clock_set(int64_t ms)
{
    fake_clock = true;
    fake_clock_ms = ms;
}

void harness_clock_advance(int64_t ms)
{
    fake_clock_ms += ms;
}

size_t harness_log_count(const struct harness *h, int level, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nlogs; i++) {
        if ((level < 0 || h->logs[i].level == level) &&
            (!needle || strstr(h->logs[i].text, needle))) {
            n++;
        }
    }
    return n;
}

uint64_t harness_counter(const struct harness *h, const char *name)
{
    for (size_t i = 0; i < h->ncounters; i++) {
        if (strcmp(h->counters[i].name, name) == 0) {
            return (uint64_t)h->counters[i].value;
        }
    }
    return 0;
}

int64_t harness_gauge(const struct harness *h, const char *name)
{
    for (size_t i = 0; i < h->ngauges; i++) {
        if (strcmp(h->gauges[i].name, name) == 0) {
            return h->gauges[i].value;
        }
    }
    return 0;
}
