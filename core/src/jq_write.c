/* Compact JSON text of a jq value. */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jq_write.h"
#include "textbuf.h"

#define MAX_DEPTH 2048

#define put textbuf_put

static void put_number(struct textbuf *o, double d)
{
    char buf[40];
    int n;
    if (isnan(d)) {
        put(o, "null", 4);
        return;
    }
    if (isinf(d)) {
        d = d > 0 ? DBL_MAX : -DBL_MAX;
    }
    if (d == floor(d) && fabs(d) < 1e17) {
        n = snprintf(buf, sizeof(buf), "%.0f", d);
        if (d == 0 && signbit(d)) {
            n = snprintf(buf, sizeof(buf), "-0");
        }
    } else {
        /* The shortest of 15, 16 and 17 significant digits that reads back exactly. */
        n = snprintf(buf, sizeof(buf), "%.15g", d);
        if (strtod(buf, NULL) != d) {
            n = snprintf(buf, sizeof(buf), "%.16g", d);
            if (strtod(buf, NULL) != d) {
                n = snprintf(buf, sizeof(buf), "%.17g", d);
            }
        }
    }
    put(o, buf, (size_t)n);
}

static void put_string(struct textbuf *o, const char *s, size_t len)
{
    textbuf_put_json_string(o, s, len);
}

static void put_value(struct textbuf *o, jv v, int depth)
{
    if (depth > MAX_DEPTH) {
        o->failed = true;
        return;
    }
    switch (jv_get_kind(v)) {
    case JV_KIND_NULL: put(o, "null", 4); break;
    case JV_KIND_TRUE: put(o, "true", 4); break;
    case JV_KIND_FALSE: put(o, "false", 5); break;
    case JV_KIND_NUMBER: put_number(o, jv_number_value(v)); break;
    case JV_KIND_STRING:
        put_string(o, jv_string_value(v), (size_t)jv_string_length_bytes(jv_copy(v)));
        break;
    case JV_KIND_ARRAY: {
        put(o, "[", 1);
        int n = jv_array_length(jv_copy(v));
        for (int i = 0; i < n; i++) {
            if (i) {
                put(o, ",", 1);
            }
            jv item = jv_array_get(jv_copy(v), i);
            put_value(o, item, depth + 1);
            jv_free(item);
        }
        put(o, "]", 1);
        break;
    }
    case JV_KIND_OBJECT: {
        put(o, "{", 1);
        bool first = true;
        for (int it = jv_object_iter(v); jv_object_iter_valid(v, it);
             it = jv_object_iter_next(v, it)) {
            jv key = jv_object_iter_key(v, it);
            jv val = jv_object_iter_value(v, it);
            if (!first) {
                put(o, ",", 1);
            }
            first = false;
            put_string(o, jv_string_value(key), (size_t)jv_string_length_bytes(jv_copy(key)));
            put(o, ":", 1);
            put_value(o, val, depth + 1);
            jv_free(key);
            jv_free(val);
        }
        put(o, "}", 1);
        break;
    }
    default:
        o->failed = true;
        break;
    }
}

char *jq_write(jv v, size_t *len)
{
    struct textbuf o = { 0 };
    put_value(&o, v, 0);
    if (o.failed) {
        free(o.p);
        return NULL;
    }
    *len = o.len;
    return o.p;
}
