"""The agent API and capture (docs/inspector.md), against the built binary: a relay, an
`porthole http` agent with the inspector on 127.0.0.1:0, the recording origin, and ngrok's
documented JSON shapes checked field by field."""
import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Proc  # noqa: E402
from http_harness import (TOKEN, CheckedProcesses, RecordingOrigin, Relay, curl, parse_metrics,  # noqa: E402
                          scaled)


def start_agent(relay, target, *extra):
    home = os.path.join(relay.data, "agent-home")
    os.makedirs(home, exist_ok=True)
    p = Proc(["http", str(target), "--relay", relay.addr, "--token", TOKEN, "--relay-fingerprint",
              relay.fingerprint, *extra], env={"XDG_CONFIG_HOME": home})
    m = p.wait_line(r"Web Interface http://127\.0\.0\.1:(\d+)", timeout=scaled(15)) if "off" not in extra else None
    f = p.wait_line(r"Forwarding http://([^/:\s]+):(\d+) -> (\S+)", timeout=scaled(15))
    return p, (int(m.group(1)) if m else None), f.group(1)


class Api:
    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None, headers=None, host=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(15))
        h = {"Host": host or f"127.0.0.1:{self.port}"}
        h.update(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        ctype = r.getheader("Content-Type", "")
        return r.status, (json.loads(raw) if raw and "json" in ctype else raw)

    def get(self, path):
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def wait_requests(self, n, timeout=10.0):
        deadline = time.monotonic() + scaled(timeout)
        while True:
            reqs = self.get("/api/requests/http")["requests"]
            if len(reqs) >= n:
                return reqs
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(reqs)} captured requests, expected {n}")
            time.sleep(0.05)  # polling the API, bounded by the deadline


JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")
NODE = shutil.which("node")
HAVE_NGROK_CLIENT = NODE is not None and os.path.isdir(os.path.join(JS, "node_modules", "ngrok"))

METRIC_KEYS = ["count", "rate1", "rate5", "rate15", "p50", "p90", "p95", "p99"]


