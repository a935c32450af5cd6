/* The store's writes besides journal appends: consumer cursors, parked deliveries and pruning
 * (of the journal and, through store_dedupe.c, of expired dedupe keys).
 * Each call queues its work behind whatever is already queued, so that one group transaction
 * applies appends, cursor moves and parked rows in the order they were asked for; the calls
 * that report a result (cursor init/drop, parked update/delete) wait for that transaction. */
#include "store_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/err.h>

int store_ops_prepare(struct omb_store *s, char *err, size_t errlen)
{
    const struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        {&s->set_cursor, "INSERT INTO cursors (consumer, seq) VALUES (?, ?)"
                         " ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq"},
        {&s->add_parked,
         "INSERT INTO parked (state, consumer, route, seq, event_id, type, key, envelope, body,"
         " attempts, first_error, last_error, errors, first_at_us, last_at_us)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
        {&s->min_cursor, "SELECT min(seq) FROM cursors"},
        {&s->prune, "DELETE FROM journal WHERE seq IN"
                    " (SELECT seq FROM journal WHERE seq <= ? ORDER BY seq LIMIT ?)"},
        {&s->first, "SELECT coalesce(min(seq), 0) FROM journal"},
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

/* Steps a statement that returns no row (or whose rows are not wanted), then resets it. */
static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* ---- applied by the writer, inside a group's transaction --------------------------------- */

static int apply_cursor_set(struct omb_store *s, const struct entry *e)
{
    int rc;
    if ((rc = store_bind_text(s->set_cursor, 1, e->cur.consumer)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(s->set_cursor, 2, e->cur.seq)) != SQLITE_OK) {
        sqlite3_clear_bindings(s->set_cursor);
        return rc;
    }
    return step_reset(s->set_cursor);
}

static int apply_parked_add(struct omb_store *s, struct entry *e)
{
    const struct omb_store_parked *p = &e->parked;
    sqlite3_stmt *st = s->add_parked;
    int rc;
    if ((rc = store_bind_text(st, 1, p->state)) != SQLITE_OK ||
        (rc = store_bind_text(st, 2, p->consumer)) != SQLITE_OK ||
        (rc = store_bind_text(st, 3, p->route)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 4, p->seq)) != SQLITE_OK ||
        (rc = store_bind_text(st, 5, p->event_id)) != SQLITE_OK ||
        (rc = store_bind_text(st, 6, p->type)) != SQLITE_OK ||
        (rc = store_bind_text(st, 7, p->key)) != SQLITE_OK ||
        (rc = store_bind_blob(st, 8, p->env, p->env_len)) != SQLITE_OK ||
        (rc = store_bind_blob(st, 9, p->body, p->body_len)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 10, p->attempts)) != SQLITE_OK ||
        (rc = store_bind_text(st, 11, p->first_error)) != SQLITE_OK ||
        (rc = store_bind_text(st, 12, p->last_error)) != SQLITE_OK ||
        (rc = store_bind_text(st, 13, p->errors)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 14, p->first_at_us)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 15, p->last_at_us)) != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return rc;
    }
    rc = step_reset(st);
    if (rc == SQLITE_OK) {
        e->result = sqlite3_last_insert_rowid(s->wdb);
    }
    return rc;
}

/* Sync operations are rare: their statements are prepared for the call. */
static int cursor_init(struct omb_store *s, struct sync_op *op, int64_t last_seq)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->wdb,
                                "INSERT INTO cursors (consumer, seq) VALUES (?, ?)"
                                " ON CONFLICT (consumer) DO NOTHING",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        goto out;
    }
    if ((rc = store_bind_text(st, 1, op->consumer)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 2, last_seq)) != SQLITE_OK ||
        (rc = step_reset(st)) != SQLITE_OK) {
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    rc = sqlite3_prepare_v2(s->wdb, "SELECT seq FROM cursors WHERE consumer = ?", -1, &st, NULL);
    if (rc != SQLITE_OK || (rc = store_bind_text(st, 1, op->consumer)) != SQLITE_OK) {
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        op->out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_CORRUPT; /* the row inserted or kept just above is gone */
    }
out:
    sqlite3_finalize(st);
    return rc;
}

