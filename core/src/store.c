/* The durable journal: SQLite in WAL mode with synchronous=FULL, fed by one writer thread that
 * commits pending appends in groups. Two connections: the writer's (used only by the writer
 * thread once open returns) and a reader's, under its own mutex, so reads never see an open
 * group and never wait for a commit. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <omnibus/err.h>

#define BUSY_TIMEOUT_MS 5000

/* One pending append: the struct and all its bytes in one allocation. */
struct entry {
    struct entry *next;
    omb_store_ack_fn ack;
    void *arg;
    int64_t received_us;
    const char *env; /* NULL when env_len is 0 */
    size_t env_len;
    const char *body; /* NULL when body_len is 0 */
    size_t body_len;
    const char *id; /* NULL when appended as NULL */
    const char *type;
    const char *key;
};

struct omb_store {
    sqlite3 *wdb;         /* the writer thread's */
    sqlite3_stmt *insert; /* on wdb */
    sqlite3 *rdb;         /* readers', under rmu */
    pthread_mutex_t rmu;
    size_t group_max;
    size_t pending_max;
    int64_t group_wait_us;

    pthread_mutex_t mu; /* guards the queue, stopping and last_error */
    pthread_cond_t cv;  /* signalled on append and on stop (CLOCK_MONOTONIC) */
    struct entry *head;
    struct entry *tail;
    size_t pending;
    bool stopping;
    char last_error[256];
    pthread_t writer;

    atomic_int_fast64_t last_seq;
    atomic_uint_fast64_t commits;
    atomic_uint_fast64_t events;
    atomic_uint_fast64_t largest_group;
    atomic_uint_fast64_t failures;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t now_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *copy_str(char **dst, const char *s)
{
    if (!s) {
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *p = *dst;
    memcpy(p, s, n);
    *dst += n;
    return p;
}

static const char *copy_bytes(char **dst, const char *b, size_t len)
{
    if (len == 0) {
        return NULL;
    }
    char *p = *dst;
    memcpy(p, b, len);
    *dst += len;
    return p;
}

/* ---- opening ---------------------------------------------------------------------------- */

static int exec(sqlite3 *db, const char *sql, const char *path, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return OMB_EIO;
    }
    return 0;
}

static int open_db(const char *path, sqlite3 **dbp, char *err, size_t errlen)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, dbp, flags, NULL) != SQLITE_OK) {
        set_err(err, errlen, "%s: cannot open journal: %s", path,
                *dbp ? sqlite3_errmsg(*dbp) : "out of memory");
        return OMB_EIO;
    }
    if (sqlite3_db_readonly(*dbp, "main") == 1) {
        set_err(err, errlen, "%s: journal is read-only", path);
        return OMB_EIO;
    }
    sqlite3_busy_timeout(*dbp, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(*dbp, 1);
    return 0;
}

