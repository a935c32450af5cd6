/* Compact JSON text of a jq value, written directly: jq 1.6's jv_dump_string spent most of the
 * router's time per event (7 µs for a 400-byte object) growing jv strings piece by piece. */
#ifndef OMNIBUS_JQ_WRITE_H
#define OMNIBUS_JQ_WRITE_H

#include <stddef.h>
#include <jv.h>

/* Write v (borrowed) as compact JSON into a new NUL-terminated buffer (the caller's, free()),
 * its length in *len. Members in jq's order; strings UTF-8 as they are, with '"', '\\' and
 * control characters escaped as jq does; integers up to 1e17 as integers, other numbers in the
 * shortest form that reads back to the same double; NaN as null and infinities as the largest
 * double, as jq writes them. NULL on ENOMEM or an invalid value. */
char *jq_write(jv v, size_t *len);

#endif /* OMNIBUS_JQ_WRITE_H */
