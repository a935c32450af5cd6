/* pos-file format library: the writer of csv and fixed files for a POS to import. Each record
 * is built whole (in the file's encoding) before it joins the output, so a record that fails
 * leaves nothing behind; output is written to the fd in blocks of 64 KiB. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pf_priv.h"

struct pf_writer {
    const struct pf_format *f;
    int fd;
    iconv_t cd;         /* UTF-8 to the encoding; (iconv_t)-1 for utf-8 */
    struct pf_buf out;  /* encoded, waiting for write() */
    struct pf_buf line; /* the record being built, encoded */
    struct pf_buf text; /* the record being built, UTF-8 (fixed: the trailer check) */
    struct pf_buf val;  /* one value, UTF-8 */
    long *colfield;     /* csv: per column, its field or -1 */
    size_t *order;      /* fixed: the fields by start */
    unsigned long count;
    unsigned long max_count; /* what the trailer's count can hold */
};

static int flush(struct pf_writer *w)
{
    size_t off = 0;
    while (off < w->out.len) {
        ssize_t k = write(w->fd, w->out.p + off, w->out.len - off);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            return OMB_EIO;
        }
        off += (size_t)k;
    }
    w->out.len = 0;
    return 0;
}

/* Appends s (UTF-8) to w->line in the file's encoding; OMB_EINVAL when it cannot be. */
static int encode(struct pf_writer *w, const char *s, size_t n)
{
    if (w->cd == (iconv_t)-1) {
        return pf_buf_put(&w->line, s, n);
    }
    if (pf_buf_reserve(&w->line, 4 * n + 8) != 0) {
        return OMB_ENOMEM;
    }
    char *in = (char *)s, *o = w->line.p + w->line.len;
    size_t inleft = n, oleft = w->line.cap - w->line.len - 1;
    iconv(w->cd, NULL, NULL, NULL, NULL);
    if (iconv(w->cd, &in, &inleft, &o, &oleft) == (size_t)-1 ||
        iconv(w->cd, NULL, NULL, &o, &oleft) == (size_t)-1) {
        return OMB_EINVAL;
    }
    w->line.len = (size_t)(o - w->line.p);
    return 0;
}

static int encode_field(struct pf_writer *w, const struct pf_field *fl, const char *s, size_t n,
                        char *err, size_t errlen)
{
    int rc = encode(w, s, n);
    if (rc == OMB_EINVAL) {
        char q[200];
        pf_quote_value(q, sizeof(q), s, n);
        return pf_fail(err, errlen, "%s: %s cannot be written in %s", fl->name, q, w->f->encoding);
    }
    return rc;
}

static const json_t *lookup(const json_t *body, char *const *path, size_t skip_last)
{
    const json_t *v = body;
    for (size_t i = 0; path[i + skip_last]; i++) {
        if (!json_is_object(v)) {
            return NULL;
        }
        v = json_object_get(v, path[i]);
    }
    return v;
}

/* The value of field fl as UTF-8 text in w->val (not padded). */
static int value_text(struct pf_writer *w, const json_t *body, const struct pf_field *fl,
                      bool *numeric, char *err, size_t errlen)
{
    const struct pf_format *f = w->f;
    const json_t *v = lookup(body, fl->path, 0);
    if (!v || json_is_null(v)) {
        return pf_fail(err, errlen, "missing field %s", fl->name);
    }
    if (fl->money) {
        const json_t *parent = lookup(body, fl->path, 1);
        const char *cur = json_string_value(json_object_get(parent, "currency"));
        if (cur && strcmp(cur, f->currency) != 0) {
            return pf_fail(err, errlen, "%s is \"%s\", the file is in %s", fl->currency_sibling,
                           cur, f->currency);
        }
    }
    w->val.len = 0;
    int rc = pf_value_write(f, fl, v, &w->val, numeric, err, errlen);
    if (rc == 0 && pf_buf_reserve(&w->val, 1) == 0) {
        pf_buf_nul(&w->val);
    }
    return rc;
}

