#!/bin/sh
# Runs one C test program; with OMB_VALGRIND=1, under valgrind with errors and leaks as failures.
if [ "${OMB_VALGRIND:-0}" = 1 ]; then
    exec valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite \
        --suppressions="${top_srcdir:-.}/tests/valgrind.supp" "$@"
fi
exec "$@"
