/* The daemon's store: where it lives, one daemon per store, opening it with the config's
 * group-commit settings. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_priv.h"
#include "log.h"

/* mkdir -p of the directories above `path`, mode 0700 for those it creates. */
static int make_parents(const char *path)
{
    char *dir = strdup(path);
    if (!dir) {
        return -1;
    }
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            free(dir);
            return -1;
        }
        *p = '/';
    }
    free(dir);
    return 0;
}

char *omb_daemon_store_path(const struct omb_config *cfg)
{
    char *path = NULL;
    if (cfg->store_path) {
        return strdup(cfg->store_path);
    }
    const char *dir = getenv("OMNIBUS_STATE_DIR");
    if (dir && dir[0]) {
        return asprintf(&path, "%s/journal.db", dir) < 0 ? NULL : path;
    }
    if (geteuid() == 0) {
        return strdup("/var/lib/omnibus/journal.db");
    }
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && xdg[0] == '/') {
        return asprintf(&path, "%s/omnibus/journal.db", xdg) < 0 ? NULL : path;
    }
    const char *home = getenv("HOME");
    if (asprintf(&path, "%s/.local/state/omnibus/journal.db", home && home[0] ? home : ".") < 0) {
        return NULL;
    }
    return path;
}

int omb_daemon_store_open(struct omb_daemon *d, const struct omb_config *cfg)
{
    char err[512];
    d->store_path = omb_daemon_store_path(cfg);
    if (!d->store_path) {
        omb_log(OMB_LOG_ERROR, "store", "out of memory");
        return -1;
    }
    if (make_parents(d->store_path) != 0) {
        omb_log(OMB_LOG_ERROR, "store", "%s: cannot create its directory: %s", d->store_path,
                strerror(errno));
        return -1;
    }
    /* SQLite serialises writers but would let two daemons consume one journal twice. */
    char *lock_path = NULL;
    if (asprintf(&lock_path, "%s.lock", d->store_path) < 0) {
        return -1;
    }
    d->store_lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->store_lock < 0 || flock(d->store_lock, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        omb_log(OMB_LOG_ERROR, "store", "%s: %s", d->store_path,
                e == EWOULDBLOCK ? "in use by another omnibusd (one daemon per store)"
                                 : strerror(e));
        free(lock_path);
        return -1;
    }
    free(lock_path);
    struct omb_store_opts opts = {
        .group_max = cfg->store_group_max > 0 ? (size_t)cfg->store_group_max : 0,
        .group_wait_us = cfg->store_group_wait_us >= 0
                             ? (cfg->store_group_wait_us == 0 ? -1 : cfg->store_group_wait_us)
                             : 0,
    };
    d->store = omb_store_open(d->store_path, &opts, err, sizeof(err));
    if (!d->store) {
        omb_log(OMB_LOG_ERROR, "store", "%s", err);
        return -1;
    }
    omb_log(OMB_LOG_INFO, "store", "journal %s (last seq %lld)", d->store_path,
            (long long)omb_store_last_seq(d->store));
    return 0;
}

void omb_daemon_store_close(struct omb_daemon *d)
{
    omb_store_close(&d->store);
    if (d->store_lock >= 0) {
        close(d->store_lock); /* releases the lock */
        d->store_lock = -1;
    }
    free(d->store_path);
    d->store_path = NULL;
}
