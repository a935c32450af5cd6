/* An HTTP answer's body kept in memory, for every connector that needs it whole (reply_body.h). */
#include <stdlib.h>
#include <string.h>

#include "reply_body.h"

size_t omb_reply_body_append(char **data, size_t *len, size_t *cap, bool *overflow, size_t max,
                             const char *in, size_t n)
{
    if (*overflow || *len + n > max) {
        *overflow = true;
        return n;
    }
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 16384;
        while (c < *len + n + 1) {
            c *= 2;
        }
        char *p = realloc(*data, c);
        if (!p) {
            *overflow = true;
            return n;
        }
        *data = p;
        *cap = c;
    }
    memcpy(*data + *len, in, n);
    *len += n;
    (*data)[*len] = '\0';
    return n;
}
