"""Silent disconnects, hostile frames after a valid TLS handshake, IPv6, config-file tunnels."""
import os
import socket
import ssl
import struct
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, EchoServer, Proc, Relay, echo_roundtrip  # noqa: E402


class FreezableProxy:
    """TCP proxy 127.0.0.1:0 -> target. freeze() stops forwarding without closing anything:
    to both ends the link looks alive but silent (a NAT box that lost its state)."""

    def __init__(self, target_port):
        self.target = target_port
        self.frozen = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    if not self.frozen.is_set():  # frozen: even a FIN is lost
                        b.shutdown(socket.SHUT_WR)
                    return
                if self.frozen.is_set():
                    continue  # swallow: silence
                b.sendall(d)
        except OSError:
            pass

    def freeze(self):
        self.frozen.set()


def frame(ftype, flags, stream, payload):
    return struct.pack(">BBHII", 1, ftype, flags, stream, len(payload)) + payload


class ResilienceTest(unittest.TestCase):
    def test_silent_disconnect_endpoint_handed_to_returning_agent_at_once(self):
        relay = Relay()
        echo = EchoServer()
        proxy = FreezableProxy(relay.port)
        a1 = Agent(f"127.0.0.1:{proxy.port}", relay.fingerprint, echo.port, extra=["--name", "pi"])
        port = a1.public_port()
        proxy.freeze()
        # The same agent comes back on a new path before the relay noticed anything.
        a2 = Agent(relay.addr, relay.fingerprint, echo.port, extra=["--name", "pi"])
        self.assertEqual(a2.public_port(timeout=5), port)
        echo_roundtrip(port)
        # The frozen agent finds out by itself within the heartbeat timeout (10 s).
        a1.proc.wait_line(r"heartbeat timeout", stream="err", timeout=15)

    def test_malformed_frame_closes_only_that_session(self):
        relay = Relay()
        echo = EchoServer()
        agent = Agent(relay.addr, relay.fingerprint, echo.port)
        port = agent.public_port()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        for bad in (frame(0, 0, 0, b"x"),                         # DATA on stream 0
                    struct.pack(">BBHII", 1, 0, 0, 1, 1 << 30),   # 1 GiB length: refused before allocating
                    frame(9, 0, 0, b""),                          # unknown type
                    frame(5, 0, 0, b"{not json"),                 # CONTROL that is not JSON
                    b"\x00" * 64):                                # wrong version
            with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as raw:
                with ctx.wrap_socket(raw) as s:
                    s.sendall(bad)
                    s.settimeout(5)
                    try:
                        while s.recv(4096):
                            pass  # the relay may send a fatal message first; then it closes
                    except (ConnectionResetError, ssl.SSLError, socket.timeout) as e:
                        self.assertNotIsInstance(e, socket.timeout, "the relay kept the session open")
        echo_roundtrip(port)  # the real agent's session was not disturbed
        relay.proc.wait_line(r"protocol error", stream="err")

    def test_ipv6_everywhere(self):
        try:
            s = socket.socket(socket.AF_INET6)
            s.bind(("::1", 0))
            s.close()
        except OSError:
            self.skipTest("no IPv6 loopback")
        relay = Relay(host="::1")
        self.assertIn(":", relay.proc.wait_line(r"on \[([0-9a-f:]+)\]:\d+").group(1))
        srv = socket.socket(socket.AF_INET6)
        srv.bind(("::1", 0))
        srv.listen(4)
        sport = srv.getsockname()[1]

        def serve():
            c, _ = srv.accept()
            c.sendall(c.recv(100))
            c.close()

        threading.Thread(target=serve, daemon=True).start()
        agent = Agent(relay.addr, relay.fingerprint, f"[::1]:{sport}")
        m = agent.proc.wait_line(r"Forwarding tcp://\S+:(\d+) -> \[::1\]:%d" % sport)
        with socket.create_connection(("::1", int(m.group(1))), timeout=5) as c:
            c.sendall(b"v6")
            self.assertEqual(c.recv(10), b"v6")

    def test_start_runs_config_tunnels(self):
        relay = Relay()
        e1, e2 = EchoServer(), EchoServer()
        cfg = os.path.join(tempfile.mkdtemp(), "porthole.toml")
        with open(cfg, "w") as f:
            f.write(f'''version = 1
[agent]
relay = "{relay.addr}"
token = "{relay.token}"
relay_fingerprint = "{relay.fingerprint}"

[[tunnel]]
name = "one"
local = "127.0.0.1:{e1.port}"

[[tunnel]]
name = "two"
local = "127.0.0.1:{e2.port}"
''')
        p = Proc(["start", "--config", cfg, "--inspect", "off"], env={"XDG_CONFIG_HOME": tempfile.mkdtemp()})
        ports = set()
        for i in range(2):
            ports.add(int(p.wait_line(r"Forwarding tcp://127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:(%d|%d)" % (e1.port, e2.port),
                                      start=i).group(1)))
        self.assertEqual(len(ports), 2)
        for port in ports:
            echo_roundtrip(port)
        self.assertEqual(e1.accepted, 1)
        self.assertEqual(e2.accepted, 1)
        # Only the named tunnel:
        p.stop()
        q = Proc(["start", "two", "--config", cfg], env={"XDG_CONFIG_HOME": tempfile.mkdtemp()})
        q.wait_line(r"-> 127\.0\.0\.1:%d" % e2.port)
        self.assertEqual(q.count(r"Forwarding"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
