#!/usr/bin/env bash
# (c) CGNAT: the router's WAN is 100.64.9.2/10 behind the provider's NAT; miniupnpd refuses
# ("private/reserved address ... is not suitable for external IP"). doctor says CGNAT.
source "$(dirname "$0")/doctor_lib.sh"
doctor_setup
topo_cgnat
PORT=25565
doctor_listen 0.0.0.0 $PORT

doctor_run $PORT --relay "$TOPO_WAN_IP:7000" --token test-token
doctor_expect nat cgnat
doctor_expect verdict cgnat
doctor_expect_check router fail
doctor_expect_check nat fail
doctor_expect_text "=> behind CGNAT: port forwarding cannot work here; use \`porthole tcp $PORT\`"
[ "$DOCTOR_RC" -eq 1 ] || fail "doctor should exit 1 when a check fails (got $DOCTOR_RC)"
echo "ok: doctor explains CGNAT"
