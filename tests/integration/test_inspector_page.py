"""The inspector page (web/inspector.html, embedded in the binary) in Debian's chromium driven
by playwright-core (tests/js/inspector_browser.js): offline load, a request appearing live,
replay and edit-and-replay reaching the origin, filters, copy as curl, HAR export, labels,
keyboard, phone width. Screenshots go to the build folder (inspector-*.png)."""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Proc  # noqa: E402
from http_harness import TOKEN, CheckedProcesses, RecordingOrigin, Relay, scaled  # noqa: E402

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")
NODE = shutil.which("node")
CHROMIUM = "/usr/bin/chromium"
READY = NODE and os.path.exists(CHROMIUM) and os.path.isdir(os.path.join(JS, "node_modules", "playwright-core"))


@unittest.skipUnless(READY, "node, /usr/bin/chromium or tests/js/node_modules/playwright-core missing (scripts/deps.sh)")
class InspectorPageTest(CheckedProcesses, unittest.TestCase):
    def test_page_in_chromium(self):
        relay = Relay()
        origin = RecordingOrigin()
        home = os.path.join(relay.data, "agent-home")
        os.makedirs(home)
        agent = Proc(["http", str(origin.port), "--relay", relay.addr, "--token", TOKEN, "--relay-fingerprint",
                      relay.fingerprint, "--inspect", "127.0.0.1:0", "--subdomain", "page"],
                     env={"XDG_CONFIG_HOME": home})
        url = agent.wait_line(r"Web Interface (http://\S+)", timeout=scaled(15)).group(1)
        host = agent.wait_line(r"Forwarding http://([^/:\s]+):\d+", timeout=scaled(15)).group(1)
        shots = os.environ.get("PORTHOLE_SCREENSHOTS", os.getcwd())
        r = subprocess.run([NODE, os.path.join(JS, "inspector_browser.js"), url, str(relay.http_port), host, shots],
                           capture_output=True, text=True, timeout=scaled(120))
        lines = r.stdout.strip().splitlines()
        self.assertTrue(lines, r.stderr[-2000:])
        out = json.loads(lines[-1])
        self.assertTrue(out["ok"], out)
        self.assertEqual(out["blocked"], [])  # nothing from outside the agent
        self.assertEqual(out["console_errors"], [])
        self.assertEqual(out["title"], "porthole inspector")
        self.assertEqual(out["visit_status"], 200)
        self.assertEqual(out["detail_title"], "POST /hook?source=test")
        self.assertTrue(out["pretty_json"])
        # The origin saw the original, the replay and the edited replay.
        hooks = [q for q in origin.requests if q.path == "/hook"]
        self.assertEqual([(q.target, bytes(q.body)) for q in hooks], [
            ("/hook?source=test", b'{"event":"charge.succeeded","amount":42}'),
            ("/hook?source=test", b'{"event":"charge.succeeded","amount":42}'),
            ("/hook?source=edited", b'{"edited":true}')])
        self.assertEqual(hooks[2].header("X-Webhook-Id"), "w1")
        self.assertEqual(out["filtered_rows"], 1)
        self.assertEqual(out["filtered_5xx"], 0)
        self.assertIn(f"curl -X POST 'http://{host}:{relay.http_port}/hook?source=test'", out["curl"])
        self.assertIn("-H 'X-Webhook-Id: w1'", out["curl"])
        self.assertIn("--data-binary '{\"event\":\"charge.succeeded\",\"amount\":42}'", out["curl"])
        har = out["har"]
        self.assertEqual((har["version"], har["creator"]), ("1.2", "porthole"))
        self.assertEqual([(e["method"], e["url"], e["status"]) for e in har["entries"]], [
            ("POST", f"http://{host}:{relay.http_port}/hook?source=test", 200),
            ("POST", f"http://{host}:{relay.http_port}/hook?source=test", 200),
            ("POST", f"http://{host}:{relay.http_port}/hook?source=edited", 200)])
        self.assertEqual(har["entries"][2]["post"], '{"edited":true}')
        self.assertTrue(all(e["time_ok"] and e["started_ok"] for e in har["entries"]))
        self.assertEqual(out["unlabelled"], [])
        self.assertTrue(out["keyboard_moved"])
        self.assertEqual(out["status_rows"], 1)
        self.assertFalse(out["phone_overflow"])
        for name in ("inspector-requests.png", "inspector-status.png", "inspector-phone.png"):
            self.assertGreater(os.path.getsize(os.path.join(shots, name)), 1000)
        origin.close()


@unittest.skipUnless(READY, "node, /usr/bin/chromium or tests/js/node_modules/playwright-core missing (scripts/deps.sh)")
class InspectorWebSocketPageTest(CheckedProcesses, unittest.TestCase):
    """The WebSocket messages of an upgraded request, listed under it (tests/js/inspector_ws_browser.js)."""

    def test_websocket_messages_on_the_page(self):
        from test_http_websocket import WsOrigin
        relay = Relay()
        origin = WsOrigin()
        try:
            home = os.path.join(relay.data, "agent-home")
            os.makedirs(home)
            agent = Proc(["http", origin.addr, "--relay", relay.addr, "--token", TOKEN, "--relay-fingerprint",
                          relay.fingerprint, "--inspect", "127.0.0.1:0", "--subdomain", "wspage"],
                         env={"XDG_CONFIG_HOME": home})
            url = agent.wait_line(r"Web Interface (http://\S+)", timeout=scaled(15)).group(1)
            host = agent.wait_line(r"Forwarding http://([^/:\s]+):\d+", timeout=scaled(15)).group(1)
            shots = os.environ.get("PORTHOLE_SCREENSHOTS", os.getcwd())
            r = subprocess.run([NODE, os.path.join(JS, "inspector_ws_browser.js"), url, str(relay.http_port), host,
                                shots], capture_output=True, text=True, timeout=scaled(120))
            lines = r.stdout.strip().splitlines()
            self.assertTrue(lines, r.stderr[-2000:])
            out = json.loads(lines[-1])
            self.assertTrue(out["ok"], out)
            self.assertEqual(out["console_errors"], [])
            self.assertIn("connection open", out["open_summary"])
            hello = {"from": "service \u2192 visitor", "type": "text"}
            sent = {"from": "visitor \u2192 service", "type": "text", "size": "19", "payload": "hello from the test"}
            echo = dict(sent, **{"from": "service \u2192 visitor"})
            self.assertEqual(len(out["open_rows"]), 3, out["open_rows"])
            self.assertEqual({k: out["open_rows"][0][k] for k in hello}, hello)
            self.assertTrue(out["open_rows"][0]["payload"].startswith('{"hello":true'))
            self.assertEqual(out["open_rows"][1:], [sent, echo])
            binary = {"type": "binary", "size": "4", "payload": "de ad be ef"}
            self.assertEqual(out["refreshed_rows"][3:], [dict(binary, **{"from": "visitor \u2192 service"}),
                                                         dict(binary, **{"from": "service \u2192 visitor"})])
            self.assertIn("connection closed", out["closed_summary"])
            closes = [r for r in out["closed_rows"] if r["type"] == "close"]
            self.assertEqual([(c["from"], c["payload"]) for c in closes],
                             [("visitor \u2192 service", "1000 bye"), ("service \u2192 visitor", "1000 bye")])
            self.assertTrue(out["refresh_button_gone"])
            self.assertGreater(os.path.getsize(os.path.join(shots, "inspector-websocket.png")), 1000)
        finally:
            origin.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
