/* The daemon's side of an isolated plugin (isolate.h): spawn the child, speak the link
 * (isolate_link.h), notice a crash or a hang, reap, restart with backoff. Everything here runs
 * on the instance's thread except omb_isolate_status (any thread, under mu) and the store's
 * acknowledgements (writer thread), which are posted to the instance's thread. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "envelope.h"
#include "err_str.h"
#include "host_http.h"
#include "instance.h"
#include "instance_priv.h"
#include "isolate.h"
#include "isolate_link.h"
#include "log.h"

extern char **environ;

#define RESTART_MAX_MS 60000     /* the restart backoff's cap */
#define HEALTHY_AFTER_MS 60000   /* a child up this long (or one delivery that succeeds)
                                  * resets the backoff */
#define HELLO_MIN_MS 10000       /* at least this long for a child to start and create() */
#define TICK_MS 1000             /* pings, metrics, the log level */
#define HELD_RETRY_MS 20         /* emits the journal refused for now (OMB_EAGAIN) */
#define LINK_HWM 100000

/* An emit the journal said OMB_EAGAIN to, kept in order until it takes it. */
struct held {
    struct held *next;
    unsigned gen;
    uint64_t token;
    struct omb_emit_scope *scope;
    json_t *env;
    char *body;
    size_t body_len;
};

struct omb_isolate {
    struct omb_instance *inst; /* borrowed: it owns us */
    char *plugin_path;
    char *config_file;
    json_t *connector; /* the <connector> for the child (secrets as written: env:/file:) */
    int64_t deadline_ms;
    char dir[64];      /* a private directory for the ipc endpoints, "" until made */

    /* The current child. */
    bool alive;
    pid_t pid;
    int pidfd;
    void *sock;
    unsigned gen;      /* counts children: acks for an earlier one are dropped */
    int64_t spawned_at;
    int child_state;
    bool stopped;      /* stop() was called: a new child stops its sources at once */

    unsigned failures; /* in a row, for the backoff */
    uint64_t restart_timer;
    bool restart_armed;
    int64_t restart_due;
    uint64_t tick_timer;
    int64_t ping_sent_at; /* 0: none outstanding */
    int64_t last_ping;
    int sent_level;

    struct held *held, *held_tail;
    bool held_armed;

    char **routes;     /* webhook suffixes registered for the child */
    size_t n_routes;
    json_t *reply;     /* the last webhook answer (res points into it until the next) */
    char *reply_body;
    json_t *seen;      /* counters as the current child last reported them */

    pthread_mutex_t mu; /* guards the status fields below */
    pid_t st_pid;
    unsigned restarts;
    char last_failure[256];
    int64_t last_failure_at;
    int st_child_state;
};

static const struct omb_host_api *host(void)
{
    return omb_host_api_table();
}

struct omb_isolate *omb_isolate_new(struct omb_instance *inst,
                                    const struct omb_config_connector *cc,
                                    const char *plugin_path, const char *config_file)
{
    struct omb_isolate *iso = calloc(1, sizeof(*iso));
    if (!iso) {
        return NULL;
    }
    pthread_mutex_init(&iso->mu, NULL);
    iso->inst = inst;
    iso->pidfd = -1;
    iso->sent_level = -2;
    iso->deadline_ms = cc->deliver_timeout_ms;
    iso->plugin_path = strdup(plugin_path);
    iso->config_file = strdup(config_file ? config_file : "");
    json_t *opts = json_array();
    for (size_t i = 0; opts && i < cc->n_options; i++) {
        json_array_append_new(opts, json_pack("{s:s, s:s, s:i}", "name", cc->options[i].name,
                                              "value", cc->options[i].value, "line",
                                              cc->options[i].line));
    }
    iso->connector = json_pack("{s:s, s:s, s:i, s:o}", "name", cc->name, "plugin", cc->plugin,
                               "line", cc->line, "options", opts ? opts : json_array());
    if (iso->connector && cc->log_level) {
        json_object_set_new(iso->connector, "log_level", json_string(cc->log_level));
    }
    iso->seen = json_object();
    if (!iso->plugin_path || !iso->config_file || !iso->connector || !iso->seen) {
        omb_isolate_free(&iso);
    }
    return iso;
}

/* ---- status ---- */

