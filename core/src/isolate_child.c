/* The child's side of an isolated plugin (isolate.h): omnibusd --isolated-child ENDPOINT. It
 * runs one instance of the plugin the daemon names in its hello, on the same instance loop as
 * in the daemon, with the link to the daemon as the loop's extra socket: deliveries, webhooks,
 * pings and control come down it; emits, answers and metrics go up. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <zmq.h>

#include "diag.h"
#include "envelope.h"
#include "err_str.h"
#include "host_http.h"
#include "instance.h"
#include "instance_priv.h"
#include "isolate.h"
#include "isolate_link.h"
#include "loader.h"
#include "log.h"
#include "options.h"

/* Emits awaiting the daemon's acknowledgement: past this many, emit says OMB_EAGAIN. */
#define WINDOW 4096
#define TICK_MS 1000
#define HELLO_WAIT_MS 10000

struct pending_ack {
    uint64_t token; /* 0: free */
    void (*ack)(void *arg, int64_t seq, int rc);
    void *arg;
};

struct child_route {
    char *suffix;
    omb_http_fn fn;
    void *arg;
};

/* A message kept while the plugin waited for a state answer. */
struct stashed {
    struct stashed *next;
    struct iso_msg m;
};

struct child {
    void *sock;
    struct stashed *stash, *stash_tail;
    bool stash_posted; /* a drain_stash task is queued */
    struct pending_ack acks[WINDOW];
    uint64_t next_token;
    struct child_route *routes;
    size_t n_routes;
    int sent_state;
    char *metrics_sent; /* the last metrics message, to send only changes */
};

static struct child *child_of(struct omb_instance *inst)
{
    return inst->link_arg;
}

/* ---- up the link ---- */

int omb_isolate_uplink_emit(struct omb_instance *inst, const char *env, size_t env_len,
                            const char *body, size_t body_len,
                            void (*ack)(void *arg, int64_t seq, int rc), void *arg)
{
    struct child *ch = child_of(inst);
    uint64_t token = ch->next_token + 1;
    struct pending_ack *slot = &ch->acks[token % WINDOW];
    if (slot->token != 0) {
        return OMB_EAGAIN; /* the oldest unacknowledged emit is WINDOW behind */
    }
    struct iso_frame f[3] = { { &token, sizeof(token) }, { env, env_len }, { body, body_len } };
    int rc = iso_send(ch->sock, ZMQ_DONTWAIT, "emit", 3, f);
    if (rc != 0) {
        return rc == OMB_EAGAIN ? OMB_EAGAIN : OMB_EIO;
    }
    ch->next_token = token;
    *slot = (struct pending_ack){ .token = token, .ack = ack, .arg = arg };
    atomic_fetch_add(&inst->stats.emitted, 1);
    return 0;
}

int omb_isolate_uplink_route(struct omb_instance *inst, const char *suffix, omb_http_fn fn,
                             void *arg)
{
    struct child *ch = child_of(inst);
    if (!suffix || !fn) {
        return OMB_EINVAL;
    }
    for (size_t i = 0; i < ch->n_routes; i++) {
        if (strcmp(ch->routes[i].suffix, suffix) == 0) {
            return OMB_EINVAL;
        }
    }
    struct child_route *v = realloc(ch->routes, (ch->n_routes + 1) * sizeof(*v));
    if (!v) {
        return OMB_ENOMEM;
    }
    ch->routes = v;
    char *copy = strdup(suffix);
    if (!copy) {
        return OMB_ENOMEM;
    }
    if (iso_send(ch->sock, 0, "route", 1, &(struct iso_frame){ suffix, strlen(suffix) }) != 0) {
        free(copy);
        return OMB_EIO;
    }
    ch->routes[ch->n_routes++] = (struct child_route){ copy, fn, arg };
    return 0;
}

static void send_state(struct omb_instance *inst, struct child *ch)
{
    int state = (int)omb_instance_state(inst);
    if (state != ch->sent_state &&
        iso_send(ch->sock, ZMQ_DONTWAIT, "state", 1,
                 &(struct iso_frame){ &state, sizeof(state) }) == 0) {
        ch->sent_state = state;
    }
}

