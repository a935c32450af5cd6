/* Small helpers of the square connector: RFC 3339 times (without the C library's time zone
 * machinery: days are counted with the civil-calendar formula), the location map of the
 * `locations` option, and reading members of a delivered event. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "square.h"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* n digits at s as a number, or -1. */
static int64_t digits(const char *s, int n)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int sq_time_parse(const char *s, int64_t *ms)
{
    if (!s || strlen(s) < 20) {
        return OMB_EINVAL;
    }
    int64_t y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int64_t h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        se < 0 || se > 60 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':') {
        return OMB_EINVAL;
    }
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n < 3) {
                frac = frac * 10 + (*p - '0');
            }
            n++;
            p++;
        }
        if (n == 0) {
            return OMB_EINVAL;
        }
        for (; n < 3; n++) {
            frac *= 10;
        }
    }
    int64_t offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int64_t oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || om < 0 || p[3] != ':' || oh > 23 || om > 59) {
            return OMB_EINVAL;
        }
        offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return OMB_EINVAL;
    }
    if (*p != '\0') {
        return OMB_EINVAL;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
    *ms = secs * 1000 + frac;
    return 0;
}

void sq_time_format(int64_t ms, char *out, size_t outlen)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int64_t rem = ms - secs * 1000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t sod = secs - days * 86400;
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (rem) {
        snprintf(out, outlen,
                 "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64 ":%02" PRId64
                 ".%03" PRId64 "Z",
                 y, m, d, sod / 3600, sod / 60 % 60, sod % 60, rem);
    } else {
        snprintf(out, outlen,
                 "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64 ":%02" PRId64
                 "Z",
                 y, m, d, sod / 3600, sod / 60 % 60, sod % 60);
    }
}

/* A location code or id: printable, no blanks, no '@' (keys join SKU and location with it). */
static bool good_name(const char *s, size_t n)
{
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch == 0x7f || ch == '@' || ch == '=') {
            return false;
        }
    }
    return true;
}

int sq_locations_parse(char *const *list, json_t **to_square, json_t **from_square, char *err,
                       size_t errlen)
{
    json_t *to = json_object(), *from = json_object();
    *to_square = *from_square = NULL;
    if (!to || !from) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (char *const *l = list; l && *l; l++) {
        const char *s = *l;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
            n--;
        }
        if (n == 0) {
            continue; /* "A=1,,B=2" or a trailing comma */
        }
        const char *eq = memchr(s, '=', n);
        if (!eq) {
            snprintf(err, errlen, "locations: \"%.*s\" is not LOCATION=SQUARE_LOCATION_ID",
                     (int)(n > 80 ? 80 : n), s);
            goto fail;
        }
        size_t kl = (size_t)(eq - s), vl = n - kl - 1;
        while (kl > 0 && s[kl - 1] == ' ') {
            kl--;
        }
        const char *v = eq + 1;
        while (vl > 0 && *v == ' ') {
            v++;
            vl--;
        }
        if (!good_name(s, kl) || !good_name(v, vl)) {
            snprintf(err, errlen,
                     "locations: \"%.*s\": both sides must be 1-64 characters "
                     "without blanks, '@' or '='",
                     (int)(n > 80 ? 80 : n), s);
            goto fail;
        }
        char key[130], val[130];
        snprintf(key, sizeof(key), "%.*s", (int)kl, s);
        snprintf(val, sizeof(val), "%.*s", (int)vl, v);
        if (json_object_get(to, key)) {
            snprintf(err, errlen, "locations: location %s is mapped twice", key);
            goto fail;
        }
        if (json_object_get(from, val)) {
            snprintf(err, errlen, "locations: Square location %s is mapped twice (to %s and %s)",
                     val, json_string_value(json_object_get(from, val)), key);
            goto fail;
        }
        if (json_object_set_new(to, key, json_string(val)) != 0 ||
            json_object_set_new(from, val, json_string(key)) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    *to_square = to;
    *from_square = from;
    return 0;
fail:
    json_decref(to);
    json_decref(from);
    return OMB_EINVAL;
}

int64_t sq_event_received_ms(const json_t *event)
{
    int64_t ms = 0;
    const char *r = json_string_value(json_object_get(event, "received"));
    if (!r || sq_time_parse(r, &ms) != 0) {
        r = json_string_value(json_object_get(event, "time"));
        if (!r || sq_time_parse(r, &ms) != 0) {
            return 0;
        }
    }
    return ms;
}

const char *sq_body_string(const json_t *event, const char *name)
{
    return json_string_value(json_object_get(json_object_get(event, "body"), name));
}

bool sq_sku_ok(const char *sku)
{
    size_t n = sku ? strlen(sku) : 0;
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)sku[i]) || sku[i] == '@') {
            return false;
        }
    }
    return true;
}
