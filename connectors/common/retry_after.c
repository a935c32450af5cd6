/* Retry-After, read once for every HTTP connector (retry_after.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "retry_after.h"

void omb_retry_after_header(const char *line, size_t n, char *out, size_t outlen)
{
    static const char name[] = "retry-after:";
    if (n <= sizeof(name) - 1 || strncasecmp(line, name, sizeof(name) - 1) != 0) {
        return;
    }
    const char *v = line + sizeof(name) - 1;
    size_t len = n - (sizeof(name) - 1);
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ')) {
        len--;
    }
    snprintf(out, outlen, "%.*s", (int)len, v);
}

int64_t omb_retry_after_ms(const char *v, int64_t now_ms, int64_t max_ms)
{
    if (!v[0]) {
        return -1;
    }
    char *end = NULL;
    double secs = strtod(v, &end);
    int64_t ms;
    if (end != v && *end == '\0' && isfinite(secs) && secs >= 0) {
        ms = (int64_t)ceil(secs * 1000.0);
    } else {
        time_t t = curl_getdate(v, NULL);
        if (t < 0) {
            return -1;
        }
        ms = (int64_t)t * 1000 - now_ms;
        if (ms < 0) {
            ms = 0;
        }
    }
    if (max_ms > 0 && ms > max_ms) {
        ms = max_ms;
    }
    return ms;
}
