/* The durable journal: an SQLite file (WAL, synchronous=FULL) where every accepted event is
 * written before it is acknowledged. Appends from any thread are queued and committed by one
 * writer thread owned by the store, many events per transaction (group commit); each append's
 * ack callback runs once its group is on disk, or has failed. */
#ifndef OMNIBUS_STORE_H
#define OMNIBUS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct omb_store;

#define OMB_STORE_SCHEMA_VERSION 1
#define OMB_STORE_GROUP_MAX 4096     /* default events per commit */
#define OMB_STORE_PENDING_MAX 8192   /* default bound of the queue waiting for a commit */
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
    int64_t prune_interval_ms; /* least time between prune passes (default 1000; negative:
                                * none, a pass after every commit) */
};

/* Counters, readable from any thread. */
struct omb_store_stats {
    uint64_t commits;       /* transactions committed */
    uint64_t events;        /* events committed */
    uint64_t largest_group; /* most events in one committed transaction */
    uint64_t failures;      /* groups that failed (every event of them acked with an error) */
    uint64_t duplicates;    /* appends dropped as repeats of a dedupe key (not journaled; not
                             * counted in events) */
};

/* One journal row, passed to an omb_store_row_fn. Every pointer is borrowed for the call only.
 * id, type and key are NULL when appended as NULL; env and body are NULL when their length is 0
 * (they are not NUL-terminated). */
struct omb_store_row {
    int64_t seq;
    const char *id;
    const char *source;
    const char *type;
    const char *key;
    const char *env;
    size_t env_len;
    const char *body;
    size_t body_len;
    int64_t received_us; /* wall clock (µs since the epoch) when omb_store_append was called */
    unsigned flags;      /* OMB_STORE_* flags given to omb_store_append */
};

/* An append flag: the body was not parsed by the source (emit_raw); whoever reads the row
 * checks that it is a JSON object before passing it on. */
#define OMB_STORE_UNCHECKED 1u
/* An append flag: not an event but a marker for the journal's readers (a route table swap). */
#define OMB_STORE_MARKER 2u

/* Called on the writer thread, in append order, once per successful append: rc 0 and the row's
 * seq once it is durably committed; or a negative enum omb_err (OMB_EIO) and seq 0 when its group
 * failed, in which case nothing of that group was committed (omb_store_last_error has the reason).
 * An append dropped as a duplicate (omb_store_append_event with a dedupe key seen within its
 * window) is acknowledged with rc 0 and a NEGATIVE seq: -(the seq of the event it repeats), once
 * the group it was in is committed; nothing of it was journaled. OMB_STORE_IS_DUPLICATE(seq, rc)
 * tells them apart. It must not call omb_store_close; it may call omb_store_append. */
typedef void (*omb_store_ack_fn)(void *arg, int64_t seq, int rc);
#define OMB_STORE_IS_DUPLICATE(seq, rc) ((rc) == 0 && (seq) < 0)

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
 * body, id, source, type and key are copied (id, source, type, key: NUL-terminated or NULL;
 * env/body may be NULL when their length is 0). ack (required) is called exactly once, later,
 * on the writer thread. Returns 0; OMB_EINVAL (no ack); OMB_ENOMEM; OMB_EAGAIN when pending_max
 * appends already wait for a commit (backpressure: try again later; ingress answers 503); or
 * OMB_ESTOPPED once the store is closing. On failure ack is never called and nothing was
 * queued. flags (OMB_STORE_*) are kept with the row. */
int omb_store_append(struct omb_store *s, const char *env, size_t env_len, const char *body,
                     size_t body_len, const char *id, const char *source, const char *type,
                     const char *key, unsigned flags, omb_store_ack_fn ack, void *arg);

/* ---- dedupe: idempotency keys ------------------------------------------------------------ */
/* A source may give an event an idempotency key (the envelope's "dedupe": a webhook's event id,
 * a POSLog store/workstation/day/sequence, a file checksum and line). The store keeps, per
 * (source, key), the seq of the event that carried it and until when it counts (its append
 * time plus the window given with it). An append whose key is still held for its source is a
 * duplicate: not journaled, acknowledged as described at omb_store_ack_fn, and counted in
 * omb_store_stats' duplicates; also when the first is in the same group. Past its window a key
 * is taken again as new (and held anew). Expired keys are deleted by the prune passes
 * (omb_store_set_prune). */

#define OMB_STORE_DEDUPE_MAX 256 /* bytes of a dedupe key, at most */

/* One event to append; pointers are borrowed for the call (copied). */
struct omb_store_event {
    const char *env; /* may be NULL when env_len is 0; not NUL-terminated */
    size_t env_len;
    const char *body; /* may be NULL when body_len is 0 */
    size_t body_len;
    const char *id; /* these four: NUL-terminated or NULL */
    const char *source;
    const char *type;
    const char *key;
    unsigned flags;           /* OMB_STORE_* */
    const char *dedupe;       /* idempotency key (1..OMB_STORE_DEDUPE_MAX bytes), or NULL/"" */
    int64_t dedupe_window_us; /* how long the key holds; <= 0: dedupe is off for this append */
};

