/* A destination's journal consumer (consumer.h). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omnibus/err.h>

#include "consumer_priv.h"
#include "isolate.h"
#include "err_str.h"
#include "envelope.h"
#include "instance_priv.h"
#include "log.h"
#include "route_eval.h"

void consumer_delivery_free(struct delivery *d)
{
    if (d) {
        free(d->env);
        free(d->body);
        free(d->ckey);
        free(d);
    }
}

void consumer_queue_push(struct queue *q, struct delivery *d)
{
    d->next = NULL;
    if (q->tail) {
        q->tail->next = d;
    } else {
        q->head = d;
    }
    q->tail = d;
    q->n++;
}

static struct delivery *queue_pop(struct queue *q)
{
    struct delivery *d = q->head;
    if (d) {
        q->head = d->next;
        if (!q->head) {
            q->tail = NULL;
        }
        q->n--;
    }
    return d;
}

static void queue_clear(struct queue *q)
{
    for (struct delivery *d = q->head, *next; d; d = next) {
        next = d->next;
        consumer_delivery_free(d);
    }
    *q = (struct queue){ 0 };
}

struct delivery *consumer_delivery_new(const char *route, const char *id, const char *env,
                                     size_t env_len, const char *body, size_t body_len)
{
    struct delivery *d = calloc(1, sizeof(*d));
    if (!d) {
        return NULL;
    }
    d->env = malloc(env_len ? env_len : 1);
    d->body = malloc(body_len ? body_len : 1);
    if (!d->env || !d->body) {
        consumer_delivery_free(d);
        return NULL;
    }
    memcpy(d->env, env, env_len);
    memcpy(d->body, body, body_len);
    d->env_len = env_len;
    d->body_len = body_len;
    snprintf(d->route, sizeof(d->route), "%s", route);
    snprintf(d->id, sizeof(d->id), "%s", id ? id : "?");
    return d;
}

/* Per-route state for a table; what the table says about this destination is read once here,
 * not per delivery. */
static struct route_state *states_for(const struct omb_routes *routes, size_t dest)
{
    struct route_state *rs = calloc(routes->n ? routes->n : 1, sizeof(struct route_state));
    for (size_t i = 0; rs && i < routes->n; i++) {
        rs[i].conflate = omb_route_conflates(&routes->v[i], dest);
    }
    return rs;
}

