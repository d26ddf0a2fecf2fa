#!/usr/bin/env bash
# Debian's testssl.sh against the relay's https listener (issue 8): a relay on loopback, one
# terminated http endpoint (app.localhost, a certificate from the relay's local CA, ECDSA P-256)
# in front of a tiny origin, then `testssl --severity LOW` on it. Slow (minutes): not a test.
# Prints testssl's findings of severity LOW and above and exits 1 if any is HIGH or CRITICAL.
#
#   bash bench/testssl.sh                 # full run
#   TESTSSL_ARGS="--fast" bash bench/testssl.sh
#   CERT=file bash bench/testssl.sh       # a file certificate (its own test CA, with CRL and
#                                         # OCSP URIs as a public CA's has) instead of the local CA
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
HOST=app.localhost
CA="$WORK/data/ca-cert.pem"
EXTRA=()
NAME=(--subdomain app)
if [ "${CERT:-localca}" = file ]; then
  # A CA and an ECDSA P-256 leaf like a public CA's: CRL distribution point and OCSP URI (never
  # fetched: testssl does not phone out unless told to).
  HOST=app.example.test
  CA="$WORK/ca.pem"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 -subj /CN=bench-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$WORK/ca-key.pem" -out "$CA" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:$HOST" "crlDistributionPoints=URI:http://crl.example.test/bench-ca.crl" \
    "authorityInfoAccess=OCSP;URI:http://ocsp.example.test,caIssuers;URI:http://crl.example.test/bench-ca.crt" \
    >"$WORK/leaf.ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$HOST" \
    -keyout "$WORK/leaf-key.pem" -out "$WORK/leaf.csr" 2>/dev/null
  openssl x509 -req -in "$WORK/leaf.csr" -CA "$CA" -CAkey "$WORK/ca-key.pem" -CAcreateserial -days 90 \
    -extfile "$WORK/leaf.ext" -out "$WORK/leaf.pem" 2>/dev/null
  cat "$WORK/leaf.pem" "$CA" >"$WORK/chain.pem"
  printf 'version = 1\n[[certificate]]\ncert = "%s"\nkey = "%s"\n' "$WORK/chain.pem" "$WORK/leaf-key.pem" >"$WORK/relay.toml"
  EXTRA=(--config "$WORK/relay.toml")
  NAME=(--hostname "$HOST")
fi
"$PORTHOLE" relay "${EXTRA[@]}" --agents 127.0.0.1:0 --http 127.0.0.1:0 --https 127.0.0.1:0 --admin 127.0.0.1:0 \
  --data "$WORK/data" --token "$TOKEN" >"$WORK/relay.log" 2>&1 &
PIDS+=($!)
AGENTS=$(wait_for "$WORK/relay.log" 'listening for agents on 127.0.0.1:([0-9]+)')
HTTPS=$(wait_for "$WORK/relay.log" 'listening for HTTPS visitors on 127.0.0.1:([0-9]+)')
FP=$(wait_for "$WORK/relay.log" 'Relay certificate fingerprint SHA256:([0-9a-f]+)')
XDG_CONFIG_HOME=$WORK "$PORTHOLE" http "$ORIGIN" "${NAME[@]}" --relay "127.0.0.1:$AGENTS" --token "$TOKEN" \
  --relay-fingerprint "$FP" --inspect off --hsts >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/agent.log" '(Forwarding) ' >/dev/null

echo "bench/testssl.sh: testssl against https://$HOST:$HTTPS (127.0.0.1), results in $OUT" >&2
# --ip pins the address (app.localhost does not resolve through the system resolver);
# --add-ca trusts the relay's local CA for the chain checks.
set +e
testssl --quiet --color 0 --warnings batch --ip 127.0.0.1 --add-ca "$CA" \
  --severity LOW --jsonfile "$OUT/testssl.json" --logfile "$OUT/testssl.log" $TESTSSL_ARGS \
  "https://$HOST:$HTTPS" >/dev/null 2>&1
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
