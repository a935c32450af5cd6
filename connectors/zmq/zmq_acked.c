/* The zmq connector's `ack` mode: every message read off the ROUTER socket is answered, once.
 *
 * A valid message is emitted with emit_raw_acked (emit_acked on a host without it) and answered
 * {"ok":true,"id":ID} when the host acknowledges the journal commit, or {"ok":false,...,
 * "retry":true} when the commit failed. A message that is invalid, or that emit refuses at once
 * (backpressure, stopping), is answered {"ok":false,"error":REASON,"retry":BOOL} without waiting.
 *
 * Each message gets a small context (struct zmqc_reply) holding its routing frames (moved from the
 * request: the sender's identity, and a REQ's empty delimiter), the event's id and, once known,
 * the answer. The contexts wait in one queue in the order the messages were read, and an answer
 * leaves only from the head: replies go out in the order the messages came, whatever finished
 * first (acks come in emit order anyway; an answer known at once waits behind the acks before
 * it, a few milliseconds). While `hwm` contexts wait, reading pauses (zmq_inbound.c).
 *
 * The id: the sender's own `id` when the envelope has one (kept by the core as is), else one this
 * connector assigns, ULID-style like the core's, and sets in the envelope before emitting, so
 * that the "ok" answer can name the event. A reply that cannot be sent (the peer has gone:
 * EHOSTUNREACH with ZMQ_ROUTER_MANDATORY; or its queue is at hwm: EAGAIN) is dropped and counted.
 * Every context is freed when its answer leaves, or at destroy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <zmq.h>

#include "zmq_connector.h"

struct zmqc_reply {
    struct zmqc_reply *next;
    struct zmqc_ctx *c;
    bool done;                /* the answer is known: text (NULL when it could not be built) */
    bool ok;                  /* it says "ok" */
    char *text;               /* the answer frame, compact JSON (ours) */
    char id[ZMQC_ID_MAX + 1]; /* the event's id, for the "ok" answer */
    int nroute;
    zmq_msg_t route[]; /* the request's routing frames, in order */
};

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* A new event id, 26 characters of Crockford base32 over 48 bits of milliseconds and 80 random
 * bits, increasing within the instance (the core's format, docs/events.md). */
static void id_new(struct zmqc_ctx *c, char out[ZMQC_ID_LEN + 1])
{
    uint8_t b[16];
    int64_t now = c->host->now_ms();
    uint64_t ms = (uint64_t)(now > c->id_last_ms ? now : c->id_last_ms);
    if (now <= c->id_last_ms) {
        /* Same millisecond, or the clock stepped back: increment the random part. */
        for (int i = 9; i >= 0 && ++c->id_rand[i] == 0; i--) {
        }
    } else {
        size_t got = 0;
        while (got < sizeof(c->id_rand)) {
            ssize_t n = getrandom(c->id_rand + got, sizeof(c->id_rand) - got, 0);
            if (n <= 0) {
                /* Cannot fail for 10 bytes after boot; if it does, the clock still differs. */
                for (; got < sizeof(c->id_rand); got++) {
                    c->id_rand[got] = (uint8_t)(c->host->monotonic_ms() >> (got % 8));
                }
                break;
            }
            got += (size_t)n;
        }
        c->id_rand[0] &= 0x7f; /* headroom for increments within one millisecond */
        c->id_last_ms = now;
    }
    memcpy(b + 6, c->id_rand, sizeof(c->id_rand));
    for (int i = 5; i >= 0; i--) {
        b[i] = (uint8_t)(ms & 0xff);
        ms >>= 8;
    }
    int bit = -2; /* 26 * 5 = 130 bits: two leading zero bits, then the 128 */
    for (int i = 0; i < ZMQC_ID_LEN; i++) {
        unsigned v = 0;
        for (int j = 0; j < 5; j++, bit++) {
            v <<= 1;
            if (bit >= 0) {
                v |= (b[bit / 8] >> (7 - bit % 8)) & 1u;
            }
        }
        out[i] = crockford[v];
    }
    out[ZMQC_ID_LEN] = '\0';
}

/* A context for one message, its routing frames moved from route (left empty). NULL on ENOMEM,
 * with route untouched. */
static struct zmqc_reply *reply_new(struct zmqc_ctx *c, zmq_msg_t *route, int nroute)
{
    struct zmqc_reply *r = malloc(sizeof(*r) + (size_t)nroute * sizeof(zmq_msg_t));
    if (!r) {
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->nroute = nroute;
    for (int i = 0; i < nroute; i++) {
        zmq_msg_init(&r->route[i]);
        zmq_msg_move(&r->route[i], &route[i]);
    }
    return r;
}

static void reply_free(struct zmqc_reply *r)
{
    for (int i = 0; i < r->nroute; i++) {
        zmq_msg_close(&r->route[i]);
    }
    free(r->text);
    free(r);
}

static void enqueue(struct zmqc_ctx *c, struct zmqc_reply *r)
{
    if (c->rq_tail) {
        c->rq_tail->next = r;
    } else {
        c->rq_head = r;
    }
    c->rq_tail = r;
    c->rq_len++;
}

/* A JSON string of text; a reason cut in the middle of a UTF-8 sequence (by a bounded
 * snprintf) has its bytes beyond ASCII replaced rather than the answer lost. */
static json_t *json_reason(const char *text)
{
    json_t *s = json_string(text);
    if (s) {
        return s;
    }
    char ascii[256];
    size_t i = 0;
    for (; text[i] && i + 1 < sizeof(ascii); i++) {
        ascii[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
    }
    ascii[i] = '\0';
    return json_string(ascii);
}

/* Fix r's answer. id (may be NULL) is named in it; error and retry only when !ok. */
static void answer(struct zmqc_reply *r, bool ok, const char *id, const char *error, bool retry)
{
    json_t *o = json_object();
    if (o && json_object_set_new(o, "ok", json_boolean(ok)) == 0 &&
        (!id || json_object_set_new(o, "id", json_string(id)) == 0) &&
        (ok || (json_object_set_new(o, "error", json_reason(error)) == 0 &&
                json_object_set_new(o, "retry", json_boolean(retry)) == 0))) {
        r->text = json_dumps(o, JSON_COMPACT);
    }
    json_decref(o);
    r->ok = ok;
    r->done = true; /* without text (ENOMEM) it is dropped, counted, when its turn comes */
}

/* Send r's answer behind its routing frames, without waiting. */
static void send_reply(struct zmqc_ctx *c, struct zmqc_reply *r)
{
    const char *why = NULL;
    int e = 0;
    if (!c->in_sock) {
        why = "the socket is closed";
    } else if (!r->text) {
        why = "out of memory";
    }
    for (int i = 0; !why && i < r->nroute; i++) {
        /* With ZMQ_ROUTER_MANDATORY the first frame fails, and nothing is queued, when the peer
         * is gone or its queue is full; a message, once begun, is always completed. */
        if (zmq_msg_send(&r->route[i], c->in_sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            e = errno;
            why = e == EHOSTUNREACH ? "the peer has gone"
                  : e == EAGAIN     ? "the peer is not reading (its queue is at hwm)"
                                    : zmq_strerror(e);
        }
    }
    if (!why && zmq_send(c->in_sock, r->text, strlen(r->text), ZMQ_DONTWAIT) < 0) {
        e = errno;
        why = zmq_strerror(e);
    }
    if (why) {
        c->replies_dropped++;
        c->host->log(c->self, OMB_LOG_DEBUG, "inbound: a reply (%s, id %s) was dropped: %s",
                     r->ok ? "ok" : "error", r->id[0] ? r->id : "-", why);
        return;
    }
    if (r->ok) {
        c->replies_ok++;
    } else {
        c->replies_error++;
    }
}

/* Send the answers at the head of the queue that are known, in order, and free them. */
static void flush(struct zmqc_ctx *c)
{
    bool sent = false;
    while (c->rq_head && c->rq_head->done) {
        struct zmqc_reply *r = c->rq_head;
        c->rq_head = r->next;
        if (!c->rq_head) {
            c->rq_tail = NULL;
        }
        c->rq_len--;
        send_reply(c, r);
        reply_free(r);
        sent = true;
    }
    if (sent) {
        zmqc_in_report(c);
        zmqc_in_resume(c);
    }
}

/* The host's acknowledgement, on the instance's thread: the event is stored (rc 0) or not. */
static void on_ack(void *arg, int rc)
{
    struct zmqc_reply *r = arg;
    struct zmqc_ctx *c = r->c;
    if (rc == 0) {
        answer(r, true, r->id, NULL, false);
    } else {
        char why[128];
        snprintf(why, sizeof(why),
                 "not stored: omnibus could not commit it to its journal "
                 "(error %d): send it again",
                 rc);
        answer(r, false, r->id, why, true);
    }
    flush(c);
}

static struct zmqc_reply *take_context(struct zmqc_ctx *c, zmq_msg_t *route, int nroute)
{
    struct zmqc_reply *r = reply_new(c, route, nroute);
    if (!r) {
        c->unanswered++;
        c->host->log(c->self, OMB_LOG_ERROR,
                     "inbound: out of memory: a message is dropped "
                     "without an answer");
        return NULL;
    }
    enqueue(c, r);
    return r;
}

void zmqc_ack_take(struct zmqc_ctx *c, zmq_msg_t *route, int nroute, json_t *env, const char *body,
                   size_t body_len, const char *why)
{
    struct zmqc_reply *r = take_context(c, route, nroute);
    if (!r) {
        return;
    }
    /* The sender's own id, when it is one the core keeps: named in every answer. */
    json_t *idv = env ? json_object_get(env, "id") : NULL;
    const char *own_id = json_is_string(idv) && json_string_length(idv) <= ZMQC_ID_MAX
                             ? json_string_value(idv)
                             : NULL;
    if (why) {
        answer(r, false, own_id, why, false);
        flush(c);
        return;
    }
    if (own_id) {
        snprintf(r->id, sizeof(r->id), "%s", own_id);
    } else if (!idv) {
        id_new(c, r->id);
        if (json_object_set_new(env, "id", json_string(r->id)) != 0) {
            answer(r, false, NULL, "omnibus is out of memory: send it again later", true);
            flush(c);
            return;
        }
    } /* else an id the core refuses: emit says why */

    int rc;
    if (c->ack_raw) {
        rc = c->host->emit_raw_acked(c->self, env, body, body_len, on_ack, r);
    } else {
        json_incref(env); /* emit_acked steals a reference on success; the caller keeps its own */
        rc = c->host->emit_acked(c->self, env, on_ack, r);
        if (rc != 0) {
            json_decref(env);
        }
    }
    if (rc == 0) {
        c->emitted++;
        return; /* r is the ack's now: do not touch it (an ack may even have run already) */
    }
    char reason[256];
    switch (rc) {
    case OMB_EINVAL:
        zmqc_refusal_reason(c, env, reason, sizeof(reason));
        zmqc_invalid_note(c, reason, NULL);
        answer(r, false, own_id, reason, false);
        break;
    case OMB_EAGAIN:
        answer(r, false, own_id, "omnibus is busy (backpressure): send it again later", true);
        break;
    case OMB_ESTOPPED:
        answer(r, false, own_id, "omnibus is stopping: send it again later", true);
        break;
    default:
        snprintf(reason, sizeof(reason),
                 "omnibus could not take it (error %d): send it again "
                 "later",
                 rc);
        answer(r, false, own_id, reason, true);
    }
    flush(c);
}

void zmqc_ack_refuse(struct zmqc_ctx *c, zmq_msg_t *route, int nroute, const char *why, bool retry)
{
    struct zmqc_reply *r = take_context(c, route, nroute);
    if (r) {
        answer(r, false, NULL, why, retry);
        flush(c);
    }
}

bool zmqc_ack_full(struct zmqc_ctx *c)
{
    return c->rq_len >= (size_t)c->hwm;
}

void zmqc_ack_destroy(struct zmqc_ctx *c)
{
    uint64_t never = 0;
    while (c->rq_head) {
        struct zmqc_reply *r = c->rq_head;
        c->rq_head = r->next;
        if (r->done) {
            send_reply(c, r); /* a known answer still leaves, after those before it */
        } else {
            never++; /* its ack never came (the daemon did not stop normally) */
        }
        reply_free(r);
    }
    c->rq_tail = NULL;
    c->rq_len = 0;
    if (never > 0) {
        c->unanswered += never;
        c->host->log(c->self, OMB_LOG_WARN,
                     "inbound: %llu message(s) emitted but never "
                     "acknowledged by the host: their senders got no answer and will send them "
                     "again",
                     (unsigned long long)never);
    }
    if (c->ack) {
        zmqc_in_report(c);
    }
}
