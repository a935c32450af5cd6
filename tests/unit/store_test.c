/* Unit test: core/src/store.c, store_ops.c and store_read.c (the SQLite journal with group
 * commit, consumer cursors, pruning, readers and parked deliveries). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "testlib.h"
#include <omnibus/err.h>

#define THREADS 2
#define PER_THREAD 5000
#define TOTAL (THREADS * PER_THREAD)

static char dir[1024];

/* A fresh path under $top_builddir/tests/tmp/store_test/, with no leftovers. */
static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char p[1200];
        snprintf(p, sizeof(p), "%s%s", buf, suffixes[i]);
        unlink(p);
    }
}

/* A count of acks, bumped on the writer thread and awaited on the test's. */
struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
};

#define COUNTER_INIT                                                                               \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0                                     \
    }

static void bump(struct counter *c)
{
    pthread_mutex_lock(&c->mu);
    c->n++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int count_of(struct counter *c)
{
    pthread_mutex_lock(&c->mu);
    int n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Waits (without asserting any duration) for a counter to reach n; gives up after 5 minutes so
 * that a bug fails the test rather than hanging it. */
static void wait_for(struct counter *c, int n)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 300;
    pthread_mutex_lock(&c->mu);
    while (c->n < n && pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == 0) {
    }
    CHECK(c->n == n);
    pthread_mutex_unlock(&c->mu);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Polls cond(s) until true or a minute passes (valgrind is slow); returns the last answer. */
static bool eventually(bool (*cond)(struct omb_store *s, int64_t v), struct omb_store *s, int64_t v)
{
    for (int i = 0; i < 60000; i++) {
        if (cond(s, v)) {
            return true;
        }
        sleep_ms(1);
    }
    return cond(s, v);
}

struct cursor_find {
    const char *consumer;
    int64_t seq;
    char names[256]; /* "a=5,b=2," in listing order */
};

static void find_cursor(void *arg, const char *consumer, int64_t seq)
{
    struct cursor_find *cf = arg;
    if (strcmp(consumer, cf->consumer) == 0) {
        cf->seq = seq;
    }
    size_t n = strlen(cf->names);
    snprintf(cf->names + n, sizeof(cf->names) - n, "%s=%" PRId64 ",", consumer, seq);
}

/* The committed cursor of consumer, or -1 when it has none. */
static int64_t cursor_of(struct omb_store *s, const char *consumer)
{
    struct cursor_find cf = {.consumer = consumer, .seq = -1};
    CHECK(omb_store_cursors(s, find_cursor, &cf) == 0);
    return cf.seq;
}

/* ---- the event of (thread, index), regenerated for comparison ---------------------------- */

struct event {
    char env[96];
    size_t env_len;
    char body[160];
    size_t body_len;
    char id[32];
    char source[32];
    char key[32];
};

static void make_event(int t, int i, struct event *ev)
{
    /* The envelope is binary, NULs and high bytes included. */
    size_t n = 0;
    for (int k = 0; k < 40 + (i % 50); k++) {
        ev->env[n++] = (char)((t * 131 + i * 7 + k * 13) & 0xff);
    }
    ev->env[3] = '\0';
    ev->env_len = n;
    int len = snprintf(ev->body, sizeof(ev->body),
                       "{\"n\":%" PRId64 ",\"name\":\"Zoë Ünïcødé — 日本語 🚀\",\"i\":%d}",
                       (int64_t)INT64_MAX - i, i);
    ev->body_len = (size_t)len;
    snprintf(ev->id, sizeof(ev->id), "evt-%d-%05d", t, i);
    snprintf(ev->source, sizeof(ev->source), "shopify:shop-%d", t);
    snprintf(ev->key, sizeof(ev->key), "key-%d", i % 17);
}

/* ---- concurrent appends --------------------------------------------------------------------- */

struct slot {
    int t, i;
    int acks; /* written on the writer thread only */
    int rc;
    int64_t seq;
};

static struct slot slots[THREADS][PER_THREAD];
static struct slot *ack_log[TOTAL + 16]; /* in ack order */
static int ack_log_n;                    /* writer thread only */
static struct counter acked = COUNTER_INIT;

static void ack_slot(void *arg, int64_t seq, int rc)
{
    struct slot *sl = arg;
    sl->acks++;
    sl->rc = rc;
    sl->seq = seq;
    if (ack_log_n < (int)(sizeof(ack_log) / sizeof(ack_log[0]))) {
        ack_log[ack_log_n++] = sl;
    }
    bump(&acked);
}

struct producer {
    struct omb_store *s;
    int t;
    int failed;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        struct event ev;
        make_event(p->t, i, &ev);
        struct slot *sl = &slots[p->t][i];
        sl->t = p->t;
        sl->i = i;
        if (omb_store_append(p->s, ev.env, ev.env_len, ev.body, ev.body_len, ev.id, ev.source,
                             "order.created", ev.key, 0, ack_slot, sl) != 0) {
            p->failed++;
        }
    }
    return NULL;
}

struct readback {
    int rows;
    int mismatches;
    int64_t prev_seq;
    int64_t first_seq;
};

static int check_row(void *arg, const struct omb_store_row *row)
{
    struct readback *rb = arg;
    int t = -1, i = -1;
    if (rb->rows == 0) {
        rb->first_seq = row->seq;
    }
    rb->rows++;
    if (row->seq <= rb->prev_seq) {
        rb->mismatches++;
    }
    rb->prev_seq = row->seq;
    if (!row->id || sscanf(row->id, "evt-%d-%d", &t, &i) != 2 || t < 0 || t >= THREADS || i < 0 ||
        i >= PER_THREAD) {
        rb->mismatches++;
        return 0;
    }
    struct event ev;
    make_event(t, i, &ev);
    if (slots[t][i].seq != row->seq || strcmp(row->id, ev.id) != 0 || !row->source ||
        strcmp(row->source, ev.source) != 0 || !row->type ||
        strcmp(row->type, "order.created") != 0 || !row->key || strcmp(row->key, ev.key) != 0 ||
        row->env_len != ev.env_len || memcmp(row->env, ev.env, ev.env_len) != 0 ||
        row->body_len != ev.body_len || memcmp(row->body, ev.body, ev.body_len) != 0 ||
        row->received_us <= 0) {
        rb->mismatches++;
    }
    return 0;
}

static void test_concurrent(const char *path)
{
    char err[512];
    /* Room for every append at once: the producers outrun the disk, and this test is about
     * order and content, not backpressure (test_close_pending has that). */
    struct omb_store_opts opts = {.pending_max = TOTAL};
    struct omb_store *s = omb_store_open(path, &opts, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(omb_store_last_seq(s) == 0);
    CHECK(omb_store_append(s, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL) == OMB_EINVAL);
    CHECK(omb_store_append(s, NULL, 3, NULL, 0, NULL, NULL, NULL, NULL, 0, ack_slot, NULL) ==
          OMB_EINVAL);
    CHECK(omb_store_append(s, NULL, 0, NULL, 3, NULL, NULL, NULL, NULL, 0, ack_slot, NULL) ==
          OMB_EINVAL);
    CHECK(omb_store_append(NULL, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, 0, ack_slot, NULL) ==
          OMB_EINVAL);

    pthread_t th[THREADS];
    struct producer p[THREADS];
    for (int t = 0; t < THREADS; t++) {
        p[t] = (struct producer){.s = s, .t = t};
        pthread_create(&th[t], NULL, produce, &p[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK(p[t].failed == 0);
    }
    wait_for(&acked, TOTAL);

    /* Acked once each, rc 0; per thread, ack order is append order and seqs strictly increase. */
    int bad = 0;
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < PER_THREAD; i++) {
            bad += slots[t][i].acks != 1 || slots[t][i].rc != 0 || slots[t][i].seq <= 0;
        }
    }
    CHECK(bad == 0);
    CHECK(ack_log_n == TOTAL);
    int64_t last_seq[THREADS] = {0};
    int last_i[THREADS] = {-1, -1};
    int order = 0;
    for (int k = 0; k < ack_log_n; k++) {
        struct slot *sl = ack_log[k];
        order += sl->seq <= last_seq[sl->t] || sl->i != last_i[sl->t] + 1;
        last_seq[sl->t] = sl->seq;
        last_i[sl->t] = sl->i;
    }
    CHECK(order == 0);
    CHECK(omb_store_last_seq(s) == TOTAL);

    /* Groups formed under load. */
    struct omb_store_stats stats;
    omb_store_stats(s, &stats);
    CHECK(stats.events == TOTAL);
    CHECK(stats.commits < stats.events);
    CHECK(stats.largest_group > 1 && stats.largest_group <= OMB_STORE_GROUP_MAX);
    CHECK(stats.failures == 0);
    printf("concurrent: %" PRIu64 " events in %" PRIu64 " commits, largest group %" PRIu64 "\n",
           stats.events, stats.commits, stats.largest_group);

    /* Read back, byte for byte, while the store is open. */
    struct readback rb = {0};
    CHECK(omb_store_read(s, 0, 0, check_row, &rb) == TOTAL);
    CHECK(rb.rows == TOTAL && rb.mismatches == 0 && rb.first_seq == 1);
    omb_store_close(&s);
    CHECK(s == NULL);
    omb_store_close(&s); /* twice is fine */
}

/* ---- reopen and resume ---------------------------------------------------------------------- */

struct resume {
    int rows;
    int64_t next;
    int gaps;
};

static int count_row(void *arg, const struct omb_store_row *row)
{
    struct resume *r = arg;
    r->gaps += row->seq != r->next;
    r->next = row->seq + 1;
    r->rows++;
    return 0;
}

static int stop_at_3(void *arg, const struct omb_store_row *row)
{
    (void)row;
    return ++*(int *)arg == 3 ? 1 : 0;
}

static int abort_row(void *arg, const struct omb_store_row *row)
{
    (void)arg;
    (void)row;
    return OMB_EREJECT;
}

/* Keeps the scalars of the last row; its pointers only as NULL or not. */
static int keep_row(void *arg, const struct omb_store_row *row)
{
    struct omb_store_row *out = arg;
    static const char set[] = "set";
    *out = (struct omb_store_row){
        .seq = row->seq,
        .id = row->id ? set : NULL,
        .source = row->source ? set : NULL,
        .type = row->type ? set : NULL,
        .key = row->key ? set : NULL,
        .env = row->env ? set : NULL,
        .env_len = row->env_len,
        .body = row->body ? set : NULL,
        .body_len = row->body_len,
        .received_us = row->received_us,
    };
    return 0;
}

static struct counter one_acked = COUNTER_INIT;
static int64_t one_seq;
static int one_rc;

static void ack_one(void *arg, int64_t seq, int rc)
{
    (void)arg;
    one_seq = seq;
    one_rc = rc;
    bump(&one_acked);
}

static void test_reopen(const char *path)
{
    char err[512];
    struct omb_store *s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "reopen: %s\n", err);
        return;
    }
    CHECK(omb_store_last_seq(s) == TOTAL);
    const int64_t after = 4321;
    struct resume r = {.next = after + 1};
    CHECK(omb_store_read(s, after, 0, count_row, &r) == TOTAL - after);
    CHECK(r.rows == TOTAL - after && r.gaps == 0 && r.next == TOTAL + 1);
    r = (struct resume){.next = after + 1};
    CHECK(omb_store_read(s, after, 10, count_row, &r) == 10);
    CHECK(r.rows == 10 && r.gaps == 0);
    r = (struct resume){.next = 0};
    CHECK(omb_store_read(s, TOTAL, 0, count_row, &r) == 0 && r.rows == 0);
    int seen = 0;
    CHECK(omb_store_read(s, 0, 0, stop_at_3, &seen) == 3 && seen == 3);
    CHECK(omb_store_read(s, 0, 0, abort_row, NULL) == OMB_EREJECT);

    /* The next append continues the sequence; empty blobs and NULL texts round-trip. */
    CHECK(omb_store_append(s, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, 0, ack_one, NULL) == 0);
    wait_for(&one_acked, 1);
    CHECK(one_rc == 0 && one_seq == TOTAL + 1 && omb_store_last_seq(s) == TOTAL + 1);
    struct omb_store_row got = {0};
    CHECK(omb_store_read(s, TOTAL, 0, keep_row, &got) == 1);
    CHECK(got.seq == TOTAL + 1 && got.id == NULL && got.source == NULL && got.type == NULL &&
          got.key == NULL && got.env == NULL && got.env_len == 0 && got.body == NULL &&
          got.body_len == 0 && got.received_us > 0);
    omb_store_close(&s);
}

