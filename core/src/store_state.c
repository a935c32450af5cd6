/* Connectors' durable state (store.h, omb_store_state_*): the `state` table, one value per
 * (owner, key). A put is a synchronous operation of the writer, applied in order with the
 * journal's appends and committed with their group; a get reads what is committed. */
#include "store_priv.h"

#include <stdlib.h>
#include <string.h>

#include <omnibus/err.h>

int store_state_apply(struct omb_store *s, struct sync_op *op)
{
    sqlite3_stmt *st = NULL;
    const char *sql = op->body ? "INSERT INTO state (owner, key, value) VALUES (?, ?, ?)"
                                 " ON CONFLICT (owner, key) DO UPDATE SET value = excluded.value"
                               : "DELETE FROM state WHERE owner = ? AND key = ?";
    int rc = sqlite3_prepare_v2(s->wdb, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = store_bind_text(st, 1, op->consumer)) == SQLITE_OK &&
        (rc = store_bind_text(st, 2, op->state)) == SQLITE_OK && op->body) {
        rc = sqlite3_bind_blob64(st, 3, op->body, op->body_len, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
            op->out = sqlite3_changes(s->wdb);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int omb_store_state_put(struct omb_store *s, const char *owner, const char *key,
                        const char *value, size_t len)
{
    if (!s || !owner || !*owner || !key || !*key || (!value && len)) {
        return OMB_EINVAL;
    }
    /* The sync op's fields, reused: consumer is the owner, state the key, body the value. */
    struct sync_op op = {.kind = SYNC_STATE_PUT, .consumer = owner, .state = key,
                         .body = value ? value : NULL, .body_len = len};
    if (value && len == 0) {
        op.body = ""; /* an empty value is a value, not a delete */
    }
    return store_queue_sync(s, &op);
}

int omb_store_state_get(struct omb_store *s, const char *owner, const char *key, char **value,
                        size_t *len)
{
    *value = NULL;
    *len = 0;
    if (!s || !owner || !key) {
        return OMB_EINVAL;
    }
    sqlite3_stmt *st = NULL;
    int rc = OMB_EIO;
    pthread_mutex_lock(&s->rmu);
    if (sqlite3_prepare_v2(s->rdb, "SELECT value FROM state WHERE owner = ? AND key = ?", -1,
                           &st, NULL) == SQLITE_OK &&
        store_bind_text(st, 1, owner) == SQLITE_OK && store_bind_text(st, 2, key) == SQLITE_OK) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            const void *p = sqlite3_column_blob(st, 0);
            size_t n = (size_t)sqlite3_column_bytes(st, 0);
            char *copy = malloc(n + 1);
            if (copy) {
                if (n) {
                    memcpy(copy, p, n);
                }
                copy[n] = '\0';
                *value = copy;
                *len = n;
                rc = 0;
            } else {
                rc = OMB_ENOMEM;
            }
        } else if (step == SQLITE_DONE) {
            rc = OMB_ENOTFOUND;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->rmu);
    return rc;
}
