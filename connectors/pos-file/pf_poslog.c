/* pos-file format library: ARTS POSLog with libxml2's streaming reader (xmlTextReader), so a
 * 200 MB file needs the memory of one transaction, not of the file.
 *
 * Accepted: the root POSLog in http://www.nrf-arts.org/IXRetail/namespace/ or
 * http://www.nrf-arts.org/IXRetail/v6.0.0/poslog (or in no namespace at all); elements of any
 * other namespace (vendor extensions) are skipped with everything inside them, unknown elements
 * of the POSLog namespace are walked through and ignored. Per Transaction the texts and flags
 * that pf_poslog_emit.c needs are collected by their place (the element and its parents), then
 * the transaction's records are queued and handed out one per pf_reader_next.
 *
 * No entities are substituted and no DTD or network is loaded (XML_PARSE_NONET); libxml2's own
 * limits (10 MB per text node without XML_PARSE_HUGE) stay on. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <libxml/xmlreader.h>

#include "pf_poslog.h"

#define PL_MAX_DEPTH 64

static const char ns_v5[] = "http://www.nrf-arts.org/IXRetail/namespace/";
static const char ns_v6[] = "http://www.nrf-arts.org/IXRetail/v6.0.0/poslog";

enum el {
    E_OTHER,
    E_POSLOG,
    E_TRANSACTION,
    E_RETAILSTOREID,
    E_BUSINESSUNIT,
    E_UNITID,
    E_WORKSTATIONID,
    E_SEQUENCENUMBER,
    E_BUSINESSDAYDATE,
    E_BEGINDATETIME,
    E_ENDDATETIME,
    E_CURRENCYCODE,
    E_CANCELFLAG,
    E_TRAININGMODEFLAG,
    E_RETAILTRANSACTION,
    E_LINEITEM,
    E_VOIDFLAG,
    E_SALE,
    E_RETURN,
    E_ITEMID,
    E_POSIDENTITY,
    E_POSITEMID,
    E_REGULARPRICE,
    E_ACTUALPRICE,
    E_EXTENDED,
    E_EXTDISCOUNT,
    E_QUANTITY,
    E_PRICEMODIFIER,
    E_AMOUNT,
    E_CUSTOMER,
    E_CUSTOMERID,
    E_LOYALTYACCOUNT,
    E_LOYALTYACCOUNTID,
    E_POINTS,
    E_TRANSACTIONLINK
};

static const char *const el_names[] = {
    [E_POSLOG] = "POSLog",
    [E_TRANSACTION] = "Transaction",
    [E_RETAILSTOREID] = "RetailStoreID",
    [E_BUSINESSUNIT] = "BusinessUnit",
    [E_UNITID] = "UnitID",
    [E_WORKSTATIONID] = "WorkstationID",
    [E_SEQUENCENUMBER] = "SequenceNumber",
    [E_BUSINESSDAYDATE] = "BusinessDayDate",
    [E_BEGINDATETIME] = "BeginDateTime",
    [E_ENDDATETIME] = "EndDateTime",
    [E_CURRENCYCODE] = "CurrencyCode",
    [E_CANCELFLAG] = "CancelFlag",
    [E_TRAININGMODEFLAG] = "TrainingModeFlag",
    [E_RETAILTRANSACTION] = "RetailTransaction",
    [E_LINEITEM] = "LineItem",
    [E_VOIDFLAG] = "VoidFlag",
    [E_SALE] = "Sale",
    [E_RETURN] = "Return",
    [E_ITEMID] = "ItemID",
    [E_POSIDENTITY] = "POSIdentity",
    [E_POSITEMID] = "POSItemID",
    [E_REGULARPRICE] = "RegularSalesUnitPrice",
    [E_ACTUALPRICE] = "ActualSalesUnitPrice",
    [E_EXTENDED] = "ExtendedAmount",
    [E_EXTDISCOUNT] = "ExtendedDiscountAmount",
    [E_QUANTITY] = "Quantity",
    [E_PRICEMODIFIER] = "RetailPriceModifier",
    [E_AMOUNT] = "Amount",
    [E_CUSTOMER] = "Customer",
    [E_CUSTOMERID] = "CustomerID",
    [E_LOYALTYACCOUNT] = "LoyaltyAccount",
    [E_LOYALTYACCOUNTID] = "LoyaltyAccountID",
    [E_POINTS] = "Points",
    [E_TRANSACTIONLINK] = "TransactionLink",
};

struct pf_poslog {
    xmlTextReaderPtr xr;
    enum { NS_UNKNOWN, NS_NONE, NS_ARTS } ns;
    bool root_seen;
    unsigned depth; /* elements open */
    enum el stack[PL_MAX_DEPTH];
    bool earned[PL_MAX_DEPTH];   /* Points@Type="PointsEarned" */
    bool subtract[PL_MAX_DEPTH]; /* Amount@Action is Subtract (or absent) */
    bool in_txn;
    bool item_open; /* a LineItem of the transaction is open */
    struct pl_txn txn;
    struct pf_buf text; /* the text of the element being read */
    struct pl_queue q;
    /* The first error libxml2 reported. */
    bool xml_error;
    int err_code;
    unsigned long err_line;
    char err_msg[300];
};

