/* The native fast paths: `.a.b OP literal` filters and simple object-building transforms. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* True when jq 1.6 would import $HOME/.jq into the program (it does when that is anything but a
 * directory; without HOME it imports nothing). Its definitions can replace _equal, _plus, max and
 * the like, so neither fast path is jq's meaning then. Unsure (an empty HOME, a path too long, a
 * stat error other than "not there") counts as present. */
static bool home_library_present(void)
{
    const char *home = getenv("HOME");
    if (!home) {
        return false;
    }
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/.jq", home);
    if (home[0] == '\0' || n < 0 || (size_t)n >= sizeof(path)) {
        return true;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        return errno != ENOENT && errno != ENOTDIR;
    }
    return !S_ISDIR(st.st_mode);
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
    if (home_library_present()) {
        return NULL;
    }
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

/* ---- transforms ------------------------------------------------------------------------------
 *
 * The subset, checked against jq 1.6 by tests/unit/jq_test.c (test_fast_transforms):
 *   program := '{' field (',' field)* '}'            no two fields with the same key
 *   field   := name | name ':' term | "text" ':' term
 *   term    := path | literal | path OP number        OP one of + - *
 *            | '(' '[' term (',' term)* ']' '|' ('max' | 'min') ')' | '(' term ')'
 *   path    := '.' | ('.' name)+                      no space inside
 *   literal := number | "text" | true | false | null
 * name is a jq identifier without `::`; "text" has no backslash (no escapes, no interpolation)
 * and no control character; number is a JSON number (an optional minus sign included: jq
 * negates the literal, which gives the same double). Space may separate tokens; a comment,
 * a trailing comma or anything else makes the program jq's. jq rejects some of these forms
 * itself (`{a: .b + 1}` needs parentheses in jq 1.6); they never get here, as jq compiles the
 * program first.
 *
 * On an input, jq's result is produced as jq produces it: the object built with jv_object_set
 * in program order, a path's step on an object by jv_object_get (missing: null), on null null;
 * arithmetic in double as jq's _plus/_minus/_multiply do for two numbers; max and min by jq's
 * own loop (minmax_by in builtin.c) with its jv_cmp. Anything else asks jq: a step on another
 * type (jq raises), arithmetic on a non-number (jq has rules for null, strings, arrays and
 * objects, or raises), max/min over a non-number. */

#define MAX_FIELDS 64
#define MAX_ELEMS 16
#define MAX_NEST 16
#define MAX_TOKEN 1024

enum term_kind { TERM_PATH, TERM_LITERAL, TERM_ARITH, TERM_MAX, TERM_MIN };

struct term {
    enum term_kind kind;
    jv keys[MAX_KEYS]; /* PATH, ARITH: the path's member names (jv strings); none for `.` */
    size_t n_keys;
    jv literal;                    /* LITERAL: the value; ARITH: the number */
    char op;                       /* ARITH: '+', '-' or '*' */
    struct term *elems[MAX_ELEMS]; /* MAX, MIN */
    size_t n_elems;
};

struct field {
    jv key;
    struct term *value;
};

struct jq_fast_transform {
    struct field fields[MAX_FIELDS];
    size_t n_fields;
};

static struct term *term_new(enum term_kind kind)
{
    struct term *t = calloc(1, sizeof(*t));
    if (t) {
        t->kind = kind;
        t->literal = jv_null();
    }
    return t;
}

static void term_free(struct term *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_keys; i++) {
        jv_free(t->keys[i]);
    }
    for (size_t i = 0; i < t->n_elems; i++) {
        term_free(t->elems[i]);
    }
    jv_free(t->literal);
    free(t);
}

void jq_fast_transform_free(struct jq_fast_transform *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_fields; i++) {
        jv_free(t->fields[i].key);
        term_free(t->fields[i].value);
    }
    free(t);
}

/* The end of the JSON number at p, or NULL when there is none. */
static const char *scan_number(const char *p)
{
    if (*p == '-') {
        p++;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    } else {
        return NULL;
    }
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) {
            return NULL;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        if (!(*p >= '0' && *p <= '9')) {
            return NULL;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    return p;
}

/* A JSON number at *pp, read as jq reads a numeric literal (jv_parse); advances *pp. An invalid
 * jv when there is none. */
static jv parse_number(const char **pp)
{
    const char *end = scan_number(*pp);
    if (!end || end - *pp > MAX_TOKEN) {
        return jv_invalid();
    }
    jv v = jv_parse_sized(*pp, (int)(end - *pp));
    if (jv_get_kind(v) != JV_KIND_NUMBER) {
        jv_free(v);
        return jv_invalid();
    }
    *pp = end;
    return v;
}

/* A "text" at *pp (no backslash, no control character), as jq makes a string literal
 * (jv_string_sized, which also replaces invalid UTF-8 as jq's does); advances *pp. */
static jv parse_string(const char **pp)
{
    const char *start = *pp + 1;
    const char *p = start;
    while (*p != '"') {
        if (*p == '\0' || *p == '\\' || (unsigned char)*p < 0x20 || p - start > MAX_TOKEN) {
            return jv_invalid();
        }
        p++;
    }
    *pp = p + 1;
    return jv_string_sized(start, (int)(p - start));
}

/* A jq identifier at *pp as a jv string; advances *pp. */
static jv parse_name(const char **pp)
{
    const char *start = *pp;
    const char *p = start;
    while (ident_char(*p)) {
        p++;
    }
    if (p == start || p - start > MAX_TOKEN) {
        return jv_invalid();
    }
    *pp = p;
    return jv_string_sized(start, (int)(p - start));
}

/* A number, "text", true, false or null at *pp; advances *pp. */
static jv parse_literal(const char **pp)
{
    const char *p = *pp;
    if (*p == '"') {
        return parse_string(pp);
    }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        return parse_number(pp);
    }
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);
        if (strncmp(p, words[i], n) == 0 && !ident_char(p[n])) {
            *pp = p + n;
            return i == 0 ? jv_true() : i == 1 ? jv_false() : jv_null();
        }
    }
    return jv_invalid();
}

