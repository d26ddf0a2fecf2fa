#!/usr/bin/env python3
"""The oidc policy action through a real relay (https listener, its local CA) and agent
(`porthole http --oidc ...`), against a real OpenID Connect provider from npm
(`oauth2-mock-server`, tests/js/oidc_provider.mjs) on loopback over HTTPS. curl with a cookie
jar follows the real redirect chain: relay → provider's authorize → relay callback (state
checked, code exchanged with PKCE and client_secret_basic, the ID token verified) → the original
path, where the origin sees the identity in X-Porthole-User / X-Porthole-Email and a visitor's
forged copies are gone. Also: logout; a user outside allowed_domains and an unverified e-mail
refused; tampered, expired and other-host cookies refused; a bad state refused; ID tokens with a
wrong audience, wrong issuer, an expired exp or another nonce refused; a non-browser request
gets 401; the relay refuses a loopback issuer unless --policy-fetch-allow lists it (SSRF), with
no connection made. Every refusal counted by reason."""
import base64
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from http_harness import CheckedProcesses, RecordingOrigin, Relay, host_of, scaled, start_agent  # noqa: E402
from test_policy import metrics  # noqa: E402

JS = os.path.join(os.path.dirname(__file__), "..", "js")
NODE = shutil.which("node")
HAVE = NODE is not None and os.path.isdir(os.path.join(JS, "node_modules", "oauth2-mock-server"))
CLIENT_ID, CLIENT_SECRET = "porthole-test", "s3cret-of-the-oidc-client"


def cert_for_loopback():
    d = tempfile.mkdtemp(prefix="porthole-oidc-cert-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return cert, key


class Provider:
    def __init__(self):
        self.cert, self.key = cert_for_loopback()
        self.proc = subprocess.Popen([NODE, os.path.join(JS, "oidc_provider.mjs"), self.key, self.cert],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"ISSUER (\S+)", line)
        assert m, f"provider said {line!r}"
        self.issuer = m.group(1)

    def say(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def denials(relay):
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'porthole_policy_denials_total\{reason="([a-z_0-9]+)"\} (\d+)', metrics(relay))}


