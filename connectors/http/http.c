/* The http connector: webhooks in (a path on the daemon's HTTP ingress, with the sender's HMAC
 * signature checked as the config declares) and deliveries out (a request per event to a URL).
 * Options, validation, lifecycle and the descriptor; the work is in http_in.c and http_out.c.
 * See docs/connectors/http.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/plugin.h>

#include "http.h"

static const char *const sig_algs[] = { "none", "sha256", "sha1", "sha512", NULL };
static const char *const sig_encodings[] = { "hex", "base64", NULL };
static const char *const out_methods[] = { "POST", "PUT", "PATCH", NULL };

static char **header_lines(char *const *in);
static void free_lines(char **lines);

#define OPT(name, type, def, flags, min, max, en, field, doc) \
    { name, type, def, flags, min, max, en, offsetof(struct http_ctx, field), doc }

static const struct omb_option options[] = {
    /* in: webhooks */
    OPT("path", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, path,
        "webhook path suffix: requests to /hooks/<connector>/<path> become events (makes the "
        "instance a source)"),
    OPT("type", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, type,
        "jq expression giving the event type, over {method, path, query, headers (lowercase "
        "names), body}; e.g. \"stock.level\" (quoted) or .headers[\"x-shopify-topic\"]"),
    OPT("key", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, key,
        "jq expression giving the event key (a string or an integer), over the same input as "
        "type; absent: no key"),
    OPT("dedupe", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, dedupe,
        "jq expression giving the event's idempotency key (a string or an integer), over the "
        "same input as type, e.g. .headers[\"x-shopify-event-id\"]; a repeat within the "
        "connector's dedupe-window is answered 200 and not emitted again; null: no key"),
    OPT("challenge", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, challenge,
        "jq expression for handshakes: when it gives a string, that string is the 200 answer and "
        "nothing is emitted (Slack: if .body.type == \"url_verification\" then .body.challenge "
        "else empty end)"),
    OPT("keep-headers", OMB_OPT_LIST, NULL, OMB_OPTF_MULTI, 0, 0, NULL, keep_headers,
        "request headers copied into the event's headers (lowercased), e.g. "
        "X-Shopify-Webhook-Id for deduplication"),
    OPT("methods", OMB_OPT_LIST, "POST", 0, 0, 0, NULL, methods,
        "HTTP methods accepted on the path; others are answered 405"),
    OPT("ping-prefix", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, ping_prefix,
        "a request without the signature header whose body starts with this text is answered 200 "
        "and not emitted (WooCommerce's unsigned ping: webhook_id=)"),
    OPT("signature-algorithm", OMB_OPT_ENUM, "none", 0, 0, 0, sig_algs, sig_alg,
        "HMAC digest of the sender's signature: none (unsigned), sha256, sha1 or sha512"),
    OPT("signature-header", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, sig_header,
        "header carrying the signature, e.g. X-Shopify-Hmac-Sha256 (any case)"),
    OPT("signature-encoding", OMB_OPT_ENUM, "hex", 0, 0, 0, sig_encodings, sig_encoding,
        "how the signature is written: hex (any case) or base64"),
    OPT("signature-prefix", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, sig_prefix,
        "text before the signature in its header, e.g. sha256= or v0="),
    OPT("signature-secret", OMB_OPT_SECRET, NULL, 0, 0, 0, NULL, sig_secret,
        "the HMAC key shared with the sender (env:NAME or file:PATH)"),
    OPT("signature-payload", OMB_OPT_STRING, "{body}", 0, 0, 0, NULL, sig_payload,
        "what is signed: {body} (the raw bytes), or a template of text and {body}, "
        "{header:NAME}, {method}, {path}, {query}, e.g. "
        "v0:{header:X-Slack-Request-Timestamp}:{body}"),
    OPT("signature-timestamp-header", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, sig_ts_header,
        "header with the Unix time the request was signed; too far from now: 401"),
    OPT("signature-tolerance", OMB_OPT_DURATION, "5m", 0, 1000, 86400000, NULL, sig_tolerance_ms,
        "how far the signed timestamp may be from now"),
    OPT("signature-now", OMB_OPT_INT, "0", 0, 0, 0, NULL, sig_now,
        "TESTS ONLY: the Unix time to check timestamps against instead of the clock (0: clock)"),
    OPT("retry-after", OMB_OPT_DURATION, "1s", 0, 1000, 3600000, NULL, retry_after_ms,
        "Retry-After sent with 503 when the daemon is busy or stopping"),
    /* out: deliveries */
    OPT("url", OMB_OPT_URL, NULL, 0, 0, 0, NULL, url,
        "http:// or https:// URL every delivered event is sent to (makes the instance a sink)"),
    OPT("method", OMB_OPT_ENUM, "POST", 0, 0, 0, out_methods, method,
        "request method of deliveries: POST, PUT or PATCH"),
    OPT("body", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, body,
        "jq program over the delivered event (envelope fields and body) giving the request body; "
        "a string result is sent as is; no result: nothing is sent; absent: the event's body"),
    OPT("header", OMB_OPT_LIST, NULL, OMB_OPTF_MULTI, 0, 0, NULL, header,
        "extra request header \"Name: value\"; repeat the option for several"),
    OPT("auth-header", OMB_OPT_SECRET, NULL, 0, 0, 0, NULL, auth_header,
        "one more request header \"Name: value\" kept secret, e.g. env:SHOP_TOKEN holding "
        "\"X-Shopify-Access-Token: shpat_...\""),
    OPT("content-type", OMB_OPT_STRING, "application/json", 0, 0, 0, NULL, content_type,
        "Content-Type of deliveries"),
    OPT("idempotency-header", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, idempotency_header,
        "header carrying the event id on each delivery (e.g. Idempotency-Key), so that retries "
        "can be recognised"),
    OPT("timeout", OMB_OPT_DURATION, "10s", 0, 100, 600000, NULL, timeout_ms,
        "deadline of one delivery request, connection included"),
    OPT("connect-timeout", OMB_OPT_DURATION, "5s", 0, 100, 600000, NULL, connect_timeout_ms,
        "deadline of connecting (and the TLS handshake)"),
    OPT("ca-file", OMB_OPT_STRING, NULL, 0, 0, 0, NULL, ca_file,
        "PEM file of CA certificates to verify the server with instead of the system's"),
    OPT("retry-after-max", OMB_OPT_DURATION, "1h", 0, 1000, 86400000, NULL, retry_after_max_ms,
        "the longest Retry-After of a response that is honoured"),
    OMB_OPTION_END
};

