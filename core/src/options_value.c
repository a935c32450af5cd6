/* Option value syntax shared by the option checks, the config loader and --plugin-doc: type
 * names, durations ("250ms", "10s", "5m", "1h") and sizes ("512", "64k", "1M", "2G"). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "omnibus/err.h"
#include "options.h"

const char *omb_option_type_name(enum omb_option_type t)
{
    switch (t) {
    case OMB_OPT_STRING: return "string";
    case OMB_OPT_INT: return "int";
    case OMB_OPT_BOOL: return "bool";
    case OMB_OPT_DURATION: return "duration";
    case OMB_OPT_SIZE: return "size";
    case OMB_OPT_ENUM: return "enum";
    case OMB_OPT_URL: return "url";
    case OMB_OPT_SECRET: return "secret";
    case OMB_OPT_LIST: return "list";
    }
    return NULL;
}

/* Digits only, no sign, no space: the common core of INT/DURATION/SIZE numbers. */
static int parse_digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (n == 0) {
        return OMB_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return OMB_EINVAL;
        }
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10) {
            return OMB_EINVAL;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int scale(int64_t v, int64_t factor, int64_t *out)
{
    if (v > INT64_MAX / factor) {
        return OMB_EINVAL;
    }
    *out = v * factor;
    return 0;
}

struct unit {
    const char *unit;
    int64_t factor;
};

/* Digits, then one of the units (a NULL-unit row ends the table). */
static int parse_with_unit(const char *s, const struct unit *units, int64_t *out)
{
    size_t n = strspn(s, "0123456789");
    int64_t v;
    if (parse_digits(s, n, &v) != 0) {
        return OMB_EINVAL;
    }
    for (const struct unit *u = units; u->unit; u++) {
        if (strcmp(s + n, u->unit) == 0) {
            return scale(v, u->factor, out);
        }
    }
    return OMB_EINVAL;
}

int omb_duration_parse(const char *s, int64_t *ms_out)
{
    static const struct unit units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 }, { NULL, 0 }
    };
    return parse_with_unit(s, units, ms_out);
}

int omb_size_parse(const char *s, int64_t *bytes_out)
{
    static const struct unit units[] = {
        { "", 1 }, { "k", 1024 }, { "K", 1024 }, { "M", 1024 * 1024 },
        { "G", 1024 * 1024 * 1024 }, { NULL, 0 }
    };
    return parse_with_unit(s, units, bytes_out);
}

/* A number as a user would write it for this type ("1h", "64k", "100"). */
void omb_option_format_number(enum omb_option_type t, int64_t v, char *buf, size_t len)
{
    static const struct unit dur[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
    static const struct unit size[] = { { "G", 1024 * 1024 * 1024 }, { "M", 1024 * 1024 },
                                        { "k", 1024 } };
    if (v > 0 && (t == OMB_OPT_DURATION || t == OMB_OPT_SIZE)) {
        const struct unit *u = t == OMB_OPT_DURATION ? dur : size;
        for (size_t i = 0; i < 3; i++) {
            if (v % u[i].factor == 0) {
                snprintf(buf, len, "%" PRId64 "%s", v / u[i].factor, u[i].unit);
                return;
            }
        }
    }
    snprintf(buf, len, "%" PRId64 "%s", v, t == OMB_OPT_DURATION ? "ms" : "");
}

void omb_option_quote(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; s[i] && o + 8 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 60) {
            o += (size_t)snprintf(buf + o, len - o, "...");
            break;
        }
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
}
