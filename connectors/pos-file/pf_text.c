/* pos-file format library: buffers, JSON strings, UTF-8 checks and decoding with iconv. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "pf_priv.h"

int pf_buf_grow(struct pf_buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            return OMB_ENOMEM;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        return OMB_ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void pf_buf_free(struct pf_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int pf_buf_printf(struct pf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || pf_buf_reserve(b, (size_t)n + 1) != 0) {
        return OMB_ENOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* What a byte needs in a JSON string: 0 nothing, else the escape letter ('u' for \u00XX). */
static const char json_esc[256] = {
    ['\0'] = 'u', [1] = 'u',    [2] = 'u',    [3] = 'u',     [4] = 'u',    [5] = 'u',
    [6] = 'u',    [7] = 'u',    ['\b'] = 'b', ['\t'] = 't',  ['\n'] = 'n', [11] = 'u',
    ['\f'] = 'f', ['\r'] = 'r', [14] = 'u',   [15] = 'u',    [16] = 'u',   [17] = 'u',
    [18] = 'u',   [19] = 'u',   [20] = 'u',   [21] = 'u',    [22] = 'u',   [23] = 'u',
    [24] = 'u',   [25] = 'u',   [26] = 'u',   [27] = 'u',    [28] = 'u',   [29] = 'u',
    [30] = 'u',   [31] = 'u',   ['"'] = '"',  ['\\'] = '\\',
};

int pf_json_str(struct pf_buf *b, const char *s, size_t n)
{
    /* At worst 6 bytes per input byte, plus the quotes and a NUL. */
    if (pf_buf_reserve(b, 6 * n + 3) != 0) {
        return OMB_ENOMEM;
    }
    char *o = b->p + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && !json_esc[(unsigned char)s[j]]) {
            j++;
        }
        memcpy(o, s + i, j - i);
        o += j - i;
        if (j == n) {
            break;
        }
        unsigned char c = (unsigned char)s[j];
        *o++ = '\\';
        if (json_esc[c] == 'u') {
            static const char hex[] = "0123456789abcdef";
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = json_esc[c];
        }
        i = j + 1;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return 0;
}

int pf_json_key(struct pf_buf *b, const char *s)
{
    if (pf_json_str(b, s, strlen(s)) != 0) {
        return OMB_ENOMEM;
    }
    return pf_buf_putc(b, ':');
}

/* The length of the valid UTF-8 sequence at s (1..4), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) {
            return 0;
        }
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)) {
            return 0; /* overlong, or a surrogate */
        }
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) {
            return 0;
        }
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)) {
            return 0; /* overlong, or above U+10FFFF */
        }
        return 4;
    }
    return 0;
}

/* The length of the ASCII prefix of s, eight bytes at a time. */
static size_t ascii_prefix(const char *s, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ULL) {
            break;
        }
        i += 8;
    }
    while (i < n && !((unsigned char)s[i] & 0x80)) {
        i++;
    }
    return i;
}

bool pf_utf8_valid(const char *s, size_t n)
{
    size_t i = ascii_prefix(s, n);
    while (i < n) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
            return false;
        }
        i += k;
    }
    return true;
}

size_t pf_utf8_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return chars;
}

void pf_trim(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n;
    while (len && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
        len--;
    }
    *s = p;
    *n = len;
}

void pf_quote_value(char *dst, size_t dstlen, const char *s, size_t n)
{
    struct pf_buf b = {0};
    size_t cut = n;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars > 40) {
            cut = i;
            break;
        }
    }
    if (pf_json_str(&b, s, cut) != 0) {
        snprintf(dst, dstlen, "\"...\"");
        return;
    }
    if (cut < n && b.len) {
        b.len--; /* the closing quote: "..." after the cut */
        pf_buf_puts(&b, "...\"");
    }
    snprintf(dst, dstlen, "%.*s", (int)b.len, b.p);
    pf_buf_free(&b);
}

int pf_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return OMB_EINVAL;
}

bool pf_encoding_is_utf8(const char *encoding)
{
    return !encoding || strcasecmp(encoding, "utf-8") == 0 || strcasecmp(encoding, "utf8") == 0;
}

