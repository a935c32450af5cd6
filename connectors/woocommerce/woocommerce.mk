# connectors/woocommerce: the woocommerce connector (issue 7), included by Makefile.am.
# See docs/connectors/woocommerce.md. libcurl for the REST API, jansson for JSON; webhooks come
# through the daemon's HTTP ingress, signatures through host->hmac.
plugin_LTLIBRARIES += connectors/woocommerce/woocommerce.la
connectors_woocommerce_woocommerce_la_SOURCES = connectors/woocommerce/woocommerce.c \
	connectors/woocommerce/woocommerce.h connectors/woocommerce/wc_api.c \
	connectors/woocommerce/wc_map.c connectors/woocommerce/wc_out.c \
	connectors/woocommerce/wc_snapshot.c connectors/woocommerce/wc_webhook.c \
	connectors/woocommerce/wc_util.c connectors/woocommerce/wc_oauth.c
connectors_woocommerce_woocommerce_la_CPPFLAGS = -D_GNU_SOURCE -I$(top_srcdir)/core/include
connectors_woocommerce_woocommerce_la_CFLAGS = $(PLUGIN_CFLAGS) $(CURL_CFLAGS)
connectors_woocommerce_woocommerce_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_woocommerce_woocommerce_la_LIBADD = connectors/common/libombconn.la $(CURL_LIBS) \
	$(JANSSON_LIBS)

# The plugin in the harness host (tests/plugins/harness.c): options documented, validate,
# deliveries decided without the shop.
check_PROGRAMS += tests/woocommerce/woocommerce_test
tests_woocommerce_woocommerce_test_SOURCES = tests/woocommerce/woocommerce_test.c \
	$(PLUGIN_TEST_HARNESS)
tests_woocommerce_woocommerce_test_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_woocommerce_woocommerce_test_LDADD = $(PLUGIN_TEST_LDADD)
TESTS += tests/woocommerce/woocommerce_test

# End-to-end tests against the real daemon and the fake shop (python3, stdlib only).
TESTS += tests/woocommerce/woocommerce_delivery_test.py \
	tests/woocommerce/woocommerce_errors_test.py \
	tests/woocommerce/woocommerce_webhook_test.py tests/woocommerce/woocommerce_doc_test.py \
	tests/woocommerce/woocommerce_oauth_test.py tests/woocommerce/woocommerce_isolated_test.py \
	tests/woocommerce/woocommerce_changes_test.py
EXTRA_DIST += tests/woocommerce/woocommerce_delivery_test.py \
	tests/woocommerce/woocommerce_errors_test.py \
	tests/woocommerce/woocommerce_webhook_test.py tests/woocommerce/woocommerce_doc_test.py \
	tests/woocommerce/woocommerce_oauth_test.py tests/woocommerce/woocommerce_isolated_test.py \
	tests/woocommerce/woocommerce_changes_test.py tests/woocommerce/woocommerce_helpers.py \
	docs/connectors/woocommerce.md
