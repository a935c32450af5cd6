/* jq programs (libjq 1.6) over jansson values, for the type, key and challenge expressions of
 * webhooks and the body program of deliveries; and the signed-payload template.
 *
 * A plugin cannot use the core's jq wrapper, so this is a small one of its own: values cross by
 * walking the trees (no text round trip). libjq's jv functions consume their jv arguments,
 * except the kind/value readers; jv_copy takes another reference. Numbers are doubles in libjq
 * 1.6: integers above 2^53 lose digits inside a program. A jq_state is not thread-safe: each
 * instance compiles its own, used on its thread only. */
#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jq.h>
#include <jv.h>

#include "http.h"

#define MAX_DEPTH 512
#define EXACT_INT_MAX 9007199254740992.0

struct http_jq {
    jq_state *jq;
    char *err; /* where the error callback writes during compile or a run */
    size_t errlen;
};

static void on_jq_error(void *data, jv msg)
{
    struct http_jq *q = data;
    if (q->err && q->errlen && !q->err[0]) {
        if (jv_get_kind(msg) == JV_KIND_STRING) {
            snprintf(q->err, q->errlen, "%s", jv_string_value(msg));
        } else {
            snprintf(q->err, q->errlen, "jq error");
        }
        size_t n = strlen(q->err);
        while (n > 0 && (q->err[n - 1] == '\n' || q->err[n - 1] == ' ')) {
            q->err[--n] = '\0';
        }
    }
    jv_free(msg);
}

static void on_jq_debug(void *data, jv msg)
{
    jv_free(msg);
}

struct http_jq *http_jq_compile(const char *program, char *err, size_t errlen)
{
    if (err && errlen) {
        err[0] = '\0';
    }
    struct http_jq *q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->jq = jq_init();
    if (!q->jq) {
        free(q);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->err = err;
    q->errlen = errlen;
    jq_set_error_cb(q->jq, on_jq_error, q);
    jq_set_debug_cb(q->jq, on_jq_debug, NULL);
    if (!jq_compile(q->jq, program)) {
        if (err && errlen && !err[0]) {
            snprintf(err, errlen, "the jq program does not compile");
        }
        http_jq_destroy(&q);
        return NULL;
    }
    q->err = NULL;
    q->errlen = 0;
    return q;
}

void http_jq_destroy(struct http_jq **jqp)
{
    if (!jqp || !*jqp) {
        return;
    }
    if ((*jqp)->jq) {
        jq_teardown(&(*jqp)->jq);
    }
    free(*jqp);
    *jqp = NULL;
}

/* jansson (borrowed) -> jv (new); jv_invalid() when too deep. */
static jv to_jv(const json_t *j, int depth)
{
    if (depth > MAX_DEPTH) {
        return jv_invalid_with_msg(jv_string("input nested too deeply"));
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jv obj = jv_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            jv val = to_jv(v, depth + 1);
            if (!jv_is_valid(val)) {
                jv_free(obj);
                return val;
            }
            obj = jv_object_set(obj, jv_string(k), val);
        }
        return obj;
    }
    case JSON_ARRAY: {
        jv arr = jv_array();
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            jv val = to_jv(v, depth + 1);
            if (!jv_is_valid(val)) {
                jv_free(arr);
                return val;
            }
            arr = jv_array_append(arr, val);
        }
        return arr;
    }
    case JSON_STRING:
        return json_string_length(j) > INT_MAX
                   ? jv_invalid_with_msg(jv_string("string too long"))
                   : jv_string_sized(json_string_value(j), (int)json_string_length(j));
    case JSON_INTEGER:
        return jv_number((double)json_integer_value(j));
    case JSON_REAL:
        return jv_number(json_real_value(j));
    case JSON_TRUE:
        return jv_true();
    case JSON_FALSE:
        return jv_false();
    case JSON_NULL:
    default:
        return jv_null();
    }
}

static json_t *number_to_json(double d)
{
    if (isnan(d)) {
        return json_null();
    }
    if (isinf(d)) {
        return json_real(d > 0 ? DBL_MAX : -DBL_MAX);
    }
    if (d == trunc(d) && fabs(d) <= EXACT_INT_MAX) {
        return json_integer((json_int_t)d);
    }
    return json_real(d);
}