/* ---- connectors' state ---------------------------------------------------------------------- */

/* Put, overwrite, an empty value, owners apart, delete, and what survives a reopen. */
static void test_state(void)
{
    char path[1100], err[512];
    tmp_path(path, sizeof(path), "state.db");
    unlink(path);
    struct omb_store *s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    char *v = NULL;
    size_t n = 0;
    CHECK(omb_store_state_get(s, "shop", "idmap", &v, &n) == OMB_ENOTFOUND && v == NULL);
    CHECK(omb_store_state_put(s, "shop", "idmap", "{\"A\":1}", 7) == 0);
    CHECK(omb_store_state_put(s, "shop", "idmap", "{\"A\":2}", 7) == 0);
    CHECK(omb_store_state_put(s, "shop", "empty", "", 0) == 0);
    CHECK(omb_store_state_put(s, "other", "idmap", "[]", 2) == 0);
    CHECK(omb_store_state_put(s, "shop", "gone", "1", 1) == 0);
    CHECK(omb_store_state_put(s, "shop", "gone", NULL, 0) == 0);
    CHECK(omb_store_state_put(s, "", "k", "1", 1) == OMB_EINVAL);
    CHECK(omb_store_state_put(s, "shop", "", "1", 1) == OMB_EINVAL);
    CHECK(omb_store_state_get(s, "shop", "idmap", &v, &n) == 0 && n == 7 && v &&
          strcmp(v, "{\"A\":2}") == 0);
    free(v);
    omb_store_close(&s);

    s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    CHECK(omb_store_state_get(s, "shop", "idmap", &v, &n) == 0 && v && strcmp(v, "{\"A\":2}") == 0);
    free(v);
    CHECK(omb_store_state_get(s, "shop", "empty", &v, &n) == 0 && v && n == 0);
    free(v);
    CHECK(omb_store_state_get(s, "other", "idmap", &v, &n) == 0 && v && strcmp(v, "[]") == 0);
    free(v);
    CHECK(omb_store_state_get(s, "shop", "gone", &v, &n) == OMB_ENOTFOUND);
    omb_store_close(&s);
}

