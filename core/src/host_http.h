/* The host functions of ABI 1.1 (omnibus/host.h): webhook routes, HMAC, constant-time compare
 * and base64. host.c puts them in the table; http_ingress.c runs a registered handler through
 * omb_host_http_call on the instance's thread. */
#ifndef OMNIBUS_HOST_HTTP_H
#define OMNIBUS_HOST_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <omnibus/http.h>

struct omb_instance;

int omb_host_http_route_add(struct omb_instance *self, const char *suffix, omb_http_fn fn,
                            void *arg);
int omb_host_hmac(const char *alg, const void *key, size_t keylen, const void *data,
                  size_t datalen, unsigned char *out, size_t *outlen);
bool omb_host_mem_equal_ct(const void *a, const void *b, size_t len);
int omb_host_base64_encode(const void *in, size_t len, char *out, size_t outsize);
int omb_host_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t *outlen);

/* On inst's thread: call fn for req unless the instance cannot take it now (not started yet, or
 * stopping: then res says 503 with Retry-After). res is zeroed first. */
void omb_host_http_call(struct omb_instance *inst, omb_http_fn fn, void *arg,
                        const struct omb_http_request *req, struct omb_http_response *res);

#endif /* OMNIBUS_HOST_HTTP_H */
