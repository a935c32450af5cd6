# tests/fakes/shopify: fake shop APIs for the web shop connectors (issue 7), included by Makefile.am.
