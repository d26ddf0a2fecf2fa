#!/usr/bin/env python3
"""Unix sockets as local addresses (issue 10 item 5): an HTTP origin on a unix socket behind
`porthole http unix:/...` (curl through the relay; a missing socket gets the 502 page of a
refused service), `porthole tcp unix:/...` to a unix echo server, `local = "unix:/..."` in
porthole.toml via `porthole start`, and `porthole connect NAME --listen unix:/path` (curl
--unix-socket and socat; the file is 0600, a stale socket is replaced, another file refused, the
socket removed at exit)."""
import http.server
import os
import shutil
import socket
import socketserver
import stat
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Agent, EchoServer, HttpAgent, Proc, Relay, echo_roundtrip, recv_exact  # noqa: E402


class UnixEcho(EchoServer):
    """harness.EchoServer on a unix socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(64)
        self.path = path
        self.accepted = 0
        threading.Thread(target=self._loop, daemon=True).start()


class UnixWeb:
    """A tiny HTTP server on a unix socket, answering with its path."""

    def __init__(self, path):
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = f"unix hello {self.path} host={self.headers.get('Host')}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def address_string(self):
                return "unix"

            def log_message(self, *a):
                pass

        class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.srv = S(path, H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class UnixSockets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="porthole-unix-")
        cls.relay = Relay()

    @classmethod
    def tearDownClass(cls):
        for p in Proc.all:
            if p.p.poll() is None:
                p.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def curl(self, *args):
        return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True, timeout=30)

    def test_http_origin_on_a_unix_socket(self):
        sock = self.path("app.sock")
        web = UnixWeb(sock)
        a = HttpAgent(self.relay.addr, self.relay.fingerprint, f"unix:{sock}", extra=["--subdomain", "unixapp"])
        host, port, local = a.url()
        self.assertEqual(local, f"http://unix:{sock}")
        r = self.curl("-H", f"Host: {host}", f"http://127.0.0.1:{self.relay.http_port}/x?y=1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"unix hello /x?y=1 host={host}\n")
        # Gone: the visitor gets what a refused TCP service gives (502), the agent says why.
        web.close()
        os.unlink(sock)
        r = self.curl("-o", "/dev/null", "-w", "%{http_code}", "-H", f"Host: {host}",
                      f"http://127.0.0.1:{self.relay.http_port}/")
        self.assertEqual(r.stdout, "502")
        a.proc.wait_line(r"unix:\S+app\.sock: no such socket file", stream="err")
        a.proc.stop()

    def test_tcp_to_a_unix_echo_and_in_porthole_toml(self):
        echo = UnixEcho(self.path("echo.sock"))
        a = Agent(self.relay.addr, self.relay.fingerprint, f"unix:{echo.path}")
        echo_roundtrip(a.public_port(), b"through a unix socket")
        self.assertEqual(echo.accepted, 1)
        a.proc.stop()
        cfg = self.path("porthole.toml")
        with open(cfg, "w") as f:
            f.write(f'version = 1\n[agent]\nrelay = "{self.relay.addr}"\ntoken = "{self.relay.token}"\n'
                    f'relay_fingerprint = "{self.relay.fingerprint}"\n\n[[tunnel]]\nname = "sock"\n'
                    f'local = "unix:{echo.path}"\n')
        r = subprocess.run([BIN, "config", "check", cfg], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        p = Proc(["start", "--config", cfg, "--inspect", "off"], env={"XDG_CONFIG_HOME": self.tmp})
        port = int(p.wait_line(r"Forwarding tcp://[^:]+:(\d+) -> unix:\S+echo\.sock").group(1))
        echo_roundtrip(port, b"from porthole.toml")
        p.stop()
        bad = self.path("bad.toml")
        with open(bad, "w") as f:
            f.write('version = 1\n[[tunnel]]\nname = "a"\nlocal = "unix:relative.sock"\n\n'
                    '[[tunnel]]\nname = "b"\nkind = "udp"\nlocal = "unix:/run/x.sock"\n')
        r = subprocess.run([BIN, "config", "check", bad], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stdout + r.stderr, r"bad\.toml:4: tunnel\[0\]\.local: .*unix:/ABSOLUTE/PATH")
        self.assertRegex(r.stdout + r.stderr, r"bad\.toml:9: tunnel\[1\]\.local: a unix socket is a stream")

    def test_connect_listen_unix(self):
        echo = EchoServer()
        a = Agent(self.relay.addr, self.relay.fingerprint, echo.port, extra=["--private", "uecho"])
        a.proc.wait_line(r"Forwarding private://uecho -> ")
        web_sock = self.path("web-origin.sock")
        UnixWeb(web_sock)
        w = Agent(self.relay.addr, self.relay.fingerprint, f"unix:{web_sock}", extra=["--private", "uweb"])
        w.proc.wait_line(r"Forwarding private://uweb -> unix:")
        client = ["--relay", self.relay.addr, "--token", self.relay.token, "--relay-fingerprint", self.relay.fingerprint]
        # A stale socket file (nobody accepts on it) is replaced.
        stale = self.path("c.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()
        c = Proc(["connect", "uecho", "--listen", f"unix:{stale}"] + client)
        c.wait_line(r"Listening on unix:\S+c\.sock -> private uecho")
        self.assertEqual(stat.S_IMODE(os.stat(stale).st_mode), 0o600)
        self.assertTrue(stat.S_ISSOCK(os.stat(stale).st_mode))
        r = subprocess.run(["socat", "-t", "5", "-", f"UNIX-CONNECT:{stale}"], input=b"echo via socat\n",
                           capture_output=True, timeout=30)
        self.assertEqual(r.stdout, b"echo via socat\n", r.stderr)
        u = socket.socket(socket.AF_UNIX)
        u.settimeout(10)
        u.connect(stale)
        u.sendall(b"x" * 100000)
        self.assertEqual(recv_exact(u, 100000), b"x" * 100000)
        u.close()
        # In use: a second connect on the same path is refused, the first keeps serving.
        r = subprocess.run([BIN, "connect", "uecho", "--listen", f"unix:{stale}"] + client, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is in use", r.stderr)
        self.assertEqual(c.stop(), 0)
        self.assertFalse(os.path.exists(stale))  # removed at exit
        # curl --unix-socket to an HTTP origin that is itself on a unix socket, end to end.
        cw = Proc(["connect", "uweb", "--listen", f"unix:{self.path('w.sock')}"] + client)
        cw.wait_line(r"Listening on unix:")
        r = self.curl("--unix-socket", self.path("w.sock"), "http://app.local/through")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "unix hello /through host=app.local\n")
        cw.stop()
        # A regular file is never replaced.
        plain = self.path("plain")
        with open(plain, "w") as f:
            f.write("keep me")
        r = subprocess.run([BIN, "connect", "uecho", "--listen", f"unix:{plain}"] + client, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists and is not a socket", r.stderr)
        with open(plain) as f:
            self.assertEqual(f.read(), "keep me")
        a.proc.stop()
        w.proc.stop()
        echo.close()


if __name__ == "__main__":
    unittest.main()
