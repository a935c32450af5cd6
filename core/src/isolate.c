/* The daemon's side of an isolated plugin (isolate.h), the child's life: spawn it, wait on the
 * link with deadlines, notice a crash (the death pipe) or a hang, reap, restart with backoff;
 * and the instance's calls (create, start, deliver, stop, destroy). What the child sends
 * unasked is isolate_relay.c's. All on the instance's thread but omb_isolate_status (any
 * thread, under mu). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "envelope.h"
#include "err_str.h"
#include "host_http.h"
#include "instance.h"
#include "instance_priv.h"
#include "isolate_priv.h"
#include "log.h"

extern char **environ;

const struct omb_host_api *iso_host(void)
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
    iso->exit_fd = -1;
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

/* Close the link to the current child, kill it (harmless when it has ended: it stays ours
 * until reaped) and reap it; its end in words in how[]. */
static void close_child(struct omb_isolate *iso, char *how, size_t howlen)
{
    kill(iso->pid, SIGKILL);
    int status = 0;
    pid_t r;
    how[0] = '\0';
    while ((r = waitpid(iso->pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (r == iso->pid) {
        describe_status(status, how, howlen);
    }
    iso_host()->fd_unwatch(iso->inst, iso->exit_fd);
    close(iso->exit_fd);
    iso->exit_fd = -1;
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

/* The current child failed (`why`): kill it, reap it, and arm its restart with backoff. */
void iso_child_gone(struct omb_isolate *iso, const char *why)
{
    if (!iso->alive) {
        return;
    }
    char how[128];
    close_child(iso, how, sizeof(how));
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
        iso_host()->timer_add(iso->inst, (uint64_t)delay, 0, on_restart_due, iso,
                          &iso->restart_timer) == 0) {
        iso->restart_armed = true;
    }
}


/* Wait for the child's `verb` (or `alt`, when not NULL) until deadline (monotonic ms),
 * handling what else it sends. 0 with the message in *out, OMB_ETIMEOUT, or OMB_EIO when the
 * child died (reaped) or the link failed. */
int iso_await(struct omb_isolate *iso, const char *verb, const char *alt, int64_t deadline,
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
            iso_handle(iso, out);
            iso_msg_close(out);
            if (!iso->alive) {
                return OMB_EIO;
            }
        }
        if (rc != OMB_EAGAIN) {
            iso_child_gone(iso, "broke its link");
            return OMB_EIO;
        }
        int64_t now = omb_monotonic_ms();
        if (now >= deadline) {
            return OMB_ETIMEOUT;
        }
        zmq_pollitem_t it[2] = {
            { .socket = iso->sock, .events = ZMQ_POLLIN },
            /* end-of-file on a pipe is POLLHUP: zmq_poll reports it as ZMQ_POLLERR */
            { .socket = NULL, .fd = iso->exit_fd, .events = ZMQ_POLLIN },
        };
        int n = zmq_poll(it, 2, (long)(deadline - now));
        if (n < 0 && errno != EINTR) {
            iso_child_gone(iso, "could not be polled");
            return OMB_EIO;
        }
        bool ended = it[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR);
        if (n > 0 && !(it[0].revents & ZMQ_POLLIN) && ended) {
            /* Dead, and nothing more to read from it. */
            iso_child_gone(iso, "died");
            return OMB_EIO;
        }
    }
}

static int await(struct omb_isolate *iso, const char *verb, int64_t deadline, struct iso_msg *out)
{
    return iso_await(iso, verb, NULL, deadline, out);
}

/* Wait until the child has connected (the PAIR socket takes a message only then). */
static int await_connected(struct omb_isolate *iso, int64_t deadline)
{
    for (;;) {
        int64_t now = omb_monotonic_ms();
        zmq_pollitem_t it[2] = {
            { .socket = iso->sock, .events = ZMQ_POLLOUT },
            /* end-of-file on a pipe is POLLHUP: zmq_poll reports it as ZMQ_POLLERR */
            { .socket = NULL, .fd = iso->exit_fd, .events = ZMQ_POLLIN },
        };
        int n = zmq_poll(it, 2, now >= deadline ? 0 : (long)(deadline - now));
        if (n > 0 && (it[0].revents & ZMQ_POLLOUT)) {
            return 0;
        }
        if (n > 0 && (it[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) {
            iso_child_gone(iso, "died as it started");
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
    /* The death pipe: the child holds its write end as fd 3 for life, so the read end says
     * end-of-file the moment it dies, however it dies. (A pidfd would do the same, but
     * valgrind does not know pidfd_open.) Both ends are close-on-exec here, so no other child
     * inherits them. */
    char *argv[] = { "omnibusd", "--isolated-child", ep, NULL };
    pid_t pid = 0;
    int dp[2] = { -1, -1 }, wr = -1;
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0) {
        if (pipe2(dp, O_CLOEXEC) != 0 || (wr = fcntl(dp[1], F_DUPFD_CLOEXEC, 10)) < 0) {
            rc = errno;
        } else {
            rc = posix_spawn_file_actions_adddup2(&fa, wr, ISO_DEATH_FD);
        }
        if (rc == 0) {
            rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    if (wr >= 0) {
        close(wr);
    }
    if (dp[1] >= 0) {
        close(dp[1]);
    }
    if (rc != 0) {
        omb_log(OMB_LOG_ERROR, inst->scope, "cannot start the plugin process: %s",
                strerror(rc));
        if (dp[0] >= 0) {
            close(dp[0]);
        }
        zmq_close(sock);
        unlink(path);
        return OMB_EIO;
    }
    int exit_fd = dp[0];
    iso->sock = sock;
    iso->pid = pid;
    iso->exit_fd = exit_fd;
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
        rc = iso_await(iso, "ready", "failed", deadline, &m);
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
        iso_child_gone(iso, why);
        return code < 0 ? code : OMB_EINVAL;
    }
    if (rc == 0) {
        iso_msg_close(&m);
        iso_host()->fd_watch(inst, exit_fd, OMB_FD_READ, on_child_exit, iso);
        inst->link_sock = sock;
        omb_log(OMB_LOG_INFO, inst->scope, "plugin process %d started", (int)pid);
        return 0;
    }
    if (rc == OMB_ETIMEOUT) {
        iso_child_gone(iso, "did not start in time");
    } else if (iso->alive) {
        iso_child_gone(iso, "could not be told what to run");
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
        iso_handle(iso, &m);
        iso_msg_close(&m);
    }
    iso_child_gone(iso, "died");
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
        iso_child_gone(iso, why);
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
    inst->link_fn = iso_on_link;
    inst->link_arg = iso;
    if (iso_host()->timer_add(inst, TICK_MS, TICK_MS, on_tick, iso, &iso->tick_timer) != 0) {
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
        iso_child_gone(iso, "stopped reading its deliveries");
        return not_delivered(iso, res);
    }
    struct iso_msg m;
    int rc = await(iso, "result", omb_monotonic_ms() + iso->deadline_ms, &m);
    if (rc == OMB_ETIMEOUT) {
        char why[128];
        snprintf(why, sizeof(why), "did not answer a delivery within %lld ms (hung)",
                 (long long)iso->deadline_ms);
        iso_child_gone(iso, why);
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
        iso_child_gone(iso, "did not stop in time (hung)");
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
            zmq_pollitem_t it = { .socket = NULL, .fd = iso->exit_fd, .events = ZMQ_POLLIN };
            zmq_poll(&it, 1, 5000);
            char how[128];
            close_child(iso, how, sizeof(how));
        } else if (rc == OMB_ETIMEOUT) {
            iso_child_gone(iso, "did not exit in time (hung)");
        }
    }
    if (iso->alive) {
        iso_child_gone(iso, "was stopped");
    }
    iso_retry_held(iso);
    iso_drop_held(iso);
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
