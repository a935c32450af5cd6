/* The inside of a pos-file site, shared by posfile_site.c (local directories) and
 * posfile_remote.c (servers over libcurl). */
#ifndef OMNIBUS_CONNECTOR_POSFILE_SITE_H
#define OMNIBUS_CONNECTOR_POSFILE_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "posfile.h"

struct pf_remote;

struct pf_site {
    enum pf_site_kind kind;
    char *dir;   /* local: the directory; remote: the URL's path, "/" terminated */
    char *name;  /* for logs: the directory or the URL without credentials */
    struct pf_remote *remote;
};

int pf_entries_add(struct pf_entry **v, size_t *n, size_t *cap, const char *name, size_t len,
                   int64_t size, int64_t mtime);

/* posfile_remote.c: the same operations over libcurl. */
int pf_remote_open(const struct pf_site_options *o, struct pf_site **out, char *err,
                   size_t errlen);
void pf_remote_free(struct pf_site *s);
int pf_remote_list(struct pf_site *s, bool with_stat, struct pf_entry **out, size_t *n, char *err,
                   size_t errlen);
int pf_remote_fetch(struct pf_site *s, const char *name, int *fd, char *err, size_t errlen);
int pf_remote_move(struct pf_site *s, const char *name, const char *subdir, char *err,
                   size_t errlen);
/* Upload fd (from offset 0) or p/len as subdir/name (subdir may be NULL) atomically. */
int pf_remote_put(struct pf_site *s, const char *subdir, const char *name, int fd, const void *p,
                  size_t len, char *err, size_t errlen);
int pf_remote_remove(struct pf_site *s, const char *name, char *err, size_t errlen);

#endif /* OMNIBUS_CONNECTOR_POSFILE_SITE_H */
