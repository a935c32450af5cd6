/* pos-file format library: fixed-width records. One line is one record; positions and widths
 * count characters of the line after it is decoded to UTF-8 (so a CP1250 "ł" is one character,
 * as it is one byte in the file). A line may be longer than the fields (the rest is ignored), not
 * shorter. */
#include <stdlib.h>

#include "pf_priv.h"

size_t pf_char_offsets(struct pf_reader *r, const char *s, size_t n)
{
    if (r->offs_cap < n + 1) {
        size_t cap = n + 1 > 256 ? n + 1 : 256;
        size_t *o = realloc(r->offs, cap * sizeof(*o));
        if (!o) {
            return (size_t)-1;
        }
        r->offs = o;
        r->offs_cap = cap;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            r->offs[k++] = i;
        }
    }
    r->offs[k] = n;
    return k;
}

static bool is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] & 0x80) {
            return false;
        }
    }
    return true;
}

/* Characters [start, start + width) of s as bytes; the line has enough characters. */
static void cut(const struct pf_reader *r, bool ascii, const char *s, size_t start, size_t width,
                const char **v, size_t *vn)
{
    if (ascii) {
        *v = s + start;
        *vn = width;
    } else {
        *v = s + r->offs[start];
        *vn = r->offs[start + width] - r->offs[start];
    }
}

static int trailer(struct pf_reader *r, const char *s, size_t n)
{
    const struct pf_format *f = r->f;
    unsigned long line = r->lines.lineno;
    r->trailer_seen = true;
    if (!f->has_trailer_count) {
        return 0;
    }
    bool ascii = is_ascii(s, n);
    size_t chars = ascii ? n : pf_char_offsets(r, s, n);
    if (chars == (size_t)-1) {
        return OMB_ENOMEM;
    }
    if (chars < f->tc_start + f->tc_width) {
        return pf_bad(r, line, "trailer: %zu characters, the count needs %zu", chars,
                      f->tc_start + f->tc_width);
    }
    const char *v;
    size_t vn;
    cut(r, ascii, s, f->tc_start, f->tc_width, &v, &vn);
    return pf_trailer_check(r, line, v, vn);
}

int pf_fixed_next(struct pf_reader *r, struct pf_record *rec)
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
        if (flags & PF_LINE_TOO_LONG) {
            r->counted++;
            return pf_bad(r, line, "the line is longer than %zu bytes", f->max_line);
        }
        if (pf_blank(s, n) && !(flags & PF_LINE_BAD_ENC)) {
            continue;
        }
        if (r->trailer_seen) {
            return pf_bad(r, line, "a line after the trailer");
        }
        if (f->trailer && n >= f->trailer_len && memcmp(s, f->trailer, f->trailer_len) == 0) {
            rc = trailer(r, s, n);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        r->counted++;
        if ((flags & PF_LINE_NO_EOL) && !f->final_newline_optional) {
            return pf_bad(r, line,
                          "no newline at the end of the last line: is the file "
                          "truncated?");
        }
        if (flags & PF_LINE_BAD_ENC) {
            return pf_bad(r, line, "not valid %s", f->encoding ? f->encoding : "utf-8");
        }
        bool ascii = is_ascii(s, n);
        size_t chars = ascii ? n : pf_char_offsets(r, s, n);
        if (chars == (size_t)-1) {
            return OMB_ENOMEM;
        }
        if (chars < f->line_chars) {
            return pf_bad(r, line, "%zu characters, the fields need %zu", chars, f->line_chars);
        }
        for (size_t i = 0; i < f->nfields; i++) {
            cut(r, ascii, s, f->fields[i].start, f->fields[i].width, &r->vals[i], &r->lens[i]);
        }
        char why[300];
        rc = pf_body_build(f, r->vals, r->lens, &r->body, why, sizeof(why));
        if (rc == OMB_EINVAL) {
            return pf_bad(r, line, "%s", why);
        }
        if (rc != 0) {
            return rc;
        }
        if (f->nkey > 0 && (rc = pf_key_build(f, r->vals, r->lens, &r->key)) != 0) {
            return rc;
        }
        rec->key = f->nkey > 0 ? r->key.p : NULL;
        rec->line = line;
        rec->body = r->body.p;
        rec->body_len = r->body.len;
        return 1;
    }
}
