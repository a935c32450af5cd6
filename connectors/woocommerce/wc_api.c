/* The woocommerce connector's HTTP client: one libcurl easy handle per instance, TLS verified,
 * every request with Content-Type/Accept: application/json (a body without it is silently
 * ignored by WordPress) and the consumer key pair, as HTTP Basic (auth basic), as
 * consumer_key/consumer_secret query parameters (auth query, for servers that strip
 * Authorization), or signed with OAuth 1.0a in the query (auth oauth1, plain HTTP; wc_oauth.c).
 * Pagination: Link rel="next" and X-WP-TotalPages are kept from each answer.
 *
 * What an answer means for a delivery (wc_fail):
 *   401, 403          OMB_EREJECT: the keys are wrong or lack write permission; no retry storm
 *   429, 408, 5xx     OMB_ERETRY, no sooner than Retry-After when one is sent
 *   other 4xx         OMB_EREJECT with WordPress's code and message
 *   no answer         OMB_ERETRY (connection refused, timeout, TLS) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/reply_body.h"
#include "../common/retry_after.h"
#include "woocommerce.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct wc_buf *b = arg;
    return omb_reply_body_append(&b->data, &b->len, &b->cap, &b->overflow, WC_REPLY_MAX, data,
                                 size * nmemb);
}

/* Copy the trimmed value of header `name` from line into out. */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
        return;
    }
    const char *v = line + nl + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
        end--;
    }
    snprintf(out, outlen, "%.*s", (int)(end - v), v);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct wc_buf *b = arg;
    size_t n = size * nmemb;
    omb_retry_after_header(data, n, b->retry_after, sizeof(b->retry_after));
    header_value(data, n, "Link", b->link, sizeof(b->link));
    header_value(data, n, "X-WP-TotalPages", b->total_pages, sizeof(b->total_pages));
    return n;
}

int wc_api_start(struct wc_ctx *c)
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
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    l = l ? curl_slist_append(l, "Accept: application/json") : NULL;
    l = l ? curl_slist_append(l, "Expect:") : NULL;
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
    curl_easy_setopt(e, CURLOPT_USERAGENT, "omnibus-woocommerce/1.0");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->reply);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &c->reply);
    if (c->auth == WC_AUTH_BASIC) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, c->consumer_key);
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->consumer_secret);
    }
    return 0;
}

void wc_api_stop(struct wc_ctx *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
    }
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    free(c->reply.data);
    c->reply = (struct wc_buf){0};
    if (c->curl_global) {
        curl_global_cleanup();
        c->curl_global = false;
    }
}

void wc_resp_clear(struct wc_resp *r)
{
    json_decref(r->json);
    r->json = NULL;
    r->status = 0;
    r->retry_after_ms = -1;
    r->next[0] = '\0';
    r->total_pages = -1;
}

/* The URL of rel="next" in a Link header, or "". */
static void link_next(const char *link, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *p = link;
    while (p && *p) {
        const char *lt = strchr(p, '<');
        const char *gt = lt ? strchr(lt, '>') : NULL;
        if (!gt) {
            return;
        }
        const char *end = strchr(gt, ',');
        size_t seg = end ? (size_t)(end - gt) : strlen(gt);
        char params[128];
        snprintf(params, sizeof(params), "%.*s", (int)(seg < 127 ? seg : 127), gt);
        if (strstr(params, "rel=\"next\"") || strstr(params, "rel=next")) {
            snprintf(out, outlen, "%.*s", (int)(gt - lt - 1), lt + 1);
            return;
        }
        p = end ? end + 1 : NULL;
    }
}

