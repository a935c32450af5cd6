/* A destination consumer's parked rows: deliveries a paused route holds, dead letters, and
 * dead letters set to be replayed, all in the store's `parked` table (consumer.h). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <omnibus/err.h>

#include "consumer_priv.h"
#include "envelope.h"
#include "err_str.h"
#include "instance_priv.h"
#include "log.h"

/* ---- parking ---- */

static void parked_ack(void *arg, int64_t seq, int rc)
{
    (void)seq;
    struct omb_consumer *c = arg;
    if (rc < 0) {
        char why[256];
        omb_store_last_error(c->store, why, sizeof(why));
        omb_log(OMB_LOG_ERROR, c->inst->scope, "a parked delivery was not committed: %s", why);
    }
    atomic_fetch_sub(&c->parking, 1);
}

/* Park a delivery (held or dead) in the store, queued before any later cursor move. */
int consumer_park(struct omb_consumer *c, const char *state, const char *route, int64_t seq,
                const char *id, const char *env, size_t env_len, const char *body,
                size_t body_len, int64_t attempts, const char *first_error,
                const char *last_error, const char *errors, int64_t first_at_us)
{
    struct omb_store_parked p = {
        .state = state, .consumer = c->inst->name, .route = route, .seq = seq,
        .event_id = id, .env = env_len ? env : NULL, .env_len = env_len,
        .body = body_len ? body : NULL, .body_len = body_len, .attempts = attempts,
        .first_error = first_error, .last_error = last_error, .errors = errors,
        .first_at_us = first_at_us ? first_at_us : omb_now_us(), .last_at_us = omb_now_us(),
    };
    atomic_fetch_add(&c->parking, 1);
    int rc = omb_store_parked_add(c->store, &p, parked_ack, c);
    if (rc < 0) {
        atomic_fetch_sub(&c->parking, 1);
    }
    return rc;
}

/* ---- parked rows of resumed routes ---- */

struct parked_ctx {
    struct omb_consumer *c;
    size_t route;
    int n;
};

static int on_parked(void *arg, const struct omb_store_parked *p)
{
    struct parked_ctx *px = arg;
    struct omb_consumer *c = px->c;
    struct delivery *d = consumer_delivery_new(p->route ? p->route : "", p->event_id, p->env ? p->env : "",
                                      p->env_len, p->body ? p->body : "", p->body_len);
    if (!d) {
        return OMB_ENOMEM;
    }
    d->parked_id = p->id;
    if (consumer_admit(c, d, consumer_route_index(c, d->route), p->key) != 0) {
        consumer_delivery_free(d);
        return OMB_ENOMEM;
    }
    int64_t received_us = 0;
    char received[64];
    omb_envelope_field(d->env, d->env_len, "received", received, sizeof(received));
    if (omb_time_parse_us(received, &received_us) == 0) {
        d->received_us = received_us;
    }
    consumer_queue_push(&c->pq, d);
    if (px->route == SIZE_MAX) {
        c->replay_after = p->id;
    } else {
        c->rs[px->route].drained_after = p->id;
    }
    atomic_fetch_add(&c->inst->stats.received, 1);
    atomic_fetch_add(&c->inst->stats.pending, 1);
    px->n++;
    return 0;
}

/* Take the next parked rows: dead letters to replay first, then those of draining routes; a
 * route with none left, and none on their way to the store, is live again. */
void consumer_read_parked(struct omb_consumer *c)
{
    if (c->pq.n > 0) {
        return;
    }
    if (c->replaying) {
        consumer_flush_drops(c);
        struct parked_ctx px = { .c = c, .route = SIZE_MAX };
        struct omb_store_parked_filter f = {
            .state = "replay", .consumer = c->inst->name, .after_id = c->replay_after,
        };
        int rc = omb_store_parked_list(c->store, &f, PARKED_BATCH, on_parked, &px);
        if (rc < 0) {
            omb_log(OMB_LOG_ERROR, c->inst->scope, "reading dead letters to replay: %s",
                    omb_strerror(rc));
            c->due = omb_monotonic_ms() + 1000;
            return;
        }
        if (px.n > 0) {
            return;
        }
        c->replaying = false;
    }
    for (size_t i = 0; i < c->routes->n && c->pq.n == 0; i++) {
        struct route_state *rs = &c->rs[i];
        if (!rs->draining) {
            continue;
        }
        consumer_flush_drops(c);
        struct parked_ctx px = { .c = c, .route = i };
        struct omb_store_parked_filter f = {
            .state = "held", .consumer = c->inst->name, .route = c->routes->v[i].name,
            .after_id = rs->drained_after,
        };
        int rc = omb_store_parked_list(c->store, &f, PARKED_BATCH, on_parked, &px);
        if (rc < 0) {
            omb_log(OMB_LOG_ERROR, c->inst->scope, "reading held deliveries: %s",
                    omb_strerror(rc));
            c->due = omb_monotonic_ms() + 1000;
            return;
        }
        if (px.n == 0 && atomic_load(&c->parking) == 0) {
            rs->draining = false;
            omb_log(OMB_LOG_INFO, c->inst->scope, "route '%s': held deliveries done; live again",
                    c->routes->v[i].name);
        }
    }
}

/* Delete delivered parked rows, one run of ids at a time. */
void consumer_flush_drops(struct omb_consumer *c)
{
    if (c->drop_first == 0) {
        return;
    }
    struct omb_store_parked_filter f = {
        .consumer = c->inst->name, .route = c->drop_route,
        .after_id = c->drop_first - 1, .max_id = c->drop_last,
    };
    int64_t deleted = 0;
    int rc = omb_store_parked_delete(c->store, &f, &deleted);
    if (rc < 0) {
        omb_log(OMB_LOG_ERROR, c->inst->scope,
                "cannot remove %lld delivered parked row(s): %s (they will be delivered again)",
                (long long)(c->drop_last - c->drop_first + 1), omb_strerror(rc));
    }
    c->drop_first = c->drop_last = 0;
}

void consumer_drop_parked(struct omb_consumer *c, const struct delivery *d)
{
    if (c->drop_first && (strcmp(c->drop_route, d->route) != 0 || c->drop_last + 1 > d->parked_id ||
                          c->drop_last - c->drop_first >= 255)) {
        consumer_flush_drops(c);
    }
    if (!c->drop_first) {
        snprintf(c->drop_route, sizeof(c->drop_route), "%s", d->route);
        c->drop_first = d->parked_id;
    }
    c->drop_last = d->parked_id;
}

