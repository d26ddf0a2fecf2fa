#!/usr/bin/env python3
"""SOCKS5 UDP ASSOCIATE through `porthole socks` and an exit (issue 10): a real client (npm socks,
tests/js/socks_udp_client.js) resolves a name with a real DNS server (dnsmasq on 127.0.0.78:5353,
allowed by --allow-dest) through the exit and gets its answer; a datagram whose destination name is
resolved at the exit reaches an allowed echo server and the answer names its source; datagrams to
forbidden destinations (an address, a name resolving to one, loopback, an allowed host on another
port) never reach a UDP listener that counts them, while the exit's refusal counter moves;
datagrams from another source address or port than the client's, and fragments (FRAG != 0), are
dropped; the association ends with its TCP control connection. Raw clients send exact bytes."""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Proc, Relay, eventually  # noqa: E402

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")
NODE = shutil.which("node")
HAVE_SOCKS = NODE is not None and os.path.isdir(os.path.join(JS, "node_modules", "socks"))
DNS_IP, DNS_PORT = "127.0.0.78", 5353
FORBIDDEN_IP, ECHO_IP = "127.0.0.79", "127.0.0.80"
SCALE = float(os.environ.get("PORTHOLE_TIME_SCALE", "1"))


class UdpServer:
    """A UDP socket on HOST:0 counting datagrams; echo=True answers each with b"echo:" + data."""

    def __init__(self, host, echo):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.echo = echo
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            self.got.append((data, peer))
            if self.echo:
                self.sock.sendto(b"echo:" + data, peer)

    def close(self):
        self.sock.close()


def dns_query(name, qid=0x1234):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)  # A, IN


def dns_a_records(msg):
    qid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    pos = 12
    for _ in range(qd):
        while msg[pos] != 0:
            pos += 1 + msg[pos]
        pos += 5
    out = []
    for _ in range(an):
        if msg[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while msg[pos] != 0:
                pos += 1 + msg[pos]
            pos += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
        pos += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(msg[pos:pos + 4]))
        pos += rdlen
    return qid, out


def udp_header(host, port, frag=0):
    try:
        addr = b"\x01" + socket.inet_aton(host)
    except OSError:
        addr = b"\x03" + bytes([len(host)]) + host.encode()
    return b"\x00\x00" + bytes([frag]) + addr + struct.pack(">H", port)


def parse_header(d):
    assert d[:3] == b"\x00\x00\x00", d
    assert d[3] == 1, d
    return socket.inet_ntoa(d[4:8]), struct.unpack(">H", d[8:10])[0], d[10:]


class Association:
    """A raw UDP ASSOCIATE: the TCP control connection and the relay address of the reply."""

    def __init__(self, port, client_port=0):
        self.tcp = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.tcp.sendall(b"\x05\x01\x00")
        assert self.tcp.recv(2) == b"\x05\x00"
        self.tcp.sendall(b"\x05\x03\x00\x01" + socket.inet_aton("0.0.0.0") + struct.pack(">H", client_port))
        rep = b""
        while len(rep) < 10:
            d = self.tcp.recv(10 - len(rep))
            assert d, rep
            rep += d
        assert rep[:4] == b"\x05\x00\x00\x01", rep
        self.relay = (socket.inet_ntoa(rep[4:8]), struct.unpack(">H", rep[8:10])[0])

    def close(self):
        self.tcp.close()