/* ---- refusals ------------------------------------------------------------------------------- */

static void test_refusals(void)
{
    char path[1100], err[512];
    tmp_path(path, sizeof(path), "newer.db");
    struct omb_store *s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s != NULL);
    omb_store_close(&s);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL) ==
          SQLITE_OK);
    sqlite3_close(db);
    s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s == NULL);
    CHECK(strstr(err, "schema version 99 is newer") != NULL && strstr(err, path) != NULL);
    printf("newer schema: %s\n", err);

    snprintf(path, sizeof(path), "%s/no-such-dir/x.db", dir);
    s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s == NULL);
    CHECK(strstr(err, path) != NULL && strstr(err, strerror(ENOENT)) != NULL);
    printf("unwritable: %s\n", err);

    tmp_path(path, sizeof(path), "garbage.db");
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        for (int i = 0; i < 200; i++) {
            fputs("this is not an sqlite database\n", f);
        }
        fclose(f);
    }
    s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s == NULL && strstr(err, "not a database") != NULL);
    printf("garbage: %s\n", err);

    CHECK(omb_store_open(NULL, NULL, err, sizeof(err)) == NULL && err[0] != '\0');
    CHECK(omb_store_open(NULL, NULL, NULL, 0) == NULL);
}

/* ---- close with pending entries ------------------------------------------------------------- */

static struct counter close_acked = COUNTER_INIT;
static int close_bad;
static int64_t close_prev;

static void ack_close(void *arg, int64_t seq, int rc)
{
    (void)arg;
    close_bad += rc != 0 || seq <= close_prev;
    close_prev = seq;
    bump(&close_acked);
}

static void test_close_pending(void)
{
    char path[1100], err[512];
    tmp_path(path, sizeof(path), "pending.db");
    /* A long wait and a large group: nothing commits until close forces it. The queue holds 50:
     * the 51st append is pushed back, and nothing of it is queued or acked. */
    struct omb_store_opts opts = {
        .group_max = 1000, .group_wait_us = 60 * 1000000LL, .pending_max = 50};
    struct omb_store *s = omb_store_open(path, &opts, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    for (int i = 0; i < 50; i++) {
        char body[32];
        int n = snprintf(body, sizeof(body), "pending %d", i);
        CHECK(omb_store_append(s, "e", 1, body, (size_t)n, "id", "src", "t", "k", 0, ack_close,
                               NULL) == 0);
    }
    CHECK(omb_store_append(s, "e", 1, "x", 1, "id", "src", "t", "k", 0, ack_close, NULL) ==
          OMB_EAGAIN);
    omb_store_close(&s);
    CHECK(count_of(&close_acked) == 50 && close_bad == 0);

    s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s != NULL && omb_store_last_seq(s) == 50);
    omb_store_close(&s);
}

/* ---- a failed group commits nothing and the store stays usable ------------------------------ */

static struct counter fail_acked = COUNTER_INIT;
static int fail_rc[4];
static int64_t fail_seq[4];
static char fail_why[256];
static struct omb_store *fail_store;

static void ack_fail(void *arg, int64_t seq, int rc)
{
    int k = (int)(intptr_t)arg;
    fail_rc[k] = rc;
    fail_seq[k] = seq;
    if (rc != 0 && k == 0) {
        omb_store_last_error(fail_store, fail_why, sizeof(fail_why));
    }
    bump(&fail_acked);
}

static struct counter other_acked = COUNTER_INIT;
static int other_rc[2];
static int64_t other_seq[2];

static void ack_other(void *arg, int64_t seq, int rc)
{
    int k = count_of(&other_acked);
    if (k < 2) {
        other_rc[k] = rc;
        other_seq[k] = seq;
    }
    (void)arg;
    bump(&other_acked);
}

static void test_full(void)
{
    char path[1100], err[512];
    tmp_path(path, sizeof(path), "full.db");
    struct omb_store_opts opts = {
        .group_max = 3, .group_wait_us = 60 * 1000000LL, .max_bytes = 256 * 1024};
    struct omb_store *s = omb_store_open(path, &opts, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    fail_store = s;
    size_t big_len = 1024 * 1024;
    char *big = calloc(1, big_len);
    CHECK(big != NULL);
    /* One group of three (group_max fills it): small, too big, small. */
    CHECK(omb_store_append(s, "a", 1, "a", 1, "a", "s", "t", "k", 0, ack_fail, (void *)0) == 0);
    CHECK(omb_store_append(s, "b", 1, big, big_len, "b", "s", "t", "k", 0, ack_fail, (void *)1) == 0);
    CHECK(omb_store_append(s, "c", 1, "c", 1, "c", "s", "t", "k", 0, ack_fail, (void *)2) == 0);
    wait_for(&fail_acked, 3);
    CHECK(fail_rc[0] == OMB_EIO && fail_rc[1] == OMB_EIO && fail_rc[2] == OMB_EIO);
    CHECK(fail_seq[0] == 0 && fail_seq[1] == 0 && fail_seq[2] == 0);
    CHECK(strstr(fail_why, "full") != NULL);
    printf("full: %s\n", fail_why);
    CHECK(omb_store_last_seq(s) == 0);
    struct resume r = {.next = 1};
    CHECK(omb_store_read(s, 0, 0, count_row, &r) == 0);

    /* A group that fails for a full disk is committed again without its appends: cursor moves
     * and parked rows are what frees space (the prune follows the cursors), so they must not
     * keep failing with the appends that fill it. The append says OMB_EIO; the parked row and
     * the cursor init are committed. */
    CHECK(omb_store_append(s, "b", 1, big, big_len, "b", "s", "t", "k", 0, ack_other, NULL) == 0);
    struct omb_store_parked p = {.state = "dead", .consumer = "c"};
    CHECK(omb_store_parked_add(s, &p, ack_other, NULL) == 0);
    int64_t cseq = -1;
    CHECK(omb_store_cursor_init(s, "c", &cseq) == 0 && cseq == 0);
    wait_for(&other_acked, 2);
    CHECK(other_rc[0] == OMB_EIO && other_rc[1] == 0 && other_seq[1] >= 1);
    omb_store_last_error(s, fail_why, sizeof(fail_why));
    CHECK(strstr(fail_why, "1 event and 2 other operations failed") != NULL &&
          strstr(fail_why, "full") != NULL);
    printf("full, mixed group: %s\n", fail_why);
    int64_t n = -1;
    CHECK(omb_store_parked_count(s, &(struct omb_store_parked_filter){0}, &n) == 0 && n == 1);
    CHECK(cursor_of(s, "c") == 0);

    /* Still usable (close flushes the lone append despite the long wait). */
    CHECK(omb_store_append(s, "d", 1, "d", 1, "d", "s", "t", "k", 0, ack_fail, (void *)3) == 0);
    omb_store_close(&s);
    CHECK(count_of(&fail_acked) == 4 && fail_rc[3] == 0 && fail_seq[3] >= 1);
    s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s != NULL);
    r = (struct resume){.next = fail_seq[3]};
    CHECK(omb_store_read(s, 0, 0, count_row, &r) == 1 && r.gaps == 0);
    struct omb_store_stats stats;
    omb_store_stats(s, &stats);
    CHECK(stats.failures == 0 && stats.commits == 0); /* counters are per open */
    omb_store_close(&s);
    free(big);
}

