#!/bin/sh
# Build omnibus and run the whole test suite: a warnings-as-errors build with `make check`, the
# same suite under AddressSanitizer+UndefinedBehaviorSanitizer, the daemon's tests under
# valgrind, and `make distcheck`. Installs missing Debian packages when run as root.
set -e
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

tools/deps.sh test
[ -x configure ] || ./autogen.sh

echo "== build (warnings are errors) and make check"
mkdir -p build-check
(cd build-check && { [ -f Makefile ] || ../configure --enable-werror -q; } &&
    make -j"$jobs" && make -j"$jobs" check) || { cat build-check/test-suite.log 2>/dev/null; exit 1; }

echo "== ASan+UBSan build and make check"
mkdir -p build-asan
(cd build-asan && { [ -f Makefile ] || ../configure --enable-werror --enable-sanitizers -q; } &&
    make -j"$jobs" && ASAN_OPTIONS=detect_leaks=1 make -j"$jobs" check) ||
    { cat build-asan/test-suite.log 2>/dev/null; exit 1; }

echo "== valgrind: the daemon's tests"
(cd build-check && OMB_VALGRIND=1 make -j"$jobs" check TESTS="$(cd "$top" && tools/valgrind-tests)") ||
    { cat build-check/test-suite.log 2>/dev/null; exit 1; }

echo "== make distcheck"
(cd build-check && make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror) >/dev/null ||
    { echo "make distcheck failed; run it in build-check to see why"; exit 1; }

echo "all tests passed"
