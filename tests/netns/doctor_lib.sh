# Shared helpers for tests/netns/test_doctor_*.sh: builds on the router layer's topology.sh
# (namespaces, veth, miniupnpd) and runs `porthole doctor` inside the LAN namespace.
#
#   doctor_setup                    # root check, topology.sh sourced, topo_init done
#   doctor_listen ADDR PORT         # a TCP listener in the LAN namespace; returns once it listens
#   doctor_run ARGS...              # porthole doctor ARGS --json in the LAN namespace -> $DOCTOR_JSON
#   doctor_expect KEY VALUE         # top-level JSON field equals VALUE
#   doctor_expect_check ID STATUS   # the check with this id has STATUS (ok|fail|warn|skip)
#   doctor_expect_text SUBSTRING    # the text rendering contains SUBSTRING
set -uo pipefail

SRC=${PORTHOLE_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${PORTHOLE_BIN:-$SRC/build/porthole}
DOCTOR_DEADLINE=${DOCTOR_DEADLINE:-60}

fail() { echo "FAIL: $*"; [ -n "${DOCTOR_TEXT:-}" ] && echo "$DOCTOR_TEXT"; exit 1; }

doctor_setup() {
  if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root for ip netns"; exit 0; fi
  if [ ! -f "$SRC/tests/netns/topology.sh" ]; then
    echo "skipped: tests/netns/topology.sh (the router layer's namespaces) is not present"; exit 0
  fi
  # shellcheck source=/dev/null
  source "$SRC/tests/netns/topology.sh"
  topo_require
  topo_init
  trap 'topo_cleanup; doctor_cleanup_namespaces' EXIT
  [ -x "$BIN" ] || fail "porthole binary not found at $BIN"
}

# topology.sh records namespaces from inside $(...) subshells, so its cleanup may miss them:
# delete every namespace of this test's id (and what still runs in it) ourselves.
doctor_cleanup_namespaces() {
  local ns pid
  for ns in $(ip netns list | awk '{print $1}' | grep "^${TOPO_ID}_"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
}

doctor_listen() {
  local addr=$1 port=$2
  # Started directly (not through a shell function) so that $! is the listener itself and the
  # topology cleanup can kill it; it also ends by itself after its own deadline.
  ip netns exec "$TOPO_LAN" /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
time.sleep(float(sys.argv[3]))  # how long the listener lives, not a synchronisation
' "$addr" "$port" 240 >/dev/null 2>&1 &
  TOPO_PIDS+=($!)
  topo_wait_for 10 bash -c "ip netns exec $TOPO_LAN ss -Hlnt 'sport = :$port' | grep -q ." ||
    fail "listener on $addr:$port did not start"
}

doctor_run() {
  DOCTOR_JSON=$(in_lan timeout "$DOCTOR_DEADLINE" "$BIN" doctor "$@" --json 2>"$TOPO_DIR/doctor.err")
  DOCTOR_RC=$?
  DOCTOR_TEXT=$(in_lan timeout "$DOCTOR_DEADLINE" "$BIN" doctor "$@" 2>/dev/null)
  [ "$DOCTOR_RC" -le 1 ] || fail "doctor exited $DOCTOR_RC: $(cat "$TOPO_DIR/doctor.err")"
  [ -n "$DOCTOR_JSON" ] || fail "doctor printed no JSON: $(cat "$TOPO_DIR/doctor.err")"
}

doctor_json_get() {
  /usr/bin/python3 -c '
import json, sys
doc = json.loads(sys.argv[1])
key = sys.argv[2]
if key.startswith("check:"):
    ids = [c for c in doc["checks"] if c["id"] == key[6:]]
    print(ids[0]["status"] if ids else "missing")
else:
    v = doc.get(key)
    print("null" if v is None else v)
' "$DOCTOR_JSON" "$1"
}

doctor_expect() {
  local got
  got=$(doctor_json_get "$1")
  [ "$got" = "$2" ] || fail "$1: expected '$2', got '$got'"
}

doctor_expect_check() {
  local got
  got=$(doctor_json_get "check:$1")
  [ "$got" = "$2" ] || fail "check $1: expected '$2', got '$got'"
}

doctor_expect_text() {
  grep -qF -- "$1" <<<"$DOCTOR_TEXT" || fail "text output lacks: $1"
}
