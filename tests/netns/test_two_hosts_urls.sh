#!/usr/bin/env bash
# Addresses people can use: what porthole prints must work from another machine.
#
# Three hosts on one switch (network namespaces; documentation addresses that exist only here):
#   relay 198.51.100.1   agent 198.51.100.2   visitor 198.51.100.3
#   1. `porthole relay` with default-like flags (no --domain) prints its banner.
#   2. `porthole tcp PORT --relay 198.51.100.1:7000` prints tcp://198.51.100.1:N (the address the
#      agent dialed, not localhost) and the visitor reaches the service at exactly that address.
#   3. `porthole http PORT --subdomain app` prints http://app.localhost:8080; the visitor gets the
#      page with Host: app.localhost. The admin API lists the same public URLs.
#   4. The relay restarts with --domain example.test: the agents reconnect and print
#      http://app.example.test:8080 and tcp://example.test:N, which the visitor reaches.
set -uo pipefail

SRC=${PORTHOLE_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${PORTHOLE_BIN:-$SRC/build/porthole}
PY=/usr/bin/python3

if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root for ip netns"; exit 0; fi
if ! ip netns add "phprobe$$" 2>/dev/null; then echo "skipped: ip netns is not possible here"; exit 0; fi
ip netns del "phprobe$$"
[ -x "$BIN" ] || { echo "FAIL: porthole binary not found at $BIN"; exit 1; }
for tool in curl "$PY"; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing"; exit 1; }
done

# shellcheck source=/dev/null
source "$SRC/tests/netns/topology.sh"
topo_init
export XDG_CONFIG_HOME="$TOPO_DIR/config" XDG_STATE_HOME="$TOPO_DIR/state" HOME="$TOPO_DIR/home"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_STATE_HOME" "$HOME"

show() { local f; for f in "$@"; do [ -f "$f" ] && { echo "--- $(basename "$f"):"; cat "$f"; }; done; }
fail() {
  echo "FAIL: $*"
  show "$TOPO_DIR"/relay*.out "$TOPO_DIR"/relay*.err "$TOPO_DIR"/tcp.out "$TOPO_DIR"/tcp.err \
    "$TOPO_DIR"/http.out "$TOPO_DIR"/http.err
  exit 1
}

RELAY_IP=198.51.100.1
AGENT_IP=198.51.100.2
VISITOR_IP=198.51.100.3
TOKEN=two-hosts-token-0123456789abcdef
SVC_PORT=8000
DEADLINE=15

# --- topology: a switch (bridge) namespace and three hosts plugged into it ---
SW=$(topo_ns sw)
RELAY_NS=$(topo_ns relay)
AGENT_NS=$(topo_ns agent)
VISITOR_NS=$(topo_ns visitor)
ip -n "$SW" link add br0 type bridge || fail "cannot create a bridge"
ip -n "$SW" link set br0 up
plug() {  # plug HOST_NS SWITCH_PORT ADDR/PFX: the host's eth0 on the switch
  ip link add eth0 netns "$1" type veth peer name "$2" netns "$SW" || fail "veth for $1"
  ip -n "$SW" link set "$2" master br0
  ip -n "$SW" link set "$2" up
  ip -n "$1" addr add "$3" dev eth0
  ip -n "$1" link set eth0 up
}
plug "$RELAY_NS" p-relay "$RELAY_IP/24"
plug "$AGENT_NS" p-agent "$AGENT_IP/24"
plug "$VISITOR_NS" p-visitor "$VISITOR_IP/24"

# --- the local service on the agent host: loopback only, so only the tunnel reaches it ---
MARKER="porthole two hosts $$ $RANDOM"
mkdir -p "$TOPO_DIR/www"
echo "$MARKER" >"$TOPO_DIR/www/index.html"
ip netns exec "$AGENT_NS" "$PY" -m http.server --bind 127.0.0.1 --directory "$TOPO_DIR/www" "$SVC_PORT" \
  >"$TOPO_DIR/service.log" 2>&1 &
TOPO_PIDS+=($!)
topo_wait_for $DEADLINE topo_listening "$AGENT_NS" "$SVC_PORT" || fail "the local service did not start: $(cat "$TOPO_DIR/service.log")"
# It really is unreachable from the visitor without porthole.
if in_ns "$VISITOR_NS" curl -s --max-time 2 "http://$AGENT_IP:$SVC_PORT/" >/dev/null 2>&1; then
  fail "the agent's loopback service is reachable without the tunnel"
fi

# --- helpers ---
# visitor_gets DESCRIPTION CURL_ARGS...: the visitor (third host) fetches a URL until it returns
# the service's page, within the deadline.
visitor_page() { in_ns "$VISITOR_NS" curl -sS --max-time 3 "$@" 2>&1; }
visitor_gets() {
  local what=$1; shift
  local deadline=$((SECONDS + DEADLINE)) body
  while :; do
    body=$(visitor_page "$@")
    [ "$body" = "$MARKER" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      fail "$what: the visitor did not get the page (curl $*): got: $body"
    fi
    sleep 0.1
  done
}
# expect_line FILE REGEX DESCRIPTION: FILE has a line matching the extended REGEX (waits for it).
expect_line() {
  topo_wait_for $DEADLINE grep -qE "$2" "$1" ||
    fail "$3: no line matching /$2/ in $(basename "$1"); it says:
$(cat "$1")"
}
# The public_url values of the admin API's /api/endpoints, one per line (sorted).
admin_urls() {
  in_ns "$RELAY_NS" curl -sS --max-time 3 "$ADMIN/api/endpoints" |
    "$PY" -c '
import json, sys
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "public_url": print(x)
            else: walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
walk(json.load(sys.stdin))' | sort
}
expect_admin_urls() {  # expect_admin_urls URL...: /api/endpoints lists exactly these public URLs
  local want got deadline=$((SECONDS + DEADLINE))
  want=$(printf '%s\n' "$@" | sort)
  while :; do
    got=$(admin_urls 2>&1)
    [ "$got" = "$want" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      fail "admin API /api/endpoints: public_url values are
$got
expected
$want
(full answer: $(in_ns "$RELAY_NS" curl -sS --max-time 3 "$ADMIN/api/endpoints" 2>&1))"
    fi
    sleep 0.1
  done
}

# Daemons start with `ip netns exec ... &` (not the in_ns function): so $! is the daemon itself,
# not a subshell that a kill would leave the daemon running behind.
RELAY_PID=
start_relay() {  # start_relay TAG EXTRA_ARGS...: the relay as a new user runs it
  local tag=$1; shift
  RELAY_OUT="$TOPO_DIR/relay-$tag.out"
  ip netns exec "$RELAY_NS" "$BIN" relay --token "$TOKEN" --data "$TOPO_DIR/relay-data" \
    --agents 0.0.0.0:7000 --http 0.0.0.0:8080 --admin 127.0.0.1:0 "$@" \
    >"$RELAY_OUT" 2>"$TOPO_DIR/relay-$tag.err" &
  RELAY_PID=$!
  TOPO_PIDS+=("$RELAY_PID")
  topo_wait_for $DEADLINE grep -q '^Admin API on ' "$RELAY_OUT" ||
    fail "relay ($tag) did not print its banner"
  ADMIN=$(sed -n 's/^Admin API on \(http:\/\/127\.0\.0\.1:[0-9]*\)\/\{0,1\}$/\1/p' "$RELAY_OUT")
  [ -n "$ADMIN" ] || fail "relay ($tag): 'Admin API on ...' is not http://127.0.0.1:PORT: $(grep '^Admin API' "$RELAY_OUT")"
  expect_line "$RELAY_OUT" '^Relay listening for agents on 0\.0\.0\.0:7000( |$)' "relay ($tag) agents listener"
  expect_line "$RELAY_OUT" '^Relay certificate fingerprint SHA256:[0-9a-fA-F]{64}$' "relay ($tag) fingerprint"
  grep -qxF "Relay listening for HTTP visitors on 0.0.0.0:8080" "$RELAY_OUT" ||
    fail "relay ($tag): no line 'Relay listening for HTTP visitors on 0.0.0.0:8080'"
  FP=$(sed -n 's/^Relay certificate fingerprint \(SHA256:[0-9a-fA-F]*\)$/\1/p' "$RELAY_OUT")
}

# --- 1. the relay, default-like ---
start_relay plain
grep -qxF "HTTP endpoints: http://*.localhost:8080  (names under localhost work on this machine only: set --domain so others can use them)" "$RELAY_OUT" ||
  fail "relay: the HTTP endpoints line is not the expected one"
FP1=$FP
echo "ok: relay banner (agents on 0.0.0.0:7000, $FP, HTTP on 0.0.0.0:8080, *.localhost hint, admin $ADMIN)"

# --- 2. porthole tcp from the agent host ---
AGENT_ARGS=(--relay "$RELAY_IP:7000" --token "$TOKEN" --relay-fingerprint "$FP" --inspect off)
ip netns exec "$AGENT_NS" "$BIN" tcp "$SVC_PORT" "${AGENT_ARGS[@]}" >"$TOPO_DIR/tcp.out" 2>"$TOPO_DIR/tcp.err" &
TOPO_PIDS+=($!)
expect_line "$TOPO_DIR/tcp.out" '^Forwarding ' "porthole tcp"
TCP_RE="^Forwarding tcp://198\.51\.100\.1:([0-9]+) -> 127\.0\.0\.1:$SVC_PORT\$"
grep -qE "$TCP_RE" "$TOPO_DIR/tcp.out" ||
  fail "porthole tcp: expected 'Forwarding tcp://$RELAY_IP:N -> 127.0.0.1:$SVC_PORT', got: $(grep '^Forwarding' "$TOPO_DIR/tcp.out")"
TCP_URL=$(grep -E "$TCP_RE" "$TOPO_DIR/tcp.out" | tail -n1 | sed 's/^Forwarding \([^ ]*\) .*/\1/')
TCP_PORT=${TCP_URL##*:}
visitor_gets "tcp endpoint $TCP_URL" "http://$RELAY_IP:$TCP_PORT/"
echo "ok: porthole tcp prints $TCP_URL and the visitor host reaches the service there"

# --- 3. porthole http from the agent host ---
ip netns exec "$AGENT_NS" "$BIN" http "$SVC_PORT" --subdomain app "${AGENT_ARGS[@]}" \
  >"$TOPO_DIR/http.out" 2>"$TOPO_DIR/http.err" &
TOPO_PIDS+=($!)
expect_line "$TOPO_DIR/http.out" '^Forwarding ' "porthole http"
grep -qxF "Forwarding http://app.localhost:8080 -> http://127.0.0.1:$SVC_PORT" "$TOPO_DIR/http.out" ||
  fail "porthole http: expected 'Forwarding http://app.localhost:8080 -> http://127.0.0.1:$SVC_PORT', got: $(grep '^Forwarding' "$TOPO_DIR/http.out")"
visitor_gets "http endpoint app.localhost" -H "Host: app.localhost" "http://$RELAY_IP:8080/"
echo "ok: porthole http prints http://app.localhost:8080 and the visitor gets the page with Host: app.localhost"

expect_admin_urls "$TCP_URL" "http://app.localhost:8080"
echo "ok: admin API /api/endpoints lists $TCP_URL and http://app.localhost:8080"

# --- 4. the relay again, now with --domain: the agents reconnect and print the new URLs ---
exited() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
kill "$RELAY_PID"
topo_wait_for $DEADLINE exited "$RELAY_PID" || fail "the relay did not exit within ${DEADLINE}s of SIGTERM"
wait "$RELAY_PID" 2>/dev/null
start_relay domain --domain example.test
[ "$FP" = "$FP1" ] || fail "the relay's fingerprint changed across a restart with the same --data ($FP1 -> $FP)"
grep -qxF "HTTP endpoints: http://*.example.test:8080" "$RELAY_OUT" ||
  fail "relay --domain example.test: expected the line 'HTTP endpoints: http://*.example.test:8080'"
echo "ok: relay restarted with --domain example.test (same fingerprint)"

expect_line "$TOPO_DIR/http.out" "^Forwarding http://app\.example\.test:8080 -> http://127\.0\.0\.1:$SVC_PORT\$" \
  "porthole http after the relay restart with --domain example.test"
TCP2_RE="^Forwarding tcp://example\.test:([0-9]+) -> 127\.0\.0\.1:$SVC_PORT\$"
expect_line "$TOPO_DIR/tcp.out" "$TCP2_RE" "porthole tcp after the relay restart with --domain example.test"
TCP2_URL=$(grep -E "$TCP2_RE" "$TOPO_DIR/tcp.out" | tail -n1 | sed 's/^Forwarding \([^ ]*\) .*/\1/')
TCP2_PORT=${TCP2_URL##*:}

visitor_gets "http endpoint app.example.test" --resolve "app.example.test:8080:$RELAY_IP" "http://app.example.test:8080/"
visitor_gets "tcp endpoint $TCP2_URL" --resolve "example.test:$TCP2_PORT:$RELAY_IP" "http://example.test:$TCP2_PORT/"
echo "ok: the agents print http://app.example.test:8080 and $TCP2_URL, the visitor reaches both"

expect_admin_urls "$TCP2_URL" "http://app.example.test:8080"
echo "ok: admin API /api/endpoints lists $TCP2_URL and http://app.example.test:8080"

echo "ok: two hosts: the printed addresses work from another machine (tcp, http, --domain)"
