/* The admin commands (docs/admin-protocol.md) over the daemon's state. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon_priv.h"
#include "envelope.h"
#include "histogram.h"
#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

static json_t *time_string(int64_t us)
{
    char buf[OMB_TIME_US_LEN + 1];
    omb_time_format_us(us, buf);
    return json_string(buf);
}

static json_t *capabilities(const struct omb_plugin_descriptor *desc)
{
    json_t *a = json_array();
    if (desc->capabilities & OMB_CAP_SOURCE) {
        json_array_append_new(a, json_string("source"));
    }
    if (desc->capabilities & OMB_CAP_SINK) {
        json_array_append_new(a, json_string("sink"));
    }
    if (desc->abi_minor >= 3 && (desc->capabilities & OMB_CAP_SNAPSHOT)) {
        json_array_append_new(a, json_string("snapshot"));
    }
    return a;
}

static json_t *cmd_status(struct omb_daemon *d)
{
    struct generation *g = &d->g;
    char abi[16];
    snprintf(abi, sizeof(abi), "%d.%d", OMB_ABI_MAJOR, OMB_ABI_MINOR);
    json_t *conns = json_array(), *routes = json_array();
    for (size_t i = 0; i < g->n_inst; i++) {
        json_array_append_new(
            conns, json_pack("{s:s, s:s, s:s}", "name", omb_instance_name(g->inst[i]), "plugin",
                             omb_instance_descriptor(g->inst[i])->name, "state",
                             omb_instance_state_name(omb_instance_state(g->inst[i]))));
    }
    for (size_t i = 0; g->routes && i < g->routes->n; i++) {
        const struct omb_route_rt *r = &g->routes->v[i];
        json_array_append_new(routes, json_pack("{s:s, s:b, s:b}", "name", r->name, "enabled",
                                                r->enabled, "paused", atomic_load(&r->paused)));
    }
    struct omb_store_stats st;
    omb_store_stats(d->store, &st);
    json_t *store = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "path", d->store_path, "first_seq",
        (json_int_t)omb_store_first_seq(d->store), "last_seq",
        (json_int_t)omb_store_last_seq(d->store), "used_bytes",
        (json_int_t)omb_store_used_bytes(d->store), "commits", (json_int_t)st.commits, "events",
        (json_int_t)st.events, "largest_group", (json_int_t)st.largest_group, "failures",
        (json_int_t)st.failures);
    return json_pack("{s:s, s:s, s:I, s:f, s:o, s:{s:s, s:s, s:o}, s:i, s:o, s:o, s:I, s:o, "
                     "s:o}",
                     "version", PACKAGE_VERSION, "abi", abi, "pid", (json_int_t)getpid(),
                     "uptime_s", (double)(omb_now_us() - d->started_us) / 1e6, "started_at",
                     time_string(d->started_us), "config", "path", g->cfg->path, "sha256",
                     g->cfg->hash, "loaded_at", time_string(d->loaded_us), "reloads",
                     (int)d->reloads, "last_reload_error",
                     d->last_reload_error ? json_string(d->last_reload_error) : json_null(),
                     "store", store, "inflight",
                     (json_int_t)(g->router ? omb_router_backlog(g->router) : 0), "connectors",
                     conns, "routes", routes);
}

static json_t *stats_json(const struct omb_instance *inst)
{
    struct omb_instance_stats s;
    omb_instance_stats(inst, &s);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "emitted", (json_int_t)s.emitted,
                     "received", (json_int_t)s.received, "delivered", (json_int_t)s.delivered,
                     "retried", (json_int_t)s.retried, "rejected", (json_int_t)s.rejected,
                     "pending", (json_int_t)s.pending);
}

static json_t *cmd_connectors(struct omb_daemon *d)
{
    struct generation *g = &d->g;
    json_t *a = json_array();
    for (size_t i = 0; i < g->n_inst; i++) {
        const struct omb_plugin_descriptor *desc = omb_instance_descriptor(g->inst[i]);
        json_t *isolation = omb_instance_isolation(g->inst[i]);
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o}", "name",
                         omb_instance_name(g->inst[i]), "plugin", desc->name, "plugin_version",
                         desc->version ? desc->version : "", "kind",
                         desc->kind == OMB_PLUGIN_PROCESSOR ? "processor" : "connector",
                         "capabilities", capabilities(desc), "state",
                         omb_instance_state_name(omb_instance_state(g->inst[i])), "log_level",
                         omb_log_level_name(omb_instance_log_level(g->inst[i])), "stats",
                         stats_json(g->inst[i]), "metrics", omb_instance_metrics(g->inst[i]),
                         "isolation", isolation ? isolation : json_null()));
    }
    return a;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *cmd_routes(struct omb_daemon *d)
{
    struct generation *g = &d->g;
    json_t *a = json_array();
    for (size_t i = 0; i < g->cfg->n_routes; i++) {
        const struct omb_config_route *cr = &g->cfg->routes[i];
        bool paused = false;
        for (size_t k = 0; k < g->routes->n; k++) {
            if (strcmp(g->routes->v[k].name, cr->name) == 0) {
                paused = atomic_load(&g->routes->v[k].paused);
            }
        }
        json_t *from = json_array(), *to = json_array();
        for (size_t f = 0; f < cr->n_from; f++) {
            json_array_append_new(from, json_pack("{s:s, s:s}", "connector",
                                                  cr->from[f].connector, "type",
                                                  cr->from[f].type ? cr->from[f].type : "*"));
        }
        for (size_t t = 0; t < cr->n_to; t++) {
            json_array_append_new(to, json_pack("{s:s, s:s}", "connector", cr->to[t].connector,
                                                "conflate",
                                                cr->to[t].conflate_key ? "key" : "none"));
        }
        json_array_append_new(
            a, json_pack("{s:s, s:b, s:b, s:o, s:o, s:o, s:o, s:o}", "name", cr->name,
                         "enabled", cr->enabled, "paused", paused, "from", from, "filter",
                         str_or_null(cr->filter), "transform", str_or_null(cr->transform),
                         "transform_type", str_or_null(cr->transform_type), "to", to));
    }
    return a;
}

/* True when some route sends to instance i: only those are destinations. */
static bool is_destination(const struct generation *g, size_t i)
{
    return g->routes && omb_routes_sends_to(g->routes, i);
}

