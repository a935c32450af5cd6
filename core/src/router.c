/* The router: the route table in use and one journal consumer per destination (consumer.h).
 * Sources append to the journal (host.c); each commit wakes the consumers that wait; each
 * consumer, on its destination's thread, evaluates the routes that lead to it and delivers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omnibus/err.h>

#include "consumer.h"
#include "err_str.h"
#include "instance.h"
#include "log.h"
#include "router.h"

/* A table swapped out, kept until every consumer has passed its marker. */
struct old_table {
    struct omb_routes *routes;
    struct old_table *next;
};

struct omb_router {
    struct omb_runtime *rt;
    struct omb_instance **inst;
    size_t n_inst;
    struct omb_routes *routes; /* the newest table */
    struct omb_consumer **consumers; /* per instance; NULL for non-sinks (borrowed once the
                                      * instance owns it) */
    bool started;
    pthread_mutex_t tables_lock; /* guards routes and old against the consumers' lookups */
    struct old_table *old;
};

struct omb_router *omb_router_new(struct omb_runtime *rt, struct omb_instance **inst,
                                  size_t n_inst, struct omb_routes *routes)
{
    struct omb_router *router = calloc(1, sizeof(*router));
    if (!router) {
        omb_routes_destroy(&routes);
        return NULL;
    }
    router->rt = rt;
    router->inst = inst;
    router->n_inst = n_inst;
    router->routes = routes;
    pthread_mutex_init(&router->tables_lock, NULL);
    router->consumers = calloc(n_inst ? n_inst : 1, sizeof(*router->consumers));
    if (!router->consumers) {
        omb_router_destroy(&router);
        return NULL;
    }
    return router;
}

/* A consumer met a swap marker naming table `uid`: the table, or NULL when it is not this
 * process's (a marker from before a restart). Any consumer's thread. */
static const struct omb_routes *lookup_table(void *arg, uint64_t uid)
{
    struct omb_router *router = arg;
    const struct omb_routes *found = NULL;
    pthread_mutex_lock(&router->tables_lock);
    if (router->routes->uid == uid) {
        found = router->routes;
    }
    for (struct old_table *t = router->old; !found && t; t = t->next) {
        if (t->routes->uid == uid) {
            found = t->routes;
        }
    }
    pthread_mutex_unlock(&router->tables_lock);
    return found;
}

/* Free the swapped-out tables that no consumer uses any more. Daemon thread. */
static void collect_tables(struct omb_router *router)
{
    unsigned oldest = router->routes->version;
    for (size_t i = 0; i < router->n_inst; i++) {
        if (router->consumers[i]) {
            unsigned v = omb_consumer_version(router->consumers[i]);
            oldest = v < oldest ? v : oldest;
        }
    }
    pthread_mutex_lock(&router->tables_lock);
    for (struct old_table **pp = &router->old; *pp;) {
        struct old_table *t = *pp;
        if (t->routes->version < oldest) {
            *pp = t->next;
            omb_routes_destroy(&t->routes);
            free(t);
        } else {
            pp = &t->next;
        }
    }
    pthread_mutex_unlock(&router->tables_lock);
}

static void on_commit(void *arg, int64_t last_seq)
{
    struct omb_router *router = arg;
    for (size_t i = 0; i < router->n_inst; i++) {
        if (router->consumers[i]) {
            omb_consumer_notify(router->consumers[i], last_seq);
        }
    }
}

struct stale_cursors {
    struct omb_router *router;
    char **names;
    size_t n, cap;
    bool oom;
};

static void collect_stale(void *arg, const char *consumer, int64_t seq)
{
    (void)seq;
    struct stale_cursors *sc = arg;
    for (size_t i = 0; i < sc->router->n_inst; i++) {
        if (strcmp(omb_instance_name(sc->router->inst[i]), consumer) == 0 &&
            omb_routes_sends_to(sc->router->routes, i)) {
            return;
        }
    }
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 8;
        char **v = realloc(sc->names, cap * sizeof(*v));
        if (!v) {
            sc->oom = true;
            return;
        }
        sc->names = v;
        sc->cap = cap;
    }
    if (!(sc->names[sc->n] = strdup(consumer))) {
        sc->oom = true;
        return;
    }
    sc->n++;
}

