/* Reading committed rows: the journal (over the store's shared reader connection or a
 * per-thread reader's own), cursors and parked deliveries, and the parked filter's SQL, which
 * store_ops.c shares for updates and deletes. */
#include "store_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/err.h>

struct omb_store_reader {
    sqlite3 *db;
    sqlite3_stmt *journal;
};

const char store_journal_select[] =
    "SELECT seq, id, source, type, key, envelope, body, received_us, flags FROM journal"
    " WHERE seq > ? ORDER BY seq LIMIT ?";

static sqlite3_int64 limit_of(size_t max)
{
    return max == 0 || max > INT64_MAX ? -1 : (sqlite3_int64)max;
}

/* A blob column as the row structs carry it: NULL when empty. */
static const char *blob_of(sqlite3_stmt *st, int col, size_t *len)
{
    const char *b = sqlite3_column_blob(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    return *len ? b : NULL;
}

/* Passes each row of a stepped statement to call(st, ctx), which calls the caller's fn, as
 * omb_store_read describes; then resets st. */
static int each_row(sqlite3_stmt *st, int (*call)(sqlite3_stmt *st, void *ctx), void *ctx)
{
    int n = 0, rc = OMB_EIO, src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == INT32_MAX) {
            break;
        }
        n++;
        int frc = call(st, ctx);
        if (frc < 0) {
            rc = frc;
            goto out;
        }
        if (frc > 0) {
            break;
        }
    }
    if (src == SQLITE_DONE || src == SQLITE_ROW) {
        rc = n;
    }
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* ---- the journal -------------------------------------------------------------------------- */

struct row_call {
    omb_store_row_fn fn;
    void *arg;
};

static int call_row(sqlite3_stmt *st, void *ctx)
{
    const struct row_call *c = ctx;
    struct omb_store_row row = {
        .seq = sqlite3_column_int64(st, 0),
        .id = (const char *)sqlite3_column_text(st, 1),
        .source = (const char *)sqlite3_column_text(st, 2),
        .type = (const char *)sqlite3_column_text(st, 3),
        .key = (const char *)sqlite3_column_text(st, 4),
        .received_us = sqlite3_column_int64(st, 7),
        .flags = (unsigned)sqlite3_column_int64(st, 8),
    };
    row.env = blob_of(st, 5, &row.env_len);
    row.body = blob_of(st, 6, &row.body_len);
    return c->fn(c->arg, &row);
}

int store_read_rows(sqlite3_stmt *st, int64_t after_seq, size_t max, omb_store_row_fn fn, void *arg)
{
    if (sqlite3_bind_int64(st, 1, after_seq) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, limit_of(max)) != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return OMB_EIO;
    }
    struct row_call c = {fn, arg};
    return each_row(st, call_row, &c);
}

int omb_store_read(struct omb_store *s, int64_t after_seq, size_t max, omb_store_row_fn fn,
                   void *arg)
{
    if (!s || !fn) {
        return OMB_EINVAL;
    }
    pthread_mutex_lock(&s->rmu);
    int rc = store_read_rows(s->rjournal, after_seq, max, fn, arg);
    pthread_mutex_unlock(&s->rmu);
    return rc;
}

struct omb_store_reader *omb_store_reader_open(struct omb_store *s, char *err, size_t errlen)
{
    store_set_err(err, errlen, "%s", "");
    if (!s) {
        store_set_err(err, errlen, "no journal to read");
        return NULL;
    }
    struct omb_store_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        store_set_err(err, errlen, "%s: out of memory", s->path);
        return NULL;
    }
    if (store_open_db(s->path, &r->db, err, errlen) < 0) {
        goto fail;
    }
    if (sqlite3_prepare_v3(r->db, store_journal_select, -1, SQLITE_PREPARE_PERSISTENT, &r->journal,
                           NULL) != SQLITE_OK) {
        store_set_err(err, errlen, "%s: %s", s->path, sqlite3_errmsg(r->db));
        goto fail;
    }
    return r;
fail:
    omb_store_reader_close(&r);
    return NULL;
}

void omb_store_reader_close(struct omb_store_reader **rp)
{
    if (!rp || !*rp) {
        return;
    }
    sqlite3_finalize((*rp)->journal);
    sqlite3_close((*rp)->db);
    free(*rp);
    *rp = NULL;
}

int omb_store_reader_journal(struct omb_store_reader *r, int64_t after_seq, size_t max,
                             omb_store_row_fn fn, void *arg)
{
    if (!r || !fn) {
        return OMB_EINVAL;
    }
    return store_read_rows(r->journal, after_seq, max, fn, arg);
}

/* ---- cursors ------------------------------------------------------------------------------ */

struct cursor_call {
    omb_store_cursor_fn fn;
    void *arg;
};

