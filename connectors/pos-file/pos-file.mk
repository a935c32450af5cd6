# connectors/pos-file: build fragment (see docs/connectors/pos-file.md), included by Makefile.am.
#
# libposfmt: the format library of the pos-file connector (CSV, fixed width, ARTS POSLog; the
# writer of CSV and fixed files). A libtool convenience library (PIC), linked into the plugin.
noinst_LTLIBRARIES += connectors/pos-file/libposfmt.la
connectors_pos_file_libposfmt_la_SOURCES = \
	connectors/pos-file/pf_format.h connectors/pos-file/pf_priv.h \
	connectors/pos-file/pf_options.c connectors/pos-file/pf_plan.c \
	connectors/pos-file/pf_text.c \
	connectors/pos-file/pf_value.c connectors/pos-file/pf_reader.c \
	connectors/pos-file/pf_csv.c connectors/pos-file/pf_fixed.c \
	connectors/pos-file/pf_poslog.c connectors/pos-file/pf_poslog.h \
	connectors/pos-file/pf_poslog_emit.c connectors/pos-file/pf_writer.c
connectors_pos_file_libposfmt_la_CFLAGS = $(PLUGIN_CFLAGS) $(XML_CFLAGS)
connectors_pos_file_libposfmt_la_LIBADD = $(XML_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += tests/unit/posfile_format_test
tests_unit_posfile_format_test_SOURCES = tests/unit/posfile_format_test.c
tests_unit_posfile_format_test_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/connectors/pos-file
tests_unit_posfile_format_test_LDADD = connectors/pos-file/libposfmt.la $(TEST_LDADD)
TESTS += tests/unit/posfile_format_test
EXTRA_DIST += tests/fixtures/pos/stock-WAW01-20261120.csv \
	tests/fixtures/pos/sales-KRK02-20261120.txt tests/fixtures/pos/poslog-WAW01-1042.xml \
	tests/fixtures/pos/names-cp1250.csv tests/fixtures/pos/names-iso88592.csv \
	tests/fixtures/pos/names-utf8bom.csv tests/fixtures/pos/quoted.csv \
	tests/fixtures/pos/sales-cp1250.txt tests/fixtures/pos/poslog-v6-nasty.xml \
	tests/fixtures/pos/poslog-truncated.xml

# The plugin: sites (a folder, ftp, ftps, sftp over libcurl), the source and the sink.
plugin_LTLIBRARIES += connectors/pos-file/pos-file.la
connectors_pos_file_pos_file_la_SOURCES = \
	connectors/pos-file/posfile.c connectors/pos-file/posfile.h \
	connectors/pos-file/posfile_site.c connectors/pos-file/posfile_site.h \
	connectors/pos-file/posfile_remote.c \
	connectors/pos-file/posfile_source.c connectors/pos-file/posfile_sink.c
connectors_pos_file_pos_file_la_CFLAGS = $(PLUGIN_CFLAGS) $(CURL_CFLAGS) $(OPENSSL_CFLAGS)
connectors_pos_file_pos_file_la_LDFLAGS = $(PLUGIN_LINKFLAGS)
connectors_pos_file_pos_file_la_LIBADD = connectors/pos-file/libposfmt.la $(CURL_LIBS) \
	$(OPENSSL_LIBS) $(XML_LIBS) $(JANSSON_LIBS)

# End to end through the daemon: a folder (posfile_dir_test), and real FTP, FTPS and SFTP
# servers plus a flaky one (posfile_remote_test, tests/servers/servers.py).
TESTS += tests/posfile/posfile_dir_test.py tests/posfile/posfile_remote_test.py
EXTRA_DIST += tests/posfile/posfile_dir_test.py tests/posfile/posfile_remote_test.py
