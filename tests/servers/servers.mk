# tests/servers: real FTP/FTPS/SFTP servers on loopback for the tests, included by Makefile.am.
#   servers.py        Ftp (vsftpd, FTP or explicit FTPS), Sftp (sshd, internal-sftp), FlakyFtp
#                     (fault injection): context managers a test imports (README.md there)
#   curl_probe        one libcurl transfer from the command line (FTP, FTPS, SFTP, quote
#                     commands), to prove libcurl's options against those servers
#   servers_test.py   each server listed, downloaded from, uploaded to, renamed on; the
#                     errors libcurl reports for a refused login and a dropped transfer
check_PROGRAMS += tests/servers/curl_probe
tests_servers_curl_probe_SOURCES = tests/servers/curl_probe.c
tests_servers_curl_probe_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
tests_servers_curl_probe_LDADD = $(CURL_LIBS)

TESTS += tests/servers/servers_test.py
EXTRA_DIST += tests/servers/servers_test.py tests/servers/servers.py tests/servers/README.md
