# Shared by tests/netns/test_map_*.sh: topology, the binary, small assertions, a deadline.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/topology.sh"
PORTHOLE_BIN=${PORTHOLE_BIN:-$HERE/../../build/porthole}
FAILS=0

topo_require
[ -x "$PORTHOLE_BIN" ] || { echo "FAIL: PORTHOLE_BIN=$PORTHOLE_BIN is not executable"; exit 1; }
topo_init
export XDG_STATE_HOME="$TOPO_DIR/state"
# Whole-test deadline (the ctest timeout is the outer one). The watchdog's sleep must not keep
# the test's stdout open: ctest waits for every process holding it, so a leftover `sleep 200`
# made every map test take 200 s however fast it was. Cleanup's TERM ends the watchdog, which
# ends its sleep.
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  sleep "${TEST_DEADLINE:-120}" >/dev/null 2>&1 &
  nap=$!
  wait "$nap" && { echo "FAIL: test deadline passed" >&2; kill -TERM $$; }
) &
TOPO_PIDS+=($!)

ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
# expect_eq DESC GOT WANT
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }
# expect_has DESC HAYSTACK NEEDLE
expect_has() { if grep -qF -- "$3" <<<"$2"; then ok "$1"; else bad "$1: '$3' not in: $2"; fi; }
expect_not() { if grep -qF -- "$3" <<<"$2"; then bad "$1: '$3' unexpectedly in: $2"; else ok "$1"; fi; }
# ph ARGS...: porthole in the LAN namespace, 30 s cap.
ph() { ip netns exec "$TOPO_LAN" timeout 30 "$PORTHOLE_BIN" "$@"; }
upnp_list() { ip netns exec "$TOPO_LAN" timeout 20 upnpc -l 2>&1 | grep -E '^ *[0-9]+ (TCP|UDP) '; }
finish() {
  if [ "$FAILS" -ne 0 ]; then
    echo "--- miniupnpd log (tail)"; tail -n 30 "$TOPO_DIR"/miniupnpd-*.log 2>/dev/null
    echo "$FAILS check(s) failed"; exit 1
  fi
  echo "all checks passed"; exit 0
}
