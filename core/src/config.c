/* The config loader: read the file, hash it, parse it with libxml2 (no network, no external
 * entities, no DOCTYPE), check it against the embedded schema (config_schema.c), build struct
 * omb_config, then check what a schema cannot: names unique, routes lead to known connectors that
 * can source and sink, jq compiles, and (with a plugin lookup) every connector's options. Every
 * error is collected in the caller's diags as FILE:LINE: message; nothing goes to stderr. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <openssl/evp.h>

#include "omnibus/err.h"
#include "config.h"
#include "config_priv.h"
#include "jq.h"
#include "options.h"

#if LIBXML_VERSION >= 21200
#define XML_ERROR_CONST const
#else
#define XML_ERROR_CONST
#endif

#define CONFIG_MAX_BYTES (16 * 1024 * 1024)
#define DEFAULT_DRAIN_TIMEOUT_MS 10000

/* ---- reading and parsing ---- */

static int read_file(const char *path, char **buf_out, size_t *len_out, struct omb_diags *d)
{
    int rc = OMB_EIO;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        omb_diags_error(d, path, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    buf = malloc(CONFIG_MAX_BYTES + 1);
    if (!buf) {
        rc = OMB_ENOMEM;
        omb_diags_error(d, path, 0, "cannot read: out of memory");
        goto out;
    }
    len = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        omb_diags_error(d, path, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (len > CONFIG_MAX_BYTES) {
        omb_diags_error(d, path, 0, "cannot read: larger than %d MiB",
                        CONFIG_MAX_BYTES / (1024 * 1024));
        goto out;
    }
    buf[len] = '\0';
    *buf_out = buf;
    *len_out = len;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    if (f) {
        fclose(f);
    }
    return rc;
}

static int sha256_hex(const char *buf, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        return OMB_ENOMEM;
    }
    for (unsigned int i = 0; i < mdlen; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return 0;
}

/* Where libxml2's messages go while one config loads. */
struct xml_errors {
    const char *file;
    struct omb_diags *d;
    size_t errors;
};

static void on_xml_error(void *arg, XML_ERROR_CONST xmlError *e)
{
    struct xml_errors *x = arg;
    const char *m = e->message ? e->message : "malformed XML";
    size_t len = strlen(m);
    while (len && (m[len - 1] == '\n' || m[len - 1] == ' ')) {
        len--;
    }
    if (e->level == XML_ERR_WARNING) {
        omb_diags_warning(x->d, x->file, e->line, "%.*s", (int)len, m);
        return;
    }
    x->errors++;
    omb_diags_error(x->d, x->file, e->line, "%.*s", (int)len, m);
}

static void on_generic_error(void *arg, const char *fmt, ...)
{
    /* Everything libxml2 reports also reaches on_xml_error; this only keeps stderr quiet. */
    (void)arg;
    (void)fmt;
}

/* The line of the first "<!DOCTYPE", or 0. */
static int doctype_line(const char *buf, size_t len)
{
    const char *p = memmem(buf, len, "<!DOCTYPE", 9);
    int line = 1;
    if (!p) {
        return 0;
    }
    for (const char *c = buf; c < p; c++) {
        line += *c == '\n';
    }
    return line;
}

static int parse(struct xml_errors *x, const char *buf, size_t len, xmlDoc **doc_out)
{
    xmlDoc *doc = NULL;

    *doc_out = NULL;
    if (len == 0) {
        omb_diags_error(x->d, x->file, 0, "the file is empty; expected <omnibus xmlns=\"%s\">",
                        OMB_CONFIG_NS);
        return OMB_EINVAL;
    }
    /* No XML_PARSE_NOENT (entities are not substituted), no DTDLOAD/DTDATTR (no external
     * subset), NONET (nothing is fetched). */
    doc = xmlReadMemory(buf, (int)len, x->file, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES);
    if (!doc || x->errors) {
        if (x->errors == 0) {
            omb_diags_error(x->d, x->file, 0, "not well-formed XML");
        }
        xmlFreeDoc(doc);
        return OMB_EINVAL;
    }
    if (doc->intSubset || doc->extSubset) {
        omb_diags_error(x->d, x->file, doctype_line(buf, len),
                        "a DOCTYPE is not allowed in an omnibus config");
        xmlFreeDoc(doc);
        return OMB_EINVAL;
    }
    *doc_out = doc;
    return 0;
}

/* Parse and check the structure with every libxml2 message routed into diags (libxml2 would
 * print to stderr otherwise). The handlers are per thread in libxml2; they are restored. */
static int parse_and_validate(const char *file, const char *buf, size_t len, xmlDoc **doc_out,
                              struct omb_diags *d)
{
    struct xml_errors x = { .file = file, .d = d };
    xmlStructuredErrorFunc old_serror = xmlStructuredError;
    void *old_sctx = xmlStructuredErrorContext;
    xmlGenericErrorFunc old_error = xmlGenericError;
    void *old_ctx = xmlGenericErrorContext;

    xmlSetStructuredErrorFunc(&x, on_xml_error);
    xmlSetGenericErrorFunc(NULL, on_generic_error);
    int rc = parse(&x, buf, len, doc_out);
    if (rc == 0) {
        rc = omb_config_schema_check(*doc_out, file, d);
        if (rc != 0) {
            xmlFreeDoc(*doc_out);
            *doc_out = NULL;
        }
    }
    xmlSetStructuredErrorFunc(old_sctx, old_serror);
    xmlSetGenericErrorFunc(old_ctx, old_error);
    return rc;
}

/* ---- building struct omb_config ---- */

struct build {
    const char *file;
    struct omb_diags *d;
    bool oom;
};

static int line_of(const xmlNode *n)
{
    return (int)xmlGetLineNo(n);
}

static bool is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* A malloc'd copy of attribute `name`, NULL when absent (or on ENOMEM, noted in b). */
static char *attr(struct build *b, const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v) {
        return NULL;
    }
    char *s = strdup((const char *)v);
    xmlFree(v);
    b->oom |= !s;
    return s;
}

static char *text(struct build *b, const xmlNode *n)
{
    xmlChar *v = xmlNodeGetContent(n);
    char *s = strdup(v ? (const char *)v : "");
    xmlFree(v);
    b->oom |= !s;
    return s;
}

static size_t count_children(const xmlNode *n, const char *name)
{
    size_t k = 0;
    for (const xmlNode *c = n->children; c; c = c->next) {
        k += is(c, name);
    }
    return k;
}

static void build_connector(struct build *b, const xmlNode *n, struct omb_config_connector *cc)
{
    cc->name = attr(b, n, "name");
    cc->plugin = attr(b, n, "plugin");
    cc->log_level = attr(b, n, "log-level");
    cc->line = line_of(n);
    char *attempts = attr(b, n, "max-attempts");
    char *age = attr(b, n, "max-age");
    char *window = attr(b, n, "dedupe-window");
    char *isolate = attr(b, n, "isolate");
    char *deadline = attr(b, n, "deliver-timeout");
    cc->isolate_process = isolate && strcmp(isolate, "process") == 0;
    cc->deliver_timeout_ms = OMB_DEFAULT_DELIVER_TIMEOUT_MS;
    cc->deliver_timeout_given = deadline != NULL;
    if (deadline) {
        (void)omb_duration_parse(deadline, &cc->deliver_timeout_ms);
    }
    free(isolate);
    free(deadline);
    cc->max_attempts = OMB_DEFAULT_MAX_ATTEMPTS;
    cc->max_age_ms = OMB_DEFAULT_MAX_AGE_MS;
    cc->dedupe_window_ms = OMB_DEFAULT_DEDUPE_WINDOW_MS;
    /* The schema check accepted "unlimited" (0 here), 1..1000000 and a duration above zero. */
    if (attempts) {
        cc->max_attempts = strcmp(attempts, "unlimited") == 0 ? 0 : strtoll(attempts, NULL, 10);
    }
    if (age && strcmp(age, "unlimited") == 0) {
        cc->max_age_ms = 0;
    } else if (age) {
        (void)omb_duration_parse(age, &cc->max_age_ms);
    }
    /* Likewise "off" (0 here) or a duration above zero. */
    if (window && strcmp(window, "off") == 0) {
        cc->dedupe_window_ms = 0;
    } else if (window) {
        (void)omb_duration_parse(window, &cc->dedupe_window_ms);
    }
    free(attempts);
    free(age);
    free(window);
    size_t k = count_children(n, "option");
    cc->options = calloc(k ? k : 1, sizeof(*cc->options));
    if (!cc->options) {
        b->oom = true;
        return;
    }
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (is(c, "option")) {
            struct omb_config_option *o = &cc->options[cc->n_options++];
            o->name = attr(b, c, "name");
            o->value = text(b, c);
            o->line = line_of(c);
        }
    }
}