/* ---- cursors -------------------------------------------------------------------------------- */

static void ack_ignore(void *arg, int64_t seq, int rc)
{
    (void)seq;
    (void)rc;
    if (arg) {
        bump(arg);
    }
}

/* Appends n small events and waits until they are committed. */
static void append_n(struct omb_store *s, int n, const char *source)
{
    struct counter c = COUNTER_INIT;
    for (int i = 0; i < n; i++) {
        char body[64];
        int len = snprintf(body, sizeof(body), "{\"i\":%d}", i);
        CHECK(omb_store_append(s, NULL, 0, body, (size_t)len, NULL, source, "t", NULL, 0, ack_ignore,
                               &c) == 0);
    }
    wait_for(&c, n);
}

static struct omb_store *open_fresh(const char *name, const struct omb_store_opts *opts)
{
    char path[1100], err[512];
    tmp_path(path, sizeof(path), name);
    struct omb_store *s = omb_store_open(path, opts, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open %s: %s\n", name, err);
    }
    return s;
}

static struct omb_store *reopen(const char *name)
{
    char path[1100], err[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct omb_store *s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s != NULL);
    return s;
}

static void noop_cursor(void *arg, const char *consumer, int64_t seq)
{
    (void)arg;
    (void)consumer;
    (void)seq;
}

static void test_cursors(void)
{
    struct omb_store *s = open_fresh("cursors.db", NULL);
    if (!s) {
        return;
    }
    int64_t seq = -1;
    CHECK(omb_store_cursor_init(s, "a", &seq) == 0 && seq == 0);
    append_n(s, 3, "src");
    CHECK(omb_store_cursor_init(s, "b", &seq) == 0 && seq == 3);
    append_n(s, 2, "src");
    /* An existing cursor is returned as it is, not moved to the end. */
    CHECK(omb_store_cursor_init(s, "b", &seq) == 0 && seq == 3);
    CHECK(omb_store_cursor_init(s, "a", &seq) == 0 && seq == 0);

    CHECK(omb_store_cursor_init(NULL, "a", &seq) == OMB_EINVAL);
    CHECK(omb_store_cursor_init(s, NULL, &seq) == OMB_EINVAL);
    CHECK(omb_store_cursor_init(s, "", &seq) == OMB_EINVAL);
    CHECK(omb_store_cursor_init(s, "a", NULL) == OMB_EINVAL);
    CHECK(omb_store_cursor_set(NULL, "a", 1) == OMB_EINVAL);
    CHECK(omb_store_cursor_set(s, NULL, 1) == OMB_EINVAL);
    CHECK(omb_store_cursor_set(s, "", 1) == OMB_EINVAL);
    CHECK(omb_store_cursor_set(s, "a", -1) == OMB_EINVAL);
    CHECK(omb_store_cursor_drop(NULL, "a") == OMB_EINVAL);
    CHECK(omb_store_cursor_drop(s, NULL) == OMB_EINVAL);
    CHECK(omb_store_cursors(NULL, noop_cursor, NULL) == OMB_EINVAL);
    CHECK(omb_store_cursors(s, NULL, NULL) == OMB_EINVAL);

    /* Several sets before a commit: the last wins. A set creates a missing cursor. The drop
     * of a consumer without a cursor commits whatever was queued before it. */
    CHECK(omb_store_cursor_set(s, "a", 4) == 0);
    CHECK(omb_store_cursor_set(s, "b", 1) == 0);
    CHECK(omb_store_cursor_set(s, "a", 5) == 0);
    CHECK(omb_store_cursor_set(s, "b", 2) == 0);
    CHECK(omb_store_cursor_set(s, "c", 1) == 0);
    CHECK(omb_store_cursor_drop(s, "nobody") == 0);
    struct cursor_find cf = {.consumer = "a"};
    CHECK(omb_store_cursors(s, find_cursor, &cf) == 0);
    CHECK_STR(cf.names, "a=5,b=2,c=1,");
    omb_store_close(&s);

    /* Durable across a reopen. */
    s = reopen("cursors.db");
    if (!s) {
        return;
    }
    CHECK(cursor_of(s, "a") == 5 && cursor_of(s, "b") == 2);
    CHECK(omb_store_cursor_init(s, "b", &seq) == 0 && seq == 2);
    CHECK(omb_store_cursor_drop(s, "b") == 0);
    CHECK(cursor_of(s, "b") == -1);
    cf = (struct cursor_find){.consumer = "a"};
    CHECK(omb_store_cursors(s, find_cursor, &cf) == 0);
    CHECK_STR(cf.names, "a=5,c=1,");
    /* A dropped cursor comes back at the end of the journal. */
    CHECK(omb_store_cursor_init(s, "b", &seq) == 0 && seq == 5);
    omb_store_close(&s);
}

/* ---- queue order and coalescing ------------------------------------------------------------- */

