/* Webhooks in: the handler of /hooks/<instance>/<path> on the daemon's HTTP ingress. It runs on
 * the instance's thread with the whole request, and answers:
 *   405  a method other than those allowed (default POST)
 *   401  a missing, malformed or wrong signature, or a timestamp outside the tolerance; checked
 *        over the raw body bytes before anything is parsed
 *   400  a body that is not a JSON object, or type/key/dedupe expressions that give no usable
 *        value (dedupe may give null or nothing: no key)
 *   200  the event was accepted (emit returned 0; a repeat of its dedupe key is accepted and
 *        dropped by the core), or a ping/challenge was answered
 *   503  with Retry-After: emit said backpressure (OMB_EAGAIN) or stopping (OMB_ESTOPPED)
 * Nothing is emitted unless the answer is 200. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static const char *const alg_names[] = { "none", "sha256", "sha1", "sha512" };

static void answer(struct http_ctx *c, struct omb_http_response *res, int status,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Set the status and a one-line text body (kept in c->msg until the handler returns). */
static void answer(struct http_ctx *c, struct omb_http_response *res, int status,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg) - 1, fmt, ap); /* room is kept for the newline */
    va_end(ap);
    size_t n = strlen(c->msg);
    c->msg[n++] = '\n';
    c->msg[n] = '\0';
    res->status = status;
    res->body = c->msg;
    res->body_len = n;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The signature the sender claims, decoded. 0 or OMB_EINVAL. */
static int decode_signature(struct http_ctx *c, const char *s, unsigned char *out,
                            size_t *outlen)
{
    size_t n = strlen(s);
    if (c->sig_encoding == SIG_BASE64) {
        return c->host->base64_decode(s, n, out, outlen);
    }
    if (n % 2 != 0 || n / 2 > *outlen) {
        return OMB_EINVAL;
    }
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return OMB_EINVAL;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *outlen = n / 2;
    return 0;
}

/* The bytes that were signed, per signature-payload. *buf is set when they had to be built
 * (free it); otherwise *data points at the body. 0, or OMB_EINVAL with a reason. */
static int signed_payload(struct http_ctx *c, const struct omb_http_request *req,
                          const void **data, size_t *len, char **buf, char *why, size_t whylen)
{
    *buf = NULL;
    if (c->n_parts == 1 && c->parts[0].kind == PART_BODY) {
        *data = req->body;
        *len = req->body_len;
        return 0;
    }
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t o = 0;
        for (size_t i = 0; i < c->n_parts; i++) {
            const struct http_part *p = &c->parts[i];
            const char *s = NULL;
            size_t n = 0;
            switch (p->kind) {
            case PART_TEXT:
                s = p->text;
                break;
            case PART_BODY:
                s = (const char *)req->body;
                n = req->body_len;
                break;
            case PART_HEADER:
                s = omb_http_header_get(req, p->text);
                if (!s) {
                    snprintf(why, whylen, "missing header %s (it is signed)", p->text);
                    return OMB_EINVAL;
                }
                break;
            case PART_METHOD:
                s = req->method;
                break;
            case PART_PATH:
                s = req->path;
                break;
            case PART_QUERY:
                s = req->query;
                break;
            }
            if (p->kind != PART_BODY) {
                n = strlen(s);
            }
            if (pass == 1) {
                memcpy(*buf + o, s, n);
            }
            o += n;
        }
        if (pass == 0) {
            total = o;
            *buf = malloc(total + 1);
            if (!*buf) {
                snprintf(why, whylen, "out of memory");
                return OMB_ENOMEM;
            }
        }
    }
    *data = *buf;
    *len = total;
    return 0;
}

