/* options.c: option tables checked, parsed and stored; secrets; --plugin-doc. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "omnibus/err.h"
#include "options.h"
#include "testlib.h"

struct ctx {
    char *dir;
    int64_t poll_ms;
    int64_t batch;
    bool verbose;
    int64_t max_size;
    int format;
    char *url;
    char *token;
    char **tags;
    char *old_name;
    int64_t pin;
    int64_t any;
};

static const char *const formats[] = { "csv", "json", "poslog", NULL };

static const struct omb_option options[] = {
    { "dir", OMB_OPT_STRING, NULL, OMB_OPTF_REQUIRED, 0, 0, NULL, offsetof(struct ctx, dir),
      "directory to read" },
    { "poll", OMB_OPT_DURATION, "1s", 0, 10, 3600000, NULL, offsetof(struct ctx, poll_ms),
      "how often to look" },
    { "batch", OMB_OPT_INT, "100", 0, 1, 10000, NULL, offsetof(struct ctx, batch),
      "events per batch" },
    { "verbose", OMB_OPT_BOOL, "false", 0, 0, 0, NULL, offsetof(struct ctx, verbose),
      "log every file" },
    { "max-size", OMB_OPT_SIZE, "1M", 0, 1024, 16 * 1024 * 1024, NULL,
      offsetof(struct ctx, max_size), "largest file" },
    { "format", OMB_OPT_ENUM, "json", 0, 0, 0, formats, offsetof(struct ctx, format),
      "file format" },
    { "url", OMB_OPT_URL, NULL, 0, 0, 0, NULL, offsetof(struct ctx, url), "upstream" },
    { "token", OMB_OPT_SECRET, NULL, 0, 0, 0, NULL, offsetof(struct ctx, token), "API token" },
    { "tags", OMB_OPT_LIST, NULL, OMB_OPTF_MULTI, 0, 0, NULL, offsetof(struct ctx, tags),
      "tags added to each event" },
    { "old-name", OMB_OPT_STRING, NULL, OMB_OPTF_DEPRECATED, 0, 0, NULL,
      offsetof(struct ctx, old_name), "use dir" },
    { "pin", OMB_OPT_INT, NULL, OMB_OPTF_SENSITIVE, 0, 0, NULL, offsetof(struct ctx, pin),
      "till PIN" },
    { "any", OMB_OPT_INT, NULL, 0, 0, 0, NULL, offsetof(struct ctx, any), NULL },
    OMB_OPTION_END
};

static const char *const produces[] = { "price.set", "stock.*", NULL };

static const struct omb_plugin_descriptor desc = {
    OMB_DESCRIPTOR_HEADER,
    .name = "demo",
    .version = "1.2.3",
    .description = "a demo source",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK,
    .produces = produces,
    .options = options,
    .ctx_size = sizeof(struct ctx),
};

#define MAXOPT 16

/* A connector "c" at line 10 whose options are name/value pairs, the i-th at line 11 + i. */
struct conn {
    struct omb_config_connector cc;
    struct omb_config_option opts[MAXOPT];
};

static void conn_init(struct conn *c, const char *const *pairs)
{
    memset(c, 0, sizeof(*c));
    c->cc.name = (char *)"c";
    c->cc.plugin = (char *)"demo";
    c->cc.line = 10;
    c->cc.options = c->opts;
    for (size_t i = 0; pairs[2 * i]; i++) {
        c->opts[i].name = (char *)pairs[2 * i];
        c->opts[i].value = (char *)pairs[2 * i + 1];
        c->opts[i].line = 11 + (int)i;
        c->cc.n_options++;
    }
}

/* Every diag as printed, in one string (the caller's). */
static char *report(const struct omb_diags *d)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    omb_diags_print(d, f);
    fclose(f);
    return s;
}

