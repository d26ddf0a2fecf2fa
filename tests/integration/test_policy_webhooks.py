#!/usr/bin/env python3
"""verify-webhook at the relay with signatures made by the providers' own npm libraries
(tests/js/webhook_sign.js): for Stripe, GitHub, Slack, Twilio, Shopify and Standard Webhooks a
valid signature reaches the origin with the body intact; a tampered body, an expired timestamp
or a missing signature gets 401 and never reaches the agent; a body over max_body gets 413."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from http_harness import CheckedProcesses, RecordingOrigin, Relay, host_of, scaled, start_agent  # noqa: E402
from test_policy import curl, metrics, write  # noqa: E402

JS = os.path.join(os.path.dirname(__file__), "..", "js")
NODE = shutil.which("node")
LIBS = ("stripe", "@octokit/webhooks-methods", "standardwebhooks", "twilio", "@slack/bolt", "@shopify/shopify-api")
HAVE = NODE is not None and all(os.path.isdir(os.path.join(JS, "node_modules", m)) for m in LIBS)

SECRETS = {
    "stripe": "whsec_porthole_stripe_test",
    "github": "github-hook-secret",
    "slack": "8f742231b10e8888abcd99yyyzzz85a5",
    "twilio": "twilio-auth-token-0123",
    "shopify": "shpss_porthole",
    "standard": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
TIMESTAMPED = ("stripe", "slack", "standard")

POLICY = "".join(f"""
[[on_http_request]]
name = "{p}"
when = {{ path = "/hooks/{p}" }}
actions = [{{ type = "verify-webhook", provider = "{p}", secret = "{s}", max_body = 4096 }}]
""" for p, s in SECRETS.items())


def sign(provider, body, url, ts):
    out = subprocess.run([NODE, os.path.join(JS, "webhook_sign.js"), provider, SECRETS[provider], body, url, str(ts)],
                         capture_output=True, text=True, timeout=scaled(30), check=True)
    return json.loads(out.stdout)


@unittest.skipUnless(HAVE, "node or the webhook libraries in tests/js/node_modules are missing (npm ci in tests/js)")
class WebhookTest(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.relay = Relay()
        self.origin = RecordingOrigin("app")
        a = start_agent(self.relay, self.origin.addr, "--policy", write(POLICY))
        self.host = f"{host_of(a)}:{self.relay.http_port}"
        self.base = f"http://127.0.0.1:{self.relay.http_port}"

    def tearDown(self):
        self.origin.close()
        super().tearDown()

    def post(self, path, body, headers):
        args = ["-X", "POST", "--data-binary", body]
        for k, v in headers.items():
            args += ["-H", f"{k}: {v}"]
        if "Content-Type" not in headers:
            args += ["-H", "Content-Type: application/json"]
        return curl(self.base + path, *args, host=self.host)

    def test_every_provider_valid_tampered_expired_missing(self):
        for p in SECRETS:
            with self.subTest(provider=p):
                path = f"/hooks/{p}"
                url = f"http://{self.host}{path}"
                body = "From=%2B15551234567&Body=hello+there" if p == "twilio" else json.dumps({"id": p, "n": 1})
                now = int(time.time())
                h = sign(p, body, url, now)
                st, _, _ = self.post(path, body, h)
                self.assertEqual(st, 200, p)
                r = self.origin.wait_target(path)
                self.assertEqual(r.body, body.encode(), "the body reaches the origin unchanged")
                self.origin.clear()
                tampered = body.replace("1", "2") if p != "twilio" else body.replace("hello", "hullo")
                self.assertEqual(self.post(path, tampered, h)[0], 401, f"{p}: tampered body")
                self.assertEqual(self.post(path, body, {})[0], 401, f"{p}: no signature")
                if p in TIMESTAMPED:
                    old = sign(p, body, url, now - 600)
                    st, _, text = self.post(path, body, old)
                    self.assertEqual(st, 401, f"{p}: expired")
                    self.assertIn(b"expired", text)
                self.assertEqual(self.origin.requests, [], f"{p}: a refused webhook reached the agent")
        m = metrics(self.relay)
        self.assertIn('porthole_policy_denials_total{reason="webhook_bad"} 6', m)
        self.assertIn('porthole_policy_denials_total{reason="webhook_missing"} 6', m)
        self.assertIn('porthole_policy_denials_total{reason="webhook_expired"} 3', m)

    def test_body_bound_and_chunked(self):
        big = "x" * 5000
        h = sign("github", big, "", 0)
        self.assertEqual(self.post("/hooks/github", big, h)[0], 413)
        st, _, _ = self.post("/hooks/github", "{}", {"Transfer-Encoding": "chunked"})
        self.assertEqual(st, 411)
        # Other paths are not buffered: a large upload goes straight through.
        self.assertEqual(self.post("/upload", big, {})[0], 200)
        self.assertEqual(len(self.origin.wait_target("/upload").body), 5000)

    def test_keep_alive_after_a_verified_webhook(self):
        body = '{"k":1}'
        h = sign("github", body, "", 0)
        args = []
        for k, v in h.items():
            args += ["-H", f"{k}: {v}"]
        # Two requests on one connection: the buffered body must not desync it.
        out = subprocess.run(["curl", "-sS", "--max-time", str(scaled(10)), "-H", f"Host: {self.host}", "-X", "POST",
                              "--data-binary", body, *args, self.base + "/hooks/github", "--next", "-H",
                              f"Host: {self.host}", self.base + "/after", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\\n"],
                             capture_output=True, text=True, timeout=scaled(20))
        self.assertIn("200 0", out.stdout, out.stdout + out.stderr)
        self.origin.wait_target("/after")


if __name__ == "__main__":
    unittest.main()
