/* Canonical event envelopes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <omnibus/err.h>
#include "envelope.h"
#include "textbuf.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t id_last_ms;
static uint8_t id_last_rand[10];

int64_t omb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t omb_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t omb_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fill_random(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n <= 0) {
            /* getrandom cannot fail after boot for small sizes; fall back to the clock so that
             * ids stay unique through the monotonic increment below anyway. */
            for (; got < len; got++) {
                buf[got] = (uint8_t)(omb_monotonic_ms() >> (got % 8));
            }
            return;
        }
        got += (size_t)n;
    }
}

void omb_id_new(char out[OMB_EVENT_ID_LEN + 1])
{
    uint8_t b[16];
    uint64_t ms = (uint64_t)omb_now_ms();

    pthread_mutex_lock(&id_lock);
    if (ms <= id_last_ms) {
        /* Same millisecond (or the clock stepped back): increment the random part so that ids
         * stay strictly increasing. */
        ms = id_last_ms;
        for (int i = 9; i >= 0; i--) {
            if (++id_last_rand[i] != 0) {
                break;
            }
        }
    } else {
        fill_random(id_last_rand, sizeof(id_last_rand));
        id_last_rand[0] &= 0x7f; /* headroom for increments within one ms */
        id_last_ms = ms;
    }
    memcpy(b + 6, id_last_rand, 10);
    pthread_mutex_unlock(&id_lock);

    for (int i = 5; i >= 0; i--) {
        b[i] = (uint8_t)(ms & 0xff);
        ms >>= 8;
    }
    /* 128 bits as 26 base32 digits: the first digit carries the top 3 bits. */
    int bit = -2; /* 26*5 = 130 bits: two leading zero bits */
    for (int i = 0; i < OMB_EVENT_ID_LEN; i++) {
        unsigned v = 0;
        for (int j = 0; j < 5; j++, bit++) {
            v <<= 1;
            if (bit >= 0) {
                v |= (b[bit / 8] >> (7 - bit % 8)) & 1u;
            }
        }
        out[i] = crockford[v];
    }
    out[OMB_EVENT_ID_LEN] = '\0';
}

void omb_time_format(int64_t ms, char out[OMB_TIME_LEN + 1])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[64]; /* roomy enough for any int the compiler imagines; the real value is 24 */
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    memcpy(out, buf, OMB_TIME_LEN);
    out[OMB_TIME_LEN] = '\0';
}

void omb_time_format_us(int64_t us, char out[OMB_TIME_US_LEN + 1])
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[64];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
    memcpy(out, buf, OMB_TIME_US_LEN);
    out[OMB_TIME_US_LEN] = '\0';
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int omb_time_parse_us(const char *s, int64_t *us_out)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60) {
        return OMB_EINVAL;
    }
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            if (n < 6) {
                frac = frac * 10 + (*p - '0');
            }
        }
        if (n == 0) {
            return OMB_EINVAL;
        }
        for (; n < 6; n++) {
            frac *= 10;
        }
    }
    if ((*p != 'Z' && *p != 'z') || p[1] != '\0') {
        return OMB_EINVAL;
    }
    /* Days from the civil date (Howard Hinnant's algorithm), no timegm and no TZ involved. */
    int yy = y - (mo <= 2);
    int era = (yy >= 0 ? yy : yy - 399) / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *us_out = ((days * 86400 + h * 3600 + mi * 60 + sec) * 1000000) + frac;
    return 0;
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool types_prefix_valid(const char *s, size_t len)
{
    if (len == 0 || len > OMB_EVENT_TYPE_MAX) {
        return false;
    }
    bool word_start = true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (word_start) {
                return false;
            }
            word_start = true;
            continue;
        }
        if (word_start && !(c >= 'a' && c <= 'z')) {
            return false;
        }
        if (!word_char(c)) {
            return false;
        }
        word_start = false;
    }
    return !word_start;
}

bool omb_type_valid(const char *type)
{
    return type && types_prefix_valid(type, strlen(type));
}

bool omb_type_pattern_valid(const char *pattern)
{
    if (!pattern) {
        return false;
    }
    size_t len = strlen(pattern);
    if (len == 1 && pattern[0] == '*') {
        return true;
    }
    if (len > 2 && pattern[len - 2] == '.' && pattern[len - 1] == '*') {
        return types_prefix_valid(pattern, len - 2);
    }
    return types_prefix_valid(pattern, len);
}

