/* The daemon's life: start a configuration, drain and stop it, reload it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <sys/signalfd.h>

#include "admin.h"
#include "daemon.h"
#include "daemon_priv.h"
#include "envelope.h"
#include "err_str.h"
#include "http_ingress.h"
#include "instance.h"
#include "log.h"
#include "router.h"
#include "runtime.h"

#ifndef OMB_PLUGIN_DIR
#define OMB_PLUGIN_DIR "/usr/local/lib/omnibus/plugins"
#endif


const char *omb_plugin_path_choose(const char *cli, const char *config_dir)
{
    if (cli && cli[0]) {
        return cli;
    }
    const char *env = getenv("OMNIBUS_PLUGIN_PATH");
    if (env && env[0]) {
        return env;
    }
    if (config_dir && config_dir[0]) {
        return config_dir;
    }
    return OMB_PLUGIN_DIR;
}

int omb_daemon_load(const char *config_path, const char *cli_plugin_dir,
                    struct omb_config **cfg_out, struct omb_registry **reg_out,
                    struct omb_diags *diags)
{
    *cfg_out = NULL;
    if (!*reg_out) {
        /* The plugin path may come from the file itself: read that first, so that one full
         * load reports every error, plugin and option errors included. */
        char *config_dir = omb_config_peek_plugin_dir(config_path);
        *reg_out = omb_registry_new(omb_plugin_path_choose(cli_plugin_dir, config_dir));
        free(config_dir);
        if (!*reg_out) {
            return OMB_ENOMEM;
        }
    }
    return omb_config_load(config_path, omb_registry_lookup, *reg_out, cfg_out, diags);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void generation_free(struct generation *g)
{
    omb_http_ingress_destroy(&g->rt.http); /* before the instances its requests go to */
    if (g->router) {
        /* The consumers run on the instances' threads and read the router's tables; the
         * acknowledgements of appends name their instances. */
        (void)omb_store_wait_acked(g->rt.store, 30000);
        omb_router_stop(g->router);
        for (size_t i = 0; i < g->n_inst; i++) {
            omb_instance_exit(g->inst[i]);
        }
        omb_router_destroy(&g->router); /* and every route table it took */
        g->routes = NULL;
    }
    for (size_t i = 0; i < g->n_inst; i++) {
        omb_instance_destroy(&g->inst[i]);
    }
    free(g->inst);
    g->inst = NULL;
    g->n_inst = 0;
    omb_routes_destroy(&g->routes); /* built, but no router took it */
    omb_config_destroy(&g->cfg);
}

static void log_summary(struct generation *g)
{
    for (size_t i = 0; g->routes && i < g->routes->n; i++) {
        struct omb_route_rt *r = &g->routes->v[i];
        omb_log(OMB_LOG_INFO, "router",
                "route '%s': in %llu, passed %llu, filtered %llu, transformed %llu, errors %llu, "
                "queued %llu",
                r->name, (unsigned long long)atomic_load(&r->in),
                (unsigned long long)atomic_load(&r->passed),
                (unsigned long long)atomic_load(&r->filtered),
                (unsigned long long)atomic_load(&r->transformed),
                (unsigned long long)atomic_load(&r->errors),
                (unsigned long long)atomic_load(&r->queued));
    }
    for (size_t i = 0; i < g->n_inst; i++) {
        struct omb_instance_stats s;
        omb_instance_stats(g->inst[i], &s);
        omb_log(OMB_LOG_INFO, "daemon",
                "connector '%s': emitted %llu, received %llu, delivered %llu, retried %llu, "
                "rejected %llu",
                omb_instance_name(g->inst[i]), (unsigned long long)s.emitted,
                (unsigned long long)s.received, (unsigned long long)s.delivered,
                (unsigned long long)s.retried, (unsigned long long)s.rejected);
    }
}

/* Take ownership of cfg and start it. On failure everything started is stopped again. */
static int generation_start(struct generation *g, struct omb_daemon *d, unsigned gen,
                            struct omb_config *cfg)
{
    void *zctx = d->zctx;
    struct omb_registry *reg = d->reg;
    struct omb_diags diags;
    char err[512];
    omb_diags_init(&diags);
    memset(g, 0, sizeof(*g));
    g->cfg = cfg;
    g->rt.zctx = zctx;
    g->rt.gen = gen;
    g->rt.retry_base_ms = 200;
    g->rt.retry_max_ms = 60000;
    atomic_init(&g->rt.stopping, false);
    g->rt.store = d->store;
    atomic_init(&g->rt.store_budget, cfg->store_budget_bytes);
    /* --log-level (passed as OMB_LOG_LEVEL) wins over <daemon log-level>. */
    const char *level = getenv("OMB_LOG_LEVEL");
    if (!level || omb_log_level_parse(level) < 0) {
        level = cfg->log_level ? cfg->log_level : "info";
    }
    int lvl = omb_log_level_parse(level);
    omb_log_set_level(lvl >= 0 ? (enum omb_log_level)lvl : OMB_LOG_INFO);

