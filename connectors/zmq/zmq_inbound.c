/* The zmq connector's source: a PULL socket that takes two-frame messages (envelope JSON, body
 * JSON), turns each into the plugin-level event {..envelope.., "body": body} and emits it. With
 * the `ack` option the socket is a ROUTER instead: each message comes after its routing frames
 * (the sender's identity, and the empty delimiter of a REQ), and is handed to zmq_acked.c, which
 * emits it with an acknowledgement and answers the sender.
 *
 * The socket is watched through its ZMQ_FD, which is edge-triggered: every wake reads until the
 * socket is empty (asking ZMQ_EVENTS before giving up), at most ZMQC_BATCH messages, then yields
 * to the instance's loop and continues from a 0 ms timer. A ZMQC_TICK_MS timer drains too, so a
 * missed edge never strands a message. Each frame is parsed once, in place (no copy).
 *
 * Backpressure: when emit pushes back, the event is kept and nothing more is read until a timer
 * fires; meanwhile the socket's queue fills to its high-water mark and ZeroMQ stops the sender.
 * An accepted message is never dropped. Invalid input is counted, logged (at most one line per
 * second) and dropped. (In ack mode backpressure is answered instead, and reading pauses only
 * while `hwm` messages await their reply.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "zmq_connector.h"

enum read_result {
    READ_NONE = 0,    /* nothing waiting */
    READ_EVENT = 1,   /* an event to emit */
    READ_INVALID = 2, /* a message was read, counted and dropped */
    READ_TAKEN = 3    /* ack mode: a message was read and handed to zmq_acked.c */
};

/* One message off the socket: its first FRAMES_KEPT frames, and how many it had. */
#define FRAMES_KEPT (ZMQC_ROUTE_MAX + 3)
struct frames {
    zmq_msg_t f[FRAMES_KEPT];
    int kept; /* f[0..kept) are initialised */
    int n;    /* frames in the message */
};

static void drain(struct zmqc_ctx *c);

/* Hand the counters gathered since the last call to the host (once per batch, not per message). */
void zmqc_in_report(struct zmqc_ctx *c)
{
    if (c->received != c->rep_received) {
        c->host->metric_counter_add(c->self, "received", c->received - c->rep_received);
        c->rep_received = c->received;
    }
    if (c->invalid != c->rep_invalid) {
        c->host->metric_counter_add(c->self, "invalid", c->invalid - c->rep_invalid);
        c->rep_invalid = c->invalid;
    }
    if (c->emitted != c->rep_emitted) {
        c->host->metric_counter_add(c->self, "emitted", c->emitted - c->rep_emitted);
        c->rep_emitted = c->emitted;
    }
    if (!c->ack) {
        return;
    }
    if (c->replies_ok != c->rep_replies_ok) {
        c->host->metric_counter_add(c->self, "replies_ok", c->replies_ok - c->rep_replies_ok);
        c->rep_replies_ok = c->replies_ok;
    }
    if (c->replies_error != c->rep_replies_error) {
        c->host->metric_counter_add(c->self, "replies_error",
                                    c->replies_error - c->rep_replies_error);
        c->rep_replies_error = c->replies_error;
    }
    if (c->replies_dropped != c->rep_replies_dropped) {
        c->host->metric_counter_add(c->self, "replies_dropped",
                                    c->replies_dropped - c->rep_replies_dropped);
        c->rep_replies_dropped = c->replies_dropped;
    }
    c->host->metric_gauge_set(c->self, "awaiting_reply", (int64_t)c->rq_len);
}

/* Count one invalid message and log it, at most one line per ZMQC_INVALID_LOG_MS; the others are
 * counted and reported with the next line. */
void zmqc_invalid_note(struct zmqc_ctx *c, const char *reason, const char *peer)
{
    int64_t now = c->host->monotonic_ms();
    c->invalid++;
    if (c->inv_logged && now - c->inv_log_ms < ZMQC_INVALID_LOG_MS) {
        c->inv_suppressed++;
        snprintf(c->inv_last, sizeof(c->inv_last), "%s", reason);
        return;
    }
    char more[96] = "";
    if (c->inv_suppressed > 0) {
        snprintf(more, sizeof(more), " (and %llu more invalid message(s) dropped before it)",
                 (unsigned long long)c->inv_suppressed);
    }
    c->host->log(c->self, OMB_LOG_WARN, "invalid message%s%s dropped: %s%s",
                 peer && peer[0] ? " from " : "", peer && peer[0] ? peer : "", reason, more);
    c->inv_logged = true;
    c->inv_log_ms = now;
    c->inv_suppressed = 0;
}

