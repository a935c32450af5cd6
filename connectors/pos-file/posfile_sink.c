/* pos-file out (posfile.h): delivered event bodies are appended to a local spool (one JSON line
 * each, written with one write() and flushed before the delivery is acknowledged, so a crash
 * loses nothing acknowledged and leaves at most a partial last line, which is ignored). When the
 * batch is full (batch-max) or old enough (batch-wait), the spool is written out in the declared
 * format (header, records, trailer, the encoding) and put on the target atomically — under a
 * temporary name, then renamed, then the marker — and the spool is emptied. While a file cannot
 * be put (the server is down), deliveries are answered "retry", so the backlog stays in the
 * journal rather than in the spool. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "posfile.h"

#define PUT_RETRY_MIN_MS 1000
#define PUT_RETRY_MAX_MS 60000

struct pf_sink {
    struct posfile_ctx *c;
    struct pf_site *site;
    char *spool_path;      /* <spool>/pos-file-<instance>.ndjson */
    char *out_path;        /* <spool>/pos-file-<instance>.out: the formatted file being put */
    int spool_fd;
    unsigned long count;   /* records in the spool */
    bool sealed;           /* the spool is formatted and waiting to be put: deliveries wait */
    char *sealed_name;     /* the name it goes out under */
    int64_t put_delay_ms;
    char last_error[256];
    uint64_t timer;
    bool armed;
    unsigned long seq;
    struct pf_writer *check; /* a writer to /dev/null that vets each body as it comes */
    int null_fd;
};

static void flush_due(void *arg);

static void arm(struct pf_sink *k, int64_t delay_ms)
{
    struct posfile_ctx *c = k->c;
    if (k->armed) {
        c->host->timer_cancel(c->self, k->timer);
    }
    k->armed = c->host->timer_add(c->self, (uint64_t)(delay_ms > 0 ? delay_ms : 0), 0,
                                  flush_due, k, &k->timer) == 0;
}

/* The name of the next file: file-name with its placeholders filled in. New. */
static char *next_name(struct pf_sink *k)
{
    struct posfile_ctx *c = k->c;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char date[16], tod[16], seq[24];
    strftime(date, sizeof(date), "%Y%m%d", &tm);
    strftime(tod, sizeof(tod), "%H%M%S", &tm);
    snprintf(seq, sizeof(seq), "%lu", ++k->seq);
    const char *ext = strcmp(c->format, "fixed") == 0 ? "txt" : "csv";
    size_t cap = strlen(c->file_name) + 64, len = 0;
    char *out = malloc(cap);
    for (const char *p = c->file_name; out && *p;) {
        const char *val = NULL;
        size_t skip = 0;
        char both[40];
        if (strncmp(p, "{date}", 6) == 0) {
            val = date, skip = 6;
        } else if (strncmp(p, "{time}", 6) == 0) {
            val = tod, skip = 6;
        } else if (strncmp(p, "{datetime}", 10) == 0) {
            snprintf(both, sizeof(both), "%s%s", date, tod);
            val = both, skip = 10;
        } else if (strncmp(p, "{seq}", 5) == 0) {
            val = seq, skip = 5;
        } else if (strncmp(p, "{ext}", 5) == 0) {
            val = ext, skip = 5;
        }
        size_t vl = val ? strlen(val) : 1;
        if (len + vl + 1 > cap) {
            cap = (len + vl + 1) * 2;
            char *n = realloc(out, cap);
            if (!n) {
                free(out);
                return NULL;
            }
            out = n;
        }
        if (val) {
            memcpy(out + len, val, vl);
            p += skip;
        } else {
            out[len] = *p++;
        }
        len += vl;
    }
    if (out) {
        out[len] = '\0';
    }
    return out;
}

/* Format the spool into out_path: every complete line of it, through the writer. */
static int format_spool(struct pf_sink *k, char *err, size_t errlen)
{
    struct posfile_ctx *c = k->c;
    FILE *in = fopen(k->spool_path, "re");
    int out = open(k->out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    struct pf_writer *w = NULL;
    int rc = in && out >= 0 ? pf_writer_open(c->fmt, out, &w) : OMB_EIO;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long written = 0;
    while (rc == 0 && (n = getline(&line, &cap, in)) > 0) {
        if (line[n - 1] != '\n') {
            break; /* a partial last line: its delivery was never acknowledged */
        }
        json_t *body = json_loadb(line, (size_t)n, 0, NULL);
        char why[256];
        if (!body || pf_writer_put(w, body, why, sizeof(why)) != 0) {
            c->host->log(c->self, OMB_LOG_ERROR, "spool line %lu cannot be written: %s",
                         written + 1, body ? why : "not JSON");
        } else {
            written++;
        }
        json_decref(body);
    }
    free(line);
    if (w && pf_writer_close(&w, rc == 0) != 0 && rc == 0) {
        rc = OMB_EIO;
    }
    if (rc == 0 && fdatasync(out) != 0) {
        rc = OMB_EIO;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot format the spool %s into %s: %s", k->spool_path,
                 k->out_path, strerror(errno));
    }
    if (in) {
        fclose(in);
    }
    if (out >= 0) {
        close(out);
    }
    return rc;
}

