/* The snapshot capability: what the shop holds now for a set of SKUs.
 *   stock  {"sku", "location": <location option>, "available": quantity of the SKU's row}
 *   price  {"sku", "price": {"amount", "currency"}}: the product's price, plus the
 *          combination's impact for a combination's SKU, with the tax added back
 * Rows are read PS_IDS_PER_READ at a time with filter[id]=[1|2|3] (display=[id,quantity] or
 * [id,price]); SKUs the map does not know (after one refresh) are listed in "unknown". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prestashop.h"

/* id -> text of field, for every id of ids (a JSON array of integers), into out. */
struct collect {
    const char *field;
    json_t *out;
};

static int on_row(struct ps_ctx *c, xmlNode *row, void *arg)
{
    (void)c;
    struct collect *k = arg;
    char id[32];
    snprintf(id, sizeof(id), "%lld", ps_child_int(row, "id", 0));
    char *v = ps_text(ps_child(row, k->field));
    int rc = json_object_set_new(k->out, id, json_string(v ? v : "")) == 0 ? 0 : OMB_ENOMEM;
    free(v);
    return rc;
}

static int read_ids(struct ps_ctx *c, const char *resource, const char *field, json_t *ids,
                    json_t *out, char *err, size_t errlen)
{
    size_t n = json_array_size(ids);
    struct collect k = {field, out};
    for (size_t i = 0; i < n; i += PS_IDS_PER_READ) {
        char q[1024];
        size_t used = (size_t)snprintf(q, sizeof(q), "display=[id,%s]&filter[id]=[", field);
        for (size_t j = i; j < n && j < i + PS_IDS_PER_READ && used < sizeof(q); j++) {
            used += (size_t)snprintf(q + used, sizeof(q) - used, "%s%" JSON_INTEGER_FORMAT,
                                     j > i ? "|" : "", json_integer_value(json_array_get(ids, j)));
        }
        if (used + 2 >= sizeof(q)) {
            snprintf(err, errlen, "internal: query too long");
            return OMB_EREJECT;
        }
        q[used++] = ']';
        q[used] = '\0';
        int64_t ra = 0;
        int rc = ps_list_all(c, resource, q, on_row, &k, err, errlen, &ra);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int ps_snapshot(void *ctx, const json_t *request, json_t **result, char *err, size_t errlen)
{
    struct ps_ctx *c = ctx;
    const char *what = json_string_value(json_object_get(request, "what"));
    const json_t *skus = json_object_get(request, "skus");
    const json_t *locs = json_object_get(request, "locations");
    bool stock = what && strcmp(what, "stock") == 0;
    if (!what || (!stock && strcmp(what, "price") != 0) || !json_is_array(skus)) {
        snprintf(err, errlen, "a snapshot is of stock or price, for an array of SKUs");
        return OMB_EREJECT;
    }
    if (stock && json_is_array(locs) && json_array_size(locs) > 0) {
        bool ours = false;
        size_t i;
        json_t *l;
        json_array_foreach(locs, i, l)
        {
            ours = ours || (json_is_string(l) && strcmp(json_string_value(l), c->location) == 0);
        }
        if (!ours) {
            *result = json_pack("{s:[], s:[]}", "items", "unknown");
            return *result ? 0 : OMB_ENOMEM;
        }
    }
    int64_t ra = 0, asked = c->host->now_ms();
    bool reloaded = false;
    json_t *unknown = json_array(), *known = json_array(), *ids1 = json_array(),
           *ids2 = json_array(), *got1 = json_object(), *got2 = json_object(),
           *items = json_array();
    int rc = 0;
    size_t i;
    json_t *s;
    json_array_foreach(skus, i, s)
    {
        const char *sku = json_string_value(s);
        long long pid = 0, pa = 0, sid = 0;
        if (!sku) {
            continue;
        }
        rc = ps_map_lookup(c, sku, asked, &reloaded, &pid, &pa, &sid, err, errlen, &ra);
        if (rc == OMB_EREJECT || (rc == 0 && stock && sid <= 0)) {
            json_array_append_new(unknown, json_string(sku));
            rc = 0;
            continue;
        }
        if (rc != 0) {
            goto out;
        }
        json_array_append_new(
            known, json_pack("[s,I,I,I]", sku, (json_int_t)pid, (json_int_t)pa, (json_int_t)sid));
        if (stock) {
            json_array_append_new(ids1, json_integer(sid));
        } else {
            json_array_append_new(ids1, json_integer(pid));
            if (pa > 0) {
                json_array_append_new(ids2, json_integer(pa));
            }
        }
    }
    if (stock) {
        rc = read_ids(c, "stock_availables", "quantity", ids1, got1, err, errlen);
    } else {
        rc = read_ids(c, "products", "price", ids1, got1, err, errlen);
        if (rc == 0) {
            rc = read_ids(c, "combinations", "price", ids2, got2, err, errlen);
        }
    }
    if (rc != 0) {
        goto out;
    }
    json_t *k;
    json_array_foreach(known, i, k)
    {
        const char *sku = json_string_value(json_array_get(k, 0));
        char id[32];
        long long pa = (long long)json_integer_value(json_array_get(k, 2));
        snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_array_get(k, stock ? 3 : 1)));
        const char *v = json_string_value(json_object_get(got1, id));
        if (!v) {
            json_array_append_new(unknown, json_string(sku)); /* gone since the map was read */
            continue;
        }
        if (stock) {
            json_array_append_new(items,
                                  json_pack("{s:s, s:s, s:I}", "sku", sku, "location", c->location,
                                            "available", (json_int_t)strtoll(v, NULL, 10)));
            continue;
        }
        double price = strtod(v, NULL);
        if (pa > 0) {
            snprintf(id, sizeof(id), "%lld", pa);
            const char *imp = json_string_value(json_object_get(got2, id));
            if (!imp) {
                json_array_append_new(unknown, json_string(sku));
                continue;
            }
            price += strtod(imp, NULL);
        }
        char txt[48];
        snprintf(txt, sizeof(txt), "%.6f", price);
        json_array_append_new(items, json_pack("{s:s, s:{s:I, s:s}}", "sku", sku, "price", "amount",
                                               (json_int_t)ps_price_to_minor(c, txt), "currency",
                                               c->currency));
    }
    *result = json_pack("{s:O, s:O}", "items", items, "unknown", unknown);
    rc = *result ? 0 : OMB_ENOMEM;
out:
    json_decref(unknown);
    json_decref(known);
    json_decref(ids1);
    json_decref(ids2);
    json_decref(got1);
    json_decref(got2);
    json_decref(items);
    return rc;
}
