/* The durable journal: SQLite in WAL mode with synchronous=FULL, fed by one writer thread that
 * commits the queue in groups. Two connections: the writer's (used only by the writer thread
 * once open returns) and a reader's, under its own mutex, so reads never see an open group and
 * never wait for a commit. The queue carries appends and the other writes (store_ops.c) in one
 * order, so that a group's transaction applies them as they were asked for. */
#include "store_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omnibus/err.h>

void store_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *store_copy_str(char **dst, const char *s)
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

const char *store_copy_bytes(char **dst, const char *b, size_t len)
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
        store_set_err(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return OMB_EIO;
    }
    return 0;
}

int store_open_db(const char *path, sqlite3 **dbp, char *err, size_t errlen)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, dbp, flags, NULL) != SQLITE_OK) {
        store_set_err(err, errlen, "%s: cannot open journal: %s", path,
                      *dbp ? sqlite3_errmsg(*dbp) : "out of memory");
        return OMB_EIO;
    }
    if (sqlite3_db_readonly(*dbp, "main") == 1) {
        store_set_err(err, errlen, "%s: journal is read-only", path);
        return OMB_EIO;
    }
    sqlite3_busy_timeout(*dbp, STORE_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(*dbp, 1);
    return 0;
}

/* Creates the schema if missing and checks its version, in one transaction. */
static int init_schema(struct omb_store *s, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = exec(s->wdb,
                  "PRAGMA journal_mode=WAL;"
                  /* Small checkpoints, often: each holds the writer for less time. */
                  "PRAGMA wal_autocheckpoint=200;"
                  "PRAGMA journal_size_limit=4194304;"
                  "PRAGMA synchronous=FULL;"
                  "BEGIN IMMEDIATE;"
                  "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
                  "CREATE TABLE IF NOT EXISTS journal ("
                  " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                  " id TEXT, source TEXT, type TEXT, key TEXT, envelope BLOB, body BLOB,"
                  " received_us INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0);"
                  "CREATE TABLE IF NOT EXISTS cursors ("
                  " consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
                  "CREATE TABLE IF NOT EXISTS parked ("
                  " id INTEGER PRIMARY KEY AUTOINCREMENT, state TEXT NOT NULL,"
                  " consumer TEXT, route TEXT, seq INTEGER, event_id TEXT, type TEXT, key TEXT,"
                  " envelope BLOB, body BLOB, attempts INTEGER, first_error TEXT,"
                  " last_error TEXT, errors TEXT, first_at_us INTEGER, last_at_us INTEGER);"
                  "CREATE INDEX IF NOT EXISTS parked_consumer_state"
                  " ON parked (consumer, state, id);"
                  "CREATE TABLE IF NOT EXISTS dedupe ("
                  " source TEXT NOT NULL, key TEXT NOT NULL, at_us INTEGER NOT NULL,"
                  " until_us INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (source, key))"
                  " WITHOUT ROWID;"
                  "CREATE INDEX IF NOT EXISTS dedupe_until ON dedupe (until_us);"
                  "CREATE TABLE IF NOT EXISTS state ("
                  " owner TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
                  " PRIMARY KEY (owner, key)) WITHOUT ROWID;",
                  path, err, errlen);
    if (rc < 0) {
        goto out;
    }
    rc = OMB_EIO;
    if (sqlite3_prepare_v2(s->wdb, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        store_set_err(err, errlen, "%s: cannot read the schema version: %s", path,
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
            store_set_err(err, errlen,
                          "%s: journal schema version %lld is newer than this omnibus supports "
                          "(%d); use a newer omnibus or another journal file",
                          path, (long long)v, OMB_STORE_SCHEMA_VERSION);
            goto out;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    /* After a prune the journal may be empty while seqs go on from sqlite_sequence. */
    if (sqlite3_prepare_v2(s->wdb,
                           "SELECT max(coalesce((SELECT seq FROM sqlite_sequence"
                           " WHERE name = 'journal'), 0), coalesce((SELECT max(seq) FROM journal),"
                           " 0)), coalesce((SELECT min(seq) FROM journal), 0),"
                           " (SELECT page_size FROM pragma_page_size())",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        store_set_err(err, errlen, "%s: cannot read the journal: %s", path, sqlite3_errmsg(s->wdb));
        goto out;
    }
    atomic_store(&s->last_seq, sqlite3_column_int64(st, 0));
    atomic_store(&s->first_seq, sqlite3_column_int64(st, 1));
    s->page_size = sqlite3_column_int64(st, 2);
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

static int prepare(struct omb_store *s, sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err,
                   size_t errlen)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        store_set_err(err, errlen, "%s: %s", s->path, sqlite3_errmsg(db));
        return OMB_EIO;
    }
    return 0;
}

static void *writer_main(void *arg);

static void reserve_take(struct omb_store *s);

static void free_store(struct omb_store *s)
{
    sqlite3_stmt *sts[] = {s->insert,      s->usage,       s->set_cursor, s->add_parked,
                           s->min_cursor,  s->prune,       s->first,      s->rjournal,
                           s->dedupe_find, s->dedupe_put, s->dedupe_prune};
    for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++) {
        sqlite3_finalize(sts[i]);
    }
    sqlite3_close(s->wdb);
    sqlite3_close(s->rdb);
    if (s->reserved) {
        unlink(s->reserve_path); /* taken again at the next open */
    }
    free(s->reserve_path);
    pthread_cond_destroy(&s->done_cv);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rmu);
    pthread_mutex_destroy(&s->commit_mu);
    pthread_mutex_destroy(&s->reserve_mu);
    free(s->path);
    free(s);
}

struct omb_store *omb_store_open(const char *path, const struct omb_store_opts *opts, char *err,
                                 size_t errlen)
{
    struct omb_store *s = NULL;
    pthread_condattr_t ca;
    store_set_err(err, errlen, "%s", "");
    if (!path || !*path) {
        store_set_err(err, errlen, "journal path is empty");
        return NULL;
    }
    /* Create it ourselves so that it is 0600 (SQLite gives -wal and -shm the same mode). */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        store_set_err(err, errlen, "%s: cannot create or open journal: %s", path, strerror(errno));
        return NULL;
    }
    close(fd);
    s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        store_set_err(err, errlen, "%s: out of memory", path);
        free(s);
        return NULL;
    }
    s->group_max = opts && opts->group_max ? opts->group_max : OMB_STORE_GROUP_MAX;
    s->pending_max = opts && opts->pending_max ? opts->pending_max : OMB_STORE_PENDING_MAX;
    s->group_wait_us = opts && opts->group_wait_us ? opts->group_wait_us : OMB_STORE_GROUP_WAIT_US;
    if (s->group_wait_us < 0) {
        s->group_wait_us = 0;
    }
    int64_t prune_ms =
        opts && opts->prune_interval_ms ? opts->prune_interval_ms : STORE_PRUNE_INTERVAL_MS;
    s->prune_interval_us = prune_ms > 0 ? prune_ms * 1000 : 0;
    /* Whatever the file holds may be prunable already: the first pass need not wait for a
     * commit. */
    s->prune_owed = true;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_mutex_init(&s->commit_mu, NULL);
    pthread_mutex_init(&s->reserve_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->done_cv, NULL);

    if (store_open_db(path, &s->wdb, err, errlen) < 0 || init_schema(s, path, err, errlen) < 0) {
        goto fail;
    }
    s->capped = opts && opts->max_bytes > 0;
    if (opts && opts->max_bytes > 0) {
        char sql[96];
        int64_t pages = opts->max_bytes / 4096 > 0 ? opts->max_bytes / 4096 : 1;
        /* The page size is 4096 unless the file was made otherwise; close enough for a cap. */
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", (long long)pages);
        if (exec(s->wdb, sql, path, err, errlen) < 0) {
            goto fail;
        }
    }
    if (prepare(s, s->wdb,
                "INSERT INTO journal (id, source, type, key, envelope, body, received_us, flags)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                &s->insert, err, errlen) < 0 ||
        prepare(s, s->wdb,
                "SELECT (SELECT page_count FROM pragma_page_count())"
                " - (SELECT freelist_count FROM pragma_freelist_count())",
                &s->usage, err, errlen) < 0 ||
        store_ops_prepare(s, err, errlen) < 0 || store_dedupe_prepare(s, err, errlen) < 0) {
        goto fail;
    }
    store_refresh_usage(s);
    if (store_open_db(path, &s->rdb, err, errlen) < 0 ||
        prepare(s, s->rdb, store_journal_select, &s->rjournal, err, errlen) < 0) {
        goto fail;
    }
    if (asprintf(&s->reserve_path, "%s-reserve", path) < 0) {
        s->reserve_path = NULL;
    }
    reserve_take(s);
    int prc = pthread_create(&s->writer, NULL, writer_main, s);
    if (prc != 0) {
        store_set_err(err, errlen, "%s: cannot start the writer thread: %s", path, strerror(prc));
        goto fail;
    }
    return s;
fail:
    free_store(s);
    return NULL;
}