/* Put the sealed file on the target; 0 when it is there (and the spool emptied). */
static int put_sealed(struct pf_sink *k)
{
    struct posfile_ctx *c = k->c;
    char err[512] = "";
    int fd = open(k->out_path, O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? OMB_EIO : pf_site_put(k->site, k->sealed_name, fd, err, sizeof(err));
    if (fd >= 0) {
        close(fd);
    } else {
        snprintf(err, sizeof(err), "cannot open %s: %s", k->out_path, strerror(errno));
    }
    if (rc == 0 && c->marker_out && c->markers && c->markers[0]) {
        char *m = NULL;
        if (asprintf(&m, "%s%s", k->sealed_name, c->markers[0]) >= 0) {
            rc = pf_site_put_bytes(k->site, NULL, m, "", 0, err, sizeof(err));
            free(m);
        }
    }
    if (rc != 0) {
        snprintf(k->last_error, sizeof(k->last_error), "%s", err);
        c->host->log(c->self, OMB_LOG_WARN, "%s: %s; trying again in %lld ms", k->sealed_name,
                     err, (long long)k->put_delay_ms);
        c->host->metric_counter_add(c->self, "put_errors", 1);
        return rc;
    }
    c->host->log(c->self, OMB_LOG_INFO, "%s: %lu record(s) written to %s", k->sealed_name,
                 k->count, pf_site_name(k->site));
    c->host->metric_counter_add(c->self, "files_written", 1);
    unlink(k->out_path);
    if (ftruncate(k->spool_fd, 0) != 0 || fdatasync(k->spool_fd) != 0) {
        /* Left as it is, the records would go out twice: better say so loudly. */
        c->host->log(c->self, OMB_LOG_ERROR, "cannot empty the spool %s: %s", k->spool_path,
                     strerror(errno));
    }
    free(k->sealed_name);
    k->sealed_name = NULL;
    k->sealed = false;
    k->count = 0;
    k->put_delay_ms = PUT_RETRY_MIN_MS;
    k->last_error[0] = '\0';
    return 0;
}

/* Seal the spool (format it under a name) and put it. */
static void flush(struct pf_sink *k)
{
    struct posfile_ctx *c = k->c;
    if (!k->sealed) {
        if (k->count == 0) {
            return;
        }
        char err[512];
        k->sealed_name = next_name(k);
        if (!k->sealed_name || format_spool(k, err, sizeof(err)) != 0) {
            c->host->log(c->self, OMB_LOG_ERROR, "%s", k->sealed_name ? err : "out of memory");
            free(k->sealed_name);
            k->sealed_name = NULL;
            arm(k, PUT_RETRY_MIN_MS);
            return;
        }
        k->sealed = true;
    }
    if (put_sealed(k) != 0) {
        arm(k, k->put_delay_ms);
        k->put_delay_ms = k->put_delay_ms * 2 > PUT_RETRY_MAX_MS ? PUT_RETRY_MAX_MS
                                                                 : k->put_delay_ms * 2;
    }
}

static void flush_due(void *arg)
{
    struct pf_sink *k = arg;
    k->armed = false;
    flush(k);
}

int posfile_sink_start(struct posfile_ctx *c)
{
    if (!c->target) {
        return 0;
    }
    struct pf_sink *k = calloc(1, sizeof(*k));
    if (!k) {
        return OMB_ENOMEM;
    }
    k->c = c;
    k->spool_fd = k->null_fd = -1;
    k->put_delay_ms = PUT_RETRY_MIN_MS;
    c->sink = k;
    struct pf_site_options o;
    posfile_site_options(c, c->target, &o);
    char err[512];
    int rc = pf_site_open(&o, &k->site, err, sizeof(err));
    const char *name = c->host->instance_name(c->self);
    if (rc == 0 && (asprintf(&k->spool_path, "%s/pos-file-%s.ndjson", o.spool, name) < 0 ||
                    asprintf(&k->out_path, "%s/pos-file-%s.out", o.spool, name) < 0)) {
        rc = OMB_ENOMEM;
    }
    if (rc == 0) {
        mkdir(o.spool, 0700);
        k->spool_fd = open(k->spool_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        k->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (k->spool_fd < 0 || k->null_fd < 0) {
            snprintf(err, sizeof(err), "cannot open the spool %s: %s", k->spool_path,
                     strerror(errno));
            rc = OMB_ERETRY;
        }
    }
    if (rc == 0 && pf_writer_open(c->fmt, k->null_fd, &k->check) != 0) {
        snprintf(err, sizeof(err), "cannot start a writer");
        rc = OMB_ENOMEM;
    }
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "target: %s", err);
        posfile_sink_destroy(c);
        return rc;
    }
    /* What a previous run spooled and acknowledged goes out first. */
    struct stat st;
    if (fstat(k->spool_fd, &st) == 0 && st.st_size > 0) {
        FILE *f = fopen(k->spool_path, "re");
        int ch;
        off_t pos = 0, complete = 0;
        while (f && (ch = fgetc(f)) != EOF) {
            pos++;
            if (ch == '\n') {
                k->count++;
                complete = pos;
            }
        }
        if (f) {
            fclose(f);
        }
        /* A partial last line was never acknowledged: it goes; its event comes again. */
        if (complete < st.st_size && ftruncate(k->spool_fd, complete) != 0) {
            c->host->log(c->self, OMB_LOG_ERROR, "cannot cut a partial line off %s: %s",
                         k->spool_path, strerror(errno));
        }
        c->host->log(c->self, OMB_LOG_INFO, "%lu record(s) spooled by the previous run go out "
                     "first", k->count);
        arm(k, 0);
    }
    return 0;
}

