/* Plugin options: validate a connector's <option>s against its plugin's option table, fill the
 * plugin's context struct, and render the table as documentation. */
#ifndef OMNIBUS_CORE_OPTIONS_H
#define OMNIBUS_CORE_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include <omnibus/plugin.h>
#include "config.h"
#include "diag.h"

/* Check cc's options against desc->options and build the plugin's context: a zeroed block of
 * desc->ctx_size bytes with every option stored at its offset (see omnibus/options.h), secrets
 * resolved. On success returns 0 and *ctx_out (free with omb_options_free). On failure returns
 * OMB_EINVAL with every error in diags as `file`:LINE, and *ctx_out is NULL. */
int omb_options_apply(const struct omb_plugin_descriptor *desc,
                      const struct omb_config_connector *cc, const char *file, void **ctx_out,
                      struct omb_diags *diags);

/* Free the option values stored in ctx, then ctx itself. NULL-safe. */
void omb_options_free(const struct omb_plugin_descriptor *desc, void *ctx);

/* True when the option named `name` must never be shown (SECRET or SENSITIVE). */
bool omb_option_is_sensitive(const struct omb_plugin_descriptor *desc, const char *name);

/* Print the plugin's name, version, description, capabilities and a table of its options
 * (name, type, default, required, doc) for `omnibusd --plugin-doc`. */
void omb_options_doc(const struct omb_plugin_descriptor *desc, FILE *out);

#endif /* OMNIBUS_CORE_OPTIONS_H */
