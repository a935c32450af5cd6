/* A destination's conflation and freshness, for the routes that send to it with
 * conflate="key" (docs/durability.md): of the deliveries pending for one route and key, only the
 * newest is sent (the older ones are superseded, their bytes freed at once), and a delivery whose
 * event is older, by its own `time`, than one already delivered for that route and key is never
 * sent after it. Both are kept in memory, per consumer: a restart forgets what was delivered (the
 * journal order still holds). */
#include <stdlib.h>
#include <string.h>

#include "consumer_priv.h"
#include "envelope.h"
#include "instance_priv.h"
#include "log.h"

struct entry {
    char *key;
    struct delivery *pending; /* the newest pending delivery, or NULL */
    int64_t delivered_us;     /* event time of the newest delivered, INT64_MIN: none */
};

struct consumer_keys {
    struct entry *v; /* open addressing, linear probing; key NULL: empty */
    size_t n, cap;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

static struct entry *find(struct consumer_keys *m, const char *key)
{
    if (!m || m->cap == 0) {
        return NULL;
    }
    for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->v[i].key) {
            return NULL;
        }
        if (strcmp(m->v[i].key, key) == 0) {
            return &m->v[i];
        }
    }
}

static int grow(struct consumer_keys *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    struct entry *v = calloc(cap, sizeof(*v));
    if (!v) {
        return -1;
    }
    for (size_t k = 0; k < m->cap; k++) {
        if (m->v[k].key) {
            size_t i = hash(m->v[k].key) & (cap - 1);
            while (v[i].key) {
                i = (i + 1) & (cap - 1);
            }
            v[i] = m->v[k];
        }
    }
    free(m->v);
    m->v = v;
    m->cap = cap;
    return 0;
}

/* The entry of key, made if missing; NULL when out of memory. Entries are never removed (a
 * retailer's keys are its SKUs and locations: a bounded set). */
static struct entry *get(struct consumer_keys *m, const char *key)
{
    struct entry *e = find(m, key);
    if (e) {
        return e;
    }
    if ((m->n + 1) * 4 > m->cap * 3 && grow(m) != 0) {
        return NULL;
    }
    char *k = strdup(key);
    if (!k) {
        return NULL;
    }
    size_t i = hash(key) & (m->cap - 1);
    while (m->v[i].key) {
        i = (i + 1) & (m->cap - 1);
    }
    m->v[i] = (struct entry){ .key = k, .pending = NULL, .delivered_us = INT64_MIN };
    m->n++;
    return &m->v[i];
}

void consumer_keys_free(struct consumer_keys **mp)
{
    struct consumer_keys *m = *mp;
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->cap; i++) {
        free(m->v[i].key);
    }
    free(m->v);
    free(m);
    *mp = NULL;
}

int consumer_conflate_add(struct omb_consumer *c, struct delivery *d, const char *key)
{
    if (!c->keys && !(c->keys = calloc(1, sizeof(*c->keys)))) {
        return OMB_ENOMEM;
    }
    size_t len = strlen(d->route) + 1 + strlen(key) + 1;
    d->ckey = malloc(len);
    if (!d->ckey) {
        return OMB_ENOMEM;
    }
    snprintf(d->ckey, len, "%s\x1f%s", d->route, key);
    struct entry *e = get(c->keys, d->ckey);
    if (!e) {
        free(d->ckey);
        d->ckey = NULL;
        return OMB_ENOMEM;
    }
    d->conflating = true;
    char when[64];
    int64_t us = 0;
    omb_envelope_field(d->env, d->env_len, "time", when, sizeof(when));
    d->time_us = omb_time_parse_us(when, &us) == 0 ? us : d->received_us;
    struct delivery *old = e->pending;
    /* The head being attempted is not taken back: the new one follows it. */
    if (old && !(old == c->q.head && c->attempts > 0)) {
        old->superseded = true;
        free(old->env);
        free(old->body);
        old->env = old->body = NULL;
        old->env_len = old->body_len = 0;
        c->live_conflating--;
        atomic_fetch_add(&c->inst->stats.conflated, 1);
    }
    e->pending = d;
    c->live_conflating++;
    return 0;
}

bool consumer_conflate_skip(struct omb_consumer *c, const struct delivery *d)
{
    if (!d->conflating) {
        return false;
    }
    if (d->superseded) {
        return true;
    }
    const struct entry *e = find(c->keys, d->ckey);
    if (e && e->delivered_us != INT64_MIN && d->time_us < e->delivered_us) {
        atomic_fetch_add(&c->inst->stats.stale, 1);
        omb_log(OMB_LOG_INFO, c->inst->scope,
                "route '%s': event %s is older than one already delivered for its key; not sent",
                d->route, d->id);
        return true;
    }
    return false;
}

bool consumer_conflate_sendable(const struct omb_consumer *c, const struct delivery *d)
{
    if (!d->conflating) {
        return true;
    }
    const struct entry *e = find(c->keys, d->ckey);
    return !d->superseded && !(e && e->delivered_us != INT64_MIN && d->time_us < e->delivered_us);
}

void consumer_conflate_done(struct omb_consumer *c, const struct delivery *d, bool delivered)
{
    if (!d->conflating) {
        return;
    }
    struct entry *e = find(c->keys, d->ckey);
    if (!e) {
        return;
    }
    if (e->pending == d) {
        e->pending = NULL;
    }
    if (!d->superseded) {
        c->live_conflating--;
    }
    if (delivered && (e->delivered_us == INT64_MIN || d->time_us > e->delivered_us)) {
        e->delivered_us = d->time_us;
    }
}
