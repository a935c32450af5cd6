/* The identity map: SKU -> [product id, parent id] (parent 0 for a simple product; a
 * variation's parent for a variation). Read from the shop page by page (per_page=100, the next
 * page while X-WP-TotalPages says there is one, else while Link has rel="next"), the variations
 * of each variable product likewise. Kept in the host's durable state as a few values
 * ("map.meta" {chunks, loaded_ms, skus}, "map.0".. each an object of at most WC_STATE_CHUNK
 * SKUs), so that a restart does not list the shop again. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "woocommerce.h"

/* Add every SKU'd object of one list answer to map (and, for emit-shop-changes, note the
 * values the shop shows, so that only later changes are emitted). */
static void add_page(struct wc_ctx *c, json_t *map, const json_t *items, json_int_t parent,
                     json_t *variable)
{
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *sku = json_string_value(json_object_get(it, "sku"));
        json_int_t id = json_integer_value(json_object_get(it, "id"));
        json_int_t p = parent ? parent : json_integer_value(json_object_get(it, "parent_id"));
        const char *type = json_string_value(json_object_get(it, "type"));
        if (variable && type && strcmp(type, "variable") == 0 && id > 0) {
            json_array_append_new(variable, json_integer(id));
        }
        if (sku && sku[0] && id > 0) {
            json_object_set_new(map, sku, json_pack("[I,I]", id, p));
            if (json_is_true(json_object_get(it, "manage_stock"))) {
                wc_seen_note(c, id, "stock", json_object_get(it, "stock_quantity"));
            }
            wc_seen_note(c, id, "price", json_object_get(it, "regular_price"));
        }
    }
}

/* Read every page of path (which has no query yet) into map. */
static int read_pages(struct wc_ctx *c, const char *path, json_t *map, json_int_t parent,
                      json_t *variable, struct omb_deliver_result *res)
{
    struct wc_resp r = {0};
    char err[300], url[600];
    for (long page = 1;; page++) {
        snprintf(url, sizeof(url), "%s?per_page=%d&page=%ld&orderby=id&order=asc", path,
                 WC_PER_PAGE, page);
        int rc = wc_call(c, "GET", url, NULL, &r, err, sizeof(err));
        if (rc != 0) {
            snprintf(res->reason, sizeof(res->reason), "reading the SKU map: %s", err);
            return OMB_ERETRY;
        }
        if (r.status != 200 || !json_is_array(r.json)) {
            if (r.status == 200) {
                r.status = 502; /* a 200 that is not a list: a proxy's page, try again later */
            }
            rc = wc_fail(c, &r, "reading the SKU map", res);
            wc_resp_clear(&r);
            return rc;
        }
        add_page(c, map, r.json, parent, variable);
        size_t got = json_array_size(r.json);
        bool more = r.total_pages >= 0 ? page < r.total_pages : r.next[0] != '\0';
        wc_resp_clear(&r);
        if (!more || got == 0) {
            return OMB_OK;
        }
    }
}

int wc_map_load(struct wc_ctx *c, struct omb_deliver_result *res)
{
    json_t *map = json_object(), *variable = json_array();
    int rc = OMB_ENOMEM;
    if (!map || !variable) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        goto out;
    }
    rc = read_pages(c, "/products", map, 0, variable, res);
    size_t i;
    json_t *v;
    json_array_foreach(variable, i, v)
    {
        if (rc != OMB_OK) {
            break;
        }
        char path[80];
        json_int_t pid = json_integer_value(v);
        snprintf(path, sizeof(path), "/products/%" JSON_INTEGER_FORMAT "/variations", pid);
        rc = read_pages(c, path, map, pid, NULL, res);
    }
    if (rc != OMB_OK) {
        goto out;
    }
    json_decref(c->map);
    c->map = map;
    map = NULL;
    c->map_loaded_ms = c->host->now_ms();
    c->host->metric_counter_add(c->self, "map_loads", 1);
    c->host->metric_gauge_set(c->self, "map_skus", (int64_t)json_object_size(c->map));
    c->host->log(c->self, OMB_LOG_INFO, "SKU map read: %zu SKUs (%zu variable products)",
                 json_object_size(c->map), json_array_size(variable));
    wc_map_save(c);
out:
    json_decref(map);
    json_decref(variable);
    return rc;
}

