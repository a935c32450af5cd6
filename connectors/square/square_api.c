/* The square connector's HTTP client: one libcurl easy handle per instance (the connection is
 * kept alive between calls), TLS verification always on, every request with
 *   Authorization: Bearer <access-token>      (never logged, never in a reason)
 *   Square-Version: <square-version>
 *   Content-Type / Accept: application/json
 * and bounded by `timeout`. Calls are synchronous, on the instance's thread, inside deliver (or a
 * webhook handler that must map an id).
 *
 * What an answer means for a delivery (sq_fail):
 *   2xx without errors[]            OMB_OK (the callers check sq_ok)
 *   2xx with errors[]               OMB_EREJECT with the first error, OMB_ERETRY if its code is
 *                                   TEMPORARY_ERROR (retried with the same idempotency key)
 *   401, 403                        OMB_EREJECT: the token is wrong, revoked or lacks a scope;
 *                                   retrying cannot help, and a retry storm would not either
 *   429, 408, 5xx                   OMB_ERETRY, after Retry-After when Square sends one
 *   other 4xx                       OMB_EREJECT with category, code, detail and field
 *   no answer                       OMB_ERETRY (connection refused, timeout, TLS handshake) */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "square.h"
#include "../common/reply_body.h"
#include "../common/retry_after.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sq_buf *b = arg;
    return omb_reply_body_append(&b->data, &b->len, &b->cap, &b->overflow, SQ_REPLY_MAX, data,
                                 size * nmemb);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sq_buf *b = arg;
    omb_retry_after_header(data, size * nmemb, b->retry_after, sizeof(b->retry_after));
    return size * nmemb;
}

int sq_api_start(struct sq_ctx *c)
{
    if (c->curl) {
        return 0;
    }
    if (!c->curl_global) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            return OMB_ENOMEM;
        }
        c->curl_global = true;
    }
    c->curl = curl_easy_init();
    if (!c->curl) {
        return OMB_ENOMEM;
    }
    char *auth = NULL, *version = NULL;
    if (asprintf(&auth, "Authorization: Bearer %s", c->token ? c->token : "") < 0) {
        auth = NULL;
    }
    if (asprintf(&version, "Square-Version: %s", c->square_version) < 0) {
        version = NULL;
    }
    struct curl_slist *l = NULL;
    if (auth && version) {
        l = curl_slist_append(NULL, "Content-Type: application/json");
        l = l ? curl_slist_append(l, "Accept: application/json") : NULL;
        l = l ? curl_slist_append(l, "Expect:") : NULL; /* no 100-continue round trip */
        l = l ? curl_slist_append(l, version) : NULL;
        l = l ? curl_slist_append(l, auth) : NULL;
    }
    if (auth) {
        explicit_bzero(auth, strlen(auth));
    }
    free(auth);
    free(version);
    if (!l) {
        return OMB_ENOMEM;
    }
    c->headers = l;
    CURL *e = c->curl;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    }
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "omnibus-square/1.0");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->reply);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &c->reply);
    return 0;
}

void sq_api_stop(struct sq_ctx *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
    }
    /* The list holds the token: wipe it before it goes back to the allocator. */
    for (struct curl_slist *l = c->headers; l; l = l->next) {
        if (l->data) {
            explicit_bzero(l->data, strlen(l->data));
        }
    }
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    free(c->reply.data);
    c->reply = (struct sq_buf){0};
    if (c->curl_global) {
        curl_global_cleanup();
        c->curl_global = false;
    }
}

void sq_resp_clear(struct sq_resp *r)
{
    json_decref(r->json);
    r->json = NULL;
    r->status = 0;
    r->retry_after_ms = -1;
}

int sq_call(struct sq_ctx *c, const char *method, const char *path, const json_t *body,
            struct sq_resp *r, char *err, size_t errlen)
{
    char *url = NULL, *text = NULL;
    int rc = 0;
    r->status = 0;
    r->json = NULL;
    r->retry_after_ms = -1;
    if (!c->curl) {
        int src = sq_api_start(c);
        if (src != 0) {
            snprintf(err, errlen, "cannot set up the HTTP client");
            return src;
        }
    }
    if (asprintf(&url, "%s%s", c->base, path) < 0) {
        snprintf(err, errlen, "out of memory");
        return OMB_ENOMEM;
    }
    if (body && !(text = json_dumps(body, JSON_COMPACT))) {
        free(url);
        snprintf(err, errlen, "out of memory");
        return OMB_ENOMEM;
    }
    c->reply.len = 0;
    c->reply.overflow = false;
    c->reply.retry_after[0] = '\0';
    if (c->reply.data) {
        c->reply.data[0] = '\0';
    }
    CURL *e = c->curl;
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, text ? text : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(text ? strlen(text) : 0));
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method);
    }
    CURLcode cc = curl_easy_perform(e);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", method, path, curl_easy_strerror(cc));
        c->host->metric_counter_add(c->self, "api_transport_errors", 1);
        rc = OMB_ERETRY;
        goto out;
    }
    if (c->reply.overflow) {
        snprintf(err, errlen, "%s %s: the answer is larger than %u bytes", method, path,
                 SQ_REPLY_MAX);
        rc = OMB_ERETRY;
        goto out;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    c->host->metric_counter_add(c->self, "api_calls", 1);
    if (c->reply.len > 0) {
        r->json = json_loadb(c->reply.data, c->reply.len, 0, NULL);
    }
    r->retry_after_ms = omb_retry_after_ms(c->reply.retry_after, c->host->now_ms(),
                                            c->retry_after_max_ms);
out:
    free(url);
    free(text);
    return rc;
}

