/* Stock out: one canonical stock event becomes one inventory change, sent with
 * POST /v2/inventory/changes/batch-create:
 *   stock.level      PHYSICAL_COUNT, state IN_STOCK, quantity on_hand (a negative level is sent as
 *                    0: Square counts no negative stock), occurred_at as_of
 *   stock.available  PHYSICAL_COUNT of `available` at its location (or channel, mapped the same
 *                    way), occurred_at as_of or the event's time
 *   stock.delta      ADJUSTMENT of |delta| between two states, occurred_at the event's time:
 *                      sale, delta < 0                      IN_STOCK -> SOLD
 *                      return or sale, delta > 0            UNLINKED_RETURN -> IN_STOCK
 *                      receipt, adjustment, transfer, > 0   NONE -> IN_STOCK
 *                      return, delta < 0                    IN_STOCK -> SOLD
 *                      receipt, adjustment, transfer, < 0   IN_STOCK -> WASTE
 * The idempotency key is "omb-<event id>-inv": a retry of the event (or its replay from the
 * dead-letter queue) sends the same key with the same body, which Square answers as the first
 * time instead of applying it twice. Everything in the body is derived from the event alone,
 * so the body is the same on every attempt: occurred_at is the event's time, or its `received`
 * time when the source's clock ran ahead (Square refuses times in the future). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "square.h"

struct transition {
    const char *reason;
    const char *from_neg, *to_neg; /* delta < 0 */
    const char *from_pos, *to_pos; /* delta > 0 */
};

static const struct transition transitions[] = {
    {"sale", "IN_STOCK", "SOLD", "UNLINKED_RETURN", "IN_STOCK"},
    {"return", "IN_STOCK", "SOLD", "UNLINKED_RETURN", "IN_STOCK"},
    {"receipt", "IN_STOCK", "WASTE", "NONE", "IN_STOCK"},
    {"adjustment", "IN_STOCK", "WASTE", "NONE", "IN_STOCK"},
    {"transfer", "IN_STOCK", "WASTE", "NONE", "IN_STOCK"},
};

/* An integer member of the body, or false. */
static bool body_int(const json_t *event, const char *name, json_int_t *v)
{
    const json_t *j = json_object_get(json_object_get(event, "body"), name);
    if (!json_is_integer(j)) {
        return false;
    }
    *v = json_integer_value(j);
    return true;
}

/* occurred_at for the change (borrowed from the event): `t` (a time of the body, else the
 * event's `time`), or `received` when t is later. OMB_EREJECT with a reason when it is missing,
 * unreadable or older than Square takes. */
static int occurred_at(struct sq_ctx *c, const json_t *event, const char *t, const char **out,
                       struct omb_deliver_result *res)
{
    const char *received = json_string_value(json_object_get(event, "received"));
    if (!t) {
        t = json_string_value(json_object_get(event, "time"));
    }
    if (!t) {
        t = received;
    }
    int64_t t_ms = 0, r_ms = 0;
    if (!t || sq_time_parse(t, &t_ms) != 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "the event's time \"%.60s\" is not an "
                 "RFC 3339 time",
                 t ? t : "");
        return OMB_EREJECT;
    }
    if (received && sq_time_parse(received, &r_ms) == 0 && t_ms > r_ms) {
        t = received;
        t_ms = r_ms;
    }
    int64_t age = c->host->now_ms() - t_ms;
    if (age > SQ_CHANGE_MAX_AGE_MS) {
        snprintf(res->reason, sizeof(res->reason),
                 "occurred at %s, %" PRId64 " h ago: Square takes inventory changes of the last "
                 "24 hours only",
                 t, age / 3600000);
        return OMB_EREJECT;
    }
    *out = t;
    return OMB_OK;
}

/* The change for a stock.level or stock.available (new), or NULL with a reject reason. */
static json_t *count_change(struct sq_ctx *c, const json_t *event, const char *type,
                            const char *var_id, const char *loc_id, const char *location,
                            struct omb_deliver_result *res)
{
    bool level = strcmp(type, "stock.level") == 0;
    const char *field = level ? "on_hand" : "available";
    json_int_t qty;
    if (!body_int(event, field, &qty)) {
        snprintf(res->reason, sizeof(res->reason), "%s without an integer body.%s", type, field);
        return NULL;
    }
    const char *as_of = sq_body_string(event, "as_of"), *when = NULL;
    if (occurred_at(c, event, as_of, &when, res) != OMB_OK) {
        return NULL;
    }
    if (qty < 0) {
        c->host->log(c->self, OMB_LOG_WARN,
                     "%s of SKU %s at %s is %" JSON_INTEGER_FORMAT ": sent to Square as 0", type,
                     sq_body_string(event, "sku"), location, qty);
        c->host->metric_counter_add(c->self, "negative_levels_sent_as_zero", 1);
        qty = 0;
    }
    char q[32];
    snprintf(q, sizeof(q), "%" JSON_INTEGER_FORMAT, qty);
    json_t *ch = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "type", "PHYSICAL_COUNT",
                           "physical_count", "catalog_object_id", var_id, "location_id", loc_id,
                           "state", "IN_STOCK", "quantity", q, "occurred_at", when);
    if (!ch) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
    }
    return ch;
}