static void build_route(struct build *b, const xmlNode *n, struct omb_config_route *r)
{
    char *enabled = attr(b, n, "enabled");
    r->name = attr(b, n, "name");
    r->line = line_of(n);
    r->enabled = !enabled || strcmp(enabled, "false") != 0;
    free(enabled);
    size_t nf = count_children(n, "from");
    size_t nt = count_children(n, "to");
    r->from = calloc(nf ? nf : 1, sizeof(*r->from));
    r->to = calloc(nt ? nt : 1, sizeof(*r->to));
    if (!r->from || !r->to) {
        b->oom = true;
        return;
    }
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (is(c, "from")) {
            struct omb_config_from *f = &r->from[r->n_from++];
            f->connector = attr(b, c, "connector");
            f->type = attr(b, c, "type");
            if (!f->type && !b->oom) {
                f->type = strdup("*");
                b->oom |= !f->type;
            }
            f->line = line_of(c);
        } else if (is(c, "to")) {
            struct omb_config_to *t = &r->to[r->n_to++];
            char *conflate = attr(b, c, "conflate");
            t->connector = attr(b, c, "connector");
            t->conflate_key = conflate && strcmp(conflate, "key") == 0;
            t->line = line_of(c);
            free(conflate);
        } else if (is(c, "filter")) {
            r->filter = text(b, c);
            r->filter_line = line_of(c);
        } else if (is(c, "transform")) {
            r->transform = text(b, c);
            r->transform_type = attr(b, c, "type");
            r->transform_line = line_of(c);
        }
    }
}

