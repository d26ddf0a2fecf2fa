#!/usr/bin/env bash
# (e) an nft drop rule for the port on the LAN host: doctor names the chain and the rule.
source "$(dirname "$0")/doctor_lib.sh"
doctor_setup
topo_plain
PORT=25565
doctor_listen 0.0.0.0 $PORT
in_lan nft -f - <<NFT
table inet filter {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "lo" accept
    tcp dport { 22, 443 } accept
    tcp dport $PORT counter drop
  }
}
NFT
# The rule really drops: a connection from the router times out.
if in_rtr timeout 5 bash -c "exec 3<>/dev/tcp/$TOPO_LAN_IP/$PORT" 2>/dev/null; then
  fail "the nft rule does not drop"
fi

doctor_run $PORT
doctor_expect verdict firewall
doctor_expect_check firewall fail
doctor_expect_text "table inet filter chain input"
doctor_expect_text "nft insert rule inet filter input tcp dport $PORT accept"

doctor_run 4242
doctor_expect_check firewall ok   # another port passes the same ruleset
doctor_expect verdict not_listening
echo "ok: doctor finds the nft drop rule"
