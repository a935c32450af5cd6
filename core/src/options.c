/* Plugin options: check a connector's <option>s against its plugin's table (omnibus/options.h),
 * parse each value by its type, resolve secrets, and store the results in the plugin's context
 * struct at each row's offset. Never puts a SECRET or SENSITIVE value into a message. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omnibus/err.h"
#include "options.h"

#define SECRET_FILE_MAX (64 * 1024)

/* State of one omb_options_apply call. */
struct apply {
    const struct omb_plugin_descriptor *desc;
    const struct omb_config_connector *cc;
    const char *file;
    struct omb_diags *diags;
    void *ctx;
    int errors;
};

static size_t type_size(enum omb_option_type t)
{
    switch (t) {
    case OMB_OPT_INT:
    case OMB_OPT_DURATION:
    case OMB_OPT_SIZE: return sizeof(int64_t);
    case OMB_OPT_BOOL: return sizeof(bool);
    case OMB_OPT_ENUM: return sizeof(int);
    case OMB_OPT_LIST: return sizeof(char **);
    default: return sizeof(char *);
    }
}

static bool is_sensitive(const struct omb_option *o)
{
    return o->type == OMB_OPT_SECRET || (o->flags & OMB_OPTF_SENSITIVE);
}

/* A copy of s without leading and trailing white space. NULL on ENOMEM. */
static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    return strndup(s, n);
}

/* The prefix of every message about a value: where it came from. */
static void who(const struct apply *a, const struct omb_option *o, bool is_default, char *buf,
                size_t len)
{
    if (is_default) {
        snprintf(buf, len, "plugin '%s': option '%s': bad default", a->desc->name, o->name);
    } else {
        snprintf(buf, len, "connector '%s': option '%s'", a->cc->name, o->name);
    }
}

/* "<who>: expected ..., got "value"" (the value hidden when the option is sensitive). */
static void bad_value(struct apply *a, const struct omb_option *o, int line, bool is_default,
                      const char *raw, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void bad_value(struct apply *a, const struct omb_option *o, int line, bool is_default,
                      const char *raw, const char *fmt, ...)
{
    char prefix[256];
    char want[512];
    char got[OMB_QUOTE_SIZE + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof(want), fmt, ap);
    va_end(ap);
    who(a, o, is_default, prefix, sizeof(prefix));
    if (is_sensitive(o)) {
        snprintf(got, sizeof(got), "(value not shown: the option is sensitive)");
    } else {
        char q[OMB_QUOTE_SIZE];
        omb_option_quote(raw, q, sizeof(q));
        snprintf(got, sizeof(got), "got %s", q);
    }
    omb_diags_error(a->diags, a->file, line, "%s: %s, %s", prefix, want, got);
    a->errors++;
}

/* "<who>: message" for errors that are not about the value's syntax. */
static void fail(struct apply *a, const struct omb_option *o, int line, bool is_default,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail(struct apply *a, const struct omb_option *o, int line, bool is_default,
                 const char *fmt, ...)
{
    char prefix[256];
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    who(a, o, is_default, prefix, sizeof(prefix));
    omb_diags_error(a->diags, a->file, line, "%s: %s", prefix, msg);
    a->errors++;
}

static void *field(const struct apply *a, const struct omb_option *o)
{
    return (char *)a->ctx + o->offset;
}

/* "from 1 to 10" for a ranged option, "" otherwise. */
static void range_text(const struct omb_option *o, char *buf, size_t len)
{
    char lo[32];
    char hi[32];
    buf[0] = '\0';
    if (o->min == 0 && o->max == 0) {
        return;
    }
    omb_option_format_number(o->type, o->min, lo, sizeof(lo));
    omb_option_format_number(o->type, o->max, hi, sizeof(hi));
    snprintf(buf, len, "from %s to %s", lo, hi);
}

static const char *number_want(enum omb_option_type t)
{
    switch (t) {
    case OMB_OPT_DURATION: return "a duration like 250ms, 10s, 5m or 1h";
    case OMB_OPT_SIZE: return "a size like 512, 64k, 1M or 2G";
    default: return "a decimal integer";
    }
}

static int parse_number(const struct omb_option *o, const char *s, int64_t *v)
{
    if (o->type == OMB_OPT_DURATION) {
        return omb_duration_parse(s, v);
    }
    if (o->type == OMB_OPT_SIZE) {
        return omb_size_parse(s, v);
    }
    if (!*s || isspace((unsigned char)*s)) {
        return OMB_EINVAL;
    }
    char *end = NULL;
    errno = 0;
    long long ll = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return OMB_EINVAL;
    }
    *v = (int64_t)ll;
    return 0;
}

static int store_number(struct apply *a, const struct omb_option *o, const char *s, int line,
                        bool is_default)
{
    int64_t v = 0;
    char range[80];
    range_text(o, range, sizeof(range));
    if (parse_number(o, s, &v) != 0) {
        bad_value(a, o, line, is_default, s, "expected %s%s%s%s", number_want(o->type),
                  range[0] ? " (" : "", range, range[0] ? ")" : "");
        return OMB_EINVAL;
    }
    if (range[0] && (v < o->min || v > o->max)) {
        bad_value(a, o, line, is_default, s, "expected %s %s",
                  o->type == OMB_OPT_DURATION ? "a duration"
                  : o->type == OMB_OPT_SIZE   ? "a size"
                                              : "an integer",
                  range);
        return OMB_EINVAL;
    }
    memcpy(field(a, o), &v, sizeof(v));
    return 0;
}

static int store_bool(struct apply *a, const struct omb_option *o, const char *s, int line,
                      bool is_default)
{
    static const char *const yes[] = { "true", "yes", "1", NULL };
    static const char *const no[] = { "false", "no", "0", NULL };
    for (size_t i = 0; yes[i]; i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            bool v = strcmp(s, yes[i]) == 0;
            memcpy(field(a, o), &v, sizeof(v));
            return 0;
        }
    }
    bad_value(a, o, line, is_default, s, "expected true or false (or yes/no, 1/0)");
    return OMB_EINVAL;
}

