/* The router: the route table, and one journal consumer per destination (consumer.h), run on
 * the destination's own thread. Sources append events to the journal (store.h); every commit
 * wakes the consumers that wait; each evaluates the routes that lead to its destination (filter,
 * transform, split) and delivers, head first, in journal order. */
#ifndef OMNIBUS_ROUTER_H
#define OMNIBUS_ROUTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"
#include "instance.h"
#include "runtime.h"

struct omb_route_from {
    char *connector;
    char *pattern;
};

/* One route as the workers run it. Counters are shared by all workers. */
struct omb_route_rt {
    char *name;
    bool enabled;
    atomic_bool paused;
    struct omb_route_from *from;
    size_t n_from;
    char *filter;        /* jq source or NULL; each worker compiles its own */
    char *transform;     /* jq source or NULL */
    char *out_type;      /* the type of the transform's results, NULL: the event's own */
    size_t *to;          /* instance indices */
    bool *conflate;      /* per `to`: conflate="key" */
    char **to_names;
    size_t n_to;
    atomic_uint_fast64_t in, passed, filtered, transformed, errors, queued;
    atomic_uint_fast64_t held; /* events held while paused, all workers */
};

struct omb_routes {
    struct omb_route_rt *v;
    size_t n;
    unsigned version;
    uint64_t uid; /* random: names the table in the journal's swap markers */
};

/* True when route r takes events of `type` from connector `source`. */
bool omb_route_matches(const struct omb_route_rt *r, const char *source, const char *type);

/* True when route r sends to instance `inst` with conflate="key". */
bool omb_route_conflates(const struct omb_route_rt *r, size_t inst);

/* True when some route of the table (enabled or not) sends to instance index `inst`: only those
 * instances are destinations, with a consumer. */
bool omb_routes_sends_to(const struct omb_routes *routes, size_t inst);

/* Build the route table of cfg over the instances (by name). Returns NULL with a message in
 * err when a route names a connector that has no instance. */
struct omb_routes *omb_routes_build(const struct omb_config *cfg, struct omb_instance **inst,
                                    size_t n_inst, unsigned version, char *err, size_t errlen);
void omb_routes_destroy(struct omb_routes **routesp);

/* The routes' counters as a new JSON array. */
json_t *omb_routes_stats(const struct omb_routes *routes);

struct omb_router;

/* A router over instances (borrowed; they must outlive the router) and a route table, which it
 * takes (and frees, also when it fails). */
struct omb_router *omb_router_new(struct omb_runtime *rt, struct omb_instance **inst,
                                  size_t n_inst, struct omb_routes *routes);
/* Give every destination its consumer, starting at its durable cursor (created at the journal's
 * end for a new destination), before any instance thread runs; then let commits wake them and
 * the store prune. rt->store must be open. 0 or an error (logged). */
int omb_router_start(struct omb_router *router);
/* Swap in a new route table (same instances; the router takes it) at one point of the journal:
 * a marker row is appended, and every consumer evaluates the events before it with the old
 * table and those after it with the new one, however far behind it is, so that no event is
 * routed by neither table or by both. The old table is freed once every consumer is past the
 * marker. 0, or an error (logged) when the marker could not be journaled: the old table
 * stays in force and `routes` is freed. */
int omb_router_swap(struct omb_router *router, struct omb_routes *routes);
/* Pause (park its deliveries in the store, in order) or resume (deliver the parked ones, then
 * carry on) a route of the table in use. 0, OMB_ENOTFOUND, OMB_ENOMEM. Daemon thread only. */
int omb_router_pause(struct omb_router *router, const char *route, bool paused);

/* Tell every destination to look for dead letters set to "replay" in the store. Daemon thread. */
void omb_router_replay(struct omb_router *router);

/* The table in use (borrowed). */
struct omb_routes *omb_router_routes(struct omb_router *router);
/* Events accepted and not yet finished: appends waiting for a commit, plus, per destination,
 * journal rows past its cursor. Daemon thread, while started. */
int64_t omb_router_backlog(struct omb_router *router);

/* Journal rows past the cursor of destination instance i (0 for a non-destination). */
int64_t omb_router_destination_backlog(struct omb_router *router, size_t i);

/* Stop waking the consumers (they are destroyed by their instances). Idempotent. */
void omb_router_stop(struct omb_router *router);
/* Free; NULL-safe; stops first. */
void omb_router_destroy(struct omb_router **routerp);

#endif /* OMNIBUS_ROUTER_H */
