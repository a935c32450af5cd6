# core/src: jq programs over jansson values (owned by the jq/events work).
noinst_LTLIBRARIES += libombjq.la
# core/src/jq.h shares its name with libjq's <jq.h>: this target leaves core/src off the include
# path so that <jq.h> is libjq's, and jq.c includes its own header as "jq.h" (same directory).
libombjq_la_CPPFLAGS = -D_GNU_SOURCE -I$(top_srcdir)/core/include
libombjq_la_CFLAGS = $(AM_CFLAGS) $(CORE_CFLAGS)
libombjq_la_LIBADD = $(JQ_LIBS) $(JANSSON_LIBS) -lm
libombjq_la_SOURCES = core/src/jq.c core/src/jq.h core/src/jq_fast.c core/src/jq_fast.h \
	core/src/jq_write.c core/src/jq_write.h core/src/textbuf.h

check_PROGRAMS += tests/unit/jq_test
tests_unit_jq_test_SOURCES = tests/unit/jq_test.c
tests_unit_jq_test_CFLAGS = $(TEST_CFLAGS)
tests_unit_jq_test_LDADD = libombjq.la libombcore.la $(CORE_LIBS)
TESTS += tests/unit/jq_test