/* The change for a stock.delta (new), or NULL with a reject reason. */
static json_t *delta_change(struct sq_ctx *c, const json_t *event, const char *var_id,
                            const char *loc_id, struct omb_deliver_result *res)
{
    json_int_t delta;
    const char *reason = sq_body_string(event, "reason");
    const char *ref = sq_body_string(event, "ref");
    if (!body_int(event, "delta", &delta) || delta == 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "stock.delta without a non-zero integer body.delta");
        return NULL;
    }
    const struct transition *tr = NULL;
    for (size_t i = 0; reason && i < sizeof(transitions) / sizeof(transitions[0]); i++) {
        if (strcmp(transitions[i].reason, reason) == 0) {
            tr = &transitions[i];
        }
    }
    if (!tr) {
        snprintf(res->reason, sizeof(res->reason),
                 "stock.delta with reason \"%.40s\": expected "
                 "sale, return, receipt, adjustment or transfer",
                 reason ? reason : "");
        return NULL;
    }
    const char *when = NULL;
    if (occurred_at(c, event, NULL, &when, res) != OMB_OK) {
        return NULL;
    }
    char q[32];
    /* |delta| without overflowing on the most negative value */
    unsigned long long mag =
        delta < 0 ? 0ULL - (unsigned long long)delta : (unsigned long long)delta;
    snprintf(q, sizeof(q), "%llu", mag);
    json_t *ch = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "type", "ADJUSTMENT",
                           "adjustment", "catalog_object_id", var_id, "location_id", loc_id,
                           "from_state", delta < 0 ? tr->from_neg : tr->from_pos, "to_state",
                           delta < 0 ? tr->to_neg : tr->to_pos, "quantity", q, "occurred_at", when);
    if (ch && ref && ref[0] && strlen(ref) <= 255) {
        json_object_set_new(json_object_get(ch, "adjustment"), "reference_id", json_string(ref));
    }
    if (!ch) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
    }
    return ch;
}

int sq_stock_deliver(struct sq_ctx *c, const json_t *event, const char *type,
                     struct omb_deliver_result *res)
{
    const char *sku = sq_body_string(event, "sku");
    const char *location = sq_body_string(event, "location");
    const char *event_id = json_string_value(json_object_get(event, "id"));
    bool delta = strcmp(type, "stock.delta") == 0;
    json_t *change = NULL, *req = NULL;
    struct sq_resp r = {0};
    char err[256], key[160];
    int rc;
    if (!location && strcmp(type, "stock.available") == 0) {
        location = sq_body_string(event, "channel");
    }
    if (!sku || !location) {
        snprintf(res->reason, sizeof(res->reason), "%s without body.sku and body.location", type);
        return OMB_EREJECT;
    }
    if (!event_id || strlen(event_id) > 100) {
        snprintf(res->reason, sizeof(res->reason),
                 "the event has no usable id for the "
                 "idempotency key");
        return OMB_EREJECT;
    }
    const char *loc_id = json_string_value(json_object_get(c->loc_to_square, location));
    if (!loc_id) {
        snprintf(res->reason, sizeof(res->reason),
                 "location %s is not in the option locations "
                 "(LOCATION=SQUARE_LOCATION_ID): add it, then replay",
                 location);
        return OMB_EREJECT;
    }
    const char *var_id = NULL;
    bool reloaded = false;
    rc = sq_catalog_variation(c, sku, sq_event_received_ms(event), &reloaded, &var_id, res);
    if (rc != OMB_OK) {
        return rc;
    }
    change = delta ? delta_change(c, event, var_id, loc_id, res)
                   : count_change(c, event, type, var_id, loc_id, location, res);
    if (!change) {
        return OMB_EREJECT;
    }
    snprintf(key, sizeof(key), "omb-%s-inv", event_id);
    req = json_pack("{s:s, s:[o], s:b}", "idempotency_key", key, "changes", change,
                    "ignore_unchanged_counts", 1);
    if (!req) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        return OMB_ERETRY;
    }
    char what[200];
    snprintf(what, sizeof(what), "inventory %s of SKU %.60s at %.40s",
             delta ? "adjustment" : "count", sku, location);
    if (sq_call(c, "POST", "/v2/inventory/changes/batch-create", req, &r, err, sizeof(err)) != 0) {
        rc = sq_transport_fail(c, what, err, res);
    } else if (!sq_ok(&r)) {
        rc = sq_fail(c, &r, what, res);
    } else {
        rc = OMB_OK;
        c->host->metric_counter_add(c->self, delta ? "inventory_adjustments" : "inventory_counts",
                                    1);
    }
    sq_resp_clear(&r);
    json_decref(req);
    return rc;
}
