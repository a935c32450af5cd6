/* Diagnostics list. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

void omb_diags_init(struct omb_diags *d)
{
    memset(d, 0, sizeof(*d));
}

void omb_diags_clear(struct omb_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}

static void add(struct omb_diags *d, enum omb_diag_severity sev, const char *file, int line,
                const char *fmt, va_list ap)
{
    if (sev == OMB_DIAG_ERROR) {
        d->errors++;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct omb_diag_entry *v = realloc(d->v, cap * sizeof(*v));
        if (!v) {
            return;
        }
        d->v = v;
        d->cap = cap;
    }
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) {
        return;
    }
    char *f = strdup(file ? file : "");
    if (!f) {
        free(msg);
        return;
    }
    d->v[d->n++] = (struct omb_diag_entry){ .severity = sev, .file = f, .line = line, .msg = msg };
}

void omb_diags_error(struct omb_diags *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, OMB_DIAG_ERROR, file, line, fmt, ap);
    va_end(ap);
}

void omb_diags_warning(struct omb_diags *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, OMB_DIAG_WARNING, file, line, fmt, ap);
    va_end(ap);
}

void omb_diags_print(const struct omb_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct omb_diag_entry *e = &d->v[i];
        fprintf(out, "%s:%d: %s%s\n", e->file, e->line,
                e->severity == OMB_DIAG_WARNING ? "warning: " : "", e->msg);
    }
}
