#!/usr/bin/env bash
# Debian's testssl.sh against the relay's https listener (issue 8): a relay on loopback, one
# terminated http endpoint (app.localhost, a certificate from the relay's local CA, ECDSA P-256)
# in front of a tiny origin, then `testssl --severity LOW` on it. Slow (minutes): not a test.
# Prints testssl's findings of severity LOW and above and exits 1 if any is HIGH or CRITICAL.
#
#   bash bench/testssl.sh                 # full run
#   TESTSSL_ARGS="--fast" bash bench/testssl.sh
#
# Environment: PORTHOLE (binary, build/porthole), TESTSSL_ARGS (extra testssl options),
# OUT (results dir, bench/results/testssl-<time>). Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
PORTHOLE=${PORTHOLE:-build/porthole}
TESTSSL_ARGS=${TESTSSL_ARGS:-}
OUT=${OUT:-bench/results/testssl-$(date +%Y%m%d-%H%M%S)}
TOKEN=bench-token-not-secret
command -v testssl >/dev/null || { echo "bench/testssl.sh: testssl missing (apt-get install testssl.sh)" >&2; exit 1; }
[ -x "$PORTHOLE" ] || { echo "bench/testssl.sh: no porthole binary at $PORTHOLE (make build)" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/porthole-testssl.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  cp "$WORK"/*.log "$OUT/" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
wait_for() {  # FILE REGEX: prints the first match's first group
  local _
  for _ in $(seq 200); do
    if grep -qE "$2" "$1" 2>/dev/null; then sed -nE "s#.*$2.*#\\1#p" "$1" | head -1; return 0; fi
    sleep 0.05
  done
  echo "bench/testssl.sh: timed out waiting for /$2/ in $1" >&2; cat "$1" >&2; return 1
}

/usr/bin/python3 -m http.server 0 --bind 127.0.0.1 --directory "$WORK" >"$WORK/origin.log" 2>&1 &
PIDS+=($!)
ORIGIN=$(wait_for "$WORK/origin.log" 'port ([0-9]+)')
"$PORTHOLE" relay --agents 127.0.0.1:0 --http 127.0.0.1:0 --https 127.0.0.1:0 --admin 127.0.0.1:0 \
  --data "$WORK/data" --token "$TOKEN" >"$WORK/relay.log" 2>&1 &
PIDS+=($!)
AGENTS=$(wait_for "$WORK/relay.log" 'listening for agents on 127.0.0.1:([0-9]+)')
HTTPS=$(wait_for "$WORK/relay.log" 'listening for HTTPS visitors on 127.0.0.1:([0-9]+)')
FP=$(wait_for "$WORK/relay.log" 'Relay certificate fingerprint SHA256:([0-9a-f]+)')
XDG_CONFIG_HOME=$WORK "$PORTHOLE" http "$ORIGIN" --subdomain app --relay "127.0.0.1:$AGENTS" --token "$TOKEN" \
  --relay-fingerprint "$FP" --inspect off --hsts >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/agent.log" '(Forwarding) ' >/dev/null

echo "bench/testssl.sh: testssl against https://app.localhost:$HTTPS (127.0.0.1), results in $OUT" >&2
# --ip pins the address (app.localhost does not resolve through the system resolver);
# --add-ca trusts the relay's local CA for the chain checks.
set +e
testssl --quiet --color 0 --warnings batch --ip 127.0.0.1 --add-ca "$WORK/data/ca-cert.pem" \
  --severity LOW --jsonfile "$OUT/testssl.json" --logfile "$OUT/testssl.log" $TESTSSL_ARGS \
  "https://app.localhost:$HTTPS" >/dev/null 2>&1
set -e
[ -s "$OUT/testssl.json" ] || { echo "bench/testssl.sh: testssl produced no findings file" >&2; exit 1; }
/usr/bin/python3 - "$OUT/testssl.json" <<'EOF'
import json, sys
findings = json.load(open(sys.argv[1]))
order = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
worst = [f for f in findings if f.get("severity") in order]
worst.sort(key=lambda f: order.index(f["severity"]))
counts = {s: sum(1 for f in worst if f["severity"] == s) for s in order}
print("testssl findings:", ", ".join(f"{s} {n}" for s, n in counts.items()))
for f in worst:
    print(f"  {f['severity']:8} {f['id']}: {f['finding']}")
sys.exit(1 if counts["CRITICAL"] or counts["HIGH"] else 0)
EOF
