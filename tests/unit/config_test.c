/* config.c: good configs load with the right structure and lines; every broken config under
 * tests/config/broken/ fails with exactly the report in the .expected file beside it.
 *
 * The test runs in $top_srcdir/tests/config, so reports name files as "broken/NAME.xml". Plugins
 * come from the test plugins built in $top_builddir/tests/config/.libs; that directory is written
 * @PLUGIN_DIR@ in the .expected files. OMB_REGEN_EXPECTED=1 rewrites the .expected files from
 * the current output (review the diff before committing it). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include "omnibus/err.h"
#include "config_priv.h"
#include "loader.h"
#include "options.h"
#include "testlib.h"

#define MIN_BROKEN 15

/* Values that must never appear in any report. */
static const char *const secrets[] = { "hunter2", "tok-s3cret", "file-s3cret", NULL };

static char plugin_dir[2048];

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    size_t n = 0;
    if (!f) {
        return NULL;
    }
    FILE *m = open_memstream(&s, &n);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof(buf), f)) > 0) {
        fwrite(buf, 1, k, m);
    }
    fclose(m);
    fclose(f);
    return s;
}

/* s with every `from` replaced by `to` (the caller's). */
static char *replace_all(const char *s, const char *from, const char *to)
{
    char *out = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&out, &n);
    size_t fl = strlen(from);
    for (const char *p = s; *p;) {
        const char *hit = fl ? strstr(p, from) : NULL;
        if (!hit) {
            fputs(p, m);
            break;
        }
        fwrite(p, 1, (size_t)(hit - p), m);
        fputs(to, m);
        p = hit + fl;
    }
    fclose(m);
    return out;
}

struct result {
    int rc;
    struct omb_config *cfg;
    char *report;  /* diags as printed, plugin dir as @PLUGIN_DIR@ */
    char *stderr_; /* what went to stderr meanwhile */
};

static void load(const char *path, struct omb_registry *reg, struct result *r)
{
    struct omb_diags d;
    char *raw = NULL;
    size_t n = 0;
    omb_diags_init(&d);
    memset(r, 0, sizeof(*r));

    fflush(stderr);
    int saved = dup(2);
    FILE *cap = tmpfile();
    dup2(fileno(cap), 2);
    r->rc = omb_config_load(path, reg ? omb_registry_lookup : NULL, reg, &r->cfg, &d);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(cap);
    FILE *m = open_memstream(&r->stderr_, &n);
    int c;
    while ((c = fgetc(cap)) != EOF) {
        fputc(c, m);
    }
    fclose(m);
    fclose(cap);

    m = open_memstream(&raw, &n);
    omb_diags_print(&d, m);
    fclose(m);
    r->report = replace_all(raw, plugin_dir, "@PLUGIN_DIR@");
    free(raw);
    omb_diags_clear(&d);
}

static void result_free(struct result *r)
{
    omb_config_destroy(&r->cfg);
    free(r->report);
    free(r->stderr_);
}

static bool is_xml(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 4 && strcmp(e->d_name + n - 4, ".xml") == 0;
}

static int filter_xml(const struct dirent *e)
{
    return is_xml(e);
}

static void test_broken(struct omb_registry *reg)
{
    struct dirent **names = NULL;
    int n = scandir("broken", &names, filter_xml, alphasort);
    bool regen = getenv("OMB_REGEN_EXPECTED") && strcmp(getenv("OMB_REGEN_EXPECTED"), "1") == 0;
    CHECK(n >= MIN_BROKEN);
    for (int i = 0; i < n; i++) {
        char path[1024];
        char exp_path[1024];
        struct result r;
        snprintf(path, sizeof(path), "broken/%s", names[i]->d_name);
        snprintf(exp_path, sizeof(exp_path), "broken/%.*s.expected",
                 (int)strlen(names[i]->d_name) - 4, names[i]->d_name);
        load(path, reg, &r);
        if (regen) {
            FILE *f = fopen(exp_path, "wb");
            if (f) {
                fputs(r.report, f);
                fclose(f);
            }
        }
        char *expected = read_all(exp_path);
        if (!expected) {
            fprintf(stderr, "%s: cannot read: %s\n", exp_path, strerror(errno));
        }
        if (r.rc != OMB_EINVAL || r.cfg || strcmp(r.stderr_, "") != 0 ||
            !expected || strcmp(expected, r.report) != 0) {
            fprintf(stderr, "--- %s (rc %d)\n", path, r.rc);
        }
        CHECK(r.rc == OMB_EINVAL);
        CHECK(r.cfg == NULL);
        CHECK_STR(r.report, expected);
        CHECK_STR(r.stderr_, ""); /* libxml2 printed nothing itself */
        CHECK(r.report[0] != '\0');
        for (size_t s = 0; secrets[s]; s++) {
            CHECK(strstr(r.report, secrets[s]) == NULL);
        }
        free(expected);
        result_free(&r);
        free(names[i]);
    }
    free(names);
    printf("%d broken configs checked\n", n);
}