/* Holds the writer inside an ack until released, so that the test can queue work behind it. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered;
    bool released;
};

#define GATE_INIT                                                                                  \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false                          \
    }

static void gate_ack(void *arg, int64_t seq, int rc)
{
    struct gate *g = arg;
    (void)seq;
    (void)rc;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->released) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait(struct gate *g)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 300;
    pthread_mutex_lock(&g->mu);
    while (!g->entered && pthread_cond_timedwait(&g->cv, &g->mu, &deadline) == 0) {
    }
    CHECK(g->entered);
    pthread_mutex_unlock(&g->mu);
}

static void gate_release(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->released = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int64_t parked_total(struct omb_store *s)
{
    int64_t n = -1;
    CHECK(omb_store_parked_count(s, &(struct omb_store_parked_filter){0}, &n) == 0);
    return n;
}

static void test_queue_order(void)
{
    /* Groups of two, and no commit before a group fills: the groups are ours to shape. */
    struct omb_store_opts opts = {.group_max = 2, .group_wait_us = 60 * 1000000LL};
    struct omb_store *s = open_fresh("order.db", &opts);
    if (!s) {
        return;
    }
    struct gate g1 = GATE_INIT, g2 = GATE_INIT, g3 = GATE_INIT;
    struct counter acks = COUNTER_INIT;
    struct omb_store_stats st;

    /* The writer stops in the ack of a first group [B0, z]... */
    CHECK(omb_store_append(s, NULL, 0, "b0", 2, NULL, NULL, NULL, NULL, 0, gate_ack, &g1) == 0);
    CHECK(omb_store_cursor_set(s, "z", 0) == 0);
    gate_wait(&g1);
    /* ...while we queue [X, a=1], [P, a=2]: the second set must not overwrite the first, which
     * would commit a=2 before the parked row P queued ahead of it. */
    CHECK(omb_store_append(s, NULL, 0, "x", 1, NULL, NULL, NULL, NULL, 0, gate_ack, &g2) == 0);
    CHECK(omb_store_cursor_set(s, "a", 1) == 0);
    struct omb_store_parked p = {.state = "dead", .consumer = "a", .seq = 1};
    CHECK(omb_store_parked_add(s, &p, NULL, NULL) == 0);
    CHECK(omb_store_cursor_set(s, "a", 2) == 0);
    gate_release(&g1);
    gate_wait(&g2); /* [X, a=1] is committed, [P, a=2] is not */
    CHECK(cursor_of(s, "a") == 1 && parked_total(s) == 0);
    gate_release(&g2);
    CHECK(omb_store_cursor_drop(s, "nobody") == 0);
    CHECK(cursor_of(s, "a") == 2 && parked_total(s) == 1);

    /* With nothing but appends between them, sets of one consumer merge: [a=3, a=4, a=5, Y]
     * commits as the one group [a=5, Y]. */
    CHECK(omb_store_append(s, NULL, 0, "b1", 2, NULL, NULL, NULL, NULL, 0, gate_ack, &g3) == 0);
    CHECK(omb_store_cursor_set(s, "z", 1) == 0);
    gate_wait(&g3);
    omb_store_stats(s, &st);
    uint64_t commits = st.commits;
    CHECK(omb_store_cursor_set(s, "a", 3) == 0);
    CHECK(omb_store_cursor_set(s, "a", 4) == 0);
    CHECK(omb_store_cursor_set(s, "a", 5) == 0);
    CHECK(omb_store_append(s, NULL, 0, "y", 1, NULL, NULL, NULL, NULL, 0, ack_ignore, &acks) == 0);
    gate_release(&g3);
    wait_for(&acks, 1);
    omb_store_stats(s, &st);
    CHECK(st.commits == commits + 1);
    CHECK(cursor_of(s, "a") == 5);
    omb_store_close(&s);
}

/* ---- commit notifications ---------------------------------------------------------------------
 */

struct commit_seen {
    int calls;
    int64_t last;
    int bad;
};

/* On the writer thread; the test reads it after an ack or a waiting call, which orders it. */
static void on_commit(void *arg, int64_t last_seq)
{
    struct commit_seen *c = arg;
    c->bad += last_seq <= c->last;
    c->last = last_seq;
    c->calls++;
}

static void test_on_commit(void)
{
    struct omb_store_opts opts = {.group_wait_us = -1};
    struct omb_store *s = open_fresh("commit.db", &opts);
    if (!s) {
        return;
    }
    struct commit_seen c = {0};
    omb_store_on_commit(NULL, on_commit, &c); /* no store: nothing */
    omb_store_on_commit(s, on_commit, &c);
    for (int i = 1; i <= 20; i++) {
        append_n(s, 1, "src");
        CHECK(c.calls == i && c.last == i);
    }
    append_n(s, 30, "src"); /* in as many groups as it takes */
    CHECK(c.calls > 20 && c.calls <= 50 && c.last == 50 && c.bad == 0);
    /* Commits without journal rows are not reported. */
    int calls = c.calls;
    CHECK(omb_store_cursor_set(s, "a", 10) == 0);
    struct omb_store_parked p = {.state = "held"};
    CHECK(omb_store_parked_add(s, &p, NULL, NULL) == 0);
    CHECK(omb_store_cursor_drop(s, "nobody") == 0);
    CHECK(c.calls == calls);
    omb_store_on_commit(s, NULL, NULL);
    append_n(s, 1, "src");
    CHECK(c.calls == calls && omb_store_last_seq(s) == 51);
    omb_store_close(&s);
}

/* ---- pruning and sizes -------------------------------------------------------------------- */

static bool first_is(struct omb_store *s, int64_t v)
{
    return omb_store_first_seq(s) == v;
}

static void append_big(struct omb_store *s, int n)
{
    static char body[2000];
    struct counter c = COUNTER_INIT;
    memset(body, 'x', sizeof(body));
    for (int i = 0; i < n; i++) {
        CHECK(omb_store_append(s, NULL, 0, body, sizeof(body), NULL, "src", NULL, NULL, 0, ack_ignore,
                               &c) == 0);
    }
    wait_for(&c, n);
}

static void test_prune(void)
{
    struct omb_store_opts opts = {.prune_interval_ms = 20};
    struct omb_store *s = open_fresh("prune.db", &opts);
    if (!s) {
        return;
    }
    int64_t used0 = omb_store_used_bytes(s);
    CHECK(used0 > 0 && omb_store_first_seq(s) == 0);
    int64_t seq;
    CHECK(omb_store_cursor_init(s, "a", &seq) == 0 && seq == 0);
    CHECK(omb_store_cursor_init(s, "b", &seq) == 0 && seq == 0);
    append_big(s, 100);
    int64_t used1 = omb_store_used_bytes(s);
    CHECK(used1 > used0 + 100 * 2000);
    CHECK(omb_store_first_seq(s) == 1 && omb_store_last_seq(s) == 100);

    /* Off until turned on. */
    CHECK(omb_store_cursor_set(s, "a", 60) == 0);
    CHECK(omb_store_cursor_set(s, "b", 40) == 0);
    CHECK(omb_store_cursor_drop(s, "nobody") == 0);
    sleep_ms(100);
    CHECK(omb_store_first_seq(s) == 1);

    /* Up to the smallest cursor, and no further. */
    omb_store_set_prune(s, true);
    CHECK(eventually(first_is, s, 41));
    append_n(s, 1, "src");
    sleep_ms(100);
    CHECK(omb_store_first_seq(s) == 41);
    struct resume r = {.next = 41};
    CHECK(omb_store_read(s, 0, 0, count_row, &r) == 61 && r.gaps == 0);
    CHECK(omb_store_used_bytes(s) < used1); /* freed pages are not counted */

    /* The smallest cursor moves when it is dropped; with none left, everything goes. */
    CHECK(omb_store_cursor_drop(s, "b") == 0);
    CHECK(eventually(first_is, s, 61));
    CHECK(omb_store_cursor_drop(s, "a") == 0);
    CHECK(eventually(first_is, s, 0));
    r = (struct resume){.next = 0};
    CHECK(omb_store_read(s, 0, 0, count_row, &r) == 0);
    CHECK(omb_store_last_seq(s) == 101);

    omb_store_set_prune(NULL, true); /* no store: nothing */
    CHECK(omb_store_first_seq(NULL) == 0 && omb_store_used_bytes(NULL) == 0);
    omb_store_close(&s);

    /* The sequence goes on after a reopen of an empty journal. */
    s = reopen("prune.db");
    if (!s) {
        return;
    }
    CHECK(omb_store_last_seq(s) == 101 && omb_store_first_seq(s) == 0);
    append_n(s, 1, "src");
    CHECK(omb_store_last_seq(s) == 102 && omb_store_first_seq(s) == 102);
    omb_store_close(&s);
}

