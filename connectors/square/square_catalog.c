/* The SKU map: canonical events name a SKU, Square's inventory and catalog calls an
 * ITEM_VARIATION id. The map is read from the catalog (GET /v2/catalog/list?types=ITEM_VARIATION,
 * following `cursor` page by page): every variation that is not deleted and has a `sku`.
 *
 * When it is read:
 * - once after start, from a timer (a failure is only logged: a Square outage or a wrong token
 *   does not hold the connector back), else at the first need;
 * - after a catalog.version.updated webhook (the map is marked stale);
 * - for a delivery, when its SKU is unknown and the map is older than the event: at most once per
 *   delivery. A SKU that a map read after the event arrived does not know is rejected at once,
 *   so a burst of events for a SKU that does not exist costs one read, not one per event;
 * - for a webhook, when a variation id is unknown: at most every SQ_WEBHOOK_REFRESH_MS.
 * A failed read keeps the map of before. Two variations with the same SKU make it ambiguous:
 * events for it are rejected, naming both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "square.h"

/* Pages are followed up to this many (a cursor loop in the answers must end). */
#define MAX_PAGES 100000

static int load(struct sq_ctx *c, struct omb_deliver_result *res);

int sq_catalog_load(struct sq_ctx *c, struct omb_deliver_result *res)
{
    return load(c, res);
}

/* Read the whole map; on success it replaces the one before. OMB_OK, or what a failed call
 * means (res filled). */
static int load(struct sq_ctx *c, struct omb_deliver_result *res)
{
    json_t *sku_to_id = json_object(), *id_to_sku = json_object(), *ambiguous = json_object();
    char *cursor = NULL;
    char err[256];
    int rc = OMB_OK;
    size_t pages = 0, n = 0;
    struct sq_resp r = {0};
    if (!sku_to_id || !id_to_sku || !ambiguous) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        rc = OMB_ERETRY;
        goto out;
    }
    if (sq_api_start(c) != 0) {
        snprintf(res->reason, sizeof(res->reason), "cannot set up the HTTP client");
        rc = OMB_ERETRY;
        goto out;
    }
    do {
        char path[1024];
        if (cursor) {
            char *esc = curl_easy_escape(c->curl, cursor, 0);
            if (!esc || strlen(esc) > 900) {
                curl_free(esc);
                snprintf(res->reason, sizeof(res->reason),
                         "reading the catalog: a cursor that is too long");
                rc = OMB_ERETRY;
                goto out;
            }
            snprintf(path, sizeof(path), "/v2/catalog/list?types=ITEM_VARIATION&cursor=%s", esc);
            curl_free(esc);
        } else {
            snprintf(path, sizeof(path), "/v2/catalog/list?types=ITEM_VARIATION");
        }
        int crc = sq_call(c, "GET", path, NULL, &r, err, sizeof(err));
        if (crc != 0) {
            rc = sq_transport_fail(c, "reading the catalog", err, res);
            goto out;
        }
        if (!sq_ok(&r)) {
            rc = sq_fail(c, &r, "reading the catalog", res);
            goto out;
        }
        const json_t *objects = json_object_get(r.json, "objects");
        size_t i;
        const json_t *o;
        json_array_foreach(objects, i, o)
        {
            const char *type = json_string_value(json_object_get(o, "type"));
            const char *id = json_string_value(json_object_get(o, "id"));
            const json_t *data = json_object_get(o, "item_variation_data");
            const char *sku = json_string_value(json_object_get(data, "sku"));
            if (!type || strcmp(type, "ITEM_VARIATION") != 0 || !id || !sku || !sku[0] ||
                json_is_true(json_object_get(o, "is_deleted"))) {
                continue;
            }
            n++;
            json_t *arr = json_object_get(ambiguous, sku);
            const char *prev = json_string_value(json_object_get(sku_to_id, sku));
            if (arr) {
                json_array_append_new(arr, json_string(id));
            } else if (prev) {
                arr = json_pack("[s,s]", prev, id);
                if (!arr || json_object_set_new(ambiguous, sku, arr) != 0) {
                    snprintf(res->reason, sizeof(res->reason), "out of memory");
                    rc = OMB_ERETRY;
                    goto out;
                }
            } else if (json_object_set_new(sku_to_id, sku, json_string(id)) != 0) {
                snprintf(res->reason, sizeof(res->reason), "out of memory");
                rc = OMB_ERETRY;
                goto out;
            }
            json_object_set_new(id_to_sku, id, json_string(sku));
        }
        const char *next = json_string_value(json_object_get(r.json, "cursor"));
        if (next && cursor && strcmp(next, cursor) == 0) {
            snprintf(res->reason, sizeof(res->reason),
                     "reading the catalog: Square gave the same cursor twice");
            rc = OMB_ERETRY;
            goto out;
        }
        free(cursor);
        cursor = next && next[0] ? strdup(next) : NULL;
        sq_resp_clear(&r);
        if (++pages >= MAX_PAGES) {
            snprintf(res->reason, sizeof(res->reason), "reading the catalog: over %d pages",
                     MAX_PAGES);
            rc = OMB_ERETRY;
            goto out;
        }
    } while (cursor);
    /* Every SKU that several variations share leaves the plain map. */
    const char *sku;
    json_t *v;
    json_object_foreach(ambiguous, sku, v)
    {
        json_object_del(sku_to_id, sku);
    }
    sq_catalog_free(&c->catalog);
    c->catalog.sku_to_id = sku_to_id;
    c->catalog.id_to_sku = id_to_sku;
    c->catalog.ambiguous = ambiguous;
    c->catalog.loaded_ms = c->host->now_ms();
    c->catalog.stale = false;
    c->catalog.variations = n;
    sku_to_id = id_to_sku = ambiguous = NULL;
    c->host->metric_counter_add(c->self, "catalog_loads", 1);
    c->host->metric_gauge_set(c->self, "catalog_variations", (int64_t)n);
    c->host->log(c->self, OMB_LOG_INFO, "catalog read: %zu variations with a SKU in %zu page(s)", n,
                 pages);
