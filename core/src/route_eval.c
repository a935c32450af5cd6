/* Route evaluation for one destination (route_eval.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/err.h>
#include <omnibus/event.h>

#include "envelope.h"
#include "jq.h"
#include "log.h"
#include "route_eval.h"

struct compiled_route {
    bool to_me;  /* the route sends to this destination */
    bool counts; /* this destination counts the route's counters (its first destination) */
    unsigned copies; /* how many times the route names this destination */
    struct omb_jq *filter;
    struct omb_jq *transform;
    bool broken; /* a program failed to compile here: count its events as errors */
};

struct omb_eval {
    const struct omb_routes *routes;
    struct compiled_route *jq;
    char *scope;
};

void omb_eval_destroy(struct omb_eval **ep)
{
    if (!ep || !*ep) {
        return;
    }
    struct omb_eval *e = *ep;
    for (size_t i = 0; e->jq && i < e->routes->n; i++) {
        omb_jq_destroy(&e->jq[i].filter);
        omb_jq_destroy(&e->jq[i].transform);
    }
    free(e->jq);
    free(e->scope);
    free(e);
    *ep = NULL;
}

struct omb_eval *omb_eval_new(const struct omb_routes *routes, size_t dest, const char *scope)
{
    struct omb_eval *e = calloc(1, sizeof(*e));
    if (!e) {
        return NULL;
    }
    e->routes = routes;
    e->scope = strdup(scope ? scope : "router");
    e->jq = calloc(routes->n ? routes->n : 1, sizeof(*e->jq));
    if (!e->scope || !e->jq) {
        omb_eval_destroy(&e);
        return NULL;
    }
    for (size_t i = 0; i < routes->n; i++) {
        const struct omb_route_rt *r = &routes->v[i];
        struct compiled_route *c = &e->jq[i];
        for (size_t t = 0; t < r->n_to; t++) {
            c->copies += r->to[t] == dest;
        }
        c->to_me = c->copies > 0 && r->enabled;
        c->counts = r->n_to > 0 && r->to[0] == dest;
        if (!c->to_me) {
            continue;
        }
        char err[512];
        if (r->filter && !(c->filter = omb_jq_compile(r->filter, err, sizeof(err)))) {
            c->broken = true;
        }
        if (r->transform && !(c->transform = omb_jq_compile(r->transform, err, sizeof(err)))) {
            c->broken = true;
        }
        if (c->broken) {
            omb_log(OMB_LOG_ERROR, e->scope, "route '%s': jq does not compile: %s", r->name, err);
        }
    }
    return e;
}

const struct omb_routes *omb_eval_routes(const struct omb_eval *e)
{
    return e->routes;
}

/* A counter of route i, counted by its first destination only. */
static void count(struct omb_eval *e, size_t i, atomic_uint_fast64_t *counter)
{
    if (e->jq[i].counts) {
        atomic_fetch_add(counter, 1);
    }
}

/* ---- the envelope in hand ---- */

/* The three members routing needs, read without a parse from the envelope the core sealed
 * itself (members in a fixed order: id, type, source, ...); the parsed object only when a split
 * or a new type needs it. Anything unexpected (an id with an escape, another order) falls back to
 * jansson. */
