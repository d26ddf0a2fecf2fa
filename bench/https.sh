#!/usr/bin/env bash
# HTTPS benchmark on loopback (issue 8). Not a test; see docs/benchmarks.md ("HTTPS").
#   1. wrk over HTTPS with keep-alive, and with `Connection: close` (a new TLS connection per
#      request: TLS connections/s), to a 615 B page of an nginx origin, through
#        porthole  - the relay's https listener terminating (visitor -> relay -> agent -> origin)
#        nginx     - nginx terminating TLS one hop, proxy_pass with upstream keep-alive
#      both with the same ECDSA P-256 certificate for bench.example.test (a CA made here).
#   2. passthrough throughput: BYTES of TLS from a socat TLS server read through
#        tls  - `porthole tls` (SNI passthrough on the https port)
#        tcp  - `porthole tcp` (a plain tcp tunnel carrying the same TLS)
#
#   bash bench/https.sh
#   DURATION=2 BYTES=268435456 bash bench/https.sh        # a smoke run
#
# Environment: DURATION (s per wrk cell, 10), THREADS (wrk threads, 2), KA_CONNS (50),
# CLOSE_CONNS (10), BYTES (passthrough bytes per run, 2 GiB), PORTHOLE (build/porthole),
# OUT (results dir, bench/results/https-<time>). wrk runs in a private mount namespace whose
# /etc/hosts maps bench.example.test to 127.0.0.1 (wrk takes SNI from the URL), so this needs
# root (unshare -m), as CI and the dev machines have. Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
KA_CONNS=${KA_CONNS:-50}
CLOSE_CONNS=${CLOSE_CONNS:-10}
BYTES=${BYTES:-2147483648}
PORTHOLE=${PORTHOLE:-build/porthole}
OUT=${OUT:-bench/results/https-$(date +%Y%m%d-%H%M%S)}
TOKEN=bench-token-not-secret
HOST=bench.example.test
die() { echo "bench/https.sh: $*" >&2; exit 1; }
for tool in wrk nginx socat openssl unshare dd /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "$tool missing: run 'make deps'"
done
[ -x "$PORTHOLE" ] || die "no porthole binary at $PORTHOLE (make build)"
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN {exit !(l > 1.0)}'; then
  echo "bench/https.sh: WARNING: load average $load > 1.0: the figures are not results" >&2
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/porthole-https-bench.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  cp "$WORK"/*.log "$WORK"/*.conf "$OUT/" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
start() {  # NAME CMD...: in its own session, output in $WORK/NAME.log
  local name=$1; shift
  echo "  [$name] $*" >>"$OUT/commands.txt"
  setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null &
  PIDS+=($!)
}
wait_for() {  # FILE REGEX: the first match's first group
  local _
  for _ in $(seq 300); do
    if grep -qE "$2" "$1" 2>/dev/null; then sed -nE "s#.*$2.*#\\1#p" "$1" | head -1; return 0; fi
    sleep 0.05
  done
  echo "bench/https.sh: timed out waiting for /$2/ in $1" >&2; cat "$1" >&2; return 1
}
wait_port() {
  local _
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  die "nothing listens on 127.0.0.1:$1"
}
read -r ORIGIN NGINX TLSSRV < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')

# Certificates: one CA, one ECDSA P-256 leaf for $HOST used by porthole, nginx and socat.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/ca-key.pem" \
  -out "$WORK/ca.pem" -days 2 -subj /CN=bench-ca 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/key.pem" \
  -out "$WORK/leaf.csr" -subj "/CN=$HOST" 2>/dev/null
printf 'subjectAltName=DNS:%s\n' "$HOST" >"$WORK/leaf.ext"
openssl x509 -req -in "$WORK/leaf.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca-key.pem" -CAcreateserial -days 2 \
  -extfile "$WORK/leaf.ext" -out "$WORK/cert.pem" 2>/dev/null
printf '127.0.0.1 %s\n' "$HOST" >"$WORK/hosts"

# Origin: nginx with a 615 B page (bench/http_origin.conf.in).
mkdir -p "$WORK/www" "$WORK/origin" "$WORK/edge"
head -c 615 /dev/zero | tr '\0' 'x' >"$WORK/www/index.html"
sed -e "s|@DIR@|$WORK/origin|g" -e "s|@PORT@|$ORIGIN|g" -e "s|@WWW@|$WORK/www|g" bench/http_origin.conf.in >"$WORK/origin.conf"
start origin nginx -c "$WORK/origin.conf" -p "$WORK/origin"
wait_port "$ORIGIN"
# nginx terminating TLS one hop.
sed -e "s|@DIR@|$WORK/edge|g" -e "s|@PORT@|$NGINX|g" -e "s|@ORIGIN_PORT@|$ORIGIN|g" \
    -e "s|@CERT@|$WORK/cert.pem|g" -e "s|@KEY@|$WORK/key.pem|g" bench/nginx-https.conf.in >"$WORK/nginx-https.conf"
start nginx nginx -c "$WORK/nginx-https.conf" -p "$WORK/edge"
wait_port "$NGINX"
# porthole: relay with the same certificate, an http agent, a tls agent, a tcp agent.
printf 'version = 1\n[[certificate]]\ncert = "%s"\nkey = "%s"\n' "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/relay.toml"
start relay "$PORTHOLE" relay --config "$WORK/relay.toml" --agents 127.0.0.1:0 --http 127.0.0.1:0 --https 127.0.0.1:0 \
  --admin 127.0.0.1:0 --data "$WORK/data" --token "$TOKEN" --tcp-ports 21000-21999
AGENTS=$(wait_for "$WORK/relay.log" 'listening for agents on 127.0.0.1:([0-9]+)')
HTTPS=$(wait_for "$WORK/relay.log" 'listening for HTTPS visitors on 127.0.0.1:([0-9]+)')
FP=$(wait_for "$WORK/relay.log" 'Relay certificate fingerprint SHA256:([0-9a-f]+)')
common=(--relay "127.0.0.1:$AGENTS" --token "$TOKEN" --relay-fingerprint "$FP" --inspect off)
XDG_CONFIG_HOME=$WORK start agent-http "$PORTHOLE" http "$ORIGIN" --hostname "$HOST" "${common[@]}" --name web
wait_for "$WORK/agent-http.log" '(Forwarding) ' >/dev/null
start tlssrv socat -U "OPENSSL-LISTEN:$TLSSRV,bind=127.0.0.1,reuseaddr,fork,cert=$WORK/cert.pem,key=$WORK/key.pem,verify=0" FILE:/dev/zero
wait_port "$TLSSRV"
XDG_CONFIG_HOME=$WORK start agent-tls "$PORTHOLE" tls "$TLSSRV" --hostname pass.example.test "${common[@]}" --name pass
wait_for "$WORK/agent-tls.log" '(Forwarding) ' >/dev/null
XDG_CONFIG_HOME=$WORK start agent-tcp "$PORTHOLE" tcp "$TLSSRV" "${common[@]}" --name plain
TCPPORT=$(wait_for "$WORK/agent-tcp.log" 'Forwarding tcp://[^:]+:([0-9]+)')

{
  echo "# bench/https.sh $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(nginx -v 2>&1); $(openssl version)"
  echo "# DURATION=$DURATION THREADS=$THREADS KA_CONNS=$KA_CONNS CLOSE_CONNS=$CLOSE_CONNS BYTES=$BYTES"
} | tee "$OUT/results.txt"
rps() {  # PORT CONNS [wrk args...]: requests/s over HTTPS to $HOST
  local port=$1 conns=$2; shift 2
  unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$WORK/hosts" \
    wrk -t "$THREADS" -c "$conns" -d "${DURATION}s" "$@" "https://$HOST:$port/index.html" 2>&1 |
    tee -a "$OUT/wrk.txt" | awk '/Requests\/sec/ {print $2}'
}
for target in porthole nginx; do
  port=$([ $target = porthole ] && echo "$HTTPS" || echo "$NGINX")
  ka=$(rps "$port" "$KA_CONNS")
  close=$(rps "$port" "$CLOSE_CONNS" -H "Connection: close")
  printf '%-9s keep-alive %10s req/s   Connection: close (new TLS connections) %10s /s\n' "$target" "$ka" "$close" |
    tee -a "$OUT/results.txt"
done
through() {  # PORT [SNI]: MiB/s of BYTES read through a TLS client
  local port=$1 sni=${2:-}
  local opt="verify=0"
  [ -n "$sni" ] && opt="$opt,snihost=$sni"
  # socat fails with EPIPE when dd has its count and closes: that is the normal end.
  { socat -u "OPENSSL:127.0.0.1:$port,$opt" - 2>/dev/null || true; } |
    dd of=/dev/null bs=1M count=$((BYTES / 1048576)) iflag=fullblock 2>&1 |
    awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "copied,") {print $(i+1) " s"}}'
}
for kind in tls tcp; do
  t=$([ $kind = tls ] && through "$HTTPS" pass.example.test || through "$TCPPORT")
  secs=${t% s}
  printf '%-9s passthrough %d MiB in %s: %s MiB/s\n' "$kind" $((BYTES / 1048576)) "$t" \
    "$(awk -v b="$BYTES" -v s="$secs" 'BEGIN {printf "%.0f", b / 1048576 / s}')" | tee -a "$OUT/results.txt"
done
echo "bench/https.sh: results in $OUT" >&2