bool omb_type_match(const char *pattern, const char *type)
{
    size_t plen = strlen(pattern);
    if (plen == 1 && pattern[0] == '*') {
        return true;
    }
    if (plen >= 2 && pattern[plen - 1] == '*' && pattern[plen - 2] == '.') {
        /* "stock.*": the prefix "stock." */
        return strncmp(pattern, type, plen - 1) == 0 && type[plen - 1] != '\0';
    }
    return strcmp(pattern, type) == 0;
}

static int check_optional_string(const json_t *event, const char *name, size_t max, char *err,
                                 size_t errlen)
{
    const json_t *v = json_object_get(event, name);
    if (!v) {
        return 0;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "\"%s\" must be a string", name);
        return OMB_EINVAL;
    }
    if (max && json_string_length(v) > max) {
        snprintf(err, errlen, "\"%s\" is longer than %zu bytes", name, max);
        return OMB_EINVAL;
    }
    return 0;
}

/* Every member but the body. */
static int check_members(const json_t *event, char *err, size_t errlen)
{
    if (!json_is_object(event)) {
        snprintf(err, errlen, "an event must be a JSON object");
        return OMB_EINVAL;
    }
    const json_t *type = json_object_get(event, "type");
    if (!type) {
        snprintf(err, errlen, "event has no \"type\"");
        return OMB_EINVAL;
    }
    if (!json_is_string(type) || !omb_type_valid(json_string_value(type))) {
        snprintf(err, errlen,
                 "\"type\" must be lowercase words joined by dots, like \"stock.level\"");
        return OMB_EINVAL;
    }
    int rc;
    if ((rc = check_optional_string(event, "key", OMB_EVENT_KEY_MAX, err, errlen)) != 0 ||
        (rc = check_optional_string(event, "time", 64, err, errlen)) != 0 ||
        (rc = check_optional_string(event, "trace", 128, err, errlen)) != 0 ||
        (rc = check_optional_string(event, "id", 128, err, errlen)) != 0 ||
        (rc = check_optional_string(event, "dedupe", OMB_EVENT_DEDUPE_MAX, err, errlen)) != 0) {
        return rc;
    }
    const json_t *headers = json_object_get(event, "headers");
    if (headers) {
        if (!json_is_object(headers)) {
            snprintf(err, errlen, "\"headers\" must be an object of strings");
            return OMB_EINVAL;
        }
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)headers, k, v) {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "header \"%s\" must be a string", k);
                return OMB_EINVAL;
            }
        }
    }
    return 0;
}

int omb_event_check(const json_t *event, char *err, size_t errlen)
{
    if (!json_is_object(event)) {
        snprintf(err, errlen, "an event must be a JSON object");
        return OMB_EINVAL;
    }
    /* The type first, then the body, then the rest: the order of the messages users see. */
    if (!json_object_get(event, "type")) {
        snprintf(err, errlen, "event has no \"type\"");
        return OMB_EINVAL;
    }
    const json_t *body = json_object_get(event, "body");
    int rc = check_members(event, err, errlen);
    if (rc != 0) {
        return rc;
    }
    if (!body) {
        snprintf(err, errlen, "event has no \"body\"");
        return OMB_EINVAL;
    }
    if (!json_is_object(body)) {
        snprintf(err, errlen, "\"body\" must be a JSON object");
        return OMB_EINVAL;
    }
    return 0;
}

static void text_put_member(struct textbuf *t, const char *name, const char *value)
{
    textbuf_put(t, ",\"", 2);
    textbuf_put(t, name, strlen(name));
    textbuf_put(t, "\":", 2);
    textbuf_put_json_string(t, value, strlen(value));
}

const char *omb_event_dedupe(const json_t *event)
{
    const char *v = json_string_value(json_object_get(event, "dedupe"));
    return v && *v ? v : NULL;
}

/* The envelope of an event (borrowed, already checked), stamped for the bus, written directly:
 * the members in a fixed order (id, type, source, key, time, received, trace, dedupe, headers),
 * which the router relies on to read id, type and source without a parse. */
