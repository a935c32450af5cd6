/* The identity map: SKU (a product's or a combination's `reference`) -> [id_product,
 * id_product_attribute, stock_available id] in the configured shop.
 *
 * It is read from three paged lists (display=full, limit=offset,count until a short page:
 * PrestaShop has no server-side page size and no total): products, combinations and
 * stock_availables (filtered by id_shop). It is kept in host state as a few values ("map.meta"
 * and "map.0", "map.1", ... of PS_MAP_CHUNK SKUs each), restored at start, and read again when
 * a delivery names an unknown SKU (at most once per delivery, and only when the map was read
 * before the event was received). A reference shared by two rows
 * keeps the first one read, with a warning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prestashop.h"

/* GET resource?query&limit=off,count for every page, fn on each row. */
int ps_list_all(struct ps_ctx *c, const char *resource, const char *query, ps_row_fn fn, void *arg,
                char *reason, size_t reasonlen, int64_t *retry_after_ms)
{
    long long off = 0, size = c->page_size > 0 ? c->page_size : 100;
    for (;;) {
        char path[1024], err[300];
        snprintf(path, sizeof(path), "%s?%s&limit=%lld,%lld", resource, query, off, size);
        struct ps_resp r = {0};
        int rc = ps_call(c, "GET", path, NULL, 0, &r, err, sizeof(err));
        if (rc != 0) {
            snprintf(reason, reasonlen, "reading %s: %s", resource, err);
            return rc == OMB_ENOMEM ? OMB_ERETRY : rc;
        }
        if (!ps_ok(&r)) {
            char what[64];
            snprintf(what, sizeof(what), "reading %s", resource);
            rc = ps_fail(c, &r, "GET", what, reason, reasonlen, retry_after_ms);
            ps_resp_clear(&r);
            return rc;
        }
        xmlNode *list = ps_body(&r);
        if (!list) {
            /* A 2xx that is not PrestaShop's XML: a proxy's page, a PHP notice before the
             * envelope. Never taken for an empty list (that would end a map read early). */
            snprintf(reason, reasonlen, "reading %s: a %ld answer that is not PrestaShop XML",
                     resource, r.status);
            ps_resp_clear(&r);
            return OMB_ERETRY;
        }
        long long n = 0;
        for (xmlNode *row = ps_child(list, NULL); row; row = ps_next(row->next, NULL)) {
            n++;
            rc = fn(c, row, arg);
            if (rc != 0) {
                ps_resp_clear(&r);
                snprintf(reason, reasonlen, "reading %s: out of memory", resource);
                return OMB_ERETRY;
            }
        }
        ps_resp_clear(&r);
        if (n < size) {
            return 0;
        }
        off += size;
    }
}

struct load {
    json_t *refs;  /* sku -> [id_product, id_pa] */
    json_t *stock; /* "id_product/id_pa" -> stock id */
    size_t dups;
};

static int add_ref(struct ps_ctx *c, struct load *l, const char *sku, long long pid, long long pa)
{
    if (!sku || !sku[0]) {
        return 0;
    }
    if (json_object_get(l->refs, sku)) {
        if (l->dups++ < 5) {
            c->host->log(c->self, OMB_LOG_WARN,
                         "SKU %s is the reference of more than one product or combination: "
                         "the first read is used",
                         sku);
        }
        return 0;
    }
    return json_object_set_new(l->refs, sku, json_pack("[I,I]", (json_int_t)pid, (json_int_t)pa)) ==
                   0
               ? 0
               : OMB_ENOMEM;
}

static int on_product(struct ps_ctx *c, xmlNode *row, void *arg)
{
    char *ref = ps_text(ps_child(row, "reference"));
    int rc = add_ref(c, arg, ref, ps_child_int(row, "id", 0), 0);
    free(ref);
    return rc;
}

static int on_combination(struct ps_ctx *c, xmlNode *row, void *arg)
{
    char *ref = ps_text(ps_child(row, "reference"));
    int rc = add_ref(c, arg, ref, ps_child_int(row, "id_product", 0), ps_child_int(row, "id", 0));
    free(ref);
    return rc;
}

