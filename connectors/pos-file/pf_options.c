/* pos-file format library: pf_format_new/free. Checks the options as the admin wrote them and
 * parses the column and field specs (pf_plan.c then builds the body plan). Every message names
 * the option and says what was expected. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "pf_priv.h"

static const char types_expected[] =
    "expected string, int, decimal:N, number, date, datetime or bool";

static void field_free(struct pf_field *fl)
{
    free(fl->spec);
    free(fl->name);
    if (fl->path) {
        for (size_t i = 0; fl->path[i]; i++) {
            free(fl->path[i]);
        }
        free(fl->path);
    }
    free(fl->column);
    free(fl->label);
    free(fl->true_text);
    free(fl->false_text);
    free(fl->currency_sibling);
}

void pf_format_free(struct pf_format **fp)
{
    struct pf_format *f = fp ? *fp : NULL;
    if (!f) {
        return;
    }
    for (size_t i = 0; i < f->nfields; i++) {
        field_free(&f->fields[i]);
    }
    free(f->fields);
    free(f->key_idx);
    for (size_t i = 0; i < f->nops; i++) {
        free(f->ops[i].key);
    }
    free(f->ops);
    free(f->encoding);
    free(f->trailer);
    free(f->currency);
    free(f);
    *fp = NULL;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* A positive number of at most 7 digits, or 0. */
static size_t small_number(const char *s, size_t n)
{
    if (!all_digits(s, n) || n > 7) {
        return 0;
    }
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (size_t)(s[i] - '0');
    }
    return v;
}

static char *strndup_trim(const char *s, size_t n)
{
    pf_trim(&s, &n);
    return strndup(s, n);
}

/* Splits s at ':' into at most max trimmed parts (borrowed pointers into copy). */
static size_t split_colons(char *copy, char **parts, size_t max)
{
    size_t k = 0;
    char *p = copy;
    while (k < max) {
        char *c = strchr(p, ':');
        if (c) {
            *c = '\0';
        }
        size_t n = strlen(p);
        const char *t = p;
        pf_trim(&t, &n);
        memmove(p, t, n);
        p[n] = '\0';
        parts[k++] = p;
        if (!c) {
            return k;
        }
        p = c + 1;
    }
    return k + 1; /* too many */
}

/* Parses "type[:arg][:sign]" from parts into fl. */
static int parse_type(const char *opt, const char *spec, char **parts, size_t n,
                      struct pf_field *fl, char *err, size_t errlen)
{
    size_t i = 0;
    fl->type = PF_T_STRING;
    fl->sign = PF_SIGN_DEFAULT;
    if (n == 0 || (n == 1 && parts[0][0] == '\0')) {
        goto bool_texts;
    }
    const char *t = parts[i++];
    if (strcmp(t, "string") == 0) {
        fl->type = PF_T_STRING;
    } else if (strcmp(t, "int") == 0) {
        fl->type = PF_T_INT;
    } else if (strcmp(t, "number") == 0) {
        fl->type = PF_T_NUMBER;
    } else if (strcmp(t, "date") == 0) {
        fl->type = PF_T_DATE;
    } else if (strcmp(t, "datetime") == 0) {
        fl->type = PF_T_DATETIME;
    } else if (strcmp(t, "bool") == 0) {
        fl->type = PF_T_BOOL;
        if (i < n && strchr(parts[i], '/')) {
            const char *slash = strchr(parts[i], '/');
            fl->true_text = strndup_trim(parts[i], (size_t)(slash - parts[i]));
            fl->false_text = strndup_trim(slash + 1, strlen(slash + 1));
            i++;
            if (!fl->true_text || !fl->false_text) {
                return OMB_ENOMEM;
            }
            if (!fl->true_text[0] || !fl->false_text[0] ||
                strcmp(fl->true_text, fl->false_text) == 0) {
                return pf_fail(err, errlen,
                               "%s: \"%s\": bool:X/Y needs two different texts (bool:T/N)", opt,
                               spec);
            }
        }
    } else if (strcmp(t, "decimal") == 0) {
        fl->type = PF_T_DECIMAL;
        if (i >= n || !all_digits(parts[i], strlen(parts[i])) || strlen(parts[i]) > 1) {
            return pf_fail(err, errlen,
                           "%s: \"%s\": decimal needs its places: decimal:N with N from 0 to 9",
                           opt, spec);
        }
        fl->places = parts[i++][0] - '0';
    } else {
        return pf_fail(err, errlen, "%s: \"%s\": unknown type \"%s\" (%s)", opt, spec, t,
                       types_expected);
    }
    if (i < n) {
        const char *s = parts[i++];
        if (strcmp(s, "leading") == 0) {
            fl->sign = PF_SIGN_LEADING;
        } else if (strcmp(s, "trailing") == 0) {
            fl->sign = PF_SIGN_TRAILING;
        } else {
            return pf_fail(err, errlen,
                           "%s: \"%s\": unknown sign \"%s\" (expected leading or trailing)", opt,
                           spec, s);
        }
        if (fl->type != PF_T_INT && fl->type != PF_T_DECIMAL && fl->type != PF_T_NUMBER) {
            return pf_fail(err, errlen, "%s: \"%s\": a sign needs int, decimal:N or number", opt,
                           spec);
        }
    }
    if (i < n) {
        return pf_fail(err, errlen, "%s: \"%s\": unexpected \"%s\" after the type", opt, spec,
                       parts[i]);
    }
bool_texts:
    if (fl->type == PF_T_BOOL && !fl->true_text) {
        fl->true_text = strdup("1");
        fl->false_text = strdup("0");
        if (!fl->true_text || !fl->false_text) {
            return OMB_ENOMEM;
        }
    }
    return 0;
}