static bool needs_quotes(const struct pf_format *f, const char *s, size_t n, bool first)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == f->delim || s[i] == '\n' || s[i] == '\r' ||
            (f->quote >= 0 && s[i] == (char)f->quote)) {
            return true;
        }
    }
    /* A first field that starts like the trailer, or the only field blank (a blank line is
     * skipped when read). */
    return first &&
           ((f->trailer && n >= f->trailer_len && memcmp(s, f->trailer, f->trailer_len) == 0) ||
            (f->ncolumns == 1 && pf_blank(s, n)));
}

static int csv_value(struct pf_writer *w, const struct pf_field *fl, const char *s, size_t n,
                     bool first, char *err, size_t errlen)
{
    const struct pf_format *f = w->f;
    if (!needs_quotes(f, s, n, first)) {
        return encode_field(w, fl, s, n, err, errlen);
    }
    if (f->quote < 0) {
        char q[200];
        pf_quote_value(q, sizeof(q), s, n);
        return pf_fail(err, errlen,
                       "%s: %s needs quotes (a delimiter, a newline, or the "
                       "trailer's text) and the format has none",
                       fl ? fl->name : "header", q);
    }
    char qc = (char)f->quote;
    int rc = pf_buf_putc(&w->line, qc);
    size_t i = 0;
    while (rc == 0 && i <= n) {
        const char *q = memchr(s + i, qc, n - i);
        size_t k = q ? (size_t)(q - s) + 1 : n; /* a quote is written twice */
        rc = fl ? encode_field(w, fl, s + i, k - i, err, errlen) : encode(w, s + i, k - i);
        if (rc == 0 && q) {
            rc = pf_buf_putc(&w->line, qc);
        }
        i = k + (q == NULL);
    }
    return rc == 0 ? pf_buf_putc(&w->line, qc) : rc;
}

static int end_line(struct pf_writer *w)
{
    int rc = pf_buf_puts(&w->line, w->f->crlf ? "\r\n" : "\n");
    if (rc == 0) {
        rc = pf_buf_put(&w->out, w->line.p, w->line.len);
    }
    if (rc == 0 && w->out.len >= PF_READ_CHUNK) {
        rc = flush(w);
    }
    return rc;
}

