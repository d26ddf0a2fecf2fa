#!/usr/bin/env bash
# `porthole forward` benchmarks on loopback (issue 9). Not a test. See docs/benchmarks.md.
#   TCP, one hop each, the same driver as bench/run.sh (iperf3 single and 8 streams, 1-byte
#   ping-pong p50/p99, new connection + echo, RSS/PSS holding 1,000 connections):
#     porthole forward vs rinetd, HAProxy with forced splice, HAProxy, socat (and direct).
#   UDP (bench/forward_udp.py + udp_probe): datagrams/s and loss at 64 and 1,200 bytes,
#     direct vs `porthole forward --udp` vs `porthole udp` (relay + agent) vs socat UDP.
#
#   bash bench/forward.sh [--quick] [--runs N] [--seconds S] [--no-hold] [--tcp-only|--udp-only]
#
# --quick = 1 run x 3 s (TCP) and 2 s per UDP cell. Results: bench/results/*.json and markdown
# tables on stdout. Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD:-build}
PASS=()
UDP_SECONDS=5
DO_TCP=1
DO_UDP=1
TARGETS=${TARGETS:-direct,forward,haproxy-splice,haproxy,rinetd,socat}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) PASS+=(--runs 1 --seconds 3); UDP_SECONDS=2 ;;
    --runs|--seconds) PASS+=("$1" "$2"); shift ;;
    --no-hold) PASS+=("$1") ;;
    --tcp-only) DO_UDP=0 ;;
    --udp-only) DO_TCP=0 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/forward.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for tool in iperf3 haproxy socat rinetd python3; do
  command -v "$tool" >/dev/null || { echo "bench/forward.sh: $tool missing: run 'make deps'" >&2; exit 1; }
done
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target tcp_probe udp_probe porthole
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN {exit !(l > 1.0)}'; then
  echo "bench/forward.sh: WARNING: load average $load: the machine is not idle; figures are not results" >&2
fi

WORK=$(mktemp -d /tmp/porthole-fwd-bench.XXXXXX)
cleanup() {
  local pid
  if [ -f "$WORK/pids" ]; then
    while read -r pid; do kill -KILL -- "-$pid" 2>/dev/null || true; done <"$WORK/pids"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$DO_TCP" = 1 ]; then
  /usr/bin/python3 - --probe "$BUILD_DIR/bench/tcp_probe" --porthole "$BUILD_DIR/porthole" --tmp "$WORK" \
    --targets "$TARGETS" ${PASS[@]+"${PASS[@]}"} <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import forward_targets  # noqa: F401  (registers forward, haproxy-splice, rinetd)
import bench
sys.argv[0] = "bench/forward.sh"
sys.exit(bench.main())
PY
fi
if [ "$DO_UDP" = 1 ]; then
  /usr/bin/python3 bench/forward_udp.py --probe "$BUILD_DIR/bench/udp_probe" --porthole "$BUILD_DIR/porthole" \
    --seconds "$UDP_SECONDS"
fi
