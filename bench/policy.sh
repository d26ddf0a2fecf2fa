#!/usr/bin/env bash
# Traffic-policy cost (issue 11): wrk through one `porthole http` endpoint without a policy and
# one with a 10-rule policy (IP rules, a header match, a regex path, a glob, a query test, a time
# window, header edits, a rate limit that is not hit, basic auth with the credentials sent),
# same relay, same nginx origin, interleaved rounds; reports requests/s and p99 as ratios.
# Not a test. See docs/benchmarks.md.
#
#   bash bench/policy.sh                       # REPEAT=3 rounds x DURATION=10 s per cell
#   DURATION=2 REPEAT=1 bash bench/policy.sh   # a smoke run
#
# Environment: DURATION (10), REPEAT (3), THREADS (2), CONNS (50), PORTHOLE (build/porthole).
# Everything listens on 127.0.0.1 on free ports; every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
PORTHOLE=${PORTHOLE:-build/porthole}
die() { echo "bench/policy.sh: $*" >&2; exit 1; }
for tool in wrk nginx curl python3; do command -v "$tool" >/dev/null || die "$tool missing (make deps)"; done
[ -x "$PORTHOLE" ] || die "no porthole binary at $PORTHOLE"
load=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load" 'BEGIN {exit !(l > 1.0)}' &&
  echo "bench/policy.sh: WARNING: load average $load: the machine is not idle (compare ratios only)" >&2

WORK=$(mktemp -d /tmp/porthole-policy-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # FILE REGEX: waits (10 s) for a line, prints the first match
  for _ in $(seq 100); do
    if grep -Eo "$2" "$1" 2>/dev/null | head -1 | grep .; then return 0; fi
    sleep 0.1
  done
  die "no /$2/ in $1: $(tail -5 "$1")"
}

ORIGIN=$(free_port)
cat >"$WORK/nginx.conf" <<NGINX
daemon off; worker_processes 1; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$ORIGIN; location / { return 200 "hello from the origin\n"; } } }
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)

TOKEN=bench-token-not-secret
"$PORTHOLE" relay --agents 127.0.0.1:0 --http 127.0.0.1:0 --admin 127.0.0.1:0 --data "$WORK/relay" \
  --token "$TOKEN" >"$WORK/relay.out" 2>"$WORK/relay.err" & PIDS+=($!)
AGENTS=$(wait_for "$WORK/relay.out" 'agents on [0-9.]+:[0-9]+' | grep -Eo '[0-9.]+:[0-9]+$')
HTTP=$(wait_for "$WORK/relay.out" 'HTTP visitors on [0-9.]+:[0-9]+' | grep -Eo '[0-9]+$')
FP=$(wait_for "$WORK/relay.out" 'SHA256:[0-9a-f]{64}' | cut -d: -f2)

PASS_HASH=$(echo "bench pass" | "$PORTHOLE" policy hash-password)
JWT_SECRET=bench-jwt-secret-0123456789abcdef0123
JWT=$(python3 -c '
import base64, hmac, hashlib, json, sys, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
h = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
c = b(json.dumps({"iss": "bench", "aud": "bench", "sub": "bench", "exp": int(time.time()) + 86400}).encode())
s = b(hmac.new(sys.argv[1].encode(), f"{h}.{c}".encode(), hashlib.sha256).digest())
print(f"{h}.{c}.{s}")' "$JWT_SECRET")
sed -e "s|@PASS_HASH@|$PASS_HASH|" -e "s|@JWT_SECRET@|$JWT_SECRET|" bench/policy-rules.toml >"$WORK/policy.toml"
for name in nopol pol; do
  extra=()
  [ "$name" = pol ] && extra=(--policy "$WORK/policy.toml")
  "$PORTHOLE" http "$ORIGIN" --relay "$AGENTS" --relay-fingerprint "$FP" --token "$TOKEN" --inspect off \
    --subdomain "$name" --name "$name" "${extra[@]}" >"$WORK/$name.out" 2>"$WORK/$name.err" & PIDS+=($!)
  wait_for "$WORK/$name.out" "Forwarding http://$name" >/dev/null
done
AUTH="Authorization: Basic $(printf 'bench:bench pass' | base64)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: pol.localhost" -H "$AUTH" -H "X-Token: $JWT" "http://127.0.0.1:$HTTP/")" = 200 ] ||
  die "the policy endpoint does not answer 200"

run() {  # NAME -> "rps p99_ms"
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -H "Host: $1.localhost" -H "$AUTH" -H "X-Token: $JWT" ${WRK_EXTRA:-} \
    "http://127.0.0.1:$HTTP/index.html" >"$WORK/wrk.txt"
  local rps p99
  [ -n "${VERBOSE:-}" ] && cat "$WORK/wrk.txt" >&2
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) sub("ms","",v); else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' "$WORK/wrk.txt")
  echo "$rps $p99"
}
declare -a A B
for i in $(seq "$REPEAT"); do
  A+=("$(run nopol)")
  B+=("$(run pol)")
  echo "round $i: no policy ${A[-1]}   10-rule policy ${B[-1]}   (req/s p99_ms)"
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ra=$(printf '%s\n' "${A[@]}" | cut -d' ' -f1 | median); rb=$(printf '%s\n' "${B[@]}" | cut -d' ' -f1 | median)
pa=$(printf '%s\n' "${A[@]}" | cut -d' ' -f2 | median); pb=$(printf '%s\n' "${B[@]}" | cut -d' ' -f2 | median)
echo "median: no policy $ra req/s p99 $pa ms; 10-rule policy $rb req/s p99 $pb ms"
awk -v a="$ra" -v b="$rb" -v pa="$pa" -v pb="$pb" \
  'BEGIN {printf "ratios: req/s %.3f (goal >= 0.90), p99 %.2fx (goal <= 1.10)\n", b/a, pb/pa}'
