/* The file connector's source: take NDJSON event files from a drop directory.
 *
 * Every `poll` the timer scans dir for complete files (matching pattern, not ".name", not
 * "*.tmp"), in name order. A file is first checked whole, line by line: if any line is not a
 * valid event it moves to error-dir with <name>.err listing every bad line, and nothing of it is
 * emitted. Otherwise it is read a second time and its events are emitted in order; on
 * backpressure the parsed event is kept and the next tick resumes with it, so no line is lost or
 * sent twice. When the last event is taken the file moves to done-dir.
 *
 * The first pass also sums the file (file.h): each event's dedupe key is the sum and its line,
 * so a file read again (after a crash, or dropped again under any name) repeats its keys, and
 * the journal drops its events as repeats within the connector's dedupe-window.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* Files emitted whose events are not all acknowledged yet, at most, before the scan waits. */
#define FILES_AWAITING_ACKS 2

/* What the tick loop does after one file: go on with the next, or stop until the next tick. */
enum step {
    STEP_NEXT = 0,
    STEP_BLOCKED = 1
};

/* ---- reading lines ------------------------------------------------------------------------ */

static void reader_close(struct file_reader *r)
{
    if (r->f) {
        fclose(r->f);
    }
    r->f = NULL;
    r->lineno = 0;
    r->hash = NULL;
}

/* The next non-blank line of r, without its line terminator: 1 with *line and *len set (the text
 * is borrowed until the next call), 0 at the end of the file, -1 on a read error (errno). */
static int reader_next(struct file_reader *r, const char **line, size_t *len)
{
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->buf, &r->cap, r->f);
        if (n < 0) {
            if (ferror(r->f)) {
                if (errno == 0) {
                    errno = EIO;
                }
                return -1;
            }
            return 0;
        }
        r->lineno++;
        unsigned char next[FILE_SUM_LEN];
        size_t sumlen = sizeof(next);
        if (r->hash && (r->hash->hmac("sha256", r->sum, sizeof(r->sum), r->buf, (size_t)n, next,
                                      &sumlen) != 0 || sumlen != sizeof(next))) {
            r->hash = NULL; /* no sum: no keys */
        }
        if (r->hash) {
            memcpy(r->sum, next, sizeof(next));
        }
        const char *s = r->buf;
        size_t l = (size_t)n;
        if (r->lineno == 1 && l >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3; /* a UTF-8 byte order mark, as some Windows tools write */
            l -= 3;
        }
        while (l > 0 && (s[l - 1] == '\n' || s[l - 1] == '\r')) {
            l--;
        }
        size_t i = 0;
        while (i < l && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) {
            i++;
        }
        if (i == l) {
            continue; /* blank */
        }
        *line = s;
        *len = l;
        return 1;
    }
}

/* Parse one line and check it as emit would. Returns a new event, or NULL with the reason in
 * why. */
static json_t *parse_line(struct file_ctx *c, const char *line, size_t len, char *why,
                          size_t whylen)
{
    json_error_t jerr;
    json_t *ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!ev) {
        snprintf(why, whylen, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        return NULL;
    }
    why[0] = '\0';
    if (c->host->event_check(ev, why, whylen) != 0) {
        if (!why[0]) {
            snprintf(why, whylen, "not a valid event");
        }
        json_decref(ev);
        return NULL;
    }
    return ev;
}

/* ---- emitting ----------------------------------------------------------------------------- */

static void resume_scan(struct file_ctx *c);

/* Move dir/name to done-dir now that its `count` events are `how` ("stored", "emitted"); one
 * that cannot be moved is skipped until it changes (its events are out: never again). */
static void move_done(struct file_ctx *c, const char *name, unsigned long count, const char *how)
{
    char *moved = NULL;
    if (file_move(c, name, c->done_path, &moved) != 0) {
        c->host->log(c->self, OMB_LOG_ERROR,
                     "%s/%s: %lu events %s, but it cannot be moved to %s: %s; skipping it until "
                     "it changes",
                     c->dir, name, count, how, c->done_path, strerror(errno));
        file_skip_add(c, name);
    } else {
        c->host->metric_counter_add(c->self, "files_done", 1);
        c->host->log(c->self, OMB_LOG_INFO, "%s/%s: %lu events %s, moved to %s", c->dir, name,
                     count, how, moved);
    }
    free(moved);
}