static void quiet(void *arg, const char *fmt, ...)
{
    (void)arg;
    (void)fmt;
}

/* 1 when the embedded RelaxNG schema alone accepts the file, 0 when it rejects it, -1 when the
 * file does not parse. */
static int rng_accepts(const char *path)
{
    xmlSetGenericErrorFunc(NULL, quiet);
    xmlDoc *doc =
        xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        return -1;
    }
    xmlRelaxNGParserCtxt *pctx =
        xmlRelaxNGNewMemParserCtxt((const char *)omb_config_rng, (int)omb_config_rng_len);
    xmlRelaxNG *schema = xmlRelaxNGParse(pctx);
    xmlRelaxNGValidCtxt *vctx = xmlRelaxNGNewValidCtxt(schema);
    xmlRelaxNGSetValidErrors(vctx, quiet, quiet, NULL);
    int rc = xmlRelaxNGValidateDoc(vctx, doc);
    xmlRelaxNGFreeValidCtxt(vctx);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(pctx);
    xmlFreeDoc(doc);
    xmlSetGenericErrorFunc(NULL, NULL);
    return rc == 0 ? 1 : 0;
}

/* The walk that explains schema errors and the RelaxNG schema agree: the RelaxNG schema rejects
 * every config whose errors the walk reported, and accepts those that only fail later checks and
 * the good ones. */
static void test_schema_agrees(void)
{
    static const char *const rejected[] = {
        "02-wrong-namespace", "03-no-namespace", "04-wrong-root", "05-unknown-element",
        "06-unknown-attribute", "07-missing-attribute", "08-bad-name", "09-element-order",
        "22-bad-type-pattern", "27-bad-attribute-values", "29-text-content",
        "34-http-bad-values", "35-http-out-of-place", "38-store-bad-values",
        "39-store-out-of-range", "40-store-wrong-unit", "41-store-bad-numbers",
        "42-connector-retry-caps", NULL
    };
    static const char *const accepted[] = {
        "10-duplicate-connector", "11-duplicate-route", "12-to-unknown-connector",
        "13-from-unknown-connector", "14-unknown-plugin", "15-wrong-abi", "16-unknown-option",
        "17-missing-required-option", "18-bad-values", "19-out-of-range", "20-jq-filter",
        "21-jq-transform", "23-secret-env-unset", "24-many-errors", "25-capabilities",
        "26-duplicates", "28-plugin-validate", "36-http-tls", "37-admin-tcp", NULL
    };
    char path[256];
    for (size_t i = 0; rejected[i]; i++) {
        snprintf(path, sizeof(path), "broken/%s.xml", rejected[i]);
        if (rng_accepts(path) != 0) {
            fprintf(stderr, "%s: the RelaxNG schema accepts it\n", path);
        }
        CHECK(rng_accepts(path) == 0);
    }
    for (size_t i = 0; accepted[i]; i++) {
        snprintf(path, sizeof(path), "broken/%s.xml", accepted[i]);
        if (rng_accepts(path) != 1) {
            fprintf(stderr, "%s: the RelaxNG schema rejects it\n", path);
        }
        CHECK(rng_accepts(path) == 1);
    }
    CHECK(rng_accepts("good/full.xml") == 1);
    CHECK(rng_accepts("good/minimal.xml") == 1);
    CHECK(rng_accepts("good/literal-secret.xml") == 1);
    CHECK(rng_accepts("good/http.xml") == 1);
}

