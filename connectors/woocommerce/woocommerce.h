/* The woocommerce connector, internal: its context and what its files share.
 *
 * woocommerce.c  options, validate, lifecycle, deliver and deliver_batch, the descriptor
 * wc_api.c       the HTTP client: one libcurl easy handle, Basic or query-parameter auth,
 *                JSON in and out, pagination headers, what an answer means for a delivery
 * wc_map.c       the SKU -> product id (+ parent id) map: read from the shop (paginated),
 *                kept in the host's state in a few chunks, restored at start
 * wc_out.c       stock.level / stock.available / price.set -> batch update items
 * wc_snapshot.c  the admin's snapshot: stock_quantity and regular_price read back by SKU
 * wc_webhook.c   webhooks in: ping, signature, dedupe key, order.created, product.updated
 * wc_oauth.c     OAuth 1.0a one-legged signing (auth oauth1, plain-HTTP shops)
 * wc_util.c      money (decimal strings <-> minor units) and small helpers
 *
 * Everything runs on the instance's thread: no locks. */
#ifndef OMNIBUS_CONNECTOR_WOOCOMMERCE_H
#define OMNIBUS_CONNECTOR_WOOCOMMERCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <omnibus/plugin.h>

#define WC_REPLY_MAX (32u * 1024u * 1024u)
#define WC_BATCH_MAX 100 /* WooCommerce's woocommerce_rest_batch_items_limit */
#define WC_PER_PAGE 100
#define WC_STATE_CHUNK 2000 /* map entries per state value */
#define WC_STATE_CHUNKS_MAX 64

enum wc_auth { WC_AUTH_BASIC = 0, WC_AUTH_QUERY = 1, WC_AUTH_OAUTH1 = 2 };

struct wc_buf {
    char *data;
    size_t len, cap;
    bool overflow;
    char retry_after[64];
    char link[2048];
    char total_pages[32];
};

struct wc_ctx {
    /* Options (owned by the core). */
    char *site_url;
    char *consumer_key;
    char *consumer_secret;
    int auth;
    char *location;
    char *currency;
    char *webhook_secret;
    char *webhook_path;
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    char *ca_file;
    int64_t retry_after_max_ms;
    bool emit_changes;

    /* The plugin's own. */
    const struct omb_host_api *host;
    struct omb_instance *self;
    char *api;             /* site_url without trailing '/' + "/wp-json/wc/v3" */
    json_t *map;           /* sku -> [id, parent_id] */
    json_t *written;       /* id -> {"stock"|"price": {"last", "w": [[v, ms]...]}} (echoes) */
    int64_t map_loaded_ms; /* 0: never loaded */
    bool map_restored;     /* the map came from state */
    CURL *curl;
    struct curl_slist *headers;
    struct wc_buf reply;
    bool curl_global;
    uint64_t warm_timer;
    char msg[512];
};

struct wc_resp {
    long status;
    json_t *json;
    int64_t retry_after_ms; /* -1: absent */
    char next[2048];        /* Link rel=next, "" when none */
    long total_pages;       /* X-WP-TotalPages, -1 when absent */
};

/* wc_api.c */
int wc_api_start(struct wc_ctx *c);
void wc_api_stop(struct wc_ctx *c);
/* METHOD api+path (path may hold a query; or a full URL when it starts with "http"), body
 * borrowed. 0 when the shop answered (see r), OMB_ERETRY with err on no answer. */
int wc_call(struct wc_ctx *c, const char *method, const char *path, const json_t *body,
            struct wc_resp *r, char *err, size_t errlen);
void wc_resp_clear(struct wc_resp *r);
/* What a non-2xx answer means for the events of a request: OMB_ERETRY (429, 408, 5xx;
 * res->retry_after_ms from Retry-After) or OMB_EREJECT (401/403 and other 4xx). */
int wc_fail(struct wc_ctx *c, const struct wc_resp *r, const char *what,
            struct omb_deliver_result *res);

/* wc_oauth.c */
/* The query to send for METHOD base_url?query signed with OAuth 1.0a (HMAC-SHA256): the
 * request's parameters and the oauth_* ones, oauth_signature last. New string, or NULL. */
char *wc_oauth_query(struct wc_ctx *c, const char *method, const char *base_url, const char *query);

/* wc_map.c */
/* Read the whole map from the shop and store it in state. OMB_OK or what the failure means. */
int wc_map_load(struct wc_ctx *c, struct omb_deliver_result *res);
/* Restore the map from state: true when one was there. */
bool wc_map_restore(struct wc_ctx *c);
/* Look sku up: OMB_OK with *id and *parent; OMB_ENOTFOUND when unknown. */
int wc_map_find(struct wc_ctx *c, const char *sku, json_int_t *id, json_int_t *parent);
/* Set (id > 0) or drop (id == 0) one entry; persist when something changed. */
void wc_map_set(struct wc_ctx *c, const char *sku, json_int_t id, json_int_t parent);
/* Persist the whole map. */
int wc_map_save(struct wc_ctx *c);
/* The SKU of a product id (borrowed) or NULL. */
const char *wc_map_sku_of(struct wc_ctx *c, json_int_t id);

/* wc_out.c */
int wc_deliver_batch(void *ctx, const struct omb_raw_event *events, size_t n, int *rcs,
                     struct omb_deliver_result *res);
int wc_deliver_one(struct wc_ctx *c, const json_t *event, struct omb_deliver_result *res);

/* Remember what a successful batch item (borrowed) wrote to product id, so that the
 * product.updated webhook it causes is recognised as an echo. */
void wc_written_note(struct wc_ctx *c, json_int_t id, const json_t *item);
/* Remember value (borrowed) as the last one the shop showed for field ("stock" or "price") of
 * product id (the map read, a webhook). */
void wc_seen_note(struct wc_ctx *c, json_int_t id, const char *field, const json_t *value);
/* True when value (borrowed) is no change for field ("stock" or "price") of product id: the
 * last one seen or written, or one this connector wrote within the last 10 minutes (an echo,
 * maybe a late one). */
bool wc_written_recent(struct wc_ctx *c, json_int_t id, const char *field, const json_t *value);

/* wc_snapshot.c */
int wc_snapshot(void *ctx, const json_t *request, json_t **result, char *err, size_t errlen);

/* wc_webhook.c */
int wc_webhook_register(struct wc_ctx *c);

/* wc_util.c */
/* "129.99" -> 12999 (decimals digits, at most 2); false for anything else. */
bool wc_money_parse(const char *s, json_int_t *minor);
/* 12999 -> "129.99" */
void wc_money_format(json_int_t minor, char *out, size_t outlen);
bool wc_sku_ok(const char *sku);
/* Percent-encode s for a query (new string, caller frees) or NULL. */
char *wc_urlencode(const char *s);

#endif /* OMNIBUS_CONNECTOR_WOOCOMMERCE_H */
