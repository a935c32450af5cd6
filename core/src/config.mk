# core/src: config parsing/validation and plugin options (owned by the config work).
noinst_LTLIBRARIES += libombconfig.la
libombconfig_la_CFLAGS = $(AM_CFLAGS) $(CORE_CFLAGS)
libombconfig_la_LIBADD = libombjq.la libombcore.la $(XML_LIBS) $(OPENSSL_LIBS) $(JANSSON_LIBS)
libombconfig_la_SOURCES = core/src/config.c core/src/config.h \
	core/src/options.c core/src/options.h