static void test_full(struct omb_registry *reg)
{
    struct result r;
    load("good/full.xml", reg, &r);
    CHECK(r.rc == 0);
    CHECK_STR(r.report, "");
    CHECK_STR(r.stderr_, "");
    const struct omb_config *cfg = r.cfg;
    CHECK(cfg != NULL);
    if (!cfg) {
        result_free(&r);
        return;
    }
    CHECK_STR(cfg->path, "good/full.xml");
    CHECK(strlen(cfg->hash) == 64);
    CHECK(cfg->workers == 2);
    CHECK(cfg->drain_timeout_ms == 60000);
    CHECK_STR(cfg->log_level, "debug");
    CHECK_STR(cfg->plugin_dir, "/opt/omnibus/plugins");
    CHECK_STR(cfg->store_path, "good/var/omnibus.db"); /* beside the config file */
    CHECK(cfg->store_line == 5);
    CHECK(cfg->store_group_max == 0);
    CHECK(cfg->store_group_wait_us == -1);
    CHECK(cfg->store_budget_bytes == 0);
    CHECK_STR(cfg->admin_endpoint, "ipc://var/admin.sock");

    CHECK(cfg->n_connectors == 3);
    if (cfg->n_connectors == 3) {
        const struct omb_config_connector *pos = &cfg->connectors[0];
        CHECK_STR(pos->name, "pos");
        CHECK_STR(pos->plugin, "testsrc");
        CHECK_STR(pos->log_level, "warn");
        CHECK(pos->line == 8);
        CHECK(pos->max_attempts == OMB_DEFAULT_MAX_ATTEMPTS);
        CHECK(pos->max_attempts == 100);
        CHECK(pos->max_age_ms == OMB_DEFAULT_MAX_AGE_MS);
        CHECK(pos->max_age_ms == 24 * 3600 * 1000);
        CHECK(pos->dedupe_window_ms == OMB_DEFAULT_DEDUPE_WINDOW_MS);
        CHECK(pos->n_options == 5);
        if (pos->n_options == 5) {
            CHECK_STR(pos->options[0].name, "dir");
            CHECK_STR(pos->options[0].value, "var/in");
            CHECK(pos->options[0].line == 9);
            CHECK_STR(pos->options[2].value, "env:OMB_TEST_TOKEN"); /* kept as written */
            CHECK_STR(pos->options[4].name, "tags");
            CHECK(pos->options[4].line == 13);
        }
        CHECK_STR(cfg->connectors[1].name, "web");
        CHECK(cfg->connectors[1].line == 25);
        CHECK(cfg->connectors[1].log_level == NULL);
        CHECK_STR(cfg->connectors[2].name, "crm_1");
        CHECK(cfg->connectors[2].line == 29);
        CHECK(omb_config_connector_find(cfg, "crm_1") == &cfg->connectors[2]);
        CHECK(omb_config_connector_find(cfg, "nope") == NULL);
    }

    CHECK(cfg->n_routes == 2);
    if (cfg->n_routes == 2) {
        const struct omb_config_route *rt = &cfg->routes[0];
        CHECK_STR(rt->name, "prices-to-web");
        CHECK(rt->line == 16);
        CHECK(rt->enabled);
        CHECK(rt->n_from == 2);
        if (rt->n_from == 2) {
            CHECK_STR(rt->from[0].connector, "pos");
            CHECK_STR(rt->from[0].type, "price.*");
            CHECK(rt->from[0].line == 17);
            CHECK_STR(rt->from[1].type, "stock.level");
            CHECK(rt->from[1].line == 18);
        }
        CHECK_STR(rt->filter, ".price.amount > 0 and .price.amount < 1000000");
        CHECK(rt->filter_line == 19);
        CHECK_STR(rt->transform, "{sku, price}");
        CHECK_STR(rt->transform_type, "price.web");
        CHECK(rt->transform_line == 20);
        CHECK(rt->n_to == 2);
        if (rt->n_to == 2) {
            CHECK_STR(rt->to[0].connector, "web");
            CHECK(rt->to[0].conflate_key);
            CHECK(rt->to[0].line == 21);
            CHECK_STR(rt->to[1].connector, "crm_1");
            CHECK(!rt->to[1].conflate_key);
            CHECK(rt->to[1].line == 22);
        }
        rt = &cfg->routes[1];
        CHECK_STR(rt->name, "everything");
        CHECK(rt->line == 33);
        CHECK(!rt->enabled);
        CHECK(rt->filter == NULL && rt->filter_line == 0);
        CHECK(rt->transform == NULL && rt->transform_line == 0 && rt->transform_type == NULL);
        CHECK(rt->n_from == 1 && strcmp(rt->from[0].type, "*") == 0);
        CHECK(rt->n_to == 1 && !rt->to[0].conflate_key);
    }
    result_free(&r);
    CHECK(r.cfg == NULL);
    omb_config_destroy(&r.cfg); /* twice is fine */
}

