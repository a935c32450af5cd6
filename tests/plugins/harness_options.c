/* The fake host's option parsing: config text to the typed value stored at a row's offset, as
 * omnibus/options.h describes. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness_priv.h"

static int parse_int(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return OMB_EINVAL;
    }
    *out = v;
    return 0;
}

/* A number followed by a unit from units (NULL-terminated pairs of suffix and multiplier). */
static int parse_scaled(const char *s, const char *const *suffix, const int64_t *mult,
                        int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || v < 0) {
        return OMB_EINVAL;
    }
    for (size_t i = 0; suffix[i]; i++) {
        if (strcmp(end, suffix[i]) == 0) {
            if (mult[i] != 0 && v > INT64_MAX / mult[i]) {
                return OMB_EINVAL;
            }
            *out = v * mult[i];
            return 0;
        }
    }
    return OMB_EINVAL;
}

static char **split_list(const char *s, char **old)
{
    size_t n = 0;
    for (size_t i = 0; old && old[i]; i++) {
        n++;
    }
    char *copy = harness_xstrdup(s);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*t)) {
            t++;
        }
        size_t len = strlen(t);
        while (len > 0 && isspace((unsigned char)t[len - 1])) {
            t[--len] = '\0';
        }
        if (len == 0) {
            continue;
        }
        old = harness_xrealloc(old, (n + 2) * sizeof(*old));
        old[n++] = harness_xstrdup(t);
        old[n] = NULL;
    }
    free(copy);
    if (!old) {
        old = harness_xrealloc(NULL, sizeof(*old));
        old[0] = NULL;
    }
    return old;
}

static char *resolve_secret(const char *v)
{
    if (strncmp(v, "env:", 4) == 0) {
        const char *e = getenv(v + 4);
        return e ? harness_xstrdup(e) : NULL;
    }
    if (strncmp(v, "file:", 5) == 0) {
        char *s = harness_read_file(v + 5);
        size_t n = s ? strlen(s) : 0;
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
            s[--n] = '\0';
        }
        return s;
    }
    return harness_xstrdup(v);
}

int harness_option_store(const struct omb_option *o, void *ctx, const char *value)
{
    char *at = (char *)ctx + o->offset;
    int64_t n = 0;
    int rc = 0;
    static const char *const dur_suffix[] = { "", "ms", "s", "m", "h", NULL };
    static const int64_t dur_mult[] = { 1, 1, 1000, 60000, 3600000 };
    static const char *const size_suffix[] = { "", "k", "K", "M", "G", NULL };
    static const int64_t size_mult[] = { 1, 1024, 1024, 1048576, 1073741824 };

    switch (o->type) {
    case OMB_OPT_STRING:
    case OMB_OPT_URL:
    case OMB_OPT_SECRET: {
        char *old, *s = o->type == OMB_OPT_SECRET ? resolve_secret(value) : harness_xstrdup(value);
        if (!s) {
            rc = OMB_EINVAL;
            break;
        }
        memcpy(&old, at, sizeof(old));
        free(old);
        memcpy(at, &s, sizeof(s));
        return 0;
    }
    case OMB_OPT_INT:
        rc = parse_int(value, &n);
        break;
    case OMB_OPT_DURATION:
        rc = parse_scaled(value, dur_suffix, dur_mult, &n);
        break;
    case OMB_OPT_SIZE:
        rc = parse_scaled(value, size_suffix, size_mult, &n);
        break;
    case OMB_OPT_BOOL: {
        bool b;
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1")) {
            b = true;
        } else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") ||
                   !strcmp(value, "0")) {
            b = false;
        } else {
            rc = OMB_EINVAL;
            break;
        }
        memcpy(at, &b, sizeof(b));
        return 0;
    }
    case OMB_OPT_ENUM:
        for (int k = 0; o->enum_values && o->enum_values[k]; k++) {
            if (strcmp(o->enum_values[k], value) == 0) {
                memcpy(at, &k, sizeof(k));
                return 0;
            }
        }
        rc = OMB_EINVAL;
        break;
    case OMB_OPT_LIST: {
        char **v;
        memcpy(&v, at, sizeof(v));
        if (!(o->flags & OMB_OPTF_MULTI)) {
            for (size_t j = 0; v && v[j]; j++) {
                free(v[j]);
            }
            free(v);
            v = NULL;
        }
        v = split_list(value, v);
        memcpy(at, &v, sizeof(v));
        return 0;
    }
    default:
        rc = OMB_EINVAL;
        break;
    }
    if (rc == 0 && (o->min != 0 || o->max != 0) && (n < o->min || n > o->max)) {
        fprintf(stderr, "harness: option %s: %s is out of range [%" PRId64 ", %" PRId64 "]\n",
                o->name, value, o->min, o->max);
        return OMB_EINVAL;
    }
    if (rc != 0) {
        fprintf(stderr, "harness: option %s: bad value \"%s\"\n", o->name, value);
        return rc;
    }
    memcpy(at, &n, sizeof(n));
    return 0;
}

void harness_option_free(const struct omb_option *o, void *ctx)
{
    char *at = (char *)ctx + o->offset;
    if (o->type == OMB_OPT_STRING || o->type == OMB_OPT_URL || o->type == OMB_OPT_SECRET) {
        char *s;
        memcpy(&s, at, sizeof(s));
        free(s);
        s = NULL;
        memcpy(at, &s, sizeof(s));
    } else if (o->type == OMB_OPT_LIST) {
        char **v;
        memcpy(&v, at, sizeof(v));
        for (size_t j = 0; v && v[j]; j++) {
            free(v[j]);
        }
        free(v);
        v = NULL;
        memcpy(at, &v, sizeof(v));
    }
}
