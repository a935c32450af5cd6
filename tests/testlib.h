/* A minimal test harness: CHECK(cond) reports file:line and the condition on failure and marks
 * the test failed; the test's main returns test_result(). */
#ifndef OMNIBUS_TESTLIB_H
#define OMNIBUS_TESTLIB_H

#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        test_checks++;                                                               \
        if (!(cond)) {                                                               \
            test_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_STR(a, b)                                                                        \
    do {                                                                                       \
        const char *check_a_ = (a), *check_b_ = (b);                                           \
        test_checks++;                                                                         \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                       \
            test_failures++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:      %s\n  expected: %s\n", \
                    __FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",                \
                    check_b_ ? check_b_ : "(null)");                                           \
        }                                                                                      \
    } while (0)

static inline int test_result(void)
{
    printf("%d checks, %d failed\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif /* OMNIBUS_TESTLIB_H */
