/* Small helpers of the woocommerce connector: WooCommerce's money strings ("129.99") to and from
 * integer minor units, with integer arithmetic only; canonical SKUs; query encoding. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "woocommerce.h"

bool wc_money_parse(const char *s, json_int_t *minor)
{
    if (!s) {
        return false;
    }
    while (*s == ' ') {
        s++;
    }
    json_int_t units = 0, frac = 0;
    int digits = 0, fdigits = 0;
    for (; isdigit((unsigned char)*s); s++, digits++) {
        if (units > (json_int_t)1e15) {
            return false;
        }
        units = units * 10 + (*s - '0');
    }
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++, fdigits++) {
            if (fdigits >= 2) {
                if (*s != '0') {
                    return false; /* a third decimal that is not 0: not a 2-decimal amount */
                }
                continue;
            }
            frac = frac * 10 + (*s - '0');
        }
    }
    if (*s != '\0' || (digits == 0 && fdigits == 0)) {
        return false;
    }
    if (fdigits == 1) {
        frac *= 10;
    }
    *minor = units * 100 + frac;
    return true;
}

void wc_money_format(json_int_t minor, char *out, size_t outlen)
{
    snprintf(out, outlen, "%" JSON_INTEGER_FORMAT ".%02d", minor / 100, (int)(minor % 100));
}

bool wc_sku_ok(const char *sku)
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

char *wc_urlencode(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *p = out;
    if (!out) {
        return NULL;
    }
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            *p++ = (char)ch;
        } else {
            snprintf(p, 4, "%%%02X", ch);
            p += 3;
        }
    }
    *p = '\0';
    return out;
}
