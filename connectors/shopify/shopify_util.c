/* Small helpers of the shopify connector: the location map of the `locations` option, gids,
 * money between minor units and Shopify's decimal strings, RFC 3339 times (the civil-calendar
 * formula, as in the square connector), members of a delivered event. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shopify.h"

/* A location code or id: printable, no blanks, no '@' or '='. */
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

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return n > 0;
}

int sh_locations_parse(char *const *list, json_t **to_shop, json_t **from_shop, char *err,
                       size_t errlen)
{
    json_t *to = json_object(), *from = json_object();
    *to_shop = *from_shop = NULL;
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
            continue;
        }
        const char *eq = memchr(s, '=', n);
        if (!eq) {
            snprintf(err, errlen, "locations: \"%.*s\" is not LOCATION=SHOPIFY_LOCATION_ID",
                     (int)(n > 80 ? 80 : n), s);
            goto fail;
        }
        size_t kl = (size_t)(eq - s), vl = n - kl - 1;
        const char *v = eq + 1;
        /* A gid is taken too: gid://shopify/Location/123 -> 123. */
        if (vl > 23 && strncmp(v, "gid://shopify/Location/", 23) == 0) {
            v += 23;
            vl -= 23;
        }
        if (!good_name(s, kl) || !all_digits(v, vl) || vl > 20) {
            snprintf(err, errlen,
                     "locations: \"%.*s\": the location must be 1-64 characters without "
                     "blanks, '@' or '=', the Shopify location id a number",
                     (int)(n > 80 ? 80 : n), s);
            goto fail;
        }
        char key[80], val[32];
        snprintf(key, sizeof(key), "%.*s", (int)kl, s);
        snprintf(val, sizeof(val), "%.*s", (int)vl, v);
        if (json_object_get(to, key)) {
            snprintf(err, errlen, "locations: location %s is mapped twice", key);
            goto fail;
        }
        if (json_object_get(from, val)) {
            snprintf(err, errlen, "locations: Shopify location %s is mapped twice (to %s and %s)",
                     val, json_string_value(json_object_get(from, val)), key);
            goto fail;
        }
        if (json_object_set_new(to, key, json_string(val)) != 0 ||
            json_object_set_new(from, val, json_string(key)) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    *to_shop = to;
    *from_shop = from;
    return 0;
fail:
    json_decref(to);
    json_decref(from);
    return OMB_EINVAL;
}

const char *sh_gid_id(const char *gid)
{
    if (!gid) {
        return NULL;
    }
    const char *slash = strrchr(gid, '/');
    const char *id = slash ? slash + 1 : gid;
    return id;
}

int sh_currency_exponent(const char *currency)
{
    static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                       "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
                                       "VUV", "XAF", "XOF", "XPF", NULL};
    static const char *const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND", NULL};
    for (size_t i = 0; currency && zero[i]; i++) {
        if (strcmp(currency, zero[i]) == 0) {
            return 0;
        }
    }
    for (size_t i = 0; currency && three[i]; i++) {
        if (strcmp(currency, three[i]) == 0) {
            return 3;
        }
    }
    return 2;
}

int sh_price_to_minor(const char *s, int exponent, int64_t *minor)
{
    if (!s || !*s) {
        return OMB_EINVAL;
    }
    bool neg = *s == '-';
    if (neg) {
        s++;
    }
    int64_t v = 0;
    int frac = -1;
    for (; *s; s++) {
        if (*s == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (!isdigit((unsigned char)*s) || v > INT64_MAX / 10 - 10) {
            return OMB_EINVAL;
        }
        if (frac >= 0) {
            if (frac >= exponent) {
                if (*s != '0') {
                    return OMB_EINVAL; /* more precision than the currency has */
                }
                continue;
            }
            frac++;
        }
        v = v * 10 + (*s - '0');
    }
    for (int f = frac < 0 ? 0 : frac; f < exponent; f++) {
        v *= 10;
    }
    *minor = neg ? -v : v;
    return 0;
}

void sh_minor_to_price(int64_t minor, int exponent, char *out, size_t outlen)
{
    int64_t div = 1;
    for (int i = 0; i < exponent; i++) {
        div *= 10;
    }
    const char *sign = minor < 0 ? "-" : "";
    uint64_t a = minor < 0 ? (uint64_t)(-(minor + 1)) + 1 : (uint64_t)minor;
    if (exponent == 0) {
        snprintf(out, outlen, "%s%" PRIu64, sign, a);
    } else {
        snprintf(out, outlen, "%s%" PRIu64 ".%0*" PRIu64, sign, a / (uint64_t)div, exponent,
                 a % (uint64_t)div);
    }
}

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

int sh_time_parse(const char *s, int64_t *ms)
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

const char *sh_body_string(const json_t *event, const char *name)
{
    return json_string_value(json_object_get(json_object_get(event, "body"), name));
}

bool sh_sku_ok(const char *sku)
{
    size_t n = sku ? strlen(sku) : 0;
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)sku[i]) || sku[i] == '@' || sku[i] == '"' || sku[i] == '\\') {
            return false;
        }
    }
    return true;
}
