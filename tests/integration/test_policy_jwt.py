#!/usr/bin/env python3
"""The jwt policy action through a real relay and agent, with tokens signed by npm `jose`
(tests/js/jwt_tokens.mjs) and the JWKS served over HTTPS from a loopback server whose
certificate the relay verifies (--jwks-ca). Valid RS256, ES256, EdDSA and HS256 tokens reach
the origin with their claims in headers visitors cannot forge; expired, not-yet-valid,
wrong-audience, wrong-issuer and tampered tokens, `alg: none` and an HS256 token signed with the
RS256 public key's PEM all get 401 with `WWW-Authenticate: Bearer error="invalid_token"` and never
reach the origin; an unknown kid refreshes the JWKS at most once per jwks_refresh; a failed
refresh keeps the cached keys; `porthole policy test` explains the decisions (jwks_file)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN  # noqa: E402
from http_harness import (CheckedProcesses, OriginResponse, RecordingOrigin, Relay, host_of, scaled,  # noqa: E402
                          self_signed_cert, start_agent)
from test_policy import curl, metrics  # noqa: E402

JS = os.path.join(os.path.dirname(__file__), "..", "js")
NODE = shutil.which("node")
HAVE = NODE is not None and os.path.isdir(os.path.join(JS, "node_modules", "jose"))

ISS = "https://issuer.test"
AUD = "porthole-api"
HS_SECRET = "hs256-secret-for-the-jwt-test-0123456789"

_made = None


def made():
    """Keys, JWKS documents and tokens (one node run for the whole module)."""
    global _made
    if _made is None:
        out = subprocess.run([NODE, os.path.join(JS, "jwt_tokens.mjs"), ISS, AUD, HS_SECRET], capture_output=True,
                             text=True, timeout=scaled(60), check=True)
        _made = json.loads(out.stdout)
    return _made


class JwksServer:
    """An HTTPS origin serving the JWKS at /jwks.json; counts fetches; can rotate or fail."""

    def __init__(self):
        self.cert, self.key = self_signed_cert("127.0.0.1")
        self.doc = made()["jwks"]
        self.status = 200
        self.origin = RecordingOrigin("jwks", handler=self.handle, tls=(self.cert, self.key))
        self.url = f"https://127.0.0.1:{self.origin.port}/jwks.json"

    def handle(self, req, origin):
        if self.status != 200:
            return OriginResponse(self.status, [("Content-Type", "text/plain")], b"down\n")
        return OriginResponse(200, [("Content-Type", "application/json"), ("Cache-Control", "max-age=300")],
                              json.dumps(self.doc).encode())

    def fetches(self):
        return len(self.origin.requests)

    def close(self):
        self.origin.close()


def policy_text(jwks_url):
    claims = f'issuer = "{ISS}"\naudience = ["other", "{AUD}"]'
    return f"""
[[on_http_request]]
name = "open"
when = {{ path_prefix = "/open" }}
actions = [{{ type = "allow" }}]

[[on_http_request]]
name = "hs"
when = {{ path_prefix = "/hs" }}
[[on_http_request.actions]]
type = "jwt"
{claims}
secret = "{HS_SECRET}"
forward_claims = {{ sub = "X-Jwt-Sub" }}

[[on_http_request]]
name = "file"
when = {{ path_prefix = "/file" }}
[[on_http_request.actions]]
type = "jwt"
{claims}
jwks_file = "jwks.json"

