#!/bin/sh
# A short benchmark run in `make check`: it asserts only that every event sent was counted by
# the sink (speed figures belong in docs/performance.md, not in assertions).
if ! /usr/bin/python3 -c 'import zmq' 2>/dev/null; then
    echo "python3-zmq is missing: apt-get install python3-zmq"; exit 77
fi
OMB_BUILD="${top_builddir:-.}" exec /usr/bin/python3 "${top_srcdir:-.}/bench/run" --quick --check