/* ---- readers on other threads --------------------------------------------------------------- */

#define READER_ROWS 2000

struct reader_run {
    struct omb_store *s;
    int64_t last;
    int rows;
    int bad;
    int errors;
};

static int reader_row(void *arg, const struct omb_store_row *row)
{
    struct reader_run *rr = arg;
    char want[32];
    snprintf(want, sizeof(want), "{\"i\":%d}", rr->rows);
    rr->bad += row->seq != rr->last + 1 || !row->source || strcmp(row->source, "reader") != 0 ||
               row->body_len != strlen(want) || memcmp(row->body, want, row->body_len) != 0;
    rr->last = row->seq;
    rr->rows++;
    return 0;
}

static void *read_along(void *arg)
{
    struct reader_run *rr = arg;
    char err[256];
    struct omb_store_reader *r = omb_store_reader_open(rr->s, err, sizeof(err));
    if (!r) {
        rr->errors++;
        return NULL;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 300;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (rr->rows >= READER_ROWS || now.tv_sec > deadline.tv_sec) {
            break;
        }
        int n = omb_store_reader_journal(r, rr->last, 37, reader_row, rr);
        if (n < 0) {
            rr->errors++;
            break;
        }
        if (n == 0) {
            sleep_ms(0);
        }
    }
    omb_store_reader_close(&r);
    return NULL;
}

static void test_readers(void)
{
    struct omb_store *s = open_fresh("readers.db", NULL);
    if (!s) {
        return;
    }
    char err[256];
    CHECK(omb_store_reader_open(NULL, err, sizeof(err)) == NULL && err[0] != '\0');
    CHECK(omb_store_reader_open(NULL, NULL, 0) == NULL);
    omb_store_reader_close(NULL);
    struct omb_store_reader *none = NULL;
    omb_store_reader_close(&none);
    CHECK(omb_store_reader_journal(NULL, 0, 0, reader_row, NULL) == OMB_EINVAL);
    CHECK(omb_store_read(NULL, 0, 0, reader_row, NULL) == OMB_EINVAL);
    CHECK(omb_store_read(s, 0, 0, NULL, NULL) == OMB_EINVAL);

    /* Two readers on their own threads follow the journal while it is written. */
    pthread_t th[2];
    struct reader_run rr[2] = {{.s = s}, {.s = s}};
    for (int k = 0; k < 2; k++) {
        pthread_create(&th[k], NULL, read_along, &rr[k]);
    }
    append_n(s, READER_ROWS, "reader");
    for (int k = 0; k < 2; k++) {
        pthread_join(th[k], NULL);
        CHECK(rr[k].rows == READER_ROWS && rr[k].bad == 0 && rr[k].errors == 0);
    }

    /* A reader reads as omb_store_read does: the same rows, the same limits and stops. */
    struct omb_store_reader *r = omb_store_reader_open(s, err, sizeof(err));
    CHECK(r != NULL);
    if (r) {
        CHECK(omb_store_reader_journal(r, 0, 0, NULL, NULL) == OMB_EINVAL);
        struct resume a = {.next = 11}, b = {.next = 11};
        CHECK(omb_store_reader_journal(r, 10, 25, count_row, &a) == 25);
        CHECK(omb_store_read(s, 10, 25, count_row, &b) == 25);
        CHECK(a.rows == 25 && a.gaps == 0 && b.rows == 25 && b.gaps == 0 && a.next == b.next);
        int seen = 0;
        CHECK(omb_store_reader_journal(r, 0, 0, stop_at_3, &seen) == 3 && seen == 3);
        CHECK(omb_store_reader_journal(r, 0, 0, abort_row, NULL) == OMB_EREJECT);
        omb_store_reader_close(&r);
        CHECK(r == NULL);
    }
    /* A reader may outlive the store. */
    r = omb_store_reader_open(s, err, sizeof(err));
    omb_store_close(&s);
    struct resume c = {.next = 1};
    CHECK(r != NULL && omb_store_reader_journal(r, 0, 0, count_row, &c) == READER_ROWS);
    omb_store_reader_close(&r);
}

/* ---- parked deliveries ---------------------------------------------------------------------- */

struct parked_seen {
    char ids[256]; /* "1,3,5," */
    int stop_after;
    int n;
    struct omb_store_parked first; /* scalars of the first row; strings copied below */
    char strs[9][64];
    char env[16], body[16];
    bool strs_null[9];
};

static int see_parked(void *arg, const struct omb_store_parked *p)
{
    struct parked_seen *ps = arg;
    size_t len = strlen(ps->ids);
    snprintf(ps->ids + len, sizeof(ps->ids) - len, "%" PRId64 ",", p->id);
    if (ps->n++ == 0) {
        ps->first = *p;
        const char *strs[] = {p->state, p->consumer,    p->route,      p->event_id, p->type,
                              p->key,   p->first_error, p->last_error, p->errors};
        for (int k = 0; k < 9; k++) {
            ps->strs_null[k] = strs[k] == NULL;
            snprintf(ps->strs[k], sizeof(ps->strs[k]), "%s", strs[k] ? strs[k] : "");
        }
        snprintf(ps->env, sizeof(ps->env), "%.*s", (int)p->env_len, p->env ? p->env : "");
        snprintf(ps->body, sizeof(ps->body), "%.*s", (int)p->body_len, p->body ? p->body : "");
    }
    return ps->stop_after && ps->n == ps->stop_after ? 1 : 0;
}

static int abort_parked(void *arg, const struct omb_store_parked *p)
{
    (void)arg;
    (void)p;
    return OMB_EREJECT;
}

/* The ids listed by filter f ("1,3,5,"), into buf. */
static const char *ids_of(struct omb_store *s, const struct omb_store_parked_filter *f, char *buf,
                          size_t len)
{
    struct parked_seen ps = {0};
    int n = omb_store_parked_list(s, f, 0, see_parked, &ps);
    snprintf(buf, len, "%s", n < 0 ? "error" : ps.ids);
    return buf;
}

