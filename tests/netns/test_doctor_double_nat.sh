#!/usr/bin/env bash
# (b) double NAT: miniupnpd's WAN is 192.168.77.2 behind a second NAT; it refuses to report an
# external address. doctor combines the refusal with the path to the relay (second hop private).
source "$(dirname "$0")/doctor_lib.sh"
doctor_setup
topo_double_nat
PORT=25565
doctor_listen 0.0.0.0 $PORT

doctor_run $PORT
doctor_expect nat router_refuses
doctor_expect verdict router_refuses
doctor_expect_check router fail

doctor_run $PORT --relay "$TOPO_WAN_IP:7000" --token test-token
doctor_expect nat double_nat
doctor_expect verdict double_nat
doctor_expect_check nat fail
doctor_expect_text "=> double NAT: forward the port on both routers"
doctor_expect_text "192.168.77.1"
echo "ok: doctor explains double NAT"