static int on_stock(struct ps_ctx *c, xmlNode *row, void *arg)
{
    (void)c;
    struct load *l = arg;
    char k[64];
    snprintf(k, sizeof(k), "%lld/%lld", ps_child_int(row, "id_product", 0),
             ps_child_int(row, "id_product_attribute", 0));
    return json_object_set_new(l->stock, k, json_integer(ps_child_int(row, "id", 0))) == 0
               ? 0
               : OMB_ENOMEM;
}

static void set_map(struct ps_ctx *c, json_t *map)
{
    json_decref(c->map);
    json_decref(c->by_stock);
    json_decref(c->parents);
    c->map = map;
    c->by_stock = json_object();
    c->parents = json_object();
    const char *sku;
    json_t *v;
    json_object_foreach(map, sku, v)
    {
        char k[32];
        snprintf(k, sizeof(k), "%" JSON_INTEGER_FORMAT, json_integer_value(json_array_get(v, 2)));
        if (json_integer_value(json_array_get(v, 2)) > 0) {
            json_object_set_new(c->by_stock, k, json_string(sku));
        }
        if (json_integer_value(json_array_get(v, 1)) > 0) {
            snprintf(k, sizeof(k), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_array_get(v, 0)));
            json_object_set_new(c->parents, k, json_true());
        }
    }
}

static void persist(struct ps_ctx *c)
{
    if (!OMB_HOST_HAS(c->host, state_put)) {
        return;
    }
    size_t n = 0, chunks = 0;
    json_t *chunk = json_object();
    const char *sku;
    json_t *v;
    json_object_foreach(c->map, sku, v)
    {
        json_object_set(chunk, sku, v);
        if (++n == PS_MAP_CHUNK) {
            char key[32];
            snprintf(key, sizeof(key), "map.%zu", chunks++);
            c->host->state_put(c->self, key, chunk);
            json_decref(chunk);
            chunk = json_object();
            n = 0;
        }
    }
    if (n > 0 || chunks == 0) {
        char key[32];
        snprintf(key, sizeof(key), "map.%zu", chunks++);
        c->host->state_put(c->self, key, chunk);
    }
    json_decref(chunk);
    json_t *meta =
        json_pack("{s:I, s:I, s:I}", "chunks", (json_int_t)chunks, "loaded",
                  (json_int_t)c->map_loaded_ms, "skus", (json_int_t)json_object_size(c->map));
    c->host->state_put(c->self, "map.meta", meta);
    json_decref(meta);
}

void ps_map_restore(struct ps_ctx *c)
{
    if (!OMB_HOST_HAS(c->host, state_get)) {
        return;
    }
    json_t *meta = c->host->state_get(c->self, "map.meta");
    if (!json_is_object(meta)) {
        json_decref(meta);
        return;
    }
    json_int_t chunks = json_integer_value(json_object_get(meta, "chunks"));
    json_t *map = json_object();
    bool ok = true;
    for (json_int_t i = 0; i < chunks && ok; i++) {
        char key[32];
        snprintf(key, sizeof(key), "map.%lld", (long long)i);
        json_t *chunk = c->host->state_get(c->self, key);
        ok = json_is_object(chunk) && json_object_update(map, chunk) == 0;
        json_decref(chunk);
    }
    if (ok) {
        c->map_loaded_ms = json_integer_value(json_object_get(meta, "loaded"));
        set_map(c, map);
        c->host->log(c->self, OMB_LOG_INFO, "identity map restored from state: %zu SKUs",
                     json_object_size(c->map));
    } else {
        json_decref(map);
        c->host->log(c->self, OMB_LOG_WARN, "the stored identity map is incomplete: read anew");
    }
    json_decref(meta);
}