int wc_call(struct wc_ctx *c, const char *method, const char *path, const json_t *body,
            struct wc_resp *r, char *err, size_t errlen)
{
    char *url = NULL, *text = NULL, *ck = NULL, *cs = NULL;
    int rc = 0;
    r->status = 0;
    r->json = NULL;
    r->retry_after_ms = -1;
    r->next[0] = '\0';
    r->total_pages = -1;
    if (!c->curl && (rc = wc_api_start(c)) != 0) {
        snprintf(err, errlen, "cannot set up the HTTP client");
        return rc;
    }
    bool full = strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0;
    int n;
    if (c->auth == WC_AUTH_QUERY) {
        ck = wc_urlencode(c->consumer_key);
        cs = wc_urlencode(c->consumer_secret);
        n = ck && cs ? asprintf(&url, "%s%s%cconsumer_key=%s&consumer_secret=%s",
                                full ? "" : c->api, path, strchr(path, '?') ? '&' : '?', ck, cs)
                     : -1;
    } else if (c->auth == WC_AUTH_OAUTH1 && !full) {
        const char *qm = strchr(path, '?');
        char *base = NULL, *q = NULL;
        n = asprintf(&base, "%s%.*s", c->api, (int)(qm ? (size_t)(qm - path) : strlen(path)), path);
        if (n >= 0) {
            q = wc_oauth_query(c, method, base, qm ? qm + 1 : "");
            n = q ? asprintf(&url, "%s?%s", base, q) : -1;
            free(base);
            free(q);
        }
    } else {
        n = asprintf(&url, "%s%s", full ? "" : c->api, path);
    }
    if (n < 0) {
        url = NULL;
        snprintf(err, errlen, "out of memory");
        rc = OMB_ENOMEM;
        goto out;
    }
    if (body && !(text = json_dumps(body, JSON_COMPACT))) {
        snprintf(err, errlen, "out of memory");
        rc = OMB_ENOMEM;
        goto out;
    }
    c->reply.len = 0;
    c->reply.overflow = false;
    c->reply.retry_after[0] = c->reply.link[0] = c->reply.total_pages[0] = '\0';
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
    /* The path only in messages: with auth query the URL holds the secret. */
    const char *shown = full ? "(next page)" : path;
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %.200s: %s", method, shown, curl_easy_strerror(cc));
        c->host->metric_counter_add(c->self, "api_transport_errors", 1);
        rc = OMB_ERETRY;
        goto out;
    }
    if (c->reply.overflow) {
        snprintf(err, errlen, "%s %.200s: the answer is too large", method, shown);
        rc = OMB_ERETRY;
        goto out;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    c->host->metric_counter_add(c->self, "api_calls", 1);
    if (c->reply.len > 0) {
        r->json = json_loadb(c->reply.data, c->reply.len, 0, NULL);
    }
    r->retry_after_ms =
        omb_retry_after_ms(c->reply.retry_after, c->host->now_ms(), c->retry_after_max_ms);
    link_next(c->reply.link, r->next, sizeof(r->next));
    if (c->reply.total_pages[0]) {
        r->total_pages = strtol(c->reply.total_pages, NULL, 10);
    }
out:
    if (url) {
        explicit_bzero(url, strlen(url));
    }
    free(url);
    free(text);
    free(ck);
    if (cs) {
        explicit_bzero(cs, strlen(cs));
    }
    free(cs);
    return rc;
}

/* WordPress's error as "code: message", or the start of the raw body (an HTML page). */
static void describe(const struct wc_ctx *c, const struct wc_resp *r, char *out, size_t outlen)
{
    const char *code = json_string_value(json_object_get(r->json, "code"));
    const char *message = json_string_value(json_object_get(r->json, "message"));
    if (code || message) {
        snprintf(out, outlen, "%.100s: %.300s", code ? code : "?", message ? message : "");
    } else {
        size_t n = c->reply.len < 120 ? c->reply.len : 120;
        snprintf(out, outlen, "%.*s%s", (int)n, c->reply.data ? c->reply.data : "",
                 c->reply.len > n ? "..." : "");
    }
    for (char *p = out; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
}

int wc_fail(struct wc_ctx *c, const struct wc_resp *r, const char *what,
            struct omb_deliver_result *res)
{
    char desc[480];
    describe(c, r, desc, sizeof(desc));
    long st = r->status;
    if (st == 401 || st == 403) {
        snprintf(res->reason, sizeof(res->reason),
                 "%.150s: the shop refused the consumer key (HTTP %ld; wrong, revoked or without "
                 "read_write permission: fix consumer-key/consumer-secret, then replay the dead "
                 "letters): %.150s",
                 what, st, desc);
        c->host->metric_counter_add(c->self, "api_unauthorized", 1);
        return OMB_EREJECT;
    }
    if (st == 429 || st == 408 || (st >= 500 && st <= 599)) {
        res->retry_after_ms = r->retry_after_ms > 0 ? r->retry_after_ms : 0;
        snprintf(res->reason, sizeof(res->reason), "%.150s: HTTP %ld %.300s", what, st, desc);
        if (r->retry_after_ms >= 0) {
            size_t used = strlen(res->reason);
            snprintf(res->reason + used, sizeof(res->reason) - used, " (Retry-After %lld ms)",
                     (long long)r->retry_after_ms);
        }
        return OMB_ERETRY;
    }
    snprintf(res->reason, sizeof(res->reason), "%.150s: HTTP %ld %.300s", what, st, desc);
    return OMB_EREJECT;
}
