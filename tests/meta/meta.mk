# tests/meta: checks on the tree itself (included by Makefile.am). Shell tests run through
# SH_LOG_COMPILER with top_srcdir and top_builddir in the environment.
#   headers_test.sh  every public header compiles alone; the set equals ombinclude_HEADERS
#   exports_test.sh  plugins export only omb_plugin_descriptor; docs/abi-symbols.txt matches
#                    the headers and lists every host API function
TESTS += tests/meta/headers_test.sh tests/meta/exports_test.sh
EXTRA_DIST += tests/meta/headers_test.sh tests/meta/exports_test.sh docs/abi-symbols.txt
