/* pos-file in (posfile.h): poll the site, take complete files one at a time, check each whole
 * (every record parsed; its SHA-256 taken), then either move it to the error directory with an
 * .err sidecar listing every bad record, or emit its records (acknowledged emits, resumable at
 * any record when the journal says OMB_EAGAIN) and, once every one is acknowledged, move it to
 * the processed directory. Each event's dedupe key is "<sha256>:<line>" (POSLog: the
 * transaction's store/workstation/day/sequence), so a file read again after a crash, or
 * delivered again, emits nothing new within the connector's dedupe-window. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "posfile.h"

#define EMIT_BUDGET 20000       /* records emitted per tick before the loop gets a turn */
#define BLOCKED_RETRY_MS 20     /* the journal said OMB_EAGAIN */
#define REPORT_MAX_LINES 10000  /* bad records listed in an .err sidecar */
#define SUM_HEX (2 * 32 + 1)

enum src_state { SRC_IDLE, SRC_EMIT, SRC_WAIT_ACKS };

/* The acknowledgements of one file's events. Freed when the file is done and every ack came. */
struct batch {
    struct pf_source *src;
    unsigned long outstanding;
    bool failed;   /* an event was not stored: the file stays to be read again */
    bool closed;   /* every record was emitted */
    bool orphaned; /* the source went first (stop during a file): just count down */
};

struct report {
    char *p;
    size_t len, cap;
    unsigned long lines, more;
};

struct pf_source {
    struct posfile_ctx *c;
    struct pf_site *site;
    uint64_t timer;
    bool armed;
    bool stopping;
    bool list_error_logged;
    enum src_state state;
    struct pf_entry *prev; /* the last listing (stable mode) */
    size_t nprev;

    /* The current file. */
    char *name;
    char *marker;          /* its marker file, to remove after it (marker mode) */
    int fd;
    struct pf_reader *reader;
    char sum[SUM_HEX];
    unsigned long records, bad, emitted;
    struct report report;
    struct batch *batch;
    json_t *pending_env;   /* a record the journal has not taken yet */
    char *pending_body;
    size_t pending_len;
};

static void tick(void *arg);

static void arm(struct pf_source *s, uint64_t delay_ms)
{
    struct posfile_ctx *c = s->c;
    if (s->armed) {
        c->host->timer_cancel(c->self, s->timer);
    }
    s->armed = c->host->timer_add(c->self, delay_ms, 0, tick, s, &s->timer) == 0;
}

/* ---- the .err report ---- */

static void report_add(struct report *r, unsigned long line, const char *reason)
{
    if (r->lines >= REPORT_MAX_LINES) {
        r->more++;
        return;
    }
    char buf[1024];
    int n = strncmp(reason, "line ", 5) == 0 || line == 0
                ? snprintf(buf, sizeof(buf), "%s\n", reason)
                : snprintf(buf, sizeof(buf), "line %lu: %s\n", line, reason);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof(buf) ? sizeof(buf) - 1 : (size_t)n;
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        while (cap < r->len + len + 1) {
            cap *= 2;
        }
        char *p = realloc(r->p, cap);
        if (!p) {
            r->more++;
            return;
        }
        r->p = p;
        r->cap = cap;
    }
    memcpy(r->p + r->len, buf, len);
    r->len += len;
    r->p[r->len] = '\0';
    r->lines++;
}

/* The sidecar's text: a header line, the bad records, a count of those not listed. New. */
static char *report_text(const struct pf_source *s, const char *verdict, size_t *len)
{
    char *t = NULL;
    int n = asprintf(&t, "# %s: %s: %lu bad record(s) of %lu (sha256 %s)\n%s%s", s->name,
                     verdict, s->bad, s->records + s->bad, s->sum,
                     s->report.p ? s->report.p : "", "");
    if (n < 0) {
        return NULL;
    }
    if (s->report.more) {
        char *t2 = NULL;
        n = asprintf(&t2, "%s... and %lu more\n", t, s->report.more);
        free(t);
        t = n < 0 ? NULL : t2;
    }
    *len = t ? strlen(t) : 0;
    return t;
}

/* ---- the current file ---- */