size_t consumer_route_index(const struct omb_consumer *c, const char *name)
{
    for (size_t i = 0; i < c->routes->n; i++) {
        if (strcmp(c->routes->v[i].name, name) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

struct omb_consumer *omb_consumer_new(struct omb_instance *inst, struct omb_store *store,
                                      const struct omb_routes *routes, size_t dest,
                                      int64_t cursor, const struct omb_consumer_limits *lim,
                                      omb_consumer_lookup_fn lookup, void *lookup_arg)
{
    char err[256];
    struct omb_consumer *c = calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    c->inst = inst;
    c->store = store;
    c->routes = routes;
    c->dest = dest;
    c->lim = *lim;
    c->lookup = lookup;
    c->lookup_arg = lookup_arg;
    atomic_init(&c->version, routes->version);
    c->evaluated = cursor;
    c->persisted = cursor;
    atomic_init(&c->done, cursor);
    atomic_init(&c->in_memory, 0);
    atomic_init(&c->dead, 0);
    atomic_init(&c->waiting, false);
    atomic_init(&c->parking, 0);
    c->eval = omb_eval_new(routes, dest, inst->scope);
    c->rs = states_for(routes, dest);
    c->reader = omb_store_reader_open(store, err, sizeof(err));
    if (!c->eval || !c->rs || !c->reader) {
        omb_log(OMB_LOG_ERROR, inst->scope, "cannot set up the journal consumer: %s",
                c->reader ? "out of memory" : err);
        omb_consumer_destroy(&c);
        return NULL;
    }
    for (size_t i = 0; i < routes->n; i++) {
        /* A route paused when the table was built (carried over a restart of the instances)
         * parks from the start. Pauses do not outlive the process: what a route held before a
         * restart goes first, as after a resume; so do replays asked for before it. */
        c->rs[i].paused = atomic_load(&routes->v[i].paused);
        c->rs[i].draining = !c->rs[i].paused;
    }
    c->replaying = true;
    return c;
}

void omb_consumer_destroy(struct omb_consumer **cp)
{
    if (!cp || !*cp) {
        return;
    }
    struct omb_consumer *c = *cp;
    free(c->batch);
    c->batch = NULL;
    if (c->reader) {
        consumer_flush_drops(c);
        int64_t done = atomic_load(&c->done);
        if (done != c->persisted && omb_store_cursor_set(c->store, c->inst->name, done) == 0) {
            c->persisted = done;
        }
    }
    /* Parked rows on their way to the store call back into this consumer when committed (or
     * failed): the writer always answers, within a commit's time. */
    for (int waited = 0; atomic_load(&c->parking) > 0; waited++) {
        if (waited == 30000) {
            omb_log(OMB_LOG_ERROR, c->inst->scope, "parked rows still not committed after 30 s; "
                    "the consumer is left allocated");
            *cp = NULL;
            return;
        }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    atomic_fetch_sub(&c->inst->stats.pending, c->q.n + c->pq.n);
    queue_clear(&c->q);
    queue_clear(&c->pq);
    json_decref(c->head_event);
    json_decref(c->errors);
    omb_eval_destroy(&c->eval);
    consumer_keys_free(&c->keys);
    omb_store_reader_close(&c->reader);
    free(c->rs);
    free(c);
    *cp = NULL;
}

/* ---- cursor ---- */

void consumer_update_done(struct omb_consumer *c)
{
    int64_t done = c->q.head ? c->q.head->seq - 1 : c->evaluated;
    atomic_store(&c->done, done);
    atomic_store(&c->in_memory, c->q.n + c->pq.n);
}

static void persist(struct omb_consumer *c, bool now)
{
    int64_t done = atomic_load(&c->done);
    int64_t t = omb_monotonic_ms();
    if (done == c->persisted || (!now && t < c->persist_due)) {
        return;
    }
    if (omb_store_cursor_set(c->store, c->inst->name, done) == 0) {
        c->persisted = done;
        c->persist_due = t + PERSIST_EVERY_MS;
    }
}

/* ---- reading the journal ---- */

struct read_ctx {
    struct omb_consumer *c;
    int64_t seq;
    int64_t received_us;
    int rc;
    const char *key; /* the row's key, borrowed for the read */
};

static int on_delivery(void *arg, const struct omb_eval_out *out)
{
    struct read_ctx *rx = arg;
    struct omb_consumer *c = rx->c;
    const struct omb_route_rt *r = &c->routes->v[out->route];
    struct route_state *rs = &c->rs[out->route];
    if (rs->paused || rs->draining) {
        int rc = consumer_park(c, "held", r->name, rx->seq, out->id, out->env, out->env_len, out->body,
                      out->body_len, 0, NULL, NULL, NULL, 0);
        if (rc < 0) {
            return rc; /* stop here; the event is read again */
        }
        atomic_fetch_add((atomic_uint_fast64_t *)&r->held, 1);
        return 0;
    }
    struct delivery *d =
        consumer_delivery_new(r->name, out->id, out->env, out->env_len, out->body, out->body_len);
    if (!d) {
        return OMB_ENOMEM;
    }
    d->seq = rx->seq;
    d->received_us = rx->received_us;
    if (consumer_admit(c, d, out->route, rx->key) != 0) {
        consumer_delivery_free(d);
        return OMB_ENOMEM;
    }
    consumer_queue_push(&c->q, d);
    atomic_fetch_add(&c->inst->stats.received, 1);
    atomic_fetch_add(&c->inst->stats.pending, 1);
    return 0;
}

static int set_routes(struct omb_consumer *c, const struct omb_routes *routes);

/* A swap marker: the events after it are evaluated with the table it names. */
static void on_marker(struct omb_consumer *c, const struct omb_store_row *row)
{
    char text[64];
    unsigned long long uid = 0;
    size_t n = row->body_len < sizeof(text) - 1 ? row->body_len : sizeof(text) - 1;
    memcpy(text, row->body ? row->body : "", n);
    text[n] = '\0';
    if (sscanf(text, "{\"routes\":\"%16llx\"}", &uid) != 1 || !c->lookup) {
        return;
    }
    const struct omb_routes *routes = c->lookup(c->lookup_arg, (uint64_t)uid);
    if (!routes || routes == c->routes) {
        return; /* another process's marker, or the table in use */
    }
    /* The table stays valid until we report a newer version: out of memory, wait for it. */
    for (unsigned attempt = 0; set_routes(c, routes) != 0; attempt++) {
        if (attempt == 0) {
            omb_log(OMB_LOG_ERROR, c->inst->scope, "out of memory taking the new routes; "
                    "trying again");
        }
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
}

static int on_row(void *arg, const struct omb_store_row *row)
{
    struct read_ctx *rx = arg;
    struct omb_consumer *c = rx->c;
    if (row->flags & OMB_STORE_MARKER) {
        on_marker(c, row);
        c->evaluated = row->seq;
        return 0;
    }
    struct queue before = c->q;
    rx->seq = row->seq;
    rx->received_us = row->received_us;
    rx->key = row->key ? row->key : "";
    int rc = omb_eval_event(c->eval, row->env ? row->env : "", row->env_len,
                            row->body ? row->body : "", row->body_len,
                            (row->flags & OMB_STORE_UNCHECKED) == 0, on_delivery, rx);
    if (rc < 0) {
        /* Out of memory or the store refused a park: undo this event's deliveries and read it
         * again later, so that none is made twice or lost. */
        struct delivery *d = before.tail ? before.tail->next : c->q.head;
        size_t undone = 0;
        while (d) {
            struct delivery *next = d->next;
            if (d->conflating) {
                consumer_conflate_done(c, d, false);
            } else {
                c->live_plain--;
            }
            consumer_delivery_free(d);
            undone++;
            d = next;
        }
        c->q = before;
        if (c->q.tail) {
            c->q.tail->next = NULL;
        }
        atomic_fetch_sub(&c->inst->stats.pending, undone);
        rx->rc = rc;
        return 1;
    }
    c->evaluated = row->seq;
    return consumer_full(c) ? 1 : 0;
}

/* Read more of the journal if there is room. Returns the rows read, or a negative error. */
static int read_journal(struct omb_consumer *c)
{
    if (consumer_full(c) || omb_store_last_seq(c->store) <= c->evaluated) {
        return 0;
    }
    struct read_ctx rx = { .c = c };
    int n = omb_store_reader_journal(c->reader, c->evaluated, READ_BATCH, on_row, &rx);
    if (n < 0 || rx.rc < 0) {
        int rc = n < 0 ? n : rx.rc;
        omb_log(OMB_LOG_ERROR, c->inst->scope, "reading the journal: %s", omb_strerror(rc));
        c->due = omb_monotonic_ms() + 1000;
        return rc;
    }
    if (c->q.n == 0) {
        consumer_update_done(c); /* nothing for us in them: the cursor moves on */
    }
    return n;
}

/* ---- delivering the head ---- */


static struct delivery *head(struct omb_consumer *c)
{
    return c->pq.head ? c->pq.head : c->q.head;
}

static void note_error(struct omb_consumer *c, const char *reason)
{
    if (c->attempts == 1) {
        snprintf(c->first_error, sizeof(c->first_error), "%s", reason);
    }
    if (!c->errors) {
        c->errors = json_array();
    }
    if (c->errors) {
        json_array_append_new(c->errors, json_pack("{s:I, s:s}", "at", (json_int_t)omb_now_us(),
                                                   "error", reason));
        if (json_array_size(c->errors) > ERRORS_KEPT) {
            json_array_remove(c->errors, ERRORS_KEPT / 2); /* keep the first and the latest */
        }
    }
}

/* The head is finished: delivered, rejected or dead-lettered. */
bool consumer_full(const struct omb_consumer *c)
{
    return c->live_plain >= QUEUE_MAX / 2 || c->live_conflating >= CONFLATE_LIVE_MAX ||
           c->q.n + c->pq.n >= CONFLATE_MAX;
}

int consumer_admit(struct omb_consumer *c, struct delivery *d, size_t route, const char *key)
{
    if (route != SIZE_MAX && c->rs[route].conflate && key) {
        return consumer_conflate_add(c, d, key);
    }
    c->live_plain++;
    return 0;
}

static void finish_head(struct omb_consumer *c, bool delivered)
{
    struct delivery *d = c->pq.head ? queue_pop(&c->pq) : queue_pop(&c->q);
    if (d->conflating) {
        consumer_conflate_done(c, d, delivered);
    } else {
        c->live_plain--;
    }
    if (d->parked_id) {
        consumer_drop_parked(c, d);
        size_t i = consumer_route_index(c, d->route);
        if (i != SIZE_MAX) {
            atomic_fetch_sub((atomic_uint_fast64_t *)&c->routes->v[i].held, 1);
        }
    }
    consumer_delivery_free(d);
    json_decref(c->head_event);
    c->head_event = NULL;
    json_decref(c->errors);
    c->errors = NULL;
    c->attempts = 0;
    c->first_error[0] = '\0';
    c->due = 0;
    atomic_fetch_sub(&c->inst->stats.pending, 1);
    consumer_update_done(c);
}

/* To the dead-letter queue, with every attempt's error. False when the store refused (the
 * head stays and is tried again later: nothing is dropped). */
static bool dead_letter(struct omb_consumer *c, struct delivery *d, const char *last_error)
{
    char *errors = c->errors ? json_dumps(c->errors, JSON_COMPACT) : NULL;
    int rc = consumer_park(c, "dead", d->route, d->seq, d->id, d->env, d->env_len, d->body, d->body_len,
                  c->attempts, c->first_error, last_error, errors, c->first_attempt_us);
    free(errors);
    if (rc < 0) {
        omb_log(OMB_LOG_ERROR, c->inst->scope,
                "route '%s': event %s: cannot write the dead letter (%s); retrying", d->route,
                d->id, omb_strerror(rc));
        return false;
    }
    atomic_fetch_add(&c->dead, 1);
    atomic_fetch_add(&c->inst->stats.dead, 1);
    return true;
}

/* The head's attempt is over with rc and res: finish it (delivered, rejected or dead-lettered)
 * or set it up to be tried again. Returns true when it is finished. */
static bool settle_head(struct omb_consumer *c, int rc, struct omb_deliver_result *res)
{
    struct omb_instance *inst = c->inst;
    struct delivery *d = head(c);
    res->reason[sizeof(res->reason) - 1] = '\0';
    if (rc == OMB_OK) {
        if (d->received_us > 0) {
            omb_histogram_record(&inst->latency, omb_now_us() - d->received_us);
        }
        atomic_fetch_add(&inst->stats.delivered, 1);
        finish_head(c, true);
        return true;
    }
    const char *reason = res->reason[0] ? res->reason : omb_strerror(rc);
    note_error(c, reason);
    if (rc == OMB_EREJECT) {
        if (!dead_letter(c, d, reason)) {
            c->due = omb_monotonic_ms() + 1000;
            return false;
        }
        atomic_fetch_add(&inst->stats.rejected, 1);
        omb_log(OMB_LOG_ERROR, inst->scope,
                "route '%s': event %s rejected after %u attempt(s): %s; dead-lettered", d->route,
                d->id, c->attempts, reason);
        finish_head(c, false);
        return true;
    }
    /* OMB_ERETRY, or anything unexpected: try again later, never drop. */
    atomic_fetch_add(&inst->stats.retried, 1);
    bool too_many = c->lim.max_attempts > 0 && c->attempts >= c->lim.max_attempts;
    bool too_old = c->lim.max_age_ms > 0 && d->received_us > 0 &&
                   omb_now_us() - d->received_us >= c->lim.max_age_ms * 1000;
    if ((too_many || too_old) && dead_letter(c, d, reason)) {
        atomic_fetch_add(&inst->stats.rejected, 1);
        omb_log(OMB_LOG_ERROR, inst->scope,
                "route '%s': event %s: %s after %u attempt(s) (last: %s); dead-lettered",
                d->route, d->id, too_many ? "gave up" : "too old to retry", c->attempts, reason);
        finish_head(c, false);
        return true;
    }
    int64_t delay = res->retry_after_ms > 0
                        ? res->retry_after_ms
                        : omb_backoff_ms(c->lim.retry_base_ms, c->lim.retry_max_ms, c->attempts);
    c->due = omb_monotonic_ms() + delay;
    omb_log(c->attempts == 1 ? OMB_LOG_WARN : OMB_LOG_DEBUG, inst->scope,
            "route '%s': event %s: attempt %u failed (%s), retrying in %lld ms", d->route, d->id,
            c->attempts, reason, (long long)delay);
    return false;
}


/* Try the head once. Returns true when it is finished. */
static bool deliver_head(struct omb_consumer *c)
{
    struct omb_instance *inst = c->inst;
    struct delivery *d = head(c);
    struct omb_deliver_result res;
    char err[256] = "";
    int rc;
    memset(&res, 0, sizeof(res));
    if (c->attempts++ == 0) {
        c->first_attempt_us = omb_now_us();
    }
    struct omb_raw_event raw = {
        .route = d->route, .envelope = d->env, .envelope_len = d->env_len,
        .body = d->body, .body_len = d->body_len,
    };
    if (inst->iso) {
        rc = omb_isolate_deliver(inst->iso, &raw, &res);
    } else if (inst->desc->abi_minor >= 1 && inst->desc->deliver_raw) {
        rc = inst->desc->deliver_raw(inst->ctx, &raw, &res);
    } else {
        if (!c->head_event) {
            c->head_event = omb_event_from_frames(d->route, d->env, d->env_len, d->body,
                                                  d->body_len, err, sizeof(err));
        }
        if (c->head_event) {
            rc = inst->desc->deliver(inst->ctx, c->head_event, &res);
        } else {
            /* A body that no route had to read and that is not JSON (emit_raw's bargain). */
            rc = OMB_EREJECT;
            snprintf(res.reason, sizeof(res.reason), "unreadable event: %s", err);
        }
    }
    return settle_head(c, rc, &res);
}

/* The deliveries a batch may take after the head: behind it in its queue, not superseded or
 * stale (those are the loop's to drop), at most max in all. */
static size_t batch_gather(struct omb_consumer *c, struct delivery **v, size_t max)
{
    size_t n = 0;
    for (struct delivery *d = head(c); d && n < max; d = d->next) {
        if (n > 0 && !consumer_conflate_sendable(c, d)) {
            break;
        }
        v[n++] = d;
    }
    return n;
}

/* Offer the head and those behind it to deliver_batch (ABI 1.3). Returns true when the head
 * (at least) was finished. */
static bool deliver_batch(struct omb_consumer *c)
{
    struct omb_instance *inst = c->inst;
    if (!c->batch && !(c->batch = malloc(sizeof(*c->batch)))) {
        return deliver_head(c);
    }
    struct delivery **v = c->batch->v;
    struct omb_raw_event *raw = c->batch->raw;
    struct omb_deliver_result *res = c->batch->res;
    int *rcs = c->batch->rcs;
    size_t n = batch_gather(c, v, BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        raw[i] = (struct omb_raw_event){ .route = v[i]->route, .envelope = v[i]->env,
                                         .envelope_len = v[i]->env_len, .body = v[i]->body,
                                         .body_len = v[i]->body_len };
        rcs[i] = OMB_ERETRY;
    }
    memset(res, 0, n * sizeof(res[0]));
    int taken = inst->desc->deliver_batch(inst->ctx, raw, n, rcs, res);
    if (taken <= 0 || (size_t)taken > n) {
        rcs[0] = taken < 0 ? taken : OMB_ERETRY;
        if (taken >= 0 && !res[0].reason[0]) {
            snprintf(res[0].reason, sizeof(res[0].reason),
                     "deliver_batch took %d of %zu deliveries", taken, n);
        }
        taken = 1;
    }
    bool finished = false;
    for (int i = 0; i < taken; i++) {
        /* Each is the head by now: those before it are finished. */
        if (c->attempts++ == 0) {
            c->first_attempt_us = omb_now_us();
        }
        if (!settle_head(c, rcs[i], &res[i])) {
            break; /* retried: it and those behind it are offered again later */
        }
        finished = true;
    }
    return finished;
}

/* ---- the loop's side ---- */

static bool any_draining(const struct omb_consumer *c)
{
    if (c->replaying) {
        return true;
    }
    for (size_t i = 0; i < c->routes->n; i++) {
        if (c->rs[i].draining) {
            return true;
        }
    }
    return false;
}

int64_t omb_consumer_due(struct omb_consumer *c)
{
    if (head(c) || any_draining(c)) {
        return c->due;
    }
    if (c->due > omb_monotonic_ms()) {
        return c->due; /* a failed read waits */
    }
    if (omb_store_last_seq(c->store) > c->evaluated) {
        return 0;
    }
    if (atomic_load(&c->done) != c->persisted) {
        return c->persist_due;
    }
    /* Wait for a commit; look once more after saying so, in case one just came. */
    atomic_store(&c->waiting, true);
    if (omb_store_last_seq(c->store) > c->evaluated) {
        atomic_store(&c->waiting, false);
        return 0;
    }
    return -1;
}

void omb_consumer_run(struct omb_consumer *c, bool started)
{
    atomic_store(&c->waiting, false);
    int64_t now = omb_monotonic_ms();
    if (c->due > now) {
        return;
    }
    int rows = 0;
    for (int i = 0; i < RUN_BUDGET; i++) {
        if (!head(c)) {
            consumer_read_parked(c);
        }
        int n = c->pq.head ? 0 : read_journal(c);
        if (n < 0) {
            break;
        }
        rows += n;
        if (!head(c) && n > 0 && rows < RUN_ROWS) {
            continue; /* rows with nothing for us: read on, a bounded amount */
        }
        if (!head(c) || !started || c->due > omb_monotonic_ms()) {
            break;
        }
        if (c->attempts == 0 && consumer_conflate_skip(c, head(c))) {
            finish_head(c, false); /* superseded or stale: never sent */
            continue;
        }
        bool batch = c->attempts == 0 && !c->inst->iso && c->inst->desc->abi_minor >= 3 &&
                     c->inst->desc->deliver_batch;
        if (!(batch ? deliver_batch(c) : deliver_head(c))) {
            break;
        }
    }
    if (!head(c)) {
        consumer_flush_drops(c);
    }
    persist(c, !head(c));
}

/* ---- control ---- */

static int set_routes(struct omb_consumer *c, const struct omb_routes *routes)
{
    struct omb_eval *eval = omb_eval_new(routes, c->dest, c->inst->scope);
    struct route_state *rs = states_for(routes, c->dest);
    if (!eval || !rs) {
        omb_eval_destroy(&eval);
        free(rs);
        return OMB_ENOMEM;
    }
    for (size_t i = 0; i < routes->n; i++) {
        size_t k = consumer_route_index(c, routes->v[i].name);
        if (k != SIZE_MAX) {
            /* Pause and drain carry over by name; conflate is the new table's. */
            rs[i].paused = c->rs[k].paused;
            rs[i].draining = c->rs[k].draining;
            rs[i].drained_after = c->rs[k].drained_after;
        }
    }
    omb_eval_destroy(&c->eval);
    free(c->rs);
    c->eval = eval;
    c->rs = rs;
    c->routes = routes;
    atomic_store(&c->version, routes->version); /* the old table may go now */
    return 0;
}

void omb_consumer_pause(struct omb_consumer *c, const char *route, bool paused)
{
    for (size_t i = 0; i < c->routes->n; i++) {
        if (strcmp(c->routes->v[i].name, route) == 0) {
            struct route_state *rs = &c->rs[i];
            if (!paused && rs->paused) {
                rs->draining = true; /* whatever it parked goes first */
                rs->drained_after = 0;
            }
            rs->paused = paused;
        }
    }
}

void omb_consumer_replay(struct omb_consumer *c)
{
    c->replaying = true;
    c->replay_after = 0;
}

void omb_consumer_notify(struct omb_consumer *c, int64_t last_seq)
{
    (void)last_seq;
    if (atomic_exchange(&c->waiting, false)) {
        omb_instance_wake(c->inst);
    }
}

int64_t omb_consumer_done(const struct omb_consumer *c)
{
    return atomic_load(&c->done);
}

uint64_t omb_consumer_in_memory(const struct omb_consumer *c)
{
    return atomic_load(&c->in_memory);
}

unsigned omb_consumer_version(const struct omb_consumer *c)
{
    return atomic_load(&c->version);
}

uint64_t omb_consumer_dead(const struct omb_consumer *c)
{
    return atomic_load(&c->dead);
}
