/* Plugin test: connectors/file (file.so in the harness host). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../connectors/file/file.h" /* struct file_ctx: to give the host an hmac */
#include "plugins/harness.h"
#include "testlib.h"

/* One event line with body.seq = seq. */
static char *line(int seq)
{
    return harness_path("{\"type\":\"stock.level\",\"key\":\"SKU-%d@WAW01\",\"time\":"
                        "\"2026-11-20T10:00:00Z\",\"headers\":{\"x-batch\":\"7\"},\"body\":"
                        "{\"sku\":\"SKU-%d\",\"location\":\"WAW01\",\"on_hand\":5,\"seq\":%d}}\n",
                        seq, seq, seq);
}

/* Write dir/name with events first..last, written as .name.tmp and renamed, as writers must. */
static void write_events(const char *dir, const char *name, int first, int last)
{
    char *tmp = harness_path("%s/.%s.tmp", dir, name);
    char *path = harness_path("%s/%s", dir, name);
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    for (int i = first; f && i <= last; i++) {
        char *l = line(i);
        fputs(l, f);
        free(l);
    }
    if (f) {
        fclose(f);
    }
    CHECK(rename(tmp, path) == 0);
    free(tmp);
    free(path);
}

static int seq_of(const json_t *ev)
{
    return (int)json_integer_value(json_object_get(json_object_get(ev, "body"), "seq"));
}

/* The events collected are exactly seq first..last, in order. */
static bool events_are(struct harness *h, int first, int last)
{
    json_t *evs = harness_events(h);
    if (json_array_size(evs) != (size_t)(last - first + 1)) {
        fprintf(stderr, "expected %d events, got %zu\n", last - first + 1, json_array_size(evs));
        return false;
    }
    for (int i = first; i <= last; i++) {
        if (seq_of(json_array_get(evs, (size_t)(i - first))) != i) {
            fprintf(stderr, "event %d has seq %d\n", i - first,
                    seq_of(json_array_get(evs, (size_t)(i - first))));
            return false;
        }
    }
    return true;
}

static bool exists2(const char *dir, const char *name)
{
    char *p = harness_path("%s/%s", dir, name);
    bool e = harness_exists(p);
    free(p);
    return e;
}

/* A started source over <tmp>/in; *in_out is a new string. */
static struct harness *source(const char *test, char **in_out)
{
    char *tmp = harness_tmpdir(test);
    char *in = harness_path("%s/in", tmp);
    CHECK(mkdir(in, 0755) == 0);
    struct harness *h = harness_new("file");
    CHECK(h != NULL);
    if (!h) {
        exit(1);
    }
    char err[256];
    CHECK(harness_set_option(h, "dir", in) == 0);
    CHECK(harness_create(h) == 0);
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    CHECK(harness_start(h) == 0);
    CHECK(harness_timers(h) == 1);
    free(tmp);
    *in_out = in;
    return h;
}

static void test_descriptor(void)
{
    struct harness *h = harness_new("file");
    CHECK(h != NULL);
    const struct omb_plugin_descriptor *d = harness_descriptor(h);
    CHECK_STR(d->name, "file");
    CHECK(d->capabilities == (OMB_CAP_SOURCE | OMB_CAP_SINK));
    CHECK(d->kind == OMB_PLUGIN_CONNECTOR);
    const char *top = getenv("top_srcdir");
    char *doc = harness_path("%s/docs/connectors/file.md", top ? top : ".");
    CHECK(harness_options_documented(h, doc));
    free(doc);
    harness_destroy(&h);
}

