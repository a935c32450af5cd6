/* The config's structure. The embedded RelaxNG schema is the authority on what is valid, but
 * libxml2's RelaxNG messages are terse ("Element connector failed to validate attributes") and
 * it stops at the first problem of some kinds. So the same rules are also walked here, element by
 * element, and every violation is explained: which element, which attribute, what was expected.
 * A RelaxNG error on a line the walk already explained is dropped; any other is kept as
 * libxml2 words it, so nothing the schema rejects goes unreported. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>

#include "omnibus/err.h"
#include "config.h"
#include "config_priv.h"
#include "options.h"

#if LIBXML_VERSION >= 21200
#define XML_ERROR_CONST const
#else
#define XML_ERROR_CONST
#endif

enum vkind {
    V_NAME,
    V_OPTION_NAME,
    V_TYPE,
    V_EVENT_TYPE,
    V_DURATION,
    V_WORKERS,
    V_LOG_LEVEL,
    V_PATH,
    V_ENDPOINT,
    V_TRUE_FALSE,
    V_CONFLATE,
    V_LISTEN,
    V_SIZE,
    V_THREADS,
    V_GROUP_MAX,
    V_GROUP_WAIT,
    V_BUDGET,
    V_MAX_ATTEMPTS,
    V_MAX_AGE,
    V_DEDUPE_WINDOW,
    V_ISOLATE,
    V_DELIVER_TIMEOUT
};

/* Ranges of the <store> and <connector> settings (config/omnibus.rng says the same). */
#define GROUP_MAX_LIMIT 100000        /* <store group-max> */
#define GROUP_WAIT_MAX_MS 1000        /* <store group-wait> */
#define BUDGET_MIN (INT64_C(1) << 20) /* <store budget> */
#define MAX_ATTEMPTS_LIMIT 1000000    /* <connector max-attempts> */
#define DELIVER_TIMEOUT_MAX_MS (INT64_C(3600) * 1000) /* <connector deliver-timeout> */

struct attr_def {
    const char *name; /* NULL ends a list */
    enum vkind kind;
    bool required;
};

/* One position in an element's content: one of `names`, between min and max times (0 = any). */
struct slot {
    const char *names[3];
    unsigned min, max;
};

struct elem_def {
    const char *name;
    const struct attr_def *attrs;
    const struct slot *slots; /* NULL: no child elements */
    size_t n_slots;
    bool text;                /* holds text */
    const char *expect;       /* the child elements, for "unexpected element" */
    const char *order;        /* the order rule, for "out of place" */
};

static const struct attr_def no_attrs[] = { { NULL, V_NAME, false } };
static const struct attr_def daemon_attrs[] = {
    { "workers", V_WORKERS, false },      { "drain-timeout", V_DURATION, false },
    { "log-level", V_LOG_LEVEL, false },  { "plugin-dir", V_PATH, false },
    { NULL, V_NAME, false },
};
static const struct attr_def store_attrs[] = {
    { "path", V_PATH, false },
    { "group-max", V_GROUP_MAX, false },
    { "group-wait", V_GROUP_WAIT, false },
    { "budget", V_BUDGET, false },
    { NULL, V_NAME, false },
};
static const struct attr_def admin_attrs[] = { { "endpoint", V_ENDPOINT, true },
                                               { NULL, V_NAME, false } };
static const struct attr_def http_attrs[] = {
    { "listen", V_LISTEN, false },   { "body-limit", V_SIZE, false },
    { "timeout", V_DURATION, false }, { "tls-cert", V_PATH, false },
    { "tls-key", V_PATH, false },     { "threads", V_THREADS, false },
    { NULL, V_NAME, false },
};
static const struct attr_def connector_attrs[] = {
    { "name", V_NAME, true },
    { "plugin", V_NAME, true },
    { "log-level", V_LOG_LEVEL, false },
    { "max-attempts", V_MAX_ATTEMPTS, false },
    { "max-age", V_MAX_AGE, false },
    { "dedupe-window", V_DEDUPE_WINDOW, false },
    { "isolate", V_ISOLATE, false },
    { "deliver-timeout", V_DELIVER_TIMEOUT, false },
    { NULL, V_NAME, false },
};
static const struct attr_def option_attrs[] = { { "name", V_OPTION_NAME, true },
                                                { NULL, V_NAME, false } };