int wc_map_save(struct wc_ctx *c)
{
    if (!OMB_HOST_HAS(c->host, state_put) || !c->map) {
        return 0;
    }
    size_t total = json_object_size(c->map);
    size_t chunks = (total + WC_STATE_CHUNK - 1) / WC_STATE_CHUNK;
    if (chunks > WC_STATE_CHUNKS_MAX) {
        c->host->log(c->self, OMB_LOG_WARN, "SKU map of %zu SKUs not kept in state (too large)",
                     total);
        return 0;
    }
    json_t *chunk = json_object();
    const char *sku;
    json_t *v;
    size_t k = 0, n = 0;
    int rc = 0;
    char key[32];
    json_object_foreach(c->map, sku, v)
    {
        json_object_set(chunk, sku, v);
        if (++n == WC_STATE_CHUNK) {
            snprintf(key, sizeof(key), "map.%zu", k++);
            rc = rc ? rc : c->host->state_put(c->self, key, chunk);
            json_object_clear(chunk);
            n = 0;
        }
    }
    if (n > 0) {
        snprintf(key, sizeof(key), "map.%zu", k++);
        rc = rc ? rc : c->host->state_put(c->self, key, chunk);
    }
    json_decref(chunk);
    json_t *meta = json_pack("{s:I, s:I, s:I}", "chunks", (json_int_t)k, "loaded_ms",
                             (json_int_t)c->map_loaded_ms, "skus", (json_int_t)total);
    rc = rc ? rc : c->host->state_put(c->self, "map.meta", meta);
    json_decref(meta);
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_WARN, "the SKU map could not be stored (%d)", rc);
    }
    return rc;
}

bool wc_map_restore(struct wc_ctx *c)
{
    if (!OMB_HOST_HAS(c->host, state_get)) {
        return false;
    }
    json_t *meta = c->host->state_get(c->self, "map.meta");
    json_int_t chunks = json_integer_value(json_object_get(meta, "chunks"));
    json_int_t loaded = json_integer_value(json_object_get(meta, "loaded_ms"));
    json_decref(meta);
    if (!meta || chunks < 0 || chunks > WC_STATE_CHUNKS_MAX) {
        return false;
    }
    json_t *map = json_object();
    for (json_int_t k = 0; map && k < chunks; k++) {
        char key[32];
        snprintf(key, sizeof(key), "map.%" JSON_INTEGER_FORMAT, k);
        json_t *chunk = c->host->state_get(c->self, key);
        if (!json_is_object(chunk)) {
            json_decref(chunk);
            json_decref(map);
            map = NULL;
            break;
        }
        json_object_update(map, chunk);
        json_decref(chunk);
    }
    if (!map) {
        return false;
    }
    json_decref(c->map);
    c->map = map;
    c->map_loaded_ms = loaded > 0 ? loaded : 1;
    c->map_restored = true;
    c->host->metric_gauge_set(c->self, "map_skus", (int64_t)json_object_size(c->map));
    c->host->log(c->self, OMB_LOG_INFO, "SKU map restored from state: %zu SKUs",
                 json_object_size(c->map));
    return true;
}

int wc_map_find(struct wc_ctx *c, const char *sku, json_int_t *id, json_int_t *parent)
{
    const json_t *e = json_object_get(c->map, sku);
    if (!json_is_array(e)) {
        return OMB_ENOTFOUND;
    }
    *id = json_integer_value(json_array_get(e, 0));
    *parent = json_integer_value(json_array_get(e, 1));
    return *id > 0 ? OMB_OK : OMB_ENOTFOUND;
}

void wc_map_set(struct wc_ctx *c, const char *sku, json_int_t id, json_int_t parent)
{
    if (!c->map || !c->map_loaded_ms) {
        return; /* not read yet: the whole read will see it (and a partial map is never kept) */
    }
    json_int_t oid = 0, op = 0;
    bool known = wc_map_find(c, sku, &oid, &op) == OMB_OK;
    if (id <= 0) {
        if (known) {
            json_object_del(c->map, sku);
            wc_map_save(c);
        }
        return;
    }
    if (known && oid == id && op == parent) {
        return;
    }
    json_object_set_new(c->map, sku, json_pack("[I,I]", id, parent));
    wc_map_save(c);
}

const char *wc_map_sku_of(struct wc_ctx *c, json_int_t id)
{
    const char *sku;
    json_t *v;
    json_object_foreach(c->map, sku, v)
    {
        if (json_integer_value(json_array_get(v, 0)) == id) {
            return sku;
        }
    }
    return NULL;
}