static void test_good_files(void)
{
    char *in = NULL;
    struct harness *h = source("file_test_good", &in);
    char *done = harness_path("%s/done", in);

    /* a.ndjson: a BOM, CRLF line ends and blank lines; b.ndjson plain. */
    char *l1 = line(1), *l2 = line(2);
    char *a = harness_path("\xEF\xBB\xBF%.*s\r\n\n   \n%s\n", (int)strlen(l1) - 1, l1, l2);
    char *pa = harness_path("%s/a.ndjson", in);
    CHECK(harness_write_file(pa, a) == 0);
    write_events(in, "b.ndjson", 3, 4);
    /* Not complete, or not matching: left alone. */
    char *p1 = harness_path("%s/.c.ndjson.tmp", in), *p2 = harness_path("%s/d.ndjson.tmp", in);
    char *p3 = harness_path("%s/notes.txt", in), *p4 = harness_path("%s/.e.ndjson", in);
    CHECK(harness_write_file(p1, "garbage") == 0);
    CHECK(harness_write_file(p2, "garbage") == 0);
    CHECK(harness_write_file(p3, "garbage") == 0);
    CHECK(harness_write_file(p4, "garbage") == 0);

    CHECK(harness_fire_timers(h) == 1);
    CHECK(events_are(h, 1, 4));
    json_t *want = json_loads(l2, 0, NULL);
    CHECK(json_equal(json_array_get(harness_events(h), 1), want));
    json_decref(want);
    CHECK(exists2(done, "a.ndjson") && exists2(done, "b.ndjson"));
    CHECK(!exists2(in, "a.ndjson") && !exists2(in, "b.ndjson"));
    CHECK(harness_exists(p1) && harness_exists(p2) && harness_exists(p3) && harness_exists(p4));
    CHECK(harness_counter(h, "files_done") == 2);
    CHECK(harness_counter(h, "events_emitted") == 4);
    CHECK(harness_counter(h, "files_error") == 0);
    CHECK(harness_log_count(h, OMB_LOG_INFO, "a.ndjson: 2 events emitted") == 1);

    /* Nothing new: nothing happens. */
    harness_fire_timers(h);
    CHECK(json_array_size(harness_events(h)) == 4);

    /* The same name again: done/a.ndjson is kept, the new one becomes done/a.ndjson.1. An empty
     * file is fine: no events. */
    write_events(in, "a.ndjson", 5, 5);
    char *pe = harness_path("%s/empty.ndjson", in);
    CHECK(harness_write_file(pe, "\n\n") == 0);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 5));
    CHECK(exists2(done, "a.ndjson.1") && exists2(done, "empty.ndjson"));
    CHECK(harness_counter(h, "files_done") == 4);

    harness_destroy(&h);
    free(l1);
    free(l2);
    free(a);
    free(pa);
    free(p1);
    free(p2);
    free(p3);
    free(p4);
    free(pe);
    free(done);
    free(in);
}

static void test_bad_file(void)
{
    char *in = NULL;
    struct harness *h = source("file_test_bad", &in);
    char *l1 = line(1), *l3 = line(3), *l6 = line(6);
    char *text = harness_path("%snot json at all\n%s{\"key\":\"x\",\"body\":{}}\n\n%s", l1, l3, l6);
    char *p = harness_path("%s/bad.ndjson", in);
    CHECK(harness_write_file(p, text) == 0);
    write_events(in, "good.ndjson", 10, 11);

    harness_fire_timers(h);
    /* Nothing of bad.ndjson, all of good.ndjson (after it in name order). */
    CHECK(events_are(h, 10, 11));
    CHECK(!harness_exists(p));
    char *moved = harness_path("%s/error/bad.ndjson", in);
    char *sidecar = harness_path("%s/error/bad.ndjson.err", in);
    CHECK(harness_exists(moved));
    char *err = harness_read_file(sidecar);
    CHECK(err != NULL);
    if (err) {
        char *nl = strchr(err, '\n');
        CHECK(strncmp(err, "bad.ndjson:2: invalid JSON at column ", 37) == 0);
        CHECK(nl && strncmp(nl + 1, "bad.ndjson:4: \"type\" is missing\n", 32) == 0);
        CHECK(nl && strchr(nl + 1, '\n') && strchr(nl + 1, '\n')[1] == '\0'); /* two lines */
    }
    CHECK(harness_log_count(h, OMB_LOG_ERROR, NULL) == 1);
    CHECK(harness_log_count(h, OMB_LOG_ERROR, "bad.ndjson: 2 bad lines, nothing emitted") == 1);
    CHECK(harness_counter(h, "files_error") == 1);
    CHECK(harness_counter(h, "files_done") == 1);

    /* An unreadable file goes to error/ too (root reads anything: skip then). */
    if (geteuid() != 0) {
        char *pu = harness_path("%s/locked.ndjson", in);
        write_events(in, "locked.ndjson", 20, 20);
        CHECK(chmod(pu, 0) == 0);
        harness_fire_timers(h);
        CHECK(json_array_size(harness_events(h)) == 2);
        char *su = harness_path("%s/error/locked.ndjson.err", in);
        char *eu = harness_read_file(su);
        CHECK_STR(eu, "locked.ndjson: cannot be read: Permission denied\n");
        CHECK(harness_counter(h, "files_error") == 2);
        free(eu);
        free(su);
        free(pu);
    } else {
        printf("running as root: the unreadable-file case is skipped\n");
    }

    harness_destroy(&h);
    free(err);
    free(moved);
    free(sidecar);
    free(text);
    free(p);
    free(l1);
    free(l3);
    free(l6);
    free(in);
}

