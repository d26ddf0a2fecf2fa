#!/usr/bin/env bash
# Slowloris against the relay's HTTP listener at full size (not run in CI): slowhttptest holds
# CONNS (default 2000) slow-header connections from 127.0.0.1 while curl probes the tunnel from
# 127.0.0.2 once every 100 ms; prints how many probes failed and their latency percentiles.
# Everything runs on loopback and stops by itself (every process it starts is ended on exit).
#
#   bash bench/slowloris.sh [--conns N] [--seconds S] [--porthole BIN]
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=2000
SECONDS_=60
BIN=build/porthole
while [ $# -gt 0 ]; do
  case "$1" in
    --conns) CONNS=$2; shift ;;
    --seconds) SECONDS_=$2; shift ;;
    --porthole) BIN=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/slowloris.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
command -v slowhttptest >/dev/null || { echo "slowhttptest missing (scripts/deps.sh installs it)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "no porthole binary at $BIN (make build)" >&2; exit 1; }
ulimit -n "$(( CONNS * 2 + 1024 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {  # FILE REGEX: prints the first match's first group
  local i
  for i in $(seq 200); do
    if grep -qE "$2" "$1" 2>/dev/null; then sed -nE "s#.*$2.*#\\1#p" "$1" | head -1; return 0; fi
    sleep 0.05
  done
  echo "timed out waiting for /$2/ in $1" >&2; cat "$1" >&2; return 1
}

TOKEN=bench-token-0123456789
# The origin: a small static server.
mkdir -p "$work/www" && echo "hello from the origin" > "$work/www/index.html"
python3 -u -m http.server --bind 127.0.0.1 0 --directory "$work/www" > "$work/origin.log" 2>&1 &
pids+=($!)
origin_port=$(wait_for "$work/origin.log" 'port ([0-9]+)')

"$BIN" relay --agents 127.0.0.1:0 --admin 127.0.0.1:0 --http 127.0.0.1:0 --https 127.0.0.1:0 --data "$work/relay" \
  --token "$TOKEN" > "$work/relay.log" 2>&1 &
pids+=($!)
relay_pid=$!
agents=$(wait_for "$work/relay.log" 'Relay listening for agents on (127\.0\.0\.1:[0-9]+)')
http_port=$(wait_for "$work/relay.log" 'Relay listening for HTTP visitors on 127\.0\.0\.1:([0-9]+)')
fp=$(wait_for "$work/relay.log" 'fingerprint SHA256:([0-9a-f]{64})')

XDG_CONFIG_HOME="$work/agent" "$BIN" http "127.0.0.1:$origin_port" --subdomain bench --relay "$agents" \
  --token "$TOKEN" --relay-fingerprint "$fp" --inspect off > "$work/agent.log" 2>&1 &
pids+=($!)
wait_for "$work/agent.log" 'Forwarding (http://bench\.localhost)' >/dev/null

echo "slowloris: $CONNS connections for ${SECONDS_}s against 127.0.0.1:$http_port" >&2
slowhttptest -H -c "$CONNS" -r 500 -i 10 -l "$SECONDS_" -p 3 -u "http://127.0.0.1:$http_port/" \
  > "$work/slowhttptest.log" 2>&1 &
pids+=($!)
attack=$!
sleep 5  # let the attack reach its connection count before probing

ok=0; fail=0; : > "$work/lat"
end=$(( $(date +%s) + SECONDS_ - 10 ))
while [ "$(date +%s)" -lt "$end" ]; do
  if out=$(curl -sS --max-time 5 --interface 127.0.0.2 -o /dev/null -w '%{http_code} %{time_total}' \
           "http://bench.localhost:$http_port/" 2>/dev/null) && [ "${out%% *}" = 200 ]; then
    ok=$((ok + 1)); echo "${out#* }" >> "$work/lat"
  else
    fail=$((fail + 1))
  fi
  sleep 0.1
done
wait "$attack" || true
rss=$(awk '/VmRSS/ {print $2}' "/proc/$relay_pid/status" 2>/dev/null || echo "?")

total=$((ok + fail))
sort -n "$work/lat" > "$work/lat.sorted"
n=$(wc -l < "$work/lat.sorted")
pct() { [ "$n" -gt 0 ] && sed -n "$(( (n * $1 + 99) / 100 ))p" "$work/lat.sorted" || echo -; }
p50=$(pct 50); p99=$(pct 99); max=$(pct 100)
echo "probes: $total, failed: $fail ($(awk -v f="$fail" -v t="$total" 'BEGIN {printf "%.2f", t ? 100*f/t : 0}')%)"
echo "probe latency s: p50 $p50  p99 $p99  max $max"
echo "relay RSS after the attack: ${rss} KiB"
grep -E "^\s*(closed|pending|connected|error|service available)" "$work/slowhttptest.log" | tail -5 || true
[ "$total" -gt 0 ] && [ $((fail * 100)) -lt "$total" ]