static int call_cursor(sqlite3_stmt *st, void *ctx)
{
    const struct cursor_call *c = ctx;
    c->fn(c->arg, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
    return 0;
}

int omb_store_cursors(struct omb_store *s, omb_store_cursor_fn fn, void *arg)
{
    if (!s || !fn) {
        return OMB_EINVAL;
    }
    sqlite3_stmt *st = NULL;
    int rc = OMB_EIO;
    pthread_mutex_lock(&s->rmu);
    if (sqlite3_prepare_v2(s->rdb, "SELECT consumer, seq FROM cursors ORDER BY consumer", -1, &st,
                           NULL) == SQLITE_OK) {
        struct cursor_call c = {fn, arg};
        rc = each_row(st, call_cursor, &c);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->rmu);
    return rc < 0 ? rc : 0;
}

/* ---- the parked filter as SQL ------------------------------------------------------------- */

void store_sql_add(struct store_sql *q, const char *fragment)
{
    size_t n = strlen(fragment);
    if (q->overflow || n >= sizeof(q->text) - q->len) {
        q->overflow = true;
        return;
    }
    memcpy(q->text + q->len, fragment, n + 1);
    q->len += n;
}

/* The filter's set members, in the one order both the SQL and the binding follow. */
#define MEMBERS 8
struct member {
    const char *sql;
    const char *text; /* bound as text when non-NULL, else num */
    int64_t num;
};

static size_t members_of(const struct omb_store_parked_filter *f, struct member m[MEMBERS])
{
    const struct member all[] = {
        {"consumer = ?", f->consumer, 0},
        {"state = ?", f->state, 0},
        {"route = ?", f->route, 0},
        {"type = ?", f->type, 0},
        {"id = ?", NULL, f->id},
        {"id > ?", NULL, f->after_id},
        {"id <= ?", NULL, f->max_id},
        {"last_at_us < ?", NULL, f->older_than_us},
    };
    size_t n = 0;
    for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
        if (all[k].text || all[k].num) {
            m[n++] = all[k];
        }
    }
    return n;
}

bool store_filter_empty(const struct omb_store_parked_filter *f)
{
    struct member m[MEMBERS];
    return members_of(f, m) == 0;
}

void store_sql_where(struct store_sql *q, const struct omb_store_parked_filter *f)
{
    struct member m[MEMBERS];
    size_t n = members_of(f, m);
    for (size_t k = 0; k < n; k++) {
        store_sql_add(q, k == 0 ? " WHERE " : " AND ");
        store_sql_add(q, m[k].sql);
    }
}

int store_bind_filter(sqlite3_stmt *st, int *i, const struct omb_store_parked_filter *f)
{
    struct member m[MEMBERS];
    size_t n = members_of(f, m);
    int rc = SQLITE_OK;
    for (size_t k = 0; rc == SQLITE_OK && k < n; k++) {
        rc = m[k].text ? sqlite3_bind_text(st, (*i)++, m[k].text, -1, SQLITE_STATIC)
                       : sqlite3_bind_int64(st, (*i)++, m[k].num);
    }
    return rc;
}

bool store_parked_state_ok(const char *state)
{
    return state && (strcmp(state, "dead") == 0 || strcmp(state, "held") == 0 ||
                     strcmp(state, "replay") == 0);
}

/* ---- parked deliveries -------------------------------------------------------------------- */

struct parked_call {
    omb_store_parked_fn fn;
    void *arg;
};

static int call_parked(sqlite3_stmt *st, void *ctx)
{
    const struct parked_call *c = ctx;
    struct omb_store_parked p = {
        .id = sqlite3_column_int64(st, 0),
        .state = (const char *)sqlite3_column_text(st, 1),
        .consumer = (const char *)sqlite3_column_text(st, 2),
        .route = (const char *)sqlite3_column_text(st, 3),
        .seq = sqlite3_column_int64(st, 4),
        .event_id = (const char *)sqlite3_column_text(st, 5),
        .type = (const char *)sqlite3_column_text(st, 6),
        .key = (const char *)sqlite3_column_text(st, 7),
        .attempts = sqlite3_column_int64(st, 10),
        .first_error = (const char *)sqlite3_column_text(st, 11),
        .last_error = (const char *)sqlite3_column_text(st, 12),
        .errors = (const char *)sqlite3_column_text(st, 13),
        .first_at_us = sqlite3_column_int64(st, 14),
        .last_at_us = sqlite3_column_int64(st, 15),
    };
    p.env = blob_of(st, 8, &p.env_len);
    p.body = blob_of(st, 9, &p.body_len);
    return c->fn(c->arg, &p);
}

/* Prepares q on the reader connection and binds the filter, then the limit when there is one
 * (q ends with the filter's WHERE and, with a limit, its placeholder). */
static int prepare_filtered(struct omb_store *s, const struct store_sql *q,
                            const struct omb_store_parked_filter *f, const sqlite3_int64 *limit,
                            sqlite3_stmt **st)
{
    int i = 1;
    if (q->overflow || sqlite3_prepare_v2(s->rdb, q->text, -1, st, NULL) != SQLITE_OK ||
        store_bind_filter(*st, &i, f) != SQLITE_OK ||
        (limit && sqlite3_bind_int64(*st, i, *limit) != SQLITE_OK)) {
        return OMB_EIO;
    }
    return 0;
}

int omb_store_parked_list(struct omb_store *s, const struct omb_store_parked_filter *f, size_t max,
                          omb_store_parked_fn fn, void *arg)
{
    if (!s || !f || !fn) {
        return OMB_EINVAL;
    }
    struct store_sql q = {0};
    store_sql_add(&q, "SELECT id, state, consumer, route, seq, event_id, type, key, envelope,"
                      " body, attempts, first_error, last_error, errors, first_at_us, last_at_us"
                      " FROM parked");
    store_sql_where(&q, f);
    store_sql_add(&q, " ORDER BY id LIMIT ?");
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->rmu);
    sqlite3_int64 limit = limit_of(max);
    int rc = prepare_filtered(s, &q, f, &limit, &st);
    if (rc == 0) {
        struct parked_call c = {fn, arg};
        rc = each_row(st, call_parked, &c);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->rmu);
    return rc;
}

int omb_store_parked_count(struct omb_store *s, const struct omb_store_parked_filter *f, int64_t *n)
{
    if (!s || !f || !n) {
        return OMB_EINVAL;
    }
    struct store_sql q = {0};
    store_sql_add(&q, "SELECT count(*) FROM parked");
    store_sql_where(&q, f);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->rmu);
    int rc = prepare_filtered(s, &q, f, NULL, &st);
    if (rc == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *n = sqlite3_column_int64(st, 0);
        } else {
            rc = OMB_EIO;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->rmu);
    return rc;
}
