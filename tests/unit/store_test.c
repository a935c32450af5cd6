/* Unit test: core/src/store.c (the SQLite journal with group commit). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
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

/* ---- the event of (thread, index), regenerated for comparison ---------------------------- */

struct event {
    char env[96];
    size_t env_len;
    char body[160];
    size_t body_len;
    char id[32];
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
        if (omb_store_append(p->s, ev.env, ev.env_len, ev.body, ev.body_len, ev.id, "order.created",
                             ev.key, ack_slot, sl) != 0) {
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
    if (slots[t][i].seq != row->seq || strcmp(row->id, ev.id) != 0 || !row->type ||
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
    struct omb_store *s = omb_store_open(path, NULL, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(omb_store_last_seq(s) == 0);
    CHECK(omb_store_append(s, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, NULL) == OMB_EINVAL);
    CHECK(omb_store_append(s, NULL, 3, NULL, 0, NULL, NULL, NULL, ack_slot, NULL) == OMB_EINVAL);

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
    CHECK(omb_store_append(s, NULL, 0, NULL, 0, NULL, NULL, NULL, ack_one, NULL) == 0);
    wait_for(&one_acked, 1);
    CHECK(one_rc == 0 && one_seq == TOTAL + 1 && omb_store_last_seq(s) == TOTAL + 1);
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
        CHECK(omb_store_append(s, "e", 1, body, (size_t)n, "id", "t", "k", ack_close, NULL) == 0);
    }
    CHECK(omb_store_append(s, "e", 1, "x", 1, "id", "t", "k", ack_close, NULL) == OMB_EAGAIN);
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
    CHECK(omb_store_append(s, "a", 1, "a", 1, "a", "t", "k", ack_fail, (void *)0) == 0);
    CHECK(omb_store_append(s, "b", 1, big, big_len, "b", "t", "k", ack_fail, (void *)1) == 0);
    CHECK(omb_store_append(s, "c", 1, "c", 1, "c", "t", "k", ack_fail, (void *)2) == 0);
    wait_for(&fail_acked, 3);
    CHECK(fail_rc[0] == OMB_EIO && fail_rc[1] == OMB_EIO && fail_rc[2] == OMB_EIO);
    CHECK(fail_seq[0] == 0 && fail_seq[1] == 0 && fail_seq[2] == 0);
    CHECK(strstr(fail_why, "full") != NULL);
    printf("full: %s\n", fail_why);
    CHECK(omb_store_last_seq(s) == 0);
    struct resume r = {.next = 1};
    CHECK(omb_store_read(s, 0, 0, count_row, &r) == 0);

    /* Still usable (close flushes the lone append despite the long wait). */
    CHECK(omb_store_append(s, "d", 1, "d", 1, "d", "t", "k", ack_fail, (void *)3) == 0);
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
    return test_result();
}
