# connectors: build fragment, included by Makefile.am
#
# Each connector is a libtool module installed into $(plugindir); `make` links it into plugins/
# of the build tree. Plugins are built with -fvisibility=hidden and PLUGIN_LINKFLAGS, so the only
# symbol a .so exports is omb_plugin_descriptor.
PLUGIN_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

plugin_LTLIBRARIES += connectors/file/file.la
connectors_file_file_la_SOURCES = connectors/file/file.c connectors/file/file.h \
	connectors/file/file_source.c connectors/file/file_moves.c connectors/file/file_acks.c connectors/file/file_sink.c
connectors_file_file_la_CFLAGS = $(PLUGIN_CFLAGS)
connectors_file_file_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_file_file_la_LIBADD = $(JANSSON_LIBS)

plugin_LTLIBRARIES += connectors/null/null.la
connectors_null_null_la_SOURCES = connectors/null/null.c
connectors_null_null_la_CFLAGS = $(PLUGIN_CFLAGS)
connectors_null_null_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_null_null_la_LIBADD = $(JANSSON_LIBS)

# The SDK example is built and tested here too, so that it never rots; Makefile.example shows
# how to build it out of tree.
plugin_LTLIBRARIES += connectors/example/example.la
connectors_example_example_la_SOURCES = connectors/example/example.c
connectors_example_example_la_CFLAGS = $(PLUGIN_CFLAGS)
connectors_example_example_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_example_example_la_LIBADD = $(JANSSON_LIBS)
EXTRA_DIST += connectors/example/Makefile.example

# Plugin tests: each loads the real .so into the fake host of tests/plugins/harness.c.
PLUGIN_TEST_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/tests
PLUGIN_TEST_LDADD = -ldl $(JANSSON_LIBS)
PLUGIN_TEST_HARNESS = tests/plugins/harness.c tests/plugins/harness.h \
	tests/plugins/harness_priv.h tests/plugins/harness_options.c tests/plugins/harness_files.c

check_PROGRAMS += tests/plugins/file_test
tests_plugins_file_test_SOURCES = tests/plugins/file_test.c $(PLUGIN_TEST_HARNESS)
tests_plugins_file_test_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_file_test_LDADD = $(PLUGIN_TEST_LDADD)
TESTS += tests/plugins/file_test

check_PROGRAMS += tests/plugins/null_test
tests_plugins_null_test_SOURCES = tests/plugins/null_test.c $(PLUGIN_TEST_HARNESS)
tests_plugins_null_test_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_null_test_LDADD = $(PLUGIN_TEST_LDADD)
TESTS += tests/plugins/null_test

check_PROGRAMS += tests/plugins/example_test
tests_plugins_example_test_SOURCES = tests/plugins/example_test.c $(PLUGIN_TEST_HARNESS)
tests_plugins_example_test_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_example_test_LDADD = $(PLUGIN_TEST_LDADD)
TESTS += tests/plugins/example_test

# The plugin tests read these (every option must be documented).
EXTRA_DIST += docs/connectors/file.md docs/connectors/null.md docs/plugin-sdk.md
