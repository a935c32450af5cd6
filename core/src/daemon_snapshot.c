/* The admin's `snapshot` (docs/admin-protocol.md): ask a connector with the snapshot capability
 * (ABI 1.3) what its system holds now for some SKUs. The call runs on the connector's thread,
 * between deliveries; the admin waits for it, at most SNAPSHOT_WAIT_MS. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_priv.h"
#include "instance.h"

#define SNAPSHOT_WAIT_MS 60000
#define SNAPSHOT_SKUS_MAX 10000

/* Shared by the admin (waiting) and the instance's task: the last to let go frees it. */
struct snap_call {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    json_t *request; /* owned */
    json_t *result;  /* owned until taken */
    int rc;
    char err[512];
};

static void call_release(struct snap_call *sc)
{
    if (atomic_fetch_sub(&sc->refs, 1) == 1) {
        json_decref(sc->request);
        json_decref(sc->result);
        pthread_cond_destroy(&sc->cv);
        pthread_mutex_destroy(&sc->mu);
        free(sc);
    }
}

/* On the instance's thread. */
static void run_snapshot(struct omb_instance *inst, void *arg)
{
    struct snap_call *sc = arg;
    const struct omb_plugin_descriptor *desc = omb_instance_descriptor(inst);
    json_t *result = NULL;
    char err[512] = "";
    int rc;
    if (omb_instance_state(inst) != OMB_INSTANCE_RUNNING) {
        rc = OMB_ERETRY;
        snprintf(err, sizeof(err), "the connector is %s",
                 omb_instance_state_name(omb_instance_state(inst)));
    } else {
        rc = desc->snapshot(omb_instance_ctx(inst), sc->request, &result, err, sizeof(err));
        if (rc == 0 && !json_is_object(result)) {
            rc = OMB_EINVAL;
            snprintf(err, sizeof(err), "the plugin answered no object");
        }
    }
    pthread_mutex_lock(&sc->mu);
    sc->rc = rc;
    sc->result = rc == 0 ? result : NULL;
    if (rc != 0) {
        json_decref(result);
    }
    err[sizeof(err) - 1] = '\0';
    snprintf(sc->err, sizeof(sc->err), "%s", err);
    sc->done = true;
    pthread_cond_signal(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
    call_release(sc);
}

static bool strings(const json_t *a, size_t max)
{
    size_t i;
    const json_t *v;
    if (!json_is_array(a) || json_array_size(a) > max) {
        return false;
    }
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            return false;
        }
    }
    return true;
}

static void fail(struct omb_admin_reply *reply, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct omb_admin_reply *reply, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply->code = code;
    vsnprintf(reply->message, sizeof(reply->message), fmt, ap);
    va_end(ap);
}

void omb_daemon_snapshot(struct omb_daemon *d, const json_t *args, struct omb_admin_reply *reply)
{
    const char *name = json_string_value(json_object_get(args, "connector"));
    const char *what = json_string_value(json_object_get(args, "what"));
    const json_t *skus = json_object_get(args, "skus");
    const json_t *locations = json_object_get(args, "locations");
    if (!name || !what || (strcmp(what, "stock") != 0 && strcmp(what, "price") != 0) ||
        !strings(skus, SNAPSHOT_SKUS_MAX) || json_array_size(skus) == 0 ||
        (locations && !strings(locations, 1000))) {
        fail(reply, "bad_request", "snapshot takes {\"connector\": NAME, \"what\": \"stock\" or "
             "\"price\", \"skus\": [1-%d SKUs], \"locations\": [optional]}", SNAPSHOT_SKUS_MAX);
        return;
    }
    struct omb_instance *inst = NULL;
    for (size_t i = 0; i < d->g.n_inst && !inst; i++) {
        if (strcmp(omb_instance_name(d->g.inst[i]), name) == 0) {
            inst = d->g.inst[i];
        }
    }
    if (!inst) {
        fail(reply, "not_found", "no connector named '%s'", name);
        return;
    }
    const struct omb_plugin_descriptor *desc = omb_instance_descriptor(inst);
    if (!(desc->capabilities & OMB_CAP_SNAPSHOT) || desc->abi_minor < 3 || !desc->snapshot) {
        fail(reply, "unsupported", "connector '%s' (plugin %s) cannot read back its system: "
             "it has no snapshot capability", name, desc->name);
        return;
    }
    json_t *iso = omb_instance_isolation(inst);
    if (iso) {
        json_decref(iso);
        fail(reply, "unsupported", "connector '%s' runs isolated: snapshots do not cross the "
             "link to its process yet", name);
        return;
    }
    struct snap_call *sc = calloc(1, sizeof(*sc));
    if (!sc) {
        return; /* "out of memory" from the caller */
    }
    atomic_init(&sc->refs, 2);
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cv, NULL);
    sc->request = json_pack("{s:s, s:O}", "what", what, "skus", skus);
    if (sc->request && locations) {
        json_object_set(sc->request, "locations", (json_t *)locations);
    }
    if (!sc->request || omb_instance_post(inst, run_snapshot, sc) != 0) {
        fail(reply, "unavailable", "connector '%s' is not running", name);
        call_release(sc);
        call_release(sc);
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SNAPSHOT_WAIT_MS / 1000;
    pthread_mutex_lock(&sc->mu);
    int wrc = 0;
    while (!sc->done && wrc != ETIMEDOUT) {
        wrc = pthread_cond_timedwait(&sc->cv, &sc->mu, &until);
    }
    if (!sc->done) {
        fail(reply, "timeout", "connector '%s' did not answer within %d s", name,
             SNAPSHOT_WAIT_MS / 1000);
    } else if (sc->rc != 0) {
        fail(reply, sc->rc == OMB_ERETRY ? "unavailable" : "failed", "connector '%s': %s", name,
             sc->err[0] ? sc->err : "snapshot failed");
    } else {
        reply->result = sc->result;
        sc->result = NULL;
        json_object_set_new(reply->result, "connector", json_string(name));
        json_object_set_new(reply->result, "what", json_string(what));
    }
    pthread_mutex_unlock(&sc->mu);
    call_release(sc);
}
