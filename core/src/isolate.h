/* Plugin isolation: <connector isolate="process"> runs the plugin in a supervised child process
 * (omnibusd --isolated-child ENDPOINT), linked to the daemon by a ZeroMQ PAIR socket over ipc://
 * that carries the bus's own frames (a route, the envelope, the body) and a few control verbs
 * (docs/architecture.md, "Isolated plugins"). A plugin crashing, aborting or hanging there takes
 * only its child down: the daemon notices (the child's death pipe, or no answer within the
 * connector's deliver-timeout to a delivery, a webhook or a ping), kills and reaps it, retries
 * the delivery that was in flight like any other failed attempt, and starts a new child with
 * backoff.
 *
 * Two sides:
 *   isolate.c        the daemon's: an instance whose iso is set calls omb_isolate_* instead of
 *                    the plugin's callbacks, on the instance's thread;
 *   isolate_child.c  the child's: one instance of the plugin, whose emits and webhook routes go
 *                    up the link (omb_isolate_uplink_*), and the loop that answers the daemon.
 */
#ifndef OMNIBUS_ISOLATE_H
#define OMNIBUS_ISOLATE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include <omnibus/http.h>
#include <omnibus/plugin.h>
#include "config.h"

/* In the child, the write end of its death pipe (isolate.c): never closed while it lives. */
#define ISO_DEATH_FD 3

struct omb_instance;
struct omb_isolate;

/* ---- the daemon's side (isolate.c); all but new/free/status on the instance's thread ---- */

/* The supervisor of `inst` (borrowed; it owns the result, in inst->iso) for connector `cc`,
 * whose plugin is the .so at plugin_path, read from config_file. No process yet. NULL: ENOMEM. */
struct omb_isolate *omb_isolate_new(struct omb_instance *inst,
                                    const struct omb_config_connector *cc,
                                    const char *plugin_path, const char *config_file);
/* In place of create(): start the first child and wait until the plugin's create() ran there.
 * The error create() returned in the child, if it returned one; 0 also when the child died or
 * could not be started (it is restarted with backoff). */
int omb_isolate_create(struct omb_isolate *iso);
/* In place of start(): 0 (the child retries the plugin's start() itself). */
int omb_isolate_start(struct omb_isolate *iso);
/* In place of deliver_raw(): the child's answer, or OMB_ERETRY when it crashed, hung (killed
 * after deliver-timeout) or is being restarted, with the reason and the restart's delay. */
int omb_isolate_deliver(struct omb_isolate *iso, const struct omb_raw_event *event,
                        struct omb_deliver_result *res);
/* In place of stop(): the plugin's stop() in the child; a child restarted later stops at once. */
int omb_isolate_stop(struct omb_isolate *iso);
/* In place of destroy(): end the child (its destroy() runs there), killing it if it does not
 * end within deliver-timeout. */
void omb_isolate_destroy(struct omb_isolate *iso);
/* Free the supervisor (after the instance's thread has ended); NULL-safe, sets *isop to NULL. */
void omb_isolate_free(struct omb_isolate **isop);
/* {"mode":"process","pid":N|null,"restarts":N,"last_failure":S|null,
 *  "last_failure_at":"RFC 3339"|null,"child_state":S}: a new object, any thread. */
json_t *omb_isolate_status(const struct omb_isolate *iso);

/* ---- the child's side (isolate_child.c), on the child instance's thread ---- */

/* omnibusd --isolated-child ENDPOINT: connect to the daemon, take the connector it describes,
 * run the plugin until told to exit. The process's exit status. */
int omb_isolate_child_main(const char *endpoint);
/* The child's journal_append: send the sealed frames to the daemon; ack(arg, 0, rc) runs on
 * this thread once the daemon's journal commit is done or failed (NULL ack: a failure is only
 * logged). 0, or OMB_EAGAIN when too many emits await their acknowledgement. */
int omb_isolate_uplink_emit(struct omb_instance *inst, const char *env, size_t env_len,
                            const char *body, size_t body_len,
                            void (*ack)(void *arg, int64_t seq, int rc), void *arg);
/* The child's http_route_add: remember fn for `suffix` and ask the daemon to serve it. */
int omb_isolate_uplink_route(struct omb_instance *inst, const char *suffix, omb_http_fn fn,
                             void *arg);

/* The child's state_get and state_put: asked of the daemon over the link, waited for (what
 * else comes meanwhile is handled after). As the host functions (omnibus/host.h); text is the
 * value's JSON text, NULL to delete. */
json_t *omb_isolate_uplink_state_get(struct omb_instance *inst, const char *key);
int omb_isolate_uplink_state_put(struct omb_instance *inst, const char *key, const char *text,
                                 size_t len);

#endif /* OMNIBUS_ISOLATE_H */
