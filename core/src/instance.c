/* A connector instance on its own thread: the plugin's lifecycle, its event loop (control
 * socket, deliveries, timers, fds) and the destination's dispatcher. The host API that plugins
 * call lives in host.c and reaches into the instance through instance_priv.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "envelope.h"
#include "err_str.h"
#include "instance.h"
#include "instance_priv.h"
#include "log.h"
#include "options.h"

void omb_endpoint_router(const struct omb_runtime *rt, size_t worker, char *out, size_t len)
{
    snprintf(out, len, "inproc://omb-%u-router-%zu", rt->gen, worker);
}

void omb_endpoint_deliver(const struct omb_runtime *rt, const char *instance, char *out,
                          size_t len)
{
    snprintf(out, len, "inproc://omb-%u-deliver-%s", rt->gen, instance);
}

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
    return inst;
fail:
    omb_instance_destroy(&inst);
    return NULL;
}

static void close_sockets(struct omb_instance *inst)
{
    if (inst->emit_socks) {
        for (size_t i = 0; i < inst->rt->n_workers; i++) {
            if (inst->emit_socks[i]) {
                zmq_close(inst->emit_socks[i]);
            }
        }
        free(inst->emit_socks);
        inst->emit_socks = NULL;
    }
    if (inst->deliver_sock) {
        zmq_close(inst->deliver_sock);
        inst->deliver_sock = NULL;
    }
    if (inst->ctl_thread) {
        zmq_close(inst->ctl_thread);
        inst->ctl_thread = NULL;
    }
}

static int open_sockets(struct omb_instance *inst)
{
    char ep[OMB_ENDPOINT_MAX];
    int zero = 0, hwm = OMB_INGRESS_HWM, linger = 0;

    inst->ctl_thread = zmq_socket(inst->rt->zctx, ZMQ_PAIR);
    omb_endpoint_ctl(inst->rt, inst->name, ep, sizeof(ep));
    if (!inst->ctl_thread || zmq_connect(inst->ctl_thread, ep) != 0) {
        return OMB_EIO;
    }
    if (inst->desc->capabilities & OMB_CAP_SINK) {
        inst->deliver_sock = zmq_socket(inst->rt->zctx, ZMQ_PULL);
        omb_endpoint_deliver(inst->rt, inst->name, ep, sizeof(ep));
        if (!inst->deliver_sock ||
            zmq_setsockopt(inst->deliver_sock, ZMQ_RCVHWM, &zero, sizeof(zero)) != 0 ||
            zmq_setsockopt(inst->deliver_sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
            zmq_bind(inst->deliver_sock, ep) != 0) {
            return OMB_EIO;
        }
    }
    if (inst->desc->capabilities & OMB_CAP_SOURCE) {
        inst->emit_socks = calloc(inst->rt->n_workers, sizeof(void *));
        if (!inst->emit_socks) {
            return OMB_ENOMEM;
        }
        for (size_t i = 0; i < inst->rt->n_workers; i++) {
            void *s = zmq_socket(inst->rt->zctx, ZMQ_PUSH);
            inst->emit_socks[i] = s;
            omb_endpoint_router(inst->rt, i, ep, sizeof(ep));
            if (!s || zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
                zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
                zmq_connect(s, ep) != 0) {
                return OMB_EIO;
            }
        }
    }
    return 0;
}

static int64_t backoff_ms(const struct omb_instance *inst, unsigned attempts)
{
    int64_t d = inst->rt->retry_base_ms;
    for (unsigned i = 1; i < attempts && d < inst->rt->retry_max_ms; i++) {
        d *= 2;
    }
    if (d > inst->rt->retry_max_ms) {
        d = inst->rt->retry_max_ms;
    }
    /* +-20% jitter so that many retrying destinations do not wake in step. */
    int64_t span = d / 5;
    if (span > 0) {
        d += (int64_t)(random() % (2 * span + 1)) - span;
    }
    return d;
}

static void finish_delivery(struct omb_instance *inst)
{
    json_decref(inst->head);
    inst->head = NULL;
    for (int i = 0; i < 3; i++) {
        zmq_msg_close(&inst->head_parts[i]);
    }
    inst->has_head = false;
    inst->head_attempts = 0;
    atomic_fetch_sub(&inst->stats.pending, 1);
    atomic_fetch_sub(&inst->rt->inflight, 1);
}

/* A string member of the envelope we sealed ourselves (compact JSON, no escapes in ids and
 * times), read without parsing: for logs and the latency clock. */