static void send_metrics(struct omb_instance *inst, struct child *ch)
{
    json_t *c = json_object(), *g = json_object();
    pthread_mutex_lock(&inst->metrics_lock);
    for (size_t i = 0; c && g && i < inst->n_metrics; i++) {
        json_object_set_new(inst->metrics[i].gauge ? g : c, inst->metrics[i].name,
                            json_integer(inst->metrics[i].value));
    }
    pthread_mutex_unlock(&inst->metrics_lock);
    json_t *o = json_pack("{s:o, s:o}", "c", c ? c : json_object(), "g", g ? g : json_object());
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (text && (!ch->metrics_sent || strcmp(text, ch->metrics_sent) != 0) &&
        iso_send(ch->sock, ZMQ_DONTWAIT, "metrics", 1,
                 &(struct iso_frame){ text, strlen(text) }) == 0) {
        free(ch->metrics_sent);
        ch->metrics_sent = text;
        return;
    }
    free(text);
}

static void on_tick(void *arg)
{
    struct omb_instance *inst = arg;
    send_state(inst, child_of(inst));
    send_metrics(inst, child_of(inst));
}

/* ---- down the link ---- */

static void on_deliver(struct omb_instance *inst, struct child *ch, struct iso_msg *m)
{
    struct omb_deliver_result res;
    memset(&res, 0, sizeof(res));
    int32_t rc;
    char *route = iso_strdup(m, 1);
    size_t env_len, body_len;
    const char *env = iso_data(m, 2, &env_len);
    const char *body = iso_data(m, 3, &body_len);
    const struct omb_plugin_descriptor *desc = inst->desc;
    if (!route || m->n != 4) {
        rc = OMB_ERETRY;
        snprintf(res.reason, sizeof(res.reason), "the plugin process could not read a delivery");
    } else if (!inst->started) {
        rc = OMB_ERETRY;
        int64_t wait = inst->start_due - omb_monotonic_ms();
        res.retry_after_ms = wait > 100 ? wait : 100;
        snprintf(res.reason, sizeof(res.reason), "the plugin has not started yet");
    } else if (desc->abi_minor >= 1 && desc->deliver_raw) {
        struct omb_raw_event raw = { .route = route, .envelope = env, .envelope_len = env_len,
                                     .body = body, .body_len = body_len };
        rc = desc->deliver_raw(inst->ctx, &raw, &res);
    } else {
        char err[256];
        json_t *ev = omb_event_from_frames(route, env, env_len, body, body_len, err, sizeof(err));
        if (ev) {
            rc = desc->deliver(inst->ctx, ev, &res);
            json_decref(ev);
        } else {
            rc = OMB_EREJECT;
            snprintf(res.reason, sizeof(res.reason), "unreadable event: %s", err);
        }
    }
    free(route);
    res.reason[sizeof(res.reason) - 1] = '\0';
    unsigned char head[sizeof(rc) + sizeof(res.retry_after_ms)];
    memcpy(head, &rc, sizeof(rc));
    memcpy(head + sizeof(rc), &res.retry_after_ms, sizeof(res.retry_after_ms));
    struct iso_frame f[2] = { { head, sizeof(head) }, { res.reason, strlen(res.reason) } };
    iso_send(ch->sock, 0, "result", 2, f);
}

static void on_ack(struct child *ch, struct iso_msg *m)
{
    size_t len;
    const unsigned char *p = iso_data(m, 1, &len);
    uint64_t token;
    int rc;
    if (!p || len != sizeof(token) + sizeof(rc)) {
        return;
    }
    memcpy(&token, p, sizeof(token));
    memcpy(&rc, p + sizeof(token), sizeof(rc));
    struct pending_ack *slot = &ch->acks[token % WINDOW];
    if (slot->token != token) {
        return;
    }
    struct pending_ack a = *slot;
    slot->token = 0;
    if (a.ack) {
        a.ack(a.arg, 0, rc);
    } else if (rc < 0) {
        omb_log(OMB_LOG_ERROR, NULL, "an emitted event was not taken by the daemon: %s",
                omb_strerror(rc));
    }
}

