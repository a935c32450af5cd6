/* example: the omnibus connector to copy when you write your own.
 *
 * It is both kinds of connector at once:
 *   - a source: every `interval` it emits a heartbeat event of type message.out carrying `text`;
 *   - a sink: it logs every event delivered to it, rejects (permanently) an event whose body lacks
 *     the field `require-field`, and asks to be retried later when more than `max-per-second`
 *     events arrive within one second, the way an HTTP API answers 429 with Retry-After.
 *
 * Walk-through: docs/plugin-sdk.md. Build out of tree: Makefile.example in this folder.
 *
 * Rules this file follows, as every plugin must:
 *   - it includes only <omnibus/plugin.h> (and the C library);
 *   - everything is static except the one exported symbol, omb_plugin_descriptor;
 *   - no global mutable state: all state lives in the per-instance context struct, so two
 *     instances of the plugin in one daemon never see each other;
 *   - every callback of one instance runs on that instance's thread, so the context needs no lock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <omnibus/plugin.h>

/* ---- 1. The context ------------------------------------------------------------------------
 *
 * The core allocates ctx_size zeroed bytes per instance, stores each option at the offset its
 * row declares, and passes the block to every callback. Options come first here by convention;
 * the option values (strings included) belong to the core: read them, never free them.
 * Everything after them is ours, zeroed before create().
 */
struct example_ctx {
    /* options */
    int64_t interval_ms;   /* OMB_OPT_DURATION: int64_t milliseconds */
    char *text;            /* OMB_OPT_STRING: char *, owned by the core */
    char *channel;
    char *require_field;
    int64_t max_per_second; /* OMB_OPT_INT: int64_t */

    /* runtime state */
    const struct omb_host_api *host; /* the services of the daemon (omnibus/host.h) */
    struct omb_instance *self;       /* who we are, passed back to every host call */
    bool timer_armed;
    uint64_t timer_id;
    uint64_t seq;    /* heartbeats emitted */
    json_t *pending; /* a heartbeat emit() did not take yet (backpressure); we own it */
    int64_t window_start_ms;
    int64_t window_count;
};

/* ---- 2. The options table ------------------------------------------------------------------
 *
 * One row per option: name, type, default (in config syntax), flags, min, max (inclusive; both 0
 * means no range), enum words, offsetof into the context, one line of documentation. The core
 * checks every <option> of the config against this table (unknown names, types, ranges,
 * required ones) before create(), and `omnibusd --plugin-doc example` prints it.
 */
static const struct omb_option options[] = {
    { "interval", OMB_OPT_DURATION, "10s", 0, 0, 86400000, NULL,
      offsetof(struct example_ctx, interval_ms),
      "how often the heartbeat is emitted; 0 turns the source off (else at least 100ms)" },
    { "text", OMB_OPT_STRING, "hello from omnibus", 0, 0, 0, NULL,
      offsetof(struct example_ctx, text), "the text of each heartbeat" },
    { "channel", OMB_OPT_STRING, "example", 0, 0, 0, NULL, offsetof(struct example_ctx, channel),
      "the channel named in each heartbeat; also its key" },
    { "require-field", OMB_OPT_STRING, "text", 0, 0, 0, NULL,
      offsetof(struct example_ctx, require_field),
      "the sink rejects an event whose body lacks this field" },
    { "max-per-second", OMB_OPT_INT, "0", 0, 0, 1000000, NULL,
      offsetof(struct example_ctx, max_per_second),
      "the sink takes at most this many events a second and asks for a retry beyond (0: any)" },
    OMB_OPTION_END
};

/* ---- 3. validate: rules that span options or that a row cannot say --------------------------
 *
 * Called after the core has checked each option on its own, and also by `omnibusd --check`, so it
 * must do no I/O: look at the values only. Return OMB_EINVAL with a message for the admin.
 */
static int example_validate(const void *ctx, char *err, size_t errlen)
{
    const struct example_ctx *c = ctx;
    if (c->interval_ms != 0 && c->interval_ms < 100) {
        snprintf(err, errlen, "interval must be 0 (off) or at least 100ms, not %" PRId64 "ms",
                 c->interval_ms);
        return OMB_EINVAL;
    }
    if (!c->require_field || !c->require_field[0]) {
        snprintf(err, errlen, "require-field must not be empty");
        return OMB_EINVAL;
    }
    return 0;
}

/* ---- 4. create: keep the host and self, allocate, do no I/O --------------------------------- */
static int example_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct example_ctx *c = ctx;
    c->host = host;
    c->self = self;
    /* Nothing to allocate here. A plugin that did would return OMB_ENOMEM on failure, and
     * destroy() would still run only if create() returned 0. */
    return 0;
}

/* ---- 5. The source: a timer callback that emits ----------------------------------------- */

/* A new heartbeat event (ownership: new, NULL when out of memory). */
static json_t *make_heartbeat(struct example_ctx *c)
{
    char seq[32];
    snprintf(seq, sizeof(seq), "%" PRIu64, c->seq + 1);
    /* The event shape is in omnibus/event.h: type and body are required; the core fills id,
     * source, received and trace. json_pack's "s" copies each string; the result is new. */
    return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:I}}",
                     "type", "message.out",
                     "key", c->channel,
                     "headers", "x-example-seq", seq,
                     "body", "channel", c->channel, "conversation", "heartbeat", "text", c->text,
                     "seq", (json_int_t)(c->seq + 1));
}

