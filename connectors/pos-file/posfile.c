/* The pos-file connector: legacy POS exports (CSV, fixed-width, ARTS POSLog) from a folder, an
 * FTP, FTPS or SFTP server into canonical events, and price lists and stock files back out in
 * the same declared formats. docs/connectors/pos-file.md is the user's guide. This file holds
 * the options, their cross-checks, the lifecycle and the descriptor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "posfile.h"

static const char *const completes[] = { "rename", "marker", "stable", NULL };
static const char *const bads[] = { "reject-file", "skip", NULL };

#define OPT(name, type, def, flags, min, max, en, field, doc) \
    { name, type, def, flags, min, max, en, offsetof(struct posfile_ctx, field), doc }

static const struct omb_option options[] = {
    /* where */
    OPT("source", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, source,
        "in: where the POS drops its exports: a directory, or ftp://[user@]host[:port]/dir/, "
        "ftps://... (TLS required) or sftp://user@host[:port]/abs/dir/"),
    OPT("target", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, target,
        "out: where files for the POS to import are written: a directory or a URL as source"),
    OPT("password", OMB_OPT_SECRET, NULL, 0, 0, 0, NULL, password,
        "ftp/ftps/sftp password (env:NAME or file:PATH)"),
    OPT("ssh-key", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, ssh_key,
        "sftp: the private key file (ed25519: Debian 12's libssh2 signs RSA with SHA-1 only)"),
    OPT("ssh-public-key", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, ssh_public_key,
        "sftp: its public key file (default: ssh-key with .pub)"),
    OPT("known-hosts", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, known_hosts,
        "sftp: an OpenSSH known_hosts file with the server's key (required: it is checked)"),
    OPT("ca-file", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, ca_file,
        "ftps: CA certificates to verify the server with (default: the system's)"),
    OPT("ftps-implicit", OMB_OPT_BOOL, "false", 0, 0, 0, NULL, ftps_implicit,
        "ftps: TLS from the first byte (port 990) instead of AUTH TLS"),
    OPT("timeout", OMB_OPT_DURATION, "5m", 0, 1000, 86400000, NULL, timeout_ms,
        "the longest one transfer (a listing, a download, an upload) may take"),
    OPT("spool", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, spool,
        "a local directory for downloads and for the out side's pending file (default: "
        "$TMPDIR or /var/tmp)"),
    /* in: which files, when complete, where they go */
    OPT("pattern", OMB_OPT_STRING, "*", 0, 0, 0, NULL, pattern,
        "in: a glob the file names must match, e.g. stock-*.csv"),
    OPT("poll", OMB_OPT_DURATION, "30s", 0, 10, 86400000, NULL, poll_ms,
        "in: how often the source is listed"),
    OPT("complete", OMB_OPT_ENUM, "rename", 0, 0, 0, completes, complete,
        "in: when a file is complete: rename (the POS writes it under a temp name: names "
        "starting with . or ending in .tmp/.part are not taken), marker (FILE.done or FILE.ok "
        "exists), stable (same size and time in two polls)"),
    OPT("markers", OMB_OPT_LIST, ".done,.ok", 0, 0, 0, NULL, markers,
        "in: the marker suffixes of complete=marker; out: the first is written after a file"),
    OPT("processed-dir", OMB_OPT_STRING, "processed", 0, 0, 0, NULL, processed_dir,
        "in: the subdirectory a file goes to once all its events are stored"),
    OPT("error-dir", OMB_OPT_STRING, "error", 0, 0, 0, NULL, error_dir,
        "in: the subdirectory a file with bad records goes to, with FILE.err listing them"),
    OPT("bad-records", OMB_OPT_ENUM, "reject-file", 0, 0, 0, bads, bad,
        "in: reject-file (nothing of a file with a bad record is emitted) or skip (emit the "
        "good records; FILE.err beside the processed file lists the bad)"),
    /* the format */
    OPT("format", OMB_OPT_STRING, NULL, OMB_OPTF_REQUIRED, 0, 0, NULL, format,
        "csv, fixed or poslog"),
    OPT("encoding", OMB_OPT_STRING, "utf-8", 0, 0, 0, NULL, encoding,
        "the files' character set: utf-8 (a BOM is skipped), cp1250, iso-8859-2, ..."),
    OPT("delimiter", OMB_OPT_STRING, ";", 0, 0, 0, NULL, delimiter,
        "csv: the field separator (\\t for tab)"),
    OPT("quote", OMB_OPT_STRING, "\"", 0, 0, 0, NULL, quote, "csv: the quote character, or empty"),
    OPT("header", OMB_OPT_BOOL, "true", 0, 0, 0, NULL, header,
        "csv: the first line names the columns"),
    OPT("decimal-comma", OMB_OPT_BOOL, "false", 0, 0, 0, NULL, decimal_comma,
        "numbers are written with a decimal comma (59,99)"),
    OPT("columns", OMB_OPT_LIST, NULL, OMB_OPTF_MULTI, 0, 0, NULL, columns,
        "csv: COLUMN=field[:type], COLUMN a header name or a 1-based number; types string, "
        "int, decimal:N (integer minor units), number, date, datetime, bool"),
    OPT("fields", OMB_OPT_LIST, NULL, OMB_OPTF_MULTI, 0, 0, NULL, fields,
        "fixed: field:start:width[:type[:sign]], start 1-based, sign leading or trailing"),
    OPT("trailer", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, trailer,
        "csv/fixed: a last line starting with this text is the trailer, with a record count"),
    OPT("trailer-count-field", OMB_OPT_INT, "2", 0, 1, 1000, NULL, trailer_count_field,
        "csv: the trailer's field holding the record count"),
    OPT("trailer-count", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, trailer_count,
        "fixed: start:width of the record count in the trailer line"),
    OPT("currency", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, currency,
        "the currency of money written without one (PLN)"),
    /* the events */
    OPT("type", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, type,
        "csv/fixed: the event type of each record, e.g. stock.level (a route's transform can "
        "reshape it)"),
    OPT("key", OMB_OPT_LIST, NULL, 0, 0, 0, NULL, key,
        "csv/fixed: the fields whose values, joined by @, key each event (e.g. sku,location)"),
    OPT("time-field", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, time_field,
        "csv/fixed: the field holding the event's time"),
    OPT("dedupe", OMB_OPT_BOOL, "true", 0, 0, 0, NULL, dedupe,
        "key each event <file sha256>:<line> (POSLog: store/workstation/day/sequence), so a "
        "file read or delivered again emits nothing new within the dedupe-window"),
    /* out */
    OPT("file-name", OMB_OPT_STRING, "omnibus-{datetime}-{seq}.{ext}", 0, 0, 0, NULL,
        file_name,
        "out: the name of each file written: {date} {time} {datetime} {seq} {ext} are filled in"),
    OPT("batch-max", OMB_OPT_INT, "10000", 0, 1, 10000000, NULL, batch_max,
        "out: at most this many records in one file"),
    OPT("batch-wait", OMB_OPT_DURATION, "5s", 0, 0, 86400000, NULL, batch_wait_ms,
        "out: a file is written at most this long after its first record"),
    OPT("marker", OMB_OPT_BOOL, "false", 0, 0, 0, NULL, marker_out,
        "out: write FILE<first of markers> once FILE is in place"),
    OMB_OPTION_END
};

