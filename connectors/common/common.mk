# connectors/common: code the connectors share, as a convenience library (PIC) each plugin that
# needs it links; included by Makefile.am before the connectors.
noinst_LTLIBRARIES += connectors/common/libombconn.la
connectors_common_libombconn_la_SOURCES = \
	connectors/common/retry_after.c connectors/common/retry_after.h \
	connectors/common/reply_body.c connectors/common/reply_body.h
connectors_common_libombconn_la_CFLAGS = $(PLUGIN_CFLAGS) $(CURL_CFLAGS)
connectors_common_libombconn_la_LIBADD = $(CURL_LIBS) -lm