static void on_tick(void *arg)
{
    struct example_ctx *c = arg;

    /* The daemon is shutting down: start nothing new. */
    if (c->host->stopping(c->self)) {
        return;
    }
    /* Resend what the router pushed back last time before making anything new: order holds. */
    if (!c->pending) {
        c->pending = make_heartbeat(c);
        if (!c->pending) {
            c->host->log(c->self, OMB_LOG_ERROR, "out of memory building a heartbeat");
            return;
        }
    }
    /* emit() STEALS the event when it returns 0, and leaves it with us otherwise. */
    int rc = c->host->emit(c->self, c->pending);
    switch (rc) {
    case OMB_OK:
        c->pending = NULL; /* it is the router's now: never touch it again */
        c->seq++;
        c->host->metric_counter_add(c->self, "heartbeats", 1);
        break;
    case OMB_EAGAIN:   /* backpressure: keep it, the next tick tries again */
    case OMB_ESTOPPED: /* stopping: keep it; destroy() frees it */
        c->host->log(c->self, OMB_LOG_DEBUG, "heartbeat %" PRIu64 " not taken (%d), kept",
                     c->seq + 1, rc);
        break;
    default: /* OMB_EINVAL: the event is malformed, a bug in make_heartbeat. Drop it. */
        c->host->log(c->self, OMB_LOG_ERROR, "heartbeat refused (%d): dropped", rc);
        json_decref(c->pending);
        c->pending = NULL;
        break;
    }
}

/* ---- 6. start: connect, arm timers -----------------------------------------------------------
 *
 * Return OMB_ERETRY when the outside system is not there yet: the core backs off and calls start
 * again. Any other error fails the instance.
 */
static int example_start(void *ctx)
{
    struct example_ctx *c = ctx;
    if (c->interval_ms > 0 && !c->timer_armed) {
        int rc = c->host->timer_add(c->self, (uint64_t)c->interval_ms, (uint64_t)c->interval_ms,
                                    on_tick, c, &c->timer_id);
        if (rc != 0) {
            return rc;
        }
        c->timer_armed = true;
    }
    c->host->log(c->self, OMB_LOG_INFO, "started (heartbeat every %" PRId64 "ms)",
                 c->interval_ms);
    return 0;
}

/* ---- 7. The sink: deliver --------------------------------------------------------------------
 *
 * The event is BORROWED: read it, copy what you keep (json_incref or json_deep_copy), never
 * decref it. Tell the core what happened:
 *   OMB_OK       done; the core forgets the event.
 *   OMB_ERETRY   a transient failure (timeout, 5xx, 429): the core retries with backoff, waiting
 *                at least res->retry_after_ms when you set it (0: the core's own backoff).
 *   OMB_EREJECT  retrying cannot help (4xx, a mapping error): the event goes to the dead-letter
 *                queue with res->reason, where an admin can fix and replay it.
 */
static int example_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    struct example_ctx *c = ctx;
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *key = json_string_value(json_object_get(event, "key"));
    const json_t *body = json_object_get(event, "body");
    const json_t *field = json_object_get(body, c->require_field); /* NULL-safe */

    if (!field) {
        snprintf(res->reason, sizeof(res->reason), "%s event has no body field \"%s\"",
                 type ? type : "an", c->require_field);
        return OMB_EREJECT;
    }

    if (c->max_per_second > 0) {
        int64_t now = c->host->monotonic_ms();
        if (now - c->window_start_ms >= 1000 || now < c->window_start_ms) {
            c->window_start_ms = now;
            c->window_count = 0;
        }
        if (c->window_count >= c->max_per_second) {
            res->retry_after_ms = c->window_start_ms + 1000 - now;
            snprintf(res->reason, sizeof(res->reason), "more than %" PRId64 " events a second",
                     c->max_per_second);
            return OMB_ERETRY;
        }
        c->window_count++;
    }

    const char *text = json_string_value(field);
    c->host->log(c->self, OMB_LOG_INFO, "received %s key=%s %s=%s", type ? type : "?",
                 key ? key : "", c->require_field, text ? text : "(not a string)");
    c->host->metric_counter_add(c->self, "events_received", 1);
    return OMB_OK;
}

/* ---- 8. stop and destroy ---------------------------------------------------------------------
 *
 * stop: produce nothing more (deliver may still be called until the queue drains). Idempotent.
 * destroy: free what create and the callbacks allocated. The core frees ctx and the options.
 */
static int example_stop(void *ctx)
{
    struct example_ctx *c = ctx;
    if (c->timer_armed) {
        c->host->timer_cancel(c->self, c->timer_id);
        c->timer_armed = false;
    }
    return 0;
}

static void example_destroy(void *ctx)
{
    struct example_ctx *c = ctx;
    example_stop(c);
    json_decref(c->pending); /* NULL-safe */
    c->pending = NULL;
}

/* ---- 9. The descriptor: the one exported symbol ----------------------------------------------
 *
 * OMB_DESCRIPTOR_HEADER fills abi_major, abi_minor, struct_size and jansson_major from the headers
 * you compiled against; the loader compares them with its own and refuses a mismatch with a
 * message naming this file and both versions. `name` must equal the file name (example.so).
 */
static const char *const produces[] = { "message.out", NULL };

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "example",
    .version = "1.0.0",
    .description = "a heartbeat source and a logging sink, to copy when writing a connector",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK,
    .consumes = NULL, /* any type */
    .produces = produces,
    .options = options,
    .ctx_size = sizeof(struct example_ctx),
    .create = example_create,
    .validate = example_validate,
    .start = example_start,
    .deliver = example_deliver,
    .stop = example_stop,
    .destroy = example_destroy,
};
