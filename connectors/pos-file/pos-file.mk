# connectors/pos-file: build fragment (see docs/connectors/pos-file.md), included by Makefile.am.
