/* The zmq connector, internal: its context and the functions its three files share.
 *
 * zmq_connector.c  options, validate, lifecycle, the descriptor
 * zmq_inbound.c    the PULL (or, with `ack`, ROUTER) socket: read messages in batches, check
 *                  them, emit
 * zmq_acked.c      the `ack` mode: emit with an acknowledgement, answer each sender in order
 * zmq_outbound.c   the PUSH socket: deliver an event as two frames
 *
 * The file names avoid "zmq.h", which is libzmq's. Everything here has hidden visibility (the
 * plugin is built with -fvisibility=hidden and exports only omb_plugin_descriptor).
 */
#ifndef OMNIBUS_CONNECTOR_ZMQ_H
#define OMNIBUS_CONNECTOR_ZMQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include <omnibus/plugin.h>

/* How many messages one wake reads before it yields to the instance's loop (deliveries, control)
 * and continues from a 0 ms timer. */
#define ZMQC_BATCH 1024
/* The safety tick: drains the socket even when an edge of ZMQ_FD was missed, resumes after
 * backpressure, reports suppressed log lines. */
#define ZMQC_TICK_MS 50
/* After emit pushed back, read again this soon. */
#define ZMQC_BACKOFF_MS 10
/* deliver: when the peer does not take the message, retry after this long. */
#define ZMQC_RETRY_MS 50
/* stop(): how long the final drain may wait for the router to take what is already queued. */
#define ZMQC_STOP_DRAIN_MS 500
/* At most one log line per this many ms about invalid input. */
#define ZMQC_INVALID_LOG_MS 1000
/* ack mode: the most routing frames (identity, broker hops, the empty delimiter) a request may
 * carry before its envelope; a message with more is dropped unanswered. */
#define ZMQC_ROUTE_MAX 8
/* The longest event id the core accepts (and so the longest a reply echoes). */
#define ZMQC_ID_MAX 128
/* The length of an id the connector assigns (ULID-style, like the core's). */
#define ZMQC_ID_LEN 26

struct zmqc_reply; /* zmq_acked.c: one message awaiting its answer */

struct zmqc_ctx {
    /* Options: filled by the core before create() and owned by it. */
    char *bind;
    char *connect;
    char *publish_bind;
    char *publish_connect;
    int64_t hwm;
    int64_t max_message;
    int64_t linger_ms;
    bool ack;

    /* Everything below is zeroed by the core and owned by the plugin. */
    const struct omb_host_api *host;
    struct omb_instance *self;
    void *zctx; /* our own ZeroMQ context, created by start */
    bool started;

    /* inbound */
    void *in_sock; /* PULL, or ROUTER with `ack` */
    int in_fd;     /* its ZMQ_FD, watched through host->fd_watch */
    bool in_watched;
    bool in_stopped;  /* stop() ran: the socket is closed, nothing more is read */
    bool tick_armed;
    uint64_t tick_id;
    bool kick_armed; /* a one-shot timer: continue after a full batch, or after backpressure */
    uint64_t kick_id;
    json_t *pending; /* new: an accepted event emit pushed back; emitted before anything newer */
    char *pending_body;      /* with emit_raw: the body's bytes (pending is then the envelope) */
    size_t pending_body_len;
    bool blocked;    /* emit pushed back: read nothing until the next timer */
    uint64_t received, invalid, emitted; /* totals */
    uint64_t rep_received, rep_invalid, rep_emitted; /* already reported as metrics */
    bool inv_logged;
    int64_t inv_log_ms;       /* monotonic time of the last invalid-input log line */
    uint64_t inv_suppressed;  /* invalid messages not logged since then */
    char inv_last[256];       /* the reason of the last suppressed one */

    /* ack mode (zmq_acked.c): the messages awaiting their reply, in the order they were read.
     * A reply leaves only from the head, so replies go out in that order. */
    struct zmqc_reply *rq_head, *rq_tail;
    size_t rq_len;
    bool rq_full;     /* reading paused: rq_len reached hwm */
    bool ack_raw;     /* the host has emit_raw_acked: the body's bytes go on untouched */
    uint64_t replies_ok, replies_error, replies_dropped, unanswered; /* totals */
    uint64_t rep_replies_ok, rep_replies_error, rep_replies_dropped;
    int64_t id_last_ms; /* the id generator: the last millisecond and its random part */
    uint8_t id_rand[10];

    /* outbound */
    void *out_sock; /* PUSH */
    uint64_t sent;
};

/* Shared (zmq_connector.c): open a socket of `type` with the connector's limits, bind or connect
 * it to url. Returns the socket, or NULL with the reason logged and *rc set (OMB_ERETRY for a
 * condition that may pass, such as an address in use or a missing ipc directory). */
void *zmqc_socket_open(struct zmqc_ctx *c, int type, const char *url, bool bind, const char *what,
                       int *rc);

/* Inbound (zmq_inbound.c). */
int zmqc_in_start(struct zmqc_ctx *c);
void zmqc_in_stop(struct zmqc_ctx *c);
void zmqc_in_destroy(struct zmqc_ctx *c);
/* Count one invalid message and log it (rate-limited); peer may be NULL. */
void zmqc_invalid_note(struct zmqc_ctx *c, const char *reason, const char *peer);
/* Why the core refused an envelope (emit answered OMB_EINVAL), into why. */
void zmqc_refusal_reason(struct zmqc_ctx *c, const json_t *envelope, char *why, size_t whylen);
/* Report the counters gathered since the last call as metrics. */
void zmqc_in_report(struct zmqc_ctx *c);
/* Read again on the loop's next turn (reading was paused). */
void zmqc_in_resume(struct zmqc_ctx *c);

/* The ack mode (zmq_acked.c). One message read off the ROUTER socket: route[0..nroute) are its
 * routing frames (moved from on return, whatever happens). When why is NULL, env (borrowed, and
 * given an "id" when it has none) and body[0..body_len) are a valid event to emit; else the
 * message is invalid for that reason and is answered so (env, when not NULL, only lends the
 * client's id to the reply). Every path answers the sender, sooner or later. */
void zmqc_ack_take(struct zmqc_ctx *c, zmq_msg_t *route, int nroute, json_t *env,
                   const char *body, size_t body_len, const char *why);
/* Answer a message at once, without emitting it (the daemon is stopping). */
void zmqc_ack_refuse(struct zmqc_ctx *c, zmq_msg_t *route, int nroute, const char *why,
                     bool retry);
/* True when reading must pause: hwm messages await their reply. */
bool zmqc_ack_full(struct zmqc_ctx *c);
/* destroy: send the answers that are known (while the socket is open), give up on those still
 * awaiting an ack (counted and logged), free every context. Idempotent. */
void zmqc_ack_destroy(struct zmqc_ctx *c);

/* Outbound (zmq_outbound.c). deliver borrows event. */
int zmqc_out_start(struct zmqc_ctx *c);
int zmqc_out_deliver(struct zmqc_ctx *c, const json_t *event, struct omb_deliver_result *res);
/* ABI 1.1: the frames as they travel; the body's bytes go out untouched. */
int zmqc_out_deliver_raw(struct zmqc_ctx *c, const struct omb_raw_event *event,
                         struct omb_deliver_result *res);
void zmqc_out_destroy(struct zmqc_ctx *c);

#endif /* OMNIBUS_CONNECTOR_ZMQ_H */