/* <http>: every attribute parsed; absent, no struct (the daemon's defaults apply). */
static void test_http(void)
{
    struct result r;
    load("good/http.xml", NULL, &r);
    CHECK(r.rc == 0);
    CHECK_STR(r.report, "");
    const struct omb_config_http *h = r.cfg ? r.cfg->http : NULL;
    CHECK(h != NULL);
    if (h) {
        CHECK_STR(h->host, "::1");
        CHECK(h->port == 8443);
        CHECK(h->body_limit == 64 * 1024);
        CHECK(h->timeout_ms == 1500);
        CHECK_STR(h->tls_cert, "good/http.xml");
        CHECK_STR(h->tls_key, "good/http.xml");
        CHECK(h->threads == 4);
        CHECK(h->line == 3);
        CHECK(omb_config_http_equal(h, h));
        CHECK(!omb_config_http_equal(h, NULL));
    }
    result_free(&r);
    load("good/minimal.xml", NULL, &r);
    CHECK(r.rc == 0 && r.cfg && r.cfg->http == NULL);
    CHECK(omb_config_http_equal(NULL, NULL));
    result_free(&r);

    char *host = NULL;
    int port = -1;
    CHECK(omb_config_listen_parse("127.0.0.1:0", &host, &port) == 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK(port == 0);
    free(host);
    CHECK(omb_config_listen_parse("0.0.0.0:65535", &host, &port) == 0 && port == 65535);
    free(host);
    static const char *const bad[] = { "127.0.0.1", ":8080", "127.0.0.1:", "127.0.0.1:65536",
                                       "localhost:80", "::1:80", "[::1]", "[::1:80",
                                       "1.2.3:80", "127.0.0.1:8o", NULL };
    for (size_t i = 0; bad[i]; i++) {
        CHECK(omb_config_listen_parse(bad[i], &host, &port) == OMB_EINVAL);
        CHECK(host == NULL);
    }
}

static void test_minimal(void)
{
    struct result r;
    load("good/minimal.xml", NULL, &r);
    CHECK(r.rc == 0);
    CHECK_STR(r.report, "");
    if (r.cfg) {
        CHECK_STR(r.cfg->hash, "57b8b939d7a31db20f34974fa4db5ce718faf74ad67d64c55589420e5942e517");
        CHECK(r.cfg->workers == 0);
        CHECK(r.cfg->drain_timeout_ms == 10000);
        CHECK_STR(r.cfg->log_level, "info");
        CHECK(r.cfg->plugin_dir == NULL);
        CHECK(r.cfg->store_path == NULL);
        CHECK(r.cfg->store_line == 0);
        CHECK(r.cfg->store_group_max == 0);
        CHECK(r.cfg->store_group_wait_us == -1);
        CHECK(r.cfg->store_budget_bytes == 0);
        CHECK(r.cfg->admin_endpoint == NULL);
        CHECK(r.cfg->n_connectors == 0 && r.cfg->n_routes == 0);
    }
    result_free(&r);
}

/* ---- <store> and the connector's retry caps, from configs written to a scratch directory ---- */

static char scratch[256];

/* Write `body` inside <omnibus> to scratch/NAME and return its path (static storage). */
static const char *write_config(const char *name, const char *body)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", scratch, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "<omnibus xmlns=\"urn:omnibus:config:1\">\n%s</omnibus>\n", body);
        fclose(f);
    }
    return path;
}

