/* pos-file format library: the body plan. The dotted field names make a tree (members in the
 * order of their first mention, money amounts with their currency beside them); pf_body_build
 * walks it as a flat list of ops, so building a body is one pass with no lookups. */
#include <stdlib.h>

#include "pf_priv.h"

/* A node of the tree of field names: an object (field < 0) or a value. */
struct node {
    char *name;
    long field; /* >= 0: a field; -1: an object; -2: the currency of kids[i-1] */
    struct node *kids;
    size_t nkids;
};

static void node_free(struct node *n)
{
    for (size_t i = 0; i < n->nkids; i++) {
        node_free(&n->kids[i]);
    }
    free(n->kids);
    free(n->name);
}

static struct node *node_find(struct node *n, const char *name)
{
    for (size_t i = 0; i < n->nkids; i++) {
        if (strcmp(n->kids[i].name, name) == 0) {
            return &n->kids[i];
        }
    }
    return NULL;
}

/* Inserts a new kid at position at; returns it or NULL (ENOMEM). */
static struct node *node_add(struct node *n, size_t at, const char *name, long field)
{
    struct node *k = realloc(n->kids, (n->nkids + 1) * sizeof(*k));
    if (!k) {
        return NULL;
    }
    n->kids = k;
    memmove(&k[at + 1], &k[at], (n->nkids - at) * sizeof(*k));
    n->nkids++;
    k[at] = (struct node){.name = strdup(name), .field = field};
    return k[at].name ? &k[at] : NULL;
}

/* Inserts the field's path into the tree. */
static int tree_insert(struct node *root, struct pf_format *f, size_t fi, const char *opt,
                       char *err, size_t errlen)
{
    struct pf_field *fl = &f->fields[fi];
    struct node *n = root;
    for (size_t k = 0; fl->path[k]; k++) {
        bool last = !fl->path[k + 1];
        struct node *kid = node_find(n, fl->path[k]);
        if (kid && (last || kid->field >= 0)) {
            if (last && kid->field >= 0) {
                return pf_fail(err, errlen, "%s: \"%s\": the field %s is mapped twice", opt,
                               fl->spec, fl->name);
            }
            return pf_fail(err, errlen, "%s: \"%s\": %s is both a value and an object", opt,
                           fl->spec, last ? fl->name : fl->path[k]);
        }
        if (!kid && !(kid = node_add(n, n->nkids, fl->path[k], last ? (long)fi : -1))) {
            return OMB_ENOMEM;
        }
        n = kid;
    }
    return 0;
}

/* Money: a decimal or int "x.amount" gets its currency from the option unless "x.currency" is
 * mapped too. */
static int tree_money(struct node *n, struct pf_format *f, const char *opt, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < n->nkids; i++) {
        struct node *k = &n->kids[i];
        if (k->field == -1) {
            int rc = tree_money(k, f, opt, err, errlen);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (k->field < 0 || strcmp(k->name, "amount") != 0) {
            continue;
        }
        struct pf_field *fl = &f->fields[k->field];
        if ((fl->type != PF_T_DECIMAL && fl->type != PF_T_INT) || !fl->path[1]) {
            continue;
        }
        struct node *cur = node_find(n, "currency");
        size_t plen = strlen(fl->name) - strlen("amount");
        struct pf_buf sib = {0};
        if (pf_buf_printf(&sib, "%.*scurrency", (int)plen, fl->name) != 0) {
            return OMB_ENOMEM;
        }
        fl->currency_sibling = sib.p;
        if (cur) {
            continue; /* mapped: written from the file, checked by nobody */
        }
        if (!f->currency) {
            return pf_fail(err, errlen,
                           "%s: \"%s\": a money amount needs the currency option "
                           "(or a mapping for %s)",
                           opt, fl->spec, fl->currency_sibling);
        }
        fl->money = true;
        if (!node_add(n, i + 1, "currency", -2)) {
            return OMB_ENOMEM;
        }
        i++; /* past the currency just added */
    }
    return 0;
}

static int add_op(struct pf_format *f, size_t *cap, enum pf_op_kind kind, const char *name,
                  size_t field)
{
    if (f->nops == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        struct pf_op *ops = realloc(f->ops, c * sizeof(*ops));
        if (!ops) {
            return OMB_ENOMEM;
        }
        f->ops = ops;
        *cap = c;
    }
    struct pf_op *op = &f->ops[f->nops];
    *op = (struct pf_op){.kind = kind, .field = field};
    if (name) {
        struct pf_buf b = {0};
        if (pf_json_key(&b, name) != 0) {
            pf_buf_free(&b);
            return OMB_ENOMEM;
        }
        pf_buf_nul(&b);
        op->key = b.p;
        op->key_len = b.len;
    }
    f->nops++;
    return 0;
}

static int tree_ops(const struct node *n, struct pf_format *f, size_t *cap, int depth)
{
    int rc = 0;
    if (depth > f->max_depth) {
        f->max_depth = depth;
    }
    for (size_t i = 0; i < n->nkids && rc == 0; i++) {
        const struct node *k = &n->kids[i];
        if (k->field >= 0) {
            rc = add_op(f, cap, PF_OP_FIELD, k->name, (size_t)k->field);
        } else if (k->field == -2) {
            rc = add_op(f, cap, PF_OP_CURRENCY, k->name, (size_t)n->kids[i - 1].field);
        } else if ((rc = add_op(f, cap, PF_OP_OPEN, k->name, 0)) == 0 &&
                   (rc = tree_ops(k, f, cap, depth + 1)) == 0) {
            rc = add_op(f, cap, PF_OP_CLOSE, NULL, 0);
        }
    }
    return rc;
}

int pf_plan_build(struct pf_format *f, const char *opt, char *err, size_t errlen)
{
    struct node root = {0};
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < f->nfields && rc == 0; i++) {
        rc = tree_insert(&root, f, i, opt, err, errlen);
    }
    if (rc == 0) {
        rc = tree_money(&root, f, opt, err, errlen);
    }
    if (rc == 0) {
        rc = tree_ops(&root, f, &cap, 0);
    }
    node_free(&root);
    return rc;
}
