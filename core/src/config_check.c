/* The config checks a schema cannot make: unique names, routes that read from and send to known
 * connectors able to do so, jq programs that compile and, given a plugin lookup, plugins that
 * exist and options their tables accept. Errors are gathered first and handed over sorted by
 * line, so that the report reads top to bottom. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "omnibus/err.h"
#include "config_priv.h"
#include "jq.h"
#include "options.h"

#define ERR_MAX 2048

struct check {
    const struct omb_config *cfg;
    const char *file;
    struct omb_diags *d;
    const struct omb_plugin_descriptor **descs; /* per connector; NULL: not looked up / none */
};

/* "(connectors: a, b)" or "(no connectors are defined)", for unknown-connector errors. */
static void known_connectors(const struct omb_config *cfg, char *buf, size_t len)
{
    if (cfg->n_connectors == 0) {
        snprintf(buf, len, "(no connectors are defined)");
        return;
    }
    size_t o = (size_t)snprintf(buf, len, "(connectors: ");
    for (size_t i = 0; i < cfg->n_connectors && o < len; i++) {
        if (omb_config_connector_find(cfg, cfg->connectors[i].name) != &cfg->connectors[i]) {
            continue; /* a duplicate, reported on its own */
        }
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", cfg->connectors[i].name);
    }
    if (o < len) {
        snprintf(buf + o, len - o, ")");
    }
}

static void check_names(struct check *c)
{
    const struct omb_config *cfg = c->cfg;
    for (size_t i = 0; i < cfg->n_connectors; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->connectors[i].name, cfg->connectors[j].name) == 0) {
                omb_diags_error(c->d, c->file, cfg->connectors[i].line,
                                "duplicate connector '%s' (first defined at line %d)",
                                cfg->connectors[i].name, cfg->connectors[j].line);
                break;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->routes[i].name, cfg->routes[j].name) == 0) {
                omb_diags_error(c->d, c->file, cfg->routes[i].line,
                                "duplicate route '%s' (first defined at line %d)",
                                cfg->routes[i].name, cfg->routes[j].line);
                break;
            }
        }
    }
}

/* jq's message(s) on one line: "jq: error: " prefixes become "; " separators, the "jq: N compile
 * error(s)" summary and the shell-quoting hint go, and runs of white space (jq quotes the
 * program, which may span lines) become one space. */
static void tidy_jq_message(char *s)
{
    static const char *const drop[] = { " (Unix shell quoting issues?)", NULL };
    char *o = s;
    char *p = s;
    while (*p) {
        if (strncmp(p, "jq: error: ", 11) == 0) {
            p += 11;
            if (o > s) {
                while (o > s && o[-1] == ' ') {
                    o--;
                }
                *o++ = ';';
                *o++ = ' ';
            }
            continue;
        }
        if (strncmp(p, "jq: ", 4) == 0 && strstr(p, " compile error") &&
            strspn(p + 4, "0123456789") > 0) {
            break; /* the summary ends the text */
        }
        bool dropped = false;
        for (size_t i = 0; drop[i] && !dropped; i++) {
            size_t n = strlen(drop[i]);
            if (strncmp(p, drop[i], n) == 0) {
                p += n;
                dropped = true;
            }
        }
        if (dropped) {
            continue;
        }
        if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
            if (o > s && o[-1] != ' ') {
                *o++ = ' ';
            }
            p++;
            continue;
        }
        *o++ = *p++;
    }
    while (o > s && o[-1] == ' ') {
        o--;
    }
    *o = '\0';
}

static void check_jq(struct check *c, const struct omb_config_route *r, const char *what,
                     const char *program, int line)
{
    char err[ERR_MAX];
    if (!program) {
        return;
    }
    if (!program[strspn(program, " \t\r\n")]) {
        omb_diags_error(c->d, c->file, line, "route '%s': <%s> is empty; expected a jq program",
                        r->name, what);
        return;
    }
    struct omb_jq *jq = omb_jq_compile(program, err, sizeof(err));
    if (!jq) {
        tidy_jq_message(err);
        omb_diags_error(c->d, c->file, line, "route '%s': %s does not compile: %s", r->name, what,
                        err[0] ? err : "jq gave no reason");
        return;
    }
    omb_jq_destroy(&jq);
}

static void check_route(struct check *c, const struct omb_config_route *r)
{
    char known[1024];
    known_connectors(c->cfg, known, sizeof(known));
    for (size_t i = 0; i < r->n_from; i++) {
        const struct omb_config_from *f = &r->from[i];
        if (!omb_config_connector_find(c->cfg, f->connector)) {
            omb_diags_error(c->d, c->file, f->line,
                            "route '%s' reads from unknown connector '%s' %s", r->name,
                            f->connector, known);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->from[j].connector, f->connector) == 0 &&
                strcmp(r->from[j].type, f->type) == 0) {
                omb_diags_error(c->d, c->file, f->line,
                                "route '%s' reads from connector '%s' with type \"%s\" twice "
                                "(first at line %d)", r->name, f->connector, f->type,
                                r->from[j].line);
                break;
            }
        }
    }
    for (size_t i = 0; i < r->n_to; i++) {
        const struct omb_config_to *t = &r->to[i];
        if (!omb_config_connector_find(c->cfg, t->connector)) {
            omb_diags_error(c->d, c->file, t->line,
                            "route '%s' sends to unknown connector '%s' %s", r->name,
                            t->connector, known);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->to[j].connector, t->connector) == 0) {
                omb_diags_error(c->d, c->file, t->line,
                                "route '%s' sends to connector '%s' twice (first at line %d)",
                                r->name, t->connector, r->to[j].line);
                break;
            }
        }
    }
    check_jq(c, r, "filter", r->filter, r->filter_line);
    check_jq(c, r, "transform", r->transform, r->transform_line);
}

