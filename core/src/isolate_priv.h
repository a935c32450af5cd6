/* The inside of the daemon's side of an isolated plugin, shared by isolate.c (the child's
 * life: spawn, deadlines, reaping, restarts) and isolate_relay.c (what the child sends: emits
 * to the journal, webhook paths and answers, metrics). Nothing else includes this. */
#ifndef OMNIBUS_ISOLATE_PRIV_H
#define OMNIBUS_ISOLATE_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include <omnibus/host.h>
#include "isolate.h"
#include "isolate_link.h"

#define RESTART_MAX_MS 60000     /* the restart backoff's cap */
#define HEALTHY_AFTER_MS 60000   /* a child up this long (or one delivery that succeeds)
                                  * resets the backoff */
#define HELLO_MIN_MS 10000       /* at least this long for a child to start and create() */
#define TICK_MS 1000             /* pings, metrics, the log level */
#define HELD_RETRY_MS 20         /* emits the journal refused for now (OMB_EAGAIN) */
#define LINK_HWM 100000

/* An emit the journal said OMB_EAGAIN to, kept in order until it takes it. */
struct held {
    struct held *next;
    unsigned gen;
    uint64_t token;
    struct omb_emit_scope *scope;
    json_t *env;
    char *body;
    size_t body_len;
};

struct omb_isolate {
    struct omb_instance *inst; /* borrowed: it owns us */
    char *plugin_path;
    char *config_file;
    json_t *connector; /* the <connector> for the child (secrets as written: env:/file:) */
    int64_t deadline_ms;
    char dir[64];      /* a private directory for the ipc endpoints, "" until made */

    /* The current child. */
    bool alive;
    pid_t pid;
    int exit_fd;       /* the death pipe's read end: end-of-file when the child has ended */
    void *sock;
    unsigned gen;      /* counts children: acks for an earlier one are dropped */
    int64_t spawned_at;
    int child_state;
    bool stopped;      /* stop() was called: a new child stops its sources at once */

    unsigned failures; /* in a row, for the backoff */
    uint64_t restart_timer;
    bool restart_armed;
    int64_t restart_due;
    uint64_t tick_timer;
    int64_t ping_sent_at; /* 0: none outstanding */
    int64_t last_ping;
    int sent_level;

    struct held *held, *held_tail;
    bool held_armed;

    char **routes;     /* webhook suffixes registered for the child */
    size_t n_routes;
    json_t *reply;     /* the last webhook answer (res points into it until the next) */
    char *reply_body;
    json_t *seen;      /* counters as the current child last reported them */

    pthread_mutex_t mu; /* guards the status fields below */
    pid_t st_pid;
    unsigned restarts;
    char last_failure[256];
    int64_t last_failure_at;
    int st_child_state;
};

/* isolate.c */
const struct omb_host_api *iso_host(void);
/* The current child failed (`why`): kill it, reap it, arm its restart. */
void iso_child_gone(struct omb_isolate *iso, const char *why);
/* Wait for the child's `verb` (or `alt`) until deadline (monotonic ms), handling what else it
 * sends: 0 with the message in *out, OMB_ETIMEOUT, or OMB_EIO (the child died: reaped). */
int iso_await(struct omb_isolate *iso, const char *verb, const char *alt, int64_t deadline,
              struct iso_msg *out);

/* isolate_relay.c */
/* One message from the child that nobody waits for: an emit, a webhook path, metrics... */
void iso_handle(struct omb_isolate *iso, struct iso_msg *m);
/* The instance's loop: the link is readable. */
void iso_on_link(struct omb_instance *inst, void *arg);
/* Journal the emits held back by OMB_EAGAIN, in order, as far as the journal takes them. */
void iso_retry_held(struct omb_isolate *iso);
/* Give up the held emits (the instance is going): counted as lost. */
void iso_drop_held(struct omb_isolate *iso);

#endif /* OMNIBUS_ISOLATE_PRIV_H */