static void on_http(struct omb_instance *inst, struct child *ch, struct iso_msg *m)
{
    struct omb_http_response res;
    memset(&res, 0, sizeof(res));
    json_t *meta = iso_json(m, 1);
    size_t body_len;
    const void *body = iso_data(m, 2, &body_len);
    unsigned char *copy = malloc(body_len + 1); /* a handler may rely on body[body_len] == 0 */
    struct omb_http_request req;
    const char *suffix = json_string_value(json_object_get(meta, "suffix"));
    const struct child_route *r = NULL;
    for (size_t i = 0; suffix && i < ch->n_routes; i++) {
        if (strcmp(ch->routes[i].suffix, suffix) == 0) {
            r = &ch->routes[i];
        }
    }
    bool have_req = false;
    if (!meta || !copy || !r) {
        res.status = meta && copy ? 404 : 500;
    } else {
        memcpy(copy, body ? body : "", body_len);
        copy[body_len] = '\0';
        if (iso_http_request_read(meta, copy, body_len, &req) != 0) {
            res.status = 500;
        } else {
            have_req = true;
            omb_host_http_call(inst, r->fn, r->arg, &req, &res);
        }
    }
    json_t *out = iso_http_response_json(&res);
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    size_t rlen = res.body ? (res.body_len ? res.body_len : strlen(res.body)) : 0;
    struct iso_frame f[2] = { { text ? text : "{\"status\":500}", text ? strlen(text) : 14 },
                              { res.body, rlen } };
    iso_send(ch->sock, 0, "http-reply", 2, f);
    free(text);
    if (have_req) {
        free((void *)req.headers);
    }
    free(copy);
    json_decref(meta);
}

/* One message from the daemon. */
static void dispatch(struct omb_instance *inst, struct child *ch, struct iso_msg *m)
{
    size_t len;
    const void *p;
    if (iso_is(m, "deliver")) {
        on_deliver(inst, ch, m);
    } else if (iso_is(m, "ack")) {
        on_ack(ch, m);
    } else if (iso_is(m, "http")) {
        on_http(inst, ch, m);
    } else if (iso_is(m, "ping")) {
        iso_send(ch->sock, ZMQ_DONTWAIT, "pong", 0, NULL);
    } else if (iso_is(m, "stop")) {
        omb_instance_stop_here(inst);
        iso_send(ch->sock, 0, "stopped", 0, NULL);
    } else if (iso_is(m, "exit")) {
        inst->link_exit = true;
    } else if (iso_is(m, "log-level") && (p = iso_data(m, 1, &len)) && len == sizeof(int)) {
        int level;
        memcpy(&level, p, sizeof(level));
        omb_instance_set_log_level(inst, level);
    }
}

/* Messages that came while the plugin waited for a state answer: handled once it is back. */
static void drain_stash(struct omb_instance *inst, void *arg)
{
    (void)arg;
    struct child *ch = child_of(inst);
    while (ch->stash && !inst->link_exit) {
        struct stashed *st = ch->stash;
        ch->stash = st->next;
        if (!ch->stash) {
            ch->stash_tail = NULL;
        }
        dispatch(inst, ch, &st->m);
        iso_msg_close(&st->m);
        free(st);
    }
}

static void on_link(struct omb_instance *inst, void *arg)
{
    struct child *ch = arg;
    struct iso_msg m;
    drain_stash(inst, NULL);
    while (!inst->link_exit && iso_recv(ch->sock, ZMQ_DONTWAIT, &m) == 0) {
        dispatch(inst, ch, &m);
        iso_msg_close(&m);
    }
    send_state(inst, ch);
}

/* Ask the daemon and wait for its "state-reply", keeping what else comes for later. 0 with the
 * reply in *out, or OMB_EIO. */
static int state_call(struct omb_instance *inst, struct child *ch, const char *verb, size_t n,
                      const struct iso_frame *f, struct iso_msg *out)
{
    if (iso_send(ch->sock, 0, verb, n, f) != 0) {
        return OMB_EIO;
    }
    for (;;) {
        if (iso_recv(ch->sock, 0, out) != 0) {
            return OMB_EIO;
        }
        if (iso_is(out, "state-reply")) {
            return 0;
        }
        struct stashed *st = calloc(1, sizeof(*st));
        if (!st) {
            iso_msg_close(out);
            continue; /* an ack lost: its emit's plugin hears nothing; a ping: asked again */
        }
        st->m.n = out->n;
        for (size_t i = 0; i < out->n; i++) {
            zmq_msg_init(&st->m.f[i]);
            zmq_msg_move(&st->m.f[i], &out->f[i]);
            zmq_msg_close(&out->f[i]);
        }
        out->n = 0;
        if (ch->stash_tail) {
            ch->stash_tail->next = st;
        } else {
            ch->stash = st;
        }
        ch->stash_tail = st;
        if (!ch->stash_posted && omb_instance_post(inst, drain_stash, NULL) == 0) {
            ch->stash_posted = true;
        }
    }
}

