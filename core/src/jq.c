/* jq programs (libjq 1.6) over jansson values.
 *
 * Values cross between jansson and libjq by walking the trees (no text round trip). libjq's jv
 * values are reference-counted and every jv function consumes (frees) its jv arguments unless it
 * only reads them (jv_get_kind, jv_number_value, jv_string_value, jv_object_iter*); jv_copy takes
 * another reference where a value is still needed afterwards.
 *
 * libjq 1.6 facts this file relies on:
 * - jq_compile returns non-zero on success; its error messages (strings, occasionally other jv
 *   values) go through the error callback, followed by a "jq: N compile error(s)" summary.
 * - jq_next returns an invalid jv at the end: with a message for a runtime error, without one for
 *   the end of results or after `halt`/`halt_error` (then jq_halted() is true and the exit code
 *   and message are kept on the state). `error(null)` is indistinguishable from the end in 1.6.
 * - jq_start resets the state (stack, halt flag), so a run that stopped early needs no draining.
 * - Numbers are doubles; objects keep insertion order through jv_object_iter.
 * - jq_compile also reads ~/.jq (of $HOME) when it is a file and binds its definitions: the daemon
 *   should run with a HOME that has no .jq file.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jq.h>
#include <jv.h>

#include "omnibus/err.h"

#include "jq.h"
#include "jq_fast.h"
#include "jq_write.h"

/* Deeper values are refused rather than risk the stack (jansson's parser stops at 2048 too). */
#define MAX_DEPTH 2048

/* Integers up to 2^53 are exact in a double. */
#define EXACT_INT_MAX 9007199254740992.0

/* Where messages reported through jq's error callback go during one call. */
struct sink {
    char *buf;
    size_t len;
    size_t used;
};

struct omb_jq {
    jq_state *jq;
    struct sink sink;
    struct jq_fast_filter *fast; /* set when the program is a plain comparison (jq_fast.h) */
    struct jq_fast_transform *transform; /* set when it is a simple object (jq_fast.h) */
};

static void sink_reset(struct sink *s, char *buf, size_t len)
{
    s->buf = len ? buf : NULL;
    s->len = s->buf ? len : 0;
    s->used = 0;
    if (s->buf) {
        s->buf[0] = '\0';
    }
}

/* Append text (n bytes) to the sink, truncating; trailing newlines are dropped, and separate
 * messages are joined by a newline. */
static void sink_append(struct sink *s, const char *text, size_t n)
{
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) {
        n--;
    }
    if (!s->buf || n == 0) {
        return;
    }
    if (s->used > 0 && s->used + 1 < s->len) {
        s->buf[s->used++] = '\n';
    }
    size_t room = s->len - 1 - s->used;
    if (n > room) {
        n = room;
    }
    memcpy(s->buf + s->used, text, n);
    s->used += n;
    s->buf[s->used] = '\0';
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Text of a jq message value: a string as is, anything else as compact JSON. Consumes msg;
 * returns a new jv string (or an invalid jv if dumping failed). */
static jv msg_text(jv msg)
{
    if (jv_get_kind(msg) == JV_KIND_STRING) {
        return msg;
    }
    jv dumped = jv_dump_string(msg, 0);
    if (jv_get_kind(dumped) != JV_KIND_STRING) {
        jv_free(dumped);
        return jv_invalid();
    }
    return jv_string_concat(jv_string("(not a string): "), dumped);
}

/* jq's error callback: consumes msg. */
static void on_jq_error(void *data, jv msg)
{
    struct sink *s = data;
    jv text = msg_text(msg);
    if (jv_get_kind(text) == JV_KIND_STRING) {
        sink_append(s, jv_string_value(text), (size_t)jv_string_length_bytes(jv_copy(text)));
    }
    jv_free(text);
}

/* Debug messages (`debug`) are dropped; consumes msg. */
static void on_jq_debug(void *data, jv msg)
{
    jv_free(msg);
}

/* ---- jansson -> jv ---------------------------------------------------------------------- */

