#!/usr/bin/env bash
# Capture cost and capture memory (issue 12): wrk through `porthole http` with the inspector on
# (every exchange captured) and with --inspect off, alternating, same relay and origin; then a
# long run of POSTs with bodies against a small --inspect-memory, sampling the agent's RSS and
# the ring's own byte count against the cap. Not a test. See docs/benchmarks.md.
#
#   bash bench/inspect.sh                              # REPEAT=3 rounds x DURATION=10 s
#   DURATION=2 REPEAT=1 MEM_DURATION=5 bash bench/inspect.sh   # a smoke run (~20 s)
#
# Environment: DURATION (s per measurement, 10), REPEAT (rounds, median, 3), THREADS (wrk, 2),
# CONNS (keep-alive connections, 50), MEM_DURATION (s of POSTs in the memory run, 30: about
# 100k requests at 3-4k req/s), CAP
# (--inspect-memory of the memory run, 16MiB), BODY (bytes per POST body, 2048), MEM_DB (1: the
# memory run also persists with --inspect-db, and reports the file's rows and size; 0: not), PORTHOLE
# (binary, build/porthole), OUT (results dir, bench/results/inspect-<time>).
# Everything listens on 127.0.0.1 on free ports; every process started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
MEM_DURATION=${MEM_DURATION:-30}
CAP=${CAP:-16MiB}
BODY=${BODY:-2048}
MEM_DB=${MEM_DB:-1}
PORTHOLE=${PORTHOLE:-build/porthole}
OUT=${OUT:-bench/results/inspect-$(date +%Y%m%d-%H%M%S)}
TOKEN=bench-token-not-secret

case "${1:-}" in
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "bench/inspect.sh: no arguments, only environment variables (try --help)" >&2; exit 2 ;;
esac
die() { echo "bench/inspect.sh: $*" >&2; exit 1; }
for v in DURATION REPEAT THREADS CONNS MEM_DURATION BODY; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || die "$v must be a whole number >= 1 (got '${!v}')"
done
for tool in wrk nginx curl setsid /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "$tool missing: run 'make deps'"
done
[ -x "$PORTHOLE" ] || die "no porthole binary at $PORTHOLE (make build)"
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN {exit !(l > 1.0)}'; then
  echo "bench/inspect.sh: WARNING: load average $load (> 1.0): the machine is not idle; the figures are not results" >&2
fi

