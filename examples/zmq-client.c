/* Publish one event into omnibus and print the next event omnibus sends out
 * (docs/wire-protocol.md). Build: cc -o zmq-client zmq-client.c -lzmq
 *   zmq-client IN OUT ENVELOPE BODY
 *   zmq-client tcp://127.0.0.1:5601 tcp://127.0.0.1:5602 '{"type":"price.set","key":"A-1"}'
 *              '{"sku":"A-1","price":{"amount":12999,"currency":"PLN"}}'
 * IN is a zmq connector's `bind`, OUT a zmq connector's `publish-bind`. */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s IN-ENDPOINT OUT-ENDPOINT ENVELOPE-JSON BODY-JSON\n", argv[0]);
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH), *pull = zmq_socket(ctx, ZMQ_PULL);
    int timeout_ms = 10000, linger_ms = 1000, rc = 1;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
    zmq_setsockopt(push, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
    if (zmq_connect(push, argv[1]) == 0 && zmq_connect(pull, argv[2]) == 0 &&
        zmq_send(push, argv[3], strlen(argv[3]), ZMQ_SNDMORE) >= 0 && /* frame 1: envelope */
        zmq_send(push, argv[4], strlen(argv[4]), 0) >= 0) {          /* frame 2: body */
        for (int part = 0;; part++) { /* out: the envelope (id, source, route, ...), the body */
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, pull, 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            printf("%s%.*s", part ? "\t" : "", (int)zmq_msg_size(&m), (char *)zmq_msg_data(&m));
            int more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            if (!more) {
                printf("\n");
                rc = 0;
                break;
            }
        }
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", argv[0], zmq_strerror(zmq_errno()));
    }
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    return rc;
}
