/* A sink-only test plugin for the config tests. */
#include <stddef.h>
#include <stdint.h>

#include <omnibus/plugin.h>

struct testsink {
    char *endpoint;
    char *api_key;
    int64_t retries;
};

static const struct omb_option options[] = {
    { "endpoint", OMB_OPT_URL, NULL, OMB_OPTF_REQUIRED, 0, 0, NULL,
      offsetof(struct testsink, endpoint), "where to send" },
    { "api-key", OMB_OPT_SECRET, NULL, 0, 0, 0, NULL, offsetof(struct testsink, api_key),
      "API key" },
    { "retries", OMB_OPT_INT, "3", 0, 0, 10, NULL, offsetof(struct testsink, retries),
      "attempts before giving up" },
    OMB_OPTION_END
};

static const char *const consumes[] = { "*", NULL };

static int create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    return 0;
}

static int deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    return OMB_OK;
}

static void destroy(void *ctx)
{
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "testsink",
    .version = "0.1",
    .description = "config test sink",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SINK,
    .consumes = consumes,
    .options = options,
    .ctx_size = sizeof(struct testsink),
    .create = create,
    .deliver = deliver,
    .destroy = destroy,
};
