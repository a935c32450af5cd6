/* A destination's consumer: it reads the journal from its durable cursor, asks the route
 * evaluator what each event means for its destination, and delivers one delivery at a time,
 * head first, on the destination instance's own thread. A delivery that fails is retried with
 * backoff (Retry-After honoured) until it succeeds, is rejected, or reaches the destination's
 * caps on attempts and age; then it goes to the dead-letter queue. The cursor moves past an event
 * only once every delivery it made is finished, and is committed in the store's group commits:
 * after a crash the consumer resumes where its last committed cursor stood (at least once).
 * A paused route's deliveries are parked in the store ("held") and delivered, oldest first, when
 * it is resumed. Memory holds at most a bounded window of deliveries; the backlog is the journal. */
#ifndef OMNIBUS_CONSUMER_H
#define OMNIBUS_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>

#include "instance.h"
#include "router.h"
#include "store.h"

struct omb_consumer;

struct omb_consumer_limits {
    int64_t max_attempts;  /* 0: unlimited */
    int64_t max_age_ms;    /* from the event's `received`; 0: unlimited */
    int64_t retry_base_ms; /* first backoff */
    int64_t retry_max_ms;  /* backoff cap */
};

/* Finds the table a swap marker names (by its uid), or NULL when it is not this process's.
 * Called on the consumer's thread; the table must stay valid until the consumer reports a newer
 * version (omb_consumer_version). */
typedef const struct omb_routes *(*omb_consumer_lookup_fn)(void *arg, uint64_t uid);

/* A consumer for destination instance `inst` (index `dest` in the route table's instance list),
 * starting after journal seq `cursor` (from omb_store_cursor_init) with table `routes`. inst,
 * store and routes are borrowed and must outlive it (routes: see lookup). Made on any thread
 * before the instance's thread starts; from then on every call but those marked "any thread"
 * is made on the instance's thread. */
struct omb_consumer *omb_consumer_new(struct omb_instance *inst, struct omb_store *store,
                                      const struct omb_routes *routes, size_t dest,
                                      int64_t cursor, const struct omb_consumer_limits *lim,
                                      omb_consumer_lookup_fn lookup, void *lookup_arg);

/* Commit the cursor where it stands (queued to the store's writer), free everything. NULL-safe.
 * Deliveries in memory are not lost: the cursor has not moved past them. */
void omb_consumer_destroy(struct omb_consumer **cp);

/* When the consumer next wants to run: 0 now, a monotonic ms, or -1 when it waits for a commit
 * (omb_consumer_notify wakes the instance). */
int64_t omb_consumer_due(struct omb_consumer *c);

/* Deliver what is ready, a bounded amount so that the instance's timers and tasks get a turn. */
void omb_consumer_run(struct omb_consumer *c, bool started);

/* Pause a route (its deliveries are parked from the next event on) or resume it (parked ones go
 * first, oldest first, then live ones). Unknown names are ignored. */
void omb_consumer_pause(struct omb_consumer *c, const char *route, bool paused);

/* Look for dead letters of this destination set to "replay" (omb_store_parked_update) and
 * deliver them, oldest first, before new events; each delivered one is deleted, one that fails
 * again goes back to the dead letters with its new attempts. */
void omb_consumer_replay(struct omb_consumer *c);

/* Any thread: a commit made journal rows up to last_seq visible. Wakes the instance if the
 * consumer waits for one. */
void omb_consumer_notify(struct omb_consumer *c, int64_t last_seq);

/* Any thread: the consumer's cursor (every journal event up to it is finished for this
 * destination), and the deliveries it holds in memory. */
int64_t omb_consumer_done(const struct omb_consumer *c);
uint64_t omb_consumer_in_memory(const struct omb_consumer *c);

/* Any thread: the version of the table the consumer evaluates with (it met the swap markers of
 * every older one). */
unsigned omb_consumer_version(const struct omb_consumer *c);

/* Any thread: dead letters this consumer has written since it started. */
uint64_t omb_consumer_dead(const struct omb_consumer *c);

#endif /* OMNIBUS_CONSUMER_H */
