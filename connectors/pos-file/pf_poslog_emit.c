/* pos-file format library: the canonical events of one POSLog transaction (docs/events.md).
 *
 * The transaction id TXID is "STORE/WORKSTATION/DAY/SEQ" (RetailStoreID or BusinessUnit/UnitID,
 * WorkstationID, BusinessDayDate, SequenceNumber; none may hold a '/' or a blank, so TXIDs of
 * different transactions never collide). In the order the records come:
 *
 *   customer.identified  when there is a Customer/CustomerID or a LoyaltyAccountID:
 *                        identifiers loyalty_card (LoyaltyAccountID) and "pos" (CustomerID: the
 *                        POS's own customer number); key KIND:VALUE of the first
 *   order.created        when there are Sale lines: order_id TXID, channel "pos", customer,
 *                        lines {sku, qty, unit_price, discount?}, total (sum of the lines after
 *                        their discounts), fulfilment {"method": "pickup", "location": STORE}:
 *                        POSLog has no fulfilment and the schema knows only ship and pickup;
 *                        the customer took the goods in the store, the nearest is pickup at the
 *                        store. NOTE for the stock ledger: the goods are gone already (the
 *                        stock.delta says so), a POS order must not reserve them again.
 *   return.created       when there are Return lines: return_id TXID, order_id from the
 *                        TransactionLink (store, workstation, day and sequence of the original
 *                        sale) or, when there is none (a return without a receipt), TXID itself;
 *                        channel "pos", location STORE, lines {sku, qty}, refund (sum of the
 *                        return lines after discounts)
 *   stock.delta          per Sale or Return line of a stock item (ItemType Stock or none): delta
 *                        -qty (sale) or +qty (return), reason sale/return, ref TXID/LINE (LINE:
 *                        the LineItem's SequenceNumber, else its position); key SKU@STORE
 *   loyalty.earn         when LoyaltyAccount has Points Type="PointsEarned" above 0 and a
 *                        LoyaltyAccountID: txn_id TXID, customer, points, channel "pos", ref
 *                        TXID; key the loyalty card (a POS knows no omnibus customer id)
 *
 * The dedupe key is "TXID/TYPE" ("TXID/stock.delta/LINE" for the deltas): the journal compares
 * dedupe keys per connector across all types, so the events of one transaction need distinct
 * ones, and they must be the same when the file is read again.
 *
 * Lines: the SKU is ItemID (else POSIdentity/POSItemID); the quantity Quantity (1 when absent)
 * and must be a whole positive number (a 0.5 kg sale makes the transaction bad: the events count
 * whole units); unit_price RegularSalesUnitPrice, else ActualSalesUnitPrice, else ExtendedAmount /
 * quantity when exact; the line's amount after discounts ExtendedDiscountAmount, else
 * ExtendedAmount less the RetailPriceModifier amounts (Action Subtract), else ExtendedAmount, else
 * unit_price x quantity; the discount what is left of unit_price x quantity. Amounts go to minor
 * units of their currency (@Currency, else CurrencyCode, else the currency option) exactly, never
 * through a float; a currency mix in one transaction, a negative amount or more places than the
 * currency has (non-zero) make the transaction bad. Voided lines are skipped and counted. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pf_poslog.h"

struct line {
    const struct pl_item *it;
    const char *sku;
    const char *seq; /* LINE of the ref */
    char ordinal[16];
    int64_t qty, unit, net, discount;
};

static int fail(char *why, size_t whylen, const char *txid, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t whylen, const char *txid, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (txid) {
        snprintf(why, whylen, "transaction %s: %s", txid, msg);
    } else {
        snprintf(why, whylen, "transaction: %s", msg);
    }
    return OMB_EINVAL;
}

/* An id part: not empty, at most max bytes, no '/', '@' or blank. */
static bool id_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '/' || c == '@' || c == 0x7f) {
            return false;
        }
    }
    return true;
}

/* A text amount of the line in minor units (places), or OMB_EINVAL. */
static int amount(const char *s, int places, int64_t *v)
{
    struct pf_dec d;
    if (!s || pf_dec_parse(s, strlen(s), '.', &d) != 0 || pf_dec_minor(d, places, v) != 0 ||
        *v < 0) {
        return OMB_EINVAL;
    }
    return 0;
}