WORK=$(mktemp -d /tmp/porthole-inspect-bench.XXXXXX)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  mkdir -p "$OUT/logs" && cp "$WORK"/*.log "$OUT/logs/" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
start() {  # NAME CMD...: in its own session, output in $WORK/NAME.log; sets STARTED
  local name=$1; shift
  echo "  [$name] $*" >>"$OUT/commands.txt"
  setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null &
  STARTED=$!
  PIDS+=("$STARTED")
}
wait_for() {  # PID FILE REGEX: prints the first match's first group
  local _
  for _ in $(seq 300); do
    if grep -qE "$3" "$2" 2>/dev/null; then sed -nE "s#.*$3.*#\\1#p" "$2" | head -1; return 0; fi
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  sed 's/^/    /' "$2" >&2
  die "timed out waiting for /$3/ in $2"
}
stop() {  # PID
  kill -TERM -- "-$1" 2>/dev/null || true
  local _
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
  kill -KILL -- "-$1" 2>/dev/null || true
}
read -r ORIGIN_PORT < <(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# The origin: nginx, a 615-byte page; POSTs are answered by the same location (nginx answers
# 405 to a POST on a static file, which is just as much an exchange to capture).
mkdir -p "$WORK/www" "$WORK/origin"
head -c 614 /dev/zero | tr '\0' 'x' >"$WORK/www/small.html"; echo >>"$WORK/www/small.html"
sed -e "s|@DIR@|$WORK/origin|g" -e "s|@PORT@|$ORIGIN_PORT|g" -e "s|@WWW@|$WORK/www|g" bench/http_origin.conf.in \
  >"$WORK/origin/nginx.conf"
start origin nginx -p "$WORK/origin" -c "$WORK/origin/nginx.conf" -e "$WORK/origin/error.log"

mkdir -p "$WORK/data" "$WORK/xdg"
start relay "$PORTHOLE" relay --agents 127.0.0.1:0 --http 127.0.0.1:0 --https 127.0.0.1:0 --admin 127.0.0.1:0 \
  --data "$WORK/data" --token "$TOKEN"
RELAY=$STARTED
AGENTS=$(wait_for "$RELAY" "$WORK/relay.log" 'Relay listening for agents on (127\.0\.0\.1:[0-9]+)')
HTTP_PORT=$(wait_for "$RELAY" "$WORK/relay.log" 'Relay listening for HTTP visitors on 127\.0\.0\.1:([0-9]+)')
FP=$(wait_for "$RELAY" "$WORK/relay.log" 'fingerprint SHA256:([0-9A-Fa-f:]{64,})')

agent() {  # NAME INSPECT-ARGS...: starts an agent for subdomain NAME; sets AGENT (pid), API (port or "")
  local name=$1; shift
  start "agent-$name" env XDG_CONFIG_HOME="$WORK/xdg" "$PORTHOLE" http "$ORIGIN_PORT" --subdomain "$name" \
    --relay "$AGENTS" --token "$TOKEN" --relay-fingerprint "$FP" --log stderr "$@"
  AGENT=$STARTED
  wait_for "$AGENT" "$WORK/agent-$name.log" "Forwarding (http://$name\\.localhost:[0-9]+)" >/dev/null
  API=$(grep -oE 'Web Interface http://127\.0\.0\.1:[0-9]+' "$WORK/agent-$name.log" | grep -oE '[0-9]+$' || true)
}
rps() {  # SUBDOMAIN [wrk args...]: requests/s
  local host=$1; shift
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -H "Host: $host.localhost:$HTTP_PORT" "$@" \
    "http://127.0.0.1:$HTTP_PORT/small.html" | awk '/^Requests\/sec/ {print $2}'
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

{
  echo "# bench/inspect.sh $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
  echo "# DURATION=$DURATION REPEAT=$REPEAT THREADS=$THREADS CONNS=$CONNS MEM_DURATION=$MEM_DURATION CAP=$CAP BODY=$BODY MEM_DB=$MEM_DB"
} | tee "$OUT/results.txt" >&2

# 1. Throughput, capture on vs off (GET of 615 B, keep-alive), alternating rounds.
agent on --inspect 127.0.0.1:0
ON_PID=$AGENT; ON_API=$API
agent off --inspect off
OFF_PID=$AGENT
on=(); off=()
for r in $(seq "$REPEAT"); do
  on+=("$(rps on)"); off+=("$(rps off)")
  echo "round $r: capture on ${on[-1]} req/s, --inspect off ${off[-1]} req/s" | tee -a "$OUT/results.txt" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_on=$(median "${on[@]}"); m_off=$(median "${off[@]}")
echo "throughput: capture on $m_on req/s, off $m_off req/s, on/off = $(awk -v a="$m_on" -v b="$m_off" 'BEGIN {printf "%.3f", a/b}')" \
  | tee -a "$OUT/results.txt" >&2
echo "agent RSS after the runs: capture on $(rss_kib "$ON_PID") KiB, off $(rss_kib "$OFF_PID") KiB" | tee -a "$OUT/results.txt" >&2
stop "$ON_PID"; stop "$OFF_PID"

# 2. Memory: MEM_DURATION s of POSTs with BODY-byte bodies against --inspect-memory CAP.
DB_ARGS=()
[ "$MEM_DB" = 1 ] && DB_ARGS=(--inspect-db "$WORK/captures.db")
agent mem --inspect 127.0.0.1:0 --inspect-memory "$CAP" "${DB_ARGS[@]}"
MEM_PID=$AGENT; MEM_API=$API
head -c "$BODY" /dev/zero | tr '\0' 'b' >"$WORK/body"
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
local f = io.open("$WORK/body", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
rss0=$(rss_kib "$MEM_PID")
max_rss=$rss0
wrk -t"$THREADS" -c"$CONNS" -d"${MEM_DURATION}s" -s "$WORK/post.lua" -H "Host: mem.localhost:$HTTP_PORT" \
  "http://127.0.0.1:$HTTP_PORT/small.html" >"$WORK/wrk-mem.log" 2>&1 &
WRK=$!
while kill -0 "$WRK" 2>/dev/null; do
  r=$(rss_kib "$MEM_PID"); [ "$r" -gt "$max_rss" ] && max_rss=$r
  sleep 0.2
done
wait "$WRK" || true
status=$(curl -s "http://127.0.0.1:$MEM_API/api/status")
echo "memory run: $(grep -E '^ +[0-9]+ requests' "$WORK/wrk-mem.log" | xargs) ; agent RSS $rss0 KiB at start, max $max_rss KiB;" \
  "capture: $(echo "$status" | /usr/bin/python3 -c 'import json,sys; i=json.load(sys.stdin)["inspect"]; print(f"""captured {i["captured"]}, dropped {i["dropped"]}, held {i["held"]}, ring {i["bytes"]} of {i["max_bytes"]} bytes, evicted {i["evicted"]}""")')" \
  | tee -a "$OUT/results.txt" >&2
reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk-mem.log")
echo "memory run goal: >= 100000 requests (got ${reqs:-?}; raise MEM_DURATION if short), ring <= cap, RSS growth" \
  "$((max_rss - rss0)) KiB against a cap of $CAP" | tee -a "$OUT/results.txt" >&2
if [ "$MEM_DB" = 1 ]; then
  stop "$MEM_PID"  # the agent writes what is pending before it exits
  /usr/bin/python3 - "$WORK/captures.db" <<'PY' | tee -a "$OUT/results.txt" >&2
import os, sqlite3, sys
path = sys.argv[1]
con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
rows = con.execute("SELECT count(*) FROM captures").fetchone()[0]
size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
print(f"inspect db after the run: {rows} rows, {size >> 10} KiB on disk (file + WAL)")
PY
fi
echo "results in $OUT/results.txt" >&2
