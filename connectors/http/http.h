/* The http connector, internal: its context and what its files share.
 *
 * http.c      options, validate, lifecycle, the descriptor
 * http_in.c   webhooks in: a path on the daemon's HTTP ingress, signature check, type, key and
 *             dedupe key from jq, emit, and the status code the sender gets
 * http_out.c  deliveries out: POST/PUT/PATCH to a URL over libcurl, 2xx/retry/reject
 * http_jq.c   jq programs (libjq 1.6) over jansson values, and the signed-payload template
 *
 * Everything here has hidden visibility (built with -fvisibility=hidden); the plugin exports
 * only omb_plugin_descriptor.
 */
#ifndef OMNIBUS_CONNECTOR_HTTP_H
#define OMNIBUS_CONNECTOR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <omnibus/plugin.h>

enum http_sig_alg { SIG_NONE = 0, SIG_SHA256, SIG_SHA1, SIG_SHA512 };
enum http_sig_encoding { SIG_HEX = 0, SIG_BASE64 };
enum http_out_method { OUT_POST = 0, OUT_PUT, OUT_PATCH };

/* A piece of the signed payload: `v0:{header:X-Slack-Request-Timestamp}:{body}`. */
enum http_part_kind { PART_TEXT, PART_BODY, PART_HEADER, PART_METHOD, PART_PATH, PART_QUERY };
struct http_part {
    enum http_part_kind kind;
    char *text; /* PART_TEXT: the literal; PART_HEADER: the header's name */
};

struct http_jq;

/* What one response told us (http_out.c). */
struct http_reply {
    char *buf; /* the first bytes of the body, NUL-terminated */
    size_t len;
    char retry_after[64];
};

struct http_ctx {
    /* Options: filled by the core before create() and owned by it. */
    char *path;
    char *type;
    char *key;
    char *dedupe;
    char *challenge;
    char **keep_headers;
    char **methods;
    char *ping_prefix;
    int sig_alg; /* enum http_sig_alg */
    char *sig_header;
    int sig_encoding; /* enum http_sig_encoding */
    char *sig_prefix;
    char *sig_secret;
    char *sig_payload;
    char *sig_ts_header;
    int64_t sig_tolerance_ms;
    int64_t sig_now;
    int64_t retry_after_ms;

    char *url;
    int method; /* enum http_out_method */
    char *body;
    char **header;
    char *auth_header;
    char *content_type;
    char *idempotency_header;
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    char *ca_file;
    int64_t retry_after_max_ms;

    /* Everything below is zeroed by the core and owned by the plugin. */
    const struct omb_host_api *host;
    struct omb_instance *self;
    struct http_jq *type_jq, *key_jq, *dedupe_jq, *challenge_jq, *body_jq;
    char *type_const; /* type written as a JSON string literal: no jq run per request */
    struct http_part *parts;
    size_t n_parts;
    char msg[512]; /* the text of the response being made (valid until the handler returns) */

    char **header_lines;            /* the header option, pieces joined (ours) */
    CURL *curl;
    struct curl_slist *out_headers; /* fixed headers of every delivery */
    struct http_reply reply;
    bool curl_global;
};

/* http_jq.c */
struct http_jq *http_jq_compile(const char *program, char *err, size_t errlen);
void http_jq_destroy(struct http_jq **jqp);
/* A jq input, converted once and given to several programs. NULL on ENOMEM or too deep. */
struct http_jv;
struct http_jv *http_jv_from_json(const json_t *j);
/* {method, path, query, headers: {lowercase name: value}, body} of a webhook request. */
struct http_jv *http_jv_request(const struct omb_http_request *req, const json_t *body);
void http_jv_free(struct http_jv *in);
/* Run on input (borrowed) and give the first result as a new jansson value in *out (NULL when
 * the program yields nothing). 0, or OMB_EINVAL with jq's message in err. */
int http_jq_first(struct http_jq *jq, const struct http_jv *input, json_t **out, char *err,
                  size_t errlen);
int http_template_parse(const char *tpl, struct http_part **parts, size_t *n, char *err,
                        size_t errlen);
void http_template_free(struct http_part *parts, size_t n);

/* http_in.c */
int http_in_start(struct http_ctx *c);
void http_in_request(void *arg, const struct omb_http_request *req,
                     struct omb_http_response *res);

/* http_out.c */
int http_out_start(struct http_ctx *c);
void http_out_stop(struct http_ctx *c);
int http_out_deliver(struct http_ctx *c, const json_t *event, struct omb_deliver_result *res);
/* "Name: value" with a token name and a value free of CR/LF (validate and http_out_start). */
bool http_header_line_ok(const char *line);

#endif /* OMNIBUS_CONNECTOR_HTTP_H */