json_t *omb_isolate_uplink_state_get(struct omb_instance *inst, const char *key)
{
    struct child *ch = child_of(inst);
    struct iso_msg m;
    if (state_call(inst, ch, "state-get", 1, &(struct iso_frame){ key, strlen(key) }, &m) != 0) {
        return NULL;
    }
    ch->stash_posted = false;
    size_t len;
    const void *p = iso_data(&m, 1, &len);
    int rc = OMB_EIO;
    if (p && len == sizeof(rc)) {
        memcpy(&rc, p, sizeof(rc));
    }
    json_t *v = NULL;
    if (rc == 0) {
        const char *text = iso_data(&m, 2, &len);
        v = text ? json_loadb(text, len, JSON_DECODE_ANY, NULL) : NULL;
    }
    iso_msg_close(&m);
    return v;
}

int omb_isolate_uplink_state_put(struct omb_instance *inst, const char *key, const char *text,
                                 size_t len)
{
    struct child *ch = child_of(inst);
    int del = text == NULL;
    struct iso_frame f[3] = { { key, strlen(key) }, { &del, sizeof(del) }, { text, len } };
    struct iso_msg m;
    if (state_call(inst, ch, "state-put", 3, f, &m) != 0) {
        return OMB_EIO;
    }
    ch->stash_posted = false;
    size_t n;
    const void *p = iso_data(&m, 1, &n);
    int rc = OMB_EIO;
    if (p && n == sizeof(rc)) {
        memcpy(&rc, p, sizeof(rc));
    }
    iso_msg_close(&m);
    return rc;
}

/* Posted once create() has run: say so, then report state and metrics every second. */
static void on_created(struct omb_instance *inst, void *arg)
{
    bool stopped = arg != NULL;
    struct child *ch = child_of(inst);
    iso_send(ch->sock, 0, "ready", 0, NULL);
    omb_host_api_table()->timer_add(inst, TICK_MS, TICK_MS, on_tick, inst, NULL);
    if (stopped) {
        omb_instance_stop_here(inst); /* the daemon had stopped the child this one replaces */
    }
    send_state(inst, ch);
}

/* ---- the process ---- */

/* The <connector> the daemon described, rebuilt (strings borrowed from `c`). */
static int connector_from_json(const json_t *c, struct omb_config_connector *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->name = (char *)json_string_value(json_object_get(c, "name"));
    cc->plugin = (char *)json_string_value(json_object_get(c, "plugin"));
    cc->log_level = (char *)json_string_value(json_object_get(c, "log_level"));
    cc->line = (int)json_integer_value(json_object_get(c, "line"));
    const json_t *opts = json_object_get(c, "options");
    cc->n_options = json_array_size(opts);
    cc->options = calloc(cc->n_options ? cc->n_options : 1, sizeof(*cc->options));
    if (!cc->name || !cc->plugin || !cc->options) {
        return OMB_EINVAL;
    }
    for (size_t i = 0; i < cc->n_options; i++) {
        const json_t *o = json_array_get(opts, i);
        cc->options[i] = (struct omb_config_option){
            .name = (char *)json_string_value(json_object_get(o, "name")),
            .value = (char *)json_string_value(json_object_get(o, "value")),
            .line = (int)json_integer_value(json_object_get(o, "line")) };
        if (!cc->options[i].name || !cc->options[i].value) {
            return OMB_EINVAL;
        }
    }
    /* The daemon dedupes and caps deliveries; here the plugin just runs. */
    cc->isolate_process = false;
    return 0;
}

static void send_failed(void *sock, int rc, const char *msg)
{
    struct iso_frame f[2] = { { &rc, sizeof(rc) }, { msg, strlen(msg) } };
    iso_send(sock, 0, "failed", 2, f);
}