bool pf_encoding_ascii_compatible(const char *encoding)
{
    static const char probe[] = "\t\n\r ;,|\"'#+-.:/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "abcdefghijklmnopqrstuvwxyz";
    iconv_t cd = iconv_open(encoding, "UTF-8");
    if (cd == (iconv_t)-1) {
        return false;
    }
    char out[256];
    char *in = (char *)probe;
    size_t inleft = sizeof(probe) - 1;
    char *o = out;
    size_t oleft = sizeof(out);
    size_t rc = iconv(cd, &in, &inleft, &o, &oleft);
    size_t rc2 = iconv(cd, NULL, NULL, &o, &oleft); /* a shift sequence back, if any */
    iconv_close(cd);
    return rc != (size_t)-1 && rc2 != (size_t)-1 && inleft == 0 &&
           (size_t)(o - out) == sizeof(probe) - 1 && memcmp(out, probe, sizeof(probe) - 1) == 0;
}

int pf_decoder_init(struct pf_decoder *d, const char *encoding, bool utf8)
{
    memset(d, 0, sizeof(*d));
    d->utf8 = utf8;
    d->cd = (iconv_t)-1;
    if (!utf8) {
        d->cd = iconv_open("UTF-8", encoding);
        if (d->cd == (iconv_t)-1) {
            return errno == ENOMEM ? OMB_ENOMEM : OMB_EINVAL;
        }
    }
    return 0;
}

void pf_decoder_free(struct pf_decoder *d)
{
    if (d->cd != (iconv_t)-1) {
        iconv_close(d->cd);
        d->cd = (iconv_t)-1;
    }
    pf_buf_free(&d->out);
}

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Valid UTF-8 with each invalid byte replaced by U+FFFD into d->out. */
static int utf8_repair(struct pf_decoder *d, const char *s, size_t n)
{
    d->out.len = 0;
    if (pf_buf_reserve(&d->out, 3 * n + 1) != 0) {
        return OMB_ENOMEM;
    }
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
            memcpy(d->out.p + d->out.len, replacement, 3);
            d->out.len += 3;
            i++;
        } else {
            memcpy(d->out.p + d->out.len, s + i, k);
            d->out.len += k;
            i += k;
        }
    }
    return 0;
}

int pf_decode(struct pf_decoder *d, const char *s, size_t n, const char **out, size_t *outlen,
              bool *bad)
{
    *bad = false;
    size_t a = ascii_prefix(s, n);
    if (a == n || (d->utf8 && pf_utf8_valid(s + a, n - a))) {
        *out = s;
        *outlen = n;
        return 0;
    }
    if (d->utf8) {
        *bad = true;
        int rc = utf8_repair(d, s, n);
        *out = d->out.p;
        *outlen = d->out.len;
        return rc;
    }
    /* The ASCII prefix as it is, the rest through iconv (at most 4 bytes per byte). */
    d->out.len = 0;
    if (pf_buf_reserve(&d->out, 4 * n + 8) != 0) {
        return OMB_ENOMEM;
    }
    memcpy(d->out.p, s, a);
    char *in = (char *)s + a;
    size_t inleft = n - a;
    char *o = d->out.p + a;
    size_t oleft = d->out.cap - a - 1;
    iconv(d->cd, NULL, NULL, NULL, NULL);
    while (inleft > 0) {
        size_t rc = iconv(d->cd, &in, &inleft, &o, &oleft);
        if (rc != (size_t)-1) {
            break;
        }
        if (errno == E2BIG) {
            size_t used = (size_t)(o - d->out.p);
            d->out.len = used;
            if (pf_buf_grow(&d->out, d->out.cap * 2) != 0) {
                return OMB_ENOMEM;
            }
            o = d->out.p + used;
            oleft = d->out.cap - used - 1;
            continue;
        }
        /* EILSEQ or EINVAL (a truncated sequence): one byte becomes U+FFFD. */
        *bad = true;
        if (oleft < 3) {
            size_t used = (size_t)(o - d->out.p);
            d->out.len = used;
            if (pf_buf_grow(&d->out, d->out.cap * 2) != 0) {
                return OMB_ENOMEM;
            }
            o = d->out.p + used;
            oleft = d->out.cap - used - 1;
        }
        memcpy(o, replacement, 3);
        o += 3;
        oleft -= 3;
        in++;
        inleft--;
        iconv(d->cd, NULL, NULL, NULL, NULL);
    }
    d->out.len = (size_t)(o - d->out.p);
    *out = d->out.p;
    *outlen = d->out.len;
    return 0;
}
