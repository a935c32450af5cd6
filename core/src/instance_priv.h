/* The inside of struct omb_instance, shared by instance.c (thread, dispatcher) and host.c (the
 * host API plugins call). Nothing else includes this. */
#ifndef OMNIBUS_INSTANCE_PRIV_H
#define OMNIBUS_INSTANCE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <zmq.h>

#include <omnibus/plugin.h>
#include "config.h"
#include "histogram.h"
#include "loader.h"
#include "runtime.h"

#define OMB_MAX_FDS 32

struct omb_consumer;

struct host_timer {
    uint64_t id;
    int64_t due;        /* monotonic ms */
    uint64_t interval;  /* 0: one-shot */
    omb_timer_fn fn;
    void *arg;
};

struct host_fd {
    int fd;
    unsigned events;
    omb_fd_fn fn;
    void *arg;
};

struct instance_task {
    void (*fn)(struct omb_instance *inst, void *arg);
    void *arg;
    struct instance_task *next;
};

struct host_metric {
    char *name;
    bool gauge;
    int64_t value;
};

struct omb_instance {
    struct omb_runtime *rt;
    const struct omb_plugin *plugin;
    const struct omb_plugin_descriptor *desc;
    char *name;
    char *scope;          /* "connector:<plugin>:<name>" for logs */
    atomic_int log_level; /* enum omb_log_level; the admin socket may change it */
    atomic_bool own_level;/* set by the connector's log-level (or the admin), not the daemon's */
    void *ctx;            /* the plugin's context, options filled in (options.c owns) */
    char **secrets;       /* values never to be logged, NULL-terminated */

    pthread_t thread;
    bool thread_running;
    void *ctl_main;       /* PAIR, the daemon's end (daemon thread) */
    void *ctl_thread;     /* PAIR, the instance's end */
    struct omb_consumer *consumer; /* a destination's journal consumer (owned), or NULL */
    struct omb_emit_scope *emit_scope; /* set around a callback whose emits are followed */
    int64_t max_attempts; /* as a destination: caps of one delivery's retries (0: none) */
    int64_t max_age_ms;
    int64_t dedupe_window_us; /* as a source: how long an event's dedupe key holds (0: off) */

    /* isolate="process" (isolate.h): the daemon's side of the child process that runs the
     * plugin; the instance calls it instead of the plugin's callbacks. NULL: in process. */
    struct omb_isolate *iso;
    /* A ZeroMQ socket the loop also polls (the link to an isolated plugin's child process, or,
     * in that child, to the daemon): link_fn(inst, link_arg) runs when it is readable. A
     * link_fn that sets link_exit ends the loop as CTL_EXIT would. */
    void *link_sock;
    void (*link_fn)(struct omb_instance *inst, void *arg);
    void *link_arg;
    bool link_exit;

    bool created, started, sources_stopped;
    unsigned start_attempts;
    int64_t start_due;

    struct host_timer *timers;
    size_t n_timers, cap_timers;
    uint64_t next_timer_id;
    struct host_fd fds[OMB_MAX_FDS];
    size_t n_fds;

    pthread_mutex_t tasks_lock;   /* guards tasks, tasks_tail and accepting_tasks */
    struct instance_task *tasks, *tasks_tail;
    bool accepting_tasks;
    int task_fd;                  /* eventfd: wakes the thread when a task is posted */

    pthread_mutex_t metrics_lock;
    struct host_metric *metrics;
    size_t n_metrics, cap_metrics;

    atomic_int state;     /* enum omb_instance_state */
    struct omb_histogram latency; /* µs, successful deliveries */

    struct {
        atomic_uint_fast64_t emitted, received, delivered, retried, rejected, pending, lost, dead, conflated, stale;
        atomic_uint_fast64_t deduplicated;
    } stats;
};

/* instance.c: for the isolated plugin's child process (isolate_child.c) */
/* Stop the plugin's sources now (its stop()), on the instance's thread. */
void omb_instance_stop_here(struct omb_instance *inst);
/* Wait for the instance's thread to end by itself (link_exit) and join it. */
void omb_instance_join(struct omb_instance *inst);

/* host.c */
/* emit_raw_acked as a plugin calls it, with the store's acknowledgement (writer thread): how
 * the daemon takes an event an isolated plugin's child process emitted. */
struct omb_store;
int omb_host_emit_forward(struct omb_instance *self, const json_t *envelope, const char *body,
                          size_t body_len, void (*ack)(void *arg, int64_t seq, int rc),
                          void *arg);
const struct omb_host_api *omb_host_api_table(void);
int omb_host_collect_secrets(struct omb_instance *inst, const struct omb_config_connector *cc);
int64_t omb_host_timers_next(struct omb_instance *inst);   /* monotonic ms, -1: none */
void omb_host_timers_run(struct omb_instance *inst);
void omb_host_timers_clear(struct omb_instance *inst);
size_t omb_host_fds_count(struct omb_instance *inst);
size_t omb_host_fds_fill(struct omb_instance *inst, zmq_pollitem_t *items, size_t max);
void omb_host_fds_dispatch(struct omb_instance *inst, const zmq_pollitem_t *items, size_t n);
void omb_host_free(struct omb_instance *inst);

#endif /* OMNIBUS_INSTANCE_PRIV_H */