static const struct attr_def route_attrs[] = {
    { "name", V_NAME, true },
    { "enabled", V_TRUE_FALSE, false },
    { NULL, V_NAME, false },
};
static const struct attr_def from_attrs[] = {
    { "connector", V_NAME, true },
    { "type", V_TYPE, false },
    { NULL, V_NAME, false },
};
static const struct attr_def transform_attrs[] = { { "type", V_EVENT_TYPE, false },
                                                   { NULL, V_NAME, false } };
static const struct attr_def to_attrs[] = {
    { "connector", V_NAME, true },
    { "conflate", V_CONFLATE, false },
    { NULL, V_NAME, false },
};

static const struct slot omnibus_slots[] = {
    { { "daemon", NULL, NULL }, 0, 1 },
    { { "store", NULL, NULL }, 0, 1 },
    { { "admin", NULL, NULL }, 0, 1 },
    { { "http", NULL, NULL }, 0, 1 },
    { { "connector", "route", NULL }, 0, 0 },
};
static const struct slot connector_slots[] = { { { "option", NULL, NULL }, 0, 0 } };
static const struct slot route_slots[] = {
    { { "from", NULL, NULL }, 1, 0 },
    { { "filter", NULL, NULL }, 0, 1 },
    { { "transform", NULL, NULL }, 0, 1 },
    { { "to", NULL, NULL }, 1, 0 },
};

#define SLOTS(s) s, sizeof(s) / sizeof(s[0])

static const struct elem_def elems[] = {
    { "omnibus", no_attrs, SLOTS(omnibus_slots), false,
      "<daemon>, <store>, <admin>, <http>, <connector> or <route>",
      "<daemon>, <store>, <admin> and <http> come first, in that order, before any <connector> "
      "or <route>" },
    { "daemon", daemon_attrs, NULL, 0, false, NULL, NULL },
    { "store", store_attrs, NULL, 0, false, NULL, NULL },
    { "admin", admin_attrs, NULL, 0, false, NULL, NULL },
    { "http", http_attrs, NULL, 0, false, NULL, NULL },
    { "connector", connector_attrs, SLOTS(connector_slots), false, "<option>", NULL },
    { "option", option_attrs, NULL, 0, true, NULL, NULL },
    { "route", route_attrs, SLOTS(route_slots), false,
      "<from>, <filter>, <transform> or <to>",
      "expected one or more <from>, then an optional <filter>, an optional <transform>, then "
      "one or more <to>" },
    { "from", from_attrs, NULL, 0, false, NULL, NULL },
    { "filter", no_attrs, NULL, 0, true, NULL, NULL },
    { "transform", transform_attrs, NULL, 0, true, NULL, NULL },
    { "to", to_attrs, NULL, 0, false, NULL, NULL },
};

/* ---- values ---- */

static bool in_set(const char *s, const char *set)
{
    return s[0] && strspn(s, set) == strlen(s);
}

#define LOWER_DIGIT "abcdefghijklmnopqrstuvwxyz0123456789"

bool omb_config_name_valid(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= 64 && strchr(LOWER_DIGIT, name[0]) && in_set(name, LOWER_DIGIT "_-");
}

static bool option_name_valid(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= 64 && strchr(LOWER_DIGIT, name[0]) && in_set(name, LOWER_DIGIT "_.-");
}

