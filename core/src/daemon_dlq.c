/* The dead-letter commands of the admin socket (docs/admin-protocol.md): list, show, replay,
 * edit and drop the deliveries the destinations' consumers parked in the store. A replay only
 * changes rows from "dead" to "replay" and wakes the consumers (omb_router_replay); the consumer
 * of the row's destination delivers it with its envelope (same id and trace) and deletes it, or
 * parks it as a new dead letter when it fails again. Daemon thread only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/err.h>

#include "daemon_priv.h"
#include "envelope.h"
#include "err_str.h"
#include "log.h"
#include "options.h"

#define LIST_DEFAULT 100
#define LIST_MAX 10000
/* Rows read from the store per call while scanning: the store's reader is shared with the
 * consumers, so a long scan lets go of it between batches. */
#define SCAN_BATCH 256

/* Which parked rows a command is about. The type is matched here, not given to the store: the
 * consumers park rows with the type only in the envelope (the column may be NULL), which the
 * store's type filter would not see. */
struct query {
    struct omb_store_parked_filter f;
    const char *type;
};

static void say(struct omb_admin_reply *reply, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct omb_admin_reply *reply, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply->code = code;
    vsnprintf(reply->message, sizeof(reply->message), fmt, ap);
    va_end(ap);
}

static void store_failed(struct omb_daemon *d, struct omb_admin_reply *reply, int rc)
{
    char why[256];
    omb_store_last_error(d->store, why, sizeof(why));
    say(reply, "internal", "the store failed: %s", why[0] ? why : omb_strerror(rc));
}

/* ---- arguments ---------------------------------------------------------------------------- */

/* Refuse a member not in `known` (NULL-terminated), naming the expected ones. */
static bool only_known(const json_t *args, const char *const *known, struct omb_admin_reply *reply)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)args, k, v)
    {
        size_t i = 0;
        while (known[i] && strcmp(known[i], k) != 0) {
            i++;
        }
        if (known[i]) {
            continue;
        }
        char list[256] = "", q[OMB_QUOTE_SIZE];
        for (i = 0; known[i]; i++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", known[i]);
        }
        omb_option_quote(k, q, sizeof(q));
        say(reply, "bad_request", "unknown argument %s (expected: %s)", q, list);
        return false;
    }
    return true;
}

/* A member that, when present, is a non-empty string; NULL when absent or bad (reply set). */
static const char *text_arg(const json_t *args, const char *name, struct omb_admin_reply *reply)
{
    const json_t *v = json_object_get(args, name);
    if (v && (!json_is_string(v) || json_string_length(v) == 0)) {
        say(reply, "bad_request", "\"args.%s\" must be a non-empty string", name);
        return NULL;
    }
    return json_string_value(v);
}

/* An integer member within [min, max]: 1 and *out when present, 0 when absent, -1 when bad. */
static int int_arg(const json_t *args, const char *name, int64_t min, int64_t max, int64_t *out,
                   struct omb_admin_reply *reply)
{
    const json_t *v = json_object_get(args, name);
    if (!v) {
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        if (max == INT64_MAX) {
            say(reply, "bad_request", "\"args.%s\" must be an integer from %lld", name,
                (long long)min);
        } else {
            say(reply, "bad_request", "\"args.%s\" must be an integer from %lld to %lld", name,
                (long long)min, (long long)max);
        }
        return -1;
    }
    *out = json_integer_value(v);
    return 1;
}

/* An id: a required integer from 1. */
static bool id_arg(const json_t *args, int64_t *id, struct omb_admin_reply *reply)
{
    int rc = int_arg(args, "id", 1, INT64_MAX, id, reply);
    if (rc == 0) {
        say(reply, "bad_request",
            "\"args.id\" is required: a dead letter's id (an integer from 1)");
    }
    return rc == 1;
}