/* ---- the queue ---------------------------------------------------------------------------- */

static void link_tail(struct omb_store *s, struct entry *e)
{
    e->next = NULL;
    if (s->tail) {
        s->tail->next = e;
    } else {
        s->head = e;
    }
    s->tail = e;
    s->queued++;
}

int store_queue(struct omb_store *s, struct entry *e)
{
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        free(e);
        return OMB_ESTOPPED;
    }
    if (e->op == OP_APPEND) {
        if (s->pending >= s->pending_max) {
            /* Memory stays bounded while the disk is slow: the caller keeps the event. */
            pthread_mutex_unlock(&s->mu);
            free(e);
            return OMB_EAGAIN;
        }
        s->pending++;
    } else if (e->op == OP_CURSOR_SET) {
        struct entry **pp = &s->cursor_sets;
        while (*pp && strcmp((*pp)->cur.consumer, e->cur.consumer) != 0) {
            pp = &(*pp)->cur.cnext;
        }
        /* Overwriting moves the new value up the queue: only past appends (whose seqs the
         * consumer cannot have read yet), never past a parked add or a sync operation. */
        if (*pp && (*pp)->cur.barrier == s->barrier) {
            (*pp)->cur.seq = e->cur.seq;
            pthread_mutex_unlock(&s->mu);
            free(e);
            return 0;
        }
        e->cur.barrier = s->barrier;
        e->cur.cnext = *pp ? (*pp)->cur.cnext : NULL;
        if (*pp) {
            *pp = e; /* the older one stays queued but is closed to coalescing */
        } else {
            e->cur.cnext = s->cursor_sets;
            s->cursor_sets = e;
        }
    } else {
        s->barrier++;
    }
    link_tail(s, e);
    /* The writer waits for the first entry, or for a group to fill. */
    if (s->queued == 1 || s->queued >= s->group_max) {
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int store_queue_sync(struct omb_store *s, struct sync_op *op)
{
    if (pthread_equal(pthread_self(), s->writer)) {
        return OMB_EINVAL;
    }
    op->e = (struct entry){.op = OP_SYNC, .sync = op};
    op->rc = 0;
    op->done = false;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return OMB_ESTOPPED;
    }
    s->barrier++;
    s->syncs++;
    link_tail(s, &op->e);
    pthread_cond_signal(&s->cv); /* also cuts a group wait short */
    while (!op->done) {
        pthread_cond_wait(&s->done_cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return op->rc;
}

/* ---- the reserve: space kept back for getting out of a full disk ------------------------- */

/* A full disk can leave SQLite unable to do anything that would free space: a checkpoint must
 * grow the database file, a delete must grow the WAL. So the store keeps a reserve file of
 * STORE_RESERVE_BYTES beside the journal and gives it up when a commit fails for a full disk;
 * it is taken again once the prune has made room. */
static void reserve_take(struct omb_store *s)
{
    pthread_mutex_lock(&s->reserve_mu);
    if (s->reserved || !s->reserve_path) {
        pthread_mutex_unlock(&s->reserve_mu);
        return;
    }
    int fd = open(s->reserve_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return;
    }
    int rc = posix_fallocate(fd, 0, STORE_RESERVE_BYTES);
    close(fd);
    if (rc == 0) {
        s->reserved = true;
        atomic_store(&s->disk_full, false);
    } else {
        unlink(s->reserve_path); /* no room for it yet: try again after the next prune */
    }
    pthread_mutex_unlock(&s->reserve_mu);
}

static void reserve_give_up(struct omb_store *s)
{
    pthread_mutex_lock(&s->reserve_mu);
    if (s->reserved) {
        unlink(s->reserve_path);
        s->reserved = false;
        /* The reserve is for getting out, not for more events: appends wait until it is back. */
        atomic_store(&s->disk_full, true);
    }
    pthread_mutex_unlock(&s->reserve_mu);
}

void store_reserve_retake(struct omb_store *s)
{
    reserve_take(s);
}

/* ---- appending and group commit -------------------------------------------------------- */

int omb_store_append(struct omb_store *s, const char *env, size_t env_len, const char *body,
                     size_t body_len, const char *id, const char *source, const char *type,
                     const char *key, unsigned flags, omb_store_ack_fn ack, void *arg)
{
    const struct omb_store_event ev = {
        .env = env, .env_len = env_len, .body = body, .body_len = body_len, .id = id,
        .source = source, .type = type, .key = key, .flags = flags};
    return omb_store_append_event(s, &ev, ack, arg);
}

int omb_store_append_event(struct omb_store *s, const struct omb_store_event *ev,
                           omb_store_ack_fn ack, void *arg)
{
    if (s && atomic_load(&s->disk_full)) {
        /* The store filled up. A full file system gets room back only from the prune; a full
         * page count (max_bytes) or space freed by others shows at once: look, at most ten
         * times a second. */
        int64_t now = store_now_us(CLOCK_MONOTONIC);
        int64_t last = atomic_load(&s->reserve_tried_us);
        if (now - last > 100000 &&
            atomic_compare_exchange_strong(&s->reserve_tried_us, &last, now)) {
            reserve_take(s);
        }
        if (atomic_load(&s->disk_full)) {
            return OMB_EAGAIN;
        }
    }
    if (!s || !ev || !ack || (!ev->env && ev->env_len) || (!ev->body && ev->body_len)) {
        return OMB_EINVAL;
    }
    /* A key counts only with a window: without one there is nothing to hold it for. */
    const char *dedupe = ev->dedupe && *ev->dedupe && ev->dedupe_window_us > 0 ? ev->dedupe : NULL;
    if (dedupe && strlen(dedupe) > OMB_STORE_DEDUPE_MAX) {
        return OMB_EINVAL;
    }
    size_t env_len = ev->env_len, body_len = ev->body_len;
    size_t ids = (ev->id ? strlen(ev->id) + 1 : 0) + (ev->source ? strlen(ev->source) + 1 : 0) +
                 (ev->type ? strlen(ev->type) + 1 : 0) + (ev->key ? strlen(ev->key) + 1 : 0) +
                 (dedupe ? strlen(dedupe) + 1 : 0);
    if (env_len > SIZE_MAX / 2 || body_len > SIZE_MAX / 2 - env_len ||
        env_len + body_len > SIZE_MAX / 2 - ids) {
        return OMB_EINVAL;
    }
    struct entry *e = malloc(sizeof(*e) + env_len + body_len + ids);
    if (!e) {
        return OMB_ENOMEM;
    }
    char *p = (char *)(e + 1);
    *e = (struct entry){.op = OP_APPEND, .ack = ack, .arg = arg};
    e->ev.received_us = store_now_us(CLOCK_REALTIME);
    e->ev.flags = ev->flags;
    e->ev.env = store_copy_bytes(&p, ev->env, env_len);
    e->ev.env_len = env_len;
    e->ev.body = store_copy_bytes(&p, ev->body, body_len);
    e->ev.body_len = body_len;
    e->ev.id = store_copy_str(&p, ev->id);
    e->ev.source = store_copy_str(&p, ev->source);
    e->ev.type = store_copy_str(&p, ev->type);
    e->ev.key = store_copy_str(&p, ev->key);
    e->ev.dedupe = store_copy_str(&p, dedupe);
    e->ev.until_us = dedupe && ev->dedupe_window_us < INT64_MAX - e->ev.received_us
                         ? e->ev.received_us + ev->dedupe_window_us
                         : INT64_MAX;
    return store_queue(s, e);
}

static int insert_one(struct omb_store *s, struct entry *e)
{
    sqlite3_stmt *st = s->insert;
    int rc = SQLITE_OK;
    if ((rc = store_bind_text(st, 1, e->ev.id)) != SQLITE_OK ||
        (rc = store_bind_text(st, 2, e->ev.source)) != SQLITE_OK ||
        (rc = store_bind_text(st, 3, e->ev.type)) != SQLITE_OK ||
        (rc = store_bind_text(st, 4, e->ev.key)) != SQLITE_OK ||
        (rc = store_bind_blob(st, 5, e->ev.env, e->ev.env_len)) != SQLITE_OK ||
        (rc = store_bind_blob(st, 6, e->ev.body, e->ev.body_len)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 7, e->ev.received_us)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 8, e->ev.flags)) != SQLITE_OK) {
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
        e->result = sqlite3_last_insert_rowid(s->wdb);
    }
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

void store_refresh_usage(struct omb_store *s)
{
    if (sqlite3_step(s->usage) == SQLITE_ROW) {
        atomic_store(&s->used_bytes, sqlite3_column_int64(s->usage, 0) * s->page_size);
    }
    sqlite3_reset(s->usage);
}

/* One append inside the group's transaction: dropped when its dedupe key is held, else
 * inserted (and its key held). Adds to *rows the journal rows it made. */
static int append_one(struct omb_store *s, struct entry *e, int64_t *first, int64_t *last,
                      size_t *rows)
{
    int rc = e->ev.dedupe ? store_dedupe_check(s, e) : SQLITE_OK;
    if (rc != SQLITE_OK || e->ev.duplicate) {
        return rc;
    }
    if ((rc = insert_one(s, e)) != SQLITE_OK) {
        return rc;
    }
    *last = e->result;
    if (*first == 0) {
        *first = e->result;
    }
    (*rows)++;
    return e->ev.dedupe ? store_dedupe_hold(s, e) : SQLITE_OK;
}

/* Applies the group in one transaction. Returns an SQLite code; on success *last is the last
 * journal seq, *first the first seq this group added (0: none) and *rows how many it added. */
static int commit_group(struct omb_store *s, struct entry *head, int64_t *first, int64_t *last,
                        size_t *rows)
{
    int rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (struct entry *e = head; rc == SQLITE_OK && e; e = e->next) {
        if (e->op == OP_APPEND) {
            rc = append_one(s, e, first, last, rows);
        } else {
            rc = store_ops_apply(s, e, *last);
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    }
    return rc;
}

/* Acks and frees (or wakes the callers of) the group's entries, in queue order. */
static void complete_group(struct omb_store *s, struct entry *head, int rc)
{
    for (struct entry *e = head, *next = NULL; e; e = next) {
        next = e->next;
        switch (e->op) {
        case OP_APPEND:
            e->ack(e->arg, rc == 0 ? e->result : 0, rc);
            free(e);
            break;
        case OP_PARKED_ADD:
            if (e->ack) {
                e->ack(e->arg, rc == 0 ? e->result : 0, rc);
            }
            free(e);
            break;
        case OP_CURSOR_SET:
            free(e);
            break;
        case OP_SYNC:
            pthread_mutex_lock(&s->mu);
            e->sync->rc = rc;
            e->sync->done = true; /* e is the caller's from here on */
            pthread_cond_broadcast(&s->done_cv);
            pthread_mutex_unlock(&s->mu);
            break;
        }
    }
}

static void run_group(struct omb_store *s, struct entry *head, size_t n, size_t appends)
{
    int64_t first = 0, last = atomic_load(&s->last_seq);
    size_t rows = 0;
    int src = commit_group(s, head, &first, &last, &rows);
    int rc = 0;
    if (src == SQLITE_OK) {
        atomic_fetch_add(&s->commits, 1);
        s->prune_owed = true;
        store_refresh_usage(s);
        if (appends > rows) {
            atomic_fetch_add(&s->duplicates, appends - rows);
        }
        if (rows > 0) {
            atomic_store(&s->last_seq, last);
            if (atomic_load(&s->first_seq) == 0) {
                atomic_store(&s->first_seq, first); /* only this thread writes it */
            }
            atomic_fetch_add(&s->events, rows);
            if (rows > atomic_load(&s->largest_group)) {
                atomic_store(&s->largest_group, rows); /* only this thread writes it */
            }
            /* Under commit_mu, so that once omb_store_on_commit returns, the callback it
             * replaced is not running and will not run. */
            pthread_mutex_lock(&s->commit_mu);
            if (s->commit_fn) {
                s->commit_fn(s->commit_arg, last);
            }
            pthread_mutex_unlock(&s->commit_mu);
        }
    } else {
        /* Nothing of the group is kept: roll back whatever the failure left open. */
        char why[sizeof(s->last_error)];
        size_t others = n - appends;
        if (others == 0 || appends == 0) {
            snprintf(why, sizeof(why), "journal commit of %zu %s%s failed: %s", n,
                     others == 0 ? "event" : "operation", n == 1 ? "" : "s",
                     sqlite3_errmsg(s->wdb));
        } else {
            snprintf(why, sizeof(why),
                     "journal commit of %zu event%s and %zu other operation%s failed: %s", appends,
                     appends == 1 ? "" : "s", others, others == 1 ? "" : "s",
                     sqlite3_errmsg(s->wdb));
        }
        bool full = (sqlite3_extended_errcode(s->wdb) & 0xff) == SQLITE_FULL;
        /* The file system is full (not the max_bytes cap, which the prune relieves alone). */
        bool enospc = full && (sqlite3_system_errno(s->wdb) == ENOSPC || !s->capped);
        if (!sqlite3_get_autocommit(s->wdb)) {
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        }
        pthread_mutex_lock(&s->mu);
        memcpy(s->last_error, why, sizeof(why));
        pthread_mutex_unlock(&s->mu);
        atomic_fetch_add(&s->failures, 1);
        rc = OMB_EIO;
        if (full) {
            /* The disk is full: give the WAL's space back, then commit what frees space (cursor
             * moves, which let the prune delete rows) without the appends, which are refused.
             * Otherwise new appends would keep failing the cursor moves with them, and the
             * store would never get out of it. */
            if (enospc) {
                reserve_give_up(s);
            }
            sqlite3_exec(s->wdb, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
            if (appends > 0 && others > 0) {
                struct entry *refused = NULL, **rt = &refused, *kept = NULL, **kt = &kept;
                for (struct entry *e = head, *next; e; e = next) {
                    next = e->next;
                    e->next = NULL;
                    if (e->op == OP_APPEND) {
                        *rt = e;
                        rt = &e->next;
                    } else {
                        *kt = e;
                        kt = &e->next;
                    }
                }
                complete_group(s, refused, OMB_EIO);
                int64_t f = 0, l = atomic_load(&s->last_seq);
                size_t r = 0;
                int krc = commit_group(s, kept, &f, &l, &r) == SQLITE_OK ? 0 : OMB_EIO;
                if (krc == 0) {
                    atomic_fetch_add(&s->commits, 1);
                    s->prune_owed = true;
                    store_refresh_usage(s);
                } else if (!sqlite3_get_autocommit(s->wdb)) {
                    sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
                }
                complete_group(s, kept, krc);
                return;
            }
        }
    }
    complete_group(s, head, rc);
}

/* Under s->mu. */
static bool prune_due(const struct omb_store *s, int64_t now)
{
    return s->prune_on &&
           (s->prune_more || (s->prune_owed && now >= s->prune_last_us + s->prune_interval_us));
}

static void deadline_ts(int64_t us, struct timespec *ts)
{
    ts->tv_sec = us / 1000000;
    ts->tv_nsec = (us % 1000000) * 1000;
}

/* Under s->mu: takes up to group_max entries off the front, closing the cursor sets among them
 * to coalescing (the writer reads them unlocked from now on). */
static struct entry *take_group(struct omb_store *s, size_t *np, size_t *appendsp)
{
    struct entry *head = s->head, *last = NULL;
    size_t n = 0, appends = 0;
    for (struct entry *e = head; e && n < s->group_max; e = e->next) {
        last = e;
        n++;
        if (e->op == OP_APPEND) {
            appends++;
        } else if (e->op == OP_SYNC) {
            s->syncs--;
        } else if (e->op == OP_CURSOR_SET) {
            for (struct entry **pp = &s->cursor_sets; *pp; pp = &(*pp)->cur.cnext) {
                if (*pp == e) {
                    *pp = e->cur.cnext;
                    break;
                }
            }
        }
    }
    s->head = last->next;
    if (!s->head) {
        s->tail = NULL;
    }
    last->next = NULL;
    s->queued -= n;
    s->pending -= appends;
    s->committing = appends;
    *np = n;
    *appendsp = appends;
    return head;
}

static void *writer_main(void *arg)
{
    struct omb_store *s = arg;
    struct timespec ts;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping && !prune_due(s, store_now_us(CLOCK_MONOTONIC))) {
            if (s->prune_on && s->prune_owed) {
                deadline_ts(s->prune_last_us + s->prune_interval_us, &ts);
                pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            } else {
                pthread_cond_wait(&s->cv, &s->mu);
            }
        }
        if (s->head) {
            if (s->queued < s->group_max && !s->stopping && !s->syncs && s->group_wait_us > 0) {
                deadline_ts(store_now_us(CLOCK_MONOTONIC) + s->group_wait_us, &ts);
                while (s->queued < s->group_max && !s->stopping && !s->syncs) {
                    if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0) {
                        break; /* ETIMEDOUT */
                    }
                }
            }
            size_t n, appends;
            struct entry *head = take_group(s, &n, &appends);
            pthread_mutex_unlock(&s->mu);
            run_group(s, head, n, appends);
            pthread_mutex_lock(&s->mu);
            s->committing = 0;
        } else if (s->stopping) {
            break; /* drained */
        }
        /* One prune chunk between groups, so that neither starves the other. */
        if (!s->stopping && prune_due(s, store_now_us(CLOCK_MONOTONIC))) {
            pthread_mutex_unlock(&s->mu);
            store_prune_step(s);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
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

/* ---- settings and counters -------------------------------------------------------------- */

void omb_store_on_commit(struct omb_store *s, omb_store_commit_fn fn, void *arg)
{
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->commit_mu);
    s->commit_fn = fn;
    s->commit_arg = arg;
    pthread_mutex_unlock(&s->commit_mu);
}

void omb_store_set_prune(struct omb_store *s, bool on)
{
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->prune_on = on;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

bool omb_store_wait_acked(struct omb_store *s, int64_t timeout_ms)
{
    int64_t deadline = store_now_us(CLOCK_MONOTONIC) + timeout_ms * 1000;
    while (omb_store_pending(s) > 0) {
        if (store_now_us(CLOCK_MONOTONIC) >= deadline) {
            return false;
        }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return true;
}

size_t omb_store_pending(struct omb_store *s)
{
    if (!s) {
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    size_t n = s->pending + s->committing;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int64_t omb_store_last_seq(struct omb_store *s)
{
    return s ? atomic_load(&s->last_seq) : 0;
}

int64_t omb_store_first_seq(struct omb_store *s)
{
    return s ? atomic_load(&s->first_seq) : 0;
}

int64_t omb_store_used_bytes(struct omb_store *s)
{
    return s ? atomic_load(&s->used_bytes) : 0;
}

void omb_store_stats(struct omb_store *s, struct omb_store_stats *out)
{
    if (!out) {
        return;
    }
    if (!s) {
        *out = (struct omb_store_stats){0};
        return;
    }
    *out = (struct omb_store_stats){
        .commits = atomic_load(&s->commits),
        .events = atomic_load(&s->events),
        .largest_group = atomic_load(&s->largest_group),
        .failures = atomic_load(&s->failures),
        .duplicates = atomic_load(&s->duplicates),
    };
}

void omb_store_last_error(struct omb_store *s, char *buf, size_t len)
{
    if (!buf || len == 0) {
        return;
    }
    if (!s) {
        buf[0] = '\0';
        return;
    }
    pthread_mutex_lock(&s->mu);
    snprintf(buf, len, "%s", s->last_error);
    pthread_mutex_unlock(&s->mu);
}
