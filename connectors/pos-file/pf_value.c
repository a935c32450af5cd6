/* pos-file format library: the field types. Text to JSON when reading, JSON to text when
 * writing, and exact decimals (never a float). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "pf_priv.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int pf_dec_parse(const char *s, size_t n, char sep, struct pf_dec *d)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    int64_t units = 0;
    int scale = 0, sig = 0, digits = 0;
    bool in_frac = false;
    for (; i < n; i++) {
        char c = s[i];
        if (c == sep && !in_frac) {
            in_frac = true;
            continue;
        }
        if (!is_digit(c)) {
            return OMB_EINVAL;
        }
        digits++;
        if (units || c != '0') {
            if (++sig > 18) {
                return OMB_EINVAL;
            }
        }
        units = units * 10 + (c - '0');
        if (in_frac && ++scale > 18) {
            return OMB_EINVAL;
        }
    }
    if (digits == 0) {
        return OMB_EINVAL;
    }
    d->units = neg ? -units : units;
    d->scale = scale;
    return 0;
}

static const int64_t pow10_tab[19] = {
    1LL,
    10LL,
    100LL,
    1000LL,
    10000LL,
    100000LL,
    1000000LL,
    10000000LL,
    100000000LL,
    1000000000LL,
    10000000000LL,
    100000000000LL,
    1000000000000LL,
    10000000000000LL,
    100000000000000LL,
    1000000000000000LL,
    10000000000000000LL,
    100000000000000000LL,
    1000000000000000000LL,
};

int pf_dec_minor(struct pf_dec d, int places, int64_t *out)
{
    if (places < 0 || places > 18 || d.scale < 0 || d.scale > 18) {
        return OMB_EINVAL;
    }
    if (d.scale > places) {
        int64_t p = pow10_tab[d.scale - places];
        if (d.units % p != 0) {
            return OMB_EINVAL;
        }
        *out = d.units / p;
        return 0;
    }
    int64_t m = pow10_tab[places - d.scale];
    if (d.units > INT64_MAX / m || d.units < -(INT64_MAX / m)) {
        return OMB_EINVAL;
    }
    *out = d.units * m;
    return 0;
}

static int digits_value(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Writes v (>= 0) as exactly n digits. */
static void put_digits(char *out, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static bool ymd_valid(int y, int m, int d)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1) {
        return false;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

bool pf_date_valid(const char *s)
{
    if (strlen(s) < 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    return ymd_valid(digits_value(s, 4), digits_value(s + 5, 2), digits_value(s + 8, 2));
}

/* Reads a date at s (YYYY-MM-DD or YYYYMMDD, exactly n characters) into "YYYY-MM-DD". */
static bool read_date(const char *s, size_t n, char out[11])
{
    int y, m, d;
    if (n == 10 && s[4] == '-' && s[7] == '-') {
        y = digits_value(s, 4), m = digits_value(s + 5, 2), d = digits_value(s + 8, 2);
    } else if (n == 8) {
        y = digits_value(s, 4), m = digits_value(s + 4, 2), d = digits_value(s + 6, 2);
    } else {
        return false;
    }
    if (!ymd_valid(y, m, d)) {
        return false;
    }
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = '\0';
    return true;
}

/* Reads HH:MM:SS (or HHMMSS when compact) into out. */
static bool read_time(const char *s, size_t n, bool compact, char out[9])
{
    int h, mi, se;
    if (!compact && n == 8 && s[2] == ':' && s[5] == ':') {
        h = digits_value(s, 2), mi = digits_value(s + 3, 2), se = digits_value(s + 6, 2);
    } else if (compact && n == 6) {
        h = digits_value(s, 2), mi = digits_value(s + 2, 2), se = digits_value(s + 4, 2);
    } else {
        return false;
    }
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) {
        return false;
    }
    put_digits(out, h, 2);
    out[2] = ':';
    put_digits(out + 3, mi, 2);
    out[5] = ':';
    put_digits(out + 6, se, 2);
    out[8] = '\0';
    return true;
}

static bool read_datetime(const char *s, size_t n, char out[20])
{
    char date[11], tm[9];
    if (n == 19 && (s[10] == ' ' || s[10] == 'T')) {
        if (!read_date(s, 10, date) || !read_time(s + 11, 8, false, tm)) {
            return false;
        }
    } else if (n == 14) {
        if (!read_date(s, 8, date) || !read_time(s + 8, 6, true, tm)) {
            return false;
        }
    } else {
        return false;
    }
    memcpy(out, date, 10);
    out[10] = 'T';
    memcpy(out + 11, tm, 9);
    return true;
}

static int read_bool(const char *s, size_t n)
{
    static const char *const yes[] = {"1", "t", "y", "true", "yes", "tak", NULL};
    static const char *const no[] = {"0", "n", "f", "false", "no", "nie", NULL};
    for (int i = 0; yes[i]; i++) {
        if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0) {
            return 1;
        }
    }
    for (int i = 0; no[i]; i++) {
        if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0) {
            return 0;
        }
    }
    return -1;
}