/* "a, b or c" into a memstream. */
static void print_words(FILE *f, const char *const *words, const char *sep, const char *last_sep)
{
    for (size_t i = 0; words && words[i]; i++) {
        if (i > 0) {
            fputs(words[i + 1] ? sep : last_sep, f);
        }
        fputs(words[i], f);
    }
}

static int store_enum(struct apply *a, const struct omb_option *o, const char *s, int line,
                      bool is_default)
{
    for (int i = 0; o->enum_values[i]; i++) {
        if (strcmp(s, o->enum_values[i]) == 0) {
            memcpy(field(a, o), &i, sizeof(i));
            return 0;
        }
    }
    char *words = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&words, &n);
    if (!f) {
        return OMB_ENOMEM;
    }
    print_words(f, o->enum_values, ", ", " or ");
    fclose(f);
    bad_value(a, o, line, is_default, s, "expected one of %s", words ? words : "");
    free(words);
    return OMB_EINVAL;
}

static bool url_valid(const char *s)
{
    if (!isalpha((unsigned char)s[0])) {
        return false;
    }
    size_t n = 1;
    while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.') {
        n++;
    }
    if (strncmp(s + n, "://", 3) != 0 || s[n + 3] == '\0') {
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (isspace((unsigned char)*c)) {
            return false;
        }
    }
    return true;
}

static int set_string(struct apply *a, const struct omb_option *o, char *owned)
{
    char **slot = field(a, o);
    free(*slot);
    *slot = owned;
    return 0;
}

/* Append the comma-separated items of s (trimmed, empty ones skipped) to the list. */
static int store_list(struct apply *a, const struct omb_option *o, const char *s)
{
    char ***slot = field(a, o);
    size_t have = 0;
    size_t add = 1;
    while (*slot && (*slot)[have]) {
        have++;
    }
    for (const char *c = s; *c; c++) {
        add += *c == ',';
    }
    char **v = realloc(*slot, (have + add + 1) * sizeof(*v));
    if (!v) {
        return OMB_ENOMEM;
    }
    *slot = v;
    v[have] = NULL;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        char *item = trim_dup(p, len);
        if (!item) {
            return OMB_ENOMEM;
        }
        if (item[0]) {
            v[have++] = item;
            v[have] = NULL;
        } else {
            free(item);
        }
        if (!p[len]) {
            break;
        }
        p += len + 1;
    }
    return 0;
}