static json_t *cmd_metrics(struct omb_daemon *d)
{
    struct generation *g = &d->g;
    json_t *dests = json_array(), *plugin = json_object(), *sources = json_array();
    for (size_t i = 0; i < g->n_inst; i++) {
        json_object_set_new(plugin, omb_instance_name(g->inst[i]),
                            omb_instance_metrics(g->inst[i]));
        struct omb_instance_stats s;
        omb_instance_stats(g->inst[i], &s);
        if (omb_instance_descriptor(g->inst[i])->capabilities & OMB_CAP_SOURCE) {
            json_array_append_new(
                sources, json_pack("{s:s, s:I, s:I, s:I}", "name", omb_instance_name(g->inst[i]),
                                   "emitted", (json_int_t)s.emitted, "deduplicated",
                                   (json_int_t)s.deduplicated, "lost", (json_int_t)s.lost));
        }
        if (!omb_instance_is_sink(g->inst[i]) || !is_destination(g, i)) {
            continue;
        }
        json_t *dest = NULL;
        const struct omb_histogram *h = omb_instance_latency(g->inst[i]);
        dest =
            json_pack("{s:s, s:I, s:I, s:o, s:I, s:I, s:I, s:{s:I, s:f, s:f, s:f, s:f}}",
                      "name", omb_instance_name(g->inst[i]), "queued",
                      (json_int_t)omb_router_destination_backlog(g->router, i), "dead",
                      (json_int_t)s.dead, "dead_letters",
                      omb_daemon_dead_letters(d, omb_instance_name(g->inst[i])),
                      "delivered", (json_int_t)s.delivered, "retried", (json_int_t)s.retried,
                      "rejected", (json_int_t)s.rejected, "latency_ms", "count",
                      (json_int_t)atomic_load(&((struct omb_histogram *)h)->count), "p50",
                      omb_histogram_quantile(h, 0.50) / 1000.0, "p99",
                      omb_histogram_quantile(h, 0.99) / 1000.0, "p999",
                      omb_histogram_quantile(h, 0.999) / 1000.0, "max",
                      (double)atomic_load(&((struct omb_histogram *)h)->max) / 1000.0);
        json_object_set_new(dest, "conflated", json_integer((json_int_t)s.conflated));
        json_object_set_new(dest, "stale", json_integer((json_int_t)s.stale));
        json_array_append_new(dests, dest);
    }
    return json_pack("{s:f, s:I, s:o, s:o, s:o, s:o}", "uptime_s",
                     (double)(omb_now_us() - d->started_us) / 1e6, "inflight",
                     (json_int_t)(g->router ? omb_router_backlog(g->router) : 0), "routes",
                     omb_routes_stats(g->routes), "destinations", dests, "sources", sources,
                     "connectors", plugin);
}