static bool mul_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static int line_amounts(const struct pl_txn *t, struct line *l, int places, const char *txid,
                        char *why, size_t whylen)
{
    const struct pl_item *it = l->it;
    unsigned n = it->ordinal;
    const char *regular = pl_text(t, it->regular), *actual = pl_text(t, it->actual);
    const char *ext = pl_text(t, it->extended), *extd = pl_text(t, it->ext_discount);
    int64_t v;
    bool has_unit = false, has_net = false;
#define AMOUNT(text, name, dst, flag)                                                              \
    if (text) {                                                                                    \
        if (amount(text, places, &v) != 0) {                                                       \
            return fail(why, whylen, txid,                                                         \
                        "line item %u: %s \"%s\" is not an amount with at "                        \
                        "most %d decimal places",                                                  \
                        n, name, text, places);                                                    \
        }                                                                                          \
        dst = v;                                                                                   \
        flag = true;                                                                               \
    }
    int64_t regular_v = 0, actual_v = 0, ext_v = 0, extd_v = 0;
    bool has_regular = false, has_actual = false, has_ext = false, has_extd = false;
    AMOUNT(regular, "RegularSalesUnitPrice", regular_v, has_regular)
    AMOUNT(actual, "ActualSalesUnitPrice", actual_v, has_actual)
    AMOUNT(ext, "ExtendedAmount", ext_v, has_ext)
    AMOUNT(extd, "ExtendedDiscountAmount", extd_v, has_extd)
#undef AMOUNT
    if (has_regular || has_actual) {
        l->unit = has_regular ? regular_v : actual_v;
        has_unit = true;
    }
    if (has_extd) {
        l->net = extd_v;
        has_net = true;
    } else if (has_ext) {
        l->net = ext_v;
        has_net = true;
        if (it->modifier_unsupported) {
            return fail(why, whylen, txid,
                        "line item %u: a RetailPriceModifier Amount with an "
                        "Action other than Subtract (and no ExtendedDiscountAmount)",
                        n);
        }
        if (it->has_modifiers) {
            int64_t m;
            if (pf_dec_minor(it->modifiers, places, &m) != 0 || m > l->net) {
                return fail(why, whylen, txid,
                            "line item %u: the RetailPriceModifier amounts "
                            "do not fit the ExtendedAmount",
                            n);
            }
            l->net -= m;
        }
    }
    if (!has_unit && !has_net) {
        return fail(why, whylen, txid,
                    "line item %u: no price (RegularSalesUnitPrice, "
                    "ActualSalesUnitPrice or ExtendedAmount)",
                    n);
    }
    if (!has_unit) {
        if (l->net % l->qty != 0) {
            return fail(why, whylen, txid,
                        "line item %u: no unit price, and the amount does "
                        "not divide by the quantity",
                        n);
        }
        l->unit = l->net / l->qty;
    }
    int64_t gross;
    if (!mul_ok(l->unit, l->qty, &gross)) {
        return fail(why, whylen, txid, "line item %u: price x quantity is too large", n);
    }
    if (!has_net) {
        l->net = gross;
    }
    if (l->net > gross) {
        return fail(why, whylen, txid,
                    "line item %u: the line's amount %" PRId64 " is more "
                    "than price x quantity %" PRId64 " (minor units)",
                    n, l->net, gross);
    }
    l->discount = gross - l->net;
    return 0;
}

/* ---- the queue ---- */

static int q_add(struct pl_queue *q, const char *type, struct pl_out **out)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        struct pl_out *r = realloc(q->recs, cap * sizeof(*r));
        if (!r) {
            return OMB_ENOMEM;
        }
        q->recs = r;
        q->cap = cap;
    }
    *out = &q->recs[q->n++];
    **out = (struct pl_out){.type = type};
    return 0;
}

