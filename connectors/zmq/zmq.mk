# connectors/zmq: an external ZeroMQ endpoint (two-frame protocol in and out). Included by
# Makefile.am after connectors/connectors.mk, whose PLUGIN_* variables it uses.
plugin_LTLIBRARIES += connectors/zmq/zmq.la
connectors_zmq_zmq_la_SOURCES = connectors/zmq/zmq_connector.c connectors/zmq/zmq_connector.h \
	connectors/zmq/zmq_inbound.c connectors/zmq/zmq_acked.c connectors/zmq/zmq_outbound.c
connectors_zmq_zmq_la_CFLAGS = $(PLUGIN_CFLAGS) $(ZMQ_CFLAGS)
connectors_zmq_zmq_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_zmq_zmq_la_LIBADD = $(ZMQ_LIBS) $(JANSSON_LIBS)

# The plugin in the harness host, with real sockets on ipc:// under tests/tmp.
check_PROGRAMS += tests/plugins/zmq_test
tests_plugins_zmq_test_SOURCES = tests/plugins/zmq_test.c $(PLUGIN_TEST_HARNESS)
tests_plugins_zmq_test_CFLAGS = $(PLUGIN_TEST_CFLAGS) $(ZMQ_CFLAGS)
tests_plugins_zmq_test_LDADD = $(PLUGIN_TEST_LDADD) $(ZMQ_LIBS)
TESTS += tests/plugins/zmq_test

# The example client (docs/wire-protocol.md) is built by `make check` so that it cannot rot;
# tests/integration/zmq_test.py runs it, examples/zmq_client.py and examples/zmq_acked_client.py
# against a real daemon.
check_PROGRAMS += examples/zmq-client
examples_zmq_client_SOURCES = examples/zmq-client.c
examples_zmq_client_CFLAGS = $(AM_CFLAGS) $(ZMQ_CFLAGS)
examples_zmq_client_LDADD = $(ZMQ_LIBS)

# The daemon with zmq connectors end to end (python3 with pyzmq: Debian's python3-zmq).
TESTS += tests/integration/zmq_test.py
EXTRA_DIST += tests/integration/zmq_test.py examples/zmq_client.py examples/zmq_acked_client.py \
	docs/connectors/zmq.md docs/wire-protocol.md
