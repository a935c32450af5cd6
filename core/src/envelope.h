/* Canonical event envelopes: ids, times, checks, and the conversion between the plugin-level
 * event object (omnibus/event.h) and the two frames on the bus (envelope JSON, body JSON). */
#ifndef OMNIBUS_ENVELOPE_H
#define OMNIBUS_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include <omnibus/event.h>

#define OMB_TIME_LEN 24    /* "2026-11-25T01:02:03.456Z" */
#define OMB_TIME_US_LEN 27 /* "2026-11-25T01:02:03.456789Z" */
#define OMB_EVENT_DEDUPE_MAX 256 /* bytes of an event's "dedupe" (idempotency key), at most */

/* A new time-ordered unique id (ULID layout: 48-bit ms time, 80 random bits, Crockford base32),
 * strictly increasing within the process. Thread-safe. */
void omb_id_new(char out[OMB_EVENT_ID_LEN + 1]);

/* Format Unix-epoch milliseconds as RFC 3339 UTC with milliseconds. */
void omb_time_format(int64_t ms, char out[OMB_TIME_LEN + 1]);

/* Format Unix-epoch microseconds as RFC 3339 UTC with microseconds (the envelope's received). */
void omb_time_format_us(int64_t us, char out[OMB_TIME_US_LEN + 1]);

/* Parse RFC 3339 UTC ("...Z", any number of fraction digits) to Unix-epoch microseconds.
 * 0, or OMB_EINVAL. */
int omb_time_parse_us(const char *s, int64_t *us_out);

/* Wall clock in µs and ms, and monotonic clock in ms. */
int64_t omb_now_us(void);
int64_t omb_now_ms(void);
int64_t omb_monotonic_ms(void);

/* True for an event type: lowercase words ([a-z0-9_]+, starting with a letter) joined by dots. */
bool omb_type_valid(const char *type);
/* True for a type pattern: a type, a type prefix followed by ".*", or "*". */
bool omb_type_pattern_valid(const char *pattern);
/* True when `type` matches `pattern` ("stock.*" matches "stock.level" and "stock.delta.x"). */
bool omb_type_match(const char *pattern, const char *type);

/* Check a plugin-level event (borrowed). 0, or OMB_EINVAL with the reason in err. */
int omb_event_check(const json_t *event, char *err, size_t errlen);

/* An event's or envelope's idempotency key: its "dedupe" string member (borrowed from event),
 * or NULL when it has none or it is "" (no key). Checked by omb_event_check: a string of at
 * most OMB_EVENT_DEDUPE_MAX bytes, any text; sealed into the envelope after "trace". */
const char *omb_event_dedupe(const json_t *event);

/* Seal a checked plugin-level event (borrowed) for the bus: fills id, source, received, time,
 * trace when absent, and returns the envelope and body as new compact JSON strings (malloc'd,
 * the caller's) and the key (borrowed from event). */
int omb_event_seal(const json_t *event, const char *source, char **envelope_out,
                   size_t *envelope_len, char **body_out, size_t *body_len, const char **key_out,
                   char *err, size_t errlen);

/* Seal an envelope for a body the source already holds as text (emit_raw): `envelope` (borrowed)
 * is checked as an event without its body. Returns the envelope's compact JSON (malloc'd, the
 * caller's) and the key (borrowed from envelope), or OMB_EINVAL with the reason in err. */
int omb_envelope_seal(const json_t *envelope, const char *source, char **envelope_out,
                      size_t *envelope_len, const char **key_out, char *err, size_t errlen);

/* Build the plugin-level event for deliver() from the frames: a new object holding the
 * envelope's members, "route" and "body". Returns NULL with a reason in err. */
/* A string member of an envelope the core sealed itself (compact JSON, no escapes in ids, types
 * and times), read without parsing: `out` gets its value, or "" when absent or too long. */
void omb_envelope_field(const char *env, size_t len, const char *name, char *out, size_t outlen);

json_t *omb_event_from_frames(const char *route, const char *envelope, size_t envelope_len,
                              const char *body, size_t body_len, char *err, size_t errlen);

/* FNV-1a hash of a key, for choosing the router worker that keeps a key's order. */
uint64_t omb_key_hash(const char *key, size_t len);

#endif /* OMNIBUS_ENVELOPE_H */