/* Apply the pairs to `d`; returns the rc, the report in *rep and the ctx in *ctx. */
static int apply(const struct omb_plugin_descriptor *dp, const char *const *pairs,
                 struct ctx **ctx, char **rep)
{
    struct conn c;
    struct omb_diags d;
    void *out = NULL;
    omb_diags_init(&d);
    conn_init(&c, pairs);
    int rc = omb_options_apply(dp, &c.cc, "f.xml", &out, &d);
    *ctx = out;
    *rep = report(&d);
    omb_diags_clear(&d);
    return rc;
}

/* Expect exactly `expected` as the report of a failing apply. */
static void expect_error(const char *const *pairs, const char *expected)
{
    struct ctx *ctx = NULL;
    char *rep = NULL;
    int rc = apply(&desc, pairs, &ctx, &rep);
    CHECK(rc == OMB_EINVAL);
    CHECK(ctx == NULL);
    CHECK_STR(rep, expected);
    free(rep);
}

static void test_defaults(void)
{
    struct ctx *ctx = NULL;
    char *rep = NULL;
    const char *const pairs[] = { "dir", " var/in ", NULL };
    CHECK(apply(&desc, pairs, &ctx, &rep) == 0);
    CHECK_STR(rep, "");
    CHECK(ctx != NULL);
    if (ctx) {
        CHECK_STR(ctx->dir, " var/in "); /* strings are kept as written */
        CHECK(ctx->poll_ms == 1000);
        CHECK(ctx->batch == 100);
        CHECK(ctx->verbose == false);
        CHECK(ctx->max_size == 1024 * 1024);
        CHECK(ctx->format == 1);
        CHECK(ctx->url == NULL);
        CHECK(ctx->token == NULL);
        CHECK(ctx->tags == NULL);
        CHECK(ctx->pin == 0);
    }
    omb_options_free(&desc, ctx);
    free(rep);
}