/* Checks a dotted field name and splits it into fl->path. */
static int parse_name(const char *opt, const char *spec, const char *name, struct pf_field *fl,
                      char *err, size_t errlen)
{
    size_t n = strlen(name), segs = 1;
    if (n == 0) {
        return pf_fail(err, errlen, "%s: \"%s\": the field name is empty", opt, spec);
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == '"' || name[i] == '\\') {
            return pf_fail(err, errlen,
                           "%s: \"%s\": the field name has a quote, backslash or "
                           "control character",
                           opt, spec);
        }
        if (name[i] == '.') {
            if (i == 0 || i == n - 1 || name[i + 1] == '.') {
                return pf_fail(err, errlen, "%s: \"%s\": empty part in the field name \"%s\"", opt,
                               spec, name);
            }
            segs++;
        }
    }
    if (segs > PF_MAX_NAME_DEPTH) {
        return pf_fail(err, errlen, "%s: \"%s\": the field name has more than %d parts", opt, spec,
                       PF_MAX_NAME_DEPTH);
    }
    if (!(fl->name = strdup(name)) || !(fl->path = calloc(segs + 1, sizeof(char *)))) {
        return OMB_ENOMEM;
    }
    const char *p = name;
    for (size_t k = 0; k < segs; k++) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!(fl->path[k] = strndup(p, len))) {
            return OMB_ENOMEM;
        }
        p += len + 1;
    }
    return 0;
}

/* csv: "COLUMN=field[:type[:arg][:sign]]" */
static int parse_column(struct pf_format *f, const struct pf_format_options *o, const char *spec,
                        struct pf_field *fl, char *err, size_t errlen)
{
    const char *eq = strrchr(spec, '=');
    if (!eq) {
        return pf_fail(err, errlen, "columns: \"%s\": expected COLUMN=field[:type]", spec);
    }
    const char *col = spec;
    size_t coln = (size_t)(eq - spec);
    pf_trim(&col, &coln);
    if (coln == 0) {
        return pf_fail(err, errlen,
                       "columns: \"%s\": the column (a header name or a 1-based "
                       "index) is empty",
                       spec);
    }
    char *rest = strdup(eq + 1);
    char *parts[6];
    if (!rest) {
        return OMB_ENOMEM;
    }
    size_t n = split_colons(rest, parts, 5);
    int rc = 0;
    if (n > 5) {
        rc = pf_fail(err, errlen, "columns: \"%s\": expected COLUMN=field[:type]", spec);
        goto out;
    }
    if ((rc = parse_name("columns", spec, parts[0], fl, err, errlen)) != 0 ||
        (rc = parse_type("columns", spec, parts + 1, n - 1, fl, err, errlen)) != 0) {
        goto out;
    }
    bool by_index = all_digits(col, coln);
    if (by_index) {
        fl->index = small_number(col, coln);
        if (fl->index == 0 || fl->index > PF_MAX_FIELDS) {
            rc = pf_fail(err, errlen, "columns: \"%s\": column index %.*s out of range (1 to %d)",
                         spec, (int)coln, col, PF_MAX_FIELDS);
            goto out;
        }
        fl->index--;
        if (f->ncolumns < fl->index + 1) {
            f->ncolumns = fl->index + 1;
        }
    } else {
        if (!o->header) {
            rc = pf_fail(err, errlen,
                         "columns: \"%s\": a column by name needs header (or give its 1-based "
                         "index)",
                         spec);
            goto out;
        }
        if (!(fl->column = strndup(col, coln))) {
            rc = OMB_ENOMEM;
            goto out;
        }
    }
    rc = 0;
    if (f->nfields > 1 && f->by_name == by_index) {
        rc = pf_fail(err, errlen, "columns: \"%s\": mixes header names and column indexes", spec);
        goto out;
    }
    f->by_name = !by_index;
    struct pf_buf lb = {0};
    if (by_index) {
        rc = pf_buf_printf(&lb, "column %zu", fl->index + 1);
    } else {
        rc = pf_buf_printf(&lb, "column %s", fl->column);
    }
    fl->label = lb.p;
out:
    free(rest);
    return rc;
}

