# Network-namespace topologies for router tests. Source it, then:
#
#   topo_require            # "skipped: ..." + exit 0 unless root with working `ip netns`
#   topo_init               # unique ids, temp dir, cleanup trap (namespaces, daemons, files)
#   topo_plain              # lan -- rtr (miniupnpd, masquerade) -- wan   (router WAN 11.77.0.2)
#   topo_double_nat         # lan -- rtr (miniupnpd, WAN 192.168.77.2) -- rtr2 (masq.) -- wan
#   topo_cgnat              # lan -- rtr (miniupnpd, WAN 100.64.9.2) -- cgn (masq.) -- wan
#   in_lan CMD...  in_rtr CMD...  in_wan CMD...   # run inside a namespace
#   topo_wait_for SECONDS CMD...                  # poll CMD until it succeeds (no fixed sleeps)
#   topo_restart_miniupnpd                        # kill and start the router's miniupnpd again
#
# After a topo_* builder these are set: TOPO_LAN TOPO_RTR TOPO_WAN (namespace names), TOPO_DIR
# (temp dir: miniupnpd.conf, logs), TOPO_LAN_IP TOPO_GW (router LAN address) TOPO_RTR_WAN_IP
# (the router's WAN address, what miniupnpd reports) TOPO_WAN_IP (the "internet" host, e.g. a
# relay) TOPO_PUBLIC_IP (where LAN traffic appears to come from, seen from the WAN host).
#
# Addresses: LAN 10.77.0.0/24; the "internet" is 11.77.0.0/24, a public-looking range that lives
# only inside these namespaces (they have no link to the outside, so nothing leaves). Not the
# documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24): miniupnpd 2.3.1 counts those
# as reserved and then refuses to map ("private/reserved address ... is not suitable").

TOPO_LAN_NET=10.77.0
TOPO_PUB_NET=${TOPO_PUB_NET:-11.77.0}
TOPO_MINIUPNPD=${TOPO_MINIUPNPD:-/usr/sbin/miniupnpd}

topo_require() {
  if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root for ip netns"; exit 0; fi
  local probe="phprobe$$"
  if ! ip netns add "$probe" 2>/dev/null; then echo "skipped: ip netns is not possible here"; exit 0; fi
  ip netns del "$probe"
  if [ ! -x "$TOPO_MINIUPNPD" ]; then echo "FAIL: $TOPO_MINIUPNPD missing (bash scripts/deps.sh)"; exit 1; fi
}

topo_init() {
  TOPO_ID="ph$$"
  TOPO_DIR=$(mktemp -d "/tmp/porthole-topo.$$.XXXXXX")
  TOPO_NSES=()
  TOPO_PIDS=()
  trap topo_cleanup EXIT
  trap 'exit 130' INT TERM
}

topo_cleanup() {
  local pid ns
  for pid in "${TOPO_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${TOPO_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # topo_ns usually runs in $(...), so TOPO_NSES may miss names: take every ${TOPO_ID}_* too.
  local all
  all=$( (printf '%s\n' "${TOPO_NSES[@]}"; ip netns list | awk '{print $1}' | grep "^${TOPO_ID}_") | sort -u)
  for ns in $all; do
    # Kill anything left in our namespaces (only ours: listed by ip netns pids).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ -n "${TOPO_KEEP_DIR:-}" ]; then echo "topology files kept in $TOPO_DIR"; else rm -rf "$TOPO_DIR"; fi
}

# topo_ns NAME -> creates namespace ${TOPO_ID}_NAME with lo up; prints its name.
topo_ns() {
  local ns="${TOPO_ID}_$1"
  ip netns add "$ns"
  TOPO_NSES+=("$ns")
  ip -n "$ns" link set lo up
  echo "$ns"
}

# topo_link NS1 IF1 ADDR1/PFX NS2 IF2 ADDR2/PFX: a veth pair between two namespaces.
topo_link() {
  ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$4" addr add "$6" dev "$5"
  ip -n "$1" link set "$2" up
  ip -n "$4" link set "$5" up
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
in_lan() { ip netns exec "$TOPO_LAN" "$@"; }
in_rtr() { ip netns exec "$TOPO_RTR" "$@"; }
in_wan() { ip netns exec "$TOPO_WAN" "$@"; }

# topo_wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds or the deadline passes.
topo_wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "timeout waiting for: $*" >&2; return 1; fi
    sleep 0.05
  done
}

# topo_nat NS WAN_IF: forwarding on, masquerade out of WAN_IF (nft, inside NS only).
topo_nat() {
  ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$1" nft -f - <<EOF
table ip porthole_nat {
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    oifname "$2" masquerade
  }
}
EOF
}

# The tables and chains miniupnpd fills (its Debian package ships no init script for them).
topo_miniupnpd_tables() {
  ip netns exec "$1" nft -f - <<'EOF'
table inet miniupnpd {
  chain miniupnpd {
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    jump miniupnpd
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }
}
EOF
}

