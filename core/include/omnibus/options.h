/* omnibus public SDK: typed option tables.
 *
 * A plugin declares its options as a table of struct omb_option rows ending with a row whose
 * name is NULL. The core validates every <option> of a connector against that table before the
 * plugin's create() (unknown name, missing required, wrong type, out of range, repeated without
 * OMB_OPTF_MULTI: each a config error with file and line) and stores the parsed values into the
 * plugin's zeroed context struct at each row's offset.
 *
 * Storage per type (all memory is owned by the core and stays valid until destroy() returns):
 *   OMB_OPT_STRING, OMB_OPT_URL, OMB_OPT_SECRET  char *     (SECRET: the resolved value of
 *                                                           "env:NAME" / "file:PATH" / literal)
 *   OMB_OPT_INT                                  int64_t
 *   OMB_OPT_DURATION                             int64_t, milliseconds ("250ms", "10s", "5m", "1h")
 *   OMB_OPT_SIZE                                 int64_t, bytes ("512", "64k", "1M", "2G")
 *   OMB_OPT_BOOL                                 bool ("true"/"false"/"yes"/"no"/"1"/"0")
 *   OMB_OPT_ENUM                                 int, index into enum_values
 *   OMB_OPT_LIST                                 char **, NULL-terminated; a value is split on
 *                                                commas, and with OMB_OPTF_MULTI repeated
 *                                                <option>s append
 * An option that is absent, not required and has no default is left zeroed (NULL, 0, false).
 */
#ifndef OMNIBUS_OPTIONS_H
#define OMNIBUS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

enum omb_option_type {
    OMB_OPT_STRING = 1,
    OMB_OPT_INT,
    OMB_OPT_BOOL,
    OMB_OPT_DURATION,
    OMB_OPT_SIZE,
    OMB_OPT_ENUM,
    OMB_OPT_URL,
    OMB_OPT_SECRET,
    OMB_OPT_LIST
};

enum omb_option_flag {
    OMB_OPTF_REQUIRED = 1u << 0,  /* must be given (a default makes no sense with it) */
    OMB_OPTF_MULTI = 1u << 1,     /* may be given several times (LIST only) */
    OMB_OPTF_SENSITIVE = 1u << 2, /* never logged or shown; implied by OMB_OPT_SECRET */
    OMB_OPTF_DEPRECATED = 1u << 3 /* accepted with a warning */
};

struct omb_option {
    const char *name;                /* NULL ends the table */
    enum omb_option_type type;
    const char *default_value;       /* in config syntax, or NULL */
    unsigned flags;                  /* enum omb_option_flag bits */
    int64_t min;                     /* INT/DURATION/SIZE range, inclusive; ignored when */
    int64_t max;                     /*   min == max == 0 */
    const char *const *enum_values;  /* ENUM: NULL-terminated list of accepted words */
    size_t offset;                   /* offsetof(struct your_ctx, field) */
    const char *doc;                 /* one line, shown by omnibusd --plugin-doc */
};

#define OMB_OPTION_END { NULL, (enum omb_option_type)0, NULL, 0, 0, 0, NULL, 0, NULL }

#endif /* OMNIBUS_OPTIONS_H */