out:
    sq_resp_clear(&r);
    free(cursor);
    json_decref(sku_to_id);
    json_decref(id_to_sku);
    json_decref(ambiguous);
    return rc;
}

void sq_catalog_free(struct sq_catalog *cat)
{
    json_decref(cat->sku_to_id);
    json_decref(cat->id_to_sku);
    json_decref(cat->ambiguous);
    cat->sku_to_id = cat->id_to_sku = cat->ambiguous = NULL;
    cat->loaded_ms = 0;
}

/* OMB_OK with *id, OMB_EREJECT for an ambiguous SKU, OMB_ENOTFOUND when unknown. */
static int lookup(struct sq_ctx *c, const char *sku, const char **id,
                  struct omb_deliver_result *res)
{
    const json_t *arr = json_object_get(c->catalog.ambiguous, sku);
    if (arr) {
        char ids[256] = "";
        size_t i, used = 0;
        const json_t *v;
        json_array_foreach(arr, i, v)
        {
            if (used < sizeof(ids)) {
                used += (size_t)snprintf(ids + used, sizeof(ids) - used, "%s%s", i ? ", " : "",
                                         json_string_value(v));
            }
        }
        snprintf(res->reason, sizeof(res->reason),
                 "SKU %s is ambiguous: %zu Square variations have it (%s); give each a unique SKU",
                 sku, json_array_size(arr), ids);
        return OMB_EREJECT;
    }
    *id = json_string_value(json_object_get(c->catalog.sku_to_id, sku));
    return *id ? OMB_OK : OMB_ENOTFOUND;
}

int sq_catalog_variation(struct sq_ctx *c, const char *sku, int64_t received_ms, bool *reloaded,
                         const char **id, struct omb_deliver_result *res)
{
    *id = NULL;
    if (!c->catalog.loaded_ms || c->catalog.stale) {
        int rc = load(c, res);
        *reloaded = true;
        if (rc != OMB_OK) {
            return rc;
        }
    }
    int rc = lookup(c, sku, id, res);
    if (rc != OMB_ENOTFOUND) {
        return rc;
    }
    if (!*reloaded && c->catalog.loaded_ms < received_ms) {
        /* The SKU may have been added since the map was read: read it again, once. */
        c->host->log(c->self, OMB_LOG_INFO, "SKU %s is not in the catalog map: reading it again",
                     sku);
        *reloaded = true;
        rc = load(c, res);
        if (rc != OMB_OK) {
            return rc;
        }
        rc = lookup(c, sku, id, res);
        if (rc != OMB_ENOTFOUND) {
            return rc;
        }
    }
    char when[40];
    sq_time_format(c->catalog.loaded_ms, when, sizeof(when));
    snprintf(res->reason, sizeof(res->reason),
             "unknown SKU %s: no ITEM_VARIATION in the Square catalog has this sku (catalog read "
             "at %s, %zu variations)",
             sku, when, c->catalog.variations);
    c->host->metric_counter_add(c->self, "unknown_skus", 1);
    return OMB_EREJECT;
}

void sq_catalog_forget(struct sq_ctx *c, const char *sku)
{
    const char *id = json_string_value(json_object_get(c->catalog.sku_to_id, sku));
    if (id) {
        json_object_del(c->catalog.id_to_sku, id); /* before: id points into the other map */
        json_object_del(c->catalog.sku_to_id, sku);
    }
}

const char *sq_catalog_sku(struct sq_ctx *c, const char *variation_id, bool *failed)
{
    struct omb_deliver_result res = {0};
    *failed = false;
    if (!c->catalog.loaded_ms || c->catalog.stale) {
        if (load(c, &res) != OMB_OK) {
            c->host->log(c->self, OMB_LOG_WARN, "webhook: %s", res.reason);
            *failed = true;
            return NULL;
        }
    }
    const char *sku = json_string_value(json_object_get(c->catalog.id_to_sku, variation_id));
    if (sku) {
        return sku;
    }
    int64_t now = c->host->monotonic_ms();
    if (c->catalog.webhook_refresh_ms &&
        now - c->catalog.webhook_refresh_ms < SQ_WEBHOOK_REFRESH_MS) {
        return NULL;
    }
    c->catalog.webhook_refresh_ms = now;
    if (load(c, &res) != OMB_OK) {
        c->host->log(c->self, OMB_LOG_WARN, "webhook: %s", res.reason);
        *failed = true;
        return NULL;
    }
    return json_string_value(json_object_get(c->catalog.id_to_sku, variation_id));
}