static void test_backpressure(void)
{
    char *in = NULL;
    struct harness *h = source("file_test_backpressure", &in);
    write_events(in, "a.ndjson", 1, 10);
    write_events(in, "b.ndjson", 11, 13);

    /* 4 taken, then the router is busy for two calls. */
    harness_emit_fail(h, 4, 2, OMB_EAGAIN);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 4));
    CHECK(exists2(in, "a.ndjson"));
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 4));
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 13));
    CHECK(!exists2(in, "a.ndjson") && !exists2(in, "b.ndjson"));
    CHECK(harness_emit_calls(h) == 15);
    CHECK(harness_counter(h, "events_emitted") == 13);

    /* The daemon stops under us: the file stays, the position is kept. */
    write_events(in, "c.ndjson", 14, 18);
    harness_emit_fail(h, 2, 1, OMB_ESTOPPED);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 15));
    CHECK(exists2(in, "c.ndjson"));
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 18));
    CHECK(!exists2(in, "c.ndjson"));
    CHECK(harness_counter(h, "files_done") == 3);

    /* Stopped mid-file and destroyed: the file stays in dir for the next run. */
    write_events(in, "d.ndjson", 19, 21);
    harness_emit_fail(h, 1, 100, OMB_ESTOPPED);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 19));
    harness_destroy(&h);
    CHECK(exists2(in, "d.ndjson"));
    free(in);
}

static void test_stopping(void)
{
    char *in = NULL;
    struct harness *h = source("file_test_stopping", &in);
    write_events(in, "a.ndjson", 1, 5);
    write_events(in, "b.ndjson", 6, 7);

    /* host->stopping: the current file is finished, no new one is begun. */
    harness_emit_fail(h, 2, 1, OMB_EAGAIN);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 2));
    harness_set_stopping(h, true);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 5));
    CHECK(!exists2(in, "a.ndjson") && exists2(in, "b.ndjson"));
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 5));
    harness_set_stopping(h, false);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 7));

    /* stop(): the same, and the timer goes once the current file is done. */
    write_events(in, "c.ndjson", 8, 10);
    write_events(in, "d.ndjson", 11, 11);
    harness_emit_fail(h, 1, 1, OMB_EAGAIN);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 8));
    CHECK(harness_stop(h) == 0);
    CHECK(events_are(h, 1, 10));
    CHECK(!exists2(in, "c.ndjson") && exists2(in, "d.ndjson"));
    CHECK(harness_timers(h) == 0);
    CHECK(harness_stop(h) == 0);
    harness_destroy(&h);
    free(in);

    /* stop() while the router pushes back: the timer stays until the file is done. */
    h = source("file_test_stopping2", &in);
    write_events(in, "a.ndjson", 1, 3);
    write_events(in, "b.ndjson", 4, 4);
    harness_emit_fail(h, 1, 3, OMB_EAGAIN);
    harness_fire_timers(h);
    CHECK(harness_stop(h) == 0);
    CHECK(events_are(h, 1, 1));
    CHECK(harness_timers(h) == 1);
    harness_fire_timers(h);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 3));
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 3));
    CHECK(exists2(in, "b.ndjson"));
    harness_destroy(&h);
    free(in);
}

struct seq_state {
    int next;
    bool ok;
};

static void check_seq(const json_t *ev, void *arg)
{
    struct seq_state *s = arg;
    if (seq_of(ev) != s->next) {
        s->ok = false;
    }
    s->next++;
}

