/* The identity map: SKU <-> Shopify variant id, inventory item id and product id.
 *
 * Read from GraphQL productVariants, 100 a page (a requested cost of 303 points), following
 * pageInfo.endCursor, together with the shop's currencyCode (prices are checked against it). A read
 * replaces the map only when every page came. The map is kept in the host's state (ABI 1.3), in a
 * few values: idmap.meta  {"chunks": N, "currency": "PLN", "skus": total} idmap.K     {"SKU":
 * ["variant id", "inventory item id", "product id"], ...}  (K < N, SH_STATE_CHUNK SKUs each) and
 * read back at start, so that a restart delivers at once without reading the catalog. It is read
 * again when a delivery names an unknown SKU (once per delivery batch), and products/update
 * webhooks update it variant by variant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shopify.h"

static const char PAGE_QUERY[] =
    "query($after: String) { shop { currencyCode } "
    "productVariants(first: 100, after: $after) { pageInfo { hasNextPage endCursor } "
    "nodes { sku id product { id } inventoryItem { id } } } }";
#define PAGE_COST 303.0

static int add_entry(json_t *by_sku, json_t *by_item, const char *sku, const char *v, const char *i,
                     const char *p)
{
    if (!sku || !sku[0] || !v || !i) {
        return 0; /* a variant without SKU cannot be addressed by events */
    }
    if (json_object_set_new(by_sku, sku,
                            json_pack("{s:s, s:s, s:s}", "v", v, "i", i, "p", p ? p : "")) != 0 ||
        json_object_set_new(by_item, i, json_string(sku)) != 0) {
        return OMB_ENOMEM;
    }
    return 0;
}

void sh_idmap_free(struct sh_idmap *m)
{
    json_decref(m->by_sku);
    json_decref(m->by_item);
    m->by_sku = m->by_item = NULL;
    m->loaded = false;
}

static int ensure(struct sh_idmap *m)
{
    if (!m->by_sku) {
        m->by_sku = json_object();
    }
    if (!m->by_item) {
        m->by_item = json_object();
    }
    return m->by_sku && m->by_item ? 0 : OMB_ENOMEM;
}

bool sh_idmap_restore(struct sh_ctx *c)
{
    if (!OMB_HOST_HAS(c->host, state_get)) {
        return false;
    }
    json_t *meta = c->host->state_get(c->self, "idmap.meta");
    json_t *by_sku = json_object(), *by_item = json_object();
    bool ok = json_is_object(meta) && by_sku && by_item;
    json_int_t chunks = json_integer_value(json_object_get(meta, "chunks"));
    for (json_int_t k = 0; ok && k < chunks; k++) {
        char key[32];
        snprintf(key, sizeof(key), "idmap.%lld", (long long)k);
        json_t *chunk = c->host->state_get(c->self, key);
        const char *sku;
        json_t *e;
        ok = json_is_object(chunk);
        json_object_foreach(chunk, sku, e)
        {
            if (ok && add_entry(by_sku, by_item, sku, json_string_value(json_array_get(e, 0)),
                                json_string_value(json_array_get(e, 1)),
                                json_string_value(json_array_get(e, 2))) != 0) {
                ok = false;
            }
        }
        json_decref(chunk);
    }
    if (ok) {
        sh_idmap_free(&c->map);
        c->map.by_sku = by_sku;
        c->map.by_item = by_item;
        snprintf(c->map.currency, sizeof(c->map.currency), "%s",
                 json_string_value(json_object_get(meta, "currency"))
                     ? json_string_value(json_object_get(meta, "currency"))
                     : "");
        c->map.loaded = true;
        c->host->log(c->self, OMB_LOG_INFO, "identity map restored from state: %zu SKUs",
                     json_object_size(by_sku));
    } else {
        json_decref(by_sku);
        json_decref(by_item);
    }
    json_decref(meta);
    return ok;
}

int sh_idmap_save(struct sh_ctx *c)
{
    if (!OMB_HOST_HAS(c->host, state_put) || !c->map.by_sku) {
        return 0;
    }
    json_t *chunk = NULL;
    size_t chunks = 0, in_chunk = 0;
    int rc = 0;
    const char *sku;
    json_t *e;
    char key[32];
    json_object_foreach(c->map.by_sku, sku, e)
    {
        if (!chunk && !(chunk = json_object())) {
            return OMB_ENOMEM;
        }
        json_object_set_new(chunk, sku,
                            json_pack("[s,s,s]", json_string_value(json_object_get(e, "v")),
                                      json_string_value(json_object_get(e, "i")),
                                      json_string_value(json_object_get(e, "p"))));
        if (++in_chunk == SH_STATE_CHUNK) {
            snprintf(key, sizeof(key), "idmap.%zu", chunks++);
            rc = rc ? rc : c->host->state_put(c->self, key, chunk);
            json_decref(chunk);
            chunk = NULL;
            in_chunk = 0;
        }
    }
    if (chunk) {
        snprintf(key, sizeof(key), "idmap.%zu", chunks++);
        rc = rc ? rc : c->host->state_put(c->self, key, chunk);
        json_decref(chunk);
    }
    json_t *meta = json_pack("{s:I, s:s, s:I}", "chunks", (json_int_t)chunks, "currency",
                             c->map.currency, "skus", (json_int_t)json_object_size(c->map.by_sku));
    rc = rc ? rc : c->host->state_put(c->self, "idmap.meta", meta);
    json_decref(meta);
    if (rc != 0) {
        c->host->log(c->self, OMB_LOG_WARN, "identity map not stored in state: %s",
                     rc == OMB_EIO ? "I/O error" : "error");
    }
    return rc;
}