    g->rt.http = omb_http_ingress_new(&g->rt, cfg->http);
    g->inst = calloc(cfg->n_connectors ? cfg->n_connectors : 1, sizeof(*g->inst));
    if (!g->inst || !g->rt.http) {
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_connectors; i++) {
        const struct omb_config_connector *cc = &cfg->connectors[i];
        const struct omb_plugin *p = omb_registry_get(reg, cc->plugin, err, sizeof(err));
        if (!p) {
            omb_diags_error(&diags, cfg->path, cc->line, "%s", err);
            goto fail;
        }
        g->inst[i] = omb_instance_new(&g->rt, cc, p, cfg->path, &diags);
        if (!g->inst[i]) {
            goto fail;
        }
        g->n_inst++;
    }
    g->routes = omb_routes_build(cfg, g->inst, g->n_inst, 1, err, sizeof(err));
    if (!g->routes) {
        omb_log(OMB_LOG_ERROR, "daemon", "%s", err);
        goto fail;
    }
    g->router = omb_router_new(&g->rt, g->inst, g->n_inst, g->routes);
    if (!g->router) {
        g->routes = NULL; /* the router freed it */
    }
    if (!g->router || omb_router_start(g->router) != 0) {
        goto fail;
    }
    for (size_t i = 0; i < g->n_inst; i++) {
        int rc = omb_instance_run(g->inst[i]);
        if (rc != 0) {
            omb_log(OMB_LOG_ERROR, "daemon", "connector '%s' did not start: %s",
                    omb_instance_name(g->inst[i]), omb_strerror(rc));
            goto fail;
        }
    }
    /* Connectors registered their webhook paths in create(). */
    if (omb_http_ingress_start(g->rt.http) != 0) {
        goto fail;
    }
    omb_log(OMB_LOG_INFO, "daemon",
            "running %s (sha256 %.12s): %zu connector(s), %zu route(s)", cfg->path, cfg->hash,
            g->n_inst, g->routes->n);
    omb_diags_clear(&diags);
    return 0;
fail:
    for (size_t i = 0; i < diags.n; i++) {
        omb_log(OMB_LOG_ERROR, "config", "%s:%d: %s", diags.v[i].file, diags.v[i].line,
                diags.v[i].msg);
    }
    omb_diags_clear(&diags);
    generation_free(g);
    return OMB_EINVAL;
}

/* Stop producing, wait for what is in flight to be delivered (up to the drain deadline), then
 * stop every thread. Returns the config it ran (the caller's: to start again, or to destroy). */
static struct omb_config *generation_stop(struct generation *g)
{
    atomic_store(&g->rt.stopping, true);
    for (size_t i = 0; i < g->n_inst; i++) {
        omb_instance_stop_sources(g->inst[i]);
    }
    /* Everything accepted is in the journal; the drain only saves the next start some work.
     * (A paused route's deliveries are parked in the store and wait for its resume.) */
    int64_t deadline = omb_monotonic_ms() + g->cfg->drain_timeout_ms;
    while (g->router && omb_router_backlog(g->router) > 0 && omb_monotonic_ms() < deadline) {
        sleep_ms(5);
    }
    int64_t left = g->router ? omb_router_backlog(g->router) : 0;
    if (left > 0) {
        omb_log(OMB_LOG_WARN, "daemon",
                "drain deadline (%lld ms) passed with %lld journaled event(s) not yet delivered "
                "everywhere; they will be after the next start",
                (long long)g->cfg->drain_timeout_ms, (long long)left);
    }
    /* Every append's acknowledgement names its instance: let them all come before the
     * instances go (the writer always answers, within a commit's time). */
    (void)omb_store_wait_acked(g->rt.store, 30000);
    /* Webhooks were answered 503 during the drain; close the listener while the instances
     * still run to answer what they were handed. */
    omb_http_ingress_stop(g->rt.http);
    omb_router_stop(g->router);
    for (size_t i = 0; i < g->n_inst; i++) {
        omb_instance_exit(g->inst[i]);
    }
    log_summary(g);
    struct omb_config *cfg = g->cfg;
    g->cfg = NULL;
    generation_free(g);
    return cfg;
}