struct env_view {
    const char *text;
    size_t len;
    char id[160];
    char type[OMB_EVENT_TYPE_MAX + 1];
    char source[128];
    json_t *obj; /* parsed on demand (owned) */
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

/* ---- results ---- */

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

/* Hand one delivery to fn, once per time the route names this destination. */
static int hand_over(struct omb_eval *e, size_t i, const struct omb_eval_out *out,
                     omb_eval_fn fn, void *arg)
{
    struct omb_route_rt *r = (struct omb_route_rt *)&e->routes->v[i]; /* counters only */
    for (unsigned k = 0; k < e->jq[i].copies; k++) {
        atomic_fetch_add(&r->queued, 1);
        int rc = fn(arg, out);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* The transform's results: one result keeps the envelope as it came; several are a split, and
 * each part gets the id "<id>.<n>" (unique, still ordered) and keeps the trace. A route with
 * <transform type="..."> gives the results that type. */
static int send_results(struct omb_eval *e, size_t i, struct env_view *ev, struct results *res,
                        omb_eval_fn fn, void *arg)
{
    const struct omb_route_rt *r = &e->routes->v[i];
    struct omb_route_rt *rw = (struct omb_route_rt *)r; /* counters only */
    for (size_t k = 0; k < res->n; k++) {
        if (!res->v[k].is_object) {
            count(e, i, &rw->errors);
            if (e->jq[i].counts) {
                omb_log(OMB_LOG_WARN, e->scope,
                        "route '%s': event %s: the transform's result %zu is not an object; "
                        "skipped",
                        r->name, ev->id, k + 1);
            }
            continue;
        }
        char part_id[176];
        snprintf(part_id, sizeof(part_id), "%s.%zu", ev->id, k + 1);
        char *part_env = NULL;
        if (res->n > 1 || r->out_type) {
            json_t *env_obj = env_view_obj(ev);
            json_t *copy = env_obj ? json_copy(env_obj) : NULL;
            bool ok = copy != NULL;
            if (ok && res->n > 1) {
                ok = json_object_set_new(copy, "id", json_string(part_id)) == 0;
                /* Parts keep distinct idempotency keys, as they keep distinct ids: forwarded
                 * to another omnibus, part 2 is not a repeat of part 1. */
                const char *dd = json_string_value(json_object_get(copy, "dedupe"));
                char part_dd[OMB_EVENT_DEDUPE_MAX + 24];
                if (ok && dd && dd[0]) {
                    snprintf(part_dd, sizeof(part_dd), "%s.%zu", dd, k + 1);
                    ok = json_object_set_new(copy, "dedupe", json_string(part_dd)) == 0;
                }
            }
            if (ok && r->out_type) {
                ok = json_object_set_new(copy, "type", json_string(r->out_type)) == 0;
            }
            if (ok) {
                part_env = json_dumps(copy, JSON_COMPACT);
            }
            json_decref(copy);
            if (!part_env) {
                count(e, i, &rw->errors);
                omb_log(OMB_LOG_ERROR, e->scope, "route '%s': event %s: out of memory", r->name,
                        ev->id);
                continue;
            }
        }
        count(e, i, &rw->transformed);
        struct omb_eval_out out = {
            .route = i,
            .id = res->n > 1 ? part_id : ev->id,
            .env = part_env ? part_env : ev->text,
            .env_len = part_env ? strlen(part_env) : ev->len,
            .body = res->v[k].text,
            .body_len = res->v[k].len,
        };
        int rc = hand_over(e, i, &out, fn, arg);
        free(part_env);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* One event on one route: filter, transform, hand over. body_in is the parsed body, parsed here
 * on first need and kept for the next route (the caller's to free). */
static int route_one(struct omb_eval *e, size_t i, struct env_view *ev, const char *body,
                     size_t body_len, struct omb_jq_input **body_in, omb_eval_fn fn, void *arg)
{
    struct omb_route_rt *r = (struct omb_route_rt *)&e->routes->v[i]; /* counters only */
    struct compiled_route *jq = &e->jq[i];
    char err[512];

    count(e, i, &r->in);
    if (jq->broken) {
        count(e, i, &r->errors);
        return 0;
    }
    if ((jq->filter || jq->transform) && !*body_in) {
        /* Parsed once, by jq's own parser, for every route of this event. */
        *body_in = omb_jq_input_parse(body, body_len, err, sizeof(err));
        if (!*body_in) {
            count(e, i, &r->errors);
            omb_log(OMB_LOG_WARN, e->scope, "route '%s': event %s: body is not JSON: %s",
                    r->name, ev->id, err);
            return 0;
        }
    }
    if (jq->filter) {
        bool pass = false;
        if (omb_jq_test_input(jq->filter, *body_in, &pass, err, sizeof(err)) != 0) {
            count(e, i, &r->errors);
            omb_log(OMB_LOG_WARN, e->scope, "route '%s': event %s: filter error: %s", r->name,
                    ev->id, err);
            return 0;
        }
        if (!pass) {
            count(e, i, &r->filtered);
            return 0;
        }
    }
    count(e, i, &r->passed);
    if (!jq->transform) {
        struct omb_eval_out out = {
            .route = i, .id = ev->id, .env = ev->text, .env_len = ev->len,
            .body = body, .body_len = body_len,
        };
        return hand_over(e, i, &out, fn, arg);
    }
    struct results res = { 0 };
    int rc = omb_jq_run_input(jq->transform, *body_in, collect_result, &res, err, sizeof(err));
    if (rc < 0) {
        count(e, i, &r->errors);
        omb_log(OMB_LOG_WARN, e->scope, "route '%s': event %s: transform error: %s", r->name,
                ev->id, rc == OMB_ENOMEM ? "out of memory" : err);
        rc = 0;
    } else {
        rc = send_results(e, i, ev, &res, fn, arg);
    }
    results_free(&res);
    return rc;
}

/* A body that no one has parsed yet is checked before any route sends it on. False when it is
 * not a JSON object: the event is dropped, counted as an error of every route it matched. */
static bool check_body(struct omb_eval *e, struct env_view *ev, const char *body,
                       size_t body_len, struct omb_jq_input **body_in)
{
    char err[512] = "";
    *body_in = omb_jq_input_parse(body, body_len, err, sizeof(err));
    if (*body_in && omb_jq_input_is_object(*body_in)) {
        return true;
    }
    omb_jq_input_free(body_in);
    bool matched = false;
    for (size_t i = 0; i < e->routes->n; i++) {
        struct omb_route_rt *r = (struct omb_route_rt *)&e->routes->v[i];
        if (e->jq[i].to_me && omb_route_matches(r, ev->source, ev->type)) {
            count(e, i, &r->in);
            count(e, i, &r->errors);
            matched = matched || e->jq[i].counts; /* logged where counted: once per route */
        }
    }
    if (matched) {
        omb_log(OMB_LOG_WARN, e->scope, "event %s from '%s' dropped: the body is not a JSON "
                "object%s%s", ev->id, ev->source, err[0] ? ": " : "", err);
    }
    return false;
}

int omb_eval_event(struct omb_eval *e, const char *env, size_t env_len, const char *body,
                   size_t body_len, bool body_checked, omb_eval_fn fn, void *arg)
{
    struct env_view ev;
    struct omb_jq_input *body_in = NULL;
    int rc = 0;
    if (!env_view_read(&ev, env, env_len)) {
        omb_log(OMB_LOG_ERROR, e->scope, "skipped a journaled event with an unreadable envelope");
        goto out;
    }
    bool any = false;
    for (size_t i = 0; i < e->routes->n && !any; i++) {
        any = e->jq[i].to_me && omb_route_matches(&e->routes->v[i], ev.source, ev.type);
    }
    if (!any || (!body_checked && !check_body(e, &ev, body, body_len, &body_in))) {
        goto out;
    }
    for (size_t i = 0; i < e->routes->n && rc == 0; i++) {
        if (e->jq[i].to_me && omb_route_matches(&e->routes->v[i], ev.source, ev.type)) {
            rc = route_one(e, i, &ev, body, body_len, &body_in, fn, arg);
        }
    }
out:
    json_decref(ev.obj);
    omb_jq_input_free(&body_in);
    return rc;
}
