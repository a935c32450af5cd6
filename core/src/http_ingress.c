/* The webhook listener over libmicrohttpd (see http_ingress.h).
 *
 * A request's way: the URI callback allocates a struct request; the access handler is called
 * once the headers are in (route lookup: 404; Content-Length over the limit: 413; daemon
 * stopping: 503), then with each piece of the body (buffered up to the limit, the rest counted
 * and dropped: 413), then once more at the end, where the connection is suspended and the
 * request posted to the instance's thread. There the plugin's handler runs and the response is
 * built; the instance resumes the connection, and the handler, called once more, queues it.
 *
 * Threads: libmicrohttpd's own (a pool of <http threads>, epoll) and the instances'. The route
 * table is read by the pool under a read lock and grows under the write lock. `pending` counts
 * the suspended requests; stop waits for it to reach zero before MHD_stop_daemon, which must
 * never see a suspended connection. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "omnibus/err.h"
#include "host_http.h"
#include "http_ingress.h"
#include "instance.h"
#include "log.h"

#define SCOPE "http"
#define PREFIX "/hooks/"
#define SUFFIX_MAX 128
#define CONNECTION_LIMIT 1024
#define CONNECTION_MEMORY (32 * 1024) /* headers and read buffer; zeroed per request */
#define TLS_FILE_MAX (1024 * 1024)
#define STOP_RETRY_AFTER_S 5

struct route {
    char *path; /* "/hooks/<instance>/<suffix>" */
    char *suffix;
    struct omb_instance *inst;
    omb_http_fn fn;
    void *arg;
};

struct omb_http_ingress {
    struct omb_runtime *rt;
    bool configured;   /* <http> was in the config */
    char *host;
    int port;
    bool ipv6;
    size_t body_limit;
    unsigned timeout_s;
    unsigned threads;
    const char *tls_cert, *tls_key; /* paths, borrowed from the config; NULL: plain */

    pthread_rwlock_t routes_lock; /* routes, n_routes */
    struct route **routes;
    size_t n_routes, cap_routes;

    pthread_mutex_t lock; /* mhd, start_called, closed, bound_port */
    struct MHD_Daemon *mhd;
    bool start_called;    /* omb_http_ingress_start ran: a new route starts the listener */
    bool closed;          /* stopped: never listen again */
    int bound_port;
    atomic_bool starting; /* MHD messages while starting are errors, later debug */

    atomic_bool stopping;
    atomic_int_fast64_t pending; /* requests handed to instances, not yet resumed */
    atomic_uint_fast64_t served[6]; /* by status class: [1] 1xx ... [5] 5xx, [0] closed */
};

struct request {
    struct omb_http_ingress *ing;
    struct MHD_Connection *conn;
    char *uri;              /* as sent, with the query */
    const char *method;     /* MHD's: valid until completion */
    const char *path;       /* MHD's (percent-decoded): valid until completion */
    bool headers_seen;      /* the first call of the access handler happened */
    bool dispatched;        /* posted to the instance */
    bool answered;          /* response (or NULL: out of memory) set before the resume */
    const struct route *route;
    unsigned char *body;
    size_t len, cap;
    bool too_large;
    uint64_t dropped;       /* body bytes past the limit */
    struct omb_http_header *headers; /* point into MHD's pool: valid until completion */
    size_t n_headers;
    char remote[INET6_ADDRSTRLEN];
    struct MHD_Response *response; /* made on the instance's thread */
    unsigned status;
    struct omb_emit_scope emits; /* the handler's emits: answered once they are on disk */
};

/* ---- logging -------------------------------------------------------------------------------- */

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct omb_http_ingress *ing = cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
        buf[--n] = '\0';
    }
    omb_log(atomic_load(&ing->starting) ? OMB_LOG_ERROR : OMB_LOG_DEBUG, SCOPE,
            "libmicrohttpd: %s", buf);
}

static void count_status(struct omb_http_ingress *ing, unsigned status)
{
    unsigned cls = status / 100;
    atomic_fetch_add(&ing->served[cls >= 1 && cls <= 5 ? cls : 0], 1);
}

/* ---- responses ------------------------------------------------------------------------------ */

static bool header_name_ok(const char *s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    return s && s[0] && strspn(s, tchar) == strlen(s);
}