/* From the tick: report suppressed invalid messages once their second is over. */
static void invalid_flush(struct zmqc_ctx *c)
{
    if (c->inv_suppressed == 0 ||
        c->host->monotonic_ms() - c->inv_log_ms < ZMQC_INVALID_LOG_MS) {
        return;
    }
    c->host->log(c->self, OMB_LOG_WARN, "%llu more invalid message(s) dropped (the last: %s)",
                 (unsigned long long)c->inv_suppressed, c->inv_last);
    c->inv_log_ms = c->host->monotonic_ms();
    c->inv_suppressed = 0;
}

/* True when ZMQ_EVENTS says a message is waiting. Asking also processes the socket's pending
 * commands, which resets its ZMQ_FD: an fd left signalled would wake the loop again and again. */
static bool has_input(struct zmqc_ctx *c)
{
    int ev = 0;
    size_t len = sizeof(ev);
    return zmq_getsockopt(c->in_sock, ZMQ_EVENTS, &ev, &len) == 0 && (ev & ZMQ_POLLIN);
}

static void on_kick(void *arg)
{
    struct zmqc_ctx *c = arg;
    c->kick_armed = false;
    c->blocked = false;
    drain(c);
}

/* Run drain again after delay_ms (0: on the loop's next turn), unless that is already planned. */
static void arm_kick(struct zmqc_ctx *c, uint64_t delay_ms)
{
    if (c->kick_armed) {
        return;
    }
    if (c->host->timer_add(c->self, delay_ms, 0, on_kick, c, &c->kick_id) == 0) {
        c->kick_armed = true;
    }
    /* If the timer cannot be added, the tick resumes within ZMQC_TICK_MS. */
}

static void on_tick(void *arg)
{
    struct zmqc_ctx *c = arg;
    c->blocked = false;
    drain(c);
    invalid_flush(c);
}

static void on_fd(int fd, unsigned events, void *arg)
{
    struct zmqc_ctx *c = arg;
    if (!c->in_sock || c->in_stopped) {
        return;
    }
    if (c->blocked) {
        /* Read nothing, but reset the fd: left signalled it would wake the loop again and again.
         * A timer resumes reading. */
        (void)has_input(c);
        return;
    }
    drain(c); /* returns with the socket empty (its fd reset), or with a timer armed */
}

void zmqc_refusal_reason(struct zmqc_ctx *c, const json_t *envelope, char *why, size_t whylen)
{
    why[0] = '\0';
    if (json_object_get(envelope, "body")) {
        c->host->event_check(envelope, why, whylen);
    } else {
        /* emit_raw refuses a bad envelope, or a body that plainly is no object. */
        json_t *probe = json_copy((json_t *)envelope);
        if (probe && json_object_set_new(probe, "body", json_object()) == 0) {
            c->host->event_check(probe, why, whylen);
        }
        json_decref(probe);
        if (!why[0]) {
            snprintf(why, whylen, "the body frame must be a JSON object");
        }
    }
    if (!why[0]) {
        snprintf(why, whylen, "the core refused the event");
    }
}

static void pending_free(struct zmqc_ctx *c)
{
    json_decref(c->pending);
    c->pending = NULL;
    free(c->pending_body);
    c->pending_body = NULL;
    c->pending_body_len = 0;
}

/* The event in c->pending to emit. Returns true when it was taken (or refused as invalid and
 * dropped): go on reading. False when pushed back: it stays pending and c->blocked is set. */
static bool emit_pending(struct zmqc_ctx *c, int *rc_out)
{
    int rc;
    if (c->pending_body) {
        /* The body's bytes go on as they came: no second serialisation, numbers untouched. */
        rc = c->host->emit_raw(c->self, c->pending, c->pending_body, c->pending_body_len);
    } else {
        rc = c->host->emit(c->self, c->pending);
    }
    if (rc_out) {
        *rc_out = rc;
    }
    if (rc == OMB_OK) {
        if (c->pending_body) {
            pending_free(c);
        } else {
            c->pending = NULL; /* stolen */
        }
        c->emitted++;
        return true;
    }
    if (rc == OMB_EINVAL) {
        char why[256] = "";
        zmqc_refusal_reason(c, c->pending, why, sizeof(why));
        zmqc_invalid_note(c, why, NULL);
        pending_free(c);
        return true;
    }
    /* OMB_EAGAIN (the router is full), OMB_ESTOPPED (the daemon is stopping) or an I/O error the
     * core has logged: keep the event and read nothing more for now. */
    c->blocked = true;
    if (rc == OMB_EAGAIN) {
        arm_kick(c, ZMQC_BACKOFF_MS);
    }
    return false;
}

