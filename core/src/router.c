/* The router's route table and worker threads. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "envelope.h"
#include "jq.h"
#include "log.h"
#include "router.h"

/* ---- route table ---- */

static void route_free(struct omb_route_rt *r)
{
    free(r->name);
    for (size_t i = 0; i < r->n_from; i++) {
        free(r->from[i].connector);
        free(r->from[i].pattern);
    }
    free(r->from);
    free(r->filter);
    free(r->transform);
    free(r->out_type);
    free(r->to);
    for (size_t i = 0; i < r->n_to; i++) {
        free(r->to_names[i]);
    }
    free(r->to_names);
}

void omb_routes_destroy(struct omb_routes **routesp)
{
    if (!routesp || !*routesp) {
        return;
    }
    struct omb_routes *routes = *routesp;
    for (size_t i = 0; i < routes->n; i++) {
        route_free(&routes->v[i]);
    }
    free(routes->v);
    free(routes);
    *routesp = NULL;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s) {
        return NULL;
    }
    char *d = strdup(s);
    if (!d) {
        *oom = true;
    }
    return d;
}

struct omb_routes *omb_routes_build(const struct omb_config *cfg, struct omb_instance **inst,
                                    size_t n_inst, unsigned version, char *err, size_t errlen)
{
    bool oom = false;
    struct omb_routes *routes = calloc(1, sizeof(*routes));
    if (!routes) {
        goto nomem;
    }
    routes->version = version;
    routes->v = calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(*routes->v));
    if (!routes->v) {
        goto nomem;
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct omb_config_route *cr = &cfg->routes[i];
        struct omb_route_rt *r = &routes->v[i];
        routes->n++;
        r->name = dup_or_null(cr->name, &oom);
        r->enabled = cr->enabled;
        r->filter = dup_or_null(cr->filter, &oom);
        r->transform = dup_or_null(cr->transform, &oom);
        r->out_type = dup_or_null(cr->transform_type, &oom);
        r->from = calloc(cr->n_from ? cr->n_from : 1, sizeof(*r->from));
        r->to = calloc(cr->n_to ? cr->n_to : 1, sizeof(*r->to));
        r->to_names = calloc(cr->n_to ? cr->n_to : 1, sizeof(*r->to_names));
        if (oom || !r->from || !r->to || !r->to_names) {
            goto nomem;
        }
        for (size_t f = 0; f < cr->n_from; f++) {
            r->from[f].connector = dup_or_null(cr->from[f].connector, &oom);
            r->from[f].pattern = dup_or_null(cr->from[f].type ? cr->from[f].type : "*", &oom);
            r->n_from++;
        }
        for (size_t t = 0; t < cr->n_to; t++) {
            size_t k = 0;
            while (k < n_inst && strcmp(omb_instance_name(inst[k]), cr->to[t].connector) != 0) {
                k++;
            }
            if (k == n_inst) {
                snprintf(err, errlen, "route '%s' sends to '%s', which is not running",
                         cr->name, cr->to[t].connector);
                omb_routes_destroy(&routes);
                return NULL;
            }
            r->to[t] = k;
            r->to_names[t] = dup_or_null(cr->to[t].connector, &oom);
            r->n_to++;
        }
        if (oom) {
            goto nomem;
        }
    }
    return routes;
nomem:
    snprintf(err, errlen, "out of memory");
    omb_routes_destroy(&routes);
    return NULL;
}

json_t *omb_routes_stats(const struct omb_routes *routes)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < routes->n; i++) {
        const struct omb_route_rt *r = &routes->v[i];
        json_array_append_new(
            a, json_pack("{s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", r->name,
                         "enabled", r->enabled, "paused", atomic_load(&r->paused), "in",
                         (json_int_t)atomic_load(&r->in), "passed",
                         (json_int_t)atomic_load(&r->passed), "filtered",
                         (json_int_t)atomic_load(&r->filtered), "transformed",
                         (json_int_t)atomic_load(&r->transformed), "errors",
                         (json_int_t)atomic_load(&r->errors), "queued",
                         (json_int_t)atomic_load(&r->queued), "held",
                         (json_int_t)atomic_load(&r->held)));
    }
    return a;
}

/* ---- workers ---- */

struct compiled_route {
    struct omb_jq *filter;
    struct omb_jq *transform;
    bool broken; /* a program failed to compile here: count its events as errors */
};

struct held {
    char *env, *body;
    size_t env_len, body_len;
    struct held *next;
};

