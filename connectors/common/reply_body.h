/* Shared by the HTTP connectors that keep a whole answer in memory (square, shopify,
 * woocommerce, prestashop): growing the answer's buffer from a CURLOPT_WRITEFUNCTION. */
#ifndef OMNIBUS_CONNECTOR_REPLY_BODY_H
#define OMNIBUS_CONNECTOR_REPLY_BODY_H

#include <stdbool.h>
#include <stddef.h>

/* Append n bytes to *data (len, cap; NUL-terminated, grown by doubling from 16 KiB). Past max
 * bytes, or when memory runs out, nothing more is kept and *overflow is set (the caller fails
 * the call as "answer too large"); the bytes are still consumed, so returns n. */
size_t omb_reply_body_append(char **data, size_t *len, size_t *cap, bool *overflow, size_t max,
                             const char *in, size_t n);

#endif /* OMNIBUS_CONNECTOR_REPLY_BODY_H */
