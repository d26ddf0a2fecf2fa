#!/usr/bin/env bash
# `porthole connect` vs `ssh -L` on loopback (issue 10): single-stream throughput (iperf3),
# 1-byte ping-pong and new connection + 1-byte echo (bench/tcp_probe), each through
#   direct    the echo / iperf3 server itself
#   connect   porthole connect NAME --listen -> relay -> agent (porthole tcp --private NAME)
#   ssh-L     ssh -N -L to a throwaway sshd (temp host and client keys, loopback only)
# in one run, so the figures are comparable as ratios. Not a test. See docs/benchmarks.md.
#
#   bash bench/connect.sh                      # DURATION=10 s per measurement
#   DURATION=2 bash bench/connect.sh           # a smoke run (~30 s)
#
# Environment: DURATION (s, 10), PORTHOLE (build/porthole), PROBE (build/bench/tcp_probe),
# OUT (results file, bench/results/connect-<time>.txt). `porthole socks` vs `ssh -D` and
# microsocks is to come with `porthole socks` (not built yet).
# Every process it starts is stopped on exit; everything listens on 127.0.0.1, free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
PORTHOLE=${PORTHOLE:-build/porthole}
PROBE=${PROBE:-build/bench/tcp_probe}
OUT=${OUT:-bench/results/connect-$(date +%Y%m%d-%H%M%S).txt}
TOKEN=bench-token-not-secret
case "${1:-}" in
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "bench/connect.sh: no arguments, only environment variables (try --help)" >&2; exit 2 ;;
esac
die() { echo "bench/connect.sh: $*" >&2; exit 1; }
[ -x "$PORTHOLE" ] || die "$PORTHOLE not built (make)"
[ -x "$PROBE" ] || die "$PROBE not built (make)"
for t in iperf3 ssh ssh-keygen /usr/sbin/sshd python3; do command -v "$t" >/dev/null || die "$t missing (make deps)"; done

TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_line FILE REGEX: the first capture group of the first matching line (10 s deadline).
wait_line() {
  local i
  for i in $(seq 200); do
    if grep -qE "$2" "$1" 2>/dev/null; then sed -nE "s#.*$2.*#\\1#p" "$1" | head -1; return; fi
    sleep 0.05
  done
  die "no /$2/ in $1: $(tail -5 "$1")"
}

# Servers: an echo server and an iperf3 server.
"$PROBE" echo-server 0 > "$TMP/echo.out" & PIDS+=($!)
ECHO=$(wait_line "$TMP/echo.out" 'listening ([0-9]+)')
IPERF=$(free_port)
iperf3 -s -B 127.0.0.1 -p "$IPERF" > "$TMP/iperf.log" 2>&1 & PIDS+=($!)

# porthole: relay, one agent per service (private names), one connect --listen each.
"$PORTHOLE" relay --agents 127.0.0.1:0 --admin 127.0.0.1:0 --http off --data "$TMP/relay" --token "$TOKEN" \
  > "$TMP/relay.log" 2>&1 & PIDS+=($!)
RELAY=127.0.0.1:$(wait_line "$TMP/relay.log" 'Relay listening for agents on [^ ]+:([0-9]+)')
FP=$(wait_line "$TMP/relay.log" 'fingerprint SHA256:([0-9a-f]{64})')
common=(--relay "$RELAY" --token "$TOKEN" --relay-fingerprint "$FP")
export XDG_CONFIG_HOME=$TMP/home
for svc in echo:$ECHO iperf:$IPERF; do
  name=bench-${svc%%:*}
  "$PORTHOLE" --log-level warn tcp "${svc#*:}" --private "$name" "${common[@]}" --inspect off > "$TMP/$name.agent" 2>&1 & PIDS+=($!)
  wait_line "$TMP/$name.agent" "Forwarding (private://$name)" > /dev/null
  "$PORTHOLE" --log-level warn connect "$name" --listen 0 "${common[@]}" > "$TMP/$name.connect" 2>&1 & PIDS+=($!)
done
C_ECHO=$(wait_line "$TMP/bench-echo.connect" 'Listening on 127.0.0.1:([0-9]+)')
C_IPERF=$(wait_line "$TMP/bench-iperf.connect" 'Listening on 127.0.0.1:([0-9]+)')

# ssh -L: a throwaway sshd on a free loopback port.
ssh-keygen -q -t ed25519 -N "" -f "$TMP/host" && ssh-keygen -q -t ed25519 -N "" -f "$TMP/client"
cp "$TMP/client.pub" "$TMP/authorized_keys"
SSHD_PORT=$(free_port)
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f /dev/null -o ListenAddress=127.0.0.1 -p "$SSHD_PORT" -o HostKey="$TMP/host" \
  -o AuthorizedKeysFile="$TMP/authorized_keys" -o UsePAM=no -o StrictModes=no -o PidFile=none \
  2> "$TMP/sshd.log" & PIDS+=($!)
S_ECHO=$(free_port); S_IPERF=$(free_port)
sshopts=(-F /dev/null -i "$TMP/client" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no
         -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "$SSHD_PORT")
for i in $(seq 100); do ssh "${sshopts[@]}" 127.0.0.1 true 2>/dev/null && break; sleep 0.1; done
ssh "${sshopts[@]}" -N -L "127.0.0.1:$S_ECHO:127.0.0.1:$ECHO" -L "127.0.0.1:$S_IPERF:127.0.0.1:$IPERF" 127.0.0.1 & PIDS+=($!)
for i in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$S_ECHO") 2>/dev/null && break; sleep 0.1; done

mkdir -p "$(dirname "$OUT")"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
{
  echo "# bench/connect.sh $(date -u +%FT%TZ) DURATION=$DURATION nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-8s %14s %14s %14s %14s\n' target 'Gbit/s' 'pingpong p50' 'p99 (us)' 'conn+echo/s'
  for t in direct:$ECHO:$IPERF connect:$C_ECHO:$C_IPERF ssh-L:$S_ECHO:$S_IPERF; do
    IFS=: read -r name eport iport <<< "$t"
    gbps=$(iperf3 -c 127.0.0.1 -p "$iport" -t "$DURATION" -J | json 'round(d["end"]["sum_received"]["bits_per_second"]/1e9, 2)')
    pp=$("$PROBE" pingpong 127.0.0.1 "$eport" --seconds "$DURATION")
    cr=$("$PROBE" connrate 127.0.0.1 "$eport" --seconds "$DURATION")
    printf '%-8s %14s %14s %14s %14s\n' "$name" "$gbps" "$(json 'd["p50_us"]' <<< "$pp")" \
      "$(json 'd["p99_us"]' <<< "$pp")" "$(json 'round(d["samples"]/d["seconds"])' <<< "$cr")"
  done
} | tee "$OUT"
echo "results: $OUT" >&2