@unittest.skipUnless(HAVE, "node or oauth2-mock-server in tests/js/node_modules is missing (npm ci --ignore-scripts)")
class OidcTest(CheckedProcesses, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.provider = Provider()

    @classmethod
    def tearDownClass(cls):
        cls.provider.close()

    def setUp(self):
        super().setUp()
        self.provider.say("mode ok")
        self.provider.say("user alice@example.com true")
        self.relay = Relay(extra=["--jwks-ca", self.provider.cert, "--policy-fetch-allow", "127.0.0.0/8"])
        self.origin = RecordingOrigin("app")
        self.agent = self.start_oidc_agent()
        self.host = host_of(self.agent)
        self.tmp = tempfile.mkdtemp(prefix="porthole-oidc-")
        self.bundle = os.path.join(self.tmp, "ca.pem")
        with open(self.bundle, "w") as out:
            for f in (os.path.join(self.relay.data, "ca-cert.pem"), self.provider.cert):
                with open(f) as i:
                    out.write(i.read())
        self.jar = os.path.join(self.tmp, "jar")

    def tearDown(self):
        self.origin.close()
        super().tearDown()

    def start_oidc_agent(self, relay=None, name=None):
        return start_agent(relay or self.relay, self.origin.addr, "--oidc", self.provider.issuer, "--oidc-client-id",
                           CLIENT_ID, "--oidc-client-secret", CLIENT_SECRET, "--oidc-allow-domain", "example.com",
                           "--oidc-allow-user", "carol@partner.test", name=name)

    def curl(self, path, *args, host=None, follow=True, browser=True, relay=None):
        """(status, headers of every response as text, body, effective URL)."""
        host = host or self.host
        port = (relay or self.relay).https_port
        hdrs = os.path.join(self.tmp, "headers")
        cmd = ["curl", "-sS", "--max-time", str(scaled(15)), "--noproxy", "*", "--cacert", self.bundle,
               "--resolve", f"{host}:{port}:127.0.0.1", "-c", self.jar, "-b", self.jar, "-D", hdrs,
               "-w", "%{http_code} %{url_effective}", "-o", os.path.join(self.tmp, "body")]
        if follow:
            cmd += ["-L", "--max-redirs", "6"]
        if browser:
            cmd += ["-H", "Accept: text/html,application/xhtml+xml"]
        out = subprocess.run(cmd + list(args) + [f"https://{host}:{port}{path}"], capture_output=True, text=True,
                             timeout=scaled(30))
        self.assertEqual(out.returncode, 0, out.stderr)
        code, url = out.stdout.split(" ", 1)
        with open(hdrs) as f:
            headers = f.read()
        with open(os.path.join(self.tmp, "body"), "rb") as f:
            body = f.read()
        return int(code), headers, body, url

    def session_cookie(self):
        with open(self.jar) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 7 and parts[5] == "porthole_session" and parts[6]:
                    return parts[0].replace("#HttpOnly_", ""), parts[6]
        return None

    def login(self):
        st, headers, body, url = self.curl("/private/page?x=1", "-H", "X-Porthole-User: mallory",
                                           "-H", "X-Porthole-Email: mallory@example.com")
        return st, headers, body, url

    def test_login_identity_logout(self):
        st, headers, body, url = self.login()
        self.assertEqual(st, 200, headers)
        self.assertTrue(url.endswith("/private/page?x=1"), url)  # back where the visitor started
        self.assertIn(f"Location: {self.provider.issuer}/authorize?", headers)
        self.assertIn("code_challenge_method=S256", headers)
        self.assertRegex(headers, r"set-cookie: porthole_session=[A-Za-z0-9_-]+; Path=/; Max-Age=43200; Secure; "
                                  r"HttpOnly; SameSite=Lax".replace("set-cookie", "(?i:set-cookie)"))
        reqs = [r for r in self.origin.requests if r.target == "/private/page?x=1"]
        self.assertEqual(len(reqs), 1, self.origin.requests)  # nothing reached it before the login
        self.assertEqual(reqs[0].header("X-Porthole-User"), "alice@example.com")
        self.assertEqual(reqs[0].header("X-Porthole-Email"), "alice@example.com")
        self.assertEqual(len(reqs[0].headers_named("X-Porthole-User")), 1)  # the forged one is gone
        self.assertNotIn("porthole_session", reqs[0].header("Cookie", ""))  # the relay's cookies stay there
        # The session works without a new login, for any path; a non-browser client too.
        st, headers, _, _ = self.curl("/other", follow=False, browser=False)
        self.assertEqual(st, 200, headers)
        # The key is persisted in the data directory, owner-only.
        mode = os.stat(os.path.join(self.relay.data, "oidc-cookie.key")).st_mode
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        # Logout clears the cookie; then a browser is sent to log in again, others get 401.
        st, headers, _, _ = self.curl("/.porthole/oidc/logout", follow=False)
        self.assertEqual(st, 302)
        self.assertRegex(headers, r"(?i)set-cookie: porthole_session=; Path=/; Max-Age=0")
        self.assertIsNone(self.session_cookie())
        st, headers, _, _ = self.curl("/private/page", follow=False)
        self.assertEqual(st, 302)
        self.assertIn(f"Location: {self.provider.issuer}/authorize?", headers)
        st, _, body, _ = self.curl("/private/page", follow=False, browser=False)
        self.assertEqual(st, 401, body)
        d = denials(self.relay)
        for reason in ("oidc_login_redirect", "oidc_login", "oidc_logout", "oidc_login_required"):
            self.assertGreaterEqual(d.get(reason, 0), 1, (reason, d))

    def test_users_outside_the_allow_lists_are_refused(self):
        for user, status in [("bob@other.test true", 403), ("mallory@example.com false", 403),
                             ("carol@partner.test true", 200)]:
            os.path.exists(self.jar) and os.remove(self.jar)
            self.provider.say(f"user {user}")
            st, headers, body, _ = self.login()
            self.assertEqual(st, status, (user, body))
        self.assertGreaterEqual(denials(self.relay).get("oidc_user_not_allowed", 0), 2)

    def test_bad_id_tokens_are_refused(self):
        before = len(self.origin.requests)
        for mode, counter in [("wrong_aud", "oidc_id_token_audience"), ("wrong_iss", "oidc_id_token_issuer"),
                              ("expired", "oidc_id_token_expired"), ("bad_nonce", "oidc_id_token_nonce")]:
            os.path.exists(self.jar) and os.remove(self.jar)
            self.provider.say(f"mode {mode}")
            st, headers, body, _ = self.login()
            self.assertEqual(st, 401, (mode, body))
            self.assertIsNone(self.session_cookie(), mode)
            self.assertGreaterEqual(denials(self.relay).get(counter, 0), 1, (mode, denials(self.relay)))
        self.assertEqual(len(self.origin.requests), before)

    def test_bad_state_and_bad_cookies_are_refused(self):
        # A login started, then a callback with another state (or none) is refused.
        st, headers, _, _ = self.curl("/private", follow=False)
        self.assertEqual(st, 302)
        st, _, body, _ = self.curl("/.porthole/oidc/callback?code=abc&state=forged", follow=False)
        self.assertEqual(st, 400, body)
        os.remove(self.jar)
        st, _, body, _ = self.curl("/.porthole/oidc/callback?code=abc&state=forged", follow=False)
        self.assertEqual(st, 400, body)  # no login cookie at all
        self.assertGreaterEqual(denials(self.relay).get("oidc_state", 0), 2)
        # A good session, then its cookie tampered with, moved to another host, or expired.
        st, _, _, _ = self.login()
        self.assertEqual(st, 200)
        _, value = self.session_cookie()
        os.remove(self.jar)
        tampered = value[:20] + ("A" if value[20] != "A" else "B") + value[21:]
        other_agent = self.start_oidc_agent(name="other-app")
        other = host_of(other_agent)
        self.assertNotEqual(other, self.host)
        with open(os.path.join(self.relay.data, "oidc-cookie.key"), "rb") as f:
            key = f.read()
        expired = seal(key, self.host, {"sub": "johndoe", "email": "alice@example.com", "exp": int(time.time()) - 5})
        fresh = seal(key, self.host, {"sub": "johndoe", "email": "alice@example.com", "exp": int(time.time()) + 600})
        before = len(self.origin.requests)
        for host, cookie in [(self.host, tampered), (other, value), (self.host, expired), (self.host, "x" * 5000)]:
            st, _, body, _ = self.curl("/private", "-H", f"Cookie: porthole_session={cookie}", host=host,
                                       follow=False, browser=False)
            self.assertEqual(st, 401, (host, cookie[:30], body))
        self.assertEqual(len(self.origin.requests), before)
        self.assertGreaterEqual(denials(self.relay).get("oidc_session_invalid", 0), 4)
        # The same sealing with a future expiry is accepted: the refusals above were for the
        # reasons given, not a broken test cookie.
        st, _, body, _ = self.curl("/private", "-H", f"Cookie: porthole_session={fresh}", follow=False, browser=False)
        self.assertEqual(st, 200, body)


    @unittest.skipUnless(os.path.exists("/usr/bin/chromium") and
                         os.path.isdir(os.path.join(JS, "node_modules", "playwright-core")), "no chromium/playwright-core")
    def test_login_in_chromium(self):
        port = self.relay.https_port
        url = f"https://{self.host}:{port}/private/browser"
        out = subprocess.run([NODE, os.path.join(JS, "oidc_browser.js"), url,
                              f"https://{self.host}:{port}/.porthole/oidc/logout"], capture_output=True, text=True,
                             timeout=scaled(90))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertEqual((r["first_status"], r["first_url"]), (200, url), r)
        self.assertEqual((r["authorize"], r["callback"]), (2, 2), r)  # logged in twice: before and after logout
        session = [c for c in r["cookies"] if c["name"] == "porthole_session"]
        self.assertEqual(len(session), 1, r)
        self.assertEqual((session[0]["httpOnly"], session[0]["secure"], session[0]["sameSite"], session[0]["path"]),
                         (True, True, "Lax", "/"), r)
        self.assertEqual(r["logout_type"], "opaqueredirect", r)  # the 302
        self.assertNotIn("porthole_session", r["after_logout_cookies"], r)
        self.assertEqual((r["again_status"], r["again_url"]), (200, url), r)
        reqs = [q for q in self.origin.requests if q.target == "/private/browser"]
        self.assertEqual([q.header("X-Porthole-User") for q in reqs], ["alice@example.com"] * 2)


def seal(key, host, claims):
    """A session cookie sealed like policy::CookieSealer (AES-256-GCM, the host as AAD), by node."""
    js = ("const c=require('crypto');const [k,h,p]=process.argv.slice(1);const n=c.randomBytes(12);"
          "const e=c.createCipheriv('aes-256-gcm',Buffer.from(k,'hex'),n);e.setAAD(Buffer.from(h));"
          "const ct=Buffer.concat([e.update(p),e.final()]);"
          "process.stdout.write(Buffer.concat([n,ct,e.getAuthTag()]).toString('base64url'))")
    out = subprocess.run([NODE, "-e", js, key.hex(), host, json.dumps(claims, separators=(",", ":"))],
                         capture_output=True, text=True, timeout=scaled(20), check=True)
    return out.stdout


@unittest.skipUnless(HAVE, "node or oauth2-mock-server in tests/js/node_modules is missing (npm ci --ignore-scripts)")
class FetchRefusalTest(CheckedProcesses, unittest.TestCase):
    """Without --policy-fetch-allow the relay does not fetch from loopback for a policy: the
    discovery of a loopback issuer and a loopback jwks_url are refused, counted, and no
    connection reaches the listener."""

    def test_loopback_issuer_and_jwks_refused(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        relay = Relay()
        origin = RecordingOrigin("app")
        try:
            a = start_agent(relay, origin.addr, "--oidc", f"https://127.0.0.1:{port}", "--oidc-client-id", "x",
                            "--oidc-client-secret", "y", name="oidc-app")
            b = start_agent(relay, origin.addr, "--jwt-issuer", "https://iss.test", "--jwks-url",
                            f"https://localhost:{port}/jwks.json", name="jwt-app")
            ha, hb = host_of(a), host_of(b)
            for host, args in [(ha, ["-H", "Accept: text/html"]), (hb, ["-H", "Authorization: Bearer a.b.c"])]:
                out = subprocess.run(["curl", "-sSk", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
                                      "--resolve", f"{host}:{relay.https_port}:127.0.0.1", *args,
                                      f"https://{host}:{relay.https_port}/"], capture_output=True, text=True,
                                     timeout=scaled(20))
                self.assertIn(out.stdout, ("503", "401"), out.stderr)
            text = metrics(relay)
            self.assertRegex(text, r'porthole_policy_fetches_refused_total\{reason="loopback"\} [2-9]')
            d = denials(relay)
            self.assertGreaterEqual(d.get("oidc_provider_unavailable", 0), 1, d)
            self.assertGreaterEqual(d.get("jwt_keys_unavailable", 0), 1, d)
            with self.assertRaises(BlockingIOError):
                listener.accept()  # the relay never connected
            self.assertEqual(origin.requests, [])
        finally:
            origin.close()
            listener.close()


if __name__ == "__main__":
    unittest.main()
