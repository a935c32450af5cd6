/* omnibus public SDK: the services the host (omnibusd) offers a plugin instance.
 *
 * The table is versioned: it starts with the ABI minor and its own size, and functions are only
 * ever appended. A plugin checks OMB_HOST_HAS(host, fn) before calling a function that arrived
 * after ABI 1.0 (http_route_add, hmac, mem_equal_ct, base64_encode, base64_decode and emit_raw
 * came with ABI 1.1; emit_acked and emit_raw_acked with ABI 1.2; state_get and state_put with
 * ABI 1.3). Every function is called on the instance's own thread (the thread that runs
 * the instance's callbacks), except now_ms/monotonic_ms, which are thread-safe.
 */
#ifndef OMNIBUS_HOST_H
#define OMNIBUS_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <jansson.h>

#include <omnibus/err.h>
#include <omnibus/http.h>
#include <omnibus/log.h>

/* An instance of a plugin, as the host knows it. Opaque to plugins. */
struct omb_instance;

/* Timer and fd callbacks run on the instance's thread. */
typedef void (*omb_timer_fn)(void *arg);
typedef void (*omb_fd_fn)(int fd, unsigned events, void *arg);

/* The outcome of an acknowledged emit, on the instance's thread: rc 0 once the event is durably
 * in the daemon's journal (only then tell the sender "done": move the file, answer the
 * request), or a negative enum omb_err (OMB_EIO) when it could not be stored: it was not
 * accepted, keep it and offer it again. */
typedef void (*omb_ack_fn)(void *arg, int rc);

enum omb_fd_event {
    OMB_FD_READ = 1u << 0,
    OMB_FD_WRITE = 1u << 1
};

#if defined(__GNUC__)
#define OMB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define OMB_PRINTF(fmt, args)
#endif

struct omb_host_api {
    uint32_t abi_minor; /* the host's OMB_ABI_MINOR */
    uint32_t size;      /* sizeof(struct omb_host_api) in the host */

    /* Log one line. The host prefixes "[connector:<plugin>:<instance>]", applies the instance's
     * level, and never shows SENSITIVE option values. */
    void (*log)(struct omb_instance *self, enum omb_log_level level, const char *fmt, ...)
        OMB_PRINTF(3, 4);

    /* Hand an event (see omnibus/event.h) to the router. Steals `event` when it returns 0;
     * otherwise the caller still owns it:
     *   OMB_EINVAL    the event is malformed (see event_check for why)
     *   OMB_EAGAIN    backpressure: try again later (from a timer), nothing was taken
     *   OMB_ESTOPPED  the daemon is stopping; keep the event for the next run */
    int (*emit)(struct omb_instance *self, json_t *event);

    /* Check an event as emit() would, without taking it. 0 or OMB_EINVAL with a reason in err. */
    int (*event_check)(const json_t *event, char *err, size_t errlen);

    /* The instance's configured name (borrowed, valid until destroy). */
    const char *(*instance_name)(struct omb_instance *self);

    /* Run fn(arg) after delay_ms, then every interval_ms if interval_ms > 0. *id_out (may be
     * NULL) receives an id for timer_cancel. */
    int (*timer_add)(struct omb_instance *self, uint64_t delay_ms, uint64_t interval_ms,
                     omb_timer_fn fn, void *arg, uint64_t *id_out);
    int (*timer_cancel)(struct omb_instance *self, uint64_t id);

    /* Call fn when fd is readable/writable (enum omb_fd_event bits). One watch per fd. */
    int (*fd_watch)(struct omb_instance *self, int fd, unsigned events, omb_fd_fn fn, void *arg);
    int (*fd_unwatch)(struct omb_instance *self, int fd);

    /* Instance metrics, reported per instance by the admin socket. `name` is copied. */
    void (*metric_counter_add)(struct omb_instance *self, const char *name, uint64_t delta);
    void (*metric_gauge_set)(struct omb_instance *self, const char *name, int64_t value);

    /* Wall clock (Unix epoch) and monotonic clock, in milliseconds. */
    int64_t (*now_ms)(void);
    int64_t (*monotonic_ms)(void);

    /* True once the daemon has begun to stop: a source should finish what it began and start
     * nothing new. */
    bool (*stopping)(struct omb_instance *self);

    /* ABI 1.0 ends here. Append new functions below, never reorder. */

    /* ---- ABI 1.1: webhook ingress and signature helpers (omnibus/http.h) ---- */