/* Read a secret file: the bytes without one trailing newline. */
static int read_secret_file(struct apply *a, const struct omb_option *o, const char *path,
                            int line, bool is_default, char **out)
{
    int rc = OMB_EINVAL;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(a, o, line, is_default, "cannot read secret file %s: %s", path, strerror(errno));
        goto out;
    }
    buf = malloc(SECRET_FILE_MAX + 1);
    if (!buf) {
        rc = OMB_ENOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
    if (ferror(f)) {
        fail(a, o, line, is_default, "cannot read secret file %s: %s", path, strerror(errno));
        goto out;
    }
    if (n > SECRET_FILE_MAX) {
        fail(a, o, line, is_default, "secret file %s is larger than %d KiB", path,
             SECRET_FILE_MAX / 1024);
        goto out;
    }
    if (memchr(buf, '\0', n)) {
        fail(a, o, line, is_default, "secret file %s contains a NUL byte", path);
        goto out;
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    if (f) {
        fclose(f);
    }
    return rc;
}

static bool env_name_valid(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) {
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (!(isalnum((unsigned char)*c) || *c == '_')) {
            return false;
        }
    }
    return true;
}

/* env:NAME, file:PATH or a literal (with a warning). `raw` is as written, `s` trimmed. */
static int store_secret(struct apply *a, const struct omb_option *o, const char *raw,
                        const char *s, int line, bool is_default)
{
    char *value = NULL;
    if (strncmp(s, "env:", 4) == 0) {
        const char *name = s + 4;
        if (!env_name_valid(name)) {
            fail(a, o, line, is_default,
                 "expected env:NAME with an environment variable name after env:");
            return OMB_EINVAL;
        }
        const char *v = getenv(name);
        if (!v) {
            fail(a, o, line, is_default, "environment variable %s is not set", name);
            return OMB_EINVAL;
        }
        if (!v[0]) {
            fail(a, o, line, is_default, "environment variable %s is empty", name);
            return OMB_EINVAL;
        }
        value = strdup(v);
    } else if (strncmp(s, "file:", 5) == 0) {
        if (!s[5]) {
            fail(a, o, line, is_default, "expected file:PATH with a path after file:");
            return OMB_EINVAL;
        }
        int rc = read_secret_file(a, o, s + 5, line, is_default, &value);
        if (rc != 0) {
            return rc;
        }
    } else {
        if (!s[0]) {
            fail(a, o, line, is_default, "expected env:NAME or file:PATH, got an empty value");
            return OMB_EINVAL;
        }
        char prefix[256];
        who(a, o, false, prefix, sizeof(prefix));
        if (is_default) {
            snprintf(prefix, sizeof(prefix), "plugin '%s': option '%s': default", a->desc->name,
                     o->name);
        }
        omb_diags_warning(a->diags, a->file, line,
                          "%s: secret written literally in the config; use env:NAME or "
                          "file:PATH to keep it out of the file", prefix);
        value = strdup(raw);
    }
    if (!value) {
        return OMB_ENOMEM;
    }
    return set_string(a, o, value);
}

/* Parse `raw` as option o's type and store it (LIST appends). */
static int store(struct apply *a, const struct omb_option *o, const char *raw, int line,
                 bool is_default)
{
    int rc = 0;
    char *s = trim_dup(raw, strlen(raw));
    if (!s) {
        return OMB_ENOMEM;
    }
    switch (o->type) {
    case OMB_OPT_STRING: {
        char *copy = strdup(raw);
        rc = copy ? set_string(a, o, copy) : OMB_ENOMEM;
        break;
    }
    case OMB_OPT_INT:
    case OMB_OPT_DURATION:
    case OMB_OPT_SIZE:
        rc = store_number(a, o, s, line, is_default);
        break;
    case OMB_OPT_BOOL:
        rc = store_bool(a, o, s, line, is_default);
        break;
    case OMB_OPT_ENUM:
        rc = store_enum(a, o, s, line, is_default);
        break;
    case OMB_OPT_URL:
        if (!url_valid(s)) {
            bad_value(a, o, line, is_default, s, "expected a URL like scheme://host/path");
            rc = OMB_EINVAL;
            break;
        }
        rc = set_string(a, o, s);
        s = NULL;
        break;
    case OMB_OPT_SECRET:
        rc = store_secret(a, o, raw, s, line, is_default);
        break;
    case OMB_OPT_LIST:
        rc = store_list(a, o, s);
        break;
    }
    free(s);
    return rc;
}

