/* A growing text buffer and the JSON string writer, shared by the envelope writer (envelope.c)
 * and the jq result writer (jq_write.c). Header-only: jq_write.c is built in a library of its
 * own, without the core's. */
#ifndef OMNIBUS_TEXTBUF_H
#define OMNIBUS_TEXTBUF_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct textbuf {
    char *p;      /* NUL-terminated once anything was put; the owner frees it */
    size_t len, cap;
    bool failed;  /* out of memory: further puts do nothing */
};

static inline void textbuf_put(struct textbuf *t, const char *s, size_t n)
{
    if (t->failed) {
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

/* A JSON string of len bytes: '"', '\\' and control characters escaped as jq escapes them
 * (\b \f \n \r \t, else \u00XX, DEL too), UTF-8 as it is. */
static inline void textbuf_put_json_string(struct textbuf *t, const char *s, size_t len)
{
    textbuf_put(t, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            continue;
        }
        textbuf_put(t, s + run, i - run);
        char esc[8];
        int n;
        switch (c) {
        case '"': n = snprintf(esc, sizeof(esc), "\\\""); break;
        case '\\': n = snprintf(esc, sizeof(esc), "\\\\"); break;
        case '\b': n = snprintf(esc, sizeof(esc), "\\b"); break;
        case '\f': n = snprintf(esc, sizeof(esc), "\\f"); break;
        case '\n': n = snprintf(esc, sizeof(esc), "\\n"); break;
        case '\r': n = snprintf(esc, sizeof(esc), "\\r"); break;
        case '\t': n = snprintf(esc, sizeof(esc), "\\t"); break;
        default: n = snprintf(esc, sizeof(esc), "\\u%04x", c); break;
        }
        textbuf_put(t, esc, (size_t)n);
        run = i + 1;
    }
    textbuf_put(t, s + run, len - run);
    textbuf_put(t, "\"", 1);
}

#endif /* OMNIBUS_TEXTBUF_H */
