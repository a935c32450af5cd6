/* Polling in (PrestaShop has no webhooks), every poll-interval:
 *
 *   products  GET products?display=[id,reference,price,date_upd]&date=1
 *             &filter[date_upd]=[CURSOR,9999-12-31 23:59:59], paged. A product whose price
 *             differs from the last one seen becomes a price.set (tax added back); the cursor
 *             becomes the newest date_upd read. The interval includes the cursor itself
 *             (one-second resolution: a change in the same second as the last read is read
 *             again), and the price comparison makes that overlap emit nothing.
 *   stock     stock rows have no date: every row of the shop is listed
 *             (display=[id,quantity]) and compared with the quantity last seen; a change
 *             becomes a stock.level of the configured location.
 * The map is refreshed when a product or a stock row it does not know shows up.
 *
 * What was seen ("poll.cursor", "poll.stock", "poll.prices") is in host state, written only
 * once every event of the poll is acknowledged as stored (emit_acked): a crash or a refused
 * emit leaves the state as it was and the next poll finds the same changes, with the same
 * dedupe keys (the row, its value or date, and a per-row change counter), which the daemon
 * drops. The first poll of a fresh instance records the shop as it is (every price and
 * quantity, and the newest date_upd as the cursor) and emits nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prestashop.h"

struct poll {
    json_t *events;                     /* to emit */
    json_t *stock;                      /* stock id -> [quantity, changes] */
    json_t *prices;                     /* id_product -> price as read */
    char cursor[32];                    /* the newest date_upd read */
    bool baseline;                      /* the first poll: record, emit nothing */
    bool unknown;                       /* a row the map does not know */
    bool stock_changed, prices_changed; /* what the commit must write */
    char now[32];                       /* RFC 3339 */
};

static void fmt_time(int64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int on_product(struct ps_ctx *c, xmlNode *row, void *arg)
{
    struct poll *p = arg;
    long long id = ps_child_int(row, "id", 0);
    char *ref = ps_text(ps_child(row, "reference"));
    char *price = ps_text(ps_child(row, "price"));
    char *upd = ps_text(ps_child(row, "date_upd"));
    char k[32];
    int rc = 0;
    snprintf(k, sizeof(k), "%lld", id);
    if (upd && strcmp(upd, p->cursor) > 0 && strlen(upd) < sizeof(p->cursor)) {
        snprintf(p->cursor, sizeof(p->cursor), "%s", upd);
    }
    json_t *m = ref && ref[0] && c->map ? json_object_get(c->map, ref) : NULL;
    if (ref && ref[0] && (!m || json_integer_value(json_array_get(m, 0)) != id)) {
        p->unknown = true; /* a new product, or a new reference: read the map again */
    }
    const char *was = json_string_value(json_object_get(p->prices, k));
    if (price && (!was || strtod(was, NULL) != strtod(price, NULL))) {
        json_object_set_new(p->prices, k, json_string(price));
        p->prices_changed = true;
        if (ref && ref[0] && !p->baseline) {
            char dedupe[160];
            snprintf(dedupe, sizeof(dedupe), "prestashop:product:%lld:%.40s:%.30s", id,
                     upd ? upd : "", price);
            json_t *ev =
                json_pack("{s:s, s:s, s:s, s:{s:s, s:{s:I, s:s}}}", "type", "price.set", "key", ref,
                          "dedupe", dedupe, "body", "sku", ref, "price", "amount",
                          (json_int_t)ps_price_to_minor(c, price), "currency", c->currency);
            rc = ev ? json_array_append_new(p->events, ev) : OMB_ENOMEM;
        }
    }
    free(ref);
    free(price);
    free(upd);
    return rc;
}

static int on_stock(struct ps_ctx *c, xmlNode *row, void *arg)
{
    struct poll *p = arg;
    char k[32];
    long long id = ps_child_int(row, "id", 0);
    long long qty = ps_child_int(row, "quantity", 0);
    snprintf(k, sizeof(k), "%lld", id);
    /* p->stock[row] is [quantity, changes] for a row of a known SKU, [quantity, changes, false]
     * for one without (a product without reference, or one the map does not know yet). */
    json_t *was = json_object_get(p->stock, k);
    bool was_mapped = was && json_array_size(was) == 2;
    json_int_t wq = json_integer_value(json_array_get(was, 0));
    json_int_t n = json_integer_value(json_array_get(was, 1));
    const char *sku = json_string_value(json_object_get(c->by_stock, k));
    if (!sku) {
        if (!was) {
            p->unknown = true; /* a new row: read the map again after this poll */
        }
        if (!was || wq != qty) {
            c->host->metric_counter_add(c->self, "poll_unmapped_stock_rows", 1);
            p->stock_changed = true;
            return json_object_set_new(p->stock, k, json_pack("[I,I,b]", (json_int_t)qty, n, 0));
        }
        return 0;
    }
    if (was_mapped && wq == qty) {
        return 0;
    }
    n++; /* a change (or a row whose SKU is known since the last poll: news too) */
    json_object_set_new(p->stock, k, json_pack("[I,I]", (json_int_t)qty, n));
    p->stock_changed = true;
    json_t *m = json_object_get(c->map, sku);
    if (json_integer_value(json_array_get(m, 1)) == 0 &&
        ps_map_is_parent(c, json_integer_value(json_array_get(m, 0)))) {
        return 0; /* a product with combinations: its row is their sum, they are emitted */
    }
    if (p->baseline) {
        return 0; /* the first poll records; a row new since the last poll is news */
    }
    char dedupe[128], key[160];
    snprintf(dedupe, sizeof(dedupe), "prestashop:stock:%lld:%lld:%lld", id, (long long)n, qty);
    snprintf(key, sizeof(key), "%.64s@%.64s", sku, c->location);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:I, s:s}}", "type", "stock.level", "key",
                           key, "dedupe", dedupe, "body", "sku", sku, "location", c->location,
                           "on_hand", (json_int_t)qty, "as_of", p->now);
    return ev ? json_array_append_new(p->events, ev) : OMB_ENOMEM;
}

