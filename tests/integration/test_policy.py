#!/usr/bin/env python3
"""Traffic policies at the relay, with curl as the visitor (docs/policy.md): a policy file's
rules (deny, custom-response, redirect, url-rewrite, request and response headers), the short
flags (--allow-cidr/--deny-cidr on http and tcp, --basic-auth, --rate-limit), identities the
visitor cannot forge, relay-wide operator rules, `policy test`, `config check` and the
denial counters in /metrics."""
import os
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Agent, EchoServer, connect  # noqa: E402
from http_harness import (CheckedProcesses, RecordingOrigin, Relay, host_of, scaled,  # noqa: E402
                          start_agent)

POLICY = """
version = 1

[[on_http_request]]
name = "admin from the office only"
when = { path_prefix = "/admin", not_ip = ["10.0.0.0/8"] }
actions = [{ type = "deny", status = 403 }]

[[on_http_request]]
name = "maintenance page"
when = { path = "/status", method = "GET" }
actions = [{ type = "custom-response", status = 503, body = "back soon", headers = { Retry-After = "120" } }]

[[on_http_request]]
name = "moved"
when = { path_prefix = "/old/" }
actions = [{ type = "redirect", to = "https://new.example", keep_path = true, status = 301 }]

[[on_http_request]]
name = "api v1 is v2 now"
when = { path_regex = "^/api/v1/", header = { name = "X-Client", present = true } }
actions = [
  { type = "url-rewrite", from = "^/api/v1/", to = "/api/v2/" },
  { type = "add-headers", headers = { X-Rewritten = "yes" } },
  { type = "remove-headers", headers = ["X-Client"] },
]

[[on_http_response]]
name = "no server banner"
actions = [{ type = "remove-headers", headers = ["Server"] }, { type = "add-headers", headers = { X-Frame-Options = "DENY" } }]
"""


def curl(url, *args, host=None):
    """(status, headers dict lowercased, body) of one curl request."""
    cmd = ["curl", "-sS", "--max-time", str(scaled(10)), "-o", "-", "-D", "/dev/stderr", "--noproxy", "*"]
    if host:
        cmd += ["-H", f"Host: {host}"]
    out = subprocess.run(cmd + list(args) + [url], capture_output=True, timeout=scaled(20))
    lines = out.stderr.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, out.stdout


def write(text, suffix=".toml"):
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="porthole-policy-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def metrics(relay):
    h, p = relay.admin_addr
    with urllib.request.urlopen(f"http://{h}:{p}/metrics", timeout=scaled(10)) as r:
        return r.read().decode()


