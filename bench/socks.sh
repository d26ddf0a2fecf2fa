#!/usr/bin/env bash
# `porthole socks` vs `ssh -D` and microsocks on loopback (issue 10), one hop each, every
# connection a SOCKS5 CONNECT (bench/tcp_probe --socks5): single-stream throughput (tcp_probe
# throughput to a sink-server), 1-byte ping-pong and new connection + 1-byte echo (tcp_probe
# pingpong / connrate to an echo-server), through
#   direct      the servers themselves (no proxy)
#   porthole    porthole socks --via NAME -> relay -> porthole exit NAME (loopback listed)
#   ssh-D       ssh -N -D to a throwaway sshd (temp host and client keys, loopback only)
#   microsocks  microsocks -i 127.0.0.1
# in one run, so the figures are comparable as ratios. Not a test. See docs/benchmarks.md.
#
#   bash bench/socks.sh                        # DURATION=10 s per measurement
#   DURATION=2 bash bench/socks.sh             # a smoke run (~40 s)
#
# Environment: DURATION (s, 10), PORTHOLE (build/porthole), PROBE (build/bench/tcp_probe),
# OUT (results file, bench/results/socks-<time>.txt). Every process it starts is stopped on exit;
# everything listens on 127.0.0.1, free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
PORTHOLE=${PORTHOLE:-build/porthole}
PROBE=${PROBE:-build/bench/tcp_probe}
OUT=${OUT:-bench/results/socks-$(date +%Y%m%d-%H%M%S).txt}
TOKEN=bench-token-not-secret
case "${1:-}" in
  -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "bench/socks.sh: no arguments, only environment variables (try --help)" >&2; exit 2 ;;
esac
die() { echo "bench/socks.sh: $*" >&2; exit 1; }
[ -x "$PORTHOLE" ] || die "$PORTHOLE not built (make)"
[ -x "$PROBE" ] || die "$PROBE not built (make)"
for t in ssh ssh-keygen /usr/sbin/sshd microsocks python3; do command -v "$t" >/dev/null || die "$t missing (make deps)"; done

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
# wait_socks PORT: until a SOCKS5 CONNECT through it to the echo server echoes (10 s).
wait_socks() {
  local i
  for i in $(seq 100); do
    "$PROBE" pingpong 127.0.0.1 "$ECHO" --seconds 0.01 --socks5 "127.0.0.1:$1" >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "no SOCKS5 on 127.0.0.1:$1"
}

# Servers: an echo server and a sink.
"$PROBE" echo-server 0 > "$TMP/echo.out" & PIDS+=($!)
ECHO=$(wait_line "$TMP/echo.out" 'listening ([0-9]+)')
"$PROBE" sink-server 0 > "$TMP/sink.out" & PIDS+=($!)
SINK=$(wait_line "$TMP/sink.out" 'listening ([0-9]+)')

# porthole: relay, an exit allowing exactly the two servers, socks through it.
"$PORTHOLE" relay --agents 127.0.0.1:0 --admin 127.0.0.1:0 --http off --data "$TMP/relay" --token "$TOKEN" \
  > "$TMP/relay.log" 2>&1 & PIDS+=($!)
RELAY=127.0.0.1:$(wait_line "$TMP/relay.log" 'Relay listening for agents on [^ ]+:([0-9]+)')
FP=$(wait_line "$TMP/relay.log" 'fingerprint SHA256:([0-9a-f]{64})')
common=(--relay "$RELAY" --token "$TOKEN" --relay-fingerprint "$FP")
export XDG_CONFIG_HOME=$TMP/home
"$PORTHOLE" --log-level warn exit bench-exit --allow-dest "127.0.0.1:$ECHO,$SINK" "${common[@]}" --inspect off \
  > "$TMP/exit.log" 2>&1 & PIDS+=($!)
wait_line "$TMP/exit.log" "Exit (exit://bench-exit) allows" > /dev/null
"$PORTHOLE" --log-level warn socks --listen 127.0.0.1:0 --via bench-exit "${common[@]}" > "$TMP/socks.log" 2>&1 & PIDS+=($!)
P_SOCKS=$(wait_line "$TMP/socks.log" 'SOCKS5 and HTTP proxy on 127\.0\.0\.1:([0-9]+)')

# ssh -D: a throwaway sshd on a free loopback port.
ssh-keygen -q -t ed25519 -N "" -f "$TMP/host" && ssh-keygen -q -t ed25519 -N "" -f "$TMP/client"
cp "$TMP/client.pub" "$TMP/authorized_keys"
SSHD_PORT=$(free_port)
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f /dev/null -o ListenAddress=127.0.0.1 -p "$SSHD_PORT" -o HostKey="$TMP/host" \
  -o AuthorizedKeysFile="$TMP/authorized_keys" -o UsePAM=no -o StrictModes=no -o PidFile=none \
  2> "$TMP/sshd.log" & PIDS+=($!)
sshopts=(-F /dev/null -i "$TMP/client" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no
         -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "$SSHD_PORT")
for i in $(seq 100); do ssh "${sshopts[@]}" 127.0.0.1 true 2>/dev/null && break; sleep 0.1; done
P_SSH=$(free_port)
ssh "${sshopts[@]}" -N -D "127.0.0.1:$P_SSH" 127.0.0.1 & PIDS+=($!)

# microsocks.
P_MICRO=$(free_port)
microsocks -i 127.0.0.1 -p "$P_MICRO" > "$TMP/microsocks.log" 2>&1 & PIDS+=($!)

for p in "$P_SOCKS" "$P_SSH" "$P_MICRO"; do wait_socks "$p"; done

mkdir -p "$(dirname "$OUT")"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
{
  echo "# bench/socks.sh $(date -u +%FT%TZ) DURATION=$DURATION nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-10s %14s %14s %14s %14s\n' via 'Gbit/s' 'pingpong p50' 'p99 (us)' 'conn+echo/s'
  for t in direct:- porthole:$P_SOCKS ssh-D:$P_SSH microsocks:$P_MICRO; do
    IFS=: read -r name port <<< "$t"
    via=()
    [ "$port" = - ] || via=(--socks5 "127.0.0.1:$port")
    tp=$("$PROBE" throughput 127.0.0.1 "$SINK" --seconds "$DURATION" "${via[@]}")
    pp=$("$PROBE" pingpong 127.0.0.1 "$ECHO" --seconds "$DURATION" "${via[@]}")
    cr=$("$PROBE" connrate 127.0.0.1 "$ECHO" --seconds "$DURATION" "${via[@]}")
    printf '%-10s %14s %14s %14s %14s\n' "$name" "$(json 'round(d["gbit_s"], 2)' <<< "$tp")" \
      "$(json 'd["p50_us"]' <<< "$pp")" "$(json 'd["p99_us"]' <<< "$pp")" \
      "$(json 'round(d["samples"]/d["seconds"])' <<< "$cr")"
  done
} | tee "$OUT"
echo "results: $OUT" >&2