static void envelope_field(const zmq_msg_t *env, const char *name, char *out, size_t outlen)
{
    char pat[32];
    int plen = snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    const char *text = zmq_msg_data((zmq_msg_t *)env);
    size_t len = zmq_msg_size((zmq_msg_t *)env);
    const char *hit = memmem(text, len, pat, (size_t)plen);
    out[0] = '\0';
    if (!hit) {
        return;
    }
    const char *v = hit + plen, *end = memchr(v, '"', len - (size_t)(v - text));
    if (end) {
        snprintf(out, outlen, "%.*s", (int)(end - v), v);
    }
}

/* Deliver the head event once. Returns true when the head is done (ok or rejected). */
static bool deliver_head(struct omb_instance *inst)
{
    struct omb_deliver_result res;
    char err[256] = "";
    int rc;
    memset(&res, 0, sizeof(res));
    inst->head_attempts++;
    if (inst->desc->abi_minor >= 1 && inst->desc->deliver_raw) {
        struct omb_raw_event raw = {
            .route = inst->head_route,
            .envelope = zmq_msg_data(&inst->head_parts[1]),
            .envelope_len = zmq_msg_size(&inst->head_parts[1]),
            .body = zmq_msg_data(&inst->head_parts[2]),
            .body_len = zmq_msg_size(&inst->head_parts[2]),
        };
        rc = inst->desc->deliver_raw(inst->ctx, &raw, &res);
    } else {
        if (!inst->head) {
            inst->head = omb_event_from_frames(
                inst->head_route, zmq_msg_data(&inst->head_parts[1]),
                zmq_msg_size(&inst->head_parts[1]), zmq_msg_data(&inst->head_parts[2]),
                zmq_msg_size(&inst->head_parts[2]), err, sizeof(err));
        }
        if (inst->head) {
            rc = inst->desc->deliver(inst->ctx, inst->head, &res);
        } else {
            /* A body that no route had to read and that is not JSON (emit_raw's bargain). */
            rc = OMB_EREJECT;
            snprintf(res.reason, sizeof(res.reason), "unreadable event: %s", err);
        }
    }
    res.reason[sizeof(res.reason) - 1] = '\0';
    if (rc == OMB_OK) {
        char received[64];
        int64_t received_us;
        envelope_field(&inst->head_parts[1], "received", received, sizeof(received));
        if (omb_time_parse_us(received, &received_us) == 0) {
            omb_histogram_record(&inst->latency, omb_now_us() - received_us);
        }
        atomic_fetch_add(&inst->stats.delivered, 1);
        finish_delivery(inst);
        return true;
    }
    char id[160]; /* for the logs below only: not read on the success path */
    envelope_field(&inst->head_parts[1], "id", id, sizeof(id));
    if (rc == OMB_EREJECT) {
        atomic_fetch_add(&inst->stats.rejected, 1);
        omb_log(OMB_LOG_ERROR, inst->scope, "route '%s': event %s rejected after %u attempt(s): %s",
                inst->head_route, id[0] ? id : "?", inst->head_attempts,
                res.reason[0] ? res.reason : "no reason given");
        finish_delivery(inst);
        return true;
    }
    /* OMB_ERETRY, or anything unexpected: try again later, never drop. */
    atomic_fetch_add(&inst->stats.retried, 1);
    int64_t delay = res.retry_after_ms > 0 ? res.retry_after_ms
                                           : backoff_ms(inst, inst->head_attempts);
    inst->head_due = omb_monotonic_ms() + delay;
    omb_log(inst->head_attempts == 1 ? OMB_LOG_WARN : OMB_LOG_DEBUG, inst->scope,
            "route '%s': event %s: attempt %u failed (%s), retrying in %lld ms",
            inst->head_route, id[0] ? id : "?", inst->head_attempts,
            res.reason[0] ? res.reason : omb_strerror(rc), (long long)delay);
    return false;
}

/* Take one delivery off the socket into the head slot. Returns false when there was none. */
static bool receive_delivery(struct omb_instance *inst)
{
    zmq_msg_t *parts = inst->head_parts;
    int n = 0;
    bool got = false;
    for (; n < 3; n++) {
        zmq_msg_init(&parts[n]);
        if (zmq_msg_recv(&parts[n], inst->deliver_sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&parts[n]);
            break;
        }
        got = true;
        if (!zmq_msg_more(&parts[n])) {
            n++;
            break;
        }
    }
    if (!got) {
        return false;
    }
    atomic_fetch_add(&inst->stats.received, 1);
    atomic_fetch_add(&inst->stats.pending, 1);
    if (n != 3 || zmq_msg_more(&parts[n - 1])) {
        /* Only the router sends here, always three frames: this is a bug, not input. */
        int extra = 0;
        while (zmq_msg_more(&parts[n - 1])) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, inst->deliver_sock, 0);
            bool more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            extra++;
            if (!more) {
                break;
            }
        }
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&parts[i]);
        }
        atomic_fetch_add(&inst->stats.rejected, 1);
        omb_log(OMB_LOG_ERROR, inst->scope, "unreadable delivery dropped: %d frames, expected 3",
                n + extra);
        atomic_fetch_sub(&inst->stats.pending, 1);
        atomic_fetch_sub(&inst->rt->inflight, 1);
        return true;
    }
    size_t rlen = zmq_msg_size(&parts[0]);
    snprintf(inst->head_route, sizeof(inst->head_route), "%.*s",
             (int)(rlen < sizeof(inst->head_route) ? rlen : sizeof(inst->head_route) - 1),
             (const char *)zmq_msg_data(&parts[0]));
    inst->has_head = true;
    inst->head = NULL;
    inst->head_attempts = 0;
    inst->head_due = 0;
    return true;
}

