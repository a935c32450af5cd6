/* State shared by the threads of one running configuration: the ZeroMQ context, the journal,
 * retry settings and the stop flag. */
#ifndef OMNIBUS_RUNTIME_H
#define OMNIBUS_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Endpoint names carry the generation so that a rebuilt configuration never meets the sockets
 * of the one it replaces. */
#define OMB_ENDPOINT_MAX 160

struct omb_http_ingress;
struct omb_store;

struct omb_runtime {
    void *zctx;                 /* shared ZeroMQ context (thread-safe) */
    unsigned gen;               /* generation of this configuration */
    atomic_bool stopping;       /* ingress is closing */
    int64_t retry_base_ms;      /* first delivery retry delay */
    int64_t retry_max_ms;       /* cap of the exponential backoff */
    struct omb_http_ingress *http; /* the webhook listener (http_ingress.h); owned by daemon.c */
    struct omb_store *store;    /* the journal (store.h); owned by the daemon, outlives this */
    atomic_int_fast64_t store_budget; /* bytes in use past which emit says OMB_EAGAIN; 0: none */
    /* This process is an isolated plugin's child (isolate_child.c): there is no store and no
     * HTTP listener; emits and webhook routes go up the instance's link to the daemon. */
    bool isolated_child;
};

/* "inproc://omb-<gen>-ctl-<instance>" */
void omb_endpoint_ctl(const struct omb_runtime *rt, const char *instance, char *out, size_t len);

#endif /* OMNIBUS_RUNTIME_H */