static void file_close(struct pf_source *s)
{
    pf_reader_close(&s->reader);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    free(s->name);
    s->name = NULL;
    free(s->marker);
    s->marker = NULL;
    free(s->report.p);
    memset(&s->report, 0, sizeof(s->report));
    json_decref(s->pending_env);
    s->pending_env = NULL;
    free(s->pending_body);
    s->pending_body = NULL;
    s->records = s->bad = s->emitted = 0;
    s->sum[0] = '\0';
    s->state = SRC_IDLE;
}

/* SHA-256 of the whole fd, in hex; leaves the offset at 0. */
static int checksum(int fd, char out[SUM_HEX], char *err, size_t errlen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char buf[65536], dig[32];
    unsigned int dlen = 0;
    ssize_t r = 0;
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : OMB_ENOMEM;
    while (rc == 0 && (r = read(fd, buf, sizeof(buf))) > 0) {
        EVP_DigestUpdate(md, buf, (size_t)r);
    }
    if (rc == 0 && r < 0) {
        snprintf(err, errlen, "read: %s", strerror(errno));
        rc = OMB_ERETRY;
    }
    if (rc == 0 && EVP_DigestFinal_ex(md, dig, &dlen) != 1) {
        rc = OMB_ENOMEM;
    }
    EVP_MD_CTX_free(md);
    for (unsigned i = 0; rc == 0 && i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", dig[i]);
    }
    if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0) {
        rc = OMB_ERETRY;
    }
    return rc;
}

/* Read every record once: count the good, report the bad. */
static int check_file(struct pf_source *s, char *err, size_t errlen)
{
    struct pf_reader *r = NULL;
    int rc = pf_reader_open(s->c->fmt, s->fd, &r, err, errlen);
    if (rc != 0) {
        return rc;
    }
    struct pf_record rec;
    for (;;) {
        rc = pf_reader_next(r, &rec);
        if (rc == 1) {
            s->records++;
            continue;
        }
        if (rc == PF_BAD) {
            unsigned long line = 0;
            const char *why = pf_reader_error(r, &line);
            s->bad++;
            report_add(&s->report, line, why ? why : "bad record");
            continue;
        }
        break;
    }
    pf_reader_close(&r);
    if (rc < 0) {
        snprintf(err, errlen, "read error");
        return OMB_ERETRY;
    }
    if (lseek(s->fd, 0, SEEK_SET) != 0) {
        return OMB_ERETRY;
    }
    return 0;
}

/* The file had bad records: send it, whole, with its report, to the error directory. */
static void reject_file(struct pf_source *s)
{
    struct posfile_ctx *c = s->c;
    char err[512] = "";
    size_t len = 0;
    char *text = report_text(s, "rejected, nothing emitted", &len);
    char *errname = NULL;
    int rc = text && asprintf(&errname, "%s.err", s->name) >= 0 ? 0 : OMB_ENOMEM;
    if (rc == 0) {
        rc = pf_site_put_bytes(s->site, c->error_dir, errname, text, len, err, sizeof(err));
    }
    if (rc == 0) {
        rc = pf_site_move(s->site, s->name, c->error_dir, err, sizeof(err));
    }
    if (rc == 0 && s->marker) {
        pf_site_remove(s->site, s->marker, err, sizeof(err));
    }
    if (rc == 0) {
        c->host->log(c->self, OMB_LOG_ERROR,
                     "%s: %lu bad record(s) of %lu; nothing emitted; moved to %s/ with %s "
                     "(first: %.200s)", s->name, s->bad, s->records + s->bad, c->error_dir,
                     errname, s->report.p ? s->report.p : "");
        c->host->metric_counter_add(c->self, "files_rejected", 1);
    } else {
        c->host->log(c->self, OMB_LOG_ERROR, "%s: %lu bad record(s), but it cannot be moved to "
                     "%s/: %s; trying again at the next poll", s->name, s->bad, c->error_dir,
                     err);
    }
    free(text);
    free(errname);
}