/* A NUL-terminated copy of the printf text in the arena; its offset in *off. */
static int q_text(struct pl_queue *q, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int q_text(struct pl_queue *q, size_t *off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || pf_buf_reserve(&q->arena, (size_t)n + 1) != 0) {
        return OMB_ENOMEM;
    }
    *off = q->arena.len;
    va_start(ap, fmt);
    vsnprintf(q->arena.p + q->arena.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    q->arena.len += (size_t)n + 1;
    return 0;
}

/* Opens the record's body; body_end closes it (the NUL, the length). */
static void body_begin(struct pl_queue *q, struct pl_out *o)
{
    o->body = q->arena.len;
}

static int body_end(struct pl_queue *q, struct pl_out *o)
{
    if (pf_buf_putc(&q->arena, '\0') != 0) {
        return OMB_ENOMEM;
    }
    o->body_len = q->arena.len - 1 - o->body;
    return 0;
}

/* Appends ,"name":"value" (JSON-escaped); lead is the character before ("{" or ","). */
static int member(struct pf_buf *b, char lead, const char *name, const char *value)
{
    if (pf_buf_putc(b, lead) != 0 || pf_json_key(b, name) != 0 ||
        pf_json_str(b, value, strlen(value)) != 0) {
        return OMB_ENOMEM;
    }
    return 0;
}

static int money(struct pf_buf *b, const char *name, int64_t amount_v, const char *cur)
{
    return pf_buf_printf(b, ",\"%s\":{\"amount\":%" PRId64 ",\"currency\":\"%s\"}", name, amount_v,
                         cur);
}

static int customer(struct pf_buf *b, const struct pl_txn *t)
{
    const char *card = pl_text(t, t->loyalty_id), *id = pl_text(t, t->customer_id);
    char lead = '{';
    int rc = 0;
    if (pf_buf_puts(b, ",\"customer\":") != 0) {
        return OMB_ENOMEM;
    }
    if (card && *card) {
        rc = member(b, lead, "loyalty_card", card);
        lead = ',';
    }
    if (rc == 0 && id && *id) {
        rc = pf_buf_putc(b, lead) != 0 || pf_buf_puts(b, "\"ids\":") != 0
                 ? OMB_ENOMEM
                 : member(b, '{', "pos", id);
        rc = rc == 0 ? pf_buf_putc(b, '}') : rc;
    }
    return rc == 0 ? pf_buf_putc(b, '}') : rc;
}

static int emit_customer(struct pl_queue *q, const struct pl_txn *t, const char *txid)
{
    const char *card = pl_text(t, t->loyalty_id), *id = pl_text(t, t->customer_id);
    struct pl_out *o;
    int rc;
    if ((rc = q_add(q, "customer.identified", &o)) != 0 ||
        (rc = q_text(q, &o->dedupe, "%s/customer.identified", txid)) != 0 ||
        (rc = q_text(q, &o->key, "%s:%s", card ? "loyalty_card" : "pos", card ? card : id)) != 0) {
        return rc;
    }
    struct pf_buf *b = &q->arena;
    body_begin(q, o);
    char lead = '[';
    rc = pf_buf_puts(b, "{\"identifiers\":");
    if (rc == 0 && card) {
        rc = pf_buf_printf(b, "%c{\"kind\":\"loyalty_card\"", lead) != 0 ||
                     member(b, ',', "value", card) != 0 || pf_buf_putc(b, '}') != 0
                 ? OMB_ENOMEM
                 : 0;
        lead = ',';
    }
    if (rc == 0 && id) {
        rc = pf_buf_printf(b, "%c{\"kind\":\"pos\"", lead) != 0 ||
                     member(b, ',', "value", id) != 0 || pf_buf_putc(b, '}') != 0
                 ? OMB_ENOMEM
                 : 0;
    }
    if (rc == 0) {
        rc = pf_buf_puts(b, "]}");
    }
    return rc == 0 ? body_end(q, o) : rc;
}

static int emit_order(struct pl_queue *q, const struct pl_txn *t, const char *txid,
                      const char *store, const struct line *lines, size_t n, const char *cur)
{
    struct pl_out *o;
    int rc;
    if ((rc = q_add(q, "order.created", &o)) != 0 ||
        (rc = q_text(q, &o->dedupe, "%s/order.created", txid)) != 0 ||
        (rc = q_text(q, &o->key, "%s", txid)) != 0) {
        return rc;
    }
    struct pf_buf *b = &q->arena;
    body_begin(q, o);
    int64_t total = 0;
    rc = member(b, '{', "order_id", txid);
    rc = rc == 0 ? pf_buf_puts(b, ",\"channel\":\"pos\"") : rc;
    if (rc == 0 && (t->loyalty_id.set || t->customer_id.set)) {
        rc = customer(b, t);
    }
    rc = rc == 0 ? pf_buf_puts(b, ",\"lines\":[") : rc;
    bool first = true;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct line *l = &lines[i];
        if (l->it->kind != PL_SALE) {
            continue;
        }
        total += l->net;
        if (!first) {
            rc = pf_buf_putc(b, ',');
        }
        rc = rc == 0 ? member(b, '{', "sku", l->sku) : rc;
        first = false;
        rc = rc == 0 ? pf_buf_printf(b, ",\"qty\":%" PRId64, l->qty) : rc;
        rc = rc == 0 ? money(b, "unit_price", l->unit, cur) : rc;
        if (rc == 0 && l->discount > 0) {
            rc = money(b, "discount", l->discount, cur);
        }
        rc = rc == 0 ? pf_buf_putc(b, '}') : rc;
    }
    rc = rc == 0 ? pf_buf_putc(b, ']') : rc;
    rc = rc == 0 ? money(b, "total", total, cur) : rc;
    rc = rc == 0 ? pf_buf_puts(b, ",\"fulfilment\":{\"method\":\"pickup\"") : rc;
    rc = rc == 0 ? member(b, ',', "location", store) : rc;
    rc = rc == 0 ? pf_buf_puts(b, "}}") : rc;
    return rc == 0 ? body_end(q, o) : OMB_ENOMEM;
}