static bool same_connectors(const struct omb_config *a, const struct omb_config *b)
{
    if (a->n_connectors != b->n_connectors || a->workers != b->workers ||
        !omb_config_http_equal(a->http, b->http)) {
        return false;
    }
    for (size_t i = 0; i < a->n_connectors; i++) {
        const struct omb_config_connector *x = &a->connectors[i], *y = &b->connectors[i];
        if (strcmp(x->name, y->name) != 0 || strcmp(x->plugin, y->plugin) != 0 ||
            (x->log_level == NULL) != (y->log_level == NULL) ||
            (x->log_level && strcmp(x->log_level, y->log_level) != 0) ||
            x->max_attempts != y->max_attempts || x->max_age_ms != y->max_age_ms ||
            x->dedupe_window_ms != y->dedupe_window_ms || x->n_options != y->n_options ||
            x->isolate_process != y->isolate_process ||
            x->deliver_timeout_ms != y->deliver_timeout_ms) {
            return false;
        }
        for (size_t k = 0; k < x->n_options; k++) {
            if (strcmp(x->options[k].name, y->options[k].name) != 0 ||
                strcmp(x->options[k].value, y->options[k].value) != 0) {
                return false;
            }
        }
    }
    return true;
}

/* Keep the paused state of the routes a new table keeps. */
static void carry_paused(const struct omb_routes *from, struct omb_routes *to)
{
    for (size_t i = 0; i < to->n; i++) {
        for (size_t k = 0; k < from->n; k++) {
            if (strcmp(to->v[i].name, from->v[k].name) == 0) {
                atomic_store(&to->v[i].paused, atomic_load(&from->v[k].paused));
            }
        }
    }
}

static void set_reload_error(struct omb_daemon *d, const char *text)
{
    free(d->last_reload_error);
    d->last_reload_error = text ? strdup(text) : NULL;
}

int omb_daemon_reload(struct omb_daemon *d, struct omb_diags *diags, const char **mode)
{
    struct generation *g = &d->g;
    struct omb_config *cfg = NULL;
    char err[512];
    *mode = NULL;
    omb_log(OMB_LOG_INFO, "daemon", "reloading %s", d->config_path);
    int rc = omb_config_load(d->config_path, omb_registry_lookup, d->reg, &cfg, diags);
    if (rc != 0) {
        for (size_t i = 0; i < diags->n; i++) {
            omb_log(OMB_LOG_ERROR, "config", "%s:%d: %s", diags->v[i].file, diags->v[i].line,
                    diags->v[i].msg);
        }
        snprintf(err, sizeof(err),
                 "reload refused: the new config has %zu error(s); the old one keeps running",
                 diags->errors);
        omb_log(OMB_LOG_ERROR, "daemon", "%s", err);
        set_reload_error(d, err);
        return OMB_EINVAL;
    }
    char *new_store = omb_daemon_store_path(cfg);
    if (new_store && strcmp(new_store, d->store_path) != 0) {
        omb_log(OMB_LOG_WARN, "daemon", "the store moves to %s only at the next start; %s stays "
                "in use", new_store, d->store_path);
    }
    free(new_store);
    bool same_destinations = true;
    struct omb_routes *routes = NULL;
    if (same_connectors(g->cfg, cfg)) {
        routes = omb_routes_build(cfg, g->inst, g->n_inst, g->routes->version + 1, err,
                                  sizeof(err));
        /* A connector that becomes a destination needs a consumer: that is a restart. */
        for (size_t i = 0; routes && i < g->n_inst; i++) {
            if (omb_routes_sends_to(routes, i) != omb_routes_sends_to(g->routes, i)) {
                same_destinations = false;
            }
        }
    }
    if (same_connectors(g->cfg, cfg) && same_destinations) {
        /* Only routes changed: swap the table under the running connectors. */
        if (!routes) {
            omb_log(OMB_LOG_ERROR, "daemon", "reload refused: %s", err);
            omb_diags_error(diags, d->config_path, 0, "%s", err);
            set_reload_error(d, err);
            omb_config_destroy(&cfg);
            return OMB_EINVAL;
        }
        carry_paused(g->routes, routes);
        size_t n_routes = routes->n;
        if (omb_router_swap(g->router, routes) != 0) {
            snprintf(err, sizeof(err), "reload refused: the route swap could not be journaled "
                                       "(see the log); the old routes stay");
            omb_diags_error(diags, d->config_path, 0, "%s", err);
            set_reload_error(d, err);
            omb_config_destroy(&cfg);
            return OMB_EIO;
        }
        g->routes = omb_router_routes(g->router);
        omb_config_destroy(&g->cfg);
        g->cfg = cfg;
        *mode = "routes";
        omb_log(OMB_LOG_INFO, "daemon", "reloaded: routes swapped (%zu route(s), sha256 %.12s)",
                n_routes, cfg->hash);
    } else {
        omb_routes_destroy(&routes);
        /* Connectors changed: drain the running configuration, then start the new one; keep
         * the one that ran (not the file, which now holds the new one) to fall back to. */
        struct omb_config *old_cfg = generation_stop(g);
        if (generation_start(g, d, ++d->gen, cfg) != 0) {
            omb_log(OMB_LOG_ERROR, "daemon",
                    "the new config did not start; going back to the old one");
            snprintf(err, sizeof(err), "the new config did not start (see the log); the old one "
                                       "runs again");
            omb_diags_error(diags, d->config_path, 0, "%s", err);
            set_reload_error(d, err);
            if (generation_start(g, d, ++d->gen, old_cfg) != 0) {
                omb_log(OMB_LOG_ERROR, "daemon", "the old config did not start either");
            }
            return OMB_EINVAL;
        }
        omb_config_destroy(&old_cfg);
        *mode = "restart";
        omb_log(OMB_LOG_INFO, "daemon", "reloaded: connectors restarted");
    }
    d->reloads++;
    d->loaded_us = omb_now_us();
    set_reload_error(d, NULL);
    return 0;
}

