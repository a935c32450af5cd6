/* State shared by the threads of one running configuration: the ZeroMQ context, the number of
 * router workers, the in-flight count that a drain waits on, and the stop flag. */
#ifndef OMNIBUS_RUNTIME_H
#define OMNIBUS_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Endpoint names carry the generation so that a rebuilt configuration never meets the sockets
 * of the one it replaces. */
#define OMB_ENDPOINT_MAX 160

/* High-water mark (messages) from sources into the router: past it, emit() says OMB_EAGAIN. */
#define OMB_INGRESS_HWM 10000

struct omb_http_ingress;

struct omb_runtime {
    void *zctx;                 /* shared ZeroMQ context (thread-safe) */
    unsigned gen;               /* generation of this configuration */
    size_t n_workers;           /* router workers */
    atomic_int_fast64_t inflight; /* events emitted and not yet finally delivered or dropped */
    atomic_bool stopping;       /* ingress is closing */
    int64_t retry_base_ms;      /* first delivery retry delay */
    int64_t retry_max_ms;       /* cap of the exponential backoff */
    struct omb_http_ingress *http; /* the webhook listener (http_ingress.h); owned by daemon.c */
};

/* "inproc://omb-<gen>-router-<i>" */
void omb_endpoint_router(const struct omb_runtime *rt, size_t worker, char *out, size_t len);
/* "inproc://omb-<gen>-deliver-<instance>" */
void omb_endpoint_deliver(const struct omb_runtime *rt, const char *instance, char *out,
                          size_t len);
/* "inproc://omb-<gen>-ctl-<instance>" */
void omb_endpoint_ctl(const struct omb_runtime *rt, const char *instance, char *out, size_t len);

#endif /* OMNIBUS_RUNTIME_H */
