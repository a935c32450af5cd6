/* omnibus public SDK (ABI 1.1): webhook requests from the daemon's HTTP ingress.
 *
 * A plugin registers a path with host->http_route_add(self, "shopify", fn, arg); the daemon then
 * serves POST /hooks/<instance>/shopify (any method reaches fn; the plugin decides). The daemon's
 * listener reads the whole request (up to <http body-limit>), hands it to the instance's thread
 * and calls fn there, like every other callback of the instance. fn fills in the response; the
 * host copies everything it points to once fn returns, so fn may point into its own buffers or
 * at string literals. The sender gets the response only after fn returned: answer 2xx only once
 * the event was accepted (emit returned 0), 503 with retry_after_s when emit said OMB_EAGAIN or
 * OMB_ESTOPPED, 400/401/... when the request is bad.
 *
 * Both structs are allocated by the host; fields are only ever appended.
 */
#ifndef OMNIBUS_HTTP_H
#define OMNIBUS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

/* The largest digest host->hmac produces (SHA-512). */
#define OMB_HMAC_MAX 64

/* Extra response headers a handler may set. */
#define OMB_HTTP_RESPONSE_HEADERS_MAX 8

/* One header: name as sent (compare case-insensitively), value without surrounding blanks. */
struct omb_http_header {
    const char *name;
    const char *value;
};

/* A request, borrowed for the duration of the handler call. */
struct omb_http_request {
    const char *method;                    /* "POST" */
    const char *path;                      /* "/hooks/shop/shopify" (percent-decoded) */
    const char *suffix;                    /* the registered suffix: "shopify" */
    const char *query;                     /* raw query string after '?', "" when none */
    const struct omb_http_header *headers; /* in the order received */
    size_t n_headers;
    const unsigned char *body;             /* the raw bytes as received; body[body_len] == 0 */
    size_t body_len;
    const char *remote_addr;               /* "127.0.0.1", "::1" */
    bool tls;                              /* it came over HTTPS */
};

/* The handler's answer. The host zeroes it before the call; status 0 answers 500. */
struct omb_http_response {
    int status;                  /* 100..599 */
    const char *content_type;    /* NULL: text/plain; charset=utf-8 when there is a body */
    const void *body;            /* NULL: no body */
    size_t body_len;             /* 0 with a non-NULL body: strlen(body) */
    int64_t retry_after_s;       /* > 0: adds "Retry-After: N" (with 503 or 429) */
    struct omb_http_header headers[OMB_HTTP_RESPONSE_HEADERS_MAX]; /* extra headers */
    size_t n_headers;
};

/* Runs on the instance's thread. */
typedef void (*omb_http_fn)(void *arg, const struct omb_http_request *req,
                            struct omb_http_response *res);

/* The value of header `name` (case-insensitive), the first if it was sent several times, or
 * NULL. Borrowed from req. */
static inline const char *omb_http_header_get(const struct omb_http_request *req,
                                              const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            return req->headers[i].value;
        }
    }
    return NULL;
}

#endif /* OMNIBUS_HTTP_H */
