/* omnibusctl: each command's result as text for people (tables). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omnibusctl.h"

#define CELL 256 /* bytes of one table cell; longer text is cut */

/* "a, b, c" from the array `list` (borrowed), each element through `one`. New string. */
static char *join(const json_t *list, void (*one)(const json_t *e, char *buf, size_t len))
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) {
        return NULL;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        char buf[CELL];
        one(e, buf, sizeof(buf));
        fprintf(f, "%s%s", i ? ", " : "", buf);
    }
    if (!json_is_array(list) || json_array_size(list) == 0) {
        fputs("-", f);
    }
    fclose(f);
    return s;
}

/* A jq program on one line, cut to `max` characters with "...". */
static void program(const json_t *v, size_t max, char *buf, size_t len)
{
    if (!json_is_string(v)) {
        snprintf(buf, len, "-");
        return;
    }
    size_t o = 0;
    bool space = false;
    for (const char *p = json_string_value(v); *p && o + 1 < len; p++) {
        bool ws = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
        if (ws) {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < len) {
            buf[o++] = ' ';
        }
        space = false;
        buf[o++] = *p;
    }
    buf[o] = '\0';
    if (o > max && max > 3 && max < len) {
        size_t cut = max - 3;
        while (cut > 0 && ((unsigned char)buf[cut] & 0xc0) == 0x80) {
            cut--; /* not inside a UTF-8 sequence */
        }
        memcpy(buf + cut, "...", 4);
    }
}

static int print_table(struct ombctl_table *t, FILE *out)
{
    ombctl_table_print(t, out);
    ombctl_table_destroy(&t);
    return 0;
}

int ombctl_view_status(const json_t *r, FILE *out)
{
    if (!json_is_object(r)) {
        return OMB_EINVAL;
    }
    char a[CELL], b[CELL], c[CELL];
    const json_t *cfg = json_object_get(r, "config");
    fprintf(out, "version    %s (plugin ABI %s)\n", ombctl_text(r, "version", a, sizeof(a)),
            ombctl_text(r, "abi", b, sizeof(b)));
    fprintf(out, "pid        %s\n", ombctl_text(r, "pid", a, sizeof(a)));
    fprintf(out, "started    %s (up %s)\n", ombctl_text(r, "started_at", a, sizeof(a)),
            ombctl_duration(json_object_get(r, "uptime_s"), b, sizeof(b)));
    fprintf(out, "config     %s\n", ombctl_text(cfg, "path", a, sizeof(a)));
    fprintf(out, "sha256     %s\n", ombctl_text(cfg, "sha256", a, sizeof(a)));
    fprintf(out, "loaded     %s\n", ombctl_text(cfg, "loaded_at", a, sizeof(a)));
    const json_t *last = json_object_get(r, "last_reload_error");
    char *clean = json_is_string(last) ? ombctl_clean(json_string_value(last)) : NULL;
    fprintf(out, "reloads    %s (last error: %s)\n", ombctl_text(r, "reloads", a, sizeof(a)),
            clean ? clean : "none");
    free(clean);
    const json_t *store = json_object_get(r, "store");
    char seq[64];
    fprintf(out, "journal    %s (events %s..%s, ", ombctl_text(store, "path", a, sizeof(a)),
            ombctl_text(store, "first_seq", b, sizeof(b)),
            ombctl_text(store, "last_seq", seq, sizeof(seq)));
    const json_t *used = json_object_get(store, "used_bytes");
    if (json_is_integer(used)) {
        fprintf(out, "%.1f MiB)\n", (double)json_integer_value(used) / (1024.0 * 1024.0));
    } else {
        fprintf(out, "? MiB)\n");
    }
    fprintf(out, "in flight  %s\n", ombctl_text(r, "inflight", a, sizeof(a)));

    static const char *const ch[] = {"CONNECTOR", "PLUGIN", "STATE"};
    struct ombctl_table *t = ombctl_table_new(3, ch);
    if (!t) {
        return OMB_ENOMEM;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(r, "connectors"), i, e)
    {
        const char *row[] = {ombctl_text(e, "name", a, sizeof(a)),
                             ombctl_text(e, "plugin", b, sizeof(b)),
                             ombctl_text(e, "state", c, sizeof(c))};
        if (ombctl_table_add(t, row) != 0) {
            ombctl_table_destroy(&t);
            return OMB_ENOMEM;
        }
    }
    fputc('\n', out);
    print_table(t, out);

    static const char *const rh[] = {"ROUTE", "ENABLED", "PAUSED"};
    t = ombctl_table_new(3, rh);
    if (!t) {
        return OMB_ENOMEM;
    }
    json_array_foreach(json_object_get(r, "routes"), i, e)
    {
        const char *row[] = {ombctl_text(e, "name", a, sizeof(a)),
                             ombctl_text(e, "enabled", b, sizeof(b)),
                             ombctl_text(e, "paused", c, sizeof(c))};
        if (ombctl_table_add(t, row) != 0) {
            ombctl_table_destroy(&t);
            return OMB_ENOMEM;
        }
    }
    fputc('\n', out);
    return print_table(t, out);
}

