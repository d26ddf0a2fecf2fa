#!/usr/bin/env bash
# doctor against a real relay: LAN host behind the miniupnpd router, `porthole relay` in the WAN
# namespace. The relay connects back to the address it sees (the router's WAN address) on PORT:
#   1. no mapping yet          -> reachable ✗ (refused), verdict no_mapping, fix `porthole map add`
#   2. `porthole map add PORT` -> reachable ✓ via the relay's connect-back, verdict reachable
#   3. nft drop on the router  -> reachable ✗ (timed out), verdict unreachable
source "$(dirname "$0")/doctor_lib.sh"
doctor_setup
topo_plain
export XDG_STATE_HOME="$TOPO_DIR/state" XDG_CONFIG_HOME="$TOPO_DIR/config"
PORT=25565
TOKEN=doctor-relay-token-0123456789
doctor_listen 0.0.0.0 $PORT

in_wan "$BIN" relay --agents "$TOPO_WAN_IP:0" --admin 127.0.0.1:0 --http 127.0.0.1:0 --https 127.0.0.1:0 \
  --data "$TOPO_DIR/relay" --tcp-ports 30000-30099 --token "$TOKEN" >"$TOPO_DIR/relay.log" 2>&1 &
TOPO_PIDS+=($!)
topo_wait_for 20 grep -q "fingerprint SHA256:" "$TOPO_DIR/relay.log" ||
  fail "relay did not start: $(cat "$TOPO_DIR/relay.log")"
RELAY=$(sed -n 's/^Relay listening for agents on \([^ ]*\) .*/\1/p' "$TOPO_DIR/relay.log")
FP=$(sed -n 's/^Relay certificate fingerprint \(SHA256:[0-9a-f]*\).*/\1/p' "$TOPO_DIR/relay.log")
[ -n "$RELAY" ] && [ -n "$FP" ] || fail "relay banner not understood: $(cat "$TOPO_DIR/relay.log")"
RELAY_ARGS=(--relay "$RELAY" --token "$TOKEN" --relay-fingerprint "$FP" --gateway "$TOPO_GW" --timeout-ms 1000)

# 1. No mapping: the router answers the relay's SYN itself with a reset.
doctor_run $PORT "${RELAY_ARGS[@]}"
doctor_expect_check listening ok
doctor_expect_check mapping fail
doctor_expect_check reachable fail
doctor_expect verdict no_mapping
doctor_expect_text "porthole map add $PORT"
doctor_expect_text "the relay could not connect to $TOPO_PUBLIC_IP:$PORT"
echo "ok: no mapping -> not reachable, verdict no_mapping"

# 2. With a mapping made by porthole itself, the relay's connect-back reaches the service.
in_lan timeout 30 "$BIN" map add $PORT --keep --method upnp --gateway "$TOPO_GW" >"$TOPO_DIR/map.log" 2>&1 ||
  fail "map add failed: $(cat "$TOPO_DIR/map.log")"
doctor_run $PORT "${RELAY_ARGS[@]}"
doctor_expect_check mapping ok
doctor_expect_check reachable ok
doctor_expect verdict reachable
doctor_expect observed_ip "$TOPO_PUBLIC_IP"
doctor_expect_text "the relay connected to $TOPO_PUBLIC_IP:$PORT"
doctor_expect_text "reachable from the internet at $TOPO_PUBLIC_IP:$PORT"
echo "ok: mapping in place -> reachable via the relay's connect-back"

# 3. The router's own firewall drops the forwarded port: everything here looks right, yet the
# relay cannot connect (its dial times out).
in_rtr nft -f - <<NFT || fail "nft drop rule"
table inet porthole_test_drop {
  chain forward {
    type filter hook forward priority -10; policy accept;
    tcp dport $PORT drop
  }
}
NFT
doctor_run $PORT "${RELAY_ARGS[@]}"
doctor_expect_check mapping ok
doctor_expect_check reachable fail
doctor_expect verdict unreachable
doctor_expect_text "check the router's own firewall"
echo "ok: router drops the port -> not reachable, verdict unreachable"

# A wrong pin is refused loudly (never a silent fallback to an untrusted relay).
doctor_run $PORT --relay "$RELAY" --token "$TOKEN" --gateway "$TOPO_GW" --timeout-ms 1000 \
  --relay-fingerprint "SHA256:$(printf '0%.0s' $(seq 64))"
doctor_expect_check reachable skip
grep -qi "fingerprint" <<<"$DOCTOR_JSON" || fail "a wrong fingerprint is not reported: $DOCTOR_JSON"
echo "ok: doctor against a real relay (no mapping, mapping, router drop, wrong pin)"
