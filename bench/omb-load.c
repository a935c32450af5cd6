/* omb-load: the benchmark's load generator. Pushes canonical stock.level events (about 430
 * bytes, a Shopify inventory webhook mapped to omnibus's event) into a zmq connector, at full
 * speed or at a fixed rate, and optionally pulls them back from a zmq connector's publish
 * endpoint to measure end-to-end latency (send to receive, through the daemon).
 *
 *   omb-load --push ENDPOINT --count N [--rate EVENTS_PER_S] [--pull ENDPOINT] [--keys K]
 *
 * Prints one JSON object: sent, received, seconds, rate, and with --pull the latency
 * percentiles in milliseconds. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Pull what came back; each body carries "t" (send time, µs). Returns the latencies taken. */
static size_t drain(void *pull, int64_t *lat, size_t have, size_t cap, int flags)
{
    char buf[4096];
    while (have < cap) {
        int more = 0;
        size_t more_len = sizeof(more);
        int n = zmq_recv(pull, buf, sizeof(buf) - 1, flags);
        if (n < 0) {
            break;
        }
        zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &more_len);
        if (!more) {
            continue; /* not a two-frame message: ignore */
        }
        n = zmq_recv(pull, buf, sizeof(buf) - 1, 0);
        if (n < 0) {
            break;
        }
        buf[n < (int)sizeof(buf) - 1 ? n : (int)sizeof(buf) - 1] = '\0';
        const char *t = strstr(buf, "\"t\":");
        if (t) {
            lat[have++] = now_us() - strtoll(t + 4, NULL, 10);
        }
        flags = ZMQ_DONTWAIT;
    }
    return have;
}

int main(int argc, char **argv)
{
    const char *push_ep = NULL, *pull_ep = NULL;
    long count = 100000, keys = 1000;
    double rate = 0;
    static const struct option opts[] = {
        { "push", required_argument, NULL, 'p' }, { "pull", required_argument, NULL, 'l' },
        { "count", required_argument, NULL, 'n' }, { "rate", required_argument, NULL, 'r' },
        { "keys", required_argument, NULL, 'k' }, { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "p:l:n:r:k:", opts, NULL)) != -1) {
        switch (c) {
        case 'p': push_ep = optarg; break;
        case 'l': pull_ep = optarg; break;
        case 'n': count = strtol(optarg, NULL, 10); break;
        case 'r': rate = strtod(optarg, NULL); break;
        case 'k': keys = strtol(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: omb-load --push EP --count N [--rate R] [--pull EP]\n");
            return 2;
        }
    }
    if (!push_ep || count <= 0 || keys <= 0) {
        fprintf(stderr, "usage: omb-load --push EP --count N [--rate R] [--pull EP]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int hwm = 100000, linger = 5000;
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_connect(push, push_ep) != 0) {
        fprintf(stderr, "omb-load: %s: %s\n", push_ep, zmq_strerror(errno));
        return 1;
    }
    void *pull = NULL;
    int64_t *lat = NULL;
    if (pull_ep) {
        pull = zmq_socket(ctx, ZMQ_PULL);
        zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof(hwm));
        if (zmq_connect(pull, pull_ep) != 0) {
            fprintf(stderr, "omb-load: %s: %s\n", pull_ep, zmq_strerror(errno));
            return 1;
        }
        lat = malloc((size_t)count * sizeof(*lat));
    }
    struct timespec settle = { 0, 300000000 };
    nanosleep(&settle, NULL); /* let the connections come up before the clock starts */

    char env[256], body[1024];
    size_t got = 0;
    int64_t start = now_us();
    for (long i = 0; i < count; i++) {
        if (rate > 0) {
            /* Sleep, not spin: on a 2-core machine a spinning load generator would take a core
             * from the daemon it measures. Waits under 100 µs are sent early, in small bursts. */
            int64_t due = start + (int64_t)((double)i * 1e6 / rate);
            for (int64_t now = now_us(); due - now > 100; now = now_us()) {
                if (pull) {
                    got = drain(pull, lat, got, (size_t)count, ZMQ_DONTWAIT);
                }
                int64_t wait = due - now;
                struct timespec ts = { 0, (long)(wait > 1000 ? 1000 : wait) * 1000 };
                nanosleep(&ts, NULL);
            }
        }
        long k = (i * 7919) % keys;
        int elen = snprintf(env, sizeof(env),
                            "{\"type\":\"stock.level\",\"key\":\"OB-%04ld-M@WAW01\","
                            "\"time\":\"2026-11-20T10:00:00Z\"}", k);
        int blen = snprintf(
            body, sizeof(body),
            "{\"sku\":\"OB-%04ld-M\",\"location\":\"WAW01\",\"on_hand\":%ld,"
            "\"as_of\":\"2026-11-20T10:00:00Z\",\"source\":{\"platform\":\"shopify\","
            "\"shop\":\"acme-eu.myshopify.com\",\"inventory_item_id\":\"808950810%04ld\","
            "\"location_id\":\"905684977\",\"admin_graphql_api_id\":\"gid://shopify/"
            "InventoryLevel/905684977?inventory_item_id=808950810%04ld\",\"updated_at\":"
            "\"2026-11-20T11:00:00+01:00\"},\"seq\":%ld,\"t\":%" PRId64 "}",
            k, i % 50, k, k, i, now_us());
        if (zmq_send(push, env, (size_t)elen, ZMQ_SNDMORE) < 0 ||
            zmq_send(push, body, (size_t)blen, 0) < 0) {
            fprintf(stderr, "omb-load: send: %s\n", zmq_strerror(errno));
            return 1;
        }
        if (pull && (i & 63) == 0) {
            got = drain(pull, lat, got, (size_t)count, ZMQ_DONTWAIT);
        }
    }
    int64_t sent_at = now_us();
    if (pull) {
        int timeo = 10000;
        zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeo, sizeof(timeo));
        while (got < (size_t)count) {
            size_t before = got;
            got = drain(pull, lat, got, (size_t)count, 0);
            if (got == before) {
                break; /* nothing for 10 s */
            }
        }
    }
    double secs = (double)(sent_at - start) / 1e6;
    printf("{\"sent\": %ld, \"seconds\": %.3f, \"offered_rate\": %.0f", count, secs,
           (double)count / secs);
    if (pull) {
        qsort(lat, got, sizeof(*lat), cmp_i64);
        printf(", \"received\": %zu", got);
        if (got > 0) {
            printf(", \"latency_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f}",
                   lat[got / 2] / 1000.0, lat[(size_t)(got * 0.99)] / 1000.0,
                   lat[(size_t)(got * 0.999)] / 1000.0, lat[got - 1] / 1000.0);
        }
    }
    printf("}\n");
    free(lat);
    zmq_close(push);
    if (pull) {
        zmq_close(pull);
    }
    zmq_ctx_term(ctx);
    return 0;
}