static int http_validate(const void *ctx, char *err, size_t errlen)
{
    const struct http_ctx *c = ctx;
    char jqerr[256];
    if (!c->path && !c->url) {
        snprintf(err, errlen, "give path (receive webhooks), url (deliver events) or both");
        return OMB_EINVAL;
    }
    if (c->url && strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0) {
        snprintf(err, errlen, "url must start with http:// or https://");
        return OMB_EINVAL;
    }
    if (c->path && !c->type) {
        snprintf(err, errlen, "path needs option type (a jq expression for the event type)");
        return OMB_EINVAL;
    }
    const char *programs[][2] = { { "type", c->type },           { "key", c->key },
                                  { "dedupe", c->dedupe },       { "challenge", c->challenge },
                                  { "body", c->body } };
    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
        if (!programs[i][1]) {
            continue;
        }
        struct http_jq *q = http_jq_compile(programs[i][1], jqerr, sizeof(jqerr));
        if (!q) {
            snprintf(err, errlen, "option %s does not compile: %s", programs[i][0], jqerr);
            return OMB_EINVAL;
        }
        http_jq_destroy(&q);
    }
    if (c->sig_alg != SIG_NONE) {
        if (!c->sig_header || !c->sig_secret || !c->sig_secret[0]) {
            snprintf(err, errlen, "signature-algorithm %s needs signature-header and "
                     "signature-secret", c->sig_alg == SIG_SHA1 ? "sha1" :
                     c->sig_alg == SIG_SHA512 ? "sha512" : "sha256");
            return OMB_EINVAL;
        }
        struct http_part *parts = NULL;
        size_t n = 0;
        if (http_template_parse(c->sig_payload ? c->sig_payload : "{body}", &parts, &n, err,
                                errlen) != 0) {
            return OMB_EINVAL;
        }
        http_template_free(parts, n);
    } else if (c->sig_header || c->sig_secret || c->sig_ts_header || c->sig_prefix) {
        snprintf(err, errlen, "signature options are set but signature-algorithm is none");
        return OMB_EINVAL;
    }
    char **lines = header_lines(c->header);
    for (char **h = lines; h && *h; h++) {
        if (!http_header_line_ok(*h)) {
            snprintf(err, errlen, "header \"%.60s\" is not \"Name: value\"", *h);
            free_lines(lines);
            return OMB_EINVAL;
        }
    }
    free_lines(lines);
    if (c->auth_header && !http_header_line_ok(c->auth_header)) {
        snprintf(err, errlen, "auth-header is not \"Name: value\"");
        return OMB_EINVAL;
    }
    if (!c->url && (c->body || c->header || c->auth_header || c->idempotency_header ||
                    c->ca_file)) {
        snprintf(err, errlen, "delivery options (body, header, auth-header, idempotency-header, "
                 "ca-file) need url");
        return OMB_EINVAL;
    }
    return 0;
}

