/* Private to the store's files: the store itself, the writer queue's entries, and what the files
 * share. store.c opens and closes, queues, and runs the writer thread and its group commits;
 * store_ops.c is the writer's work besides appends (cursors, parked rows, pruning) and the calls
 * that queue it; store_dedupe.c holds idempotency keys; store_read.c reads committed rows
 * (readers, cursors, parked lists). */
#ifndef OMNIBUS_STORE_PRIV_H
#define OMNIBUS_STORE_PRIV_H

#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_PRUNE_INTERVAL_MS 1000
#define STORE_RESERVE_BYTES (4 * 1024 * 1024) /* kept back to get out of a full disk */
#define STORE_PRUNE_CHUNK 2000 /* journal rows deleted per transaction at most: a larger chunk
                                * holds the writer (and every acknowledgement) for tens of ms */

enum entry_op {
    OP_APPEND, /* a journal row: the only kind counted against pending_max */
    OP_CURSOR_SET,
    OP_PARKED_ADD,
    OP_SYNC, /* a caller waits for its commit: cursor init/drop, parked update/delete */
};

struct sync_op;

/* One piece of queued work. Appends, cursor sets and parked adds are one allocation each (the
 * struct, then every byte it points to) owned by the queue and freed by the writer; a sync entry
 * lives inside its struct sync_op, on the stack of the caller waiting for it. */
struct entry {
    struct entry *next;
    enum entry_op op;
    omb_store_ack_fn ack; /* appends (required) and parked adds (may be NULL) */
    void *arg;
    int64_t result; /* the new seq or parked id; meaningful once its transaction commits */
    union {
        struct {
            int64_t received_us;
            unsigned flags;
            const char *env; /* NULL when env_len is 0 */
            size_t env_len;
            const char *body; /* NULL when body_len is 0 */
            size_t body_len;
            const char *id; /* these four NULL when appended as NULL */
            const char *source;
            const char *type;
            const char *key;
            const char *dedupe; /* NULL: none */
            int64_t until_us;   /* received_us + the dedupe window (saturated) */
            bool duplicate;     /* set by the writer: dropped, result is -(the original's seq) */
        } ev;
        struct {
            const char *consumer;
            int64_t seq;
            uint64_t barrier;    /* s->barrier when queued: a later set may overwrite it if equal */
            struct entry *cnext; /* in s->cursor_sets while it can still be overwritten */
        } cur;
        struct omb_store_parked parked; /* id unused */
        struct sync_op *sync;
    };
};

enum sync_kind {
    SYNC_CURSOR_INIT,
    SYNC_CURSOR_DROP,
    SYNC_PARKED_UPDATE,
    SYNC_PARKED_DELETE,
    SYNC_STATE_PUT, /* store_state.c: consumer is the owner, state the key, body the value */
};

/* A synchronous operation. Every pointer is the waiting caller's, valid until done is set. */
struct sync_op {
    struct entry e;
    enum sync_kind kind;
    const char *consumer;
    const struct omb_store_parked_filter *f;
    const char *state;
    const char *body; /* NULL: keep the body */
    size_t body_len;
    int64_t out; /* cursor seq, or rows changed; valid when rc is 0 */
    int rc;
    bool done; /* under s->mu; once set the writer no longer touches the op */
};

struct omb_store {
    char *path; /* for readers' connections */

    /* The writer thread's connection and statements (open prepares them, then only it uses
     * them). */
    sqlite3 *wdb;
    sqlite3_stmt *insert;
    sqlite3_stmt *usage;
    sqlite3_stmt *set_cursor;
    sqlite3_stmt *add_parked;
    sqlite3_stmt *min_cursor;
    sqlite3_stmt *prune;
    sqlite3_stmt *first;
    sqlite3_stmt *dedupe_find; /* store_dedupe.c */
    sqlite3_stmt *dedupe_put;
    sqlite3_stmt *dedupe_prune;
    int64_t page_size;

    sqlite3 *rdb; /* omb_store_read's and the listings', under rmu */
    sqlite3_stmt *rjournal;
    pthread_mutex_t rmu;

    size_t group_max;
    size_t pending_max;
    int64_t group_wait_us;
    int64_t prune_interval_us;

    pthread_mutex_t mu;     /* guards everything down to `writer` */
    pthread_cond_t cv;      /* wakes the writer: work queued, stop, prune on (CLOCK_MONOTONIC) */
    pthread_cond_t done_cv; /* wakes callers of sync operations */
    struct entry *head;
    struct entry *tail;
    size_t pending;            /* appends in the queue */
    size_t committing;         /* appends taken off the queue, their commit not yet done */
    size_t queued;             /* entries of every kind in the queue */
    size_t syncs;              /* sync entries in the queue: someone waits, so no group wait */
    struct entry *cursor_sets; /* queued cursor sets still open to coalescing, one per consumer */
    uint64_t barrier;          /* bumped by each queued parked add or sync entry */
    bool stopping;
    bool prune_on;
    pthread_mutex_t commit_mu; /* guards commit_fn/arg and is held while calling it */
    omb_store_commit_fn commit_fn;
    void *commit_arg;
    char last_error[256];
    pthread_t writer;

