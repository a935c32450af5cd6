/* The zmq connector: an external ZeroMQ endpoint speaking omnibus's two-frame protocol (envelope
 * JSON, body JSON). A PULL socket takes events in (source), or with `ack` a ROUTER that answers
 * each sender once its event is stored; a PUSH socket sends delivered events out (sink).
 * Options, validation, lifecycle and the descriptor; the work is in zmq_inbound.c, zmq_acked.c
 * and zmq_outbound.c. See docs/connectors/zmq.md and docs/wire-protocol.md. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include <omnibus/plugin.h>

#include "zmq_connector.h"

static const struct omb_option options[] = {
    { "bind", OMB_OPT_URL, NULL, 0, 0, 0, NULL, offsetof(struct zmqc_ctx, bind),
      "inbound endpoint to bind a PULL (with ack: ROUTER) socket to, tcp://HOST:PORT or "
      "ipc:///PATH (a source)" },
    { "connect", OMB_OPT_URL, NULL, 0, 0, 0, NULL, offsetof(struct zmqc_ctx, connect),
      "inbound: connect the PULL socket to a remote PUSH (with ack: the ROUTER to a remote "
      "DEALER or REQ) at this endpoint instead (a source)" },
    { "publish-bind", OMB_OPT_URL, NULL, 0, 0, 0, NULL, offsetof(struct zmqc_ctx, publish_bind),
      "outbound endpoint to bind a PUSH socket to; delivered events go out here (a sink)" },
    { "publish-connect", OMB_OPT_URL, NULL, 0, 0, 0, NULL,
      offsetof(struct zmqc_ctx, publish_connect),
      "outbound: connect the PUSH socket to a remote PULL at this endpoint instead (a sink)" },
    { "hwm", OMB_OPT_INT, "10000", 0, 1, 10000000, NULL, offsetof(struct zmqc_ctx, hwm),
      "high-water mark in messages of each socket's queue (ZMQ_RCVHWM/ZMQ_SNDHWM); with ack "
      "also the most messages awaiting their answer" },
    { "max-message", OMB_OPT_SIZE, "1M", 0, 1024, 1073741824, NULL,
      offsetof(struct zmqc_ctx, max_message),
      "largest inbound message (both frames); a bigger frame makes ZeroMQ drop the connection" },
    { "linger", OMB_OPT_DURATION, "1s", 0, 0, 60000, NULL, offsetof(struct zmqc_ctx, linger_ms),
      "at shutdown, how long outbound messages still queued may take to reach the peer" },
    { "ack", OMB_OPT_BOOL, "false", 0, 0, 0, NULL, offsetof(struct zmqc_ctx, ack),
      "inbound: a ROUTER socket (DEALER or REQ clients) that answers every message once its "
      "event is stored, instead of a PULL" },
    OMB_OPTION_END
};

/* An endpoint this connector accepts: tcp://HOST:PORT or ipc://PATH. */
static bool endpoint_valid(const char *url, char *why, size_t whylen)
{
    if (strncmp(url, "tcp://", 6) == 0) {
        const char *hp = url + 6;
        const char *colon = strrchr(hp, ':');
        if (!colon || colon == hp || !colon[1]) {
            snprintf(why, whylen, "expected tcp://HOST:PORT (HOST may be * or an interface; "
                                  "PORT may be * to pick a free one)");
            return false;
        }
        return true;
    }
    if (strncmp(url, "ipc://", 6) == 0) {
        if (!url[6]) {
            snprintf(why, whylen, "expected ipc://PATH");
            return false;
        }
        /* A Unix socket's path has room for 107 bytes (sun_path). */
        if (strlen(url + 6) > 107) {
            snprintf(why, whylen, "the path is %zu bytes, Unix sockets allow at most 107",
                     strlen(url + 6));
            return false;
        }
        return true;
    }
    snprintf(why, whylen, "only tcp:// and ipc:// endpoints are supported");
    return false;
}

