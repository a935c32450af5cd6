# omnibusctl: the admin client (docs/omnibusctl.md, docs/admin-protocol.md); included by
# Makefile.am. It links only libzmq and jansson: it reads no config and loads no plugin.
bin_PROGRAMS += omnibusctl
omnibusctl_SOURCES = tools/omnibusctl.c tools/omnibusctl.h tools/omnibusctl_client.c \
	tools/omnibusctl_table.c tools/omnibusctl_view.c tools/omnibusctl_prom.c \
	tools/omnibusctl_dlq.c
omnibusctl_CPPFLAGS = $(AM_CPPFLAGS) -DOMBCTL_VERSION='"$(PACKAGE_VERSION)"'
omnibusctl_CFLAGS = $(AM_CFLAGS) $(ZMQ_CFLAGS) $(JANSSON_CFLAGS)
omnibusctl_LDADD = $(ZMQ_LIBS) $(JANSSON_LIBS) -lm

# Tests (python3; they need python3-zmq and skip without it):
#   cli_test.py    omnibusctl against a scripted fake admin server
#   e2e_test.py    the admin socket end to end: omnibusd's server and omnibusctl
#   dlq_test.py    the dead-letter commands end to end, every bad request among them
#   dlq_cli_test.py  omnibusctl's dead-letter commands against the fake server
#   snapshot_test.py the admin's snapshot (ABI 1.3) through a daemon and omnibusctl
# admin_helpers.py is their shared module, not a test.
TESTS += tests/admin/cli_test.py tests/admin/e2e_test.py tests/admin/dlq_test.py \
	tests/admin/dlq_cli_test.py tests/admin/snapshot_test.py
EXTRA_DIST += docs/admin-protocol.md docs/omnibusctl.md tests/admin/admin_helpers.py \
	tests/admin/cli_test.py tests/admin/e2e_test.py tests/admin/dlq_test.py \
	tests/admin/dlq_cli_test.py tests/admin/snapshot_test.py
