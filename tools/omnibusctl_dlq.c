/* omnibusctl: the dead-letter commands (dead-letters, dead-letter, replay, edit, drop): their
 * options, their requests and their views. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "omnibusctl.h"

#define CELL 256
#define ERROR_COLUMN 60 /* characters of LAST_ERROR in the list; dead-letter ID has them whole */

enum {
    O_DESTINATION,
    O_ROUTE,
    O_TYPE,
    O_OLDER_THAN,
    O_STATE,
    O_LIMIT,
    O_AFTER,
    O_ALL,
    O_BODY,
    O_BODY_FILE
};

/* Each option: its name, the request member it fills (NULL: none of its own), whether it is a
 * flag, and the commands it goes with ("|a|b|", for a plain strstr). */
static const struct {
    const char *name;
    const char *member;
    bool flag;
    const char *cmds;
} opts[OMBCTL_DLQ_OPTS] = {
    [O_DESTINATION] = {"--destination", "destination", false, "|dead-letters|replay|drop|"},
    [O_ROUTE] = {"--route", "route", false, "|dead-letters|replay|drop|"},
    [O_TYPE] = {"--type", "type", false, "|dead-letters|replay|drop|"},
    [O_OLDER_THAN] = {"--older-than", "older_than", false, "|dead-letters|replay|drop|"},
    [O_STATE] = {"--state", "state", false, "|dead-letters|"},
    [O_LIMIT] = {"--limit", NULL, false, "|dead-letters|"},
    [O_AFTER] = {"--after", NULL, false, "|dead-letters|"},
    [O_ALL] = {"--all", NULL, true, "|replay|drop|"},
    [O_BODY] = {"--body", NULL, false, "|edit|"},
    [O_BODY_FILE] = {"--body-file", NULL, false, "|edit|"},
};

bool ombctl_dlq_is(const char *cmd)
{
    static const char *const cmds[] = {"dead-letters", "dead-letter", "replay", "edit", "drop"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(cmd, cmds[i]) == 0) {
            return true;
        }
    }
    return false;
}

int ombctl_dlq_option(int argc, char **argv, int *i, struct ombctl_dlq_opts *o, bool *taken)
{
    const char *a = argv[*i];
    *taken = false;
    for (size_t k = 0; k < OMBCTL_DLQ_OPTS; k++) {
        size_t n = strlen(opts[k].name);
        if (strncmp(a, opts[k].name, n) != 0 || (a[n] != '\0' && a[n] != '=')) {
            continue;
        }
        *taken = true;
        if (o->v[k]) {
            return ombctl_usage_error("%s given twice", opts[k].name);
        }
        if (opts[k].flag) {
            if (a[n] == '=') {
                return ombctl_usage_error("%s takes no value", opts[k].name);
            }
            o->v[k] = "true";
        } else if (a[n] == '=') {
            o->v[k] = a + n + 1;
        } else if (*i + 1 < argc) {
            o->v[k] = argv[++*i];
        }
        if (!o->v[k] || !*o->v[k]) {
            return ombctl_usage_error("%s needs a value", opts[k].name);
        }
        if (!o->first) {
            o->first = opts[k].name;
        }
        return -1;
    }
    return -1;
}

/* A whole number from `min` into *out; false when `s` is not one. */
static bool whole(const char *s, long long min, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || end == s || *end || errno || v < min) {
        return false;
    }
    *out = v;
    return true;
}

/* Set member `name` to v (stolen); false when v is NULL (not UTF-8, or out of memory). */
static bool put(json_t *args, const char *name, json_t *v)
{
    return v && json_object_set_new(args, name, v) == 0;
}

/* The new body of `edit`: --body TEXT, --body-file FILE, or standard input. Usage errors (not
 * JSON, not an object, an unreadable file) print and give the exit status; else -1 and *body. */
static int edit_body(const struct ombctl_dlq_opts *o, json_t **body)
{
    json_error_t jerr;
    const char *from = "standard input";
    if (o->v[O_BODY] && o->v[O_BODY_FILE]) {
        return ombctl_usage_error("edit: --body and --body-file exclude each other");
    }
    if (o->v[O_BODY]) {
        from = "--body";
        *body = json_loads(o->v[O_BODY], 0, &jerr);
    } else if (o->v[O_BODY_FILE]) {
        FILE *f = fopen(o->v[O_BODY_FILE], "r");
        if (!f) {
            return ombctl_usage_error("edit: cannot read %s: %s", o->v[O_BODY_FILE],
                                      strerror(errno));
        }
        from = o->v[O_BODY_FILE];
        *body = json_loadf(f, 0, &jerr);
        fclose(f);
    } else {
        if (isatty(STDIN_FILENO)) {
            fprintf(stderr, "omnibusctl: reading the new body (a JSON object) from standard "
                            "input; end it with Ctrl-D\n");
        }
        *body = json_loadf(stdin, 0, &jerr);
    }
    if (!*body) {
        return ombctl_usage_error("edit: the body from %s is not JSON: %s (line %d)", from,
                                  jerr.text, jerr.line);
    }
    if (!json_is_object(*body)) {
        json_decref(*body);
        *body = NULL;
        return ombctl_usage_error("edit: the body from %s must be a JSON object", from);
    }
    return -1;
}