/* A path at *pp (which is at a '.') into t's keys; advances *pp. */
static bool parse_path(const char **pp, struct term *t)
{
    const char *p = *pp;
    if (!ident_start(p[1])) {
        if (p[1] == '.') {
            return false; /* `..` */
        }
        *pp = p + 1;
        return true;
    }
    while (*p == '.') {
        p++;
        if (!ident_start(*p) || t->n_keys == MAX_KEYS) {
            return false;
        }
        jv key = parse_name(&p);
        if (!jv_is_valid(key)) {
            return false;
        }
        t->keys[t->n_keys++] = key;
    }
    *pp = p;
    return true;
}

static struct term *parse_term(const char **pp, int depth);

/* After '(' '[': the elements, ']' '|' and max or min, not yet the ')'; advances *pp. */
static struct term *parse_minmax(const char **pp, int depth)
{
    const char *p = *pp;
    struct term *t = term_new(TERM_MAX);
    if (!t) {
        return NULL;
    }
    for (;;) {
        if (t->n_elems == MAX_ELEMS) {
            goto no;
        }
        struct term *e = parse_term(&p, depth + 1);
        if (!e) {
            goto no;
        }
        t->elems[t->n_elems++] = e;
        p = skip_space(p);
        if (*p != ',') {
            break;
        }
        p++;
    }
    if (*p != ']') {
        goto no;
    }
    p = skip_space(p + 1);
    if (*p != '|') {
        goto no;
    }
    p = skip_space(p + 1);
    if (strncmp(p, "max", 3) == 0 && !ident_char(p[3])) {
        t->kind = TERM_MAX;
    } else if (strncmp(p, "min", 3) == 0 && !ident_char(p[3])) {
        t->kind = TERM_MIN;
    } else {
        goto no;
    }
    *pp = p + 3;
    return t;
no:
    term_free(t);
    return NULL;
}

/* A term at *pp (space before it skipped, none after); advances *pp. NULL when it is not one. */
static struct term *parse_term(const char **pp, int depth)
{
    const char *p = skip_space(*pp);
    struct term *t = NULL;

    if (depth > MAX_NEST) {
        return NULL;
    }
    if (*p == '(') {
        p = skip_space(p + 1);
        if (*p == '[') {
            p++;
            t = parse_minmax(&p, depth);
        } else {
            t = parse_term(&p, depth + 1);
        }
        if (!t) {
            return NULL;
        }
        p = skip_space(p);
        if (*p != ')') {
            goto no;
        }
        *pp = p + 1;
        return t;
    }
    if (*p == '.') {
        t = term_new(TERM_PATH);
        if (!t || !parse_path(&p, t)) {
            goto no;
        }
        /* `path OP number`; not `-=` and the like (update-assignments). */
        const char *q = skip_space(p);
        if ((*q == '+' || *q == '-' || *q == '*') && q[1] != '=') {
            t->op = *q;
            q = skip_space(q + 1);
            jv n = parse_number(&q);
            if (!jv_is_valid(n)) {
                goto no;
            }
            jv_free(t->literal);
            t->literal = n;
            t->kind = TERM_ARITH;
            p = q;
        }
        *pp = p;
        return t;
    }
    jv lit = parse_literal(&p);
    if (!jv_is_valid(lit)) {
        return NULL;
    }
    t = term_new(TERM_LITERAL);
    if (!t) {
        jv_free(lit);
        return NULL;
    }
    jv_free(t->literal);
    t->literal = lit;
    *pp = p;
    return t;
no:
    term_free(t);
    return NULL;
}