/* Run the instance the hello describes until the daemon says exit. */
static int run(void *zctx, void *sock, const json_t *hello)
{
    struct omb_config_connector cc;
    const char *path = json_string_value(json_object_get(hello, "plugin_path"));
    const char *file = json_string_value(json_object_get(hello, "config_file"));
    const char *level = json_string_value(json_object_get(hello, "log_level"));
    if (level && omb_log_level_parse(level) >= 0) {
        omb_log_set_level((enum omb_log_level)omb_log_level_parse(level));
    }
    if (!path || connector_from_json(json_object_get(hello, "connector"), &cc) != 0) {
        free(cc.options);
        send_failed(sock, OMB_EINVAL, "the daemon's description of the connector is unreadable");
        return 1;
    }
    char err[512];
    struct omb_plugin *plugin = NULL;
    int rc = omb_plugin_open(path, &plugin, err, sizeof(err));
    if (rc != 0) {
        free(cc.options);
        send_failed(sock, rc, err);
        return 1;
    }
    struct omb_runtime rt = {
        .zctx = zctx, .gen = 1, .isolated_child = true,
        .retry_base_ms = json_integer_value(json_object_get(hello, "retry_base_ms")),
        .retry_max_ms = json_integer_value(json_object_get(hello, "retry_max_ms")) };
    struct omb_diags diags = { 0 };
    struct omb_instance *inst = omb_instance_new(&rt, &cc, plugin, file ? file : "", &diags);
    free(cc.options);
    if (!inst) {
        /* The daemon checked the same options; only a changed secret file gets here. */
        const char *why = diags.n ? diags.v[0].msg : "out of memory";
        send_failed(sock, OMB_EINVAL, why);
        omb_diags_clear(&diags);
        omb_plugin_close(&plugin);
        return 1;
    }
    omb_diags_clear(&diags);
    struct child *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        send_failed(sock, OMB_ENOMEM, "out of memory");
        omb_instance_destroy(&inst);
        omb_plugin_close(&plugin);
        return 1;
    }
    ch->sock = sock;
    ch->sent_state = -1;
    inst->dedupe_window_us = 0;
    inst->link_sock = sock;
    inst->link_fn = on_link;
    inst->link_arg = ch;
    /* From here the instance's thread owns the socket, until it has ended. */
    rc = omb_instance_run(inst);
    if (rc != 0) {
        send_failed(sock, rc, "the plugin's create() failed (see the log)");
    } else {
        bool stopped = json_is_true(json_object_get(hello, "stopped"));
        omb_instance_post(inst, on_created, stopped ? inst : NULL);
        omb_instance_join(inst);
        iso_send(sock, 0, "exited", 0, NULL);
    }
    omb_instance_destroy(&inst);
    while (ch->stash) {
        struct stashed *st = ch->stash;
        ch->stash = st->next;
        iso_msg_close(&st->m);
        free(st);
    }
    for (size_t i = 0; i < ch->n_routes; i++) {
        free(ch->routes[i].suffix);
    }
    free(ch->routes);
    free(ch->metrics_sent);
    free(ch);
    omb_plugin_close(&plugin);
    return rc == 0 ? 0 : 1;
}

int omb_isolate_child_main(const char *endpoint)
{
    /* The daemon drives this process: a terminal's ^C or a service manager's TERM to the
     * group is for the daemon, which then stops us in order. If it dies, so do we. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pid_t parent = getppid();
    /* Keep the death pipe to ourselves: a program the plugin might run must not hold it. */
    fcntl(ISO_DEATH_FD, F_SETFD, FD_CLOEXEC);

    void *zctx = zmq_ctx_new();
    void *sock = zctx ? zmq_socket(zctx, ZMQ_PAIR) : NULL;
    int linger = 1000, wait = HELLO_WAIT_MS, hwm = 100000;
    if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVTIMEO, &wait, sizeof(wait)) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "omnibusd --isolated-child: cannot connect to %s: %s\n", endpoint,
                zmq_strerror(errno));
        if (sock) {
            zmq_close(sock);
        }
        if (zctx) {
            zmq_ctx_term(zctx);
        }
        return 1;
    }
    struct iso_msg m;
    json_t *hello = NULL;
    if (iso_recv(sock, 0, &m) == 0 && iso_is(&m, "hello")) {
        hello = iso_json(&m, 1);
    }
    iso_msg_close(&m);
    int status = 1;
    json_int_t want = json_integer_value(json_object_get(hello, "parent_pid"));
    if (!hello) {
        fprintf(stderr, "omnibusd --isolated-child: no hello from the daemon at %s\n", endpoint);
    } else if (want != (json_int_t)parent) {
        /* Started by something else, or the daemon died before the death signal was set. */
        fprintf(stderr, "omnibusd --isolated-child: the daemon (pid %lld) is not our parent\n",
                (long long)want);
    } else {
        wait = -1;
        zmq_setsockopt(sock, ZMQ_RCVTIMEO, &wait, sizeof(wait));
        status = run(zctx, sock, hello);
    }
    json_decref(hello);
    zmq_close(sock);
    zmq_ctx_term(zctx);
    return status;
}
