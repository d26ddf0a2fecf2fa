#!/usr/bin/env bash
# HTTP benchmark on loopback (issue 7): wrk against an nginx origin serving a 615 B and a 100 KiB
# page, directly, through `porthole http` (visitor -> relay -> agent -> origin), through one-hop
# nginx (proxy_pass, upstream keep-alive) and through one-hop HAProxy (mode http, http-reuse
# always); all of them in one run, compared as ratios. Not a test. See docs/benchmarks.md.
#
#   bash bench/http.sh                  # medians of REPEAT=3 rounds x DURATION=10 s per cell
#   DURATION=2 REPEAT=1 TCP=0 bash bench/http.sh           # a smoke run (~1 minute)
#
# Environment: DURATION (s per measurement, 10), WARMUP (s of wrk before each measurement, 1),
# REPEAT (rounds, median, 3), THREADS (wrk threads, 2), KA_CONNS (keep-alive connections, 50),
# CLOSE_CONNS (Connection: close connections, 10), TARGETS (direct,porthole,nginx,haproxy),
# PORTHOLE (binary, build/porthole), HAPROXY_THREADS (nbthread, number of CPUs),
# TCP (1: afterwards `bash bench/run.sh $TCP_ARGS` for the tcp tunnel figures; 0: skip),
# TCP_ARGS (--quick --no-hold), OUT (results dir, bench/results/http-<time>).
# Every process it starts is stopped on exit; everything listens on 127.0.0.1, free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-2}
KA_CONNS=${KA_CONNS:-50}
CLOSE_CONNS=${CLOSE_CONNS:-10}
TARGETS=${TARGETS:-direct,porthole,nginx,haproxy}
PORTHOLE=${PORTHOLE:-build/porthole}
HAPROXY_THREADS=${HAPROXY_THREADS:-$(nproc)}
TCP=${TCP:-1}
TCP_ARGS=${TCP_ARGS---quick --no-hold}  # set and empty: bench/run.sh at full length
OUT=${OUT:-bench/results/http-$(date +%Y%m%d-%H%M%S)}
TOKEN=bench-token-not-secret
SUBDOMAIN=bench

case "${1:-}" in
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "bench/http.sh: no arguments, only environment variables (try --help)" >&2; exit 2 ;;
esac
die() { echo "bench/http.sh: $*" >&2; exit 1; }
for v in DURATION WARMUP REPEAT THREADS KA_CONNS CLOSE_CONNS HAPROXY_THREADS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
{ [ "$REPEAT" -ge 1 ] && [ "$DURATION" -ge 1 ]; } || die "REPEAT and DURATION must be at least 1"
for tool in wrk nginx haproxy curl setsid /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "$tool missing: run 'make deps' (apt-get install wrk nginx haproxy curl)"
done
for t in ${TARGETS//,/ }; do
  case "$t" in direct|porthole|nginx|haproxy) ;; *) die "unknown target '$t' in TARGETS" ;; esac
done
if [[ ",$TARGETS," == *,porthole,* ]]; then
  [ -x "$PORTHOLE" ] || die "no porthole binary at $PORTHOLE (make build, or PORTHOLE=/path/to/porthole)"
