/* Log-linear latency histogram. */
#include "histogram.h"

void omb_histogram_reset(struct omb_histogram *h)
{
    for (int i = 0; i < OMB_HIST_GROUPS * OMB_HIST_SUB; i++) {
        atomic_store(&h->buckets[i], 0);
    }
    atomic_store(&h->count, 0);
    atomic_store(&h->max, 0);
}

/* Values below 16 get a bucket each; above, the group is the position of the leading bit and
 * the sub-bucket the next four bits. */
static int bucket_of(uint64_t v)
{
    if (v < OMB_HIST_SUB) {
        return (int)v;
    }
    int lead = 63 - __builtin_clzll(v);
    int group = lead - 3; /* lead 4 (16..31) is group 1 */
    if (group >= OMB_HIST_GROUPS) {
        return OMB_HIST_GROUPS * OMB_HIST_SUB - 1;
    }
    int sub = (int)((v >> (lead - 4)) & (OMB_HIST_SUB - 1));
    return group * OMB_HIST_SUB + sub;
}

static uint64_t upper_bound_of(int bucket)
{
    int group = bucket / OMB_HIST_SUB, sub = bucket % OMB_HIST_SUB;
    if (group == 0) {
        return (uint64_t)sub;
    }
    int lead = group + 3;
    uint64_t base = (1ull << lead) | ((uint64_t)sub << (lead - 4));
    return base + (1ull << (lead - 4)) - 1;
}

void omb_histogram_record(struct omb_histogram *h, int64_t value)
{
    uint64_t v = value < 0 ? 0 : (uint64_t)value;
    atomic_fetch_add_explicit(&h->buckets[bucket_of(v)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&h->max, memory_order_relaxed);
    while (v > max &&
           !atomic_compare_exchange_weak_explicit(&h->max, &max, v, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

int64_t omb_histogram_quantile(const struct omb_histogram *h, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < OMB_HIST_GROUPS * OMB_HIST_SUB; i++) {
        total += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    }
    if (total == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank >= total) {
        rank = total - 1;
    }
    uint64_t seen = 0;
    for (int i = 0; i < OMB_HIST_GROUPS * OMB_HIST_SUB; i++) {
        seen += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (seen > rank) {
            uint64_t ub = upper_bound_of(i);
            uint64_t max = atomic_load_explicit(&h->max, memory_order_relaxed);
            return (int64_t)(ub < max ? ub : max);
        }
    }
    return (int64_t)atomic_load_explicit(&h->max, memory_order_relaxed);
}
