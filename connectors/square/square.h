/* The square connector, internal: its context and what its files share.
 *
 * square.c          options, validate, lifecycle, deliver dispatch, the descriptor
 * square_api.c      the HTTP client: one libcurl easy handle, Bearer token, Square-Version,
 *                   JSON in and out, and what an answer means for a delivery (ok/retry/reject)
 * square_catalog.c  the SKU <-> ITEM_VARIATION id map, read from the catalog (paginated)
 * square_stock.c    stock.level, stock.available, stock.delta -> inventory batch-create
 * square_price.c    price.set -> read the variation, set its price, upsert the whole object
 * square_webhook.c  webhooks in: signature, inventory.count.updated -> stock.level
 * square_util.c     RFC 3339 times, the location map, small helpers
 *
 * Everything here has hidden visibility (built with -fvisibility=hidden); the plugin exports
 * only omb_plugin_descriptor. All of it runs on the instance's thread: no locks.
 */
#ifndef OMNIBUS_CONNECTOR_SQUARE_H
#define OMNIBUS_CONNECTOR_SQUARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <omnibus/plugin.h>

/* The biggest response body kept (a catalog page of 100 variations is ~100 KB). */
#define SQ_REPLY_MAX (16u * 1024u * 1024u)
/* Webhooks that name an unknown variation refresh the catalog at most this often. */
#define SQ_WEBHOOK_REFRESH_MS 30000
/* Square takes inventory changes that occurred within the last 24 hours. */
#define SQ_CHANGE_MAX_AGE_MS (24LL * 3600 * 1000)

/* The SKU map, built from the catalog's ITEM_VARIATION objects. */
struct sq_catalog {
    json_t *sku_to_id; /* sku -> variation id (string) */
    json_t *id_to_sku; /* variation id -> sku (string) */
    json_t *ambiguous; /* sku -> array of the variation ids that share it */
    int64_t loaded_ms; /* wall clock of the last complete load; 0: never loaded */
    bool stale;        /* a catalog.version.updated webhook came: reload on the next need */
    int64_t webhook_refresh_ms; /* monotonic time of the last refresh a webhook caused */
    size_t variations;          /* how many variations the last load saw */
};

/* The body of the answer being read (square_api.c). */
struct sq_buf {
    char *data;
    size_t len, cap;
    bool overflow;
    char retry_after[64];
};

struct sq_ctx {
    /* Options: filled by the core before create() and owned by it. */
    char *base_url;
    char *token;
    char *square_version;
    char **locations;
    char *currency;
    char *signature_key;
    char *notification_url;
    char *webhook_path;
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    char *ca_file;
    int64_t retry_after_max_ms;

    /* Everything below is zeroed by the core and owned by the plugin. */
    const struct omb_host_api *host;
    struct omb_instance *self;
    char *base;              /* base_url without a trailing '/' */
    json_t *loc_to_square;   /* canonical location -> Square location_id */
    json_t *loc_from_square; /* Square location_id -> canonical location */
    struct sq_catalog catalog;
    CURL *curl;
    struct curl_slist *headers; /* Authorization, Square-Version, Content-Type... */
    struct sq_buf reply;
    bool curl_global;
    uint64_t warm_timer; /* the one-shot timer that reads the SKU map after start (0: none) */
    char msg[512];       /* the text of the webhook answer being made (until the handler returns) */
};

/* What one call to Square gave. */
struct sq_resp {
    long status;            /* the HTTP status; 0 when no answer came */
    json_t *json;           /* the body parsed (new), NULL when empty or not JSON */
    int64_t retry_after_ms; /* Retry-After, capped by retry-after-max; -1 when absent */
};

/* square_api.c */
int sq_api_start(struct sq_ctx *c);
void sq_api_stop(struct sq_ctx *c);
/* Call METHOD base+path with body (borrowed, may be NULL). 0 when Square answered (any status:
 * see r), or OMB_ERETRY (no answer: connection, timeout, TLS; why in err) or OMB_ENOMEM.
 * r->json is new: sq_resp_clear it. */
int sq_call(struct sq_ctx *c, const char *method, const char *path, const json_t *body,
            struct sq_resp *r, char *err, size_t errlen);