/* The acknowledgements are all in: move the file on (or leave it to be read again). */
static void file_stored(struct pf_source *s)
{
    struct posfile_ctx *c = s->c;
    char err[512] = "";
    if (s->batch->failed) {
        c->host->log(c->self, OMB_LOG_WARN, "%s: not every event was stored; the file stays and "
                     "is read again (its events' dedupe keys drop what was stored)", s->name);
        return;
    }
    int rc = pf_site_move(s->site, s->name, c->processed_dir, err, sizeof(err));
    if (rc == 0 && s->bad > 0) {
        size_t len = 0;
        char *text = report_text(s, "bad records skipped", &len);
        char *errname = NULL;
        if (text && asprintf(&errname, "%s.err", s->name) >= 0) {
            pf_site_put_bytes(s->site, c->processed_dir, errname, text, len, err, sizeof(err));
        }
        free(text);
        free(errname);
    }
    if (rc == 0 && s->marker) {
        pf_site_remove(s->site, s->marker, err, sizeof(err));
    }
    if (rc == 0) {
        c->host->log(c->self, OMB_LOG_INFO, "%s: %lu event(s) stored%s, moved to %s/", s->name,
                     s->emitted, s->bad ? " (bad records skipped, see its .err)" : "",
                     c->processed_dir);
        c->host->metric_counter_add(c->self, "files_processed", 1);
    } else {
        c->host->log(c->self, OMB_LOG_ERROR, "%s: %lu event(s) stored, but it cannot be moved to "
                     "%s/: %s; it will be read again (emitting nothing new)", s->name,
                     s->emitted, c->processed_dir, err);
    }
}

/* Every record emitted and every acknowledgement in: move on. */
static void batch_done(struct batch *b)
{
    struct pf_source *s = b->src;
    if (b->orphaned || !s) {
        free(b);
        return;
    }
    file_stored(s);
    s->batch = NULL;
    free(b);
    file_close(s);
    arm(s, 0);
}

static void batch_ack(void *arg, int rc)
{
    struct batch *b = arg;
    if (rc < 0) {
        b->failed = true;
    }
    b->outstanding--;
    if (b->outstanding == 0 && b->closed) {
        batch_done(b);
    }
}

/* The string value of top-level member `name` in a body the format library wrote (compact
 * JSON, so "name": is found as written; a datetime or date holds no escapes). New or NULL. */
static char *body_string(const char *body, size_t len, const char *name)
{
    char pat[160];
    int n = snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    if (n < 0 || (size_t)n >= sizeof(pat)) {
        return NULL;
    }
    const char *p = memmem(body, len, pat, (size_t)n);
    if (!p) {
        return NULL;
    }
    p += n;
    const char *end = memchr(p, '"', len - (size_t)(p - body));
    return end && !memchr(p, '\\', (size_t)(end - p)) ? strndup(p, (size_t)(end - p)) : NULL;
}

/* The envelope of a record (new): its type, key (the format library builds it from `key`),
 * time (`time-field`) and dedupe key. No parse of the body: this runs for every record. */
static json_t *envelope_of(struct pf_source *s, const struct pf_record *rec)
{
    struct posfile_ctx *c = s->c;
    json_t *env = json_object();
    if (!env) {
        return NULL;
    }
    json_object_set_new(env, "type", json_string(rec->type ? rec->type : c->type));
    if (rec->key && rec->key[0]) {
        json_object_set_new(env, "key", json_string(rec->key));
    }
    if (c->time_field && !rec->type) {
        char *t = body_string(rec->body, rec->body_len, c->time_field);
        if (t) {
            json_object_set_new(env, "time", json_string(t));
            free(t);
        }
    }
    if (c->dedupe) {
        char d[SUM_HEX + 32];
        if (rec->dedupe) {
            json_object_set_new(env, "dedupe", json_string(rec->dedupe));
        } else {
            /* 64 bits of the sum name a file well enough (a clash needs ~4e9 files in one
             * window) and keep the key short: it is stored twice per event. */
            snprintf(d, sizeof(d), "%.16s:%lu", s->sum, rec->line);
            json_object_set_new(env, "dedupe", json_string(d));
        }
    }
    return env;
}

/* Offer the pending record to the journal. 0 taken, OMB_EAGAIN (keep it), or another error. */
static int offer(struct pf_source *s)
{
    struct posfile_ctx *c = s->c;
    int rc = c->host->emit_raw_acked(c->self, s->pending_env, s->pending_body, s->pending_len,
                                     batch_ack, s->batch);
    if (rc == 0) {
        s->batch->outstanding++;
        s->emitted++;
        json_decref(s->pending_env);
        s->pending_env = NULL;
        free(s->pending_body);
        s->pending_body = NULL;
    }
    return rc;
}

