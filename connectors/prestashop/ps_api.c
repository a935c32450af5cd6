/* The prestashop connector's HTTP client: one libcurl easy handle per instance (kept alive),
 * TLS verification always on, the webservice key as the Basic username with an empty password
 * (never logged, never in a reason), XML in and out (PrestaShop takes no JSON input).
 *
 * What an answer means for a delivery (ps_fail):
 *   2xx            OMB_OK (callers check ps_ok)
 *   401            OMB_EREJECT: the key is wrong, disabled, of the wrong length (code 18) or
 *                  lacks the resource (26); a retry cannot help and a storm would not either
 *   405            OMB_EREJECT: the key may use the resource but not this method (code 25)
 *   408, 429, 5xx  OMB_ERETRY, after Retry-After when the shop sends one
 *   other 4xx      OMB_EREJECT
 *   no answer      OMB_ERETRY (connection refused, timeout, TLS)
 * Every reason carries PrestaShop's <errors>: "[code] message; ...". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

#include "../common/reply_body.h"
#include "../common/retry_after.h"
#include "prestashop.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct ps_buf *b = arg;
    return omb_reply_body_append(&b->data, &b->len, &b->cap, &b->overflow, PS_REPLY_MAX, data,
                                 size * nmemb);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct ps_buf *b = arg;
    size_t n = size * nmemb;
    omb_retry_after_header(data, n, b->retry_after, sizeof(b->retry_after));
    static const char name[] = "PSWS-Version:";
    if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        size_t i = sizeof(name) - 1, len = 0;
        while (i < n && (data[i] == ' ' || data[i] == '\t')) {
            i++;
        }
        while (i < n && len + 1 < sizeof(b->version) && !isspace((unsigned char)data[i])) {
            b->version[len++] = data[i++];
        }
        b->version[len] = '\0';
    }
    return n;
}

int ps_api_start(struct ps_ctx *c)
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
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: text/xml");
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
    curl_easy_setopt(e, CURLOPT_USERAGENT, "omnibus-prestashop/1.0");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, c->key ? c->key : "");
    curl_easy_setopt(e, CURLOPT_PASSWORD, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->reply);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &c->reply);
    return 0;
}

void ps_api_stop(struct ps_ctx *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
    }
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    free(c->reply.data);
    c->reply = (struct ps_buf){0};
    if (c->curl_global) {
        curl_global_cleanup();
        c->curl_global = false;
    }
}

void ps_resp_clear(struct ps_resp *r)
{
    if (r->doc) {
        xmlFreeDoc(r->doc);
    }
    r->doc = NULL;
    r->status = 0;
    r->retry_after_ms = -1;
}

bool ps_ok(const struct ps_resp *r)
{
    return r->status >= 200 && r->status < 300;
}

/* The major version of "8.1.7" (8), 0 when it is not a number. */
static int major_of(const char *v)
{
    char *end = NULL;
    long m = strtol(v, &end, 10);
    return end != v && m > 0 && m < 100 ? (int)m : 0;
}

int ps_call(struct ps_ctx *c, const char *method, const char *path, const char *body,
            size_t body_len, struct ps_resp *r, char *err, size_t errlen)
{
    char *url = NULL;
    int rc = 0;
    r->status = 0;
    r->doc = NULL;
    r->retry_after_ms = -1;
    if (!c->curl && ps_api_start(c) != 0) {
        snprintf(err, errlen, "cannot set up the HTTP client");
        return OMB_ENOMEM;
    }
    /* [ ] | and blanks of the query syntax (display=[id,quantity], filter[id]=[1|2]) are
     * percent-encoded: PHP decodes them back. */
    size_t plen = strlen(path);
    url = malloc(strlen(c->base) + 6 + plen * 3 + 1);
    if (!url) {
        snprintf(err, errlen, "out of memory");
        return OMB_ENOMEM;
    }
    size_t blen = strlen(c->base);
    memcpy(url, c->base, blen);
    memcpy(url + blen, "/api/", 5);
    char *u = url + blen + 5;
    for (const char *p = path; *p; p++) {
        const char *hex = "0123456789ABCDEF";
        unsigned char ch = (unsigned char)*p;
        if (ch == '[' || ch == ']' || ch == '|' || ch == ' ' || ch == '"' || ch < 0x20) {
            *u++ = '%';
            *u++ = hex[ch >> 4];
            *u++ = hex[ch & 15];
        } else {
            *u++ = (char)ch;
        }
    }
    *u = '\0';
    c->reply.len = 0;
    c->reply.overflow = false;
    c->reply.retry_after[0] = '\0';
    c->reply.version[0] = '\0';
    if (c->reply.data) {
        c->reply.data[0] = '\0';
    }
    CURL *e = c->curl;
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method);
    }
    CURLcode cc = curl_easy_perform(e);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    /* The path may hold a SKU but never the key (it travels in the Authorization header). */
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s /api/%.200s: %s", method, path, curl_easy_strerror(cc));
        c->host->metric_counter_add(c->self, "api_transport_errors", 1);
        rc = OMB_ERETRY;
        goto out;
    }
    if (c->reply.overflow) {
        snprintf(err, errlen, "%s /api/%.200s: the answer is larger than %u bytes", method, path,
                 PS_REPLY_MAX);
        rc = OMB_ERETRY;
        goto out;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    if (c->reply.version[0]) {
        c->ps_major = major_of(c->reply.version);
    }
    c->host->metric_counter_add(c->self, "api_calls", 1);
    if (c->reply.len > 0 && c->reply.data[0] == '<') {
        r->doc = xmlReadMemory(c->reply.data, (int)c->reply.len, "prestashop.xml", NULL,
                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                   XML_PARSE_NOCDATA | XML_PARSE_NOBLANKS);
    }
    r->retry_after_ms =
        omb_retry_after_ms(c->reply.retry_after, c->host->now_ms(), c->retry_after_max_ms);
out:
    free(url);
    return rc;
}

