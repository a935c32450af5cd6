/* The harness's file helpers: temporary directories, whole-file reads and writes. */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness_priv.h"

char *harness_path(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    va_end(ap);
    return s;
}

static int mkdir_p(const char *path)
{
    char *p = harness_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            (void)mkdir(p, 0755);
            *s = '/';
        }
    }
    int rc = mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1;
    free(p);
    return rc;
}

char *harness_tmpdir(const char *test)
{
    const char *top = getenv("top_builddir");
    char *dir = harness_path("%s/tests/tmp/%s", top ? top : ".", test);
    if (harness_rm_rf(dir) != 0 || mkdir_p(dir) != 0) {
        fprintf(stderr, "harness: cannot make %s: %s\n", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

int harness_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    if (fclose(f) != 0) {
        rc = -1;
    }
    return rc;
}

char *harness_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            buf = harness_xrealloc(buf, cap);
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf) {
        buf = harness_xrealloc(NULL, 1);
    }
    buf[len] = '\0';
    return buf;
}

bool harness_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int harness_rm_rf(const char *path)
{
    if (!harness_exists(path)) {
        return 0;
    }
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

bool harness_options_documented(const struct harness *h, const char *doc_path)
{
    char *doc = harness_read_file(doc_path);
    bool ok = doc != NULL;
    if (!doc) {
        fprintf(stderr, "harness: cannot read %s\n", doc_path);
        return false;
    }
    for (const struct omb_option *o = harness_descriptor(h)->options; o && o->name; o++) {
        char *needle = harness_path("`%s`", o->name);
        if (!strstr(doc, needle)) {
            fprintf(stderr, "harness: %s does not document option %s\n", doc_path, o->name);
            ok = false;
        }
        if (!o->doc || !o->doc[0]) {
            fprintf(stderr, "harness: option %s has no doc line\n", o->name);
            ok = false;
        }
        free(needle);
    }
    free(doc);
    return ok;
}