static void set_failure(struct omb_isolate *iso, const char *why)
{
    pthread_mutex_lock(&iso->mu);
    snprintf(iso->last_failure, sizeof(iso->last_failure), "%s", why);
    iso->last_failure_at = omb_now_us();
    iso->restarts++;
    pthread_mutex_unlock(&iso->mu);
}

json_t *omb_isolate_status(const struct omb_isolate *ciso)
{
    struct omb_isolate *iso = (struct omb_isolate *)ciso;
    pthread_mutex_lock(&iso->mu);
    char at[64] = "";
    if (iso->last_failure_at) {
        omb_time_format_us(iso->last_failure_at, at);
    }
    json_t *o = json_pack(
        "{s:s, s:o, s:i, s:o, s:o, s:s}", "mode", "process", "pid",
        iso->st_pid > 0 ? json_integer(iso->st_pid) : json_null(), "restarts",
        (int)iso->restarts, "last_failure",
        iso->last_failure[0] ? json_string(iso->last_failure) : json_null(), "last_failure_at",
        at[0] ? json_string(at) : json_null(), "child_state",
        iso->st_pid > 0 ? omb_instance_state_name((enum omb_instance_state)iso->st_child_state)
                        : "restarting");
    pthread_mutex_unlock(&iso->mu);
    return o;
}

/* ---- the child's end ---- */

