/* Where a pos-file connector's files are (posfile.h): the shared part and a local directory.
 * A server (ftp, ftps, sftp) is posfile_remote.c's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posfile.h"
#include "posfile_site.h"

#define COPY_CHUNK 65536

void pf_entries_free(struct pf_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
    }
    free(v);
}

int pf_entries_add(struct pf_entry **v, size_t *n, size_t *cap, const char *name, size_t len,
                   int64_t size, int64_t mtime)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        struct pf_entry *nv = realloc(*v, c * sizeof(*nv));
        if (!nv) {
            return OMB_ENOMEM;
        }
        *v = nv;
        *cap = c;
    }
    char *copy = strndup(name, len);
    if (!copy) {
        return OMB_ENOMEM;
    }
    (*v)[(*n)++] = (struct pf_entry){ .name = copy, .size = size, .mtime = mtime };
    return 0;
}

int pf_site_open(const struct pf_site_options *o, struct pf_site **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o->location || !*o->location) {
        snprintf(err, errlen, "no location given");
        return OMB_EINVAL;
    }
    if (strstr(o->location, "://")) {
        return pf_remote_open(o, out, err, errlen);
    }
    struct pf_site *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(o->location)) || !(s->name = strdup(o->location))) {
        pf_site_close(&s);
        snprintf(err, errlen, "out of memory");
        return OMB_ENOMEM;
    }
    s->kind = PF_SITE_LOCAL;
    *out = s;
    return 0;
}

void pf_site_close(struct pf_site **sp)
{
    if (!sp || !*sp) {
        return;
    }
    struct pf_site *s = *sp;
    pf_remote_free(s);
    free(s->dir);
    free(s->name);
    free(s);
    *sp = NULL;
}

enum pf_site_kind pf_site_kind(const struct pf_site *s)
{
    return s->kind;
}

const char *pf_site_name(const struct pf_site *s)
{
    return s->name;
}

static char *path_of(const struct pf_site *s, const char *subdir, const char *name)
{
    char *p = NULL;
    int n = subdir ? asprintf(&p, "%s/%s/%s", s->dir, subdir, name)
                   : asprintf(&p, "%s/%s", s->dir, name);
    return n < 0 ? NULL : p;
}

static int io_error(char *err, size_t errlen, const char *what, const char *path)
{
    int e = errno;
    snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
    /* A missing or forbidden directory will not mend itself by retrying soon; the rest may. */
    return e == ENOENT || e == EACCES || e == ENOTDIR || e == EPERM ? OMB_EREJECT : OMB_ERETRY;
}

int pf_site_list(struct pf_site *s, bool with_stat, struct pf_entry **out, size_t *n, char *err,
                 size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (s->kind != PF_SITE_LOCAL) {
        return pf_remote_list(s, with_stat, out, n, err, errlen);
    }
    DIR *d = opendir(s->dir);
    if (!d) {
        return io_error(err, errlen, "cannot list", s->dir);
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        rc = pf_entries_add(out, n, &cap, e->d_name, strlen(e->d_name), (int64_t)st.st_size,
                            (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
    }
    closedir(d);
    if (rc != 0) {
        pf_entries_free(*out, *n);
        *out = NULL;
        *n = 0;
        snprintf(err, errlen, "out of memory");
    }
    return rc;
}

int pf_site_fetch(struct pf_site *s, const char *name, int *fd, char *err, size_t errlen)
{
    if (s->kind != PF_SITE_LOCAL) {
        return pf_remote_fetch(s, name, fd, err, errlen);
    }
    char *path = path_of(s, NULL, name);
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return OMB_ENOMEM;
    }
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = *fd < 0 ? io_error(err, errlen, "cannot open", path) : 0;
    free(path);
    return rc;
}

static int make_subdir(const struct pf_site *s, const char *subdir, char *err, size_t errlen)
{
    char *path = path_of(s, NULL, subdir);
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return OMB_ENOMEM;
    }
    int rc = mkdir(path, 0755) != 0 && errno != EEXIST ? io_error(err, errlen, "cannot create",
                                                                   path)
                                                        : 0;
    free(path);
    return rc;
}

