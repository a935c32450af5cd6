/* The native fast path for `.a.b OP literal` filters. */
#include <stdlib.h>
#include <string.h>

#include "jq_fast.h"

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

#define MAX_KEYS 8

struct jq_fast_filter {
    char *keys[MAX_KEYS];
    size_t n_keys;
    enum op op;
    jv literal;
};

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
        p++;
    }
    return p;
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

void jq_fast_filter_free(struct jq_fast_filter *f)
{
    if (!f) {
        return;
    }
    for (size_t i = 0; i < f->n_keys; i++) {
        free(f->keys[i]);
    }
    jv_free(f->literal);
    free(f);
}

struct jq_fast_filter *jq_fast_filter_new(const char *program)
{
    struct jq_fast_filter *f = calloc(1, sizeof(*f));
    if (!f) {
        return NULL;
    }
    f->literal = jv_null();
    const char *p = skip_space(program);
    /* The path: one or more .name; names as jq's identifiers (no keywords: jq compiled it). */
    while (*p == '.') {
        p++;
        if (!ident_start(*p) || f->n_keys == MAX_KEYS) {
            goto no;
        }
        const char *start = p;
        while (ident_char(*p)) {
            p++;
        }
        f->keys[f->n_keys] = strndup(start, (size_t)(p - start));
        if (!f->keys[f->n_keys++]) {
            goto no;
        }
    }
    if (f->n_keys == 0) {
        goto no;
    }
    p = skip_space(p);
    static const struct { const char *text; enum op op; } ops[] = {
        { "==", OP_EQ }, { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE },
        { "<", OP_LT }, { ">", OP_GT },
    };
    size_t k = 0;
    while (k < sizeof(ops) / sizeof(ops[0]) && strncmp(p, ops[k].text, strlen(ops[k].text)) != 0) {
        k++;
    }
    if (k == sizeof(ops) / sizeof(ops[0])) {
        goto no;
    }
    f->op = ops[k].op;
    p = skip_space(p + strlen(ops[k].text));
    /* The literal: exactly one JSON scalar, then nothing but space. jv_parse takes a whole text
     * and refuses trailing garbage, so "0 and .b" or "1 | not" are not taken. */
    size_t len = strlen(p);
    while (len > 0 && strchr(" \t\r\n", p[len - 1])) {
        len--;
    }
    if (len == 0 || len > 256 || p[0] == '{' || p[0] == '[') {
        goto no;
    }
    jv lit = jv_parse_sized(p, (int)len);
    jv_kind kind = jv_get_kind(lit);
    if (kind == JV_KIND_INVALID || kind == JV_KIND_ARRAY || kind == JV_KIND_OBJECT) {
        jv_free(lit);
        goto no;
    }
    /* jq reads "0x10" or "1." differently from JSON, or not at all: only JSON's own numbers. */
    if (kind == JV_KIND_NUMBER) {
        for (size_t i = 0; i < len; i++) {
            if (!strchr("0123456789+-.eE", p[i])) {
                jv_free(lit);
                goto no;
            }
        }
    }
    jv_free(f->literal);
    f->literal = lit;
    return f;
no:
    jq_fast_filter_free(f);
    return NULL;
}

enum jq_fast_result jq_fast_filter_run(const struct jq_fast_filter *f, jv input)
{
    jv v = jv_copy(input);
    for (size_t i = 0; i < f->n_keys; i++) {
        jv_kind kind = jv_get_kind(v);
        if (kind == JV_KIND_NULL) {
            continue; /* .a on null is null */
        }
        if (kind != JV_KIND_OBJECT) {
            jv_free(v);
            return JQ_FAST_ASK_JQ; /* jq raises "Cannot index ..." */
        }
        v = jv_object_get(v, jv_string(f->keys[i]));
        if (!jv_is_valid(v)) {
            jv_free(v);
            v = jv_null(); /* a missing member is null */
        }
    }
    /* What jq's operators do: == and != by jv_equal, the orderings by jv_cmp (both consume). */
    switch (f->op) {
    case OP_EQ: return jv_equal(v, jv_copy(f->literal)) ? JQ_FAST_TRUE : JQ_FAST_FALSE;
    case OP_NE: return jv_equal(v, jv_copy(f->literal)) ? JQ_FAST_FALSE : JQ_FAST_TRUE;
    case OP_LT: return jv_cmp(v, jv_copy(f->literal)) < 0 ? JQ_FAST_TRUE : JQ_FAST_FALSE;
    case OP_LE: return jv_cmp(v, jv_copy(f->literal)) <= 0 ? JQ_FAST_TRUE : JQ_FAST_FALSE;
    case OP_GT: return jv_cmp(v, jv_copy(f->literal)) > 0 ? JQ_FAST_TRUE : JQ_FAST_FALSE;
    case OP_GE: return jv_cmp(v, jv_copy(f->literal)) >= 0 ? JQ_FAST_TRUE : JQ_FAST_FALSE;
    }
    jv_free(v);
    return JQ_FAST_ASK_JQ;
}
