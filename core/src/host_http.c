/* The host functions of ABI 1.1: webhook routes on the daemon's HTTP ingress, and the helpers a
 * webhook needs to check a signature (HMAC over OpenSSL, a constant-time compare, base64). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "host_http.h"
#include "http_ingress.h"
#include "instance.h"
#include "instance_priv.h"
#include "isolate.h"
#include "log.h"

/* What a request gets while its instance cannot take it. */
#define NOT_READY_RETRY_AFTER_S 1

int omb_host_http_route_add(struct omb_instance *self, const char *suffix, omb_http_fn fn,
                            void *arg)
{
    if (self->rt->isolated_child) {
        return omb_isolate_uplink_route(self, suffix, fn, arg);
    }
    if (!self->rt->http) {
        omb_log(OMB_LOG_ERROR, self->scope, "http_route_add: this daemon has no HTTP ingress");
        return OMB_ENOTFOUND;
    }
    int rc = omb_http_ingress_route_add(self->rt->http, self, self->name, suffix, fn, arg);
    if (rc == OMB_EINVAL) {
        omb_log(OMB_LOG_ERROR, self->scope,
                "http_route_add: suffix \"%.140s\" is not valid or already registered",
                suffix ? suffix : "(null)");
    }
    return rc;
}

void omb_host_http_call(struct omb_instance *inst, omb_http_fn fn, void *arg,
                        const struct omb_http_request *req, struct omb_http_response *res)
{
    memset(res, 0, sizeof(*res));
    if (!inst->started || inst->sources_stopped || atomic_load(&inst->rt->stopping)) {
        res->status = 503;
        res->body = inst->started ? "stopping\n" : "not ready\n";
        res->retry_after_s = NOT_READY_RETRY_AFTER_S;
        return;
    }
    fn(arg, req, res);
}

static const EVP_MD *digest_of(const char *alg)
{
    if (!alg) {
        return NULL;
    }
    if (strcmp(alg, "sha256") == 0) {
        return EVP_sha256();
    }
    if (strcmp(alg, "sha1") == 0) {
        return EVP_sha1();
    }
    if (strcmp(alg, "sha512") == 0) {
        return EVP_sha512();
    }
    return NULL;
}

int omb_host_hmac(const char *alg, const void *key, size_t keylen, const void *data,
                  size_t datalen, unsigned char *out, size_t *outlen)
{
    const EVP_MD *md = digest_of(alg);
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!md || !out || !outlen || keylen > INT32_MAX || (!key && keylen) || (!data && datalen) ||
        *outlen < (size_t)EVP_MD_get_size(md)) {
        return OMB_EINVAL;
    }
    static const unsigned char empty[1] = { 0 };
    if (!HMAC(md, key ? key : empty, (int)keylen, data ? data : empty, datalen, buf, &len)) {
        return OMB_ENOMEM;
    }
    memcpy(out, buf, len);
    *outlen = len;
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

bool omb_host_mem_equal_ct(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int omb_host_base64_encode(const void *in, size_t len, char *out, size_t outsize)
{
    const unsigned char *p = in;
    if (!out || (!in && len) || len > (SIZE_MAX - 1) / 4 * 3 - 3 ||
        outsize < 4 * ((len + 2) / 3) + 1) {
        return OMB_EINVAL;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int omb_host_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    if (!out || !outlen || (!in && inlen)) {
        return OMB_EINVAL;
    }
    /* Padding: at most two '=', only at the end, and only to a multiple of four. */
    size_t pad = 0;
    while (pad < 2 && inlen > pad && in[inlen - 1 - pad] == '=') {
        pad++;
    }
    if (pad > 0 && inlen % 4 != 0) {
        return OMB_EINVAL;
    }
    size_t n = inlen - pad;
    if (n % 4 == 1) {
        return OMB_EINVAL;
    }
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (*outlen < need) {
        return OMB_EINVAL;
    }
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) {
            return OMB_EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {
        return OMB_EINVAL; /* non-zero bits left over: not canonical */
    }
    *outlen = o;
    return 0;
}
