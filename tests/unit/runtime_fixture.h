/* A running configuration inside a test program, without any .so: three test plugins defined
 * statically (fx_source, fx_sink, fx_probe), a config loaded from XML text with a lookup over
 * them, and the runtime built as core/src/daemon.c's generation_start builds it (instances,
 * routes, router, one thread per instance). Used by router_test.c and instance_test.c.
 *
 * The fixture never counts checks itself (testlib.h's counters are per file): its functions
 * return false and print why, and the tests CHECK their results. */
#ifndef OMNIBUS_RUNTIME_FIXTURE_H
#define OMNIBUS_RUNTIME_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include <omnibus/plugin.h>
#include "config.h"
#include "instance.h"
#include "loader.h"
#include "router.h"
#include "runtime.h"
#include "store.h"

#define FX_SLOTS 8           /* scripts per plugin kind; a connector picks one by option "slot" */
#define FX_DEADLINE_MS 30000 /* how long any wait may take before the test fails */

/* ---- fx_source: emits its script from a 1 ms timer, `batch` events a tick ---- */

struct fx_source {
    pthread_mutex_t lock;
    json_t **ev;        /* events to emit, owned until emitted */
    size_t n, cap;
    size_t next;        /* the first not yet emitted */
    size_t batch;       /* most events a tick (default 64) */
    bool hold;          /* emit nothing while set */
    uint64_t eagain;    /* emit() said OMB_EAGAIN (the event was kept and retried) */
    uint64_t estopped;  /* emit() said OMB_ESTOPPED (the event was kept) */
    uint64_t einval;    /* emit() said OMB_EINVAL (the event was dropped by the plugin) */
    bool einval_kept;   /* after every OMB_EINVAL, the event still had its one reference */
    atomic_int stop_calls, destroy_calls;
};

/* ---- fx_sink: records every deliver() call; the body steers it ----
 *   "fail": N          the first N attempts of this delivery return OMB_ERETRY
 *   "retry_after": ms  ... with res->retry_after_ms = ms
 *   "reject": true     return OMB_EREJECT */

struct fx_call {
    json_t *event; /* a copy of the delivered event */
    int rc;        /* what deliver() returned */
    int64_t at_ms; /* monotonic, when deliver() was called */
};

struct fx_sink {
    pthread_mutex_t lock;
    struct fx_call *calls;
    size_t n_calls, cap;
    size_t n_ok;
    char head[320];     /* route and id of the last call (instance thread only) */
    unsigned attempts;  /* attempts of that delivery so far (instance thread only) */
    atomic_int destroy_calls;
    /* fx_batch (the same sink, with deliver_batch taking at most 3): how many deliveries each
     * call was offered and took, in order (under lock). */
    size_t batch_offered[256], batch_taken[256];
    size_t n_batches;
};

/* ---- fx_probe: exercises timers, metrics, logging and emit from a sink-less, source-less
 * plugin; see instance_test.c for what it does ---- */

struct fx_probe {
    atomic_int created, started, start_calls;
    atomic_int oneshot, interval, cancelled, chained, self_cancel;
    atomic_int log_req;   /* the test sets 1; the probe logs its lines and sets 2 */
    int cancel_rc, cancel_again_rc, null_fn_rc, self_cancel_rc, emit_rc, emit_refs;
    bool stopping_at_start;
    char name[64];        /* host->instance_name() */
    atomic_int destroy_calls;
};

extern struct fx_source fx_src[FX_SLOTS];
extern struct fx_sink fx_snk[FX_SLOTS];
extern struct fx_probe fx_prb[FX_SLOTS];

/* ---- the running configuration ---- */

struct fx_world {
    struct omb_config *cfg;
    struct omb_runtime rt;
    struct omb_instance **inst;
    size_t n_inst;
    struct omb_routes *routes;
    struct omb_router *router;
    unsigned next_version;
    struct omb_store *store;
    char store_path[512];
    bool keep_store; /* fx_stop leaves the journal file for the next world */
};

/* The fixture plugin called `name` ("fx_source", "fx_sink", "fx_probe"; dl is NULL), or NULL. */
const struct omb_plugin *fx_plugin(const char *name);

/* Reset every script and set the daemon-wide log level to INFO. Call before each test. */
void fx_reset(void);

/* Write `xml` (the children of <omnibus>) to a temporary file and load it with a lookup over
 * the fixture plugins. Returns a new config (the caller's) or NULL (the diagnostics printed). */
struct omb_config *fx_config(const char *xml);

/* Load `xml`, open a journal in a new temporary file, build the instances, routes and router,
 * start the router (every destination's consumer) and run every instance. NULL on failure
 * (printed). */
struct fx_world *fx_start(const char *xml);

/* The same over the journal at `store_path` (kept from an earlier world: w->keep_store). */
struct fx_world *fx_start_at(const char *xml, const char *store_path);

/* Build the routes of `cfg` (borrowed; same connectors) with the next version and swap them in
 * as the daemon's reload does; the old table is destroyed. */
bool fx_swap(struct fx_world *w, const struct omb_config *cfg);

/* Stop as generation_stop does: stop the sources, wait for the router's backlog to be 0 (up to
 * drain_ms; returns false when it did not get there), stop the router and the instances, close
 * the journal (and delete it unless keep_store), free it all, terminate the ZeroMQ context.
 * NULL-safe. */
bool fx_stop(struct fx_world *w, int64_t drain_ms);

/* The instance or route of that name (borrowed), or NULL. */
struct omb_instance *fx_inst(struct fx_world *w, const char *name);
struct omb_route_rt *fx_route(struct fx_world *w, const char *name);

/* Append to a source's script; steals `event`. Thread-safe. */
void fx_push(int slot, json_t *event);
/* Append `n` events {"type": type, "key": "k<i % keys>", "body": {"seq": first + i}}. */
void fx_push_seq(int slot, const char *type, size_t first, size_t n, size_t keys);
void fx_hold(int slot, bool hold);
/* True once everything pushed to the source has been emitted (or dropped as invalid). */
bool fx_source_done(int slot);

/* Number of deliver() calls, and of OK ones. Thread-safe. */
size_t fx_calls(int slot);
size_t fx_ok(int slot);
/* A copy of the call list (the events borrowed: valid until the next fx_reset). Free the
 * array. */
struct fx_call *fx_calls_copy(int slot, size_t *n);

/* Poll cond(arg) every 2 ms until it is true or FX_DEADLINE_MS passed (false, and prints
 * "timed out waiting for <what>"). */
bool fx_wait(bool (*cond)(void *arg), void *arg, const char *what);
/* Wait until every source in `slots` (terminated by -1) is done and the backlog is 0. */
bool fx_wait_idle(struct fx_world *w, const int *slots, const char *what);

/* Capture stderr (every thread's) into a temporary file until fx_capture_end, which returns
 * what was written (malloc'd; "" when nothing) or NULL on error. */
struct fx_capture {
    int saved;
    int fd;
};
bool fx_capture_begin(struct fx_capture *c);
char *fx_capture_end(struct fx_capture *c);

/* Convenience for checks on delivered events. */
json_int_t fx_seq(const json_t *event); /* body.seq, or -1 */
const char *fx_str(const json_t *event, const char *member); /* a string member, or "" */

#endif /* OMNIBUS_RUNTIME_FIXTURE_H */