fi

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN {exit !(l > 1.0)}'; then
  echo "bench/http.sh: WARNING: 1-minute load average is $load (> 1.0): the machine is not idle," \
       "the figures will not be meaningful (compare ratios within one run only)" >&2
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d /tmp/porthole-http-bench.XXXXXX)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
: >"$OUT/commands.txt"
PIDS=()
stop_all() {
  local p _
  [ -n "${WRK:-}" ] && kill -TERM "$WRK" 2>/dev/null
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 30); do
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}
cleanup() {
  stop_all
  if [ -d "$WORK" ]; then
    mkdir -p "$OUT/logs"
    local f
    while IFS= read -r f; do
      cp "$f" "$OUT/logs/$(echo "${f#"$WORK"/}" | tr / -)" 2>/dev/null || true
    done < <(find "$WORK" -maxdepth 3 \( -name '*.log' -o -name '*.conf' -o -name '*.cfg' \) -type f)
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

note() { echo "$*" | tee -a "$OUT/commands.txt" >&2; }
# start NAME CMD...: CMD in its own session (so its whole group can be stopped), output in
# $WORK/NAME.log; sets STARTED to its pid.
start() {
  local name=$1; shift
  note "  [$name] $*"
  setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null &
  STARTED=$!
  PIDS+=("$STARTED")
}
wait_for() {  # PID FILE REGEX: prints the first match's first group
  local _
  for _ in $(seq 200); do
    if grep -qE "$3" "$2" 2>/dev/null; then sed -nE "s#.*$3.*#\\1#p" "$2" | head -1; return 0; fi
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench/http.sh: timed out waiting for /$3/ in $2 (process $1 $(kill -0 "$1" 2>/dev/null && echo alive || echo exited)):" >&2
  sed 's/^/    /' "$2" >&2
  return 1
}
wait_port() {  # PID PORT LOG
  local _
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench/http.sh: nothing listens on 127.0.0.1:$2 (process $1 $(kill -0 "$1" 2>/dev/null && echo alive || echo exited)):" >&2
  sed 's/^/    /' "$3" >&2
  return 1
}
free_ports() {  # N: N distinct ports the kernel picked (bound together, then released)
  /usr/bin/python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
fill() {  # TEMPLATE OUTPUT KEY=VALUE...: replace @KEY@ by VALUE
  local in=$1 out=$2 expr=() kv; shift 2
  for kv in "$@"; do expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${expr[@]}" "$in" >"$out"
  ! grep -q '@[A-Z_]*@' "$out" || die "unfilled placeholder in $out"
}

read -r ORIGIN_PORT NGINX_PORT HAPROXY_PORT < <(free_ports 3)
CLK_TCK=$(getconf CLK_TCK)

HEADER="bench/http.sh $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')"
{
  echo "# $HEADER"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(uname -r)"
  echo "# DURATION=$DURATION WARMUP=$WARMUP REPEAT=$REPEAT THREADS=$THREADS KA_CONNS=$KA_CONNS CLOSE_CONNS=$CLOSE_CONNS TARGETS=$TARGETS HAPROXY_THREADS=$HAPROXY_THREADS"
  echo "# $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $(nginx -v 2>&1); $(haproxy -v | head -1 | cut -d' ' -f1-3)"
} | tee -a "$OUT/commands.txt" >&2

# Measure a copy: a rebuild of build/porthole during the run changes nothing.
if [ -x "$PORTHOLE" ]; then
  cp "$PORTHOLE" "$WORK/porthole-bin"
  note "# porthole: $PORTHOLE ($(stat -c '%y' "$PORTHOLE" | cut -d. -f1), sha256 $(sha256sum "$PORTHOLE" | cut -c1-12)), measured as a copy"
  PORTHOLE_RUN=$WORK/porthole-bin
fi

# ---- the origin: nginx, two static files ----
mkdir -p "$WORK/www" "$WORK/origin"
# 615 bytes: nginx's default page (or a stand-in of the same size if that file is not there).
if [ "$(stat -c %s /usr/share/nginx/html/index.html 2>/dev/null)" = 615 ]; then
  cp /usr/share/nginx/html/index.html "$WORK/www/small.html"
else
  { printf '<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n'
    head -c 615 /dev/zero | tr '\0' 'x'; } | head -c 614 >"$WORK/www/small.html"
  echo >>"$WORK/www/small.html"
fi
head -c 102400 /dev/zero | tr '\0' 'p' >"$WORK/www/large.html"
SMALL_SIZE=$(stat -c %s "$WORK/www/small.html")
LARGE_SIZE=$(stat -c %s "$WORK/www/large.html")

note "origin:"
fill bench/http_origin.conf.in "$WORK/origin/origin-nginx.conf" DIR="$WORK/origin" PORT="$ORIGIN_PORT" WWW="$WORK/www"
start origin nginx -p "$WORK/origin" -c "$WORK/origin/origin-nginx.conf" -e "$WORK/origin/error.log"
ORIGIN_PID=$STARTED
wait_port "$ORIGIN_PID" "$ORIGIN_PORT" "$WORK/origin.log"

# ---- the targets: for each, URL base, Host header (or empty) and name=pid of its processes ----
declare -A BASE HOSTHDR PROCS
for t in ${TARGETS//,/ }; do
  case "$t" in
    direct)
      BASE[$t]="http://127.0.0.1:$ORIGIN_PORT"; HOSTHDR[$t]=""; PROCS[$t]="origin=$ORIGIN_PID" ;;
    porthole)
      note "porthole:"
      mkdir -p "$WORK/porthole/data" "$WORK/porthole/xdg"
      start relay "$PORTHOLE_RUN" relay --agents 127.0.0.1:0 --http 127.0.0.1:0 --https 127.0.0.1:0 \
        --admin 127.0.0.1:0 --data "$WORK/porthole/data" --token "$TOKEN"
      relay_pid=$STARTED
      agents=$(wait_for "$relay_pid" "$WORK/relay.log" 'Relay listening for agents on (127\.0\.0\.1:[0-9]+)')
      http_port=$(wait_for "$relay_pid" "$WORK/relay.log" 'Relay listening for HTTP visitors on 127\.0\.0\.1:([0-9]+)')
      fp=$(wait_for "$relay_pid" "$WORK/relay.log" 'fingerprint SHA256:([0-9A-Fa-f:]{64,})')
      start agent env XDG_CONFIG_HOME="$WORK/porthole/xdg" "$PORTHOLE_RUN" http "$ORIGIN_PORT" \
        --subdomain "$SUBDOMAIN" --relay "$agents" --token "$TOKEN" --relay-fingerprint "$fp" --inspect off
      agent_pid=$STARTED
      fwd=$(wait_for "$agent_pid" "$WORK/agent.log" 'Forwarding (http://.*)')
      note "  agent: Forwarding $fwd"
      BASE[$t]="http://127.0.0.1:$http_port"; HOSTHDR[$t]="$SUBDOMAIN.localhost"
      PROCS[$t]="relay=$relay_pid agent=$agent_pid origin=$ORIGIN_PID" ;;
    nginx)
      note "nginx:"
      mkdir -p "$WORK/nginx"
      fill bench/nginx-http.conf.in "$WORK/nginx/proxy-nginx.conf" DIR="$WORK/nginx" PORT="$NGINX_PORT" ORIGIN_PORT="$ORIGIN_PORT"
      start nginx nginx -p "$WORK/nginx" -c "$WORK/nginx/proxy-nginx.conf" -e "$WORK/nginx/error.log"
      wait_port "$STARTED" "$NGINX_PORT" "$WORK/nginx.log"
      BASE[$t]="http://127.0.0.1:$NGINX_PORT"; HOSTHDR[$t]=""; PROCS[$t]="nginx=$STARTED origin=$ORIGIN_PID" ;;
    haproxy)
      note "haproxy:"
      fill bench/haproxy-http.cfg.in "$WORK/haproxy-http.cfg" PORT="$HAPROXY_PORT" ORIGIN_PORT="$ORIGIN_PORT" NBTHREAD="$HAPROXY_THREADS"
      start haproxy haproxy -f "$WORK/haproxy-http.cfg" -db
      wait_port "$STARTED" "$HAPROXY_PORT" "$WORK/haproxy.log"
      BASE[$t]="http://127.0.0.1:$HAPROXY_PORT"; HOSTHDR[$t]=""; PROCS[$t]="haproxy=$STARTED origin=$ORIGIN_PID" ;;
  esac
