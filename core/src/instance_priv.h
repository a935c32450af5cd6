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

/* host.c */
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
