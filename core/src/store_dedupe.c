/* Idempotency keys: the `dedupe` table holds, per (source, key), the seq of the event that
 * carried the key and until when a repeat of it is dropped. The writer checks an append's key
 * inside the group's transaction, before inserting the row, so that a repeat in the same group
 * is seen too (its holder's row is uncommitted but on the same connection), and a failed group
 * rolls its keys back with its rows. */
#include "store_priv.h"

#include <omnibus/err.h>

int store_dedupe_prepare(struct omb_store *s, char *err, size_t errlen)
{
    const struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        {&s->dedupe_find, "SELECT seq FROM dedupe WHERE source = ? AND key = ? AND until_us > ?"},
        /* A key past its window is held anew by the event that brings it back. */
        {&s->dedupe_put, "INSERT INTO dedupe (source, key, at_us, until_us, seq)"
                         " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, key) DO UPDATE"
                         " SET at_us = excluded.at_us, until_us = excluded.until_us,"
                         " seq = excluded.seq"},
        /* By key, not rowid: the table is WITHOUT ROWID (one B-tree, not a table and its
         * primary-key index: each event with a key costs one insert less). A store made
         * before that has a rowid table, and this works there too. */
        {&s->dedupe_prune, "DELETE FROM dedupe WHERE (source, key) IN (SELECT source, key"
                           " FROM dedupe WHERE until_us <= ? LIMIT ?)"},
    };
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        if (sqlite3_prepare_v3(s->wdb, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].st,
                               NULL) != SQLITE_OK) {
            store_set_err(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->wdb));
            return OMB_EIO;
        }
    }
    return 0;
}

/* The source as the table keys it: a NULL source is "" (NULLs would never conflict). */
static const char *source_of(const struct entry *e)
{
    return e->ev.source ? e->ev.source : "";
}

int store_dedupe_check(struct omb_store *s, struct entry *e)
{
    sqlite3_stmt *st = s->dedupe_find;
    int rc;
    e->ev.duplicate = false;
    if ((rc = sqlite3_bind_text(st, 1, source_of(e), -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_text(st, 2, e->ev.dedupe, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 3, e->ev.received_us)) != SQLITE_OK) {
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        e->ev.duplicate = true;
        e->result = seq > 0 ? -seq : -1; /* seqs start at 1: a holder's is never 0 */
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int store_dedupe_hold(struct omb_store *s, const struct entry *e)
{
    sqlite3_stmt *st = s->dedupe_put;
    int rc;
    if ((rc = sqlite3_bind_text(st, 1, source_of(e), -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_text(st, 2, e->ev.dedupe, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 3, e->ev.received_us)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 4, e->ev.until_us)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 5, e->result)) != SQLITE_OK) {
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int store_dedupe_prune(struct omb_store *s, int64_t now_us, int64_t chunk, int64_t *deleted)
{
    sqlite3_stmt *st = s->dedupe_prune;
    int rc;
    *deleted = 0;
    /* One statement in autocommit: atomic, and it writes nothing when nothing has expired. */
    if ((rc = sqlite3_bind_int64(st, 1, now_us)) == SQLITE_OK &&
        (rc = sqlite3_bind_int64(st, 2, chunk)) == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
            *deleted = sqlite3_changes(s->wdb);
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}