done

# One request per file and target before measuring: 200 and the whole file, or stop here.
for t in ${TARGETS//,/ }; do
  for f in small:$SMALL_SIZE large:$LARGE_SIZE; do
    hdr=(); [ -n "${HOSTHDR[$t]}" ] && hdr=(-H "Host: ${HOSTHDR[$t]}")
    got=$(curl -sS --max-time 5 "${hdr[@]}" -o /dev/null -w '%{http_code} %{size_download}' \
          "${BASE[$t]}/${f%%:*}.html" 2>&1) || true
    [ "$got" = "200 ${f#*:}" ] ||
      die "$t: GET ${BASE[$t]}/${f%%:*}.html ${hdr[*]} gave '$got', expected '200 ${f#*:}' (logs: $WORK)"
  done
done

# ---- the cells ----
CELLS=(ka-small ka-large close-small)
declare -A CELL_DESC=(
  [ka-small]="keep-alive, $KA_CONNS conns, $SMALL_SIZE B"
  [ka-large]="keep-alive, $KA_CONNS conns, 100 KiB"
  [close-small]="Connection: close, $CLOSE_CONNS conns, $SMALL_SIZE B")
cell_args() {  # CELL TARGET: wrk's arguments, quoted for eval (and for copying from the log)
  local h=""
  [ -n "${HOSTHDR[$2]}" ] && h=" -H 'Host: ${HOSTHDR[$2]}'"
  case "$1" in
    ka-small) echo "-t $THREADS -c $KA_CONNS --latency$h ${BASE[$2]}/small.html" ;;
    ka-large) echo "-t $THREADS -c $KA_CONNS --latency$h ${BASE[$2]}/large.html" ;;
    close-small) echo "-t $THREADS -c $CLOSE_CONNS --latency -H 'Connection: close'$h ${BASE[$2]}/small.html" ;;
  esac
}
run_wrk() {  # SECONDS ARGS OUTFILE: in the background, so that a signal stops the run at once
  eval "exec wrk -d ${1}s $2" >"$3" 2>&1 &
  WRK=$!
  wait "$WRK"
  local rc=$?
  WRK=""
  return "$rc"
}
cpu_ticks() {  # PID: utime + stime of the whole process (all its threads), in clock ticks
  sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0
}
parse_wrk() {  # FILE: "req/s p50_ms p99_ms requests non2xx socket_errors"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0
                     if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }
    /^ +50% / { p50 = ms($2) }  /^ +99% / { p99 = ms($2) }
    / requests in / { req = $1 }
    /Non-2xx or 3xx responses:/ { bad = $5 }
    /Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
    /^Requests\/sec:/ { rps = $2 }
    END { if (rps == "") exit 1; printf "%s %.3f %.3f %d %d %d\n", rps, p50, p99, req, bad, err }' "$1"
}

