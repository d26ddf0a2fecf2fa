#!/usr/bin/env bash
# Double NAT and CGNAT: the home router's WAN address is private (192.168.77.2) or in
# 100.64.0.0/10. miniupnpd then refuses to map and even to report the external address; porthole
# must say so (exit 1, reason on stderr, nothing on stdout), like upnpc and natpmpc do.
set -u
source "$(dirname "$0")/map_common.sh"
case "${1:-both}" in
  both) bash "$0" double; a=$?; bash "$0" cgnat; b=$?; exit $((a | b)) ;;
  double) topo_double_nat || { echo "FAIL: topology"; exit 1; } ;;
  cgnat) topo_cgnat || { echo "FAIL: topology"; exit 1; } ;;
esac
echo "# ${1}: router WAN $TOPO_RTR_WAN_IP, public $TOPO_PUBLIC_IP"

for m in pcp natpmp upnp auto; do
  out=$(ph map external-ip --method $m 2>"$TOPO_DIR/err"); rc=$?
  expect_eq "external-ip --method $m exits 1" $rc 1
  expect_eq "external-ip --method $m prints nothing on stdout" "$out" ""
  [ -s "$TOPO_DIR/err" ] && ok "reason on stderr: $(head -c 150 "$TOPO_DIR/err")" || bad "no reason on stderr"
done
expect_has "NAT-PMP refusal explained" "$(ph map external-ip --method natpmp 2>&1)" "NETWORK_FAILURE"
expect_has "UPnP refusal explained" "$(ph map external-ip --method upnp 2>&1)" "not connected"
expect_has "json error" "$(ph map external-ip --json 2>/dev/null)" '"error":'
expect_has "upnpc also sees a not-connected IGD" "$(in_lan timeout 20 upnpc -s 2>&1)" "not connected"
expect_has "natpmpc also fails" "$(in_lan timeout 20 natpmpc -g "$TOPO_GW" 2>&1)" "FAILED"
ph map add 18200 --keep >/dev/null 2>"$TOPO_DIR/err"; rc=$?
expect_eq "map add exits 1" $rc 1
expect_has "map add lists every method's reason" "$(cat "$TOPO_DIR/err")" "PCP"
expect_has "map add lists every method's reason (UPnP)" "$(cat "$TOPO_DIR/err")" "UPnP"
expect_has "miniupnpd says why" "$(cat "$TOPO_DIR"/miniupnpd-*.log)" "is not suitable for external IP"
# The LAN still reaches the WAN host, which sees the upstream NAT's address (what a relay sees).
in_wan timeout 30 python3 -c '
import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000)); s.listen(); c,a=s.accept(); c.sendall(a[0].encode()); c.close()' &
TOPO_PIDS+=($!)
topo_wait_for 10 topo_listening "$TOPO_WAN" 7000
seen=$(in_lan timeout 10 python3 -c '
import socket,sys; s=socket.create_connection((sys.argv[1], 7000), timeout=5); print(s.recv(64).decode())' "$TOPO_WAN_IP")
expect_eq "WAN host sees the upstream public address" "$seen" "$TOPO_PUBLIC_IP"
finish