/* fixed: "field:start:width[:type[:arg][:sign]]" */
static int parse_fixed(const char *spec, struct pf_field *fl, char *err, size_t errlen)
{
    char *copy = strdup(spec);
    char *parts[8];
    if (!copy) {
        return OMB_ENOMEM;
    }
    size_t n = split_colons(copy, parts, 7);
    int rc = 0;
    if (n < 3 || n > 7) {
        rc = pf_fail(err, errlen, "fields: \"%s\": expected field:start:width[:type[:sign]]", spec);
        goto out;
    }
    fl->start = small_number(parts[1], strlen(parts[1]));
    fl->width = small_number(parts[2], strlen(parts[2]));
    if (fl->start == 0 || fl->width == 0 || fl->start + fl->width > 1000000) {
        rc = pf_fail(err, errlen,
                     "fields: \"%s\": start and width must be whole numbers from 1 "
                     "(start 1-based, in characters)",
                     spec);
        goto out;
    }
    fl->start--;
    if ((rc = parse_name("fields", spec, parts[0], fl, err, errlen)) != 0 ||
        (rc = parse_type("fields", spec, parts + 3, n - 3, fl, err, errlen)) != 0) {
        goto out;
    }
    struct pf_buf lb = {0};
    rc = pf_buf_printf(&lb, "field %s", fl->name);
    fl->label = lb.p;
out:
    free(copy);
    return rc;
}

static bool has_items(char *const *list)
{
    return list && list[0];
}

