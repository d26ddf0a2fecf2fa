#!/usr/bin/env python3
"""The relay admin API (docs/admin-api.md) through the built binary: healthz, metrics, agents
(and kicking one: it reconnects), endpoints, tokens via HTTP and via `porthole token --admin`,
error statuses, keep-alive, and the token required off the exempt loopback addresses."""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Agent, EchoServer, Proc, Relay, echo_roundtrip, eventually  # noqa: E402

TOKEN = "test-token-0123456789"


class AdminRelay(Relay):
    def __init__(self, admin="127.0.0.1:0", **kw):
        self.admin_listen = admin
        super().__init__(**kw)

    def start(self):
        self.args[self.args.index("--admin") + 1] = self.admin_listen
        super().start()
        m = self.proc.wait_line(r"Admin API on http://(\S+):(\d+)$")
        self.admin_host, self.admin_port = m.group(1), int(m.group(2))
        self.admin_url = f"http://{self.admin_host}:{self.admin_port}"

    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or http.client.HTTPConnection(self.admin_host, self.admin_port, timeout=10)
        data = json.dumps(body) if isinstance(body, dict) else body
        c.request(method, path, body=data, headers=headers or {})
        r = c.getresponse()
        raw = r.read()
        if conn is None:
            c.close()
        return r, raw

    def get_json(self, path, headers=None):
        r, raw = self.request("GET", path, headers=headers)
        assert r.status == 200, (path, r.status, raw)
        return json.loads(raw)


def token_cli(*args, env=None):
    e = dict(os.environ)
    e.pop("PORTHOLE_ADMIN_TOKEN", None)
    e.update(env or {})
    return subprocess.run([BIN, "token", *args], capture_output=True, text=True, timeout=30, env=e)


def closed_by_peer(s):
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def raw_exchange(host, port, payload):
    """Sends raw bytes, returns everything the server sends before closing."""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(payload)
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out
            out += d


class AdminApiTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()

    def tearDown(self):
        self.echo.close()

    def test_health_metrics_agents_endpoints_and_kick(self):
        relay = AdminRelay()
        agent = Agent(relay.addr, relay.fingerprint, self.echo.port, extra=["--name", "laptop"])
        port = agent.public_port()
        health = relay.get_json("/healthz")
        self.assertEqual(health["status"], "ok")
        self.assertEqual((health["agents"], health["endpoints"]), (1, 1))
        self.assertGreaterEqual(health["uptime_s"], 0)

        r, raw = relay.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/plain; version=0.0.4"))
        self.assertIn(b"porthole_", raw)

        agents = relay.get_json("/api/agents")["agents"]
        self.assertEqual(len(agents), 1)
        first = agents[0]
        self.assertEqual(first["name"], "laptop")
        self.assertTrue(first["token"].startswith("cli-"))
        self.assertTrue(first["address"].startswith("127.0.0.1:"))
        for key in ("streams", "rtt_us", "bytes_in", "bytes_out"):
            self.assertIsInstance(first[key], int)

        echo_roundtrip(port)
        endpoints = relay.get_json("/api/endpoints")["endpoints"]
        self.assertEqual(len(endpoints), 1)
        ep = endpoints[0]
        self.assertEqual(ep["port"], port)
        self.assertTrue(ep["public_url"].endswith(f":{port}"))
        self.assertEqual(ep["agent_id"], first["id"])
        self.assertEqual(ep["token"], first["token"])
        eventually(lambda: relay.get_json("/api/endpoints")["endpoints"][0]["visitors_total"] >= 1,
                   what="visitor counted")

        r, raw = relay.request("DELETE", f"/api/agents/{first['id']}")
        self.assertEqual(r.status, 204, raw)
        agent.proc.wait_line(r"restored", stream="err", timeout=15)
        again = eventually(lambda: [a for a in relay.get_json("/api/agents")["agents"] if a["id"] != first["id"]],
                           what="agent back with a new session")
        self.assertEqual(again[0]["name"], "laptop")
        self.assertEqual(relay.request("DELETE", f"/api/agents/{first['id']}")[0].status, 404)
        eventually(lambda: echo_roundtrip(port), what="same public port after the kick")
        self.assertEqual(relay.proc.stop(), 0)

    def test_tokens_over_http_and_cli(self):
        relay = AdminRelay()
        r, raw = relay.request("POST", "/api/tokens", {"name": "ci", "allow_port": relay.tcp_ports})
        self.assertEqual(r.status, 201, raw)
        created = json.loads(raw)
        secret = created["token"]
        self.assertTrue(secret.startswith("ph_"))
        self.assertEqual(relay.request("POST", "/api/tokens", {"name": "ci"})[0].status, 409)
        r, raw = relay.request("GET", "/api/tokens")
        self.assertNotIn(secret.encode(), raw)
        self.assertIn("ci", [t["name"] for t in json.loads(raw)["tokens"]])

        # The new token works at once for an agent.
        agent = Agent(relay.addr, relay.fingerprint, self.echo.port, token=secret)
        echo_roundtrip(agent.public_port())
        agent.proc.stop()

        # The CLI through the API: create prints only the secret on stdout.
        c = token_cli("create", "laptop", "--allow-subdomain", "app-*", "--admin", relay.admin_url)
        self.assertEqual(c.returncode, 0, c.stderr)
        self.assertRegex(c.stdout.strip(), r"^ph_[A-Za-z0-9_-]{43}$")
        self.assertEqual(token_cli("create", "laptop", "--admin", relay.admin_url).returncode, 1)
        self.assertEqual(token_cli("create", "bad name", "--admin", relay.admin_url).returncode, 2)
        listed = token_cli("list", "--admin", relay.admin_url)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertRegex(listed.stdout, r"laptop\s+[0-9a-f]{16}\s+\S+\s+active\s+subdomain=app-\*")
        self.assertNotIn(c.stdout.strip(), listed.stdout)

        rv = token_cli("revoke", "ci", "--admin", relay.admin_url)
        self.assertEqual(rv.returncode, 0, rv.stderr)
        again = token_cli("revoke", "ci", "--admin", relay.admin_url)
        self.assertEqual(again.returncode, 1)
        self.assertIn("already revoked", again.stderr)
        self.assertEqual(token_cli("revoke", "nobody", "--admin", relay.admin_url).returncode, 1)
        self.assertEqual(relay.request("DELETE", "/api/tokens/nobody")[0].status, 404)
        tokens = {t["name"]: t for t in json.loads(token_cli("list", "--json", "--admin", relay.admin_url).stdout)["tokens"]}
        self.assertIsNotNone(tokens["ci"]["revoked_at"])
        self.assertIsNone(tokens["laptop"]["revoked_at"])
        # The relay's own data dir shows the same (the local mode is unchanged).
        local = json.loads(token_cli("list", "--json", "--data", relay.data).stdout)["tokens"]
        self.assertEqual({t["name"] for t in local if not t["static"]}, {"ci", "laptop"})

    def test_error_statuses_and_keep_alive(self):
        relay = AdminRelay()
        r, raw = relay.request("GET", "/nope")
        self.assertEqual(r.status, 404)
        self.assertEqual(json.loads(raw)["status"], 404)
        r, raw = relay.request("PUT", "/api/tokens", "{}")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.getheader("Allow"), "GET, POST")
        r, raw = relay.request("POST", "/api/tokens", "not json", {"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        self.assertIn("error", json.loads(raw))
        r, raw = relay.request("POST", "/api/tokens", "x" * (64 * 1024 + 1))
        self.assertEqual(r.status, 413)

        garbage = raw_exchange(relay.admin_host, relay.admin_port, b"\x16\x03\x01 not http at all\r\n\r\n")
        self.assertTrue(garbage.startswith(b"HTTP/1.1 400"), garbage[:100])
        huge_header = raw_exchange(relay.admin_host, relay.admin_port,
                                   b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertTrue(huge_header.startswith(b"HTTP/1.1 431"), huge_header[:100])
        big_length = raw_exchange(relay.admin_host, relay.admin_port,
                                  b"POST /api/tokens HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n{")
        self.assertTrue(big_length.startswith(b"HTTP/1.1 413"), big_length[:100])

        # Keep-alive: several requests on one connection.
        conn = http.client.HTTPConnection(relay.admin_host, relay.admin_port, timeout=10)
        for path in ("/healthz", "/api/agents", "/nope", "/healthz"):
            r, _ = relay.request("GET", path, conn=conn)
            self.assertIn(r.status, (200, 404))
        conn.close()

        metrics = relay.request("GET", "/metrics")[1].decode()
        for reason in ("not_found", "method_not_allowed", "bad_request", "body_too_large", "header_too_large"):
            self.assertRegex(metrics, rf'porthole_admin_errors_total{{reason="{reason}"}} [1-9]')
        self.assertEqual(relay.get_json("/healthz")["status"], "ok")
        self.assertEqual(relay.proc.stop(), 0)

    def test_idle_connections_cannot_lock_out_and_headers_have_a_deadline(self):
        relay = AdminRelay()
        idle = [socket.create_connection((relay.admin_host, relay.admin_port), timeout=10) for _ in range(70)]
        idle[0].sendall(b"GET /healthz HTTP/1.1\r\n")  # a slow header
        # The connection cap (64) evicts the longest-waiting connections, not the newcomer.
        self.assertEqual(relay.get_json("/healthz")["status"], "ok")
        self.assertTrue(closed_by_peer(idle[0]))
        for s in idle:
            s.close()

        slow = socket.create_connection((relay.admin_host, relay.admin_port), timeout=15)
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        self.assertTrue(closed_by_peer(slow))  # at the 10 s header deadline
        self.assertGreater(time.monotonic() - t0, 8)
        slow.close()
        metrics = relay.request("GET", "/metrics")[1].decode()
        self.assertRegex(metrics, r'porthole_admin_errors_total{reason="evicted"} [1-9]')
        self.assertRegex(metrics, r'porthole_admin_errors_total{reason="timeout"} [1-9]')

    def test_token_required_off_exempt_loopback(self):
        relay = AdminRelay(admin="127.0.0.2:0")
        self.assertEqual(relay.admin_host, "127.0.0.2")
        r, raw = relay.request("GET", "/healthz")
        self.assertEqual(r.status, 401)
        self.assertIn("Bearer", r.getheader("WWW-Authenticate"))
        self.assertEqual(relay.request("GET", "/healthz", headers={"Authorization": "Bearer wrong-0123456789"})[0].status,
                         401)
        self.assertEqual(relay.request("GET", "/api/nope")[0].status, 401)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        self.assertEqual(relay.get_json("/healthz", headers=auth)["status"], "ok")

        no_token = token_cli("list", "--admin", relay.admin_url)
        self.assertEqual(no_token.returncode, 1)
        self.assertIn("--admin-token", no_token.stderr)
        with_flag = token_cli("list", "--admin", relay.admin_url, "--admin-token", TOKEN)
        self.assertEqual(with_flag.returncode, 0, with_flag.stderr)
        with_env = token_cli("create", "ops", "--admin", relay.admin_url, env={"PORTHOLE_ADMIN_TOKEN": TOKEN})
        self.assertEqual(with_env.returncode, 0, with_env.stderr)
        # A token created through the API opens the API too, until it is revoked.
        ops = {"Authorization": f"Bearer {with_env.stdout.strip()}"}
        self.assertEqual(relay.request("GET", "/api/tokens", headers=ops)[0].status, 200)
        self.assertEqual(relay.request("DELETE", "/api/tokens/ops", headers=auth)[0].status, 204)
        self.assertEqual(relay.request("GET", "/api/tokens", headers=ops)[0].status, 401)

    def test_busy_admin_port_fails_the_relay(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        data = tempfile.mkdtemp(prefix="porthole-relay-")
        p = Proc(["relay", "--agents", "127.0.0.1:0", "--admin", f"127.0.0.1:{port}", "--https", "off", "--data", data,
                  "--token", TOKEN])
        self.assertEqual(p.p.wait(15), 1)
        p.wait_line(r"--admin: cannot listen on 127\.0\.0\.1:\d+", stream="err")
        busy.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