/* Check the request's signature. 0, or non-zero with the reason (never a secret) in why. */
static int verify(struct http_ctx *c, const struct omb_http_request *req, char *why,
                  size_t whylen)
{
    const char *sig = omb_http_header_get(req, c->sig_header);
    if (!sig || !sig[0]) {
        snprintf(why, whylen, "missing signature header %s", c->sig_header);
        return OMB_EINVAL;
    }
    if (c->sig_prefix && c->sig_prefix[0]) {
        size_t pl = strlen(c->sig_prefix);
        if (strncmp(sig, c->sig_prefix, pl) != 0) {
            snprintf(why, whylen, "signature header %s does not start with \"%s\"",
                     c->sig_header, c->sig_prefix);
            return OMB_EINVAL;
        }
        sig += pl;
    }
    unsigned char claimed[OMB_HMAC_MAX + 3];
    size_t claimed_len = sizeof(claimed);
    if (decode_signature(c, sig, claimed, &claimed_len) != 0) {
        snprintf(why, whylen, "signature header %s is not %s", c->sig_header,
                 c->sig_encoding == SIG_BASE64 ? "base64" : "hex");
        return OMB_EINVAL;
    }
    if (c->sig_ts_header) {
        const char *ts = omb_http_header_get(req, c->sig_ts_header);
        char *end = NULL;
        long long t = ts ? strtoll(ts, &end, 10) : 0;
        if (!ts || end == ts || *end != '\0') {
            snprintf(why, whylen, "missing or malformed timestamp header %s", c->sig_ts_header);
            return OMB_EINVAL;
        }
        long long now = c->sig_now > 0 ? (long long)c->sig_now
                                        : (long long)(c->host->now_ms() / 1000);
        long long skew = now > t ? now - t : t - now;
        if (skew * 1000 > c->sig_tolerance_ms) {
            snprintf(why, whylen, "timestamp %lld is %lld s away from now (tolerance %lld s)", t,
                     skew, (long long)(c->sig_tolerance_ms / 1000));
            return OMB_EINVAL;
        }
    }
    const void *data;
    size_t len;
    char *buf;
    int rc = signed_payload(c, req, &data, &len, &buf, why, whylen);
    if (rc != 0) {
        return rc;
    }
    unsigned char mac[OMB_HMAC_MAX];
    size_t maclen = sizeof(mac);
    rc = c->host->hmac(alg_names[c->sig_alg], c->sig_secret, strlen(c->sig_secret), data, len,
                       mac, &maclen);
    free(buf);
    if (rc != 0) {
        snprintf(why, whylen, "cannot compute the HMAC");
        return rc;
    }
    if (claimed_len != maclen || !c->host->mem_equal_ct(claimed, mac, maclen)) {
        snprintf(why, whylen, "signature does not match");
        return OMB_EINVAL;
    }
    return 0;
}

static bool method_allowed(const struct http_ctx *c, const char *method)
{
    for (char **m = c->methods; m && *m; m++) {
        if (strcasecmp(*m, method) == 0) {
            return true;
        }
    }
    return false;
}

/* The string one expression gives (new string in *out), or a 400 reason. With none_ok, null or
 * no result is no string (*out NULL, 0). */
static int eval_string(struct http_ctx *c, struct http_jq *jq, const char *what,
                       const struct http_jv *input, bool none_ok, char **out, char *why,
                       size_t whylen)
{
    char err[256];
    json_t *r = NULL;
    *out = NULL;
    if (http_jq_first(jq, input, &r, err, sizeof(err)) != 0) {
        snprintf(why, whylen, "%s expression failed: %.200s", what, err);
        return OMB_EINVAL;
    }
    if (json_is_string(r)) {
        *out = strdup(json_string_value(r));
    } else if (json_is_integer(r)) {
        if (asprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(r)) < 0) {
            *out = NULL;
        }
    } else if (none_ok && (!r || json_is_null(r))) {
        json_decref(r);
        return 0;
    } else {
        snprintf(why, whylen, "%s expression gave %s, expected a string", what,
                 !r ? "nothing" : json_is_null(r) ? "null" : "a non-string value");
        json_decref(r);
        return OMB_EINVAL;
    }
    json_decref(r);
    if (!*out) {
        snprintf(why, whylen, "out of memory");
        return OMB_ENOMEM;
    }
    return 0;
}