/* One table row per element of the array `list`: column k is member keys[k] of the element, or
 * of its member `sub` when sub_from <= k (the connectors' "stats"). */
static int rows(struct ombctl_table *t, const json_t *list, const char *const *keys, size_t n,
                const char *sub, size_t sub_from)
{
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        char cells[16][CELL];
        const char *row[16];
        for (size_t k = 0; k < n && k < 16; k++) {
            const json_t *o = sub && k >= sub_from ? json_object_get(e, sub) : e;
            row[k] = ombctl_text(o, keys[k], cells[k], sizeof(cells[k]));
        }
        if (ombctl_table_add(t, row) != 0) {
            return OMB_ENOMEM;
        }
    }
    return 0;
}

/* isolate="process" connectors: their child, restarts and last failure, one line each. */
static void print_isolation(const json_t *r, FILE *out)
{
    size_t i;
    const json_t *e;
    bool first = true;
    json_array_foreach(r, i, e)
    {
        const json_t *iso = json_object_get(e, "isolation");
        if (!json_is_object(iso)) {
            continue;
        }
        if (first) {
            fputs("\nisolated (isolate=\"process\"):\n", out);
            first = false;
        }
        const json_t *pid = json_object_get(iso, "pid");
        const char *failure = json_string_value(json_object_get(iso, "last_failure"));
        const char *at = json_string_value(json_object_get(iso, "last_failure_at"));
        fprintf(out, "  %s: ", json_string_value(json_object_get(e, "name")));
        if (json_is_integer(pid)) {
            fprintf(out, "child %lld, %s", (long long)json_integer_value(pid),
                    json_string_value(json_object_get(iso, "child_state")));
        } else {
            fputs("restarting", out);
        }
        fprintf(out, ", %lld restart(s)",
                (long long)json_integer_value(json_object_get(iso, "restarts")));
        if (failure) {
            fprintf(out, "; last failure %s: %s", at ? at : "", failure);
        }
        fputc('\n', out);
    }
}

int ombctl_view_connectors(const json_t *r, FILE *out)
{
    if (!json_is_array(r)) {
        return OMB_EINVAL;
    }
    static const char *const head[] = {"NAME",      "PLUGIN",  "STATE",    "EMITTED",
                                       "DELIVERED", "RETRIED", "REJECTED", "PENDING"};
    static const char *const keys[] = {"name",      "plugin",  "state",    "emitted",
                                       "delivered", "retried", "rejected", "pending"};
    struct ombctl_table *t = ombctl_table_new(8, head);
    if (!t) {
        return OMB_ENOMEM;
    }
    for (size_t c = 3; c < 8; c++) {
        ombctl_table_right(t, c);
    }
    if (rows(t, r, keys, 8, "stats", 3) != 0) {
        ombctl_table_destroy(&t);
        return OMB_ENOMEM;
    }
    int rc = print_table(t, out);
    print_isolation(r, out);
    return rc;
}

static void from_one(const json_t *e, char *buf, size_t len)
{
    const json_t *type = json_object_get(e, "type");
    char conn[CELL];
    ombctl_text(e, "connector", conn, sizeof(conn));
    if (json_is_string(type) && strcmp(json_string_value(type), "*") != 0) {
        snprintf(buf, len, "%s:%s", conn, json_string_value(type));
    } else {
        snprintf(buf, len, "%s", conn);
    }
}

static void to_one(const json_t *e, char *buf, size_t len)
{
    const json_t *conflate = json_object_get(e, "conflate");
    char conn[CELL];
    ombctl_text(e, "connector", conn, sizeof(conn));
    if (json_is_string(conflate) && strcmp(json_string_value(conflate), "none") != 0) {
        snprintf(buf, len, "%s (conflate %s)", conn, json_string_value(conflate));
    } else {
        snprintf(buf, len, "%s", conn);
    }
}