static int one_char(const char *opt, const char *v, char *out, char *err, size_t errlen)
{
    if (strcmp(v, "\\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (strlen(v) != 1 || (unsigned char)v[0] >= 0x80 || v[0] == '\n' || v[0] == '\r') {
        return pf_fail(err, errlen, "%s: \"%s\": expected one ASCII character%s", opt, v,
                       strcmp(opt, "delimiter") == 0 ? " (or \"\\t\" for tab)"
                                                     : " (or \"\" for none)");
    }
    *out = v[0];
    return 0;
}

static int parse_text_options(struct pf_format *f, const struct pf_format_options *o, char *err,
                              size_t errlen)
{
    char c;
    int rc;
    f->delim = ';';
    f->quote = '"';
    if (o->delimiter) {
        if ((rc = one_char("delimiter", o->delimiter, &c, err, errlen)) != 0) {
            return rc;
        }
        f->delim = c;
    }
    if (o->quote) {
        if (o->quote[0] == '\0') {
            f->quote = -1;
        } else if ((rc = one_char("quote", o->quote, &c, err, errlen)) != 0) {
            return rc;
        } else {
            f->quote = c;
        }
    }
    if (f->kind == PF_CSV && f->quote == f->delim) {
        return pf_fail(err, errlen, "quote: \"%s\": the same character as the delimiter", o->quote);
    }
    if (o->trailer) {
        if (o->trailer[0] == '\0') {
            return pf_fail(err, errlen, "trailer: empty (leave it out for no trailer)");
        }
        if (!(f->trailer = strdup(o->trailer))) {
            return OMB_ENOMEM;
        }
        f->trailer_len = strlen(f->trailer);
    }
    if (o->trailer_count_field < 0 || o->trailer_count_field > PF_MAX_FIELDS) {
        return pf_fail(err, errlen, "trailer_count_field: %d: expected a 1-based field (0: none)",
                       o->trailer_count_field);
    }
    if (o->trailer_count_field > 0) {
        if (f->kind != PF_CSV) {
            return pf_fail(err, errlen,
                           "trailer_count_field: for csv only (fixed: "
                           "trailer_count_spec \"start:width\")");
        }
        if (!f->trailer) {
            return pf_fail(err, errlen, "trailer_count_field: needs the trailer option");
        }
        f->trailer_count_field = o->trailer_count_field;
        f->has_trailer_count = true;
    }
    if (o->trailer_count_spec) {
        const char *spec = o->trailer_count_spec;
        char *copy = strdup(spec), *parts[4];
        if (!copy) {
            return OMB_ENOMEM;
        }
        size_t n = split_colons(copy, parts, 3);
        size_t s = 0, w = 0;
        if (n == 2 || (n == 3 && strcmp(parts[0], "count") == 0)) {
            s = small_number(parts[n - 2], strlen(parts[n - 2]));
            w = small_number(parts[n - 1], strlen(parts[n - 1]));
        }
        free(copy);
        if (s == 0 || w == 0 || w > 18) {
            return pf_fail(err, errlen,
                           "trailer_count_spec: \"%s\": expected \"start:width\" "
                           "(1-based start, width 1 to 18)",
                           spec);
        }
        if (f->kind != PF_FIXED) {
            return pf_fail(err, errlen,
                           "trailer_count_spec: for fixed only (csv: "
                           "trailer_count_field)");
        }
        if (!f->trailer) {
            return pf_fail(err, errlen, "trailer_count_spec: needs the trailer option");
        }
        if (s - 1 < f->trailer_len) {
            return pf_fail(err, errlen,
                           "trailer_count_spec: \"%s\": overlaps the trailer text "
                           "\"%s\"",
                           spec, f->trailer);
        }
        f->tc_start = s - 1;
        f->tc_width = w;
        f->has_trailer_count = true;
    }
    if (o->line_end && strcmp(o->line_end, "crlf") != 0 && strcmp(o->line_end, "lf") != 0) {
        return pf_fail(err, errlen, "line_end: \"%s\": expected crlf or lf", o->line_end);
    }
    f->crlf = !o->line_end || strcmp(o->line_end, "crlf") == 0;
    if (o->field_count < 0 || o->field_count > PF_MAX_FIELDS) {
        return pf_fail(err, errlen, "field_count: %d: expected 1 to %d (0: the first record's)",
                       o->field_count, PF_MAX_FIELDS);
    }
    f->field_count = (size_t)o->field_count;
    return 0;
}

static int parse_fields(struct pf_format *f, const struct pf_format_options *o, char *err,
                        size_t errlen)
{
    const char *opt = f->kind == PF_CSV ? "columns" : "fields";
    char *const *list = f->kind == PF_CSV ? o->columns : o->fields;
    size_t n = 0;
    int rc;
    if (!has_items(list)) {
        return pf_fail(err, errlen,
                       f->kind == PF_CSV ? "columns: missing (csv needs at least one "
                                           "\"COLUMN=field[:type]\")"
                                         : "fields: missing (fixed needs at least one "
                                           "\"field:start:width[:type[:sign]]\")");
    }
    while (list[n]) {
        n++;
    }
    if (!(f->fields = calloc(n, sizeof(*f->fields)))) {
        return OMB_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct pf_field *fl = &f->fields[i];
        f->nfields++;
        if (!(fl->spec = strdup(list[i]))) {
            return OMB_ENOMEM;
        }
        rc = f->kind == PF_CSV ? parse_column(f, o, list[i], fl, err, errlen)
                               : parse_fixed(list[i], fl, err, errlen);
        if (rc != 0) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            const struct pf_field *g = &f->fields[j];
            if (f->kind == PF_CSV && ((fl->column && strcmp(fl->column, g->column) == 0) ||
                                      (!fl->column && fl->index == g->index))) {
                return pf_fail(err, errlen,
                               "columns: \"%s\": the column is mapped twice (also "
                               "\"%s\")",
                               fl->spec, g->spec);
            }
            if (f->kind == PF_FIXED && fl->start < g->start + g->width &&
                g->start < fl->start + fl->width) {
                return pf_fail(err, errlen, "fields: \"%s\": overlaps \"%s\"", fl->spec, g->spec);
            }
        }
        if (f->kind == PF_FIXED && fl->start + fl->width > f->line_chars) {
            f->line_chars = fl->start + fl->width;
        }
    }
    if (f->kind == PF_CSV && f->by_name) {
        f->ncolumns = n;
    }
    return pf_plan_build(f, opt, err, errlen);
}

