/* The shopify connector's HTTP client: one libcurl easy handle per instance (kept alive between
 * calls), TLS verification always on, every request with
 *   X-Shopify-Access-Token: <access-token>   (never logged, never in a reason)
 *   Content-Type / Accept: application/json
 * and bounded by `timeout`. Only the GraphQL Admin API is called (POST <shop>/admin/api/<ver>/
 * graphql.json); REST is legacy for new apps, and its products and variants are deprecated.
 *
 * Rate limit: Shopify's GraphQL bucket is cost based. Every answer carries
 * extensions.cost.throttleStatus {maximumAvailable, currentlyAvailable, restoreRate}; the
 * connector keeps the last one, lets it refill at restoreRate from the time it came, and before
 * the next call waits until it covers the call's estimated cost, so that THROTTLED is the
 * exception. A wait longer than SH_THROTTLE_WAIT_MAX_MS is not slept through on the instance's
 * thread: the delivery is retried after it instead.
 *
 * What an answer means (sh_check):
 *   200 without errors[]            OMB_OK (the callers read data and userErrors)
 *   200 with THROTTLED              OMB_ERETRY after the points are back
 *   200 with other errors[]         OMB_EREJECT with the first message and code
 *   200 that is not JSON            OMB_ERETRY (a proxy's page, a cut answer)
 *   401, 403                        OMB_EREJECT: the token is wrong, revoked or lacks a scope
 *   429, 408, 5xx                   OMB_ERETRY, after Retry-After when Shopify sends one
 *   other 4xx                       OMB_EREJECT
 *   no answer                       OMB_ERETRY (refused, timeout, TLS) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/reply_body.h"
#include "../common/retry_after.h"
#include "shopify.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sh_buf *b = arg;
    return omb_reply_body_append(&b->data, &b->len, &b->cap, &b->overflow, SH_REPLY_MAX, data,
                                 size * nmemb);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sh_buf *b = arg;
    omb_retry_after_header(data, size * nmemb, b->retry_after, sizeof(b->retry_after));
    return size * nmemb;
}

int sh_api_start(struct sh_ctx *c)
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
    char *auth = NULL;
    if (asprintf(&auth, "X-Shopify-Access-Token: %s", c->token ? c->token : "") < 0) {
        auth = NULL;
    }
    struct curl_slist *l = NULL;
    if (auth) {
        l = curl_slist_append(NULL, "Content-Type: application/json");
        l = l ? curl_slist_append(l, "Accept: application/json") : NULL;
        l = l ? curl_slist_append(l, "Expect:") : NULL;
        l = l ? curl_slist_append(l, auth) : NULL;
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
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
    curl_easy_setopt(e, CURLOPT_USERAGENT, "omnibus-shopify/1.0");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->reply);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &c->reply);
    return 0;
}

void sh_api_stop(struct sh_ctx *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
    }
    for (struct curl_slist *l = c->headers; l; l = l->next) {
        if (l->data) {
            explicit_bzero(l->data, strlen(l->data));
        }
    }
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    free(c->reply.data);
    c->reply = (struct sh_buf){0};
    if (c->curl_global) {
        curl_global_cleanup();
        c->curl_global = false;
    }
}

void sh_resp_clear(struct sh_resp *r)
{
    json_decref(r->json);
    r->json = NULL;
    r->status = 0;
    r->retry_after_ms = -1;
}

/* The points the bucket holds now, by what was last heard; -1 when nothing was. */
static double points_now(const struct sh_ctx *c)
{
    const struct sh_bucket *b = &c->bucket;
    if (!b->at_ms) {
        return -1;
    }
    double p = b->available + b->restore * (double)(c->host->monotonic_ms() - b->at_ms) / 1000.0;
    return p > b->maximum ? b->maximum : p;
}

/* Milliseconds until the bucket holds `cost` points (0: now). */
static int64_t wait_for_points(const struct sh_ctx *c, double cost)
{
    double p = points_now(c);
    if (p < 0 || p >= cost || c->bucket.restore <= 0) {
        return 0;
    }
    if (cost > c->bucket.maximum) {
        cost = c->bucket.maximum;
    }
    return (int64_t)ceil((cost - p) * 1000.0 / c->bucket.restore);
}

