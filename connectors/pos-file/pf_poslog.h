/* pos-file format library, internal: one POSLog transaction as pf_poslog.c collects it from the
 * XML, and the queue of records that pf_poslog_emit.c makes of it. */
#ifndef OMNIBUS_POS_FILE_POSLOG_H
#define OMNIBUS_POS_FILE_POSLOG_H

#include "pf_priv.h"

#define PL_MAX_ITEMS 10000                  /* LineItems of one transaction */
#define PL_MAX_TXN_BYTES (16 * 1024 * 1024) /* text kept of one transaction */
#define PL_MAX_ORDER_LINES 1000             /* what order.created and return.created allow */

/* A text of the transaction: an offset into its arena; len 0 and !set when absent. */
struct pl_str {
    size_t off;
    size_t len;
    bool set;
};

enum pl_kind { PL_OTHER, PL_SALE, PL_RETURN };

struct pl_item {
    unsigned long line;
    unsigned ordinal; /* 1-based among the transaction's LineItems */
    enum pl_kind kind;
    bool voided;
    bool nonstock; /* ItemType other than Stock: no stock.delta */
    struct pl_str seq, sku, gtin, regular, actual, extended, ext_discount, quantity, currency;
    struct pf_dec modifiers; /* sum of RetailPriceModifier/Amount, scale 9 */
    bool has_modifiers;
    bool modifier_unsupported; /* an Action other than Subtract */
};

struct pl_txn {
    unsigned long line;  /* of the Transaction element */
    struct pf_buf arena; /* the texts */
    struct pl_str store, ws, seq, day, end_time, begin_time, currency, customer_id, loyalty_id;
    struct pl_str link_store, link_ws, link_seq, link_day;
    bool training, cancelled;
    int64_t points; /* PointsEarned, summed */
    bool points_set;
    struct pl_item *items;
    size_t nitems, cap;
    unsigned long bad_line; /* a problem found while reading: the transaction is bad */
    char why[240];
};

/* One record waiting to be returned: offsets into the queue's arena. */
struct pl_out {
    const char *type; /* static */
    size_t key, dedupe, time, body, body_len;
    bool has_time;
};

struct pl_queue {
    struct pf_buf arena;
    struct pl_out *recs;
    size_t n, cap, pos;
};

/* The text of s in the transaction (NUL-terminated), or NULL when absent. */
static inline const char *pl_text(const struct pl_txn *t, struct pl_str s)
{
    return s.set ? t->arena.p + s.off : NULL;
}

/* Makes the records of transaction t into q (emptied first). 0; OMB_EINVAL with the reason in
 * why (the transaction is bad and q is left empty); OMB_ENOMEM. Counts voided lines in st. */
int pl_emit(const struct pf_format *f, const struct pl_txn *t, struct pl_queue *q,
            struct pf_reader_stats *st, char *why, size_t whylen);

#endif /* OMNIBUS_POS_FILE_POSLOG_H */
