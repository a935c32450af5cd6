/* pos-file format library, internal: the types and helpers its files share (see pf_format.h
 * for the file list). Nothing here is part of the connector's API. */
#ifndef OMNIBUS_POS_FILE_PRIV_H
#define OMNIBUS_POS_FILE_PRIV_H

#include <iconv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pf_format.h"

#define PF_MAX_NAME_DEPTH 8 /* dots in a field name */
#define PF_MAX_FIELDS 4096  /* columns of a CSV record */
#define PF_READ_CHUNK (64 * 1024)

enum pf_kind { PF_CSV, PF_FIXED, PF_POSLOG };

enum pf_type {
    PF_T_STRING,
    PF_T_INT,
    PF_T_DECIMAL,
    PF_T_NUMBER,
    PF_T_DATE,
    PF_T_DATETIME,
    PF_T_BOOL
};

enum pf_sign { PF_SIGN_DEFAULT, PF_SIGN_LEADING, PF_SIGN_TRAILING };

/* ---- growable buffers ---- */

struct pf_buf {
    char *p;
    size_t len;
    size_t cap;
};

int pf_buf_grow(struct pf_buf *b, size_t need); /* cap >= need; OMB_ENOMEM */
void pf_buf_free(struct pf_buf *b);

static inline int pf_buf_reserve(struct pf_buf *b, size_t more)
{
    return b->len + more <= b->cap ? 0 : pf_buf_grow(b, b->len + more);
}