void file_source_file_stored(struct file_ctx *c, const char *name, unsigned long count,
                             bool failed)
{
    resume_scan(c);
    if (failed) {
        c->host->log(c->self, OMB_LOG_ERROR,
                     "%s/%s: the daemon could not store all of its %lu events; the file stays "
                     "and is read again",
                     c->dir, name, count);
        return;
    }
    move_done(c, name, count, "stored");
}

/* The current file is finished: move it to done-dir, at once or, on a host that acknowledges,
 * once every event of it is stored. */
static void finish_current(struct file_ctx *c)
{
    reader_close(&c->cur);
    if (c->cur_batch) {
        file_batch_close(c->cur_batch, false);
        c->cur_batch = NULL;
        free(c->cur_name);
        c->cur_name = NULL;
        c->cur_emitted = 0;
        return;
    }
    move_done(c, c->cur_name, c->cur_emitted, "emitted");
    free(c->cur_name);
    c->cur_name = NULL;
    c->cur_emitted = 0;
}

/* Emit the rest of the current file, then move it to done-dir. STEP_BLOCKED when the router
 * pushed back: the unsent event stays in c->pending and the next tick resumes with it. */
static int emit_current(struct file_ctx *c)
{
    uint64_t emitted = 0;
    int step = STEP_NEXT;

    for (;;) {
        if (!c->pending) {
            const char *line = NULL;
            size_t len = 0;
            char why[256];
            int rc = reader_next(&c->cur, &line, &len);
            if (rc == 0) {
                break;
            }
            if (rc < 0) {
                char *report = NULL;
                char what[512];
                int e = errno;
                snprintf(what, sizeof(what), "read error at line %lu after %lu events: %s",
                         c->cur.lineno + 1, c->cur_emitted, strerror(e));
                if (asprintf(&report, "%s:%lu: %s\n", c->cur_name, c->cur.lineno + 1, what) < 0) {
                    report = NULL;
                }
                reader_close(&c->cur);
                if (c->cur_batch) {
                    file_batch_close(c->cur_batch, true);
                    c->cur_batch = NULL;
                }
                file_reject(c, c->cur_name, what, report ? report : "");
                free(report);
                free(c->cur_name);
                c->cur_name = NULL;
                c->cur_emitted = 0;
                goto out;
            }
            c->pending = parse_line(c, line, len, why, sizeof(why));
            if (!c->pending) {
                c->host->log(c->self, OMB_LOG_ERROR,
                             "%s/%s:%lu: %s (the file changed after it was checked); line skipped",
                             c->dir, c->cur_name, c->cur.lineno, why);
                continue;
            }
            if (c->cur_sum[0] && !json_object_get(c->pending, "dedupe")) {
                char key[sizeof(c->cur_sum) + 24];
                snprintf(key, sizeof(key), "%s:%lu", c->cur_sum, c->cur.lineno);
                json_object_set_new(c->pending, "dedupe", json_string(key));
            }
        }
        int rc = c->cur_batch ? c->host->emit_acked(c->self, c->pending, file_batch_ack,
                                                    c->cur_batch)
                              : c->host->emit(c->self, c->pending);
        if (rc == 0) {
            if (c->cur_batch) {
                file_batch_emitted(c->cur_batch);
            }
            c->pending = NULL; /* stolen */
            emitted++;
            c->cur_emitted++;
            c->blocked_logged = false;
            continue;
        }
        if (rc == OMB_EINVAL) {
            c->host->log(c->self, OMB_LOG_ERROR,
                         "%s/%s:%lu: the router refused the event; line skipped", c->dir,
                         c->cur_name, c->cur.lineno);
            json_decref(c->pending);
            c->pending = NULL;
            continue;
        }
        /* OMB_EAGAIN (backpressure), OMB_ESTOPPED (the daemon is stopping) or anything else:
         * keep the event and our place; the next tick tries the same event again. */
        if (!c->blocked_logged) {
            c->host->log(c->self, rc == OMB_EAGAIN ? OMB_LOG_DEBUG : OMB_LOG_INFO,
                         "%s/%s:%lu: %s; will resume at this line", c->dir, c->cur_name,
                         c->cur.lineno,
                         rc == OMB_EAGAIN     ? "the router is busy"
                         : rc == OMB_ESTOPPED ? "the daemon is stopping"
                                              : "emit failed");
            c->blocked_logged = true;
        }
        step = STEP_BLOCKED;
        goto out;
    }
    finish_current(c);
out:
    if (emitted > 0) {
        c->host->metric_counter_add(c->self, "events_emitted", emitted);
    }
    return step;
}