int ps_map_load(struct ps_ctx *c, char *reason, size_t reasonlen, int64_t *retry_after_ms)
{
    struct load l = {json_object(), json_object(), 0};
    json_t *map = json_object();
    char q[128];
    int rc;
    if (!l.refs || !l.stock || !map) {
        rc = OMB_ERETRY;
        snprintf(reason, reasonlen, "out of memory");
        goto out;
    }
    rc = ps_list_all(c, "products", "display=full", on_product, &l, reason, reasonlen,
                     retry_after_ms);
    if (rc == 0) {
        rc = ps_list_all(c, "combinations", "display=full", on_combination, &l, reason, reasonlen,
                         retry_after_ms);
    }
    if (rc == 0) {
        if (c->id_shop > 0) {
            snprintf(q, sizeof(q),
                     "display=[id,id_product,id_product_attribute]&filter[id_shop]=[%lld]",
                     (long long)c->id_shop);
        } else {
            snprintf(q, sizeof(q), "display=[id,id_product,id_product_attribute]");
        }
        rc = ps_list_all(c, "stock_availables", q, on_stock, &l, reason, reasonlen, retry_after_ms);
    }
    if (rc != 0) {
        goto out;
    }
    const char *sku;
    json_t *v;
    json_object_foreach(l.refs, sku, v)
    {
        char k[64];
        snprintf(k, sizeof(k), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_array_get(v, 0)),
                 json_integer_value(json_array_get(v, 1)));
        json_int_t sid = json_integer_value(json_object_get(l.stock, k));
        json_object_set_new(map, sku,
                            json_pack("[O,O,I]", json_array_get(v, 0), json_array_get(v, 1), sid));
    }
    c->map_loaded_ms = c->host->now_ms();
    set_map(c, map);
    map = NULL;
    persist(c);
    c->host->metric_counter_add(c->self, "map_loads", 1);
    c->host->log(c->self, OMB_LOG_INFO, "identity map read: %zu SKUs", json_object_size(c->map));
out:
    json_decref(l.refs);
    json_decref(l.stock);
    json_decref(map);
    return rc;
}

int64_t ps_event_received_ms(const struct ps_ctx *c, const json_t *event)
{
    const char *t = json_string_value(json_object_get(event, "received"));
    if (!t) {
        t = json_string_value(json_object_get(event, "time"));
    }
    struct tm tm = {0};
    int y, mo, d, h, mi, se, used = 0;
    if (t && sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &used) == 6) {
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = se;
        int64_t ms = 0, scale = 100;
        if (t[used] == '.') {
            for (const char *p = t + used + 1; *p >= '0' && *p <= '9' && scale > 0; p++) {
                ms += (*p - '0') * scale;
                scale /= 10;
            }
        }
        return (int64_t)timegm(&tm) * 1000 + ms; /* the core writes `received` in UTC (Z) */
    }
    return c->host->now_ms();
}

int ps_map_lookup(struct ps_ctx *c, const char *sku, int64_t newer_than_ms, bool *reloaded,
                  long long *id_product, long long *id_pa, long long *stock_id, char *reason,
                  size_t reasonlen, int64_t *retry_after_ms)
{
    json_t *v = c->map ? json_object_get(c->map, sku) : NULL;
    if (!v && !*reloaded && (!c->map || c->map_loaded_ms < newer_than_ms)) {
        *reloaded = true;
        int rc = ps_map_load(c, reason, reasonlen, retry_after_ms);
        if (rc != 0) {
            return rc;
        }
        v = json_object_get(c->map, sku);
    }
    if (!v) {
        snprintf(reason, reasonlen,
                 "unknown SKU %.64s: no product or combination of shop %s (id_shop %lld) has "
                 "it as reference",
                 sku, c->shop_url, (long long)c->id_shop);
        return OMB_EREJECT;
    }
    *id_product = json_integer_value(json_array_get(v, 0));
    *id_pa = json_integer_value(json_array_get(v, 1));
    *stock_id = json_integer_value(json_array_get(v, 2));
    return OMB_OK;
}

void ps_map_free(struct ps_ctx *c)
{
    json_decref(c->map);
    json_decref(c->by_stock);
    json_decref(c->parents);
    c->map = c->by_stock = c->parents = NULL;
}

bool ps_map_is_parent(const struct ps_ctx *c, long long id_product)
{
    char k[32];
    snprintf(k, sizeof(k), "%lld", id_product);
    return c->parents && json_object_get(c->parents, k) != NULL;
}
