/* A connector instance on its own thread: the plugin's lifecycle and its event loop (control
 * socket, posted tasks, timers, fds, and, for a destination, its journal consumer). The host API that plugins
 * call lives in host.c and reaches into the instance through instance_priv.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "consumer.h"
#include "envelope.h"
#include "err_str.h"
#include "instance.h"
#include "instance_priv.h"
#include "isolate.h"
#include "log.h"
#include "options.h"

void omb_endpoint_ctl(const struct omb_runtime *rt, const char *instance, char *out, size_t len)
{
    snprintf(out, len, "inproc://omb-%u-ctl-%s", rt->gen, instance);
}

/* Control messages between the daemon's thread and the instance's thread (one byte each). */
enum ctl_cmd { CTL_READY = 'R', CTL_FAILED = 'F', CTL_STOP = 'S', CTL_STOPPED = 's',
               CTL_EXIT = 'X', CTL_EXITED = 'x' };

static int ctl_send(void *sock, char cmd, int value)
{
    char buf[8];
    buf[0] = cmd;
    memcpy(buf + 1, &value, sizeof(value));
    return zmq_send(sock, buf, 1 + sizeof(value), 0) < 0 ? OMB_EIO : 0;
}

static int ctl_recv(void *sock, char *cmd, int *value)
{
    char buf[8];
    int n = zmq_recv(sock, buf, sizeof(buf), 0);
    if (n < 1 + (int)sizeof(int)) {
        return OMB_EIO;
    }
    *cmd = buf[0];
    memcpy(value, buf + 1, sizeof(*value));
    return 0;
}

struct omb_instance *omb_instance_new(struct omb_runtime *rt, const struct omb_config_connector *cc,
                                      const struct omb_plugin *plugin, const char *file,
                                      struct omb_diags *diags)
{
    struct omb_instance *inst = calloc(1, sizeof(*inst));
    if (!inst) {
        omb_diags_error(diags, file, cc->line, "connector '%s': out of memory", cc->name);
        return NULL;
    }
    inst->task_fd = -1;
    inst->rt = rt;
    inst->plugin = plugin;
    inst->desc = plugin->desc;
    inst->name = strdup(cc->name);
    atomic_init(&inst->log_level, (int)omb_log_get_level());
    atomic_init(&inst->own_level, false);
    inst->max_attempts = cc->max_attempts;
    inst->max_age_ms = cc->max_age_ms;
    inst->dedupe_window_us = cc->dedupe_window_ms > INT64_MAX / 1000 ? INT64_MAX
                                                                     : cc->dedupe_window_ms * 1000;
    if (cc->log_level) {
        int lvl = omb_log_level_parse(cc->log_level);
        if (lvl >= 0) {
            atomic_store(&inst->log_level, lvl);
            atomic_store(&inst->own_level, true);
        }
    }
    pthread_mutex_init(&inst->metrics_lock, NULL);
    pthread_mutex_init(&inst->tasks_lock, NULL);
    inst->task_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (inst->task_fd < 0) {
        omb_diags_error(diags, file, cc->line, "connector '%s': eventfd: %s", cc->name,
                        strerror(errno));
        goto fail;
    }
    if (!inst->name || asprintf(&inst->scope, "connector:%s:%s", inst->desc->name, cc->name) < 0) {
        inst->scope = NULL;
        omb_diags_error(diags, file, cc->line, "connector '%s': out of memory", cc->name);
        goto fail;
    }
    if (omb_options_apply(inst->desc, cc, file, &inst->ctx, diags) != 0) {
        goto fail;
    }
    if (omb_host_collect_secrets(inst, cc) != 0) {
        omb_diags_error(diags, file, cc->line, "connector '%s': out of memory", cc->name);
        goto fail;
    }
    if (cc->isolate_process && !(inst->iso = omb_isolate_new(inst, cc, plugin->path, file))) {
        omb_diags_error(diags, file, cc->line, "connector '%s': out of memory", cc->name);
        goto fail;
    }
    return inst;
fail:
    omb_instance_destroy(&inst);
    return NULL;
}