[[on_http_request]]
name = "url"
[[on_http_request.actions]]
type = "jwt"
{claims}
jwks_url = "{jwks_url}"
jwks_refresh = 1
forward_claims = {{ sub = "X-Jwt-Sub", email = "X-Jwt-Email" }}
"""


def write_policy(jwks_url):
    d = tempfile.mkdtemp(prefix="porthole-jwt-")
    with open(os.path.join(d, "jwks.json"), "w") as f:
        json.dump(made()["jwks"], f)
    path = os.path.join(d, "policy.toml")
    with open(path, "w") as f:
        f.write(policy_text(jwks_url))
    return path


def denials(relay):
    out = {}
    for m in re.finditer(r'porthole_policy_denials_total\{reason="([a-z_]+)"\} (\d+)', metrics(relay)):
        out[m.group(1)] = int(m.group(2))
    return out


@unittest.skipUnless(HAVE, "node or jose in tests/js/node_modules is missing (npm ci --ignore-scripts in tests/js)")
class JwtTest(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.jwks = JwksServer()
        self.relay = Relay(extra=["--jwks-ca", self.jwks.cert, "--policy-fetch-allow", "127.0.0.0/8"])
        self.origin = RecordingOrigin("app")
        self.policy = write_policy(self.jwks.url)
        a = start_agent(self.relay, self.origin.addr, "--policy", self.policy)
        self.host = f"{host_of(a)}:{self.relay.http_port}"
        self.base = f"http://127.0.0.1:{self.relay.http_port}"
        self.tokens = made()["tokens"]

    def tearDown(self):
        self.origin.close()
        self.jwks.close()
        super().tearDown()

    def get(self, path, token=None, *args):
        extra = list(args)
        if token is not None:
            extra += ["-H", f"Authorization: Bearer {token}"]
        return curl(self.base + path, *extra, host=self.host)

    def assert_refused(self, path, name, counter):
        before = len(self.origin.requests)
        st, h, body = self.get(path, self.tokens[name])
        self.assertEqual(st, 401, f"{name} on {path}: {body!r}")
        self.assertIn('error="invalid_token"', h.get("www-authenticate", ""), name)
        self.assertTrue(h["www-authenticate"].startswith("Bearer "), name)
        self.assertEqual(len(self.origin.requests), before, f"{name} reached the origin")
        return counter

    def test_every_algorithm_accepted_and_every_bad_token_refused(self):
        # Valid tokens: the claims reach the origin; a visitor's own X-Jwt-Sub is replaced.
        for path, name in [("/url/a", "rs256_valid"), ("/url/b", "es256_valid"), ("/url/c", "eddsa_valid"),
                           ("/hs/d", "hs256_valid"), ("/file/e", "rs256_valid"), ("/url/f", "rs256_aud_list"),
                           ("/url/g", "rs256_skew_ok")]:
            st, _, body = self.get(path, self.tokens[name], "-H", "X-Jwt-Sub: admin", "-H", "X-Porthole-User: root")
            self.assertEqual(st, 200, f"{name} on {path}: {body!r}")
            r = self.origin.wait_target(path)
            # /file forwards no claims: the visitor's X-Jwt-Sub is removed all the same.
            self.assertEqual(r.headers_named("X-Jwt-Sub"), [] if path.startswith("/file") else ["alice"], name)
            self.assertEqual(r.header("X-Porthole-User"), "alice", name)
            if path.startswith("/url"):
                self.assertEqual(r.header("X-Jwt-Email"), "alice@example.com")
        self.assertEqual(self.jwks.fetches(), 1)  # fetched once, on first use, then cached
        # A forwarded-claim header is stripped on paths without a jwt check too.
        st, _, _ = self.get("/open/x", None, "-H", "X-Jwt-Sub: admin")
        self.assertEqual(st, 200)
        self.assertIsNone(self.origin.wait_target("/open/x").header("X-Jwt-Sub"))

        want = {}
        for alg in ("rs256", "es256", "eddsa"):
            for case, counter in [("expired", "jwt_expired"), ("not_yet", "jwt_not_yet_valid"),
                                  ("wrong_aud", "jwt_audience"), ("wrong_iss", "jwt_issuer"),
                                  ("tampered", "jwt_bad_signature")]:
                c = self.assert_refused("/url/x", f"{alg}_{case}", counter)
                want[c] = want.get(c, 0) + 1
        for case, counter in [("expired", "jwt_expired"), ("not_yet", "jwt_not_yet_valid"),
                              ("wrong_aud", "jwt_audience"), ("wrong_iss", "jwt_issuer"),
                              ("tampered", "jwt_bad_signature")]:
            c = self.assert_refused("/hs/x", f"hs256_{case}", counter)
            want[c] = want.get(c, 0) + 1
        # alg none and key confusion, on every key source.
        for path in ("/url/x", "/file/x", "/hs/x"):
            for name in ("none", "none_kid"):
                self.assert_refused(path, name, "jwt_alg")
                want["jwt_alg"] = want.get("jwt_alg", 0) + 1
        for path in ("/url/x", "/file/x"):
            self.assert_refused(path, "hs256_rsa_pem", "jwt_alg")
            want["jwt_alg"] += 1
        self.assert_refused("/hs/x", "hs256_rsa_pem", "jwt_bad_signature")  # a different secret
        want["jwt_bad_signature"] += 1
        self.assert_refused("/url/x", "rs256_no_exp", "jwt_claims")
        want["jwt_claims"] = 1
        # Garbage, and no token at all.
        st, h, _ = curl(self.base + "/url/x", "-H", "Authorization: Bearer not.a.jwt", host=self.host)
        self.assertEqual(st, 401)
        want["jwt_malformed"] = 1
        st, h, _ = curl(self.base + "/url/x", host=self.host)
        self.assertEqual((st, h.get("www-authenticate")), (401, 'Bearer realm="porthole"'))
        want["jwt_missing"] = 1
        got = denials(self.relay)
        for k, v in want.items():
            self.assertEqual(got.get(k), v, f"porthole_policy_denials_total{{reason={k}}} in {got}")
        self.assertEqual(self.jwks.fetches(), 1)  # none of those made the relay refetch

    def test_unknown_kid_refresh_is_rate_limited_and_failures_keep_keys(self):
        st, _, _ = self.get("/url/a", self.tokens["rs256_valid"])
        self.assertEqual(st, 200)
        self.assertEqual(self.jwks.fetches(), 1)
        # The issuer rotates in rsa2; a token with the new kid makes the relay refetch (at most
        # once per jwks_refresh = 1 s, so a burst of them costs at most one fetch).
        self.jwks.doc = made()["jwks_rotated"]
        deadline = time.monotonic() + scaled(10)
        statuses = []
        while time.monotonic() < deadline:
            st, _, _ = self.get("/url/r", self.tokens["rs256_rotated"])
            statuses.append(st)
            if st == 200:
                break
            time.sleep(0.1)
        self.assertEqual(statuses[-1], 200, statuses)
        self.assertEqual(self.jwks.fetches(), 2, statuses)
        # A kid the issuer never published: 401; a burst of them refetches at most once.
        for _ in range(6):
            self.assert_refused("/url/x", "rs256_unknown_kid", "jwt_unknown_kid")
        self.assertLessEqual(self.jwks.fetches(), 3)
        # The JWKS server fails: refreshes fail, and the cached keys keep working.
        self.jwks.status = 503
        before = self.jwks.fetches()
        deadline = time.monotonic() + scaled(10)
        while self.jwks.fetches() == before and time.monotonic() < deadline:
            self.assert_refused("/url/x", "rs256_unknown_kid", "jwt_unknown_kid")
            time.sleep(0.2)
        self.assertGreater(self.jwks.fetches(), before)
        self.assertIn('porthole_policy_jwks_fetches_total{result="error"}', metrics(self.relay))
        for name in ("rs256_valid", "es256_valid", "eddsa_valid", "rs256_rotated"):
            st, _, body = self.get("/url/k", self.tokens[name])
            self.assertEqual(st, 200, f"{name} after a failed refresh: {body!r}")

    def test_jwks_server_certificate_is_verified(self):
        # A relay without --jwks-ca does not trust the test server: no keys, every token refused.
        relay = Relay()
        a = start_agent(relay, self.origin.addr, "--policy", self.policy)
        host = f"{host_of(a)}:{relay.http_port}"
        st, h, _ = curl(f"http://127.0.0.1:{relay.http_port}/url/a", "-H",
                        f"Authorization: Bearer {self.tokens['rs256_valid']}", host=host)
        self.assertEqual(st, 401)
        self.assertEqual(self.jwks.fetches(), 0)  # the TLS handshake failed before any request
        self.assertEqual(denials(relay).get("jwt_keys_unavailable"), 1)
        self.assertIn('porthole_policy_jwks_fetches_total{result="error"} 1', metrics(relay))

    def test_policy_test_explains(self):
        def explain(url, token):
            r = subprocess.run([BIN, "policy", "test", self.policy, "--ip", "192.0.2.1", "--url", url, "--header",
                                f"Authorization: Bearer {token}"], capture_output=True, text=True, timeout=scaled(20))
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout
        out = explain("/file/x", self.tokens["rs256_valid"])
        self.assertIn('decision: allow (rule "file")', out)
        self.assertIn("identity alice", out)
        out = explain("/file/x", self.tokens["rs256_expired"])
        self.assertIn('decision: answer 401 (rule "file"): the token expired', out)
        out = explain("/file/x", self.tokens["hs256_rsa_pem"])
        self.assertIn("answer 401", out)
        self.assertIn("alg confusion refused", out)
        out = explain("/hs/x", self.tokens["hs256_valid"])
        self.assertIn("add header X-Jwt-Sub: alice", out)
        self.assertNotIn(HS_SECRET, out)
        out = explain("/url/x", self.tokens["rs256_valid"])  # no network in policy test
        self.assertIn("must be fetched first", out)


@unittest.skipUnless(HAVE, "node or jose in tests/js/node_modules is missing (npm ci --ignore-scripts in tests/js)")
class JwtFlagsTest(CheckedProcesses, unittest.TestCase):
    """--jwt-issuer/--jwt-audience with --jwt-secret or --jwks-file: the same checks as a policy file."""

    def test_short_flags(self):
        relay = Relay()
        origin = RecordingOrigin("app")
        try:
            d = tempfile.mkdtemp(prefix="porthole-jwt-flags-")
            jwks = os.path.join(d, "jwks.json")
            with open(jwks, "w") as f:
                json.dump(made()["jwks"], f)
            tokens = made()["tokens"]
            for name, flags, good, bad in [
                    ("hs", ["--jwt-secret", HS_SECRET], "hs256_valid", "hs256_expired"),
                    ("file", ["--jwks-file", jwks], "rs256_valid", "rs256_wrong_aud")]:
                a = start_agent(relay, origin.addr, "--jwt-issuer", ISS, "--jwt-audience", AUD, *flags, name=name)
                host = f"{host_of(a)}:{relay.http_port}"
                base = f"http://127.0.0.1:{relay.http_port}/x"
                self.assertEqual(curl(base, "-H", f"Authorization: Bearer {tokens[good]}", host=host)[0], 200, name)
                self.assertEqual(curl(base, "-H", f"Authorization: Bearer {tokens[bad]}", host=host)[0], 401, name)
                self.assertEqual(curl(base, host=host)[0], 401, name)
            # Exactly one key source.
            r = subprocess.run([BIN, "http", "1", "--jwt-issuer", ISS, "--relay", relay.addr], capture_output=True,
                               text=True, timeout=scaled(20))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("exactly one of --jwks-url, --jwks-file and --jwt-secret", r.stderr)
        finally:
            origin.close()


if __name__ == "__main__":
    unittest.main()