struct held_list {
    struct held *head, *tail;
    size_t count;
};

#define OMB_OUT_BATCH 64

struct out_msg {
    zmq_msg_t route, env, body;
    struct omb_route_rt *r;
};

struct out_batch {
    struct out_msg v[OMB_OUT_BATCH];
    size_t n;
};

struct worker {
    struct omb_router *router;
    size_t index;
    pthread_t thread;
    bool running;
    void *pull;                 /* bound by the daemon thread before the worker starts */
    void *ctl;                  /* PUSH from the daemon thread into pull (daemon thread only) */
    void **dest;                /* PUSH per instance (sinks only), worker thread */
    struct out_batch *out;      /* per instance: deliveries not yet handed over */
    struct omb_routes *routes;  /* in use by this worker */
    struct compiled_route *jq;
    struct held_list *held;     /* per route of `routes`: events held while it is paused */
    atomic_uint version_seen;
};

struct omb_router {
    struct omb_runtime *rt;
    struct omb_instance **inst;
    size_t n_inst;
    struct omb_routes *routes;
    struct worker *workers;
    size_t n_workers;
    bool started;
};

enum { CMD_SWAP = 'S', CMD_EXIT = 'X', CMD_RESUME = 'R' };

struct command {
    char cmd;
    struct omb_routes *routes;
};

static void free_compiled(struct compiled_route *jq, size_t n)
{
    for (size_t i = 0; jq && i < n; i++) {
        omb_jq_destroy(&jq[i].filter);
        omb_jq_destroy(&jq[i].transform);
    }
    free(jq);
}

static struct compiled_route *compile_routes(const struct omb_routes *routes, size_t worker)
{
    struct compiled_route *jq = calloc(routes->n ? routes->n : 1, sizeof(*jq));
    if (!jq) {
        return NULL;
    }
    for (size_t i = 0; i < routes->n; i++) {
        const struct omb_route_rt *r = &routes->v[i];
        char err[512];
        if (r->filter && !(jq[i].filter = omb_jq_compile(r->filter, err, sizeof(err)))) {
            jq[i].broken = true;
        }
        if (r->transform && !(jq[i].transform = omb_jq_compile(r->transform, err, sizeof(err)))) {
            jq[i].broken = true;
        }
        if (jq[i].broken) {
            omb_log(OMB_LOG_ERROR, "router", "worker %zu: route '%s': jq does not compile: %s",
                    worker, r->name, err);
        }
    }
    return jq;
}

struct result {
    char *text; /* compact JSON, owned */
    size_t len;
    bool is_object;
};

struct results {
    struct result *v;
    size_t n, cap;
};

