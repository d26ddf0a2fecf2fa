#!/usr/bin/env bash
# porthole map against Debian's real miniupnpd (UPnP IGD, NAT-PMP, PCP) behind a public-looking
# WAN address, cross-checked with the reference clients upnpc and natpmpc.
set -u
source "$(dirname "$0")/map_common.sh"
topo_plain || { echo "FAIL: topology"; exit 1; }
PUB=$TOPO_RTR_WAN_IP

# External address: every method, and what the reference clients say.
for m in pcp natpmp upnp auto; do
  expect_eq "external-ip --method $m" "$(ph map external-ip --method $m)" "$PUB"
done
expect_has "external-ip --json" "$(ph map external-ip --json)" "\"external_ip\":\"$PUB\""
expect_has "upnpc -s agrees" "$(in_lan timeout 20 upnpc -s 2>&1)" "ExternalIPAddress = $PUB"
expect_has "natpmpc agrees" "$(in_lan timeout 20 natpmpc -g "$TOPO_GW" 2>&1)" "Public IP address : $PUB"

# Mappings through each method, seen by upnpc on the same router.
out=$(ph map add 18080 --keep --method pcp)
expect_has "add via pcp" "$out" "Mapped tcp $PUB:18080 -> $TOPO_LAN_IP:18080 via pcp"
out=$(ph map add 18081:18181 --udp --keep --method natpmp --json)
expect_has "add via natpmp (json)" "$out" '"method":"natpmp"'
out=$(ph map add 18082 --keep --method upnp --lease 0 --description "porthole web")
expect_has "add via upnp" "$out" "via upnp (lease permanent)"
l=$(upnp_list)
expect_has "upnpc sees the pcp mapping" "$l" "TCP 18080->$TOPO_LAN_IP:18080"
expect_has "upnpc sees the natpmp mapping" "$l" "UDP 18081->$TOPO_LAN_IP:18181"
expect_has "upnpc sees the upnp mapping" "$l" "TCP 18082->$TOPO_LAN_IP:18082 'porthole web'"

# Mappings porthole did not make are marked.
in_lan timeout 20 upnpc -e "someone else" -a "$TOPO_LAN_IP" 19000 19000 TCP >/dev/null 2>&1
in_lan timeout 20 natpmpc -g "$TOPO_GW" -a 19001 19001 udp 300 >/dev/null 2>&1
txt=$(ph map list)
expect_has "list shows upnpc's mapping" "$txt" "$TOPO_LAN_IP:19000"
expect_has "list: NO marker" "$(grep 19000 <<<"$txt")" " NO "
expect_has "list: natpmpc's mapping marked NO" "$(grep 19001 <<<"$txt")" " NO "
expect_has "list: ours marked yes" "$(grep 18082 <<<"$txt")" " yes "
expect_has "list: warning line" "$txt" "not made by porthole"
js=$(ph map list --json)
n_foreign=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for m in d["mappings"] if not m["ours"]))' <<<"$js")
n_ours=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for m in d["mappings"] if m["ours"]))' <<<"$js")
expect_eq "json: foreign mappings" "$n_foreign" 2
expect_eq "json: our mappings" "$n_ours" 3

# Traffic from the WAN host reaches the LAN service through the mapping.
in_lan timeout 60 python3 -c '
import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 18082)); s.listen(); c,_=s.accept(); c.sendall(b"hello through the router\n"); c.close()' &
TOPO_PIDS+=($!)
topo_wait_for 10 topo_listening "$TOPO_LAN" 18082
got=$(in_wan timeout 10 python3 -c '
import socket,sys; s=socket.create_connection((sys.argv[1], 18082), timeout=5); print(s.recv(100).decode().strip())' "$PUB")
expect_eq "WAN host reaches the LAN service through the mapping" "$got" "hello through the router"

# Remove through the recorded method; upnpc no longer sees them.
expect_eq "remove pcp" "$(ph map remove 18080)" "Removed tcp 18080"
expect_eq "remove natpmp" "$(ph map remove 18081 --udp)" "Removed udp 18081"
expect_has "remove upnp (json)" "$(ph map remove 18082 --json)" '"removed":true'
l=$(upnp_list)
expect_not "18080 gone" "$l" "18080->"
expect_not "18081 gone" "$l" "18081->"
expect_not "18082 gone" "$l" "18082->"
expect_has "foreign mapping untouched" "$l" "19000->"

# Usage errors exit 2, router refusals exit 1 with the reason.
ph map add 0 --keep >/dev/null 2>&1; expect_eq "port 0 is a usage error" $? 2
ph map add 80 --method carrier-pigeon >/dev/null 2>&1; expect_eq "unknown method is a usage error" $? 2
err=$(ph map add 18090:80 --keep --method upnp 2>&1 >/dev/null); rc=$?
expect_eq "refused mapping exits 1" $rc 1
expect_has "refusal is explained" "$err" "UPnP error"
finish