/* replay and drop: exactly one of ID, --all, filters (the daemon says the same, but a usage
 * error here sends nothing). */
static int target(const char *cmd, bool id, const struct ombctl_dlq_opts *o)
{
    bool filter = o->v[O_DESTINATION] || o->v[O_ROUTE] || o->v[O_TYPE] || o->v[O_OLDER_THAN];
    if (id && (filter || o->v[O_ALL])) {
        return ombctl_usage_error("%s: an ID goes alone, without --all or filters", cmd);
    }
    if (o->v[O_ALL] && filter) {
        return ombctl_usage_error("%s: --all goes alone, without filters", cmd);
    }
    if (!id && !filter && !o->v[O_ALL]) {
        return ombctl_usage_error("%s: which dead letters? give an ID, --all, or filters "
                                  "(--destination, --route, --type, --older-than)",
                                  cmd);
    }
    return -1;
}

int ombctl_dlq_args(const char *cmd, const char *const *pos, size_t npos,
                    const struct ombctl_dlq_opts *o, json_t **argsp)
{
    json_t *args = json_object(), *body = NULL;
    long long n = 0;
    int status = -1;
    *argsp = NULL;
    for (size_t k = 0; k < OMBCTL_DLQ_OPTS; k++) {
        char pattern[64];
        snprintf(pattern, sizeof(pattern), "|%s|", cmd);
        if (o->v[k] && !strstr(opts[k].cmds, pattern)) {
            status = ombctl_usage_error("%s does not go with %s", opts[k].name, cmd);
            goto out;
        }
        if (o->v[k] && opts[k].member && !put(args, opts[k].member, json_string(o->v[k]))) {
            status = ombctl_usage_error("%s: arguments must be UTF-8 text", cmd);
            goto out;
        }
    }
    if (npos == 1) {
        if (!whole(pos[0], 1, &n)) {
            status = ombctl_usage_error("%s: ID must be a dead letter's id (a whole number from "
                                        "1), not '%s'",
                                        cmd, pos[0]);
            goto out;
        }
        put(args, "id", json_integer(n));
    }
    if (strcmp(cmd, "dead-letters") == 0) {
        /* The range is the daemon's to check (docs/admin-protocol.md); the syntax is ours. */
        if (o->v[O_LIMIT] && !whole(o->v[O_LIMIT], 0, &n)) {
            status = ombctl_usage_error("--limit needs a whole number, not '%s'", o->v[O_LIMIT]);
            goto out;
        }
        if (o->v[O_LIMIT]) {
            put(args, "limit", json_integer(n));
        }
        if (o->v[O_AFTER] && !whole(o->v[O_AFTER], 0, &n)) {
            status =
                ombctl_usage_error("--after needs a dead letter's id, not '%s'", o->v[O_AFTER]);
            goto out;
        }
        if (o->v[O_AFTER]) {
            put(args, "after_id", json_integer(n));
        }
    } else if (strcmp(cmd, "replay") == 0 || strcmp(cmd, "drop") == 0) {
        status = target(cmd, npos == 1, o);
        if (status >= 0) {
            goto out;
        }
        if (o->v[O_ALL]) {
            put(args, "all", json_true());
        }
    } else if (strcmp(cmd, "edit") == 0) {
        status = edit_body(o, &body);
        if (status >= 0) {
            goto out;
        }
        put(args, "body", body);
        body = NULL;
    }
    *argsp = args;
    args = NULL;
out:
    json_decref(body);
    json_decref(args);
    return status;
}

/* ---- views -------------------------------------------------------------------------------- */

/* Microseconds since the epoch as RFC 3339 UTC with microseconds, as the daemon writes times. */
static const char *time_us(const json_t *v, char *buf, size_t len)
{
    time_t s;
    struct tm tm;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    long long us = json_integer_value(v);
    s = (time_t)(us / 1000000);
    if (!gmtime_r(&s, &tm)) {
        snprintf(buf, len, "-");
        return buf;
    }
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06lldZ", day, us % 1000000);
    return buf;
}

/* Text in buf (len bytes) cut to `max` characters, ending in "..." (never inside a UTF-8
 * sequence). */
static void cut(char *buf, size_t len, size_t max)
{
    size_t chars = 0, at = 0;
    for (size_t i = 0; buf[i]; i++) {
        if (((unsigned char)buf[i] & 0xc0) != 0x80) {
            at = chars == max - 3 ? i : at;
            chars++;
        }
    }
    if (chars > max && at + 4 <= len) {
        memcpy(buf + at, "...", 4);
    }
}