bool omb_config_type_pattern_valid(const char *p)
{
    if (strcmp(p, "*") == 0) {
        return true;
    }
    for (;;) {
        size_t word = strspn(p, LOWER_DIGIT "_");
        if (word == 0 || !(p[0] >= 'a' && p[0] <= 'z')) {
            return false;
        }
        p += word;
        if (*p == '\0') {
            return true;
        }
        if (*p != '.') {
            return false;
        }
        p++;
        if (strcmp(p, "*") == 0) {
            return true;
        }
    }
}

static bool one_of(const char *s, const char *const *words)
{
    for (size_t i = 0; words[i]; i++) {
        if (strcmp(s, words[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* True when v is a decimal integer (digits only, leading zeros allowed) from lo to hi. */
static bool uint_in(const char *v, int64_t lo, int64_t hi)
{
    if (!in_set(v, "0123456789")) {
        return false;
    }
    v += strspn(v, "0");
    if (strlen(v) > 18) {
        return false;
    }
    int64_t n = strtoll(v, NULL, 10);
    return n >= lo && n <= hi;
}

/* NULL when `v` is a valid value of kind k, else what was expected. */
static const char *check_value(enum vkind k, const char *v)
{
    static const char *const levels[] = { "error", "warn", "info", "debug", NULL };
    static const char *const bools[] = { "true", "false", NULL };
    static const char *const conflate[] = { "none", "key", NULL };
    int64_t n;
    switch (k) {
    case V_NAME:
        return omb_config_name_valid(v) ? NULL
               : "expected a name of lowercase letters, digits, '_' and '-', starting with a "
                 "letter or digit, at most 64 characters";
    case V_OPTION_NAME:
        return option_name_valid(v) ? NULL
               : "expected an option name of lowercase letters, digits, '_', '.' and '-'";
    case V_TYPE:
        return omb_config_type_pattern_valid(v) ? NULL
               : "expected an event type like \"price.set\", a prefix like \"stock.*\", or \"*\"";
    case V_EVENT_TYPE:
        return omb_config_type_pattern_valid(v) && !strchr(v, '*') ? NULL
               : "expected an event type like \"stock.available\"";
    case V_DURATION:
        return omb_duration_parse(v, &n) == 0 ? NULL
               : "expected a duration like 250ms, 10s, 5m or 1h";
    case V_WORKERS:
        return in_set(v, "0123456789") && strlen(v) <= 4 && strtol(v, NULL, 10) <= 1024
                   ? NULL
                   : "expected a number of threads from 0 (one per core) to 1024";
    case V_LOG_LEVEL:
        return one_of(v, levels) ? NULL : "expected one of error, warn, info or debug";
    case V_PATH:
        return v[0] ? NULL : "expected a path";
    case V_ENDPOINT:
        return (strncmp(v, "ipc://", 6) == 0 || strncmp(v, "tcp://", 6) == 0) && v[6] &&
                       !strpbrk(v, "\r\n")
                   ? NULL
                   : "expected an endpoint like ipc://PATH or tcp://HOST:PORT";
    case V_TRUE_FALSE:
        return one_of(v, bools) ? NULL : "expected true or false";
    case V_CONFLATE:
        return one_of(v, conflate) ? NULL : "expected none or key";
    case V_LISTEN: {
        char *host = NULL;
        int port = 0;
        int rc = omb_config_listen_parse(v, &host, &port);
        free(host);
        return rc == 0 ? NULL
                       : "expected an IP address and a port like 127.0.0.1:8080 or [::1]:8080";
    }
    case V_SIZE:
        return omb_size_parse(v, &n) == 0 && n > 0 && n <= INT64_C(1) << 30
                   ? NULL
                   : "expected a size from 1 to 1G like 512, 64k or 1M";
    case V_THREADS:
        return in_set(v, "0123456789") && strlen(v) <= 2 && strtol(v, NULL, 10) >= 1 &&
                       strtol(v, NULL, 10) <= 64
                   ? NULL
                   : "expected a number of threads from 1 to 64";
    case V_GROUP_MAX:
        return uint_in(v, 1, GROUP_MAX_LIMIT) ? NULL
               : "expected a number of events per commit from 1 to 100000";
    case V_GROUP_WAIT:
        return omb_duration_parse(v, &n) == 0 && n <= GROUP_WAIT_MAX_MS
                   ? NULL
                   : "expected a duration from 0ms to 1s in whole milliseconds, like 1ms or 20ms";
    case V_BUDGET:
        return omb_size_parse(v, &n) == 0 && n >= BUDGET_MIN
                   ? NULL
                   : "expected a size of at least 1M like 512M or 2G (k, M and G are "
                     "1024-based)";
    case V_MAX_ATTEMPTS:
        return strcmp(v, "unlimited") == 0 || uint_in(v, 1, MAX_ATTEMPTS_LIMIT)
                   ? NULL
                   : "expected a number of attempts from 1 to 1000000, or unlimited";
    case V_MAX_AGE:
        return strcmp(v, "unlimited") == 0 || (omb_duration_parse(v, &n) == 0 && n > 0)
                   ? NULL
                   : "expected a duration above zero like 30m or 24h, or unlimited";
    case V_DEDUPE_WINDOW:
        return strcmp(v, "off") == 0 || (omb_duration_parse(v, &n) == 0 && n > 0)
                   ? NULL
                   : "expected a duration above zero like 10m or 24h, or off";
    case V_ISOLATE:
        return strcmp(v, "none") == 0 || strcmp(v, "process") == 0
                   ? NULL
                   : "expected none (the plugin runs in the daemon) or process (a supervised "
                     "child process)";
    case V_DELIVER_TIMEOUT:
        return omb_duration_parse(v, &n) == 0 && n >= 10 && n <= DELIVER_TIMEOUT_MAX_MS
                   ? NULL
                   : "expected a duration from 10ms to 1h like 5s or 30s";
    }
    return NULL;
}

/* ---- the walk ---- */

struct walk {
    const char *file;
    struct omb_diags *d;
};

static void werr(struct walk *w, const xmlNode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void werr(struct walk *w, const xmlNode *n, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    omb_diags_error(w->d, w->file, (int)xmlGetLineNo(n), "%s", msg);
}

static bool ours(const xmlNode *n)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, OMB_CONFIG_NS) == 0;
}

static const struct elem_def *def_of(const xmlNode *n)
{
    if (!ours(n)) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(elems) / sizeof(elems[0]); i++) {
        if (strcmp(elems[i].name, (const char *)n->name) == 0) {
            return &elems[i];
        }
    }
    return NULL;
}

/* How to refer to element n in a message: "connector 'pos'", "route 'r': <to>", "<daemon>". */
static void subject(const xmlNode *n, char *buf, size_t len)
{
    const char *name = (const char *)n->name;
    if (ours(n) && (strcmp(name, "connector") == 0 || strcmp(name, "route") == 0)) {
        xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)"name");
        if (v && omb_config_name_valid((const char *)v)) {
            snprintf(buf, len, "%s '%s'", name, (const char *)v);
        } else {
            snprintf(buf, len, "<%s>", name);
        }
        xmlFree(v);
        return;
    }
    const xmlNode *p = n->parent;
    if (p && p->type == XML_ELEMENT_NODE && ours(p) &&
        (strcmp((const char *)p->name, "connector") == 0 ||
         strcmp((const char *)p->name, "route") == 0)) {
        char ps[128];
        subject(p, ps, sizeof(ps));
        snprintf(buf, len, "%s: <%s>", ps, name);
        return;
    }
    snprintf(buf, len, "<%s>", name);
}

/* An element as written, for "unexpected element": <bogus>, <x:foo>, <foo xmlns="urn:x">. */
static void display(const xmlNode *n, char *buf, size_t len)
{
    if (ours(n)) {
        snprintf(buf, len, "<%s>", (const char *)n->name);
    } else if (n->ns && n->ns->prefix) {
        snprintf(buf, len, "<%s:%s>", (const char *)n->ns->prefix, (const char *)n->name);
    } else {
        snprintf(buf, len, "<%s xmlns=\"%s\">", (const char *)n->name,
                 n->ns && n->ns->href ? (const char *)n->ns->href : "");
    }
}

static void check_attrs(struct walk *w, const xmlNode *n, const struct elem_def *def)
{
    char subj[256];
    subject(n, subj, sizeof(subj));
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        const struct attr_def *ad = NULL;
        for (size_t i = 0; !a->ns && def->attrs[i].name; i++) {
            if (strcmp(def->attrs[i].name, (const char *)a->name) == 0) {
                ad = &def->attrs[i];
            }
        }
        if (!ad) {
            char aname[160];
            snprintf(aname, sizeof(aname), "%s%s%s",
                     a->ns && a->ns->prefix ? (const char *)a->ns->prefix : "",
                     a->ns && a->ns->prefix ? ":" : "", (const char *)a->name);
            if (!def->attrs[0].name) {
                werr(w, n, "%s: unknown attribute '%s'; <%s> takes no attributes", subj, aname,
                     def->name);
                continue;
            }
            char list[256] = "";
            size_t o = 0;
            for (size_t i = 0; def->attrs[i].name && o < sizeof(list); i++) {
                o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
                                      i == 0                  ? ""
                                      : def->attrs[i + 1].name ? ", "
                                                               : " or ",
                                      def->attrs[i].name);
            }
            werr(w, n, "%s: unknown attribute '%s'; expected %s", subj, aname, list);
            continue;
        }
        xmlChar *v = xmlNodeGetContent((const xmlNode *)a);
        const char *want = check_value(ad->kind, v ? (const char *)v : "");
        if (want) {
            char q[OMB_QUOTE_SIZE];
            omb_option_quote(v ? (const char *)v : "", q, sizeof(q));
            werr(w, n, "%s: attribute '%s': %s, got %s", subj, ad->name, want, q);
        }
        xmlFree(v);
    }
    for (size_t i = 0; def->attrs[i].name; i++) {
        if (def->attrs[i].required && !xmlHasNsProp(n, (const xmlChar *)def->attrs[i].name, NULL)) {
            werr(w, n, "%s: missing required attribute '%s'", subj, def->attrs[i].name);
        }
    }
}

