/* host_http.c: the ABI 1.1 helpers plugins use to check webhook signatures (HMAC against the
 * vendor test vectors of ../shared/vendor-apis.md, constant-time compare, base64), and the SDK's
 * omb_http_header_get. The listener itself is tested end to end by
 * tests/integration/http_ingress_test.py. */
#include <stdio.h>
#include <string.h>

#include <omnibus/plugin.h>

#include "host_http.h"
#include "testlib.h"

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
}

static void test_hmac(void)
{
    unsigned char mac[OMB_HMAC_MAX];
    size_t len = sizeof(mac);
    char b64[128], hx[2 * OMB_HMAC_MAX + 1];

    /* Shopify's vector: base64(HMAC-SHA256(body, "test_secret")). */
    const char *shop = "{\"inventory_item_id\":111,\"location_id\":222,\"available\":5}";
    CHECK(omb_host_hmac("sha256", "test_secret", 11, shop, strlen(shop), mac, &len) == 0);
    CHECK(len == 32);
    CHECK(omb_host_base64_encode(mac, len, b64, sizeof(b64)) == 0);
    CHECK_STR(b64, "EUhB2qAsur6nP/U5HnbZMqKE76kwYMmFhlprtMu0Czc=");

    /* Slack's: hex over "v0:" timestamp ":" body. */
    const char *slack = "v0:1700000000:{\"type\":\"event_callback\",\"event_id\":\"Ev01\"}";
    len = sizeof(mac);
    CHECK(omb_host_hmac("sha256", "test_secret", 11, slack, strlen(slack), mac, &len) == 0);
    hex(mac, len, hx);
    CHECK_STR(hx, "13b4e26cec055564f2024e7e660c951147902c611168559a85520035d3698cce");

    /* Meta's. */
    const char *meta = "{\"object\":\"page\",\"entry\":[]}";
    len = sizeof(mac);
    CHECK(omb_host_hmac("sha256", "test_secret", 11, meta, strlen(meta), mac, &len) == 0);
    hex(mac, len, hx);
    CHECK_STR(hx, "838bc81771fbd6aa7ba4deceb274b1791ed4cae84831df8ef3d4c7fb457ee964");

    /* RFC 4231 test case 2 (SHA-512) and RFC 2202 test case 2 (SHA-1). */
    const char *data = "what do ya want for nothing?";
    len = sizeof(mac);
    CHECK(omb_host_hmac("sha512", "Jefe", 4, data, strlen(data), mac, &len) == 0);
    CHECK(len == 64);
    hex(mac, len, hx);
    CHECK_STR(hx, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                  "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    len = sizeof(mac);
    CHECK(omb_host_hmac("sha1", "Jefe", 4, data, strlen(data), mac, &len) == 0);
    CHECK(len == 20);
    hex(mac, len, hx);
    CHECK_STR(hx, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");

    /* Empty key and data are fine; unknown algorithms and small buffers are not. */
    len = sizeof(mac);
    CHECK(omb_host_hmac("sha256", NULL, 0, NULL, 0, mac, &len) == 0 && len == 32);
    len = sizeof(mac);
    CHECK(omb_host_hmac("md5", "k", 1, "d", 1, mac, &len) == OMB_EINVAL);
    CHECK(omb_host_hmac(NULL, "k", 1, "d", 1, mac, &len) == OMB_EINVAL);
    len = 31;
    CHECK(omb_host_hmac("sha256", "k", 1, "d", 1, mac, &len) == OMB_EINVAL);
}

static void test_compare(void)
{
    CHECK(omb_host_mem_equal_ct("abc", "abc", 3));
    CHECK(!omb_host_mem_equal_ct("abc", "abd", 3));
    CHECK(omb_host_mem_equal_ct("x", "y", 0));
}

static void test_base64(void)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                       "Zm9vYmFy" };
    char out[64];
    unsigned char dec[64];
    size_t n;
    for (size_t i = 0; i < 7; i++) {
        CHECK(omb_host_base64_encode(plain[i], strlen(plain[i]), out, sizeof(out)) == 0);
        CHECK_STR(out, enc[i]);
        n = sizeof(dec);
        CHECK(omb_host_base64_decode(enc[i], strlen(enc[i]), dec, &n) == 0);
        CHECK(n == strlen(plain[i]) && memcmp(dec, plain[i], n) == 0);
    }
    /* Padding is optional. */
    n = sizeof(dec);
    CHECK(omb_host_base64_decode("Zm9vYg", 6, dec, &n) == 0 && n == 4);
    /* Not base64: other characters, a lone character, bad padding, non-zero spare bits. */
    static const char *const bad[] = { "Zm9v!", "Z", "Zg=", "Z===", "Zm9=v", "Zh==", "Zm9vYg= ",
                                       "Zm-v", NULL };
    for (size_t i = 0; bad[i]; i++) {
        n = sizeof(dec);
        if (omb_host_base64_decode(bad[i], strlen(bad[i]), dec, &n) != OMB_EINVAL) {
            fprintf(stderr, "decoded \"%s\"\n", bad[i]);
        }
        CHECK(omb_host_base64_decode(bad[i], strlen(bad[i]), dec, &n) == OMB_EINVAL);
    }
    /* Room: exactly enough works, one less does not. */
    CHECK(omb_host_base64_encode("foo", 3, out, 5) == 0);
    CHECK(omb_host_base64_encode("foo", 3, out, 4) == OMB_EINVAL);
    n = 3;
    CHECK(omb_host_base64_decode("Zm9v", 4, dec, &n) == 0 && n == 3);
    n = 2;
    CHECK(omb_host_base64_decode("Zm9v", 4, dec, &n) == OMB_EINVAL);
}

static void test_header_get(void)
{
    struct omb_http_header h[] = { { "Content-Type", "application/json" },
                                   { "X-Shopify-Topic", "orders/create" },
                                   { "x-shopify-topic", "second" } };
    struct omb_http_request req = { .headers = h, .n_headers = 3 };
    CHECK_STR(omb_http_header_get(&req, "content-type"), "application/json");
    CHECK_STR(omb_http_header_get(&req, "X-SHOPIFY-TOPIC"), "orders/create");
    CHECK(omb_http_header_get(&req, "X-Missing") == NULL);
}

int main(void)
{
    test_hmac();
    test_compare();
    test_base64();
    test_header_get();
    return test_result();
}