/* Creates the schema if missing and checks its version, in one transaction. */
static int init_schema(struct omb_store *s, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = exec(s->wdb,
                  "PRAGMA journal_mode=WAL;"
                  "PRAGMA synchronous=FULL;"
                  "BEGIN IMMEDIATE;"
                  "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
                  "CREATE TABLE IF NOT EXISTS journal ("
                  " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                  " id TEXT, type TEXT, key TEXT, envelope BLOB, body BLOB,"
                  " received_us INTEGER NOT NULL);",
                  path, err, errlen);
    if (rc < 0) {
        goto out;
    }
    rc = OMB_EIO;
    if (sqlite3_prepare_v2(s->wdb, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        set_err(err, errlen, "%s: cannot read the schema version: %s", path,
                sqlite3_errmsg(s->wdb));
        goto out;
    }
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
        sqlite3_finalize(st);
        st = NULL;
        char sql[96];
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d)",
                 OMB_STORE_SCHEMA_VERSION);
        if (exec(s->wdb, sql, path, err, errlen) < 0) {
            goto out;
        }
    } else {
        int64_t v = sqlite3_column_int64(st, 0);
        if (v > OMB_STORE_SCHEMA_VERSION) {
            set_err(err, errlen,
                    "%s: journal schema version %lld is newer than this omnibus supports (%d); "
                    "use a newer omnibus or another journal file",
                    path, (long long)v, OMB_STORE_SCHEMA_VERSION);
            goto out;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(s->wdb, "SELECT coalesce(max(seq), 0) FROM journal", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        set_err(err, errlen, "%s: cannot read the journal: %s", path, sqlite3_errmsg(s->wdb));
        goto out;
    }
    atomic_store(&s->last_seq, sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    st = NULL;
    rc = exec(s->wdb, "COMMIT", path, err, errlen);
out:
    sqlite3_finalize(st);
    if (rc < 0 && !sqlite3_get_autocommit(s->wdb)) {
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

static void *writer_main(void *arg);

static void free_store(struct omb_store *s)
{
    sqlite3_finalize(s->insert);
    sqlite3_close(s->wdb);
    sqlite3_close(s->rdb);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rmu);
    free(s);
}

struct omb_store *omb_store_open(const char *path, const struct omb_store_opts *opts, char *err,
                                 size_t errlen)
{
    struct omb_store *s = NULL;
    pthread_condattr_t ca;
    set_err(err, errlen, "%s", "");
    if (!path || !*path) {
        set_err(err, errlen, "journal path is empty");
        return NULL;
    }
    /* Create it ourselves so that it is 0600 (SQLite gives -wal and -shm the same mode). */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot create or open journal: %s", path, strerror(errno));
        return NULL;
    }
    close(fd);

    s = calloc(1, sizeof(*s));
    if (!s) {
        set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    s->group_max = opts && opts->group_max ? opts->group_max : OMB_STORE_GROUP_MAX;
    s->pending_max = opts && opts->pending_max ? opts->pending_max : OMB_STORE_PENDING_MAX;
    s->group_wait_us = opts && opts->group_wait_us ? opts->group_wait_us : OMB_STORE_GROUP_WAIT_US;
    if (s->group_wait_us < 0) {
        s->group_wait_us = 0;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);

    if (open_db(path, &s->wdb, err, errlen) < 0 || init_schema(s, path, err, errlen) < 0) {
        goto fail;
    }
    if (opts && opts->max_bytes > 0) {
        char sql[96];
        int64_t pages = opts->max_bytes / 4096 > 0 ? opts->max_bytes / 4096 : 1;
        /* The page size is 4096 unless the file was made otherwise; close enough for a cap. */
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", (long long)pages);
        if (exec(s->wdb, sql, path, err, errlen) < 0) {
            goto fail;
        }
    }
    if (sqlite3_prepare_v3(s->wdb,
                           "INSERT INTO journal (id, type, key, envelope, body, received_us)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           -1, SQLITE_PREPARE_PERSISTENT, &s->insert, NULL) != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(s->wdb));
        goto fail;
    }
    if (open_db(path, &s->rdb, err, errlen) < 0) {
        goto fail;
    }
    int prc = pthread_create(&s->writer, NULL, writer_main, s);
    if (prc != 0) {
        set_err(err, errlen, "%s: cannot start the writer thread: %s", path, strerror(prc));
        goto fail;
    }
    return s;
fail:
    free_store(s);
    return NULL;
}

/* ---- appending and group commit -------------------------------------------------------- */

int omb_store_append(struct omb_store *s, const char *env, size_t env_len, const char *body,
                     size_t body_len, const char *id, const char *type, const char *key,
                     omb_store_ack_fn ack, void *arg)
{
    if (!s || !ack || (!env && env_len) || (!body && body_len)) {
        return OMB_EINVAL;
    }
    size_t ids =
        (id ? strlen(id) + 1 : 0) + (type ? strlen(type) + 1 : 0) + (key ? strlen(key) + 1 : 0);
    if (env_len > SIZE_MAX / 2 || body_len > SIZE_MAX / 2 - env_len ||
        env_len + body_len > SIZE_MAX / 2 - ids) {
        return OMB_EINVAL;
    }
    struct entry *e = malloc(sizeof(*e) + env_len + body_len + ids);
    if (!e) {
        return OMB_ENOMEM;
    }
    char *p = (char *)(e + 1);
    e->next = NULL;
    e->ack = ack;
    e->arg = arg;
    e->received_us = now_us(CLOCK_REALTIME);
    e->env = copy_bytes(&p, env, env_len);
    e->env_len = env_len;
    e->body = copy_bytes(&p, body, body_len);
    e->body_len = body_len;
    e->id = copy_str(&p, id);
    e->type = copy_str(&p, type);
    e->key = copy_str(&p, key);

    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        free(e);
        return OMB_ESTOPPED;
    }
    if (s->pending >= s->pending_max) {
        /* Memory stays bounded while the disk is slow: the caller keeps the event. */
        pthread_mutex_unlock(&s->mu);
        free(e);
        return OMB_EAGAIN;
    }
    if (s->tail) {
        s->tail->next = e;
    } else {
        s->head = e;
    }
    s->tail = e;
    s->pending++;
    /* The writer waits for the first entry, or for a group to fill. */
    if (s->pending == 1 || s->pending >= s->group_max) {
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int bind_blob(sqlite3_stmt *st, int i, const char *v, size_t len)
{
    return v ? sqlite3_bind_blob64(st, i, v, len, SQLITE_STATIC) : sqlite3_bind_zeroblob(st, i, 0);
}

static int insert_one(struct omb_store *s, const struct entry *e, int64_t *seq)
{
    sqlite3_stmt *st = s->insert;
    int rc = SQLITE_OK;
    if ((rc = bind_text(st, 1, e->id)) != SQLITE_OK ||
        (rc = bind_text(st, 2, e->type)) != SQLITE_OK ||
        (rc = bind_text(st, 3, e->key)) != SQLITE_OK ||
        (rc = bind_blob(st, 4, e->env, e->env_len)) != SQLITE_OK ||
        (rc = bind_blob(st, 5, e->body, e->body_len)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 6, e->received_us)) != SQLITE_OK) {
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
        *seq = sqlite3_last_insert_rowid(s->wdb);
    }
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Inserts the group [head, n entries) in one transaction; fills seqs. Returns an SQLite code. */
static int commit_group(struct omb_store *s, struct entry *head, int64_t *seqs)
{
    int rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    size_t i = 0;
    for (struct entry *e = head; rc == SQLITE_OK && e; e = e->next) {
        rc = insert_one(s, e, &seqs[i++]);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    }
    return rc;
}

static void run_group(struct omb_store *s, struct entry *head, size_t n, int64_t *seqs)
{
    int src = commit_group(s, head, seqs);
    int rc = 0;
    if (src == SQLITE_OK) {
        atomic_store(&s->last_seq, seqs[n - 1]);
        atomic_fetch_add(&s->commits, 1);
        atomic_fetch_add(&s->events, n);
        if (n > atomic_load(&s->largest_group)) {
            atomic_store(&s->largest_group, n); /* only this thread writes it */
        }
    } else {
        /* Nothing of the group is kept: roll back whatever the failure left open. */
        char why[sizeof(s->last_error)];
        snprintf(why, sizeof(why), "journal commit of %zu event%s failed: %s", n, n == 1 ? "" : "s",
                 sqlite3_errmsg(s->wdb));
        if (!sqlite3_get_autocommit(s->wdb)) {
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        }
        pthread_mutex_lock(&s->mu);
        memcpy(s->last_error, why, sizeof(why));
        pthread_mutex_unlock(&s->mu);
        atomic_fetch_add(&s->failures, 1);
        rc = OMB_EIO;
    }
    size_t i = 0;
    for (struct entry *e = head, *next = NULL; e; e = next, i++) {
        next = e->next;
        e->ack(e->arg, rc == 0 ? seqs[i] : 0, rc);
        free(e);
    }
}

static void *writer_main(void *arg)
{
    struct omb_store *s = arg;
    int64_t *seqs = malloc(s->group_max * sizeof(*seqs));
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        if (!s->head) {
            break; /* stopping and drained */
        }
        if (s->pending < s->group_max && !s->stopping && s->group_wait_us > 0) {
            int64_t deadline = now_us(CLOCK_MONOTONIC) + s->group_wait_us;
            struct timespec ts = {.tv_sec = deadline / 1000000,
                                  .tv_nsec = (deadline % 1000000) * 1000};
            while (s->pending < s->group_max && !s->stopping) {
                if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0) {
                    break; /* ETIMEDOUT */
                }
            }
        }
        /* Take up to group_max entries off the front. */
        struct entry *head = s->head, *last = head;
        size_t n = 1;
        while (n < s->group_max && last->next) {
            last = last->next;
            n++;
        }
        s->head = last->next;
        if (!s->head) {
            s->tail = NULL;
        }
        last->next = NULL;
        s->pending -= n;
        pthread_mutex_unlock(&s->mu);

        if (seqs) {
            run_group(s, head, n, seqs);
        } else {
            /* No memory for the seq array at start: commit one at a time instead. */
            int64_t seq = 0;
            for (struct entry *e = head, *next = NULL; e; e = next) {
                next = e->next;
                e->next = NULL;
                run_group(s, e, 1, &seq);
            }
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    free(seqs);
    return NULL;
}

void omb_store_close(struct omb_store **sp)
{
    if (!sp || !*sp) {
        return;
    }
    struct omb_store *s = *sp;
    *sp = NULL;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    free_store(s);
}

/* ---- reading and counters -------------------------------------------------------------- */

int omb_store_read(struct omb_store *s, int64_t after_seq, size_t max, omb_store_row_fn fn,
                   void *arg)
{
    if (!s || !fn) {
        return OMB_EINVAL;
    }
    sqlite3_stmt *st = NULL;
    int n = 0;
    int rc = OMB_EIO;
    pthread_mutex_lock(&s->rmu);
    if (sqlite3_prepare_v2(s->rdb,
                           "SELECT seq, id, type, key, envelope, body, received_us FROM journal"
                           " WHERE seq > ? ORDER BY seq LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, max == 0 || max > INT64_MAX ? -1 : (sqlite3_int64)max);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct omb_store_row row = {
            .seq = sqlite3_column_int64(st, 0),
            .id = (const char *)sqlite3_column_text(st, 1),
            .type = (const char *)sqlite3_column_text(st, 2),
            .key = (const char *)sqlite3_column_text(st, 3),
            .env = sqlite3_column_blob(st, 4),
            .env_len = (size_t)sqlite3_column_bytes(st, 4),
            .body = sqlite3_column_blob(st, 5),
            .body_len = (size_t)sqlite3_column_bytes(st, 5),
            .received_us = sqlite3_column_int64(st, 6),
        };
        if (row.env_len == 0) {
            row.env = NULL;
        }
        if (row.body_len == 0) {
            row.body = NULL;
        }
        if (n == INT32_MAX) {
            break;
        }
        n++;
        int frc = fn(arg, &row);
        if (frc < 0) {
            rc = frc;
            goto out;
        }
        if (frc > 0) {
            break;
        }
    }
    if (src != SQLITE_DONE && src != SQLITE_ROW) {
        goto out;
    }
    rc = n;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->rmu);
    return rc;
}

int64_t omb_store_last_seq(struct omb_store *s)
{
    return s ? atomic_load(&s->last_seq) : 0;
}

void omb_store_stats(struct omb_store *s, struct omb_store_stats *out)
{
    *out = (struct omb_store_stats){
        .commits = atomic_load(&s->commits),
        .events = atomic_load(&s->events),
        .largest_group = atomic_load(&s->largest_group),
        .failures = atomic_load(&s->failures),
    };
}

void omb_store_last_error(struct omb_store *s, char *buf, size_t len)
{
    if (!buf || len == 0) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    snprintf(buf, len, "%s", s->last_error);
    pthread_mutex_unlock(&s->mu);
}