static char *seal_envelope(const json_t *event, const char *source)
{
    char id[OMB_EVENT_ID_LEN + 1];
    char received[OMB_TIME_US_LEN + 1];
    const json_t *idv = json_object_get(event, "id");
    const json_t *key = json_object_get(event, "key");
    const json_t *time = json_object_get(event, "time");
    const json_t *trace = json_object_get(event, "trace");
    const json_t *headers = json_object_get(event, "headers");
    if (!idv) {
        omb_id_new(id);
    }
    omb_time_format_us(omb_now_us(), received);
    /* A forwarded or replayed event keeps its id and trace; the source is always the instance
     * that emitted it here. */
    const char *id_used = idv ? json_string_value(idv) : id;
    struct textbuf t = { 0 };
    textbuf_put(&t, "{\"id\":", 6);
    textbuf_put_json_string(&t, id_used, strlen(id_used));
    text_put_member(&t, "type", json_string_value(json_object_get(event, "type")));
    text_put_member(&t, "source", source);
    text_put_member(&t, "key", key ? json_string_value(key) : "");
    text_put_member(&t, "time", time ? json_string_value(time) : received);
    text_put_member(&t, "received", received);
    text_put_member(&t, "trace", trace ? json_string_value(trace) : id_used);
    const char *dedupe = omb_event_dedupe(event);
    if (dedupe) {
        text_put_member(&t, "dedupe", dedupe);
    }
    if (headers) {
        char *h = json_dumps(headers, JSON_COMPACT);
        if (!h) {
            t.failed = true;
        } else {
            textbuf_put(&t, ",\"headers\":", 11);
            textbuf_put(&t, h, strlen(h));
            free(h);
        }
    }
    textbuf_put(&t, "}", 1);
    if (t.failed) {
        free(t.p);
        return NULL;
    }
    return t.p;
}

int omb_event_seal(const json_t *event, const char *source, char **envelope_out,
                   size_t *envelope_len, char **body_out, size_t *body_len, const char **key_out,
                   char *err, size_t errlen)
{
    *envelope_out = NULL;
    *body_out = NULL;
    int rc = omb_event_check(event, err, errlen);
    if (rc != 0) {
        return rc;
    }
    char *env = seal_envelope(event, source);
    char *body = json_dumps(json_object_get(event, "body"), JSON_COMPACT);
    if (!env || !body) {
        free(env);
        free(body);
        snprintf(err, errlen, "out of memory");
        return OMB_ENOMEM;
    }
    const json_t *key = json_object_get(event, "key");
    *envelope_len = strlen(env);
    *body_len = strlen(body);
    *envelope_out = env;
    *body_out = body;
    *key_out = key ? json_string_value(key) : "";
    return 0;
}

int omb_envelope_seal(const json_t *envelope, const char *source, char **envelope_out,
                      size_t *envelope_len, const char **key_out, char *err, size_t errlen)
{
    *envelope_out = NULL;
    if (json_object_get(envelope, "body")) {
        snprintf(err, errlen, "the envelope of a raw event must not hold a \"body\"");
        return OMB_EINVAL;
    }
    int rc = check_members(envelope, err, errlen);
    if (rc != 0) {
        return rc;
    }
    char *env = seal_envelope(envelope, source);
    if (!env) {
        snprintf(err, errlen, "out of memory");
        return OMB_ENOMEM;
    }
    const json_t *key = json_object_get(envelope, "key");
    *envelope_len = strlen(env);
    *envelope_out = env;
    *key_out = key ? json_string_value(key) : "";
    return 0;
}

json_t *omb_event_from_frames(const char *route, const char *envelope, size_t envelope_len,
                              const char *body, size_t body_len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *ev = json_loadb(envelope, envelope_len, 0, &jerr);
    if (!json_is_object(ev)) {
        snprintf(err, errlen, "bad envelope frame: %s", ev ? "not an object" : jerr.text);
        json_decref(ev);
        return NULL;
    }
    json_t *b = json_loadb(body, body_len, JSON_DECODE_ANY, &jerr);
    if (!b) {
        snprintf(err, errlen, "bad body frame: %s", jerr.text);
        json_decref(ev);
        return NULL;
    }
    if ((route && json_object_set_new(ev, "route", json_string(route))) ||
        json_object_set_new(ev, "body", b)) {
        snprintf(err, errlen, "out of memory");
        json_decref(ev);
        return NULL;
    }
    return ev;
}

uint64_t omb_key_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

void omb_envelope_field(const char *env, size_t len, const char *name, char *out, size_t outlen)
{
    char pat[40];
    int plen = snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    out[0] = '\0';
    if (plen <= 0 || (size_t)plen >= sizeof(pat) || !env) {
        return;
    }
    const char *hit = memmem(env, len, pat, (size_t)plen);
    if (!hit) {
        return;
    }
    const char *v = hit + plen;
    const char *end = memchr(v, '"', len - (size_t)(v - env));
    if (end && (size_t)(end - v) < outlen) {
        memcpy(out, v, (size_t)(end - v));
        out[end - v] = '\0';
    }
}
