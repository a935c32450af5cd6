/* Shared between the harness's own files (harness.c, harness_options.c, harness_files.c). */
#ifndef OMNIBUS_TESTS_HARNESS_PRIV_H
#define OMNIBUS_TESTS_HARNESS_PRIV_H

#include "harness.h"

/* Parse value (config text) for option row o and store it in ctx at o->offset, freeing what was
 * there (a MULTI list appends). 0 or OMB_EINVAL with a message on stderr. */
int harness_option_store(const struct omb_option *o, void *ctx, const char *value);
/* Free the value stored for row o in ctx (strings, lists) and zero it. */
void harness_option_free(const struct omb_option *o, void *ctx);

/* malloc and friends that abort on ENOMEM (tests only). */
void *harness_xrealloc(void *p, size_t n);
char *harness_xstrdup(const char *s);

#endif /* OMNIBUS_TESTS_HARNESS_PRIV_H */
