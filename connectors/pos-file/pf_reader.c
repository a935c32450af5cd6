/* pos-file format library: the reader. Physical lines of csv and fixed files (read in chunks,
 * never more than max_line of one line in memory, decoded to UTF-8), and the pf_reader_* calls,
 * which hand over to pf_csv.c, pf_fixed.c or pf_poslog.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pf_priv.h"

int pf_bad(struct pf_reader *r, unsigned long line, const char *fmt, ...)
{
    char msg[sizeof(r->err) - 40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line) {
        snprintf(r->err, sizeof(r->err), "line %lu: %s", line, msg);
    } else {
        snprintf(r->err, sizeof(r->err), "%s", msg);
    }
    r->err_line = line;
    r->st.bad++;
    return PF_BAD;
}

bool pf_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t') {
            return false;
        }
    }
    return true;
}

int pf_lines_init(struct pf_lines *l, const struct pf_format *f, int fd)
{
    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->max_line = f->max_line;
    l->bom = f->utf8;
    l->dec.cd = (iconv_t)-1;
    if (!(l->raw = malloc(PF_READ_CHUNK))) {
        return OMB_ENOMEM;
    }
    return pf_decoder_init(&l->dec, f->encoding, f->utf8);
}

void pf_lines_free(struct pf_lines *l)
{
    free(l->raw);
    l->raw = NULL;
    pf_buf_free(&l->acc);
    pf_decoder_free(&l->dec);
}

int pf_lines_next(struct pf_lines *l, const char **s, size_t *n, unsigned *flags)
{
    const char *line = NULL;
    size_t len = 0;
    bool too_long = false, eol = true;
    *flags = 0;
    l->acc.len = 0;
    for (;;) {
        if (l->raw_pos == l->raw_len) {
            if (l->eof) {
                if (l->acc.len == 0 && !too_long) {
                    return 0;
                }
                eol = false;
                line = l->acc.p;
                len = l->acc.len;
                break;
            }
            ssize_t k = read(l->fd, l->raw, PF_READ_CHUNK);
            if (k < 0) {
                if (errno == EINTR) {
                    continue;
                }
                l->read_errno = errno;
                return OMB_EIO;
            }
            l->raw_pos = 0;
            l->raw_len = (size_t)k;
            l->eof = k == 0;
            continue;
        }
        char *start = l->raw + l->raw_pos;
        size_t avail = l->raw_len - l->raw_pos;
        char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        l->raw_pos += take + (nl != NULL);
        if (nl && l->acc.len == 0 && !too_long) {
            line = start; /* the whole line is in the chunk: no copy */
            len = take;
            too_long = len > l->max_line;
            break;
        }
        if (!too_long) {
            if (l->acc.len + take > l->max_line) {
                too_long = true;
            } else if (pf_buf_put(&l->acc, start, take) != 0) {
                return OMB_ENOMEM;
            }
        }
        if (nl) {
            line = l->acc.p;
            len = l->acc.len;
            break;
        }
    }
    l->lineno++;
    if (!eol) {
        *flags |= PF_LINE_NO_EOL;
    }
    if (too_long) {
        *flags |= PF_LINE_TOO_LONG;
        *s = "";
        *n = 0;
        return 1;
    }
    if (len && line[len - 1] == '\r') {
        len--;
        *flags |= PF_LINE_CR;
    }
    if (l->bom && l->lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    bool bad = false;
    int rc = pf_decode(&l->dec, line ? line : "", len, s, n, &bad);
    if (bad) {
        *flags |= PF_LINE_BAD_ENC;
    }
    return rc == 0 ? 1 : rc;
}

int pf_trailer_check(struct pf_reader *r, unsigned long line, const char *v, size_t vn)
{
    struct pf_dec d;
    pf_trim(&v, &vn);
    if (vn == 0 || vn > 18 || v[0] == '+' || v[0] == '-' || pf_dec_parse(v, vn, 0, &d) != 0) {
        char q[200];
        pf_quote_value(q, sizeof(q), v, vn);
        return pf_bad(r, line, "trailer: %s is not a record count", q);
    }
    if ((unsigned long)d.units != r->counted) {
        return pf_bad(r, line, "trailer says %lld records, the file has %lu", (long long)d.units,
                      r->counted);
    }
    return 0;
}

int pf_text_at_end(struct pf_reader *r)
{
    const struct pf_format *f = r->f;
    switch (r->eof_step++) {
    case 0:
        if (f->header && !r->header_done) {
            r->done = true;
            return pf_bad(r, 0, "no header line: the file is empty");
        }
        /* fall through */
    case 1:
        if (f->trailer && !r->trailer_seen) {
            r->done = true;
            return pf_bad(r, 0,
                          "no trailer line (starting \"%s\") at the end of the file: is "
                          "the file truncated?",
                          f->trailer);
        }
        /* fall through */
    default:
        r->done = true;
        return 0;
    }
}

