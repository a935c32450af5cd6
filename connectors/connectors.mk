# connectors: build fragment, included by Makefile.am