static void serve_admin(struct omb_daemon *d)
{
    /* Answer every request that is waiting: each answer is quick. */
    for (int i = 0; i < 64; i++) {
        zmq_pollitem_t item = { .socket = omb_admin_socket(d->admin), .events = ZMQ_POLLIN };
        if (zmq_poll(&item, 1, 0) <= 0) {
            return;
        }
        omb_admin_serve_one(d->admin, omb_daemon_admin_handle, d);
    }
}

int omb_daemon_run(const char *config_path, const char *cli_plugin_dir)
{
    struct omb_diags diags;
    struct omb_config *cfg = NULL;
    struct omb_daemon d;
    int status = 1;
    int sfd = -1;

    memset(&d, 0, sizeof(d));
    d.config_path = config_path;
    d.gen = 1;
    d.store_lock = -1;
    omb_diags_init(&diags);
    /* Signals are taken by this thread through a signalfd; every other thread inherits the
     * blocked mask and never sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        omb_log(OMB_LOG_ERROR, "daemon", "signalfd: %s", strerror(errno));
        goto out;
    }

    if (omb_daemon_load(config_path, cli_plugin_dir, &cfg, &d.reg, &diags) != 0) {
        omb_diags_print(&diags, stderr);
        goto out;
    }
    for (size_t i = 0; i < diags.n; i++) {
        omb_log(OMB_LOG_WARN, "config", "%s:%d: %s", diags.v[i].file, diags.v[i].line,
                diags.v[i].msg);
    }
    d.zctx = zmq_ctx_new();
    if (!d.zctx) {
        omb_log(OMB_LOG_ERROR, "daemon", "cannot create a ZeroMQ context");
        omb_config_destroy(&cfg);
        goto out;
    }
    char err[1024];
    d.admin = omb_admin_new(d.zctx, cfg->admin_endpoint, err, sizeof(err));
    if (!d.admin) {
        omb_log(OMB_LOG_ERROR, "daemon", "%s", err);
        omb_config_destroy(&cfg);
        goto out_ctx;
    }
    d.started_us = d.loaded_us = omb_now_us();
    if (omb_daemon_store_open(&d, cfg) != 0) {
        omb_config_destroy(&cfg);
        goto out_ctx;
    }
    if (generation_start(&d.g, &d, d.gen, cfg) != 0) {
        goto out_ctx;
    }
    omb_log(OMB_LOG_INFO, "daemon", "admin socket at %s", omb_admin_endpoint(d.admin));
    bool stop = false;
    while (!stop) {
        zmq_pollitem_t items[2] = {
            { .socket = omb_admin_socket(d.admin), .events = ZMQ_POLLIN },
            { .socket = NULL, .fd = sfd, .events = ZMQ_POLLIN },
        };
        if (zmq_poll(items, 2, 1000) < 0 && errno != EINTR) {
            omb_log(OMB_LOG_ERROR, "daemon", "poll: %s", zmq_strerror(errno));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            serve_admin(&d);
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            if (si.ssi_signo == SIGHUP) {
                const char *mode;
                struct omb_diags rd;
                omb_diags_init(&rd);
                omb_daemon_reload(&d, &rd, &mode);
                omb_diags_clear(&rd);
            } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                omb_log(OMB_LOG_INFO, "daemon", "%s: draining and stopping",
                        si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                stop = true;
            }
        }
    }
    if (d.g.cfg) {
        struct omb_config *last = generation_stop(&d.g);
        omb_config_destroy(&last);
    }
    omb_log(OMB_LOG_INFO, "daemon", "stopped");
    status = 0;
out_ctx:
    omb_daemon_store_close(&d);
    omb_admin_destroy(&d.admin);
    zmq_ctx_term(d.zctx);
out:
    if (sfd >= 0) {
        close(sfd);
    }
    free(d.last_reload_error);
    omb_diags_clear(&diags);
    omb_registry_destroy(&d.reg);
    return status;
}
