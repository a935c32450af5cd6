# core/src: the running daemon (envelope, log, instances and host API, router, daemon, main).
noinst_LTLIBRARIES += libombruntime.la
libombruntime_la_CFLAGS = $(AM_CFLAGS) $(CORE_CFLAGS)
libombruntime_la_LIBADD = libombconfig.la libombjq.la libombcore.la $(CORE_LIBS)
libombruntime_la_SOURCES = \
	core/src/envelope.c core/src/envelope.h \
	core/src/histogram.c core/src/histogram.h \
	core/src/log.c core/src/log.h \
	core/src/runtime.h \
	core/src/instance.c core/src/instance.h core/src/instance_priv.h \
	core/src/host.c \
	core/src/routes.c core/src/router.c core/src/router.h \
	core/src/route_eval.c core/src/route_eval.h \
	core/src/consumer.c core/src/consumer.h core/src/consumer_priv.h core/src/consumer_parked.c core/src/consumer_conflate.c \
	core/src/admin.c core/src/admin.h \
	core/src/daemon.c core/src/daemon.h core/src/daemon_priv.h core/src/daemon_admin.c \
	core/src/daemon_dlq.c core/src/daemon_snapshot.c \
	core/src/daemon_store.c \
	core/src/isolate.c core/src/isolate.h core/src/isolate_priv.h core/src/isolate_relay.c \
	core/src/isolate_child.c \
	core/src/isolate_link.c core/src/isolate_link.h

check_PROGRAMS += tests/unit/envelope_test
tests_unit_envelope_test_SOURCES = tests/unit/envelope_test.c
tests_unit_envelope_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_envelope_test_LDADD = libombruntime.la $(TEST_LDADD)
TESTS += tests/unit/envelope_test

check_PROGRAMS += tests/unit/histogram_test
tests_unit_histogram_test_SOURCES = tests/unit/histogram_test.c
tests_unit_histogram_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_histogram_test_LDADD = libombruntime.la $(TEST_LDADD)
TESTS += tests/unit/histogram_test

# End-to-end tests of the daemon (python3, stdlib only).
TESTS += tests/integration/daemon_test.py tests/integration/volume_test.py \
	tests/integration/file_dedupe_test.py
EXTRA_DIST += tests/integration/omb.py tests/integration/daemon_test.py \
	tests/integration/volume_test.py tests/integration/file_dedupe_test.py