static void cmd_reload(struct omb_daemon *d, struct omb_admin_reply *reply)
{
    struct omb_diags diags;
    const char *mode = NULL;
    omb_diags_init(&diags);
    if (omb_daemon_reload(d, &diags, &mode) == 0) {
        reply->result = json_pack("{s:s, s:s, s:i}", "mode", mode, "sha256", d->g.cfg->hash,
                                  "reloads", (int)d->reloads);
    } else {
        json_t *errors = json_array();
        for (size_t i = 0; i < diags.n; i++) {
            char line[1024];
            snprintf(line, sizeof(line), "%s:%d: %s%s", diags.v[i].file, diags.v[i].line,
                     diags.v[i].severity == OMB_DIAG_WARNING ? "warning: " : "",
                     diags.v[i].msg);
            json_array_append_new(errors, json_string(line));
        }
        reply->code = "invalid_config";
        snprintf(reply->message, sizeof(reply->message), "%s",
                 d->last_reload_error ? d->last_reload_error : "reload refused");
        reply->extra = json_pack("{s:o}", "errors", errors);
    }
    omb_diags_clear(&diags);
}

static const char *string_arg(const json_t *args, const char *name, struct omb_admin_reply *reply,
                              bool required)
{
    const json_t *v = json_object_get(args, name);
    if (!v && !required) {
        return NULL;
    }
    if (!json_is_string(v)) {
        reply->code = "bad_request";
        snprintf(reply->message, sizeof(reply->message), "\"args.%s\" must be a string", name);
        return NULL;
    }
    return json_string_value(v);
}

static void cmd_pause(struct omb_daemon *d, const json_t *args, bool paused,
                      struct omb_admin_reply *reply)
{
    const char *route = string_arg(args, "route", reply, true);
    if (!route) {
        return;
    }
    if (omb_router_pause(d->g.router, route, paused) != 0) {
        reply->code = "not_found";
        snprintf(reply->message, sizeof(reply->message), "no route named '%s'", route);
        return;
    }
    omb_log(OMB_LOG_INFO, "admin", "route '%s' %s", route, paused ? "paused" : "resumed");
    reply->result = json_pack("{s:s, s:b}", "route", route, "paused", paused);
}

static void cmd_log_level(struct omb_daemon *d, const json_t *args,
                          struct omb_admin_reply *reply)
{
    const char *level = string_arg(args, "level", reply, true);
    if (!level) {
        return;
    }
    const char *instance = string_arg(args, "instance", reply, false);
    if (reply->code) {
        return;
    }
    int lvl = omb_log_level_parse(level);
    if (lvl < 0) {
        reply->code = "bad_request";
        snprintf(reply->message, sizeof(reply->message),
                 "unknown log level '%s' (error, warn, info or debug)", level);
        return;
    }
    if (!instance) {
        omb_log_set_level((enum omb_log_level)lvl);
        reply->result = json_pack("{s:n, s:s}", "instance", "level", level);
        return;
    }
    for (size_t i = 0; i < d->g.n_inst; i++) {
        if (strcmp(omb_instance_name(d->g.inst[i]), instance) == 0) {
            omb_instance_set_log_level(d->g.inst[i], lvl);
            reply->result = json_pack("{s:s, s:s}", "instance", instance, "level", level);
            return;
        }
    }
    reply->code = "not_found";
    snprintf(reply->message, sizeof(reply->message), "no connector named '%s'", instance);
}

void omb_daemon_admin_handle(void *arg, const char *cmd, const json_t *args,
                             struct omb_admin_reply *reply)
{
    struct omb_daemon *d = arg;
    if (strcmp(cmd, "status") == 0) {
        reply->result = cmd_status(d);
    } else if (strcmp(cmd, "connectors") == 0) {
        reply->result = cmd_connectors(d);
    } else if (strcmp(cmd, "routes") == 0) {
        reply->result = cmd_routes(d);
    } else if (strcmp(cmd, "metrics") == 0) {
        reply->result = cmd_metrics(d);
    } else if (strcmp(cmd, "reload") == 0) {
        cmd_reload(d, reply);
    } else if (strcmp(cmd, "pause") == 0) {
        cmd_pause(d, args, true, reply);
    } else if (strcmp(cmd, "resume") == 0) {
        cmd_pause(d, args, false, reply);
    } else if (strcmp(cmd, "log-level") == 0) {
        cmd_log_level(d, args, reply);
    } else if (strcmp(cmd, "snapshot") == 0) {
        omb_daemon_snapshot(d, args, reply);
    } else if (omb_daemon_dlq_command(d, cmd, args, reply)) {
        /* dead-letters, dead-letter, replay, edit, drop: daemon_dlq.c */
    } else {
        reply->code = "unknown_command";
        snprintf(reply->message, sizeof(reply->message),
                 "unknown command '%s' (status, connectors, routes, metrics, reload, pause, "
                 "resume, log-level, snapshot, dead-letters, dead-letter, replay, edit, "
                 "drop)",
                 cmd);
    }
    if (!reply->result && !reply->code) {
        reply->code = "internal";
        snprintf(reply->message, sizeof(reply->message), "out of memory");
    }
}
