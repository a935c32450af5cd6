/* The zmq connector's sink: every delivered event leaves as two frames on a PUSH socket, the
 * envelope (every member of the event but "body", "route" included) and the body, each compact
 * JSON. Sends never block: when the peer's queue is full (the high-water mark) or no peer is
 * connected to a bound socket, deliver asks the core to retry, so nothing is dropped here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "zmq_connector.h"

int zmqc_out_start(struct zmqc_ctx *c)
{
    int rc;
    bool bind = c->publish_bind != NULL;
    c->out_sock = zmqc_socket_open(c, ZMQ_PUSH, bind ? c->publish_bind : c->publish_connect, bind,
                                   "outbound", &rc);
    return c->out_sock ? 0 : rc;
}

/* The envelope of a delivered event: a shallow copy without "body" (new). */
static json_t *envelope_of(const json_t *event)
{
    json_t *env = json_object();
    const char *k;
    json_t *v;
    if (!env) {
        return NULL;
    }
    json_object_foreach((json_t *)event, k, v) {
        if (strcmp(k, "body") != 0 && json_object_set(env, k, v) != 0) {
            json_decref(env);
            return NULL;
        }
    }
    return env;
}

/* Send the two frames without waiting: OMB_OK, or OMB_ERETRY with the reason in res. */
static int send_frames(struct zmqc_ctx *c, const char *env, size_t env_len, const char *body,
                       size_t body_len, struct omb_deliver_result *res)
{
    /* The high-water mark applies to the first frame; once it is queued, so is the second. If the
     * second failed anyway, libzmq rolls the first back, so a retry sends the whole message. */
    if (zmq_send(c->out_sock, env, env_len, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ||
        zmq_send(c->out_sock, body, body_len, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        if (e == EAGAIN) {
            res->retry_after_ms = ZMQC_RETRY_MS;
            snprintf(res->reason, sizeof(res->reason),
                     "peer not reading (HWM reached) or no peer connected to %s",
                     c->publish_bind ? c->publish_bind : c->publish_connect);
        } else {
            snprintf(res->reason, sizeof(res->reason), "zmq_send: %s", zmq_strerror(e));
        }
        return OMB_ERETRY;
    }
    c->sent++;
    c->host->metric_counter_add(c->self, "sent", 1);
    return OMB_OK;
}

int zmqc_out_deliver(struct zmqc_ctx *c, const json_t *event, struct omb_deliver_result *res)
{
    int rc = OMB_ERETRY;
    json_t *env = NULL;
    char *env_s = NULL, *body_s = NULL;

    if (!c->out_sock) {
        snprintf(res->reason, sizeof(res->reason),
                 "this zmq instance has no publish-bind or publish-connect: it takes no "
                 "deliveries");
        return OMB_EREJECT;
    }
    const json_t *body = json_object_get(event, "body");
    if (!json_is_object(body)) {
        snprintf(res->reason, sizeof(res->reason), "the event has no body object");
        return OMB_EREJECT;
    }
    env = envelope_of(event);
    env_s = env ? json_dumps(env, JSON_COMPACT) : NULL;
    body_s = env_s ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!body_s) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        goto out;
    }
    rc = send_frames(c, env_s, strlen(env_s), body_s, strlen(body_s), res);
out:
    json_decref(env);
    free(env_s);
    free(body_s);
    return rc;
}

int zmqc_out_deliver_raw(struct zmqc_ctx *c, const struct omb_raw_event *event,
                         struct omb_deliver_result *res)
{
    if (!c->out_sock) {
        snprintf(res->reason, sizeof(res->reason),
                 "this zmq instance has no publish-bind or publish-connect: it takes no "
                 "deliveries");
        return OMB_EREJECT;
    }
    /* The envelope travels as the core sealed it, plus "route": spliced in before its closing
     * brace (a route's name is [a-z0-9_-], nothing to escape). The body's bytes go as they are. */
    size_t elen = event->envelope_len;
    while (elen > 0 && event->envelope[elen - 1] != '}') {
        elen--;
    }
    if (elen < 2) {
        snprintf(res->reason, sizeof(res->reason), "the envelope is not a JSON object");
        return OMB_EREJECT;
    }
    char env[4096];
    int n = snprintf(env, sizeof(env), "%.*s,\"route\":\"%s\"}", (int)(elen - 1), event->envelope,
                     event->route);
    if (n < 0 || (size_t)n >= sizeof(env)) {
        snprintf(res->reason, sizeof(res->reason), "the envelope is larger than %zu bytes",
                 sizeof(env));
        return OMB_EREJECT;
    }
    return send_frames(c, env, (size_t)n, event->body, event->body_len, res);
}

void zmqc_out_destroy(struct zmqc_ctx *c)
{
    if (c->out_sock) {
        zmq_close(c->out_sock); /* what is queued gets `linger` to leave, in zmq_ctx_term */
        c->out_sock = NULL;
    }
}
