#!/usr/bin/env bash
# map add without --keep: renews at half-life, maps again after a router restart (PCP epoch going
# backwards; a UPnP mapping that vanished), removes the mapping on SIGTERM; --keep leaves it.
set -u
source "$(dirname "$0")/map_common.sh"
topo_plain || { echo "FAIL: topology"; exit 1; }

# PCP keeper with a 4 s lease (miniupnpd min_lifetime=2 here): renewals every 2 s.
ip netns exec "$TOPO_LAN" "$PORTHOLE_BIN" map add 18100 --lease 4 --recheck 1 --method pcp --json \
  >"$TOPO_DIR/pcp.out" 2>"$TOPO_DIR/pcp.err" &
kp=$!
TOPO_PIDS+=($kp)
topo_wait_for 15 grep -q '"event":"renewed"' "$TOPO_DIR/pcp.out" && ok "pcp lease renewed" || bad "no renewal"
expect_has "upnpc sees the kept mapping" "$(upnp_list)" "TCP 18100->$TOPO_LAN_IP:18100"
topo_restart_miniupnpd
topo_wait_for 20 grep -q 'after router restart' "$TOPO_DIR/pcp.out" && ok "router restart noticed (epoch)" ||
  bad "restart not noticed: $(tail -3 "$TOPO_DIR/pcp.err")"
expect_has "restart logged with epochs" "$(cat "$TOPO_DIR/pcp.err")" "router restarted (epoch went from"
kill -TERM $kp; wait $kp; expect_eq "keeper exits 0 on SIGTERM" $? 0
expect_has "removal reported" "$(tail -1 "$TOPO_DIR/pcp.out")" '"event":"removed"'
expect_not "mapping removed on exit" "$(upnp_list)" "18100->"

# UPnP keeper with a permanent lease: someone deletes the mapping; porthole maps it again.
ip netns exec "$TOPO_LAN" "$PORTHOLE_BIN" map add 18101 --lease 0 --recheck 1 --method upnp \
  >"$TOPO_DIR/upnp.out" 2>"$TOPO_DIR/upnp.err" &
ku=$!
TOPO_PIDS+=($ku)
topo_wait_for 15 grep -q '^Mapped' "$TOPO_DIR/upnp.out" && ok "upnp mapped" || bad "upnp not mapped"
in_lan timeout 20 upnpc -d 18101 TCP >/dev/null 2>&1
topo_wait_for 20 grep -q 'is gone' "$TOPO_DIR/upnp.err" && ok "vanished UPnP mapping noticed" || bad "not noticed"
topo_wait_for 20 bash -c "ip netns exec $TOPO_LAN upnpc -l 2>&1 | grep -q '18101->'" &&
  ok "UPnP mapping made again" || bad "UPnP mapping not restored"
kill -INT $ku; wait $ku; expect_eq "keeper exits 0 on SIGINT" $? 0
expect_not "upnp mapping removed on exit" "$(upnp_list)" "18101->"

# --keep: map once and leave it.
out=$(ph map add 18103 --keep --method natpmp --lease 60)
expect_has "--keep prints the mapping" "$out" "via natpmp"
expect_has "--keep leaves it in place" "$(upnp_list)" "18103->"
finish
