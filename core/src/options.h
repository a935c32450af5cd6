/* Plugin options: validate a connector's <option>s against its plugin's option table, fill the
 * plugin's context struct, and render the table as documentation. */
#ifndef OMNIBUS_CORE_OPTIONS_H
#define OMNIBUS_CORE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* Value syntax (options_value.c), shared with the config loader. */

/* "250ms", "10s", "5m", "1h" (digits, then a unit) to milliseconds. 0 or OMB_EINVAL (also on
 * overflow). */
int omb_duration_parse(const char *s, int64_t *ms_out);

/* "512", "64k" (or "64K"), "1M", "2G" (1024-based) to bytes. 0 or OMB_EINVAL (also on
 * overflow). */
int omb_size_parse(const char *s, int64_t *bytes_out);

/* "string", "int", "bool", "duration", "size", "enum", "url", "secret", "list"; NULL for an
 * unknown type. Static storage. */
const char *omb_option_type_name(enum omb_option_type t);

/* v as a user would write it for type t: a duration in its largest whole unit ("90s", "1h"), a
 * size likewise ("64k"), anything else in decimal. */
void omb_option_format_number(enum omb_option_type t, int64_t v, char *buf, size_t len);

/* s in double quotes for a message, with '"', '\\' and control characters escaped and cut
 * after 60 characters ("..."). buf should hold OMB_QUOTE_SIZE bytes. Never pass a secret. */
#define OMB_QUOTE_SIZE 256
void omb_option_quote(const char *s, char *buf, size_t len);

#endif /* OMNIBUS_CORE_OPTIONS_H */