/* omb_store_append with every member of *ev; the same returns, and OMB_EINVAL also for a
 * dedupe key longer than OMB_STORE_DEDUPE_MAX. */
int omb_store_append_event(struct omb_store *s, const struct omb_store_event *ev,
                           omb_store_ack_fn ack, void *arg);

/* Call fn for up to `max` committed rows with seq > after_seq, in seq order (max 0: no limit).
 * Thread-safe; runs on the caller's thread over its own connection, so it does not block
 * commits. Returns the number of rows passed to fn, fn's negative return, or OMB_EIO. */
int omb_store_read(struct omb_store *s, int64_t after_seq, size_t max, omb_store_row_fn fn,
                   void *arg);

/* Wait (at most timeout_ms) until every append queued so far is committed and acknowledged: an
 * acknowledgement may name an object its owner is about to free. True when none is left. */
bool omb_store_wait_acked(struct omb_store *s, int64_t timeout_ms);

/* Appends queued and not yet committed (their commit's on_commit and acks not yet run either).
 * Thread-safe. */
size_t omb_store_pending(struct omb_store *s);

/* The seq of the last committed row (0 when nothing was ever appended; pruning does not lower
 * it, and it survives a reopen). Thread-safe. */
int64_t omb_store_last_seq(struct omb_store *s);

/* Copy the counters into *out. Thread-safe. */
void omb_store_stats(struct omb_store *s, struct omb_store_stats *out);

/* Copy the reason of the latest failed group into buf (empty when none failed). Thread-safe; from
 * an error ack it describes that ack's group. */
void omb_store_last_error(struct omb_store *s, char *buf, size_t len);

/* ---- commits seen by others ------------------------------------------------------------ */

/* Called on the writer thread after every successful commit that added journal rows, with the
 * seq of the last committed row. Set before the first append; fn must be quick and must not
 * call back into the store except omb_store_last_seq. NULL fn: none. */
typedef void (*omb_store_commit_fn)(void *arg, int64_t last_seq);
void omb_store_on_commit(struct omb_store *s, omb_store_commit_fn fn, void *arg);

/* Bytes of the file in use (pages in use × page size, free pages not counted), as of the latest
 * commit or prune. Thread-safe. */
int64_t omb_store_used_bytes(struct omb_store *s);

/* ---- consumer cursors ------------------------------------------------------------------- */
/* A consumer (a destination, by name) has a durable cursor: every journal row with seq <= cursor
 * is done for it. Pruning deletes journal rows that every consumer is done with. */

/* The consumer's cursor, created at the journal's last committed seq if it has none; committed
 * before it returns. Any thread (it waits for the writer) but the writer's: from an ack or
 * commit callback it and the other waiting calls below return OMB_EINVAL. 0, OMB_EINVAL (also
 * a NULL or empty consumer), OMB_EIO, OMB_ESTOPPED. */
int omb_store_cursor_init(struct omb_store *s, const char *consumer, int64_t *seq);

/* Move the consumer's cursor to seq (creating it if missing), in the next group commit (several
 * sets of one consumer before a commit write only the last). Returns at once: 0, OMB_EINVAL
 * (NULL or empty consumer, seq < 0), OMB_ENOMEM, OMB_ESTOPPED. Work queued before it (parked
 * rows added) is committed in the same or an earlier transaction. If its group fails the move
 * is lost (the next set writes it). */
int omb_store_cursor_set(struct omb_store *s, const char *consumer, int64_t seq);

/* Forget a consumer's cursor (a destination removed from the config); committed before it
 * returns. 0 (also when it had none), OMB_EIO, OMB_ESTOPPED. */
int omb_store_cursor_drop(struct omb_store *s, const char *consumer);

/* Call fn for every cursor, by consumer name. Any thread; fn must not read from the store.
 * 0, OMB_EINVAL or OMB_EIO. */
typedef void (*omb_store_cursor_fn)(void *arg, const char *consumer, int64_t seq);
int omb_store_cursors(struct omb_store *s, omb_store_cursor_fn fn, void *arg);

/* Allow the writer to prune (off at open): at most once a second (prune_interval_ms), after a
 * commit (or once soon after open), it deletes journal rows with seq <= the smallest cursor
 * (<= the last seq when there is no cursor), in chunks so that no transaction grows large, and
 * dedupe keys whose window has passed. Turn it on once every consumer has its cursor. A failed pass leaves its reason in
 * omb_store_last_error. */
void omb_store_set_prune(struct omb_store *s, bool on);

/* The smallest seq still in the journal (0 when empty). Any thread. */
int64_t omb_store_first_seq(struct omb_store *s);

/* ---- per-thread readers ----------------------------------------------------------------- */