/* Parse one frame as JSON, in place, with jansson's `flags` besides. New value, or NULL with the
 * reason in why. */
static json_t *parse_frame(zmq_msg_t *m, const char *what, size_t flags, char *why,
                           size_t whylen)
{
    json_error_t jerr;
    size_t len = zmq_msg_size(m);
    if (len == 0) {
        snprintf(why, whylen, "the %s frame is empty", what);
        return NULL;
    }
    json_t *v = json_loadb(zmq_msg_data(m), len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | flags,
                           &jerr);
    if (!v) {
        snprintf(why, whylen, "the %s frame is not JSON: %s (at byte %d)", what, jerr.text,
                 jerr.position);
    }
    return v;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* The body frame as a JSON object (new reference), or NULL with the reason in why. */
static json_t *parse_body(zmq_msg_t *f, size_t flags, char *why, size_t whylen)
{
    json_t *body = parse_frame(f, "body", flags, why, whylen);
    if (body && !json_is_object(body)) {
        snprintf(why, whylen, "the body frame must be a JSON object, not %s", json_kind(body));
        json_decref(body);
        body = NULL;
    }
    return body;
}

/* Check the envelope's members, in place: drop those the core sets (source, received, route),
 * refuse body and unknown members. 0, or -1 with the reason in why. */
static int envelope_check(json_t *env, char *why, size_t whylen)
{
    static const char *const accepted[] = { "type", "key", "time", "trace", "id", "headers",
                                            NULL };
    static const char *const ignored[] = { "source", "received", "route", NULL };
    const char *k;
    json_t *v;
    void *next;
    bool has_type = false;

    if (!json_is_object(env)) {
        snprintf(why, whylen, "the envelope frame must be a JSON object, not %s", json_kind(env));
        return -1;
    }
    json_object_foreach_safe(env, next, k, v) {
        bool known = false;
        for (size_t i = 0; accepted[i] && !known; i++) {
            known = strcmp(k, accepted[i]) == 0;
        }
        if (known) {
            has_type = has_type || strcmp(k, "type") == 0;
            continue;
        }
        for (size_t i = 0; ignored[i] && !known; i++) {
            known = strcmp(k, ignored[i]) == 0;
        }
        if (known) {
            json_object_del(env, k); /* k is not used after this */
            continue;
        }
        if (strcmp(k, "body") == 0) {
            snprintf(why, whylen, "\"body\" belongs in the second frame, not in the envelope");
        } else {
            snprintf(why, whylen, "unknown envelope member \"%.64s\"", k);
        }
        return -1;
    }
    if (!has_type) {
        snprintf(why, whylen, "the envelope has no \"type\"");
        return -1;
    }
    return 0;
}

/* Receive one whole message into m (ZeroMQ delivers a message whole: once its first frame is
 * here, so are the others). False when nothing is waiting. The caller closes m's frames. */
static bool frames_recv(void *sock, struct frames *m)
{
    m->kept = m->n = 0;
    for (;;) {
        zmq_msg_t extra;
        zmq_msg_t *f = m->kept < FRAMES_KEPT ? &m->f[m->kept] : &extra;
        zmq_msg_init(f);
        if (zmq_msg_recv(f, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(f); /* EAGAIN; EINTR: the next wake or tick reads it */
            return m->n > 0;
        }
        m->n++;
        int more = zmq_msg_more(f);
        if (f == &extra) {
            zmq_msg_close(f);
        } else {
            m->kept++;
        }
        if (!more) {
            return true;
        }
    }
}

static void frames_close(struct frames *m)
{
    for (int i = 0; i < m->kept; i++) {
        zmq_msg_close(&m->f[i]);
    }
    m->kept = 0;
}

/* ack mode: how many routing frames come before the envelope. A ROUTER puts the sender's
 * identity first; a REQ (or a broker in between) adds frames up to an empty delimiter. A
 * DEALER's envelope follows the identity. -1: more than ZMQC_ROUTE_MAX. */
static int route_frames(const struct frames *m)
{
    int last = (m->kept < m->n ? m->kept : m->n) - 1; /* the delimiter is never the last frame */
    for (int i = 1; i < last; i++) {
        if (zmq_msg_size(&m->f[i]) == 0) {
            return i + 1 <= ZMQC_ROUTE_MAX ? i + 1 : -1;
        }
    }
    return 1;
}

/* Read one message. READ_EVENT with a new event in *out; READ_INVALID when a message was read but
 * is not a valid event (counted and logged here); READ_TAKEN when, in ack mode, it was handed to
 * zmq_acked.c (valid or not: it answers); READ_NONE when nothing is waiting. */
static enum read_result read_one(struct zmqc_ctx *c, json_t **out)
{
    struct frames m;
    int first = 0; /* m.f[first] is the envelope */
    char why[256] = "";
    json_t *env = NULL, *body = NULL;
    enum read_result r = READ_INVALID;

    if (!frames_recv(c->in_sock, &m)) {
        return READ_NONE;
    }
    c->received++;
    if (c->ack && (first = route_frames(&m)) < 0) {
        snprintf(why, sizeof(why), "more than %d routing frames before the envelope: no reply "
                 "is possible", ZMQC_ROUTE_MAX);
        goto out;
    }
    int frames = m.n - first;
    zmq_msg_t *f1 = &m.f[first], *f2 = &m.f[first + 1];
    if (frames != 2) {
        snprintf(why, sizeof(why), "expected 2 frames (envelope, body), got %d", frames);
        goto out;
    }
    size_t total = zmq_msg_size(f1) + zmq_msg_size(f2);
    if (total > (size_t)c->max_message) {
        snprintf(why, sizeof(why), "the message is %zu bytes, more than max-message (%lld)",
                 total, (long long)c->max_message);
        goto out;
    }
    env = parse_frame(f1, "envelope", 0, why, sizeof(why));
    if (!env || envelope_check(env, why, sizeof(why)) != 0) {
        goto out;
    }
    if (c->ack) {
        /* A sender told "stored" must not learn later that its body was dropped: here the body
         * is parsed, once, to check it. With emit_raw_acked its bytes still go on untouched (the
         * parse only checks, so integers beyond 64 bits are read as reals and pass). */
        body = parse_body(f2, c->ack_raw ? JSON_DECODE_INT_AS_REAL : 0, why, sizeof(why));
        if (!body) {
            goto out;
        }
        if (!c->ack_raw) {
            int rc = json_object_set_new(env, "body", body);
            body = NULL; /* set_new consumed it, even on failure */
            if (rc != 0) {
                snprintf(why, sizeof(why), "out of memory");
                goto out;
            }
        }
        zmqc_ack_take(c, m.f, first, env, zmq_msg_data(f2), zmq_msg_size(f2), NULL);
        r = READ_TAKEN;
        goto out;
    }
    if (OMB_HOST_HAS(c->host, emit_raw)) {
        /* The body's bytes go on as the sender wrote them; the router parses them once, for
         * the routes that read them, and drops (counts, logs) a body that is not an object. */
        size_t len = zmq_msg_size(f2);
        char *copy = len ? malloc(len) : NULL;
        if (!copy) {
            snprintf(why, sizeof(why), len ? "out of memory" : "the body frame is empty");
            goto out;
        }
        memcpy(copy, zmq_msg_data(f2), len);
        c->pending_body = copy;
        c->pending_body_len = len;
    } else {
        body = parse_body(f2, 0, why, sizeof(why));
        if (!body) {
            goto out;
        }
        if (json_object_set_new(env, "body", body) != 0) {
            body = NULL; /* set_new consumed it even on failure */
            snprintf(why, sizeof(why), "out of memory");
            goto out;
        }
        body = NULL;
    }
    *out = env;
    env = NULL;
    r = READ_EVENT;
out:
    if (r == READ_INVALID) {
        /* The sender's address helps find it (tcp only: over ipc it is not an address). */
        const char *url = c->bind ? c->bind : c->connect;
        zmqc_invalid_note(c, why, strncmp(url, "tcp://", 6) == 0
                                      ? zmq_msg_gets(&m.f[0], "Peer-Address")
                                      : NULL);
        if (c->ack && first > 0) {
            /* env, when the envelope parsed, lends the sender's own id to the answer. */
            zmqc_ack_take(c, m.f, first, env, NULL, 0, why);
        }
    }
    json_decref(env);
    json_decref(body);
    frames_close(&m);
    return r;
}

/* Read and emit up to ZMQC_BATCH messages. True when the socket is empty; false when it stopped
 * early: blocked by backpressure (in ack mode: hwm messages await their reply), or the batch is
 * full. */
static bool drain_batch(struct zmqc_ctx *c, int *emit_rc)
{
    if (c->pending && !emit_pending(c, emit_rc)) {
        return false;
    }
    for (int n = 0; n < ZMQC_BATCH; n++) {
        if (c->ack && zmqc_ack_full(c)) {
            /* The answers leave in order; until the oldest is acknowledged, read nothing more.
             * zmq_acked.c resumes when one leaves, else the tick does. */
            c->blocked = true;
            c->rq_full = true;
            return false;
        }
        json_t *ev = NULL;
        enum read_result r = read_one(c, &ev);
        if (r == READ_NONE) {
            if (!has_input(c)) {
                return true;
            }
            continue;
        }
        if (r == READ_EVENT) {
            c->pending = ev;
            if (!emit_pending(c, emit_rc)) {
                return false;
            }
        }
    }
    return false;
}

static void drain(struct zmqc_ctx *c)
{
    if (!c->in_sock || c->in_stopped || c->blocked) {
        return;
    }
    if (!drain_batch(c, NULL) && !c->blocked) {
        arm_kick(c, 0); /* a full batch: yield, and go on at the loop's next turn */
    }
    zmqc_in_report(c);
}

void zmqc_in_resume(struct zmqc_ctx *c)
{
    if (!c->in_sock || c->in_stopped) {
        return;
    }
    if (c->rq_full) {
        if (zmqc_ack_full(c)) {
            return;
        }
        c->rq_full = false;
        c->blocked = false;
        arm_kick(c, 0);
        return;
    }
    /* A send processes the socket's commands, which may consume the edge of ZMQ_FD that would
     * have told us about a message that came meanwhile: look, and read it on the next turn. */
    if (!c->blocked && has_input(c)) {
        arm_kick(c, 0);
    }
}

int zmqc_in_start(struct zmqc_ctx *c)
{
    int rc;
    bool bind = c->bind != NULL;
    c->in_stopped = false;
    c->blocked = false;
    c->rq_full = false;
    if (c->ack) {
        /* The body goes on as bytes when the host can take them so (ABI 1.2 has both). */
        c->ack_raw = OMB_HOST_HAS(c->host, emit_raw_acked);
        if (!c->ack_raw && !OMB_HOST_HAS(c->host, emit_acked)) {
            c->host->log(c->self, OMB_LOG_ERROR, "inbound: ack needs an omnibusd with plugin "
                         "ABI 1.2 or newer (emit_acked); this one speaks 1.%u",
                         (unsigned)c->host->abi_minor);
            return OMB_EINVAL;
        }
    }
    c->in_sock = zmqc_socket_open(c, c->ack ? ZMQ_ROUTER : ZMQ_PULL, bind ? c->bind : c->connect,
                                  bind, "inbound", &rc);
    if (!c->in_sock) {
        return rc;
    }
    size_t len = sizeof(c->in_fd);
    if (zmq_getsockopt(c->in_sock, ZMQ_FD, &c->in_fd, &len) != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "inbound: ZMQ_FD: %s", zmq_strerror(errno));
        return OMB_EIO;
    }
    rc = c->host->fd_watch(c->self, c->in_fd, OMB_FD_READ, on_fd, c);
    if (rc == 0) {
        c->in_watched = true;
    } else {
        c->host->log(c->self, OMB_LOG_WARN,
                     "inbound: the host cannot watch the socket (error %d): reading every %d ms",
                     rc, ZMQC_TICK_MS);
    }
    rc = c->host->timer_add(c->self, ZMQC_TICK_MS, ZMQC_TICK_MS, on_tick, c, &c->tick_id);
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "inbound: cannot add a timer (error %d)", rc);
        return rc;
    }
    c->tick_armed = true;
    return 0;
}

