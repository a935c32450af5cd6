/* Unit test: core/src/store_dedupe.c and the dedupe path of store.c (idempotency keys: a repeat
 * within its window is acknowledged with rc 0 and -(the original's seq), not journaled, and
 * counted; in another group, in the same group, across a reopen; past the window it is taken
 * again; expired keys are pruned), and the envelope's "dedupe" member that carries a source's
 * key to the store (envelope.c: checked, sealed after "trace"). */
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

#include "envelope.h"
#include "store.h"
#include "testlib.h"
#include <omnibus/err.h>

#define HOUR_US (INT64_C(3600) * 1000000)

static char dir[1024];

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

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* One append's outcome, written on the writer thread and awaited on the test's. */
struct ack {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int calls;
    int64_t seq;
    int rc;
};

static void ack_init(struct ack *a)
{
    *a = (struct ack){.seq = 0};
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
}

static void ack_free(struct ack *a)
{
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
}

static void on_ack(void *arg, int64_t seq, int rc)
{
    struct ack *a = arg;
    pthread_mutex_lock(&a->mu);
    a->calls++;
    a->seq = seq;
    a->rc = rc;
    a->done = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Waits for the ack (5 minutes at most, so that a bug fails rather than hangs). */
static void ack_wait(struct ack *a)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 300;
    pthread_mutex_lock(&a->mu);
    while (!a->done && pthread_cond_timedwait(&a->cv, &a->mu, &deadline) == 0) {
    }
    CHECK(a->done);
    CHECK(a->calls == 1);
    pthread_mutex_unlock(&a->mu);
}

static int append(struct omb_store *s, const char *source, const char *id, const char *dedupe,
                  int64_t window_us, struct ack *a)
{
    char body[64];
    int n = snprintf(body, sizeof(body), "{\"id\":\"%s\"}", id);
    const struct omb_store_event ev = {
        .env = "{}", .env_len = 2, .body = body, .body_len = (size_t)n, .id = id,
        .source = source, .type = "order.created", .key = "k", .dedupe = dedupe,
        .dedupe_window_us = window_us};
    return omb_store_append_event(s, &ev, on_ack, a);
}

/* Append and wait for its ack; returns the seq the ack gave (negative: a duplicate). */
static int64_t append_wait(struct omb_store *s, const char *source, const char *id,
                           const char *dedupe, int64_t window_us)
{
    struct ack a;
    ack_init(&a);
    CHECK(append(s, source, id, dedupe, window_us, &a) == 0);
    ack_wait(&a);
    CHECK(a.rc == 0);
    int64_t seq = a.seq;
    ack_free(&a);
    return seq;
}

static int collect_ids(void *arg, const struct omb_store_row *row)
{
    char *ids = arg;
    size_t n = strlen(ids);
    snprintf(ids + n, 512 - n, "%s,", row->id ? row->id : "?");
    return 0;
}

/* "a,b," : the ids of the journal's rows in seq order. */
static void journal_ids(struct omb_store *s, char ids[512])
{
    ids[0] = '\0';
    CHECK(omb_store_read(s, 0, 0, collect_ids, ids) >= 0);
}

/* Rows of the dedupe table, read over a connection of our own (-1 on error). */
static int64_t dedupe_rows(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM dedupe", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static struct omb_store *open_store(const char *path, const struct omb_store_opts *opts)
{
    char err[512];
    struct omb_store *s = omb_store_open(path, opts, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "open: %s\n", err);
    }
    CHECK(s != NULL);
    return s;
}

/* ---- a repeat in a later group, per source, and across a reopen --------------------------- */

static void test_later_group(void)
{
    char path[1100], ids[512];
    struct omb_store_stats st;
    tmp_path(path, sizeof(path), "later.db");
    struct omb_store *s = open_store(path, NULL);
    if (!s) {
        return;
    }
    int64_t a = append_wait(s, "shop", "a", "evt-1", HOUR_US);
    CHECK(a > 0);
    int64_t b = append_wait(s, "shop", "b", "evt-1", HOUR_US);
    CHECK(b == -a);
    CHECK(OMB_STORE_IS_DUPLICATE(b, 0));
    CHECK(!OMB_STORE_IS_DUPLICATE(a, 0));
    /* The same key from another source is its own; another key is new. */
    int64_t c = append_wait(s, "pos", "c", "evt-1", HOUR_US);
    int64_t d = append_wait(s, "shop", "d", "evt-2", HOUR_US);
    CHECK(c > a && d > c);
    /* No key, an empty key or no window: no dedupe at all. */
    CHECK(append_wait(s, "shop", "e", NULL, HOUR_US) > d);
    CHECK(append_wait(s, "shop", "f", "", HOUR_US) > d);
    CHECK(append_wait(s, "shop", "g", "evt-1", 0) > d);
    CHECK(append_wait(s, "shop", "h", "evt-1", -5) > d);
    CHECK(append_wait(s, "shop", "i", "evt-1", HOUR_US) == -a); /* those did not take the key */
    journal_ids(s, ids);
    CHECK_STR(ids, "a,c,d,e,f,g,h,");
    omb_store_stats(s, &st);
    CHECK(st.events == 7);
    CHECK(st.duplicates == 2);
    CHECK(omb_store_last_seq(s) == a + 6);
    omb_store_close(&s);

    /* The keys are on disk: a repeat after a reopen is still one. */
    s = open_store(path, NULL);
    if (!s) {
        return;
    }
    CHECK(append_wait(s, "shop", "j", "evt-2", HOUR_US) == -d);
    CHECK(append_wait(s, "pos", "k", "evt-1", HOUR_US) == -c);
    omb_store_stats(s, &st);
    CHECK(st.duplicates == 2 && st.events == 0);
    journal_ids(s, ids);
    CHECK_STR(ids, "a,c,d,e,f,g,h,");
    omb_store_close(&s);
}