static bool header_value_ok(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

/* A response (new) with body text and the usual headers; NULL on ENOMEM. */
static struct MHD_Response *make_response(const void *body, size_t len, const char *ctype,
                                          int64_t retry_after_s)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r) {
        return NULL;
    }
    if (len > 0) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                ctype ? ctype : "text/plain; charset=utf-8");
    }
    if (retry_after_s > 0) {
        char v[24];
        snprintf(v, sizeof(v), "%lld", (long long)retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    return r;
}

/* Answer now from the listener's thread with a short text. */
static enum MHD_Result reply(struct request *rq, unsigned status, const char *text,
                             int64_t retry_after_s)
{
    struct MHD_Response *r = make_response(text, strlen(text), NULL, retry_after_s);
    if (!r) {
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_queue_response(rq->conn, status, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES) {
        count_status(rq->ing, status);
    }
    return ok;
}

/* The plugin's answer as an MHD response (instance thread). */
static struct MHD_Response *response_from(const struct omb_http_response *res, unsigned *status,
                                          const char *scope)
{
    unsigned st = res->status >= 100 && res->status <= 599 ? (unsigned)res->status : 500;
    if (res->status == 0) {
        omb_log(OMB_LOG_ERROR, scope, "http handler set no status: answering 500");
    }
    size_t len = res->body ? (res->body_len ? res->body_len : strlen(res->body)) : 0;
    const char *ctype = res->content_type;
    if (ctype && !header_value_ok(ctype)) {
        ctype = NULL;
    }
    struct MHD_Response *r = make_response(res->body, len, ctype, res->retry_after_s);
    if (!r) {
        return NULL;
    }
    size_t n = res->n_headers <= OMB_HTTP_RESPONSE_HEADERS_MAX ? res->n_headers
                                                                : OMB_HTTP_RESPONSE_HEADERS_MAX;
    for (size_t i = 0; i < n; i++) {
        const struct omb_http_header *h = &res->headers[i];
        if (!header_name_ok(h->name) || !header_value_ok(h->value) ||
            MHD_add_response_header(r, h->name, h->value) != MHD_YES) {
            omb_log(OMB_LOG_WARN, scope, "http handler: response header %zu dropped (bad name "
                    "or value)", i);
        }
    }
    *status = st;
    return r;
}

/* ---- routes --------------------------------------------------------------------------------- */

static bool suffix_valid(const char *s)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-/";
    size_t n = strlen(s);
    if (n == 0 || n > SUFFIX_MAX || strspn(s, ok) != n || s[0] == '/' || s[n - 1] == '/' ||
        strstr(s, "//")) {
        return false;
    }
    for (const char *seg = s; seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
            return false;
        }
        seg = end ? end + 1 : NULL;
    }
    return true;
}

/* The route of `path` (borrowed: routes are never removed while the listener runs) or NULL. */
static const struct route *route_find(struct omb_http_ingress *ing, const char *path)
{
    const struct route *found = NULL;
    if (strncmp(path, PREFIX, sizeof(PREFIX) - 1) != 0) {
        return NULL;
    }
    pthread_rwlock_rdlock(&ing->routes_lock);
    for (size_t i = 0; i < ing->n_routes; i++) {
        if (strcmp(ing->routes[i]->path, path) == 0) {
            found = ing->routes[i];
            break;
        }
    }
    pthread_rwlock_unlock(&ing->routes_lock);
    return found;
}