/* A reader: its own connection and statements, for one thread at a time, so that consumers on
 * different threads never wait for each other or for a commit. Open returns a new reader (the
 * caller's) or NULL with a message in err; it does not refer to the store once open. Close is
 * NULL-safe and sets *rp to NULL. */
struct omb_store_reader;
struct omb_store_reader *omb_store_reader_open(struct omb_store *s, char *err, size_t errlen);
void omb_store_reader_close(struct omb_store_reader **rp);
/* As omb_store_read, over the reader's own connection. */
int omb_store_reader_journal(struct omb_store_reader *r, int64_t after_seq, size_t max,
                             omb_store_row_fn fn, void *arg);

/* ---- parked deliveries: dead letters, held (paused route) and replays ------------------------ */

/* One parked delivery: an event as it was to be delivered (after the route's transform) to one
 * consumer by one route. Pointers are borrowed (for the call, or for the row callback). Strings
 * may be NULL; env/body are not NUL-terminated (NULL when their length is 0). */
struct omb_store_parked {
    int64_t id;        /* assigned by the store; ignored by omb_store_parked_add */
    const char *state; /* "dead", "held" or "replay" */
    const char *consumer;
    const char *route;
    int64_t seq; /* the journal seq of the event it came from */
    const char *event_id;
    const char *type;
    const char *key;
    const char *env;
    size_t env_len;
    const char *body;
    size_t body_len;
    int64_t attempts;
    const char *first_error;
    const char *last_error;
    const char *errors;  /* JSON array text, one {"at": µs, "error": "..."} per attempt kept */
    int64_t first_at_us; /* first attempt (or when parked, for held rows) */
    int64_t last_at_us;  /* latest attempt */
};

/* Which parked rows: a NULL/0 member matches all. */
struct omb_store_parked_filter {
    const char *state;
    const char *consumer;
    const char *route;
    const char *type;
    int64_t id;            /* one row */
    int64_t after_id;      /* rows with id > after_id */
    int64_t max_id;        /* rows with id <= max_id */
    int64_t older_than_us; /* rows with last_at_us < older_than_us */
};

/* Park a row in the next group commit (in queue order with appends and cursor sets); ack (may
 * be NULL) as for omb_store_append, its seq argument being the new row's id. Returns at once:
 * 0, OMB_EINVAL (NULL p, a state other than the three, NULL bytes with a length), OMB_ENOMEM,
 * OMB_ESTOPPED. Not bounded by pending_max: a consumer parking a row must never be refused. */
int omb_store_parked_add(struct omb_store *s, const struct omb_store_parked *p,
                         omb_store_ack_fn ack, void *arg);

/* Call fn for up to max (0: no limit) matching rows in id order. Any thread; reads committed
 * rows; fn must not read from the store. Returns the number passed to fn, fn's negative
 * return, OMB_EINVAL (a NULL argument: pass an all-zero filter for every row) or OMB_EIO. fn
 * returns as for omb_store_row_fn. */
typedef int (*omb_store_parked_fn)(void *arg, const struct omb_store_parked *row);
int omb_store_parked_list(struct omb_store *s, const struct omb_store_parked_filter *f, size_t max,
                          omb_store_parked_fn fn, void *arg);

/* Count matching rows into *n. 0, OMB_EINVAL or OMB_EIO. */
int omb_store_parked_count(struct omb_store *s, const struct omb_store_parked_filter *f,
                           int64_t *n);

/* Set the state of every matching row (state non-NULL) and, when body is non-NULL, replace the
 * body (only allowed with f->id set: one row); committed before it returns (through the
 * writer). *changed (may be NULL) gets the number of rows changed. 0, OMB_EINVAL (NULL f, both
 * state and body NULL, an unknown state, a body without f->id), OMB_EIO, OMB_ESTOPPED. */
int omb_store_parked_update(struct omb_store *s, const struct omb_store_parked_filter *f,
                            const char *state, const char *body, size_t body_len, int64_t *changed);

/* Delete every matching row; committed before it returns. *deleted may be NULL. 0, OMB_EIO,
 * OMB_ESTOPPED. A NULL or all-NULL filter is refused (OMB_EINVAL): dropping everything is spelt
 * with an explicit state. */
int omb_store_parked_delete(struct omb_store *s, const struct omb_store_parked_filter *f,
                            int64_t *deleted);

/* ---- connectors' durable state (store_state.c) ---- */

/* Store value (len bytes; NULL: delete) under (owner, key), returning once committed: 0,
 * OMB_EINVAL, OMB_ESTOPPED, or OMB_EIO. Not from the writer thread. */
int omb_store_state_put(struct omb_store *s, const char *owner, const char *key,
                        const char *value, size_t len);
/* The committed value under (owner, key): 0 with a new NUL-terminated copy in *value (the
 * caller's) and its length, OMB_ENOTFOUND, or OMB_EIO. Any thread. */
int omb_store_state_get(struct omb_store *s, const char *owner, const char *key, char **value,
                        size_t *len);

#endif /* OMNIBUS_STORE_H */
