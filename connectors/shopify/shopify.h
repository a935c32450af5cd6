/* The shopify connector, internal: its context and what its files share.
 *
 * shopify.c           options, validate, lifecycle, deliver and deliver_batch dispatch, the
 *                     descriptor
 * shopify_api.c       the HTTP client: one libcurl easy handle, X-Shopify-Access-Token, GraphQL
 *                     calls paced by the cost bucket, what an answer means for a delivery
 * shopify_idmap.c     the SKU <-> variant / inventory item map: read from productVariants
 *                     (cursor pages), kept in the host's state in chunks, refreshed on need
 * shopify_stock.c     stock.level, stock.available -> inventorySetQuantities, batched
 * shopify_price.c     price.set -> productVariantsBulkUpdate
 * shopify_snapshot.c  the admin's snapshot: levels and prices read back
 * shopify_webhook.c   webhooks in: signature, orders/create, inventory_levels/update,
 *                     products/update
 * shopify_util.c      the location map, money, gids, small helpers
 *
 * Everything runs on the instance's thread: no locks.
 */
#ifndef OMNIBUS_CONNECTOR_SHOPIFY_H
#define OMNIBUS_CONNECTOR_SHOPIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <omnibus/plugin.h>

#define SH_REPLY_MAX (16u * 1024u * 1024u)
/* inventorySetQuantities takes at most 250 quantities. */
#define SH_BATCH_MAX 250
/* The longest a delivery waits in-line for the cost bucket; longer: OMB_ERETRY. */
#define SH_THROTTLE_WAIT_MAX_MS 5000
/* The longest a page of a catalog read (or a snapshot) waits in-line for the bucket. */
#define SH_READ_WAIT_MAX_MS 30000
/* SKUs per state value of the identity map. */
#define SH_STATE_CHUNK 2000

/* The identity map. */
struct sh_idmap {
    json_t *by_sku;   /* sku -> {"v": variant id, "i": inventory item id, "p": product id} */
    json_t *by_item;  /* inventory item id -> sku */
    char currency[8]; /* the shop's currencyCode ("" until known) */
    bool loaded;
    int64_t loaded_ms; /* wall clock of the last complete read from Shopify (0: restored) */
};

struct sh_buf {
    char *data;
    size_t len, cap;
    bool overflow;
    char retry_after[64];
};

/* What the connector last heard of the GraphQL cost bucket. */
struct sh_bucket {
    double maximum, available, restore; /* points, points, points per second */
    int64_t at_ms;                      /* monotonic time of the answer; 0: nothing known */
};

struct sh_ctx {
    /* Options (owned by the core). */
    char *shop_url;
    char *token;
    char *api_version;
    char **locations;
    char *webhook_secret;
    char *webhook_path;
    char *channel;
    bool emit_prices;
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    char *ca_file;
    int64_t retry_after_max_ms;

    /* Owned by the plugin. */
    const struct omb_host_api *host;
    struct omb_instance *self;
    char *base;            /* shop-url/admin/api/<version> */
    json_t *loc_to_shop;   /* canonical location -> Shopify location id (numeric string) */
    json_t *loc_from_shop; /* Shopify location id -> canonical location */
    struct sh_idmap map;
    struct sh_bucket bucket;
    CURL *curl;
    struct curl_slist *headers;
    struct sh_buf reply;
    bool curl_global;
    uint64_t warm_timer;
    char msg[512];
};

struct sh_resp {
    long status;
    json_t *json;           /* new */
    int64_t retry_after_ms; /* -1: absent */
};

/* shopify_api.c */
int sh_api_start(struct sh_ctx *c);
void sh_api_stop(struct sh_ctx *c);
/* POST a GraphQL query (with variables, borrowed, may be NULL) of estimated cost `cost`; waits
 * first when the bucket is known to hold fewer points (at most max_wait_ms, else OMB_ERETRY
 * with *wait_ms). 0 when Shopify answered (see r), OMB_ERETRY when not (why in err). */
int sh_graphql(struct sh_ctx *c, const char *query, const json_t *variables, double cost,
               int64_t max_wait_ms, struct sh_resp *r, int64_t *wait_ms, char *err, size_t errlen);
void sh_resp_clear(struct sh_resp *r);
/* What a GraphQL answer that is not clean means: OMB_ERETRY (429, 5xx, THROTTLED) with
 * res->retry_after_ms, or OMB_EREJECT (401/403, ACCESS_DENIED, other errors), with a reason
 * prefixed by `what`. OMB_OK when the answer is a 200 without top-level errors. */
int sh_check(struct sh_ctx *c, const struct sh_resp *r, const char *what,
             struct omb_deliver_result *res);

/* shopify_idmap.c */
/* Read the map from the host's state (true when it was there). */
bool sh_idmap_restore(struct sh_ctx *c);
/* Read the whole map from Shopify now and store it. OMB_OK or what the failure means. */
int sh_idmap_load(struct sh_ctx *c, struct omb_deliver_result *res);
/* The entry of sku (borrowed) or NULL. */
const json_t *sh_idmap_get(struct sh_ctx *c, const char *sku);
/* Look sku up; when unknown, *refreshed is false and the map was read before the event came
 * (received_ms; 0: unknown), read it again once (sets *refreshed). OMB_OK with *entry,
 * OMB_EREJECT naming the SKU and the shop, or what a failed load means. */
int sh_idmap_resolve(struct sh_ctx *c, const char *sku, int64_t received_ms, bool *refreshed,
                     const json_t **entry, struct omb_deliver_result *res);
/* The envelope's `received` (else `time`) in ms; 0 when absent. */
int64_t sh_event_received_ms(const json_t *event);
/* Add or replace one variant (from a webhook); does not store. */
void sh_idmap_set(struct sh_ctx *c, const char *sku, const char *variant, const char *item,
                  const char *product);
/* Store the map in the host's state. */
int sh_idmap_save(struct sh_ctx *c);
void sh_idmap_free(struct sh_idmap *m);

/* shopify_stock.c */
bool sh_is_stock(const char *type);
/* Handle a prefix of the n events (parsed, borrowed); returns how many (>= 1). */
size_t sh_stock_batch(struct sh_ctx *c, json_t *const *events, size_t n, int *rcs,
                      struct omb_deliver_result *res);

/* shopify_price.c */
int sh_price_deliver(struct sh_ctx *c, const json_t *event, struct omb_deliver_result *res);

/* shopify_snapshot.c */
int sh_snapshot(void *ctx, const json_t *request, json_t **result, char *err, size_t errlen);

/* shopify_webhook.c */
int sh_webhook_register(struct sh_ctx *c);

/* shopify_util.c */
int sh_locations_parse(char *const *list, json_t **to_shop, json_t **from_shop, char *err,
                       size_t errlen);
/* The numeric tail of a gid ("gid://shopify/Location/222" -> "222"; "222" stays), borrowed. */
const char *sh_gid_id(const char *gid);
/* Decimal digits of a currency (2 for most, 0 for JPY...). */
int sh_currency_exponent(const char *currency);
/* "119.99" -> 11999 for exponent 2. 0 or OMB_EINVAL. */
int sh_price_to_minor(const char *s, int exponent, int64_t *minor);
/* 11999 -> "119.99" into out. */
void sh_minor_to_price(int64_t minor, int exponent, char *out, size_t outlen);
const char *sh_body_string(const json_t *event, const char *name);
/* Milliseconds since the epoch of an RFC 3339 time. 0, or OMB_EINVAL. */
int sh_time_parse(const char *s, int64_t *ms);
bool sh_sku_ok(const char *sku);

#endif /* OMNIBUS_CONNECTOR_SHOPIFY_H */
