#!/usr/bin/env bash
# (a) LAN host behind a miniupnpd router with a public WAN address: doctor sees UPnP/NAT-PMP/PCP,
# the public external address, asks for `porthole map add` until a mapping (made with the
# reference client upnpc) is in place, then finds it.
source "$(dirname "$0")/doctor_lib.sh"
doctor_setup
topo_plain
PORT=25565
doctor_listen 0.0.0.0 $PORT

doctor_run $PORT --relay "$TOPO_WAN_IP:7000" --token test-token
doctor_expect nat public_ip
doctor_expect external_ip "$TOPO_RTR_WAN_IP"
doctor_expect lan_address "$TOPO_LAN_IP"
doctor_expect gateway "$TOPO_GW"
doctor_expect_check listening ok
doctor_expect_check firewall ok
doctor_expect_check router ok
doctor_expect_check nat ok
doctor_expect_check mapping fail
doctor_expect_check reachable skip   # the relay probe is not available yet / no relay runs here
doctor_expect verdict no_mapping
doctor_expect_text "porthole map add $PORT"
doctor_expect_text "✓ Router speaks UPnP / NAT-PMP / PCP"

in_lan upnpc -e "porthole test" -a "$TOPO_LAN_IP" $PORT $PORT TCP >"$TOPO_DIR/upnpc.log" 2>&1 ||
  fail "upnpc could not add the mapping: $(cat "$TOPO_DIR/upnpc.log")"
doctor_run $PORT
doctor_expect_check mapping ok
doctor_expect verdict ok
doctor_expect_text "=> port $PORT should be reachable from outside"
echo "ok: doctor behind a miniupnpd router (public WAN): no_mapping, then ok with the mapping"
