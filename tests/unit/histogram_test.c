/* Unit test: core/src/histogram.c */
#include <stdlib.h>

#include "histogram.h"
#include "testlib.h"

static int within(int64_t got, int64_t want, double rel)
{
    double d = (double)(got - want);
    return d >= -rel * (double)want - 1 && d <= rel * (double)want + 1;
}

int main(void)
{
    static struct omb_histogram h;
    omb_histogram_reset(&h);
    CHECK(omb_histogram_quantile(&h, 0.5) == 0);
    for (int64_t v = 1; v <= 100000; v++) {
        omb_histogram_record(&h, v);
    }
    CHECK(atomic_load(&h.count) == 100000);
    CHECK(within(omb_histogram_quantile(&h, 0.5), 50000, 0.07));
    CHECK(within(omb_histogram_quantile(&h, 0.99), 99000, 0.07));
    CHECK(omb_histogram_quantile(&h, 1.0) == 100000);
    CHECK(atomic_load(&h.max) == 100000);

    omb_histogram_reset(&h);
    for (int i = 0; i < 990; i++) {
        omb_histogram_record(&h, 3);
    }
    for (int i = 0; i < 10; i++) {
        omb_histogram_record(&h, 5000);
    }
    CHECK(omb_histogram_quantile(&h, 0.5) == 3);     /* small values are exact */
    CHECK(within(omb_histogram_quantile(&h, 0.995), 5000, 0.07));
    omb_histogram_record(&h, -5);                     /* clamps to 0 */
    omb_histogram_record(&h, INT64_MAX);              /* lands in the last bucket */
    CHECK(atomic_load(&h.count) == 1002);
    return test_result();
}