/* One attribute value: accepted (with the value parsed into the struct) or refused with exactly
 * `msg`; the RelaxNG schema must agree either way. */
struct attr_case {
    const char *attr;
    const char *value;
    bool ok;
    int64_t want;     /* the struct's value when ok */
    const char *msg;  /* the error after "<subject>: attribute 'NAME': " when not ok */
};

static void check_case(const char *element, const struct attr_case *c)
{
    char body[512];
    struct result r;
    bool store = strcmp(element, "store") == 0;
    if (store) {
        snprintf(body, sizeof(body), "  <store %s=\"%s\"/>\n", c->attr, c->value);
    } else {
        snprintf(body, sizeof(body), "  <connector name=\"out\" plugin=\"testsink\" %s=\"%s\"/>\n",
                 c->attr, c->value);
    }
    const char *path = write_config("case.xml", body);
    load(path, NULL, &r);
    if (c->ok) {
        int64_t got = -2;
        if (r.cfg && store) {
            got = strcmp(c->attr, "group-max") == 0    ? r.cfg->store_group_max
                  : strcmp(c->attr, "group-wait") == 0 ? r.cfg->store_group_wait_us
                                                       : r.cfg->store_budget_bytes;
        } else if (r.cfg && r.cfg->n_connectors == 1) {
            const struct omb_config_connector *cc = &r.cfg->connectors[0];
            got = strcmp(c->attr, "max-attempts") == 0  ? cc->max_attempts
                  : strcmp(c->attr, "dedupe-window") == 0 ? cc->dedupe_window_ms
                                                          : cc->max_age_ms;
        }
        if (r.rc != 0 || got != c->want) {
            fprintf(stderr, "%s %s=\"%s\": rc %d, got %lld, want %lld\n%s", element, c->attr,
                    c->value, r.rc, (long long)got, (long long)c->want, r.report);
        }
        CHECK(r.rc == 0);
        CHECK_STR(r.report, "");
        CHECK(got == c->want);
    } else {
        char want[1024];
        snprintf(want, sizeof(want), "%s:2: %s: attribute '%s': %s, got \"%s\"\n", path,
                 store ? "<store>" : "connector 'out'", c->attr, c->msg, c->value);
        CHECK(r.rc == OMB_EINVAL && r.cfg == NULL);
        CHECK_STR(r.report, want);
    }
    CHECK_STR(r.stderr_, "");
    int rng = rng_accepts(path);
    if (rng != (c->ok ? 1 : 0)) {
        fprintf(stderr, "%s %s=\"%s\": the RelaxNG schema %s it\n", element, c->attr, c->value,
                rng == 1 ? "accepts" : "rejects");
    }
    CHECK(rng == (c->ok ? 1 : 0));
    result_free(&r);
}

#define MIB (INT64_C(1) << 20)
#define GROUP_MAX_MSG "expected a number of events per commit from 1 to 100000"
#define GROUP_WAIT_MSG "expected a duration from 0ms to 1s in whole milliseconds, like 1ms or 20ms"
#define BUDGET_MSG "expected a size of at least 1M like 512M or 2G (k, M and G are 1024-based)"
#define ATTEMPTS_MSG "expected a number of attempts from 1 to 1000000, or unlimited"
#define AGE_MSG "expected a duration above zero like 30m or 24h, or unlimited"
#define WINDOW_MSG "expected a duration above zero like 10m or 24h, or off"

