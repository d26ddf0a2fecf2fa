#!/usr/bin/env python3
"""Exits and `porthole socks` (issue 10): curl through SOCKS5 (--socks5-hostname, --socks5) and
an HTTP proxy (-x: CONNECT and absolute-form) to a local web server through `porthole exit`;
RFC 1929 user/password right and wrong; malformed SOCKS requests (fed byte by byte, with early
data) get the RFC's reply; scopes (a token without --allow-exit / --allow-connect for the exit); and the
open-relay test: 40+ forbidden destination spellings and names, sent with exact bytes by a
small SOCKS5 / HTTP client, at listeners on 127.0.0.1-127.0.0.9 and ::1 that count accepts,
proving zero connections — including names that resolve to forbidden addresses through a real
DNS stub (dnsmasq on 127.0.0.77:53; the exit runs in a private mount namespace whose
/etc/resolv.conf points there) and through --hosts-file."""
import http.server
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
from harness import BIN, Proc, Relay, eventually  # noqa: E402

DNS_IP = "127.0.0.77"


def token_create(data, name, *scopes):
    r = subprocess.run([BIN, "token", "create", name, "--data", data, *scopes], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


class Web:
    """A tiny HTTP server on 127.0.0.10:0 that counts requests."""

    def __init__(self, host="127.0.0.10"):
        outer = self
        self.hits = 0

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits += 1
                body = f"hello from {self.path} host={self.headers.get('Host')}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer((host, 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()


class Counters:
    """Listeners on 127.0.0.1-127.0.0.9 and ::1, all on one port, counting accepts."""

    def __init__(self):
        for _ in range(50):
            socks = []
            try:
                first = socket.socket()
                first.bind(("127.0.0.2", 0))
                port = first.getsockname()[1]
                socks.append(first)
                for i in (1, 3, 4, 5, 6, 7, 8, 9):
                    s = socket.socket()
                    s.bind((f"127.0.0.{i}", port))
                    socks.append(s)
                s6 = socket.socket(socket.AF_INET6)
                s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s6.bind(("::1", port))
                socks.append(s6)
                break
            except OSError:
                for s in socks:
                    s.close()
        self.port = port
        self.socks = socks
        self.accepts = 0
        for s in socks:
            s.listen(64)
            threading.Thread(target=self._loop, args=(s,), daemon=True).start()

    def _loop(self, s):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            self.accepts += 1
            c.close()

    def close(self):
        for s in self.socks:
            s.close()


class NsProc(Proc):
    """A porthole process in a private mount namespace whose /etc/resolv.conf names the DNS
    stub: the exit's real resolver (getaddrinfo) asks dnsmasq; nothing else on the machine
    changes."""

    def __init__(self, args, resolv):
        self.args = args
        script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
        self.p = subprocess.Popen(["unshare", "-m", "sh", "-c", script, resolv, BIN] + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        harness._procs.append(self.p)
        Proc.all.append(self)
        self.out, self.err = [], []
        self._eof = 0
        self._cv = threading.Condition()
        for stream, sink in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=self._reader, args=(stream, sink), daemon=True).start()


def socks5(port, host_bytes, atyp, dport, user=None, early=b"", greeting=None):
    """Raw SOCKS5 CONNECT; returns the reply's REP byte (or None if closed) and the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    if greeting is None:
        greeting = b"\x05\x01\x02" if user else b"\x05\x01\x00"
    s.sendall(greeting)
    m = s.recv(2)
    if len(m) < 2 or m[1] == 0xFF:
        s.close()
        return ("method", m), None
    if user:
        u, p = user
        s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        a = s.recv(2)
        if a != b"\x01\x00":
            s.close()
            return ("auth", a), None
    if atyp == 3:
        addr = bytes([len(host_bytes)]) + host_bytes
    else:
        addr = host_bytes
    s.sendall(b"\x05\x01\x00" + bytes([atyp]) + addr + struct.pack(">H", dport) + early)
    rep = s.recv(10)
    if len(rep) < 2:
        s.close()
        return ("closed", rep), None
    return rep[1], s


def http_proxy(port, request):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(request)
    data = b""
    while b"\r\n" not in data:
        d = s.recv(4096)
        if not d:
            break
        data += d
    s.close()
    return data.split(b"\r\n", 1)[0]


class Socks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="porthole-socks-")
        cls.data = os.path.join(cls.tmp, "relay")
        cls.office_token = token_create(cls.data, "office", "--allow-private", "office*,wide")
        cls.laptop_token = token_create(cls.data, "laptop", "--allow-connect", "office*,wide")
        cls.stranger_token = token_create(cls.data, "stranger", "--allow-connect", "other-*")
        cls.relay = Relay(data=cls.data)
        cls.web = Web()
        cls.counters = Counters()
        cls.hosts = os.path.join(cls.tmp, "hosts")
        with open(cls.hosts, "w") as f:
            f.write(f"127.0.0.10 web.test\n127.0.0.3 evil-hosts.test\n127.0.0.10 mixed.test\n127.0.0.4 mixed.test\n")
        # The DNS stub: dnsmasq answering evil.test with a loopback address (and nothing else).
        cls.dnsmasq = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
             f"--listen-address={DNS_IP}", "--port=53", "--address=/evil.test/127.0.0.3",
             "--address=/evil6.test/::1", "--address=/web-dns.test/127.0.0.10", "--log-facility=-", "--user=root"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.resolv = os.path.join(cls.tmp, "resolv.conf")
        with open(cls.resolv, "w") as f:
            f.write(f"nameserver {DNS_IP}\noptions timeout:1 attempts:1\n")
        eventually(lambda: subprocess.run(["dig", "+short", "+time=1", "+tries=1", f"@{DNS_IP}", "evil.test"],
                                          capture_output=True, text=True, timeout=5).stdout.strip() == "127.0.0.3",
                   what="dnsmasq answering")
        agent = ["--relay", cls.relay.addr, "--token", cls.office_token, "--relay-fingerprint", cls.relay.fingerprint,
                 "--log", "stderr"]
        # The narrow exit: the web server only (loopback must be listed to be reachable at all).
        cls.office = cls.exit_proc(["exit", "office", "--allow-dest", f"127.0.0.10:{cls.web.port}",
                                    "--allow-dest", f"web.test:{cls.web.port}", "--allow-dest", "127.0.0.11",
                                    "--hosts-file", cls.hosts,
                                    "--inspect", "127.0.0.1:0"] + agent)
        cls.office.wait_line(r"Exit exit://office allows ")
        cls.office_metrics = cls.office.wait_line(r"Web Interface (http://\S+)").group(1) + "/metrics"
        # The wide exit: every public address, nothing special (loopback & co) listed.
        cls.wide = cls.exit_proc(["exit", "wide", "--allow-dest", "0.0.0.0/0", "--allow-dest", "::/0",
                                  "--hosts-file", cls.hosts, "--inspect", "off"] + agent)
        cls.wide.wait_line(r"Exit exit://wide allows 0\.0\.0\.0/0 ::/0")
        laptop = ["--relay", cls.relay.addr, "--token", cls.laptop_token, "--relay-fingerprint", cls.relay.fingerprint]
        cls.s_office = Proc(["socks", "--listen", "127.0.0.1:0", "--via", "office"] + laptop)
        cls.p_office = int(cls.s_office.wait_line(r"SOCKS5 and HTTP proxy on 127\.0\.0\.1:(\d+)").group(1))
        cls.s_wide = Proc(["socks", "--listen", "127.0.0.1:0", "--via", "wide"] + laptop)
        cls.p_wide = int(cls.s_wide.wait_line(r"SOCKS5 and HTTP proxy on 127\.0\.0\.1:(\d+)").group(1))
        cls.s_auth = Proc(["socks", "--listen", "0", "--via", "office", "--user", "alice:s3cret"] + laptop)
        cls.p_auth = int(cls.s_auth.wait_line(r"SOCKS5 and HTTP proxy on 127\.0\.0\.1:(\d+)").group(1))

    @classmethod
    def exit_proc(cls, args):
        return NsProc(args, cls.resolv)

    @classmethod
    def tearDownClass(cls):
        for p in Proc.all:
            if p.p.poll() is None:
                p.stop()
        cls.dnsmasq.kill()
        cls.dnsmasq.wait(10)
        cls.web.close()
        cls.counters.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def curl(self, *args):
        return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True, timeout=30)

    def test_curl_socks5_and_http_proxy(self):
        w = self.web.port
        hits = self.web.hits
        for args in (["--socks5-hostname", f"127.0.0.1:{self.p_office}", f"http://web.test:{w}/a"],
                     ["--socks5", f"127.0.0.1:{self.p_office}", f"http://127.0.0.10:{w}/b"],
                     ["-x", f"http://127.0.0.1:{self.p_office}", f"http://web.test:{w}/c?q=1"],
                     ["-p", "-x", f"http://127.0.0.1:{self.p_office}", f"http://web.test:{w}/d"],
                     # resolved by the exit's real resolver, through the DNS stub, to an allowed address
                     ["--socks5-hostname", f"127.0.0.1:{self.p_office}", f"http://web-dns.test:{w}/e"]):
            r = self.curl(*args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            path = args[-1].split(str(w), 1)[1]
            self.assertEqual(r.stdout, f"hello from {path} host={args[-1].split('/')[2]}\n", args)
        self.assertEqual(self.web.hits, hits + 5)

    def test_user_password(self):
        w = self.web.port
        r = self.curl("--socks5-hostname", f"alice:s3cret@127.0.0.1:{self.p_auth}", f"http://web.test:{w}/ok")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.curl("--proxy-user", "alice:s3cret", "-x", f"http://127.0.0.1:{self.p_auth}", f"http://web.test:{w}/")
        self.assertEqual(r.returncode, 0, r.stderr)
        hits = self.web.hits
        # Wrong password: status 1 (RFC 1929); no method offered that the server wants: 0xFF.
        got, _ = socks5(self.p_auth, b"web.test", 3, w, user=(b"alice", b"wrong"))
        self.assertEqual(got, ("auth", b"\x01\x01"))
        got, _ = socks5(self.p_auth, b"web.test", 3, w)
        self.assertEqual(got, ("method", b"\x05\xff"))
        self.assertEqual(http_proxy(self.p_auth, f"GET http://web.test:{w}/ HTTP/1.1\r\nHost: web.test\r\n\r\n".encode()),
                         b"HTTP/1.1 407 Proxy Authentication Required")
        self.assertEqual(self.web.hits, hits)
        self.s_auth.wait_line(r"authentication failed", stream="err")

    def test_byte_by_byte_early_data_and_bad_requests(self):
        w = self.web.port
        s = socket.create_connection(("127.0.0.1", self.p_office), timeout=20)
        req = b"\x05\x01\x00" + b"\x05\x01\x00\x03\x08web.test" + struct.pack(">H", w)
        for b in req[:3]:
            s.send(bytes([b]))
            time.sleep(0.01)  # pacing only: each byte its own segment
        self.assertEqual(s.recv(2), b"\x05\x00")
        http = f"GET /early HTTP/1.0\r\nHost: web.test\r\n\r\n".encode()
        for b in req[3:]:
            s.send(bytes([b]))
            time.sleep(0.005)
        s.sendall(http)  # before the reply
        rep = s.recv(10)
        self.assertEqual(rep[:2], b"\x05\x00")
        body = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            body += d
        s.close()
        self.assertIn(b"hello from /early", body)
        # Unknown command, unknown address type, wrong versions, empty domain: the RFC replies.
        cases = [(b"\x05\x01\x00", b"\x05\x09\x00\x01\x7f\x00\x00\x02\x00\x50", 0x07),
                 (b"\x05\x01\x00", b"\x05\x01\x00\x09\x7f\x00\x00\x02\x00\x50", 0x08),
                 (b"\x05\x01\x00", b"\x05\x02\x00\x01\x7f\x00\x00\x02\x00\x50", 0x07),  # BIND
                 (b"\x05\x01\x00", b"\x04\x01\x00\x01\x7f\x00\x00\x02\x00\x50", 0x01),
                 (b"\x05\x01\x00", b"\x05\x01\x00\x03\x00\x00\x50", 0x01)]
        for greeting, request, want in cases:
            s = socket.create_connection(("127.0.0.1", self.p_office), timeout=20)
            s.sendall(greeting)
            self.assertEqual(s.recv(2), b"\x05\x00")
            s.sendall(request)
            rep = s.recv(10)
            self.assertEqual(rep[:2], bytes([5, want]), request)
            self.assertEqual(s.recv(1), b"")  # closed
            s.close()
        s = socket.create_connection(("127.0.0.1", self.p_office), timeout=20)
        s.sendall(b"\x05\x00")  # no methods at all
        self.assertEqual(s.recv(2), b"\x05\xff")
        s.close()
        s = socket.create_connection(("127.0.0.1", self.p_office), timeout=20)
        s.sendall(b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00")  # SOCKS4: closed without a reply
        self.assertEqual(s.recv(10), b"")
        s.close()
        self.assertEqual(http_proxy(self.p_office, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), b"HTTP/1.1 400 Bad Request")

    def test_open_relay_forbidden_destinations(self):
        p = self.counters.port
        before = self.counters.accepts
        hits = self.web.hits
        names = [
            "127.0.0.1", "127.1", "127.0.1", "0x7f.1", "0X7F.0.0.1", "0x7f000001", "2130706433", "2130706434",
            "017700000001", "017700000003", "0177.0.0.1", "0177.1", "127.000.000.003", "0x7f.0x0.0x0.0x4",
            "127.0.0.0x5", "127.6", "127.0.0.07", "127.0.0.8", "127.0.0.9", "0", "0.0.0.0", "0x0", "00",
            "localhost", "LOCALHOST", "localhost.", "127.0.0.1.", "evil.test", "EVIL.test.", "evil6.test",
            "evil-hosts.test", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::ffff:7f00:2",
            "::127.0.0.3", "::ffff:0:127.0.0.4", "64:ff9b::127.0.0.5", "::", "::ffff:0.0.0.0",
        ]
        for n in names:
            rep, s = socks5(self.p_wide, n.encode(), 3, p)
            self.assertIn(rep, (0x02, 0x01), n)  # 0x02 refused by the exit; 0x01 for what cannot be a name
            if s:
                s.close()
        raw = [(1, socket.inet_aton(f"127.0.0.{i}")) for i in range(1, 10)] + [(1, bytes(4))]
        raw += [(4, socket.inet_pton(socket.AF_INET6, a)) for a in ("::1", "::ffff:127.0.0.2", "::127.0.0.3", "::")]
        for atyp, b in raw:
            rep, s = socks5(self.p_wide, b, atyp, p)
            self.assertEqual(rep, 0x02, (atyp, b))
            if s:
                s.close()
        for auth in ("0x7f.1", "[::1]", "localhost", "evil.test", "2130706433", "127.0.0.2", "[::ffff:127.0.0.3]"):
            line = http_proxy(self.p_wide, f"CONNECT {auth}:{p} HTTP/1.1\r\nHost: {auth}:{p}\r\n\r\n".encode())
            self.assertEqual(line, b"HTTP/1.1 403 Forbidden", auth)
        line = http_proxy(self.p_wide, f"GET http://127.0.0.4:{p}/ HTTP/1.1\r\nHost: 127.0.0.4\r\n\r\n".encode())
        self.assertEqual(line, b"HTTP/1.1 403 Forbidden")
        # The narrow exit: a name with one allowed and one forbidden address is refused whole;
        # the web server's address under another port; a name that is not listed.
        w = self.web.port
        other = w + 1 if w < 65535 else w - 1
        for host, port in (("mixed.test", w), ("127.0.0.10", other), ("web-dns.test", other),
                           ("web.test", p), ("evil.test", w)):
            rep, s = socks5(self.p_office, host.encode(), 3, port)
            self.assertEqual(rep, 0x02, host)
            if s:
                s.close()
        total = len(names) + len(raw) + 8 + 5
        self.assertGreaterEqual(total, 40)
        time.sleep(0.2)  # let any (wrong) connection attempt land before counting
        self.assertEqual(self.counters.accepts, before, "a forbidden destination was connected to")
        self.assertEqual(self.web.hits, hits)
        self.wide.wait_line(r"exit wide: refused evil\.test:\d+ .*evil\.test resolves to 127\.0\.0\.3: .*loopback",
                            stream="err")
        self.wide.wait_line(r"exit wide: refused \[::ffff:127\.0\.0\.2\]:\d+|exit wide: refused 127\.0\.0\.2:", stream="err")
        metrics = urllib.request.urlopen(self.office_metrics, timeout=10).read().decode()
        # The five narrow-exit refusals above (all of them loopback addresses not listed there).
        self.assertRegex(metrics, r'porthole_exit_refused_total\{reason="loopback"\} ([5-9]|\d\d)')

    def test_unreachable_destinations(self):
        # Allowed, but nothing listens there: SOCKS 0x05 / HTTP 502; a name that does not
        # resolve (the DNS stub knows nothing else): 0x04 / 502.
        closed = socket.socket()
        closed.bind(("127.0.0.11", 0))
        port = closed.getsockname()[1]
        closed.close()
        rep, s = socks5(self.p_office, socket.inet_aton("127.0.0.11"), 1, port)
        self.assertEqual(rep, 0x05)
        s.close()
        self.assertEqual(http_proxy(self.p_office, f"CONNECT 127.0.0.11:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()),
                         b"HTTP/1.1 502 Bad Gateway")
        rep, s = socks5(self.p_office, b"nothing.invalid", 3, 80)
        self.assertEqual(rep, 0x04)
        s.close()

    def test_scopes(self):
        # A token without --allow-connect for the exit: refused at the relay, clear on both sides.
        start = len(self.relay.proc.err)
        s = Proc(["socks", "--listen", "0", "--via", "office", "--relay", self.relay.addr, "--token",
                  self.stranger_token, "--relay-fingerprint", self.relay.fingerprint])
        port = int(s.wait_line(r"SOCKS5 and HTTP proxy on 127\.0\.0\.1:(\d+)").group(1))
        hits = self.web.hits
        rep, sock = socks5(port, b"web.test", 3, self.web.port)
        self.assertEqual(rep, 0x02)
        if sock:
            sock.close()
        s.wait_line(r"refused by exit office: this token may not use the exit office", stream="err")
        self.relay.proc.wait_line(r"token stranger\) through exit office refused", stream="err", start=start)
        self.assertEqual(self.web.hits, hits)
        s.stop()
        # An exit name is not a private endpoint (connect), and a private endpoint is no exit.
        r = subprocess.run([BIN, "connect", "office", "--stdio", "--relay", self.relay.addr, "--token",
                            self.laptop_token, "--relay-fingerprint", self.relay.fingerprint],
                           input=b"", capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"office is an exit: use `porthole socks --via office`", r.stderr)

    def test_usage_errors(self):
        r = subprocess.run([BIN, "exit", "x", "--relay", "127.0.0.1:1", "--token", "t"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no --allow-dest", r.stderr)
        r = subprocess.run([BIN, "exit", "x", "--allow-dest", "10.0.0.0/33", "--relay", "127.0.0.1:1", "--token", "t"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("prefix length", r.stderr)
        r = subprocess.run([BIN, "exit", "x", "--allow-dest", "10.0.0.0/8", "--hosts-file", "/nonexistent/hosts",
                            "--relay", "127.0.0.1:1", "--token", "t"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--hosts-file", r.stderr)


if __name__ == "__main__":
    unittest.main()
