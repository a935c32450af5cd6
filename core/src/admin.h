/* The admin socket's transport: a ZeroMQ REP socket (ipc by default, the socket file mode
 * 0600) speaking version 1 of the JSON protocol in docs/admin-protocol.md. This file parses
 * requests, answers malformed ones itself, and hands good ones to a handler. */
#ifndef OMNIBUS_ADMIN_H
#define OMNIBUS_ADMIN_H

#include <stddef.h>
#include <jansson.h>

#define OMB_ADMIN_VERSION 1

struct omb_admin;

/* The default endpoint: $OMNIBUS_ADMIN when set (a plain path means ipc://PATH); else for root
 * ipc:///run/omnibus/admin.sock; otherwise
 * ipc://$XDG_RUNTIME_DIR/omnibus/admin.sock, else ipc:///tmp/omnibus-<uid>/admin.sock. */
void omb_admin_default_endpoint(char *out, size_t len);

/* Bind `endpoint` (NULL: the default). For ipc, the directory is created (0700) when missing
 * and the socket file gets mode 0600. NULL with the reason in err. */
struct omb_admin *omb_admin_new(void *zctx, const char *endpoint, char *err, size_t errlen);

/* The socket, to poll for ZMQ_POLLIN (daemon thread only). */
void *omb_admin_socket(struct omb_admin *admin);
const char *omb_admin_endpoint(const struct omb_admin *admin);

/* What a command returns: a result (new reference) on success; otherwise NULL with *code and
 * *message set (static or the handler's buffer) and, optionally, *extra (new reference, members
 * merged into the error response, such as "errors" for reload). */
struct omb_admin_reply {
    json_t *result;
    const char *code;
    char message[512];
    json_t *extra;
};
typedef void (*omb_admin_handler_fn)(void *arg, const char *cmd, const json_t *args,
                                     struct omb_admin_reply *reply);

/* Take one request off the socket and answer it, never blocking for long: call when the socket
 * polled readable. */
void omb_admin_serve_one(struct omb_admin *admin, omb_admin_handler_fn fn, void *arg);

/* Close and unlink the ipc socket file; NULL-safe, sets *adminp to NULL. */
void omb_admin_destroy(struct omb_admin **adminp);

#endif /* OMNIBUS_ADMIN_H */
