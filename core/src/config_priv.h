/* Internals of the config loader (config.c): the structural check against the embedded RelaxNG
 * schema (config_schema.c) and the semantic checks (config_check.c). */
#ifndef OMNIBUS_CONFIG_PRIV_H
#define OMNIBUS_CONFIG_PRIV_H

#include <stddef.h>
#include <libxml/tree.h>

#include "config.h"
#include "diag.h"

#define OMB_CONFIG_NS "urn:omnibus:config:1"

/* config/omnibus.rng, generated into the build tree by tools/embed-file.sh. */
extern const unsigned char omb_config_rng[];
extern const size_t omb_config_rng_len;

/* Check doc (borrowed) against the schema. Returns 0 when it is valid, OMB_EINVAL with every
 * violation in diags as `file`:LINE (sorted by line), or OMB_ENOMEM. The caller has already
 * routed libxml2's error output away from stderr. */
int omb_config_schema_check(xmlDoc *doc, const char *file, struct omb_diags *diags);

/* Append src's entries to dst ordered by line (entries of one line keep their order), then
 * clear src. */
void omb_config_diags_move_sorted(struct omb_diags *dst, struct omb_diags *src);

/* The checks a schema cannot make (see omb_config_load in config.h), each error added to diags.
 * Returns 0 when there was none, OMB_EINVAL otherwise, OMB_ENOMEM. */
int omb_config_check(const struct omb_config *cfg, omb_plugin_lookup_fn lookup,
                     void *lookup_arg, struct omb_diags *diags);

#endif /* OMNIBUS_CONFIG_PRIV_H */
