/* The file connector, internal: its context and the functions its three files share.
 *
 * file.c         options, validate, lifecycle, the descriptor
 * file_source.c  the drop directory: scan, validate a file whole, emit its lines, move it
 * file_sink.c    deliver: append one JSON line per event to the output file
 *
 * Everything here has hidden visibility (the plugin is built with -fvisibility=hidden and exports
 * only omb_plugin_descriptor).
 */
#ifndef OMNIBUS_CONNECTOR_FILE_H
#define OMNIBUS_CONNECTOR_FILE_H

#include <stdbool.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <omnibus/plugin.h>

/* A drop file's checksum: HMAC-SHA256 chained over its lines (the host's hmac, keyed with the
 * sum so far, from a fixed start), so equal bytes give an equal sum. Each event of the file gets
 * the dedupe key "<sum in hex>:<line number>" unless its line has its own "dedupe". */
#define FILE_SUM_LEN 32
#define FILE_RECENT 64 /* checksums of the files read lately, to log a repeated file */

enum file_output_format {
    FILE_OUTPUT_EVENT = 0, /* the whole delivered event, envelope and route included */
    FILE_OUTPUT_BODY = 1   /* the body only */
};

/* A file that could not be moved out of dir: skipped (not re-emitted) until it changes. */
struct file_skip {
    char *name;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool seen; /* seen by the current scan; entries not seen are dropped */
};

/* Reads a file line by line (getline), skipping blank lines and a UTF-8 byte order mark. */
struct file_reader {
    FILE *f;
    char *buf;
    size_t cap;
    unsigned long lineno; /* physical line number of the last line read, from 1 */
    /* While set, every byte read (blank lines and all) goes into sum: the file's checksum. */
    const struct omb_host_api *hash;
    unsigned char sum[FILE_SUM_LEN];
};

struct file_ctx {
    /* Options: filled by the core before create() and owned by it. */
    char *dir;
    char *pattern;
    int64_t poll_ms;
    char *done_dir;
    char *error_dir;
    char *output;
    int output_format; /* enum file_output_format */
    bool fsync;
    bool dedupe; /* key each line <checksum>:<line> */

    /* Everything below is zeroed by the core and owned by the plugin. */
    const struct omb_host_api *host;
    struct omb_instance *self;

    /* source */
    char *done_path;  /* done-dir, or <dir>/done */
    char *error_path; /* error-dir, or <dir>/error */
    bool timer_armed;
    uint64_t timer_id;
    bool stopping;         /* stop() was called: finish the current file, start no new one */
    bool dir_error_logged; /* dir could not be listed, logged once until it can again */
    char *cur_name;        /* the file being emitted, NULL when idle */
    struct file_reader cur;
    char cur_sum[2 * FILE_SUM_LEN + 1]; /* the current file's checksum in hex; "": none */
    unsigned char recent[FILE_RECENT][FILE_SUM_LEN]; /* a ring of checksums of files read */
    size_t nrecent;
    unsigned long cur_emitted;
    json_t *pending; /* new: parsed but not yet taken by emit (backpressure) */
    bool blocked_logged;
    struct file_skip *skip;
    size_t nskip, skipcap;
    struct file_batch *cur_batch; /* the current file's acknowledgements (ABI 1.2 hosts) */
    struct file_batch *batches;   /* every file emitted or being emitted, not yet all acked */
    bool more_waiting;            /* the scan stopped for want of acknowledgements */
    bool kick_armed;              /* a one-shot timer resumes the scan */
    uint64_t kick_id;

    /* sink */
    bool out_open;
    int out_fd;
    dev_t out_dev;
    ino_t out_ino;
    int64_t out_checked_ms; /* monotonic time of the last rotation check */
    bool out_need_nl;       /* the output ends in a partial line: start with a newline */
};

/* Source (file_source.c). */
int file_source_start(struct file_ctx *c);
void file_source_stop(struct file_ctx *c);
void file_source_destroy(struct file_ctx *c);

/* A file whose events were all acknowledged: move it to done-dir (failed: one was not stored;
 * it stays to be read again). file_source.c */
void file_source_file_stored(struct file_ctx *c, const char *name, unsigned long count,
                             bool failed);

/* Moving files out of the drop directory (file_moves.c). */
struct file_skip *file_skip_find(struct file_ctx *c, const char *name);
bool file_skip_same(const struct file_skip *s, const struct stat *st);
void file_skip_remove(struct file_ctx *c, size_t i);
/* Skip dir/name until it changes (it could not be moved). */
void file_skip_add(struct file_ctx *c, const char *name);
/* Move dir/name into destdir (as name, or name.1, .2, ... when taken): 0 and the new path in
 * *moved (the caller's), or -1 with errno. */
int file_move(struct file_ctx *c, const char *name, const char *destdir, char **moved);
/* Move a bad file to error-dir with <moved>.err holding report; log `what` once. */
void file_reject(struct file_ctx *c, const char *name, const char *what, const char *report);

/* Acknowledgements (file_acks.c). */
struct file_batch;
bool file_acked(const struct file_ctx *c); /* the host has emit_acked */
struct file_batch *file_batch_new(struct file_ctx *c, const char *name); /* NULL: no memory */
void file_batch_emitted(struct file_batch *b);
void file_batch_ack(void *arg, int rc); /* an omb_ack_fn over a batch */
/* Every line is emitted (given_up: the file was rejected midway; it is not moved by us). */
void file_batch_close(struct file_batch *b, bool given_up);
bool file_batch_busy(const struct file_ctx *c, const char *name);
size_t file_batches_waiting(const struct file_ctx *c);
void file_batches_free(struct file_ctx *c);

/* Sink (file_sink.c). deliver borrows event. */
void file_sink_start(struct file_ctx *c);
int file_sink_deliver(struct file_ctx *c, const json_t *event, struct omb_deliver_result *res);
void file_sink_destroy(struct file_ctx *c);

/* Normalise a path for comparison without touching the file system: collapse "//", drop "/."
 * components and a trailing '/'. Returns 0, or OMB_EINVAL when out is too small. */
int file_path_norm(const char *in, char *out, size_t outlen);

#endif /* OMNIBUS_CONNECTOR_FILE_H */
