# connectors/square: build fragment (see docs/connectors/square.md), included by Makefile.am.
# The plugin talks to Square over libcurl and parses with jansson; webhooks come through the
# daemon's HTTP ingress (host->http_route_add), signatures through host->hmac.
plugin_LTLIBRARIES += connectors/square/square.la
connectors_square_square_la_SOURCES = connectors/square/square.c connectors/square/square.h \
	connectors/square/square_api.c connectors/square/square_catalog.c \
	connectors/square/square_stock.c connectors/square/square_price.c \
	connectors/square/square_webhook.c connectors/square/square_util.c
# Only the SDK on the include path.
connectors_square_square_la_CPPFLAGS = -D_GNU_SOURCE -I$(top_srcdir)/core/include
connectors_square_square_la_CFLAGS = $(PLUGIN_CFLAGS) $(CURL_CFLAGS)
connectors_square_square_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_square_square_la_LIBADD = connectors/common/libombconn.la $(CURL_LIBS) $(JANSSON_LIBS) -lm

# The plugin in the harness host (tests/plugins/harness.c), and in a host of its own with the
# webhook functions (OpenSSL behind hmac and base64).
check_PROGRAMS += tests/square/square_test
tests_square_square_test_SOURCES = tests/square/square_test.c $(PLUGIN_TEST_HARNESS)
tests_square_square_test_CFLAGS = $(PLUGIN_TEST_CFLAGS) $(OPENSSL_CFLAGS)
tests_square_square_test_LDADD = $(PLUGIN_TEST_LDADD) $(OPENSSL_LIBS)
TESTS += tests/square/square_test

# End-to-end tests against the real daemon and the fake Square API (python3, stdlib only).
TESTS += tests/square/square_delivery_test.py tests/square/square_errors_test.py \
	tests/square/square_webhook_test.py
EXTRA_DIST += tests/square/square_delivery_test.py tests/square/square_errors_test.py \
	tests/square/square_webhook_test.py \
	tests/square/square_helpers.py \
	tests/fakes/square_fake.py docs/connectors/square.md