static int slot_of(const struct elem_def *def, const xmlNode *c)
{
    for (size_t i = 0; ours(c) && i < def->n_slots; i++) {
        for (size_t j = 0; def->slots[i].names[j]; j++) {
            if (strcmp(def->slots[i].names[j], (const char *)c->name) == 0) {
                return (int)i;
            }
        }
    }
    return -1;
}

/* "<from>" or "<connector> or <route>" for slot s. */
static void slot_text(const struct slot *s, char *buf, size_t len)
{
    snprintf(buf, len, "<%s>%s%s%s", s->names[0], s->names[1] ? " or <" : "",
             s->names[1] ? s->names[1] : "", s->names[1] ? ">" : "");
}

static void check_elem(struct walk *w, const xmlNode *n, const struct elem_def *def);

static void check_children(struct walk *w, const xmlNode *n, const struct elem_def *def,
                           const char *subj)
{
    size_t cur = 0;
    unsigned count = 0;
    char what[128];
    char need[64];
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        display(c, what, sizeof(what));
        int s = slot_of(def, c);
        if (s < 0) {
            if (def->text) {
                werr(w, c, "%s: unexpected element %s; <%s> holds text only", subj, what,
                     def->name);
            } else if (!def->slots) {
                werr(w, c, "%s: unexpected element %s; <%s> takes no content", subj, what,
                     def->name);
            } else {
                werr(w, c, "%s: unexpected element %s; expected %s", subj, what, def->expect);
            }
            continue;
        }
        if ((size_t)s == cur) {
            count++;
            if (def->slots[cur].max && count > def->slots[cur].max) {
                werr(w, c, "%s: more than one %s (at most one is allowed)", subj, what);
            }
        } else if ((size_t)s > cur) {
            for (size_t k = cur; k < (size_t)s; k++) {
                if ((k == cur ? count : 0) < def->slots[k].min) {
                    slot_text(&def->slots[k], need, sizeof(need));
                    werr(w, c, "%s: expected at least one %s before %s", subj, need, what);
                }
            }
            cur = (size_t)s;
            count = 1;
        } else {
            werr(w, c, "%s: %s is out of place: %s", subj, what, def->order);
        }
        check_elem(w, c, def_of(c));
    }
    for (size_t k = cur; k < def->n_slots; k++) {
        if ((k == cur ? count : 0) < def->slots[k].min) {
            slot_text(&def->slots[k], need, sizeof(need));
            werr(w, n, "%s: expected at least one %s", subj, need);
        }
    }
}