int ombctl_view_routes(const json_t *r, FILE *out)
{
    if (!json_is_array(r)) {
        return OMB_EINVAL;
    }
    static const char *const head[] = {"NAME", "ENABLED", "PAUSED",   "FROM",
                                       "TO",   "FILTER",  "TRANSFORM"};
    struct ombctl_table *t = ombctl_table_new(7, head);
    if (!t) {
        return OMB_ENOMEM;
    }
    int rc = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(r, i, e)
    {
        char name[CELL], en[CELL], pa[CELL], filter[CELL], jq[CELL], tr[2 * CELL];
        const json_t *type = json_object_get(e, "transform_type");
        program(json_object_get(e, "filter"), 40, filter, sizeof(filter));
        program(json_object_get(e, "transform"), 40, jq, sizeof(jq));
        if (json_is_string(type)) {
            snprintf(tr, sizeof(tr), "%s (as %s)", jq, json_string_value(type));
        } else {
            snprintf(tr, sizeof(tr), "%s", jq);
        }
        char *from = join(json_object_get(e, "from"), from_one);
        char *to = join(json_object_get(e, "to"), to_one);
        const char *row[] = {ombctl_text(e, "name", name, sizeof(name)),
                             ombctl_text(e, "enabled", en, sizeof(en)),
                             ombctl_text(e, "paused", pa, sizeof(pa)),
                             from,
                             to,
                             filter,
                             tr};
        rc = from && to ? ombctl_table_add(t, row) : OMB_ENOMEM;
        free(from);
        free(to);
        if (rc != 0) {
            ombctl_table_destroy(&t);
            return rc;
        }
    }
    return print_table(t, out);
}

static int metrics_routes(const json_t *list, FILE *out)
{
    static const char *const head[] = {"ROUTE",       "IN",     "PASSED", "FILTERED",
                                       "TRANSFORMED", "ERRORS", "QUEUED", "HELD"};
    static const char *const keys[] = {"name",        "in",     "passed", "filtered",
                                       "transformed", "errors", "queued", "held"};
    struct ombctl_table *t = ombctl_table_new(8, head);
    if (!t) {
        return OMB_ENOMEM;
    }
    for (size_t c = 1; c < 8; c++) {
        ombctl_table_right(t, c);
    }
    if (rows(t, list, keys, 8, NULL, 0) != 0) {
        ombctl_table_destroy(&t);
        return OMB_ENOMEM;
    }
    return print_table(t, out);
}

static int metrics_destinations(const json_t *list, FILE *out)
{
    static const char *const head[] = {"DESTINATION", "QUEUED", "DELIVERED", "RETRIED",
                                       "REJECTED",    "DEAD_LETTERS", "P50_MS", "P99_MS",
                                       "P999_MS",     "MAX_MS"};
    static const char *const keys[] = {"name",     "queued",      "delivered",
                                       "retried",  "rejected",    "dead_letters"};
    static const char *const lat[] = {"p50", "p99", "p999", "max"};
    enum { NKEYS = 6, NCOLS = NKEYS + 4 };
    struct ombctl_table *t = ombctl_table_new(NCOLS, head);
    if (!t) {
        return OMB_ENOMEM;
    }
    for (size_t c = 1; c < NCOLS; c++) {
        ombctl_table_right(t, c);
    }
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        char cells[NCOLS][CELL];
        const char *row[NCOLS];
        const json_t *l = json_object_get(e, "latency_ms");
        const json_t *count = json_object_get(l, "count");
        if (json_is_integer(count) && json_integer_value(count) == 0) {
            l = NULL; /* nothing measured yet: "-", whatever the quantiles say */
        }
        for (size_t k = 0; k < NKEYS; k++) {
            row[k] = ombctl_text(e, keys[k], cells[k], sizeof(cells[k]));
        }
        for (size_t k = 0; k < 4; k++) {
            row[NKEYS + k] = ombctl_ms(json_object_get(l, lat[k]), cells[NKEYS + k],
                                       sizeof(cells[0]));
        }
        if (ombctl_table_add(t, row) != 0) {
            ombctl_table_destroy(&t);
            return OMB_ENOMEM;
        }
    }
    return print_table(t, out);
}

/* The plugins' own metrics, one row per (connector, metric); nothing when there are none. */
static int metrics_plugins(const json_t *conns, FILE *out)
{
    static const char *const head[] = {"CONNECTOR", "METRIC", "VALUE"};
    struct ombctl_table *t = ombctl_table_new(3, head);
    if (!t) {
        return OMB_ENOMEM;
    }
    ombctl_table_right(t, 2);
    size_t n = 0;
    const char *cname, *mname;
    const json_t *m, *v;
    json_object_foreach((json_t *)conns, cname, m)
    {
        json_object_foreach((json_t *)m, mname, v)
        {
            char val[CELL];
            if (json_is_number(v)) {
                ombctl_num(v, val, sizeof(val));
            } else {
                char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                snprintf(val, sizeof(val), "%s", s ? s : "-");
                free(s);
            }
            const char *row[] = {cname, mname, val};
            if (ombctl_table_add(t, row) != 0) {
                ombctl_table_destroy(&t);
                return OMB_ENOMEM;
            }
            n++;
        }
    }
    if (n > 0) {
        fputc('\n', out);
        ombctl_table_print(t, out);
    }
    ombctl_table_destroy(&t);
    return 0;
}