static void test_store_values(void)
{
    static const struct attr_case cases[] = {
        { "group-max", "1", true, 1, NULL },
        { "group-max", "256", true, 256, NULL },
        { "group-max", "100000", true, 100000, NULL },
        { "group-max", "0100", true, 100, NULL },
        { "group-max", "0", false, 0, GROUP_MAX_MSG },
        { "group-max", "100001", false, 0, GROUP_MAX_MSG },
        { "group-max", "99999999999999999999999", false, 0, GROUP_MAX_MSG },
        { "group-max", "many", false, 0, GROUP_MAX_MSG },
        { "group-wait", "0ms", true, 0, NULL },
        { "group-wait", "1ms", true, 1000, NULL },
        { "group-wait", "250ms", true, 250000, NULL },
        { "group-wait", "1000ms", true, 1000000, NULL },
        { "group-wait", "1s", true, 1000000, NULL },
        { "group-wait", "0s", true, 0, NULL },
        { "group-wait", "1001ms", false, 0, GROUP_WAIT_MSG },
        { "group-wait", "2s", false, 0, GROUP_WAIT_MSG },
        { "group-wait", "1m", false, 0, GROUP_WAIT_MSG },
        { "group-wait", "500us", false, 0, GROUP_WAIT_MSG },
        { "group-wait", "5", false, 0, GROUP_WAIT_MSG },
        { "budget", "1M", true, MIB, NULL },
        { "budget", "2G", true, 2048 * MIB, NULL },
        { "budget", "1024k", true, MIB, NULL },
        { "budget", "1024K", true, MIB, NULL },
        { "budget", "1048576", true, MIB, NULL },
        { "budget", "1048580", true, MIB + 4, NULL },
        { "budget", "1536k", true, MIB + MIB / 2, NULL },
        { "budget", "100G", true, 100 * 1024 * MIB, NULL },
        { "budget", "1048575", false, 0, BUDGET_MSG },
        { "budget", "1023k", false, 0, BUDGET_MSG },
        { "budget", "0M", false, 0, BUDGET_MSG },
        { "budget", "0", false, 0, BUDGET_MSG },
        { "budget", "2GiB", false, 0, BUDGET_MSG },
        { "budget", "2GB", false, 0, BUDGET_MSG },
        { "budget", "1T", false, 0, BUDGET_MSG },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case("store", &cases[i]);
    }
}

static void test_retry_values(void)
{
    static const struct attr_case cases[] = {
        { "max-attempts", "1", true, 1, NULL },
        { "max-attempts", "100", true, 100, NULL },
        { "max-attempts", "1000000", true, 1000000, NULL },
        { "max-attempts", "007", true, 7, NULL },
        { "max-attempts", "unlimited", true, 0, NULL },
        { "max-attempts", "0", false, 0, ATTEMPTS_MSG },
        { "max-attempts", "1000001", false, 0, ATTEMPTS_MSG },
        { "max-attempts", "-1", false, 0, ATTEMPTS_MSG },
        { "max-attempts", "Unlimited", false, 0, ATTEMPTS_MSG },
        { "max-attempts", "infinite", false, 0, ATTEMPTS_MSG },
        { "max-attempts", "", false, 0, ATTEMPTS_MSG },
        { "max-age", "1ms", true, 1, NULL },
        { "max-age", "90s", true, 90000, NULL },
        { "max-age", "30m", true, 1800000, NULL },
        { "max-age", "24h", true, 86400000, NULL },
        { "max-age", "168h", true, 168 * 3600000LL, NULL },
        { "max-age", "unlimited", true, 0, NULL },
        { "max-age", "0h", false, 0, AGE_MSG },
        { "max-age", "0ms", false, 0, AGE_MSG },
        { "max-age", "1d", false, 0, AGE_MSG },
        { "max-age", "24", false, 0, AGE_MSG },
        { "max-age", "never", false, 0, AGE_MSG },
        { "dedupe-window", "1ms", true, 1, NULL },
        { "dedupe-window", "10m", true, 600000, NULL },
        { "dedupe-window", "24h", true, 86400000, NULL },
        { "dedupe-window", "720h", true, 720 * 3600000LL, NULL },
        { "dedupe-window", "off", true, 0, NULL },
        { "dedupe-window", "0h", false, 0, WINDOW_MSG },
        { "dedupe-window", "0ms", false, 0, WINDOW_MSG },
        { "dedupe-window", "1d", false, 0, WINDOW_MSG },
        { "dedupe-window", "24", false, 0, WINDOW_MSG },
        { "dedupe-window", "Off", false, 0, WINDOW_MSG },
        { "dedupe-window", "unlimited", false, 0, WINDOW_MSG },
        { "dedupe-window", "none", false, 0, WINDOW_MSG },
        { "dedupe-window", "", false, 0, WINDOW_MSG },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case("connector", &cases[i]);
    }
}