/* After the first pass: the file's checksum in c->cur_sum ("" when there is none), and a log
 * line when a file with the same bytes was read before (its events will be repeats). */
static void sum_taken(struct file_ctx *c, const char *name)
{
    bool seen = false;
    c->cur_sum[0] = '\0';
    for (size_t i = 0; c->cur.hash && i < FILE_SUM_LEN; i++) {
        snprintf(c->cur_sum + 2 * i, 3, "%02x", c->cur.sum[i]);
    }
    for (size_t i = 0; c->cur.hash && i < c->nrecent && i < FILE_RECENT; i++) {
        seen = seen || memcmp(c->recent[i], c->cur.sum, FILE_SUM_LEN) == 0;
    }
    if (seen) {
        c->host->log(c->self, OMB_LOG_INFO,
                     "%s/%s: a repeat of a file read before (the same bytes, checksum %.16s...): "
                     "its events carry the same dedupe keys and are dropped as repeats within "
                     "the connector's dedupe-window", c->dir, name, c->cur_sum);
    } else if (c->cur.hash) {
        memcpy(c->recent[c->nrecent++ % FILE_RECENT], c->cur.sum, FILE_SUM_LEN);
    }
    c->cur.hash = NULL;
}

/* Check dir/name whole; if it is good, make it the current file and emit it. */
static int take_file(struct file_ctx *c, const char *name)
{
    char *path = NULL;
    char *report = NULL;
    size_t reportlen = 0;
    FILE *rep = NULL;
    FILE *f = NULL;
    int step = STEP_NEXT;
    char what[512];

    if (asprintf(&path, "%s/%s", c->dir, name) < 0) {
        path = NULL;
        step = STEP_BLOCKED;
        goto out;
    }
    f = fopen(path, "re");
    if (!f) {
        int e = errno;
        if (e == ENOENT) {
            goto out; /* gone since the scan */
        }
        if (e == EMFILE || e == ENFILE || e == ENOMEM) {
            c->host->log(c->self, OMB_LOG_WARN, "%s: %s; will try again", path, strerror(e));
            step = STEP_BLOCKED;
            goto out;
        }
        snprintf(what, sizeof(what), "cannot be read: %s", strerror(e));
        if (asprintf(&report, "%s: %s\n", name, what) < 0) {
            report = NULL;
        }
        file_reject(c, name, what, report ? report : "");
        goto out;
    }

    /* First pass: every line must be a valid event. */
    rep = open_memstream(&report, &reportlen);
    if (!rep) {
        step = STEP_BLOCKED;
        goto out;
    }
    c->cur.f = f;
    c->cur.lineno = 0;
    c->cur.hash = c->dedupe && OMB_HOST_HAS(c->host, hmac) && c->host->hmac ? c->host : NULL;
    memcpy(c->cur.sum, "omnibus file connector: dedupe 1", FILE_SUM_LEN);
    f = NULL;
    unsigned long nbad = 0;
    const char *line = NULL;
    size_t len = 0;
    char why[256];
    int rc;
    while ((rc = reader_next(&c->cur, &line, &len)) == 1) {
        json_t *ev = parse_line(c, line, len, why, sizeof(why));
        if (!ev) {
            fprintf(rep, "%s:%lu: %s\n", name, c->cur.lineno, why);
            nbad++;
        }
        json_decref(ev);
    }
    if (rc < 0) {
        int e = errno;
        fprintf(rep, "%s:%lu: read error: %s\n", name, c->cur.lineno + 1, strerror(e));
        nbad++;
    }
    if (fclose(rep) != 0) {
        rep = NULL;
        reader_close(&c->cur);
        step = STEP_BLOCKED;
        goto out;
    }
    rep = NULL;
    if (nbad > 0) {
        reader_close(&c->cur);
        snprintf(what, sizeof(what), "%lu bad line%s, nothing emitted", nbad, nbad == 1 ? "" : "s");
        file_reject(c, name, what, report);
        goto out;
    }

    /* Second pass: emit. */
    sum_taken(c, name);
    c->cur_name = strdup(name);
    if (!c->cur_name || fseeko(c->cur.f, 0, SEEK_SET) != 0 ||
        (file_acked(c) && !(c->cur_batch = file_batch_new(c, name)))) {
        free(c->cur_name);
        c->cur_name = NULL;
        reader_close(&c->cur);
        step = STEP_BLOCKED;
        goto out;
    }
    c->cur.lineno = 0;
    c->cur_emitted = 0;
    c->blocked_logged = false;
    step = emit_current(c);
out:
    if (rep) {
        fclose(rep);
    }
    if (f) {
        fclose(f);
    }
    free(report);
    free(path);
    return step;
}

