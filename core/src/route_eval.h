/* Route evaluation for one destination: its consumer reads journal rows and asks, for each, what
 * is to be delivered to it: every enabled route from the row's source and type that sends to
 * this destination is filtered and transformed (jq), and each result is one delivery. The
 * programs are compiled per evaluator, because a jq state serves one thread at a time. */
#ifndef OMNIBUS_ROUTE_EVAL_H
#define OMNIBUS_ROUTE_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "router.h"

/* One delivery an event makes. Pointers are borrowed for the callback only. */
struct omb_eval_out {
    size_t route;   /* index in the evaluator's route table */
    const char *id; /* the event's (or the part's) id, for logs */
    const char *env;
    size_t env_len;
    const char *body;
    size_t body_len;
};

/* Called for each delivery, in route order then result order. A negative return stops the
 * evaluation and is returned by omb_eval_event. */
typedef int (*omb_eval_fn)(void *arg, const struct omb_eval_out *out);

struct omb_eval;

/* An evaluator of `routes` (borrowed; must outlive it) for the destination with instance index
 * `dest`. A route's counters are counted by the evaluator of its first destination only, so
 * that an event is counted once per route however many destinations it has (the `queued`
 * counter, deliveries made, is counted by every destination). `scope` names the log source
 * (copied). NULL when out of memory; a program that does not compile here (it was checked with
 * the config, so only out of memory) makes its route count errors. */
struct omb_eval *omb_eval_new(const struct omb_routes *routes, size_t dest, const char *scope);
void omb_eval_destroy(struct omb_eval **ep);

/* The table the evaluator runs (borrowed). */
const struct omb_routes *omb_eval_routes(const struct omb_eval *e);

/* Evaluate one event (its envelope and body frames as journaled). `body_checked` false: the
 * body came from emit_raw and is checked here (an event whose body is not a JSON object is
 * dropped, counted as an error of every route it matched). Returns 0, or fn's negative return
 * (the deliveries handed over before it stand). */
int omb_eval_event(struct omb_eval *e, const char *env, size_t env_len, const char *body,
                   size_t body_len, bool body_checked, omb_eval_fn fn, void *arg);

#endif /* OMNIBUS_ROUTE_EVAL_H */