static void commit(struct ps_ctx *c, json_t *values)
{
    const char *k;
    json_t *v;
    json_object_foreach(values, k, v)
    {
        if (c->host->state_put(c->self, k, v) != 0) {
            c->host->log(c->self, OMB_LOG_WARN, "cannot store %s: the next poll reads again", k);
        }
    }
}

static void batch_free(struct ps_poll_batch **bp)
{
    if (*bp) {
        json_decref((*bp)->commit);
        free(*bp);
        *bp = NULL;
    }
}

static void on_ack(void *arg, int rc)
{
    struct ps_poll_batch *b = arg;
    struct ps_ctx *c = b->c;
    if (rc != 0) {
        b->failed = true;
    }
    if (--b->pending > 0) {
        return;
    }
    if (!b->failed) {
        commit(c, b->commit);
    } else {
        c->host->log(c->self, OMB_LOG_WARN,
                     "a polled event was not stored: the next poll reads the changes again");
    }
    if (c->batch == b) {
        c->batch = NULL;
    }
    batch_free(&b);
}

void ps_poll_free(struct ps_ctx *c)
{
    batch_free(&c->batch);
}

void ps_poll_tick(void *arg)
{
    struct ps_ctx *c = arg;
    struct poll p = {0};
    char reason[OMB_DELIVER_REASON_MAX], q[256];
    int64_t ra = 0;
    json_t *cursor = NULL;
    if (c->batch || c->host->stopping(c->self) || !OMB_HOST_HAS(c->host, state_get) ||
        !OMB_HOST_HAS(c->host, state_put)) {
        return;
    }
    int64_t started = c->host->now_ms();
    if (!c->map && ps_map_load(c, reason, sizeof(reason), &ra) != 0) {
        c->host->log(c->self, OMB_LOG_WARN, "poll: %s", reason);
        return;
    }
    fmt_time(c->host->now_ms(), p.now, sizeof(p.now));
    cursor = c->host->state_get(c->self, "poll.cursor");
    p.baseline = !json_is_string(cursor);
    if (p.baseline) {
        /* The cursor starts at the newest date_upd of the shop: the shop's clock, not ours,
         * so neither a clock skew nor the shop's time zone makes the polls miss a change. */
        snprintf(p.cursor, sizeof(p.cursor), "1970-01-01 00:00:00");
    } else {
        snprintf(p.cursor, sizeof(p.cursor), "%s", json_string_value(cursor));
    }
    p.events = json_array();
    p.stock = p.baseline ? NULL : c->host->state_get(c->self, "poll.stock");
    p.prices = p.baseline ? NULL : c->host->state_get(c->self, "poll.prices");
    if (!json_is_object(p.stock)) {
        json_decref(p.stock);
        p.stock = json_object();
    }
    if (!json_is_object(p.prices)) {
        json_decref(p.prices);
        p.prices = json_object();
    }
    /* The first poll reads every product's price (and emits none), so that a product saved
     * in the cursor's own second is not taken for a price change. */
    if (p.baseline) {
        snprintf(q, sizeof(q), "display=[id,reference,price,date_upd]");
    } else {
        snprintf(q, sizeof(q),
                 "display=[id,reference,price,date_upd]&date=1&filter[date_upd]=[%s,9999-12-31 "
                 "23:59:59]",
                 p.cursor);
    }
    int rc = ps_list_all(c, "products", q, on_product, &p, reason, sizeof(reason), &ra);
    if (rc == 0) {
        if (c->id_shop > 0) {
            snprintf(q, sizeof(q), "display=[id,quantity]&filter[id_shop]=[%lld]",
                     (long long)c->id_shop);
        } else {
            snprintf(q, sizeof(q), "display=[id,quantity]");
        }
        rc = ps_list_all(c, "stock_availables", q, on_stock, &p, reason, sizeof(reason), &ra);
    }
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_WARN, "poll: %s (the next poll tries again)", reason);
        goto out;
    }
    /* Rows or references the map does not know: read it again, unless it was read during
     * this very poll (a row without reference is then simply not a SKU). */
    if (p.unknown && c->map_loaded_ms < started &&
        ps_map_load(c, reason, sizeof(reason), &ra) != 0) {
        c->host->log(c->self, OMB_LOG_WARN, "poll: refreshing the map: %s", reason);
    }
    struct ps_poll_batch *b = calloc(1, sizeof(*b));
    if (!b) {
        goto out;
    }
    b->c = c;
    /* Only what changed is written: a quiet poll of a big shop costs no state writes. */
    b->commit = json_object();
    if (p.baseline || strcmp(p.cursor, json_string_value(cursor)) != 0) {
        json_object_set_new(b->commit, "poll.cursor", json_string(p.cursor));
    }
    if (p.baseline || p.stock_changed) {
        json_object_set(b->commit, "poll.stock", p.stock);
    }
    if (p.baseline || p.prices_changed) {
        json_object_set(b->commit, "poll.prices", p.prices);
    }
    size_t n = json_array_size(p.events);
    bool acked = OMB_HOST_HAS(c->host, emit_acked);
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_incref(json_array_get(p.events, i));
        int erc = acked ? c->host->emit_acked(c->self, ev, on_ack, b) : c->host->emit(c->self, ev);
        if (erc != 0) {
            json_decref(ev);
            b->failed = true;
            c->host->log(c->self, OMB_LOG_WARN,
                         "poll: emit refused (%d) after %zu of %zu events: the next poll "
                         "reads the rest again",
                         erc, i, n);
            break;
        }
        c->host->metric_counter_add(c->self, "polled_events", 1);
        if (acked) {
            b->pending++;
        }
    }
    if (b->pending == 0) {
        if (!b->failed) {
            commit(c, b->commit);
        }
        batch_free(&b);
    } else {
        c->batch = b;
    }
out:
    json_decref(cursor);
    json_decref(p.events);
    json_decref(p.stock);
    json_decref(p.prices);
}