static int emit_return(struct pl_queue *q, const char *txid, const char *order_id,
                       const char *store, const struct line *lines, size_t n, const char *cur)
{
    struct pl_out *o;
    int rc;
    if ((rc = q_add(q, "return.created", &o)) != 0 ||
        (rc = q_text(q, &o->dedupe, "%s/return.created", txid)) != 0 ||
        (rc = q_text(q, &o->key, "%s", order_id)) != 0) {
        return rc;
    }
    struct pf_buf *b = &q->arena;
    body_begin(q, o);
    int64_t refund = 0;
    rc = member(b, '{', "return_id", txid);
    rc = rc == 0 ? member(b, ',', "order_id", order_id) : rc;
    rc = rc == 0 ? pf_buf_puts(b, ",\"channel\":\"pos\"") : rc;
    rc = rc == 0 ? member(b, ',', "location", store) : rc;
    rc = rc == 0 ? pf_buf_puts(b, ",\"lines\":[") : rc;
    bool first = true;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct line *l = &lines[i];
        if (l->it->kind != PL_RETURN) {
            continue;
        }
        refund += l->net;
        if (!first) {
            rc = pf_buf_putc(b, ',');
        }
        first = false;
        rc = rc == 0 ? member(b, '{', "sku", l->sku) : rc;
        rc = rc == 0 ? pf_buf_printf(b, ",\"qty\":%" PRId64 "}", l->qty) : rc;
    }
    rc = rc == 0 ? pf_buf_putc(b, ']') : rc;
    rc = rc == 0 ? money(b, "refund", refund, cur) : rc;
    rc = rc == 0 ? pf_buf_putc(b, '}') : rc;
    return rc == 0 ? body_end(q, o) : OMB_ENOMEM;
}

static int emit_delta(struct pl_queue *q, const char *txid, const char *store, const struct line *l)
{
    struct pl_out *o;
    int rc;
    bool sale = l->it->kind == PL_SALE;
    if ((rc = q_add(q, "stock.delta", &o)) != 0 ||
        (rc = q_text(q, &o->dedupe, "%s/stock.delta/%s", txid, l->seq)) != 0 ||
        (rc = q_text(q, &o->key, "%s@%s", l->sku, store)) != 0) {
        return rc;
    }
    struct pf_buf *b = &q->arena;
    body_begin(q, o);
    char ref[400];
    snprintf(ref, sizeof(ref), "%s/%s", txid, l->seq);
    rc = member(b, '{', "sku", l->sku);
    rc = rc == 0 ? member(b, ',', "location", store) : rc;
    rc = rc == 0 ? pf_buf_printf(b, ",\"delta\":%" PRId64 ",\"reason\":\"%s\"",
                                 sale ? -l->qty : l->qty, sale ? "sale" : "return")
                 : rc;
    rc = rc == 0 ? member(b, ',', "ref", ref) : rc;
    rc = rc == 0 ? pf_buf_putc(b, '}') : rc;
    return rc == 0 ? body_end(q, o) : OMB_ENOMEM;
}

static int emit_loyalty(struct pl_queue *q, const struct pl_txn *t, const char *txid)
{
    struct pl_out *o;
    int rc;
    if ((rc = q_add(q, "loyalty.earn", &o)) != 0 ||
        (rc = q_text(q, &o->dedupe, "%s/loyalty.earn", txid)) != 0 ||
        (rc = q_text(q, &o->key, "%s", pl_text(t, t->loyalty_id))) != 0) {
        return rc;
    }
    struct pf_buf *b = &q->arena;
    body_begin(q, o);
    rc = member(b, '{', "txn_id", txid);
    rc = rc == 0 ? customer(b, t) : rc;
    rc = rc == 0 ? pf_buf_printf(b, ",\"points\":%" PRId64 ",\"channel\":\"pos\"", t->points) : rc;
    rc = rc == 0 ? member(b, ',', "ref", txid) : rc;
    rc = rc == 0 ? pf_buf_putc(b, '}') : rc;
    return rc == 0 ? body_end(q, o) : OMB_ENOMEM;
}