static int change_rows(struct omb_store *s, struct sync_op *op)
{
    struct store_sql q = {0};
    sqlite3_stmt *st = NULL;
    int i = 1;
    if (op->kind == SYNC_CURSOR_DROP) {
        store_sql_add(&q, "DELETE FROM cursors WHERE consumer = ?");
    } else if (op->kind == SYNC_PARKED_UPDATE) {
        store_sql_add(&q, "UPDATE parked SET ");
        store_sql_add(&q, op->state ? "state = ?" : "");
        store_sql_add(&q, op->body ? (op->state ? ", body = ?" : "body = ?") : "");
        store_sql_where(&q, op->f);
    } else {
        store_sql_add(&q, "DELETE FROM parked");
        store_sql_where(&q, op->f);
    }
    if (q.overflow) {
        return SQLITE_TOOBIG; /* the fragments are constants: never */
    }
    int rc = sqlite3_prepare_v2(s->wdb, q.text, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        goto out;
    }
    if (op->kind == SYNC_CURSOR_DROP) {
        rc = store_bind_text(st, i++, op->consumer);
    } else {
        if (op->state) {
            rc = store_bind_text(st, i++, op->state);
        }
        if (rc == SQLITE_OK && op->body) {
            /* An empty body is stored as an empty blob, never NULL, as appends do. */
            rc = op->body_len ? sqlite3_bind_blob64(st, i++, op->body, op->body_len, SQLITE_STATIC)
                              : sqlite3_bind_zeroblob(st, i++, 0);
        }
        if (rc == SQLITE_OK) {
            rc = store_bind_filter(st, &i, op->f);
        }
    }
    if (rc != SQLITE_OK) {
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
        op->out = sqlite3_changes(s->wdb);
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int store_ops_apply(struct omb_store *s, struct entry *e, int64_t last_seq)
{
    switch (e->op) {
    case OP_CURSOR_SET:
        return apply_cursor_set(s, e);
    case OP_PARKED_ADD:
        return apply_parked_add(s, e);
    case OP_SYNC:
        if (e->sync->kind == SYNC_STATE_PUT) {
            return store_state_apply(s, e->sync);
        }
        return e->sync->kind == SYNC_CURSOR_INIT ? cursor_init(s, e->sync, last_seq)
                                                 : change_rows(s, e->sync);
    case OP_APPEND:
        break;
    }
    return SQLITE_MISUSE; /* appends are store.c's */
}

/* ---- pruning, between groups ------------------------------------------------------------- */

void store_prune_step(struct omb_store *s)
{
    int64_t last = atomic_load(&s->last_seq);
    int64_t first = atomic_load(&s->first_seq);
    int64_t target = last, deleted = 0;
    /* Only this thread writes cursors, so reading them outside the transaction is exact. */
    int rc = sqlite3_step(s->min_cursor);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(s->min_cursor, 0) != SQLITE_NULL) {
            target = sqlite3_column_int64(s->min_cursor, 0);
        }
        rc = SQLITE_OK;
    }
    sqlite3_reset(s->min_cursor);
    if (rc == SQLITE_OK && first != 0 && target >= first) {
        rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_bind_int64(s->prune, 1, target)) == SQLITE_OK &&
            (rc = sqlite3_bind_int64(s->prune, 2, STORE_PRUNE_CHUNK)) == SQLITE_OK &&
            (rc = step_reset(s->prune)) == SQLITE_OK) {
            deleted = sqlite3_changes(s->wdb);
            rc = sqlite3_step(s->first);
            if (rc == SQLITE_ROW) {
                first = sqlite3_column_int64(s->first, 0);
                rc = SQLITE_OK;
            }
            sqlite3_reset(s->first);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
        }
        if (rc == SQLITE_OK) {
            atomic_store(&s->first_seq, first);
            store_refresh_usage(s);
        }
    }
    int64_t expired = 0; /* dedupe keys past their window */
    if (rc == SQLITE_OK) {
        rc = store_dedupe_prune(s, store_now_us(CLOCK_REALTIME), STORE_PRUNE_CHUNK, &expired);
        if (rc == SQLITE_OK && expired > 0) {
            store_refresh_usage(s);
        }
    }
    if (rc != SQLITE_OK) {
        char why[sizeof(s->last_error)];
        snprintf(why, sizeof(why), "journal prune failed: %s", sqlite3_errmsg(s->wdb));
        if (!sqlite3_get_autocommit(s->wdb)) {
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        }
        pthread_mutex_lock(&s->mu);
        memcpy(s->last_error, why, sizeof(why));
        pthread_mutex_unlock(&s->mu);
    }
    /* A full chunk means more to delete: the next chunk comes after the next group, if any,
     * rather than a whole interval later. */
    s->prune_more =
        rc == SQLITE_OK && (deleted == STORE_PRUNE_CHUNK || expired == STORE_PRUNE_CHUNK);
    if (!s->prune_more) {
        s->prune_owed = false;
    }
    if (rc == SQLITE_OK && !s->prune_more) {
        /* After a full disk: the WAL's space back to the file system, then the reserve. */
        sqlite3_exec(s->wdb, s->reserved ? "PRAGMA wal_checkpoint(PASSIVE)"
                                         : "PRAGMA wal_checkpoint(TRUNCATE)",
                     NULL, NULL, NULL);
        store_reserve_retake(s);
    }
    s->prune_last_us = store_now_us(CLOCK_MONOTONIC);
}