/* destination, route, type and older_than into q. False (reply set) on a bad value. */
static bool filter_args(const json_t *args, struct query *q, struct omb_admin_reply *reply)
{
    q->f.consumer = text_arg(args, "destination", reply);
    q->f.route = text_arg(args, "route", reply);
    q->type = text_arg(args, "type", reply);
    const char *older = text_arg(args, "older_than", reply);
    if (reply->code) {
        return false;
    }
    int64_t ms = 0;
    if (older && omb_duration_parse(older, &ms) != 0) {
        char quoted[OMB_QUOTE_SIZE];
        omb_option_quote(older, quoted, sizeof(quoted));
        say(reply, "bad_request",
            "\"args.older_than\" must be a duration like 90s, 30m or 24h, not %s", quoted);
        return false;
    }
    if (older) {
        /* Rows whose latest attempt is before now - ms. A cut before the epoch matches no row;
         * it is 1, not 0, which would mean no cut to the store. */
        int64_t now = omb_now_us();
        q->f.older_than_us = ms >= now / 1000 ? 1 : now - ms * 1000;
    }
    return true;
}

static bool filter_given(const struct query *q)
{
    return q->f.consumer || q->f.route || q->type || q->f.older_than_us;
}

/* ---- rows as JSON ------------------------------------------------------------------------- */

/* Text as a JSON string. Text from the store is mostly UTF-8, but an error reason may have
 * been cut inside a character (or quote a peer's bytes): invalid bytes become '?', so that one
 * bad byte neither loses the text nor breaks the answer. NULL gives null. */
static json_t *text_json(const char *s, size_t len)
{
    if (!s) {
        return json_null();
    }
    json_t *j = json_stringn(s, len);
    if (j) {
        return j;
    }
    char *c = malloc(len + 1);
    if (!c) {
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = p[i] < 0x80             ? 1
                   : (p[i] & 0xe0) == 0xc0 ? 2
                   : (p[i] & 0xf0) == 0xe0 ? 3
                   : (p[i] & 0xf8) == 0xf0 ? 4
                                           : 0;
        size_t k = 1;
        while (k < n && i + k < len && (p[i + k] & 0xc0) == 0x80) {
            k++;
        }
        if (n == 0 || k < n) {
            c[o++] = '?';
            i++;
            continue;
        }
        memcpy(c + o, p + i, n);
        o += n;
        i += n;
    }
    c[o] = '\0';
    j = json_stringn(c, o);
    if (!j) {
        /* Well formed but still refused (an overlong form, a surrogate): ASCII only. */
        for (size_t i = 0; i < o; i++) {
            c[i] = (unsigned char)c[i] < 0x80 ? c[i] : '?';
        }
        j = json_stringn(c, o);
    }
    free(c);
    return j;
}

static json_t *str_json(const char *s)
{
    return text_json(s, s ? strlen(s) : 0);
}

static json_t *time_json(int64_t us)
{
    if (us <= 0) {
        return json_null();
    }
    char buf[OMB_TIME_US_LEN + 1];
    omb_time_format_us(us, buf);
    return json_string(buf);
}

/* The row's type: its column, else its envelope's (see struct query). */
static void row_type(const struct omb_store_parked *p, char *buf, size_t len)
{
    if (p->type) {
        snprintf(buf, len, "%s", p->type);
    } else {
        omb_envelope_field(p->env ? p->env : "", p->env_len, "type", buf, len);
    }
}

/* JSON text from the store parsed, else the text as a string (a body an emit_raw source never
 * checked); null when empty. */
static json_t *parsed_or_text(const char *s, size_t len)
{
    if (!s || len == 0) {
        return json_null();
    }
    json_t *j = json_loadb(s, len, JSON_DECODE_ANY, NULL);
    return j ? j : text_json(s, len);
}

/* The errors column (a JSON array) parsed; its text if it is not an array; [] when NULL. */
static json_t *errors_json(const char *errors)
{
    if (!errors) {
        return json_array();
    }
    json_t *a = json_loads(errors, 0, NULL);
    if (json_is_array(a)) {
        return a;
    }
    json_decref(a);
    return str_json(errors);
}

/* Add v (new) to o; v is taken even on failure (json_object_set_new). Non-zero on failure. */
static int set(json_t *o, const char *name, json_t *v)
{
    return json_object_set_new(o, name, v);
}

/* One row as the answers show it; `full` adds seq, envelope, body and errors. New, or NULL
 * when out of memory. */