/* One field at *pp into f (both set, or neither); advances *pp. */
static bool parse_field(const char **pp, struct field *f)
{
    const char *p = skip_space(*pp);
    bool is_name = ident_start(*p);
    jv key;
    if (*p == '"') {
        key = parse_string(&p);
    } else if (is_name) {
        key = parse_name(&p);
    } else {
        return false;
    }
    if (!jv_is_valid(key)) {
        return false;
    }
    struct term *value = NULL;
    const char *q = skip_space(p);
    if (*q == ':') {
        q++;
        value = parse_term(&q, 0);
        p = q;
    } else if (is_name) {
        /* `name` is `name: .name` */
        value = term_new(TERM_PATH);
        if (value) {
            value->keys[value->n_keys++] = jv_copy(key);
        }
    }
    if (!value) {
        jv_free(key);
        return false;
    }
    f->key = key;
    f->value = value;
    *pp = p;
    return true;
}

struct jq_fast_transform *jq_fast_transform_new(const char *program)
{
    if (home_library_present()) {
        return NULL;
    }
    struct jq_fast_transform *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    const char *p = skip_space(program);
    if (*p != '{') {
        goto no;
    }
    p++;
    for (;;) {
        if (t->n_fields == MAX_FIELDS || !parse_field(&p, &t->fields[t->n_fields])) {
            goto no;
        }
        struct field *f = &t->fields[t->n_fields++];
        for (size_t i = 0; i + 1 < t->n_fields; i++) {
            if (jv_equal(jv_copy(t->fields[i].key), jv_copy(f->key))) {
                goto no; /* jq keeps the first position and the last value */
            }
        }
        p = skip_space(p);
        if (*p != ',') {
            break;
        }
        p++;
    }
    if (*p != '}' || *skip_space(p + 1) != '\0') {
        goto no;
    }
    return t;
no:
    jq_fast_transform_free(t);
    return NULL;
}

/* The value of t's path on input (borrowed) into *out (new); false where jq raises. */
static bool eval_path(const struct term *t, jv input, jv *out)
{
    jv v = jv_copy(input);
    for (size_t i = 0; i < t->n_keys; i++) {
        jv_kind kind = jv_get_kind(v);
        if (kind == JV_KIND_NULL) {
            continue; /* .a on null is null */
        }
        if (kind != JV_KIND_OBJECT) {
            jv_free(v);
            return false; /* jq raises "Cannot index ..." */
        }
        v = jv_object_get(v, jv_copy(t->keys[i]));
        if (!jv_is_valid(v)) {
            jv_free(v);
            v = jv_null(); /* a missing member is null */
        }
    }
    *out = v;
    return true;
}

static bool eval_term(const struct term *t, jv input, jv *out);

/* A term that must give a number into *out; false otherwise. */
static bool eval_number(const struct term *t, jv input, jv *out)
{
    if (!eval_term(t, input, out)) {
        return false;
    }
    if (jv_get_kind(*out) != JV_KIND_NUMBER) {
        jv_free(*out);
        return false;
    }
    return true;
}

/* jq 1.6's max and min (minmax_by in src/builtin.c, keys = values): start from the first
 * element; each next one replaces the best so far when jv_cmp(next, best) < 0 for min, and when
 * it is >= 0 for max. So among equal numbers (0 and -0 too) min keeps the first, max the last. */
static bool eval_minmax(const struct term *t, jv input, jv *out)
{
    jv best;
    if (!eval_number(t->elems[0], input, &best)) {
        return false;
    }
    for (size_t i = 1; i < t->n_elems; i++) {
        jv next;
        if (!eval_number(t->elems[i], input, &next)) {
            jv_free(best);
            return false;
        }
        int cmp = jv_cmp(jv_copy(next), jv_copy(best));
        if ((cmp < 0) == (t->kind == TERM_MIN)) {
            jv_free(best);
            best = next;
        } else {
            jv_free(next);
        }
    }
    *out = best;
    return true;
}

static bool eval_term(const struct term *t, jv input, jv *out)
{
    switch (t->kind) {
    case TERM_PATH:
        return eval_path(t, input, out);
    case TERM_LITERAL:
        *out = jv_copy(t->literal);
        return true;
    case TERM_ARITH: {
        jv v;
        if (!eval_path(t, input, &v)) {
            return false;
        }
        if (jv_get_kind(v) != JV_KIND_NUMBER) {
            jv_free(v);
            return false; /* jq's rules for null, strings, arrays, objects, or an error */
        }
        double a = jv_number_value(v);
        double b = jv_number_value(t->literal);
        jv_free(v);
        *out = jv_number(t->op == '+' ? a + b : t->op == '-' ? a - b : a * b);
        return true;
    }
    case TERM_MAX:
    case TERM_MIN:
        return eval_minmax(t, input, out);
    }
    return false;
}

bool jq_fast_transform_run(const struct jq_fast_transform *t, jv input, jv *out)
{
    jv obj = jv_object();
    for (size_t i = 0; i < t->n_fields; i++) {
        jv v;
        if (!eval_term(t->fields[i].value, input, &v)) {
            jv_free(obj);
            return false;
        }
        obj = jv_object_set(obj, jv_copy(t->fields[i].key), v); /* consumes key and v */
    }
    *out = obj;
    return true;
}
