/* Prices out: price.set -> productVariantsBulkUpdate(productId, variants: [{id, price,
 * compareAtPrice?}]) with the price as Shopify's decimal string ("119.99" from 11999 minor
 * units, by the currency's number of decimals). The shop has one currency (shop.currencyCode,
 * read with the identity map): a price in another currency is rejected before any call, as are
 * price lists other than base and prices whose window has not opened (the price book emits
 * those when they apply). Setting a price is absolute, so a retry is harmless. */
#include <stdio.h>
#include <string.h>

#include "shopify.h"

static const char MUTATION[] =
    "mutation($productId: ID!, $variants: [ProductVariantsBulkInput!]!) { "
    "productVariantsBulkUpdate(productId: $productId, variants: $variants) { "
    "userErrors { code field message } } }";

/* The decimal string of a money object in the shop's currency, or OMB_EREJECT. */
static int money(struct sh_ctx *c, const json_t *m, const char *what, char *out, size_t outlen,
                 struct omb_deliver_result *res)
{
    const json_t *amount = json_object_get(m, "amount");
    const char *cur = json_string_value(json_object_get(m, "currency"));
    if (!json_is_integer(amount) || !cur) {
        snprintf(res->reason, sizeof(res->reason),
                 "price.set: %s is not {amount (integer minor units), currency}", what);
        return OMB_EREJECT;
    }
    if (strcmp(cur, c->map.currency) != 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "price.set: %s is in %.8s but the shop %s sells in %s", what, cur, c->shop_url,
                 c->map.currency);
        return OMB_EREJECT;
    }
    if (json_integer_value(amount) < 0) {
        snprintf(res->reason, sizeof(res->reason), "price.set: %s is negative", what);
        return OMB_EREJECT;
    }
    sh_minor_to_price(json_integer_value(amount), sh_currency_exponent(cur), out, outlen);
    return OMB_OK;
}

int sh_price_deliver(struct sh_ctx *c, const json_t *event, struct omb_deliver_result *res)
{
    const json_t *body = json_object_get(event, "body");
    const char *sku = json_string_value(json_object_get(body, "sku"));
    const char *list = json_string_value(json_object_get(body, "price_list"));
    const char *from = json_string_value(json_object_get(body, "valid_from"));
    bool refreshed = false;
    const json_t *entry = NULL;
    json_t *vars = NULL;
    struct sh_resp r = {0};
    char price[40], compare[40], err[256], vid[64], pid[64];
    int rc;
    if (!sh_sku_ok(sku)) {
        snprintf(res->reason, sizeof(res->reason), "price.set without a valid body.sku");
        return OMB_EREJECT;
    }
    if (list && strcmp(list, "base") != 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "price.set of %s on price list %.64s: the shop has only the base price", sku,
                 list);
        return OMB_EREJECT;
    }
    if (from && strcmp(from, json_string_value(json_object_get(event, "received"))
                                 ? json_string_value(json_object_get(event, "received"))
                                 : "") > 0) {
        snprintf(res->reason, sizeof(res->reason),
                 "price.set of %s valid from %.40s, later than it came: Shopify cannot "
                 "schedule a price",
                 sku, from);
        return OMB_EREJECT;
    }
    rc = sh_idmap_resolve(c, sku, sh_event_received_ms(event), &refreshed, &entry, res);
    if (rc != OMB_OK) {
        return rc;
    }
    if (!c->map.currency[0] && (rc = sh_idmap_load(c, res)) != OMB_OK) {
        return rc;
    }
    if ((rc = money(c, json_object_get(body, "price"), "price", price, sizeof(price), res)) != 0) {
        return rc;
    }
    snprintf(vid, sizeof(vid), "gid://shopify/ProductVariant/%s",
             json_string_value(json_object_get(entry, "v")));
    snprintf(pid, sizeof(pid), "gid://shopify/Product/%s",
             json_string_value(json_object_get(entry, "p")));
    vars =
        json_pack("{s:s, s:[{s:s, s:s}]}", "productId", pid, "variants", "id", vid, "price", price);
    if (!vars) {
        return OMB_ERETRY;
    }
    const json_t *cmp = json_object_get(body, "compare_at");
    if (cmp) {
        if ((rc = money(c, cmp, "compare_at", compare, sizeof(compare), res)) != 0) {
            goto out;
        }
        json_object_set_new(json_array_get(json_object_get(vars, "variants"), 0), "compareAtPrice",
                            json_string(compare));
    }
    int64_t wait_ms = 0;
    if (sh_graphql(c, MUTATION, vars, 10.0, SH_THROTTLE_WAIT_MAX_MS, &r, &wait_ms, err,
                   sizeof(err)) != 0) {
        snprintf(res->reason, sizeof(res->reason), "productVariantsBulkUpdate: %s", err);
        res->retry_after_ms = wait_ms;
        rc = OMB_ERETRY;
        goto out;
    }
    rc = sh_check(c, &r, "productVariantsBulkUpdate", res);
    if (rc != OMB_OK) {
        goto out;
    }
    const json_t *ue =
        json_array_get(json_object_get(json_object_get(json_object_get(r.json, "data"),
                                                       "productVariantsBulkUpdate"),
                                       "userErrors"),
                       0);
    if (ue) {
        const char *code = json_string_value(json_object_get(ue, "code"));
        const char *msg = json_string_value(json_object_get(ue, "message"));
        snprintf(res->reason, sizeof(res->reason),
                 "productVariantsBulkUpdate of %s: userError %s: %.300s", sku, code ? code : "?",
                 msg ? msg : "?");
        rc = OMB_EREJECT;
    }
out:
    sh_resp_clear(&r);
    json_decref(vars);
    return rc;
}