static void test_large_file(void)
{
    enum { N = 100000 };
    char *in = NULL;
    struct harness *h = source("file_test_large", &in);
    write_events(in, "big.ndjson", 1, N);
    struct seq_state s = { .next = 1, .ok = true };
    harness_keep_events(h, false);
    harness_on_emit(h, check_seq, &s);
    harness_emit_fail(h, 50000, 1, OMB_EAGAIN);
    harness_fire_timers(h);
    CHECK(harness_emitted(h) == 50000);
    harness_fire_timers(h);
    CHECK(harness_emitted(h) == N);
    CHECK(s.ok && s.next == N + 1);
    CHECK(exists2(in, "done/big.ndjson"));
    CHECK(harness_counter(h, "events_emitted") == N);
    harness_destroy(&h);
    free(in);
}

static void test_unmovable(void)
{
    char *in = NULL;
    struct harness *h = source("file_test_unmovable", &in);
    char *done = harness_path("%s/done", in);
    CHECK(rmdir(done) == 0);
    CHECK(harness_write_file(done, "not a directory") == 0);
    write_events(in, "a.ndjson", 1, 2);

    harness_fire_timers(h);
    CHECK(events_are(h, 1, 2));
    CHECK(exists2(in, "a.ndjson"));
    CHECK(harness_log_count(h, OMB_LOG_ERROR, "cannot be moved") == 1);
    /* Never emitted twice, logged once. */
    harness_fire_timers(h);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 2));
    CHECK(harness_log_count(h, OMB_LOG_ERROR, "cannot be moved") == 1);
    /* Fixing the directory does not re-emit it; a new file of that name is taken. */
    CHECK(unlink(done) == 0 && mkdir(done, 0755) == 0);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 2));
    write_events(in, "a.ndjson", 3, 3);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 3));
    CHECK(exists2(done, "a.ndjson") && !exists2(in, "a.ndjson"));
    harness_destroy(&h);
    free(done);
    free(in);
}

/* ---- dedupe keys ---- */

/* A stand-in for the daemon's HMAC (the harness host has none): any keyed 32-byte digest will
 * do, as long as equal inputs give equal outputs. */
static int fake_hmac(const char *alg, const void *key, size_t keylen, const void *data,
                     size_t len, unsigned char *out, size_t *outlen)
{
    if (strcmp(alg, "sha256") != 0 || *outlen < 32) {
        return OMB_EINVAL;
    }
    for (uint64_t part = 0; part < 4; part++) {
        uint64_t h = 1469598103934665603ull ^ (part * 0x9e3779b97f4a7c15ull);
        for (size_t i = 0; i < keylen + len; i++) {
            h ^= i < keylen ? ((const unsigned char *)key)[i]
                            : ((const unsigned char *)data)[i - keylen];
            h *= 1099511628211ull;
        }
        memcpy(out + 8 * part, &h, 8);
    }
    *outlen = 32;
    return 0;
}

static struct omb_host_api host_with_hmac;

/* A source whose host has an hmac, as omnibusd's has. */
static struct harness *hashing_source(const char *test, char **in_out)
{
    struct harness *h = source(test, in_out);
    struct file_ctx *c = harness_ctx(h);
    host_with_hmac = *c->host;
    host_with_hmac.hmac = fake_hmac;
    c->host = &host_with_hmac;
    return h;
}

static const char *dedupe_of(struct harness *h, size_t i)
{
    const char *d = json_string_value(json_object_get(json_array_get(harness_events(h), i),
                                                      "dedupe"));
    return d ? d : "";
}

/* "<64 hex digits>:<line>" */
static bool key_ok(const char *key, unsigned long line)
{
    char want[32];
    snprintf(want, sizeof(want), ":%lu", line);
    return strlen(key) > 64 && strspn(key, "0123456789abcdef") == 64 &&
           strcmp(key + 64, want) == 0;
}