static int64_t count_of_filter(struct omb_store *s, const struct omb_store_parked_filter *f)
{
    int64_t n = -1;
    CHECK(omb_store_parked_count(s, f, &n) == 0);
    return n;
}

static struct counter parked_acked = COUNTER_INIT;
static int64_t parked_ids[8];

static void ack_parked(void *arg, int64_t id, int rc)
{
    int k = (int)(intptr_t)arg;
    parked_ids[k] = rc == 0 ? id : -1;
    bump(&parked_acked);
}

static void test_parked(void)
{
    struct omb_store *s = open_fresh("parked.db", NULL);
    if (!s) {
        return;
    }
    typedef struct omb_store_parked_filter F;
    char buf[256];
    const struct omb_store_parked rows[] = {
        {.state = "dead",
         .consumer = "c1",
         .route = "r1",
         .seq = 11,
         .event_id = "e1",
         .type = "order.created",
         .key = "k1",
         .env = "E1\0x",
         .env_len = 4,
         .body = "B1",
         .body_len = 2,
         .attempts = 3,
         .first_error = "HTTP 500",
         .last_error = "HTTP 502",
         .errors = "[{\"at\":90,\"error\":\"HTTP 500\"}]",
         .first_at_us = 90,
         .last_at_us = 100,
         .id = 77 /* ignored */},
        {.state = "held", .consumer = "c1", .route = "r2", .type = "order.paid", .last_at_us = 200},
        {.state = "dead",
         .consumer = "c2",
         .route = "r1",
         .type = "order.created",
         .last_at_us = 300},
        {.state = "replay",
         .consumer = "c2",
         .route = "r2",
         .type = "order.paid",
         .last_at_us = 400},
        {.state = "dead", .consumer = "c1", .route = "r1", .type = "order.paid", .last_at_us = 500},
    };
    for (int k = 0; k < 5; k++) {
        CHECK(omb_store_parked_add(s, &rows[k], ack_parked, (void *)(intptr_t)k) == 0);
    }
    wait_for(&parked_acked, 5);
    CHECK(parked_ids[0] == 1 && parked_ids[4] == 5);
    /* No ack is fine; a later waiting call orders it. */
    struct omb_store_parked bare = {.state = "held"};
    CHECK(omb_store_parked_add(s, &bare, NULL, NULL) == 0);
    CHECK(omb_store_cursor_drop(s, "nobody") == 0);

    CHECK(omb_store_parked_add(NULL, &bare, NULL, NULL) == OMB_EINVAL);
    CHECK(omb_store_parked_add(s, NULL, NULL, NULL) == OMB_EINVAL);
    CHECK(omb_store_parked_add(s, &(struct omb_store_parked){0}, NULL, NULL) == OMB_EINVAL);
    CHECK(omb_store_parked_add(s, &(struct omb_store_parked){.state = "gone"}, NULL, NULL) ==
          OMB_EINVAL);
    CHECK(omb_store_parked_add(s, &(struct omb_store_parked){.state = "dead", .env_len = 1}, NULL,
                               NULL) == OMB_EINVAL);
    CHECK(omb_store_parked_add(s, &(struct omb_store_parked){.state = "dead", .body_len = 1}, NULL,
                               NULL) == OMB_EINVAL);

    /* Every field round-trips; NULLs stay NULL. */
    struct parked_seen ps = {0};
    CHECK(omb_store_parked_list(s, &(F){.id = 1}, 0, see_parked, &ps) == 1);
    const char *want[] = {"dead",
                          "c1",
                          "r1",
                          "e1",
                          "order.created",
                          "k1",
                          "HTTP 500",
                          "HTTP 502",
                          "[{\"at\":90,\"error\":\"HTTP 500\"}]"};
    for (int k = 0; k < 9; k++) {
        CHECK_STR(ps.strs[k], want[k]);
    }
    CHECK(ps.first.id == 1 && ps.first.seq == 11 && ps.first.attempts == 3 &&
          ps.first.first_at_us == 90 && ps.first.last_at_us == 100);
    CHECK(ps.first.env_len == 4 && ps.env[0] == 'E' && ps.env[1] == '1' && ps.env[2] == '\0');
    CHECK(ps.first.body_len == 2 && strcmp(ps.body, "B1") == 0);
    ps = (struct parked_seen){0};
    CHECK(omb_store_parked_list(s, &(F){.id = 6}, 0, see_parked, &ps) == 1);
    CHECK(ps.first.env == NULL && ps.first.env_len == 0 && ps.first.body == NULL &&
          ps.first.body_len == 0 && ps.strs_null[1] && ps.strs_null[8] && !ps.strs_null[0]);

    /* Each filter member, and two together. */
    CHECK_STR(ids_of(s, &(F){0}, buf, sizeof(buf)), "1,2,3,4,5,6,");
    CHECK_STR(ids_of(s, &(F){.state = "dead"}, buf, sizeof(buf)), "1,3,5,");
    CHECK_STR(ids_of(s, &(F){.consumer = "c1"}, buf, sizeof(buf)), "1,2,5,");
    CHECK_STR(ids_of(s, &(F){.route = "r2"}, buf, sizeof(buf)), "2,4,");
    CHECK_STR(ids_of(s, &(F){.type = "order.paid"}, buf, sizeof(buf)), "2,4,5,");
    CHECK_STR(ids_of(s, &(F){.id = 3}, buf, sizeof(buf)), "3,");
    CHECK_STR(ids_of(s, &(F){.after_id = 4}, buf, sizeof(buf)), "5,6,");
    CHECK_STR(ids_of(s, &(F){.older_than_us = 300}, buf, sizeof(buf)), "1,2,6,");
    CHECK_STR(ids_of(s, &(F){.consumer = "c1", .state = "dead"}, buf, sizeof(buf)), "1,5,");
    CHECK_STR(ids_of(s, &(F){.state = "dead'; DROP TABLE parked; --"}, buf, sizeof(buf)), "");
    CHECK(count_of_filter(s, &(F){0}) == 6);
    CHECK(count_of_filter(s, &(F){.state = "dead", .route = "r1"}) == 3);
    CHECK(count_of_filter(s, &(F){.consumer = "nobody"}) == 0);

    /* Limits, stops and aborts. */
    ps = (struct parked_seen){0};
    CHECK(omb_store_parked_list(s, &(F){0}, 2, see_parked, &ps) == 2);
    CHECK_STR(ps.ids, "1,2,");
    ps = (struct parked_seen){.stop_after = 3};
    CHECK(omb_store_parked_list(s, &(F){.after_id = 1}, 0, see_parked, &ps) == 3);
    CHECK_STR(ps.ids, "2,3,4,");
    CHECK(omb_store_parked_list(s, &(F){0}, 0, abort_parked, NULL) == OMB_EREJECT);

    int64_t n = 0;
    CHECK(omb_store_parked_list(NULL, &(F){0}, 0, see_parked, &ps) == OMB_EINVAL);
    CHECK(omb_store_parked_list(s, NULL, 0, see_parked, &ps) == OMB_EINVAL);
    CHECK(omb_store_parked_list(s, &(F){0}, 0, NULL, NULL) == OMB_EINVAL);
    CHECK(omb_store_parked_count(NULL, &(F){0}, &n) == OMB_EINVAL);
    CHECK(omb_store_parked_count(s, NULL, &n) == OMB_EINVAL);
    CHECK(omb_store_parked_count(s, &(F){0}, NULL) == OMB_EINVAL);

    /* Updates: the state by filter; the body of one row only. */
    int64_t changed = -1;
    CHECK(omb_store_parked_update(s, &(F){.consumer = "c1", .state = "dead"}, "replay", NULL, 0,
                                  &changed) == 0 &&
          changed == 2);
    CHECK_STR(ids_of(s, &(F){.state = "replay"}, buf, sizeof(buf)), "1,4,5,");
    CHECK(omb_store_parked_update(s, &(F){.state = "dead"}, NULL, "new", 3, &changed) ==
          OMB_EINVAL);
    CHECK(omb_store_parked_update(s, &(F){.id = 3}, NULL, "new", 3, &changed) == 0 && changed == 1);
    ps = (struct parked_seen){0};
    CHECK(omb_store_parked_list(s, &(F){.id = 3}, 0, see_parked, &ps) == 1);
    CHECK_STR(ps.body, "new");
    CHECK_STR(ps.strs[0], "dead"); /* the state is kept */
    CHECK(omb_store_parked_update(s, &(F){.id = 2}, "dead", "", 0, NULL) == 0);
    ps = (struct parked_seen){0};
    CHECK(omb_store_parked_list(s, &(F){.id = 2}, 0, see_parked, &ps) == 1);
    CHECK(ps.first.body == NULL && ps.first.body_len == 0);
    CHECK_STR(ps.strs[0], "dead");
    CHECK(omb_store_parked_update(s, &(F){.id = 99}, "held", NULL, 0, &changed) == 0 &&
          changed == 0);
    CHECK(omb_store_parked_update(NULL, &(F){0}, "held", NULL, 0, NULL) == OMB_EINVAL);
    CHECK(omb_store_parked_update(s, NULL, "held", NULL, 0, NULL) == OMB_EINVAL);
    CHECK(omb_store_parked_update(s, &(F){.id = 1}, NULL, NULL, 0, NULL) == OMB_EINVAL);
    CHECK(omb_store_parked_update(s, &(F){.id = 1}, "lost", NULL, 0, NULL) == OMB_EINVAL);
    CHECK(omb_store_parked_update(s, &(F){.id = 1}, "held", NULL, 4, NULL) == OMB_EINVAL);
    /* An empty filter is every row, for an update. */
    CHECK(omb_store_parked_update(s, &(F){0}, "held", NULL, 0, &changed) == 0 && changed == 6);

    /* Deletes: never everything by accident. */
    int64_t deleted = -1;
    CHECK(omb_store_parked_delete(s, &(F){0}, &deleted) == OMB_EINVAL && deleted == -1);
    CHECK(omb_store_parked_delete(s, NULL, &deleted) == OMB_EINVAL);
    CHECK(omb_store_parked_delete(NULL, &(F){.id = 1}, &deleted) == OMB_EINVAL);
    CHECK(omb_store_parked_delete(s, &(F){.consumer = "c2"}, &deleted) == 0 && deleted == 2);
    CHECK(omb_store_parked_delete(s, &(F){.id = 99}, &deleted) == 0 && deleted == 0);
    CHECK(omb_store_parked_delete(s, &(F){.id = 6}, NULL) == 0);
    CHECK_STR(ids_of(s, &(F){0}, buf, sizeof(buf)), "1,2,5,");
    omb_store_close(&s);

    s = reopen("parked.db");
    if (!s) {
        return;
    }
    CHECK_STR(ids_of(s, &(F){.state = "held"}, buf, sizeof(buf)), "1,2,5,");
    omb_store_close(&s);
}