static enum el el_lookup(const char *name)
{
    for (size_t i = 1; i < sizeof(el_names) / sizeof(el_names[0]); i++) {
        if (strcmp(name, el_names[i]) == 0) {
            return (enum el)i;
        }
    }
    return E_OTHER;
}

#if LIBXML_VERSION >= 21200
static void on_error(void *arg, const xmlError *e)
#else
static void on_error(void *arg, xmlErrorPtr e)
#endif
{
    struct pf_poslog *pl = arg;
    if (pl->xml_error || !e || e->level < XML_ERR_ERROR) {
        return;
    }
    pl->xml_error = true;
    pl->err_code = e->code;
    pl->err_line = e->line > 0 ? (unsigned long)e->line : 0;
    snprintf(pl->err_msg, sizeof(pl->err_msg), "%s", e->message ? e->message : "error");
    size_t n = strlen(pl->err_msg);
    while (n && (pl->err_msg[n - 1] == '\n' || pl->err_msg[n - 1] == ' ')) {
        pl->err_msg[--n] = '\0';
    }
}

int pf_poslog_open(struct pf_reader *r, int fd, char *err, size_t errlen)
{
    struct pf_poslog *pl = calloc(1, sizeof(*pl));
    if (!pl) {
        return OMB_ENOMEM;
    }
    r->pl = pl;
    xmlInitParser();
    pl->xr = xmlReaderForFd(fd, "poslog.xml", r->f->utf8 ? NULL : r->f->encoding,
                            XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES);
    if (!pl->xr) {
        return pf_fail(err, errlen, "libxml2 could not start a reader");
    }
    xmlTextReaderSetStructuredErrorHandler(pl->xr, on_error, pl);
    return 0;
}

void pf_poslog_close(struct pf_reader *r)
{
    struct pf_poslog *pl = r->pl;
    if (pl->xr) {
        xmlFreeTextReader(pl->xr);
    }
    pf_buf_free(&pl->txn.arena);
    free(pl->txn.items);
    pf_buf_free(&pl->text);
    pf_buf_free(&pl->q.arena);
    free(pl->q.recs);
    free(pl);
    r->pl = NULL;
}

static void txn_problem(struct pl_txn *t, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void txn_problem(struct pl_txn *t, unsigned long line, const char *fmt, ...)
{
    if (t->bad_line) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->why, sizeof(t->why), fmt, ap);
    va_end(ap);
    t->bad_line = line ? line : t->line;
}

static void txn_reset(struct pl_txn *t, unsigned long line)
{
    struct pf_buf arena = t->arena;
    struct pl_item *items = t->items;
    size_t cap = t->cap;
    memset(t, 0, sizeof(*t));
    t->arena = arena;
    t->arena.len = 0;
    t->items = items;
    t->cap = cap;
    t->line = line;
}

/* Keeps the trimmed text s in the transaction's arena. */
static int keep(struct pl_txn *t, struct pl_str *dst, const char *s, size_t n)
{
    pf_trim(&s, &n);
    while (n && (s[0] == '\n' || s[0] == '\r')) {
        s++, n--;
        pf_trim(&s, &n);
    }
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
        n--;
        pf_trim(&s, &n);
    }
    if (t->arena.len + n > PL_MAX_TXN_BYTES) {
        txn_problem(t, 0, "the transaction is larger than %d bytes", PL_MAX_TXN_BYTES);
        return 0;
    }
    dst->off = t->arena.len;
    dst->len = n;
    dst->set = true;
    if (pf_buf_put(&t->arena, s, n) != 0 || pf_buf_putc(&t->arena, '\0') != 0) {
        return OMB_ENOMEM;
    }
    return 0;
}

