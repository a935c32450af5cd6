/* The null connector: a sink that counts what it is given and throws it away. For benchmarks and
 * for routes under construction. See docs/connectors/null.md. */
#include <inttypes.h>
#include <stdint.h>

#include <omnibus/plugin.h>

struct null_ctx {
    /* Options: filled by the core. */
    int64_t log_every;

    /* Runtime. */
    const struct omb_host_api *host;
    struct omb_instance *self;
    uint64_t discarded;
};

static const struct omb_option options[] = {
    { "log-every", OMB_OPT_INT, "0", 0, 0, 1000000000, NULL, offsetof(struct null_ctx, log_every),
      "log an info line with the count every this many events (0: never)" },
    OMB_OPTION_END
};

static int null_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct null_ctx *c = ctx;
    c->host = host;
    c->self = self;
    return 0;
}

static int null_start(void *ctx)
{
    return 0;
}

static int count(struct null_ctx *c)
{
    c->discarded++;
    c->host->metric_counter_add(c->self, "events_discarded", 1);
    if (c->log_every > 0 && c->discarded % (uint64_t)c->log_every == 0) {
        c->host->log(c->self, OMB_LOG_INFO, "%" PRIu64 " events discarded", c->discarded);
    }
    return OMB_OK;
}

static int null_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    return count(ctx);
}

/* ABI 1.1: the frames as they come, nothing parsed: the null sink measures the core alone. */
static int null_deliver_raw(void *ctx, const struct omb_raw_event *event,
                            struct omb_deliver_result *res)
{
    return count(ctx);
}

static int null_stop(void *ctx)
{
    return 0;
}

static void null_destroy(void *ctx)
{
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "null",
    .version = "1.0.0",
    .description = "counts and discards every event it is given (benchmarks, route drafts)",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SINK,
    .consumes = NULL,
    .produces = NULL,
    .options = options,
    .ctx_size = sizeof(struct null_ctx),
    .create = null_create,
    .validate = NULL,
    .start = null_start,
    .deliver = null_deliver,
    .deliver_raw = null_deliver_raw,
    .stop = null_stop,
    .destroy = null_destroy,
};