static void test_values(void)
{
    struct ctx *ctx = NULL;
    char *rep = NULL;
    setenv("OMB_TEST_TOKEN", "s3cret-env", 1);
    const char *const pairs[] = {
        "dir", "in",     "poll", " 250ms\n", "batch", "42", "verbose", "yes",
        "max-size", "64k", "format", "poslog", "url", "https://example.com/x",
        "token", "env:OMB_TEST_TOKEN", "tags", "a, b,,c ", "tags", "d", "pin", "1234",
        "any", "-9223372036854775808", NULL
    };
    CHECK(apply(&desc, pairs, &ctx, &rep) == 0);
    CHECK_STR(rep, "");
    if (ctx) {
        CHECK(ctx->poll_ms == 250);
        CHECK(ctx->batch == 42);
        CHECK(ctx->verbose == true);
        CHECK(ctx->max_size == 65536);
        CHECK(ctx->format == 2);
        CHECK_STR(ctx->url, "https://example.com/x");
        CHECK_STR(ctx->token, "s3cret-env");
        CHECK(ctx->tags && ctx->tags[0] && ctx->tags[1] && ctx->tags[2] && ctx->tags[3]);
        if (ctx->tags && ctx->tags[0] && ctx->tags[1] && ctx->tags[2] && ctx->tags[3]) {
            CHECK_STR(ctx->tags[0], "a");
            CHECK_STR(ctx->tags[1], "b");
            CHECK_STR(ctx->tags[2], "c");
            CHECK_STR(ctx->tags[3], "d");
            CHECK(ctx->tags[4] == NULL);
        }
        CHECK(ctx->pin == 1234);
        CHECK(ctx->any == INT64_MIN);
    }
    omb_options_free(&desc, ctx);
    free(rep);

    /* Every spelling of a bool; the other units. */
    static const struct {
        const char *name, *value;
        int64_t want;
    } cases[] = {
        { "verbose", "true", 1 }, { "verbose", "1", 1 },     { "verbose", "false", 0 },
        { "verbose", "no", 0 },   { "verbose", "0", 0 },     { "poll", "10s", 10000 },
        { "poll", "5m", 300000 }, { "poll", "1h", 3600000 }, { "max-size", "2048", 2048 },
        { "max-size", "1K", 1024 }, { "max-size", "16M", 16 * 1024 * 1024 },
        { "batch", "+7", 7 },     { "format", "csv", 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const p[] = { "dir", "x", cases[i].name, cases[i].value, NULL };
        CHECK(apply(&desc, p, &ctx, &rep) == 0);
        CHECK_STR(rep, "");
        int64_t got = -1;
        if (ctx && strcmp(cases[i].name, "verbose") == 0) {
            got = ctx->verbose;
        } else if (ctx && strcmp(cases[i].name, "poll") == 0) {
            got = ctx->poll_ms;
        } else if (ctx && strcmp(cases[i].name, "max-size") == 0) {
            got = ctx->max_size;
        } else if (ctx && strcmp(cases[i].name, "batch") == 0) {
            got = ctx->batch;
        } else if (ctx) {
            got = ctx->format;
        }
        if (got != cases[i].want) {
            fprintf(stderr, "%s=%s: got %lld\n", cases[i].name, cases[i].value, (long long)got);
        }
        CHECK(got == cases[i].want);
        omb_options_free(&desc, ctx);
        free(rep);
    }
}

static void test_errors(void)
{
    expect_error((const char *const[]){ "dir", "x", "polll", "1s", NULL },
                 "f.xml:12: connector 'c': unknown option 'polll' for plugin 'demo' (did you mean "
                 "'poll'?); valid options: dir, poll, batch, verbose, max-size, format, url, "
                 "token, tags, old-name, pin, any\n");
    expect_error((const char *const[]){ "dir", "x", "zzzzzz", "1", NULL },
                 "f.xml:12: connector 'c': unknown option 'zzzzzz' for plugin 'demo'; valid "
                 "options: dir, poll, batch, verbose, max-size, format, url, token, tags, "
                 "old-name, pin, any\n");
    expect_error((const char *const[]){ "poll", "1s", NULL },
                 "f.xml:10: connector 'c': missing required option 'dir' (directory to read)\n");
    expect_error((const char *const[]){ "dir", "a", "batch", "1", "dir", "b", NULL },
                 "f.xml:13: connector 'c': option 'dir' is given more than once (first at line "
                 "11)\n");
    expect_error((const char *const[]){ "dir", "a", "batch", "12x", NULL },
                 "f.xml:12: connector 'c': option 'batch': expected a decimal integer (from 1 to "
                 "10000), got \"12x\"\n");
    expect_error((const char *const[]){ "dir", "a", "batch", "", NULL },
                 "f.xml:12: connector 'c': option 'batch': expected a decimal integer (from 1 to "
                 "10000), got \"\"\n");
    expect_error((const char *const[]){ "dir", "a", "any", "99999999999999999999", NULL },
                 "f.xml:12: connector 'c': option 'any': expected a decimal integer, got "
                 "\"99999999999999999999\"\n");
    expect_error((const char *const[]){ "dir", "a", "batch", "0", NULL },
                 "f.xml:12: connector 'c': option 'batch': expected an integer from 1 to 10000, "
                 "got \"0\"\n");
    expect_error((const char *const[]){ "dir", "a", "batch", "10001", NULL },
                 "f.xml:12: connector 'c': option 'batch': expected an integer from 1 to 10000, "
                 "got \"10001\"\n");
    expect_error((const char *const[]){ "dir", "a", "verbose", "maybe", NULL },
                 "f.xml:12: connector 'c': option 'verbose': expected true or false (or yes/no, "
                 "1/0), got \"maybe\"\n");
    expect_error((const char *const[]){ "dir", "a", "poll", "soon", NULL },
                 "f.xml:12: connector 'c': option 'poll': expected a duration like 250ms, 10s, 5m "
                 "or 1h (from 10ms to 1h), got \"soon\"\n");
    expect_error((const char *const[]){ "dir", "a", "poll", "10", NULL },
                 "f.xml:12: connector 'c': option 'poll': expected a duration like 250ms, 10s, 5m "
                 "or 1h (from 10ms to 1h), got \"10\"\n");
    expect_error((const char *const[]){ "dir", "a", "poll", "2h", NULL },
                 "f.xml:12: connector 'c': option 'poll': expected a duration from 10ms to 1h, "
                 "got \"2h\"\n");
    expect_error((const char *const[]){ "dir", "a", "max-size", "1T", NULL },
                 "f.xml:12: connector 'c': option 'max-size': expected a size like 512, 64k, 1M "
                 "or 2G (from 1k to 16M), got \"1T\"\n");
    expect_error((const char *const[]){ "dir", "a", "max-size", "1.5M", NULL },
                 "f.xml:12: connector 'c': option 'max-size': expected a size like 512, 64k, 1M "
                 "or 2G (from 1k to 16M), got \"1.5M\"\n");
    expect_error((const char *const[]){ "dir", "a", "max-size", "1G", NULL },
                 "f.xml:12: connector 'c': option 'max-size': expected a size from 1k to 16M, "
                 "got \"1G\"\n");
    expect_error((const char *const[]){ "dir", "a", "format", "xml", NULL },
                 "f.xml:12: connector 'c': option 'format': expected one of csv, json or poslog, "
                 "got \"xml\"\n");
    expect_error((const char *const[]){ "dir", "a", "url", "example.com/x", NULL },
                 "f.xml:12: connector 'c': option 'url': expected a URL like "
                 "scheme://host/path, got \"example.com/x\"\n");
    expect_error((const char *const[]){ "dir", "a", "url", "http://", NULL },
                 "f.xml:12: connector 'c': option 'url': expected a URL like "
                 "scheme://host/path, got \"http://\"\n");
    /* A sensitive value is never shown. */
    expect_error((const char *const[]){ "dir", "a", "pin", "12ab", NULL },
                 "f.xml:12: connector 'c': option 'pin': expected a decimal integer, (value not "
                 "shown: the option is sensitive)\n");
    /* Every error of a connector at once, in the order of its options. */
    expect_error((const char *const[]){ "batch", "x", "nope", "1", "format", "?", NULL },
                 "f.xml:11: connector 'c': option 'batch': expected a decimal integer (from 1 to "
                 "10000), got \"x\"\n"
                 "f.xml:12: connector 'c': unknown option 'nope' for plugin 'demo'; valid "
                 "options: dir, poll, batch, verbose, max-size, format, url, token, tags, "
                 "old-name, pin, any\n"
                 "f.xml:13: connector 'c': option 'format': expected one of csv, json or poslog, "
                 "got \"?\"\n"
                 "f.xml:10: connector 'c': missing required option 'dir' (directory to read)\n");
}

static void test_warnings(void)
{
    struct ctx *ctx = NULL;
    char *rep = NULL;
    const char *const pairs[] = { "dir", "a", "old-name", "b", "token", "hunter2", NULL };
    CHECK(apply(&desc, pairs, &ctx, &rep) == 0);
    CHECK_STR(rep, "f.xml:12: warning: connector 'c': option 'old-name' is deprecated: use dir\n"
                   "f.xml:13: warning: connector 'c': option 'token': secret written literally "
                   "in the config; use env:NAME or file:PATH to keep it out of the file\n");
    CHECK(ctx && ctx->token && strcmp(ctx->token, "hunter2") == 0);
    CHECK(ctx && ctx->old_name && strcmp(ctx->old_name, "b") == 0);
    omb_options_free(&desc, ctx);
    free(rep);
}

static char *tmp_path(const char *name)
{
    const char *top = getenv("top_builddir");
    char dir[1024];
    char *p = NULL;
    snprintf(dir, sizeof(dir), "%s/tests/tmp", top ? top : ".");
    mkdir(dir, 0700); /* may exist */
    if (asprintf(&p, "%s/%s", dir, name) < 0) {
        return NULL;
    }
    return p;
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(content, f);
        fclose(f);
    }
}