int pf_site_move(struct pf_site *s, const char *name, const char *subdir, char *err,
                 size_t errlen)
{
    if (s->kind != PF_SITE_LOCAL) {
        return pf_remote_move(s, name, subdir, err, errlen);
    }
    int rc = make_subdir(s, subdir, err, errlen);
    char *from = rc == 0 ? path_of(s, NULL, name) : NULL;
    if (rc != 0 || !from) {
        return rc ? rc : OMB_ENOMEM;
    }
    char *to = NULL;
    /* Never overwrite what an earlier file of the same name left there. */
    for (unsigned k = 0; k < 1000 && rc == 0; k++) {
        free(to);
        to = NULL;
        char *dest = NULL;
        if ((k == 0 ? asprintf(&dest, "%s/%s", subdir, name)
                    : asprintf(&dest, "%s/%s.%u", subdir, name, k)) < 0) {
            rc = OMB_ENOMEM;
            break;
        }
        to = path_of(s, NULL, dest);
        free(dest);
        if (!to) {
            rc = OMB_ENOMEM;
            break;
        }
        if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
            break;
        }
        if (errno != EEXIST) {
            rc = io_error(err, errlen, "cannot move", from);
        }
    }
    free(from);
    free(to);
    return rc;
}

/* Copy fd (from offset 0) or p/len into a new file at path, flushed to disk. */
static int write_file(const char *path, int fd, const void *p, size_t len, char *err,
                      size_t errlen)
{
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        return io_error(err, errlen, "cannot create", path);
    }
    int rc = 0;
    if (fd >= 0) {
        char buf[COPY_CHUNK];
        ssize_t r;
        if (lseek(fd, 0, SEEK_SET) < 0) {
            rc = io_error(err, errlen, "cannot rewind for", path);
        }
        while (rc == 0 && (r = read(fd, buf, sizeof(buf))) > 0) {
            if (write(out, buf, (size_t)r) != r) {
                rc = io_error(err, errlen, "cannot write", path);
            }
        }
    } else if (len > 0 && write(out, p, len) != (ssize_t)len) {
        rc = io_error(err, errlen, "cannot write", path);
    }
    if (rc == 0 && fdatasync(out) != 0) {
        rc = io_error(err, errlen, "cannot flush", path);
    }
    close(out);
    return rc;
}

static int put_local(struct pf_site *s, const char *subdir, const char *name, int fd,
                     const void *p, size_t len, char *err, size_t errlen)
{
    int rc = subdir ? make_subdir(s, subdir, err, errlen) : 0;
    char *tmpname = NULL;
    if (rc != 0) {
        return rc;
    }
    if (asprintf(&tmpname, ".%s.tmp", name) < 0) {
        return OMB_ENOMEM;
    }
    char *tmp = path_of(s, subdir, tmpname);
    char *final = path_of(s, subdir, name);
    free(tmpname);
    if (!tmp || !final) {
        rc = OMB_ENOMEM;
    } else if ((rc = write_file(tmp, fd, p, len, err, errlen)) == 0 && rename(tmp, final) != 0) {
        rc = io_error(err, errlen, "cannot rename into place", final);
    }
    if (rc != 0 && tmp) {
        unlink(tmp);
    }
    free(tmp);
    free(final);
    return rc;
}

int pf_site_put(struct pf_site *s, const char *name, int fd, char *err, size_t errlen)
{
    if (s->kind != PF_SITE_LOCAL) {
        return pf_remote_put(s, NULL, name, fd, NULL, 0, err, errlen);
    }
    return put_local(s, NULL, name, fd, NULL, 0, err, errlen);
}

int pf_site_put_bytes(struct pf_site *s, const char *subdir, const char *name, const void *p,
                      size_t len, char *err, size_t errlen)
{
    if (s->kind != PF_SITE_LOCAL) {
        return pf_remote_put(s, subdir, name, -1, p, len, err, errlen);
    }
    return put_local(s, subdir, name, -1, p, len, err, errlen);
}

int pf_site_remove(struct pf_site *s, const char *name, char *err, size_t errlen)
{
    if (s->kind != PF_SITE_LOCAL) {
        return pf_remote_remove(s, name, err, errlen);
    }
    char *path = path_of(s, NULL, name);
    if (!path) {
        return OMB_ENOMEM;
    }
    int rc = unlink(path) != 0 && errno != ENOENT ? io_error(err, errlen, "cannot remove", path)
                                                  : 0;
    free(path);
    return rc;
}
