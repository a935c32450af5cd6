/* The admin socket's transport and request parsing. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "admin.h"
#include "log.h"

struct omb_admin {
    void *sock;
    char *endpoint;
    char *ipc_path; /* the socket file, for ipc:// */
    bool bound;     /* only then is the socket file ours to remove */
};

void omb_admin_default_endpoint(char *out, size_t len)
{
    const char *env = getenv("OMNIBUS_ADMIN");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (env && env[0]) {
        /* The same variable tells omnibusctl where to look; a plain path means ipc. */
        snprintf(out, len, "%s%s", strstr(env, "://") ? "" : "ipc://", env);
    } else if (geteuid() == 0) {
        snprintf(out, len, "ipc:///run/omnibus/admin.sock");
    } else if (xdg && xdg[0] == '/') {
        snprintf(out, len, "ipc://%s/omnibus/admin.sock", xdg);
    } else {
        snprintf(out, len, "ipc:///tmp/omnibus-%u/admin.sock", (unsigned)geteuid());
    }
}

/* mkdir -p with mode 0700 for the directories that do not exist yet. */
static int make_parent_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf) {
        return 0;
    }
    *slash = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

struct omb_admin *omb_admin_new(void *zctx, const char *endpoint, char *err, size_t errlen)
{
    char def[512];
    if (!endpoint) {
        omb_admin_default_endpoint(def, sizeof(def));
        endpoint = def;
    }
    struct omb_admin *a = calloc(1, sizeof(*a));
    if (!a || !(a->endpoint = strdup(endpoint))) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strncmp(endpoint, "ipc://", 6) == 0) {
        a->ipc_path = strdup(endpoint + 6);
        if (!a->ipc_path || make_parent_dirs(a->ipc_path) != 0) {
            snprintf(err, errlen, "admin endpoint %s: cannot create its directory: %s", endpoint,
                     strerror(errno));
            goto fail;
        }
    } else {
        /* tcp would expose the daemon's controls to the network: only with CURVE (later). */
        snprintf(err, errlen, "admin endpoint %s: only ipc:// is supported", endpoint);
        goto fail;
    }
    a->sock = zmq_socket(zctx, ZMQ_REP);
    int linger = 0, maxmsg = 1 << 20, sndtimeo = 1000;
    if (!a->sock || zmq_setsockopt(a->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(a->sock, ZMQ_MAXMSGSIZE, &(int64_t){ maxmsg }, sizeof(int64_t)) != 0 ||
        zmq_setsockopt(a->sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof(sndtimeo)) != 0) {
        snprintf(err, errlen, "admin socket: %s", zmq_strerror(errno));
        goto fail;
    }
    /* The file is created by bind: a tight umask makes it 0600 from its first moment, and the
     * chmod makes sure of it. */
    mode_t old = umask(0077);
    int rc = zmq_bind(a->sock, endpoint);
    int bind_errno = errno;
    umask(old);
    if (rc != 0) {
        snprintf(err, errlen, "admin endpoint %s: cannot bind: %s", endpoint,
                 zmq_strerror(bind_errno));
        goto fail;
    }
    a->bound = true;
    if (a->ipc_path && chmod(a->ipc_path, 0600) != 0) {
        snprintf(err, errlen, "admin endpoint %s: chmod 0600: %s", endpoint, strerror(errno));
        goto fail;
    }
    return a;
fail:
    omb_admin_destroy(&a);
    return NULL;
}

void *omb_admin_socket(struct omb_admin *admin)
{
    return admin->sock;
}

const char *omb_admin_endpoint(const struct omb_admin *admin)
{
    return admin->endpoint;
}

static void send_json(struct omb_admin *a, json_t *resp)
{
    char *text = json_dumps(resp, JSON_COMPACT);
    if (!text) {
        static const char oom[] =
            "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        zmq_send(a->sock, oom, sizeof(oom) - 1, 0);
        return;
    }
    if (zmq_send(a->sock, text, strlen(text), 0) < 0) {
        omb_log(OMB_LOG_WARN, "admin", "cannot answer: %s", zmq_strerror(errno));
    }
    free(text);
}

static void send_error(struct omb_admin *a, const char *code, const char *message, json_t *extra)
{
    json_t *resp = json_pack("{s:i, s:b, s:{s:s, s:s}}", "v", OMB_ADMIN_VERSION, "ok", 0, "error",
                             "code", code, "message", message);
    if (resp && extra) {
        json_object_update(resp, extra);
    }
    json_decref(extra);
    send_json(a, resp);
    json_decref(resp);
}

void omb_admin_serve_one(struct omb_admin *a, omb_admin_handler_fn fn, void *arg)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, a->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return;
    }
    /* A REP socket must answer once per request, whatever its shape: read every frame. */
    int frames = 1;
    while (zmq_msg_more(&msg)) {
        zmq_msg_close(&msg);
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, a->sock, 0) < 0) {
            break;
        }
        frames++;
    }
    if (frames > 1) {
        zmq_msg_close(&msg);
        send_error(a, "bad_request", "a request is one frame holding a JSON object", NULL);
        return;
    }
    json_error_t jerr;
    json_t *req = json_loadb(zmq_msg_data(&msg), zmq_msg_size(&msg), 0, &jerr);
    zmq_msg_close(&msg);
    char message[512];
    if (!req) {
        snprintf(message, sizeof(message), "the request is not JSON: %s", jerr.text);
        send_error(a, "bad_request", message, NULL);
        return;
    }
    const json_t *v = json_object_get(req, "v");
    const json_t *cmd = json_object_get(req, "cmd");
    const json_t *args = json_object_get(req, "args");
    if (!json_is_object(req)) {
        send_error(a, "bad_request", "the request must be a JSON object", NULL);
    } else if (v && !json_is_integer(v)) {
        send_error(a, "bad_request", "\"v\" must be an integer", NULL);
    } else if (v && json_integer_value(v) != OMB_ADMIN_VERSION) {
        snprintf(message, sizeof(message), "protocol version %lld is not supported (this daemon "
                 "speaks version %d)", (long long)json_integer_value(v), OMB_ADMIN_VERSION);
        send_error(a, "unsupported_version", message, NULL);
    } else if (!json_is_string(cmd)) {
        send_error(a, "bad_request", "\"cmd\" must be a string naming the command", NULL);
    } else if (args && !json_is_object(args)) {
        send_error(a, "bad_request", "\"args\" must be an object", NULL);
    } else {
        struct omb_admin_reply reply = { 0 };
        json_t *empty = json_object();
        fn(arg, json_string_value(cmd), args ? args : empty, &reply);
        json_decref(empty);
        if (reply.result) {
            json_t *resp = json_pack("{s:i, s:b, s:o}", "v", OMB_ADMIN_VERSION, "ok", 1,
                                     "result", reply.result);
            send_json(a, resp);
            json_decref(resp);
            json_decref(reply.extra);
        } else {
            send_error(a, reply.code ? reply.code : "internal",
                       reply.message[0] ? reply.message : "the command failed", reply.extra);
        }
    }
    json_decref(req);
}

void omb_admin_destroy(struct omb_admin **adminp)
{
    if (!adminp || !*adminp) {
        return;
    }
    struct omb_admin *a = *adminp;
    if (a->sock) {
        zmq_close(a->sock);
        if (a->ipc_path && a->bound) {
            unlink(a->ipc_path);
        }
    }
    free(a->ipc_path);
    free(a->endpoint);
    free(a);
    *adminp = NULL;
}
