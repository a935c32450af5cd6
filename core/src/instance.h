/* A connector instance: one plugin instance on its own thread, running its timers and fd
 * watches, emitting into the router, and delivering what the router sends it (the instance's
 * thread is the destination's dispatcher: one event at a time, in arrival order, retrying the
 * head with backoff so that per-key order holds). */
#ifndef OMNIBUS_INSTANCE_H
#define OMNIBUS_INSTANCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"
#include "diag.h"
#include "histogram.h"
#include "loader.h"
#include "runtime.h"

struct omb_instance;

enum omb_instance_state {
    OMB_INSTANCE_NEW = 0,   /* built, no thread yet */
    OMB_INSTANCE_STARTING,  /* created; start() has not succeeded yet (it is retried) */
    OMB_INSTANCE_RUNNING,   /* start() succeeded */
    OMB_INSTANCE_FAILED,    /* create() failed, or start() failed with a permanent error */
    OMB_INSTANCE_STOPPED    /* its thread has ended */
};

/* Counters of one instance, readable from any thread. */
struct omb_instance_stats {
    uint64_t emitted;   /* events accepted from the plugin */
    uint64_t received;  /* deliveries received from the router */
    uint64_t delivered; /* deliver() said OMB_OK */
    uint64_t retried;   /* deliver() said OMB_ERETRY (each attempt) */
    uint64_t rejected;  /* deliver() said OMB_EREJECT, or the frames were unreadable */
    uint64_t pending;   /* received, not yet delivered or rejected (in memory) */
    uint64_t dead;      /* deliveries sent to the dead-letter queue */
    uint64_t lost;      /* emitted events whose journal commit failed (never acknowledged) */
    uint64_t conflated; /* deliveries superseded by a newer one for their key (conflate="key") */
    uint64_t stale;     /* deliveries not sent: older than one delivered for their key */
    uint64_t deduplicated; /* emitted events dropped as repeats of a dedupe key within the
                            * connector's dedupe-window (acknowledged, not journaled; also
                            * counted in emitted) */
};

/* Build an instance of `plugin` for connector `cc`: validate its options (errors to diags at
 * `file`:line). No thread yet. Returns NULL on error. `rt` and `plugin` are borrowed and must
 * outlive the instance. */
struct omb_instance *omb_instance_new(struct omb_runtime *rt, const struct omb_config_connector *cc,
                                      const struct omb_plugin *plugin, const char *file,
                                      struct omb_diags *diags);

/* Start the thread: it binds its sockets, calls create() then start(). Returns 0 once create()
 * succeeded on the thread, or the error create() returned (the thread has then ended). */
int omb_instance_run(struct omb_instance *inst);

/* Ask the instance to stop producing (plugin stop()); waits until it has. */
void omb_instance_stop_sources(struct omb_instance *inst);

/* End the thread: deliveries not finished stay in the journal (the consumer's cursor has not
 * passed them), destroy() runs on the instance's thread, then the thread is joined. Safe on an instance that never ran. */
void omb_instance_exit(struct omb_instance *inst);

/* Free; NULL-safe, sets *instp to NULL. Calls omb_instance_exit first if needed. */
void omb_instance_destroy(struct omb_instance **instp);

const char *omb_instance_name(const struct omb_instance *inst);
/* isolate="process": the child process's state as a new object (isolate.h,
 * omb_isolate_status); NULL when the plugin runs in the daemon. Any thread. */
json_t *omb_instance_isolation(const struct omb_instance *inst);
const struct omb_plugin_descriptor *omb_instance_descriptor(const struct omb_instance *inst);
bool omb_instance_is_sink(const struct omb_instance *inst);
void omb_instance_stats(const struct omb_instance *inst, struct omb_instance_stats *out);

/* Run fn(arg) on the instance's thread, soon, in the order posted. Thread-safe: this is how
 * other threads (the HTTP ingress) hand work to a plugin, whose callbacks must all run on its
 * thread. Returns 0, or OMB_ESTOPPED when the instance's thread is not running (fn is then not
 * called; the caller still owns arg), or OMB_ENOMEM. */
typedef void (*omb_instance_task_fn)(struct omb_instance *inst, void *arg);
int omb_instance_post(struct omb_instance *inst, omb_instance_task_fn fn, void *arg);

/* Hand the instance its destination's journal consumer (consumer.h), before its thread starts;
 * the instance owns it from then on and runs it on its thread. */
struct omb_consumer;
void omb_instance_attach_consumer(struct omb_instance *inst, struct omb_consumer *c);

/* The wait before attempt `attempts` + 1 of something that failed `attempts` times: base_ms
 * doubling up to max_ms, with ±20 % jitter (start retries, delivery retries). */
int64_t omb_backoff_ms(int64_t base_ms, int64_t max_ms, unsigned attempts);

/* Wake the instance's thread (any thread): its loop looks at its consumer and tasks again. */
void omb_instance_wake(struct omb_instance *inst);

/* The destination's caps on one delivery's retries (0: none), from its config. */
void omb_instance_limits(const struct omb_instance *inst, int64_t *max_attempts,
                         int64_t *max_age_ms);

/* A scope around a plugin callback (the HTTP ingress sets one around a webhook handler) whose
 * emits are followed to their commit: `outstanding` counts the scope's own hold plus every
 * accepted emit until its journal commit; when it drops to 0, done(scope) runs (on the store's
 * writer thread, or on the thread that drops the hold). `failed` is set when a commit failed. */
struct omb_emit_scope {
    atomic_int outstanding;
    atomic_bool failed;
    void (*done)(struct omb_emit_scope *scope);
};

/* Initialise a scope with its own hold (outstanding 1). */
void omb_emit_scope_init(struct omb_emit_scope *scope, void (*done)(struct omb_emit_scope *));
/* Drop one hold; done() runs when it was the last. */
void omb_emit_scope_release(struct omb_emit_scope *scope);
/* Set (or, with NULL, clear) the scope of the instance's emits. Instance thread only. */
void omb_instance_set_emit_scope(struct omb_instance *inst, struct omb_emit_scope *scope);

/* The instance's plugin context (borrowed; for tasks posted with omb_instance_post). */
void *omb_instance_ctx(struct omb_instance *inst);

enum omb_instance_state omb_instance_state(const struct omb_instance *inst);
const char *omb_instance_state_name(enum omb_instance_state state);

/* Set the instance's own log level (enum omb_log_level), or -1 to follow the daemon's. */
void omb_instance_set_log_level(struct omb_instance *inst, int level);
/* The level in force for the instance. */
int omb_instance_log_level(const struct omb_instance *inst);

/* End-to-end latency of successful deliveries, in microseconds: from `received` (when the event
 * entered omnibus) to the end of deliver(). Borrowed; readable from any thread. */
const struct omb_histogram *omb_instance_latency(const struct omb_instance *inst);

/* The instance's plugin metrics as a new JSON object {name: value}. */
json_t *omb_instance_metrics(const struct omb_instance *inst);

#endif /* OMNIBUS_INSTANCE_H */