/* Every setting at once, the defaults beside them, and where a relative path goes. */
static void test_store_and_retry(void)
{
    struct result r;
    char want[512];
    const char *path = write_config(
        "store.xml",
        "  <store path=\"journal.db\" group-max=\"1000\" group-wait=\"5ms\" budget=\"2G\"/>\n"
        "  <connector name=\"a\" plugin=\"testsink\" max-attempts=\"unlimited\""
        " max-age=\"unlimited\"/>\n"
        "  <connector name=\"b\" plugin=\"testsink\" max-attempts=\"5\" max-age=\"90s\"/>\n"
        "  <connector name=\"c\" plugin=\"testsink\"/>\n"
        "  <connector name=\"d\" plugin=\"testsink\" max-age=\"1h\" dedupe-window=\"off\"/>\n");
    load(path, NULL, &r);
    CHECK(r.rc == 0);
    CHECK_STR(r.report, "");
    CHECK(rng_accepts(path) == 1);
    if (r.cfg) {
        snprintf(want, sizeof(want), "%s/journal.db", scratch);
        CHECK_STR(r.cfg->store_path, want);
        CHECK(r.cfg->store_line == 2);
        CHECK(r.cfg->store_group_max == 1000);
        CHECK(r.cfg->store_group_wait_us == 5000);
        CHECK(r.cfg->store_budget_bytes == INT64_C(2) << 30);
        CHECK(r.cfg->n_connectors == 4);
        if (r.cfg->n_connectors == 4) {
            CHECK(r.cfg->connectors[0].max_attempts == 0);
            CHECK(r.cfg->connectors[0].max_age_ms == 0);
            CHECK(r.cfg->connectors[1].max_attempts == 5);
            CHECK(r.cfg->connectors[1].max_age_ms == 90000);
            CHECK(r.cfg->connectors[2].max_attempts == OMB_DEFAULT_MAX_ATTEMPTS);
            CHECK(r.cfg->connectors[2].max_age_ms == OMB_DEFAULT_MAX_AGE_MS);
            CHECK(r.cfg->connectors[3].max_attempts == OMB_DEFAULT_MAX_ATTEMPTS);
            CHECK(r.cfg->connectors[3].max_age_ms == 3600000);
            CHECK(r.cfg->connectors[2].dedupe_window_ms == OMB_DEFAULT_DEDUPE_WINDOW_MS);
            CHECK(r.cfg->connectors[2].dedupe_window_ms == 24 * 3600 * 1000);
            CHECK(r.cfg->connectors[3].dedupe_window_ms == 0);
        }
    }
    result_free(&r);

    /* <store/> alone: no path (the daemon's default location), every default. */
    path = write_config("store-empty.xml", "  <store/>\n");
    load(path, NULL, &r);
    CHECK(r.rc == 0 && r.cfg != NULL);
    CHECK(rng_accepts(path) == 1);
    if (r.cfg) {
        CHECK(r.cfg->store_path == NULL);
        CHECK(r.cfg->store_line == 2);
        CHECK(r.cfg->store_group_max == 0);
        CHECK(r.cfg->store_group_wait_us == -1);
        CHECK(r.cfg->store_budget_bytes == 0);
    }
    result_free(&r);

    /* An absolute path is kept; a relative one with directories goes beside the config too. */
    path = write_config("store-abs.xml", "  <store path=\"/var/lib/omnibus/journal.db\"/>\n");
    load(path, NULL, &r);
    CHECK_STR(r.cfg ? r.cfg->store_path : NULL, "/var/lib/omnibus/journal.db");
    result_free(&r);
    path = write_config("store-rel.xml", "  <store path=\"../state/j.db\"/>\n");
    load(path, NULL, &r);
    snprintf(want, sizeof(want), "%s/../state/j.db", scratch);
    CHECK_STR(r.cfg ? r.cfg->store_path : NULL, want);
    result_free(&r);

    /* A config named without a directory is in the working directory: the path is unchanged. */
    char cwd[2048];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK(chdir(scratch) == 0);
    load("store-rel.xml", NULL, &r);
    CHECK_STR(r.cfg ? r.cfg->store_path : NULL, "../state/j.db");
    result_free(&r);
    CHECK(chdir(cwd) == 0);
}