/* ---- cursors ------------------------------------------------------------------------------ */

int omb_store_cursor_init(struct omb_store *s, const char *consumer, int64_t *seq)
{
    if (!s || !consumer || !*consumer || !seq) {
        return OMB_EINVAL;
    }
    struct sync_op op = {.kind = SYNC_CURSOR_INIT, .consumer = consumer};
    int rc = store_queue_sync(s, &op);
    if (rc == 0) {
        *seq = op.out;
    }
    return rc;
}

int omb_store_cursor_set(struct omb_store *s, const char *consumer, int64_t seq)
{
    if (!s || !consumer || !*consumer || seq < 0) {
        return OMB_EINVAL;
    }
    size_t len = strlen(consumer) + 1;
    struct entry *e = malloc(sizeof(*e) + len);
    if (!e) {
        return OMB_ENOMEM;
    }
    *e = (struct entry){.op = OP_CURSOR_SET};
    e->cur.consumer = memcpy(e + 1, consumer, len);
    e->cur.seq = seq;
    return store_queue(s, e);
}

int omb_store_cursor_drop(struct omb_store *s, const char *consumer)
{
    if (!s || !consumer) {
        return OMB_EINVAL;
    }
    struct sync_op op = {.kind = SYNC_CURSOR_DROP, .consumer = consumer};
    return store_queue_sync(s, &op);
}

/* ---- parked deliveries -------------------------------------------------------------------- */

int omb_store_parked_add(struct omb_store *s, const struct omb_store_parked *p,
                         omb_store_ack_fn ack, void *arg)
{
    if (!s || !p || !store_parked_state_ok(p->state) || (!p->env && p->env_len) ||
        (!p->body && p->body_len)) {
        return OMB_EINVAL;
    }
    const char *strs[] = {p->state, p->consumer,    p->route,      p->event_id, p->type,
                          p->key,   p->first_error, p->last_error, p->errors};
    size_t len = 0;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        len += strs[i] ? strlen(strs[i]) + 1 : 0;
    }
    if (p->env_len > SIZE_MAX / 2 || p->body_len > SIZE_MAX / 2 - p->env_len ||
        p->env_len + p->body_len > SIZE_MAX / 2 - len) {
        return OMB_EINVAL;
    }
    struct entry *e = malloc(sizeof(*e) + len + p->env_len + p->body_len);
    if (!e) {
        return OMB_ENOMEM;
    }
    char *d = (char *)(e + 1);
    *e = (struct entry){.op = OP_PARKED_ADD, .ack = ack, .arg = arg, .parked = *p};
    struct omb_store_parked *c = &e->parked;
    c->id = 0;
    c->state = store_copy_str(&d, p->state);
    c->consumer = store_copy_str(&d, p->consumer);
    c->route = store_copy_str(&d, p->route);
    c->event_id = store_copy_str(&d, p->event_id);
    c->type = store_copy_str(&d, p->type);
    c->key = store_copy_str(&d, p->key);
    c->first_error = store_copy_str(&d, p->first_error);
    c->last_error = store_copy_str(&d, p->last_error);
    c->errors = store_copy_str(&d, p->errors);
    c->env = store_copy_bytes(&d, p->env, p->env_len);
    c->body = store_copy_bytes(&d, p->body, p->body_len);
    return store_queue(s, e);
}

int omb_store_parked_update(struct omb_store *s, const struct omb_store_parked_filter *f,
                            const char *state, const char *body, size_t body_len, int64_t *changed)
{
    if (!s || !f || (!state && !body) || (state && !store_parked_state_ok(state)) ||
        (body && f->id == 0) || (!body && body_len)) {
        return OMB_EINVAL;
    }
    struct sync_op op = {
        .kind = SYNC_PARKED_UPDATE, .f = f, .state = state, .body = body, .body_len = body_len};
    int rc = store_queue_sync(s, &op);
    if (rc == 0 && changed) {
        *changed = op.out;
    }
    return rc;
}

int omb_store_parked_delete(struct omb_store *s, const struct omb_store_parked_filter *f,
                            int64_t *deleted)
{
    if (!s || !f || store_filter_empty(f)) {
        return OMB_EINVAL;
    }
    struct sync_op op = {.kind = SYNC_PARKED_DELETE, .f = f};
    int rc = store_queue_sync(s, &op);
    if (rc == 0 && deleted) {
        *deleted = op.out;
    }
    return rc;
}