void posfile_site_options(const struct posfile_ctx *c, const char *location,
                          struct pf_site_options *o)
{
    const char *tmp = getenv("TMPDIR");
    *o = (struct pf_site_options){
        .location = location, .password = c->password, .ssh_key = c->ssh_key,
        .ssh_public_key = c->ssh_public_key, .known_hosts = c->known_hosts,
        .ca_file = c->ca_file, .ftps_implicit = c->ftps_implicit, .timeout_ms = c->timeout_ms,
        .spool = c->spool ? c->spool : tmp && *tmp ? tmp : "/var/tmp" };
}

static int build_format(const struct posfile_ctx *c, struct pf_format **out, char *err,
                        size_t errlen)
{
    struct pf_format_options fo = {
        .format = c->format, .encoding = c->encoding, .delimiter = c->delimiter,
        .quote = c->quote, .decimal_comma = c->decimal_comma,
        /* header defaults to true for csv; the other formats have none */
        .header = c->header && c->format && strcmp(c->format, "csv") == 0,
        .columns = c->columns, .fields = c->fields, .trailer = c->trailer,
        .trailer_count_field = c->trailer ? (int)c->trailer_count_field : 0,
        .trailer_count_spec = c->trailer_count, .currency = c->currency,
        .key_fields = c->format && strcmp(c->format, "poslog") != 0 ? c->key : NULL };
    return pf_format_new(&fo, out, err, errlen);
}