int ombctl_view_metrics(const json_t *r, FILE *out)
{
    if (!json_is_object(r)) {
        return OMB_EINVAL;
    }
    char a[CELL], b[CELL];
    fprintf(out, "uptime %s, in flight %s\n\n",
            ombctl_duration(json_object_get(r, "uptime_s"), a, sizeof(a)),
            ombctl_text(r, "inflight", b, sizeof(b)));
    int rc = metrics_routes(json_object_get(r, "routes"), out);
    if (rc == 0) {
        fputc('\n', out);
        rc = metrics_destinations(json_object_get(r, "destinations"), out);
    }
    if (rc == 0) {
        rc = metrics_plugins(json_object_get(r, "connectors"), out);
    }
    return rc;
}

int ombctl_view_reload(const json_t *r, FILE *out)
{
    if (!json_is_object(r)) {
        return OMB_EINVAL;
    }
    char mode[CELL], sha[CELL], n[CELL];
    ombctl_text(r, "mode", mode, sizeof(mode));
    fprintf(out, "reloaded (%s), config sha256 %s, reloads %s\n",
            strcmp(mode, "routes") == 0    ? "routes swapped, connectors kept"
            : strcmp(mode, "restart") == 0 ? "connectors restarted"
                                           : mode,
            ombctl_text(r, "sha256", sha, sizeof(sha)), ombctl_text(r, "reloads", n, sizeof(n)));
    return 0;
}

int ombctl_view_pause(const json_t *r, FILE *out)
{
    const json_t *paused = json_object_get(r, "paused");
    if (!json_is_object(r) || !json_is_boolean(paused)) {
        return OMB_EINVAL;
    }
    char route[CELL];
    fprintf(out, "route %s: %s\n", ombctl_text(r, "route", route, sizeof(route)),
            json_is_true(paused) ? "paused (events are held)" : "running");
    return 0;
}

int ombctl_view_log_level(const json_t *r, FILE *out)
{
    if (!json_is_object(r)) {
        return OMB_EINVAL;
    }
    char inst[CELL], level[CELL];
    ombctl_text(r, "level", level, sizeof(level));
    if (json_is_string(json_object_get(r, "instance"))) {
        fprintf(out, "log level of %s: %s\n", ombctl_text(r, "instance", inst, sizeof(inst)),
                level);
    } else {
        fprintf(out, "log level: %s\n", level);
    }
    return 0;
}

json_t *ombctl_split_list(const char *s)
{
    json_t *a = json_array();
    while (a && s && *s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if (n > 0) {
            json_array_append_new(a, json_stringn(s, n));
        }
        s = comma ? comma + 1 : NULL;
    }
    return a;
}

/* snapshot: one row per item (stock: SKU LOCATION AVAILABLE; price: SKU PRICE CURRENCY), then
 * the SKUs the system does not know. */
int ombctl_view_snapshot(const json_t *r, FILE *out)
{
    const json_t *items = json_object_get(r, "items");
    if (!json_is_object(r) || !json_is_array(items)) {
        return OMB_EINVAL;
    }
    const char *what = json_string_value(json_object_get(r, "what"));
    bool stock = what && strcmp(what, "stock") == 0;
    static const char *const stock_head[] = {"SKU", "LOCATION", "AVAILABLE"};
    static const char *const price_head[] = {"SKU", "PRICE", "CURRENCY"};
    struct ombctl_table *t = ombctl_table_new(3, stock ? stock_head : price_head);
    if (!t) {
        return OMB_ENOMEM;
    }
    ombctl_table_right(t, stock ? 2 : 1);
    size_t i;
    const json_t *e;
    json_array_foreach(items, i, e)
    {
        char a[CELL], b[CELL], c[CELL];
        const json_t *price = json_object_get(e, "price");
        const char *row[3] = {ombctl_text(e, "sku", a, sizeof(a)),
                              stock ? ombctl_text(e, "location", b, sizeof(b))
                                    : ombctl_text(price, "amount", b, sizeof(b)),
                              stock ? ombctl_text(e, "available", c, sizeof(c))
                                    : ombctl_text(price, "currency", c, sizeof(c))};
        if (ombctl_table_add(t, row) != 0) {
            ombctl_table_destroy(&t);
            return OMB_ENOMEM;
        }
    }
    int rc = print_table(t, out);
    const json_t *unknown = json_object_get(r, "unknown");
    if (json_array_size(unknown) > 0) {
        fputs("unknown to the system:", out);
        json_array_foreach(unknown, i, e)
        {
            fprintf(out, " %s", json_string_value(e) ? json_string_value(e) : "?");
        }
        fputc('\n', out);
    }
    return rc;
}