/* ---- scanning ----------------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

static bool is_candidate(const struct file_ctx *c, const char *name)
{
    size_t len = strlen(name);
    if (name[0] == '.' || (len >= 4 && strcmp(name + len - 4, ".tmp") == 0)) {
        return false; /* still being written (".name.tmp", then renamed) */
    }
    return fnmatch(c->pattern, name, 0) == 0;
}

/* The names of the complete files in dir, sorted. Returns 0 with a new array of new strings, or
 * OMB_EIO (logged once) / OMB_ENOMEM. */
static int scan(struct file_ctx *c, char ***names_out, size_t *n_out)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    DIR *d = opendir(c->dir);

    *names_out = NULL;
    *n_out = 0;
    if (!d) {
        if (!c->dir_error_logged) {
            c->host->log(c->self, OMB_LOG_ERROR, "cannot list %s: %s", c->dir, strerror(errno));
            c->dir_error_logged = true;
        }
        return OMB_EIO;
    }
    if (c->dir_error_logged) {
        c->host->log(c->self, OMB_LOG_INFO, "%s can be listed again", c->dir);
        c->dir_error_logged = false;
    }
    for (size_t i = 0; i < c->nskip; i++) {
        c->skip[i].seen = false;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (!is_candidate(c, de->d_name) || fstatat(dirfd(d), de->d_name, &st, 0) != 0 ||
            !S_ISREG(st.st_mode)) {
            continue;
        }
        if (file_batch_busy(c, de->d_name)) {
            continue; /* emitted, its acknowledgements not all in yet */
        }
        struct file_skip *s = file_skip_find(c, de->d_name);
        if (s) {
            if (file_skip_same(s, &st)) {
                s->seen = true;
                continue;
            }
            file_skip_remove(c, (size_t)(s - c->skip)); /* it changed: try it again */
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **v = realloc(names, ncap * sizeof(*v));
            if (!v) {
                rc = OMB_ENOMEM;
                goto out;
            }
            names = v;
            cap = ncap;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = OMB_ENOMEM;
            goto out;
        }
        n++;
    }
    /* Forget skipped files that are gone. */
    for (size_t i = 0; i < c->nskip;) {
        if (!c->skip[i].seen) {
            file_skip_remove(c, i);
        } else {
            i++;
        }
    }
    if (n > 1) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    *names_out = names;
    *n_out = n;
    names = NULL;
    n = 0;
out:
    closedir(d);
    free_names(names, n);
    return rc;
}

static bool stopping(struct file_ctx *c)
{
    return c->stopping || c->host->stopping(c->self);
}

static void tick(void *arg)
{
    struct file_ctx *c = arg;
    char **names = NULL;
    size_t n = 0;

    if (c->cur_name && emit_current(c) == STEP_BLOCKED) {
        return;
    }
    if (stopping(c) || scan(c, &names, &n) != 0) {
        return;
    }
    for (size_t i = 0; i < n && !stopping(c); i++) {
        /* Few files between "emitted" and "stored": a crash then reads little again, and
         * the acknowledgements (tasks on this thread) get their turn to move files out. */
        if (file_batches_waiting(c) >= FILES_AWAITING_ACKS) {
            c->more_waiting = true;
            break;
        }
        if (take_file(c, names[i]) == STEP_BLOCKED) {
            break;
        }
    }
    free_names(names, n);
}

