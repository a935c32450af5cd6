/* The file connector's sink: append each delivered event to `output` as one compact JSON line.
 *
 * Each line goes out in one write(2) on an O_APPEND descriptor. If a write fails half way the
 * file is truncated back to where the line began, so a retry never leaves a broken line before a
 * good one. The output is reopened when it was moved or removed (log rotation), checked at most
 * once a second.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

#define ROTATION_CHECK_MS 1000

static void out_close(struct file_ctx *c)
{
    if (c->out_open) {
        close(c->out_fd);
    }
    c->out_open = false;
    c->out_fd = -1;
}

static int out_open(struct file_ctx *c, char *why, size_t whylen)
{
    struct stat st;
    int fd = open(c->output, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open %s: %s", c->output, strerror(errno));
        return OMB_EIO;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, whylen, "cannot stat %s: %s", c->output, strerror(errno));
        close(fd);
        return OMB_EIO;
    }
    /* A file that ends in a partial line (a crash, a failed truncate): keep our lines whole. */
    c->out_need_nl = false;
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        int rfd = open(c->output, O_RDONLY | O_CLOEXEC);
        char last = '\n';
        if (rfd >= 0) {
            if (pread(rfd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
                c->out_need_nl = true;
            }
            close(rfd);
        }
    }
    c->out_fd = fd;
    c->out_open = true;
    c->out_dev = st.st_dev;
    c->out_ino = st.st_ino;
    c->out_checked_ms = c->host->monotonic_ms();
    return 0;
}

/* Reopen the output when it was renamed or removed under us. */
static void check_rotation(struct file_ctx *c)
{
    struct stat st;
    int64_t now = c->host->monotonic_ms();
    if (now - c->out_checked_ms < ROTATION_CHECK_MS) {
        return;
    }
    c->out_checked_ms = now;
    if (stat(c->output, &st) != 0 || st.st_dev != c->out_dev || st.st_ino != c->out_ino) {
        c->host->log(c->self, OMB_LOG_INFO, "%s was moved or removed: reopening it", c->output);
        out_close(c);
    }
}

/* Write all of buf or fail; on failure the output is cut back to where it was. */
static int write_line(struct file_ctx *c, const char *buf, size_t len, char *why, size_t whylen)
{
    off_t start = lseek(c->out_fd, 0, SEEK_END);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(c->out_fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = ENOSPC;
            }
            break;
        }
        done += (size_t)n;
    }
    if (done == len) {
        return 0;
    }
    int e = errno;
    snprintf(why, whylen, "write %s: %s", c->output, strerror(e));
    if (done > 0 && (start < 0 || ftruncate(c->out_fd, start) != 0)) {
        c->host->log(c->self, OMB_LOG_WARN, "%s: a partial line is left after a failed write",
                     c->output);
    }
    out_close(c); /* reopen on the next delivery: the descriptor may be stale (EIO, ESTALE) */
    return OMB_EIO;
}

void file_sink_start(struct file_ctx *c)
{
    char why[OMB_DELIVER_REASON_MAX];
    if (!c->out_open && out_open(c, why, sizeof(why)) != 0) {
        c->host->log(c->self, OMB_LOG_WARN, "%s; deliveries will be retried", why);
    }
}

int file_sink_deliver(struct file_ctx *c, const json_t *event, struct omb_deliver_result *res)
{
    char *text = NULL;
    int rc = 0;

    if (!c->output) {
        snprintf(res->reason, sizeof(res->reason),
                 "this file instance has no output option: it is a source only");
        return OMB_EREJECT;
    }
    const json_t *what = event;
    if (c->output_format == FILE_OUTPUT_BODY) {
        what = json_object_get(event, "body");
        if (!what) {
            snprintf(res->reason, sizeof(res->reason), "the event has no body");
            return OMB_EREJECT;
        }
    }
    text = json_dumps(what, JSON_COMPACT | JSON_PRESERVE_ORDER); /* new */
    if (!text) {
        snprintf(res->reason, sizeof(res->reason), "cannot serialise the event (out of memory)");
        rc = OMB_ERETRY;
        goto out;
    }
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        rc = OMB_ERETRY;
        goto out;
    }
    text = line;
    text[len++] = '\n';
    text[len] = '\0';

    if (c->out_open) {
        check_rotation(c);
    }
    if (!c->out_open && out_open(c, res->reason, sizeof(res->reason)) != 0) {
        rc = OMB_ERETRY;
        goto out;
    }
    if (c->out_need_nl) {
        if (write_line(c, "\n", 1, res->reason, sizeof(res->reason)) != 0) {
            rc = OMB_ERETRY;
            goto out;
        }
        c->out_need_nl = false;
    }
    if (write_line(c, text, len, res->reason, sizeof(res->reason)) != 0) {
        rc = OMB_ERETRY;
        goto out;
    }
    if (c->fsync && fdatasync(c->out_fd) != 0) {
        snprintf(res->reason, sizeof(res->reason), "fdatasync %s: %s", c->output,
                 strerror(errno));
        out_close(c);
        rc = OMB_ERETRY;
        goto out;
    }
    c->host->metric_counter_add(c->self, "events_written", 1);
out:
    free(text);
    return rc;
}

void file_sink_destroy(struct file_ctx *c)
{
    out_close(c);
}