static int check_pair(const char *bind_name, const char *bind, const char *connect_name,
                      const char *connect, char *err, size_t errlen)
{
    char why[160];
    if (bind && connect) {
        snprintf(err, errlen, "set %s or %s, not both", bind_name, connect_name);
        return OMB_EINVAL;
    }
    const char *url = bind ? bind : connect;
    if (url && !endpoint_valid(url, why, sizeof(why))) {
        snprintf(err, errlen, "%s %s: %s", bind ? bind_name : connect_name, url, why);
        return OMB_EINVAL;
    }
    return 0;
}

static int zmqc_validate(const void *ctx, char *err, size_t errlen)
{
    const struct zmqc_ctx *c = ctx;
    int rc;
    if (!c->bind && !c->connect && !c->publish_bind && !c->publish_connect) {
        snprintf(err, errlen, "set bind or connect (to take events in), publish-bind or "
                              "publish-connect (to send events out), or one of each");
        return OMB_EINVAL;
    }
    if ((rc = check_pair("bind", c->bind, "connect", c->connect, err, errlen)) != 0 ||
        (rc = check_pair("publish-bind", c->publish_bind, "publish-connect", c->publish_connect,
                         err, errlen)) != 0) {
        return rc;
    }
    if (c->ack && !c->bind && !c->connect) {
        snprintf(err, errlen, "ack answers inbound messages: set bind or connect too");
        return OMB_EINVAL;
    }
    if (c->bind && c->publish_bind && strcmp(c->bind, c->publish_bind) == 0) {
        snprintf(err, errlen, "bind and publish-bind are the same endpoint %s", c->bind);
        return OMB_EINVAL;
    }
    return 0;
}

void *zmqc_socket_open(struct zmqc_ctx *c, int type, const char *url, bool bind, const char *what,
                       int *rc)
{
    int hwm = (int)c->hwm;
    /* A ROUTER's answers to one peer: up to hwm messages await their answer (the window, see
     * zmq_acked.c) and a group commit may answer them all at once, before ZeroMQ's I/O thread has
     * passed the earlier ones on. Room for twice that, and at least 1,000: past it the peer is
     * taken not to read, and answers are dropped (counted). */
    int sndhwm = type == ZMQ_ROUTER ? (hwm > 500 ? 2 * hwm : 1000) : hwm;
    /* A ROUTER's answers, like a PUSH's events, may take `linger` to leave at close. */
    int linger = type == ZMQ_PULL ? 0 : (int)c->linger_ms;
    int64_t maxmsg = c->max_message;
    int ipv6 = strncmp(url, "tcp://[", 7) == 0;
    /* A ROUTER fails a send to a peer that is gone (EHOSTUNREACH) or not reading (EAGAIN at its
     * hwm) instead of dropping it silently: the connector counts such answers. */
    int mandatory = 1;
    bool in = type != ZMQ_PUSH;
    const char *step = "socket";
    void *s = zmq_socket(c->zctx, type);
    if (!s) {
        goto fail;
    }
    step = "setsockopt";
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        (in && zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0) ||
        (type != ZMQ_PULL && zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm)) != 0) ||
        (ipv6 && zmq_setsockopt(s, ZMQ_IPV6, &ipv6, sizeof(ipv6)) != 0) ||
        (in && zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0) ||
        (type == ZMQ_ROUTER &&
         zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory)) != 0)) {
        goto fail;
    }
    step = bind ? "bind" : "connect";
    if ((bind ? zmq_bind(s, url) : zmq_connect(s, url)) != 0) {
        goto fail;
    }
    char ep[512] = "";
    size_t eplen = sizeof(ep);
    if (!bind || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0) {
        snprintf(ep, sizeof(ep), "%s", url);
    }
    /* With tcp://HOST:* the port is chosen now: this line is how to find it. */
    c->host->log(c->self, OMB_LOG_INFO, "%s: %s %s %s", what,
                 type == ZMQ_PULL ? "PULL" : type == ZMQ_ROUTER ? "ROUTER" : "PUSH",
                 bind ? "bound to" : "connecting to", ep);
    *rc = 0;
    return s;