static int put_csv(struct pf_writer *w, const json_t *body, char *err, size_t errlen)
{
    const struct pf_format *f = w->f;
    for (size_t c = 0; c < f->ncolumns; c++) {
        int rc;
        if (c > 0 && (rc = pf_buf_putc(&w->line, f->delim)) != 0) {
            return rc;
        }
        if (w->colfield[c] < 0) {
            continue;
        }
        const struct pf_field *fl = &f->fields[w->colfield[c]];
        bool numeric;
        if ((rc = value_text(w, body, fl, &numeric, err, errlen)) != 0 ||
            (rc = csv_value(w, fl, w->val.p, w->val.len, c == 0, err, errlen)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* Pads the value in w->val to the field's width (numbers: zeros after the sign). */
static int pad_fixed(struct pf_writer *w, const struct pf_field *fl, bool numeric, char *err,
                     size_t errlen)
{
    const char *s = w->val.p;
    size_t n = w->val.len;
    if (memchr(s, '\n', n) || memchr(s, '\r', n)) {
        return pf_fail(err, errlen, "%s: a newline cannot be written in a fixed-width field",
                       fl->name);
    }
    size_t chars = pf_utf8_chars(s, n);
    struct pf_buf *t = &w->text;
    if (!numeric) {
        if (chars > fl->width) {
            char q[200];
            pf_quote_value(q, sizeof(q), s, n);
            return pf_fail(err, errlen, "%s: %s is %zu characters, the field has %zu", fl->name, q,
                           chars, fl->width);
        }
        if (pf_buf_put(t, s, n) != 0 || pf_buf_reserve(t, fl->width - chars + 1) != 0) {
            return OMB_ENOMEM;
        }
        memset(t->p + t->len, ' ', fl->width - chars);
        t->len += fl->width - chars;
        return 0;
    }
    bool neg = n && s[0] == '-';
    const char *digits = s + neg;
    size_t dn = n - neg;
    bool sign = fl->sign != PF_SIGN_DEFAULT || neg;
    if (dn + sign > fl->width) {
        return pf_fail(err, errlen, "%s: %s does not fit %zu characters", fl->name, s, fl->width);
    }
    if (pf_buf_reserve(t, fl->width + 1) != 0) {
        return OMB_ENOMEM;
    }
    if (sign && fl->sign != PF_SIGN_TRAILING) {
        t->p[t->len++] = neg ? '-' : '+';
    }
    memset(t->p + t->len, '0', fl->width - dn - sign);
    t->len += fl->width - dn - sign;
    memcpy(t->p + t->len, digits, dn);
    t->len += dn;
    if (sign && fl->sign == PF_SIGN_TRAILING) {
        t->p[t->len++] = neg ? '-' : '+';
    }
    return 0;
}

static int put_fixed(struct pf_writer *w, const json_t *body, char *err, size_t errlen)
{
    const struct pf_format *f = w->f;
    size_t pos = 0;
    w->text.len = 0;
    for (size_t k = 0; k < f->nfields; k++) {
        const struct pf_field *fl = &f->fields[w->order[k]];
        bool numeric;
        int rc;
        if ((rc = value_text(w, body, fl, &numeric, err, errlen)) != 0) {
            return rc;
        }
        size_t at = w->text.len;
        if (pf_buf_reserve(&w->text, fl->start - pos + 1) != 0) {
            return OMB_ENOMEM;
        }
        memset(w->text.p + w->text.len, ' ', fl->start - pos);
        w->text.len += fl->start - pos;
        if ((rc = pad_fixed(w, fl, numeric, err, errlen)) != 0 ||
            (rc = encode_field(w, fl, w->text.p + at, w->text.len - at, err, errlen)) != 0) {
            return rc;
        }
        pos = fl->start + fl->width;
    }
    if (f->trailer && w->text.len >= f->trailer_len &&
        memcmp(w->text.p, f->trailer, f->trailer_len) == 0) {
        return pf_fail(err, errlen, "the record starts with the trailer's text \"%s\"", f->trailer);
    }
    return 0;
}

int pf_writer_put(struct pf_writer *w, const json_t *body, char *err, size_t errlen)
{
    if (!json_is_object(body)) {
        return pf_fail(err, errlen, "the body is not an object");
    }
    if (w->count >= w->max_count) {
        return pf_fail(err, errlen, "the trailer's count cannot hold more than %lu records",
                       w->max_count);
    }
    w->line.len = 0;
    int rc = w->f->kind == PF_CSV ? put_csv(w, body, err, errlen) : put_fixed(w, body, err, errlen);
    if (rc == 0) {
        rc = end_line(w);
        if (rc == OMB_EIO) {
            pf_fail(err, errlen, "write error: %s", strerror(errno));
        }
    }
    if (rc == OMB_ENOMEM) {
        pf_fail(err, errlen, "out of memory");
    }
    if (rc == 0) {
        w->count++;
    }
    return rc;
}

unsigned long pf_writer_count(const struct pf_writer *w)
{
    return w->count;
}

static int write_header(struct pf_writer *w)
{
    const struct pf_format *f = w->f;
    w->line.len = 0;
    for (size_t c = 0; c < f->ncolumns; c++) {
        int rc;
        if (c > 0 && (rc = pf_buf_putc(&w->line, f->delim)) != 0) {
            return rc;
        }
        if (w->colfield[c] < 0) {
            continue;
        }
        const struct pf_field *fl = &f->fields[w->colfield[c]];
        const char *name = fl->column ? fl->column : fl->name;
        if ((rc = csv_value(w, NULL, name, strlen(name), false, NULL, 0)) != 0) {
            return rc;
        }
    }
    return end_line(w);
}

int pf_writer_open(const struct pf_format *f, int fd, struct pf_writer **out)
{
    int rc = OMB_ENOMEM;
    *out = NULL;
    if (f->kind == PF_POSLOG) {
        return OMB_EINVAL;
    }
    struct pf_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        return OMB_ENOMEM;
    }
    w->f = f;
    w->fd = fd;
    w->cd = (iconv_t)-1;
    w->max_count = ULONG_MAX;
    if (!f->utf8 && (w->cd = iconv_open(f->encoding, "UTF-8")) == (iconv_t)-1) {
        rc = errno == ENOMEM ? OMB_ENOMEM : OMB_EINVAL;
        goto fail;
    }
    if (f->kind == PF_CSV) {
        if (!(w->colfield = malloc(f->ncolumns * sizeof(*w->colfield)))) {
            goto fail;
        }
        for (size_t c = 0; c < f->ncolumns; c++) {
            w->colfield[c] = -1;
        }
        for (size_t i = 0; i < f->nfields; i++) {
            w->colfield[f->by_name ? i : f->fields[i].index] = (long)i;
        }
    } else {
        if (!(w->order = malloc(f->nfields * sizeof(*w->order)))) {
            goto fail;
        }
        for (size_t i = 0; i < f->nfields; i++) {
            w->order[i] = i;
        }
        for (size_t i = 1; i < f->nfields; i++) { /* by start: an insertion sort of a few */
            for (size_t j = i;
                 j > 0 && f->fields[w->order[j]].start < f->fields[w->order[j - 1]].start; j--) {
                size_t t = w->order[j];
                w->order[j] = w->order[j - 1];
                w->order[j - 1] = t;
            }
        }
        if (f->has_trailer_count && f->tc_width < 19) {
            w->max_count = 1;
            for (size_t i = 0; i < f->tc_width && w->max_count < ULONG_MAX / 10; i++) {
                w->max_count *= 10;
            }
            w->max_count--;
        }
    }
    if (f->utf8 && f->write_bom && (rc = pf_buf_put(&w->out, "\xEF\xBB\xBF", 3)) != 0) {
        goto fail;
    }
    w->line.len = 0;
    if (f->trailer && (rc = encode(w, f->trailer, f->trailer_len)) != 0) {
        goto fail; /* a trailer the encoding cannot write */
    }
    if (f->kind == PF_CSV && f->header && (rc = write_header(w)) != 0) {
        goto fail;
    }
    *out = w;
    return 0;
fail:
    w->out.len = 0;
    pf_writer_close(&w, false);
    return rc;
}

static int write_trailer(struct pf_writer *w)
{
    const struct pf_format *f = w->f;
    char num[24];
    int rc;
    w->line.len = 0;
    if ((rc = encode(w, f->trailer, f->trailer_len)) != 0) {
        return rc;
    }
    if (f->kind == PF_CSV && f->has_trailer_count) {
        for (int i = 1; i < f->trailer_count_field; i++) {
            if ((rc = pf_buf_putc(&w->line, f->delim)) != 0) {
                return rc;
            }
        }
        snprintf(num, sizeof(num), "%lu", w->count);
        rc = pf_buf_puts(&w->line, num);
    } else if (f->kind == PF_FIXED && f->has_trailer_count) {
        size_t chars = pf_utf8_chars(f->trailer, f->trailer_len);
        for (size_t i = chars; i < f->tc_start && rc == 0; i++) {
            rc = pf_buf_putc(&w->line, ' ');
        }
        snprintf(num, sizeof(num), "%0*lu", (int)f->tc_width, w->count);
        if (rc == 0) {
            rc = pf_buf_puts(&w->line, num);
        }
    }
    return rc == 0 ? end_line(w) : rc;
}

int pf_writer_close(struct pf_writer **wp, bool finish)
{
    struct pf_writer *w = wp ? *wp : NULL;
    int rc = 0;
    if (!w) {
        return 0;
    }
    if (finish) {
        if (w->f->trailer) {
            rc = write_trailer(w);
        }
        if (rc == 0) {
            rc = flush(w);
        }
        if (rc != 0) {
            rc = OMB_EIO;
        }
    }
    if (w->cd != (iconv_t)-1) {
        iconv_close(w->cd);
    }
    pf_buf_free(&w->out);
    pf_buf_free(&w->line);
    pf_buf_free(&w->text);
    pf_buf_free(&w->val);
    free(w->colfield);
    free(w->order);
    free(w);
    *wp = NULL;
    return rc;
}