    /* Serve /hooks/<instance>/<suffix> on the daemon's HTTP listener: every request to that path
     * calls fn(arg, req, res) on this instance's thread. `suffix` is 1-128 characters of
     * [A-Za-z0-9._~-] and '/' (not first or last, no "//", no "." or ".." segment) and is
     * copied. Call it from create() or start(); the route lives until the instance stops.
     * OMB_EINVAL (bad suffix, or already registered), OMB_ENOMEM, OMB_EIO (the listener could
     * not be started). */
    int (*http_route_add)(struct omb_instance *self, const char *suffix, omb_http_fn fn,
                          void *arg);

    /* HMAC of data with key. alg: "sha256", "sha1" or "sha512". *outlen holds the size of out
     * on entry (OMB_HMAC_MAX is always enough) and the digest's length on return. 0, or
     * OMB_EINVAL (unknown alg, out too small). Thread-safe. */
    int (*hmac)(const char *alg, const void *key, size_t keylen, const void *data,
                size_t datalen, unsigned char *out, size_t *outlen);

    /* Compare len bytes in constant time (for signatures). True when equal. Thread-safe. */
    bool (*mem_equal_ct)(const void *a, const void *b, size_t len);

    /* Standard base64 (RFC 4648, with padding) of in into out, NUL-terminated: needs
     * 4 * ((len + 2) / 3) + 1 bytes. 0 or OMB_EINVAL when out is too small. Thread-safe. */
    int (*base64_encode)(const void *in, size_t len, char *out, size_t outsize);

    /* Decode standard base64 (padding optional, no white space) of inlen characters into out;
     * *outlen holds the size of out on entry (3 * inlen / 4 + 3 is enough) and the decoded
     * length on return. 0 or OMB_EINVAL (not base64, out too small). Thread-safe. */
    int (*base64_decode)(const char *in, size_t inlen, unsigned char *out, size_t *outlen);

    /* Like emit, for a source that holds the body as JSON text already (a ZeroMQ frame, an HTTP
     * body): the core forwards the bytes as they are, saving a serialisation and keeping them
     * exact. `envelope` (borrowed) holds the envelope members as for emit (type required; key,
     * time, trace, id, headers optional) and no body; `body` should be the text of a JSON
     * object. The source need not parse it: the router parses every body once, for the routes
     * that read it and to check it, and drops one that is not a JSON object there (counted as
     * an error of each route it matched, and logged). Returns as emit; nothing is taken on
     * failure. */
    int (*emit_raw)(struct omb_instance *self, const json_t *envelope, const char *body,
                    size_t body_len);

    /* ---- ABI 1.2: acknowledged emits ---- */

    /* Like emit (same returns; steals `event` on 0), and later ack(arg, rc) runs on this
     * instance's thread once the event's journal commit is done (rc 0) or failed (rc < 0).
     * Commits are grouped, so an ack comes within milliseconds and acks come in emit order.
     * Every ack runs before the instance's destroy() when the daemon stops normally (it waits
     * for every commit first). On a non-zero return, ack is never called. A webhook handler
     * need not use it: the host answers an HTTP request only once every event its handler
     * emitted is committed, and 503 when one could not be. */
    int (*emit_acked)(struct omb_instance *self, json_t *event, omb_ack_fn ack, void *arg);

    /* emit_raw with an acknowledgement, as emit_acked. */
    int (*emit_raw_acked)(struct omb_instance *self, const json_t *envelope, const char *body,
                          size_t body_len, omb_ack_fn ack, void *arg);

    /* ---- ABI 1.3: durable state ---- */
    /* The instance's own durable key-value store, kept in the daemon's store (under the
     * connector's name: renaming the connector starts it afresh). The value under key (1-200
     * bytes of text) as a new reference, or NULL when there is none (or on an error, logged). */
    json_t *(*state_get)(struct omb_instance *self, const char *key);
    /* Store value (borrowed, any JSON value; NULL deletes key) under key, and return once it
     * is committed: 0, OMB_EINVAL (bad key), OMB_EIO. Each call is one commit (about a
     * millisecond): keep a large map in a few values, not a key per item. */
    int (*state_put)(struct omb_instance *self, const char *key, const json_t *value);
    /* ABI 1.3 ends here. */
};

/* True when the host's table is large enough to hold `fn`. */
#define OMB_HOST_HAS(host, fn) \
    ((host)->size >= offsetof(struct omb_host_api, fn) + sizeof((host)->fn) && (host)->fn != NULL)

#endif /* OMNIBUS_HOST_H */
