/* misbehave: a test sink that crashes or hangs on purpose, for the isolation test
 * (tests/isolation/isolation_test.py, docs/durability.md "Plugin isolation"). It appends each
 * event's body to `output`, one line per delivery, written before deliver() returns OK; on the
 * crash-every-th delivery of a process it aborts (or dereferences NULL) before writing, on the
 * hang-every-th it never returns. Check-only: never installed. */
#include <fcntl.h>
#include <signal.h>
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

    const struct omb_host_api *host;
    struct omb_instance *self;
    int fd;
    int64_t seen; /* deliveries in this process */
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
    return OMB_OK;
}

static int misbehave_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    (void)ctx;
    (void)event;
    (void)res;
    return OMB_EREJECT; /* deliver_raw is always there */
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
    .capabilities = OMB_CAP_SINK,
    .options = options,
    .ctx_size = sizeof(struct misbehave_ctx),
    .create = misbehave_create,
    .start = misbehave_start,
    .deliver = misbehave_deliver,
    .stop = misbehave_stop,
    .destroy = misbehave_destroy,
    .deliver_raw = misbehave_deliver_raw,
};
