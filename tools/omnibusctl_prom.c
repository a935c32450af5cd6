/* omnibusctl: the metrics result in the Prometheus text exposition format 0.0.4. Every family
 * gets its HELP and TYPE lines, even without samples; samples of a family are contiguous. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omnibusctl.h"

/* A label value with \, " and newline escaped, as the format requires. */
static void label(FILE *out, const char *name, const char *value)
{
    fprintf(out, "%s=\"", name);
    for (const char *p = value ? value : ""; *p; p++) {
        switch (*p) {
        case '\\':
            fputs("\\\\", out);
            break;
        case '"':
            fputs("\\\"", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        default:
            fputc(*p, out);
            break;
        }
    }
    fputc('"', out);
}

/* A sample value: integers exactly, reals in the shortest form that reads back the same, true
 * and false as 1 and 0, null as NaN. False when `v` is none of those (no sample then). */
static bool value(const json_t *v, char *buf, size_t len)
{
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (isnan(d)) {
            snprintf(buf, len, "NaN");
            return true;
        }
        if (isinf(d)) {
            snprintf(buf, len, "%s", d > 0 ? "+Inf" : "-Inf");
            return true;
        }
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, len, "%.*g", prec, d);
            if (strtod(buf, NULL) == d) {
                break;
            }
        }
    } else if (json_is_boolean(v)) {
        snprintf(buf, len, "%d", json_is_true(v) ? 1 : 0);
    } else if (json_is_null(v)) {
        snprintf(buf, len, "NaN");
    } else {
        return false;
    }
    return true;
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{k1="v1"[,k2="v2"]} value. Nothing when the value is missing or not a number. */
static void sample(FILE *out, const char *name, const char *k1, const char *v1, const char *k2,
                   const char *v2, const json_t *v)
{
    char num[64];
    if (!value(v, num, sizeof(num))) {
        return;
    }
    fputs(name, out);
    if (k1) {
        fputc('{', out);
        label(out, k1, v1);
        if (k2) {
            fputc(',', out);
            label(out, k2, v2);
        }
        fputc('}', out);
    }
    fprintf(out, " %s\n", num);
}

static const char *name_of(const json_t *e)
{
    const json_t *n = json_object_get(e, "name");
    return json_is_string(n) ? json_string_value(n) : NULL;
}

/* For every element of `list` with a name: one sample per outcome in `keys`. */
static void per_outcome(FILE *out, const json_t *list, const char *metric, const char *lname,
                        const char *const *keys, size_t n)
{
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        for (size_t k = 0; name_of(e) && k < n; k++) {
            const json_t *v = json_object_get(e, keys[k]);
            if (json_is_number(v)) {
                sample(out, metric, lname, name_of(e), "outcome", keys[k], v);
            }
        }
    }
}

/* A family with one sample per named element of `list`: its member `key`, or the member `key` of
 * its member `sub` when sub is not NULL. */
static void per_name(FILE *out, const json_t *list, const char *metric, const char *type,
                     const char *help, const char *lname, const char *sub, const char *key)
{
    size_t i;
    const json_t *e;
    family(out, metric, type, help);
    json_array_foreach(list, i, e)
    {
        const json_t *v = json_object_get(sub ? json_object_get(e, sub) : e, key);
        if (name_of(e) && json_is_number(v)) {
            sample(out, metric, lname, name_of(e), NULL, NULL, v);
        }
    }
}