/* A destination that left the config keeps no cursor: it would hold the journal forever. */
static void drop_stale_cursors(struct omb_router *router)
{
    struct omb_store *store = router->rt->store;
    struct stale_cursors sc = { .router = router };
    if (omb_store_cursors(store, collect_stale, &sc) != 0 || sc.oom) {
        omb_log(OMB_LOG_WARN, "router", "cannot list the journal's cursors; none dropped");
    }
    for (size_t i = 0; i < sc.n; i++) {
        omb_log(OMB_LOG_WARN, "router", "'%s' is no longer a destination: what the journal "
                "held for it is not delivered; its cursor is dropped", sc.names[i]);
        if (omb_store_cursor_drop(store, sc.names[i]) != 0) {
            omb_log(OMB_LOG_WARN, "router", "cannot drop the cursor of '%s'", sc.names[i]);
        }
        free(sc.names[i]);
    }
    free(sc.names);
}

int omb_router_start(struct omb_router *router)
{
    struct omb_runtime *rt = router->rt;
    if (!rt->store) {
        omb_log(OMB_LOG_ERROR, "router", "no store");
        return OMB_EINVAL;
    }
    drop_stale_cursors(router);
    for (size_t i = 0; i < router->n_inst; i++) {
        struct omb_instance *inst = router->inst[i];
        if (!omb_routes_sends_to(router->routes, i)) {
            continue; /* not a destination: nothing to read the journal for */
        }
        int64_t cursor = 0;
        int rc = omb_store_cursor_init(rt->store, omb_instance_name(inst), &cursor);
        if (rc < 0) {
            char why[256];
            omb_store_last_error(rt->store, why, sizeof(why));
            omb_log(OMB_LOG_ERROR, "router", "destination '%s': cannot read its cursor: %s",
                    omb_instance_name(inst), why[0] ? why : omb_strerror(rc));
            return rc;
        }
        struct omb_consumer_limits lim;
        omb_instance_limits(inst, &lim.max_attempts, &lim.max_age_ms);
        lim.retry_base_ms = rt->retry_base_ms;
        lim.retry_max_ms = rt->retry_max_ms;
        struct omb_consumer *c = omb_consumer_new(inst, rt->store, router->routes, i, cursor,
                                                  &lim, lookup_table, router);
        if (!c) {
            return OMB_ENOMEM;
        }
        omb_instance_attach_consumer(inst, c); /* the instance owns it from here */
        router->consumers[i] = c;
        if (cursor < omb_store_last_seq(rt->store)) {
            omb_log(OMB_LOG_INFO, "router", "destination '%s' resumes after journal seq %lld "
                    "(%lld event(s) to look at)", omb_instance_name(inst), (long long)cursor,
                    (long long)(omb_store_last_seq(rt->store) - cursor));
        }
    }
    omb_store_on_commit(rt->store, on_commit, router);
    omb_store_set_prune(rt->store, true);
    router->started = true;
    return 0;
}

static void marker_committed(void *arg, int64_t seq, int rc)
{
    (void)arg;
    if (rc < 0) {
        omb_log(OMB_LOG_ERROR, "router", "the route swap marker was not journaled (%s): "
                "destinations keep the old routes", omb_strerror(rc));
    } else {
        omb_log(OMB_LOG_DEBUG, "router", "route swap marker at journal seq %lld", (long long)seq);
    }
}

int omb_router_swap(struct omb_router *router, struct omb_routes *routes)
{
    struct old_table *t = malloc(sizeof(*t));
    if (!t) {
        omb_routes_destroy(&routes);
        return OMB_ENOMEM;
    }
    char body[64];
    int len = snprintf(body, sizeof(body), "{\"routes\":\"%016llx\"}",
                       (unsigned long long)routes->uid);
    /* The new table must be found by the time a consumer reads the marker. */
    pthread_mutex_lock(&router->tables_lock);
    t->routes = router->routes;
    t->next = router->old;
    router->old = t;
    router->routes = routes;
    pthread_mutex_unlock(&router->tables_lock);
    int rc;
    for (int attempt = 0;; attempt++) {
        rc = omb_store_append(router->rt->store, "{}", 2, body, (size_t)len, NULL, NULL, NULL,
                              NULL, OMB_STORE_MARKER, marker_committed, NULL);
        if (rc != OMB_EAGAIN || attempt == 5000) {
            break;
        }
        struct timespec ts = { 0, 1000000 }; /* the store is full: it drains quickly */
        nanosleep(&ts, NULL);
    }
    if (rc != 0) {
        omb_log(OMB_LOG_ERROR, "router", "cannot journal the route swap: %s; the old routes stay",
                omb_strerror(rc));
        pthread_mutex_lock(&router->tables_lock);
        router->routes = t->routes;
        router->old = t->next;
        pthread_mutex_unlock(&router->tables_lock);
        free(t);
        omb_routes_destroy(&routes);
        return rc;
    }
    collect_tables(router);
    return 0;
}