/* Sanity of the plugin's table; every problem is an error naming the plugin. */
static int check_table(struct apply *a)
{
    const struct omb_option *t = a->desc->options;
    int before = a->errors;
    for (size_t i = 0; t && t[i].name; i++) {
        const struct omb_option *o = &t[i];
        const char *problem = NULL;
        if (!o->name[0]) {
            problem = "has an empty name";
        } else if (!omb_option_type_name(o->type)) {
            problem = "has an unknown type";
        } else if (o->type == OMB_OPT_ENUM && (!o->enum_values || !o->enum_values[0])) {
            problem = "is an enum without enum_values";
        } else if ((o->flags & OMB_OPTF_MULTI) && o->type != OMB_OPT_LIST) {
            problem = "is MULTI but not a list (MULTI is for LIST options only)";
        } else if ((o->flags & OMB_OPTF_REQUIRED) && o->default_value) {
            problem = "is REQUIRED and has a default";
        } else if (o->min > o->max) {
            problem = "has min greater than max";
        } else if (o->offset + type_size(o->type) > a->desc->ctx_size) {
            problem = "lies outside ctx_size";
        }
        for (size_t j = 0; !problem && j < i; j++) {
            if (strcmp(t[j].name, o->name) == 0) {
                problem = "is declared twice";
            }
        }
        if (problem) {
            omb_diags_error(a->diags, a->file, a->cc->line,
                            "plugin '%s': option table: option '%s' %s", a->desc->name, o->name,
                            problem);
            a->errors++;
        }
    }
    return a->errors > before ? OMB_EINVAL : 0;
}

static size_t levenshtein(const char *s, const char *t)
{
    size_t n = strlen(t);
    size_t row[65];
    if (n > 64 || strlen(s) > 64) {
        return (size_t)-1;
    }
    for (size_t j = 0; j <= n; j++) {
        row[j] = j;
    }
    for (size_t i = 1; s[i - 1]; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= n; j++) {
            size_t up = row[j];
            size_t best = diag + (s[i - 1] != t[j - 1]);
            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[n];
}

static void unknown_option(struct apply *a, const struct omb_config_option *co)
{
    const struct omb_option *t = a->desc->options;
    const char *guess = NULL;
    size_t best = 3;
    char *list = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&list, &n);
    if (!f) {
        a->errors++;
        return;
    }
    for (size_t i = 0; t && t[i].name; i++) {
        size_t d = levenshtein(co->name, t[i].name);
        if (d < best && d < strlen(t[i].name)) {
            best = d;
            guess = t[i].name;
        }
        fprintf(f, "%s%s", i ? ", " : "", t[i].name);
    }
    fclose(f);
    if (!t || !t[0].name) {
        omb_diags_error(a->diags, a->file, co->line,
                        "connector '%s': unknown option '%s': plugin '%s' takes no options",
                        a->cc->name, co->name, a->desc->name);
    } else if (guess) {
        omb_diags_error(a->diags, a->file, co->line,
                        "connector '%s': unknown option '%s' for plugin '%s' (did you mean "
                        "'%s'?); valid options: %s",
                        a->cc->name, co->name, a->desc->name, guess, list ? list : "");
    } else {
        omb_diags_error(a->diags, a->file, co->line,
                        "connector '%s': unknown option '%s' for plugin '%s'; valid options: %s",
                        a->cc->name, co->name, a->desc->name, list ? list : "");
    }
    a->errors++;
    free(list);
}

static const struct omb_option *find_row(const struct omb_plugin_descriptor *desc,
                                         const char *name)
{
    for (size_t i = 0; desc->options && desc->options[i].name; i++) {
        if (strcmp(desc->options[i].name, name) == 0) {
            return &desc->options[i];
        }
    }
    return NULL;
}