int ombctl_prometheus(const json_t *r, FILE *out)
{
    if (!json_is_object(r)) {
        return OMB_EINVAL;
    }
    const json_t *routes = json_object_get(r, "routes");
    const json_t *dests = json_object_get(r, "destinations");
    size_t i;
    const json_t *e;

    family(out, "omnibus_uptime_seconds", "gauge", "Seconds since omnibusd started.");
    sample(out, "omnibus_uptime_seconds", NULL, NULL, NULL, NULL, json_object_get(r, "uptime_s"));
    family(out, "omnibus_inflight", "gauge",
           "Events emitted into omnibus and not yet delivered or rejected.");
    sample(out, "omnibus_inflight", NULL, NULL, NULL, NULL, json_object_get(r, "inflight"));

    static const char *const route_outcomes[] = {"in", "passed", "filtered", "transformed",
                                                 "errors"};
    family(out, "omnibus_route_events_total", "counter", "Events seen by a route, by outcome.");
    per_outcome(out, routes, "omnibus_route_events_total", "route", route_outcomes, 5);
    per_name(out, routes, "omnibus_route_deliveries_queued_total", "counter",
             "Deliveries a route queued for its destinations (one per destination and event).",
             "route", NULL, "queued");
    per_name(out, routes, "omnibus_route_held", "gauge",
             "Events a paused route holds, to release in order on resume.", "route", NULL, "held");

    static const char *const dest_outcomes[] = {"delivered", "retried", "rejected"};
    family(out, "omnibus_destination_events_total", "counter",
           "Deliveries to a destination, by outcome.");
    per_outcome(out, dests, "omnibus_destination_events_total", "destination", dest_outcomes, 3);
    per_name(out, dests, "omnibus_destination_queued", "gauge",
             "Deliveries waiting for a destination (pending).", "destination", NULL, "queued");
    per_name(out, dests, "omnibus_destination_dead_letters", "gauge",
             "Deliveries in a destination's dead-letter queue now, waiting to be replayed or "
             "dropped.",
             "destination", NULL, "dead_letters");
    per_name(out, dests, "omnibus_destination_conflated_total", "counter",
             "Deliveries not sent because a newer one for the same key came (conflate=\"key\").",
             "destination", NULL, "conflated");
    per_name(out, dests, "omnibus_destination_stale_total", "counter",
             "Deliveries not sent because a newer event for their key was already delivered.",
             "destination", NULL, "stale");
    const json_t *sources = json_object_get(r, "sources");
    per_name(out, sources, "omnibus_source_emitted_total", "counter",
             "Events a source emitted and the journal took.", "source", NULL, "emitted");
    per_name(out, sources, "omnibus_source_deduplicated_total", "counter",
             "Events a source emitted again within its dedupe window: acknowledged, dropped.",
             "source", NULL, "deduplicated");
    per_name(out, sources, "omnibus_source_lost_total", "counter",
             "Events whose journal commit failed after a plain emit (never acknowledged).",
             "source", NULL, "lost");

    /* Quantiles as gauges with a quantile label (the summary layout without _sum and _count,
     * which the daemon does not keep); before the first sample (count 0) they are NaN. */
    static const char *const quantiles[] = {"p50", "p99", "p999"};
    static const char *const qlabels[] = {"0.5", "0.99", "0.999"};
    family(out, "omnibus_destination_latency_ms", "gauge",
           "Milliseconds from emit into omnibus to the end of a successful delivery, by quantile.");
    json_array_foreach(dests, i, e)
    {
        const json_t *l = json_object_get(e, "latency_ms");
        const json_t *count = json_object_get(l, "count");
        bool none = json_is_integer(count) && json_integer_value(count) == 0;
        for (size_t q = 0; name_of(e) && json_is_object(l) && q < 3; q++) {
            const json_t *v = none ? json_null() : json_object_get(l, quantiles[q]);
            if (json_is_number(v) || json_is_null(v)) {
                sample(out, "omnibus_destination_latency_ms", "destination", name_of(e), "quantile",
                       qlabels[q], v);
            }
        }
    }
    per_name(out, dests, "omnibus_destination_latency_max_ms", "gauge",
             "The longest delivery latency measured, in milliseconds.", "destination", "latency_ms",
             "max");
    per_name(out, dests, "omnibus_destination_latency_samples", "gauge",
             "Deliveries the latency quantiles were computed from.", "destination", "latency_ms",
             "count");

    family(out, "omnibus_connector_metric", "untyped",
           "A connector plugin's own counter or gauge, by connector and metric name.");
    const char *cname, *mname;
    const json_t *m, *v;
    json_object_foreach((json_t *)json_object_get(r, "connectors"), cname, m)
    {
        json_object_foreach((json_t *)m, mname, v)
        {
            if (json_is_number(v) || json_is_boolean(v)) {
                sample(out, "omnibus_connector_metric", "connector", cname, "name", mname, v);
            }
        }
    }
    return 0;
}
