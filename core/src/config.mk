# core/src: config parsing/validation and plugin options (owned by the config work).
noinst_LTLIBRARIES += libombconfig.la
libombconfig_la_CFLAGS = $(AM_CFLAGS) $(CORE_CFLAGS)
libombconfig_la_LIBADD = libombjq.la libombcore.la $(XML_LIBS) $(OPENSSL_LIBS) $(JANSSON_LIBS)
libombconfig_la_SOURCES = core/src/config.c core/src/config.h core/src/config_priv.h \
	core/src/config_schema.c core/src/config_check.c \
	core/src/options.c core/src/options_value.c core/src/options_doc.c core/src/options.h
nodist_libombconfig_la_SOURCES = core/src/config_rng.c

# The schema is compiled into the binary, so that omnibusd needs no data file at run time; it is
# also installed for editors and xmllint.
dist_schema_DATA += config/omnibus.rng
EXTRA_DIST += tools/embed-file.sh
BUILT_SOURCES += core/src/config_rng.c
CLEANFILES += core/src/config_rng.c
core/src/config_rng.c: $(srcdir)/config/omnibus.rng $(srcdir)/tools/embed-file.sh
	$(AM_V_GEN)$(MKDIR_P) core/src && \
	$(SHELL) $(srcdir)/tools/embed-file.sh omb_config_rng $(srcdir)/config/omnibus.rng \
	  > $@.tmp && mv $@.tmp $@

# Tests. config_test loads every tests/config/broken/*.xml and compares the report with the
# .expected file beside it; the test plugins under tests/config/ give it real .so files.
CONFIG_TEST_LDADD = libombconfig.la libombjq.la $(TEST_LDADD)

check_PROGRAMS += tests/unit/options_test
tests_unit_options_test_SOURCES = tests/unit/options_test.c
tests_unit_options_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_options_test_LDADD = $(CONFIG_TEST_LDADD)
TESTS += tests/unit/options_test

check_PROGRAMS += tests/unit/config_test
tests_unit_config_test_SOURCES = tests/unit/config_test.c
tests_unit_config_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_config_test_LDADD = $(CONFIG_TEST_LDADD)
TESTS += tests/unit/config_test

CONFIG_TEST_PLUGIN_LDFLAGS = $(PLUGIN_LINKFLAGS) -rpath /nowhere
check_LTLIBRARIES += tests/config/testsrc.la tests/config/testsink.la tests/config/testbadabi.la
tests_config_testsrc_la_SOURCES = tests/config/testsrc.c
tests_config_testsrc_la_LDFLAGS = $(CONFIG_TEST_PLUGIN_LDFLAGS)
tests_config_testsink_la_SOURCES = tests/config/testsink.c
tests_config_testsink_la_LDFLAGS = $(CONFIG_TEST_PLUGIN_LDFLAGS)
tests_config_testbadabi_la_SOURCES = tests/config/testbadabi.c
tests_config_testbadabi_la_LDFLAGS = $(CONFIG_TEST_PLUGIN_LDFLAGS)
EXTRA_DIST += tests/config/good tests/config/broken tests/config/secrets
dist_doc_DATA += docs/config.md
