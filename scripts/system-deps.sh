#!/bin/sh
# Install the Debian packages the test suite needs, when they are missing and we may.
# Idempotent and quiet when everything is already there.
set -eu
missing=""
# Engines in network namespaces (tests/netns): ip for the namespaces and veths, iptables inside them.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing="$missing iproute2"
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing="$missing iptables"
command -v git >/dev/null 2>&1 || missing="$missing git"
# docker.io brings dockerd and the docker CLI (the generated pipelines' build and push steps use it).
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v docker-registry >/dev/null 2>&1 || missing="$missing docker-registry"
# FROM scratch test images need a statically linked busybox: Debian's busybox-static, not busybox.
if command -v dpkg-query >/dev/null 2>&1; then
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" || missing="$missing busybox-static"
else
  [ -x /bin/busybox ] || missing="$missing busybox-static"
fi

# need PACKAGE COMMAND: PACKAGE is missing unless dpkg says it is installed (or, without dpkg, COMMAND
# is found, in the sbin folders too: a user's PATH often lacks them).
need() {
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" && return 0
  else
    PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$2" >/dev/null 2>&1 && return 0
  fi
  missing="$missing $1"
}
# The servers tests/servers/ starts on free 127.0.0.1 ports (never the packaged services).
need haproxy haproxy
need nginx nginx
need prometheus promtool
need prometheus-alertmanager prometheus-alertmanager
need rabbitmq-server rabbitmq-server
need rsyslog rsyslogd
# The real pipeline run (tests/pipeline): npm installs gitlab-ci-local and Node.js 22 into the project
# (scripts/pipeline-tools.sh; Debian's node is too old to run it, but its npm can fetch them), and
# gitlab-ci-local copies each job's checkout with rsync. Any npm will do (NodeSource's nodejs has its own).
command -v npm >/dev/null 2>&1 || missing="$missing npm"
need rsync rsync
# Headless Chromium renders `meta doctor --html` pages in tests/doctor (their DOM after their script ran).
need chromium chromium

[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: missing$missing; the tests that need them will be skipped (install them to run those)" >&2
  exit 0
fi
echo "installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive

# Installing must not start the packaged services: nginx would take port 80, rabbitmq-server its
# epmd on 4369, prometheus 9090, alertmanager 9093-9094, rsyslog the host's /dev/log. Their
# maintainer scripts start them through invoke-rc.d or deb-systemd-invoke, which both ask
# /usr/sbin/policy-rc.d first: 101 means "do not". Docker's Debian images ship one; without it,
# invoke-rc.d holds back only where there is no /sbin/init, and deb-systemd-invoke starts them on a
# systemd machine, so a machine without one gets ours for the length of the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# scripts/system-deps.sh: start no service while it installs packages\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
  trap 'exit 130' INT TERM
fi

apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