/* ---- a repeat in the same group ---------------------------------------------------------- */

/* The ack of a plain append that holds the writer thread until the test lets it go, so that
 * what the test appends meanwhile is committed as one group. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool holding, open;
};

static void gate_ack(void *arg, int64_t seq, int rc)
{
    (void)seq;
    (void)rc;
    struct gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->holding = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void test_same_group(void)
{
    char path[1100], ids[512];
    struct omb_store_stats st;
    tmp_path(path, sizeof(path), "same.db");
    struct omb_store_opts opts = {.group_wait_us = -1};
    struct omb_store *s = open_store(path, &opts);
    if (!s) {
        return;
    }
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    CHECK(omb_store_append(s, "{}", 2, "{}", 2, "gate", "shop", "x.y", NULL, 0, gate_ack, &g) ==
          0);
    pthread_mutex_lock(&g.mu);
    while (!g.holding) {
        pthread_cond_wait(&g.cv, &g.mu);
    }
    pthread_mutex_unlock(&g.mu);

    struct ack a[4];
    for (int i = 0; i < 4; i++) {
        ack_init(&a[i]);
    }
    /* Queued behind the held writer: one group of four. */
    CHECK(append(s, "shop", "a", "k1", HOUR_US, &a[0]) == 0);
    CHECK(append(s, "shop", "b", "k1", HOUR_US, &a[1]) == 0);
    CHECK(append(s, "shop", "c", "k2", HOUR_US, &a[2]) == 0);
    CHECK(append(s, "shop", "d", "k1", HOUR_US, &a[3]) == 0);
    omb_store_stats(s, &st);
    uint64_t commits = st.commits;

    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < 4; i++) {
        ack_wait(&a[i]);
        CHECK(a[i].rc == 0);
    }
    CHECK(a[0].seq > 0);
    CHECK(a[1].seq == -a[0].seq);
    CHECK(a[2].seq == a[0].seq + 1);
    CHECK(a[3].seq == -a[0].seq);
    omb_store_stats(s, &st);
    CHECK(st.commits == commits + 1); /* they were one group */
    CHECK(st.duplicates == 2);
    CHECK(st.events == 3);
    CHECK(st.largest_group == 2); /* rows, not appends */
    CHECK(omb_store_last_seq(s) == a[2].seq);
    journal_ids(s, ids);
    CHECK_STR(ids, "gate,a,c,");
    for (int i = 0; i < 4; i++) {
        ack_free(&a[i]);
    }
    omb_store_close(&s);
}

/* ---- the window: a key is taken again once it has passed; expired keys are pruned ---------- */

static void test_window(void)
{
    char path[1100], ids[512];
    struct omb_store_stats st;
    tmp_path(path, sizeof(path), "window.db");
    struct omb_store *s = open_store(path, NULL);
    if (!s) {
        return;
    }
    const int64_t window = 500 * 1000; /* 500 ms */
    int64_t a = append_wait(s, "shop", "a", "w", window);
    CHECK(a > 0);
    int64_t b = append_wait(s, "shop", "b", "w", window);
    CHECK(b == -a);
    sleep_ms(700);
    int64_t c = append_wait(s, "shop", "c", "w", window);
    CHECK(c > a); /* past the window: new, and it holds the key from now on */
    CHECK(append_wait(s, "shop", "d", "w", window) == -c);
    journal_ids(s, ids);
    CHECK_STR(ids, "a,c,");
    omb_store_stats(s, &st);
    CHECK(st.duplicates == 2 && st.events == 2);
    CHECK(dedupe_rows(path) == 1);
    omb_store_close(&s);
}

