# connectors/square: build fragment (see docs/connectors/square.md), included by Makefile.am.