static bool xml_true(const char *s)
{
    return s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

/* An attribute's trimmed value is "true" or "1". */
static bool attr_true(xmlTextReaderPtr xr, const char *name)
{
    xmlChar *v = xmlTextReaderGetAttribute(xr, BAD_CAST name);
    bool t = false;
    if (v) {
        const char *s = (const char *)v;
        size_t n = strlen(s);
        pf_trim(&s, &n);
        t = (n == 4 && memcmp(s, "true", 4) == 0) || (n == 1 && s[0] == '1');
        xmlFree(v);
    }
    return t;
}

static int keep_attr(struct pl_txn *t, xmlTextReaderPtr xr, const char *name, struct pl_str *dst)
{
    xmlChar *v = xmlTextReaderGetAttribute(xr, BAD_CAST name);
    int rc = 0;
    if (v) {
        if (!dst->set) {
            rc = keep(t, dst, (const char *)v, strlen((const char *)v));
        }
        xmlFree(v);
    }
    return rc;
}

static struct pl_item *cur_item(struct pf_poslog *pl)
{
    return pl->item_open ? &pl->txn.items[pl->txn.nitems - 1] : NULL;
}

static enum el up(const struct pf_poslog *pl, unsigned k)
{
    return pl->depth > k && pl->depth - 1 - k < PL_MAX_DEPTH ? pl->stack[pl->depth - 1 - k]
                                                             : E_OTHER;
}

static bool inside(const struct pf_poslog *pl, enum el e)
{
    for (unsigned i = 0; i < pl->depth && i < PL_MAX_DEPTH; i++) {
        if (pl->stack[i] == e) {
            return true;
        }
    }
    return false;
}

/* An element of interest opens (pushed already: up(pl, 0) is e). Reads its attributes. */
static int element_start(struct pf_poslog *pl, enum el e, unsigned long line)
{
    struct pl_txn *t = &pl->txn;
    xmlTextReaderPtr xr = pl->xr;
    switch (e) {
    case E_TRANSACTION:
        if (up(pl, 1) == E_POSLOG) {
            txn_reset(t, line);
            pl->in_txn = true;
            t->training = attr_true(xr, "TrainingModeFlag");
            t->cancelled = attr_true(xr, "CancelFlag");
        }
        return 0;
    case E_LINEITEM: {
        if (!pl->in_txn || up(pl, 1) != E_RETAILTRANSACTION) {
            return 0;
        }
        if (t->nitems == PL_MAX_ITEMS) {
            txn_problem(t, line, "more than %d line items", PL_MAX_ITEMS);
            return 0;
        }
        if (t->nitems == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            struct pl_item *items = realloc(t->items, cap * sizeof(*items));
            if (!items) {
                return OMB_ENOMEM;
            }
            t->items = items;
            t->cap = cap;
        }
        struct pl_item *it = &t->items[t->nitems++];
        memset(it, 0, sizeof(*it));
        it->line = line;
        it->ordinal = (unsigned)t->nitems;
        it->voided = attr_true(xr, "VoidFlag");
        pl->item_open = true;
        return 0;
    }
    case E_SALE:
    case E_RETURN: {
        struct pl_item *it = cur_item(pl);
        if (!it || up(pl, 1) != E_LINEITEM || up(pl, 2) != E_RETAILTRANSACTION) {
            return 0;
        }
        if (it->kind != PL_OTHER) {
            txn_problem(t, line, "line item %u has more than one Sale or Return", it->ordinal);
        }
        it->kind = e == E_SALE ? PL_SALE : PL_RETURN;
        xmlChar *type = xmlTextReaderGetAttribute(xr, BAD_CAST "ItemType");
        it->nonstock = type && strcmp((const char *)type, "Stock") != 0;
        xmlFree(type);
        it->voided |= attr_true(xr, "VoidFlag");
        return 0;
    }
    case E_REGULARPRICE:
    case E_ACTUALPRICE:
    case E_EXTENDED:
    case E_EXTDISCOUNT:
    case E_AMOUNT: {
        struct pl_item *it = cur_item(pl);
        if (e == E_AMOUNT) {
            xmlChar *action = xmlTextReaderGetAttribute(xr, BAD_CAST "Action");
            if (pl->depth <= PL_MAX_DEPTH) {
                pl->subtract[pl->depth - 1] =
                    !action || strcmp((const char *)action, "Subtract") == 0;
            }
            xmlFree(action);
        }
        if (it && (up(pl, 1) == E_SALE || up(pl, 1) == E_RETURN ||
                   (e == E_AMOUNT && up(pl, 1) == E_PRICEMODIFIER))) {
            return keep_attr(t, xr, "Currency", &it->currency);
        }
        return 0;
    }
    case E_POINTS: {
        xmlChar *type = xmlTextReaderGetAttribute(xr, BAD_CAST "Type");
        if (pl->depth <= PL_MAX_DEPTH) {
            pl->earned[pl->depth - 1] = type && strcmp((const char *)type, "PointsEarned") == 0;
        }
        xmlFree(type);
        return 0;
    }
    default:
        return 0;
    }
}

static bool sale_or_return(enum el e)
{
    return e == E_SALE || e == E_RETURN;
}

/* Adds a RetailPriceModifier amount (kept with 9 places) to the line item. */
static void add_modifier(struct pl_txn *t, struct pl_item *it, const char *s, size_t n,
                         unsigned long line)
{
    struct pf_dec d;
    int64_t v;
    pf_trim(&s, &n);
    if (pf_dec_parse(s, n, '.', &d) != 0 || pf_dec_minor(d, 9, &v) != 0 || v < 0 ||
        it->modifiers.units > INT64_MAX - v) {
        txn_problem(t, line,
                    "line item %u: RetailPriceModifier Amount is not a decimal "
                    "amount",
                    it->ordinal);
        return;
    }
    it->modifiers.units += v;
    it->modifiers.scale = 9;
    it->has_modifiers = true;
}

static void add_points(struct pl_txn *t, const char *s, size_t n, unsigned long line)
{
    struct pf_dec d;
    int64_t v;
    pf_trim(&s, &n);
    if (pf_dec_parse(s, n, '.', &d) != 0 || pf_dec_minor(d, 0, &v) != 0 || v < 0 ||
        t->points > INT64_MAX - v) {
        char q[200];
        pf_quote_value(q, sizeof(q), s, n);
        txn_problem(t, line, "Points %s is not a whole number of points", q);
        return;
    }
    t->points += v;
    t->points_set = true;
}

/* An element of interest closes (still on the stack): its text is s/n. */
static int element_end(struct pf_poslog *pl, enum el e, const char *s, size_t n, unsigned long line)
{
    struct pl_txn *t = &pl->txn;
    struct pl_item *it = cur_item(pl);
    enum el p = up(pl, 1), g = up(pl, 2);
    struct pl_str *dst = NULL;
    if (!pl->in_txn) {
        return 0;
    }
    switch (e) {
    case E_RETAILSTOREID:
        dst = p == E_TRANSACTION ? &t->store : p == E_TRANSACTIONLINK ? &t->link_store : NULL;
        break;
    case E_UNITID:
        if (p == E_BUSINESSUNIT) {
            dst = g == E_TRANSACTION ? &t->store : g == E_TRANSACTIONLINK ? &t->link_store : NULL;
        }
        break;
    case E_WORKSTATIONID:
        dst = p == E_TRANSACTION ? &t->ws : p == E_TRANSACTIONLINK ? &t->link_ws : NULL;
        break;
    case E_SEQUENCENUMBER:
        dst = p == E_TRANSACTION        ? &t->seq
              : p == E_TRANSACTIONLINK  ? &t->link_seq
              : (p == E_LINEITEM && it) ? &it->seq
                                        : NULL;
        break;
    case E_BUSINESSDAYDATE:
        dst = p == E_TRANSACTION ? &t->day : p == E_TRANSACTIONLINK ? &t->link_day : NULL;
        break;
    case E_BEGINDATETIME:
        dst = p == E_TRANSACTION ? &t->begin_time : NULL;
        break;
    case E_ENDDATETIME:
        dst = p == E_TRANSACTION ? &t->end_time : NULL;
        break;
    case E_CURRENCYCODE: /* some POSes put it in the RetailTransaction */
        dst = p == E_TRANSACTION || p == E_RETAILTRANSACTION ? &t->currency : NULL;
        break;
    case E_CANCELFLAG:
    case E_TRAININGMODEFLAG:
        if (p == E_TRANSACTION) {
            char v[8] = "";
            const char *x = s;
            size_t k = n;
            pf_trim(&x, &k);
            snprintf(v, sizeof(v), "%.*s", (int)(k < 7 ? k : 7), x);
            if (xml_true(v)) {
                *(e == E_CANCELFLAG ? &t->cancelled : &t->training) = true;
            }
        }
        break;
    case E_VOIDFLAG:
        if (p == E_LINEITEM && it) {
            char v[8] = "";
            const char *x = s;
            size_t k = n;
            pf_trim(&x, &k);
            snprintf(v, sizeof(v), "%.*s", (int)(k < 7 ? k : 7), x);
            it->voided |= xml_true(v);
        }
        break;
    case E_ITEMID:
        dst = it && sale_or_return(p) ? &it->sku : NULL;
        break;
    case E_POSITEMID:
        dst = it && p == E_POSIDENTITY && sale_or_return(g) ? &it->gtin : NULL;
        break;
    case E_REGULARPRICE:
        dst = it && sale_or_return(p) ? &it->regular : NULL;
        break;
    case E_ACTUALPRICE:
        dst = it && sale_or_return(p) ? &it->actual : NULL;
        break;
    case E_EXTENDED:
        dst = it && sale_or_return(p) ? &it->extended : NULL;
        break;
    case E_EXTDISCOUNT:
        dst = it && sale_or_return(p) ? &it->ext_discount : NULL;
        break;
    case E_QUANTITY:
        dst = it && sale_or_return(p) ? &it->quantity : NULL;
        break;
    case E_AMOUNT:
        if (it && p == E_PRICEMODIFIER && sale_or_return(g)) {
            if (pl->depth <= PL_MAX_DEPTH && pl->subtract[pl->depth - 1]) {
                add_modifier(t, it, s, n, line);
            } else {
                it->modifier_unsupported = true;
            }
        }
        break;
    case E_CUSTOMERID:
        dst = p == E_CUSTOMER ? &t->customer_id : NULL;
        break;
    case E_LOYALTYACCOUNTID:
        dst = inside(pl, E_LOYALTYACCOUNT) ? &t->loyalty_id : NULL;
        break;
    case E_POINTS:
        if (inside(pl, E_LOYALTYACCOUNT) && pl->depth <= PL_MAX_DEPTH &&
            pl->earned[pl->depth - 1]) {
            add_points(t, s, n, line);
        }
        break;
    case E_LINEITEM:
        if (p == E_RETAILTRANSACTION) {
            pl->item_open = false;
        }
        break;
    default:
        break;
    }
    if (dst && !dst->set) { /* the first one counts */
        return keep(t, dst, s, n);
    }
    return 0;
}

/* step's results (positive: apart from OMB_ENOMEM). */
enum step { STEP_END = 1, STEP_TXN = 2, STEP_XML_ERROR = 3, STEP_NOT_POSLOG = 4 };

/* Reads up to the end of the next Transaction. */
static int step(struct pf_poslog *pl, char *why, size_t whylen)
{
    xmlTextReaderPtr xr = pl->xr;
    bool skip = false;
    for (;;) {
        int ret = skip ? xmlTextReaderNext(xr) : xmlTextReaderRead(xr);
        skip = false;
        if (ret == 0) {
            return pl->xml_error ? STEP_XML_ERROR : STEP_END;
        }
        if (ret < 0) {
            return STEP_XML_ERROR;
        }
        int type = xmlTextReaderNodeType(xr);
        if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA) {
            const char *v = (const char *)xmlTextReaderConstValue(xr);
            if (v && pf_buf_puts(&pl->text, v) != 0) {
                return OMB_ENOMEM;
            }
            continue;
        }
        bool end = type == XML_READER_TYPE_END_ELEMENT;
        if (type != XML_READER_TYPE_ELEMENT && !end) {
            continue;
        }
        unsigned long line = (unsigned long)xmlGetLineNo(xmlTextReaderCurrentNode(xr));
        enum el e;
        int rc;
        if (end) {
            if (pl->depth == 0) {
                continue;
            }
            e = up(pl, 0);
        } else {
            const char *name = (const char *)xmlTextReaderConstLocalName(xr);
            const char *ns = (const char *)xmlTextReaderConstNamespaceUri(xr);
            bool arts = ns && (strcmp(ns, ns_v5) == 0 || strcmp(ns, ns_v6) == 0);
            if (!pl->root_seen) {
                pl->root_seen = true;
                if (!name || strcmp(name, "POSLog") != 0 || (ns && !arts)) {
                    snprintf(why, whylen,
                             "line %lu: the root element is %s%s%s, not an ARTS "
                             "POSLog",
                             line, name ? name : "?", ns ? " in namespace " : "", ns ? ns : "");
                    return STEP_NOT_POSLOG;
                }
                pl->ns = arts ? NS_ARTS : NS_NONE;
            }
            if (pl->ns == NS_ARTS ? !arts : ns != NULL) {
                skip = !xmlTextReaderIsEmptyElement(xr); /* an extension: skip it whole */
                continue;
            }
            e = el_lookup(name);
            if (pl->depth < PL_MAX_DEPTH) {
                pl->stack[pl->depth] = e;
                pl->earned[pl->depth] = pl->subtract[pl->depth] = false;
            }
            pl->depth++;
            pl->text.len = 0;
            if ((rc = element_start(pl, e, line)) != 0) {
                return rc;
            }
            if (!xmlTextReaderIsEmptyElement(xr)) {
                continue;
            }
        }
        rc = element_end(pl, e, pl->text.p ? pl->text.p : "", pl->text.len, line);
        pl->text.len = 0;
        if (rc != 0) {
            return rc;
        }
        pl->depth--;
        if (e == E_TRANSACTION && pl->in_txn && pl->depth == 1) {
            pl->in_txn = false;
            pl->item_open = false;
            return STEP_TXN;
        }
    }
}