void sq_resp_clear(struct sq_resp *r);
/* The first member of `errors` in body (borrowed), or NULL. */
const json_t *sq_first_error(const json_t *body);
/* The code of the first error ("" when none; borrowed). */
const char *sq_error_code(const json_t *body);
/* What an answer that is not a clean 2xx means for the delivery: OMB_ERETRY (429, 5xx, 408,
 * TEMPORARY_ERROR, RATE_LIMITED) with res->retry_after_ms from Retry-After, or OMB_EREJECT
 * (401/403 and other 4xx, an error inside a 2xx), with Square's category, code, detail and
 * field in res->reason, prefixed by `what`. */
int sq_fail(struct sq_ctx *c, const struct sq_resp *r, const char *what,
            struct omb_deliver_result *res);
/* A transport failure (sq_call gave OMB_ERETRY): the reason, and OMB_ERETRY. */
int sq_transport_fail(struct sq_ctx *c, const char *what, const char *err,
                      struct omb_deliver_result *res);
/* True for a 2xx answer without errors. */
bool sq_ok(const struct sq_resp *r);

/* square_catalog.c */
/* Read the whole SKU map now (it replaces the one before only when the read succeeds). OMB_OK,
 * or what the failed call means, with res filled. */
int sq_catalog_load(struct sq_ctx *c, struct omb_deliver_result *res);
/* The variation id of sku (borrowed from the map, valid until the next load). Loads the map
 * when there is none; when sku is unknown and the map is older than the event (received_ms) or
 * marked stale, reloads it once (*reloaded records that, for the whole delivery). OMB_OK with
 * *id, OMB_EREJECT (unknown or ambiguous SKU, naming it) or what a failed load says. */
int sq_catalog_variation(struct sq_ctx *c, const char *sku, int64_t received_ms, bool *reloaded,
                         const char **id, struct omb_deliver_result *res);
/* Forget what is known of sku's variation (after Square said it is gone). */
void sq_catalog_forget(struct sq_ctx *c, const char *sku);
/* The SKU of a variation id (borrowed) for webhooks: loads the map when there is none or it is
 * stale, and reloads once when the id is unknown, at most every SQ_WEBHOOK_REFRESH_MS. NULL when
 * unknown; *failed is set when a needed load failed (answer the webhook 503). */
const char *sq_catalog_sku(struct sq_ctx *c, const char *variation_id, bool *failed);
void sq_catalog_free(struct sq_catalog *cat);

/* square_stock.c */
int sq_stock_deliver(struct sq_ctx *c, const json_t *event, const char *type,
                     struct omb_deliver_result *res);

/* square_price.c */
int sq_price_deliver(struct sq_ctx *c, const json_t *event, struct omb_deliver_result *res);

/* square_webhook.c */
int sq_webhook_register(struct sq_ctx *c);
void sq_webhook_request(void *arg, const struct omb_http_request *req,
                        struct omb_http_response *res);

/* square_util.c */
/* Milliseconds since the epoch of an RFC 3339 time ("2026-11-20T06:00:00Z", fraction and
 * offset allowed). 0, or OMB_EINVAL. */
int sq_time_parse(const char *s, int64_t *ms);
/* ms as "2026-11-20T06:00:00Z" (".250Z" when there are milliseconds) into out (>= 32 bytes). */
void sq_time_format(int64_t ms, char *out, size_t outlen);
/* Parse the locations option ("WAW01=L8J2...", ...) into two new objects. 0, or OMB_EINVAL
 * with a message in err (the maps are then NULL). */
int sq_locations_parse(char *const *list, json_t **to_square, json_t **from_square, char *err,
                       size_t errlen);
/* The envelope's `received` (else `time`) of a delivered event in ms; 0 when absent. */
int64_t sq_event_received_ms(const json_t *event);
/* A canonical SKU: 1-64 characters, no white space, no '@' (docs/events.md). */
bool sq_sku_ok(const char *sku);
/* A member of the event's body as a string (borrowed) or NULL. */
const char *sq_body_string(const json_t *event, const char *name);

#endif /* OMNIBUS_CONNECTOR_SQUARE_H */
