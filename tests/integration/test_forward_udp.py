"""`porthole forward --udp` (the built binary) on loopback: dnsmasq answering dig, a UDP echo
for loss and ordering, one stable source port per visitor, allow lists, idle expiry, the flow
bound and memory under a flood, 65,507-byte datagrams whole, IPv6."""
import os
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import eventually  # noqa: E402
from forward_harness import Dnsmasq, UdpEcho, dig, free_ports, metric, rss_kib, start_forward  # noqa: E402


def udp_sock(host="127.0.0.1", source=None, timeout=5):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    return s


def exchange(port, payload, host="127.0.0.1", **kw):
    with udp_sock(host, **kw) as s:
        s.sendto(payload, (host, port))
        d, _ = s.recvfrom(70000)
        return d


class ForwardUdpTest(unittest.TestCase):
    def test_dns_through_forward(self):
        dns_port, lp, fp = free_ports(3)
        dns = Dnsmasq(dns_port)
        fw = start_forward(["--udp", f"{lp}:127.0.0.1:{dns_port}"])
        fw.wait_line(rf"Forwarding udp 127\.0\.0\.1:{lp} -> 127\.0\.0\.1:{dns_port}")
        self.assertEqual(dig(lp, "example.test"), "127.0.0.9")
        self.assertEqual(dig(lp, "www.example.test"), "127.0.0.9")
        fw.stop()
        # The same through a rules file, with a name as the target (resolved when a flow starts).
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "dns.rules")
            with open(path, "w") as f:
                f.write(f"udp {fp} localhost:{dns_port} allow 127.0.0.0/8\n")
            fw2 = start_forward(["--rules", path])
            fw2.wait_line(rf"Forwarding udp 127\.0\.0\.1:{fp} -> localhost:{dns_port}")
            self.assertEqual(dig(fp, "a.example.test"), "127.0.0.9")
            fw2.stop()
        dns.stop()

    def test_echo_order_loss_and_stable_source(self):
        echo = UdpEcho()
        (lp,) = free_ports(1)
        fw = start_forward(["--udp", f"{lp}:127.0.0.1:{echo.port}"])
        fw.wait_line(r"Forwarding udp")
        n, window = 3000, 64
        with udp_sock() as a, udp_sock() as b:
            got = []
            sent = 0
            while sent < n:  # a window of datagrams in flight, so no socket buffer overflows
                k = min(window, n - sent)
                for i in range(sent, sent + k):
                    a.sendto(i.to_bytes(4, "big") + b"x" * 60, ("127.0.0.1", lp))
                for _ in range(k):
                    d, _ = a.recvfrom(2048)
                    got.append(int.from_bytes(d[:4], "big"))
                sent += k
            self.assertEqual(got, list(range(n)), "no loss, no reordering on loopback")
            self.assertEqual(exchange_on(b, lp, b"from b"), b"from b")
        self.assertEqual(len(echo.sources), 2, "one stable source port per visitor")
        self.assertEqual(metric(fw.metrics_port, "porthole_forward_udp_flows_total"), 2)
        # A whole 65,507-byte datagram (the IPv4 maximum) is carried whole.
        big = os.urandom(65507)
        self.assertEqual(exchange(lp, big), big)
        fw.stop()
        echo.close()

    def test_allow_list_and_idle_expiry(self):
        echo = UdpEcho()
        (lp,) = free_ports(1)
        fw = start_forward(["--udp", f"{lp}:127.0.0.1:{echo.port}", "--allow", "127.0.0.1",
                            "--udp-idle-timeout", "0.3"])
        fw.wait_line(r"Forwarding udp")
        with udp_sock(source="127.0.0.1") as s:
            self.assertEqual(exchange_on(s, lp, b"hi"), b"hi")
            first = set(echo.sources)
            eventually(lambda: metric(fw.metrics_port, "porthole_forward_udp_flows_expired_total") == 1,
                       what="the idle flow expired")
            self.assertEqual(metric(fw.metrics_port, "porthole_forward_udp_flows"), 0)
            self.assertEqual(exchange_on(s, lp, b"again"), b"again")  # a new flow, a new source port
            self.assertEqual(len(echo.sources - first), 1)
        with udp_sock(source="127.0.0.2", timeout=0.5) as s:
            s.sendto(b"not allowed", ("127.0.0.1", lp))
            with self.assertRaises(socket.timeout):
                s.recvfrom(100)
        self.assertEqual(metric(fw.metrics_port, "porthole_forward_denied_total{proto=\"udp\"}"), 1)
        fw.stop()
        echo.close()

    def test_flood_memory_bounded_and_others_served(self):
        echo = UdpEcho()
        (lp,) = free_ports(1)
        fw = start_forward(["--udp", f"{lp}:127.0.0.1:{echo.port}", "--udp-max-flows", "64", "--threads", "1"])
        fw.wait_line(r"Forwarding udp")
        with udp_sock() as warm:
            self.assertEqual(exchange_on(warm, lp, b"warm"), b"warm")
        base = rss_kib(fw.p.pid)
        payload = b"f" * 1200
        big = b"B" * 60000
        socks = [udp_sock(timeout=1) for _ in range(400)]  # 400 visitors for a bound of 64
        t_end = time.monotonic() + 3.0
        rounds = 0
        while time.monotonic() < t_end and rounds < 40:
            for i, s in enumerate(socks):
                try:
                    s.sendto(big if i % 50 == 0 else payload, ("127.0.0.1", lp))
                except OSError:
                    pass
            rounds += 1
        peak = rss_kib(fw.p.pid)
        for s in socks:
            s.close()
        self.assertLessEqual(metric(fw.metrics_port, "porthole_forward_udp_flows"), 64)
        self.assertGreater(metric(fw.metrics_port, "porthole_forward_udp_flows_evicted_total"), 300)
        # Memory stays within the bound (64 flows, one batch of slots), whatever arrived.
        self.assertLess(peak - base, 16 * 1024, f"RSS grew from {base} to {peak} KiB under the flood")
        with udp_sock() as s:
            self.assertEqual(exchange_on(s, lp, b"still served"), b"still served")
        print(f"flood: {rounds} rounds x 400 visitors, RSS {base} -> {peak} KiB", file=sys.stderr)
        fw.stop()
        echo.close()

    def test_ipv6(self):
        try:
            echo = UdpEcho(host="::1")
        except OSError:
            self.skipTest("no IPv6 loopback")
        (lp,) = free_ports(1, family=socket.AF_INET6, host="::1")
        fw = start_forward(["--udp", f"[::1]:{lp}:[::1]:{echo.port}"])
        fw.wait_line(rf"Forwarding udp \[::1\]:{lp}")
        self.assertEqual(exchange(lp, b"six", host="::1"), b"six")
        fw.stop()
        echo.close()


def exchange_on(s, port, payload, host="127.0.0.1"):
    s.sendto(payload, (host, port))
    d, _ = s.recvfrom(70000)
    return d


if __name__ == "__main__":
    unittest.main(verbosity=2)