/* The transaction's currency: CurrencyCode, else the option. */
static const char *txn_currency(const struct pf_format *f, const struct pl_txn *t)
{
    const char *c = pl_text(t, t->currency);
    return c && *c ? c : f->currency;
}

static bool currency_ok(const char *c)
{
    return c && strlen(c) == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' &&
           c[2] >= 'A' && c[2] <= 'Z';
}

/* Checks the lines and works out their amounts into lines[]; *cur is their currency. */
static int collect(const struct pf_format *f, const struct pl_txn *t, const char *txid,
                   struct line *lines, size_t *nlines, const char **cur, struct pf_reader_stats *st,
                   char *why, size_t whylen)
{
    size_t n = 0, sales = 0, returns = 0;
    int64_t sum_sales = 0, sum_returns = 0; /* checked here, summed again when emitted */
    *cur = NULL;
    for (size_t i = 0; i < t->nitems; i++) {
        const struct pl_item *it = &t->items[i];
        if (it->kind == PL_OTHER) {
            continue;
        }
        if (it->voided) {
            st->voided_lines++;
            continue;
        }
        struct line *l = &lines[n++];
        memset(l, 0, sizeof(*l));
        l->it = it;
        l->sku = pl_text(t, it->sku) && *pl_text(t, it->sku) ? pl_text(t, it->sku)
                                                             : pl_text(t, it->gtin);
        if (!l->sku || !*l->sku) {
            return fail(why, whylen, txid, "line item %u: no ItemID", it->ordinal);
        }
        if (!id_ok(l->sku, 64)) {
            return fail(why, whylen, txid,
                        "line item %u: the SKU \"%.64s\" has a blank, '/' or "
                        "'@', or is longer than 64 bytes",
                        it->ordinal, l->sku);
        }
        snprintf(l->ordinal, sizeof(l->ordinal), "%u", it->ordinal);
        l->seq = pl_text(t, it->seq) && *pl_text(t, it->seq) ? pl_text(t, it->seq) : l->ordinal;
        if (!id_ok(l->seq, 32)) {
            return fail(why, whylen, txid,
                        "line item %u: SequenceNumber \"%.32s\" has a blank, "
                        "'/' or '@'",
                        it->ordinal, l->seq);
        }
        for (size_t k = 0; k + 1 < n; k++) {
            if (strcmp(lines[k].seq, l->seq) == 0) {
                return fail(why, whylen, txid,
                            "line items %u and %u have the same "
                            "SequenceNumber %s",
                            lines[k].it->ordinal, it->ordinal, l->seq);
            }
        }
        const char *qty = pl_text(t, it->quantity);
        struct pf_dec d;
        l->qty = 1; /* ARTS: Quantity is optional, one unit when absent */
        if (qty && (pf_dec_parse(qty, strlen(qty), '.', &d) != 0 ||
                    pf_dec_minor(d, 0, &l->qty) != 0 || l->qty < 1 || l->qty > 1000000000)) {
            return fail(why, whylen, txid,
                        "line item %u: Quantity \"%.40s\" is not a whole "
                        "number of units from 1",
                        it->ordinal, qty);
        }
        const char *c = pl_text(t, it->currency);
        c = c && *c ? c : txn_currency(f, t);
        if (!c) {
            return fail(why, whylen, txid,
                        "no CurrencyCode, no @Currency and no currency "
                        "option");
        }
        if (!currency_ok(c)) {
            return fail(why, whylen, txid, "currency \"%.20s\" is not an ISO 4217 code", c);
        }
        if (*cur && strcmp(*cur, c) != 0) {
            return fail(why, whylen, txid, "amounts in %s and %s", *cur, c);
        }
        *cur = c;
        int rc = line_amounts(t, l, pf_currency_places(c), txid, why, whylen);
        if (rc != 0) {
            return rc;
        }
        sales += it->kind == PL_SALE;
        returns += it->kind == PL_RETURN;
        int64_t *sum = it->kind == PL_SALE ? &sum_sales : &sum_returns;
        if (__builtin_add_overflow(*sum, l->net, sum)) {
            return fail(why, whylen, txid, "the amounts add up to more than a 64-bit integer");
        }
    }
    if (sales > PL_MAX_ORDER_LINES || returns > PL_MAX_ORDER_LINES) {
        return fail(why, whylen, txid, "more than %d sale or return lines", PL_MAX_ORDER_LINES);
    }
    *nlines = n;
    return 0;
}

