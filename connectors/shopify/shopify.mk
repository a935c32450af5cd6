# connectors/shopify: the Shopify connector (issue 7), included by Makefile.am.
# The plugin talks to the Admin GraphQL API over libcurl and parses with jansson; webhooks come
# through the daemon's HTTP ingress (host->http_route_add), signatures through host->hmac.
plugin_LTLIBRARIES += connectors/shopify/shopify.la
connectors_shopify_shopify_la_SOURCES = connectors/shopify/shopify.c connectors/shopify/shopify.h \
	connectors/shopify/shopify_api.c connectors/shopify/shopify_idmap.c \
	connectors/shopify/shopify_stock.c connectors/shopify/shopify_price.c \
	connectors/shopify/shopify_snapshot.c connectors/shopify/shopify_webhook.c \
	connectors/shopify/shopify_util.c
# Only the SDK on the include path.
connectors_shopify_shopify_la_CPPFLAGS = -D_GNU_SOURCE -I$(top_srcdir)/core/include
connectors_shopify_shopify_la_CFLAGS = $(PLUGIN_CFLAGS) $(CURL_CFLAGS)
connectors_shopify_shopify_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_shopify_shopify_la_LIBADD = connectors/common/libombconn.la $(CURL_LIBS) \
	$(JANSSON_LIBS) -lm

# The plugin in the harness host (tests/plugins/harness.c), and in a host of its own with the
# webhook functions (OpenSSL behind hmac and base64).
check_PROGRAMS += tests/shopify/shopify_test
tests_shopify_shopify_test_SOURCES = tests/shopify/shopify_test.c $(PLUGIN_TEST_HARNESS)
tests_shopify_shopify_test_CFLAGS = $(PLUGIN_TEST_CFLAGS) $(OPENSSL_CFLAGS)
tests_shopify_shopify_test_LDADD = $(PLUGIN_TEST_LDADD) $(OPENSSL_LIBS)
TESTS += tests/shopify/shopify_test

# End-to-end tests against the real daemon and the fake Shopify API (python3, stdlib only).
TESTS += tests/shopify/shopify_delivery_test.py tests/shopify/shopify_errors_test.py \
	tests/shopify/shopify_webhook_test.py
EXTRA_DIST += tests/shopify/shopify_delivery_test.py tests/shopify/shopify_errors_test.py \
	tests/shopify/shopify_webhook_test.py \
	tests/shopify/shopify_helpers.py docs/connectors/shopify.md