static void note_bucket(struct sh_ctx *c, const json_t *body)
{
    const json_t *ts = json_object_get(json_object_get(json_object_get(body, "extensions"), "cost"),
                                       "throttleStatus");
    if (!json_is_object(ts)) {
        return;
    }
    c->bucket.maximum = json_number_value(json_object_get(ts, "maximumAvailable"));
    c->bucket.available = json_number_value(json_object_get(ts, "currentlyAvailable"));
    c->bucket.restore = json_number_value(json_object_get(ts, "restoreRate"));
    c->bucket.at_ms = c->host->monotonic_ms();
    c->host->metric_gauge_set(c->self, "graphql_points_available", (int64_t)c->bucket.available);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int sh_graphql(struct sh_ctx *c, const char *query, const json_t *variables, double cost,
               int64_t max_wait_ms, struct sh_resp *r, int64_t *wait_ms, char *err, size_t errlen)
{
    char *url = NULL, *text = NULL;
    json_t *req = NULL;
    int rc = 0;
    r->status = 0;
    r->json = NULL;
    r->retry_after_ms = -1;
    *wait_ms = 0;
    int64_t w = wait_for_points(c, cost);
    if (w > max_wait_ms) {
        *wait_ms = w;
        snprintf(err, errlen, "the GraphQL cost bucket needs %lld ms to hold %.0f points",
                 (long long)w, cost);
        return OMB_ERETRY;
    }
    if (w > 0) {
        c->host->metric_counter_add(c->self, "throttle_waits", 1);
        sleep_ms(w);
    }
    if (!c->curl && sh_api_start(c) != 0) {
        snprintf(err, errlen, "cannot set up the HTTP client");
        return OMB_ERETRY;
    }
    req = json_pack("{s:s}", "query", query);
    if (req && variables) {
        json_object_set(req, "variables", (json_t *)variables);
    }
    if (!req || !(text = json_dumps(req, JSON_COMPACT)) ||
        asprintf(&url, "%s/graphql.json", c->base) < 0) {
        url = NULL;
        snprintf(err, errlen, "out of memory");
        rc = OMB_ENOMEM;
        goto out;
    }
    c->reply.len = 0;
    c->reply.overflow = false;
    c->reply.retry_after[0] = '\0';
    if (c->reply.data) {
        c->reply.data[0] = '\0';
    }
    CURL *e = c->curl;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
    CURLcode cc = curl_easy_perform(e);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "POST graphql.json: %s", curl_easy_strerror(cc));
        c->host->metric_counter_add(c->self, "api_transport_errors", 1);
        rc = OMB_ERETRY;
        goto out;
    }
    if (c->reply.overflow) {
        snprintf(err, errlen, "POST graphql.json: the answer is larger than %u bytes",
                 SH_REPLY_MAX);
        rc = OMB_ERETRY;
        goto out;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    c->host->metric_counter_add(c->self, "api_calls", 1);
    if (c->reply.len > 0) {
        r->json = json_loadb(c->reply.data, c->reply.len, 0, NULL);
    }
    note_bucket(c, r->json);
    r->retry_after_ms =
        omb_retry_after_ms(c->reply.retry_after, c->host->now_ms(), c->retry_after_max_ms);
out:
    json_decref(req);
    free(url);
    free(text);
    return rc;
}

/* The body's errors as text: the first message and code, or the start of a non-JSON body. */
static void describe(const struct sh_ctx *c, const struct sh_resp *r, char *out, size_t outlen)
{
    const json_t *errors = json_object_get(r->json, "errors");
    const json_t *e0 = json_array_get(errors, 0);
    if (json_is_string(errors)) {
        snprintf(out, outlen, "%.300s", json_string_value(errors));
    } else if (json_is_object(e0)) {
        const char *msg = json_string_value(json_object_get(e0, "message"));
        const char *code =
            json_string_value(json_object_get(json_object_get(e0, "extensions"), "code"));
        snprintf(out, outlen, "%s%s%.300s", code ? code : "", code ? ": " : "", msg ? msg : "?");
    } else if (errors) {
        char *t = json_dumps(errors, JSON_COMPACT);
        snprintf(out, outlen, "%.300s", t ? t : "?");
        free(t);
    } else {
        size_t n = c->reply.len < 160 ? c->reply.len : 160;
        snprintf(out, outlen, "%.*s", (int)n, c->reply.data ? c->reply.data : "");
    }
    for (char *p = out; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
}

int sh_check(struct sh_ctx *c, const struct sh_resp *r, const char *what,
             struct omb_deliver_result *res)
{
    char desc[400];
    long st = r->status;
    const json_t *errors = json_object_get(r->json, "errors");
    if (st == 200 && json_is_object(r->json) && !errors) {
        return OMB_OK;
    }
    describe(c, r, desc, sizeof(desc));
    if (st == 401 || st == 403) {
        snprintf(res->reason, sizeof(res->reason),
                 "%s: Shopify refused the access token (%s; fix access-token, then replay the "
                 "dead letters): HTTP %ld %.300s",
                 what, st == 401 ? "wrong, expired or revoked" : "it lacks a scope", st, desc);
        c->host->metric_counter_add(c->self, "api_unauthorized", 1);
        return OMB_EREJECT;
    }
    if (st == 429 || st == 408 || (st >= 500 && st <= 599) || (st == 200 && !r->json)) {
        /* A 200 that is not JSON comes from something in between (a proxy's page): retried. */
        res->retry_after_ms = r->retry_after_ms > 0 ? r->retry_after_ms : 0;
        snprintf(res->reason, sizeof(res->reason), "%s: HTTP %ld %.300s", what, st, desc);
        return OMB_ERETRY;
    }
    if (st == 200) {
        const json_t *e0 = json_array_get(errors, 0);
        const char *code =
            json_string_value(json_object_get(json_object_get(e0, "extensions"), "code"));
        if (code && strcmp(code, "THROTTLED") == 0) {
            double need = json_number_value(
                json_object_get(json_object_get(json_object_get(r->json, "extensions"), "cost"),
                                "requestedQueryCost"));
            int64_t w = wait_for_points(c, need > 0 ? need : 100);
            res->retry_after_ms = r->retry_after_ms > w ? r->retry_after_ms : w;
            if (res->retry_after_ms <= 0) {
                res->retry_after_ms = 1000;
            }
            c->host->metric_counter_add(c->self, "throttled", 1);
            snprintf(res->reason, sizeof(res->reason),
                     "%s: THROTTLED by Shopify (retry in %lld ms)", what,
                     (long long)res->retry_after_ms);
            return OMB_ERETRY;
        }
        snprintf(res->reason, sizeof(res->reason), "%s: GraphQL error %.300s", what, desc);
        return OMB_EREJECT;
    }
    snprintf(res->reason, sizeof(res->reason), "%s: HTTP %ld %.300s", what, st, desc);
    return OMB_EREJECT;
}