/* ---- the request's way ---------------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct request *rq = calloc(1, sizeof(*rq));
    if (!rq) {
        return NULL;
    }
    rq->ing = cls;
    rq->conn = conn;
    rq->uri = strdup(uri ? uri : "");
    if (!rq->uri) {
        free(rq);
        return NULL;
    }
    return rq;
}

static void request_free(struct request *rq)
{
    if (rq->response) {
        MHD_destroy_response(rq->response);
    }
    free(rq->headers);
    free(rq->body);
    free(rq->uri);
    free(rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;
    if (!rq) {
        return;
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !rq->dispatched) {
        omb_log(OMB_LOG_DEBUG, SCOPE, "%.*s: connection closed before the answer (%d)",
                (int)strcspn(rq->uri, "?"), rq->uri, (int)toe);
    }
    request_free(rq);
    *con_cls = NULL;
}

struct header_fill {
    struct request *rq;
    size_t cap;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (*(size_t *)cls)++;
    return MHD_YES;
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct header_fill *f = cls;
    if (f->rq->n_headers < f->cap) {
        f->rq->headers[f->rq->n_headers++] = (struct omb_http_header){ key, value ? value : "" };
    }
    return MHD_YES;
}

/* Collect what the handler will see (listener thread, before suspending). */
static int prepare(struct request *rq)
{
    size_t n = 0;
    MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, count_header, &n);
    rq->headers = calloc(n ? n : 1, sizeof(*rq->headers));
    if (!rq->headers) {
        return OMB_ENOMEM;
    }
    struct header_fill f = { rq, n };
    MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, copy_header, &f);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, rq->remote,
                  sizeof(rq->remote));
    } else if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  rq->remote, sizeof(rq->remote));
    }
    if (!rq->body) {
        rq->body = malloc(1);
        if (!rq->body) {
            return OMB_ENOMEM;
        }
    }
    rq->body[rq->len] = '\0'; /* the buffer always has room for it */
    return 0;
}

/* The handler's events are all on disk (or one could not be stored): answer. Runs on the
 * store's writer thread, or on the instance's when the handler emitted nothing. After the resume
 * the request belongs to the listener again and may be gone at once. */
static void emits_done(struct omb_emit_scope *scope)
{
    struct request *rq = (struct request *)((char *)scope - offsetof(struct request, emits));
    struct omb_http_ingress *ing = rq->ing;
    if (atomic_load(&scope->failed) && rq->status >= 200 && rq->status < 300) {
        /* The sender must not take "done" for an event that is not stored: it sends again. */
        static const char text[] = "the event could not be stored; send it again later\n";
        if (rq->response) {
            MHD_destroy_response(rq->response);
        }
        rq->response = make_response(text, sizeof(text) - 1, NULL, 5);
        rq->status = 503;
        omb_log(OMB_LOG_ERROR, SCOPE, "%s: the journal did not take the event; answered 503",
                rq->path);
    }
    rq->answered = true;
    struct MHD_Connection *conn = rq->conn;
    MHD_resume_connection(conn);
    atomic_fetch_sub(&ing->pending, 1);
}

/* On the instance's thread: run the handler, make the response; the connection is resumed once
 * every event the handler emitted is committed to the journal (emits_done). */
