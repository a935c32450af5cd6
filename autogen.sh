#!/bin/sh
# Generate ./configure from configure.ac and Makefile.in from Makefile.am.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf --install --force