static void close_sockets(struct omb_instance *inst)
{
    if (inst->ctl_thread) {
        zmq_close(inst->ctl_thread);
        inst->ctl_thread = NULL;
    }
}

static int open_sockets(struct omb_instance *inst)
{
    char ep[OMB_ENDPOINT_MAX];
    inst->ctl_thread = zmq_socket(inst->rt->zctx, ZMQ_PAIR);
    omb_endpoint_ctl(inst->rt, inst->name, ep, sizeof(ep));
    if (!inst->ctl_thread || zmq_connect(inst->ctl_thread, ep) != 0) {
        return OMB_EIO;
    }
    return 0;
}

int64_t omb_backoff_ms(int64_t base_ms, int64_t max_ms, unsigned attempts)
{
    int64_t d = base_ms;
    for (unsigned i = 1; i < attempts && d < max_ms; i++) {
        d *= 2;
    }
    if (d > max_ms) {
        d = max_ms;
    }
    /* +-20% jitter so that many retrying destinations do not wake in step. */
    int64_t span = d / 5;
    if (span > 0) {
        d += (int64_t)(random() % (2 * span + 1)) - span;
    }
    return d;
}

static void try_start(struct omb_instance *inst)
{
    int rc = inst->iso ? omb_isolate_start(inst->iso)
                       : inst->desc->start ? inst->desc->start(inst->ctx) : 0;
    if (rc == 0) {
        inst->started = true;
        atomic_store(&inst->state, OMB_INSTANCE_RUNNING);
        inst->start_attempts = 0;
        omb_log(OMB_LOG_DEBUG, inst->scope, "started");
        return;
    }
    inst->start_attempts++;
    if (rc != OMB_ERETRY) {
        atomic_store(&inst->state, OMB_INSTANCE_FAILED);
    }
    int64_t delay =
        omb_backoff_ms(inst->rt->retry_base_ms, inst->rt->retry_max_ms, inst->start_attempts);
    inst->start_due = omb_monotonic_ms() + delay;
    omb_log(rc == OMB_ERETRY ? OMB_LOG_WARN : OMB_LOG_ERROR, inst->scope,
            "start failed (%s), attempt %u; trying again in %lld ms", omb_strerror(rc),
            inst->start_attempts, (long long)delay);
}

static void stop_sources(struct omb_instance *inst)
{
    if (inst->sources_stopped) {
        return;
    }
    if ((inst->iso || inst->desc->stop) && inst->started) {
        int rc = inst->iso ? omb_isolate_stop(inst->iso) : inst->desc->stop(inst->ctx);
        if (rc != 0) {
            omb_log(OMB_LOG_WARN, inst->scope, "stop: %s", omb_strerror(rc));
        }
    }
    inst->sources_stopped = true;
}

void omb_instance_stop_here(struct omb_instance *inst)
{
    stop_sources(inst);
}

void omb_instance_attach_consumer(struct omb_instance *inst, struct omb_consumer *c)
{
    inst->consumer = c;
}

void omb_instance_wake(struct omb_instance *inst)
{
    uint64_t one = 1;
    /* Cannot fail short of a counter overflow; a lost wake-up is caught by the next one. */
    (void)!write(inst->task_fd, &one, sizeof(one));
}

void omb_instance_limits(const struct omb_instance *inst, int64_t *max_attempts,
                         int64_t *max_age_ms)
{
    *max_attempts = inst->max_attempts;
    *max_age_ms = inst->max_age_ms;
}