static void kick(void *arg)
{
    struct file_ctx *c = arg;
    c->kick_armed = false;
    tick(c);
}

/* A file was stored: if the scan stopped for want of acknowledgements, go on at once rather
 * than at the next poll. */
static void resume_scan(struct file_ctx *c)
{
    if (c->more_waiting && !c->kick_armed && !stopping(c) &&
        c->host->timer_add(c->self, 0, 0, kick, c, &c->kick_id) == 0) {
        c->more_waiting = false;
        c->kick_armed = true;
    }
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* mkdir -p path; 0 when it is (now) a directory, with its stat in st. */
static int make_dir(struct file_ctx *c, const char *path, struct stat *st)
{
    char *p = strdup(path);
    if (!p) {
        return OMB_ENOMEM;
    }
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            (void)mkdir(p, 0755);
            *s = '/';
        }
    }
    int rc = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        c->host->log(c->self, OMB_LOG_ERROR, "cannot create %s: %s", path, strerror(errno));
        rc = OMB_EIO;
    } else if (stat(p, st) != 0 || !S_ISDIR(st->st_mode)) {
        c->host->log(c->self, OMB_LOG_ERROR, "%s is not a directory", path);
        rc = OMB_EIO;
    }
    free(p);
    return rc;
}

int file_source_start(struct file_ctx *c)
{
    struct stat st_dir, st_done, st_error;

    if (stat(c->dir, &st_dir) != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "dir %s: %s", c->dir, strerror(errno));
        return OMB_ERETRY;
    }
    if (!S_ISDIR(st_dir.st_mode)) {
        c->host->log(c->self, OMB_LOG_ERROR, "dir %s: not a directory", c->dir);
        return OMB_ERETRY;
    }
    if (make_dir(c, c->done_path, &st_done) != 0 || make_dir(c, c->error_path, &st_error) != 0) {
        return OMB_ERETRY;
    }
    if (st_done.st_dev != st_dir.st_dev || st_error.st_dev != st_dir.st_dev) {
        c->host->log(c->self, OMB_LOG_ERROR,
                     "%s and %s must be on the same file system as %s (files are moved with "
                     "rename)",
                     c->done_path, c->error_path, c->dir);
        return OMB_EINVAL;
    }
    c->stopping = false;
    if (!c->timer_armed) {
        int rc = c->host->timer_add(c->self, 0, (uint64_t)c->poll_ms, tick, c, &c->timer_id);
        if (rc != 0) {
            c->host->log(c->self, OMB_LOG_ERROR, "cannot arm the poll timer (%d)", rc);
            return rc;
        }
        c->timer_armed = true;
    }
    return 0;
}

void file_source_stop(struct file_ctx *c)
{
    c->stopping = true;
    if (c->cur_name) {
        (void)emit_current(c); /* what is left after backpressure, the timer finishes */
    }
    if (!c->cur_name && c->timer_armed) {
        c->host->timer_cancel(c->self, c->timer_id);
        c->timer_armed = false;
    }
}

void file_source_destroy(struct file_ctx *c)
{
    if (c->timer_armed) {
        c->host->timer_cancel(c->self, c->timer_id);
        c->timer_armed = false;
    }
    if (c->kick_armed) {
        c->host->timer_cancel(c->self, c->kick_id);
        c->kick_armed = false;
    }
    if (c->cur_name) {
        c->host->log(c->self, OMB_LOG_WARN,
                     "%s/%s: stopped at line %lu after %lu events; the file stays in %s and is "
                     "read from its start next time",
                     c->dir, c->cur_name, c->cur.lineno, c->cur_emitted, c->dir);
    }
    if (c->cur_batch) {
        file_batch_close(c->cur_batch, true); /* the file stays: read from its start */
        c->cur_batch = NULL;
    }
    file_batches_free(c);
    reader_close(&c->cur);
    free(c->cur.buf);
    c->cur.buf = NULL;
    c->cur.cap = 0;
    json_decref(c->pending);
    c->pending = NULL;
    free(c->cur_name);
    c->cur_name = NULL;
    for (size_t i = 0; i < c->nskip; i++) {
        free(c->skip[i].name);
    }
    free(c->skip);
    c->skip = NULL;
    c->nskip = c->skipcap = 0;
}