static void check_elem(struct walk *w, const xmlNode *n, const struct elem_def *def)
{
    char subj[256];
    subject(n, subj, sizeof(subj));
    check_attrs(w, n, def);
    if (!def->text) {
        for (const xmlNode *c = n->children; c; c = c->next) {
            if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) {
                continue;
            }
            const char *t = (const char *)c->content;
            if (t && t[strspn(t, " \t\r\n")]) {
                char q[OMB_QUOTE_SIZE];
                t += strspn(t, " \t\r\n");
                size_t len = strlen(t);
                while (len && strchr(" \t\r\n", t[len - 1])) {
                    len--;
                }
                char *trimmed = strndup(t, len);
                omb_option_quote(trimmed ? trimmed : "", q, sizeof(q));
                free(trimmed);
                if (def->slots) {
                    werr(w, n, "%s: unexpected text %s; <%s> holds only %s", subj, q, def->name,
                         def->expect);
                } else {
                    werr(w, n, "%s: unexpected text %s; <%s> takes no content", subj, q,
                         def->name);
                }
                break;
            }
        }
    }
    check_children(w, n, def, subj);
}

/* ---- RelaxNG ---- */

static void rng_error(void *arg, XML_ERROR_CONST xmlError *e)
{
    struct walk *w = arg;
    int line = e->line;
    if (e->node && ((const xmlNode *)e->node)->type == XML_ELEMENT_NODE) {
        line = (int)xmlGetLineNo(e->node);
    }
    const char *m = e->message ? e->message : "invalid";
    size_t len = strlen(m);
    while (len && (m[len - 1] == '\n' || m[len - 1] == ' ')) {
        len--;
    }
    if (e->level == XML_ERR_WARNING) {
        omb_diags_warning(w->d, w->file, line, "%.*s", (int)len, m);
    } else {
        omb_diags_error(w->d, w->file, line, "%.*s", (int)len, m);
    }
}

