/* The link's framing and the webhook request/response as JSON (isolate_link.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <omnibus/err.h>
#include "isolate_link.h"

int iso_send(void *sock, int flags, const char *verb, size_t n, const struct iso_frame *frames)
{
    int more = n > 0 ? ZMQ_SNDMORE : 0;
    if (zmq_send(sock, verb, strlen(verb), flags | more) < 0) {
        return errno == EAGAIN ? OMB_EAGAIN : OMB_EIO;
    }
    /* Once the first frame is queued, the rest of the message always is (atomic delivery). */
    for (size_t i = 0; i < n; i++) {
        int f = (flags & ~ZMQ_DONTWAIT) | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(sock, frames[i].p ? frames[i].p : "", frames[i].len, f) < 0) {
            return OMB_EIO;
        }
    }
    return 0;
}

int iso_recv(void *sock, int flags, struct iso_msg *m)
{
    m->n = 0;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, m->n == 0 ? flags : 0) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            iso_msg_close(m);
            return e == EAGAIN ? OMB_EAGAIN : OMB_EIO;
        }
        bool more = zmq_msg_more(&part);
        if (m->n < ISO_FRAMES_MAX) {
            m->f[m->n++] = part;
        } else {
            zmq_msg_close(&part);
        }
        if (!more) {
            return 0;
        }
    }
}

void iso_msg_close(struct iso_msg *m)
{
    for (size_t i = 0; i < m->n; i++) {
        zmq_msg_close(&m->f[i]);
    }
    m->n = 0;
}

const void *iso_data(const struct iso_msg *m, size_t i, size_t *len)
{
    if (i >= m->n) {
        *len = 0;
        return NULL;
    }
    zmq_msg_t *f = (zmq_msg_t *)&m->f[i];
    *len = zmq_msg_size(f);
    return zmq_msg_data(f);
}

bool iso_is(const struct iso_msg *m, const char *verb)
{
    size_t len;
    const void *p = iso_data(m, 0, &len);
    return p && len == strlen(verb) && memcmp(p, verb, len) == 0;
}

json_t *iso_json(const struct iso_msg *m, size_t i)
{
    size_t len;
    const void *p = iso_data(m, i, &len);
    return p ? json_loadb(p, len, 0, NULL) : NULL;
}

char *iso_strdup(const struct iso_msg *m, size_t i)
{
    size_t len;
    const void *p = iso_data(m, i, &len);
    if (!p) {
        return NULL;
    }
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

json_t *iso_http_request_json(const struct omb_http_request *req)
{
    json_t *h = json_array();
    for (size_t i = 0; h && i < req->n_headers; i++) {
        json_array_append_new(h, json_pack("[s,s]", req->headers[i].name,
                                           req->headers[i].value));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:b}", "method", req->method, "path",
                     req->path, "suffix", req->suffix, "query", req->query ? req->query : "",
                     "headers", h ? h : json_array(), "remote_addr",
                     req->remote_addr ? req->remote_addr : "", "tls", req->tls);
}

static const char *str_of(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "";
}

int iso_http_request_read(const json_t *meta, const unsigned char *body, size_t body_len,
                          struct omb_http_request *req)
{
    const json_t *h = json_object_get(meta, "headers");
    size_t n = json_array_size(h);
    struct omb_http_header *hv = calloc(n ? n : 1, sizeof(*hv));
    if (!hv) {
        return OMB_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *pair = json_array_get(h, i);
        const char *name = json_string_value(json_array_get(pair, 0));
        const char *value = json_string_value(json_array_get(pair, 1));
        hv[i] = (struct omb_http_header){ name ? name : "", value ? value : "" };
    }
    *req = (struct omb_http_request){
        .method = str_of(meta, "method"), .path = str_of(meta, "path"),
        .suffix = str_of(meta, "suffix"), .query = str_of(meta, "query"), .headers = hv,
        .n_headers = n, .body = body, .body_len = body_len,
        .remote_addr = str_of(meta, "remote_addr"),
        .tls = json_is_true(json_object_get(meta, "tls")) };
    return 0;
}

json_t *iso_http_response_json(const struct omb_http_response *res)
{
    json_t *h = json_array();
    for (size_t i = 0; h && i < res->n_headers && i < OMB_HTTP_RESPONSE_HEADERS_MAX; i++) {
        if (res->headers[i].name && res->headers[i].value) {
            json_array_append_new(h, json_pack("[s,s]", res->headers[i].name,
                                               res->headers[i].value));
        }
    }
    json_t *o = json_pack("{s:i, s:I, s:o}", "status", res->status, "retry_after_s",
                          (json_int_t)res->retry_after_s, "headers", h ? h : json_array());
    if (o && res->content_type) {
        json_object_set_new(o, "content_type", json_string(res->content_type));
    }
    return o;
}

void iso_http_response_read(const json_t *meta, struct omb_http_response *res)
{
    res->status = (int)json_integer_value(json_object_get(meta, "status"));
    res->content_type = json_string_value(json_object_get(meta, "content_type"));
    res->retry_after_s = json_integer_value(json_object_get(meta, "retry_after_s"));
    const json_t *h = json_object_get(meta, "headers");
    res->n_headers = 0;
    for (size_t i = 0; i < json_array_size(h) && i < OMB_HTTP_RESPONSE_HEADERS_MAX; i++) {
        const char *name = json_string_value(json_array_get(json_array_get(h, i), 0));
        const char *value = json_string_value(json_array_get(json_array_get(h, i), 1));
        if (name && value) {
            res->headers[res->n_headers++] = (struct omb_http_header){ name, value };
        }
    }
}
