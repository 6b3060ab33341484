#!/bin/sh
# Installs Strata's build and test dependencies from Debian's packages.
# Idempotent: only packages that are missing are installed.
set -e
PKGS="build-essential pkg-config librocksdb-dev libevent-dev libzstd-dev \
libjemalloc-dev libcmocka-dev python3-redis python3-pytest redis-tools \
redis-server procps liblua5.1-0-dev lua-cjson"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends $missing
# Debian's redis-server package starts a service on 6379; tests use their own ports
# and `make run` wants 6379, so stop that service if it was started by the install.
if command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl stop redis-server 2>/dev/null || true
    $SUDO systemctl disable redis-server 2>/dev/null || true
fi
if [ -x /etc/init.d/redis-server ]; then
    $SUDO /etc/init.d/redis-server stop 2>/dev/null || true
fi
exit 0