int omb_instance_post(struct omb_instance *inst, omb_instance_task_fn fn, void *arg)
{
    struct instance_task *t = malloc(sizeof(*t));
    if (!t) {
        return OMB_ENOMEM;
    }
    *t = (struct instance_task){ .fn = fn, .arg = arg, .next = NULL };
    pthread_mutex_lock(&inst->tasks_lock);
    if (!inst->accepting_tasks) {
        pthread_mutex_unlock(&inst->tasks_lock);
        free(t);
        return OMB_ESTOPPED;
    }
    /* One wake-up per batch: a list that is not empty has a wake-up pending already (the
     * thread takes the whole list, under this lock, after it reads the eventfd). An ack per
     * event made this a write(2) per event. */
    bool was_empty = inst->tasks == NULL;
    if (inst->tasks_tail) {
        inst->tasks_tail->next = t;
    } else {
        inst->tasks = t;
    }
    inst->tasks_tail = t;
    pthread_mutex_unlock(&inst->tasks_lock);
    if (was_empty) {
        omb_instance_wake(inst);
    }
    return 0;
}

void *omb_instance_ctx(struct omb_instance *inst)
{
    return inst->ctx;
}

static void set_accepting_tasks(struct omb_instance *inst, bool on)
{
    pthread_mutex_lock(&inst->tasks_lock);
    inst->accepting_tasks = on;
    pthread_mutex_unlock(&inst->tasks_lock);
}

/* Run the posted tasks, those posted while running included. */
static void run_tasks(struct omb_instance *inst)
{
    uint64_t count;
    while (read(inst->task_fd, &count, sizeof(count)) > 0) {
    }
    for (;;) {
        pthread_mutex_lock(&inst->tasks_lock);
        struct instance_task *t = inst->tasks;
        inst->tasks = inst->tasks_tail = NULL;
        pthread_mutex_unlock(&inst->tasks_lock);
        if (!t) {
            return;
        }
        while (t) {
            struct instance_task *next = t->next;
            t->fn(inst, t->arg);
            free(t);
            t = next;
        }
    }
}

static void *instance_main(void *arg)
{
    struct omb_instance *inst = arg;
    int rc = open_sockets(inst);
    if (rc != 0) {
        omb_log(OMB_LOG_ERROR, inst->scope, "cannot open sockets: %s", zmq_strerror(errno));
        if (inst->ctl_thread) {
            ctl_send(inst->ctl_thread, CTL_FAILED, rc);
        }
        close_sockets(inst);
        return NULL;
    }
    rc = inst->iso ? omb_isolate_create(inst->iso)
                   : inst->desc->create(omb_host_api_table(), inst, inst->ctx);
    if (rc != 0) {
        atomic_store(&inst->state, OMB_INSTANCE_FAILED);
        omb_log(OMB_LOG_ERROR, inst->scope, "create failed: %s", omb_strerror(rc));
        ctl_send(inst->ctl_thread, CTL_FAILED, rc);
        close_sockets(inst);
        return NULL;
    }
    inst->created = true;
    atomic_store(&inst->state, OMB_INSTANCE_STARTING);
    set_accepting_tasks(inst, true);
    ctl_send(inst->ctl_thread, CTL_READY, 0);
    try_start(inst);

    bool exiting = false;
    while (!exiting) {
        int64_t now = omb_monotonic_ms();
        int64_t due = omb_host_timers_next(inst);
        if (!inst->started && (due < 0 || inst->start_due < due)) {
            due = inst->start_due;
        }
        if (inst->consumer && inst->started) {
            int64_t cdue = omb_consumer_due(inst->consumer);
            if (cdue >= 0 && (due < 0 || cdue < due)) {
                due = cdue;
            }
        }
        long timeout = due < 0 ? -1 : (due <= now ? 0 : (long)(due - now));

        size_t nfd = omb_host_fds_count(inst);
        zmq_pollitem_t items[3 + OMB_MAX_FDS];
        size_t n = 0;
        items[n++] = (zmq_pollitem_t){ .socket = inst->ctl_thread, .events = ZMQ_POLLIN };
        items[n++] = (zmq_pollitem_t){ .socket = NULL, .fd = inst->task_fd, .events = ZMQ_POLLIN };
        /* Polled even when NULL (never ready) so that the fds keep their place. */
        void *link = inst->link_sock;
        items[n++] = (zmq_pollitem_t){ .socket = link, .fd = -1,
                                       .events = link ? ZMQ_POLLIN : 0 };
        size_t fd_base = n;
        n += omb_host_fds_fill(inst, items + fd_base, nfd);

        int nready = zmq_poll(items, (int)n, timeout);
        if (nready < 0 && errno != EINTR) {
            omb_log(OMB_LOG_ERROR, inst->scope, "poll: %s", zmq_strerror(errno));
            break;
        }
        if (nready > 0 && (items[0].revents & ZMQ_POLLIN)) {
            char cmd;
            int value;
            if (ctl_recv(inst->ctl_thread, &cmd, &value) == 0) {
                if (cmd == CTL_STOP) {
                    stop_sources(inst);
                    ctl_send(inst->ctl_thread, CTL_STOPPED, 0);
                } else if (cmd == CTL_EXIT) {
                    exiting = true;
                    continue;
                }
            }
        }
        if (nready > 0 && (items[1].revents & ZMQ_POLLIN)) {
            run_tasks(inst);
        }
        if (nready > 0 && link && link == inst->link_sock && (items[2].revents & ZMQ_POLLIN)) {
            inst->link_fn(inst, inst->link_arg);
        }
        if (inst->link_exit) {
            exiting = true;
            continue;
        }
        if (!inst->started && omb_monotonic_ms() >= inst->start_due) {
            try_start(inst);
        }
        omb_host_timers_run(inst);
        if (nready > 0) {
            omb_host_fds_dispatch(inst, items + fd_base, n - fd_base);
        }
        if (inst->consumer && inst->started) {
            int64_t cdue = omb_consumer_due(inst->consumer);
            if (cdue >= 0 && cdue <= omb_monotonic_ms()) {
                omb_consumer_run(inst->consumer, true);
            }
        }
    }

    stop_sources(inst);
    /* Tasks posted until now still run (their posters wait for an answer); later posts fail. */
    set_accepting_tasks(inst, false);
    run_tasks(inst);
    /* What it has not delivered stays in the journal: its cursor has not moved past it. */
    omb_consumer_destroy(&inst->consumer);
    if (inst->iso) {
        omb_isolate_destroy(inst->iso);
    } else {
        inst->desc->destroy(inst->ctx);
    }
    inst->created = false;
    omb_host_timers_clear(inst);
    atomic_store(&inst->state, OMB_INSTANCE_STOPPED);
    ctl_send(inst->ctl_thread, CTL_EXITED, 0);
    close_sockets(inst);
    return NULL;
}