int posfile_sink_deliver(struct posfile_ctx *c, const struct omb_raw_event *ev,
                         struct omb_deliver_result *res)
{
    struct pf_sink *k = c->sink;
    if (!k) {
        snprintf(res->reason, sizeof(res->reason), "this connector has no target");
        return OMB_EREJECT;
    }
    if (k->sealed) {
        snprintf(res->reason, sizeof(res->reason), "waiting for %s to be written: %s",
                 k->sealed_name, k->last_error[0] ? k->last_error : "in progress");
        res->retry_after_ms = k->put_delay_ms;
        return OMB_ERETRY;
    }
    json_t *body = json_loadb(ev->body, ev->body_len, 0, NULL);
    char why[256] = "";
    if (!body || pf_writer_put(k->check, body, why, sizeof(why)) != 0) {
        snprintf(res->reason, sizeof(res->reason), "cannot be written as %s: %s", c->format,
                 body ? why : "the body is not JSON");
        json_decref(body);
        return OMB_EREJECT;
    }
    json_decref(body);
    /* One write of the whole line, then flushed: acknowledged means on disk. */
    char *line = malloc(ev->body_len + 1);
    if (!line) {
        return OMB_ERETRY;
    }
    memcpy(line, ev->body, ev->body_len);
    line[ev->body_len] = '\n';
    ssize_t w = write(k->spool_fd, line, ev->body_len + 1);
    free(line);
    if (w != (ssize_t)(ev->body_len + 1) || fdatasync(k->spool_fd) != 0) {
        snprintf(res->reason, sizeof(res->reason), "cannot write the spool %s: %s",
                 k->spool_path, strerror(errno));
        return OMB_ERETRY;
    }
    if (++k->count == 1) {
        arm(k, c->batch_wait_ms);
    }
    if ((int64_t)k->count >= c->batch_max) {
        flush(k);
    }
    return OMB_OK;
}

void posfile_sink_stop(struct posfile_ctx *c)
{
    (void)c; /* deliveries may still come until the queue is drained; destroy flushes */
}

void posfile_sink_destroy(struct posfile_ctx *c)
{
    struct pf_sink *k = c->sink;
    if (!k) {
        return;
    }
    if (k->spool_fd >= 0 && (k->count > 0 || k->sealed)) {
        flush(k); /* one try; what stays is put by the next run */
    }
    if (k->armed) {
        c->host->timer_cancel(c->self, k->timer);
    }
    if (k->check) {
        pf_writer_close(&k->check, false);
    }
    if (k->null_fd >= 0) {
        close(k->null_fd);
    }
    if (k->spool_fd >= 0) {
        close(k->spool_fd);
    }
    pf_site_close(&k->site);
    free(k->spool_path);
    free(k->out_path);
    free(k->sealed_name);
    free(k);
    c->sink = NULL;
}