/* Polls the dedupe table until it has n rows (a minute at most: valgrind is slow). */
static int64_t wait_rows(const char *path, int64_t n)
{
    int64_t left = -1;
    for (int i = 0; i < 60000 && (left = dedupe_rows(path)) != n; i++) {
        sleep_ms(1);
    }
    return left;
}

static void test_prune(void)
{
    char path[1100];
    tmp_path(path, sizeof(path), "prune.db");
    struct omb_store_opts opts = {.prune_interval_ms = 10};
    struct omb_store *s = open_store(path, &opts);
    if (!s) {
        return;
    }
    CHECK(append_wait(s, "shop", "a", "short-1", 1000) > 0); /* 1 ms */
    CHECK(append_wait(s, "shop", "b", "short-2", 1000) > 0);
    CHECK(append_wait(s, "shop", "c", "long", HOUR_US) > 0);
    CHECK(dedupe_rows(path) == 3);
    sleep_ms(20);
    /* Pruning is off until turned on: the expired keys stay meanwhile (and are no longer
     * held: a repeat is new). */
    CHECK(dedupe_rows(path) == 3);
    int64_t again = append_wait(s, "shop", "d", "short-1", 1000);
    CHECK(again > 0);
    CHECK(dedupe_rows(path) == 3); /* held anew, for 1 ms */
    sleep_ms(5);
    omb_store_set_prune(s, true);
    CHECK(append_wait(s, "shop", "e", NULL, 0) > 0); /* a commit: a prune pass is owed */
    CHECK(wait_rows(path, 1) == 1); /* only "long" */
    CHECK(append_wait(s, "shop", "f", "long", HOUR_US) < 0);
    CHECK(append_wait(s, "shop", "g", "short-1", HOUR_US) > 0);
    CHECK(dedupe_rows(path) == 2);
    omb_store_close(&s);
}

/* ---- refusals and failed groups ---------------------------------------------------------- */

static void fill(char *buf, size_t n)
{
    memset(buf, 'x', n);
    buf[n] = '\0';
}

static void test_refusals(void)
{
    char path[1100];
    char key[OMB_STORE_DEDUPE_MAX + 2];
    tmp_path(path, sizeof(path), "refusals.db");
    struct omb_store *s = open_store(path, NULL);
    if (!s) {
        return;
    }
    struct ack a;
    ack_init(&a);
    fill(key, OMB_STORE_DEDUPE_MAX + 1);
    CHECK(append(s, "shop", "a", key, HOUR_US, &a) == OMB_EINVAL);
    CHECK(append(s, "shop", "a", key, 0, &a) == 0); /* no window: the key is not used */
    ack_wait(&a);
    ack_free(&a);
    fill(key, OMB_STORE_DEDUPE_MAX);
    CHECK(append_wait(s, "shop", "b", key, HOUR_US) > 0);
    CHECK(append_wait(s, "shop", "c", key, HOUR_US) < 0);
    CHECK(omb_store_append_event(s, NULL, on_ack, NULL) == OMB_EINVAL);
    const struct omb_store_event ev = {.dedupe = "x", .dedupe_window_us = 1};
    CHECK(omb_store_append_event(s, &ev, NULL, NULL) == OMB_EINVAL);
    CHECK(omb_store_append_event(NULL, &ev, on_ack, NULL) == OMB_EINVAL);
    omb_store_close(&s);
}

/* A group that fails takes its keys with it: after a disk-full group, the same key is new. The
 * file is capped at 256 KiB: one 150 KiB body fits, a second does not. */
