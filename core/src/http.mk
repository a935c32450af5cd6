# core/src: the webhook listener (HTTP ingress over libmicrohttpd) and the host functions of
# ABI 1.1 (webhook routes, HMAC, constant-time compare, base64). Included after runtime.mk.
libombruntime_la_SOURCES += \
	core/src/http_ingress.c core/src/http_ingress.h \
	core/src/host_http.c core/src/host_http.h
libombruntime_la_CFLAGS += $(MHD_CFLAGS)
libombruntime_la_LIBADD += $(MHD_LIBS)

check_PROGRAMS += tests/unit/host_http_test
tests_unit_host_http_test_SOURCES = tests/unit/host_http_test.c
tests_unit_host_http_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_host_http_test_LDADD = libombruntime.la $(TEST_LDADD)
TESTS += tests/unit/host_http_test