struct pause_task {
    struct omb_consumer *c;
    bool paused;
    char route[];
};

static void pause_on_thread(struct omb_instance *inst, void *arg)
{
    (void)inst;
    struct pause_task *t = arg;
    omb_consumer_pause(t->c, t->route, t->paused);
    free(t);
}

int omb_router_pause(struct omb_router *router, const char *route, bool paused)
{
    struct omb_routes *routes = router->routes;
    size_t k = 0;
    while (k < routes->n && strcmp(routes->v[k].name, route) != 0) {
        k++;
    }
    if (k == routes->n) {
        return OMB_ENOTFOUND;
    }
    atomic_store(&routes->v[k].paused, paused);
    for (size_t i = 0; i < router->n_inst; i++) {
        struct omb_consumer *c = router->consumers[i];
        if (!c) {
            continue;
        }
        size_t len = strlen(route) + 1;
        struct pause_task *t = malloc(sizeof(*t) + len);
        if (!t) {
            return OMB_ENOMEM;
        }
        t->c = c;
        t->paused = paused;
        memcpy(t->route, route, len);
        if (omb_instance_post(router->inst[i], pause_on_thread, t) != 0) {
            free(t); /* not running: it reads the shared flag when it starts */
        }
    }
    return 0;
}

static void replay_on_thread(struct omb_instance *inst, void *arg)
{
    (void)inst;
    omb_consumer_replay(arg);
}

void omb_router_replay(struct omb_router *router)
{
    for (size_t i = 0; i < router->n_inst; i++) {
        if (router->consumers[i]) {
            /* A consumer whose thread is gone looks at its replays when it next starts. */
            (void)omb_instance_post(router->inst[i], replay_on_thread, router->consumers[i]);
        }
    }
}

struct omb_routes *omb_router_routes(struct omb_router *router)
{
    return router->routes;
}

int64_t omb_router_backlog(struct omb_router *router)
{
    if (router->started) {
        collect_tables(router);
    }
    struct omb_store *store = router->rt->store;
    int64_t n = store ? (int64_t)omb_store_pending(store) : 0;
    int64_t last = store ? omb_store_last_seq(store) : 0;
    for (size_t i = 0; i < router->n_inst; i++) {
        const struct omb_consumer *c = router->consumers[i];
        if (c) {
            int64_t behind = last - omb_consumer_done(c);
            n += behind > 0 ? behind : 0;
        }
    }
    return n;
}

int64_t omb_router_destination_backlog(struct omb_router *router, size_t i)
{
    const struct omb_consumer *c = router && i < router->n_inst ? router->consumers[i] : NULL;
    if (!c) {
        return 0;
    }
    int64_t behind = omb_store_last_seq(router->rt->store) - omb_consumer_done(c);
    return behind > 0 ? behind : 0;
}

void omb_router_stop(struct omb_router *router)
{
    if (router->started) {
        omb_store_on_commit(router->rt->store, NULL, NULL);
        router->started = false;
    }
    /* The consumers belong to their instances, which destroy them when they exit. */
    for (size_t i = 0; i < router->n_inst; i++) {
        router->consumers[i] = NULL;
    }
}

void omb_router_destroy(struct omb_router **routerp)
{
    if (!routerp || !*routerp) {
        return;
    }
    struct omb_router *router = *routerp;
    omb_router_stop(router);
    free(router->consumers);
    while (router->old) {
        struct old_table *t = router->old;
        router->old = t->next;
        omb_routes_destroy(&t->routes);
        free(t);
    }
    omb_routes_destroy(&router->routes);
    pthread_mutex_destroy(&router->tables_lock);
    free(router);
    *routerp = NULL;
}
