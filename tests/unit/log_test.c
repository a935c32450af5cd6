/* Unit test: core/src/log.c */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "testlib.h"

/* stderr into a temporary file between begin and end; end returns what was written. */
static int saved_fd = -1;
static FILE *cap;

static void capture_begin(void)
{
    fflush(stderr);
    cap = tmpfile();
    saved_fd = dup(2);
    CHECK(cap != NULL && saved_fd >= 0 && dup2(fileno(cap), 2) >= 0);
}

static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    long size = ftell(cap);
    char *buf = calloc(1, size > 0 ? (size_t)size + 1 : 1);
    rewind(cap);
    if (buf && size > 0 && fread(buf, 1, (size_t)size, cap) != (size_t)size) {
        buf[0] = '\0';
    }
    fclose(cap);
    return buf;
}

/* "2026-11-25T01:02:03.456Z " at the start of a record. */
static bool has_time_prefix(const char *line)
{
    if (strlen(line) < OMB_TIME_LEN + 1) {
        return false;
    }
    for (int i = 0; i < OMB_TIME_LEN; i++) {
        char c = line[i];
        bool ok;
        switch (i) {
        case 4: case 7: ok = c == '-'; break;
        case 10: ok = c == 'T'; break;
        case 13: case 16: ok = c == ':'; break;
        case 19: ok = c == '.'; break;
        case 23: ok = c == 'Z'; break;
        default: ok = c >= '0' && c <= '9';
        }
        if (!ok) {
            return false;
        }
    }
    return line[OMB_TIME_LEN] == ' ';
}

static void test_levels(void)
{
    CHECK(omb_log_level_parse("error") == OMB_LOG_ERROR);
    CHECK(omb_log_level_parse("warn") == OMB_LOG_WARN);
    CHECK(omb_log_level_parse("info") == OMB_LOG_INFO);
    CHECK(omb_log_level_parse("debug") == OMB_LOG_DEBUG);
    CHECK(omb_log_level_parse("WARN") == -1);
    CHECK(omb_log_level_parse("warning") == -1);
    CHECK(omb_log_level_parse("debug ") == -1);
    CHECK(omb_log_level_parse("") == -1);
    CHECK_STR(omb_log_level_name(OMB_LOG_ERROR), "error");
    CHECK_STR(omb_log_level_name(OMB_LOG_WARN), "warn");
    CHECK_STR(omb_log_level_name(OMB_LOG_INFO), "info");
    CHECK_STR(omb_log_level_name(OMB_LOG_DEBUG), "debug");
    CHECK_STR(omb_log_level_name((enum omb_log_level)4), "?");
    CHECK_STR(omb_log_level_name((enum omb_log_level)-1), "?");
    CHECK(omb_log_get_level() == OMB_LOG_INFO); /* the default */
    omb_log_set_level(OMB_LOG_DEBUG);
    CHECK(omb_log_get_level() == OMB_LOG_DEBUG);
    omb_log_set_level(OMB_LOG_INFO);
}

static void test_records(void)
{
    omb_log_set_level(OMB_LOG_WARN);
    capture_begin();
    omb_log(OMB_LOG_INFO, "hidden", "not shown %d", 1);
    omb_log(OMB_LOG_DEBUG, "hidden", "not shown %d", 2);
    omb_log(OMB_LOG_WARN, "router", "shown %d", 3);
    omb_log(OMB_LOG_ERROR, NULL, "no scope, newlines cut\n\n");
    omb_log_write(OMB_LOG_DEBUG, "x", "written without a level check");
    omb_log_set_level(OMB_LOG_DEBUG);
    omb_log(OMB_LOG_DEBUG, "connector:file:pos", "now shown");
    char big[3000];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    omb_log(OMB_LOG_INFO, "big", "%s", big);
    char *out = capture_end();
    omb_log_set_level(OMB_LOG_INFO);

    CHECK(strstr(out, "hidden") == NULL);
    char *lines[8] = { 0 };
    int n = 0;
    for (char *p = out, *nl; n < 8 && (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        lines[n++] = p;
    }
    CHECK(n == 5);
    for (int i = 0; i < n; i++) {
        CHECK(has_time_prefix(lines[i]));
    }
    if (n == 5) {
        CHECK_STR(lines[0] + OMB_TIME_LEN, " WARN  [router] shown 3");
        CHECK_STR(lines[1] + OMB_TIME_LEN, " ERROR no scope, newlines cut");
        CHECK_STR(lines[2] + OMB_TIME_LEN, " DEBUG [x] written without a level check");
        CHECK_STR(lines[3] + OMB_TIME_LEN, " DEBUG [connector:file:pos] now shown");
        /* cut to the 2 KiB record buffer, not overflowing it */
        const char *msg = lines[4] + OMB_TIME_LEN + strlen(" INFO  [big] ");
        CHECK(strncmp(lines[4] + OMB_TIME_LEN, " INFO  [big] bbb", 16) == 0);
        CHECK(strlen(msg) == 2047);
    }
    free(out);
}

#define LOG_THREADS 4
#define LOG_RECORDS 200

static void *log_many(void *arg)
{
    long t = (long)arg;
    for (int i = 0; i < LOG_RECORDS; i++) {
        omb_log(OMB_LOG_INFO, "thread", "t%ld record %d of a line long enough to interleave "
                "if records were written in pieces", t, i);
    }
    return NULL;
}

/* Records from several threads never interleave. */
static void test_threads(void)
{
    pthread_t th[LOG_THREADS];
    capture_begin();
    for (long t = 0; t < LOG_THREADS; t++) {
        pthread_create(&th[t], NULL, log_many, (void *)t);
    }
    for (int t = 0; t < LOG_THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    char *out = capture_end();
    int lines = 0, good = 0;
    for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        lines++;
        const char *m = p + OMB_TIME_LEN;
        good += has_time_prefix(p) && strncmp(m, " INFO  [thread] t", 17) == 0 &&
                strstr(m, " of a line long enough to interleave if records were written in "
                          "pieces") != NULL &&
                strstr(strstr(m, "[thread]") + 1, "[thread]") == NULL;
    }
    CHECK(lines == LOG_THREADS * LOG_RECORDS);
    CHECK(good == LOG_THREADS * LOG_RECORDS);
    free(out);
}

int main(void)
{
    test_levels();
    test_records();
    test_threads();
    return test_result();
}
