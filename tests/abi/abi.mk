# tests/abi: build fragment, included by Makefile.am
#
# Plugins with a wrong (or unusual but right) ABI, built from one source with -D, and the
# loader test that opens them. They are check-only shared modules (-rpath makes libtool
# build a .so; it is never installed).
ABI_FIXTURE_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

# abi_major 2: a different major
check_LTLIBRARIES += tests/abi/abi_major2.la
tests_abi_abi_major2_la_SOURCES = tests/abi/abi_plugin.c
tests_abi_abi_major2_la_CPPFLAGS = $(AM_CPPFLAGS) -DABI_NAME='"abi_major2"' -DABI_MAJOR=2
tests_abi_abi_major2_la_CFLAGS = $(AM_CFLAGS)
tests_abi_abi_major2_la_LDFLAGS = $(ABI_FIXTURE_LDFLAGS)

# abi_minor 99: newer than the host
check_LTLIBRARIES += tests/abi/abi_minor99.la
tests_abi_abi_minor99_la_SOURCES = tests/abi/abi_plugin.c
tests_abi_abi_minor99_la_CPPFLAGS = $(AM_CPPFLAGS) -DABI_NAME='"abi_minor99"' -DABI_MINOR=99
tests_abi_abi_minor99_la_CFLAGS = $(AM_CFLAGS)
tests_abi_abi_minor99_la_LDFLAGS = $(ABI_FIXTURE_LDFLAGS)

# struct_size smaller than the 1.0 descriptor
check_LTLIBRARIES += tests/abi/abi_small.la
tests_abi_abi_small_la_SOURCES = tests/abi/abi_plugin.c
tests_abi_abi_small_la_CPPFLAGS = $(AM_CPPFLAGS) -DABI_NAME='"abi_small"' -DABI_SMALL
tests_abi_abi_small_la_CFLAGS = $(AM_CFLAGS)
tests_abi_abi_small_la_LDFLAGS = $(ABI_FIXTURE_LDFLAGS)

# built against jansson 1
check_LTLIBRARIES += tests/abi/abi_jansson1.la
tests_abi_abi_jansson1_la_SOURCES = tests/abi/abi_plugin.c
tests_abi_abi_jansson1_la_CPPFLAGS = $(AM_CPPFLAGS) -DABI_NAME='"abi_jansson1"' -DABI_JANSSON=1
tests_abi_abi_jansson1_la_CFLAGS = $(AM_CFLAGS)
tests_abi_abi_jansson1_la_LDFLAGS = $(ABI_FIXTURE_LDFLAGS)

# no omb_plugin_descriptor symbol
check_LTLIBRARIES += tests/abi/abi_nosym.la
tests_abi_abi_nosym_la_SOURCES = tests/abi/abi_plugin.c
tests_abi_abi_nosym_la_CPPFLAGS = $(AM_CPPFLAGS) -DABI_NAME='"abi_nosym"' -DABI_NO_DESCRIPTOR
tests_abi_abi_nosym_la_CFLAGS = $(AM_CFLAGS)
tests_abi_abi_nosym_la_LDFLAGS = $(ABI_FIXTURE_LDFLAGS)

# no create callback
check_LTLIBRARIES += tests/abi/abi_nocreate.la
tests_abi_abi_nocreate_la_SOURCES = tests/abi/abi_plugin.c
tests_abi_abi_nocreate_la_CPPFLAGS = $(AM_CPPFLAGS) -DABI_NAME='"abi_nocreate"' -DABI_NO_CREATE
tests_abi_abi_nocreate_la_CFLAGS = $(AM_CFLAGS)
tests_abi_abi_nocreate_la_LDFLAGS = $(ABI_FIXTURE_LDFLAGS)

# a sink without deliver
check_LTLIBRARIES += tests/abi/abi_nodeliver.la
tests_abi_abi_nodeliver_la_SOURCES = tests/abi/abi_plugin.c
tests_abi_abi_nodeliver_la_CPPFLAGS = $(AM_CPPFLAGS) -DABI_NAME='"abi_nodeliver"' -DABI_SINK -DABI_NO_DELIVER
tests_abi_abi_nodeliver_la_CFLAGS = $(AM_CFLAGS)
tests_abi_abi_nodeliver_la_LDFLAGS = $(ABI_FIXTURE_LDFLAGS)

# accepted: minor 0, 64 bytes larger
check_LTLIBRARIES += tests/abi/abi_good.la
tests_abi_abi_good_la_SOURCES = tests/abi/abi_plugin.c
tests_abi_abi_good_la_CPPFLAGS = $(AM_CPPFLAGS) -DABI_NAME='"abi_good"' -DABI_MINOR=0 -DABI_EXTRA=64 -DABI_SINK
tests_abi_abi_good_la_CFLAGS = $(AM_CFLAGS)
tests_abi_abi_good_la_LDFLAGS = $(ABI_FIXTURE_LDFLAGS)

# accepted by omb_plugin_open; its descriptor says "someone-else"
check_LTLIBRARIES += tests/abi/abi_misnamed.la
tests_abi_abi_misnamed_la_SOURCES = tests/abi/abi_plugin.c
tests_abi_abi_misnamed_la_CPPFLAGS = $(AM_CPPFLAGS) -DABI_NAME='"someone-else"'
tests_abi_abi_misnamed_la_CFLAGS = $(AM_CFLAGS)
tests_abi_abi_misnamed_la_LDFLAGS = $(ABI_FIXTURE_LDFLAGS)

check_PROGRAMS += tests/abi/loader_test
tests_abi_loader_test_SOURCES = tests/abi/loader_test.c $(PLUGIN_TEST_HARNESS)
tests_abi_loader_test_CFLAGS = $(TEST_CFLAGS)
tests_abi_loader_test_LDADD = $(TEST_LDADD) -ldl
TESTS += tests/abi/loader_test