static void build_daemon(struct build *b, const xmlNode *n, struct omb_config *cfg)
{
    char *workers = attr(b, n, "workers");
    char *drain = attr(b, n, "drain-timeout");
    char *level = attr(b, n, "log-level");
    if (workers) {
        cfg->workers = (int)strtol(workers, NULL, 10); /* the schema allowed 0..1024 digits */
    }
    if (drain) {
        (void)omb_duration_parse(drain, &cfg->drain_timeout_ms); /* the schema check parsed it */
    }
    if (level) {
        free(cfg->log_level);
        cfg->log_level = level;
    }
    cfg->plugin_dir = attr(b, n, "plugin-dir");
    free(workers);
    free(drain);
}

/* A relative `path` joined to the directory of the config file `file` (unchanged when it is
 * absolute, or when the config is in the working directory). A new string, or NULL (ENOMEM). */
static char *beside_config(const char *file, const char *path)
{
    const char *slash = strrchr(file, '/');
    if (path[0] == '/' || !slash) {
        return strdup(path);
    }
    size_t dirlen = (size_t)(slash - file) + 1; /* with the slash; "/" for "/omnibus.xml" */
    size_t plen = strlen(path);
    char *s = malloc(dirlen + plen + 1);
    if (s) {
        memcpy(s, file, dirlen);
        memcpy(s + dirlen, path, plen + 1);
    }
    return s;
}

/* <store>: every attribute was checked by the schema walk; absent ones are left for the store's
 * defaults (group-max 0, group-wait -1, budget 0). */
static void build_store(struct build *b, const xmlNode *n, struct omb_config *cfg)
{
    char *path = attr(b, n, "path");
    char *group_max = attr(b, n, "group-max");
    char *group_wait = attr(b, n, "group-wait");
    char *budget = attr(b, n, "budget");
    int64_t ms = 0;
    cfg->store_line = line_of(n);
    if (path) {
        cfg->store_path = beside_config(b->file, path);
        b->oom |= !cfg->store_path;
    }
    if (group_max) {
        cfg->store_group_max = (int)strtol(group_max, NULL, 10); /* 1..100000 */
    }
    if (group_wait && omb_duration_parse(group_wait, &ms) == 0) {
        cfg->store_group_wait_us = ms * 1000; /* 0..1 s */
    }
    if (budget) {
        (void)omb_size_parse(budget, &cfg->store_budget_bytes);
    }
    free(path);
    free(group_max);
    free(group_wait);
    free(budget);
}

