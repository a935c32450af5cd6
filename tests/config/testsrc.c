/* A source-only test plugin with an option of every type, for the config tests. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <omnibus/plugin.h>

struct testsrc {
    char *dir;
    int64_t poll_ms;
    int64_t batch;
    bool verbose;
    int64_t max_size;
    int format;
    char *url;
    char *token;
    char **tags;
    char *old_name;
};

static const char *const formats[] = { "csv", "json", "poslog", NULL };

static const struct omb_option options[] = {
    { "dir", OMB_OPT_STRING, NULL, OMB_OPTF_REQUIRED, 0, 0, NULL, offsetof(struct testsrc, dir),
      "directory to read" },
    { "poll", OMB_OPT_DURATION, "1s", 0, 10, 3600000, NULL, offsetof(struct testsrc, poll_ms),
      "how often to look" },
    { "batch", OMB_OPT_INT, "100", 0, 1, 10000, NULL, offsetof(struct testsrc, batch),
      "events per batch" },
    { "verbose", OMB_OPT_BOOL, "false", 0, 0, 0, NULL, offsetof(struct testsrc, verbose),
      "log every file" },
    { "max-size", OMB_OPT_SIZE, "1M", 0, 0, 0, NULL, offsetof(struct testsrc, max_size),
      "largest file" },
    { "format", OMB_OPT_ENUM, "json", 0, 0, 0, formats, offsetof(struct testsrc, format),
      "file format" },
    { "url", OMB_OPT_URL, NULL, 0, 0, 0, NULL, offsetof(struct testsrc, url), "upstream" },
    { "token", OMB_OPT_SECRET, NULL, 0, 0, 0, NULL, offsetof(struct testsrc, token),
      "API token" },
    { "tags", OMB_OPT_LIST, NULL, OMB_OPTF_MULTI, 0, 0, NULL, offsetof(struct testsrc, tags),
      "tags added to each event" },
    { "old-name", OMB_OPT_STRING, NULL, OMB_OPTF_DEPRECATED, 0, 0, NULL,
      offsetof(struct testsrc, old_name), "use dir" },
    OMB_OPTION_END
};

static const char *const produces[] = { "price.set", "stock.*", NULL };

static int validate(const void *ctx, char *err, size_t errlen)
{
    const struct testsrc *t = ctx;
    if (t->format == 2 && !t->url) {
        snprintf(err, errlen, "format poslog needs option 'url'");
        return OMB_EINVAL;
    }
    return 0;
}

static int create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    return 0;
}

static void destroy(void *ctx)
{
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "testsrc",
    .version = "1.2.3",
    .description = "config test source",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE,
    .produces = produces,
    .options = options,
    .ctx_size = sizeof(struct testsrc),
    .create = create,
    .validate = validate,
    .destroy = destroy,
};