static void unwatch(struct zmqc_ctx *c)
{
    if (c->in_watched) {
        c->host->fd_unwatch(c->self, c->in_fd);
        c->in_watched = false;
    }
    if (c->tick_armed) {
        c->host->timer_cancel(c->self, c->tick_id);
        c->tick_armed = false;
    }
    if (c->kick_armed) {
        c->host->timer_cancel(c->self, c->kick_id);
        c->kick_armed = false;
    }
}

/* Take whole messages off the socket without looking at them; how many. */
static uint64_t discard_queued(struct zmqc_ctx *c, int64_t deadline)
{
    uint64_t n = 0;
    uint64_t max = 4 * (uint64_t)c->hwm; /* a sender that never pauses must not hold us here */
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (n < max && c->host->monotonic_ms() < deadline &&
           zmq_msg_recv(&m, c->in_sock, ZMQ_DONTWAIT) >= 0) {
        if (!zmq_msg_more(&m)) {
            n++;
        }
    }
    zmq_msg_close(&m);
    return n;
}

/* ack mode, at stop: answer "retry" to the messages still queued, without emitting them. The
 * answers leave after those of the messages read before, as the acks come. How many. */
static uint64_t refuse_queued(struct zmqc_ctx *c, int64_t deadline)
{
    uint64_t n = 0;
    uint64_t max = 4 * (uint64_t)c->hwm; /* a sender that never pauses must not hold us here */
    struct frames m;
    while (n < max && c->host->monotonic_ms() < deadline && frames_recv(c->in_sock, &m)) {
        int first = route_frames(&m);
        c->received++;
        if (first > 0) {
            zmqc_ack_refuse(c, m.f, first, "omnibus is stopping: send it again later", true);
        }
        frames_close(&m);
        n++;
    }
    return n;
}

