/* The pos-file connector, internal: its context and what its files share.
 *
 * posfile.c         options, validate, lifecycle, the descriptor
 * posfile_site.c    where files are: a local directory or a server (ftp, ftps, sftp over libcurl)
 * posfile_source.c  in: poll, take complete files, check a file whole, emit, move it
 * posfile_sink.c    out: spool delivered events, write a file atomically (+ marker), upload
 * pf_*.c            the declared formats: csv, fixed-width, POSLog (pf_format.h)
 *
 * Everything has hidden visibility; the plugin exports only omb_plugin_descriptor.
 */
#ifndef OMNIBUS_CONNECTOR_POSFILE_H
#define OMNIBUS_CONNECTOR_POSFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <omnibus/plugin.h>

#include "pf_format.h"

/* ---- sites ---- */

struct pf_site;

struct pf_site_options {
    const char *location;  /* a directory, or ftp://, ftps://, sftp:// URL of one */
    const char *password;  /* ftp/ftps/sftp password (a secret), or NULL */
    const char *ssh_key;   /* sftp: private key file (ed25519 recommended) */
    const char *ssh_public_key; /* sftp: its public key file (default: ssh_key + ".pub") */
    const char *known_hosts;    /* sftp: known_hosts file to check the server against */
    const char *ca_file;   /* ftps: CA bundle to verify the server's certificate */
    bool ftps_implicit;    /* ftps: TLS from the first byte (port 990) instead of AUTH TLS */
    int64_t timeout_ms;    /* one transfer's limit */
    const char *spool;     /* local directory for downloads and uploads in progress */
};

struct pf_entry {
    char *name;
    int64_t size;  /* -1: unknown */
    int64_t mtime; /* seconds, -1: unknown */
};

enum pf_site_kind { PF_SITE_LOCAL, PF_SITE_FTP, PF_SITE_SFTP };

/* Open a site (no I/O yet). 0, or OMB_EINVAL with the reason in err. */
int pf_site_open(const struct pf_site_options *o, struct pf_site **out, char *err, size_t errlen);
void pf_site_close(struct pf_site **sp);
enum pf_site_kind pf_site_kind(const struct pf_site *s);
/* The location without credentials, for logs. */
const char *pf_site_name(const struct pf_site *s);
/* The regular files at the top of the site (names only with_stat false; sizes and times too
 * when true). *out is the caller's: free with pf_entries_free. 0, OMB_ERETRY (a network or
 * server error: err says which), OMB_EREJECT (login refused, no such directory: err says). */
int pf_site_list(struct pf_site *s, bool with_stat, struct pf_entry **out, size_t *n, char *err,
                 size_t errlen);
void pf_entries_free(struct pf_entry *v, size_t n);
/* A readable fd of the file, at offset 0: the file itself (local) or a spooled download
 * (remote; unlinked, gone once closed). The caller closes it. Errors as pf_site_list. */
int pf_site_fetch(struct pf_site *s, const char *name, int *fd, char *err, size_t errlen);
/* Move name into subdir/ (created if missing), as name or, when taken, name.<n>. */
int pf_site_move(struct pf_site *s, const char *name, const char *subdir, char *err,
                 size_t errlen);
/* Write len bytes of fd (from offset 0) as name, atomically: to ".name.tmp" then renamed. */
int pf_site_put(struct pf_site *s, const char *name, int fd, char *err, size_t errlen);
/* The same from memory (a marker, an .err sidecar); subdir may be NULL. */
int pf_site_put_bytes(struct pf_site *s, const char *subdir, const char *name, const void *p,
                      size_t len, char *err, size_t errlen);
int pf_site_remove(struct pf_site *s, const char *name, char *err, size_t errlen);

/* ---- the connector ---- */

enum pf_complete { PF_COMPLETE_RENAME = 0, PF_COMPLETE_MARKER = 1, PF_COMPLETE_STABLE = 2 };
enum pf_bad { PF_BAD_REJECT_FILE = 0, PF_BAD_SKIP = 1 };

struct pf_source; /* posfile_source.c */
struct pf_sink;   /* posfile_sink.c */

struct posfile_ctx {
    /* Options: filled by the core, owned by it. */
    char *source;
    char *target;
    char *password;
    char *ssh_key;
    char *ssh_public_key;
    char *known_hosts;
    char *ca_file;
    bool ftps_implicit;
    int64_t timeout_ms;
    char *spool;
    char *pattern;
    int64_t poll_ms;
    int complete;        /* enum pf_complete */
    char **markers;      /* marker suffixes: ".done", ".ok" */
    char *processed_dir;
    char *error_dir;
    int bad;             /* enum pf_bad */
    char *format;
    char *encoding;
    char *delimiter;
    char *quote;
    bool header;
    bool decimal_comma;
    char **columns;
    char **fields;
    char *trailer;
    int64_t trailer_count_field;
    char *trailer_count;
    char *currency;
    char *type;          /* csv/fixed: the event type of each row */
    char **key;          /* csv/fixed: the body fields whose values, joined by '@', key an event */
    char *time_field;    /* csv/fixed: the body field holding the event's time */
    bool dedupe;
    char *file_name;     /* out: the file name, with {date}, {time}, {seq} */
    int64_t batch_max;
    int64_t batch_wait_ms;
    bool marker_out;

    /* Runtime, zeroed by the core, owned by the plugin. */
    const struct omb_host_api *host;
    struct omb_instance *self;
    struct pf_format *fmt;
    struct pf_source *src;
    struct pf_sink *sink;
};

int posfile_source_start(struct posfile_ctx *c);
void posfile_source_stop(struct posfile_ctx *c);
void posfile_source_destroy(struct posfile_ctx *c);

int posfile_sink_start(struct posfile_ctx *c);
int posfile_sink_deliver(struct posfile_ctx *c, const struct omb_raw_event *ev,
                         struct omb_deliver_result *res);
void posfile_sink_stop(struct posfile_ctx *c);
void posfile_sink_destroy(struct posfile_ctx *c);

/* The site options of a location (source or target) from the connector's options. */
void posfile_site_options(const struct posfile_ctx *c, const char *location,
                          struct pf_site_options *o);

#endif /* OMNIBUS_CONNECTOR_POSFILE_H */
