/* omnibus public SDK: the plugin descriptor. The one header a plugin includes.
 *
 * A plugin is a .so that exports exactly one symbol, `omb_plugin_descriptor`, a const
 * struct omb_plugin_descriptor. The loader refuses a plugin whose abi_major differs from the
 * host's, whose abi_minor is newer than the host's, whose struct_size is smaller than the 1.0
 * descriptor, or whose jansson_major differs (json_t crosses the boundary).
 *
 * Lifecycle (all callbacks of one instance run on that instance's thread):
 *   create(host, self, ctx)  ctx is the plugin's ctx_size struct, zeroed, options filled in.
 *                            Allocate, keep host and self, do no I/O.
 *   validate(ctx, err, len)  optional: cross-field option rules; OMB_EINVAL with a message.
 *                            Called by `omnibusd --check` too, so no I/O here either.
 *   start(ctx)               connect, arm timers. OMB_ERETRY: the core backs off and calls again.
 *   deliver(ctx, event, res) sinks: send one event (borrowed; see omnibus/event.h). Return
 *                            OMB_OK, OMB_ERETRY (res->retry_after_ms, 0 = the core's backoff)
 *                            or OMB_EREJECT (res->reason says why). Never called before start
 *                            succeeded.
 *   stop(ctx)                stop producing: finish what began, start nothing new. deliver may
 *                            still be called after stop, until the instance's queue is drained.
 *                            Idempotent.
 *   destroy(ctx)             free everything create allocated. Always runs after a successful
 *                            create; the core then frees ctx and the option values.
 */
#ifndef OMNIBUS_PLUGIN_H
#define OMNIBUS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include <omnibus/err.h>
#include <omnibus/log.h>
#include <omnibus/event.h>
#include <omnibus/options.h>
#include <omnibus/http.h>
#include <omnibus/host.h>

#define OMB_ABI_MAJOR 1
#define OMB_ABI_MINOR 3

enum omb_plugin_kind {
    OMB_PLUGIN_CONNECTOR = 1, /* talks to an outside system */
    OMB_PLUGIN_PROCESSOR = 2  /* keeps state or transforms, inside omnibus */
};

enum omb_plugin_capability {
    OMB_CAP_SOURCE = 1u << 0, /* emits events */
    OMB_CAP_SINK = 1u << 1,   /* takes deliveries */
    OMB_CAP_SNAPSHOT = 1u << 2 /* ABI 1.3: reads back its system's values (snapshot) */
};

#define OMB_DELIVER_REASON_MAX 512

/* What a deliver() call tells the core beside its return code. */
struct omb_deliver_result {
    int64_t retry_after_ms;              /* with OMB_ERETRY: wait at least this long, 0 = core's */
    char reason[OMB_DELIVER_REASON_MAX]; /* with OMB_ERETRY/OMB_EREJECT: why, for logs and DLQ */
};

/* A delivery as raw frames (deliver_raw): all borrowed for the duration of the call. */
struct omb_raw_event {
    const char *route;    /* the route's name, NUL-terminated */
    const char *envelope; /* the envelope's compact JSON (omnibus/event.h), not NUL-terminated */
    size_t envelope_len;
    const char *body;     /* the body's JSON text, not NUL-terminated */
    size_t body_len;
};

struct omb_plugin_descriptor {
    /* ABI 1.0 header: never moves. */
    uint32_t abi_major;     /* OMB_ABI_MAJOR the plugin was built against */
    uint32_t abi_minor;     /* OMB_ABI_MINOR the plugin was built against */
    uint32_t struct_size;   /* sizeof(struct omb_plugin_descriptor) in the plugin */
    uint32_t jansson_major; /* JANSSON_MAJOR_VERSION the plugin was built against */

    const char *name;        /* the name in <connector plugin="..."> and the file NAME.so */
    const char *version;     /* the plugin's own version */
    const char *description; /* one line */
    enum omb_plugin_kind kind;
    unsigned capabilities;            /* enum omb_plugin_capability bits */
    const char *const *consumes;      /* NULL-terminated event-type patterns, or NULL */
    const char *const *produces;      /* NULL-terminated event-type patterns, or NULL */