/* ---- calls the writer thread cannot serve -------------------------------------------------------
 */

static struct omb_store *stop_store;
static int stop_rc[7];

/* An ack run while close drains the queue. */
static void ack_while_closing(void *arg, int64_t seq, int rc)
{
    (void)arg;
    (void)seq;
    (void)rc;
    struct omb_store *s = stop_store;
    struct omb_store_parked p = {.state = "dead"};
    int64_t v;
    stop_rc[0] = omb_store_append(s, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, 0, ack_ignore, NULL);
    stop_rc[1] = omb_store_cursor_set(s, "a", 1);
    stop_rc[2] = omb_store_parked_add(s, &p, NULL, NULL);
    /* The waiting calls would wait for this very thread. */
    stop_rc[3] = omb_store_cursor_init(s, "a", &v);
    stop_rc[4] = omb_store_cursor_drop(s, "a");
    stop_rc[5] = omb_store_parked_update(s, &(struct omb_store_parked_filter){.id = 1}, "held",
                                         NULL, 0, NULL);
    stop_rc[6] = omb_store_parked_delete(s, &(struct omb_store_parked_filter){.id = 1}, NULL);
}

static void test_stopping(void)
{
    struct omb_store_opts opts = {.group_wait_us = 60 * 1000000LL};
    struct omb_store *s = open_fresh("stopping.db", &opts);
    if (!s) {
        return;
    }
    stop_store = s;
    CHECK(omb_store_append(s, NULL, 0, "x", 1, NULL, NULL, NULL, NULL, 0, ack_while_closing, NULL) ==
          0);
    omb_store_close(&s);
    CHECK(stop_rc[0] == OMB_ESTOPPED && stop_rc[1] == OMB_ESTOPPED && stop_rc[2] == OMB_ESTOPPED);
    CHECK(stop_rc[3] == OMB_EINVAL && stop_rc[4] == OMB_EINVAL && stop_rc[5] == OMB_EINVAL &&
          stop_rc[6] == OMB_EINVAL);

    struct omb_store_stats st = {.commits = 9};
    omb_store_stats(NULL, &st);
    CHECK(st.commits == 0);
    char why[16] = "x";
    omb_store_last_error(NULL, why, sizeof(why));
    CHECK(why[0] == '\0');
}

int main(void)
{
    const char *top = getenv("top_builddir");
    char tmp[900];
    snprintf(tmp, sizeof(tmp), "%s/tests/tmp", top ? top : ".");
    mkdir(tmp, 0700); /* may exist */
    snprintf(dir, sizeof(dir), "%s/store_test", tmp);
    mkdir(dir, 0700);

    char path[1100];
    tmp_path(path, sizeof(path), "journal.db");
    test_concurrent(path);
    test_reopen(path);
    test_refusals();
    test_close_pending();
    test_full();
    test_cursors();
    test_queue_order();
    test_on_commit();
    test_prune();
    test_readers();
    test_parked();
    test_stopping();
    test_state();
    return test_result();
}
