/* The durable journal: an SQLite file (WAL, synchronous=FULL) where every accepted event is
 * written before it is acknowledged. Appends from any thread are queued and committed by one
 * writer thread owned by the store, many events per transaction (group commit); each append's
 * ack callback runs once its group is on disk, or has failed. */
#ifndef OMNIBUS_STORE_H
#define OMNIBUS_STORE_H

#include <stddef.h>
#include <stdint.h>

struct omb_store;

#define OMB_STORE_SCHEMA_VERSION 1
#define OMB_STORE_GROUP_MAX 256      /* default events per commit */
#define OMB_STORE_PENDING_MAX 65536  /* default bound of the queue waiting for a commit */
#define OMB_STORE_GROUP_WAIT_US 1000 /* default wait to fill a group once it has one event */

/* Open options; a zero field takes its default. */
struct omb_store_opts {
    size_t group_max;      /* events per commit (default OMB_STORE_GROUP_MAX) */
    int64_t group_wait_us; /* wait for more once one is pending (default OMB_STORE_GROUP_WAIT_US;
                            * negative: do not wait) */
    int64_t max_bytes;     /* cap on the database file (SQLite max_page_count); 0: none.
                            * Appends beyond it fail with OMB_EIO ("database or disk is full") */
    size_t pending_max;    /* appends waiting for a commit, at most (default
                            * OMB_STORE_PENDING_MAX); past it append says OMB_EAGAIN */
};

/* Counters, readable from any thread. */
struct omb_store_stats {
    uint64_t commits;       /* transactions committed */
    uint64_t events;        /* events committed */
    uint64_t largest_group; /* most events in one committed transaction */
    uint64_t failures;      /* groups that failed (every event of them acked with an error) */
};

/* One journal row, passed to an omb_store_row_fn. Every pointer is borrowed for the call only.
 * id, type and key are NULL when appended as NULL; env and body are NULL when their length is 0
 * (they are not NUL-terminated). */
struct omb_store_row {
    int64_t seq;
    const char *id;
    const char *type;
    const char *key;
    const char *env;
    size_t env_len;
    const char *body;
    size_t body_len;
    int64_t received_us; /* wall clock (µs since the epoch) when omb_store_append was called */
};

/* Called on the writer thread, in append order, once per successful append: rc 0 and the row's
 * seq once it is durably committed; or a negative enum omb_err (OMB_EIO) and seq 0 when its group
 * failed, in which case nothing of that group was committed (omb_store_last_error has the reason).
 * It must not call omb_store_close; it may call omb_store_append. */
typedef void (*omb_store_ack_fn)(void *arg, int64_t seq, int rc);

/* Called by omb_store_read for each row: return 0 to go on, > 0 to stop, < 0 to abort the read
 * with that value. */
typedef int (*omb_store_row_fn)(void *arg, const struct omb_store_row *row);

/* Open (creating it with mode 0600 and its tables if missing) the journal at `path` and start its
 * writer thread. opts may be NULL (defaults). Returns a new store, or NULL with a message in
 * err (errlen bytes; err may be NULL) when the file cannot be created or opened, is not an SQLite
 * database, or has a newer schema version than OMB_STORE_SCHEMA_VERSION. */
struct omb_store *omb_store_open(const char *path, const struct omb_store_opts *opts, char *err,
                                 size_t errlen);

/* Commit whatever is pending (acking it), stop the writer thread, close the file, free the store
 * and set *sp to NULL. NULL-safe; must not be called from an ack callback. */
void omb_store_close(struct omb_store **sp);

/* Queue one event for the next group commit and return at once; thread-safe. The bytes of env,
 * body, id, type and key are copied (id, type, key: NUL-terminated or NULL; env/body may be NULL
 * when their length is 0). ack (required) is called exactly once, later, on the writer thread.
 * Returns 0; OMB_EINVAL (no ack); OMB_ENOMEM; OMB_EAGAIN when pending_max appends already wait
 * for a commit (backpressure: try again later; ingress answers 503); or OMB_ESTOPPED once the
 * store is closing. On failure ack is never called and nothing was queued. */
int omb_store_append(struct omb_store *s, const char *env, size_t env_len, const char *body,
                     size_t body_len, const char *id, const char *type, const char *key,
                     omb_store_ack_fn ack, void *arg);

/* Call fn for up to `max` committed rows with seq > after_seq, in seq order (max 0: no limit).
 * Thread-safe; runs on the caller's thread over its own connection, so it does not block
 * commits. Returns the number of rows passed to fn, fn's negative return, or OMB_EIO. */
int omb_store_read(struct omb_store *s, int64_t after_seq, size_t max, omb_store_row_fn fn,
                   void *arg);

/* The seq of the last committed row (0 when the journal is empty). Thread-safe. */
int64_t omb_store_last_seq(struct omb_store *s);

/* Copy the counters into *out. Thread-safe. */
void omb_store_stats(struct omb_store *s, struct omb_store_stats *out);

/* Copy the reason of the latest failed group into buf (empty when none failed). Thread-safe; from
 * an error ack it describes that ack's group. */
void omb_store_last_error(struct omb_store *s, char *buf, size_t len);

#endif /* OMNIBUS_STORE_H */
