#!/bin/sh
# Make sure the Debian 12 packages omnibus needs are installed. As root, installs what is missing
# (idempotent: nothing happens when all are present); otherwise prints the command and fails.
# Usage: tools/deps.sh [build|test]
set -e

BUILD_PKGS="build-essential autoconf automake libtool pkg-config \
libzmq3-dev libjansson-dev libjq-dev libonig-dev libxml2-dev libxml2-utils \
libcurl4-openssl-dev libssl-dev libsqlite3-dev libmicrohttpd-dev python3"
TEST_PKGS="valgrind python3-jsonschema python3-zmq procps openssl wrk util-linux sqlite3 \
vsftpd openssh-server openssh-client"

want="$BUILD_PKGS"
[ "${1:-build}" = test ] && want="$BUILD_PKGS $TEST_PKGS"

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "omnibus needs these Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends $missing || {
    apt-get update
    apt-get install -y --no-install-recommends $missing
}
