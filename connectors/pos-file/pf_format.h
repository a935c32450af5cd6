/* pos-file connector: the format library. Reads legacy POS exports (CSV, fixed width, ARTS
 * POSLog XML) record by record as compact JSON bodies, and writes CSV and fixed-width files for a
 * POS to import. No host API calls: the connector around it picks up, moves and emits.
 *
 * pf_options.c   pf_format_new/free: the options, the column and field specs
 * pf_plan.c      the body plan: the tree of dotted field names as a flat list of ops
 * pf_text.c      buffers, JSON strings, UTF-8 checks, decoding lines with iconv
 * pf_value.c     the field types: text to JSON (reading), JSON to text (writing), decimals
 * pf_reader.c    the reader of csv and fixed files: lines, records, header, trailer, end checks
 * pf_csv.c       CSV records (RFC 4180 quoting)
 * pf_fixed.c     fixed-width records
 * pf_poslog.c    POSLog XML with libxml2's streaming reader, one transaction at a time
 * pf_poslog_emit.c  the canonical events of one POSLog transaction
 * pf_writer.c    the writer (csv and fixed)
 *
 * Not thread-safe per object; a format may be shared by readers and writers on several threads
 * (it is read-only after pf_format_new).
 */
#ifndef OMNIBUS_POS_FILE_FORMAT_H
#define OMNIBUS_POS_FILE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <omnibus/err.h>

struct pf_format;
struct pf_reader;
struct pf_writer;

/* pf_reader_next: this record, or the end of the file, is bad (see pf_reader_error). Distinct
 * from every enum omb_err. */
#define PF_BAD (-100)

#define PF_MAX_LINE_DEFAULT (1024 * 1024) /* bytes of one physical line (and of a CSV record) */

/* A declared file format: built from the connector's options (strings as the admin wrote them).
 *
 * Field types (the ":type" of a column or field):
 *   string     (the default) the text, trimmed of surrounding blanks (spaces and tabs)
 *   int        an integer with an optional sign and leading zeros ("+00012" -> 12), 64-bit
 *   decimal:N  an exact decimal with at most N places (0..9), as an INTEGER of minor units:
 *              "59,99" -> 5999 with decimal:2, "5" -> 500; never through a float. More places
 *              than N is a bad record unless the extra places are zeros ("59,990" -> 5999)
 *   number     a JSON number copied as written: "+" and leading zeros dropped, a decimal comma
 *              turned into a point ("0012,50" -> 12.50)
 *   date       YYYY-MM-DD or YYYYMMDD -> "YYYY-MM-DD" (checked: a real calendar day)
 *   datetime   "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SS" or YYYYMMDDHHMMSS
 *              -> "YYYY-MM-DDTHH:MM:SS" (local time, as the POS wrote it: no zone is added)
 *   bool       1/0, T/N, T/F, Y/N, true/false, yes/no, tak/nie (any case) -> true/false;
 *              "bool:X/Y" also names what the writer writes for true and false ("bool:T/N");
 *              plain bool writes 1 and 0
 * Implied decimals (a fixed-width "0003999" meaning 39.99) are read as int: the digits are the
 * minor units already.
 *
 * Field names may contain dots ("price.amount") to build nested objects; members come out in
 * the order of their first mention. An empty value (after trimming) leaves its member out of the
 * body (so optional members such as "reserved" can be blank); a nested object left with no
 * member is left out too. A decimal:N or int field whose name ends in ".amount" is money: unless
 * a column or field fills the sibling ".currency", the body gets "currency" from the currency
 * option (pf_format_new fails when there is neither).
 *
 * Text formats (csv, fixed): the encoding must be ASCII-compatible (UTF-8, CP125x, ISO-8859-x,
 * ...; UTF-16 is refused), lines end in LF or CRLF (mixed allowed), blank lines are ignored, and
 * a last line with no newline is a bad record ("is the file truncated?") unless it is the trailer
 * or final_newline_optional is set. */
struct pf_format_options {
    const char *format;      /* "csv", "fixed" or "poslog" */
    const char *encoding;    /* an iconv name: "utf-8" (a BOM is skipped), "cp1250", "iso-8859-2",
                                ...; NULL: utf-8. poslog: NULL follows the XML declaration */
    const char *delimiter;   /* csv: one ASCII character; "\\t" (backslash, t) means tab;
                                NULL: ";" */
    const char *quote;       /* csv: one ASCII character, or "" for none; NULL: "\"" */
    bool header;             /* csv: the first line names the columns */
    bool decimal_comma;      /* numbers are written "59,99" (csv and fixed); a point is then an
                                error, and without it a comma is */
    char *const *columns;    /* csv: NULL-terminated "COLUMN=field[:type]". COLUMN is a header
                                name (needs header; matched case-sensitively after trimming) or a
                                1-based index; all by name or all by index. The field part comes
                                after the last '=' */
    char *const *fields;     /* fixed: NULL-terminated "field:start:width[:type[:sign]]", start
                                1-based, in characters of the decoded line; sign "leading" or
                                "trailing" (numeric types only). Without a sign part a leading
                                +/- is still accepted; the writer writes '-' only for negatives.
                                With one, the writer always writes the sign (+ or -) there.
                                Fields may not overlap */
    const char *trailer;     /* csv/fixed: a line starting with this text is the trailer (last
                                line); NULL: none */
    int trailer_count_field; /* csv: the 1-based field of the trailer line holding the record
                                count (1: the text after the trailer prefix); 0: no count */
    const char *trailer_count_spec; /* fixed: "start:width" (or "count:start:width") of the count
                                       in the trailer line; NULL: no count */
    const char *currency; /* the currency of decimal money fields with no currency of their
                             own ("PLN"); poslog: of amounts with no CurrencyCode/@Currency */
    /* Added beyond the first sketch: */
    size_t max_line; /* bytes of a physical line or CSV record; 0: PF_MAX_LINE_DEFAULT */
    int field_count; /* csv without header: fields per record; 0: the first record's */
    bool final_newline_optional; /* csv/fixed: a last record with no newline is not bad */
    const char *line_end; /* writer: "crlf" or "lf"; NULL: "crlf" (what Windows POSes read) */
    bool write_bom;       /* writer, utf-8: start the file with a BOM */
    char *const *key_fields; /* csv/fixed: NULL-terminated mapped field names whose values
                                (trimmed, as written) joined by '@' are each record's key */
};

