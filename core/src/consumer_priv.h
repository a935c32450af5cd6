/* The inside of a destination's consumer, shared by consumer.c (reading, delivering, the loop)
 * and consumer_parked.c (parked rows: held, dead, replayed). Nothing else includes this. */
#ifndef OMNIBUS_CONSUMER_PRIV_H
#define OMNIBUS_CONSUMER_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include <omnibus/plugin.h>
#include "consumer.h"
#include "route_eval.h"

#define QUEUE_MAX 512        /* deliveries held in memory, at most (plus one event's split);
                              * half of it for a route that does not conflate, so that a
                              * deliver_batch can be offered BATCH_MAX */
#define READ_BATCH 256       /* journal rows per read */
#define PARKED_BATCH 64      /* parked rows per read */
#define RUN_BUDGET 512       /* deliveries per omb_consumer_run */
#define BATCH_MAX 250        /* deliveries offered to one deliver_batch (ABI 1.3) */
#define RUN_ROWS 8192        /* journal rows read per omb_consumer_run */
#define PERSIST_EVERY_MS 20  /* cursor commits, at most this often while busy */
#define CONFLATE_LIVE_MAX 4096 /* distinct keys pending in memory for conflating routes */
#define CONFLATE_MAX 65536     /* deliveries in memory, superseded ones (without bytes) included */
#define ERRORS_KEPT 20       /* attempt errors kept per delivery: the first and the latest */

struct delivery {
    struct delivery *next;
    int64_t seq;       /* journal seq of its event (0 for a parked row) */
    int64_t parked_id; /* the parked row it came from, 0 for the journal */
    int64_t received_us;
    char route[72];
    char id[176];
    char *env;  /* owned */
    size_t env_len;
    char *body; /* owned; NULL once superseded */
    size_t body_len;
    bool conflating;  /* its route conflates by key for this destination */
    bool superseded;  /* a newer delivery for its route and key came: it is skipped */
    char *ckey;       /* "<route>\x1f<key>" (owned) when conflating */
    int64_t time_us;  /* its event's own time, when conflating */
};

struct queue {
    struct delivery *head, *tail;
    size_t n;
};

/* Per route of the table in use. */
struct route_state {
    bool paused;   /* from pause/resume tasks, not the shared flag: ordered with our reads */
    bool draining; /* resumed with parked rows left: they go first, new ones are parked too */
    int64_t drained_after; /* parked id already taken into memory */
    bool conflate;         /* the route sends to us with conflate="key" (from the table) */
};

/* The arrays one deliver_batch call fills (allocated at the first batch). */
struct batch_bufs {
    struct delivery *v[BATCH_MAX];
    struct omb_raw_event raw[BATCH_MAX];
    struct omb_deliver_result res[BATCH_MAX];
    int rcs[BATCH_MAX];
};

struct omb_consumer {
    struct omb_instance *inst;
    struct batch_bufs *batch; /* owned; NULL until the plugin's first deliver_batch */
    struct omb_store *store;
    struct omb_store_reader *reader;
    const struct omb_routes *routes;
    size_t dest;
    struct omb_eval *eval;
    struct route_state *rs;
    struct omb_consumer_limits lim;
    omb_consumer_lookup_fn lookup;
    void *lookup_arg;
    atomic_uint version;

    struct consumer_keys *keys; /* conflation and freshness (consumer_conflate.c) */
    size_t live_plain;      /* deliveries in memory that do not conflate */
    size_t live_conflating; /* conflating deliveries in memory not superseded */
    struct queue q;  /* from the journal, in seq order */
    struct queue pq; /* from parked rows: before the journal */
    int64_t evaluated; /* the last journal seq evaluated */
    atomic_int_fast64_t done;
    atomic_uint_fast64_t in_memory;
    atomic_uint_fast64_t dead;
    int64_t persisted;
    int64_t persist_due;
    atomic_bool waiting;   /* nothing to read: a commit must wake the instance */
    atomic_int_fast64_t parking; /* parked rows queued to the writer, not yet committed */

    /* the head's attempts */
    unsigned attempts;
    int64_t first_attempt_us;
    int64_t due; /* monotonic ms of the next attempt */
    json_t *head_event; /* parsed for deliver(), on first need (owned) */
    json_t *errors;     /* [{"at": µs, "error": "..."}] (owned) */
    char first_error[OMB_DELIVER_REASON_MAX];

    bool replaying;       /* dead letters set to "replay" wait in the store */
    int64_t replay_after; /* parked id already taken into memory */

    /* parked rows delivered, to delete in one go: a run of ids of one route */
    char drop_route[72];
    int64_t drop_first, drop_last;
};

/* consumer.c */
void consumer_delivery_free(struct delivery *d);
void consumer_queue_push(struct queue *q, struct delivery *d);
struct delivery *consumer_delivery_new(const char *route, const char *id, const char *env,
                                       size_t env_len, const char *body, size_t body_len);
void consumer_update_done(struct omb_consumer *c);

/* True when reading more would hold too much in memory. */
bool consumer_full(const struct omb_consumer *c);
/* Count a new delivery of route index `route` (SIZE_MAX: a route no longer in the table) in
 * memory, conflating it when the route conflates for us: 0 or
 * OMB_ENOMEM (the delivery is then not counted). */
int consumer_admit(struct omb_consumer *c, struct delivery *d, size_t route, const char *key);
/* The index of a route of the table in use by name (parked rows carry names), or SIZE_MAX. */
size_t consumer_route_index(const struct omb_consumer *c, const char *name);

/* consumer_conflate.c */
struct consumer_keys;
void consumer_keys_free(struct consumer_keys **mp);
/* d (for route d->route and key) becomes the newest pending for its key; an older pending one
 * is superseded. 0 or OMB_ENOMEM. */
int consumer_conflate_add(struct omb_consumer *c, struct delivery *d, const char *key);
/* True when d must not be sent: superseded, or older than one delivered for its key (counted). */
/* The same question as consumer_conflate_skip, asked of a delivery behind the head: no count,
 * no log (a batch stops before one that would be skipped; the loop skips it as the head). */
bool consumer_conflate_sendable(const struct omb_consumer *c, const struct delivery *d);
bool consumer_conflate_skip(struct omb_consumer *c, const struct delivery *d);
/* d is finished (delivered or not): forget it as pending, remember its time if delivered. */
void consumer_conflate_done(struct omb_consumer *c, const struct delivery *d, bool delivered);

/* consumer_parked.c */
/* Park a delivery (held or dead) in the store, queued before any later cursor move. */
int consumer_park(struct omb_consumer *c, const char *state, const char *route, int64_t seq,
                  const char *id, const char *env, size_t env_len, const char *body,
                  size_t body_len, int64_t attempts, const char *first_error,
                  const char *last_error, const char *errors, int64_t first_at_us);
/* Take the next parked rows into c->pq: replays first, then draining routes' held rows. */
void consumer_read_parked(struct omb_consumer *c);
/* A delivered parked row is deleted, in runs of ids; flush deletes the run. */
void consumer_drop_parked(struct omb_consumer *c, const struct delivery *d);
void consumer_flush_drops(struct omb_consumer *c);

#endif /* OMNIBUS_CONSUMER_PRIV_H */
