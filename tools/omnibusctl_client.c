/* omnibusctl: the admin endpoint, one request over ZeroMQ REQ, the answer's envelope. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "omnibusctl.h"

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t len, const char *fmt, ...)
{
    if (!why || len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

char *ombctl_endpoint_default(void)
{
    char *ep = NULL;
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (geteuid() == 0) {
        n = asprintf(&ep, "ipc:///run/omnibus/admin.sock");
    } else if (xdg && xdg[0] == '/') {
        n = asprintf(&ep, "ipc://%s/omnibus/admin.sock", xdg);
    } else {
        n = asprintf(&ep, "ipc:///tmp/omnibus-%lu/admin.sock", (unsigned long)geteuid());
    }
    return n < 0 ? NULL : ep;
}

char *ombctl_endpoint_choose(const char *option)
{
    const char *v = option;
    if (!v) {
        const char *env = getenv("OMNIBUS_ADMIN");
        v = env && *env ? env : NULL;
    }
    if (!v) {
        return ombctl_endpoint_default();
    }
    if (strstr(v, "://")) {
        return strdup(v);
    }
    char *ep = NULL;
    return asprintf(&ep, "ipc://%s", v) < 0 ? NULL : ep;
}

/* For ipc://PATH: is there a socket file we may connect to? Fails fast with a clear reason
 * instead of waiting for the timeout. Abstract sockets (ipc://@name) are not checked. */
static int check_ipc(const char *endpoint, char *why, size_t why_len)
{
    static const char prefix[] = "ipc://";
    if (strncmp(endpoint, prefix, sizeof(prefix) - 1) != 0) {
        return 0;
    }
    const char *path = endpoint + sizeof(prefix) - 1;
    if (*path == '@') {
        return 0;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            say(why, why_len, "no such socket file");
            return OMB_ENOTFOUND;
        }
        say(why, why_len, "%s", strerror(errno));
        return OMB_EIO;
    }
    if (!S_ISSOCK(st.st_mode)) {
        say(why, why_len, "%s is not a socket", path);
        return OMB_ENOTFOUND;
    }
    if (access(path, W_OK) != 0) {
        say(why, why_len,
            "permission denied (the socket is its owner's only: run omnibusctl as "
            "the user omnibusd runs as)");
        return OMB_EIO;
    }
    return 0;
}

/* The endpoint errors of zmq_connect that mean "this is not an endpoint", not "unreachable". */
static bool bad_endpoint(int err)
{
    return err == EINVAL || err == EPROTONOSUPPORT || err == ENOCOMPATPROTO;
}

/* Receive one answer: exactly one frame. On 0, *answer is the frame's bytes (new, NUL added). */
/* A send or receive that failed: EAGAIN is the timeout running out. */
static int io_failure(int err, double timeout_s, char *why, size_t why_len)
{
    if (err == EAGAIN) {
        say(why, why_len, "no answer within %g s", timeout_s);
        return OMB_ETIMEOUT;
    }
    say(why, why_len, "%s", zmq_strerror(err));
    return OMB_EIO;
}

static int receive(void *sock, double timeout_s, char **answer, size_t *len, char *why,
                   size_t why_len)
{
    zmq_msg_t msg;
    int rc = 0;
    size_t frames = 0;
    *answer = NULL;
    zmq_msg_init(&msg);
    for (;;) {
        if (zmq_msg_recv(&msg, sock, 0) < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = io_failure(errno, timeout_s, why, why_len);
            goto out;
        }
        if (frames++ == 0) {
            *len = zmq_msg_size(&msg);
            *answer = malloc(*len + 1);
            if (!*answer) {
                say(why, why_len, "out of memory");
                rc = OMB_ENOMEM;
                goto out;
            }
            memcpy(*answer, zmq_msg_data(&msg), *len);
            (*answer)[*len] = '\0';
        }
        if (!zmq_msg_more(&msg)) {
            break;
        }
    }
    if (frames != 1) {
        say(why, why_len, "the answer has %zu frames, expected 1", frames);
        rc = OMB_EREJECT;
    }
out:
    zmq_msg_close(&msg);
    if (rc != 0) {
        free(*answer);
        *answer = NULL;
    }
    return rc;
}

/* Check the answer's envelope (docs/admin-protocol.md). */
static int check_answer(const json_t *a, char *why, size_t why_len)
{
    if (!json_is_object(a)) {
        say(why, why_len, "the answer is not a JSON object");
        return OMB_EREJECT;
    }
    const json_t *v = json_object_get(a, "v");
    if (!json_is_integer(v) || json_integer_value(v) != OMBCTL_PROTOCOL) {
        char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        say(why, why_len, "the answer is of protocol version %s; omnibusctl speaks %d",
            s ? s : "(none)", OMBCTL_PROTOCOL);
        free(s);
        return OMB_EREJECT;
    }
    const json_t *ok = json_object_get(a, "ok");
    if (!json_is_boolean(ok)) {
        say(why, why_len, "the answer has no boolean \"ok\"");
        return OMB_EREJECT;
    }
    if (json_is_true(ok)) {
        if (!json_object_get(a, "result")) {
            say(why, why_len, "the answer has \"ok\": true but no \"result\"");
            return OMB_EREJECT;
        }
        return 0;
    }
    const json_t *err = json_object_get(a, "error");
    if (!json_is_object(err) || !json_is_string(json_object_get(err, "code")) ||
        !json_is_string(json_object_get(err, "message"))) {
        say(why, why_len, "the answer has \"ok\": false but no \"error\" with a code and message");
        return OMB_EREJECT;
    }
    return 0;
}

int ombctl_request(const char *endpoint, int timeout_ms, const json_t *request, json_t **answer,
                   char *why, size_t why_len)
{
    void *ctx = NULL, *sock = NULL;
    char *text = NULL, *reply = NULL;
    size_t reply_len = 0;
    json_t *a = NULL;
    int rc = check_ipc(endpoint, why, why_len);
    *answer = NULL;
    if (rc != 0) {
        goto out;
    }
    text = json_dumps(request, JSON_COMPACT);
    ctx = zmq_ctx_new();
    sock = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
    if (!text || !sock) {
        say(why, why_len, "%s", text ? zmq_strerror(errno) : "out of memory");
        rc = text ? OMB_EIO : OMB_ENOMEM;
        goto out;
    }
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
    if (zmq_connect(sock, endpoint) != 0) {
        int err = errno;
        say(why, why_len, "%s", zmq_strerror(err));
        rc = bad_endpoint(err) ? OMB_EINVAL : OMB_EIO;
        goto out;
    }
    double timeout_s = timeout_ms / 1000.0;
    size_t len = strlen(text);
    while (zmq_send(sock, text, len, 0) < 0) {
        if (errno == EINTR) {
            continue;
        }
        rc = io_failure(errno, timeout_s, why, why_len);
        goto out;
    }
    rc = receive(sock, timeout_s, &reply, &reply_len, why, why_len);
    if (rc != 0) {
        goto out;
    }
    json_error_t jerr;
    a = json_loadb(reply, reply_len, 0, &jerr);
    if (!a) {
        say(why, why_len, "the answer is not JSON (%s)", jerr.text);
        rc = OMB_EREJECT;
        goto out;
    }
    rc = check_answer(a, why, why_len);
    if (rc == 0) {
        *answer = a;
        a = NULL;
    }
out:
    json_decref(a);
    free(reply);
    free(text);
    if (sock) {
        zmq_close(sock);
    }
    if (ctx) {
        zmq_ctx_term(ctx);
    }
    return rc;
}