int sh_idmap_load(struct sh_ctx *c, struct omb_deliver_result *res)
{
    json_t *by_sku = json_object(), *by_item = json_object(), *vars = json_object();
    char cursor[512] = "", err[256], currency[8] = "";
    int rc = OMB_OK;
    size_t pages = 0;
    if (!by_sku || !by_item || !vars) {
        rc = OMB_ENOMEM;
        goto out;
    }
    for (;;) {
        struct sh_resp r = {0};
        int64_t wait_ms = 0;
        json_object_set_new(vars, "after", cursor[0] ? json_string(cursor) : json_null());
        rc = sh_graphql(c, PAGE_QUERY, vars, PAGE_COST, SH_READ_WAIT_MAX_MS, &r, &wait_ms, err,
                        sizeof(err));
        if (rc != 0) {
            snprintf(res->reason, sizeof(res->reason), "reading the catalog: %s", err);
            res->retry_after_ms = wait_ms;
            rc = OMB_ERETRY;
            goto out;
        }
        rc = sh_check(c, &r, "reading the catalog (productVariants)", res);
        if (rc != OMB_OK) {
            sh_resp_clear(&r);
            goto out;
        }
        pages++;
        const json_t *data = json_object_get(r.json, "data");
        const char *cur =
            json_string_value(json_object_get(json_object_get(data, "shop"), "currencyCode"));
        if (cur) {
            snprintf(currency, sizeof(currency), "%s", cur);
        }
        const json_t *pv = json_object_get(data, "productVariants");
        const json_t *nodes = json_object_get(pv, "nodes");
        size_t i;
        const json_t *n;
        json_array_foreach(nodes, i, n)
        {
            add_entry(
                by_sku, by_item, json_string_value(json_object_get(n, "sku")),
                sh_gid_id(json_string_value(json_object_get(n, "id"))),
                sh_gid_id(
                    json_string_value(json_object_get(json_object_get(n, "inventoryItem"), "id"))),
                sh_gid_id(json_string_value(json_object_get(json_object_get(n, "product"), "id"))));
        }
        const json_t *pi = json_object_get(pv, "pageInfo");
        const char *end = json_string_value(json_object_get(pi, "endCursor"));
        bool more = json_is_true(json_object_get(pi, "hasNextPage")) && end;
        if (more) {
            snprintf(cursor, sizeof(cursor), "%s", end);
        }
        sh_resp_clear(&r);
        if (!more) {
            break;
        }
    }
    sh_idmap_free(&c->map);
    c->map.by_sku = by_sku;
    c->map.by_item = by_item;
    by_sku = by_item = NULL;
    snprintf(c->map.currency, sizeof(c->map.currency), "%s", currency);
    c->map.loaded = true;
    c->map.loaded_ms = c->host->now_ms();
    c->host->metric_counter_add(c->self, "catalog_reads", 1);
    c->host->log(c->self, OMB_LOG_INFO, "catalog read: %zu SKUs in %zu page(s), currency %s",
                 json_object_size(c->map.by_sku), pages, c->map.currency);
    sh_idmap_save(c);
out:
    json_decref(by_sku);
    json_decref(by_item);
    json_decref(vars);
    return rc;
}

const json_t *sh_idmap_get(struct sh_ctx *c, const char *sku)
{
    return json_object_get(c->map.by_sku, sku);
}

int64_t sh_event_received_ms(const json_t *event)
{
    int64_t ms = 0;
    const char *r = json_string_value(json_object_get(event, "received"));
    if (!r || sh_time_parse(r, &ms) != 0) {
        r = json_string_value(json_object_get(event, "time"));
        if (!r || sh_time_parse(r, &ms) != 0) {
            return 0;
        }
    }
    return ms;
}

int sh_idmap_resolve(struct sh_ctx *c, const char *sku, int64_t received_ms, bool *refreshed,
                     const json_t **entry, struct omb_deliver_result *res)
{
    *entry = sh_idmap_get(c, sku);
    if (*entry) {
        return OMB_OK;
    }
    /* A map read after the event came already had its chance: a burst of events for a SKU the
     * shop does not have costs one catalog read, not one per batch. */
    bool fresh =
        c->map.loaded && c->map.loaded_ms > 0 && received_ms > 0 && c->map.loaded_ms > received_ms;
    if (!*refreshed && !fresh) {
        *refreshed = true;
        int rc = sh_idmap_load(c, res);
        if (rc != OMB_OK) {
            return rc;
        }
        *entry = sh_idmap_get(c, sku);
        if (*entry) {
            return OMB_OK;
        }
    }
    snprintf(
        res->reason, sizeof(res->reason),
        "SKU %s is not in the shop %s (no variant has it in a catalog read after the event came)",
        sku, c->shop_url);
    c->host->metric_counter_add(c->self, "unknown_skus", 1);
    return OMB_EREJECT;
}

void sh_idmap_set(struct sh_ctx *c, const char *sku, const char *variant, const char *item,
                  const char *product)
{
    if (ensure(&c->map) != 0) {
        return;
    }
    add_entry(c->map.by_sku, c->map.by_item, sku, variant, item, product);
}