# topo_start_miniupnpd NS EXT_IF LAN_IF LAN_NET/PFX: writes the config and starts miniupnpd in
# the foreground (-d) in NS; returns when it listens on PCP/NAT-PMP (5351) and HTTP.
topo_start_miniupnpd() {
  local ns=$1 ext=$2 lanif=$3 lannet=$4 conf="$TOPO_DIR/miniupnpd-$1.conf"
  cat >"$conf" <<EOF
ext_ifname=$ext
listening_ip=$lanif
http_port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=no
min_lifetime=2
max_lifetime=86400
notify_interval=60
uuid=3c1d2b59-5f3a-4c1e-9d6e-00000000$(printf %04x $(($$ % 65536)))
friendly_name=porthole test router
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 $lannet 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
  ip netns exec "$ns" "$TOPO_MINIUPNPD" -f "$conf" -d -P "$TOPO_DIR/miniupnpd-$ns.pid" \
    >>"$TOPO_DIR/miniupnpd-$ns.log" 2>&1 &
  TOPO_PIDS+=($!)
  eval "TOPO_MINIUPNPD_PID_${ns//[^a-zA-Z0-9]/_}=$!"
  topo_wait_for 10 topo_miniupnpd_ready "$ns" || { cat "$TOPO_DIR/miniupnpd-$ns.log" >&2; return 1; }
}

topo_miniupnpd_ready() {
  ip netns exec "$1" ss -Hlnu 'sport = :5351' | grep -q . &&
    ip netns exec "$1" ss -Hlnt 'sport = :5000' | grep -q .
}

topo_stop_miniupnpd() {
  local var="TOPO_MINIUPNPD_PID_${1//[^a-zA-Z0-9]/_}"
  local pid=${!var:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  topo_wait_for 10 bash -c "! ip netns exec $1 ss -Hlnu 'sport = :5351' | grep -q ."
}

# Restart the LAN router's miniupnpd (a "router reboot": epoch starts again from 0).
topo_restart_miniupnpd() {
  topo_stop_miniupnpd "$TOPO_RTR"
  topo_start_miniupnpd "$TOPO_RTR" "$TOPO_RTR_WANIF" rlan "$TOPO_LAN_NET.0/24"
}

# LAN host + home router with miniupnpd. $1 = router WAN address/prefix, $2 = next hop.
topo_home() {
  TOPO_LAN=$(topo_ns lan)
  TOPO_RTR=$(topo_ns rtr)
  TOPO_LAN_IP=$TOPO_LAN_NET.2
  TOPO_GW=$TOPO_LAN_NET.1
  topo_link "$TOPO_LAN" eth0 "$TOPO_LAN_IP/24" "$TOPO_RTR" rlan "$TOPO_GW/24"
  ip -n "$TOPO_LAN" route add default via "$TOPO_GW"
  TOPO_RTR_WANIF=rwan
  TOPO_RTR_WAN_IP=${1%/*}
  TOPO_RTR_NEXTHOP=$2
}

topo_plain() {
  topo_home $TOPO_PUB_NET.2/24 $TOPO_PUB_NET.1
  TOPO_WAN=$(topo_ns wan)
  TOPO_WAN_IP=$TOPO_PUB_NET.1
  topo_link "$TOPO_RTR" rwan $TOPO_PUB_NET.2/24 "$TOPO_WAN" eth0 "$TOPO_WAN_IP/24"
  ip -n "$TOPO_RTR" route add default via "$TOPO_WAN_IP"
  TOPO_PUBLIC_IP=$TOPO_RTR_WAN_IP
  topo_nat "$TOPO_RTR" rwan
  topo_miniupnpd_tables "$TOPO_RTR"
  topo_start_miniupnpd "$TOPO_RTR" rwan rlan "$TOPO_LAN_NET.0/24"
}

# A second NAT between the home router and the WAN host. $1 name, $2 its LAN side address/pfx
# (the home router's WAN net), $3 home router WAN address/pfx.
topo_upstream_nat() {
  TOPO_UP=$(topo_ns "$1")
  TOPO_WAN=$(topo_ns wan)
  TOPO_WAN_IP=$TOPO_PUB_NET.1
  TOPO_PUBLIC_IP=$TOPO_PUB_NET.2
  topo_link "$TOPO_RTR" rwan "$3" "$TOPO_UP" ulan "$2"
  topo_link "$TOPO_UP" uwan "$TOPO_PUBLIC_IP/24" "$TOPO_WAN" eth0 "$TOPO_WAN_IP/24"
  ip -n "$TOPO_RTR" route add default via "${2%/*}"
  ip -n "$TOPO_UP" route add default via "$TOPO_WAN_IP"
  topo_nat "$TOPO_UP" uwan
  topo_nat "$TOPO_RTR" rwan
  topo_miniupnpd_tables "$TOPO_RTR"
  topo_start_miniupnpd "$TOPO_RTR" rwan rlan "$TOPO_LAN_NET.0/24"
}

topo_double_nat() {
  topo_home 192.168.77.2/24 192.168.77.1
  topo_upstream_nat rtr2 192.168.77.1/24 192.168.77.2/24
}

topo_cgnat() {
  topo_home 100.64.9.2/10 100.64.9.1
  topo_upstream_nat cgn 100.64.9.1/10 100.64.9.2/10
}

# topo_listening NS PORT [t|u]: true when something in NS listens on TCP (or UDP) PORT.
topo_listening() {
  ip netns exec "$1" ss -Hln"${3:-t}" "sport = :$2" | grep -q .
}