class InspectTest(CheckedProcesses, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay()
        cls.origin = RecordingOrigin()

    @classmethod
    def tearDownClass(cls):
        cls.origin.close()

    def setUp(self):
        super().setUp()
        self.agent, port, self.host = start_agent(self.relay, self.origin.port, "--inspect", "127.0.0.1:0")
        self.api = Api(port)

    def visit(self, path, *args):
        return curl(f"http://{self.host}:{self.relay.http_port}{path}", "--connect-to",
                    f"{self.host}:{self.relay.http_port}:127.0.0.1:{self.relay.http_port}", *args)

    def check_tunnel_shape(self, t):
        self.assertEqual(set(t) - {"error"}, {"name", "uri", "public_url", "proto", "config", "metrics"})
        self.assertEqual(t["uri"], "/api/tunnels/" + t["name"])
        self.assertEqual(t["proto"], "http")
        self.assertEqual(t["public_url"], f"http://{self.host}:{self.relay.http_port}")
        self.assertEqual(t["config"], {"addr": f"http://127.0.0.1:{self.origin.port}", "inspect": True})
        self.assertEqual(list(t["metrics"]), ["conns", "http"])
        self.assertEqual(list(t["metrics"]["conns"]), ["count", "gauge"] + METRIC_KEYS[1:])
        self.assertEqual(list(t["metrics"]["http"]), METRIC_KEYS)
        for m in t["metrics"].values():
            for k, v in m.items():
                self.assertIsInstance(v, (int, float), k)

    def test_tunnels_shape_and_metrics(self):
        tunnels = self.api.get("/api/tunnels")
        self.assertEqual(list(tunnels), ["tunnels", "uri"])
        self.assertEqual(tunnels["uri"], "/api/tunnels")
        self.assertEqual(len(tunnels["tunnels"]), 1)
        t = tunnels["tunnels"][0]
        self.check_tunnel_shape(t)
        for _ in range(3):
            self.assertEqual(self.visit("/hello").status, 200)
        self.api.wait_requests(3)
        one = self.api.get("/api/tunnels/" + t["name"])
        self.check_tunnel_shape(one)
        self.assertEqual(one["metrics"]["http"]["count"], 3)
        self.assertEqual(one["metrics"]["conns"]["count"], 3)
        self.assertEqual(one["metrics"]["conns"]["gauge"], 0)
        self.assertGreater(one["metrics"]["http"]["p50"], 0)  # nanoseconds
        self.assertLessEqual(one["metrics"]["http"]["p50"], one["metrics"]["http"]["p99"])
        status, err = self.api.call("GET", "/api/tunnels/nope")
        self.assertEqual(status, 404)
        self.assertEqual(set(err), {"error_code", "status_code", "msg", "details"})

    def test_capture_shape_bodies_and_limit(self):
        body = b'{"event":"charge.succeeded","n":1}'
        r = self.visit("/headers?x=1", "-X", "POST", "-H", "Content-Type: application/json", "-H",
                       "X-Custom: one", "--data-binary", body)
        self.assertEqual(r.status, 200)
        [e] = self.api.wait_requests(1)
        self.assertEqual(list(e)[:8], ["uri", "id", "tunnel_name", "remote_addr", "start", "duration", "request",
                                       "response"])
        self.assertRegex(e["id"], r"^[0-9a-f]{16}$")
        self.assertEqual(e["uri"], "/api/requests/http/" + e["id"])
        self.assertEqual(e["remote_addr"], "127.0.0.1")
        self.assertRegex(e["start"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertIsInstance(e["duration"], int)
        self.assertGreater(e["duration"], 0)
        req = e["request"]
        self.assertEqual(set(req), {"method", "proto", "headers", "uri", "raw"})
        self.assertEqual((req["method"], req["proto"], req["uri"]), ("POST", "HTTP/1.1", "/headers?x=1"))
        self.assertEqual(req["headers"]["X-Custom"], ["one"])
        raw = base64.b64decode(req["raw"])
        self.assertTrue(raw.startswith(b"POST /headers?x=1 HTTP/1.1\r\n"), raw[:80])
        self.assertTrue(raw.endswith(b"\r\n\r\n" + body), raw[-80:])
        resp = e["response"]
        self.assertEqual(set(resp), {"status", "status_code", "proto", "headers", "raw"})
        self.assertEqual((resp["status"], resp["status_code"], resp["proto"]), ("200 OK", 200, "HTTP/1.1"))
        self.assertEqual(resp["headers"]["Content-Type"], ["application/json"])
        rraw = base64.b64decode(resp["raw"])
        self.assertTrue(rraw.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertEqual(json.loads(rraw.partition(b"\r\n\r\n")[2])["body"], body.decode())
        self.assertEqual(e["capture"]["request"], {"body_size": len(body), "body_kept": len(body),
                                                   "truncated": False, "chunked": False})
        detail = self.api.get("/api/requests/http/" + e["id"])
        self.assertEqual(detail, e)
        status, _ = self.api.call("GET", "/api/requests/http/0000000000000000")
        self.assertEqual(status, 404)
        # limit, tunnel_name, DELETE
        for _ in range(2):
            self.visit("/x")
        self.api.wait_requests(3)
        self.assertEqual(len(self.api.get("/api/requests/http?limit=2")["requests"]), 2)
        self.assertEqual(self.api.get("/api/requests/http?tunnel_name=nope")["requests"], [])
        self.assertEqual(self.api.call("GET", "/api/requests/http?limit=x")[0], 400)
        self.assertEqual(self.api.call("DELETE", "/api/requests/http")[0], 204)
        self.assertEqual(self.api.get("/api/requests/http")["requests"], [])

    def test_replay_and_edit(self):
        self.visit("/upload", "-X", "POST", "--data-binary", "original body")
        [e] = self.api.wait_requests(1)
        before = len(self.origin.requests)
        status, _ = self.api.call("POST", "/api/requests/http", {"id": e["id"]})
        self.assertEqual(status, 204)
        self.origin.wait_requests(before + 1)
        again = self.origin.requests[-1]
        self.assertEqual((again.method, again.target, bytes(again.body)), ("POST", "/upload", b"original body"))
        reqs = self.api.wait_requests(2)
        self.assertEqual(reqs[0]["capture"]["replay_of"], e["id"])
        # ngrok's older clients send a form body
        status, _ = self.api.call("POST", "/api/requests/http", "id=" + e["id"],
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 204)
        self.origin.wait_requests(before + 2)
        # edits: method, uri, a header, the body
        status, _ = self.api.call("POST", "/api/requests/http", {
            "id": e["id"], "method": "PUT", "uri": "/headers?edited=1", "body": "edited!",
            "headers": {"X-Edited": ["yes"], "Content-Type": "text/plain"}})
        self.assertEqual(status, 204)
        self.origin.wait_requests(before + 3)
        ed = self.origin.requests[-1]
        self.assertEqual((ed.method, ed.target, bytes(ed.body)), ("PUT", "/headers?edited=1", b"edited!"))
        self.assertEqual(ed.header("X-Edited"), "yes")
        self.assertEqual(ed.header("Content-Length"), "7")
        # a bad edit is refused with the parser's reason
        status, err = self.api.call("POST", "/api/requests/http", {"id": e["id"], "method": "BAD METHOD"})
        self.assertEqual(status, 400)
        self.assertIn("not valid HTTP", err["msg"])
        self.assertEqual(self.api.call("POST", "/api/requests/http", {"id": "nope"})[0], 404)
        self.assertEqual(self.api.call("POST", "/api/requests/http", "{not json")[0], 400)

    def test_dns_rebinding_and_cross_origin_guards(self):
        for host in ("evil.example", f"evil.example:{self.api.port}", "127.0.0.1:1", "localhost.evil:80"):
            status, err = self.api.call("GET", "/api/tunnels", host=host)
            self.assertEqual(status, 403, host)
            self.assertIn("DNS rebinding", err["msg"])
        for host in (f"localhost:{self.api.port}", f"[::1]:{self.api.port}"):
            self.assertEqual(self.api.call("GET", "/api/tunnels", host=host)[0], 200, host)
        status, page = self.api.call("GET", "/", host="rebind.example")
        self.assertEqual(status, 403)
        status, _ = self.api.call("DELETE", "/api/requests/http", headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 403)
        status, _ = self.api.call("DELETE", "/api/requests/http", headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(status, 403)
        status, _ = self.api.call("DELETE", "/api/requests/http",
                                  headers={"Origin": f"http://localhost:{self.api.port}", "Sec-Fetch-Site": "same-origin"})
        self.assertEqual(status, 204)
        m = parse_metrics(self.api.get("/metrics").decode())
        self.assertGreaterEqual(m["porthole_inspect_refused_host_total"], 5)
        self.assertGreaterEqual(m["porthole_inspect_refused_origin_total"], 2)
        # Malformed HTTP gets a 400 and a counter, and the server goes on.
        s = socket.create_connection(("127.0.0.1", self.api.port), timeout=scaled(10))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 400"))
        s.close()
        self.assertEqual(self.api.call("GET", "/api/status")[0], 200)

    def test_start_and_stop_tunnels_at_run_time(self):
        status, t = self.api.call("POST", "/api/tunnels", {"name": "second", "proto": "http",
                                                           "addr": str(self.origin.port), "subdomain": "second"})
        self.assertEqual(status, 201, t)
        self.assertEqual(t["name"], "second")
        self.assertEqual(t["public_url"], f"http://second.localhost:{self.relay.http_port}")
        r = curl(f"http://second.localhost:{self.relay.http_port}/via-second", "--connect-to",
                 f"second.localhost:{self.relay.http_port}:127.0.0.1:{self.relay.http_port}")
        self.assertEqual(r.status, 200)
        reqs = self.api.wait_requests(1)
        self.assertEqual(reqs[0]["tunnel_name"], "second")
        self.assertEqual(len(self.api.get("/api/tunnels")["tunnels"]), 2)
        self.assertEqual(self.api.call("POST", "/api/tunnels", {"name": "second", "addr": "1"})[0], 409)
        self.assertEqual(self.api.call("POST", "/api/tunnels", {"name": "x", "proto": "udp", "addr": "1"})[0], 400)
        self.assertEqual(self.api.call("POST", "/api/tunnels", {"proto": "http"})[0], 400)
        self.assertEqual(self.api.call("DELETE", "/api/tunnels/second")[0], 204)
        self.assertEqual(len(self.api.get("/api/tunnels")["tunnels"]), 1)
        deadline = time.monotonic() + scaled(10)
        while True:  # the relay forgets the endpoint once the unbind arrives
            r = curl(f"http://second.localhost:{self.relay.http_port}/gone", "--connect-to",
                     f"second.localhost:{self.relay.http_port}:127.0.0.1:{self.relay.http_port}")
            if r.status in (404, 502, 503):
                break
            self.assertLess(time.monotonic(), deadline, r.status)
            time.sleep(0.05)
        self.assertEqual(self.api.call("DELETE", "/api/tunnels/second")[0], 404)

    @unittest.skipUnless(HAVE_NGROK_CLIENT, "node or tests/js/node_modules/ngrok missing (scripts/deps.sh)")
    def test_ngrok_npm_client(self):
        self.visit("/first")
        self.api.wait_requests(1)
        before = len(self.origin.requests)
        r = subprocess.run([NODE, os.path.join(JS, "ngrok_api_client.js"), f"http://127.0.0.1:{self.api.port}",
                            str(self.origin.port)], capture_output=True, text=True, timeout=scaled(60))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertTrue(out["ok"], out)
        [t] = out["tunnels"]
        self.assertEqual(t["public_url"], f"http://{self.host}:{self.relay.http_port}")
        self.assertEqual((t["proto"], t["http_count"]), ("http", 1))
        self.assertEqual(out["detail"], t["name"])
        self.assertEqual(out["requests"][0]["uri"], "/first")
        self.assertEqual(out["requests"][0]["status_code"], 200)
        self.assertEqual(out["request_detail"], "/first")
        self.assertTrue(out["replayed"])
        self.assertEqual(self.origin.requests[before].target, "/first")  # the replay reached the origin
        self.assertEqual(out["started"]["name"], "from-ngrok-client")
        self.assertTrue(out["started"]["public_url"].startswith("http://"))
        self.assertTrue(out["stopped"])
        self.assertTrue(out["deleted"])
        self.assertEqual(out["missing"]["status"], 404)
        self.assertEqual(out["missing"]["name"], "NgrokClientError")

    def test_status_and_prometheus(self):
        s = self.api.get("/api/status")
        self.assertEqual(s["session"]["status"], "online")
        self.assertEqual(s["session"]["relay"], self.relay.addr)
        self.assertEqual(s["inspect"]["max_bytes"], 64 << 20)
        self.assertEqual(s["inspect"]["body_limit"], 1 << 20)
        text = self.api.get("/metrics").decode()
        self.assertIn("# TYPE porthole_inspect_captured_total counter", text)


class CaptureLimitTest(CheckedProcesses, unittest.TestCase):
    def test_body_limit_and_memory_cap(self):
        relay = Relay()
        origin = RecordingOrigin()
        agent, port, host = start_agent(relay, origin.port, "--inspect", "127.0.0.1:0", "--inspect-body-limit",
                                        "1KiB", "--inspect-memory", "64KiB")
        api = Api(port)
        url = f"http://{host}:{relay.http_port}"
        args = ["--connect-to", f"{host}:{relay.http_port}:127.0.0.1:{relay.http_port}"]
        r = curl(url + "/upload", "-X", "POST", "--data-binary", "y" * 5000, *args)
        self.assertEqual(r.text, f"sha256 {__import__('hashlib').sha256(b'y' * 5000).hexdigest()} 5000\n")
        [e] = api.wait_requests(1)
        self.assertEqual(e["capture"]["request"], {"body_size": 5000, "body_kept": 1024, "truncated": True,
                                                   "chunked": False})
        self.assertEqual(len(base64.b64decode(e["request"]["raw"]).partition(b"\r\n\r\n")[2]), 1024)
        status, err = api.call("POST", "/api/requests/http", {"id": e["id"]})
        self.assertEqual(status, 400)
        self.assertIn("cut at 1024 of 5000", err["msg"])
        # A chunked download bigger than the limit is counted whole.
        r = curl(url + "/download-chunked?bytes=3000", *args)
        self.assertEqual(len(r.body), 3000)
        reqs = api.wait_requests(2)
        self.assertTrue(reqs[0]["capture"]["response"]["chunked"])
        self.assertGreater(reqs[0]["capture"]["response"]["body_size"], 3000)  # with the chunk framing
        self.assertEqual(reqs[0]["capture"]["response"]["body_kept"], 1024)
        # 100 more exchanges: the ring stays under its cap, oldest dropped first.
        for i in range(40):
            curl(url + f"/n{i}", "-X", "POST", "--data-binary", "z" * 900, *args)
        s = api.get("/api/status")["inspect"]
        deadline = time.monotonic() + scaled(10)
        while s["captured"] < 42:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
            s = api.get("/api/status")["inspect"]
        self.assertLessEqual(s["bytes"], 64 << 10)
        self.assertGreater(s["evicted"], 0)
        newest = api.get("/api/requests/http")["requests"]
        self.assertEqual(newest[0]["request"]["uri"], "/n39")
        self.assertEqual(len(newest), s["held"])
        origin.close()

    def test_inspect_off_serves_nothing(self):
        relay = Relay()
        origin = RecordingOrigin()
        agent, port, host = start_agent(relay, origin.port, "--inspect", "off")
        self.assertIsNone(port)
        self.assertEqual(agent.count(r"Web Interface"), 0)
        r = curl(f"http://{host}:{relay.http_port}/x", "--connect-to",
                 f"{host}:{relay.http_port}:127.0.0.1:{relay.http_port}")
        self.assertEqual(r.status, 200)
        origin.close()

    def test_busy_port_takes_the_next(self):
        relay = Relay()
        origin = RecordingOrigin()
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        agent, got, _ = start_agent(relay, origin.port, "--inspect", f"127.0.0.1:{port}")
        self.assertNotEqual(got, port)
        self.assertGreater(got, port)
        self.assertLessEqual(got, port + 10)
        self.assertEqual(Api(got).call("GET", "/api/tunnels")[0], 200)
        busy.close()
        origin.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