const json_t *sq_first_error(const json_t *body)
{
    const json_t *errors = json_object_get(body, "errors");
    const json_t *e = json_array_get(errors, 0);
    return json_is_object(e) ? e : NULL;
}

const char *sq_error_code(const json_t *body)
{
    const char *code = json_string_value(json_object_get(sq_first_error(body), "code"));
    return code ? code : "";
}

bool sq_ok(const struct sq_resp *r)
{
    return r->status >= 200 && r->status < 300 && !sq_first_error(r->json);
}

/* Square's error as "CATEGORY CODE: detail (field: f)"; the start of the raw body when the
 * answer has no errors[] (a proxy's HTML page). Control characters become spaces. */
static void describe_error(const struct sq_ctx *c, const struct sq_resp *r, char *out,
                           size_t outlen)
{
    const json_t *e = sq_first_error(r->json);
    if (e) {
        const char *cat = json_string_value(json_object_get(e, "category"));
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *detail = json_string_value(json_object_get(e, "detail"));
        const char *field = json_string_value(json_object_get(e, "field"));
        size_t n = json_array_size(json_object_get(r->json, "errors"));
        snprintf(out, outlen, "%s %s%s%.300s%s%.100s%s", cat ? cat : "?", code ? code : "?",
                 detail ? ": " : "", detail ? detail : "", field ? " (field: " : "",
                 field ? field : "", field ? ")" : "");
        if (n > 1) {
            size_t used = strlen(out);
            snprintf(out + used, outlen - used, " (and %zu more error%s)", n - 1, n > 2 ? "s" : "");
        }
    } else {
        size_t n = c->reply.len < 160 ? c->reply.len : 160;
        snprintf(out, outlen, "%.*s%s", (int)n, c->reply.data ? c->reply.data : "",
                 c->reply.len > n ? "..." : "");
    }
    for (char *p = out; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
}

int sq_fail(struct sq_ctx *c, const struct sq_resp *r, const char *what,
            struct omb_deliver_result *res)
{
    char desc[600];
    describe_error(c, r, desc, sizeof(desc));
    const char *code = sq_error_code(r->json);
    long st = r->status;
    if (st >= 200 && st < 300) {
        /* An error about this event inside a successful answer (a bulk endpoint). */
        bool temporary = strcmp(code, "TEMPORARY_ERROR") == 0;
        snprintf(res->reason, sizeof(res->reason), "%s: Square answered %ld with an error: %s",
                 what, st, desc);
        return temporary ? OMB_ERETRY : OMB_EREJECT;
    }
    if (st == 401 || st == 403) {
        snprintf(res->reason, sizeof(res->reason),
                 "%s: Square refused the access token (%s; fix access-token, then replay the "
                 "dead letters): HTTP %ld %s",
                 what, st == 401 ? "wrong, expired or revoked" : "it lacks a permission", st, desc);
        c->host->metric_counter_add(c->self, "api_unauthorized", 1);
        return OMB_EREJECT;
    }
    if (st == 429 || st == 408 || (st >= 500 && st <= 599) || strcmp(code, "RATE_LIMITED") == 0 ||
        strcmp(code, "TEMPORARY_ERROR") == 0) {
        res->retry_after_ms = r->retry_after_ms > 0 ? r->retry_after_ms : 0;
        if (r->retry_after_ms >= 0) {
            snprintf(res->reason, sizeof(res->reason), "%s: HTTP %ld %s (Retry-After %lld ms)",
                     what, st, desc, (long long)r->retry_after_ms);
        } else {
            snprintf(res->reason, sizeof(res->reason), "%s: HTTP %ld %s", what, st, desc);
        }
        return OMB_ERETRY;
    }
    snprintf(res->reason, sizeof(res->reason), "%s: HTTP %ld %s", what, st, desc);
    return OMB_EREJECT;
}

int sq_transport_fail(struct sq_ctx *c, const char *what, const char *err,
                      struct omb_deliver_result *res)
{
    (void)c;
    snprintf(res->reason, sizeof(res->reason), "%s: %s", what, err);
    return OMB_ERETRY;
}
