#!/usr/bin/env python3
"""WebSocket through an HTTP tunnel: a real client (npm ws, tests/js/ws_echo_client.js) against
a ws echo origin (tests/js/ws_echo_server.js) through relay + `porthole http`: the upgrade gets
its 101, then frames pass both ways unchanged (text and binary up to 1 MiB, ping/pong, close).
A raw-socket handshake checks the 101's fields and the bytes after it; an origin that refuses
the upgrade (plain 200) leaves the visitor connection a normal HTTP one."""
import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from http_harness import (CheckedProcesses, HttpClient, RecordingOrigin, Relay, host_of,  # noqa: E402
                          scaled, start_agent)

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")
NODE = shutil.which("node")
HAVE_WS = NODE is not None and os.path.isdir(os.path.join(JS, "node_modules", "ws"))
WS_MISSING = "node or tests/js/node_modules/ws missing (scripts/deps.sh runs npm ci in tests/js)"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WsOrigin:
    def __init__(self):
        self.p = subprocess.Popen([NODE, os.path.join(JS, "ws_echo_server.js")], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()  # the server prints it once it listens (or exits)
        assert line.startswith("listening "), (line, self.p.stderr.read() if self.p.poll() is not None else "")
        self.port = int(line.split()[1])
        self.addr = f"127.0.0.1:{self.port}"

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(scaled(10))
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()


def ws_client(url, count=50):
    r = subprocess.run([NODE, os.path.join(JS, "ws_echo_client.js"), url, str(count)], capture_output=True,
                       text=True, timeout=scaled(40) + 10)
    lines = r.stdout.strip().splitlines()
    assert lines, f"no output from the ws client; rc={r.returncode} stderr={r.stderr[-500:]}"
    return r.returncode, json.loads(lines[-1])


def frame(payload, opcode=1):
    """A masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(c, timeout=10.0):
    """(opcode, payload) of one unmasked server frame from an HttpClient's buffer/socket."""
    deadline = time.monotonic() + scaled(timeout)

    def need(n):
        while len(c.buf) < n:
            if not c._fill(deadline):
                raise AssertionError("closed inside a WebSocket frame")
        out = bytes(c.buf[:n])
        del c.buf[:n]
        return out
    b0, b1 = need(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", need(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", need(8))[0]
    assert not b1 & 0x80, "server frames are not masked"
    return b0 & 0x0F, need(n)


class WebSocketTest(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.relay = Relay()

    @unittest.skipUnless(HAVE_WS, WS_MISSING)
    def test_ws_echo_with_npm_ws(self):
        origin = WsOrigin()
        try:
            a = start_agent(self.relay, origin.addr, "--subdomain", "ws")
            host = host_of(a)
            url = f"ws://{host}:{self.relay.http_port}/chat?room=1"
            rc, out = ws_client(url, 50)
            self.assertEqual(rc, 0, out)
            self.assertTrue(out["ok"], out)
            self.assertEqual(out["messages"], 50)
            self.assertTrue(out["pong"])
            self.assertEqual(out["closeCode"], 1000)
            hello = out["hello"]
            self.assertEqual(hello["url"], "/chat?room=1")
            self.assertEqual(hello["headers"]["host"], f"{host}:{self.relay.http_port}")
            self.assertEqual(hello["headers"]["upgrade"].lower(), "websocket")
            self.assertEqual(hello["headers"]["connection"].lower(), "upgrade")
            self.assertEqual(hello["headers"]["x-forwarded-for"], "127.0.0.1")
            # Several at once on the same tunnel.
            procs = [subprocess.Popen([NODE, os.path.join(JS, "ws_echo_client.js"), url, "16"],
                                      stdout=subprocess.PIPE, text=True) for _ in range(4)]
            for p in procs:
                out, _ = p.communicate(timeout=scaled(40) + 10)
                self.assertEqual(p.returncode, 0, out)
                self.assertTrue(json.loads(out.strip().splitlines()[-1])["ok"])
        finally:
            origin.close()

    @unittest.skipUnless(HAVE_WS, WS_MISSING)
    def test_raw_upgrade_and_bytes_after_101(self):
        origin = WsOrigin()
        try:
            host = host_of(start_agent(self.relay, origin.addr, "--subdomain", "rawws"))
            h = f"{host}:{self.relay.http_port}"
            key = base64.b64encode(os.urandom(16)).decode()
            with HttpClient(self.relay.http_port) as c:
                c.request("GET", "/raw", h, headers=[("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket"),
                                                     ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", key)])
                r = c.read_response()
                self.assertEqual(r.status, 101, r)
                self.assertEqual(r.header("Upgrade").lower(), "websocket")
                self.assertIn("upgrade", r.header("Connection").lower())
                accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
                self.assertEqual(r.header("Sec-WebSocket-Accept"), accept)
                op, hello = read_frame(c)
                self.assertEqual(op, 1)
                self.assertEqual(json.loads(hello)["url"], "/raw")
                for payload, opcode in ((b"hi", 1), (os.urandom(70000), 2), (b"", 1)):
                    c.send(frame(payload, opcode))
                    self.assertEqual(read_frame(c), (opcode, payload))
                c.send(frame(struct.pack("!H", 1000), 8))  # close
                op, body = read_frame(c)
                self.assertEqual((op, body[:2]), (8, struct.pack("!H", 1000)))
                self.assertTrue(c.closed(timeout=5))
        finally:
            origin.close()

    def test_refused_upgrade_stays_http(self):
        o = RecordingOrigin("PLAIN")
        try:
            host = host_of(start_agent(self.relay, o.addr, "--subdomain", "plain"))
            h = f"{host}:{self.relay.http_port}"
            with HttpClient(self.relay.http_port) as c:
                c.request("GET", "/up", h, headers=[("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                                    ("Sec-WebSocket-Version", "13"),
                                                    ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode())])
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, b"PLAIN GET /up\n"))
                req = o.requests[-1]
                self.assertEqual(req.header("Upgrade"), "websocket")
                self.assertEqual((req.header("Connection") or "").lower(), "upgrade")
                self.assertEqual(c.get("/next", h).body, b"PLAIN GET /next\n")
        finally:
            o.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