static void test_failed_group(void)
{
    char path[1100];
    tmp_path(path, sizeof(path), "full.db");
    struct omb_store_opts opts = {.max_bytes = 256 * 1024};
    struct omb_store *s = open_store(path, &opts);
    if (!s) {
        return;
    }
    static char big[150 * 1024];
    memset(big, 'b', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    struct ack a;
    ack_init(&a);
    const struct omb_store_event ev = {
        .env = "{}", .env_len = 2, .body = big, .body_len = sizeof(big) - 1, .id = "big",
        .source = "shop", .dedupe = "full-1", .dedupe_window_us = HOUR_US};
    CHECK(omb_store_append_event(s, &ev, on_ack, &a) == 0);
    struct ack b;
    ack_init(&b);
    CHECK(omb_store_append_event(s, &ev, on_ack, &b) == 0);
    ack_wait(&a);
    ack_wait(&b);
    /* The first fits; the second is its duplicate, in the same group or the next. */
    CHECK(a.rc == 0 && a.seq > 0);
    CHECK(b.rc == 0 && b.seq == -a.seq);
    ack_free(&a);
    ack_free(&b);
    /* A second big one cannot fit: its group fails and holds no key. */
    const struct omb_store_event ev2 = {
        .env = "{}", .env_len = 2, .body = big, .body_len = sizeof(big) - 1, .id = "big2",
        .source = "shop", .dedupe = "full-2", .dedupe_window_us = HOUR_US};
    ack_init(&a);
    CHECK(omb_store_append_event(s, &ev2, on_ack, &a) == 0);
    ack_wait(&a);
    CHECK(a.rc == OMB_EIO);
    ack_free(&a);
    int64_t seq = append_wait(s, "shop", "small", "full-2", HOUR_US);
    CHECK(seq > 0);
    struct omb_store_stats st;
    omb_store_stats(s, &st);
    CHECK(st.failures >= 1);
    omb_store_close(&s);
}

/* ---- the envelope's member --------------------------------------------------------------- */

static void test_envelope(void)
{
    char err[256], *env = NULL, *body = NULL;
    size_t env_len = 0, body_len = 0;
    const char *key = NULL;
    char long_key[OMB_EVENT_DEDUPE_MAX + 2];

    json_t *ev = json_pack("{s:s, s:s, s:s, s:{s:s}, s:{}}", "type", "order.created", "key",
                           "o-1", "dedupe", "shop:\"evt\"\n1", "headers", "x-h", "v", "body");
    CHECK(omb_event_check(ev, err, sizeof(err)) == 0);
    CHECK_STR(omb_event_dedupe(ev), "shop:\"evt\"\n1");
    CHECK(omb_event_seal(ev, "shop", &env, &env_len, &body, &body_len, &key, err, sizeof(err)) ==
          0);
    /* After trace, before headers; id, type and source still lead for the router. */
    CHECK(env && strncmp(env, "{\"id\":\"", 7) == 0 &&
          strstr(env, "\",\"type\":\"order.created\",\"source\":\"shop\",") != NULL);
    const char *trace = env ? strstr(env, ",\"trace\":") : NULL;
    const char *dedupe = env ? strstr(env, ",\"dedupe\":\"shop:\\\"evt\\\"\\n1\"") : NULL;
    const char *headers = env ? strstr(env, ",\"headers\":") : NULL;
    CHECK(trace && dedupe && headers && trace < dedupe && dedupe < headers);
    json_t *back = omb_event_from_frames(NULL, env, env_len, body, body_len, err, sizeof(err));
    CHECK_STR(json_string_value(json_object_get(back, "dedupe")), "shop:\"evt\"\n1");
    json_decref(back);
    free(env);
    free(body);

    /* "" is no key: not sealed. */
    json_object_set_new(ev, "dedupe", json_string(""));
    CHECK(omb_event_dedupe(ev) == NULL);
    CHECK(omb_event_seal(ev, "shop", &env, &env_len, &body, &body_len, &key, err, sizeof(err)) ==
          0);
    CHECK(env && strstr(env, "dedupe") == NULL);
    free(env);
    free(body);

    /* A string of at most OMB_EVENT_DEDUPE_MAX bytes. */
    fill(long_key, OMB_EVENT_DEDUPE_MAX);
    json_object_set_new(ev, "dedupe", json_string(long_key));
    CHECK(omb_event_check(ev, err, sizeof(err)) == 0);
    fill(long_key, OMB_EVENT_DEDUPE_MAX + 1);
    json_object_set_new(ev, "dedupe", json_string(long_key));
    CHECK(omb_event_check(ev, err, sizeof(err)) == OMB_EINVAL);
    CHECK_STR(err, "\"dedupe\" is longer than 256 bytes");
    json_object_set_new(ev, "dedupe", json_integer(42));
    CHECK(omb_event_check(ev, err, sizeof(err)) == OMB_EINVAL);
    CHECK_STR(err, "\"dedupe\" must be a string");
    CHECK(omb_event_dedupe(ev) == NULL);
    json_decref(ev);

    /* emit_raw's envelope carries it the same way. */
    json_t *raw = json_pack("{s:s, s:s}", "type", "x.y", "dedupe", "k-1");
    CHECK(omb_envelope_seal(raw, "z", &env, &env_len, &key, err, sizeof(err)) == 0);
    CHECK(env && strstr(env, "\",\"dedupe\":\"k-1\"}") != NULL);
    free(env);
    json_object_set_new(raw, "dedupe", json_true());
    CHECK(omb_envelope_seal(raw, "z", &env, &env_len, &key, err, sizeof(err)) == OMB_EINVAL);
    CHECK(env == NULL);
    json_decref(raw);
}

int main(void)
{
    const char *top = getenv("top_builddir");
    char tmp[900];
    snprintf(tmp, sizeof(tmp), "%s/tests/tmp", top ? top : ".");
    mkdir(tmp, 0700); /* may exist */
    snprintf(dir, sizeof(dir), "%s/store_dedupe_test", tmp);
    mkdir(dir, 0700);

    test_later_group();
    test_same_group();
    test_window();
    test_prune();
    test_refusals();
    test_failed_group();
    test_envelope();
    return test_result();
}