static void test_dedupe_keys(void)
{
    char *in = NULL;
    struct harness *h = hashing_source("file_test_dedupe", &in);
    char *done = harness_path("%s/done", in);

    /* Every line's key is the file's checksum and its line number. */
    write_events(in, "a.ndjson", 1, 3);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 3));
    for (size_t i = 0; i < 3; i++) {
        CHECK(key_ok(dedupe_of(h, i), i + 1));
        CHECK(strncmp(dedupe_of(h, i), dedupe_of(h, 0), 64) == 0);
    }
    CHECK(harness_log_count(h, -1, "repeat") == 0);

    /* The same bytes under another name: the same keys (the journal drops them as repeats), a
     * log line saying so, and the file goes to done/ as any other. */
    write_events(in, "b.ndjson", 1, 3);
    harness_fire_timers(h);
    CHECK(json_array_size(harness_events(h)) == 6);
    for (size_t i = 0; i < 3; i++) {
        CHECK_STR(dedupe_of(h, i + 3), dedupe_of(h, i));
    }
    CHECK(harness_log_count(h, OMB_LOG_INFO, "b.ndjson: a repeat of a file read before") == 1);
    CHECK(exists2(done, "b.ndjson") && !exists2(in, "b.ndjson"));
    CHECK(harness_log_count(h, OMB_LOG_INFO, "b.ndjson: 3 events emitted, moved to") == 1);

    /* Other bytes (one line more), other keys; no repeat. */
    write_events(in, "c.ndjson", 1, 4);
    harness_fire_timers(h);
    CHECK(json_array_size(harness_events(h)) == 10);
    CHECK(key_ok(dedupe_of(h, 9), 4));
    CHECK(strncmp(dedupe_of(h, 6), dedupe_of(h, 0), 64) != 0);
    CHECK(harness_log_count(h, -1, "repeat") == 1);

    /* Line numbers count blank lines; a line's own key is kept. */
    char *d = harness_path("%s/d.ndjson", in);
    CHECK(harness_write_file(d, "\n{\"type\":\"stock.level\",\"body\":{\"seq\":11}}\n"
                                "{\"type\":\"stock.level\",\"dedupe\":\"WAW01/3/20261120/42\","
                                "\"body\":{\"seq\":12}}\n") == 0);
    harness_fire_timers(h);
    CHECK(json_array_size(harness_events(h)) == 12);
    CHECK(key_ok(dedupe_of(h, 10), 2));
    CHECK_STR(dedupe_of(h, 11), "WAW01/3/20261120/42");
    char first[65];
    snprintf(first, sizeof(first), "%s", dedupe_of(h, 0));
    harness_destroy(&h);
    free(in);

    /* Read again by a new instance (after a crash, the file not yet in done/): the same keys. */
    h = hashing_source("file_test_dedupe2", &in);
    write_events(in, "a.ndjson", 1, 3);
    harness_fire_timers(h);
    CHECK(events_are(h, 1, 3));
    CHECK(strncmp(dedupe_of(h, 0), first, 64) == 0 && key_ok(dedupe_of(h, 0), 1));
    CHECK(harness_log_count(h, -1, "repeat") == 0); /* a new instance remembers nothing */
    harness_destroy(&h);
    free(d);
    free(done);
    free(in);
}

/* ---- sink ---- */

static const char *const event_text =
    "{\"id\":\"01JD3Q7W5X0000000000000000\",\"type\":\"price.set\",\"source\":\"pos\","
    "\"key\":\"SKU-1\",\"time\":\"2026-11-20T10:00:00Z\",\"received\":\"2026-11-20T10:00:01.000Z\","
    "\"trace\":\"01JD3Q7W5X0000000000000000\",\"headers\":{\"z\":\"1\",\"a\":\"2\"},"
    "\"route\":\"prices\",\"body\":{\"sku\":\"SKU-1\",\"price\":{\"currency\":\"PLN\","
    "\"amount\":12999}}}";

static struct harness *sink(const char *output, const char *format, const char *fsync_opt)
{
    struct harness *h = harness_new("file");
    char err[256];
    CHECK(harness_set_option(h, "output", output) == 0);
    if (format) {
        CHECK(harness_set_option(h, "output-format", format) == 0);
    }
    if (fsync_opt) {
        CHECK(harness_set_option(h, "fsync", fsync_opt) == 0);
    }
    CHECK(harness_create(h) == 0);
    CHECK(harness_validate(h, err, sizeof(err)) == 0);
    CHECK(harness_start(h) == 0);
    CHECK(harness_timers(h) == 0);
    return h;
}