int ombctl_view_dead_letters(const json_t *r, FILE *out)
{
    const json_t *list = json_object_get(r, "dead_letters");
    if (!json_is_object(r) || !json_is_array(list)) {
        return OMB_EINVAL;
    }
    static const char *const head[] = {"ID",  "DESTINATION", "ROUTE",   "TYPE",
                                       "KEY", "ATTEMPTS",    "LAST_AT", "LAST_ERROR"};
    static const char *const keys[] = {"id",  "destination", "route",   "type",
                                       "key", "attempts",    "last_at", "last_error"};
    char total[CELL], last[CELL] = "";
    ombctl_text(r, "total", total, sizeof(total));
    if (json_array_size(list) == 0) {
        fprintf(out, "no dead letters here (%s in all)\n", total);
        return 0;
    }
    struct ombctl_table *t = ombctl_table_new(8, head);
    if (!t) {
        return OMB_ENOMEM;
    }
    ombctl_table_right(t, 0);
    ombctl_table_right(t, 5);
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        char cells[8][CELL];
        const char *row[8];
        for (size_t k = 0; k < 8; k++) {
            row[k] = ombctl_text(e, keys[k], cells[k], sizeof(cells[k]));
        }
        cut(cells[7], sizeof(cells[7]), ERROR_COLUMN);
        ombctl_text(e, "id", last, sizeof(last));
        if (ombctl_table_add(t, row) != 0) {
            ombctl_table_destroy(&t);
            return OMB_ENOMEM;
        }
    }
    ombctl_table_print(t, out);
    ombctl_table_destroy(&t);
    const json_t *tot = json_object_get(r, "total");
    if (json_is_integer(tot) && (size_t)json_integer_value(tot) > json_array_size(list)) {
        fprintf(out, "\n%zu shown of %s (the next ones: --after %s)\n", json_array_size(list),
                total, last);
    }
    return 0;
}

/* A JSON value pretty-printed, each line indented by two spaces; a string as its text; "-"
 * when absent. */
static int pretty(const json_t *v, FILE *out)
{
    if (!v) {
        fputs("  -\n", out);
        return 0;
    }
    char *text = json_is_string(v) ? ombctl_clean(json_string_value(v))
                                   : json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (!text) {
        return OMB_ENOMEM;
    }
    for (char *line = text, *nl; line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        fprintf(out, "  %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
    }
    free(text);
    return 0;
}

int ombctl_view_dead_letter(const json_t *r, FILE *out)
{
    if (!json_is_object(r)) {
        return OMB_EINVAL;
    }
    static const char *const fields[][2] = {
        {"id", "id"},
        {"state", "state"},
        {"destination", "destination"},
        {"route", "route"},
        {"type", "type"},
        {"event id", "event_id"},
        {"key", "key"},
        {"journal seq", "seq"},
        {"attempts", "attempts"},
        {"first at", "first_at"},
        {"last at", "last_at"},
        {"first error", "first_error"},
        {"last error", "last_error"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char buf[1024];
        fprintf(out, "%-12s %s\n", fields[i][0], ombctl_text(r, fields[i][1], buf, sizeof(buf)));
    }
    fputs("\nerrors:\n", out);
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(r, "errors"), i, e)
    {
        char at[64], text[1024];
        fprintf(out, "  %s  %s\n", time_us(json_object_get(e, "at"), at, sizeof(at)),
                ombctl_text(e, "error", text, sizeof(text)));
    }
    if (json_array_size(json_object_get(r, "errors")) == 0) {
        fputs("  -\n", out);
    }
    fputs("\nenvelope:\n", out);
    int rc = pretty(json_object_get(r, "envelope"), out);
    if (rc == 0) {
        fputs("\nbody:\n", out);
        rc = pretty(json_object_get(r, "body"), out);
    }
    return rc;
}

static int count_view(const json_t *r, FILE *out, const char *member, const char *verb)
{
    const json_t *n = json_object_get(r, member);
    if (!json_is_integer(n)) {
        return OMB_EINVAL;
    }
    fprintf(out, "%s %lld dead letter%s\n", verb, (long long)json_integer_value(n),
            json_integer_value(n) == 1 ? "" : "s");
    return 0;
}

int ombctl_view_replay(const json_t *r, FILE *out)
{
    return count_view(r, out, "replayed", "replaying");
}

int ombctl_view_drop(const json_t *r, FILE *out)
{
    return count_view(r, out, "dropped", "dropped");
}

int ombctl_view_edit(const json_t *r, FILE *out)
{
    if (!json_is_object(r) || !json_is_integer(json_object_get(r, "id"))) {
        return OMB_EINVAL;
    }
    fprintf(out, "dead letter %lld edited; replaying it\n",
            (long long)json_integer_value(json_object_get(r, "id")));
    return 0;
}