/* The request's event (new) or NULL with a 400 reason in why. */
static json_t *make_event(struct http_ctx *c, const struct omb_http_request *req,
                          const struct http_jv *input, json_t *body, char *why, size_t whylen)
{
    char *type = NULL, *key = NULL, *dedupe = NULL;
    json_t *ev = NULL;
    if (!c->type_const &&
        eval_string(c, c->type_jq, "type", input, false, &type, why, whylen) != 0) {
        goto out;
    }
    if (c->key_jq && eval_string(c, c->key_jq, "key", input, false, &key, why, whylen) != 0) {
        goto out;
    }
    if (c->dedupe_jq &&
        eval_string(c, c->dedupe_jq, "dedupe", input, true, &dedupe, why, whylen) != 0) {
        goto out;
    }
    ev = json_pack("{s:s, s:O}", "type", c->type_const ? c->type_const : type, "body", body);
    if (ev && key) {
        json_object_set_new(ev, "key", json_string(key));
    }
    if (ev && dedupe) {
        json_object_set_new(ev, "dedupe", json_string(dedupe));
    }
    if (ev && c->keep_headers && c->keep_headers[0]) {
        json_t *h = json_object();
        for (char **k = c->keep_headers; h && *k; k++) {
            const char *v = omb_http_header_get(req, *k);
            if (v) {
                char name[128];
                size_t n = strlen(*k);
                if (n < sizeof(name)) {
                    for (size_t i = 0; i <= n; i++) {
                        name[i] = (char)tolower((unsigned char)(*k)[i]);
                    }
                    json_object_set_new(h, name, json_string(v));
                }
            }
        }
        json_object_set_new(ev, "headers", h);
    }
    if (!ev) {
        snprintf(why, whylen, "out of memory");
    }
out:
    free(type);
    free(key);
    free(dedupe);
    return ev;
}

static void retry_later(struct http_ctx *c, struct omb_http_response *res, const char *text)
{
    answer(c, res, 503, "%s", text);
    res->retry_after_s = c->retry_after_ms > 0 ? (c->retry_after_ms + 999) / 1000 : 1;
}

void http_in_request(void *arg, const struct omb_http_request *req,
                     struct omb_http_response *res)
{
    struct http_ctx *c = arg;
    char why[256];
    json_t *body = NULL, *ev = NULL;
    struct http_jv *input = NULL;

    if (!method_allowed(c, req->method)) {
        answer(c, res, 405, "method %s is not allowed here", req->method);
        res->headers[0] = (struct omb_http_header){ "Allow", c->methods && c->methods[0] ?
                                                                 c->methods[0] : "POST" };
        res->n_headers = 1;
        return;
    }
    bool signed_hook = c->sig_alg != SIG_NONE;
    bool has_sig = signed_hook && omb_http_header_get(req, c->sig_header) != NULL;
    if (c->ping_prefix && !has_sig && req->body_len >= strlen(c->ping_prefix) &&
        memcmp(req->body, c->ping_prefix, strlen(c->ping_prefix)) == 0) {
        c->host->metric_counter_add(c->self, "webhook_pings", 1);
        answer(c, res, 200, "pong");
        return;
    }
    if (signed_hook && verify(c, req, why, sizeof(why)) != 0) {
        c->host->metric_counter_add(c->self, "webhooks_unauthorized", 1);
        c->host->log(c->self, OMB_LOG_WARN, "webhook from %s refused (401): %s",
                     req->remote_addr, why);
        answer(c, res, 401, "%s", why);
        return;
    }
    json_error_t jerr;
    body = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        c->host->metric_counter_add(c->self, "webhooks_bad", 1);
        if (body) {
            answer(c, res, 400, "the body must be a JSON object");
        } else {
            answer(c, res, 400, "the body is not JSON: %s (line %d, column %d)", jerr.text,
                   jerr.line, jerr.column);
        }
        c->host->log(c->self, OMB_LOG_INFO, "webhook from %s refused (400): %s",
                     req->remote_addr, c->msg);
        goto out;
    }
    /* The jq input is built once, and only when a program will read it. */
    if ((c->type_jq || c->key_jq || c->dedupe_jq || c->challenge_jq) &&
        !(input = http_jv_request(req, body))) {
        answer(c, res, 500, "out of memory");
        goto out;
    }
    if (c->challenge_jq) {
        char err[256];
        json_t *r = NULL;
        if (http_jq_first(c->challenge_jq, input, &r, err, sizeof(err)) == 0 &&
            json_is_string(r)) {
            /* A handshake (Slack's url_verification): echo it, emit nothing. */
            snprintf(c->msg, sizeof(c->msg), "%s", json_string_value(r));
            res->status = 200;
            res->body = c->msg;
            res->body_len = strlen(c->msg);
            json_decref(r);
            goto out;
        }
        json_decref(r);
    }
    ev = make_event(c, req, input, body, why, sizeof(why));
    if (!ev) {
        c->host->metric_counter_add(c->self, "webhooks_bad", 1);
        c->host->log(c->self, OMB_LOG_INFO, "webhook from %s refused (400): %s",
                     req->remote_addr, why);
        answer(c, res, 400, "%s", why);
        goto out;
    }
    int rc = c->host->emit(c->self, ev);
    switch (rc) {
    case OMB_OK:
        ev = NULL; /* the router has it */
        c->host->metric_counter_add(c->self, "webhooks_accepted", 1);
        answer(c, res, 200, "accepted");
        break;
    case OMB_EAGAIN:
        c->host->metric_counter_add(c->self, "webhooks_deferred", 1);
        retry_later(c, res, "busy: try again later");
        break;
    case OMB_ESTOPPED:
        retry_later(c, res, "stopping: try again later");
        break;
    case OMB_EINVAL:
        c->host->event_check(ev, why, sizeof(why));
        c->host->metric_counter_add(c->self, "webhooks_bad", 1);
        c->host->log(c->self, OMB_LOG_INFO, "webhook from %s refused (400): %s",
                     req->remote_addr, why);
        answer(c, res, 400, "%s", why);
        break;
    default:
        answer(c, res, 500, "the event could not be queued");
        break;
    }