    /* The writer thread's alone. */
    bool prune_owed; /* a commit happened since the last prune pass */
    char *reserve_path; /* "<journal>-reserve" (store.c) */
    bool capped;        /* max_bytes set: SQLITE_FULL may be the cap, not the file system */
    pthread_mutex_t reserve_mu; /* guards reserved and the reserve file */
    bool reserved;      /* the reserve file holds its space */
    atomic_bool disk_full; /* the reserve was given up: appends say OMB_EAGAIN until it is back */
    atomic_int_fast64_t reserve_tried_us; /* the latest try from an append (monotonic µs) */
    bool prune_more; /* the last chunk was full: go on without waiting */
    int64_t prune_last_us;

    atomic_int_fast64_t last_seq;
    atomic_int_fast64_t first_seq;
    atomic_int_fast64_t used_bytes;
    atomic_uint_fast64_t commits;
    atomic_uint_fast64_t events;
    atomic_uint_fast64_t largest_group;
    atomic_uint_fast64_t failures;
    atomic_uint_fast64_t duplicates;
};

static inline int64_t store_now_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* An empty blob for NULL, as appends store it. */
static inline int store_bind_blob(sqlite3_stmt *st, int i, const char *v, size_t len)
{
    return v ? sqlite3_bind_blob64(st, i, v, len, SQLITE_STATIC) : sqlite3_bind_zeroblob(st, i, 0);
}

/* store.c */
void store_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Opens a read-write connection with the store's flags and busy timeout; on failure *dbp may
 * still need sqlite3_close. */
int store_open_db(const char *path, sqlite3 **dbp, char *err, size_t errlen);
/* Copy into the bump region at *dst (sized by the caller), advancing it; NULL for NULL / 0. */
const char *store_copy_str(char **dst, const char *s);
const char *store_copy_bytes(char **dst, const char *b, size_t len);
/* Queue e (any kind but OP_SYNC; freed here on failure): 0, OMB_EAGAIN (appends beyond
 * pending_max), OMB_ESTOPPED. A cursor set may be merged into a queued one and freed. */
int store_queue(struct omb_store *s, struct entry *e);
/* Queue op and wait for its commit: op->rc, or OMB_ESTOPPED, or OMB_EINVAL on the writer thread
 * (which would wait for itself). */
int store_queue_sync(struct omb_store *s, struct sync_op *op);
/* Writer thread: refresh used_bytes from the writer's connection. */
void store_refresh_usage(struct omb_store *s);

/* store_ops.c */
/* Prepares the writer's statements of this file on s->wdb. 0 or OMB_EIO (err set). */
int store_ops_prepare(struct omb_store *s, char *err, size_t errlen);
/* Writer thread, inside the group's transaction: applies one non-append entry. last_seq is the
 * journal's last seq including this transaction's rows so far. Returns an SQLite code. */
int store_ops_apply(struct omb_store *s, struct entry *e, int64_t last_seq);
/* Writer thread: one pruning transaction, when pruning is due. */
void store_prune_step(struct omb_store *s);

/* store_dedupe.c */
/* Prepares the writer's dedupe statements on s->wdb. 0 or OMB_EIO (err set). */
/* store_state.c: a state put or delete, inside the group transaction. */
int store_state_apply(struct omb_store *s, struct sync_op *op);
int store_dedupe_prepare(struct omb_store *s, char *err, size_t errlen);
/* Writer thread, inside the group's transaction, for an append with a dedupe key: when its key
 * is held for its source, marks it a duplicate (e->result = -(the holder's seq)). Sees the
 * keys of this transaction's earlier appends. Returns an SQLite code. */
int store_dedupe_check(struct omb_store *s, struct entry *e);
/* Writer thread, after e was inserted (e->result is its seq): hold its key until its until_us.
 * Returns an SQLite code. */
int store_dedupe_hold(struct omb_store *s, const struct entry *e);
/* Writer thread, outside any transaction: delete up to `chunk` keys expired at now_us. Returns
 * an SQLite code, with the number deleted in *deleted. */
int store_dedupe_prune(struct omb_store *s, int64_t now_us, int64_t chunk, int64_t *deleted);

/* store_read.c */
/* Steps st (a journal SELECT with after_seq and limit parameters) passing rows to fn as
 * omb_store_read does, and resets it. */
int store_read_rows(sqlite3_stmt *st, int64_t after_seq, size_t max, omb_store_row_fn fn,
                    void *arg);
extern const char store_journal_select[];

/* SQL text under construction from constant fragments only: values are always bound. */
struct store_sql {
    char text[640];
    size_t len;
    bool overflow;
};
void store_sql_add(struct store_sql *q, const char *fragment);
/* Adds " WHERE ..." (nothing for an empty filter) with one ? per set member, in the order
 * store_bind_filter binds them. */
void store_sql_where(struct store_sql *q, const struct omb_store_parked_filter *f);
/* Binds f's set members from parameter index *i on, advancing it. Returns an SQLite code. */
int store_bind_filter(sqlite3_stmt *st, int *i, const struct omb_store_parked_filter *f);
bool store_filter_empty(const struct omb_store_parked_filter *f);
bool store_parked_state_ok(const char *state);

/* store.c: take the reserve back when there is room again (writer thread). */
void store_reserve_retake(struct omb_store *s);

#endif /* OMNIBUS_STORE_PRIV_H */
