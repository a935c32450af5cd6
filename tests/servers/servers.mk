# tests/servers: real FTP/FTPS/SFTP servers on loopback for the tests, included by Makefile.am.