/* <http>: TLS needs both files, and both readable (checked here so that --check finds it). */
static void check_http(struct check *c)
{
    const struct omb_config_http *h = c->cfg->http;
    if (!h) {
        return;
    }
    if ((h->tls_cert == NULL) != (h->tls_key == NULL)) {
        omb_diags_error(c->d, c->file, h->line,
                        "<http>: attribute '%s' needs '%s' too (TLS takes a certificate and its "
                        "private key)", h->tls_cert ? "tls-cert" : "tls-key",
                        h->tls_cert ? "tls-key" : "tls-cert");
    }
    const char *files[2][2] = { { "tls-cert", h->tls_cert }, { "tls-key", h->tls_key } };
    for (size_t i = 0; i < 2; i++) {
        if (files[i][1] && access(files[i][1], R_OK) != 0) {
            omb_diags_error(c->d, c->file, h->line, "<http>: attribute '%s': cannot read %s: %s",
                            files[i][0], files[i][1], strerror(errno));
        }
    }
}

/* Find the connector's plugin, check its options, run its validate. */
static int check_connector(struct check *c, size_t i, omb_plugin_lookup_fn lookup, void *arg)
{
    const struct omb_config_connector *cc = &c->cfg->connectors[i];
    char err[ERR_MAX] = "";
    void *ctx = NULL;
    const struct omb_plugin_descriptor *desc = lookup(arg, cc->plugin, err, sizeof(err));
    if (!desc) {
        omb_diags_error(c->d, c->file, cc->line, "connector '%s': %s", cc->name,
                        err[0] ? err : "plugin not found");
        return 0;
    }
    c->descs[i] = desc;
    if (cc->deliver_timeout_given && !cc->isolate_process) {
        omb_diags_error(c->d, c->file, cc->line,
                        "connector '%s': deliver-timeout needs isolate=\"process\" (a delivery "
                        "inside the daemon cannot be interrupted)", cc->name);
    }
    int rc = omb_options_apply(desc, cc, c->file, &ctx, c->d);
    if (rc == OMB_ENOMEM) {
        return rc;
    }
    if (rc != 0 || !desc->validate) {
        omb_options_free(desc, ctx);
        return 0;
    }
    err[0] = '\0';
    if (desc->validate(ctx, err, sizeof(err)) != 0) {
        err[sizeof(err) - 1] = '\0';
        omb_diags_error(c->d, c->file, cc->line, "connector '%s': %s", cc->name,
                        err[0] ? err : "options rejected by the plugin (no reason given)");
    }
    omb_options_free(desc, ctx);
    return 0;
}

/* A route reads only from sources and sends only to sinks. */
static void check_capabilities(struct check *c, const struct omb_config_route *r)
{
    for (size_t i = 0; i < r->n_from; i++) {
        const struct omb_config_connector *cc = omb_config_connector_find(c->cfg,
                                                                          r->from[i].connector);
        const struct omb_plugin_descriptor *d = cc ? c->descs[cc - c->cfg->connectors] : NULL;
        if (d && !(d->capabilities & OMB_CAP_SOURCE)) {
            omb_diags_error(c->d, c->file, r->from[i].line,
                            "route '%s' reads from connector '%s', but its plugin '%s' is not a "
                            "source (it emits no events)", r->name, cc->name, d->name);
        }
    }
    for (size_t i = 0; i < r->n_to; i++) {
        const struct omb_config_connector *cc = omb_config_connector_find(c->cfg,
                                                                          r->to[i].connector);
        const struct omb_plugin_descriptor *d = cc ? c->descs[cc - c->cfg->connectors] : NULL;
        if (d && !(d->capabilities & OMB_CAP_SINK)) {
            omb_diags_error(c->d, c->file, r->to[i].line,
                            "route '%s' sends to connector '%s', but its plugin '%s' is not a "
                            "sink (it takes no deliveries)", r->name, cc->name, d->name);
        }
    }
}

int omb_config_check(const struct omb_config *cfg, omb_plugin_lookup_fn lookup,
                     void *lookup_arg, struct omb_diags *diags)
{
    struct omb_diags found;
    struct check c = { .cfg = cfg, .file = cfg->path, .d = &found };
    int rc = 0;

    omb_diags_init(&found);
    c.descs = calloc(cfg->n_connectors ? cfg->n_connectors : 1, sizeof(*c.descs));
    if (!c.descs) {
        rc = OMB_ENOMEM;
        goto out;
    }
    check_names(&c);
    check_http(&c);
    if (cfg->admin_endpoint && strncmp(cfg->admin_endpoint, "ipc://", 6) != 0) {
        /* A tcp admin socket would hand the daemon's controls to the network: only with CURVE
         * keys, which are not supported yet. */
        omb_diags_error(&found, cfg->path, cfg->admin_line,
                        "<admin endpoint=\"%s\">: the admin socket is ipc:// only for now "
                        "(tcp needs CURVE keys, not supported yet)",
                        cfg->admin_endpoint);
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        check_route(&c, &cfg->routes[i]);
    }
    for (size_t i = 0; lookup && i < cfg->n_connectors; i++) {
        rc = check_connector(&c, i, lookup, lookup_arg);
        if (rc != 0) {
            goto out;
        }
    }
    for (size_t i = 0; lookup && i < cfg->n_routes; i++) {
        check_capabilities(&c, &cfg->routes[i]);
    }
    rc = found.errors ? OMB_EINVAL : 0;
out:
    omb_config_diags_move_sorted(diags, &found);
    free(c.descs);
    return rc;
}