static json_t *row_json(const struct omb_store_parked *p, bool full)
{
    json_t *env = p->env ? json_loadb(p->env, p->env_len, 0, NULL) : NULL;
    json_t *o = json_object();
    char type[OMB_EVENT_TYPE_MAX + 1];
    row_type(p, type, sizeof(type));
    const char *key = p->key ? p->key : json_string_value(json_object_get(env, "key"));
    int rc = !o || set(o, "id", json_integer(p->id)) || set(o, "state", str_json(p->state)) ||
             set(o, "destination", str_json(p->consumer)) || set(o, "route", str_json(p->route)) ||
             set(o, "type", type[0] ? str_json(type) : json_null()) ||
             set(o, "event_id", str_json(p->event_id)) || set(o, "key", str_json(key)) ||
             set(o, "attempts", json_integer(p->attempts)) ||
             set(o, "first_error", str_json(p->first_error)) ||
             set(o, "last_error", str_json(p->last_error)) ||
             set(o, "first_at", time_json(p->first_at_us)) ||
             set(o, "last_at", time_json(p->last_at_us));
    if (rc == 0 && full) {
        rc = set(o, "seq", json_integer(p->seq)) ||
             set(o, "envelope", env ? json_incref(env) : parsed_or_text(p->env, p->env_len)) ||
             set(o, "body", parsed_or_text(p->body, p->body_len)) ||
             set(o, "errors", errors_json(p->errors));
    }
    json_decref(env);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- scanning ----------------------------------------------------------------------------- */

/* Called for each row a scan matches; prev_id is the id of the row the scan saw before it
 * (matched or not; the scan's start for the first). 0 to go on, > 0 to stop, < 0 to fail. */
typedef int (*match_fn)(void *arg, const struct omb_store_parked *p, int64_t prev_id);

struct scan {
    const struct query *q;
    match_fn fn;
    void *arg;
    int64_t want, matched, last_id;
    int seen;
};

static int scan_row(void *arg, const struct omb_store_parked *p)
{
    struct scan *s = arg;
    int64_t prev = s->last_id;
    s->last_id = p->id;
    s->seen++;
    if (s->q->type) {
        char type[OMB_EVENT_TYPE_MAX + 1];
        row_type(p, type, sizeof(type));
        if (strcmp(type, s->q->type) != 0) {
            return 0;
        }
    }
    s->matched++;
    int rc = s->fn ? s->fn(s->arg, p, prev) : 0;
    if (rc != 0) {
        return rc;
    }
    return s->want && s->matched >= s->want ? 1 : 0;
}

/* Pass the rows q matches with id > after, in id order, to fn (NULL: count them), up to want
 * (0: all). The number matched, or a negative enum omb_err. */
static int64_t scan(struct omb_store *store, const struct query *q, int64_t after, int64_t want,
                    match_fn fn, void *arg)
{
    struct scan s = {.q = q, .fn = fn, .arg = arg, .want = want, .last_id = after};
    for (;;) {
        struct omb_store_parked_filter f = q->f;
        f.after_id = s.last_id;
        s.seen = 0;
        int rc = omb_store_parked_list(store, &f, SCAN_BATCH, scan_row, &s);
        if (rc < 0) {
            return rc;
        }
        if (s.seen < SCAN_BATCH || (want && s.matched >= want)) {
            return s.matched;
        }
    }
}

/* Runs of matched rows with no unmatched row between them: each is one statement for the store,
 * the rows with after < id <= last that pass the store's filter. */
struct run {
    int64_t after, last;
};
struct runs {
    struct run *v;
    size_t n, cap;
};

static int add_to_run(void *arg, const struct omb_store_parked *p, int64_t prev_id)
{
    struct runs *r = arg;
    if (r->n > 0 && r->v[r->n - 1].last == prev_id) {
        r->v[r->n - 1].last = p->id;
        return 0;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct run *v = realloc(r->v, cap * sizeof(*v));
        if (!v) {
            return OMB_ENOMEM;
        }
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = (struct run){prev_id, p->id};
    return 0;
}

/* Set `state` on (state NULL: delete) the rows q matches; *n grows by their number. */
static int change(struct omb_store *store, const struct query *q, const char *state, int64_t *n)
{
    struct runs r = {0};
    size_t nruns = 1;
    int rc = 0;
    if (q->type) {
        int64_t m = scan(store, q, 0, 0, add_to_run, &r);
        rc = m < 0 ? (int)m : 0;
        nruns = r.n;
    }
    for (size_t i = 0; rc == 0 && i < nruns; i++) {
        struct omb_store_parked_filter f = q->f;
        if (q->type) {
            f.after_id = r.v[i].after;
            f.max_id = r.v[i].last;
        }
        int64_t k = 0;
        rc = state ? omb_store_parked_update(store, &f, state, NULL, 0, &k)
                   : omb_store_parked_delete(store, &f, &k);
        *n += rc == 0 ? k : 0;
    }
    free(r.v);
    return rc;
}

/* ---- commands ----------------------------------------------------------------------------- */

static int list_row(void *arg, const struct omb_store_parked *p, int64_t prev_id)
{
    (void)prev_id;
    json_t *o = row_json(p, false);
    return o && json_array_append_new(arg, o) == 0 ? 0 : OMB_ENOMEM;
}

static void cmd_list(struct omb_daemon *d, const json_t *args, struct omb_admin_reply *reply)
{
    static const char *const known[] = {"state",      "destination", "route", "type",
                                        "older_than", "after_id",    "limit", NULL};
    struct query q = {{0}, NULL};
    int64_t after = 0, limit = LIST_DEFAULT, total = 0;
    if (!only_known(args, known, reply)) {
        return;
    }
    q.f.state = text_arg(args, "state", reply);
    if (reply->code || !filter_args(args, &q, reply) ||
        int_arg(args, "after_id", 0, INT64_MAX, &after, reply) < 0 ||
        int_arg(args, "limit", 1, LIST_MAX, &limit, reply) < 0) {
        return;
    }
    if (!q.f.state) {
        q.f.state = "dead";
    } else if (strcmp(q.f.state, "dead") != 0 && strcmp(q.f.state, "replay") != 0 &&
               strcmp(q.f.state, "held") != 0) {
        char quoted[OMB_QUOTE_SIZE];
        omb_option_quote(q.f.state, quoted, sizeof(quoted));
        say(reply, "bad_request", "\"args.state\" must be \"dead\", \"replay\" or \"held\", not %s",
            quoted);
        return;
    }
    int rc = 0;
    if (q.type) {
        total = scan(d->store, &q, 0, 0, NULL, NULL);
        rc = total < 0 ? (int)total : 0;
    } else {
        rc = omb_store_parked_count(d->store, &q.f, &total);
    }
    json_t *rows = json_array();
    int64_t n = rc == 0 && rows ? scan(d->store, &q, after, limit, list_row, rows) : rc;
    if (n < 0 || !rows) {
        json_decref(rows);
        store_failed(d, reply, n < 0 ? (int)n : OMB_ENOMEM);
        return;
    }
    reply->result = json_pack("{s:o, s:I}", "dead_letters", rows, "total", (json_int_t)total);
}

static int take_row(void *arg, const struct omb_store_parked *p)
{
    json_t **out = arg;
    *out = row_json(p, true);
    return *out ? 1 : OMB_ENOMEM;
}

/* The row with this id (any state), shown whole; NULL (reply set) when absent or on error. */
static json_t *find_row(struct omb_daemon *d, int64_t id, struct omb_admin_reply *reply)
{
    struct omb_store_parked_filter f = {.id = id};
    json_t *row = NULL;
    int rc = omb_store_parked_list(d->store, &f, 1, take_row, &row);
    if (rc < 0) {
        store_failed(d, reply, rc);
    } else if (!row) {
        say(reply, "not_found", "no dead letter with id %lld", (long long)id);
    }
    return row;
}

static void cmd_show(struct omb_daemon *d, const json_t *args, struct omb_admin_reply *reply)
{
    static const char *const known[] = {"id", NULL};
    int64_t id = 0;
    if (only_known(args, known, reply) && id_arg(args, &id, reply)) {
        reply->result = find_row(d, id, reply);
    }
}

/* True when `name` is a destination in the running configuration: a connector some route sends
 * to, which has a journal consumer to replay its rows (a connector that is only a source, or a
 * sink no route uses, has none: rows set to replay for it would wait for ever). */
static bool is_destination(const struct omb_daemon *d, const char *name)
{
    const struct omb_routes *routes = d->g.router ? omb_router_routes(d->g.router) : NULL;
    for (size_t i = 0; routes && i < d->g.n_inst; i++) {
        if (strcmp(omb_instance_name(d->g.inst[i]), name) == 0) {
            return omb_routes_sends_to(routes, i);
        }
    }
    return false;
}

/* The row `id` must be a dead letter (not a held or replaying row) and, to be replayed, of a
 * destination that runs. False with reply set otherwise. */
static bool check_dead(struct omb_daemon *d, int64_t id, bool replay, struct omb_admin_reply *reply)
{
    json_t *row = find_row(d, id, reply);
    if (!row) {
        return false;
    }
    const char *state = json_string_value(json_object_get(row, "state"));
    const char *dest = json_string_value(json_object_get(row, "destination"));
    bool ok = false;
    if (!state || strcmp(state, "dead") != 0) {
        say(reply, "not_found", "no dead letter with id %lld: that row is %s", (long long)id,
            state && strcmp(state, "replay") == 0 ? "being replayed"
            : state && strcmp(state, "held") == 0 ? "held by a paused route, not dead"
                                                  : "not dead");
    } else if (replay && (!dest || !is_destination(d, dest))) {
        say(reply, "not_found",
            "dead letter %lld is for '%.100s', which is not a destination of the running "
            "configuration (it can be dropped, not replayed)",
            (long long)id, dest ? dest : "?");
    } else {
        ok = true;
    }
    json_decref(row);
    return ok;
}

/* What replay and drop work on: exactly one of {id}, a filter, {all: true}. */
struct target {
    int64_t id;
    bool all;
    struct query q; /* state "dead" */
};

static bool target_args(const json_t *args, struct target *t, struct omb_admin_reply *reply)
{
    static const char *const known[] = {"id",         "destination", "route", "type",
                                        "older_than", "all",         NULL};
    const json_t *all = json_object_get(args, "all");
    memset(t, 0, sizeof(*t));
    if (!only_known(args, known, reply) || int_arg(args, "id", 1, INT64_MAX, &t->id, reply) < 0 ||
        !filter_args(args, &t->q, reply)) {
        return false;
    }
    if (all && !json_is_boolean(all)) {
        say(reply, "bad_request", "\"args.all\" must be true or false");
        return false;
    }
    t->all = json_is_true(all);
    bool filter = filter_given(&t->q);
    if (t->id && (filter || t->all)) {
        say(reply, "bad_request",
            "\"args.id\" goes alone: one dead letter by id, or a filter, or \"all\": true");
    } else if (t->all && filter) {
        say(reply, "bad_request",
            "\"args.all\": true goes alone: give it or a filter (destination, route, type, "
            "older_than), not both");
    } else if (!t->id && !filter && !t->all) {
        say(reply, "bad_request",
            "which dead letters? expected \"id\", a filter (destination, route, type, "
            "older_than) or \"all\": true");
    }
    t->q.f.state = "dead";
    return !reply->code;
}

static void wake(struct omb_daemon *d, int64_t n)
{
    if (n > 0 && d->g.router) {
        /* A consumer whose instance is not running looks for its replays when it starts. */
        omb_router_replay(d->g.router);
    }
}

static void cmd_replay(struct omb_daemon *d, const json_t *args, struct omb_admin_reply *reply)
{
    struct target t;
    int64_t n = 0;
    int rc = 0;
    if (!target_args(args, &t, reply)) {
        return;
    }
    if (t.id) {
        if (!check_dead(d, t.id, true, reply)) {
            return;
        }
        t.q.f.id = t.id;
        rc = change(d->store, &t.q, "replay", &n);
    } else if (t.q.f.consumer) {
        if (!is_destination(d, t.q.f.consumer)) {
            say(reply, "not_found",
                "no destination named '%.100s' in the running configuration (a connector "
                "a route sends to)",
                t.q.f.consumer);
            return;
        }
        rc = change(d->store, &t.q, "replay", &n);
    } else {
        /* Destination by destination, so that rows of one that is no longer configured (no
         * consumer would ever take them) stay dead rather than wait in "replay" for ever. */
        for (size_t i = 0; rc == 0 && i < d->g.n_inst; i++) {
            if (is_destination(d, omb_instance_name(d->g.inst[i]))) {
                t.q.f.consumer = omb_instance_name(d->g.inst[i]);
                rc = change(d->store, &t.q, "replay", &n);
            }
        }
    }
    wake(d, n);
    if (rc < 0) {
        store_failed(d, reply, rc);
        return;
    }
    omb_log(OMB_LOG_INFO, "admin", "%lld dead letter(s) set to replay", (long long)n);
    reply->result = json_pack("{s:I}", "replayed", (json_int_t)n);
}

static void cmd_edit(struct omb_daemon *d, const json_t *args, struct omb_admin_reply *reply)
{
    static const char *const known[] = {"id", "body", NULL};
    const json_t *body = json_object_get(args, "body");
    int64_t id = 0, n = 0;
    if (!only_known(args, known, reply) || !id_arg(args, &id, reply)) {
        return;
    }
    if (!json_is_object(body)) {
        say(reply, "bad_request", "\"args.body\" must be a JSON object: the event's new body");
        return;
    }
    if (!check_dead(d, id, true, reply)) {
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text) {
        say(reply, "internal", "out of memory");
        return;
    }
    /* One statement sets the body and the state, and only while the row is still dead: the
     * consumer never sees the new state with the old body. */
    struct omb_store_parked_filter f = {.id = id, .state = "dead"};
    int rc = omb_store_parked_update(d->store, &f, "replay", text, strlen(text), &n);
    free(text);
    if (rc < 0) {
        store_failed(d, reply, rc);
        return;
    }
    if (n == 0) {
        say(reply, "not_found", "no dead letter with id %lld any more", (long long)id);
        return;
    }
    wake(d, n);
    omb_log(OMB_LOG_INFO, "admin", "dead letter %lld edited and set to replay", (long long)id);
    reply->result = json_pack("{s:I, s:i}", "id", (json_int_t)id, "replayed", 1);
}

static void cmd_drop(struct omb_daemon *d, const json_t *args, struct omb_admin_reply *reply)
{
    struct target t;
    int64_t n = 0;
    if (!target_args(args, &t, reply)) {
        return;
    }
    if (t.id) {
        if (!check_dead(d, t.id, false, reply)) {
            return;
        }
        t.q.f.id = t.id;
    }
    /* {all: true} is the filter {state: "dead"}: never the held rows of a paused route. */
    int rc = change(d->store, &t.q, NULL, &n);
    if (rc < 0) {
        store_failed(d, reply, rc);
        return;
    }
    omb_log(OMB_LOG_INFO, "admin", "%lld dead letter(s) dropped", (long long)n);
    reply->result = json_pack("{s:I}", "dropped", (json_int_t)n);
}

bool omb_daemon_dlq_command(struct omb_daemon *d, const char *cmd, const json_t *args,
                            struct omb_admin_reply *reply)
{
    if (strcmp(cmd, "dead-letters") == 0) {
        cmd_list(d, args, reply);
    } else if (strcmp(cmd, "dead-letter") == 0) {
        cmd_show(d, args, reply);
    } else if (strcmp(cmd, "replay") == 0) {
        cmd_replay(d, args, reply);
    } else if (strcmp(cmd, "edit") == 0) {
        cmd_edit(d, args, reply);
    } else if (strcmp(cmd, "drop") == 0) {
        cmd_drop(d, args, reply);
    } else {
        return false;
    }
    return true;
}

json_t *omb_daemon_dead_letters(struct omb_daemon *d, const char *destination)
{
    struct omb_store_parked_filter f = {.state = "dead", .consumer = destination};
    int64_t n = 0;
    return omb_store_parked_count(d->store, &f, &n) == 0 ? json_integer(n) : json_null();
}
