#!/usr/bin/env bash
# porthole benchmarks on loopback: direct vs `porthole tcp` (relay + agent, TLS) vs ssh -R vs
# one-hop haproxy and socat. Not a test. See docs/benchmarks.md.
#
#   bash bench/run.sh [--quick] [--runs N] [--seconds S] [--targets direct,porthole,ssh,haproxy,socat]
#                     [--build-dir DIR] [--porthole BIN] [--no-hold] [--out FILE]
#
# --quick = 1 run × 3 s. Default: medians of 3 runs × 10 s. Results: bench/results/*.json plus a
# markdown table on stdout. Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD:-build}
PORTHOLE_BIN=""
TARGETS=direct,porthole,ssh,haproxy,socat
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) PASS+=(--runs 1 --seconds 3) ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --porthole) PORTHOLE_BIN=$2; shift ;;  # measure this binary instead of building one
    --targets) TARGETS=$2; shift ;;
    --runs|--seconds|--out) PASS+=("$1" "$2"); shift ;;
    --no-hold) PASS+=("$1") ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

for tool in iperf3 haproxy socat ssh ssh-keygen /usr/sbin/sshd python3; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool missing: run 'make deps'" >&2; exit 1; }
done

# tcp_probe is needed; porthole is measured if it builds and runs (otherwise its row is "pending").
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target tcp_probe
if [ -z "$PORTHOLE_BIN" ] && [[ ",$TARGETS," == *,porthole,* ]]; then
  cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target porthole ||
    echo "bench/run.sh: porthole did not build; its row will be pending" >&2
fi

# 10,000 held connections need more than the usual 1,024 descriptors per process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d /tmp/porthole-bench.XXXXXX)
cleanup() {
  local pid
  if [ -n "${DRIVER:-}" ] && kill -0 "$DRIVER" 2>/dev/null; then
    kill -TERM "$DRIVER" 2>/dev/null || true
    wait "$DRIVER" 2>/dev/null || true
  fi
  # The driver starts each helper in its own process group and records its pid here.
  if [ -f "$WORK/pids" ]; then
    while read -r pid; do
      kill -KILL -- "-$pid" 2>/dev/null || true
    done <"$WORK/pids"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

/usr/bin/python3 bench/bench.py --probe "$BUILD_DIR/bench/tcp_probe" --porthole "${PORTHOLE_BIN:-$BUILD_DIR/porthole}" \
  --tmp "$WORK" --targets "$TARGETS" "${PASS[@]}" &
DRIVER=$!
wait "$DRIVER"
