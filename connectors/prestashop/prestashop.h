/* The prestashop connector, internal: its context and what its files share.
 *
 * prestashop.c   options, validate, lifecycle, deliver dispatch, the descriptor
 * ps_api.c       the HTTP client (libcurl; the key as Basic username, empty password), the XML
 *                answers (libxml2), PrestaShop's <errors>, what an answer means
 * ps_map.c       the identity map SKU -> id_product, id_product_attribute, stock_available id:
 *                read over paged lists, kept in host state in chunks, refreshed on unknown SKUs
 * ps_out.c       stock.level/stock.available -> stock_availables; price.set -> products or
 *                combinations (read, modify, write back whole or PATCH)
 * ps_poll.c      polling in: products by date_upd (price.set), stock rows by comparison
 *                (stock.level), the cursor and last-seen values in host state, acked emits
 * ps_snapshot.c  the snapshot capability: stock and prices for a set of SKUs
 *
 * Everything here is hidden; the plugin exports only omb_plugin_descriptor. All of it runs on
 * the instance's thread: no locks. */
#ifndef OMNIBUS_CONNECTOR_PRESTASHOP_H
#define OMNIBUS_CONNECTOR_PRESTASHOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <libxml/tree.h>
#include <omnibus/plugin.h>

#define PS_REPLY_MAX (32u * 1024u * 1024u)
/* SKUs per state value of the identity map. */
#define PS_MAP_CHUNK 2000
/* ids per filter[id]=[1|2|...] read (snapshot). */
#define PS_IDS_PER_READ 50

enum ps_write_method { PS_WRITE_AUTO = 0, PS_WRITE_PUT = 1, PS_WRITE_PATCH = 2 };

/* The body of the answer being read. */
struct ps_buf {
    char *data;
    size_t len, cap;
    bool overflow;
    char retry_after[64];
    char version[32]; /* PSWS-Version of the answer, "" when absent */
};

/* What one call to the webservice gave. */
struct ps_resp {
    long status;            /* HTTP status; 0 when no answer came */
    xmlDoc *doc;            /* the body parsed (new), NULL when empty or not XML */
    int64_t retry_after_ms; /* -1 when absent */
};

/* One poll's acknowledgements: the state to commit once every emitted event is stored. */
struct ps_poll_batch {
    size_t pending; /* acks still to come */
    bool failed;    /* an ack said the event was not stored: commit nothing */
    json_t *commit; /* key -> value to state_put when the last ack comes (new) */
    struct ps_ctx *c;
};

struct ps_ctx {
    /* Options: filled by the core, owned by it. */
    char *shop_url;
    char *key;
    int64_t id_shop;
    char *location;
    char *currency;
    char *tax_rate;
    int write_method;
    int64_t poll_ms;
    int64_t page_size;
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    char *ca_file;
    int64_t retry_after_max_ms;

    /* Ours, zeroed by the core. */
    const struct omb_host_api *host;
    struct omb_instance *self;
    char *base;        /* shop_url without a trailing '/', then "/api/" is appended */
    double tax_factor; /* 1 + tax-rate / 100 */
    json_t *map;       /* sku -> [id_product, id_product_attribute, stock id] (all three owned) */
    json_t *by_stock;  /* stock id (string) -> sku */
    json_t *parents;   /* id_product (string) -> true: products with combinations */
    int64_t map_loaded_ms;
    CURL *curl;
    struct curl_slist *headers;
    struct ps_buf reply;
    bool curl_global;
    int ps_major; /* the shop's major version (PSWS-Version), 0 until an answer had it */
    uint64_t poll_timer;
    struct ps_poll_batch *batch; /* the poll whose acks are awaited, or NULL */
};

/* ps_api.c */
int ps_api_start(struct ps_ctx *c);
void ps_api_stop(struct ps_ctx *c);
/* METHOD base/api/path (path includes the query) with an XML body (may be NULL). 0 when the
 * shop answered (any status: see r), OMB_ERETRY (no answer; why in err) or OMB_ENOMEM. */
int ps_call(struct ps_ctx *c, const char *method, const char *path, const char *body,
            size_t body_len, struct ps_resp *r, char *err, size_t errlen);
