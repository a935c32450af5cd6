# tests/unit: the runtime core run in-process (included by Makefile.am). runtime_fixture.c holds
# test plugins defined statically (no .so) and builds a running configuration the way
# core/src/daemon.c does.
RUNTIME_FIXTURE = tests/unit/runtime_fixture.c tests/unit/runtime_fixture.h

# router.c: routing, filters, transforms, split, fan-out, counters, order, backpressure, swap
check_PROGRAMS += tests/unit/router_test
tests_unit_router_test_SOURCES = tests/unit/router_test.c $(RUNTIME_FIXTURE)
tests_unit_router_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_router_test_LDADD = libombruntime.la $(TEST_LDADD)
TESTS += tests/unit/router_test

# instance.c and host.c: delivery retries and rejects, emit, stop and drain, timers, metrics,
# log masking
check_PROGRAMS += tests/unit/instance_test
tests_unit_instance_test_SOURCES = tests/unit/instance_test.c $(RUNTIME_FIXTURE)
tests_unit_instance_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_instance_test_LDADD = libombruntime.la $(TEST_LDADD)
TESTS += tests/unit/instance_test

# log.c: levels, filtering, record format
check_PROGRAMS += tests/unit/log_test
tests_unit_log_test_SOURCES = tests/unit/log_test.c
tests_unit_log_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_log_test_LDADD = libombruntime.la $(TEST_LDADD)
TESTS += tests/unit/log_test
