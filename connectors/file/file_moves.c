/* The file connector's source: moving files out of the drop directory (to done-dir, or to
 * error-dir with a .err sidecar), and the files that cannot be moved, skipped until they change. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* ---- files that cannot be moved --------------------------------------------------------- */

struct file_skip *file_skip_find(struct file_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->nskip; i++) {
        if (strcmp(c->skip[i].name, name) == 0) {
            return &c->skip[i];
        }
    }
    return NULL;
}

bool file_skip_same(const struct file_skip *s, const struct stat *st)
{
    return s->ino == st->st_ino && s->size == st->st_size &&
           s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

void file_skip_remove(struct file_ctx *c, size_t i)
{
    free(c->skip[i].name);
    c->skip[i] = c->skip[--c->nskip];
}

/* Remember that dir/name cannot be moved, so that the scan passes over it until it changes. */
void file_skip_add(struct file_ctx *c, const char *name)
{
    char *path = NULL;
    struct stat st;
    if (asprintf(&path, "%s/%s", c->dir, name) < 0) {
        return;
    }
    int rc = stat(path, &st);
    free(path);
    if (rc != 0) {
        return; /* gone: nothing to skip */
    }
    struct file_skip *s = file_skip_find(c, name);
    if (!s) {
        if (c->nskip == c->skipcap) {
            size_t cap = c->skipcap ? c->skipcap * 2 : 8;
            struct file_skip *v = realloc(c->skip, cap * sizeof(*v));
            if (!v) {
                return;
            }
            c->skip = v;
            c->skipcap = cap;
        }
        char *dup = strdup(name);
        if (!dup) {
            return;
        }
        s = &c->skip[c->nskip++];
        s->name = dup;
    }
    s->ino = st.st_ino;
    s->size = st.st_size;
    s->mtime = st.st_mtim;
    s->seen = true;
}

/* ---- moving ------------------------------------------------------------------------------- */

static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        return -1;
    }
    /* A file system without RENAME_NOREPLACE: check, then rename (racy, but only we move). */
    struct stat st;
    if (lstat(to, &st) == 0) {
        errno = EEXIST;
        return -1;
    }
    return rename(from, to);
}

/* Move dir/name into destdir, as destdir/name or, when that exists, destdir/name.1, .2, ...
 * Returns 0 and the new path in *moved (new), or -1 with errno. */
int file_move(struct file_ctx *c, const char *name, const char *destdir, char **moved)
{
    char *from = NULL;
    char *to = NULL;
    int rc = -1;
    *moved = NULL;
    if (asprintf(&from, "%s/%s", c->dir, name) < 0) {
        from = NULL;
        errno = ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < 1000; i++) {
        int n = i == 0 ? asprintf(&to, "%s/%s", destdir, name)
                       : asprintf(&to, "%s/%s.%u", destdir, name, i);
        if (n < 0) {
            to = NULL;
            errno = ENOMEM;
            goto out;
        }
        if (rename_noreplace(from, to) == 0) {
            *moved = to;
            to = NULL;
            rc = 0;
            goto out;
        }
        if (errno != EEXIST && errno != ENOTEMPTY) {
            goto out;
        }
        free(to);
        to = NULL;
    }
    errno = EEXIST;
out:;
    int saved = errno;
    free(from);
    free(to);
    errno = saved;
    return rc;
}

/* Move a bad file to error-dir with a sidecar <moved>.err holding report, and log one error
 * saying `what` happened. When it cannot be moved, log once and skip it until it changes. */
void file_reject(struct file_ctx *c, const char *name, const char *what, const char *report)
{
    char *moved = NULL;
    char *sidecar = NULL;
    FILE *f = NULL;

    if (file_move(c, name, c->error_path, &moved) != 0) {
        c->host->log(c->self, OMB_LOG_ERROR,
                     "%s/%s: %s, and it cannot be moved to %s: %s; skipping it until it changes",
                     c->dir, name, what, c->error_path, strerror(errno));
        file_skip_add(c, name);
        goto out;
    }
    c->host->metric_counter_add(c->self, "files_error", 1);
    if (asprintf(&sidecar, "%s.err", moved) < 0) {
        sidecar = NULL;
        c->host->log(c->self, OMB_LOG_ERROR, "%s/%s: %s; moved to %s (no memory for the .err)",
                     c->dir, name, what, moved);
        goto out;
    }
    f = fopen(sidecar, "we");
    if (!f || fputs(report, f) == EOF || fclose(f) != 0) {
        int e = errno;
        c->host->log(c->self, OMB_LOG_ERROR, "%s/%s: %s; moved to %s, but %s%s: %s", c->dir,
                     name, what, moved, f ? "writing " : "", sidecar, strerror(e));
        f = NULL;
        goto out;
    }
    f = NULL;
    c->host->log(c->self, OMB_LOG_ERROR, "%s/%s: %s; moved to %s (see %s)", c->dir, name, what,
                 moved, sidecar);
out:
    free(moved);
    free(sidecar);
}