/* jv (consumed) -> jansson (new), NULL on error. */
static json_t *from_jv(jv v, int depth)
{
    json_t *res = NULL;
    if (depth > MAX_DEPTH) {
        jv_free(v);
        return NULL;
    }
    switch (jv_get_kind(v)) {
    case JV_KIND_NULL:
        res = json_null();
        break;
    case JV_KIND_TRUE:
        res = json_true();
        break;
    case JV_KIND_FALSE:
        res = json_false();
        break;
    case JV_KIND_NUMBER:
        res = number_to_json(jv_number_value(v));
        break;
    case JV_KIND_STRING:
        res = json_stringn(jv_string_value(v), (size_t)jv_string_length_bytes(jv_copy(v)));
        break;
    case JV_KIND_ARRAY: {
        int n = jv_array_length(jv_copy(v));
        res = json_array();
        for (int i = 0; res && i < n; i++) {
            json_t *e = from_jv(jv_array_get(jv_copy(v), i), depth + 1);
            if (!e || json_array_append_new(res, e) != 0) {
                json_decref(res);
                res = NULL;
            }
        }
        break;
    }
    case JV_KIND_OBJECT:
        res = json_object();
        for (int it = jv_object_iter(v); res && jv_object_iter_valid(v, it);
             it = jv_object_iter_next(v, it)) {
            jv key = jv_object_iter_key(v, it);
            json_t *e = from_jv(jv_object_iter_value(v, it), depth + 1);
            if (!e || json_object_set_new(res, jv_string_value(key), e) != 0) {
                json_decref(res);
                res = NULL;
            }
            jv_free(key);
        }
        break;
    default:
        break;
    }
    jv_free(v);
    return res;
}

struct http_jv {
    jv v;
};

struct http_jv *http_jv_from_json(const json_t *j)
{
    struct http_jv *in = malloc(sizeof(*in));
    if (!in) {
        return NULL;
    }
    in->v = to_jv(j, 0);
    if (!jv_is_valid(in->v)) {
        jv_free(in->v);
        free(in);
        return NULL;
    }
    return in;
}

struct http_jv *http_jv_request(const struct omb_http_request *req, const json_t *body)
{
    struct http_jv *in = malloc(sizeof(*in));
    if (!in) {
        return NULL;
    }
    jv headers = jv_object();
    char name[128];
    for (size_t i = 0; i < req->n_headers; i++) {
        size_t n = strlen(req->headers[i].name);
        if (n >= sizeof(name)) {
            continue;
        }
        for (size_t k = 0; k <= n; k++) {
            name[k] = (char)tolower((unsigned char)req->headers[i].name[k]);
        }
        /* The first of repeated headers, as omb_http_header_get. */
        if (!jv_object_has(jv_copy(headers), jv_string(name))) {
            headers = jv_object_set(headers, jv_string(name), jv_string(req->headers[i].value));
        }
    }
    jv b = to_jv(body, 0);
    if (!jv_is_valid(b)) {
        jv_free(b);
        jv_free(headers);
        free(in);
        return NULL;
    }
    jv o = jv_object();
    o = jv_object_set(o, jv_string("method"), jv_string(req->method));
    o = jv_object_set(o, jv_string("path"), jv_string(req->path));
    o = jv_object_set(o, jv_string("query"), jv_string(req->query));
    o = jv_object_set(o, jv_string("headers"), headers);
    in->v = jv_object_set(o, jv_string("body"), b);
    return in;
}

void http_jv_free(struct http_jv *in)
{
    if (in) {
        jv_free(in->v);
        free(in);
    }
}

int http_jq_first(struct http_jq *q, const struct http_jv *input, json_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (err && errlen) {
        err[0] = '\0';
    }
    q->err = err;
    q->errlen = errlen;
    jq_start(q->jq, jv_copy(input->v), 0);
    jv r = jq_next(q->jq);
    int rc = 0;
    if (jv_is_valid(r)) {
        *out = from_jv(r, 0);
        if (!*out) {
            snprintf(err, errlen, "jq's result cannot be converted to JSON");
            rc = OMB_EINVAL;
        }
    } else if (jv_invalid_has_msg(jv_copy(r))) {
        jv msg = jv_invalid_get_msg(r);
        if (jv_get_kind(msg) == JV_KIND_STRING) {
            snprintf(err, errlen, "%s", jv_string_value(msg));
        } else {
            snprintf(err, errlen, "jq error");
        }
        jv_free(msg);
        rc = OMB_EINVAL;
    } else {
        jv_free(r);
    }
    q->err = NULL;
    q->errlen = 0;
    return rc;
}

