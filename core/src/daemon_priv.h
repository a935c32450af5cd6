/* The daemon's state, shared by daemon.c (life cycle, signals, reload) and daemon_admin.c (the
 * admin commands). Daemon thread only. */
#ifndef OMNIBUS_DAEMON_PRIV_H
#define OMNIBUS_DAEMON_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "admin.h"
#include "config.h"
#include "diag.h"
#include "instance.h"
#include "loader.h"
#include "router.h"
#include "runtime.h"
#include "store.h"

/* One running configuration. */
struct generation {
    struct omb_config *cfg; /* owned */
    struct omb_runtime rt;
    struct omb_instance **inst;
    size_t n_inst;
    struct omb_routes *routes; /* owned; the router borrows it */
    struct omb_router *router;
};

struct omb_daemon {
    const char *config_path;   /* borrowed from main */
    void *zctx;
    struct omb_registry *reg;
    struct generation g;
    unsigned gen;              /* generation counter: endpoint names */
    int64_t started_us, loaded_us;
    unsigned reloads;
    char *last_reload_error;   /* NULL after a good reload */
    struct omb_admin *admin;
    struct omb_store *store;   /* the journal, for the daemon's whole life */
    char *store_path;
    int store_lock;            /* flock'ed "<store>.lock": one daemon per store; -1 */
};

/* daemon_store.c: the store's path for cfg (a new string: <store path>, else
 * $OMNIBUS_STATE_DIR/journal.db, else /var/lib/omnibus/journal.db for root, else the XDG state
 * directory), and opening and closing it (errors logged; -1). */
char *omb_daemon_store_path(const struct omb_config *cfg);
int omb_daemon_store_open(struct omb_daemon *d, const struct omb_config *cfg);
void omb_daemon_store_close(struct omb_daemon *d);

/* Reload the config file: on success 0 and *mode "routes" or "restart"; otherwise an error
 * with every problem in diags, and the running configuration stays. */
int omb_daemon_reload(struct omb_daemon *d, struct omb_diags *diags, const char **mode);

/* daemon_dlq.c: the dead-letter commands (dead-letters, dead-letter, replay, edit, drop). True
 * when `cmd` is one of them, with the answer in reply; false for another command. */
/* daemon_snapshot.c: the admin's `snapshot`. */
void omb_daemon_snapshot(struct omb_daemon *d, const json_t *args,
                         struct omb_admin_reply *reply);
bool omb_daemon_dlq_command(struct omb_daemon *d, const char *cmd, const json_t *args,
                            struct omb_admin_reply *reply);
/* The number of dead letters of one destination now (rows in state "dead"), new; null when the
 * store cannot say. */
json_t *omb_daemon_dead_letters(struct omb_daemon *d, const char *destination);

/* daemon_admin.c: an omb_admin_handler_fn over a struct omb_daemon. */
void omb_daemon_admin_handle(void *arg, const char *cmd, const json_t *args,
                             struct omb_admin_reply *reply);

#endif /* OMNIBUS_DAEMON_PRIV_H */
