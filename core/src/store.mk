# core/src: the durable journal (SQLite, WAL, group commit). Included after runtime.mk.
libombruntime_la_SOURCES += core/src/store.c core/src/store.h core/src/store_priv.h \
	core/src/store_ops.c core/src/store_read.c core/src/store_dedupe.c \
	core/src/store_state.c

check_PROGRAMS += tests/unit/store_test
tests_unit_store_test_SOURCES = tests/unit/store_test.c
tests_unit_store_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_store_test_LDADD = libombruntime.la $(TEST_LDADD)
TESTS += tests/unit/store_test

check_PROGRAMS += tests/unit/store_dedupe_test
tests_unit_store_dedupe_test_SOURCES = tests/unit/store_dedupe_test.c
tests_unit_store_dedupe_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_store_dedupe_test_LDADD = libombruntime.la $(TEST_LDADD)
TESTS += tests/unit/store_dedupe_test
