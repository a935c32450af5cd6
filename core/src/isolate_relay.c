/* What an isolated plugin's child sends the daemon (isolate_priv.h): its emits, taken into
 * the journal with their acknowledgements sent back (and held in order while the journal says
 * OMB_EAGAIN); its webhook paths, served by the daemon's listener and passed down whole; its
 * metrics and state. All on the instance's thread, but the store's acknowledgements (writer
 * thread), which are posted to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "envelope.h"
#include "instance.h"
#include "instance_priv.h"
#include "isolate_priv.h"
#include "host_http.h"
#include "log.h"
#include "store.h"

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
    /* It fails only when the child has just died (its death pipe tells us next) or stopped reading
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

void iso_retry_held(struct omb_isolate *iso)
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
        iso_host()->timer_add(iso->inst, HELD_RETRY_MS, 0, on_held_due, iso, NULL) == 0) {
        iso->held_armed = true;
    }
}

static void on_held_due(void *arg)
{
    struct omb_isolate *iso = arg;
    iso->held_armed = false;
    iso_retry_held(iso);
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
            iso_retry_held(iso);
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
    if (iso_host()->http_route_add(iso->inst, suffix, proxy_http, iso) != 0) {
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
            iso_host()->metric_counter_add(iso->inst, name, (uint64_t)(now - before));
        }
        json_object_set_new(iso->seen, name, json_integer(now));
    }
    json_object_foreach(json_object_get(o, "g"), name, v) {
        iso_host()->metric_gauge_set(iso->inst, name, json_integer_value(v));
    }
    json_decref(o);
}

/* The child's state_get/state_put (ABI 1.3), answered from the daemon's store. */
static void on_state(struct omb_isolate *iso, struct iso_msg *m, bool put)
{
    struct omb_instance *inst = iso->inst;
    char *key = iso_strdup(m, 1);
    char *value = NULL;
    size_t len = 0;
    int rc;
    if (!key || !*key || !inst->rt->store) {
        rc = OMB_EINVAL;
    } else if (put) {
        size_t n;
        const void *del = iso_data(m, 2, &n);
        int is_del = 1;
        if (del && n == sizeof(is_del)) {
            memcpy(&is_del, del, sizeof(is_del));
        }
        const char *text = iso_data(m, 3, &n);
        rc = omb_store_state_put(inst->rt->store, inst->name, key, is_del ? NULL : text ? text : "",
                                 is_del ? 0 : n);
    } else {
        rc = omb_store_state_get(inst->rt->store, inst->name, key, &value, &len);
    }
    struct iso_frame f[2] = { { &rc, sizeof(rc) }, { value, len } };
    iso_send(iso->sock, 0, "state-reply", rc == 0 && value ? 2 : 1, f);
    free(value);
    free(key);
}

void iso_handle(struct omb_isolate *iso, struct iso_msg *m)
{
    size_t len;
    if (iso_is(m, "state-get") || iso_is(m, "state-put")) {
        on_state(iso, m, iso_is(m, "state-put"));
    } else if (iso_is(m, "emit")) {
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
void iso_on_link(struct omb_instance *inst, void *arg)
{
    (void)inst;
    struct omb_isolate *iso = arg;
    struct iso_msg m;
    int rc;
    while (iso->alive && (rc = iso_recv(iso->sock, ZMQ_DONTWAIT, &m)) == 0) {
        iso_handle(iso, &m);
        iso_msg_close(&m);
    }
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
    rc = iso_await(iso, "http-reply", NULL, omb_monotonic_ms() + iso->deadline_ms, &m);
    if (rc == OMB_ETIMEOUT) {
        char why[128];
        snprintf(why, sizeof(why), "did not answer a webhook within %lld ms (hung)",
                 (long long)iso->deadline_ms);
        iso_child_gone(iso, why);
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

void iso_drop_held(struct omb_isolate *iso)
{
    bool any = iso->held != NULL;
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
    if (any) {
        omb_log(OMB_LOG_ERROR, iso->inst->scope,
                "events the plugin process emitted could not be journaled before it stopped");
    }
    iso->held = iso->held_tail = NULL;
}
