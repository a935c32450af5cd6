/* The webhook listener (HTTP ingress): one libmicrohttpd daemon per running configuration,
 * serving /hooks/<instance>/<suffix> for the paths connectors register with
 * host->http_route_add. A request is read whole (up to <http body-limit>), then its connection
 * is suspended and the request handed to the instance's thread (omb_instance_post), where the
 * plugin's handler runs; the instance resumes the connection with the response. No listener
 * thread ever waits for a plugin.
 *
 * Life: new (daemon thread, before the instances run) -> route_add (instance threads, from
 * create/start) -> start (daemon thread, after the instances run) -> stop (daemon thread, after
 * the drain, before the instances exit) -> destroy. */
#ifndef OMNIBUS_HTTP_INGRESS_H
#define OMNIBUS_HTTP_INGRESS_H

#include <omnibus/http.h>
#include "config.h"
#include "runtime.h"

struct omb_instance;
struct omb_http_ingress;

/* A new ingress, not listening yet. `cfg` is <http> (borrowed; must outlive the ingress), NULL
 * when absent: then the defaults of config.h apply, and the listener starts only if a connector
 * registers a path. `rt` is borrowed (its stopping flag makes new requests answer 503). NULL on
 * ENOMEM. */
struct omb_http_ingress *omb_http_ingress_new(struct omb_runtime *rt,
                                              const struct omb_config_http *cfg);

/* Register /hooks/<instance>/<suffix> (see host.h http_route_add for the rules). fn(arg, ...)
 * runs on inst's thread. After omb_http_ingress_start, a first registration starts the
 * listener. Thread-safe. 0, OMB_EINVAL, OMB_ENOMEM, OMB_EIO (listener did not start). */
int omb_http_ingress_route_add(struct omb_http_ingress *ing, struct omb_instance *inst,
                               const char *instance_name, const char *suffix, omb_http_fn fn,
                               void *arg);

/* Listen now if <http> is configured or a path is registered. 0, or OMB_EIO (the reason is
 * logged: address in use, unreadable TLS files...). Daemon thread. */
int omb_http_ingress_start(struct omb_http_ingress *ing);

/* Close: stop accepting, wait until every request handed to an instance has its answer, then
 * end the listener's threads. The instances must still be running. Idempotent; NULL-safe. */
void omb_http_ingress_stop(struct omb_http_ingress *ing);

/* Stop if needed, log the counters, free; NULL-safe, sets *ingp to NULL. */
void omb_http_ingress_destroy(struct omb_http_ingress **ingp);

/* The port listened on (the real one when <http listen> said port 0), or 0. */
int omb_http_ingress_port(struct omb_http_ingress *ing);

#endif /* OMNIBUS_HTTP_INGRESS_H */
