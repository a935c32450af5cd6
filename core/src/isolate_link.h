/* The link between the daemon and an isolated plugin's child process (isolate.h): multipart
 * ZeroMQ messages on a PAIR socket over ipc://, each a verb frame and its arguments.
 *
 *   daemon -> child                          child -> daemon
 *   hello    {connector as JSON}             ready | failed  [rc][message]
 *   deliver  [route][envelope][body]         result  [rc, retry_after_ms][reason]
 *   ack      [token, rc]                     emit    [token][envelope][body]
 *   http     {request as JSON}[body]         http-reply {response as JSON}[body]
 *   ping                                     pong
 *   stop                                     stopped
 *   exit                                     (the process's exit status)
 *   log-level [level]                        route   [suffix]
 *   state-reply [rc][value]                  state-get [key]
 *                                            state-put [key][delete?][value]
 *                                            metrics {"c":{counters},"g":{gauges}}
 *                                            state   [enum omb_instance_state]
 *
 * The envelope and body frames are the bus's own (docs/wire-protocol.md); numbers travel in
 * the host's byte order (both ends are the same binary on the same machine). */
#ifndef OMNIBUS_ISOLATE_LINK_H
#define OMNIBUS_ISOLATE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <zmq.h>

#include <omnibus/http.h>

#define ISO_FRAMES_MAX 4

/* A received message: up to ISO_FRAMES_MAX frames (more are read and dropped). */
struct iso_msg {
    zmq_msg_t f[ISO_FRAMES_MAX];
    size_t n;
};

struct iso_frame {
    const void *p;
    size_t len;
};

/* Send the verb and n frames. flags: 0 or ZMQ_DONTWAIT. 0, OMB_EAGAIN (DONTWAIT and full) or
 * OMB_EIO. */
int iso_send(void *sock, int flags, const char *verb, size_t n, const struct iso_frame *frames);
/* Receive one message. 0, OMB_EAGAIN (DONTWAIT and none), OMB_EIO. Close it with
 * iso_msg_close either way (a no-op unless 0). */
int iso_recv(void *sock, int flags, struct iso_msg *m);
void iso_msg_close(struct iso_msg *m);
/* True when frame 0 is `verb`. */
bool iso_is(const struct iso_msg *m, const char *verb);
/* Frame i's bytes and length (NULL, 0 when absent). */
const void *iso_data(const struct iso_msg *m, size_t i, size_t *len);
/* Frame i as JSON (a new reference) or NULL. */
json_t *iso_json(const struct iso_msg *m, size_t i);
/* Frame i as a new NUL-terminated string, or NULL (absent, ENOMEM). */
char *iso_strdup(const struct iso_msg *m, size_t i);

/* A webhook request as the "http" message's JSON (a new object; the body goes in its own
 * frame), and back: the request read from `meta` (borrowed; the strings point into it, the
 * headers array is new: free it) with `body` as its body. */
json_t *iso_http_request_json(const struct omb_http_request *req);
int iso_http_request_read(const json_t *meta, const unsigned char *body, size_t body_len,
                          struct omb_http_request *req);
/* A handler's response as the "http-reply" message's JSON (new), and back into res, whose
 * strings then point into `meta` (borrowed). */
json_t *iso_http_response_json(const struct omb_http_response *res);
void iso_http_response_read(const json_t *meta, struct omb_http_response *res);

#endif /* OMNIBUS_ISOLATE_LINK_H */
