# connectors/prestashop: the prestashop connector (issue 7), included by Makefile.am.
# See docs/connectors/prestashop.md. libcurl to the Webservice, libxml2 for its XML, jansson
# for events; the identity map and the polling cursor live in host state (ABI 1.3).
plugin_LTLIBRARIES += connectors/prestashop/prestashop.la
connectors_prestashop_prestashop_la_SOURCES = connectors/prestashop/prestashop.c \
	connectors/prestashop/prestashop.h connectors/prestashop/ps_api.c \
	connectors/prestashop/ps_map.c connectors/prestashop/ps_out.c \
	connectors/prestashop/ps_poll.c connectors/prestashop/ps_snapshot.c
# Only the SDK on the include path.
connectors_prestashop_prestashop_la_CPPFLAGS = -D_GNU_SOURCE -I$(top_srcdir)/core/include
connectors_prestashop_prestashop_la_CFLAGS = $(PLUGIN_CFLAGS) $(CURL_CFLAGS) $(XML_CFLAGS)
connectors_prestashop_prestashop_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_prestashop_prestashop_la_LIBADD = connectors/common/libombconn.la $(CURL_LIBS) \
	$(XML_LIBS) $(JANSSON_LIBS) -lm

# The plugin in the harness host (tests/plugins/harness.c): options, validate, deliveries
# decided without the shop.
check_PROGRAMS += tests/prestashop/prestashop_test
tests_prestashop_prestashop_test_SOURCES = tests/prestashop/prestashop_test.c $(PLUGIN_TEST_HARNESS)
tests_prestashop_prestashop_test_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_prestashop_prestashop_test_LDADD = $(PLUGIN_TEST_LDADD)
TESTS += tests/prestashop/prestashop_test

# End-to-end tests against the real daemon and the fake PrestaShop (python3, stdlib only).
TESTS += tests/prestashop/prestashop_delivery_test.py tests/prestashop/prestashop_poll_test.py
EXTRA_DIST += tests/prestashop/prestashop_delivery_test.py \
	tests/prestashop/prestashop_poll_test.py \
	tests/prestashop/prestashop_helpers.py docs/connectors/prestashop.md