/* Emit records until the budget, the end, or backpressure. */
static void emit_some(struct pf_source *s)
{
    struct posfile_ctx *c = s->c;
    for (int i = 0; i < EMIT_BUDGET; i++) {
        if (!s->pending_env) {
            struct pf_record rec;
            int rc = pf_reader_next(s->reader, &rec);
            if (rc == PF_BAD) {
                continue; /* reported by the check; only here with bad-records="skip" */
            }
            if (rc <= 0) {
                if (rc < 0) {
                    c->host->log(c->self, OMB_LOG_ERROR, "%s: read error while emitting; it is "
                                 "read again later", s->name);
                    s->batch->failed = true;
                }
                s->batch->closed = true;
                s->state = SRC_WAIT_ACKS;
                pf_reader_close(&s->reader);
                if (s->batch->outstanding == 0) {
                    batch_done(s->batch);
                }
                return;
            }
            s->pending_env = envelope_of(s, &rec);
            s->pending_body = malloc(rec.body_len + 1);
            if (!s->pending_env || !s->pending_body) {
                json_decref(s->pending_env);
                s->pending_env = NULL;
                free(s->pending_body);
                s->pending_body = NULL;
                arm(s, BLOCKED_RETRY_MS);
                return;
            }
            memcpy(s->pending_body, rec.body, rec.body_len);
            s->pending_body[rec.body_len] = '\0';
            s->pending_len = rec.body_len;
        }
        int rc = offer(s);
        if (rc == OMB_EAGAIN || rc == OMB_ENOMEM) {
            arm(s, BLOCKED_RETRY_MS);
            return;
        }
        if (rc == OMB_ESTOPPED) {
            return; /* the daemon stops: the file stays, to be read again */
        }
        if (rc != 0) {
            /* The host refused the event itself (its type or key): the file cannot go through. */
            c->host->log(c->self, OMB_LOG_ERROR, "%s: an event was refused (%d); the file is "
                         "left for a fixed configuration", s->name, rc);
            s->batch->failed = true;
            json_decref(s->pending_env);
            s->pending_env = NULL;
            free(s->pending_body);
            s->pending_body = NULL;
        }
    }
    arm(s, 0); /* more: let the loop breathe first */
}

static bool is_marker(const struct posfile_ctx *c, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; c->markers && c->markers[i]; i++) {
        size_t ml = strlen(c->markers[i]);
        if (nl > ml && strcmp(name + nl - ml, c->markers[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool in_progress(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (n > 4 && strcmp(name + n - 4, ".tmp") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".part") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".err") == 0);
}

static const struct pf_entry *find(const struct pf_entry *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, name) == 0) {
            return &v[i];
        }
    }
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct pf_entry *)a)->name, ((const struct pf_entry *)b)->name);
}

/* Pick the next complete file from a listing: its name (new) and marker (new, or NULL). */
static char *pick(struct pf_source *s, struct pf_entry *v, size_t n, char **marker)
{
    struct posfile_ctx *c = s->c;
    *marker = NULL;
    if (n > 1) {
        qsort(v, n, sizeof(*v), by_name); /* qsort(NULL, 0) is undefined */
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = v[i].name;
        if (in_progress(name) || fnmatch(c->pattern, name, 0) != 0 ||
            (c->complete == PF_COMPLETE_MARKER && is_marker(c, name))) {
            continue;
        }
        if (c->complete == PF_COMPLETE_MARKER) {
            for (size_t k = 0; c->markers && c->markers[k]; k++) {
                char *m = NULL;
                if (asprintf(&m, "%s%s", name, c->markers[k]) < 0) {
                    return NULL;
                }
                if (find(v, n, m)) {
                    *marker = m;
                    return strdup(name);
                }
                free(m);
            }
            continue;
        }
        if (c->complete == PF_COMPLETE_STABLE) {
            const struct pf_entry *p = find(s->prev, s->nprev, name);
            if (!p || p->size != v[i].size || p->mtime != v[i].mtime) {
                continue; /* new or still changing: look again at the next poll */
            }
        }
        return strdup(name);
    }
    return NULL;
}

