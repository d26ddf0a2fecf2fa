#!/usr/bin/env bash
# Installs the Debian 12 packages porthole needs to build, test and benchmark.
# Idempotent and non-interactive; daemons pulled in by apt are not started.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  clang-format clang-tidy
  libboost1.81-dev libssl-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libsqlite3-dev libminiupnpc-dev libnatpmp-dev libnftables-dev libmnl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  openssl curl socat iproute2 nftables miniupnpd-nftables miniupnpc natpmpc openssh-server
  openssh-client iperf3 haproxy procps psmisc
  libidn2-dev wrk nginx slowhttptest
  libre2-dev libncurses-dev pebble testssl.sh dnsmasq-base bind9-dnsutils rinetd microsocks
  rsync tmux chromium
)

# The Node packages of the binary tests (tests/js: npm ws, playwright-core, ngrok's API client),
# installed from the lock file when it changed. --ignore-scripts: the ngrok package's install
# script would download ngrok's binary (only its API client is used), and no test needs a script.
js_deps() {
  local js
  js="$(cd "$(dirname "$0")/.." && pwd)/tests/js"
  if [ -f "$js/package-lock.json" ] && [ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ] &&
    command -v npm >/dev/null; then
    (cd "$js" && npm ci --ignore-scripts --no-audit --no-fund >&2)
  fi
}

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { js_deps; exit 0; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Keep apt from starting daemons (miniupnpd, sshd, haproxy) while it installs them.
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
fi
trap '[ $had_policy -eq 0 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
js_deps