static inline int pf_buf_put(struct pf_buf *b, const void *s, size_t n)
{
    if (pf_buf_reserve(b, n + 1) != 0) {
        return OMB_ENOMEM;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static inline int pf_buf_putc(struct pf_buf *b, char c)
{
    if (pf_buf_reserve(b, 2) != 0) {
        return OMB_ENOMEM;
    }
    b->p[b->len++] = c;
    return 0;
}

static inline int pf_buf_puts(struct pf_buf *b, const char *s)
{
    return pf_buf_put(b, s, strlen(s));
}

/* NUL-terminates (the buffers always keep room for it). */
static inline void pf_buf_nul(struct pf_buf *b)
{
    b->p[b->len] = '\0';
}

int pf_buf_printf(struct pf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- text helpers (pf_text.c) ---- */

/* Appends s as a JSON string, quotes included (s is valid UTF-8). */
int pf_json_str(struct pf_buf *b, const char *s, size_t n);
/* Appends "s": (a JSON member name). */
int pf_json_key(struct pf_buf *b, const char *s);
/* Valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF)? */
bool pf_utf8_valid(const char *s, size_t n);
/* Code points in valid UTF-8. */
size_t pf_utf8_chars(const char *s, size_t n);
/* Trims blanks (space, tab) at both ends. */
void pf_trim(const char **s, size_t *n);
/* Copies a value into a message: quoted, escaped, cut at 40 characters. */
void pf_quote_value(char *dst, size_t dstlen, const char *s, size_t n);
/* snprintf into err if err is not NULL; returns OMB_EINVAL. */
int pf_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Decoding lines of an ASCII-compatible encoding into UTF-8. */
struct pf_decoder {
    bool utf8;  /* no conversion: checked only */
    iconv_t cd; /* to UTF-8; (iconv_t)-1 when utf8 */
    struct pf_buf out;
};
int pf_decoder_init(struct pf_decoder *d, const char *encoding, bool utf8);
void pf_decoder_free(struct pf_decoder *d);
/* Decodes s into UTF-8: *out points into s itself (ASCII, or valid UTF-8 when utf8) or into
 * d->out. Invalid bytes become U+FFFD and set *bad. OMB_ENOMEM. */
int pf_decode(struct pf_decoder *d, const char *s, size_t n, const char **out, size_t *outlen,
              bool *bad);
/* Is the iconv encoding ASCII-compatible (the bytes of "\t\n\r ;,\"#0-9A-Za-z" unchanged)? */
bool pf_encoding_ascii_compatible(const char *encoding);
bool pf_encoding_is_utf8(const char *encoding);

/* ---- the format (pf_options.c, pf_plan.c) ---- */

/* One mapped CSV column or fixed-width field. */
struct pf_field {
    char *spec;   /* as the admin wrote it, for messages */
    char *name;   /* the dotted field name */
    char **path;  /* name split at the dots, NULL-terminated (writer) */
    char *column; /* csv: the header name, or NULL when by index */
    char *label;  /* for messages: "column STAN", "column 5", "field quantity" */
    size_t index; /* csv: 0-based column (by name: resolved from the header per reader) */
    size_t start; /* fixed: 0-based first character */
    size_t width; /* fixed: characters */
    enum pf_type type;
    int places; /* decimal:N */
    enum pf_sign sign;
    char *true_text; /* bool: what the writer writes */
    char *false_text;
    bool money;             /* "x.amount" whose currency comes from the currency option */
    char *currency_sibling; /* money: the sibling "x.currency" field name (writer check) */
};

enum pf_op_kind { PF_OP_OPEN, PF_OP_CLOSE, PF_OP_FIELD, PF_OP_CURRENCY };

/* The body plan: a flat walk of the tree of field names. */
struct pf_op {
    enum pf_op_kind kind;
    char *key; /* "name": (JSON, quoted, with the colon) */
    size_t key_len;
    size_t field; /* FIELD: the field; CURRENCY: the money field it goes with */
};

struct pf_format {
    enum pf_kind kind;
    char *encoding; /* as written; NULL: utf-8 */
    bool utf8;
    char delim;
    int quote; /* -1: none */
    bool header;
    bool decimal_comma;
    struct pf_field *fields;
    size_t nfields;
    bool by_name;    /* csv: the columns name header columns */
    size_t ncolumns; /* csv: the highest mapped column (1-based); writer: columns written */
    struct pf_op *ops;
    size_t nops;
    int max_depth;
    char *trailer;
    size_t trailer_len;
    int trailer_count_field;   /* csv */
    size_t tc_start, tc_width; /* fixed: 0-based */
    bool has_trailer_count;
    char *currency;
    size_t max_line;
    size_t field_count;
    size_t line_chars; /* fixed: the end of the last field */
    bool final_newline_optional;
    bool crlf;
    bool write_bom;
    size_t *key_idx; /* key_fields as indexes into fields */
    size_t nkey;
};

/* Builds f->ops from f->fields (pf_plan.c); opt names the option for messages. 0, OMB_EINVAL
 * (a field mapped twice, a name both a value and an object, money with no currency),
 * OMB_ENOMEM. */
int pf_plan_build(struct pf_format *f, const char *opt, char *err, size_t errlen);

/* ---- values (pf_value.c) ---- */

/* An exact decimal: units / 10^scale. */
struct pf_dec {
    int64_t units;
    int scale;
};

/* Parses [+-]digits[sep digits] (at least one digit; at most 18 digits in all). 0 or EINVAL. */
int pf_dec_parse(const char *s, size_t n, char sep, struct pf_dec *d);
/* The decimal in units of 10^-places: exact, or OMB_EINVAL (non-zero places beyond, overflow). */
int pf_dec_minor(struct pf_dec d, int places, int64_t *out);
/* Is s a calendar date "YYYY-MM-DD" (10 characters)? */
bool pf_date_valid(const char *s);
/* The minor-unit exponent of an ISO 4217 currency (2 for unknown codes). */
int pf_currency_places(const char *code);

/* Appends the JSON value of the text s (already trimmed, not empty) read as field fl. On a bad
 * value returns OMB_EINVAL with *why ("is not an int"), out unchanged. OMB_ENOMEM. */
int pf_value_read(const struct pf_format *f, const struct pf_field *fl, const char *s, size_t n,
                  struct pf_buf *out, const char **why);
/* Appends the text of the JSON value v (borrowed) written as field fl (fixed: not padded yet;
 * *numeric says whether to right-align with zeros). OMB_EINVAL with a reason in err. */
int pf_value_write(const struct pf_format *f, const struct pf_field *fl, const json_t *v,
                   struct pf_buf *out, bool *numeric, char *err, size_t errlen);

/* Builds the body of a csv/fixed record from its field values vals[i]/lens[i] (one per field;
 * NULL: absent) into out (cleared first). OMB_EINVAL with the message in err naming the field. */
int pf_body_build(const struct pf_format *f, const char *const *vals, const size_t *lens,
                  struct pf_buf *out, char *err, size_t errlen);
/* The record's key: the key fields' values, trimmed, joined by '@' into out (cleared first).
 * OMB_ENOMEM. */
int pf_key_build(const struct pf_format *f, const char *const *vals, const size_t *lens,
                 struct pf_buf *out);

/* ---- reading (pf_reader.c, pf_csv.c, pf_fixed.c, pf_poslog*.c) ---- */

/* Physical lines of a text file, decoded. */
enum {
    PF_LINE_CR = 1,       /* ended in CRLF */
    PF_LINE_NO_EOL = 2,   /* the last line, with no newline */
    PF_LINE_TOO_LONG = 4, /* longer than max_line: the text is cut */
    PF_LINE_BAD_ENC = 8   /* invalid bytes in the encoding (now U+FFFD) */
};

struct pf_lines {
    int fd;
    char *raw;
    size_t raw_pos, raw_len;
    bool eof;
    struct pf_buf acc; /* a line that spans reads */
    struct pf_decoder dec;
    size_t max_line;
    unsigned long lineno; /* of the line last returned */
    bool bom;             /* skip a UTF-8 BOM on line 1 */
    int read_errno;
};

struct pf_poslog;

struct pf_reader {
    const struct pf_format *f;
    char err[512];
    unsigned long err_line;
    struct pf_reader_stats st;
    struct pf_buf body;
    struct pf_buf key; /* csv/fixed with key_fields */
    bool done; /* the end was returned (or a fatal error): 0 from now on */
    /* csv/fixed */
    struct pf_lines lines;
    bool header_done;
    bool trailer_seen;
    int eof_step;
    unsigned long counted; /* data records, good and bad, for the trailer */
    const char **vals;     /* per field */
    size_t *lens;
    /* csv */
    struct pf_buf rec; /* the fields' text of the record being read */
    size_t *fstart;    /* per column: offset in rec */
    size_t *flen;
    size_t fcap;
    size_t *colmap; /* per field: its column (0-based) */
    size_t expect;  /* fields per record; 0: not known yet */
    /* fixed */
    size_t *offs; /* character -> byte offset of the line */
    size_t offs_cap;
    /* poslog */
    struct pf_poslog *pl;
};

/* Sets the reader's error (line 0: about the file) and returns PF_BAD. */
int pf_bad(struct pf_reader *r, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int pf_lines_init(struct pf_lines *l, const struct pf_format *f, int fd);
void pf_lines_free(struct pf_lines *l);
/* 1: a line (decoded, without CR/LF; borrowed until the next call), 0: the end, OMB_EIO,
 * OMB_ENOMEM. */
int pf_lines_next(struct pf_lines *l, const char **s, size_t *n, unsigned *flags);
/* Is the line blank (empty or spaces and tabs only)? */
bool pf_blank(const char *s, size_t n);

/* The trailer's count v/vn (untrimmed) against the records read: 0 or PF_BAD. */
int pf_trailer_check(struct pf_reader *r, unsigned long line, const char *v, size_t vn);
/* The end of a csv/fixed file: no header or no trailer when declared is PF_BAD (once), then 0. */
int pf_text_at_end(struct pf_reader *r);
/* Byte offsets of the characters of the UTF-8 line s into r->offs (offs[chars] = n); returns the
 * number of characters, or (size_t)-1 (ENOMEM). */
size_t pf_char_offsets(struct pf_reader *r, const char *s, size_t n);

int pf_csv_next(struct pf_reader *r, struct pf_record *rec);
int pf_fixed_next(struct pf_reader *r, struct pf_record *rec);
/* Splits one line (no newlines inside quotes) into rec/fstart/flen: the trailer, the writer's
 * tests. Returns the number of fields, or -1 when the quoting is broken. */
int pf_csv_split_line(struct pf_reader *r, const char *s, size_t n);

int pf_poslog_open(struct pf_reader *r, int fd, char *err, size_t errlen);
int pf_poslog_next(struct pf_reader *r, struct pf_record *rec);
void pf_poslog_close(struct pf_reader *r);

#endif /* OMNIBUS_POS_FILE_PRIV_H */
