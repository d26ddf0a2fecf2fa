"""`porthole udp` through the relay (the built binaries) on loopback: dnsmasq answering dig
through the tunnel, a UDP echo for order and loss, one flow per visitor (stable source port),
65,507-byte datagrams whole, flows ending when idle, and the same UDP port back after the agent
reconnects; 5000/tcp and 5000/udp reserved apart."""
import os
import socket
import sys
import time
import unittest

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


class UdpTunnelTest(unittest.TestCase):
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