/* ---- the signed-payload template ------------------------------------------------------------ */

static int add_part(struct http_part **parts, size_t *n, enum http_part_kind kind,
                    const char *text, size_t len)
{
    struct http_part *v = realloc(*parts, (*n + 1) * sizeof(*v));
    if (!v) {
        return OMB_ENOMEM;
    }
    *parts = v;
    v[*n].kind = kind;
    v[*n].text = NULL;
    if (text) {
        v[*n].text = strndup(text, len);
        if (!v[*n].text) {
            return OMB_ENOMEM;
        }
    }
    (*n)++;
    return 0;
}

int http_template_parse(const char *tpl, struct http_part **parts_out, size_t *n_out, char *err,
                        size_t errlen)
{
    struct http_part *parts = NULL;
    size_t n = 0;
    int rc = 0;
    char lit[1024];
    size_t litlen = 0;

    if (strcmp(tpl, "body") == 0) {
        tpl = "{body}";
    }
    for (const char *p = tpl; *p && rc == 0;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            if (litlen + 1 >= sizeof(lit)) {
                rc = OMB_EINVAL;
                snprintf(err, errlen, "signature-payload: too long");
                break;
            }
            lit[litlen++] = p[0];
            p += 2;
            continue;
        }
        if (*p == '}') {
            rc = OMB_EINVAL;
            snprintf(err, errlen, "signature-payload: a lone '}' (write }} for a literal one)");
            break;
        }
        if (*p != '{') {
            if (litlen + 1 >= sizeof(lit)) {
                rc = OMB_EINVAL;
                snprintf(err, errlen, "signature-payload: too long");
                break;
            }
            lit[litlen++] = *p++;
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) {
            rc = OMB_EINVAL;
            snprintf(err, errlen,
                     "signature-payload: '{' without '}' (write {{ for a literal one)");
            break;
        }
        if (litlen > 0) {
            rc = add_part(&parts, &n, PART_TEXT, lit, litlen);
            litlen = 0;
        }
        size_t len = (size_t)(end - p - 1);
        const char *name = p + 1;
        if (rc != 0) {
            break;
        } else if (len == 4 && strncmp(name, "body", 4) == 0) {
            rc = add_part(&parts, &n, PART_BODY, NULL, 0);
        } else if (len == 6 && strncmp(name, "method", 6) == 0) {
            rc = add_part(&parts, &n, PART_METHOD, NULL, 0);
        } else if (len == 4 && strncmp(name, "path", 4) == 0) {
            rc = add_part(&parts, &n, PART_PATH, NULL, 0);
        } else if (len == 5 && strncmp(name, "query", 5) == 0) {
            rc = add_part(&parts, &n, PART_QUERY, NULL, 0);
        } else if (len > 7 && strncmp(name, "header:", 7) == 0) {
            rc = add_part(&parts, &n, PART_HEADER, name + 7, len - 7);
        } else {
            rc = OMB_EINVAL;
            snprintf(err, errlen,
                     "signature-payload: unknown placeholder {%.*s}; expected {body}, "
                     "{header:NAME}, {method}, {path} or {query}", (int)(len > 40 ? 40 : len),
                     name);
        }
        p = end + 1;
    }
    if (rc == 0 && litlen > 0) {
        rc = add_part(&parts, &n, PART_TEXT, lit, litlen);
    }
    if (rc == OMB_ENOMEM) {
        snprintf(err, errlen, "out of memory");
    }
    if (rc != 0) {
        http_template_free(parts, n);
        return rc;
    }
    *parts_out = parts;
    *n_out = n;
    return 0;
}

void http_template_free(struct http_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(parts[i].text);
    }
    free(parts);
}
