/* OAuth 1.0a one-legged, as WooCommerce checks it on a plain-HTTP shop
 * (class-wc-rest-authentication.php): the parameters oauth_consumer_key, oauth_timestamp,
 * oauth_nonce (32 characters), oauth_signature_method HMAC-SHA256 and oauth_signature go in the
 * query; no oauth_version; the JSON body is not signed. The string to sign is
 *   METHOD & rfc3986(base URL) & (the pairs rfc3986(rfc3986(k) "=" rfc3986(v)), sorted by key,
 *                                 joined with "%26")
 * where the parameters are the request's query (decoded) and the oauth_* ones, and the key is
 * the consumer secret followed by "&". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "woocommerce.h"

struct pair {
    char *k, *v; /* decoded */
};

static int hexval(int ch)
{
    return isdigit(ch) ? ch - '0' : isxdigit(ch) ? (tolower(ch) - 'a' + 10) : -1;
}

/* Percent-decode n bytes of s (and '+' as a space) into a new string. */
static char *decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *p = out;
    if (!out) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
            (l = hexval((unsigned char)s[i + 2])) >= 0) {
            *p++ = (char)(h * 16 + l);
            i += 2;
        } else {
            *p++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *p = '\0';
    return out;
}

static int by_key(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    int r = strcmp(x->k, y->k);
    return r ? r : strcmp(x->v, y->v);
}

/* Append s to the growing string *buf (size *cap, length *len). */
static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t cap2 = *cap ? *cap * 2 : 256;
        while (cap2 < *len + n + 1) {
            cap2 *= 2;
        }
        char *p = realloc(*buf, cap2);
        if (!p) {
            return OMB_ENOMEM;
        }
        *buf = p;
        *cap = cap2;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return 0;
}

char *wc_oauth_query(struct wc_ctx *c, const char *method, const char *base_url, const char *query)
{
    struct pair ps[64];
    size_t np = 0;
    char *base = NULL, *out = NULL, *enc = NULL;
    size_t blen = 0, bcap = 0, olen = 0, ocap = 0;
    bool ok = false;
    /* The request's own parameters. */
    for (const char *q = query; q && *q && np < 58;) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        if (n > 0) {
            ps[np].k = decode(q, eq ? (size_t)(eq - q) : n);
            ps[np].v = eq ? decode(eq + 1, n - (size_t)(eq - q) - 1) : strdup("");
            np++;
        }
        q = amp ? amp + 1 : q + n;
    }
    unsigned char rnd[16];
    char nonce[33], ts[32];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        goto out;
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    }
    snprintf(ts, sizeof(ts), "%lld", (long long)(c->host->now_ms() / 1000));
    const char *oauth[][2] = {{"oauth_consumer_key", c->consumer_key},
                              {"oauth_nonce", nonce},
                              {"oauth_signature_method", "HMAC-SHA256"},
                              {"oauth_timestamp", ts}};
    for (size_t i = 0; i < 4; i++) {
        ps[np].k = strdup(oauth[i][0]);
        ps[np].v = strdup(oauth[i][1]);
        np++;
    }
    for (size_t i = 0; i < np; i++) {
        if (!ps[i].k || !ps[i].v) {
            goto out;
        }
    }
    qsort(ps, np, sizeof(ps[0]), by_key);
    /* The string to sign. */
    enc = wc_urlencode(base_url);
    if (!enc || append(&base, &blen, &bcap, method) || append(&base, &blen, &bcap, "&") ||
        append(&base, &blen, &bcap, enc) || append(&base, &blen, &bcap, "&")) {
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        char *k = wc_urlencode(ps[i].k), *v = wc_urlencode(ps[i].v), *kv = NULL, *e = NULL;
        if (k && v && asprintf(&kv, "%s=%s", k, v) >= 0) {
            e = wc_urlencode(kv);
        } else {
            kv = NULL;
        }
        int rc =
            !e || (i > 0 && append(&base, &blen, &bcap, "%26")) || append(&base, &blen, &bcap, e);
        /* The query sent: k=v pairs, encoded once. */
        if (!rc && kv) {
            rc = (olen > 0 && append(&out, &olen, &ocap, "&")) || append(&out, &olen, &ocap, kv);
        }
        free(k);
        free(v);
        free(kv);
        free(e);
        if (rc) {
            goto out;
        }
    }
    unsigned char mac[OMB_HMAC_MAX];
    size_t maclen = sizeof(mac);
    char *key = NULL;
    if (asprintf(&key, "%s&", c->consumer_secret) < 0) {
        goto out;
    }
    int hrc = c->host->hmac("sha256", key, strlen(key), base, blen, mac, &maclen);
    explicit_bzero(key, strlen(key));
    free(key);
    char b64[4 * ((OMB_HMAC_MAX + 2) / 3) + 1];
    if (hrc != 0 || c->host->base64_encode(mac, maclen, b64, sizeof(b64)) != 0) {
        goto out;
    }
    char *sig = wc_urlencode(b64);
    ok =
        sig && !append(&out, &olen, &ocap, "&oauth_signature=") && !append(&out, &olen, &ocap, sig);
    free(sig);
out:
    for (size_t i = 0; i < np; i++) {
        free(ps[i].k);
        free(ps[i].v);
    }
    free(base);
    free(enc);
    if (!ok) {
        free(out);
        out = NULL;
    }
    return out;
}