/* Convert j (borrowed) into *out (a new jv, owned by the caller on success). */
static int to_jv(const json_t *j, int depth, jv *out, char *err, size_t errlen)
{
    if (depth > MAX_DEPTH) {
        set_err(err, errlen, "input nested deeper than %d levels", MAX_DEPTH);
        return OMB_EINVAL;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jv obj = jv_object();
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it)) {
            const char *key = json_object_iter_key(it);
#if JANSSON_VERSION_HEX >= 0x020e00
            size_t keylen = json_object_iter_key_len(it);
#else
            size_t keylen = strlen(key);
#endif
            jv val;
            if (keylen > INT_MAX) {
                jv_free(obj);
                set_err(err, errlen, "object key too long");
                return OMB_EINVAL;
            }
            int rc = to_jv(json_object_iter_value(it), depth + 1, &val, err, errlen);
            if (rc < 0) {
                jv_free(obj);
                return rc;
            }
            obj = jv_object_set(obj, jv_string_sized(key, (int)keylen), val);
        }
        *out = obj;
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        if (n > INT_MAX) {
            set_err(err, errlen, "array too long");
            return OMB_EINVAL;
        }
        jv arr = jv_array_sized((int)n);
        for (size_t i = 0; i < n; i++) {
            jv val;
            int rc = to_jv(json_array_get(j, i), depth + 1, &val, err, errlen);
            if (rc < 0) {
                jv_free(arr);
                return rc;
            }
            arr = jv_array_append(arr, val);
        }
        *out = arr;
        return 0;
    }
    case JSON_STRING: {
        size_t n = json_string_length(j);
        if (n > INT_MAX) {
            set_err(err, errlen, "string too long");
            return OMB_EINVAL;
        }
        *out = jv_string_sized(json_string_value(j), (int)n);
        return 0;
    }
    case JSON_INTEGER:
        /* Exact up to 2^53; beyond that libjq 1.6 rounds to the nearest double. */
        *out = jv_number((double)json_integer_value(j));
        return 0;
    case JSON_REAL:
        *out = jv_number(json_real_value(j));
        return 0;
    case JSON_TRUE:
        *out = jv_true();
        return 0;
    case JSON_FALSE:
        *out = jv_false();
        return 0;
    case JSON_NULL:
        *out = jv_null();
        return 0;
    }
    set_err(err, errlen, "unknown JSON value type");
    return OMB_EINVAL;
}

/* ---- jv -> jansson ---------------------------------------------------------------------- */

/* A jq number as jansson: integral values within +-2^53 become integers (money in minor units,
 * quantities), others reals. NaN and infinities become what jq 1.6 itself prints for them: null
 * and +-DBL_MAX. Returns a new reference or NULL. */
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

/* Convert v (consumed) into *out (new reference). */
static int from_jv(jv v, int depth, json_t **out, char *err, size_t errlen)
{
    json_t *res = NULL;
    int rc = 0;

    if (depth > MAX_DEPTH) {
        set_err(err, errlen, "result nested deeper than %d levels", MAX_DEPTH);
        rc = OMB_EINVAL;
        goto out;
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
        if (!res) {
            break;
        }
        for (int i = 0; i < n; i++) {
            json_t *elem = NULL;
            rc = from_jv(jv_array_get(jv_copy(v), i), depth + 1, &elem, err, errlen);
            if (rc < 0) {
                goto out;
            }
            if (json_array_append_new(res, elem) < 0) {
                rc = OMB_ENOMEM;
                goto out;
            }
        }
        break;
    }
    case JV_KIND_OBJECT:
        res = json_object();
        if (!res) {
            break;
        }
        for (int it = jv_object_iter(v); jv_object_iter_valid(v, it);
             it = jv_object_iter_next(v, it)) {
            jv key = jv_object_iter_key(v, it); /* new reference */
            json_t *val = NULL;
            rc = from_jv(jv_object_iter_value(v, it), depth + 1, &val, err, errlen);
            if (rc < 0) {
                jv_free(key);
                goto out;
            }
#if JANSSON_VERSION_HEX >= 0x020e00
            int set = json_object_setn_new(res, jv_string_value(key),
                                           (size_t)jv_string_length_bytes(jv_copy(key)), val);
#else
            int set = json_object_set_new(res, jv_string_value(key), val);
#endif
            jv_free(key);
            if (set < 0) {
                rc = OMB_ENOMEM;
                goto out;
            }
        }
        break;
    case JV_KIND_INVALID:
    default:
        set_err(err, errlen, "jq produced an invalid value");
        rc = OMB_EINVAL;
        goto out;
    }
    if (!res) {
        set_err(err, errlen, "out of memory converting a jq result");
        rc = OMB_ENOMEM;
    }
out:
    jv_free(v);
    if (rc < 0) {
        json_decref(res);
        res = NULL;
    }
    *out = res;
    return rc;
}

/* ---- programs ----------------------------------------------------------------------------- */

struct omb_jq *omb_jq_compile(const char *program, char *err, size_t errlen)
{
    struct omb_jq *jq = NULL;