static void test_sink(void)
{
    char *tmp = harness_tmpdir("file_test_sink");
    char *out = harness_path("%s/events.ndjson", tmp);
    char *outb = harness_path("%s/bodies.ndjson", tmp);
    json_t *ev = json_loads(event_text, 0, NULL);
    struct omb_deliver_result res;

    /* event: the whole event, compact, keys in their order. */
    struct harness *h = sink(out, NULL, NULL);
    CHECK(harness_deliver(h, ev, &res) == OMB_OK);
    CHECK(harness_deliver(h, ev, &res) == OMB_OK);
    char *text = harness_read_file(out);
    char *want = harness_path("%s\n%s\n", event_text, event_text);
    CHECK_STR(text, want);
    CHECK(harness_counter(h, "events_written") == 2);
    harness_destroy(&h);
    free(text);
    free(want);

    /* body, with fsync; appends to what is there; a partial last line is closed first. */
    CHECK(harness_write_file(outb, "{\"earlier\":1}\n{\"cut") == 0);
    h = sink(outb, "body", "true");
    CHECK(harness_deliver(h, ev, &res) == OMB_OK);
    text = harness_read_file(outb);
    CHECK_STR(text, "{\"earlier\":1}\n{\"cut\n{\"sku\":\"SKU-1\",\"price\":{\"currency\":\"PLN\","
                    "\"amount\":12999}}\n");
    free(text);
    /* No body: a permanent failure. */
    json_t *nobody = json_pack("{s:s}", "type", "x.y");
    CHECK(harness_deliver(h, nobody, &res) == OMB_EREJECT);
    CHECK_STR(res.reason, "the event has no body");
    json_decref(nobody);
    harness_destroy(&h);

    /* Rotation: the output moved away is reopened (checked at most once a second). */
    harness_clock_set(1000000);
    h = sink(out, NULL, NULL);
    char *rotated = harness_path("%s.1", out);
    CHECK(rename(out, rotated) == 0);
    harness_clock_advance(1001);
    CHECK(harness_deliver(h, ev, &res) == OMB_OK);
    text = harness_read_file(out);
    want = harness_path("%s\n", event_text);
    CHECK_STR(text, want);
    harness_destroy(&h);
    free(text);
    free(want);
    free(rotated);

    json_decref(ev);
    free(out);
    free(outb);
    free(tmp);
}

static void test_sink_errors(void)
{
    char *tmp = harness_tmpdir("file_test_sink_errors");
    char *missing = harness_path("%s/missing", tmp);
    char *out = harness_path("%s/out.ndjson", missing);
    json_t *ev = json_loads(event_text, 0, NULL);
    struct omb_deliver_result res;

    /* A directory that is not there yet: retry, and it works once it is. */
    struct harness *h = sink(out, NULL, NULL);
    CHECK(harness_log_count(h, OMB_LOG_WARN, "No such file or directory") == 1);
    CHECK(harness_deliver(h, ev, &res) == OMB_ERETRY);
    char *want = harness_path("cannot open %s: No such file or directory", out);
    CHECK_STR(res.reason, want);
    CHECK(mkdir(missing, 0755) == 0);
    CHECK(harness_deliver(h, ev, &res) == OMB_OK);
    CHECK(harness_counter(h, "events_written") == 1);
    harness_destroy(&h);
    free(want);

    /* A full disk. */
    h = sink("/dev/full", NULL, NULL);
    CHECK(harness_deliver(h, ev, &res) == OMB_ERETRY);
    CHECK_STR(res.reason, "write /dev/full: No space left on device");
    CHECK(harness_counter(h, "events_written") == 0);
    harness_destroy(&h);

    /* A read-only directory (root writes anywhere: skip then). */
    if (geteuid() != 0) {
        char *ro = harness_path("%s/ro", tmp);
        char *rout = harness_path("%s/out.ndjson", ro);
        CHECK(mkdir(ro, 0555) == 0);
        h = sink(rout, NULL, NULL);
        CHECK(harness_deliver(h, ev, &res) == OMB_ERETRY);
        CHECK(strstr(res.reason, "Permission denied") != NULL);
        harness_destroy(&h);
        CHECK(chmod(ro, 0755) == 0);
        free(rout);
        free(ro);
    }

    /* A source-only instance takes no deliveries. */
    char *in = harness_path("%s/in", tmp);
    CHECK(mkdir(in, 0755) == 0);
    h = harness_new("file");
    CHECK(harness_set_option(h, "dir", in) == 0);
    CHECK(harness_create(h) == 0);
    CHECK(harness_deliver(h, ev, &res) == OMB_EREJECT);
    CHECK(strstr(res.reason, "source only") != NULL);
    harness_destroy(&h);

    /* start on a dir that is not there: retry later. */
    h = harness_new("file");
    CHECK(harness_set_option(h, "dir", missing) == 0);
    CHECK(harness_rm_rf(missing) == 0);
    CHECK(harness_create(h) == 0);
    CHECK(harness_start(h) == OMB_ERETRY);
    CHECK(harness_timers(h) == 0);
    harness_destroy(&h);

    json_decref(ev);
    free(in);
    free(out);
    free(missing);
    free(tmp);
}