int pf_reader_open(const struct pf_format *f, int fd, struct pf_reader **out, char *err,
                   size_t errlen)
{
    struct pf_reader *r = calloc(1, sizeof(*r));
    int rc = 0;
    *out = NULL;
    if (!r) {
        pf_fail(err, errlen, "out of memory");
        return OMB_ENOMEM;
    }
    r->f = f;
    r->lines.fd = -1;
    r->lines.dec.cd = (iconv_t)-1;
    if (f->kind == PF_POSLOG) {
        rc = pf_poslog_open(r, fd, err, errlen);
    } else {
        rc = pf_lines_init(&r->lines, f, fd);
        if (rc == 0) {
            r->vals = calloc(f->nfields, sizeof(*r->vals));
            r->lens = calloc(f->nfields, sizeof(*r->lens));
            r->colmap = calloc(f->nfields, sizeof(*r->colmap));
            if (!r->vals || !r->lens || !r->colmap) {
                rc = OMB_ENOMEM;
            }
        } else if (rc == OMB_EINVAL) {
            pf_fail(err, errlen, "encoding: \"%s\": iconv cannot convert it", f->encoding);
        }
        if (rc == 0) {
            for (size_t i = 0; i < f->nfields; i++) {
                r->colmap[i] = f->fields[i].index; /* by name: set from the header */
            }
            r->expect = f->kind == PF_CSV ? f->field_count : 0;
        }
    }
    if (rc != 0) {
        if (rc == OMB_ENOMEM) {
            pf_fail(err, errlen, "out of memory");
        }
        pf_reader_close(&r);
        return rc;
    }
    *out = r;
    return 0;
}

int pf_reader_next(struct pf_reader *r, struct pf_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    if (r->done) {
        return 0;
    }
    int rc;
    switch (r->f->kind) {
    case PF_CSV:
        rc = pf_csv_next(r, rec);
        break;
    case PF_FIXED:
        rc = pf_fixed_next(r, rec);
        break;
    default:
        rc = pf_poslog_next(r, rec);
        break;
    }
    if (rc == 1) {
        r->st.records++;
    } else if (rc == OMB_EIO && r->f->kind != PF_POSLOG) {
        snprintf(r->err, sizeof(r->err), "read error after line %lu: %s", r->lines.lineno,
                 strerror(r->lines.read_errno));
        r->err_line = r->lines.lineno;
        r->done = true;
    } else if (rc == OMB_ENOMEM) {
        snprintf(r->err, sizeof(r->err), "out of memory");
        r->done = true;
    }
    return rc;
}

const char *pf_reader_error(const struct pf_reader *r, unsigned long *line)
{
    if (line) {
        *line = r->err_line;
    }
    return r->err;
}

void pf_reader_stats(const struct pf_reader *r, struct pf_reader_stats *st)
{
    *st = r->st;
    st->lines = r->f->kind == PF_POSLOG ? 0 : r->lines.lineno;
}

unsigned long pf_reader_skipped(const struct pf_reader *r)
{
    return r->st.training + r->st.cancelled;
}

int pf_key_build(const struct pf_format *f, const char *const *vals, const size_t *lens,
                 struct pf_buf *out)
{
    out->len = 0;
    if (pf_buf_reserve(out, 1) != 0) {
        return OMB_ENOMEM;
    }
    for (size_t k = 0; k < f->nkey; k++) {
        const char *v = vals[f->key_idx[k]];
        size_t n = v ? lens[f->key_idx[k]] : 0;
        if (v) {
            pf_trim(&v, &n);
        }
        if ((k > 0 && pf_buf_putc(out, '@') != 0) || (n > 0 && pf_buf_put(out, v, n) != 0)) {
            return OMB_ENOMEM;
        }
    }
    pf_buf_nul(out);
    return 0;
}

void pf_reader_close(struct pf_reader **rp)
{
    struct pf_reader *r = rp ? *rp : NULL;
    if (!r) {
        return;
    }
    if (r->pl) {
        pf_poslog_close(r);
    }
    pf_lines_free(&r->lines);
    pf_buf_free(&r->body);
    pf_buf_free(&r->key);
    pf_buf_free(&r->rec);
    free(r->vals);
    free(r->lens);
    free(r->fstart);
    free(r->flen);
    free(r->colmap);
    free(r->offs);
    free(r);
    *rp = NULL;
}
