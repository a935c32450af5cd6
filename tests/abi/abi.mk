# tests/abi: build fragment, included by Makefile.am