def udp_socket(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(10 * SCALE)
    return s


class SocksUdp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="porthole-socks-udp-")
        cls.relay = Relay()
        cls.echo = UdpServer(ECHO_IP, echo=True)
        cls.counter = UdpServer(FORBIDDEN_IP, echo=False)  # must stay at zero
        cls.hosts = os.path.join(cls.tmp, "hosts")
        with open(cls.hosts, "w") as f:
            f.write(f"{ECHO_IP} echo.test\n{FORBIDDEN_IP} evil.test\n")
        cls.dnsmasq = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
             f"--listen-address={DNS_IP}", f"--port={DNS_PORT}", "--address=/udp.test/192.0.2.55",
             "--log-facility=-", "--user=root", "--pid-file="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually(lambda: subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(DNS_PORT), f"@{DNS_IP}",
                                           "udp.test"], capture_output=True, text=True,
                                          timeout=5).stdout.strip() == "192.0.2.55", what="dnsmasq answering")
        agent = ["--relay", cls.relay.addr, "--token", cls.relay.token, "--relay-fingerprint", cls.relay.fingerprint]
        cls.exit = Proc(["exit", "office", "--allow-dest", f"{DNS_IP}:{DNS_PORT}",
                         "--allow-dest", f"{ECHO_IP}:{cls.echo.port}", "--allow-dest", f"echo.test:{cls.echo.port}",
                         "--allow-dest", f"evil.test:{cls.counter.port}", "--hosts-file", cls.hosts,
                         "--inspect", "127.0.0.1:0", "--log", "stderr"] + agent)
        cls.exit.wait_line(r"Exit exit://office allows ")
        cls.metrics_url = cls.exit.wait_line(r"Web Interface (http://\S+)").group(1) + "/metrics"
        cls.socks = Proc(["socks", "--listen", "127.0.0.1:0", "--via", "office"] + agent)
        cls.port = int(cls.socks.wait_line(r"SOCKS5 and HTTP proxy on 127\.0\.0\.1:(\d+)").group(1))

    @classmethod
    def tearDownClass(cls):
        for p in Proc.all:
            if p.p.poll() is None:
                p.stop()
        cls.dnsmasq.kill()
        cls.dnsmasq.wait(10)
        cls.echo.close()
        cls.counter.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def metric(self, name):
        text = urllib.request.urlopen(self.metrics_url, timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def echo_through(self, assoc, sock, payload, host=ECHO_IP):
        sock.sendto(udp_header(host, self.echo.port) + payload, assoc.relay)
        src, sport, data = parse_header(sock.recv(65536))
        self.assertEqual((src, sport, data), (ECHO_IP, self.echo.port, b"echo:" + payload))

    @unittest.skipUnless(HAVE_SOCKS, "node or tests/js/node_modules/socks missing (npm ci in tests/js)")
    def test_dns_through_the_exit_with_npm_socks(self):
        sends = [{"host": DNS_IP, "port": DNS_PORT, "data": dns_query("udp.test").hex()},
                 {"host": "echo.test", "port": self.echo.port, "data": b"by-name".hex()}]  # resolved at the exit
        r = subprocess.run([NODE, os.path.join(JS, "socks_udp_client.js"), str(self.port), json.dumps(sends), "10000"],
                           capture_output=True, text=True, timeout=60 * SCALE)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        got = json.loads(r.stdout)
        self.assertTrue(got["ok"], got)
        self.assertEqual(got["relay"]["host"], "127.0.0.1")
        by_source = {(a["host"], a["port"]): bytes.fromhex(a["data"]) for a in got["answers"]}
        qid, addrs = dns_a_records(by_source[(DNS_IP, DNS_PORT)])
        self.assertEqual((qid, addrs), (0x1234, ["192.0.2.55"]))
        self.assertEqual(by_source[(ECHO_IP, self.echo.port)], b"echo:by-name")

    def test_forbidden_destinations_are_dropped_and_counted(self):
        before_lo = self.metric('porthole_exit_refused_total{reason="loopback"}')
        assoc = Association(self.port)
        s = udp_socket()
        try:
            for host, port in ((FORBIDDEN_IP, self.counter.port),   # not listed
                               ("evil.test", self.counter.port),    # a name entry never opens loopback
                               ("2130706511", self.counter.port),   # 127.0.0.79 spelled as a number
                               (ECHO_IP, self.counter.port),        # the allowed host, another port
                               ("127.0.0.1", self.counter.port)):
                s.sendto(udp_header(host, port) + b"must not arrive", assoc.relay)
            # The exit handles an association's datagrams in order: once this echo is back, the
            # forbidden ones before it were decided.
            self.echo_through(assoc, s, b"after")
            # All five are loopback addresses that no entry lists at that port: the same check,
            # reason and counter as a TCP exit stream.
            eventually(lambda: self.metric('porthole_exit_refused_total{reason="loopback"}') >= before_lo + 5,
                       what="loopback refusals counted")
            self.assertGreaterEqual(self.metric('porthole_exit_udp_dropped_total{reason="forbidden"}'), 5)
            self.assertEqual(self.counter.got, [])
            self.exit.wait_line(r"refused udp .* for ", stream="err")
        finally:
            s.close()
            assoc.close()

    def test_foreign_sources_and_fragments_are_dropped(self):
        s = udp_socket()
        assoc = Association(self.port, client_port=s.getsockname()[1])
        others = [udp_socket("127.0.0.1"), udp_socket("127.0.0.2")]  # another port; another address
        try:
            start = len(self.echo.got)
            for o in others:
                o.sendto(udp_header(ECHO_IP, self.echo.port) + b"foreign", assoc.relay)
            s.sendto(udp_header(ECHO_IP, self.echo.port, frag=1) + b"fragment", assoc.relay)
            s.sendto(udp_header(ECHO_IP, self.echo.port, frag=0x81) + b"fragment", assoc.relay)
            self.echo_through(assoc, s, b"mine")
            self.assertEqual([d for d, _ in self.echo.got[start:]], [b"mine"])
            for o in others:
                o.settimeout(0.3)
                self.assertRaises(socket.timeout, o.recv, 100)
        finally:
            for o in [s] + others:
                o.close()
            assoc.close()
        # Without a port in the request, the first datagram names the client's port.
        assoc = Association(self.port)
        s, other = udp_socket(), udp_socket()
        try:
            self.echo_through(assoc, s, b"first")
            start = len(self.echo.got)
            other.sendto(udp_header(ECHO_IP, self.echo.port) + b"second socket", assoc.relay)
            self.echo_through(assoc, s, b"again")
            self.assertEqual([d for d, _ in self.echo.got[start:]], [b"again"])
        finally:
            s.close()
            other.close()
            assoc.close()

    def test_association_ends_with_the_tcp_connection(self):
        assoc = Association(self.port)
        s = udp_socket()
        try:
            self.echo_through(assoc, s, b"alive")
            assoc.close()
            s.connect(assoc.relay)

            def closed():
                s.send(udp_header(ECHO_IP, self.echo.port) + b"late")
                s.settimeout(0.2)
                try:
                    s.recv(100)
                except ConnectionRefusedError:
                    return True  # ICMP port unreachable: the association's socket is gone
                except socket.timeout:
                    return False
                return False
            eventually(closed, timeout=10 * SCALE, what="the association's UDP socket closed")
            # ... and the exit let go of its side (the RESET went socks -> relay -> exit).
            eventually(lambda: self.metric("porthole_exit_udp_associations") == 0, timeout=10 * SCALE,
                       what="the exit's association ended")
        finally:
            s.close()
        # A new association still works.
        assoc = Association(self.port)
        s = udp_socket()
        try:
            self.echo_through(assoc, s, b"next")
        finally:
            s.close()
            assoc.close()


if __name__ == "__main__":
    unittest.main()