static void test_secrets(void)
{
    struct ctx *ctx = NULL;
    char *rep = NULL;
    char *p1 = tmp_path("options-secret-1");
    char *p2 = tmp_path("options-secret-2");
    char *p3 = tmp_path("options-secret-missing");
    char ref[1200];
    write_file(p1, "from-file\n\n");
    write_file(p2, "crlf\r\n");
    remove(p3);

    snprintf(ref, sizeof(ref), "file:%s", p1);
    CHECK(apply(&desc, (const char *const[]){ "dir", "a", "token", ref, NULL }, &ctx, &rep) == 0);
    CHECK_STR(rep, "");
    CHECK(ctx && ctx->token && strcmp(ctx->token, "from-file\n") == 0); /* one newline only */
    omb_options_free(&desc, ctx);
    free(rep);

    snprintf(ref, sizeof(ref), " file:%s ", p2);
    CHECK(apply(&desc, (const char *const[]){ "dir", "a", "token", ref, NULL }, &ctx, &rep) == 0);
    CHECK(ctx && ctx->token && strcmp(ctx->token, "crlf") == 0);
    omb_options_free(&desc, ctx);
    free(rep);

    char expected[2048];
    snprintf(ref, sizeof(ref), "file:%s", p3);
    snprintf(expected, sizeof(expected),
             "f.xml:12: connector 'c': option 'token': cannot read secret file %s: No such file "
             "or directory\n", p3);
    expect_error((const char *const[]){ "dir", "a", "token", ref, NULL }, expected);

    unsetenv("OMB_TEST_NOT_SET");
    expect_error((const char *const[]){ "dir", "a", "token", "env:OMB_TEST_NOT_SET", NULL },
                 "f.xml:12: connector 'c': option 'token': environment variable "
                 "OMB_TEST_NOT_SET is not set\n");
    setenv("OMB_TEST_EMPTY", "", 1);
    expect_error((const char *const[]){ "dir", "a", "token", "env:OMB_TEST_EMPTY", NULL },
                 "f.xml:12: connector 'c': option 'token': environment variable OMB_TEST_EMPTY "
                 "is empty\n");
    expect_error((const char *const[]){ "dir", "a", "token", "env:1X", NULL },
                 "f.xml:12: connector 'c': option 'token': expected env:NAME with an environment "
                 "variable name after env:\n");
    expect_error((const char *const[]){ "dir", "a", "token", "file:", NULL },
                 "f.xml:12: connector 'c': option 'token': expected file:PATH with a path after "
                 "file:\n");
    expect_error((const char *const[]){ "dir", "a", "token", "  ", NULL },
                 "f.xml:12: connector 'c': option 'token': expected env:NAME or file:PATH, got an "
                 "empty value\n");
    /* A secret's value never reaches a message, even beside other errors. */
    setenv("OMB_TEST_TOKEN", "s3cret-env", 1);
    CHECK(apply(&desc,
                (const char *const[]){ "dir", "a", "token", "env:OMB_TEST_TOKEN", "batch", "x",
                                       NULL },
                &ctx, &rep) == OMB_EINVAL);
    CHECK(rep && !strstr(rep, "s3cret"));
    free(rep);
    CHECK(omb_option_is_sensitive(&desc, "token"));
    CHECK(omb_option_is_sensitive(&desc, "pin"));
    CHECK(!omb_option_is_sensitive(&desc, "dir"));
    CHECK(!omb_option_is_sensitive(&desc, "nosuch"));
    remove(p1);
    remove(p2);
    free(p1);
    free(p2);
    free(p3);
}