    const struct omb_option *options; /* ends with OMB_OPTION_END; NULL = no options */
    size_t ctx_size;                  /* the size of the plugin's context struct (>= 1) */

    int (*create)(const struct omb_host_api *host, struct omb_instance *self, void *ctx);
    int (*validate)(const void *ctx, char *err, size_t errlen);
    int (*start)(void *ctx);
    int (*deliver)(void *ctx, const json_t *event, struct omb_deliver_result *res);
    int (*stop)(void *ctx);
    void (*destroy)(void *ctx);

    /* ABI 1.1, in what was the first reserved slot (a 1.0 plugin has NULL here): deliver from
     * the frames as they travel, without the host parsing them into an event. For sinks that
     * forward or merely count: it saves a parse and keeps the bytes exact. When set, the core
     * calls it instead of deliver; its results are those of deliver. */
    int (*deliver_raw)(void *ctx, const struct omb_raw_event *event,
                       struct omb_deliver_result *res);
    /* ABI 1.3, in what were the next two reserved slots (a 1.0-1.2 plugin has NULL there). */
    /* Deliver several at once, for a system with a batch endpoint. When set, the core offers
     * up to n deliveries (n >= 1: the head and those queued behind it, in order); the plugin
     * handles a prefix of them — as many as one request of its system takes — and returns how
     * many (1..n), with the outcome of each in rcs[i] (OMB_OK, OMB_ERETRY, OMB_EREJECT) and
     * res[i] (zeroed by the core). The outcomes after the first OMB_ERETRY are not looked at:
     * those deliveries are offered again, so a batch must be idempotent per item (absolute
     * values, idempotency keys): the system may see a later delivery before an earlier one
     * that is retried, and then the later one again, so its last write is the newest.
     * A negative return is OMB_ERETRY for the head, with res[0].
     * A retried head is offered alone. deliver (or deliver_raw) is still required: the core
     * calls it where a batch cannot be made (an isolated plugin's child calls deliver_batch
     * with n = 1 when the plugin has only this). */
    int (*deliver_batch)(void *ctx, const struct omb_raw_event *events, size_t n, int *rcs,
                         struct omb_deliver_result *res);
    /* Read back what the connected system holds now (drift reconciliation, the admin's
     * `snapshot`); declare OMB_CAP_SNAPSHOT. `request` (borrowed) is
     *   {"what": "stock" | "price", "skus": ["SKU", ...], "locations": ["LOC", ...]}
     * (locations: stock only, optional: all the connector maps). On 0, *result is a new object
     * (the caller's): {"items": [...], "unknown": ["SKU", ...]} with stock items
     * {"sku", "location", "available"} and price items {"sku", "price": {"amount", "currency"}}
     * (docs/events.md's money). OMB_ERETRY or OMB_EREJECT with the reason in err, as deliver.
     * Runs on the instance's thread, between deliveries. */
    int (*snapshot)(void *ctx, const json_t *request, json_t **result, char *err, size_t errlen);
    void *reserved[5]; /* zero; room for growth within ABI 1 */
};

/* Fill the ABI header of a descriptor, first in its initializer:
 *   const struct omb_plugin_descriptor omb_plugin_descriptor = { OMB_DESCRIPTOR_HEADER, ... }; */
#define OMB_DESCRIPTOR_HEADER                                                         \
    .abi_major = OMB_ABI_MAJOR, .abi_minor = OMB_ABI_MINOR,                           \
    .struct_size = (uint32_t)sizeof(struct omb_plugin_descriptor),                    \
    .jansson_major = JANSSON_MAJOR_VERSION

/* Mark the one exported symbol. Build plugins with -fvisibility=hidden or libtool's
 * -export-symbols-regex '^omb_plugin_descriptor$'. */
#define OMB_PLUGIN_EXPORT __attribute__((visibility("default")))

#endif /* OMNIBUS_PLUGIN_H */
