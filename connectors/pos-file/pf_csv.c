/* pos-file format library: CSV records. RFC 4180 quoting (a doubled quote inside quotes, a
 * delimiter or newline inside quotes; blanks around a quoted field are allowed), LF or CRLF line
 * ends, the header, the trailer and the checks at the end of the file. A record's fields are
 * copied into r->rec (one buffer, reused, at most max_line bytes); a quote inside an unquoted
 * field is taken literally (15" monitor). */
#include <stdio.h>
#include <stdlib.h>

#include "pf_priv.h"

enum csv_state { CSV_START, CSV_QUOTED };

/* The record being assembled from one or more physical lines. */
struct csv_rec {
    size_t nfields;
    unsigned long line;     /* its first line */
    unsigned long bad_line; /* the line of the first problem, 0: none */
    char why[200];          /* the first problem */
    bool too_long;
    bool no_eol;
};

static void rec_problem(struct csv_rec *c, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rec_problem(struct csv_rec *c, unsigned long line, const char *fmt, ...)
{
    if (c->bad_line) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    c->bad_line = line;
}

static int field_begin(struct pf_reader *r, struct csv_rec *c)
{
    if (c->nfields == r->fcap) {
        size_t cap = r->fcap ? r->fcap * 2 : 32;
        size_t *a = realloc(r->fstart, cap * sizeof(*a));
        if (!a) {
            return OMB_ENOMEM;
        }
        r->fstart = a;
        size_t *b = realloc(r->flen, cap * sizeof(*b));
        if (!b) {
            return OMB_ENOMEM;
        }
        r->flen = b;
        r->fcap = cap;
    }
    r->fstart[c->nfields] = r->rec.len;
    r->flen[c->nfields] = 0;
    c->nfields++;
    return 0;
}

static int field_add(struct pf_reader *r, struct csv_rec *c, const char *s, size_t n)
{
    if (c->too_long) {
        return 0;
    }
    if (r->rec.len + n > r->f->max_line) {
        c->too_long = true;
        return 0;
    }
    if (pf_buf_put(&r->rec, s, n) != 0) {
        return OMB_ENOMEM;
    }
    r->flen[c->nfields - 1] += n;
    return 0;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Scans one physical line of the record from state st; returns the state at its end (QUOTED:
 * the record goes on in the next line), or a negative error. */
static int scan_line(struct pf_reader *r, struct csv_rec *c, const char *s, size_t n,
                     enum csv_state st, unsigned long lineno)
{
    const char delim = r->f->delim;
    const int quote = r->f->quote;
    size_t i = 0;
    int rc;
    if (st == CSV_QUOTED) {
        goto quoted;
    }
    for (;;) {
        /* The start of a field. */
        if (c->nfields >= PF_MAX_FIELDS) {
            rec_problem(c, lineno, "more than %d fields", PF_MAX_FIELDS);
            return CSV_START;
        }
        if ((rc = field_begin(r, c)) != 0) {
            return rc;
        }
        size_t p = i;
        while (p < n && blank(s[p]) && s[p] != delim) {
            p++;
        }
        if (quote >= 0 && p < n && s[p] == (char)quote) {
            i = p + 1;
        quoted:
            for (;;) {
                const char *q = memchr(s + i, quote, n - i);
                if (!q) {
                    if ((rc = field_add(r, c, s + i, n - i)) != 0) {
                        return rc;
                    }
                    return CSV_QUOTED;
                }
                size_t k = (size_t)(q - s);
                if ((rc = field_add(r, c, s + i, k - i)) != 0) {
                    return rc;
                }
                if (k + 1 < n && s[k + 1] == (char)quote) {
                    if ((rc = field_add(r, c, s + k, 1)) != 0) {
                        return rc;
                    }
                    i = k + 2;
                    continue;
                }
                i = k + 1;
                break;
            }
            while (i < n && blank(s[i]) && s[i] != delim) {
                i++;
            }
            if (i == n) {
                return CSV_START;
            }
            if (s[i] != delim) {
                rec_problem(c, lineno, "field %zu: text after the closing quote", c->nfields);
                const char *d = memchr(s + i, delim, n - i);
                if (!d) {
                    return CSV_START;
                }
                i = (size_t)(d - s);
            }
            i++;
            continue;
        }
        const char *d = memchr(s + i, delim, n - i);
        size_t end = d ? (size_t)(d - s) : n;
        if ((rc = field_add(r, c, s + i, end - i)) != 0) {
            return rc;
        }
        if (!d) {
            return CSV_START;
        }
        i = end + 1;
    }
}

/* Reads one record starting with the line s/n (already read). 0, or OMB_EIO/OMB_ENOMEM. */
static int read_record(struct pf_reader *r, struct csv_rec *c, const char *s, size_t n,
                       unsigned flags)
{
    memset(c, 0, sizeof(*c));
    r->rec.len = 0;
    c->line = r->lines.lineno;
    unsigned long lineno = c->line;
    for (;;) {
        if (flags & PF_LINE_TOO_LONG) {
            c->too_long = true;
        }
        if (flags & PF_LINE_BAD_ENC) {
            rec_problem(c, lineno, "not valid %s", r->f->encoding ? r->f->encoding : "utf-8");
        }
        int st = scan_line(r, c, s, n, c->nfields ? CSV_QUOTED : CSV_START, lineno);
        if (st < 0) {
            return st;
        }
        if (st != CSV_QUOTED) {
            c->no_eol = flags & PF_LINE_NO_EOL;
            break;
        }
        /* A newline inside quotes belongs to the field. */
        if (flags & PF_LINE_NO_EOL) {
            rec_problem(c, c->line,
                        "a quoted field is not closed at the end of the file: is "
                        "the file truncated?");
            break;
        }
        int rc =
            field_add(r, c, (flags & PF_LINE_CR) ? "\r\n" : "\n", (flags & PF_LINE_CR) ? 2 : 1);
        if (rc != 0) {
            return rc;
        }
        rc = pf_lines_next(&r->lines, &s, &n, &flags);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            rec_problem(c, c->line,
                        "a quoted field is not closed at the end of the file: is "
                        "the file truncated?");
            break;
        }
        lineno = r->lines.lineno;
    }
    if (c->too_long) {
        rec_problem(c, c->line, "the record is longer than %zu bytes", r->f->max_line);
    }
    return 0;
}

int pf_csv_split_line(struct pf_reader *r, const char *s, size_t n)
{
    struct csv_rec c = {0};
    r->rec.len = 0;
    int st = scan_line(r, &c, s, n, CSV_START, 0);
    return st == CSV_START && !c.bad_line ? (int)c.nfields : -1;
}

/* The trailer line: its count, compared with the records read. */
static int trailer(struct pf_reader *r, const char *s, size_t n)
{
    const struct pf_format *f = r->f;
    unsigned long line = r->lines.lineno;
    r->trailer_seen = true;
    if (!f->has_trailer_count) {
        return 0;
    }
    int k = pf_csv_split_line(r, s, n);
    if (k < 0) {
        return pf_bad(r, line, "trailer: broken quoting");
    }
    if (k < f->trailer_count_field) {
        return pf_bad(r, line, "trailer: no field %d for the record count", f->trailer_count_field);
    }
    const char *v = r->rec.p + r->fstart[f->trailer_count_field - 1];
    size_t vn = r->flen[f->trailer_count_field - 1];
    if (f->trailer_count_field == 1) {
        v += f->trailer_len; /* the count follows the trailer text */
        vn -= f->trailer_len;
    }
    return pf_trailer_check(r, line, v, vn);
}

/* The header: maps the column names to their positions. A problem is fatal. */
static int header(struct pf_reader *r, const char *s, size_t n, unsigned flags)
{
    const struct pf_format *f = r->f;
    struct csv_rec c;
    int rc = read_record(r, &c, s, n, flags);
    if (rc != 0) {
        return rc;
    }
    r->header_done = true;
    if (c.bad_line) {
        r->done = true;
        return pf_bad(r, c.bad_line, "header: %s", c.why);
    }
    r->expect = c.nfields;
    if (!f->by_name && c.nfields < f->ncolumns) {
        r->done = true;
        return pf_bad(r, c.line, "header: %zu columns, the columns option needs %zu", c.nfields,
                      f->ncolumns);
    }
    for (size_t i = 0; i < f->nfields; i++) {
        const struct pf_field *fl = &f->fields[i];
        if (!fl->column) {
            continue;
        }
        size_t found = SIZE_MAX;
        for (size_t k = 0; k < c.nfields; k++) {
            const char *h = r->rec.p + r->fstart[k];
            size_t hn = r->flen[k];
            pf_trim(&h, &hn);
            if (hn == strlen(fl->column) && memcmp(h, fl->column, hn) == 0) {
                if (found != SIZE_MAX) {
                    r->done = true;
                    return pf_bad(r, c.line, "header: the column \"%s\" appears twice", fl->column);
                }
                found = k;
            }
        }
        if (found == SIZE_MAX) {
            struct pf_buf names = {0};
            for (size_t k = 0; k < c.nfields && names.len < 300; k++) {
                pf_buf_printf(&names, "%s%.*s", k ? ", " : "", (int)r->flen[k],
                              r->rec.p + r->fstart[k]);
            }
            r->done = true;
            rc = pf_bad(r, c.line, "header: no column \"%s\" (columns: %.*s%s)", fl->column,
                        (int)names.len, names.p ? names.p : "", names.len >= 300 ? ", ..." : "");
            pf_buf_free(&names);
            return rc;
        }
        r->colmap[i] = found;
    }
    return 0;
}

int pf_csv_next(struct pf_reader *r, struct pf_record *rec)
{
    const struct pf_format *f = r->f;
    for (;;) {
        const char *s;
        size_t n;
        unsigned flags;
        int rc = pf_lines_next(&r->lines, &s, &n, &flags);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            return pf_text_at_end(r);
        }
        unsigned long line = r->lines.lineno;
        if (pf_blank(s, n) && !(flags & (PF_LINE_TOO_LONG | PF_LINE_BAD_ENC))) {
            continue;
        }
        if (r->trailer_seen) {
            return pf_bad(r, line, "a line after the trailer");
        }
        if (f->header && !r->header_done) {
            rc = header(r, s, n, flags);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (f->trailer && n >= f->trailer_len && memcmp(s, f->trailer, f->trailer_len) == 0) {
            rc = trailer(r, s, n);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        r->counted++;
        struct csv_rec c;
        if ((rc = read_record(r, &c, s, n, flags)) != 0) {
            return rc;
        }
        if (c.no_eol && !c.bad_line && !f->final_newline_optional) {
            rec_problem(&c, r->lines.lineno,
                        "no newline at the end of the last line: is the "
                        "file truncated?");
        }
        if (c.bad_line) {
            return pf_bad(r, c.bad_line, "%s", c.why);
        }
        if (r->expect == 0) {
            if (c.nfields < f->ncolumns) {
                return pf_bad(r, c.line, "%zu fields, the columns need %zu", c.nfields,
                              f->ncolumns);
            }
            r->expect = c.nfields;
        }
        if (c.nfields != r->expect) {
            return pf_bad(r, c.line, "expected %zu fields, got %zu", r->expect, c.nfields);
        }
        for (size_t i = 0; i < f->nfields; i++) {
            size_t k = r->colmap[i];
            r->vals[i] = r->rec.p + r->fstart[k];
            r->lens[i] = r->flen[k];
        }
        char why[300];
        rc = pf_body_build(f, r->vals, r->lens, &r->body, why, sizeof(why));
        if (rc == OMB_EINVAL) {
            return pf_bad(r, c.line, "%s", why);
        }
        if (rc != 0) {
            return rc;
        }
        if (f->nkey > 0 && (rc = pf_key_build(f, r->vals, r->lens, &r->key)) != 0) {
            return rc;
        }
        rec->key = f->nkey > 0 ? r->key.p : NULL;
        rec->line = c.line;
        rec->body = r->body.p;
        rec->body_len = r->body.len;
        return 1;
    }
}
