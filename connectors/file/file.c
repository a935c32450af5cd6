/* The file connector: NDJSON event files in a drop directory in (source), one JSON line per
 * delivered event out (sink). Options, validation, lifecycle and the descriptor; the work is in
 * file_source.c and file_sink.c. See docs/connectors/file.md. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/plugin.h>

#include "file.h"

static const char *const output_formats[] = { "event", "body", NULL };

static const struct omb_option options[] = {
    { "dir", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, offsetof(struct file_ctx, dir),
      "drop directory to take event files from (makes the instance a source)" },
    { "pattern", OMB_OPT_STRING, "*.ndjson", 0, 0, 0, NULL, offsetof(struct file_ctx, pattern),
      "shell glob of the file names to take from dir" },
    { "poll", OMB_OPT_DURATION, "200ms", 0, 10, 3600000, NULL, offsetof(struct file_ctx, poll_ms),
      "how often dir is scanned for new files" },
    { "done-dir", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, offsetof(struct file_ctx, done_dir),
      "where a file goes once all its events are emitted (default <dir>/done)" },
    { "error-dir", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, offsetof(struct file_ctx, error_dir),
      "where a file with bad lines goes, beside <name>.err (default <dir>/error)" },
    { "output", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, offsetof(struct file_ctx, output),
      "file to append each delivered event to as one JSON line (makes the instance a sink)" },
    { "output-format", OMB_OPT_ENUM, "event", 0, 0, 0, output_formats,
      offsetof(struct file_ctx, output_format),
      "event: the whole delivered event with its envelope and route; body: the body only" },
    { "fsync", OMB_OPT_BOOL, "false", 0, 0, 0, NULL, offsetof(struct file_ctx, fsync),
      "fdatasync the output after every event (durable, but about 2,000 events/s)" },
    { "dedupe", OMB_OPT_BOOL, "true", 0, 0, 0, NULL, offsetof(struct file_ctx, dedupe),
      "give each line the idempotency key <file checksum>:<line>, so that a file read again "
      "(after a crash) or dropped again emits nothing new within the connector's dedupe-window" },
    OMB_OPTION_END
};

int file_path_norm(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    if (outlen < 2) {
        return OMB_EINVAL;
    }
    if (in[0] == '/') {
        out[n++] = '/';
    }
    const char *p = in;
    while (*p) {
        while (*p == '/') {
            p++;
        }
        const char *s = p;
        while (*p && *p != '/') {
            p++;
        }
        size_t len = (size_t)(p - s);
        if (len == 0 || (len == 1 && s[0] == '.')) {
            continue;
        }
        size_t sep = (n > 0 && out[n - 1] != '/') ? 1 : 0;
        if (n + sep + len + 1 > outlen) {
            return OMB_EINVAL;
        }
        if (sep) {
            out[n++] = '/';
        }
        memcpy(out + n, s, len);
        n += len;
    }
    if (n == 0) {
        out[n++] = '.';
    }
    out[n] = '\0';
    return 0;
}

/* The effective done-dir or error-dir: the option, or <dir>/<sub>; normalised into out. */
static int effective_dir(const char *opt, const char *dir, const char *sub, char *out,
                         size_t outlen)
{
    char tmp[4096];
    if (opt) {
        return file_path_norm(opt, out, outlen);
    }
    int n = snprintf(tmp, sizeof(tmp), "%s/%s", dir, sub);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return OMB_EINVAL;
    }
    return file_path_norm(tmp, out, outlen);
}