static int collect_result(const char *text, size_t len, bool is_object, void *arg)
{
    struct results *res = arg;
    if (res->n == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 4;
        struct result *v = realloc(res->v, cap * sizeof(*v));
        if (!v) {
            return OMB_ENOMEM;
        }
        res->v = v;
        res->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        return OMB_ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    res->v[res->n++] = (struct result){ copy, len, is_object };
    return 0;
}

static void results_free(struct results *res)
{
    for (size_t k = 0; k < res->n; k++) {
        free(res->v[k].text);
    }
    free(res->v);
}

/* Send what is waiting for destination i, in order. */
static void flush_dest(struct worker *w, size_t i)
{
    struct out_batch *b = &w->out[i];
    for (size_t k = 0; k < b->n; k++) {
        struct out_msg *m = &b->v[k];
        if (zmq_msg_send(&m->route, w->dest[i], ZMQ_SNDMORE) < 0 ||
            zmq_msg_send(&m->env, w->dest[i], ZMQ_SNDMORE) < 0 ||
            zmq_msg_send(&m->body, w->dest[i], 0) < 0) {
            atomic_fetch_sub(&w->router->rt->inflight, 1);
            atomic_fetch_sub(&m->r->queued, 1);
            atomic_fetch_add(&m->r->errors, 1);
            omb_log(OMB_LOG_ERROR, "router", "route '%s': cannot queue for '%s': %s",
                    m->r->name, omb_instance_name(w->router->inst[i]), zmq_strerror(errno));
        }
        /* zmq_msg_send empties a message it took; closing is right either way. */
        zmq_msg_close(&m->route);
        zmq_msg_close(&m->env);
        zmq_msg_close(&m->body);
    }
    b->n = 0;
}

/* Send everything waiting: when the worker's input runs dry, and before a command. */
static void flush_all(struct worker *w)
{
    for (size_t i = 0; i < w->router->n_inst; i++) {
        if (w->out[i].n) {
            flush_dest(w, i);
        }
    }
}

static int msg_copy_in(zmq_msg_t *m, const void *data, size_t len)
{
    if (zmq_msg_init_size(m, len) != 0) {
        return -1;
    }
    memcpy(zmq_msg_data(m), data, len);
    return 0;
}

/* Queue one delivery per destination of route r. Deliveries are batched per destination and
 * handed over OMB_OUT_BATCH at a time, or when the worker has nothing more to read: a hand-off
 * that wakes the destination's thread costs more than routing an event, so one wake-up should
 * carry many. Order per destination is kept. */
/* A frame for a delivery: shared with `from` when there is one (ZeroMQ counts references, so
 * the same bytes serve every destination without a copy), else copied from data. */
static int frame_for(zmq_msg_t *m, zmq_msg_t *from, const char *data, size_t len)
{
    if (from) {
        zmq_msg_init(m);
        if (zmq_msg_copy(m, from) == 0) {
            return 0;
        }
        zmq_msg_close(m);
    }
    return msg_copy_in(m, data, len);
}

static void send_delivery(struct worker *w, struct omb_route_rt *r, const char *env,
                          size_t env_len, zmq_msg_t *env_msg, const char *body, size_t body_len,
                          zmq_msg_t *body_msg)
{
    for (size_t t = 0; t < r->n_to; t++) {
        size_t i = r->to[t];
        if (!w->dest[i]) {
            continue; /* the config check refuses routes to non-sinks */
        }
        struct out_batch *b = &w->out[i];
        struct out_msg *m = &b->v[b->n];
        if (msg_copy_in(&m->route, r->name, strlen(r->name)) != 0) {
            goto oom;
        }
        if (frame_for(&m->env, env_msg, env, env_len) != 0) {
            zmq_msg_close(&m->route);
            goto oom;
        }
        if (frame_for(&m->body, body_msg, body, body_len) != 0) {
            zmq_msg_close(&m->route);
            zmq_msg_close(&m->env);
            goto oom;
        }
        m->r = r;
        /* Count before sending: the destination may finish it before we return. */
        atomic_fetch_add(&w->router->rt->inflight, 1);
        atomic_fetch_add(&r->queued, 1);
        if (++b->n == OMB_OUT_BATCH) {
            flush_dest(w, i);
        }
        continue;
    oom:
        atomic_fetch_add(&r->errors, 1);
        omb_log(OMB_LOG_ERROR, "router", "route '%s': out of memory queueing for '%s'", r->name,
                r->to_names[t]);
    }
}

static bool route_matches(const struct omb_route_rt *r, const char *source, const char *type)
{
    for (size_t f = 0; f < r->n_from; f++) {
        if (strcmp(r->from[f].connector, source) == 0 &&
            omb_type_match(r->from[f].pattern, type)) {
            return true;
        }
    }
    return false;
}

/* The envelope of the event in hand: the three members routing needs, read without a parse from
 * the envelope the core sealed itself (members in a fixed order: id, type, source, ...); the
 * parsed object only when a split or a new type needs it. Anything unexpected (an id with an
 * escape, another order) falls back to jansson. */
struct env_view {
    const char *text;
    size_t len;
    char id[160];
    char type[OMB_EVENT_TYPE_MAX + 1];
    char source[128];
    json_t *obj; /* parsed on demand (owned) */
    zmq_msg_t *msg;      /* the frame it came in, to share with deliveries; NULL for held */
    zmq_msg_t *body_msg; /* the same for the body */
};

/* Read the string after `prefix` at *p, up to its closing quote; false on an escape, a missing
 * quote or an overflow. */
static bool scan_member(const char **p, const char *end, const char *prefix, char *out,
                        size_t outlen)
{
    size_t plen = strlen(prefix);
    if ((size_t)(end - *p) < plen || memcmp(*p, prefix, plen) != 0) {
        return false;
    }
    const char *v = *p + plen;
    const char *q = v;
    while (q < end && *q != '"' && *q != '\\') {
        q++;
    }
    if (q >= end || *q != '"' || (size_t)(q - v) >= outlen) {
        return false;
    }
    memcpy(out, v, (size_t)(q - v));
    out[q - v] = '\0';
    *p = q + 1;
    return true;
}

static bool copy_member(json_t *obj, const char *name, char *out, size_t outlen)
{
    const char *v = json_string_value(json_object_get(obj, name));
    if (!v || strlen(v) >= outlen) {
        return false;
    }
    memcpy(out, v, strlen(v) + 1);
    return true;
}

static bool env_view_read(struct env_view *ev, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    ev->text = text;
    ev->len = len;
    ev->obj = NULL;
    ev->msg = NULL;
    ev->body_msg = NULL;
    if (scan_member(&p, end, "{\"id\":\"", ev->id, sizeof(ev->id)) &&
        scan_member(&p, end, ",\"type\":\"", ev->type, sizeof(ev->type)) &&
        scan_member(&p, end, ",\"source\":\"", ev->source, sizeof(ev->source))) {
        return true;
    }
    ev->obj = json_loadb(text, len, 0, NULL);
    return copy_member(ev->obj, "id", ev->id, sizeof(ev->id)) &&
           copy_member(ev->obj, "type", ev->type, sizeof(ev->type)) &&
           copy_member(ev->obj, "source", ev->source, sizeof(ev->source));
}

static json_t *env_view_obj(struct env_view *ev)
{
    if (!ev->obj) {
        ev->obj = json_loadb(ev->text, ev->len, 0, NULL);
    }
    return ev->obj;
}

static void env_view_clear(struct env_view *ev)
{
    json_decref(ev->obj);
    ev->obj = NULL;
}

/* Send the transform's results: one result keeps the envelope as it came; several are a split,
 * and each part gets the id "<id>.<n>" (unique, still ordered) and keeps the trace. A route with
 * <transform type="..."> gives the results that type. */
static void free_frame(void *data, void *hint)
{
    (void)hint;
    free(data);
}

static void send_results(struct worker *w, struct omb_route_rt *r, struct env_view *ev,
                         const char *env, size_t env_len, const char *id, struct results *res)
{
    for (size_t i = 0; i < res->n; i++) {
        if (!res->v[i].is_object) {
            atomic_fetch_add(&r->errors, 1);
            omb_log(OMB_LOG_WARN, "router",
                    "route '%s': event %s: the transform's result %zu is not an object; skipped",
                    r->name, id, i + 1);
            continue;
        }
        const char *body = res->v[i].text;
        char *part_env = NULL;
        bool new_env = res->n > 1 || r->out_type;
        if (new_env) {
            char part_id[160];
            snprintf(part_id, sizeof(part_id), "%s.%zu", id, i + 1);
            json_t *env_obj = env_view_obj(ev);
            json_t *copy = env_obj ? json_copy(env_obj) : NULL;
            bool ok = copy != NULL;
            if (ok && res->n > 1) {
                ok = json_object_set_new(copy, "id", json_string(part_id)) == 0;
            }
            if (ok && r->out_type) {
                ok = json_object_set_new(copy, "type", json_string(r->out_type)) == 0;
            }
            if (ok) {
                part_env = json_dumps(copy, JSON_COMPACT);
            }
            json_decref(copy);
        }
        if (new_env && !part_env) {
            atomic_fetch_add(&r->errors, 1);
            omb_log(OMB_LOG_ERROR, "router", "route '%s': event %s: out of memory", r->name, id);
        } else {
            atomic_fetch_add(&r->transformed, 1);
            /* The result's text becomes the frame (ZeroMQ frees it), shared by the
             * destinations; so does a new envelope. */
            zmq_msg_t body_msg, env_msg;
            bool own_body = zmq_msg_init_data(&body_msg, res->v[i].text, res->v[i].len,
                                              free_frame, NULL) == 0;
            if (own_body) {
                res->v[i].text = NULL;
            }
            bool own_env = part_env && zmq_msg_init_data(&env_msg, part_env, strlen(part_env),
                                                         free_frame, NULL) == 0;
            send_delivery(w, r, part_env ? part_env : env, part_env ? strlen(part_env) : env_len,
                          own_env ? &env_msg : (part_env ? NULL : ev->msg),
                          own_body ? (const char *)zmq_msg_data(&body_msg) : body, res->v[i].len,
                          own_body ? &body_msg : NULL);
            if (own_body) {
                zmq_msg_close(&body_msg);
            }
            if (own_env) {
                zmq_msg_close(&env_msg);
                part_env = NULL;
            }
        }
        free(part_env);
    }
}

/* One event on one route: filter, transform, queue for each destination. body_obj is the parsed
 * body, parsed here on first need and kept for the next route (the caller's to free). */
static void route_one(struct worker *w, size_t i, struct env_view *ev, const char *id,
                      const char *env, size_t env_len, const char *body, size_t body_len,
                      struct omb_jq_input **body_in)
{
    struct omb_route_rt *r = &w->routes->v[i];
    struct compiled_route *jq = &w->jq[i];
    char err[512];

    atomic_fetch_add(&r->in, 1);
    if (jq->broken) {
        atomic_fetch_add(&r->errors, 1);
        return;
    }
    if ((jq->filter || jq->transform) && !*body_in) {
        /* Parsed once, by jq's own parser, for every route of this event. */
        *body_in = omb_jq_input_parse(body, body_len, err, sizeof(err));
        if (!*body_in) {
            atomic_fetch_add(&r->errors, 1);
            omb_log(OMB_LOG_WARN, "router", "route '%s': event %s: body is not JSON: %s",
                    r->name, id, err);
            return;
        }
    }
    if (jq->filter) {
        bool pass = false;
        if (omb_jq_test_input(jq->filter, *body_in, &pass, err, sizeof(err)) != 0) {
            atomic_fetch_add(&r->errors, 1);
            omb_log(OMB_LOG_WARN, "router", "route '%s': event %s: filter error: %s", r->name,
                    id, err);
            return;
        }
        if (!pass) {
            atomic_fetch_add(&r->filtered, 1);
            return;
        }
    }
    atomic_fetch_add(&r->passed, 1);
    if (!jq->transform) {
        send_delivery(w, r, env, env_len, ev->msg, body, body_len, ev->body_msg);
        return;
    }
    struct results res = { 0 };
    int rc = omb_jq_run_input(jq->transform, *body_in, collect_result, &res, err, sizeof(err));
    if (rc < 0) {
        atomic_fetch_add(&r->errors, 1);
        omb_log(OMB_LOG_WARN, "router", "route '%s': event %s: transform error: %s", r->name, id,
                rc == OMB_ENOMEM ? "out of memory" : err);
    } else {
        send_results(w, r, ev, env, env_len, id, &res);
    }
    results_free(&res);
}

/* A paused route holds its events, in arrival order, until it is resumed. */
static void hold(struct worker *w, size_t i, const char *env, size_t env_len, const char *body,
                 size_t body_len)
{
    struct held *h = malloc(sizeof(*h));
    char *e = malloc(env_len ? env_len : 1), *b = malloc(body_len ? body_len : 1);
    if (!h || !e || !b) {
        free(h);
        free(e);
        free(b);
        atomic_fetch_add(&w->routes->v[i].errors, 1);
        omb_log(OMB_LOG_ERROR, "router", "route '%s' is paused and out of memory: an event is lost",
                w->routes->v[i].name);
        return;
    }
    memcpy(e, env, env_len);
    memcpy(b, body, body_len);
    *h = (struct held){ .env = e, .env_len = env_len, .body = b, .body_len = body_len };
    if (w->held[i].tail) {
        w->held[i].tail->next = h;
    } else {
        w->held[i].head = h;
    }
    w->held[i].tail = h;
    w->held[i].count++;
    atomic_fetch_add(&w->routes->v[i].held, 1);
    atomic_fetch_add(&w->router->rt->inflight, 1);
}

/* Route the events a resumed route held, oldest first. */
static void release_held(struct worker *w, size_t i)
{
    struct held *h = w->held[i].head;
    w->held[i].head = w->held[i].tail = NULL;
    w->held[i].count = 0;
    while (h) {
        struct held *next = h->next;
        struct env_view ev;
        struct omb_jq_input *body_in = NULL;
        bool ok = env_view_read(&ev, h->env, h->env_len);
        route_one(w, i, &ev, ok ? ev.id : "?", h->env, h->env_len, h->body, h->body_len,
                  &body_in);
        env_view_clear(&ev);
        omb_jq_input_free(&body_in);
        free(h->env);
        free(h->body);
        free(h);
        atomic_fetch_sub(&w->routes->v[i].held, 1);
        atomic_fetch_sub(&w->router->rt->inflight, 1);
        h = next;
    }
}

/* Check a body that no one has parsed yet, before any route sends it on. False when it is not
 * a JSON object: the event is dropped, counted as an error of every route it matched. */
static bool check_body(struct worker *w, const char *source, const char *type, const char *id,
                       const char *body, size_t body_len, struct omb_jq_input **body_in)
{
    char err[512] = "";
    *body_in = omb_jq_input_parse(body, body_len, err, sizeof(err));
    if (*body_in && omb_jq_input_is_object(*body_in)) {
        return true;
    }
    omb_jq_input_free(body_in);
    bool matched = false;
    for (size_t i = 0; i < w->routes->n; i++) {
        struct omb_route_rt *r = &w->routes->v[i];
        if (r->enabled && route_matches(r, source, type)) {
            atomic_fetch_add(&r->in, 1);
            atomic_fetch_add(&r->errors, 1);
            matched = true;
        }
    }
    if (matched) {
        omb_log(OMB_LOG_WARN, "router", "event %s from '%s' dropped: the body is not a JSON "
                "object%s%s", id, source, err[0] ? ": " : "", err);
    }
    return false;
}

static void route_event(struct worker *w, zmq_msg_t *env_msg, zmq_msg_t *body_msg, bool checked)
{
    const char *env = zmq_msg_data(env_msg), *body = zmq_msg_data(body_msg);
    size_t env_len = zmq_msg_size(env_msg), body_len = zmq_msg_size(body_msg);
    struct env_view ev;
    struct omb_jq_input *body_in = NULL;
    const char *type = ev.type, *source = ev.source, *id = ev.id;
    bool readable = env_view_read(&ev, env, env_len);
    ev.msg = env_msg;
    ev.body_msg = body_msg;
    if (!readable) {
        omb_log(OMB_LOG_ERROR, "router", "dropped a message with an unreadable envelope");
        goto out;
    }
    if (!checked && !check_body(w, source, type, id, body, body_len, &body_in)) {
        goto out;
    }
    struct omb_routes *routes = w->routes;
    for (size_t i = 0; i < routes->n; i++) {
        struct omb_route_rt *r = &routes->v[i];
        if (!r->enabled || !route_matches(r, source, type)) {
            continue;
        }
        if (atomic_load(&r->paused)) {
            hold(w, i, env, env_len, body, body_len);
            continue;
        }
        if (w->held[i].head) {
            release_held(w, i); /* resumed since: the held ones go first */
        }
        route_one(w, i, &ev, id, env, env_len, body, body_len, &body_in);
    }
out:
    env_view_clear(&ev);
    omb_jq_input_free(&body_in);
    /* This event is done here; its deliveries were counted as they were queued. */
    atomic_fetch_sub(&w->router->rt->inflight, 1);
}

/* A new route table keeps the held events of the routes it keeps (by name); those of a route
 * that is gone are dropped, loudly. */
static void move_held(struct worker *w, struct omb_routes *routes, struct held_list *held)
{
    for (size_t i = 0; i < w->routes->n; i++) {
        if (!w->held[i].head) {
            continue;
        }
        size_t k = 0;
        while (k < routes->n && strcmp(routes->v[k].name, w->routes->v[i].name) != 0) {
            k++;
        }
        if (k < routes->n) {
            held[k] = w->held[i];
            atomic_fetch_add(&routes->v[k].held, w->held[i].count);
            atomic_fetch_sub(&w->routes->v[i].held, w->held[i].count);
            continue;
        }
        omb_log(OMB_LOG_ERROR, "router",
                "route '%s' was removed while paused: %zu held event(s) dropped",
                w->routes->v[i].name, w->held[i].count);
        for (struct held *h = w->held[i].head, *next; h; h = next) {
            next = h->next;
            free(h->env);
            free(h->body);
            free(h);
            atomic_fetch_sub(&w->router->rt->inflight, 1);
        }
    }
}

/* Move the worker to a new table. The daemon frees the old table once every worker has
 * acknowledged, so a worker must not acknowledge before it has really moved: out of memory, it
 * waits and tries again rather than keep the old table. */
static void swap_routes(struct worker *w, struct omb_routes *routes)
{
    for (unsigned attempt = 0;; attempt++) {
        struct compiled_route *jq = compile_routes(routes, w->index);
        struct held_list *held = calloc(routes->n ? routes->n : 1, sizeof(*held));
        if (jq && held) {
            move_held(w, routes, held);
            free_compiled(w->jq, w->routes->n);
            free(w->held);
            w->jq = jq;
            w->held = held;
            w->routes = routes;
            break;
        }
        free_compiled(jq, routes->n);
        free(held);
        if (attempt == 0) {
            omb_log(OMB_LOG_ERROR, "router", "worker %zu: out of memory taking the new routes; "
                    "trying again", w->index);
        }
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    atomic_store(&w->version_seen, routes->version);
}

static bool handle_command(struct worker *w, const void *data, size_t len)
{
    struct command c;
    if (len != sizeof(c)) {
        return false;
    }
    memcpy(&c, data, sizeof(c));
    if (c.cmd == CMD_EXIT) {
        return true;
    }
    if (c.cmd == CMD_RESUME) {
        for (size_t i = 0; i < w->routes->n; i++) {
            if (w->held[i].head && !atomic_load(&w->routes->v[i].paused)) {
                release_held(w, i);
            }
        }
        return false;
    }
    if (c.cmd == CMD_SWAP) {
        swap_routes(w, c.routes);
    }
    return false;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct omb_router *router = w->router;
    int zero = 0, linger = 0;

    for (size_t i = 0; i < router->n_inst; i++) {
        if (!omb_instance_is_sink(router->inst[i])) {
            continue;
        }
        char ep[OMB_ENDPOINT_MAX];
        omb_endpoint_deliver(router->rt, omb_instance_name(router->inst[i]), ep, sizeof(ep));
        w->dest[i] = zmq_socket(router->rt->zctx, ZMQ_PUSH);
        if (!w->dest[i] || zmq_setsockopt(w->dest[i], ZMQ_SNDHWM, &zero, sizeof(zero)) != 0 ||
            zmq_setsockopt(w->dest[i], ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
            zmq_connect(w->dest[i], ep) != 0) {
            omb_log(OMB_LOG_ERROR, "router", "worker %zu: cannot connect to %s: %s", w->index,
                    ep, zmq_strerror(errno));
        }
    }

    bool exit_now = false;
    while (!exit_now) {
        zmq_msg_t env, body;
        zmq_msg_init(&env);
        int got = zmq_msg_recv(&env, w->pull, ZMQ_DONTWAIT);
        if (got < 0 && errno == EAGAIN) {
            flush_all(w); /* nothing more to read: hand over what waits, then sleep */
            got = zmq_msg_recv(&env, w->pull, 0);
        }
        if (got < 0) {
            zmq_msg_close(&env);
            if (errno == EINTR) {
                continue;
            }
            omb_log(OMB_LOG_ERROR, "router", "worker %zu: %s", w->index, zmq_strerror(errno));
            break;
        }
        if (!zmq_msg_more(&env)) {
            flush_all(w); /* a command sees every earlier event handed over */
            exit_now = handle_command(w, zmq_msg_data(&env), zmq_msg_size(&env));
            zmq_msg_close(&env);
            continue;
        }
        zmq_msg_init(&body);
        zmq_msg_recv(&body, w->pull, 0);
        /* A third frame marks a body the source did not parse (emit_raw): it is checked here,
         * where it is parsed anyway for the routes that read it. */
        bool checked = true;
        while (zmq_msg_more(&body)) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, w->pull, 0);
            checked = false;
            bool more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            if (!more) {
                break;
            }
        }
        route_event(w, &env, &body, checked);
        zmq_msg_close(&env);
        zmq_msg_close(&body);
    }

    flush_all(w);
    for (size_t i = 0; i < router->n_inst; i++) {
        if (w->dest[i]) {
            zmq_close(w->dest[i]);
            w->dest[i] = NULL;
        }
    }
    return NULL;
}

struct omb_router *omb_router_new(struct omb_runtime *rt, struct omb_instance **inst,
                                  size_t n_inst, struct omb_routes *routes)
{
    struct omb_router *router = calloc(1, sizeof(*router));
    if (!router) {
        return NULL;
    }
    router->rt = rt;
    router->inst = inst;
    router->n_inst = n_inst;
    router->routes = routes;
    router->n_workers = rt->n_workers;
    router->workers = calloc(router->n_workers, sizeof(*router->workers));
    if (!router->workers) {
        free(router);
        return NULL;
    }
    for (size_t i = 0; i < router->n_workers; i++) {
        struct worker *w = &router->workers[i];
        w->router = router;
        w->index = i;
        w->routes = routes;
        w->dest = calloc(n_inst ? n_inst : 1, sizeof(void *));
        w->out = calloc(n_inst ? n_inst : 1, sizeof(*w->out));
        w->jq = compile_routes(routes, i);
        w->held = calloc(routes->n ? routes->n : 1, sizeof(*w->held));
        if (!w->dest || !w->out || !w->jq || !w->held) {
            omb_router_destroy(&router);
            return NULL;
        }
    }
    return router;
}

int omb_router_start(struct omb_router *router)
{
    int hwm = OMB_INGRESS_HWM, linger = 0;
    for (size_t i = 0; i < router->n_workers; i++) {
        struct worker *w = &router->workers[i];
        char ep[OMB_ENDPOINT_MAX];
        omb_endpoint_router(router->rt, i, ep, sizeof(ep));
        /* Bound here, before the thread exists, so that sources can connect at once; the
         * socket then belongs to the worker (pthread_create is the memory barrier). */
        w->pull = zmq_socket(router->rt->zctx, ZMQ_PULL);
        w->ctl = zmq_socket(router->rt->zctx, ZMQ_PUSH);
        if (!w->pull || !w->ctl ||
            zmq_setsockopt(w->pull, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 ||
            zmq_setsockopt(w->pull, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
            zmq_setsockopt(w->ctl, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
            zmq_bind(w->pull, ep) != 0 || zmq_connect(w->ctl, ep) != 0) {
            omb_log(OMB_LOG_ERROR, "router", "cannot bind %s: %s", ep, zmq_strerror(errno));
            return OMB_EIO;
        }
        atomic_store(&w->version_seen, router->routes->version);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            omb_log(OMB_LOG_ERROR, "router", "cannot start worker %zu", i);
            return OMB_ENOMEM;
        }
        w->running = true;
    }
    router->started = true;
    return 0;
}

static void send_command(struct worker *w, char cmd, struct omb_routes *routes)
{
    struct command c = { .cmd = cmd, .routes = routes };
    zmq_send(w->ctl, &c, sizeof(c), 0);
}

struct omb_routes *omb_router_swap(struct omb_router *router, struct omb_routes *routes)
{
    struct omb_routes *old = router->routes;
    for (size_t i = 0; i < router->n_workers; i++) {
        if (router->workers[i].running) {
            send_command(&router->workers[i], CMD_SWAP, routes);
        } else {
            swap_routes(&router->workers[i], routes); /* no thread: do it here */
        }
    }
    /* Wait until every worker has moved to the new table: only then is the old one unused. */
    for (size_t i = 0; i < router->n_workers; i++) {
        struct worker *w = &router->workers[i];
        while (w->running && atomic_load(&w->version_seen) != routes->version) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    router->routes = routes;
    return old;
}

int omb_router_pause(struct omb_router *router, const char *route, bool paused)
{
    struct omb_routes *routes = router->routes;
    for (size_t i = 0; i < routes->n; i++) {
        if (strcmp(routes->v[i].name, route) == 0) {
            atomic_store(&routes->v[i].paused, paused);
            if (!paused) {
                for (size_t k = 0; k < router->n_workers; k++) {
                    if (router->workers[k].running) {
                        send_command(&router->workers[k], CMD_RESUME, NULL);
                    }
                }
            }
            return 0;
        }
    }
    return OMB_ENOTFOUND;
}

struct omb_routes *omb_router_routes(struct omb_router *router)
{
    return router->routes;
}

void omb_router_stop(struct omb_router *router)
{
    for (size_t i = 0; i < router->n_workers; i++) {
        if (router->workers[i].running) {
            send_command(&router->workers[i], CMD_EXIT, NULL);
        }
    }
    for (size_t i = 0; i < router->n_workers; i++) {
        struct worker *w = &router->workers[i];
        if (w->running) {
            pthread_join(w->thread, NULL);
            w->running = false;
        }
    }
}

void omb_router_destroy(struct omb_router **routerp)
{
    if (!routerp || !*routerp) {
        return;
    }
    struct omb_router *router = *routerp;
    omb_router_stop(router);
    for (size_t i = 0; router->workers && i < router->n_workers; i++) {
        struct worker *w = &router->workers[i];
        if (w->pull) {
            zmq_close(w->pull);
        }
        if (w->ctl) {
            zmq_close(w->ctl);
        }
        for (size_t k = 0; w->held && k < w->routes->n; k++) {
            for (struct held *h = w->held[k].head, *next; h; h = next) {
                next = h->next;
                free(h->env);
                free(h->body);
                free(h);
            }
        }
        free(w->held);
        free_compiled(w->jq, w->routes ? w->routes->n : 0);
        free(w->dest);
        free(w->out);
    }
    free(router->workers);
    free(router);
    *routerp = NULL;
}
