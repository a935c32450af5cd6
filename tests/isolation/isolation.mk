# tests/isolation: plugin isolation (isolate="process"), included by Makefile.am.
#   misbehave.la        a test sink that crashes (abort, segv) or hangs on purpose
#   isolation_test.py   crashing and hanging plugins under load beside a healthy route; an
#                       isolated source and webhook; a child killed from outside
check_LTLIBRARIES += tests/isolation/misbehave.la
tests_isolation_misbehave_la_SOURCES = tests/isolation/misbehave.c
tests_isolation_misbehave_la_CFLAGS = $(AM_CFLAGS)
tests_isolation_misbehave_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

TESTS += tests/isolation/isolation_test.py
EXTRA_DIST += tests/isolation/isolation_test.py