RAW="$OUT/raw.tsv"
printf 'round\tcell\ttarget\treq_s\tp50_ms\tp99_ms\trequests\tnon2xx\tsocket_errors\tcpu_s\n' >"$RAW"
n_targets=$(wc -w <<<"${TARGETS//,/ }")
total=$(( REPEAT * ${#CELLS[@]} * n_targets * (DURATION + WARMUP) ))
note "measuring: ${#CELLS[@]} cells x $n_targets targets x $REPEAT rounds x (${WARMUP} s warm-up + ${DURATION} s), ~$((total / 60 + 1)) min"
note "wrk commands (round 1):"
for r in $(seq "$REPEAT"); do
  for c in "${CELLS[@]}"; do
    for t in ${TARGETS//,/ }; do
      args=$(cell_args "$c" "$t")
      [ "$r" = 1 ] && note "  wrk -d ${DURATION}s $args"
      if [ "$WARMUP" -gt 0 ]; then
        run_wrk "$WARMUP" "$args" "$OUT/wrk-$c-$t-warmup.txt" || die "$t/$c: wrk (warm-up) failed: $(cat "$OUT/wrk-$c-$t-warmup.txt")"
      fi
      declare -A before=()
      for np in ${PROCS[$t]}; do before[${np%%=*}]=$(cpu_ticks "${np#*=}"); done
      f="$OUT/wrk-$c-$t-$r.txt"
      run_wrk "$DURATION" "$args" "$f" || die "$t/$c: wrk failed: $(cat "$f")"
      cpu=""
      for np in ${PROCS[$t]}; do
        n=${np%%=*}; after=$(cpu_ticks "${np#*=}")
        cpu+="$n=$(awk -v a="$after" -v b="${before[$n]}" -v h="$CLK_TCK" 'BEGIN {printf "%.2f", (a - b) / h}'),"
        kill -0 "${np#*=}" 2>/dev/null || die "$t: $n (pid ${np#*=}) exited during $c; its log: $(tail -5 "$WORK/$n.log" 2>/dev/null)"
      done
      res=$(parse_wrk "$f") || die "$t/$c: cannot read wrk's output: $(cat "$f")"
      read -r rps p50 p99 req bad err <<<"$res"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$c" "$t" "$rps" "$p50" "$p99" "$req" "$bad" "$err" "${cpu%,}" >>"$RAW"
      printf '  round %s  %-11s %-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  non-2xx %s  socket errors %s  cpu s %s\n' \
        "$r" "$c" "$t" "$rps" "$p50" "$p99" "$bad" "$err" "${cpu%,}" >&2
    done
  done
done

# Anything the peers complained about (nginx: upstream errors, responses buffered to disk).
for t in ${TARGETS//,/ }; do
  case "$t" in
    porthole) logs="$WORK/relay.log $WORK/agent.log" ;;
    nginx) logs="$WORK/nginx/error.log" ;;
    haproxy) logs="$WORK/haproxy.log" ;;
    *) logs="" ;;
  esac
  for l in $logs "$WORK/origin/error.log"; do
    [ -s "$l" ] || continue
    pat='warn|error|alert|emerg|crit|fail|temporary file'
    if n=$(grep -ciE "$pat" "$l"); then
      echo "bench/http.sh: note: $n warning/error lines in ${l#"$WORK"/}, e.g.: $(grep -iE "$pat" "$l" | head -2 | tr '\n' ' ')" >&2
    fi
  done
done
stop_all

# ---- the tables (medians over the rounds) ----
/usr/bin/python3 - "$RAW" "$TARGETS" "$SMALL_SIZE" "${CELL_DESC[ka-small]}" "${CELL_DESC[ka-large]}" "${CELL_DESC[close-small]}" \
  >"$OUT/table.md" <<'PY'
import csv, statistics, sys
raw, targets, small = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
desc = dict(zip(["ka-small", "ka-large", "close-small"], sys.argv[4:7]))
rows = list(csv.DictReader(open(raw), delimiter="\t"))
def med(cell, target, key):
    v = [float(r[key]) for r in rows if r["cell"] == cell and r["target"] == target]
    return statistics.median_low(v) if v else None
def tot(cell, target, key):
    return sum(int(r[key]) for r in rows if r["cell"] == cell and r["target"] == target)
def fmt(cell, t):
    rps = med(cell, t, "req_s")
    if rps is None: return "–"
    return f"{rps:,.0f} ({med(cell, t, 'p50_ms'):.2f} / {med(cell, t, 'p99_ms'):.2f})"
def ratio(cell, a, b):
    x, y = med(cell, a, "req_s"), med(cell, b, "req_s")
    return f"{x / y:.2f}×" if x and y else "–"
names = {"direct": "direct", "porthole": "porthole http", "nginx": "nginx (1 hop)", "haproxy": "HAProxy (1 hop)"}
cols = [t for t in ["direct", "porthole", "nginx", "haproxy"] if t in targets]
n = len({r["round"] for r in rows})
print(f"req/s (latency p50 / p99 ms), median of {n} round(s)\n")
print("| cell | " + " | ".join(names[t] for t in cols) + " | porthole / nginx | porthole / HAProxy |")
print("|---" * (len(cols) + 3) + "|")
for c in ["ka-small", "ka-large", "close-small"]:
    print(f"| {desc[c]} | " + " | ".join(fmt(c, t) for t in cols) +
          f" | {ratio(c, 'porthole', 'nginx')} | {ratio(c, 'porthole', 'haproxy')} |")
print()
print("CPU seconds per measurement (median over the rounds) and CPU µs per request (all listed processes)\n")
print("| cell | target | CPU s | µs/request | non-2xx | socket errors |")
print("|---|---|---|---|---|---|")
for c in ["ka-small", "ka-large", "close-small"]:
    for t in cols:
        sel = [r for r in rows if r["cell"] == c and r["target"] == t]
        if not sel: continue
        procs = [kv.split("=")[0] for kv in sel[0]["cpu_s"].split(",") if kv]
        per = {p: statistics.median_low([float(dict(kv.split("=") for kv in r["cpu_s"].split(","))[p]) for r in sel]) for p in procs}
        us = statistics.median_low([sum(float(kv.split("=")[1]) for kv in r["cpu_s"].split(",")) * 1e6 / max(int(r["requests"]), 1) for r in sel])
        print(f"| {desc[c]} | {names[t]} | " + ", ".join(f"{p} {v:.2f}" for p, v in per.items()) +
              f" | {us:.1f} | {tot(c, t, 'non2xx')} | {tot(c, t, 'socket_errors')} |")
print()
def goal(text, ok, measured):
    print(f"| {text} | {measured} | {'**met**' if ok else 'missed'} |")
if "porthole" in cols and ("nginx" in cols or "haproxy" in cols):
    print("| goal (issue 7) | measured | verdict |")
    print("|---|---|---|")
    for c in ["ka-small", "ka-large"]:
        p, g, p99 = med(c, "porthole", "req_s"), med(c, "nginx", "req_s"), med(c, "porthole", "p99_ms")
        if p and g:
            goal(f"{desc[c]}: porthole ≥ 1.0× nginx one hop, p99 ≤ 2 ms",
                 p >= g and p99 <= 2.0, f"{p / g:.2f}× ({p:,.0f} vs {g:,.0f} req/s), p99 {p99:.2f} ms")
    p, g = med("close-small", "porthole", "req_s"), med("close-small", "haproxy", "req_s")
    if p and g:
        goal(f"{desc['close-small']}: porthole ≥ 0.5× HAProxy one hop", p >= 0.5 * g,
             f"{p / g:.2f}× ({p:,.0f} vs {g:,.0f} req/s)")
PY

TCP_STATUS=""
if [ "$TCP" = 1 ]; then
  note "tcp tunnel: bash bench/run.sh $TCP_ARGS --porthole $PORTHOLE --out $OUT/tcp.json"
  # shellcheck disable=SC2086  # TCP_ARGS is a list of arguments
  if bash bench/run.sh $TCP_ARGS --porthole "${PORTHOLE_RUN:-$PORTHOLE}" --out "$OUT/tcp.json" >"$OUT/tcp.txt" 2>&1; then
    TCP_STATUS=ok
  else
    TCP_STATUS="bench/run.sh failed (exit $?); its output: $OUT/tcp.txt"
  fi
fi

echo
echo "## HTTP endpoints: $HEADER"
echo "load average at start $load; DURATION=$DURATION s, REPEAT=$REPEAT, WARMUP=$WARMUP s; raw figures: $OUT"
echo
cat "$OUT/table.md"
if [ "$TCP_STATUS" = ok ]; then
  echo
  echo "## tcp tunnel (bash bench/run.sh $TCP_ARGS)"
  echo
  /usr/bin/python3 bench/report.py "$OUT/tcp.json" || sed -n '/^|/p' "$OUT/tcp.txt"
elif [ -n "$TCP_STATUS" ]; then
  echo
  echo "tcp tunnel: $TCP_STATUS" >&2
fi
