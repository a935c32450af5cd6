/* Shared by the connectors that speak HTTP through libcurl (http, square, and the web shops to
 * come): reading a Retry-After header. A convenience library linked into each plugin
 * (connectors/common/common.mk); hidden like the rest of a plugin. */
#ifndef OMNIBUS_CONNECTOR_RETRY_AFTER_H
#define OMNIBUS_CONNECTOR_RETRY_AFTER_H

#include <stddef.h>
#include <stdint.h>

/* A CURLOPT_HEADERFUNCTION's line: when it is "Retry-After: V", copy V (trimmed) into out
 * (size outlen, NUL-terminated; longer values are cut). Other lines leave out alone. */
void omb_retry_after_header(const char *line, size_t n, char *out, size_t outlen);

/* Retry-After V as milliseconds from now_ms (the Unix epoch in ms): seconds ("120", "2.0", as
 * Shopify writes it) or an HTTP date; capped at max_ms when max_ms > 0; -1 when V is empty or
 * unreadable. */
int64_t omb_retry_after_ms(const char *v, int64_t now_ms, int64_t max_ms);

#endif /* OMNIBUS_CONNECTOR_RETRY_AFTER_H */