    if (err && errlen) {
        err[0] = '\0';
    }
    if (!program) {
        set_err(err, errlen, "no jq program");
        return NULL;
    }
    jq = calloc(1, sizeof(*jq));
    if (!jq) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    jq->jq = jq_init();
    if (!jq->jq) {
        set_err(err, errlen, "out of memory (jq_init)");
        goto fail;
    }
    sink_reset(&jq->sink, err, errlen);
    jq_set_error_cb(jq->jq, on_jq_error, &jq->sink);
    jq_set_debug_cb(jq->jq, on_jq_debug, NULL);
    if (!jq_compile(jq->jq, program)) {
        if (jq->sink.used == 0) {
            set_err(err, errlen, "jq program does not compile");
        }
        goto fail;
    }
    sink_reset(&jq->sink, NULL, 0);
    jq->fast = jq_fast_filter_new(program);
    jq->transform = jq_fast_transform_new(program);
    return jq;
fail:
    omb_jq_destroy(&jq);
    return NULL;
}

void omb_jq_destroy(struct omb_jq **jqp)
{
    if (!jqp || !*jqp) {
        return;
    }
    struct omb_jq *jq = *jqp;
    if (jq->jq) {
        jq_teardown(&jq->jq);
    }
    jq_fast_filter_free(jq->fast);
    jq_fast_transform_free(jq->transform);
    free(jq);
    *jqp = NULL;
}

/* Receives one result (consumed). Returns 0 to go on, non-zero to stop with that value. */
typedef int (*jv_result_fn)(jv result, void *arg);

/* How a run ended, once jq_next returned an invalid value (consumed): 0 for the end of results
 * (or a plain `halt`), OMB_EINVAL with the message for an error or `halt_error`. */
static int run_end(struct omb_jq *jq, jv end, char *err, size_t errlen)
{
    if (jv_invalid_has_msg(jv_copy(end))) {
        jv text = msg_text(jv_invalid_get_msg(end));
        set_err(err, errlen, "%s",
                jv_get_kind(text) == JV_KIND_STRING ? jv_string_value(text) : "jq error");
        jv_free(text);
        return OMB_EINVAL;
    }
    jv_free(end);
    if (!jq_halted(jq->jq)) {
        return 0;
    }
    jv code = jq_get_exit_code(jq->jq);
    int failed =
        jv_is_valid(code) && !(jv_get_kind(code) == JV_KIND_NUMBER && jv_number_value(code) == 0);
    int exit_code = -1;
    if (jv_get_kind(code) == JV_KIND_NUMBER && fabs(jv_number_value(code)) <= INT_MAX) {
        exit_code = (int)jv_number_value(code);
    }
    jv_free(code);
    if (!failed) {
        return 0;
    }
    jv msg = jq_get_error_message(jq->jq);
    jv text = jv_invalid();
    if (jv_is_valid(msg) && jv_get_kind(msg) != JV_KIND_NULL) {
        text = msg_text(msg);
    } else {
        jv_free(msg);
    }
    if (jv_get_kind(text) == JV_KIND_STRING) {
        const char *s = jv_string_value(text);
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '\n') {
            n--;
        }
        set_err(err, errlen, "halt_error (exit %d): %.*s", exit_code, (int)n, s);
    } else {
        set_err(err, errlen, "halt_error (exit %d)", exit_code);
    }
    jv_free(text);
    return OMB_EINVAL;
}

/* Run jq on input, handing at most max results (max < 0: all) to fn. Returns the number of
 * results handed over, OMB_EINVAL (a jq error), or fn's non-zero return. */
static int run_jv(struct omb_jq *jq, jv in, int max, jv_result_fn fn, void *arg, char *err,
                  size_t errlen)
{
    int n = 0;
    int rc;

    sink_reset(&jq->sink, err, errlen);
    jq_start(jq->jq, in, 0); /* consumes in */
    for (;;) {
        if (max >= 0 && n >= max) {
            rc = n;
            goto out;
        }
        jv result = jq_next(jq->jq);
        if (!jv_is_valid(result)) {
            rc = run_end(jq, result, err, errlen);
            if (rc == 0) {
                rc = n;
            }
            goto out;
        }
        rc = fn(result, arg);
        if (rc != 0) {
            goto out;
        }
        n++;
    }
out:
    sink_reset(&jq->sink, NULL, 0);
    return rc;
}

static int run(struct omb_jq *jq, const json_t *input, int max, jv_result_fn fn, void *arg,
               char *err, size_t errlen)
{
    jv in;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!jq || !input) {
        set_err(err, errlen, "no jq program or no input");
        return OMB_EINVAL;
    }
    int rc = to_jv(input, 0, &in, err, errlen);
    if (rc < 0) {
        return rc;
    }
    return run_jv(jq, in, max, fn, arg, err, errlen);
}

struct run_ctx {
    omb_jq_result_fn fn;
    void *arg;
    char *err;
    size_t errlen;
};

