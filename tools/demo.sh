#!/bin/sh
# Build omnibus and run the demo: the catalog's prices and stock (tests/fixtures/catalog.json)
# become ndjson drop files, omnibusd routes them with filters and transforms into per-channel
# output files under demo/out/, and this script shows what arrived. Installs missing Debian
# packages when run as root. With --keep-running the daemon stays up (Ctrl-C stops it).
set -e
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

tools/deps.sh build
[ -x configure ] || ./autogen.sh
mkdir -p build-demo
(cd build-demo && { [ -f Makefile ] || ../configure -q; } && make -j"$jobs" >/dev/null)

rm -rf demo
mkdir -p demo/in demo/out demo/state
# Writers drop files under a temporary name and rename them: the connector takes only whole files.
tools/catalog-to-ndjson tests/fixtures/catalog.json demo/staging >/dev/null
for f in demo/staging/*.ndjson; do
    mv "$f" "demo/in/$(basename "$f")"
done
rmdir demo/staging

OMNIBUS_STATE_DIR=demo/state ./build-demo/omnibusd -c config/demo.xml --plugin-dir build-demo/plugins 2>demo/omnibusd.log &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM

if [ "${1:-}" = --keep-running ]; then
    echo "omnibusd runs (pid $pid); drop more files into demo/in/; Ctrl-C stops it"
    wait $pid
    exit 0
fi

# Wait until the drop files are consumed, then stop the daemon (it drains what is in flight).
i=0
while [ -n "$(ls demo/in/*.ndjson 2>/dev/null)" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 0.5
kill -TERM $pid
wait $pid || true
trap - EXIT INT TERM

echo "== omnibusd's log (demo/omnibusd.log)"
cat demo/omnibusd.log
echo
echo "== what each channel received (demo/out/)"
for f in demo/out/*.ndjson; do
    printf '%6d events  %s\n' "$(wc -l <"$f")" "$f"
done
echo
echo "== the first event delivered to the web shop (demo/out/web-prices.ndjson):"
head -n 1 demo/out/web-prices.ndjson
echo "== the first web stock event, transformed into stock.available with a buffer of 2:"
head -n 1 demo/out/web-stock.ndjson
echo
echo "Input files moved to demo/in/done/; the routes are in config/demo.xml."