/* Record counts of one reader, for the connector's metrics and logs. */
struct pf_reader_stats {
    unsigned long records;      /* records returned (1 from pf_reader_next) */
    unsigned long bad;          /* PF_BAD returns */
    unsigned long lines;        /* csv/fixed: physical lines read */
    unsigned long transactions; /* poslog: Transaction elements read */
    unsigned long training;     /* poslog: skipped, TrainingModeFlag true */
    unsigned long cancelled;    /* poslog: skipped, CancelFlag true */
    unsigned long voided_lines; /* poslog: LineItems skipped, VoidFlag true */
};

/* One record. All pointers are borrowed from the reader, valid until its next call. */
struct pf_record {
    unsigned long line; /* csv/fixed: the record's first physical line, from 1; poslog: the
                           line of the Transaction element */
    const char *type;   /* poslog: the canonical event type; csv/fixed: NULL */
    const char *key;    /* poslog: the event key as events.md defines it; csv/fixed: the
                           key_fields' values joined by '@', or NULL without key_fields */
    const char *dedupe; /* poslog: "STORE/WS/DAY/SEQ/TYPE", and "/LINE" for stock.delta (see
                           pf_poslog_emit.c); csv/fixed: NULL */
    const char *time;   /* poslog: EndDateTime (else BeginDateTime) as written, local time
                           with no zone: the connector converts it; NULL if none or csv/fixed */
    const char *body;   /* compact JSON text of an object, UTF-8, NUL-terminated */
    size_t body_len;
};

/* Builds a format. 0, or OMB_EINVAL with a message in err naming the option and what was
 * expected, or OMB_ENOMEM. *out is the caller's (pf_format_free). */
int pf_format_new(const struct pf_format_options *o, struct pf_format **out, char *err,
                  size_t errlen);
/* Frees, sets NULL; NULL and a second call are fine. Readers and writers of it must be closed. */
void pf_format_free(struct pf_format **f);

/* Starts reading fd from its current offset; fd is not closed. The format must outlive the
 * reader. 0, OMB_ENOMEM, or OMB_EINVAL (poslog: libxml2 could not start). */
int pf_reader_open(const struct pf_format *f, int fd, struct pf_reader **out, char *err,
                   size_t errlen);
/* 1: *rec filled (borrowed until the next call). 0: the end, after the end-of-file checks
 * (trailer present when declared, its count matching, no truncated last record, the XML
 * well-formed to the end). PF_BAD: this record, or the file's end, is bad: pf_reader_error() says
 * where and why; the next call goes on with the next record. After a fatal PF_BAD (a header
 * without a mapped column, malformed XML) the next call returns 0. OMB_EIO: a read error (errno
 * is in the message); OMB_ENOMEM. */
int pf_reader_next(struct pf_reader *r, struct pf_record *rec);
/* The last PF_BAD's message ("line 7: column STAN: \"1x\" is not an int") and line (0 when it
 * is about the whole file); "" and 0 before any. Borrowed until the next pf_reader_next. */
const char *pf_reader_error(const struct pf_reader *r, unsigned long *line);
/* Counts so far. */
void pf_reader_stats(const struct pf_reader *r, struct pf_reader_stats *st);
/* poslog: the transactions skipped as training or cancelled (0 for csv/fixed). */
unsigned long pf_reader_skipped(const struct pf_reader *r);
/* Frees, sets NULL; NULL is fine. Does not close the fd. */
void pf_reader_close(struct pf_reader **r);

/* Starts writing a file for the POS to import (csv and fixed; OMB_EINVAL for poslog) to fd; fd
 * is not closed. Buffers the header line (csv with header). 0, OMB_EINVAL (a header name that
 * the encoding cannot write), OMB_ENOMEM. */
int pf_writer_open(const struct pf_format *f, int fd, struct pf_writer **out);
/* One record from an event body (borrowed): the columns/fields mapping in reverse (decimal:N
 * integers back to "59,99"/"59.99", fixed width padded: text left-aligned with spaces, numbers
 * right-aligned with zeros; csv quoted where needed), converted to the encoding. 0; OMB_EINVAL
 * with the reason in err (a missing field, a value of the wrong JSON type, one that does not
 * fit its width or the encoding) and nothing written; OMB_EIO (a write error, errno in err). */
int pf_writer_put(struct pf_writer *w, const json_t *body, char *err, size_t errlen);
/* The records written so far. */
unsigned long pf_writer_count(const struct pf_writer *w);
/* finish: writes the trailer with the count and flushes: 0 or OMB_EIO. !finish: abandons the
 * file (what is still buffered is not written), returns 0. Frees and sets NULL either way. */
int pf_writer_close(struct pf_writer **w, bool finish);

#endif /* OMNIBUS_POS_FILE_FORMAT_H */