out:
    json_decref(ev);
    http_jv_free(input);
    json_decref(body);
}

int http_in_start(struct http_ctx *c)
{
    char err[512];
    if (!c->path) {
        return 0;
    }
    if (!OMB_HOST_HAS(c->host, http_route_add) || !OMB_HOST_HAS(c->host, hmac)) {
        c->host->log(c->self, OMB_LOG_ERROR,
                     "option path needs omnibusd with ABI 1.1 (webhook ingress); this one has no "
                     "http_route_add");
        return OMB_EINVAL;
    }
    /* A type written as a string literal ("stock.level") needs no jq run per request. */
    json_t *lit = json_loads(c->type, JSON_DECODE_ANY, NULL);
    if (json_is_string(lit)) {
        c->type_const = strdup(json_string_value(lit));
    }
    json_decref(lit);
    if (!c->type_const && !(c->type_jq = http_jq_compile(c->type, err, sizeof(err)))) {
        c->host->log(c->self, OMB_LOG_ERROR, "option type: %s", err);
        return OMB_EINVAL;
    }
    if (c->key) {
        c->key_jq = http_jq_compile(c->key, err, sizeof(err));
        if (!c->key_jq) {
            c->host->log(c->self, OMB_LOG_ERROR, "option key: %s", err);
            return OMB_EINVAL;
        }
    }
    if (c->dedupe) {
        c->dedupe_jq = http_jq_compile(c->dedupe, err, sizeof(err));
        if (!c->dedupe_jq) {
            c->host->log(c->self, OMB_LOG_ERROR, "option dedupe: %s", err);
            return OMB_EINVAL;
        }
    }
    if (c->challenge) {
        c->challenge_jq = http_jq_compile(c->challenge, err, sizeof(err));
        if (!c->challenge_jq) {
            c->host->log(c->self, OMB_LOG_ERROR, "option challenge: %s", err);
            return OMB_EINVAL;
        }
    }
    if (c->sig_alg != SIG_NONE &&
        http_template_parse(c->sig_payload ? c->sig_payload : "{body}", &c->parts, &c->n_parts,
                            err, sizeof(err)) != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "%s", err);
        return OMB_EINVAL;
    }
    int rc = c->host->http_route_add(c->self, c->path, http_in_request, c);
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_ERROR, "cannot register webhook path \"%s\"", c->path);
        return rc;
    }
    c->host->log(c->self, OMB_LOG_INFO, "webhooks at /hooks/%s/%s%s%s",
                 c->host->instance_name(c->self), c->path,
                 c->sig_alg != SIG_NONE ? ", signed with HMAC-" : ", unsigned",
                 c->sig_alg != SIG_NONE ? alg_names[c->sig_alg] : "");
    return 0;
}