static void run_request(struct omb_instance *inst, void *arg)
{
    struct request *rq = arg;
    struct omb_http_ingress *ing = rq->ing;
    const char *query = strchr(rq->uri, '?');
    struct omb_http_request req = {
        .method = rq->method,
        .path = rq->path,
        .suffix = rq->route->suffix,
        .query = query ? query + 1 : "",
        .headers = rq->headers,
        .n_headers = rq->n_headers,
        .body = rq->body,
        .body_len = rq->len,
        .remote_addr = rq->remote,
        .tls = ing->tls_cert != NULL,
    };
    struct omb_http_response res;
    omb_emit_scope_init(&rq->emits, emits_done);
    omb_instance_set_emit_scope(inst, &rq->emits);
    omb_host_http_call(inst, rq->route->fn, rq->route->arg, &req, &res);
    omb_instance_set_emit_scope(inst, NULL);
    char scope[96];
    snprintf(scope, sizeof(scope), "%s:%s", SCOPE, omb_instance_name(inst));
    rq->response = response_from(&res, &rq->status, scope);
    omb_emit_scope_release(&rq->emits);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct omb_http_ingress *ing = cls;
    struct request *rq = *con_cls;
    if (!rq) {
        return MHD_NO; /* out of memory in on_uri */
    }
    if (rq->answered) {
        /* Resumed with the plugin's answer. */
        if (!rq->response) {
            return MHD_NO; /* no memory for it: close the connection */
        }
        enum MHD_Result ok = MHD_queue_response(conn, rq->status, rq->response);
        MHD_destroy_response(rq->response);
        rq->response = NULL;
        if (ok == MHD_YES) {
            count_status(ing, rq->status);
        }
        omb_log(OMB_LOG_DEBUG, SCOPE, "%s %s -> %u", method, url, rq->status); /* no query */
        return ok;
    }
    if (rq->dispatched) {
        return MHD_YES; /* cannot happen: suspended until the answer is there */
    }
    if (!rq->headers_seen) {
        rq->headers_seen = true;
        if (atomic_load(&ing->stopping) || atomic_load(&ing->rt->stopping)) {
            return reply(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n", STOP_RETRY_AFTER_S);
        }
        rq->route = route_find(ing, url);
        if (!rq->route) {
            return reply(rq, MHD_HTTP_NOT_FOUND, "no such webhook path\n", 0);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno == 0 && end != cl && *end == '\0' && n > ing->body_limit) {
                return reply(rq, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n", 0);
            }
            if (errno == 0 && end != cl && *end == '\0' && n > 0) {
                /* Sized to what is announced, but grown as it arrives beyond 64 KiB: a client
                 * that announces much and sends little holds little. */
                rq->cap = n < 65536 ? (size_t)n + 1 : 65536;
                rq->body = malloc(rq->cap);
                if (!rq->body) {
                    return reply(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", 0);
                }
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->too_large || rq->len + n > ing->body_limit) {
            /* A chunked body past the limit: a response can only be queued at its end, so
             * drop the rest; a sender that keeps going past twice the limit is cut off. */
            rq->too_large = true;
            rq->dropped += n;
            return rq->dropped > ing->body_limit ? MHD_NO : MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->len + n + 1) {
                cap *= 2;
            }
            if (cap > ing->body_limit + 1) {
                cap = ing->body_limit + 1;
            }
            unsigned char *b = realloc(rq->body, cap);
            if (!b) {
                return MHD_NO;
            }
            rq->body = b;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        return MHD_YES;
    }
    /* The whole request is in. */
    if (rq->too_large) {
        return reply(rq, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n", 0);
    }
    if (prepare(rq) != 0) {
        return reply(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", 0);
    }
    rq->method = method;
    rq->path = url;
    /* Counted before the stop flag is read, as stop sets the flag before it reads the count:
     * either this request sees the flag, or stop waits for it (MHD_stop_daemon must never meet
     * a suspended connection). */
    atomic_fetch_add(&ing->pending, 1);
    if (atomic_load(&ing->stopping)) {
        atomic_fetch_sub(&ing->pending, 1);
        return reply(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n", STOP_RETRY_AFTER_S);
    }
    rq->dispatched = true;
    MHD_suspend_connection(conn);
    if (omb_instance_post(rq->route->inst, run_request, rq) != 0) {
        /* The instance's thread is not running: answer for it. */
        rq->response = make_response("stopping\n", 9, NULL, STOP_RETRY_AFTER_S);
        rq->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        rq->answered = true;
        MHD_resume_connection(conn);
        atomic_fetch_sub(&ing->pending, 1);
    }
    return MHD_YES;
}

/* ---- the listener --------------------------------------------------------------------------- */

struct omb_http_ingress *omb_http_ingress_new(struct omb_runtime *rt,
                                              const struct omb_config_http *cfg)
{
    struct omb_http_ingress *ing = calloc(1, sizeof(*ing));
    if (!ing) {
        return NULL;
    }
    ing->rt = rt;
    ing->configured = cfg != NULL;
    ing->host = strdup(cfg && cfg->host ? cfg->host : OMB_HTTP_DEFAULT_HOST);
    ing->port = cfg ? cfg->port : OMB_HTTP_DEFAULT_PORT;
    ing->ipv6 = ing->host && strchr(ing->host, ':') != NULL;
    ing->body_limit = (size_t)(cfg ? cfg->body_limit : OMB_HTTP_DEFAULT_BODY_LIMIT);
    int64_t timeout_ms = cfg ? cfg->timeout_ms : OMB_HTTP_DEFAULT_TIMEOUT_MS;
    ing->timeout_s = (unsigned)((timeout_ms + 999) / 1000);
    if (ing->timeout_s == 0) {
        ing->timeout_s = 1;
    }
    ing->threads = (unsigned)(cfg ? cfg->threads : OMB_HTTP_DEFAULT_THREADS);
    ing->tls_cert = cfg ? cfg->tls_cert : NULL;
    ing->tls_key = cfg ? cfg->tls_key : NULL;
    pthread_rwlock_init(&ing->routes_lock, NULL);
    pthread_mutex_init(&ing->lock, NULL);
    atomic_init(&ing->starting, false);
    atomic_init(&ing->stopping, false);
    atomic_init(&ing->pending, 0);
    for (size_t i = 0; i < 6; i++) {
        atomic_init(&ing->served[i], 0);
    }
    if (!ing->host) {
        omb_http_ingress_destroy(&ing);
    }
    return ing;
}

/* A whole PEM file as a new string, or NULL with the reason logged. */
static char *read_pem(const char *what, const char *path)
{
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        omb_log(OMB_LOG_ERROR, SCOPE, "%s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    buf = malloc(TLS_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, TLS_FILE_MAX + 1, f) : 0;
    if (!buf || ferror(f) || n == 0 || n > TLS_FILE_MAX) {
        omb_log(OMB_LOG_ERROR, SCOPE, "%s %s: %s", what, path,
                !buf ? "out of memory" : ferror(f) ? strerror(errno) : "empty or too large");
        free(buf);
        buf = NULL;
    } else {
        buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

/* Start libmicrohttpd. ing->lock is held. */
static int listen_locked(struct omb_http_ingress *ing)
{
    struct sockaddr_storage ss;
    char *cert = NULL, *key = NULL;
    int rc = OMB_EIO;
    memset(&ss, 0, sizeof(ss));
    if (ing->ipv6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)ing->port);
        inet_pton(AF_INET6, ing->host, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)ing->port);
        inet_pton(AF_INET, ing->host, &a->sin_addr);
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (ing->ipv6 ? MHD_USE_IPv6 : 0);
    struct MHD_OptionItem extra[4];
    size_t n = 0;
    if (ing->tls_cert && ing->tls_key) {
        cert = read_pem("tls-cert", ing->tls_cert);
        key = read_pem("tls-key", ing->tls_key);
        if (!cert || !key) {
            goto out;
        }
        flags |= MHD_USE_TLS;
        extra[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, cert };
        extra[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, key };
    }
    if (ing->threads > 1) {
        extra[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, ing->threads, NULL };
    }
    extra[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    atomic_store(&ing->starting, true);
    ing->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, ing,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, ing,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
        MHD_OPTION_CONNECTION_TIMEOUT, ing->timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, ing,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, ing,
        MHD_OPTION_ARRAY, extra,
        MHD_OPTION_END);
    atomic_store(&ing->starting, false);
    if (!ing->mhd) {
        omb_log(OMB_LOG_ERROR, SCOPE, "cannot listen on %s%s%s:%d", ing->ipv6 ? "[" : "",
                ing->host, ing->ipv6 ? "]" : "", ing->port);
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(ing->mhd, MHD_DAEMON_INFO_BIND_PORT);
    ing->bound_port = di && di->port ? di->port : ing->port;
    omb_log(OMB_LOG_INFO, SCOPE,
            "listening on %s://%s%s%s:%d (body limit %zu bytes, timeout %us, %u thread(s))",
            ing->tls_cert ? "https" : "http", ing->ipv6 ? "[" : "", ing->host,
            ing->ipv6 ? "]" : "", ing->bound_port, ing->body_limit, ing->timeout_s,
            ing->threads);
    rc = 0;
out:
    /* libmicrohttpd keeps its own copies of the key and certificate. */
    if (key) {
        memset(key, 0, strlen(key));
    }
    free(key);
    free(cert);
    return rc;
}

int omb_http_ingress_route_add(struct omb_http_ingress *ing, struct omb_instance *inst,
                               const char *instance_name, const char *suffix, omb_http_fn fn,
                               void *arg)
{
    if (!ing || !inst || !fn || !suffix || !suffix_valid(suffix)) {
        return OMB_EINVAL;
    }
    struct route *r = calloc(1, sizeof(*r));
    if (!r) {
        return OMB_ENOMEM;
    }
    r->inst = inst;
    r->fn = fn;
    r->arg = arg;
    r->suffix = strdup(suffix);
    if (!r->suffix || asprintf(&r->path, PREFIX "%s/%s", instance_name, suffix) < 0) {
        r->path = NULL;
        free(r->suffix);
        free(r);
        return OMB_ENOMEM;
    }
    int rc = 0;
    pthread_rwlock_wrlock(&ing->routes_lock);
    for (size_t i = 0; i < ing->n_routes; i++) {
        if (strcmp(ing->routes[i]->path, r->path) == 0) {
            rc = OMB_EINVAL;
        }
    }
    if (rc == 0 && ing->n_routes == ing->cap_routes) {
        size_t cap = ing->cap_routes ? ing->cap_routes * 2 : 8;
        struct route **v = realloc(ing->routes, cap * sizeof(*v));
        if (v) {
            ing->routes = v;
            ing->cap_routes = cap;
        } else {
            rc = OMB_ENOMEM;
        }
    }
    if (rc == 0) {
        ing->routes[ing->n_routes++] = r;
    }
    pthread_rwlock_unlock(&ing->routes_lock);
    if (rc != 0) {
        free(r->path);
        free(r->suffix);
        free(r);
        return rc;
    }
    omb_log(OMB_LOG_DEBUG, SCOPE, "path %s registered", r->path);
    pthread_mutex_lock(&ing->lock);
    if (ing->start_called && !ing->closed && !ing->mhd) {
        rc = listen_locked(ing);
    }
    pthread_mutex_unlock(&ing->lock);
    return rc;
}

int omb_http_ingress_start(struct omb_http_ingress *ing)
{
    int rc = 0;
    pthread_rwlock_rdlock(&ing->routes_lock);
    bool any = ing->n_routes > 0;
    pthread_rwlock_unlock(&ing->routes_lock);
    pthread_mutex_lock(&ing->lock);
    ing->start_called = true;
    if ((ing->configured || any) && !ing->mhd && !ing->closed) {
        rc = listen_locked(ing);
    }
    pthread_mutex_unlock(&ing->lock);
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

void omb_http_ingress_stop(struct omb_http_ingress *ing)
{
    if (!ing) {
        return;
    }
    atomic_store(&ing->stopping, true);
    pthread_mutex_lock(&ing->lock);
    struct MHD_Daemon *d = ing->mhd;
    ing->mhd = NULL;
    ing->closed = true;
    pthread_mutex_unlock(&ing->lock);
    if (!d) {
        return;
    }
    MHD_socket lfd = MHD_quiesce_daemon(d);
    /* The instances still run, so every request handed to one gets its answer. */
    int64_t waited = 0;
    while (atomic_load(&ing->pending) > 0) {
        sleep_ms(1);
        if (++waited % 5000 == 0) {
            omb_log(OMB_LOG_WARN, SCOPE, "still waiting for %lld webhook request(s) to be "
                    "answered by their connectors", (long long)atomic_load(&ing->pending));
        }
    }
    MHD_stop_daemon(d);
    if (lfd != MHD_INVALID_SOCKET) {
        close(lfd);
    }
    omb_log(OMB_LOG_INFO, SCOPE,
            "stopped: %llu request(s) answered (2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu)",
            (unsigned long long)(atomic_load(&ing->served[1]) + atomic_load(&ing->served[2]) +
                                 atomic_load(&ing->served[3]) + atomic_load(&ing->served[4]) +
                                 atomic_load(&ing->served[5])),
            (unsigned long long)atomic_load(&ing->served[2]),
            (unsigned long long)atomic_load(&ing->served[3]),
            (unsigned long long)atomic_load(&ing->served[4]),
            (unsigned long long)atomic_load(&ing->served[5]));
}

void omb_http_ingress_destroy(struct omb_http_ingress **ingp)
{
    if (!ingp || !*ingp) {
        return;
    }
    struct omb_http_ingress *ing = *ingp;
    omb_http_ingress_stop(ing);
    for (size_t i = 0; i < ing->n_routes; i++) {
        free(ing->routes[i]->path);
        free(ing->routes[i]->suffix);
        free(ing->routes[i]);
    }
    free(ing->routes);
    pthread_rwlock_destroy(&ing->routes_lock);
    pthread_mutex_destroy(&ing->lock);
    free(ing->host);
    free(ing);
    *ingp = NULL;
}

int omb_http_ingress_port(struct omb_http_ingress *ing)
{
    pthread_mutex_lock(&ing->lock);
    int port = ing->mhd ? ing->bound_port : 0;
    pthread_mutex_unlock(&ing->lock);
    return port;
}
