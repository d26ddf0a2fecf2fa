"""End-to-end tests of `porthole relay` + `porthole tcp` (the built binary) on loopback."""
import hashlib
import os
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, EchoServer, Proc, Relay, connect, echo_roundtrip, eventually, recv_exact  # noqa: E402


class TunnelTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()

    def tearDown(self):
        self.echo.close()

    def test_echo_and_forwarding_line(self):
        relay = Relay()
        agent = Agent(relay.addr, relay.fingerprint, self.echo.port)
        port = agent.public_port()
        m = agent.proc.wait_line(r"Forwarding tcp://127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:(\d+)")
        self.assertEqual(int(m.group(2)), self.echo.port)
        echo_roundtrip(port)
        echo_roundtrip(port, os.urandom(300_000))
        self.assertEqual(agent.proc.stop(), 0)
        self.assertEqual(relay.proc.stop(), 0)

    def test_half_close_both_ways(self):
        relay = Relay()
        agent = Agent(relay.addr, relay.fingerprint, self.echo.port)
        port = agent.public_port()
        with connect(port) as s:
            s.sendall(b"request body")
            s.shutdown(socket.SHUT_WR)  # visitor FIN must reach the service...
            self.assertEqual(recv_exact(s, 12), b"request body")
            self.assertEqual(s.recv(10), b"")  # ...and the service's FIN must reach the visitor

    def test_service_down_closes_visitor_promptly(self):
        relay = Relay()
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
        dead.close()  # nothing listens there now
        agent = Agent(relay.addr, relay.fingerprint, dead_port)
        port = agent.public_port()
        with connect(port) as s:
            s.settimeout(5)
            t0 = time.monotonic()
            try:
                data = s.recv(10)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"")
            self.assertLess(time.monotonic() - t0, 3)

    def test_wrong_token_is_a_clear_error(self):
        relay = Relay()
        agent = Agent(relay.addr, relay.fingerprint, self.echo.port, token="wrong",
                      extra=["--exit-on-failure"])
        rc = agent.proc.p.wait(15)
        self.assertEqual(rc, 1)
        agent.proc.wait_line(r"does not accept this token", stream="err")

    def test_wrong_token_backs_off(self):
        relay = Relay()
        agent = Agent(relay.addr, relay.fingerprint, self.echo.port, token="wrong")
        agent.proc.wait_line(r"reconnecting in (\d+\.\d)s", stream="err")
        m = agent.proc.wait_line(r"check --token.*reconnecting in (\d+\.\d)s", stream="err")
        self.assertGreaterEqual(float(m.group(1)), 10.0)  # straight to the cap: no hammering
        agent.proc.stop()

    def test_no_relay_configured_says_how_to_get_one(self):
        p = Proc(["tcp", "22"], env={"XDG_CONFIG_HOME": "/nonexistent", "PORTHOLE_RELAY": "", "PORTHOLE_TOKEN": ""})
        self.assertEqual(p.p.wait(10), 2)
        p.wait_line(r"porthole relay", stream="err")
        p.wait_line(r"porthole demo", stream="err")

    def test_fingerprint_mismatch_is_refused(self):
        relay = Relay()
        agent = Agent(relay.addr, "00" * 32, self.echo.port, extra=["--exit-on-failure"])
        self.assertEqual(agent.proc.p.wait(15), 1)
        agent.proc.wait_line(r"(?i)fingerprint", stream="err")

    def test_trust_on_first_use(self):
        relay = Relay()
        a1 = Agent(relay.addr, None, self.echo.port)
        echo_roundtrip(a1.public_port())
        a1.proc.stop()
        # A different relay on the same address: the pinned certificate no longer matches.
        relay.proc.stop()
        other = Relay(agents_port=relay.port)
        a2 = Agent(relay.addr, None, self.echo.port, extra=["--exit-on-failure"],
                   env={"XDG_CONFIG_HOME": a1.home})
        self.assertEqual(a2.proc.p.wait(15), 1)
        a2.proc.wait_line(r"(?i)changed|mismatch", stream="err")
        other.proc.stop()

    def test_agent_started_before_relay(self):
        # Reserve a port for the relay, start the agent first.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        relay_data = None
        agent = Agent(f"127.0.0.1:{port}", None, self.echo.port)
        agent.proc.wait_line(r"reconnecting in", stream="err")
        relay = Relay(agents_port=port, data=relay_data)
        echo_roundtrip(agent.public_port(timeout=15))

    def test_agent_kill9_and_restart_gets_same_port(self):
        relay = Relay()
        a1 = Agent(relay.addr, relay.fingerprint, self.echo.port)
        port = a1.public_port()
        a1.proc.kill9()
        a2 = Agent(relay.addr, relay.fingerprint, self.echo.port)
        self.assertEqual(a2.public_port(), port)
        echo_roundtrip(port)

    def test_relay_kill9_and_restart_gets_same_port(self):
        relay = Relay()
        agent = Agent(relay.addr, relay.fingerprint, self.echo.port, extra=["--heartbeat-interval", "1s",
                                                                              "--heartbeat-timeout", "3s"])
        port = agent.public_port()
        echo_roundtrip(port)
        relay.proc.kill9()
        relay.start()  # same data dir, same agents port
        agent.proc.wait_line(r"tunnel \S+ restored at tcp://127\.0\.0\.1:%d" % port, stream="err", timeout=20)
        eventually(lambda: echo_roundtrip(port), timeout=10, what="echo after relay restart")

    def test_garbage_and_slow_handshakes_do_not_delay_agents(self):
        relay = Relay()
        stop = threading.Event()
        socks = []

        def slowloris():
            # Many connections that send nothing or a trickle of garbage.
            for i in range(40):
                try:
                    src = ("127.0.0.%d" % (1 + i % 3), 0)  # attackers on the agent's address too
                    c = socket.create_connection(("127.0.0.1", relay.port), timeout=5, source_address=src)
                    socks.append(c)
                    if i % 2:
                        c.send(b"\x16\x03\x01garbage")
                except OSError:
                    pass

        def garbage():
            while not stop.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", relay.port), timeout=5,
                                                  source_address=("127.0.0.2", 0)) as c:
                        c.sendall(os.urandom(512))
                except OSError:
                    pass

        slowloris()
        threads = [threading.Thread(target=garbage, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        agent = Agent(relay.addr, relay.fingerprint, self.echo.port)
        agent.public_port(timeout=5)
        registered = time.monotonic() - t0
        stop.set()
        for c in socks:
            c.close()
        # Sanitizer builds start and run several times slower: they scale the budget.
        budget = 1.0 * float(os.environ.get("PORTHOLE_TIME_SCALE", "1"))
        self.assertLess(registered, budget, f"agent registered after {registered:.2f}s")


class BulkTest(unittest.TestCase):
    def test_1gib_both_ways_sha256(self):
        size = int(os.environ.get("PORTHOLE_BULK_BYTES", 1 << 30))
        relay = Relay()
        echo = EchoServer()
        agent = Agent(relay.addr, relay.fingerprint, echo.port)
        port = agent.public_port()
        with connect(port, timeout=60) as s:
            sent, got = hashlib.sha256(), hashlib.sha256()
            block = os.urandom(1 << 20)

            def writer():
                n = 0
                while n < size:
                    b = block[: min(len(block), size - n)]
                    s.sendall(b)
                    sent.update(b)
                    n += len(b)
                s.shutdown(socket.SHUT_WR)

            t = threading.Thread(target=writer)
            t.start()
            total = 0
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got.update(d)
                total += len(d)
            t.join()
        self.assertEqual(total, size)
        self.assertEqual(sent.hexdigest(), got.hexdigest())
        echo.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
