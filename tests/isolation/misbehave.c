/* misbehave: a test sink that crashes or hangs on purpose, for the isolation test
 * (tests/isolation/isolation_test.py, docs/durability.md "Plugin isolation"). It appends each
 * event's body to `output`, one line per delivery, written before deliver() returns OK; on the
 * crash-every-th delivery of a process it aborts (or dereferences NULL) before writing, on the
 * hang-every-th it never returns. Check-only: never installed. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omnibus/plugin.h>

struct misbehave_ctx {
    char *output;
    int64_t crash_every;
    char *crash_how;
    int64_t hang_every;
    bool fail_create;
    bool state;

    const struct omb_host_api *host;
    struct omb_instance *self;
    int fd;
    int64_t seen;  /* deliveries in this process */
    int64_t count; /* deliveries in all processes, kept in the host's state (option state) */
};

static const struct omb_option options[] = {
    { "output", OMB_OPT_STRING, NULL, OMB_OPTF_REQUIRED, 0, 0, NULL,
      offsetof(struct misbehave_ctx, output), "file the bodies are appended to" },
    { "crash-every", OMB_OPT_INT, "0", 0, 0, 1000000000, NULL,
      offsetof(struct misbehave_ctx, crash_every), "crash on every Nth delivery (0: never)" },
    { "crash-how", OMB_OPT_STRING, "abort", 0, 0, 0, NULL,
      offsetof(struct misbehave_ctx, crash_how), "abort or segv" },
    { "hang-every", OMB_OPT_INT, "0", 0, 0, 1000000000, NULL,
      offsetof(struct misbehave_ctx, hang_every), "hang on every Nth delivery (0: never)" },
    { "fail-create", OMB_OPT_BOOL, "false", 0, 0, 0, NULL,
      offsetof(struct misbehave_ctx, fail_create), "create() refuses" },
    { "state", OMB_OPT_BOOL, "false", 0, 0, 0, NULL, offsetof(struct misbehave_ctx, state),
      "count deliveries in the host's state (ABI 1.3), from where the last process left it; "
      "gauge \"count\"" },
    OMB_OPTION_END
};

static int misbehave_create(const struct omb_host_api *host, struct omb_instance *self,
                            void *ctx)
{
    struct misbehave_ctx *c = ctx;
    c->host = host;
    c->self = self;
    c->fd = -1;
    return c->fail_create ? OMB_EINVAL : 0;
}

static int misbehave_start(void *ctx)
{
    struct misbehave_ctx *c = ctx;
    if (c->state) {
        json_t *v = c->host->state_get(c->self, "count");
        c->count = json_integer_value(v);
        json_decref(v);
        c->host->metric_gauge_set(c->self, "count", c->count);
    }
    c->fd = open(c->output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return c->fd < 0 ? OMB_ERETRY : 0;
}

static int misbehave_deliver_raw(void *ctx, const struct omb_raw_event *ev,
                                 struct omb_deliver_result *res)
{
    struct misbehave_ctx *c = ctx;
    c->seen++;
    if (c->crash_every > 0 && c->seen % c->crash_every == 0) {
        if (strcmp(c->crash_how, "segv") == 0) {
            volatile int *nowhere = NULL;
            *nowhere = 1;
        }
        abort();
    }
    if (c->hang_every > 0 && c->seen % c->hang_every == 0) {
        for (;;) {
            pause();
        }
    }
    char line[4096];
    if (ev->body_len + 1 > sizeof(line)) {
        return OMB_EREJECT;
    }
    memcpy(line, ev->body, ev->body_len);
    line[ev->body_len] = '\n';
    if (write(c->fd, line, ev->body_len + 1) != (ssize_t)(ev->body_len + 1)) {
        return OMB_ERETRY;
    }
    c->host->metric_counter_add(c->self, "written", 1);
    if (c->state) {
        json_t *v = json_integer(c->count + 1);
        int rc = c->host->state_put(c->self, "count", v);
        json_decref(v);
        if (rc != 0) {
            snprintf(res->reason, sizeof(res->reason), "state_put: %d", rc);
            return OMB_ERETRY;
        }
        c->count++;
        c->host->metric_gauge_set(c->self, "count", c->count);
    }
    return OMB_OK;
}

static int misbehave_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    (void)ctx;
    (void)event;
    (void)res;
    return OMB_EREJECT; /* deliver_raw is always there */
}

/* ABI 1.3 snapshot, made up but checkable: a SKU starting with X is unknown; stock is the SKU's
 * length at each location asked for (or "L1"); a price is 100 times it, in PLN. */
static int misbehave_snapshot(void *ctx, const json_t *request, json_t **result, char *err,
                              size_t errlen)
{
    (void)ctx;
    const char *what = json_string_value(json_object_get(request, "what"));
    const json_t *skus = json_object_get(request, "skus");
    const json_t *locations = json_object_get(request, "locations");
    if (!what || !json_is_array(skus)) {
        snprintf(err, errlen, "a request with no what or skus");
        return OMB_EREJECT;
    }
    json_t *items = json_array(), *unknown = json_array();
    size_t i;
    const json_t *v;
    json_array_foreach(skus, i, v) {
        const char *sku = json_string_value(v);
        json_int_t len = (json_int_t)strlen(sku);
        if (sku[0] == 'X') {
            json_array_append_new(unknown, json_string(sku));
        } else if (strcmp(what, "price") == 0) {
            json_array_append_new(items, json_pack("{s:s, s:{s:I, s:s}}", "sku", sku, "price",
                                                   "amount", len * 100, "currency", "PLN"));
        } else if (json_array_size(locations) == 0) {
            json_array_append_new(items, json_pack("{s:s, s:s, s:I}", "sku", sku, "location",
                                                   "L1", "available", len));
        } else {
            size_t k;
            const json_t *loc;
            json_array_foreach(locations, k, loc) {
                json_array_append_new(items, json_pack("{s:s, s:O, s:I}", "sku", sku,
                                                       "location", loc, "available", len));
            }
        }
    }
    *result = json_pack("{s:o, s:o}", "items", items, "unknown", unknown);
    return *result ? 0 : OMB_ENOMEM;
}

static int misbehave_stop(void *ctx)
{
    (void)ctx;
    return 0;
}

static void misbehave_destroy(void *ctx)
{
    struct misbehave_ctx *c = ctx;
    if (c->fd >= 0) {
        close(c->fd);
    }
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "misbehave",
    .version = "1.0.0",
    .description = "a test sink that crashes or hangs on purpose",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SINK | OMB_CAP_SNAPSHOT,
    .options = options,
    .ctx_size = sizeof(struct misbehave_ctx),
    .create = misbehave_create,
    .start = misbehave_start,
    .deliver = misbehave_deliver,
    .stop = misbehave_stop,
    .destroy = misbehave_destroy,
    .deliver_raw = misbehave_deliver_raw,
    .snapshot = misbehave_snapshot,
};