struct small {
    int64_t n;
    char *s;
};

/* A plugin table's own mistakes are errors naming the plugin. */
static void test_bad_tables(void)
{
    static const char *const none[] = { NULL };
    static const struct {
        struct omb_option row;
        const char *expected;
    } cases[] = {
        { { "n", OMB_OPT_DURATION, "often", 0, 0, 0, NULL, offsetof(struct small, n), "x" },
          "f.xml:10: plugin 'bad': option 'n': bad default: expected a duration like 250ms, 10s, "
          "5m or 1h, got \"often\"\n" },
        { { "n", OMB_OPT_INT, "50", 0, 1, 10, NULL, offsetof(struct small, n), "x" },
          "f.xml:10: plugin 'bad': option 'n': bad default: expected an integer from 1 to 10, "
          "got \"50\"\n" },
        { { "n", OMB_OPT_ENUM, NULL, 0, 0, 0, none, offsetof(struct small, n), "x" },
          "f.xml:10: plugin 'bad': option table: option 'n' is an enum without enum_values\n" },
        { { "n", OMB_OPT_INT, NULL, OMB_OPTF_MULTI, 0, 0, NULL, offsetof(struct small, n), "x" },
          "f.xml:10: plugin 'bad': option table: option 'n' is MULTI but not a list (MULTI is "
          "for LIST options only)\n" },
        { { "n", OMB_OPT_INT, "1", OMB_OPTF_REQUIRED, 0, 0, NULL, offsetof(struct small, n),
            "x" },
          "f.xml:10: plugin 'bad': option table: option 'n' is REQUIRED and has a default\n" },
        { { "n", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, sizeof(struct small), "x" },
          "f.xml:10: plugin 'bad': option table: option 'n' lies outside ctx_size\n" },
        { { "n", (enum omb_option_type)99, NULL, 0, 0, 0, NULL, 0, "x" },
          "f.xml:10: plugin 'bad': option table: option 'n' has an unknown type\n" },
        { { "n", OMB_OPT_INT, NULL, 0, 5, 1, NULL, 0, "x" },
          "f.xml:10: plugin 'bad': option table: option 'n' has min greater than max\n" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct omb_option rows[2] = { cases[i].row, OMB_OPTION_END };
        struct omb_plugin_descriptor bad = desc;
        bad.name = "bad";
        bad.options = rows;
        bad.ctx_size = sizeof(struct small);
        struct ctx *ctx = NULL;
        char *rep = NULL;
        CHECK(apply(&bad, (const char *const[]){ NULL }, &ctx, &rep) == OMB_EINVAL);
        CHECK_STR(rep, cases[i].expected);
        CHECK(ctx == NULL);
        free(rep);
    }
    /* A row declared twice. */
    struct omb_option twice[3] = {
        { "s", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, offsetof(struct small, s), "x" },
        { "s", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, offsetof(struct small, s), "x" },
        OMB_OPTION_END,
    };
    struct omb_plugin_descriptor bad = desc;
    bad.name = "bad";
    bad.options = twice;
    bad.ctx_size = sizeof(struct small);
    struct ctx *ctx = NULL;
    char *rep = NULL;
    CHECK(apply(&bad, (const char *const[]){ "s", "v", NULL }, &ctx, &rep) == OMB_EINVAL);
    CHECK_STR(rep, "f.xml:10: plugin 'bad': option table: option 's' is declared twice\n");
    free(rep);
    /* No options at all. */
    bad.options = NULL;
    CHECK(apply(&bad, (const char *const[]){ NULL }, &ctx, &rep) == 0);
    omb_options_free(&bad, ctx);
    free(rep);
    CHECK(apply(&bad, (const char *const[]){ "x", "1", NULL }, &ctx, &rep) == OMB_EINVAL);
    CHECK_STR(rep, "f.xml:11: connector 'c': unknown option 'x': plugin 'bad' takes no options\n");
    free(rep);
}

static void test_value_syntax(void)
{
    int64_t v = 0;
    char buf[OMB_QUOTE_SIZE];
    CHECK(omb_duration_parse("0ms", &v) == 0 && v == 0);
    CHECK(omb_duration_parse("90s", &v) == 0 && v == 90000);
    CHECK(omb_duration_parse("2562047788016h", &v) == OMB_EINVAL); /* overflows int64 ms */
    CHECK(omb_duration_parse("-1s", &v) == OMB_EINVAL);
    CHECK(omb_duration_parse("1 s", &v) == OMB_EINVAL);
    CHECK(omb_duration_parse("s", &v) == OMB_EINVAL);
    CHECK(omb_duration_parse("1sec", &v) == OMB_EINVAL);
    CHECK(omb_size_parse("2G", &v) == 0 && v == 2147483648LL);
    CHECK(omb_size_parse("9999999999G", &v) == OMB_EINVAL);
    CHECK(omb_size_parse("1m", &v) == OMB_EINVAL);
    omb_option_format_number(OMB_OPT_DURATION, 90000, buf, sizeof(buf));
    CHECK_STR(buf, "90s");
    omb_option_format_number(OMB_OPT_DURATION, 1500, buf, sizeof(buf));
    CHECK_STR(buf, "1500ms");
    omb_option_format_number(OMB_OPT_DURATION, 0, buf, sizeof(buf));
    CHECK_STR(buf, "0ms");
    omb_option_format_number(OMB_OPT_SIZE, 3 * 1024 * 1024, buf, sizeof(buf));
    CHECK_STR(buf, "3M");
    omb_option_format_number(OMB_OPT_INT, -5, buf, sizeof(buf));
    CHECK_STR(buf, "-5");
    CHECK_STR(omb_option_type_name(OMB_OPT_SECRET), "secret");
    CHECK(omb_option_type_name((enum omb_option_type)0) == NULL);
    omb_option_quote("a\"b\\c\nd\x01", buf, sizeof(buf));
    CHECK_STR(buf, "\"a\\\"b\\\\c\\nd\\x01\"");
    omb_option_quote("0123456789012345678901234567890123456789012345678901234567890123456789",
                     buf, sizeof(buf));
    CHECK_STR(buf, "\"012345678901234567890123456789012345678901234567890123456789...\"");
}

static void test_doc(void)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    omb_options_doc(&desc, f);
    fclose(f);
    CHECK_STR(s,
              "plugin:       demo 1.2.3\n"
              "description:  a demo source\n"
              "kind:         connector\n"
              "capabilities: source, sink\n"
              "consumes:     -\n"
              "produces:     price.set, stock.*\n"
              "options:\n"
              "  NAME      TYPE                    DEFAULT  REQUIRED  SENSITIVE  DESCRIPTION\n"
              "  dir       string                  -        yes       no         directory to "
              "read\n"
              "  poll      duration (10ms..1h)     1s       no        no         how often to "
              "look\n"
              "  batch     int (1..10000)          100      no        no         events per "
              "batch\n"
              "  verbose   bool                    false    no        no         log every "
              "file\n"
              "  max-size  size (1k..16M)          1M       no        no         largest "
              "file\n"
              "  format    enum (csv|json|poslog)  json     no        no         file format\n"
              "  url       url                     -        no        no         upstream\n"
              "  token     secret                  -        no        yes        API token\n"
              "  tags      list, repeatable        -        no        no         tags added to "
              "each event\n"
              "  old-name  string                  -        no        no         (deprecated) "
              "use dir\n"
              "  pin       int                     -        no        yes        till PIN\n"
              "  any       int                     -        no        no         -\n");
    free(s);

    struct omb_plugin_descriptor bare = { OMB_DESCRIPTOR_HEADER, .name = "bare",
                                          .kind = OMB_PLUGIN_PROCESSOR, .ctx_size = 1 };
    s = NULL;
    f = open_memstream(&s, &n);
    omb_options_doc(&bare, f);
    fclose(f);
    CHECK_STR(s, "plugin:       bare\n"
                 "description:  -\n"
                 "kind:         processor\n"
                 "capabilities: -\n"
                 "consumes:     -\n"
                 "produces:     -\n"
                 "options:      none\n");
    free(s);
}

int main(void)
{
    test_defaults();
    test_values();
    test_errors();
    test_warnings();
    test_secrets();
    test_bad_tables();
    test_value_syntax();
    test_doc();
    return test_result();
}