/* key_fields: each a mapped field's name. */
static int parse_key(struct pf_format *f, const struct pf_format_options *o, char *err,
                     size_t errlen)
{
    size_t n = 0;
    while (o->key_fields && o->key_fields[n]) {
        n++;
    }
    if (n == 0) {
        return 0;
    }
    if (f->kind == PF_POSLOG) {
        return pf_fail(err, errlen, "key: not used by poslog (each event type has its key)");
    }
    if (!(f->key_idx = calloc(n, sizeof(*f->key_idx)))) {
        return OMB_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = 0;
        while (i < f->nfields && strcmp(f->fields[i].name, o->key_fields[k]) != 0) {
            i++;
        }
        if (i == f->nfields) {
            return pf_fail(err, errlen, "key: \"%s\" is not a mapped field", o->key_fields[k]);
        }
        f->key_idx[f->nkey++] = i;
    }
    return 0;
}

int pf_format_new(const struct pf_format_options *o, struct pf_format **out, char *err,
                  size_t errlen)
{
    struct pf_format *f = NULL;
    int rc = 0;
    *out = NULL;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!o->format) {
        return pf_fail(err, errlen, "format: missing (expected csv, fixed or poslog)");
    }
    if (!(f = calloc(1, sizeof(*f)))) {
        return OMB_ENOMEM;
    }
    if (strcmp(o->format, "csv") == 0) {
        f->kind = PF_CSV;
    } else if (strcmp(o->format, "fixed") == 0) {
        f->kind = PF_FIXED;
    } else if (strcmp(o->format, "poslog") == 0) {
        f->kind = PF_POSLOG;
    } else {
        rc = pf_fail(err, errlen, "format: \"%s\": expected csv, fixed or poslog", o->format);
        goto out;
    }
    f->utf8 = pf_encoding_is_utf8(o->encoding);
    if (o->encoding) {
        if (!(f->encoding = strdup(o->encoding))) {
            rc = OMB_ENOMEM;
            goto out;
        }
        iconv_t cd = iconv_open("UTF-8", o->encoding);
        if (cd == (iconv_t)-1) {
            rc = pf_fail(err, errlen,
                         "encoding: \"%s\": not known to iconv (try utf-8, cp1250 "
                         "or iso-8859-2)",
                         o->encoding);
            goto out;
        }
        iconv_close(cd);
        if (f->kind != PF_POSLOG && !pf_encoding_ascii_compatible(o->encoding)) {
            rc = pf_fail(err, errlen,
                         "encoding: \"%s\": not ASCII-compatible (csv and fixed "
                         "need an encoding such as utf-8, cp1250 or iso-8859-2)",
                         o->encoding);
            goto out;
        }
    }
    if (o->currency) {
        const char *c = o->currency;
        if (strlen(c) != 3 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' || c[2] < 'A' ||
            c[2] > 'Z') {
            rc = pf_fail(err, errlen,
                         "currency: \"%s\": expected an ISO 4217 code such as "
                         "\"PLN\"",
                         c);
            goto out;
        }
        if (!(f->currency = strdup(c))) {
            rc = OMB_ENOMEM;
            goto out;
        }
    }
    f->max_line = o->max_line ? o->max_line : PF_MAX_LINE_DEFAULT;
    if (f->max_line < 64) {
        rc = pf_fail(err, errlen, "max_line: %zu: expected at least 64 bytes", o->max_line);
        goto out;
    }
    f->header = o->header;
    f->decimal_comma = o->decimal_comma;
    f->final_newline_optional = o->final_newline_optional;
    f->write_bom = o->write_bom;
    if (f->kind == PF_POSLOG) {
        if (has_items(o->columns) || has_items(o->fields)) {
            rc = pf_fail(err, errlen, "%s: not used by the poslog format",
                         has_items(o->columns) ? "columns" : "fields");
        }
        goto out;
    }
    if (f->kind == PF_CSV && has_items(o->fields)) {
        rc = pf_fail(err, errlen, "fields: not used by the csv format (it maps columns)");
        goto out;
    }
    if (f->kind == PF_FIXED && has_items(o->columns)) {
        rc = pf_fail(err, errlen, "columns: not used by the fixed format (it maps fields)");
        goto out;
    }
    if (f->kind == PF_FIXED && o->header) {
        rc = pf_fail(err, errlen, "header: not used by the fixed format");
        goto out;
    }
    if ((rc = parse_text_options(f, o, err, errlen)) != 0 ||
        (rc = parse_fields(f, o, err, errlen)) != 0 || (rc = parse_key(f, o, err, errlen)) != 0) {
        goto out;
    }
out:
    if (rc != 0) {
        if (rc == OMB_ENOMEM) {
            pf_fail(err, errlen, "out of memory");
        }
        pf_format_free(&f);
        return rc;
    }
    *out = f;
    return 0;
}
