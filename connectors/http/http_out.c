/* Deliveries out: each event becomes one request (POST by default) to `url`, over libcurl, with
 * TLS verification always on. The instance's thread is the destination's dispatcher, so the
 * request is made synchronously, bounded by `timeout`:
 *   2xx                 OMB_OK
 *   408, 429, 5xx       OMB_ERETRY, after Retry-After (seconds or an HTTP date) when it is sent
 *   other statuses      OMB_EREJECT, with the start of the response body in the reason
 *   no response at all  OMB_ERETRY (connection refused, timeout, TLS handshake...)
 * One easy handle per instance keeps the connection alive between deliveries. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "../common/retry_after.h"

#define REPLY_KEEP 1024     /* bytes of a response body kept for the reason */
#define REASON_BODY 200     /* of which shown in a reason */

bool http_header_line_ok(const char *line)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const char *colon = strchr(line, ':');
    if (!colon || colon == line || strpbrk(line, "\r\n")) {
        return false;
    }
    return strspn(line, tchar) == (size_t)(colon - line);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_reply *r = arg;
    size_t n = size * nmemb;
    if (r->len < REPLY_KEEP) {
        size_t take = n < REPLY_KEEP - r->len ? n : REPLY_KEEP - r->len;
        memcpy(r->buf + r->len, data, take);
        r->len += take;
        r->buf[r->len] = '\0';
    }
    return n; /* the rest is read and dropped */
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_reply *r = arg;
    omb_retry_after_header(data, size * nmemb, r->retry_after, sizeof(r->retry_after));
    return size * nmemb;
}

int http_out_start(struct http_ctx *c)
{
    if (!c->url || c->curl) {
        return 0;
    }
    if (!c->curl_global) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            return OMB_ENOMEM;
        }
        c->curl_global = true;
    }
    c->reply.buf = malloc(REPLY_KEEP + 1);
    c->curl = curl_easy_init();
    if (!c->curl || !c->reply.buf) {
        return OMB_ENOMEM;
    }
    char ctype[256];
    snprintf(ctype, sizeof(ctype), "Content-Type: %s",
             c->content_type ? c->content_type : "application/json");
    struct curl_slist *l = curl_slist_append(NULL, ctype);
    /* A blank Expect: no 100-continue round trip for larger bodies. */
    l = l ? curl_slist_append(l, "Expect:") : NULL;
    for (char **h = c->header_lines; l && h && *h; h++) {
        l = curl_slist_append(l, *h);
    }
    if (l && c->auth_header) {
        l = curl_slist_append(l, c->auth_header);
    }
    if (!l) {
        return OMB_ENOMEM;
    }
    c->out_headers = l;
    CURL *e = c->curl;
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    }
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "omnibus-http/1.0");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->reply);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &c->reply);
    if (c->method == OUT_PUT) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
    } else if (c->method == OUT_PATCH) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PATCH");
    }
    return 0;
}

void http_out_stop(struct http_ctx *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
    }
    curl_slist_free_all(c->out_headers);
    c->out_headers = NULL;
    free(c->reply.buf);
    c->reply.buf = NULL;
    if (c->curl_global) {
        curl_global_cleanup();
        c->curl_global = false;
    }
}

/* The reason text: "HTTP 400: <body start>" with control characters made spaces. */
static void set_reason(struct http_ctx *c, struct omb_deliver_result *res, long status)
{
    char body[REASON_BODY + 4];
    size_t n = c->reply.len < REASON_BODY ? c->reply.len : REASON_BODY;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c->reply.buf[i];
        body[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    body[n] = '\0';
    snprintf(res->reason, sizeof(res->reason), "HTTP %ld%s%s%s", status, n ? ": " : "", body,
             c->reply.len > REASON_BODY ? "..." : "");
}

/* The bytes to send for event (a new string). */
static char *request_body(struct http_ctx *c, const json_t *event, struct omb_deliver_result *res,
                          bool *skip)
{
    *skip = false;
    if (!c->body_jq) {
        const json_t *body = json_object_get(event, "body");
        char *s = json_dumps(body ? body : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s) {
            snprintf(res->reason, sizeof(res->reason), "cannot serialise the body");
        }
        return s;
    }
    char err[256];
    json_t *out = NULL;
    struct http_jv *in = http_jv_from_json(event);
    if (!in) {
        snprintf(res->reason, sizeof(res->reason), "cannot give the event to jq");
        return NULL;
    }
    int rc = http_jq_first(c->body_jq, in, &out, err, sizeof(err));
    http_jv_free(in);
    if (rc != 0) {
        snprintf(res->reason, sizeof(res->reason), "body program failed: %s", err);
        return NULL;
    }
    if (!out) {
        *skip = true; /* `empty`: nothing to send for this event */
        return NULL;
    }
    char *s = json_is_string(out) ? strdup(json_string_value(out))
                                  : json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(out);
    if (!s) {
        snprintf(res->reason, sizeof(res->reason), "cannot serialise the body");
    }
    return s;
}

int http_out_deliver(struct http_ctx *c, const json_t *event, struct omb_deliver_result *res)
{
    if (!c->curl) {
        snprintf(res->reason, sizeof(res->reason),
                 "connector has no url: it only receives webhooks");
        return OMB_EREJECT;
    }
    bool skip;
    char *body = request_body(c, event, res, &skip);
    if (!body) {
        if (skip) {
            c->host->metric_counter_add(c->self, "deliveries_skipped", 1);
            return OMB_OK;
        }
        return OMB_EREJECT;
    }
    struct curl_slist *extra = NULL;
    const char *id = json_string_value(json_object_get(event, "id"));
    if (c->idempotency_header && id) {
        char line[256];
        snprintf(line, sizeof(line), "%s: %s", c->idempotency_header, id);
        /* The fixed list goes last: this one line is ours to free. */
        extra = curl_slist_append(NULL, line);
        if (!extra) {
            free(body);
            snprintf(res->reason, sizeof(res->reason), "out of memory");
            return OMB_ERETRY;
        }
        extra->next = c->out_headers;
    }
    c->reply.len = 0;
    c->reply.buf[0] = '\0';
    c->reply.retry_after[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, extra ? extra : c->out_headers);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    CURLcode cc = curl_easy_perform(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
    if (extra) {
        extra->next = NULL;
        curl_slist_free_all(extra);
    }
    free(body);
    if (cc != CURLE_OK) {
        c->host->metric_counter_add(c->self, "deliveries_failed", 1);
        snprintf(res->reason, sizeof(res->reason), "%s", curl_easy_strerror(cc));
        return OMB_ERETRY;
    }
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        c->host->metric_counter_add(c->self, "deliveries_ok", 1);
        return OMB_OK;
    }
    set_reason(c, res, status);
    if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
        int64_t ms = omb_retry_after_ms(c->reply.retry_after, c->host->now_ms(),
                                            c->retry_after_max_ms);
        res->retry_after_ms = ms > 0 ? ms : 0;
        c->host->metric_counter_add(c->self, "deliveries_retried", 1);
        return OMB_ERETRY;
    }
    c->host->metric_counter_add(c->self, "deliveries_rejected", 1);
    return OMB_EREJECT;
}