/* A JSON number from [+-]digits[sep digits][(e|E)[+-]digits], leading zeros dropped. */
static int read_number(const char *s, size_t n, char sep, struct pf_buf *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        neg = s[i++] == '-';
    }
    size_t int_start = i;
    while (i < n && is_digit(s[i])) {
        i++;
    }
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < n && s[i] == sep) {
        frac_start = ++i;
        while (i < n && is_digit(s[i])) {
            i++;
        }
        frac_end = i;
        if (frac_end == frac_start) {
            return OMB_EINVAL; /* "12." */
        }
    }
    if (int_end == int_start && frac_end == frac_start) {
        return OMB_EINVAL;
    }
    size_t exp_start = i;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        size_t d = i;
        while (i < n && is_digit(s[i])) {
            i++;
        }
        if (i == d) {
            return OMB_EINVAL;
        }
    }
    if (i != n) {
        return OMB_EINVAL;
    }
    while (int_start + 1 < int_end && s[int_start] == '0') {
        int_start++;
    }
    if (pf_buf_reserve(out, n + 4) != 0) {
        return OMB_ENOMEM;
    }
    if (neg) {
        out->p[out->len++] = '-';
    }
    if (int_end == int_start || (int_end - int_start == 1 && s[int_start] == '0')) {
        out->p[out->len++] = '0';
    } else {
        memcpy(out->p + out->len, s + int_start, int_end - int_start);
        out->len += int_end - int_start;
    }
    if (frac_end > frac_start) {
        out->p[out->len++] = '.';
        memcpy(out->p + out->len, s + frac_start, frac_end - frac_start);
        out->len += frac_end - frac_start;
    }
    memcpy(out->p + out->len, s + exp_start, n - exp_start);
    out->len += n - exp_start;
    return 0;
}

