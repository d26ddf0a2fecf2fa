"""WebSocket messages captured on upgraded exchanges (docs/inspector.md), against the built binary:
a real client (npm ws, tests/js/ws_echo_client.js) and echo origin (tests/js/ws_echo_server.js)
through relay + `porthole http`; the agent API shows each message (direction, type, size, the
first 256 bytes, close codes) while the connection lives and after, and after an agent restart
with --inspect-db. Frames that break RFC 6455 stop the capture with the reason; the bytes flow."""
import base64
import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from http_harness import CheckedProcesses, HttpClient, Relay, scaled  # noqa: E402
from test_http_websocket import HAVE_WS, WS_MISSING, WsOrigin, frame, read_frame, ws_client  # noqa: E402
from test_inspect import Api, start_agent  # noqa: E402

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]  # ws_echo_client.js's sizes, in order
PREVIEW = 256


def wait_ws(api, pred, timeout=10.0):
    """The newest capture with a websocket part for which pred(websocket) holds."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        reqs = api.get("/api/requests/http")["requests"]
        ws = [e for e in reqs if e["capture"]["websocket"] is not None]
        if ws and pred(ws[0]["capture"]["websocket"]):
            return ws[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no WebSocket capture as expected: {[e['capture'] for e in ws][:1]}")
        time.sleep(0.05)  # polling the API, bounded by the deadline


@unittest.skipUnless(HAVE_WS, WS_MISSING)
class WsCaptureTest(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.relay = Relay()
        self.origin = WsOrigin()
        self.db = os.path.join(self.relay.data, "agent-state", "captures.db")

    def tearDown(self):
        super().tearDown()
        self.origin.close()

    def agent(self):
        return start_agent(self.relay, self.origin.addr, "--inspect", "127.0.0.1:0", "--inspect-db", self.db)

    def check_messages(self, ws, count):
        msgs = ws["messages"]
        self.assertEqual(ws["dropped"], 0)
        self.assertEqual(ws["error"], "")
        self.assertEqual(ws["bad_frames"], {"visitor": 0, "service": 0})
        from_visitor = [m for m in msgs if m["from"] == "visitor"]
        from_service = [m for m in msgs if m["from"] == "service"]
        hello = from_service.pop(0)
        self.assertEqual(hello["type"], "text")
        self.assertTrue(hello["text"].startswith('{"hello":true'), hello)
        ping = from_visitor.pop(0)
        self.assertEqual((ping["type"], ping["opcode"], ping["size"], ping["text"] if "text" in ping else None,
                          base64.b64decode(ping["payload_base64"])), ("ping", 9, 1, None, b"p"))
        pong = from_service.pop(0)
        self.assertEqual((pong["type"], base64.b64decode(pong["payload_base64"])), ("pong", b"p"))
        for side in (from_visitor, from_service):
            close = side.pop()  # the last one of each side
            self.assertEqual((close["type"], close["close_code"]), ("close", 1000))
            self.assertEqual(len(side), count)
            for i, m in enumerate(side):
                size = SIZES[i % len(SIZES)]
                if i % 2 == 0:
                    size = max(size, 7)  # a text message ends with its tag "#000000"
                self.assertEqual(m["type"], "binary" if i % 2 else "text", m)
                self.assertEqual(m["size"], size)
                self.assertEqual(m["kept"], min(size, PREVIEW))
                self.assertEqual(m["truncated"], size > PREVIEW)
                self.assertEqual(len(base64.b64decode(m["payload_base64"])), min(size, PREVIEW))
                self.assertFalse(m["compressed"])
                if i % 2 == 0:
                    tag = f"#{i:06d}"
                    want = ("x" * max(0, size - len(tag)) + tag)[:PREVIEW]
                    self.assertEqual(m["text"], want)
                    self.assertNotIn("close_code", m)
                else:
                    self.assertNotIn("text", m)

    def test_npm_ws_messages_in_the_api_and_after_a_restart(self):
        agent, port, host = self.agent()
        api = Api(port)
        rc, out = ws_client(f"ws://{host}:{self.relay.http_port}/chat", 10)
        self.assertEqual(rc, 0, out)
        self.assertTrue(out["ok"], out)
        e = wait_ws(api, lambda ws: ws["closed"])
        self.assertTrue(e["capture"]["upgraded"])
        self.assertEqual(e["response"]["status_code"], 101)
        self.assertEqual(e["request"]["uri"], "/chat")
        self.check_messages(e["capture"]["websocket"], 10)
        one = api.get("/api/requests/http/" + e["id"])
        self.assertEqual(one["capture"]["websocket"], e["capture"]["websocket"])
        self.assertGreater(api.get("/api/status")["inspect"]["ws_bytes"], 0)
        self.assertEqual(agent.stop(), 0)
        # Saved when the connection ended: the restarted agent shows the same messages.
        agent, port, host = self.agent()
        again = Api(port).get("/api/requests/http/" + e["id"])
        self.assertEqual(again["capture"]["websocket"], e["capture"]["websocket"])

    def raw_upgrade(self, c, h):
        key = base64.b64encode(os.urandom(16)).decode()
        c.request("GET", "/raw", h, headers=[("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                             ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", key)])
        r = c.read_response()
        self.assertEqual(r.status, 101, r)
        op, _ = read_frame(c)  # the origin's hello
        self.assertEqual(op, 1)

    def test_live_while_open_then_bad_frames_stop_the_capture(self):
        agent, port, host = self.agent()
        api = Api(port)
        h = f"{host}:{self.relay.http_port}"
        with HttpClient(self.relay.http_port) as c:
            self.raw_upgrade(c, h)
            c.send(frame(b"hi", 1))
            self.assertEqual(read_frame(c), (1, b"hi"))
            # Listed while the connection is open, with what passed so far.
            e = wait_ws(api, lambda ws: len(ws["messages"]) >= 3)
            ws = e["capture"]["websocket"]
            self.assertFalse(ws["closed"])
            self.assertEqual([(m["from"], m["type"]) for m in ws["messages"]],
                             [("service", "text"), ("visitor", "text"), ("service", "text")])
            self.assertEqual(ws["messages"][1]["text"], "hi")
            # A reserved opcode: the capture of that direction stops, the bytes still go (the
            # origin answers with its own close 1002 and hangs up).
            c.send(frame(b"x", 3) + frame(b"after", 1))
            op, body = read_frame(c)
            self.assertEqual((op, body[:2]), (8, struct.pack("!H", 1002)))
            self.assertTrue(c.closed(timeout=5))
        e = wait_ws(api, lambda ws: ws["closed"])
        ws = e["capture"]["websocket"]
        self.assertEqual(ws["bad_frames"], {"visitor": 1, "service": 0})
        self.assertIn("from the visitor: reserved opcode 3", ws["error"])
        self.assertNotIn("after", [m.get("text") for m in ws["messages"]])
        self.assertEqual(ws["messages"][-1]["from"], "service")
        self.assertEqual((ws["messages"][-1]["type"], ws["messages"][-1]["close_code"]), ("close", 1002))
        status, metrics = api.call("GET", "/metrics")
        self.assertIn(b"porthole_inspect_ws_bad_frames_total 1", metrics)


if __name__ == "__main__":
    unittest.main(verbosity=2)