int omb_options_apply(const struct omb_plugin_descriptor *desc,
                      const struct omb_config_connector *cc, const char *file, void **ctx_out,
                      struct omb_diags *diags)
{
    struct apply a = { .desc = desc, .cc = cc, .file = file, .diags = diags };
    const struct omb_option *t = desc->options;
    size_t rows = 0;
    int *first_line = NULL;
    int rc = 0;

    *ctx_out = NULL;
    a.ctx = calloc(1, desc->ctx_size ? desc->ctx_size : 1);
    while (t && t[rows].name) {
        rows++;
    }
    first_line = calloc(rows + 1, sizeof(*first_line));
    if (!a.ctx || !first_line) {
        rc = OMB_ENOMEM;
        goto out;
    }
    if (check_table(&a) != 0) {
        rc = OMB_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < cc->n_options; i++) {
        const struct omb_config_option *co = &cc->options[i];
        const struct omb_option *o = find_row(desc, co->name);
        if (!o) {
            unknown_option(&a, co);
            continue;
        }
        size_t r = (size_t)(o - t);
        if (first_line[r] && !(o->flags & OMB_OPTF_MULTI)) {
            omb_diags_error(diags, file, co->line,
                            "connector '%s': option '%s' is given more than once (first at line "
                            "%d)", cc->name, o->name, first_line[r]);
            a.errors++;
            continue;
        }
        if (!first_line[r]) {
            first_line[r] = co->line ? co->line : -1;
        }
        if (o->flags & OMB_OPTF_DEPRECATED) {
            omb_diags_warning(diags, file, co->line,
                              "connector '%s': option '%s' is deprecated%s%s", cc->name, o->name,
                              o->doc ? ": " : "", o->doc ? o->doc : "");
        }
        rc = store(&a, o, co->value, co->line, false);
        if (rc == OMB_ENOMEM) {
            goto out;
        }
    }
    for (size_t r = 0; r < rows; r++) {
        const struct omb_option *o = &t[r];
        if (first_line[r]) {
            continue;
        }
        if (o->flags & OMB_OPTF_REQUIRED) {
            omb_diags_error(diags, file, cc->line,
                            "connector '%s': missing required option '%s'%s%s%s", cc->name,
                            o->name, o->doc ? " (" : "", o->doc ? o->doc : "", o->doc ? ")" : "");
            a.errors++;
        } else if (o->default_value) {
            rc = store(&a, o, o->default_value, cc->line, true);
            if (rc == OMB_ENOMEM) {
                goto out;
            }
        }
    }
    rc = a.errors ? OMB_EINVAL : 0;
out:
    free(first_line);
    if (rc == 0) {
        *ctx_out = a.ctx;
    } else {
        if (rc == OMB_ENOMEM) {
            omb_diags_error(diags, file, cc->line, "connector '%s': out of memory", cc->name);
        }
        omb_options_free(desc, a.ctx);
    }
    return rc;
}

void omb_options_free(const struct omb_plugin_descriptor *desc, void *ctx)
{
    if (!ctx) {
        return;
    }
    for (size_t i = 0; desc->options && desc->options[i].name; i++) {
        const struct omb_option *o = &desc->options[i];
        if (o->offset + type_size(o->type) > desc->ctx_size) {
            continue; /* a broken row never stored anything */
        }
        void *p = (char *)ctx + o->offset;
        if (o->type == OMB_OPT_STRING || o->type == OMB_OPT_URL || o->type == OMB_OPT_SECRET) {
            char **s = p;
            if (*s && is_sensitive(o)) {
                explicit_bzero(*s, strlen(*s));
            }
            free(*s);
            *s = NULL;
        } else if (o->type == OMB_OPT_LIST) {
            char ***v = p;
            for (size_t j = 0; *v && (*v)[j]; j++) {
                free((*v)[j]);
            }
            free(*v);
            *v = NULL;
        }
    }
    free(ctx);
}

bool omb_option_is_sensitive(const struct omb_plugin_descriptor *desc, const char *name)
{
    const struct omb_option *o = find_row(desc, name);
    return o && is_sensitive(o);
}