/* Deliver as much as is ready, a bounded batch so that timers and control still get a turn. */
static void dispatch(struct omb_instance *inst)
{
    for (int i = 0; i < 512; i++) {
        if (!inst->has_head && !receive_delivery(inst)) {
            return;
        }
        if (!inst->has_head) {
            continue; /* an unreadable delivery was dropped */
        }
        if (!inst->started || inst->head_due > omb_monotonic_ms()) {
            return;
        }
        if (!deliver_head(inst)) {
            return;
        }
    }
}

static void try_start(struct omb_instance *inst)
{
    int rc = inst->desc->start ? inst->desc->start(inst->ctx) : 0;
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
    int64_t delay = backoff_ms(inst, inst->start_attempts);
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
    if (inst->desc->stop && inst->started) {
        int rc = inst->desc->stop(inst->ctx);
        if (rc != 0) {
            omb_log(OMB_LOG_WARN, inst->scope, "stop: %s", omb_strerror(rc));
        }
    }
    inst->sources_stopped = true;
}

static void abandon_pending(struct omb_instance *inst)
{
    uint64_t abandoned = 0;
    if (inst->has_head) {
        finish_delivery(inst); /* frees the head, counts it out of pending and in flight */
        abandoned++;
    }
    if (inst->deliver_sock) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, inst->deliver_sock, ZMQ_DONTWAIT) >= 0) {
            if (!zmq_msg_more(&m)) {
                abandoned++;
                atomic_fetch_sub(&inst->rt->inflight, 1);
            }
        }
        zmq_msg_close(&m);
    }
    if (abandoned > 0) {
        omb_log(OMB_LOG_ERROR, inst->scope,
                "%llu event(s) were not delivered before the drain deadline",
                (unsigned long long)abandoned);
    }
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
    if (inst->tasks_tail) {
        inst->tasks_tail->next = t;
    } else {
        inst->tasks = t;
    }
    inst->tasks_tail = t;
    pthread_mutex_unlock(&inst->tasks_lock);
    uint64_t one = 1;
    /* Cannot fail short of a counter overflow; a lost wake-up is caught by the next one. */
    (void)!write(inst->task_fd, &one, sizeof(one));
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
    rc = inst->desc->create(omb_host_api_table(), inst, inst->ctx);
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
        if (inst->has_head && inst->started && (due < 0 || inst->head_due < due)) {
            due = inst->head_due;
        }
        long timeout = due < 0 ? -1 : (due <= now ? 0 : (long)(due - now));

        size_t nfd = omb_host_fds_count(inst);
        zmq_pollitem_t items[3 + OMB_MAX_FDS];
        size_t n = 0;
        items[n++] = (zmq_pollitem_t){ .socket = inst->ctl_thread, .events = ZMQ_POLLIN };
        items[n++] = (zmq_pollitem_t){ .socket = NULL, .fd = inst->task_fd, .events = ZMQ_POLLIN };
        size_t deliver_item = SIZE_MAX;
        if (inst->deliver_sock && !inst->has_head) {
            deliver_item = n;
            items[n++] = (zmq_pollitem_t){ .socket = inst->deliver_sock, .events = ZMQ_POLLIN };
        }
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
        if (!inst->started && omb_monotonic_ms() >= inst->start_due) {
            try_start(inst);
        }
        omb_host_timers_run(inst);
        if (nready > 0) {
            omb_host_fds_dispatch(inst, items + fd_base, n - fd_base);
        }
        if (inst->deliver_sock && (inst->has_head || (deliver_item != SIZE_MAX &&
                                                  (items[deliver_item].revents & ZMQ_POLLIN)))) {
            dispatch(inst);
        }
    }

    stop_sources(inst);
    /* Tasks posted until now still run (their posters wait for an answer); later posts fail. */
    set_accepting_tasks(inst, false);
    run_tasks(inst);
    abandon_pending(inst);
    inst->desc->destroy(inst->ctx);
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

void omb_instance_exit(struct omb_instance *inst)
{
    if (!inst->thread_running) {
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
    if (inst->ctl_main) {
        zmq_close(inst->ctl_main);
    }
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
