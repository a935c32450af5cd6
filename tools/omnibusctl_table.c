/* omnibusctl: values as text and aligned text tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omnibusctl.h"

struct ombctl_table {
    size_t ncols;
    size_t nrows; /* rows of cells, the headers included as row 0 */
    size_t cap;
    char **cells; /* nrows * ncols, owned */
    bool *right;  /* ncols */
};

static char *clean_in_place(char *c)
{
    for (unsigned char *p = (unsigned char *)c; *p; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\r') {
            *p = ' ';
        } else if (*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    return c;
}

char *ombctl_clean(const char *s)
{
    char *c = strdup(s);
    return c ? clean_in_place(c) : NULL;
}

const char *ombctl_num(const json_t *v, char *buf, size_t len)
{
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 1e15) {
            snprintf(buf, len, "%.0f", d);
        } else {
            snprintf(buf, len, "%.6g", d);
        }
    } else {
        snprintf(buf, len, "-");
    }
    return buf;
}

const char *ombctl_ms(const json_t *v, char *buf, size_t len)
{
    if (!json_is_number(v)) {
        snprintf(buf, len, "-");
        return buf;
    }
    double d = json_number_value(v);
    snprintf(buf, len, "%.*f", d < 10 ? 2 : d < 1000 ? 1 : 0, d);
    return buf;
}

const char *ombctl_duration(const json_t *v, char *buf, size_t len)
{
    if (!json_is_number(v) || json_number_value(v) < 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    double d = json_number_value(v);
    if (d < 60) {
        snprintf(buf, len, "%.1f s", d);
        return buf;
    }
    unsigned long long s = (unsigned long long)d;
    unsigned long long days = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
    if (days > 0) {
        snprintf(buf, len, "%llud %02lluh %02llum", days, h, m);
    } else if (h > 0) {
        snprintf(buf, len, "%lluh %02llum %02llus", h, m, s % 60);
    } else {
        snprintf(buf, len, "%llum %02llus", m, s % 60);
    }
    return buf;
}

const char *ombctl_text(const json_t *obj, const char *key, char *buf, size_t len)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
        clean_in_place(buf);
    } else if (json_is_number(v)) {
        ombctl_num(v, buf, len);
    } else if (json_is_boolean(v)) {
        snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
    } else {
        snprintf(buf, len, "-");
    }
    return buf;
}

struct ombctl_table *ombctl_table_new(size_t ncols, const char *const *headers)
{
    struct ombctl_table *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->ncols = ncols;
    t->right = calloc(ncols, sizeof(*t->right));
    if (!t->right || ombctl_table_add(t, headers) != 0) {
        ombctl_table_destroy(&t);
    }
    return t;
}

void ombctl_table_destroy(struct ombctl_table **tp)
{
    struct ombctl_table *t = *tp;
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    free(t->right);
    free(t);
    *tp = NULL;
}

void ombctl_table_right(struct ombctl_table *t, size_t col)
{
    if (col < t->ncols) {
        t->right[col] = true;
    }
}

int ombctl_table_add(struct ombctl_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **v = realloc(t->cells, cap * t->ncols * sizeof(*v));
        if (!v) {
            return OMB_ENOMEM;
        }
        t->cells = v;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = ombctl_clean(cells[c] ? cells[c] : "-");
        if (!row[c]) {
            for (size_t k = 0; k < c; k++) {
                free(row[k]);
            }
            return OMB_ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        w += (*p & 0xc0) != 0x80;
    }
    return w;
}

void ombctl_table_print(const struct ombctl_table *t, FILE *out)
{
    size_t *w = calloc(t->ncols, sizeof(*w));
    if (!w) {
        return;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            size_t cw = width(t->cells[r * t->ncols + c]);
            w[c] = cw > w[c] ? cw : w[c];
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            size_t pad = w[c] - width(cell);
            bool last = c + 1 == t->ncols;
            /* Headers align like their column, so a number column's header sits right. */
            if (t->right[c]) {
                fprintf(out, "%*s%s", (int)pad, "", cell);
            } else {
                fprintf(out, "%s%*s", cell, last ? 0 : (int)pad, "");
            }
            fputs(last ? "\n" : "  ", out);
        }
    }
    free(w);
}
