#!/bin/sh
# Install the Debian packages the test suite needs, when they are missing and we may.
# Idempotent and quiet when everything is already there.
set -eu
missing=""
# Engines in network namespaces (tests/netns): ip for the namespaces and veths, iptables inside them.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing="$missing iproute2"
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing="$missing iptables"
command -v git >/dev/null 2>&1 || missing="$missing git"
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v docker-registry >/dev/null 2>&1 || missing="$missing docker-registry"
# FROM scratch test images need a statically linked busybox: Debian's busybox-static, not busybox.
if command -v dpkg-query >/dev/null 2>&1; then
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" || missing="$missing busybox-static"
else
  [ -x /bin/busybox ] || missing="$missing busybox-static"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: missing$missing; the tests that need them will be skipped (install them to run those)" >&2
  exit 0
fi
echo "installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