static int deliver_json(jv result, void *arg)
{
    struct run_ctx *ctx = arg;
    json_t *j = NULL;
    int rc = from_jv(result, 0, &j, ctx->err, ctx->errlen);
    if (rc < 0) {
        return rc;
    }
    return ctx->fn(j, ctx->arg); /* steals j */
}

int omb_jq_run(struct omb_jq *jq, const json_t *input, omb_jq_result_fn fn, void *arg, char *err,
               size_t errlen)
{
    if (!fn) {
        set_err(err, errlen, "no result callback");
        return OMB_EINVAL;
    }
    struct run_ctx ctx = {.fn = fn, .arg = arg, .err = err, .errlen = errlen};
    return run(jq, input, -1, deliver_json, &ctx, err, errlen);
}

static int first_truthy(jv result, void *arg)
{
    bool *pass = arg;
    jv_kind k = jv_get_kind(result);
    *pass = k != JV_KIND_FALSE && k != JV_KIND_NULL;
    jv_free(result);
    return 0;
}

int omb_jq_test(struct omb_jq *jq, const json_t *input, bool *pass, char *err, size_t errlen)
{
    bool first = false;
    int rc = run(jq, input, 1, first_truthy, &first, err, errlen);
    if (pass) {
        *pass = rc > 0 && first;
    }
    return rc < 0 ? rc : 0;
}

/* ---- the router's text fast path ------------------------------------------------------------ */

struct omb_jq_input {
    jv value;
};

struct omb_jq_input *omb_jq_input_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen) {
        err[0] = '\0';
    }
    if (len > INT_MAX) {
        set_err(err, errlen, "the JSON text is too large");
        return NULL;
    }
    jv v = jv_parse_sized(text, (int)len);
    if (!jv_is_valid(v)) {
        jv msg = jv_invalid_get_msg(v);
        set_err(err, errlen, "%s",
                jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "not JSON");
        jv_free(msg);
        return NULL;
    }
    struct omb_jq_input *in = malloc(sizeof(*in));
    if (!in) {
        jv_free(v);
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    in->value = v;
    return in;
}

bool omb_jq_input_is_object(const struct omb_jq_input *in)
{
    return jv_get_kind(in->value) == JV_KIND_OBJECT;
}

void omb_jq_input_free(struct omb_jq_input **inp)
{
    if (!inp || !*inp) {
        return;
    }
    jv_free((*inp)->value);
    free(*inp);
    *inp = NULL;
}

int omb_jq_test_input(struct omb_jq *jq, const struct omb_jq_input *in, bool *pass, char *err,
                      size_t errlen)
{
    bool first = false;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (jq->fast) {
        enum jq_fast_result r = jq_fast_filter_run(jq->fast, in->value);
        if (r != JQ_FAST_ASK_JQ) {
            if (pass) {
                *pass = r == JQ_FAST_TRUE;
            }
            return 0;
        }
    }
    int rc = run_jv(jq, jv_copy(in->value), 1, first_truthy, &first, err, errlen);
    if (pass) {
        *pass = rc > 0 && first;
    }
    return rc < 0 ? rc : 0;
}

struct text_ctx {
    omb_jq_text_fn fn;
    void *arg;
};

static int deliver_text(jv result, void *arg)
{
    struct text_ctx *ctx = arg;
    bool is_object = jv_get_kind(result) == JV_KIND_OBJECT;
    size_t len = 0;
    char *text = jq_write(result, &len); /* compact, UTF-8 as is */
    jv_free(result);
    if (!text) {
        return OMB_ENOMEM;
    }
    int rc = ctx->fn(text, len, is_object, ctx->arg);
    free(text);
    return rc;
}

int omb_jq_run_input(struct omb_jq *jq, const struct omb_jq_input *in, omb_jq_text_fn fn,
                     void *arg, char *err, size_t errlen)
{
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!fn) {
        set_err(err, errlen, "no result callback");
        return OMB_EINVAL;
    }
    struct text_ctx ctx = { .fn = fn, .arg = arg };
    jv result;
    if (jq->transform && jq_fast_transform_run(jq->transform, in->value, &result)) {
        /* jq's one result, built natively: written and handed over exactly as below. */
        int rc = deliver_text(result, &ctx);
        return rc != 0 ? rc : 1;
    }
    return run_jv(jq, jv_copy(in->value), -1, deliver_text, &ctx, err, errlen);
}

bool omb_jq_is_fast(const struct omb_jq *jq)
{
    return jq && jq->fast;
}

bool omb_jq_is_fast_transform(const struct omb_jq *jq)
{
    return jq && jq->transform;
}
