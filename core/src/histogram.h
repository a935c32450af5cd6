/* A latency histogram: log-linear buckets (16 per power of two, so a quantile is within about
 * 6 % of the true value), lock-free: one thread records, any thread reads. */
#ifndef OMNIBUS_HISTOGRAM_H
#define OMNIBUS_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define OMB_HIST_SUB 16
#define OMB_HIST_GROUPS 41 /* up to 2^40 microseconds, about 12 days */

struct omb_histogram {
    atomic_uint_fast64_t buckets[OMB_HIST_GROUPS * OMB_HIST_SUB];
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t max;
};

/* Zero it (a zeroed struct is ready too). */
void omb_histogram_reset(struct omb_histogram *h);

/* Record one value (negative values count as 0). */
void omb_histogram_record(struct omb_histogram *h, int64_t value);

/* The value at quantile q (0..1): the upper bound of the bucket holding it; 0 when empty. */
int64_t omb_histogram_quantile(const struct omb_histogram *h, double q);

#endif /* OMNIBUS_HISTOGRAM_H */