static int read_int(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        neg = s[i++] == '-';
    }
    if (i == n) {
        return OMB_EINVAL;
    }
    uint64_t u = 0;
    for (; i < n; i++) {
        if (!is_digit(s[i])) {
            return OMB_EINVAL;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (u > (UINT64_MAX - d) / 10) {
            return OMB_EINVAL;
        }
        u = u * 10 + d;
    }
    if (u > (uint64_t)INT64_MAX + neg) {
        return OMB_EINVAL;
    }
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

/* Moves a trailing sign ("12.50-") to the front ("-12.50") in tmp. */
static bool move_trailing_sign(const char **s, size_t *n, char *tmp, size_t tmplen)
{
    char c = (*s)[*n - 1];
    if ((*s)[0] == '+' || (*s)[0] == '-') {
        return false; /* the sign belongs at the end */
    }
    if (c != '+' && c != '-') {
        return true;
    }
    const char *body = *s;
    size_t len = *n - 1;
    pf_trim(&body, &len);
    if (len == 0 || len + 1 > tmplen || body[0] == '+' || body[0] == '-') {
        return false;
    }
    tmp[0] = c;
    memcpy(tmp + 1, body, len);
    *s = tmp;
    *n = len + 1;
    return true;
}

/* A leading sign followed by blanks ("-  12") closes up. */
static bool close_leading_sign(const char **s, size_t *n, char *tmp, size_t tmplen)
{
    char c = (*s)[0];
    if ((c != '+' && c != '-') || *n < 2 || ((*s)[1] != ' ' && (*s)[1] != '\t')) {
        return true;
    }
    const char *body = *s + 1;
    size_t len = *n - 1;
    pf_trim(&body, &len);
    if (len + 1 > tmplen) {
        return false;
    }
    tmp[0] = c;
    memcpy(tmp + 1, body, len);
    *s = tmp;
    *n = len + 1;
    return true;
}

int pf_value_read(const struct pf_format *f, const struct pf_field *fl, const char *s, size_t n,
                  struct pf_buf *out, const char **why)
{
    char tmp[64], buf[24];
    char sep = f->decimal_comma ? ',' : '.';
    bool numeric = fl->type == PF_T_INT || fl->type == PF_T_DECIMAL || fl->type == PF_T_NUMBER;
    if (numeric) {
        if (n >= sizeof(tmp)) {
            *why = fl->type == PF_T_INT      ? "is not an int"
                   : fl->type == PF_T_NUMBER ? "is not a number"
                                             : "is not a decimal";
            return OMB_EINVAL;
        }
        bool ok = fl->sign == PF_SIGN_TRAILING ? move_trailing_sign(&s, &n, tmp, sizeof(tmp))
                                               : close_leading_sign(&s, &n, tmp, sizeof(tmp));
        if (!ok) {
            *why = "has a misplaced sign";
            return OMB_EINVAL;
        }
    }
    switch (fl->type) {
    case PF_T_STRING:
        return pf_json_str(out, s, n);
    case PF_T_INT: {
        int64_t v;
        if (read_int(s, n, &v) != 0) {
            *why = "is not an int";
            return OMB_EINVAL;
        }
        int k = snprintf(buf, sizeof(buf), "%" PRId64, v);
        return pf_buf_put(out, buf, (size_t)k);
    }
    case PF_T_DECIMAL: {
        struct pf_dec d;
        int64_t v;
        if (pf_dec_parse(s, n, sep, &d) != 0) {
            *why = f->decimal_comma ? "is not a decimal (with a decimal comma)"
                                    : "is not a decimal (with a decimal point)";
            return OMB_EINVAL;
        }
        if (pf_dec_minor(d, fl->places, &v) != 0) {
            *why = fl->places == 0   ? "has decimal places (the field has none)"
                   : fl->places == 1 ? "has more than 1 decimal place"
                                     : "has more decimal places than the field";
            return OMB_EINVAL;
        }
        int k = snprintf(buf, sizeof(buf), "%" PRId64, v);
        return pf_buf_put(out, buf, (size_t)k);
    }
    case PF_T_NUMBER: {
        int rc = read_number(s, n, sep, out);
        if (rc == OMB_EINVAL) {
            *why = "is not a number";
        }
        return rc;
    }
    case PF_T_DATE: {
        char d[11];
        if (!read_date(s, n, d)) {
            *why = "is not a date (YYYY-MM-DD or YYYYMMDD)";
            return OMB_EINVAL;
        }
        return pf_json_str(out, d, 10);
    }
    case PF_T_DATETIME: {
        char d[20];
        if (!read_datetime(s, n, d)) {
            *why = "is not a datetime (YYYY-MM-DD HH:MM:SS, YYYY-MM-DDTHH:MM:SS or YYYYMMDDHHMMSS)";
            return OMB_EINVAL;
        }
        return pf_json_str(out, d, 19);
    }
    case PF_T_BOOL: {
        int b = read_bool(s, n);
        if (b < 0) {
            *why = "is not a bool (1/0, T/N, Y/N, true/false, tak/nie)";
            return OMB_EINVAL;
        }
        return pf_buf_puts(out, b ? "true" : "false");
    }
    }
    *why = "has an unknown type";
    return OMB_EINVAL;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a bool";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* Writes a real as the shortest text that reads back the same. */
static int put_real(struct pf_buf *out, double d)
{
    char buf[40];
    snprintf(buf, sizeof(buf), "%.15g", d);
    if (strtod(buf, NULL) != d) {
        snprintf(buf, sizeof(buf), "%.17g", d);
    }
    return pf_buf_puts(out, buf);
}

int pf_value_write(const struct pf_format *f, const struct pf_field *fl, const json_t *v,
                   struct pf_buf *out, bool *numeric, char *err, size_t errlen)
{
    char sep = f->decimal_comma ? ',' : '.';
    *numeric = false;
    switch (fl->type) {
    case PF_T_STRING:
        if (!json_is_string(v)) {
            return pf_fail(err, errlen, "%s: expected a string, got %s", fl->name, json_kind(v));
        }
        return pf_buf_put(out, json_string_value(v), json_string_length(v));
    case PF_T_INT:
        if (!json_is_integer(v)) {
            return pf_fail(err, errlen, "%s: expected an integer, got %s", fl->name, json_kind(v));
        }
        *numeric = true;
        return pf_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case PF_T_DECIMAL: {
        if (!json_is_integer(v)) {
            return pf_fail(err, errlen, "%s: expected an integer (minor units), got %s", fl->name,
                           json_kind(v));
        }
        *numeric = true;
        json_int_t x = json_integer_value(v);
        uint64_t u = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
        uint64_t p = (uint64_t)pow10_tab[fl->places];
        if (fl->places == 0) {
            return pf_buf_printf(out, "%s%" PRIu64, x < 0 ? "-" : "", u);
        }
        return pf_buf_printf(out, "%s%" PRIu64 "%c%0*" PRIu64, x < 0 ? "-" : "", u / p, sep,
                             fl->places, u % p);
    }
    case PF_T_NUMBER: {
        int rc;
        size_t at = out->len;
        if (json_is_integer(v)) {
            rc = pf_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        } else if (json_is_real(v)) {
            rc = put_real(out, json_real_value(v));
        } else {
            return pf_fail(err, errlen, "%s: expected a number, got %s", fl->name, json_kind(v));
        }
        if (rc == 0 && f->decimal_comma) {
            char *dot = memchr(out->p + at, '.', out->len - at);
            if (dot) {
                *dot = ',';
            }
        }
        *numeric = true;
        return rc;
    }
    case PF_T_DATE: {
        const char *s = json_string_value(v);
        if (!s || strlen(s) != 10 || !pf_date_valid(s)) {
            return pf_fail(err, errlen, "%s: expected a date \"YYYY-MM-DD\"", fl->name);
        }
        if (f->kind == PF_FIXED && fl->width == 8) {
            return pf_buf_printf(out, "%.4s%.2s%.2s", s, s + 5, s + 8);
        }
        return pf_buf_put(out, s, 10);
    }
    case PF_T_DATETIME: {
        const char *s = json_string_value(v);
        char d[20];
        if (!s || strlen(s) != 19 || !read_datetime(s, 19, d)) {
            return pf_fail(err, errlen,
                           "%s: expected a local datetime \"YYYY-MM-DDTHH:MM:SS\" (no zone)",
                           fl->name);
        }
        if (f->kind == PF_FIXED && fl->width == 14) {
            return pf_buf_printf(out, "%.4s%.2s%.2s%.2s%.2s%.2s", d, d + 5, d + 8, d + 11, d + 14,
                                 d + 17);
        }
        return pf_buf_printf(out, "%.10s %.8s", d, d + 11);
    }
    case PF_T_BOOL:
        if (!json_is_boolean(v)) {
            return pf_fail(err, errlen, "%s: expected a bool, got %s", fl->name, json_kind(v));
        }
        return pf_buf_puts(out, json_is_true(v) ? fl->true_text : fl->false_text);
    }
    return pf_fail(err, errlen, "%s: unknown type", fl->name);
}

int pf_currency_places(const char *code)
{
    static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                       "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                       "VND", "VUV", "XAF", "XOF", "XPF", NULL};
    static const char *const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND", NULL};
    for (int i = 0; zero[i]; i++) {
        if (strcmp(code, zero[i]) == 0) {
            return 0;
        }
    }
    for (int i = 0; three[i]; i++) {
        if (strcmp(code, three[i]) == 0) {
            return 3;
        }
    }
    if (strcmp(code, "CLF") == 0 || strcmp(code, "UYW") == 0) {
        return 4;
    }
    return 2;
}

int pf_body_build(const struct pf_format *f, const char *const *vals, const size_t *lens,
                  struct pf_buf *out, char *err, size_t errlen)
{
    size_t mark[PF_MAX_NAME_DEPTH + 2];
    bool comma[PF_MAX_NAME_DEPTH + 2];
    int depth = 0;
    out->len = 0;
    if (pf_buf_putc(out, '{') != 0) {
        return OMB_ENOMEM;
    }
    comma[0] = false;
    for (size_t i = 0; i < f->nops; i++) {
        const struct pf_op *op = &f->ops[i];
        switch (op->kind) {
        case PF_OP_OPEN:
            mark[depth] = out->len;
            if ((comma[depth] && pf_buf_putc(out, ',') != 0) ||
                pf_buf_put(out, op->key, op->key_len) != 0 || pf_buf_putc(out, '{') != 0) {
                return OMB_ENOMEM;
            }
            comma[++depth] = false;
            break;
        case PF_OP_CLOSE:
            if (!comma[depth]) {
                out->len = mark[--depth]; /* nothing inside: leave the object out */
            } else {
                if (pf_buf_putc(out, '}') != 0) {
                    return OMB_ENOMEM;
                }
                comma[--depth] = true;
            }
            break;
        case PF_OP_FIELD: {
            const struct pf_field *fl = &f->fields[op->field];
            const char *s = vals[op->field];
            size_t n = lens[op->field];
            if (!s) {
                break;
            }
            pf_trim(&s, &n);
            if (n == 0) {
                break;
            }
            size_t at = out->len;
            if ((comma[depth] && pf_buf_putc(out, ',') != 0) ||
                pf_buf_put(out, op->key, op->key_len) != 0) {
                return OMB_ENOMEM;
            }
            const char *why = "is not valid";
            int rc = pf_value_read(f, fl, s, n, out, &why);
            if (rc == OMB_EINVAL) {
                char q[200];
                out->len = at;
                pf_quote_value(q, sizeof(q), s, n);
                return pf_fail(err, errlen, "%s: %s %s", fl->label, q, why);
            }
            if (rc != 0) {
                return rc;
            }
            comma[depth] = true;
            break;
        }
        case PF_OP_CURRENCY: {
            /* Only beside its amount: an amount left out (blank) takes its currency along. */
            const char *s = vals[op->field];
            size_t n = lens[op->field];
            if (!s) {
                break;
            }
            pf_trim(&s, &n);
            if (n == 0) {
                break;
            }
            if ((comma[depth] && pf_buf_putc(out, ',') != 0) ||
                pf_buf_put(out, op->key, op->key_len) != 0 ||
                pf_json_str(out, f->currency, strlen(f->currency)) != 0) {
                return OMB_ENOMEM;
            }
            comma[depth] = true;
            break;
        }
        }
    }
    if (pf_buf_putc(out, '}') != 0) {
        return OMB_ENOMEM;
    }
    pf_buf_nul(out);
    return 0;
}