int omb_instance_run(struct omb_instance *inst)
{
    char ep[OMB_ENDPOINT_MAX];
    int linger = 0;
    inst->ctl_main = zmq_socket(inst->rt->zctx, ZMQ_PAIR);
    omb_endpoint_ctl(inst->rt, inst->name, ep, sizeof(ep));
    if (!inst->ctl_main ||
        zmq_setsockopt(inst->ctl_main, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_bind(inst->ctl_main, ep) != 0) {
        omb_log(OMB_LOG_ERROR, inst->scope, "cannot bind %s: %s", ep, zmq_strerror(errno));
        return OMB_EIO;
    }
    if (pthread_create(&inst->thread, NULL, instance_main, inst) != 0) {
        omb_log(OMB_LOG_ERROR, inst->scope, "cannot start a thread");
        return OMB_ENOMEM;
    }
    inst->thread_running = true;
    char cmd = 0;
    int value = OMB_EIO;
    if (ctl_recv(inst->ctl_main, &cmd, &value) != 0 || cmd != CTL_READY) {
        pthread_join(inst->thread, NULL);
        inst->thread_running = false;
        return value < 0 ? value : OMB_EIO;
    }
    return 0;
}

void omb_instance_stop_sources(struct omb_instance *inst)
{
    if (!inst->thread_running) {
        return;
    }
    char cmd;
    int value;
    if (ctl_send(inst->ctl_main, CTL_STOP, 0) == 0) {
        ctl_recv(inst->ctl_main, &cmd, &value);
    }
}

void omb_instance_join(struct omb_instance *inst)
{
    if (!inst->thread_running) {
        return;
    }
    char cmd = 0;
    int value;
    while (cmd != CTL_EXITED && ctl_recv(inst->ctl_main, &cmd, &value) == 0) {
    }
    pthread_join(inst->thread, NULL);
    inst->thread_running = false;
}

void omb_instance_exit(struct omb_instance *inst)
{
    if (!inst->thread_running) {
        /* Its thread never ran (or its create() failed): the consumer the router attached is
         * still here, and reads the router's route tables, which go next. */
        omb_consumer_destroy(&inst->consumer);
        return;
    }
    char cmd;
    int value;
    if (ctl_send(inst->ctl_main, CTL_EXIT, 0) == 0) {
        ctl_recv(inst->ctl_main, &cmd, &value);
    }
    pthread_join(inst->thread, NULL);
    inst->thread_running = false;
}

void omb_instance_destroy(struct omb_instance **instp)
{
    if (!instp || !*instp) {
        return;
    }
    struct omb_instance *inst = *instp;
    omb_instance_exit(inst);
    omb_consumer_destroy(&inst->consumer); /* attached, but its thread never ran */
    if (inst->ctl_main) {
        zmq_close(inst->ctl_main);
    }
    omb_isolate_free(&inst->iso);
    omb_options_free(inst->desc, inst->ctx);
    omb_host_free(inst);
    if (inst->task_fd >= 0) {
        close(inst->task_fd);
    }
    pthread_mutex_destroy(&inst->tasks_lock);
    pthread_mutex_destroy(&inst->metrics_lock);
    free(inst->scope);
    free(inst->name);
    free(inst);
    *instp = NULL;
}

json_t *omb_instance_isolation(const struct omb_instance *inst)
{
    return inst->iso ? omb_isolate_status(inst->iso) : NULL;
}

const char *omb_instance_name(const struct omb_instance *inst)
{
    return inst->name;
}

const struct omb_plugin_descriptor *omb_instance_descriptor(const struct omb_instance *inst)
{
    return inst->desc;
}

bool omb_instance_is_sink(const struct omb_instance *inst)
{
    return (inst->desc->capabilities & OMB_CAP_SINK) != 0;
}

void omb_instance_stats(const struct omb_instance *inst, struct omb_instance_stats *out)
{
    out->emitted = atomic_load(&inst->stats.emitted);
    out->received = atomic_load(&inst->stats.received);
    out->delivered = atomic_load(&inst->stats.delivered);
    out->retried = atomic_load(&inst->stats.retried);
    out->rejected = atomic_load(&inst->stats.rejected);
    out->pending = atomic_load(&inst->stats.pending);
    out->dead = atomic_load(&inst->stats.dead);
    out->lost = atomic_load(&inst->stats.lost);
    out->conflated = atomic_load(&inst->stats.conflated);
    out->stale = atomic_load(&inst->stats.stale);
    out->deduplicated = atomic_load(&inst->stats.deduplicated);
}

enum omb_instance_state omb_instance_state(const struct omb_instance *inst)
{
    return (enum omb_instance_state)atomic_load(&((struct omb_instance *)inst)->state);
}

const char *omb_instance_state_name(enum omb_instance_state state)
{
    switch (state) {
    case OMB_INSTANCE_NEW: return "new";
    case OMB_INSTANCE_STARTING: return "starting";
    case OMB_INSTANCE_RUNNING: return "running";
    case OMB_INSTANCE_FAILED: return "failed";
    case OMB_INSTANCE_STOPPED: return "stopped";
    }
    return "unknown";
}

void omb_instance_set_log_level(struct omb_instance *inst, int level)
{
    if (level < 0) {
        atomic_store(&inst->own_level, false);
        return;
    }
    atomic_store(&inst->log_level, level);
    atomic_store(&inst->own_level, true);
}

int omb_instance_log_level(const struct omb_instance *inst)
{
    struct omb_instance *i = (struct omb_instance *)inst;
    return atomic_load(&i->own_level) ? atomic_load(&i->log_level) : (int)omb_log_get_level();
}

const struct omb_histogram *omb_instance_latency(const struct omb_instance *inst)
{
    return &inst->latency;
}