int pf_poslog_next(struct pf_reader *r, struct pf_record *rec)
{
    struct pf_poslog *pl = r->pl;
    char why[400];
    for (;;) {
        struct pl_queue *q = &pl->q;
        if (q->pos < q->n) {
            const struct pl_out *o = &q->recs[q->pos++];
            rec->line = pl->txn.line;
            rec->type = o->type;
            rec->key = q->arena.p + o->key;
            rec->dedupe = q->arena.p + o->dedupe;
            rec->time = o->has_time ? q->arena.p + o->time : NULL;
            rec->body = q->arena.p + o->body;
            rec->body_len = o->body_len;
            return 1;
        }
        int rc = step(pl, why, sizeof(why));
        if (rc == OMB_ENOMEM) {
            return rc;
        }
        if (rc == STEP_END) {
            r->done = true;
            return 0;
        }
        if (rc == STEP_NOT_POSLOG) {
            r->done = true;
            return pf_bad(r, 0, "%s", why);
        }
        if (rc == STEP_XML_ERROR) {
            r->done = true;
            if (!pl->xml_error) {
                return pf_bad(r, 0, "XML: the reader failed");
            }
            /* libxml2 2.9 says "Extra content at the end of the document" for a file that
             * ends early too: say what it means. */
            const char *hint = "";
            if (pl->err_code == XML_ERR_DOCUMENT_END || pl->err_code == XML_ERR_TAG_NOT_FINISHED ||
                pl->err_code == XML_ERR_DOCUMENT_EMPTY) {
                hint = !pl->root_seen  ? " (no root element: is the file empty?)"
                       : pl->depth > 0 ? " (the file ends inside an element: is it truncated?)"
                                       : "";
            }
            return pf_bad(r, pl->err_line, "XML: %s%s", pl->err_msg, hint);
        }
        struct pl_txn *t = &pl->txn;
        r->st.transactions++;
        if (t->training) {
            r->st.training++;
            continue;
        }
        if (t->cancelled) {
            r->st.cancelled++;
            continue;
        }
        if (t->bad_line) {
            return pf_bad(r, t->line, "transaction: %s", t->why);
        }
        rc = pl_emit(r->f, t, q, &r->st, why, sizeof(why));
        if (rc == OMB_EINVAL) {
            return pf_bad(r, t->line, "%s", why);
        }
        if (rc != 0) {
            return rc;
        }
    }
}
