#!/usr/bin/env python3
"""The relay as the exit (`porthole socks --via relay`, relay.toml [exit] allow_dest) and the
token scope --allow-exit: curl --socks5-hostname and -x through the relay's exit to an allowed
loopback web server (relay.toml lists 127.0.0.5:PORT narrowly); destinations it does not list
(listeners on 127.0.0.1-127.0.0.9 and ::1 that count accepts stay at zero, the relay's /metrics
counts the refusals); a relay without [exit] answers 0x02 / 403 "this relay allows no exit
destinations"; the scope across tokens: without --allow-exit refused, with it allowed, the
older --allow-connect still granting another token's exit but never the relay's."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Proc, Relay  # noqa: E402
from test_socks import Counters, Web, http_proxy, socks5, token_create  # noqa: E402
from test_socks_udp import Association, UdpServer, parse_header, udp_header, udp_socket  # noqa: E402


def socks_proc(relay, token, via):
    p = Proc(["socks", "--listen", "127.0.0.1:0", "--via", via, "--relay", relay.addr, "--token", token,
              "--relay-fingerprint", relay.fingerprint])
    return p, int(p.wait_line(r"SOCKS5 and HTTP proxy on 127\.0\.0\.1:(\d+)").group(1))


class RelayExit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="porthole-relayexit-")
        cls.web = Web(host="127.0.0.5")
        cls.counters = Counters()
        cls.uecho = UdpServer("127.0.0.5", echo=True)
        cls.ucount = UdpServer("127.0.0.3", echo=False)  # not listed: must stay at zero
        data = os.path.join(cls.tmp, "relay")
        cls.tokens = {
            "office": token_create(data, "office", "--allow-private", "office*"),
            "laptop": token_create(data, "laptop", "--allow-exit", "relay"),
            "plain": token_create(data, "plain"),
            "older": token_create(data, "older", "--allow-connect", "office,relay"),
            "exiter": token_create(data, "exiter", "--allow-exit", "off*"),
        }
        conf = os.path.join(cls.tmp, "relay.toml")
        with open(conf, "w") as f:
            f.write(f'version = 1\n[exit]\nallow_dest = ["127.0.0.5:{cls.web.port}", "web.test:{cls.web.port}", '
                    f'"127.0.0.5:{cls.uecho.port}"]\n'
                    f'hosts_file = "hosts"\n')
        with open(os.path.join(cls.tmp, "hosts"), "w") as f:
            f.write("127.0.0.5 web.test\n127.0.0.3 evil.test\n")
        cls.relay = Relay(data=data, extra=["--config", conf])
        cls.office = Proc(["exit", "office", "--allow-dest", f"127.0.0.5:{cls.web.port}", "--inspect", "off",
                           "--relay", cls.relay.addr, "--token", cls.tokens["office"], "--relay-fingerprint",
                           cls.relay.fingerprint])
        cls.office.wait_line(r"Exit exit://office allows ")
        cls.s_relay, cls.p_relay = socks_proc(cls.relay, cls.tokens["laptop"], "relay")

    @classmethod
    def tearDownClass(cls):
        for p in Proc.all:
            if p.p.poll() is None:
                p.stop()
        cls.web.close()
        cls.counters.close()
        cls.uecho.close()
        cls.ucount.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def curl(self, *args):
        return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True, timeout=30)

    def metrics(self):
        host, port = self.relay.admin_addr
        return urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read().decode()

    def test_udp_associate_through_the_relay(self):
        # The relay's exit serves SOCKS5 UDP associations too, each datagram checked like a
        # TCP stream: the listed echo answers; one to an address not listed is never sent.
        def refused():
            return sum(float(line.split()[1]) for line in self.metrics().splitlines()
                       if line.startswith("porthole_exit_refused_total{"))
        before = refused()
        assoc = Association(self.p_relay)
        s = udp_socket()
        try:
            s.sendto(udp_header("127.0.0.5", self.uecho.port) + b"hi", assoc.relay)
            self.assertEqual(parse_header(s.recv(65536)), ("127.0.0.5", self.uecho.port, b"echo:hi"))
            s.sendto(udp_header("127.0.0.3", self.ucount.port) + b"x", assoc.relay)
            s.sendto(udp_header("127.0.0.5", self.uecho.port) + b"after", assoc.relay)  # handled after the refused one
            self.assertEqual(parse_header(s.recv(65536)), ("127.0.0.5", self.uecho.port, b"echo:after"))
            self.assertEqual(self.ucount.got, [])
            self.assertEqual(refused(), before + 1)
        finally:
            s.close()
            assoc.close()

    def test_allowed_destination(self):
        w = self.web.port
        hits = self.web.hits
        for args in (["--socks5-hostname", f"127.0.0.1:{self.p_relay}", f"http://127.0.0.5:{w}/a"],
                     ["--socks5-hostname", f"127.0.0.1:{self.p_relay}", f"http://web.test:{w}/b"],
                     ["-x", f"http://127.0.0.1:{self.p_relay}", f"http://127.0.0.5:{w}/c"]):
            r = self.curl(*args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertIn("hello from /", r.stdout)
        self.assertEqual(self.web.hits, hits + 3)
        self.assertRegex(self.metrics(), r"porthole_exit_connections_total [1-9]")

    def test_not_listed_destinations_make_no_connection(self):
        c = self.counters.port
        before = self.metrics()
        cases = [(socket.inet_aton("127.0.0.5"), 1, c),   # the listed address, another port
                 (socket.inet_aton("127.0.0.2"), 1, c),
                 (socket.inet_aton("127.0.0.1"), 1, c),
                 (b"127.1", 3, c), (b"0x7f.0.0.6", 3, c), (b"2130706433", 3, c),
                 (b"localhost", 3, c), (b"evil.test", 3, c), (b"[::1]", 3, c), (b"::ffff:127.0.0.7", 3, c),
                 (socket.inet_pton(socket.AF_INET6, "::1"), 4, c)]
        for host, atyp, port in cases:
            rep, s = socks5(self.p_relay, host, atyp, port)
            self.assertEqual(rep, 0x02, host)
            if s:
                s.close()
        self.assertEqual(http_proxy(self.p_relay, f"CONNECT 127.0.0.4:{c} HTTP/1.1\r\nHost: x\r\n\r\n".encode()),
                         b"HTTP/1.1 403 Forbidden")
        self.assertEqual(self.counters.accepts, 0)
        self.relay.proc.wait_line(r"exit relay: refused evil\.test:\d+ for .*token laptop.*resolves to 127\.0\.0\.3: "
                                  r"127\.0\.0\.3 is a loopback address: refused unless \[exit\] allow_dest lists it",
                                  stream="err")
        m = self.metrics()
        self.assertNotEqual(before, m)
        self.assertRegex(m, r'porthole_exit_refused_total\{reason="loopback"\} ([5-9]|\d\d)')

    def test_a_relay_without_exit_config_allows_nothing(self):
        data = os.path.join(self.tmp, "bare")
        token = token_create(data, "laptop", "--allow-exit", "relay")
        relay = Relay(data=data)
        s, port = socks_proc(relay, token, "relay")
        hits = self.web.hits
        rep, sock = socks5(port, socket.inet_aton("127.0.0.5"), 1, self.web.port)
        self.assertEqual(rep, 0x02)
        if sock:
            sock.close()
        self.assertEqual(http_proxy(port, f"CONNECT 127.0.0.5:{self.web.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()),
                         b"HTTP/1.1 403 Forbidden")
        s.wait_line(r"this relay allows no exit destinations", stream="err")
        relay.proc.wait_line(r"this relay allows no exit destinations", stream="err")
        self.assertEqual(self.web.hits, hits)
        s.stop()
        relay.proc.stop()

    def test_scopes_across_tokens(self):
        w = self.web.port
        ok = ["--socks5-hostname", None, f"http://127.0.0.5:{w}/scoped"]
        for token, via, allowed, why in (
                ("plain", "relay", False, "this token may not use the relay's exit"),
                ("plain", "office", False, "this token may not use the exit office"),
                ("older", "office", True, None),   # --allow-connect: the older way, still granting exits
                ("older", "relay", False, "this token may not use the relay's exit"),  # ... but never the relay's
                ("exiter", "office", True, None),  # --allow-exit off*
                ("exiter", "relay", False, "this token may not use the relay's exit"),
                ("office", "office", True, None)):  # its own exit
            s, port = socks_proc(self.relay, self.tokens[token], via)
            hits = self.web.hits
            ok[1] = f"127.0.0.1:{port}"
            r = self.curl(*ok)
            if allowed:
                self.assertEqual(r.returncode, 0, (token, via, r.stderr))
                self.assertEqual(self.web.hits, hits + 1)
            else:
                self.assertNotEqual(r.returncode, 0, (token, via))
                self.assertEqual(self.web.hits, hits)
                s.wait_line(why, stream="err")
            s.stop()

    def test_relay_is_a_reserved_private_name(self):
        r = subprocess.run([BIN, "connect", "relay", "--stdio", "--relay", self.relay.addr, "--token",
                            self.tokens["laptop"], "--relay-fingerprint", self.relay.fingerprint],
                           input=b"", capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"use `porthole socks --via relay`", r.stderr)
        r = subprocess.run([BIN, "tcp", "9", "--private", "relay", "--relay", self.relay.addr, "--token",
                            self.tokens["office"], "--relay-fingerprint", self.relay.fingerprint,
                            "--exit-on-failure", "--inspect", "off"], capture_output=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"reserved", r.stderr)

    def test_tunnel_kind_exit_via_start(self):
        cfg = os.path.join(self.tmp, "porthole.toml")
        with open(cfg, "w") as f:
            f.write(f'''version = 1
[agent]
relay = "{self.relay.addr}"
token = "{self.tokens["office"]}"
relay_fingerprint = "{self.relay.fingerprint}"

[[tunnel]]
name = "office-b"
kind = "exit"
allow_dest = ["127.0.0.5:{self.web.port}"]
''')
        r = subprocess.run([BIN, "config", "check", cfg], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        p = Proc(["start", "--config", cfg, "--inspect", "off"], env={"XDG_CONFIG_HOME": self.tmp})
        p.wait_line(rf"Exit exit://office-b allows 127\.0\.0\.5:{self.web.port}")
        s, port = socks_proc(self.relay, self.tokens["office"], "office-b")
        hits = self.web.hits
        r = self.curl("--socks5-hostname", f"127.0.0.1:{port}", f"http://127.0.0.5:{self.web.port}/from-start")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.web.hits, hits + 1)
        rep, sock = socks5(port, socket.inet_aton("127.0.0.2"), 1, self.counters.port)
        self.assertEqual(rep, 0x02)
        if sock:
            sock.close()
        self.assertEqual(self.counters.accepts, 0)
        s.stop()
        p.stop()
        # file:line:key errors like the rest.
        bad = os.path.join(self.tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('version = 1\n[[tunnel]]\nname = "x"\nkind = "exit"\nlocal = 22\n\n'
                    '[[tunnel]]\nname = "y"\nkind = "exit"\nallow_dest = ["10.0.0.0/8:0"]\n\n'
                    '[[tunnel]]\nname = "z"\nkind = "exit"\nprivate = "no spaces"\nallow_dest = []\n')
        r = subprocess.run([BIN, "config", "check", bad], capture_output=True, text=True, timeout=30)
        out = r.stdout + r.stderr
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(out, r"bad\.toml:5: tunnel\[0\]\.local: an exit has no local service")
        self.assertRegex(out, r"bad\.toml:2: tunnel\[0\]\.allow_dest: missing")
        self.assertRegex(out, r"bad\.toml:10: tunnel\[1\]\.allow_dest\[0\]: 10\.0\.0\.0/8:0: port 0")
        self.assertRegex(out, r"bad\.toml:15: tunnel\[2\]\.private: 'no spaces'")
        self.assertRegex(out, r"bad\.toml:16: tunnel\[2\]\.allow_dest: empty")

    def test_relay_config_check(self):
        bad = os.path.join(self.tmp, "bad-relay.toml")
        with open(bad, "w") as f:
            f.write('version = 1\n[exit]\nallow_dest = ["10.0.0.0/33"]\nfoo = 1\n')
        r = subprocess.run([BIN, "config", "check", bad], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stdout + r.stderr, r"bad-relay\.toml:3:.*exit\.allow_dest.*prefix length")
        self.assertRegex(r.stdout + r.stderr, r"bad-relay\.toml:4:.*exit\.foo")


if __name__ == "__main__":
    unittest.main()