class HttpPolicyTest(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.relay = Relay()
        self.origin = RecordingOrigin("app")

    def tearDown(self):
        self.origin.close()
        super().tearDown()

    def expose(self, *flags):
        a = start_agent(self.relay, self.origin.addr, *flags)
        host = host_of(a)
        return f"http://127.0.0.1:{self.relay.http_port}", f"{host}:{self.relay.http_port}"

    def test_policy_file_rules(self):
        base, host = self.expose("--policy", write(POLICY))
        st, _, body = curl(base + "/admin/users", host=host)
        self.assertEqual(st, 403)
        self.assertIn(b"denied by policy", body)
        # Dot segments do not get around a path rule.
        st, _, _ = curl(base + "/x/../admin/users", "--path-as-is", host=host)
        self.assertEqual(st, 403)
        st, h, body = curl(base + "/status", host=host)
        self.assertEqual((st, body, h.get("retry-after")), (503, b"back soon", "120"))
        st, h, _ = curl(base + "/old/page?id=7", host=host)
        self.assertEqual((st, h.get("location")), (301, "https://new.example/old/page?id=7"))
        self.assertEqual(self.origin.requests, [], "denied requests must not reach the agent")
        st, h, _ = curl(base + "/api/v1/items?q=1", "-H", "X-Client: cli", host=host)
        self.assertEqual(st, 200)
        r = self.origin.wait_target("/api/v2/items?q=1")
        self.assertEqual(r.header("X-Rewritten"), "yes")
        self.assertIsNone(r.header("X-Client"))
        self.assertEqual(h.get("x-frame-options"), "DENY")
        self.assertNotIn("server", h)
        st, _, _ = curl(base + "/api/v1/items", host=host)  # no X-Client: the rule does not match
        self.assertEqual(st, 200)
        self.origin.wait_target("/api/v1/items")
        m = metrics(self.relay)
        self.assertIn('porthole_policy_denials_total{reason="rule"} 2', m)
        self.assertIn('porthole_policy_denials_total{reason="custom_response"} 1', m)
        self.assertIn('porthole_policy_denials_total{reason="redirect"} 1', m)

    def test_allow_and_deny_cidr_flags(self):
        base, host = self.expose("--deny-cidr", "127.0.0.0/8", "--subdomain", "denied")
        st, _, body = curl(base + "/", host=host)
        self.assertEqual(st, 403)
        self.assertIn(b"127.0.0.1 is not allowed", body)
        # X-Forwarded-For from a visitor is never the client address.
        st, _, _ = curl(base + "/", "-H", "X-Forwarded-For: 192.0.2.1", host=host)
        self.assertEqual(st, 403)
        base, host = self.expose("--allow-cidr", "127.0.0.1/32", "--allow-cidr", "::1", "--subdomain", "allowed")
        st, _, _ = curl(base + "/", host=host)
        self.assertEqual(st, 200)
        self.assertIn('porthole_policy_denials_total{reason="ip"} 2', metrics(self.relay))

    def test_basic_auth_and_identity(self):
        hashed = subprocess.run([BIN, "policy", "hash-password"], input=b"pa55 word\n", capture_output=True,
                                timeout=scaled(30), check=True).stdout.decode().strip()
        self.assertTrue(hashed.startswith("$scrypt$ln=15,r=8,p=1$"), hashed)
        base, host = self.expose("--basic-auth", "alice:open sesame", "--basic-auth", f"bob:{hashed}")
        st, h, _ = curl(base + "/", host=host)
        self.assertEqual(st, 401)
        self.assertEqual(h.get("www-authenticate"), 'Basic realm="porthole", charset="UTF-8"')
        self.assertEqual(curl(base + "/", "-u", "alice:wrong", host=host)[0], 401)
        self.assertEqual(curl(base + "/", "-u", "mallory:open sesame", host=host)[0], 401)
        st, _, _ = curl(base + "/me", "-u", "alice:open sesame", "-H", "X-Porthole-User: root", host=host)
        self.assertEqual(st, 200)
        self.assertEqual(self.origin.wait_target("/me").headers_named("X-Porthole-User"), ["alice"])
        self.assertEqual(curl(base + "/bob", "-u", "bob:pa55 word", host=host)[0], 200)
        m = metrics(self.relay)
        self.assertIn('porthole_policy_denials_total{reason="basic_auth_missing"} 1', m)
        self.assertIn('porthole_policy_denials_total{reason="basic_auth_bad"} 2', m)
        self.assertNotIn("open sesame", "\n".join(self.relay.proc.err + self.relay.proc.out))

    def test_rate_limit(self):
        base, host = self.expose("--rate-limit", "3/m")
        got = [curl(base + f"/r{i}", host=host) for i in range(5)]
        self.assertEqual([g[0] for g in got], [200, 200, 200, 429, 429])
        retry = int(got[3][1]["retry-after"])
        # Sliding window: the earlier minute still weighs, so the wait may pass its end (<= 80 s here).
        self.assertTrue(1 <= retry <= 80, retry)


class TcpPolicyTest(CheckedProcesses, unittest.TestCase):
    def test_deny_cidr_closes_the_connection(self):
        relay = Relay()
        echo = EchoServer()
        try:
            a = Agent(relay.addr, relay.fingerprint, echo.port, extra=["--deny-cidr", "127.0.0.1"])
            port = a.public_port(timeout=scaled(10))
            s = connect(port)
            s.settimeout(scaled(10))
            try:
                s.sendall(b"hello")
                data = s.recv(100)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            self.assertEqual(data, b"", "a denied visitor must get nothing back")
            s.close()
            self.assertIn('porthole_policy_denials_total{reason="tcp_ip"}', metrics(relay))
        finally:
            echo.close()


class OperatorRulesTest(CheckedProcesses, unittest.TestCase):
    def test_relay_wide_deny_cannot_be_loosened(self):
        cfg = write("""version = 1
[relay]
[[policy.on_http_request]]
name = "no wp-admin anywhere"
when = { path_prefix = "/wp-admin" }
actions = [{ type = "deny", status = 404 }]
""")
        relay = Relay(extra=["--config", cfg])
        origin = RecordingOrigin("app")
        try:
            agent_policy = write("""[[on_http_request]]
name = "everything"
actions = [{ type = "allow" }]
""")
            a = start_agent(relay, origin.addr, "--policy", agent_policy)
            host = f"{host_of(a)}:{relay.http_port}"
            base = f"http://127.0.0.1:{relay.http_port}"
            self.assertEqual(curl(base + "/wp-admin/x", host=host)[0], 404)
            self.assertEqual(curl(base + "/fine", host=host)[0], 200)
        finally:
            origin.close()


class SensitivePortTest(CheckedProcesses, unittest.TestCase):
    def run_tcp(self, relay, *args):
        return subprocess.run([BIN, "tcp", *args, "--relay", relay.addr, "--relay-fingerprint", relay.fingerprint,
                               "--token", relay.token, "--inspect", "off", "--exit-on-failure"],
                              capture_output=True, text=True, timeout=scaled(20))

    def test_refused_by_port_and_by_process(self):
        relay = Relay()
        out = self.run_tcp(relay, "5432")
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("refusing a public tcp endpoint for PostgreSQL (local port 5432)", out.stderr)
        self.assertIn("--private NAME", out.stderr)
        self.assertIn("porthole connect NAME", out.stderr)
        # A Postgres on another port is still a Postgres: the process listening on it tells.
        d = tempfile.mkdtemp(prefix="porthole-fake-pg-")
        fake = os.path.join(d, "postgres")
        os.symlink(sys.executable, fake)
        srv = subprocess.Popen([fake, "-c", "import socket,sys,time\n"
                                "s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1], flush=True)\n"
                                "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
        try:
            port = srv.stdout.readline().strip()
            out = self.run_tcp(relay, port)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn(f"PostgreSQL (local port {port}, process postgres)", out.stderr)
        finally:
            srv.kill()
            srv.wait()
            srv.stdout.close()
        # An IP allow rule, or --allow-public, lets it through.
        for extra in (["--allow-cidr", "127.0.0.1"], ["--allow-public"]):
            a = Agent(relay.addr, relay.fingerprint, 5432, extra=extra)
            a.public_port(timeout=scaled(10))
            a.proc.stop()


class CliTest(unittest.TestCase):
    def test_policy_test_explains(self):
        path = write(POLICY)
        out = subprocess.run([BIN, "policy", "test", path, "--ip", "192.0.2.1", "--url", "http://a.example/admin/x"],
                             capture_output=True, text=True, timeout=scaled(20))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('rule "admin from the office only" (line 4): matches: client ip 192.0.2.1 is not in [10.0.0.0/8]',
                      out.stdout)
        self.assertIn('decision: answer 403 (rule "admin from the office only")', out.stdout)
        out = subprocess.run([BIN, "policy", "test", path, "--ip", "::ffff:10.0.0.9", "--url", "/admin/x"],
                             capture_output=True, text=True, timeout=scaled(20))
        self.assertIn("decision: allow", out.stdout)

    def test_config_check_reports_every_problem(self):
        cfg = write("""version = 1
[[tunnel]]
name = "web"
kind = "http"
local = 3000
[[tunnel.policy.on_http_request]]
name = "x"
when = { path_regex = "(", ip = "10.0.0.0/99" }
actions = [{ type = "basic-auth", users = ["alice:plaintext-secret"] }]
""")
        out = subprocess.run([BIN, "config", "check", cfg], capture_output=True, text=True, timeout=scaled(20))
        self.assertEqual(out.returncode, 2)
        self.assertIn(f"{cfg}:8: tunnel[0].policy.on_http_request[0].when.ip:", out.stderr)
        self.assertIn(f"{cfg}:8: tunnel[0].policy.on_http_request[0].when.path_regex: bad regular expression",
                      out.stderr)
        self.assertIn(f"{cfg}:9: tunnel[0].policy.on_http_request[0].actions[0].users:", out.stderr)
        self.assertNotIn("plaintext-secret", out.stderr)
        policy_file = write(POLICY)
        cfg = write(f"""version = 1
[[tunnel]]
name = "web"
kind = "http"
local = 3000
policy_file = "{policy_file}"
""")
        out = subprocess.run([BIN, "config", "check", cfg], capture_output=True, text=True, timeout=scaled(20))
        self.assertEqual(out.returncode, 0, out.stderr)


if __name__ == "__main__":
    unittest.main()