static void describe_status(int status, char *out, size_t len)
{
    if (WIFSIGNALED(status)) {
        snprintf(out, len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else if (WIFEXITED(status)) {
        snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(out, len, "ended (status %#x)", (unsigned)status);
    }
}

static void on_restart_due(void *arg);
static void on_child_exit(int fd, unsigned events, void *arg);

/* Close the link to the current child, kill it first when `kill_it`, and reap it; its end in
 * words in how[]. */
static void close_child(struct omb_isolate *iso, bool kill_it, char *how, size_t howlen)
{
    if (kill_it) {
        kill(iso->pid, SIGKILL);
    }
    int status = 0;
    pid_t r;
    how[0] = '\0';
    while ((r = waitpid(iso->pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (r == iso->pid) {
        describe_status(status, how, howlen);
    }
    host()->fd_unwatch(iso->inst, iso->pidfd);
    close(iso->pidfd);
    iso->pidfd = -1;
    iso->inst->link_sock = NULL;
    zmq_close(iso->sock);
    iso->sock = NULL;
    iso->alive = false;
    iso->ping_sent_at = 0;
    json_object_clear(iso->seen);
    pthread_mutex_lock(&iso->mu);
    iso->st_pid = 0;
    pthread_mutex_unlock(&iso->mu);
}

/* The current child failed (`why`): kill it when `kill_it`, reap it, and arm its restart with
 * backoff. */
static void child_gone(struct omb_isolate *iso, bool kill_it, const char *why)
{
    if (!iso->alive) {
        return;
    }
    char how[128];
    close_child(iso, kill_it, how, sizeof(how));
    char text[256];
    snprintf(text, sizeof(text), "%s%s%s", why, how[0] ? ": " : "", how);
    int64_t up = omb_monotonic_ms() - iso->spawned_at;
    if (up >= HEALTHY_AFTER_MS) {
        iso->failures = 0;
    }
    iso->failures++;
    int64_t delay = omb_backoff_ms(iso->inst->rt->retry_base_ms, RESTART_MAX_MS, iso->failures);
    set_failure(iso, text);
    omb_log(OMB_LOG_ERROR, iso->inst->scope,
            "plugin process %d %s; restarting it in %lld ms (failure %u in a row)",
            (int)iso->pid, text, (long long)delay, iso->failures);
    iso->restart_due = omb_monotonic_ms() + delay;
    if (!iso->restart_armed &&
        host()->timer_add(iso->inst, (uint64_t)delay, 0, on_restart_due, iso,
                          &iso->restart_timer) == 0) {
        iso->restart_armed = true;
    }
}

static void handle(struct omb_isolate *iso, struct iso_msg *m);

/* Wait for the child's `verb` (or `alt`, when not NULL) until deadline (monotonic ms),
 * handling what else it sends. 0 with the message in *out, OMB_ETIMEOUT, or OMB_EIO when the
 * child died (reaped) or the link failed. */
static int await2(struct omb_isolate *iso, const char *verb, const char *alt, int64_t deadline,
                  struct iso_msg *out)
{
    for (;;) {
        if (!iso->alive) {
            return OMB_EIO;
        }
        int rc;
        while ((rc = iso_recv(iso->sock, ZMQ_DONTWAIT, out)) == 0) {
            if (iso_is(out, verb) || (alt && iso_is(out, alt))) {
                return 0;
            }
            handle(iso, out);
            iso_msg_close(out);
            if (!iso->alive) {
                return OMB_EIO;
            }
        }
        if (rc != OMB_EAGAIN) {
            child_gone(iso, true, "broke its link");
            return OMB_EIO;
        }
        int64_t now = omb_monotonic_ms();
        if (now >= deadline) {
            return OMB_ETIMEOUT;
        }
        zmq_pollitem_t it[2] = {
            { .socket = iso->sock, .events = ZMQ_POLLIN },
            { .socket = NULL, .fd = iso->pidfd, .events = ZMQ_POLLIN },
        };
        int n = zmq_poll(it, 2, (long)(deadline - now));
        if (n < 0 && errno != EINTR) {
            child_gone(iso, true, "could not be polled");
            return OMB_EIO;
        }
        if (n > 0 && !(it[0].revents & ZMQ_POLLIN) && (it[1].revents & ZMQ_POLLIN)) {
            /* Dead, and nothing more to read from it. */
            child_gone(iso, false, "died");
            return OMB_EIO;
        }
    }
}

static int await(struct omb_isolate *iso, const char *verb, int64_t deadline, struct iso_msg *out)
{
    return await2(iso, verb, NULL, deadline, out);
}

/* Wait until the child has connected (the PAIR socket takes a message only then). */
static int await_connected(struct omb_isolate *iso, int64_t deadline)
{
    for (;;) {
        int64_t now = omb_monotonic_ms();
        zmq_pollitem_t it[2] = {
            { .socket = iso->sock, .events = ZMQ_POLLOUT },
            { .socket = NULL, .fd = iso->pidfd, .events = ZMQ_POLLIN },
        };
        int n = zmq_poll(it, 2, now >= deadline ? 0 : (long)(deadline - now));
        if (n > 0 && (it[0].revents & ZMQ_POLLOUT)) {
            return 0;
        }
        if (n > 0 && (it[1].revents & ZMQ_POLLIN)) {
            child_gone(iso, false, "died as it started");
            return OMB_EIO;
        }
        if (n < 0 && errno != EINTR) {
            return OMB_EIO;
        }
        if (omb_monotonic_ms() >= deadline) {
            return OMB_ETIMEOUT;
        }
    }
}

static int make_dir(struct omb_isolate *iso)
{
    if (iso->dir[0]) {
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(iso->dir, sizeof(iso->dir), "%s/omb-iso-XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(iso->dir)) {
        omb_log(OMB_LOG_ERROR, iso->inst->scope, "cannot make a directory for the link (%s): %s",
                iso->dir, strerror(errno));
        iso->dir[0] = '\0';
        return OMB_EIO;
    }
    return 0;
}

/* Start a child and wait for its create(). 0: alive; the child's create() error; or OMB_EIO
 * (could not start it, or it died: a restart is armed). */
static int spawn(struct omb_isolate *iso)
{
    struct omb_instance *inst = iso->inst;
    char exe[4096], ep[OMB_ENDPOINT_MAX + 8], path[OMB_ENDPOINT_MAX];
    ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (exe_len <= 0 || make_dir(iso) != 0) {
        omb_log(OMB_LOG_ERROR, inst->scope, "cannot find omnibusd to start the plugin process");
        return OMB_EIO;
    }
    exe[exe_len] = '\0';
    iso->gen++;
    snprintf(path, sizeof(path), "%s/link-%u", iso->dir, iso->gen);
    snprintf(ep, sizeof(ep), "ipc://%s", path);
    int linger = 0, hwm = LINK_HWM;
    void *sock = zmq_socket(inst->rt->zctx, ZMQ_PAIR);
    if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 || zmq_bind(sock, ep) != 0) {
        omb_log(OMB_LOG_ERROR, inst->scope, "cannot bind %s: %s", ep, zmq_strerror(errno));
        if (sock) {
            zmq_close(sock);
        }
        return OMB_EIO;
    }
    char *argv[] = { "omnibusd", "--isolated-child", ep, NULL };
    pid_t pid;
    int rc = posix_spawn(&pid, exe, NULL, NULL, argv, environ);
    int pidfd = rc == 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    if (rc != 0 || pidfd < 0) {
        omb_log(OMB_LOG_ERROR, inst->scope, "cannot start the plugin process: %s",
                strerror(rc ? rc : errno));
        if (rc == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        zmq_close(sock);
        unlink(path);
        return OMB_EIO;
    }
    iso->sock = sock;
    iso->pid = pid;
    iso->pidfd = pidfd;
    iso->alive = true;
    iso->spawned_at = omb_monotonic_ms();
    iso->child_state = OMB_INSTANCE_STARTING;
    pthread_mutex_lock(&iso->mu);
    iso->st_pid = pid;
    iso->st_child_state = OMB_INSTANCE_STARTING;
    pthread_mutex_unlock(&iso->mu);

    json_t *hello = json_pack("{s:s, s:s, s:O, s:I, s:s, s:I, s:I, s:b}", "plugin_path",
                              iso->plugin_path, "config_file", iso->config_file, "connector",
                              iso->connector, "parent_pid", (json_int_t)getpid(), "log_level",
                              omb_log_level_name(omb_log_get_level()), "retry_base_ms",
                              (json_int_t)inst->rt->retry_base_ms, "retry_max_ms",
                              (json_int_t)inst->rt->retry_max_ms, "stopped", iso->stopped);
    char *text = hello ? json_dumps(hello, JSON_COMPACT) : NULL;
    json_decref(hello);
    int64_t wait = iso->deadline_ms > HELLO_MIN_MS ? iso->deadline_ms : HELLO_MIN_MS;
    int64_t deadline = omb_monotonic_ms() + wait;
    rc = !text ? OMB_ENOMEM : await_connected(iso, deadline);
    if (rc == 0) {
        rc = iso_send(sock, ZMQ_DONTWAIT, "hello", 1,
                      &(struct iso_frame){ text, strlen(text) });
    }
    free(text);
    struct iso_msg m = { .n = 0 };
    if (rc == 0) {
        rc = await2(iso, "ready", "failed", deadline, &m);
    }
    /* Connected (or gone): the path has served its purpose. */
    unlink(path);
    if (rc == 0 && iso_is(&m, "failed")) {
        size_t len;
        const void *p = iso_data(&m, 1, &len);
        int code = OMB_EINVAL;
        if (p && len == sizeof(code)) {
            memcpy(&code, p, sizeof(code));
        }
        const char *msg = iso_data(&m, 2, &len);
        char why[256];
        snprintf(why, sizeof(why), "could not create the plugin: %.*s", (int)len,
                 msg ? msg : "");
        iso_msg_close(&m);
        child_gone(iso, true, why);
        return code < 0 ? code : OMB_EINVAL;
    }
    if (rc == 0) {
        iso_msg_close(&m);
        host()->fd_watch(inst, pidfd, OMB_FD_READ, on_child_exit, iso);
        inst->link_sock = sock;
        omb_log(OMB_LOG_INFO, inst->scope, "plugin process %d started", (int)pid);
        return 0;
    }
    if (rc == OMB_ETIMEOUT) {
        child_gone(iso, true, "did not start in time");
    } else if (iso->alive) {
        child_gone(iso, true, "could not be told what to run");
    }
    return OMB_EIO;
}

static void on_restart_due(void *arg)
{
    struct omb_isolate *iso = arg;
    iso->restart_armed = false;
    if (!iso->alive) {
        spawn(iso);
    }
}

static void on_child_exit(int fd, unsigned events, void *arg)
{
    (void)fd;
    (void)events;
    struct omb_isolate *iso = arg;
    /* Read what it sent before it went (emits, answers), then reap it. */
    struct iso_msg m;
    while (iso->alive && iso_recv(iso->sock, ZMQ_DONTWAIT, &m) == 0) {
        handle(iso, &m);
        iso_msg_close(&m);
    }
    child_gone(iso, false, "died");
}

/* ---- what the child sends ---- */

struct fwd_ack {
    struct omb_isolate *iso;
    unsigned gen;
    uint64_t token;
    int rc;
    struct omb_emit_scope *scope;
};

static void send_ack(struct omb_isolate *iso, unsigned gen, uint64_t token, int rc)
{
    if (!iso->alive || gen != iso->gen) {
        return; /* that child is gone: its plugin will offer the event again, or not */
    }
    unsigned char buf[sizeof(token) + sizeof(rc)];
    memcpy(buf, &token, sizeof(token));
    memcpy(buf + sizeof(token), &rc, sizeof(rc));
    /* It fails only when the child has just died (its pidfd tells us next) or stopped reading
     * for LINK_HWM messages (then a ping or a delivery finds it hung): its plugin would never
     * see the ack either way. */
    (void)iso_send(iso->sock, ZMQ_DONTWAIT, "ack", 1, &(struct iso_frame){ buf, sizeof(buf) });
}

static void run_fwd_ack(struct omb_instance *inst, void *arg)
{
    (void)inst;
    struct fwd_ack *fa = arg;
    send_ack(fa->iso, fa->gen, fa->token, fa->rc);
    free(fa);
}

/* The store's writer thread. */
static void fwd_committed(void *arg, int64_t seq, int rc)
{
    (void)seq;
    struct fwd_ack *fa = arg;
    fa->rc = rc;
    if (fa->scope) {
        if (rc < 0) {
            atomic_store(&fa->scope->failed, true);
        }
        omb_emit_scope_release(fa->scope);
        fa->scope = NULL;
    }
    if (omb_instance_post(fa->iso->inst, run_fwd_ack, fa) != 0) {
        free(fa);
    }
}

/* Hand one emitted event to the journal. 0 (its ack will follow), OMB_EAGAIN (keep it), or
 * another error (answered to the child at once). Takes the scope's hold when it returns 0. */
static int forward(struct omb_isolate *iso, unsigned gen, uint64_t token,
                   struct omb_emit_scope *scope, const json_t *env, const char *body,
                   size_t body_len)
{
    struct fwd_ack *fa = malloc(sizeof(*fa));
    if (!fa) {
        return OMB_ENOMEM;
    }
    *fa = (struct fwd_ack){ .iso = iso, .gen = gen, .token = token, .scope = scope };
    int rc = omb_host_emit_forward(iso->inst, env, body, body_len, fwd_committed, fa);
    if (rc != 0) {
        free(fa);
    }
    return rc;
}

static void on_held_due(void *arg);

static void retry_held(struct omb_isolate *iso)
{
    while (iso->held) {
        struct held *h = iso->held;
        int rc = forward(iso, h->gen, h->token, h->scope, h->env, h->body, h->body_len);
        if (rc == OMB_EAGAIN) {
            break;
        }
        if (rc != 0) {
            send_ack(iso, h->gen, h->token, rc);
            if (h->scope) {
                atomic_store(&h->scope->failed, true);
                omb_emit_scope_release(h->scope);
            }
        }
        iso->held = h->next;
        if (!iso->held) {
            iso->held_tail = NULL;
        }
        json_decref(h->env);
        free(h->body);
        free(h);
    }
    if (iso->held && !iso->held_armed &&
        host()->timer_add(iso->inst, HELD_RETRY_MS, 0, on_held_due, iso, NULL) == 0) {
        iso->held_armed = true;
    }
}

static void on_held_due(void *arg)
{
    struct omb_isolate *iso = arg;
    iso->held_armed = false;
    retry_held(iso);
}

static void on_emit(struct omb_isolate *iso, struct iso_msg *m)
{
    size_t tlen, blen;
    const void *t = iso_data(m, 1, &tlen);
    const char *body = iso_data(m, 3, &blen);
    uint64_t token = 0;
    if (!t || tlen != sizeof(token) || m->n != 4) {
        omb_log(OMB_LOG_ERROR, iso->inst->scope, "the plugin process sent a malformed emit");
        return;
    }
    memcpy(&token, t, sizeof(token));
    json_t *env = iso_json(m, 2);
    if (!env) {
        send_ack(iso, iso->gen, token, OMB_EINVAL);
        return;
    }
    /* A webhook's emits count for its answer, as they would in the daemon. */
    struct omb_emit_scope *scope = iso->inst->emit_scope;
    if (scope) {
        atomic_fetch_add(&scope->outstanding, 1);
    }
    int rc = iso->held ? OMB_EAGAIN : forward(iso, iso->gen, token, scope, env, body, blen);
    if (rc == OMB_EAGAIN) {
        struct held *h = calloc(1, sizeof(*h));
        char *copy = h ? malloc(blen + 1) : NULL;
        if (copy) {
            memcpy(copy, body, blen);
            *h = (struct held){ .gen = iso->gen, .token = token, .scope = scope, .env = env,
                                .body = copy, .body_len = blen };
            if (iso->held_tail) {
                iso->held_tail->next = h;
            } else {
                iso->held = h;
            }
            iso->held_tail = h;
            retry_held(iso);
            return;
        }
        free(h);
        rc = OMB_ENOMEM;
    }
    json_decref(env);
    if (rc != 0) {
        send_ack(iso, iso->gen, token, rc);
        if (scope) {
            atomic_store(&scope->failed, true);
            omb_emit_scope_release(scope);
        }
    }
}

static void proxy_http(void *arg, const struct omb_http_request *req,
                       struct omb_http_response *res);

static void on_route(struct omb_isolate *iso, struct iso_msg *m)
{
    char *suffix = iso_strdup(m, 1);
    if (!suffix) {
        return;
    }
    for (size_t i = 0; i < iso->n_routes; i++) {
        if (strcmp(iso->routes[i], suffix) == 0) {
            free(suffix); /* a restarted child asks again: it is still served */
            return;
        }
    }
    char **v = realloc(iso->routes, (iso->n_routes + 1) * sizeof(*v));
    if (!v) {
        free(suffix);
        return;
    }
    iso->routes = v;
    if (host()->http_route_add(iso->inst, suffix, proxy_http, iso) != 0) {
        free(suffix); /* logged by the host */
        return;
    }
    iso->routes[iso->n_routes++] = suffix;
}

static void on_metrics(struct omb_isolate *iso, struct iso_msg *m)
{
    json_t *o = iso_json(m, 1);
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(o, "c"), name, v) {
        json_int_t now = json_integer_value(v);
        json_int_t before = json_integer_value(json_object_get(iso->seen, name));
        if (now > before) {
            host()->metric_counter_add(iso->inst, name, (uint64_t)(now - before));
        }
        json_object_set_new(iso->seen, name, json_integer(now));
    }
    json_object_foreach(json_object_get(o, "g"), name, v) {
        host()->metric_gauge_set(iso->inst, name, json_integer_value(v));
    }
    json_decref(o);
}

static void handle(struct omb_isolate *iso, struct iso_msg *m)
{
    size_t len;
    if (iso_is(m, "emit")) {
        on_emit(iso, m);
    } else if (iso_is(m, "pong")) {
        iso->ping_sent_at = 0;
    } else if (iso_is(m, "route")) {
        on_route(iso, m);
    } else if (iso_is(m, "metrics")) {
        on_metrics(iso, m);
    } else if (iso_is(m, "state")) {
        const void *p = iso_data(m, 1, &len);
        if (p && len == sizeof(int)) {
            memcpy(&iso->child_state, p, sizeof(int));
            pthread_mutex_lock(&iso->mu);
            iso->st_child_state = iso->child_state;
            pthread_mutex_unlock(&iso->mu);
        }
    } else {
        /* An answer nobody waits for any more (it came after its deadline). */
        omb_log(OMB_LOG_DEBUG, iso->inst->scope, "the plugin process sent an unexpected %.*s",
                (int)(m->n ? zmq_msg_size(&m->f[0]) : 0),
                m->n ? (const char *)zmq_msg_data(&m->f[0]) : "");
    }
}

/* The instance's loop: the link is readable. */
static void on_link(struct omb_instance *inst, void *arg)
{
    (void)inst;
    struct omb_isolate *iso = arg;
    struct iso_msg m;
    int rc;
    while (iso->alive && (rc = iso_recv(iso->sock, ZMQ_DONTWAIT, &m)) == 0) {
        handle(iso, &m);
        iso_msg_close(&m);
    }
}

/* Every second: a hung child (no pong within the deadline) is killed; the log level follows
 * the daemon's. */
static void on_tick(void *arg)
{
    struct omb_isolate *iso = arg;
    if (!iso->alive) {
        return;
    }
    int64_t now = omb_monotonic_ms();
    if (iso->ping_sent_at && now - iso->ping_sent_at > iso->deadline_ms) {
        char why[128];
        snprintf(why, sizeof(why), "did not answer a ping within %lld ms (hung)",
                 (long long)iso->deadline_ms);
        child_gone(iso, true, why);
        return;
    }
    if (!iso->ping_sent_at && iso_send(iso->sock, ZMQ_DONTWAIT, "ping", 0, NULL) == 0) {
        iso->ping_sent_at = now;
    }
    int level = omb_instance_log_level(iso->inst);
    if (level != iso->sent_level &&
        iso_send(iso->sock, ZMQ_DONTWAIT, "log-level", 1,
                 &(struct iso_frame){ &level, sizeof(level) }) == 0) {
        iso->sent_level = level;
    }
    if (now - iso->spawned_at >= HEALTHY_AFTER_MS) {
        iso->failures = 0;
    }
}

/* ---- the instance's calls ---- */

int omb_isolate_create(struct omb_isolate *iso)
{
    struct omb_instance *inst = iso->inst;
    inst->link_fn = on_link;
    inst->link_arg = iso;
    if (host()->timer_add(inst, TICK_MS, TICK_MS, on_tick, iso, &iso->tick_timer) != 0) {
        return OMB_ENOMEM;
    }
    int rc = spawn(iso);
    if (rc == OMB_EIO || rc == 0) {
        return 0; /* up, or being restarted */
    }
    return rc;
}

int omb_isolate_start(struct omb_isolate *iso)
{
    (void)iso;
    return 0;
}

/* The reason of a delivery that could not be made, and when to try it again. */
static int not_delivered(struct omb_isolate *iso, struct omb_deliver_result *res)
{
    pthread_mutex_lock(&iso->mu);
    snprintf(res->reason, sizeof(res->reason), "plugin process restarting (%s)",
             iso->last_failure[0] ? iso->last_failure : "not started");
    pthread_mutex_unlock(&iso->mu);
    int64_t wait = iso->restart_due - omb_monotonic_ms();
    res->retry_after_ms = wait > 0 ? wait : 1;
    return OMB_ERETRY;
}

int omb_isolate_deliver(struct omb_isolate *iso, const struct omb_raw_event *ev,
                        struct omb_deliver_result *res)
{
    if (!iso->alive) {
        if (omb_monotonic_ms() < iso->restart_due || spawn(iso) != 0) {
            return not_delivered(iso, res);
        }
    }
    struct iso_frame f[3] = { { ev->route, strlen(ev->route) },
                              { ev->envelope, ev->envelope_len },
                              { ev->body, ev->body_len } };
    if (iso_send(iso->sock, ZMQ_DONTWAIT, "deliver", 3, f) != 0) {
        child_gone(iso, true, "stopped reading its deliveries");
        return not_delivered(iso, res);
    }
    struct iso_msg m;
    int rc = await(iso, "result", omb_monotonic_ms() + iso->deadline_ms, &m);
    if (rc == OMB_ETIMEOUT) {
        char why[128];
        snprintf(why, sizeof(why), "did not answer a delivery within %lld ms (hung)",
                 (long long)iso->deadline_ms);
        child_gone(iso, true, why);
        return not_delivered(iso, res);
    }
    if (rc != 0) {
        return not_delivered(iso, res);
    }
    size_t len;
    const unsigned char *p = iso_data(&m, 1, &len);
    int32_t code = OMB_ERETRY;
    int64_t retry_after = 0;
    if (p && len == sizeof(code) + sizeof(retry_after)) {
        memcpy(&code, p, sizeof(code));
        memcpy(&retry_after, p + sizeof(code), sizeof(retry_after));
    }
    const char *reason = iso_data(&m, 2, &len);
    if (reason) {
        snprintf(res->reason, sizeof(res->reason), "%.*s", (int)len, reason);
    }
    res->retry_after_ms = retry_after;
    iso_msg_close(&m);
    if (code == OMB_OK) {
        iso->failures = 0; /* it makes progress: a crash later starts the backoff anew */
    }
    return code;
}

static void proxy_http(void *arg, const struct omb_http_request *req,
                       struct omb_http_response *res)
{
    struct omb_isolate *iso = arg;
    json_decref(iso->reply);
    iso->reply = NULL;
    free(iso->reply_body);
    iso->reply_body = NULL;
    res->status = 503;
    res->retry_after_s = 1;
    res->body = "the connector's plugin process is restarting\n";
    if (!iso->alive) {
        return;
    }
    json_t *meta = iso_http_request_json(req);
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    struct iso_frame f[2] = { { text, text ? strlen(text) : 0 }, { req->body, req->body_len } };
    int rc = text ? iso_send(iso->sock, ZMQ_DONTWAIT, "http", 2, f) : OMB_ENOMEM;
    free(text);
    if (rc != 0) {
        return;
    }
    struct iso_msg m;
    rc = await(iso, "http-reply", omb_monotonic_ms() + iso->deadline_ms, &m);
    if (rc == OMB_ETIMEOUT) {
        char why[128];
        snprintf(why, sizeof(why), "did not answer a webhook within %lld ms (hung)",
                 (long long)iso->deadline_ms);
        child_gone(iso, true, why);
    }
    if (rc != 0) {
        return;
    }
    size_t len;
    const char *body = iso_data(&m, 2, &len);
    iso->reply = iso_json(&m, 1);
    iso->reply_body = malloc(len + 1);
    if (!iso->reply || !iso->reply_body) {
        res->status = 500;
        res->body = "out of memory\n";
        iso_msg_close(&m);
        return;
    }
    memcpy(iso->reply_body, body ? body : "", len);
    iso->reply_body[len] = '\0';
    iso_msg_close(&m);
    memset(res, 0, sizeof(*res));
    iso_http_response_read(iso->reply, res);
    res->body = len ? iso->reply_body : NULL;
    res->body_len = len;
}

int omb_isolate_stop(struct omb_isolate *iso)
{
    iso->stopped = true;
    if (!iso->alive || iso_send(iso->sock, ZMQ_DONTWAIT, "stop", 0, NULL) != 0) {
        return 0;
    }
    struct iso_msg m;
    int rc = await(iso, "stopped", omb_monotonic_ms() + iso->deadline_ms, &m);
    if (rc == 0) {
        iso_msg_close(&m);
    } else if (rc == OMB_ETIMEOUT) {
        child_gone(iso, true, "did not stop in time (hung)");
    }
    return 0;
}

void omb_isolate_destroy(struct omb_isolate *iso)
{
    if (iso->alive && iso_send(iso->sock, ZMQ_DONTWAIT, "exit", 0, NULL) == 0) {
        /* It reads what is left, runs destroy(), says "exited" and ends; emits meanwhile are
         * refused (the instance has stopped its sources). */
        struct iso_msg m;
        int64_t wait = iso->deadline_ms > HELLO_MIN_MS ? iso->deadline_ms : HELLO_MIN_MS;
        int rc = await(iso, "exited", omb_monotonic_ms() + wait, &m);
        if (rc == 0) {
            iso_msg_close(&m);
            /* Give it a moment to be gone before the kill that makes sure. */
            zmq_pollitem_t it = { .socket = NULL, .fd = iso->pidfd, .events = ZMQ_POLLIN };
            zmq_poll(&it, 1, 5000);
            char how[128];
            close_child(iso, true, how, sizeof(how));
        } else if (rc == OMB_ETIMEOUT) {
            child_gone(iso, true, "did not exit in time (hung)");
        }
    }
    if (iso->alive) {
        child_gone(iso, true, "was stopped");
    }
    retry_held(iso);
    for (struct held *h = iso->held, *next; h; h = next) {
        next = h->next;
        atomic_fetch_add(&iso->inst->stats.lost, 1);
        if (h->scope) {
            atomic_store(&h->scope->failed, true);
            omb_emit_scope_release(h->scope);
        }
        json_decref(h->env);
        free(h->body);
        free(h);
    }
    if (iso->held) {
        omb_log(OMB_LOG_ERROR, iso->inst->scope,
                "events the plugin process emitted could not be journaled before it stopped");
    }
    iso->held = iso->held_tail = NULL;
}

void omb_isolate_free(struct omb_isolate **isop)
{
    if (!isop || !*isop) {
        return;
    }
    struct omb_isolate *iso = *isop;
    if (iso->dir[0]) {
        rmdir(iso->dir);
    }
    for (size_t i = 0; i < iso->n_routes; i++) {
        free(iso->routes[i]);
    }
    free(iso->routes);
    json_decref(iso->reply);
    free(iso->reply_body);
    json_decref(iso->seen);
    json_decref(iso->connector);
    free(iso->plugin_path);
    free(iso->config_file);
    pthread_mutex_destroy(&iso->mu);
    free(iso);
    *isop = NULL;
}
