"""`porthole udp` through the relay (the built binaries) on loopback: dnsmasq answering dig
through the tunnel, a UDP echo for order and loss, one flow per visitor (stable source port),
65,507-byte datagrams whole, flows ending when idle, and the same UDP port back after the agent
reconnects; 5000/tcp and 5000/udp reserved apart."""
import os
import socket
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import Proc, Relay, eventually, port_range  # noqa: E402
from forward_harness import Dnsmasq, UdpEcho, dig, free_ports  # noqa: E402

TOKEN = "test-token-0123456789"


def udp_agent(relay, target, extra=()):
    home = os.path.join(relay.data, "agent-home")
    os.makedirs(home, exist_ok=True)
    args = ["udp", str(target), "--relay", relay.addr, "--token", TOKEN, "--inspect", "off",
            "--relay-fingerprint", relay.fingerprint] + list(extra)
    return Proc(args, env={"XDG_CONFIG_HOME": home})


def public_udp_port(agent, start=0):
    m = agent.wait_line(r"Forwarding udp://[^:]+:(\d+) -> (\S+)", start=start)
    return int(m.group(1))


def exchange(port, payload, timeout=5):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", port))
        d, _ = s.recvfrom(70000)
        return d


def relay_metric(relay, name):
    host, port = relay.admin_addr
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


class ProxyV2Echo:
    """A UDP service that reads the PROXY v2 header on each datagram and answers with what it
    said: b"SRC_IP:SRC_PORT DST_PORT|" + the payload after the header (or b"no-header|...")."""

    SIG = b"\r\n\r\n\x00\r\nQUIT\n"

    def __init__(self):
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                d, peer = self.sock.recvfrom(70000)
            except OSError:
                return
            if d[:12] == self.SIG and d[12] == 0x21 and d[13] == 0x12:  # v2 PROXY, INET + DGRAM
                n = int.from_bytes(d[14:16], "big")
                src = socket.inet_ntoa(d[16:20])
                sport, dport = int.from_bytes(d[24:26], "big"), int.from_bytes(d[26:28], "big")
                reply = f"{src}:{sport} {dport}|".encode() + d[16 + n:]
            else:
                reply = b"no-header|" + d
            self.sock.sendto(reply, peer)

    def close(self):
        self.sock.close()