xmlNode *ps_next(xmlNode *n, const char *name)
{
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && (!name || strcmp((const char *)n->name, name) == 0)) {
            return n;
        }
    }
    return NULL;
}

xmlNode *ps_child(xmlNode *n, const char *name)
{
    return n ? ps_next(n->children, name) : NULL;
}

char *ps_text(xmlNode *n)
{
    if (!n) {
        return NULL;
    }
    xmlChar *t = xmlNodeGetContent(n);
    const char *s = t ? (const char *)t : "";
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1])) {
        len--;
    }
    char *out = strndup(s, len);
    xmlFree(t);
    return out;
}

long long ps_child_int(xmlNode *n, const char *name, long long def)
{
    char *t = ps_text(ps_child(n, name)), *end = NULL;
    long long v = def;
    if (t && t[0]) {
        long long x = strtoll(t, &end, 10);
        if (end && *end == '\0') {
            v = x;
        }
    }
    free(t);
    return v;
}

xmlNode *ps_body(const struct ps_resp *r)
{
    xmlNode *root = r->doc ? xmlDocGetRootElement(r->doc) : NULL;
    if (!root || strcmp((const char *)root->name, "prestashop") != 0) {
        return NULL;
    }
    return ps_child(root, NULL);
}

/* PrestaShop's <errors> as "[18] Invalid authentication key format; [20] ..."; the start of
 * the raw body when there is none (a proxy's HTML page); control characters become spaces. */
static void describe_errors(const struct ps_ctx *c, const struct ps_resp *r, char *out,
                            size_t outlen)
{
    out[0] = '\0';
    xmlNode *errs = ps_body(r);
    size_t used = 0;
    if (errs && strcmp((const char *)errs->name, "errors") == 0) {
        for (xmlNode *e = ps_child(errs, "error"); e && used + 1 < outlen;
             e = ps_next(e->next, "error")) {
            char *code = ps_text(ps_child(e, "code"));
            char *msg = ps_text(ps_child(e, "message"));
            int n = snprintf(out + used, outlen - used, "%s[%s] %.200s", used ? "; " : "",
                             code ? code : "?", msg ? msg : "");
            free(code);
            free(msg);
            if (n < 0) {
                break;
            }
            used += (size_t)n < outlen - used ? (size_t)n : outlen - used - 1;
        }
    }
    if (!out[0]) {
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

int ps_fail(struct ps_ctx *c, const struct ps_resp *r, const char *method, const char *what,
            char *reason, size_t reasonlen, int64_t *retry_after_ms)
{
    char desc[400];
    describe_errors(c, r, desc, sizeof(desc));
    long st = r->status;
    if (st == 401) {
        snprintf(reason, reasonlen,
                 "%s: the shop refused the webservice key (wrong, disabled, of the wrong length "
                 "or without this resource; fix `key` or its permissions in the back office, "
                 "then replay the dead letters): HTTP 401 %s",
                 what, desc);
        c->host->metric_counter_add(c->self, "api_unauthorized", 1);
        return OMB_EREJECT;
    }
    if (st == 405) {
        snprintf(reason, reasonlen,
                 "%s: the webservice key may not use %s on this resource (grant it in Advanced "
                 "Parameters > Webservice): HTTP 405 %s",
                 what, method, desc);
        c->host->metric_counter_add(c->self, "api_unauthorized", 1);
        return OMB_EREJECT;
    }
    if (st == 408 || st == 429 || (st >= 500 && st <= 599)) {
        if (retry_after_ms) {
            *retry_after_ms = r->retry_after_ms > 0 ? r->retry_after_ms : 0;
        }
        snprintf(reason, reasonlen, "%s: HTTP %ld %s", what, st, desc);
        return OMB_ERETRY;
    }
    snprintf(reason, reasonlen, "%s: HTTP %ld %s", what, st, desc);
    return OMB_EREJECT;
}