void ps_resp_clear(struct ps_resp *r);
bool ps_ok(const struct ps_resp *r);
/* What a failed answer means: OMB_ERETRY (5xx, 408, 429) or OMB_EREJECT (401, 405, other
 * 4xx), with PrestaShop's error codes and messages in res->reason, prefixed by `what`. */
int ps_fail(struct ps_ctx *c, const struct ps_resp *r, const char *method, const char *what,
            char *reason, size_t reasonlen, int64_t *retry_after_ms);
/* The first element child of n named name (or any name when NULL), or NULL. */
xmlNode *ps_child(xmlNode *n, const char *name);
xmlNode *ps_next(xmlNode *n, const char *name);
/* The text of n (trimmed, a new string; "" when empty), or NULL when n is NULL. */
char *ps_text(xmlNode *n);
/* The text of n's child name as an integer; def when absent or not a number. */
long long ps_child_int(xmlNode *n, const char *name, long long def);
/* The element under <prestashop> (the resource or the list), or NULL. */
xmlNode *ps_body(const struct ps_resp *r);

/* ps_map.c */
typedef int (*ps_row_fn)(struct ps_ctx *c, xmlNode *row, void *arg);
/* GET resource?query&limit=offset,count page after page until a short one, fn on each row
 * (a non-zero return from fn: out of memory). 0, or the failure's meaning with reason. */
int ps_list_all(struct ps_ctx *c, const char *resource, const char *query, ps_row_fn fn, void *arg,
                char *reason, size_t reasonlen, int64_t *retry_after_ms);
/* Restore the map from host state (at start). */
void ps_map_restore(struct ps_ctx *c);
/* Read the whole map from the shop and store it in state. 0, or the failure's meaning with
 * reason filled. */
int ps_map_load(struct ps_ctx *c, char *reason, size_t reasonlen, int64_t *retry_after_ms);
/* The ids of sku. When sku is unknown, the map is read again once (*reloaded records it, for
 * the whole delivery) if it was read before newer_than_ms (the event's `received`: a map read
 * since already did not have it, so a burst of unknown SKUs costs one read). OMB_OK,
 * OMB_EREJECT (unknown: reason names the SKU and the shop) or a failed load's meaning. */
int ps_map_lookup(struct ps_ctx *c, const char *sku, int64_t newer_than_ms, bool *reloaded,
                  long long *id_product, long long *id_pa, long long *stock_id, char *reason,
                  size_t reasonlen, int64_t *retry_after_ms);
/* The envelope's `received` (else `time`) of a delivered event (borrowed) in ms; now when
 * absent. */
int64_t ps_event_received_ms(const struct ps_ctx *c, const json_t *event);
void ps_map_free(struct ps_ctx *c);
/* True when id_product has combinations (its own stock row is their sum). */
bool ps_map_is_parent(const struct ps_ctx *c, long long id_product);

/* ps_out.c */
/* stock.level / stock.available (event borrowed): read the SKU's stock row and write its
 * quantity. OMB_OK, OMB_ERETRY or OMB_EREJECT with res filled. */
int ps_stock_deliver(struct ps_ctx *c, const json_t *event, const char *type,
                     struct omb_deliver_result *res);
/* price.set (event borrowed): the product's price or the combination's impact. As above. */
int ps_price_deliver(struct ps_ctx *c, const json_t *event, struct omb_deliver_result *res);
/* "105.680000" -> minor units with the tax factor applied (rounded). */
long long ps_price_to_minor(const struct ps_ctx *c, const char *price);

/* ps_poll.c */
/* The poll timer's callback (arg: the ctx): read, emit (acked), then commit the state. */
void ps_poll_tick(void *arg);
/* Free a poll whose acks never came (destroy after an abnormal end). */
void ps_poll_free(struct ps_ctx *c);

/* ps_snapshot.c */
/* The descriptor's snapshot: request borrowed, *result new on 0 (plugin.h). */
int ps_snapshot(void *ctx, const json_t *request, json_t **result, char *err, size_t errlen);

#endif /* OMNIBUS_CONNECTOR_PRESTASHOP_H */