/* <http>: every attribute was checked by the schema walk; absent ones take the defaults. */
static void build_http(struct build *b, const xmlNode *n, struct omb_config *cfg)
{
    struct omb_config_http *h = calloc(1, sizeof(*h));
    if (!h) {
        b->oom = true;
        return;
    }
    cfg->http = h;
    h->port = OMB_HTTP_DEFAULT_PORT;
    h->body_limit = OMB_HTTP_DEFAULT_BODY_LIMIT;
    h->timeout_ms = OMB_HTTP_DEFAULT_TIMEOUT_MS;
    h->threads = OMB_HTTP_DEFAULT_THREADS;
    h->line = line_of(n);
    char *listen = attr(b, n, "listen");
    char *limit = attr(b, n, "body-limit");
    char *timeout = attr(b, n, "timeout");
    char *threads = attr(b, n, "threads");
    if (!listen || omb_config_listen_parse(listen, &h->host, &h->port) != 0) {
        h->host = strdup(OMB_HTTP_DEFAULT_HOST);
        b->oom |= !h->host;
    }
    if (limit) {
        (void)omb_size_parse(limit, &h->body_limit);
    }
    if (timeout) {
        (void)omb_duration_parse(timeout, &h->timeout_ms);
    }
    if (threads) {
        h->threads = (int)strtol(threads, NULL, 10);
    }
    h->tls_cert = attr(b, n, "tls-cert");
    h->tls_key = attr(b, n, "tls-key");
    free(listen);
    free(limit);
    free(timeout);
    free(threads);
}

static struct omb_config *build(struct build *b, const char *path, const xmlNode *root)
{
    struct omb_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        b->oom = true;
        return NULL;
    }
    cfg->path = strdup(path);
    cfg->log_level = strdup("info");
    cfg->drain_timeout_ms = DEFAULT_DRAIN_TIMEOUT_MS;
    cfg->store_group_wait_us = -1;
    size_t nc = count_children(root, "connector");
    size_t nr = count_children(root, "route");
    cfg->connectors = calloc(nc ? nc : 1, sizeof(*cfg->connectors));
    cfg->routes = calloc(nr ? nr : 1, sizeof(*cfg->routes));
    if (!cfg->path || !cfg->log_level || !cfg->connectors || !cfg->routes) {
        b->oom = true;
        return cfg;
    }
    for (const xmlNode *c = root->children; c && !b->oom; c = c->next) {
        if (is(c, "daemon")) {
            build_daemon(b, c, cfg);
        } else if (is(c, "store")) {
            build_store(b, c, cfg);
        } else if (is(c, "admin")) {
            cfg->admin_endpoint = attr(b, c, "endpoint");
            cfg->admin_line = line_of(c);
        } else if (is(c, "http")) {
            build_http(b, c, cfg);
        } else if (is(c, "connector")) {
            build_connector(b, c, &cfg->connectors[cfg->n_connectors++]);
        } else if (is(c, "route")) {
            build_route(b, c, &cfg->routes[cfg->n_routes++]);
        }
    }
    return cfg;
}

/* ---- lookups ---- */

const struct omb_config_connector *omb_config_connector_find(const struct omb_config *cfg,
                                                             const char *name)
{
    for (size_t i = 0; cfg && name && i < cfg->n_connectors; i++) {
        if (cfg->connectors[i].name && strcmp(cfg->connectors[i].name, name) == 0) {
            return &cfg->connectors[i];
        }
    }
    return NULL;
}

