/* Diagnostics: a list of "FILE:LINE: message" errors and warnings, collected so that a config
 * check can report every error at once. */
#ifndef OMNIBUS_DIAG_H
#define OMNIBUS_DIAG_H

#include <stddef.h>
#include <stdio.h>

enum omb_diag_severity { OMB_DIAG_ERROR = 0, OMB_DIAG_WARNING = 1 };

struct omb_diag_entry {
    enum omb_diag_severity severity;
    char *file; /* owned */
    int line;   /* 0 when unknown */
    char *msg;  /* owned */
};

struct omb_diags {
    struct omb_diag_entry *v;
    size_t n, cap;
    size_t errors;
};

/* Start empty (a zeroed struct is empty too). */
void omb_diags_init(struct omb_diags *d);
/* Free every entry; the struct may be reused. */
void omb_diags_clear(struct omb_diags *d);
/* Append an error / warning. `file` and the message are copied. Never fails loudly: on ENOMEM
 * the entry is dropped but the error count still rises. */
void omb_diags_error(struct omb_diags *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void omb_diags_warning(struct omb_diags *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Print each entry as "FILE:LINE: message" ("FILE:LINE: warning: message"), in order added. */
void omb_diags_print(const struct omb_diags *d, FILE *out);

#endif /* OMNIBUS_DIAG_H */
