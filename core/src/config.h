/* The daemon's configuration: omnibus.xml parsed, validated against config/omnibus.rng (embedded
 * in the binary), then checked semantically (plugins exist, options valid, routes lead somewhere,
 * jq compiles, names unique). Every error goes to a struct omb_diags as FILE:LINE: message. */
#ifndef OMNIBUS_CONFIG_H
#define OMNIBUS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <omnibus/plugin.h>
#include "diag.h"

struct omb_config_option {
    char *name;
    char *value; /* as written (a SECRET is still "env:NAME"; resolution happens in options.c) */
    int line;
};

struct omb_config_connector {
    char *name;
    char *plugin;
    char *log_level; /* NULL: the daemon's */
    int line;
    /* As a destination: how long one delivery is retried before it goes to the dead-letter
     * queue. The loader fills in the defaults, so these are always the effective values. */
    int64_t max_attempts; /* max-attempts: 1..1000000, default OMB_DEFAULT_MAX_ATTEMPTS;
                           * 0: unlimited ("unlimited") */
    int64_t max_age_ms;   /* max-age: > 0, default OMB_DEFAULT_MAX_AGE_MS; 0: unlimited */
    /* As a source: how long an event's dedupe key (its idempotency key) holds, from the event
     * that first carried it; a repeat within it is acknowledged and dropped. */
    int64_t dedupe_window_ms; /* dedupe-window: > 0, default OMB_DEFAULT_DEDUPE_WINDOW_MS;
                               * 0: off ("off") */
    /* isolate="process": the plugin runs in a supervised child process (isolate.h), and a
     * delivery (or webhook, or a ping) it does not answer within deliver-timeout counts as a
     * hang: the child is killed and restarted. */
    bool isolate_process;
    int64_t deliver_timeout_ms; /* deliver-timeout: 10ms..1h, default
                                 * OMB_DEFAULT_DELIVER_TIMEOUT_MS; only with isolate_process */
    bool deliver_timeout_given; /* written in the file (an error without isolate="process") */
    struct omb_config_option *options;
    size_t n_options;
};

#define OMB_DEFAULT_MAX_ATTEMPTS 100
#define OMB_DEFAULT_MAX_AGE_MS (INT64_C(24) * 3600 * 1000)
#define OMB_DEFAULT_DEDUPE_WINDOW_MS (INT64_C(24) * 3600 * 1000)
#define OMB_DEFAULT_DELIVER_TIMEOUT_MS (INT64_C(30) * 1000)

struct omb_config_from {
    char *connector;
    char *type; /* pattern: "price.set", "stock.*" or "*" */
    int line;
};

struct omb_config_to {
    char *connector;
    bool conflate_key; /* conflate="key" */
    int line;
};

struct omb_config_route {
    char *name;
    int line;
    bool enabled;          /* enabled="false" keeps a route in the file but out of service */
    struct omb_config_from *from;
    size_t n_from;
    char *filter;          /* jq, NULL when absent */
    int filter_line;
    char *transform;       /* jq, NULL when absent */
    char *transform_type;  /* <transform type="...">: the type of the events it yields, or NULL */
    int transform_line;
    struct omb_config_to *to;
    size_t n_to;
};

/* <http>: the webhook listener (core/src/http_ingress.c). */
struct omb_config_http {
    char *host;              /* listen's address: "127.0.0.1", "::1" (brackets removed) */
    int port;                /* listen's port, 0..65535 (0: any free port, logged) */
    int64_t body_limit;      /* bytes; body-limit, default 1 MiB */
    int64_t timeout_ms;      /* idle connection timeout; timeout, default 10 s */
    char *tls_cert;          /* PEM file, NULL: plain HTTP */
    char *tls_key;           /* PEM file, NULL: plain HTTP */
    int threads;             /* listener threads; threads, default 2 */
    int line;                /* of <http>, 0 for the defaults */
};