static int file_validate(const void *ctx, char *err, size_t errlen)
{
    const struct file_ctx *c = ctx;
    char dir[4096], done[4096], error[4096];

    if (!c->dir && !c->output) {
        snprintf(err, errlen, "set dir (to read event files), output (to write them), or both");
        return OMB_EINVAL;
    }
    if (!c->dir) {
        if (c->done_dir || c->error_dir) {
            snprintf(err, errlen, "%s is set but dir is not",
                     c->done_dir ? "done-dir" : "error-dir");
            return OMB_EINVAL;
        }
    } else {
        if (!c->dir[0]) {
            snprintf(err, errlen, "dir is empty");
            return OMB_EINVAL;
        }
        if (!c->pattern || !c->pattern[0] || strchr(c->pattern, '/')) {
            snprintf(err, errlen, "pattern must be a non-empty file name glob without '/'");
            return OMB_EINVAL;
        }
        if ((c->done_dir && !c->done_dir[0]) || (c->error_dir && !c->error_dir[0])) {
            snprintf(err, errlen, "%s is empty",
                     c->done_dir && !c->done_dir[0] ? "done-dir" : "error-dir");
            return OMB_EINVAL;
        }
        if (file_path_norm(c->dir, dir, sizeof(dir)) != 0 ||
            effective_dir(c->done_dir, c->dir, "done", done, sizeof(done)) != 0 ||
            effective_dir(c->error_dir, c->dir, "error", error, sizeof(error)) != 0) {
            snprintf(err, errlen, "dir, done-dir or error-dir is too long");
            return OMB_EINVAL;
        }
        if (strcmp(dir, done) == 0 || strcmp(dir, error) == 0 || strcmp(done, error) == 0) {
            snprintf(err, errlen,
                     "dir (%s), done-dir (%s) and error-dir (%s) must be three different "
                     "directories",
                     dir, done, error);
            return OMB_EINVAL;
        }
    }
    if (c->output && !c->output[0]) {
        snprintf(err, errlen, "output is empty");
        return OMB_EINVAL;
    }
    if (c->output && c->dir) {
        /* An output in dir that matches pattern would be read back: a loop. */
        char out[4096];
        if (file_path_norm(c->output, out, sizeof(out)) != 0) {
            snprintf(err, errlen, "output is too long");
            return OMB_EINVAL;
        }
        char *slash = strrchr(out, '/');
        const char *base = slash ? slash + 1 : out;
        const char *parent = ".";
        if (slash == out) {
            parent = "/";
        } else if (slash) {
            *slash = '\0';
            parent = out;
        }
        if (strcmp(parent, dir) == 0 && base[0] != '.' && fnmatch(c->pattern, base, 0) == 0) {
            snprintf(err, errlen,
                     "output %s is in dir and matches pattern %s: this instance would read "
                     "back what it writes",
                     c->output, c->pattern);
            return OMB_EINVAL;
        }
    }
    return 0;
}

static int file_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct file_ctx *c = ctx;
    c->host = host;
    c->self = self;
    c->out_fd = -1;
    if (c->dir) {
        if (c->done_dir) {
            c->done_path = strdup(c->done_dir);
        } else if (asprintf(&c->done_path, "%s/done", c->dir) < 0) {
            c->done_path = NULL;
        }
        if (c->error_dir) {
            c->error_path = strdup(c->error_dir);
        } else if (asprintf(&c->error_path, "%s/error", c->dir) < 0) {
            c->error_path = NULL;
        }
        if (!c->done_path || !c->error_path) {
            free(c->done_path);
            free(c->error_path);
            c->done_path = NULL;
            c->error_path = NULL;
            return OMB_ENOMEM;
        }
    }
    return 0;
}

static int file_start(void *ctx)
{
    struct file_ctx *c = ctx;
    if (c->output) {
        file_sink_start(c);
    }
    if (c->dir) {
        return file_source_start(c);
    }
    return 0;
}

static int file_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    return file_sink_deliver(ctx, event, res);
}

static int file_stop(void *ctx)
{
    struct file_ctx *c = ctx;
    if (c->dir) {
        file_source_stop(c);
    }
    return 0;
}

static void file_destroy(void *ctx)
{
    struct file_ctx *c = ctx;
    file_source_destroy(c);
    file_sink_destroy(c);
    free(c->done_path);
    free(c->error_path);
    c->done_path = NULL;
    c->error_path = NULL;
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "file",
    .version = "1.0.0",
    .description = "NDJSON event files: a drop directory in, an append-only file out",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK,
    .consumes = NULL,
    .produces = NULL,
    .options = options,
    .ctx_size = sizeof(struct file_ctx),
    .create = file_create,
    .validate = file_validate,
    .start = file_start,
    .deliver = file_deliver,
    .stop = file_stop,
    .destroy = file_destroy,
};