int pl_emit(const struct pf_format *f, const struct pl_txn *t, struct pl_queue *q,
            struct pf_reader_stats *st, char *why, size_t whylen)
{
    const char *store = pl_text(t, t->store), *ws = pl_text(t, t->ws);
    const char *seq = pl_text(t, t->seq), *day = pl_text(t, t->day);
    q->n = q->pos = 0;
    q->arena.len = 0;
    if (!store || !*store) {
        return fail(why, whylen, NULL, "no RetailStoreID or BusinessUnit/UnitID");
    }
    if (!ws || !*ws || !seq || !*seq || !day || !*day) {
        return fail(why, whylen, store, "no %s",
                    !ws || !*ws     ? "WorkstationID"
                    : !seq || !*seq ? "SequenceNumber"
                                    : "BusinessDayDate");
    }
    if (!id_ok(store, 64) || !id_ok(ws, 32) || !id_ok(seq, 32)) {
        return fail(why, whylen, store,
                    "the store, workstation or sequence number has a blank, "
                    "'/' or '@', or is too long");
    }
    if (!pf_date_valid(day) ||
        (strlen(day) > 10 && day[10] != 'Z' && day[10] != '+' && day[10] != '-')) {
        return fail(why, whylen, store, "BusinessDayDate \"%.20s\" is not a date", day);
    }
    char txid[160];
    snprintf(txid, sizeof(txid), "%s/%s/%.10s/%s", store, ws, day, seq);
    const char *card = pl_text(t, t->loyalty_id), *cid = pl_text(t, t->customer_id);
    if ((card && (!*card || strlen(card) > 128)) || (cid && (!*cid || strlen(cid) > 128))) {
        return fail(why, whylen, txid,
                    "an empty LoyaltyAccountID or CustomerID, or one longer "
                    "than 128 bytes");
    }

    struct line *lines = t->nitems ? calloc(t->nitems, sizeof(*lines)) : NULL;
    size_t n = 0;
    const char *cur = NULL;
    int rc = OMB_ENOMEM;
    if (t->nitems && !lines) {
        goto out;
    }
    if ((rc = collect(f, t, txid, lines, &n, &cur, st, why, whylen)) != 0) {
        goto out;
    }
    /* The original sale of a return, when the transaction links it. */
    char order_id[160];
    const char *ls = pl_text(t, t->link_store), *lw = pl_text(t, t->link_ws);
    const char *lq = pl_text(t, t->link_seq), *ld = pl_text(t, t->link_day);
    if (id_ok(ls, 64) && id_ok(lw, 32) && id_ok(lq, 32) && ld && pf_date_valid(ld)) {
        snprintf(order_id, sizeof(order_id), "%s/%s/%.10s/%s", ls, lw, ld, lq);
    } else {
        snprintf(order_id, sizeof(order_id), "%s", txid);
    }
    bool sales = false, returns = false;
    for (size_t i = 0; i < n; i++) {
        sales |= lines[i].it->kind == PL_SALE;
        returns |= lines[i].it->kind == PL_RETURN;
    }
    if ((card || cid) && (rc = emit_customer(q, t, txid)) != 0) {
        goto out;
    }
    if (sales && (rc = emit_order(q, t, txid, store, lines, n, cur)) != 0) {
        goto out;
    }
    if (returns && (rc = emit_return(q, txid, order_id, store, lines, n, cur)) != 0) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!lines[i].it->nonstock && (rc = emit_delta(q, txid, store, &lines[i])) != 0) {
            goto out;
        }
    }
    if (card && t->points_set && t->points > 0 && (rc = emit_loyalty(q, t, txid)) != 0) {
        goto out;
    }
    const char *when =
        pl_text(t, t->end_time) ? pl_text(t, t->end_time) : pl_text(t, t->begin_time);
    if (when && *when) {
        size_t off;
        if ((rc = q_text(q, &off, "%s", when)) != 0) {
            goto out;
        }
        for (size_t i = 0; i < q->n; i++) {
            q->recs[i].time = off;
            q->recs[i].has_time = true;
        }
    }
    rc = 0;
out:
    if (rc != 0) {
        q->n = 0;
    }
    free(lines);
    return rc;
}