#define OMB_HTTP_DEFAULT_HOST "127.0.0.1"
#define OMB_HTTP_DEFAULT_PORT 8080
#define OMB_HTTP_DEFAULT_BODY_LIMIT (1024 * 1024)
#define OMB_HTTP_DEFAULT_TIMEOUT_MS 10000
#define OMB_HTTP_DEFAULT_THREADS 2

struct omb_config {
    char *path;              /* as given */
    char hash[65];           /* SHA-256 of the file's bytes, hex */
    int workers;             /* <daemon workers>, 0 = one per core */
    int64_t drain_timeout_ms;/* <daemon drain-timeout>, default 10 s */
    char *log_level;         /* <daemon log-level>, default "info" */
    char *plugin_dir;        /* <daemon plugin-dir>, NULL when absent */
    /* <store>: the journal. Absent attributes leave the store's own defaults (store.h) to the
     * daemon, which maps them onto struct omb_store_opts. */
    char *store_path;        /* path, NULL when absent (the daemon picks the default location);
                              * a relative path is joined to the directory of `path` above */
    int store_group_max;     /* group-max: events per commit, 1..100000; 0: absent (default) */
    int64_t store_group_wait_us; /* group-wait in µs, 0..1 s in whole ms: how long the writer
                              * waits to fill a group; 0: not at all; -1: absent (default) */
    int64_t store_budget_bytes; /* budget: disk budget, at least 1 MiB; 0: absent, no budget */
    int store_line;          /* of <store>, 0 when absent */
    char *admin_endpoint;    /* <admin endpoint>, NULL when absent */
    int admin_line;
    struct omb_config_http *http; /* <http>, NULL when absent (defaults apply; see http_ingress.h) */
    struct omb_config_connector *connectors;
    size_t n_connectors;
    struct omb_config_route *routes;
    size_t n_routes;
};

/* Find a plugin's descriptor by name. Returns NULL with a reason in err when there is none or
 * it cannot be loaded (wrong ABI...). The descriptor stays valid as long as the lookup's owner. */
typedef const struct omb_plugin_descriptor *(*omb_plugin_lookup_fn)(void *arg, const char *name,
                                                                     char *err, size_t errlen);

/* Read, validate and check `path`. On success returns 0 and a new config in *out (the caller's,
 * free with omb_config_destroy). Otherwise returns OMB_EINVAL (or OMB_EIO, OMB_ENOMEM), *out is
 * NULL and every error is in diags. `lookup` may be NULL to skip the plugin and option checks. */
int omb_config_load(const char *path, omb_plugin_lookup_fn lookup, void *lookup_arg,
                    struct omb_config **out, struct omb_diags *diags);

/* Read just <daemon plugin-dir> of a config file, so that the plugin path is known before the
 * full load (which needs the plugins). A new string, or NULL when absent or unreadable; errors
 * are left for omb_config_load to report. */
char *omb_config_peek_plugin_dir(const char *path);

/* Find a connector by name (borrowed from cfg) or NULL. */
const struct omb_config_connector *omb_config_connector_find(const struct omb_config *cfg,
                                                             const char *name);

/* True when two <http> settings (either may be NULL: absent) are the same. */
bool omb_config_http_equal(const struct omb_config_http *a, const struct omb_config_http *b);

/* Split "127.0.0.1:8080" or "[::1]:8080" into a new host string (no brackets) and a port.
 * 0, or OMB_EINVAL when it is not an IPv4 or bracketed IPv6 literal with a port 0..65535. */
int omb_config_listen_parse(const char *listen, char **host_out, int *port_out);

/* Free a config and set *cfgp to NULL; NULL-safe, may be called twice. */
void omb_config_destroy(struct omb_config **cfgp);

/* True for a connector, route or plugin name: [a-z0-9][a-z0-9_-]*, at most 64 characters. */
bool omb_config_name_valid(const char *name);

/* True for an event-type pattern: "price.set" (lowercase words joined by dots), "stock.*" (a
 * prefix) or "*" (everything). */
bool omb_config_type_pattern_valid(const char *pattern);

#endif /* OMNIBUS_CONFIG_H */