void omb_config_destroy(struct omb_config **cfgp)
{
    if (!cfgp || !*cfgp) {
        return;
    }
    struct omb_config *cfg = *cfgp;
    for (size_t i = 0; cfg->connectors && i < cfg->n_connectors; i++) {
        struct omb_config_connector *cc = &cfg->connectors[i];
        for (size_t j = 0; j < cc->n_options; j++) {
            free(cc->options[j].name);
            free(cc->options[j].value);
        }
        free(cc->options);
        free(cc->name);
        free(cc->plugin);
        free(cc->log_level);
    }
    for (size_t i = 0; cfg->routes && i < cfg->n_routes; i++) {
        struct omb_config_route *r = &cfg->routes[i];
        for (size_t j = 0; j < r->n_from; j++) {
            free(r->from[j].connector);
            free(r->from[j].type);
        }
        for (size_t j = 0; j < r->n_to; j++) {
            free(r->to[j].connector);
        }
        free(r->from);
        free(r->to);
        free(r->name);
        free(r->filter);
        free(r->transform);
        free(r->transform_type);
    }
    free(cfg->connectors);
    free(cfg->routes);
    free(cfg->path);
    free(cfg->log_level);
    free(cfg->plugin_dir);
    free(cfg->store_path);
    free(cfg->admin_endpoint);
    if (cfg->http) {
        free(cfg->http->host);
        free(cfg->http->tls_cert);
        free(cfg->http->tls_key);
        free(cfg->http);
    }
    free(cfg);
    *cfgp = NULL;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool omb_config_http_equal(const struct omb_config_http *a, const struct omb_config_http *b)
{
    if (!a || !b) {
        return a == b;
    }
    return same_str(a->host, b->host) && a->port == b->port && a->body_limit == b->body_limit &&
           a->timeout_ms == b->timeout_ms && same_str(a->tls_cert, b->tls_cert) &&
           same_str(a->tls_key, b->tls_key) && a->threads == b->threads;
}

int omb_config_listen_parse(const char *listen, char **host_out, int *port_out)
{
    char host[INET6_ADDRSTRLEN + 2];
    unsigned char addr[sizeof(struct in6_addr)];
    const char *colon = strrchr(listen, ':');
    *host_out = NULL;
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host)) {
        return OMB_EINVAL;
    }
    const char *port = colon + 1;
    size_t digits = strspn(port, "0123456789");
    if (digits == 0 || digits > 5 || port[digits] != '\0' || strtol(port, NULL, 10) > 65535) {
        return OMB_EINVAL;
    }
    size_t hlen = (size_t)(colon - listen);
    bool v6 = listen[0] == '[';
    if (v6) {
        if (hlen < 3 || listen[hlen - 1] != ']') {
            return OMB_EINVAL;
        }
        memcpy(host, listen + 1, hlen - 2);
        host[hlen - 2] = '\0';
    } else {
        memcpy(host, listen, hlen);
        host[hlen] = '\0';
    }
    if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
        return OMB_EINVAL;
    }
    *host_out = strdup(host);
    if (!*host_out) {
        return OMB_ENOMEM;
    }
    *port_out = (int)strtol(port, NULL, 10);
    return 0;
}

char *omb_config_peek_plugin_dir(const char *path)
{
    char *dir = NULL;
    xmlInitParser();
    xmlDoc *doc = xmlReadFile(path, NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    for (xmlNode *n = root ? root->children : NULL; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST "daemon") == 0) {
            xmlChar *v = xmlGetProp(n, BAD_CAST "plugin-dir");
            if (v) {
                dir = strdup((const char *)v);
                xmlFree(v);
            }
            break;
        }
    }
    xmlFreeDoc(doc);
    return dir;
}

int omb_config_load(const char *path, omb_plugin_lookup_fn lookup, void *lookup_arg,
                    struct omb_config **out, struct omb_diags *diags)
{
    char *buf = NULL;
    size_t len = 0;
    xmlDoc *doc = NULL;
    struct omb_config *cfg = NULL;
    char hash[65];
    int rc;
    size_t errors_before = diags->errors;

    *out = NULL;
    xmlInitParser();
    rc = read_file(path, &buf, &len, diags);
    if (rc != 0) {
        goto out;
    }
    rc = sha256_hex(buf, len, hash);
    if (rc != 0) {
        omb_diags_error(diags, path, 0, "cannot hash the file: out of memory");
        goto out;
    }
    rc = parse_and_validate(path, buf, len, &doc, diags);
    if (rc != 0) {
        goto out;
    }
    struct build b = { .file = path, .d = diags };
    cfg = build(&b, path, xmlDocGetRootElement(doc));
    if (b.oom) {
        omb_diags_error(diags, path, 0, "out of memory");
        rc = OMB_ENOMEM;
        goto out;
    }
    memcpy(cfg->hash, hash, sizeof(cfg->hash));
    rc = omb_config_check(cfg, lookup, lookup_arg, diags);
    if (rc == 0 && diags->errors > errors_before) {
        rc = OMB_EINVAL;
    }
out:
    if (rc == 0) {
        *out = cfg;
        cfg = NULL;
    }
    omb_config_destroy(&cfg);
    xmlFreeDoc(doc);
    free(buf);
    return rc;
}
