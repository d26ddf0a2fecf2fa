#!/usr/bin/env python3
"""Keep-alive through `porthole socks` as an HTTP proxy (issue 10): plain-HTTP absolute-form
requests of one client connection reuse one exit stream (one origin connection) while the origin
keeps it, a different host gets its own, and the framing is right for Content-Length, chunked,
close-delimited, HEAD, 204 and 304 responses and request bodies; a CONNECT after plain requests
on the same connection still works. Real clients: curl fetching two URLs in one invocation
(num_connects, and the origin's count of connections) and python's http.client."""
import http.client
import http.server
import os
import socket
import socketserver
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Proc, Relay  # noqa: E402

ORIGIN_A, ORIGIN_B, ORIGIN_ONE = "127.0.0.12", "127.0.0.13", "127.0.0.14"


class Origin:
    """An HTTP/1.1 keep-alive origin counting the TCP connections it accepted."""

    def __init__(self, host):
        outer = self
        self.connections = 0
        self.requests = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                outer.connections += 1
                super().setup()

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(n)

            def _answer(self, head_only):
                path = self.path
                body_in = self._body()
                outer.requests.append((self.command, path, body_in, self.headers.get("Connection")))
                if path.startswith("/204"):
                    self.send_response(204)
                    self.end_headers()
                    return
                if path.startswith("/304"):
                    self.send_response(304)
                    self.send_header("ETag", '"x"')
                    self.end_headers()
                    return
                body = f"{self.command} {path} host={self.headers.get('Host')} got={body_in.decode()}\n".encode()
                self.send_response(200)
                if path.startswith("/chunked"):
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    if not head_only:
                        for part in (body[:5], body[5:]):
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.write(b"0\r\n\r\n")
                    return
                if path.startswith("/close"):  # no length: the body ends with the connection
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if not head_only:
                        self.wfile.write(body)
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head_only:
                    self.wfile.write(body)

            def do_GET(self):
                self._answer(False)

            def do_POST(self):
                self._answer(False)

            def do_HEAD(self):
                self._answer(True)

            def log_message(self, *a):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # an idle kept connection the proxy let go of is reset: not an error here

        self.srv = Server((host, 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()


class OneShotOrigin:
    """Answers one request per connection as if keep-alive (HTTP/1.1, Content-Length, no
    Connection: close), then closes: the proxy must not hand the next request to a dead stream."""

    def __init__(self, host):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            data = b""
            while b"\r\n\r\n" not in data:
                d = c.recv(4096)
                if not d:
                    break
                data += d
            path = data.split(b" ", 2)[1] if data.count(b" ") >= 2 else b"?"
            body = b"one-shot " + path
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            c.close()

    def close(self):
        self.sock.close()


class SocksHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay()
        cls.a = Origin(ORIGIN_A)
        cls.b = Origin(ORIGIN_B)
        cls.one = OneShotOrigin(ORIGIN_ONE)
        agent = ["--relay", cls.relay.addr, "--token", cls.relay.token, "--relay-fingerprint", cls.relay.fingerprint]
        cls.exit = Proc(["exit", "office", "--allow-dest", f"{ORIGIN_A}:{cls.a.port}",
                         "--allow-dest", f"{ORIGIN_B}:{cls.b.port}", "--allow-dest", f"{ORIGIN_ONE}:{cls.one.port}",
                         "--inspect", "off", "--log", "stderr"] + agent)
        cls.exit.wait_line(r"Exit exit://office allows ")
        cls.socks = Proc(["socks", "--listen", "127.0.0.1:0", "--via", "office"] + agent)
        cls.port = int(cls.socks.wait_line(r"SOCKS5 and HTTP proxy on 127\.0\.0\.1:(\d+)").group(1))

    @classmethod
    def tearDownClass(cls):
        for p in Proc.all:
            if p.p.poll() is None:
                p.stop()
        cls.a.close()
        cls.b.close()
        cls.one.close()

    def curl(self, *urls):
        args = ["curl", "-sS", "--max-time", "20", "-x", f"http://127.0.0.1:{self.port}"]
        for i, u in enumerate(urls):
            if i:
                args.append("--next")
                args += ["-x", f"http://127.0.0.1:{self.port}"]
            args += ["-w", "\n[%{num_connects} %{http_code}]\n", u]
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_curl_two_urls_one_connection(self):
        before = self.a.connections
        ua = f"http://{ORIGIN_A}:{self.a.port}"
        out = self.curl(f"{ua}/one", f"{ua}/chunked-two")
        self.assertEqual(out, f"GET /one host={ORIGIN_A}:{self.a.port} got=\n\n[1 200]\n"
                              f"GET /chunked-two host={ORIGIN_A}:{self.a.port} got=\n\n[0 200]\n")
        self.assertEqual(self.a.connections, before + 1, "the second request did not reuse the origin connection")
        # Another host on the same proxy connection: its own exit stream, the proxy connection kept.
        before_b = self.b.connections
        ub = f"http://{ORIGIN_B}:{self.b.port}"
        out = self.curl(f"{ua}/x", f"{ub}/y", f"{ua}/z")
        self.assertIn(f"GET /y host={ORIGIN_B}:{self.b.port}", out)
        self.assertEqual([l for l in out.splitlines() if l.startswith("[")], ["[1 200]", "[0 200]", "[0 200]"])
        self.assertEqual(self.b.connections, before_b + 1)

    def test_http_client_framings(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        ua = f"http://{ORIGIN_A}:{self.a.port}"
        before = self.a.connections
        c.request("GET", f"{ua}/len")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (200, f"GET /len host={ORIGIN_A}:{self.a.port} got=\n".encode()))
        sock = c.sock
        c.request("POST", f"{ua}/post", body=b"payload")
        r = c.getresponse()
        self.assertEqual(r.read(), f"POST /post host={ORIGIN_A}:{self.a.port} got=payload\n".encode())
        c.request("POST", f"{ua}/chunked-post", body=iter([b"pay", b"load"]), encode_chunked=True)
        r = c.getresponse()
        self.assertEqual(r.read(), f"POST /chunked-post host={ORIGIN_A}:{self.a.port} got=payload\n".encode())
        c.request("HEAD", f"{ua}/chunked-head")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (200, b""))
        c.request("HEAD", f"{ua}/len-head")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (200, b""))
        c.request("GET", f"{ua}/204")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (204, b""))
        c.request("GET", f"{ua}/304", headers={"If-None-Match": '"x"'})
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (304, b""))
        self.assertIs(c.sock, sock, "the proxy connection was not kept")
        self.assertEqual(self.a.connections, before + 1)
        # Close-delimited: the body is whole, then both connections close.
        c.request("GET", f"{ua}/close")
        r = c.getresponse()
        self.assertEqual(r.read(), f"GET /close host={ORIGIN_A}:{self.a.port} got=\n".encode())
        self.assertTrue(r.will_close)
        c.close()
        # What reached the origin: origin-form targets, no proxy fields.
        self.assertEqual([(m, p) for m, p, _, _ in self.a.requests[-8:]],
                         [("GET", "/len"), ("POST", "/post"), ("POST", "/chunked-post"), ("HEAD", "/chunked-head"),
                          ("HEAD", "/len-head"), ("GET", "/204"), ("GET", "/304"), ("GET", "/close")])

    def test_origin_that_closes_its_kept_connection(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        u = f"http://{ORIGIN_ONE}:{self.one.port}"
        for i in range(4):
            c.request("GET", f"{u}/n{i}")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, f"one-shot /n{i}".encode()))
        c.close()
        self.assertGreaterEqual(self.one.connections, 4)

    def test_connect_after_plain_requests(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        f = s.makefile("rb")
        ua = f"http://{ORIGIN_A}:{self.a.port}"
        s.sendall(f"GET {ua}/plain HTTP/1.1\r\nHost: {ORIGIN_A}:{self.a.port}\r\n\r\n".encode())
        r = http.client.HTTPResponse(s)
        r.begin()
        self.assertEqual(r.read(), f"GET /plain host={ORIGIN_A}:{self.a.port} got=\n".encode())
        s.sendall(f"CONNECT {ORIGIN_B}:{self.b.port} HTTP/1.1\r\nHost: {ORIGIN_B}:{self.b.port}\r\n\r\n".encode())
        line = f.readline()
        self.assertEqual(line, b"HTTP/1.1 200 Connection established\r\n")
        self.assertEqual(f.readline(), b"\r\n")
        s.sendall(f"GET /tunnelled HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
        data = f.read()
        self.assertIn(b"GET /tunnelled host=b got=", data)
        s.close()


if __name__ == "__main__":
    unittest.main()
