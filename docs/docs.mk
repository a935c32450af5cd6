# docs: build fragment, included by Makefile.am
