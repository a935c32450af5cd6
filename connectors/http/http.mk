# connectors/http: webhooks in (a path on the daemon's HTTP ingress) and HTTP requests out
# (libcurl). Included by Makefile.am. The plugin links libjq itself (the core's jq wrapper is not
# part of the SDK) and libcurl.
plugin_LTLIBRARIES += connectors/http/http.la
connectors_http_http_la_SOURCES = connectors/http/http.c connectors/http/http.h \
	connectors/http/http_in.c connectors/http/http_out.c connectors/http/http_jq.c
# Only the SDK on the include path (core/src/jq.h would hide libjq's <jq.h>).
connectors_http_http_la_CPPFLAGS = -D_GNU_SOURCE -I$(top_srcdir)/core/include
connectors_http_http_la_CFLAGS = $(PLUGIN_CFLAGS) $(CURL_CFLAGS)
connectors_http_http_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_http_http_la_LIBADD = connectors/common/libombconn.la $(CURL_LIBS) $(JQ_LIBS) $(JANSSON_LIBS) -lm

# End-to-end tests against the real daemon (python3, stdlib only). The webhook fixtures are
# copies of ../shared/fixtures/webhooks (signed with the secret test_secret).
TESTS += tests/integration/http_ingress_test.py tests/integration/http_delivery_test.py \
	tests/integration/http_dedupe_test.py
EXTRA_DIST += tests/integration/http_ingress_test.py tests/integration/http_delivery_test.py \
	tests/integration/http_dedupe_test.py \
	tests/integration/omb_http.py docs/connectors/http.md \
	tests/fixtures/webhooks/shopify-inventory_levels-update.body \
	tests/fixtures/webhooks/shopify-inventory_levels-update.headers \
	tests/fixtures/webhooks/slack-event-message.body \
	tests/fixtures/webhooks/slack-event-message.headers \
	tests/fixtures/webhooks/woocommerce-product-updated.body \
	tests/fixtures/webhooks/woocommerce-product-updated.headers