static void test_store_retry_all(void)
{
    snprintf(scratch, sizeof(scratch), "%s/omb-config-test-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(scratch) != NULL);
    test_store_values();
    test_retry_values();
    test_store_and_retry();
    static const char *const files[] = { "case.xml", "store.xml", "store-empty.xml",
                                         "store-abs.xml", "store-rel.xml", NULL };
    char path[512];
    for (size_t i = 0; files[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", scratch, files[i]);
        unlink(path);
    }
    CHECK(rmdir(scratch) == 0);
}

static void test_misc(struct omb_registry *reg)
{
    struct result r;

    /* Warnings do not fail a load, and never show the secret. */
    load("good/literal-secret.xml", reg, &r);
    CHECK(r.rc == 0 && r.cfg != NULL);
    CHECK_STR(r.report, "good/literal-secret.xml:4: warning: connector 'web': option 'api-key': "
                        "secret written literally in the config; use env:NAME or file:PATH to "
                        "keep it out of the file\n");
    result_free(&r);

    /* Without a lookup, plugins and options are not checked. */
    load("broken/14-unknown-plugin.xml", NULL, &r);
    CHECK(r.rc == 0 && r.cfg != NULL);
    CHECK_STR(r.report, "");
    result_free(&r);

    load("no/such/file.xml", reg, &r);
    CHECK(r.rc == OMB_EIO && r.cfg == NULL);
    CHECK_STR(r.report, "no/such/file.xml:0: cannot read: No such file or directory\n");
    result_free(&r);

    load("broken", reg, &r);
    CHECK(r.rc == OMB_EIO && r.cfg == NULL);
    CHECK_STR(r.report, "broken:0: cannot read: Is a directory\n");
    result_free(&r);

    CHECK(omb_config_name_valid("pos"));
    CHECK(omb_config_name_valid("0-a_b"));
    CHECK(!omb_config_name_valid(""));
    CHECK(!omb_config_name_valid("_a"));
    CHECK(!omb_config_name_valid("Pos"));
    CHECK(!omb_config_name_valid("a.b"));
    char name[80];
    memset(name, 'a', sizeof(name));
    name[64] = '\0';
    CHECK(omb_config_name_valid(name));
    name[64] = 'a';
    name[65] = '\0';
    CHECK(!omb_config_name_valid(name));
    CHECK(omb_config_type_pattern_valid("*"));
    CHECK(omb_config_type_pattern_valid("price.set"));
    CHECK(omb_config_type_pattern_valid("stock.*"));
    CHECK(omb_config_type_pattern_valid("loyalty"));
    CHECK(omb_config_type_pattern_valid("a_b.c2.*"));
    CHECK(!omb_config_type_pattern_valid(""));
    CHECK(!omb_config_type_pattern_valid("*.set"));
    CHECK(!omb_config_type_pattern_valid("stock*"));
    CHECK(!omb_config_type_pattern_valid("stock."));
    CHECK(!omb_config_type_pattern_valid(".stock"));
    CHECK(!omb_config_type_pattern_valid("stock..level"));
    CHECK(!omb_config_type_pattern_valid("Stock.level"));
    CHECK(!omb_config_type_pattern_valid("stock.*.x"));
    CHECK(!omb_config_type_pattern_valid("2fa.sent"));
    omb_config_destroy(NULL);
}

int main(void)
{
    const char *src = getenv("top_srcdir");
    const char *build = getenv("top_builddir");
    char dir[2048];
    snprintf(plugin_dir, sizeof(plugin_dir), "%s/tests/config/.libs", build ? build : ".");
    snprintf(dir, sizeof(dir), "%s/tests/config", src ? src : ".");
    if (chdir(dir) != 0) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return 1;
    }
    setenv("OMB_TEST_TOKEN", "tok-s3cret", 1);
    unsetenv("OMB_TEST_UNSET_SECRET");
    struct omb_registry *reg = omb_registry_new(plugin_dir);
    CHECK(reg != NULL);
    test_full(reg);
    test_minimal();
    test_http();
    test_misc(reg);
    test_store_retry_all();
    test_broken(reg);
    test_schema_agrees();
    omb_registry_destroy(&reg);
    return test_result();
}