fail:;
    int e = errno;
    /* An address in use, a missing ipc directory or an unknown host may pass: retry start. */
    *rc = (e == EINVAL || e == EPROTONOSUPPORT || e == ENOCOMPATPROTO || e == ENAMETOOLONG)
              ? OMB_EINVAL
              : OMB_ERETRY;
    c->host->log(c->self, *rc == OMB_ERETRY ? OMB_LOG_WARN : OMB_LOG_ERROR, "%s: %s %s: %s", what,
                 step, url, zmq_strerror(e));
    if (s) {
        zmq_close(s);
    }
    return NULL;
}

static int zmqc_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct zmqc_ctx *c = ctx;
    c->host = host;
    c->self = self;
    c->in_fd = -1;
    return 0;
}

/* Close every socket and the context (blocks up to `linger` for outbound messages). */
static void close_all(struct zmqc_ctx *c)
{
    zmqc_in_destroy(c);
    zmqc_out_destroy(c);
    if (c->zctx) {
        zmq_ctx_term(c->zctx);
        c->zctx = NULL;
    }
}

static int zmqc_start(void *ctx)
{
    struct zmqc_ctx *c = ctx;
    int rc = 0;
    if (c->started) {
        return 0;
    }
    c->zctx = zmq_ctx_new();
    if (!c->zctx) {
        c->host->log(c->self, OMB_LOG_ERROR, "cannot create a ZeroMQ context: %s",
                     zmq_strerror(errno));
        return OMB_ENOMEM;
    }
    if ((c->publish_bind || c->publish_connect) && (rc = zmqc_out_start(c)) != 0) {
        goto fail;
    }
    if ((c->bind || c->connect) && (rc = zmqc_in_start(c)) != 0) {
        goto fail;
    }
    c->started = true;
    return 0;
fail:
    /* Leave nothing half open: the core calls start again after a back-off. */
    close_all(c);
    return rc;
}

static int zmqc_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    return zmqc_out_deliver(ctx, event, res);
}

static int zmqc_deliver_raw(void *ctx, const struct omb_raw_event *event,
                            struct omb_deliver_result *res)
{
    return zmqc_out_deliver_raw(ctx, event, res);
}

static int zmqc_stop(void *ctx)
{
    zmqc_in_stop(ctx);
    return 0;
}

static void zmqc_destroy(void *ctx)
{
    struct zmqc_ctx *c = ctx;
    zmqc_in_stop(c);
    if (c->started && (c->bind || c->connect)) {
        c->host->log(c->self, OMB_LOG_INFO, "inbound: received %llu, invalid %llu, emitted %llu",
                     (unsigned long long)c->received, (unsigned long long)c->invalid,
                     (unsigned long long)c->emitted);
    }
    if (c->started && c->ack) {
        /* Before close_all, which sends the answers still queued (counted into these). */
        zmqc_ack_destroy(c);
        c->host->log(c->self, OMB_LOG_INFO, "inbound: replies ok %llu, error %llu, dropped %llu, "
                     "never answered %llu", (unsigned long long)c->replies_ok,
                     (unsigned long long)c->replies_error, (unsigned long long)c->replies_dropped,
                     (unsigned long long)c->unanswered);
    }
    if (c->started && (c->publish_bind || c->publish_connect)) {
        c->host->log(c->self, OMB_LOG_INFO, "outbound: sent %llu", (unsigned long long)c->sent);
    }
    close_all(c);
    c->started = false;
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "zmq",
    .version = "1.1.0",
    .description = "external ZeroMQ endpoint: two-frame events in (PULL, or ROUTER with acks) "
                   "and out (PUSH)",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK,
    .consumes = NULL,
    .produces = NULL,
    .options = options,
    .ctx_size = sizeof(struct zmqc_ctx),
    .create = zmqc_create,
    .validate = zmqc_validate,
    .start = zmqc_start,
    .deliver = zmqc_deliver,
    .deliver_raw = zmqc_deliver_raw,
    .stop = zmqc_stop,
    .destroy = zmqc_destroy,
};
