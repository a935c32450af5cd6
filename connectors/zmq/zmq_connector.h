/* The zmq connector, internal: its context and the functions its three files share.
 *
 * zmq_connector.c  options, validate, lifecycle, the descriptor
 * zmq_inbound.c    the PULL socket: read two-frame messages in batches, check them, emit
 * zmq_outbound.c   the PUSH socket: deliver an event as two frames
 *
 * The file names avoid "zmq.h", which is libzmq's. Everything here has hidden visibility (the
 * plugin is built with -fvisibility=hidden and exports only omb_plugin_descriptor).
 */
#ifndef OMNIBUS_CONNECTOR_ZMQ_H
#define OMNIBUS_CONNECTOR_ZMQ_H

#include <stdbool.h>
#include <stdint.h>

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

struct zmqc_ctx {
    /* Options: filled by the core before create() and owned by it. */
    char *bind;
    char *connect;
    char *publish_bind;
    char *publish_connect;
    int64_t hwm;
    int64_t max_message;
    int64_t linger_ms;

    /* Everything below is zeroed by the core and owned by the plugin. */
    const struct omb_host_api *host;
    struct omb_instance *self;
    void *zctx; /* our own ZeroMQ context, created by start */
    bool started;

    /* inbound */
    void *in_sock; /* PULL */
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

/* Outbound (zmq_outbound.c). deliver borrows event. */
int zmqc_out_start(struct zmqc_ctx *c);
int zmqc_out_deliver(struct zmqc_ctx *c, const json_t *event, struct omb_deliver_result *res);
/* ABI 1.1: the frames as they travel; the body's bytes go out untouched. */
int zmqc_out_deliver_raw(struct zmqc_ctx *c, const struct omb_raw_event *event,
                         struct omb_deliver_result *res);
void zmqc_out_destroy(struct zmqc_ctx *c);

#endif /* OMNIBUS_CONNECTOR_ZMQ_H */
