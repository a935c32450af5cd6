/* The route table: built from the config over the running instances, shared (read-only but for
 * its atomic counters and pause flags) by every destination's consumer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "envelope.h"
#include "router.h"


static void route_free(struct omb_route_rt *r)
{
    free(r->name);
    for (size_t i = 0; i < r->n_from; i++) {
        free(r->from[i].connector);
        free(r->from[i].pattern);
    }
    free(r->from);
    free(r->filter);
    free(r->transform);
    free(r->out_type);
    free(r->to);
    free(r->conflate);
    for (size_t i = 0; i < r->n_to; i++) {
        free(r->to_names[i]);
    }
    free(r->to_names);
}

void omb_routes_destroy(struct omb_routes **routesp)
{
    if (!routesp || !*routesp) {
        return;
    }
    struct omb_routes *routes = *routesp;
    for (size_t i = 0; i < routes->n; i++) {
        route_free(&routes->v[i]);
    }
    free(routes->v);
    free(routes);
    *routesp = NULL;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s) {
        return NULL;
    }
    char *d = strdup(s);
    if (!d) {
        *oom = true;
    }
    return d;
}

struct omb_routes *omb_routes_build(const struct omb_config *cfg, struct omb_instance **inst,
                                    size_t n_inst, unsigned version, char *err, size_t errlen)
{
    bool oom = false;
    struct omb_routes *routes = calloc(1, sizeof(*routes));
    if (!routes) {
        goto nomem;
    }
    routes->version = version;
    /* Unique across restarts too: a marker left in the journal by another process never
     * names a table of this one. */
    if (getrandom(&routes->uid, sizeof(routes->uid), 0) != (ssize_t)sizeof(routes->uid)) {
        routes->uid = ((uint64_t)getpid() << 32) ^ (uint64_t)omb_now_us() ^ version;
    }
    routes->v = calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(*routes->v));
    if (!routes->v) {
        goto nomem;
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct omb_config_route *cr = &cfg->routes[i];
        struct omb_route_rt *r = &routes->v[i];
        routes->n++;
        r->name = dup_or_null(cr->name, &oom);
        r->enabled = cr->enabled;
        r->filter = dup_or_null(cr->filter, &oom);
        r->transform = dup_or_null(cr->transform, &oom);
        r->out_type = dup_or_null(cr->transform_type, &oom);
        r->from = calloc(cr->n_from ? cr->n_from : 1, sizeof(*r->from));
        r->to = calloc(cr->n_to ? cr->n_to : 1, sizeof(*r->to));
        r->conflate = calloc(cr->n_to ? cr->n_to : 1, sizeof(*r->conflate));
        r->to_names = calloc(cr->n_to ? cr->n_to : 1, sizeof(*r->to_names));
        if (oom || !r->from || !r->to || !r->conflate || !r->to_names) {
            goto nomem;
        }
        for (size_t f = 0; f < cr->n_from; f++) {
            r->from[f].connector = dup_or_null(cr->from[f].connector, &oom);
            r->from[f].pattern = dup_or_null(cr->from[f].type ? cr->from[f].type : "*", &oom);
            r->n_from++;
        }
        for (size_t t = 0; t < cr->n_to; t++) {
            size_t k = 0;
            while (k < n_inst && strcmp(omb_instance_name(inst[k]), cr->to[t].connector) != 0) {
                k++;
            }
            if (k == n_inst) {
                snprintf(err, errlen, "route '%s' sends to '%s', which is not running",
                         cr->name, cr->to[t].connector);
                omb_routes_destroy(&routes);
                return NULL;
            }
            r->to[t] = k;
            r->conflate[t] = cr->to[t].conflate_key;
            r->to_names[t] = dup_or_null(cr->to[t].connector, &oom);
            r->n_to++;
        }
        if (oom) {
            goto nomem;
        }
    }
    return routes;
nomem:
    snprintf(err, errlen, "out of memory");
    omb_routes_destroy(&routes);
    return NULL;
}

json_t *omb_routes_stats(const struct omb_routes *routes)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < routes->n; i++) {
        const struct omb_route_rt *r = &routes->v[i];
        json_array_append_new(
            a, json_pack("{s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", r->name,
                         "enabled", r->enabled, "paused", atomic_load(&r->paused), "in",
                         (json_int_t)atomic_load(&r->in), "passed",
                         (json_int_t)atomic_load(&r->passed), "filtered",
                         (json_int_t)atomic_load(&r->filtered), "transformed",
                         (json_int_t)atomic_load(&r->transformed), "errors",
                         (json_int_t)atomic_load(&r->errors), "queued",
                         (json_int_t)atomic_load(&r->queued), "held",
                         (json_int_t)atomic_load(&r->held)));
    }
    return a;
}

bool omb_route_conflates(const struct omb_route_rt *r, size_t inst)
{
    for (size_t t = 0; t < r->n_to; t++) {
        if (r->to[t] == inst && r->conflate[t]) {
            return true;
        }
    }
    return false;
}

bool omb_routes_sends_to(const struct omb_routes *routes, size_t inst)
{
    for (size_t r = 0; r < routes->n; r++) {
        for (size_t t = 0; t < routes->v[r].n_to; t++) {
            if (routes->v[r].to[t] == inst) {
                return true;
            }
        }
    }
    return false;
}

bool omb_route_matches(const struct omb_route_rt *r, const char *source, const char *type)
{
    for (size_t f = 0; f < r->n_from; f++) {
        if (strcmp(r->from[f].connector, source) == 0 &&
            omb_type_match(r->from[f].pattern, type)) {
            return true;
        }
    }
    return false;
}