static int posfile_validate(const void *vctx, char *err, size_t errlen)
{
    const struct posfile_ctx *c = vctx;
    if (!c->source && !c->target) {
        snprintf(err, errlen, "give source (files in), target (files out) or both");
        return OMB_EINVAL;
    }
    bool poslog = c->format && strcmp(c->format, "poslog") == 0;
    if (c->source && !poslog && !c->type) {
        snprintf(err, errlen, "format %s needs option 'type' (the event type of each record)",
                 c->format);
        return OMB_EINVAL;
    }
    if (c->target && poslog) {
        snprintf(err, errlen, "target: POSLog is read, not written; use csv or fixed");
        return OMB_EINVAL;
    }
    struct pf_format *f = NULL;
    int rc = build_format(c, &f, err, errlen);
    pf_format_free(&f);
    if (rc != 0) {
        return rc;
    }
    const char *locs[2] = { c->source, c->target };
    for (int i = 0; i < 2; i++) {
        struct pf_site *s = NULL;
        struct pf_site_options o;
        if (!locs[i]) {
            continue;
        }
        posfile_site_options(c, locs[i], &o);
        rc = pf_site_open(&o, &s, err, errlen);
        pf_site_close(&s);
        if (rc != 0) {
            return rc;
        }
    }
    if (c->complete == PF_COMPLETE_MARKER && (!c->markers || !c->markers[0])) {
        snprintf(err, errlen, "complete=marker needs at least one suffix in markers");
        return OMB_EINVAL;
    }
    return 0;
}

static int posfile_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct posfile_ctx *c = ctx;
    c->host = host;
    c->self = self;
    char err[512];
    if (!OMB_HOST_HAS(host, emit_raw_acked)) {
        host->log(self, OMB_LOG_ERROR, "needs a host with ABI 1.2 (acknowledged emits)");
        return OMB_EINVAL;
    }
    if (build_format(c, &c->fmt, err, sizeof(err)) != 0) {
        host->log(self, OMB_LOG_ERROR, "%s", err);
        return OMB_EINVAL;
    }
    return 0;
}

static int posfile_start(void *ctx)
{
    struct posfile_ctx *c = ctx;
    int rc = c->src ? 0 : posfile_source_start(c);
    if (rc == 0 && !c->sink) {
        rc = posfile_sink_start(c);
    }
    return rc == OMB_ENOMEM ? OMB_ERETRY : rc;
}

static int posfile_deliver_raw(void *ctx, const struct omb_raw_event *ev,
                               struct omb_deliver_result *res)
{
    return posfile_sink_deliver(ctx, ev, res);
}

static int posfile_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    (void)ctx;
    (void)event;
    snprintf(res->reason, sizeof(res->reason), "pos-file takes deliveries as frames only");
    return OMB_EREJECT;
}

static int posfile_stop(void *ctx)
{
    struct posfile_ctx *c = ctx;
    posfile_source_stop(c);
    posfile_sink_stop(c);
    return 0;
}

static void posfile_destroy(void *ctx)
{
    struct posfile_ctx *c = ctx;
    posfile_source_destroy(c);
    posfile_sink_destroy(c);
    pf_format_free(&c->fmt);
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "pos-file",
    .version = "1.0.0",
    .description = "legacy POS exports (CSV, fixed-width, ARTS POSLog) from a folder, FTP, FTPS "
                   "or SFTP, and files back for the POS to import",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK,
    .options = options,
    .ctx_size = sizeof(struct posfile_ctx),
    .create = posfile_create,
    .validate = posfile_validate,
    .start = posfile_start,
    .deliver = posfile_deliver,
    .stop = posfile_stop,
    .destroy = posfile_destroy,
    .deliver_raw = posfile_deliver_raw,
};
