/* omnibus public SDK: the canonical event as plugins see it.
 *
 * A plugin emits and receives an event as one JSON object:
 *
 *   {
 *     "id":       "01JD3Q7W5X0000000000000000",  time-ordered unique id (set by the core)
 *     "type":     "stock.level",                 required: lowercase words joined by dots
 *     "source":   "pos",                         the emitting connector instance (set by the core)
 *     "key":      "OB-1000-S@WAW01",             ordering/conflation key (default "")
 *     "time":     "2026-11-20T10:00:00Z",        when it happened, RFC 3339 UTC (default: received)
 *     "received": "2026-11-25T01:02:03.456Z",    when omnibus got it (set by the core)
 *     "trace":    "01JD3Q7W5X0000000000000000",  correlation id (default: the id)
 *     "dedupe":   "X-Shopify-Event-Id value",    optional idempotency key (<= 256 bytes)
 *     "headers":  {"x-anything": "string"},      optional string-valued headers
 *     "route":    "pos-stock-to-shop",           on delivery only: the route that sent it
 *     "body":     { ... }                        required: the event's JSON body (an object)
 *   }
 *
 * On the bus the same event travels as two ZeroMQ frames: the envelope (every member above but
 * "body" and "route") as compact JSON, then the body as JSON. Money is never a float: use
 * {"amount": 12999, "currency": "PLN"} in minor units. Carry platform ids as strings.
 */
#ifndef OMNIBUS_EVENT_H
#define OMNIBUS_EVENT_H

#define OMB_EVENT_TYPE_MAX 64   /* bytes, without the terminating NUL */
#define OMB_EVENT_KEY_MAX 256
#define OMB_EVENT_ID_LEN 26     /* ULID-style, Crockford base32 */

#endif /* OMNIBUS_EVENT_H */