void zmqc_in_stop(struct zmqc_ctx *c)
{
    if (!c->in_sock || c->in_stopped) {
        return;
    }
    /* Finish what began: hand the router what is already queued here, waiting a little while it
     * is full. Without ack nothing is acknowledged to a ZeroMQ sender, so what is left when the
     * socket closes is lost; it is counted and logged. With ack, what is left is answered
     * "retry", and the socket stays open until destroy for the answers still to come (the host
     * runs every acknowledgement before destroy). */
    int64_t deadline = c->host->monotonic_ms() + ZMQC_STOP_DRAIN_MS;
    c->blocked = false;
    /* Bounded by the clock and by the number of rounds (each a batch or a 1 ms wait). */
    for (int i = 0; i < ZMQC_STOP_DRAIN_MS && c->host->monotonic_ms() < deadline; i++) {
        int rc = OMB_OK;
        if (drain_batch(c, &rc) && !c->pending) {
            break;
        }
        if (c->blocked) {
            if (rc != OMB_EAGAIN) {
                break; /* stopping, or an error: waiting will not help */
            }
            struct timespec ms = { 0, 1000000 };
            nanosleep(&ms, NULL);
            c->blocked = false;
        }
    }
    unwatch(c);
    c->in_stopped = true;
    if (c->ack) {
        uint64_t refused = refuse_queued(c, c->host->monotonic_ms() + ZMQC_STOP_DRAIN_MS);
        c->blocked = false;
        c->rq_full = false;
        zmqc_in_report(c);
        if (refused > 0) {
            c->host->log(c->self, OMB_LOG_INFO, "inbound: %llu message(s) queued at stop "
                         "answered \"retry\" without being emitted", (unsigned long long)refused);
        }
        goto out;
    }
    uint64_t lost = discard_queued(c, c->host->monotonic_ms() + ZMQC_STOP_DRAIN_MS);
    if (c->pending) {
        lost++;
        pending_free(c);
    }
    c->blocked = false;
    zmq_close(c->in_sock);
    c->in_sock = NULL;
    zmqc_in_report(c);
    if (lost > 0) {
        c->host->log(c->self, OMB_LOG_WARN,
                     "inbound: %llu message(s) received but not emitted before stop: lost",
                     (unsigned long long)lost);
    }
out:
    if (c->inv_suppressed > 0) {
        c->host->log(c->self, OMB_LOG_WARN, "%llu more invalid message(s) dropped (the last: %s)",
                     (unsigned long long)c->inv_suppressed, c->inv_last);
        c->inv_suppressed = 0;
    }
}

void zmqc_in_destroy(struct zmqc_ctx *c)
{
    unwatch(c);
    zmqc_ack_destroy(c); /* the answers that are known go out before the socket closes */
    if (c->in_sock) {
        zmq_close(c->in_sock);
        c->in_sock = NULL;
    }
    pending_free(c);
}