/* ---- validate ---- */

/* Validate the options given as NULL-terminated name, value pairs: the result, err filled. */
static int validate(char *err, size_t errlen, ...)
{
    struct harness *h = harness_new("file");
    va_list ap;
    va_start(ap, errlen);
    const char *name;
    int rc = 0;
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        if (harness_set_option(h, name, value) != 0) {
            rc = -100;
        }
    }
    va_end(ap);
    if (rc == 0) {
        rc = harness_create(h);
    }
    if (rc == 0) {
        rc = harness_validate(h, err, errlen);
    }
    harness_destroy(&h);
    return rc;
}

static void test_validate(void)
{
    char err[512];
    CHECK(validate(err, sizeof(err), NULL) == OMB_EINVAL);
    CHECK_STR(err, "set dir (to read event files), output (to write them), or both");
    CHECK(validate(err, sizeof(err), "dir", "/x", "done-dir", "/x", NULL) == OMB_EINVAL);
    CHECK_STR(err, "dir (/x), done-dir (/x) and error-dir (/x/error) must be three different "
                   "directories");
    CHECK(validate(err, sizeof(err), "dir", "/x/", "done-dir", "//x/.", NULL) == OMB_EINVAL);
    CHECK(validate(err, sizeof(err), "dir", "/x", "error-dir", "/x/done/", NULL) == OMB_EINVAL);
    CHECK(validate(err, sizeof(err), "dir", "/x", "done-dir", "/y", "error-dir", "/y", NULL) ==
          OMB_EINVAL);
    CHECK(validate(err, sizeof(err), "output", "/o", "error-dir", "/y", NULL) == OMB_EINVAL);
    CHECK_STR(err, "error-dir is set but dir is not");
    CHECK(validate(err, sizeof(err), "dir", "/x", "pattern", "a/*.json", NULL) == OMB_EINVAL);
    CHECK(validate(err, sizeof(err), "dir", "", NULL) == OMB_EINVAL);
    CHECK(validate(err, sizeof(err), "dir", "/x", "output", "/x/out.ndjson", NULL) == OMB_EINVAL);
    CHECK(strstr(err, "would read back what it writes") != NULL);
    CHECK(validate(err, sizeof(err), "dir", "x", "output", "./x//out.ndjson", NULL) ==
          OMB_EINVAL);
    /* Good ones. */
    CHECK(validate(err, sizeof(err), "dir", "/x", "output", "/x/out.log", NULL) == 0);
    CHECK(validate(err, sizeof(err), "dir", "/x", "output", "/x/done/out.ndjson", NULL) == 0);
    CHECK(validate(err, sizeof(err), "dir", "/x", "done-dir", "/d", "error-dir", "/e", NULL) ==
          0);
    CHECK(validate(err, sizeof(err), "output", "out.ndjson", NULL) == 0);
    /* Per-option checks (the core's, done here by the harness from the table). */
    CHECK(validate(err, sizeof(err), "dir", "/x", "poll", "5ms", NULL) == -100);
    CHECK(validate(err, sizeof(err), "dir", "/x", "poll", "10ms", NULL) == 0);
    CHECK(validate(err, sizeof(err), "output", "/o", "output-format", "xml", NULL) == -100);
    CHECK(validate(err, sizeof(err), "output", "/o", "fsync", "maybe", NULL) == -100);

    /* Defaults. */
    struct harness *h = harness_new("file");
    CHECK(harness_set_option(h, "output", "/o") == 0);
    CHECK(harness_create(h) == 0);
    harness_destroy(&h);
}

int main(void)
{
    test_descriptor();
    test_good_files();
    test_bad_file();
    test_backpressure();
    test_stopping();
    test_large_file();
    test_unmovable();
    test_dedupe_keys();
    test_sink();
    test_sink_errors();
    test_validate();
    return test_result();
}
