/* omnibusctl: the admin command-line client of omnibusd (docs/omnibusctl.md). Internal to the
 * tool: the client (endpoint, one request, the answer's envelope), text tables, and the views
 * that print each command's result. */
#ifndef OMNIBUSCTL_H
#define OMNIBUSCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <omnibus/err.h>

struct ombctl_table;

/* The admin protocol version this client speaks (docs/admin-protocol.md). */
#define OMBCTL_PROTOCOL 1
/* The answer's deadline when --timeout is not given, in seconds. */
#define OMBCTL_TIMEOUT_S 5.0
#define OMBCTL_SNAPSHOT_TIMEOUT_S 65.0 /* the daemon's snapshot wait (60 s) and a margin */

/* Exit statuses (docs/omnibusctl.md, EXIT STATUS). */
enum ombctl_exit {
    OMBCTL_EXIT_OK = 0,
    OMBCTL_EXIT_ANSWER = 1,     /* the daemon answered with an error, or an answer not understood */
    OMBCTL_EXIT_USAGE = 2,      /* bad command line */
    OMBCTL_EXIT_UNREACHABLE = 3 /* no socket file, no answer in time */
};

/* --- client (omnibusctl_client.c) --- */

/* The default endpoint, the daemon's rule when the config has no <admin>: effective uid 0 →
 * ipc:///run/omnibus/admin.sock, else $XDG_RUNTIME_DIR/omnibus/admin.sock when that is an
 * absolute path, else /tmp/omnibus-<euid>/admin.sock. New string, NULL when out of memory. */
char *ombctl_endpoint_default(void);
/* The endpoint to use: `option` (--socket, may be NULL), else $OMNIBUS_ADMIN when not empty, else
 * the default. A value without "://" is a path and becomes ipc://PATH. New string or NULL. */
char *ombctl_endpoint_choose(const char *option);

/* Send `request` (borrowed) to `endpoint` as one frame and wait up to timeout_ms for one frame
 * back. On 0, *answer is new: a JSON object with "v": 1 and a boolean "ok", and "result" when ok
 * is true, or an "error" object with string "code" and "message" when it is false. Failures:
 *   OMB_EINVAL   the endpoint is not one ZeroMQ can connect to (a usage error);
 *   OMB_ENOTFOUND, OMB_EIO, OMB_ETIMEOUT   the daemon is unreachable: no socket file, another
 *                error, no answer in time;
 *   OMB_EREJECT  an answer that breaks the protocol (not JSON, two frames, no "ok", ...).
 * `why` (why_len bytes) receives the reason in words ("no such socket file"). */
int ombctl_request(const char *endpoint, int timeout_ms, const json_t *request, json_t **answer,
                   char *why, size_t why_len);

/* --- text helpers and tables (omnibusctl_table.c) --- */

/* A copy of `s` safe for a terminal: tab, CR and LF become spaces, other control characters '?'.
 * New string, NULL when out of memory. */
char *ombctl_clean(const char *s);
/* Member `key` of `obj` (borrowed) as text for a table: a string cleaned into buf, a number, yes
 * or no, else "-". Returns buf. */
const char *ombctl_text(const json_t *obj, const char *key, char *buf, size_t len);
/* A number (borrowed) as text: integers exactly, other reals with up to 6 digits; "-" for a
 * non-number. Returns buf. */
const char *ombctl_num(const json_t *v, char *buf, size_t len);
/* Milliseconds: 2 decimals under 10, 1 under 1000, none above; "-" for a non-number. */
const char *ombctl_ms(const json_t *v, char *buf, size_t len);
/* Seconds as "12.5 s", "3m 04s", "1h 02m 03s" or "2d 03h 04m"; "-" for a non-number. */
const char *ombctl_duration(const json_t *v, char *buf, size_t len);

/* A table with ncols columns and these headers (copied). NULL when out of memory. */
struct ombctl_table *ombctl_table_new(size_t ncols, const char *const *headers);
/* Free; sets *tp to NULL; safe to call twice. */
void ombctl_table_destroy(struct ombctl_table **tp);
/* Right-align column `col` (numbers). */
void ombctl_table_right(struct ombctl_table *t, size_t col);
/* Append a row of ncols cells (copied, cleaned). 0 or OMB_ENOMEM. */
int ombctl_table_add(struct ombctl_table *t, const char *const *cells);
/* Print the headers and rows, columns two spaces apart, no trailing blanks. */
void ombctl_table_print(const struct ombctl_table *t, FILE *out);

/* --- views (omnibusctl_view.c, omnibusctl_prom.c) --- */

/* Each prints a command's `result` (borrowed) for people. 0, OMB_EINVAL when the result has the
 * wrong shape (nothing printed then), OMB_ENOMEM. Missing members print as "-". */
int ombctl_view_status(const json_t *result, FILE *out);
int ombctl_view_connectors(const json_t *result, FILE *out);
int ombctl_view_routes(const json_t *result, FILE *out);
int ombctl_view_metrics(const json_t *result, FILE *out);
int ombctl_view_reload(const json_t *result, FILE *out);
int ombctl_view_pause(const json_t *result, FILE *out);
int ombctl_view_snapshot(const json_t *result, FILE *out);
/* "A,B,C" as a new JSON array of strings (empty items left out). */
json_t *ombctl_split_list(const char *s);
int ombctl_view_log_level(const json_t *result, FILE *out);

/* The `metrics` result (borrowed) in the Prometheus text exposition format 0.0.4. 0 or
 * OMB_EINVAL when the result is not an object. */
int ombctl_prometheus(const json_t *result, FILE *out);

/* --- the dead-letter commands (omnibusctl_dlq.c) --- */

/* Their options (--destination, --route, --type, --older-than, --state, --limit, --after,
 * --all, --body, --body-file), as given on the command line (borrowed from argv; a flag is
 * "true"); NULL when absent. */
#define OMBCTL_DLQ_OPTS 10
struct ombctl_dlq_opts {
    const char *v[OMBCTL_DLQ_OPTS];
    const char *first; /* the name of the first one given, for "does not go with" errors */
};

/* True for dead-letters, dead-letter, replay, edit and drop. */
bool ombctl_dlq_is(const char *cmd);
/* If argv[*i] is one of those options, take it (and its value, moving *i) into o and set
 * *taken. Returns -1 to go on, or the exit status of a usage error (printed). */
int ombctl_dlq_option(int argc, char **argv, int *i, struct ombctl_dlq_opts *o, bool *taken);
/* The "args" of a dead-letter command from its positional arguments (pos, npos: an ID, checked
 * here) and options; edit reads its body (--body, --body-file or standard input). Returns -1
 * with *args new, or the exit status of a usage error (printed). */
int ombctl_dlq_args(const char *cmd, const char *const *pos, size_t npos,
                    const struct ombctl_dlq_opts *o, json_t **args);

int ombctl_view_dead_letters(const json_t *result, FILE *out);
int ombctl_view_dead_letter(const json_t *result, FILE *out);
int ombctl_view_replay(const json_t *result, FILE *out);
int ombctl_view_edit(const json_t *result, FILE *out);
int ombctl_view_drop(const json_t *result, FILE *out);

/* "omnibusctl: MESSAGE (see omnibusctl --help)" on standard error; returns OMBCTL_EXIT_USAGE. */
int ombctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* OMNIBUSCTL_H */