class UdpTunnelTest(unittest.TestCase):
    def test_flow_timeout_and_cap_from_relay_toml(self):
        # udp_flow_timeout / udp_max_flows in relay.toml: a silent flow ends after 1 s (the next
        # datagram opens a new one: a new source port at the service); a second visitor evicts
        # the first at a cap of one flow.
        conf = os.path.join(tempfile.mkdtemp(prefix="porthole-udp-"), "relay.toml")
        with open(conf, "w") as f:
            f.write('version = 1\n[relay]\nudp_flow_timeout = "1s"\nudp_max_flows = 1\n')
        relay = Relay(extra=["--config", conf, "--udp-ports", port_range(10)])
        echo = UdpEcho()
        agent = udp_agent(relay, echo.port, extra=["--name", "short"])
        pub = public_udp_port(agent)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
            a.settimeout(5)
            b.settimeout(5)
            a.sendto(b"one", ("127.0.0.1", pub))
            self.assertEqual(a.recvfrom(100)[0], b"one")
            eventually(lambda: relay_metric(relay, "porthole_relay_udp_flows_expired_total") >= 1,
                       timeout=10, what="the idle flow expiring")
            a.sendto(b"two", ("127.0.0.1", pub))
            self.assertEqual(a.recvfrom(100)[0], b"two")
            self.assertEqual(len(echo.sources), 2, "a new flow (a new agent socket) after the timeout")
            b.sendto(b"three", ("127.0.0.1", pub))
            self.assertEqual(b.recvfrom(100)[0], b"three")
            self.assertGreaterEqual(relay_metric(relay, "porthole_relay_udp_flows_evicted_total"), 1)
        agent.stop()

    def test_proxy_v2_header_on_every_datagram(self):
        relay = Relay(extra=["--udp-ports", port_range(10)])
        svc = ProxyV2Echo()
        agent = udp_agent(relay, svc.port, extra=["--name", "ppv2", "--upstream-proxy-protocol", "2"])
        pub = public_udp_port(agent)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as v:
            v.bind(("127.0.0.5", 0))
            v.settimeout(5)
            me = v.getsockname()
            for i in range(3):  # every datagram of the flow carries it, not only the first
                v.sendto(b"hello %d" % i, ("127.0.0.1", pub))
                self.assertEqual(v.recvfrom(2048)[0], f"{me[0]}:{me[1]} {pub}|hello {i}".encode())
        agent.stop()
        svc.close()
        # v1 has no datagram form: refused up front, with the reason.
        bad = udp_agent(relay, svc.port, extra=["--upstream-proxy-protocol", "1"])
        self.assertEqual(bad.p.wait(10), 2)
        bad.wait_line("v1 has no UDP form", stream="err")


    def test_dns_echo_and_reconnect(self):
        rng = port_range(50)
        relay = Relay(extra=["--udp-ports", rng])
        (dns_port,) = free_ports(1)
        dns = Dnsmasq(dns_port)
        agent = udp_agent(relay, dns_port, extra=["--name", "dns"])
        pub = public_udp_port(agent)
        lo, hi = map(int, rng.split("-"))
        self.assertTrue(lo <= pub <= hi, "a port of --udp-ports")
        self.assertEqual(dig(pub, "example.test"), "127.0.0.9")
        self.assertEqual(dig(pub, "x.example.test"), "127.0.0.9")

        # Echo: order, loss, one flow per visitor, big datagrams whole.
        echo = UdpEcho()
        agent2 = udp_agent(relay, echo.port, extra=["--name", "echo"])
        ep = public_udp_port(agent2)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
            a.settimeout(5)
            b.settimeout(5)
            got = []
            n, window = 1024, 32
            for start in range(0, n, window):
                for i in range(start, start + window):
                    a.sendto(i.to_bytes(4, "big") + b"y" * 100, ("127.0.0.1", ep))
                for _ in range(window):
                    d, _ = a.recvfrom(2048)
                    got.append(int.from_bytes(d[:4], "big"))
            self.assertEqual(got, list(range(n)), "no loss, no reordering on loopback")
            b.sendto(b"other visitor", ("127.0.0.1", ep))
            self.assertEqual(b.recvfrom(100)[0], b"other visitor")
        self.assertEqual(len(echo.sources), 2, "one flow (one source port) per visitor")
        big = os.urandom(65507)
        self.assertEqual(exchange(ep, big), big, "a 65,507-byte datagram arrives whole")

        # The agent comes back (a new session): the same UDP port.
        agent.stop()
        agent = udp_agent(relay, dns_port, extra=["--name", "dns"])
        self.assertEqual(public_udp_port(agent), pub)
        eventually(lambda: dig(pub, "example.test", timeout=1) == "127.0.0.9", what="dns through the new session")
        agent.stop()
        agent2.stop()
        relay.proc.stop()
        dns.stop()
        echo.close()

    def test_tcp_and_udp_reservations_are_apart(self):
        rng = port_range(20)
        lo = int(rng.split("-")[0])
        relay = Relay(tcp_ports=rng, extra=["--udp-ports", rng])
        echo = UdpEcho()
        t = Proc(["tcp", "9", "--remote-port", str(lo), "--relay", relay.addr, "--token", TOKEN, "--inspect", "off",
                  "--relay-fingerprint", relay.fingerprint, "--name", "t"],
                 env={"XDG_CONFIG_HOME": relay.data})
        t.wait_line(rf"Forwarding tcp://[^:]+:{lo} ")
        u = udp_agent(relay, echo.port, extra=["--remote-port", str(lo), "--name", "u"])
        self.assertEqual(public_udp_port(u), lo, "5000/tcp and 5000/udp are different things")
        self.assertEqual(exchange(lo, b"same number"), b"same number")
        t.stop()
        u.stop()
        relay.proc.stop()
        echo.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