static int rng_validate(xmlDoc *doc, struct walk *w)
{
    int rc = OMB_ENOMEM;
    xmlRelaxNGParserCtxt *pctx = NULL;
    xmlRelaxNG *schema = NULL;
    xmlRelaxNGValidCtxt *vctx = NULL;

    pctx = xmlRelaxNGNewMemParserCtxt((const char *)omb_config_rng, (int)omb_config_rng_len);
    if (!pctx) {
        goto out;
    }
    struct walk schema_errors = { .file = "omnibus.rng (embedded)", .d = w->d };
    xmlRelaxNGSetParserStructuredErrors(pctx, rng_error, &schema_errors);
    schema = xmlRelaxNGParse(pctx);
    if (!schema) {
        omb_diags_error(w->d, w->file, 0, "internal error: the embedded schema does not compile");
        rc = OMB_EINVAL;
        goto out;
    }
    vctx = xmlRelaxNGNewValidCtxt(schema);
    if (!vctx) {
        goto out;
    }
    xmlRelaxNGSetValidStructuredErrors(vctx, rng_error, w);
    int v = xmlRelaxNGValidateDoc(vctx, doc);
    if (v > 0 && w->d->errors == 0) {
        omb_diags_error(w->d, w->file, 0, "does not match the config schema");
    }
    rc = v == 0 ? 0 : v > 0 ? OMB_EINVAL : OMB_ENOMEM;
out:
    xmlRelaxNGFreeValidCtxt(vctx);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(pctx);
    return rc;
}