/* Take the next complete file, if any: fetch it, check it, reject it or start emitting it.
 * Returns true when there may be more to do at once. */
static bool take_next(struct pf_source *s)
{
    struct posfile_ctx *c = s->c;
    char err[512] = "";
    struct pf_entry *v = NULL;
    size_t n = 0;
    int rc = pf_site_list(s->site, c->complete == PF_COMPLETE_STABLE, &v, &n, err, sizeof(err));
    if (rc != 0) {
        if (!s->list_error_logged) {
            c->host->log(c->self, rc == OMB_EREJECT ? OMB_LOG_ERROR : OMB_LOG_WARN,
                         "%s; trying again every poll", err);
            s->list_error_logged = true;
        }
        c->host->metric_counter_add(c->self, "poll_errors", 1);
        return false;
    }
    if (s->list_error_logged) {
        c->host->log(c->self, OMB_LOG_INFO, "%s: listing again", pf_site_name(s->site));
        s->list_error_logged = false;
    }
    char *marker = NULL;
    char *name = pick(s, v, n, &marker);
    pf_entries_free(s->prev, s->nprev);
    s->prev = v;
    s->nprev = n;
    if (!name) {
        return false;
    }
    s->name = name;
    s->marker = marker;
    rc = pf_site_fetch(s->site, name, &s->fd, err, sizeof(err));
    if (rc == 0) {
        rc = checksum(s->fd, s->sum, err, sizeof(err));
    }
    if (rc == 0) {
        rc = check_file(s, err, sizeof(err));
    }
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_WARN, "%s: %s; trying again at the next poll", name, err);
        c->host->metric_counter_add(c->self, "fetch_errors", 1);
        file_close(s);
        return false;
    }
    if (s->bad > 0 && c->bad == PF_BAD_REJECT_FILE) {
        reject_file(s);
        file_close(s);
        return true;
    }
    rc = pf_reader_open(c->fmt, s->fd, &s->reader, err, sizeof(err));
    s->batch = rc == 0 ? calloc(1, sizeof(*s->batch)) : NULL;
    if (!s->batch) {
        c->host->log(c->self, OMB_LOG_ERROR, "%s: %s", name, rc ? err : "out of memory");
        file_close(s);
        return false;
    }
    s->batch->src = s;
    s->state = SRC_EMIT;
    return true;
}

static void tick(void *arg)
{
    struct pf_source *s = arg;
    struct posfile_ctx *c = s->c;
    s->armed = false;
    if (s->state == SRC_EMIT) {
        emit_some(s);
        return;
    }
    if (s->state == SRC_WAIT_ACKS) {
        return; /* the last ack moves on */
    }
    if (s->stopping) {
        return;
    }
    if (take_next(s)) {
        arm(s, 0);
    } else {
        arm(s, (uint64_t)c->poll_ms);
    }
}

int posfile_source_start(struct posfile_ctx *c)
{
    if (!c->source) {
        return 0;
    }
    struct pf_source *s = calloc(1, sizeof(*s));
    if (!s) {
        return OMB_ENOMEM;
    }
    s->c = c;
    s->fd = -1;
    struct pf_site_options o;
    posfile_site_options(c, c->source, &o);
    char err[512];
    int rc = pf_site_open(&o, &s->site, err, sizeof(err));
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "source: %s", err);
        free(s);
        return rc;
    }
    c->src = s;
    arm(s, 0);
    return 0;
}

void posfile_source_stop(struct posfile_ctx *c)
{
    struct pf_source *s = c->src;
    if (!s) {
        return;
    }
    s->stopping = true;
    if (s->armed) {
        c->host->timer_cancel(c->self, s->timer);
        s->armed = false;
    }
}

void posfile_source_destroy(struct posfile_ctx *c)
{
    struct pf_source *s = c->src;
    if (!s) {
        return;
    }
    if (s->batch) {
        /* Stopped in the middle of a file: its acks (all in by now) need no more from us. */
        if (s->batch->outstanding == 0) {
            free(s->batch);
        } else {
            s->batch->orphaned = true;
            s->batch->src = NULL;
            s->batch->closed = true;
        }
        s->batch = NULL;
    }
    file_close(s);
    pf_entries_free(s->prev, s->nprev);
    pf_site_close(&s->site);
    free(s);
    c->src = NULL;
}