/* The header option's values as lines: a LIST option is split at commas, so "Accept: a, b"
 * arrives as "Accept: a" and " b"; a piece without a colon is glued back to the one before.
 * A new NULL-terminated array of new strings (free with free_lines), NULL on ENOMEM. */
static char **header_lines(char *const *in)
{
    size_t n = 0;
    while (in && in[n]) {
        n++;
    }
    char **out = calloc(n + 1, sizeof(char *));
    size_t o = 0;
    for (size_t i = 0; out && i < n; i++) {
        if (o > 0 && !strchr(in[i], ':')) {
            char *joined = NULL;
            if (asprintf(&joined, "%s,%s", out[o - 1], in[i]) < 0) {
                joined = NULL;
            }
            free(out[o - 1]);
            out[o - 1] = joined;
        } else {
            out[o++] = strdup(in[i]);
        }
        if (!out[o - 1]) {
            for (size_t k = 0; k < o; k++) {
                free(out[k]);
            }
            free(out);
            out = NULL;
        }
    }
    return out;
}

static void free_lines(char **lines)
{
    for (size_t i = 0; lines && lines[i]; i++) {
        free(lines[i]);
    }
    free(lines);
}

static int http_create(const struct omb_host_api *host, struct omb_instance *self, void *ctx)
{
    struct http_ctx *c = ctx;
    c->host = host;
    c->self = self;
    if (c->url) {
        char err[256];
        c->header_lines = header_lines(c->header);
        if (!c->header_lines) {
            return OMB_ENOMEM;
        }
        if (c->body) {
            c->body_jq = http_jq_compile(c->body, err, sizeof(err));
            if (!c->body_jq) {
                host->log(self, OMB_LOG_ERROR, "option body: %s", err);
                return OMB_EINVAL;
            }
        }
    }
    /* The webhook path is registered now, so that the daemon's listener knows of it when it
     * starts; requests that come before start() are answered 503. */
    return http_in_start(c);
}

static int http_start(void *ctx)
{
    struct http_ctx *c = ctx;
    return http_out_start(c);
}

static int http_deliver(void *ctx, const json_t *event, struct omb_deliver_result *res)
{
    return http_out_deliver(ctx, event, res);
}

static int http_stop(void *ctx)
{
    return 0; /* webhooks: the host answers 503 from now on; deliveries: until destroy */
}

static void http_destroy(void *ctx)
{
    struct http_ctx *c = ctx;
    http_out_stop(c);
    http_jq_destroy(&c->type_jq);
    free(c->type_const);
    c->type_const = NULL;
    http_jq_destroy(&c->key_jq);
    http_jq_destroy(&c->dedupe_jq);
    http_jq_destroy(&c->challenge_jq);
    http_jq_destroy(&c->body_jq);
    http_template_free(c->parts, c->n_parts);
    free_lines(c->header_lines);
    c->header_lines = NULL;
    c->parts = NULL;
    c->n_parts = 0;
}

OMB_PLUGIN_EXPORT const struct omb_plugin_descriptor omb_plugin_descriptor = {
    OMB_DESCRIPTOR_HEADER,
    .name = "http",
    .version = "1.0.0",
    .description = "webhooks in (signed with HMAC as declared) and HTTP requests out",
    .kind = OMB_PLUGIN_CONNECTOR,
    .capabilities = OMB_CAP_SOURCE | OMB_CAP_SINK,
    .consumes = NULL,
    .produces = NULL,
    .options = options,
    .ctx_size = sizeof(struct http_ctx),
    .create = http_create,
    .validate = http_validate,
    .start = http_start,
    .deliver = http_deliver,
    .stop = http_stop,
    .destroy = http_destroy,
};