void omb_config_diags_move_sorted(struct omb_diags *dst, struct omb_diags *src)
{
    /* Insertion sort keeps entries of one line in the order they were added. */
    for (size_t i = 1; i < src->n; i++) {
        struct omb_diag_entry e = src->v[i];
        size_t j = i;
        while (j > 0 && src->v[j - 1].line > e.line) {
            src->v[j] = src->v[j - 1];
            j--;
        }
        src->v[j] = e;
    }
    for (size_t i = 0; i < src->n; i++) {
        const struct omb_diag_entry *e = &src->v[i];
        if (e->severity == OMB_DIAG_WARNING) {
            omb_diags_warning(dst, e->file, e->line, "%s", e->msg);
        } else {
            omb_diags_error(dst, e->file, e->line, "%s", e->msg);
        }
    }
    omb_diags_clear(src);
}

int omb_config_schema_check(xmlDoc *doc, const char *file, struct omb_diags *diags)
{
    struct omb_diags walked;
    struct omb_diags rng;
    struct walk w = { .file = file, .d = &walked };
    struct walk r = { .file = file, .d = &rng };
    int rc;

    omb_diags_init(&walked);
    omb_diags_init(&rng);
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root) {
        omb_diags_error(diags, file, 0, "expected a root element <omnibus xmlns=\"%s\">",
                        OMB_CONFIG_NS);
        return OMB_EINVAL;
    }
    if (strcmp((const char *)root->name, "omnibus") != 0) {
        char what[128];
        display(root, what, sizeof(what));
        omb_diags_error(diags, file, (int)xmlGetLineNo(root),
                        "expected the root element <omnibus xmlns=\"%s\">, got %s", OMB_CONFIG_NS,
                        what);
        return OMB_EINVAL;
    }
    if (!ours(root)) {
        omb_diags_error(diags, file, (int)xmlGetLineNo(root),
                        "<omnibus> must be in namespace %s (write <omnibus xmlns=\"%s\">), got "
                        "%s%s%s", OMB_CONFIG_NS, OMB_CONFIG_NS,
                        root->ns ? "\"" : "no namespace",
                        root->ns ? (const char *)root->ns->href : "", root->ns ? "\"" : "");
        return OMB_EINVAL;
    }
    check_elem(&w, root, def_of(root));
    rc = rng_validate(doc, &r);
    if (rc == OMB_ENOMEM) {
        goto out;
    }
    /* Keep RelaxNG's words only where the walk said nothing about that line (a RelaxNG error
     * without a line cannot be placed: the walk's errors explain it when there are any). */
    for (size_t i = 0; i < rng.n; i++) {
        bool explained = rng.v[i].line == 0 && walked.errors > 0;
        for (size_t j = 0; j < walked.n && !explained; j++) {
            explained = walked.v[j].line == rng.v[i].line;
        }
        if (explained) {
            continue;
        }
        if (rng.v[i].severity == OMB_DIAG_WARNING) {
            omb_diags_warning(&walked, file, rng.v[i].line, "%s", rng.v[i].msg);
        } else {
            omb_diags_error(&walked, file, rng.v[i].line, "%s", rng.v[i].msg);
        }
    }
    rc = walked.errors ? OMB_EINVAL : rc;
    omb_config_diags_move_sorted(diags, &walked);
out:
    omb_diags_clear(&walked);
    omb_diags_clear(&rng);
    return rc;
}
