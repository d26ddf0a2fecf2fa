#!/usr/bin/env python3
"""ACME (docs/acme.md) against Debian's pebble on loopback: the relay orders certificates for the
custom host names agents register, answering HTTP-01 on its http port; pebble-challtestsrv
answers DNS with 127.0.0.1 for every name. Proves: an issuance end to end (files 0600, chain
verifies against pebble's root from its management port), a renewal forced through the admin
API (a new serial), an order pebble rejects (a blocklisted name) visible in the admin API while
another host still gets its certificate, the account and certificates reused across a relay
restart (no new order), and the HTTP-01 answer itself (only for a pending token). pebble rejects
30% of nonces, so badNonce retries happen on the way."""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from harness import HttpAgent, Relay, eventually  # noqa: E402

PEBBLE = shutil.which("pebble")
CHALLTESTSRV = shutil.which("pebble-challtestsrv")
SCALE = float(os.environ.get("PORTHOLE_TIME_SCALE", "1"))


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """A non-porthole process whose output is collected (for its readiness line)."""

    def __init__(self, args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  env=e, text=True)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()

    def wait(self, text, timeout=15):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not any(text in l for l in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    raise AssertionError(f"{text!r} not seen: {self.lines[-20:]}")
                self.cv.wait(left)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Origin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"origin says hi\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def openssl(*args, **kw):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30, **kw)


class PebbleEnv:
    """pebble + pebble-challtestsrv + a relay using them (one set per test class)."""
    VALIDITY = None  # seconds of pebble's certificates (None: pebble's default, 5 years)
    CHALLENGE = "http-01"  # the relay's acme_challenge (relay.toml); pebble validates that one

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="porthole-acme-")
        # pebble's own HTTPS certificate (its ACME and management ports), which the relay trusts
        # through --acme-ca.
        cls.ca = os.path.join(cls.tmp, "pebble-tls.pem")
        key = os.path.join(cls.tmp, "pebble-tls.key")
        r = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=pebble", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cls.ca)
        assert r.returncode == 0, r.stderr
        dns_port = free_port(socket.SOCK_DGRAM)
        cls.dns = Daemon([CHALLTESTSRV, "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
                          "-tlsalpn01", "", "-management", f"127.0.0.1:{free_port()}", "-defaultIPv6", "",
                          "-defaultIPv4", "127.0.0.1"])
        cls.dns.wait("Starting challenge servers")
        cls.origin = Origin()
        cls.data = os.path.join(cls.tmp, "relay-data")
        cls.acme_port, cls.mgmt_port = free_port(), free_port()
        cls.directory = f"https://127.0.0.1:{cls.acme_port}/dir"
        conf = os.path.join(cls.tmp, "relay.toml")
        write(conf, f'version = 1\n[relay]\nacme_challenge = "{cls.CHALLENGE}"\n')
        cls.relay = Relay(data=cls.data, extra=["--config", conf, "--acme-directory", cls.directory,
                                                "--acme-ca", cls.ca, "--acme-email", "ops@example.com"])
        cfg = {"pebble": {"listenAddress": f"127.0.0.1:{cls.acme_port}",
                          "managementListenAddress": f"127.0.0.1:{cls.mgmt_port}",
                          "certificate": cls.ca, "privateKey": key,
                          "httpPort": cls.relay.http_port, "tlsPort": cls.relay.https_port,
                          "ocspResponderURL": "", "externalAccountBindingRequired": False,
                          "domainBlocklist": ["blocked.example"]}}
        if cls.VALIDITY:
            cfg["pebble"]["certificateValidityPeriod"] = cls.VALIDITY
        cfg_path = os.path.join(cls.tmp, "pebble.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        cls.pebble = Daemon([PEBBLE, "-config", cfg_path, "-dnsserver", f"127.0.0.1:{dns_port}"],
                            env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "30"})
        cls.pebble.wait("ACME directory available")
        # pebble logs that line just before it starts listening: a relay asking at once could be
        # refused and then wait out its retry back-off. Ready means the port accepts.
        eventually(lambda: accepts(cls.acme_port), what="pebble's ACME port accepting")
        cls.agents = []

    @classmethod
    def tearDownClass(cls):
        for a in cls.agents:
            a.proc.stop()
        cls.relay.proc.stop()
        cls.pebble.stop()
        cls.dns.stop()
        cls.origin.shutdown()

    # --- helpers ---
    def admin(self, method, path):
        host, port = self.relay.admin_addr
        c = http.client.HTTPConnection(host, port, timeout=10)
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, json.loads(body) if body else None

    def certificate(self, host):
        status, body = self.admin("GET", "/api/certificates")
        self.assertEqual(status, 200, body)
        for c in body["certificates"]:
            if c["host"] == host:
                return c
        return None

    def agent(self, hostname):
        a = HttpAgent(self.relay.addr, self.relay.fingerprint, self.origin.server_address[1],
                      extra=["--hostname", hostname])
        a.url(timeout=10)
        self.agents.append(a)
        return a

    def files(self, host):
        base = os.path.join(self.data, "acme", host)
        return base + ".crt", base + ".key"

    def serial(self, host):
        r = openssl("x509", "-noout", "-serial", "-in", self.files(host)[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def wait_valid(self, host, timeout=30):
        def valid():
            c = self.certificate(host)
            assert c is not None and c["state"] == "valid" and c["not_after"], c
        eventually(valid, timeout=timeout * SCALE, what=f"a valid certificate for {host}")

    def verify_chain(self, host):
        ctx = ssl.create_default_context(cafile=self.ca)
        root = os.path.join(self.tmp, "pebble-root.pem")
        with urllib.request.urlopen(f"https://127.0.0.1:{self.mgmt_port}/roots/0", context=ctx, timeout=10) as r:
            write(root, r.read().decode())
        crt, _ = self.files(host)
        blocks = read(crt).split("-----END CERTIFICATE-----")
        self.assertGreaterEqual(len(blocks), 3, "leaf + intermediate")
        leaf = os.path.join(self.tmp, f"{host}.leaf.pem")
        rest = os.path.join(self.tmp, f"{host}.chain.pem")
        write(leaf, blocks[0] + "-----END CERTIFICATE-----\n")
        write(rest, "-----END CERTIFICATE-----".join(blocks[1:]))
        r = openssl("verify", "-CAfile", root, "-untrusted", rest, "-verify_hostname", host, leaf)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # The wrong name must not verify (the test can fail).
        r = openssl("verify", "-CAfile", root, "-untrusted", rest, "-verify_hostname", "other.example", leaf)
        self.assertNotEqual(r.returncode, 0)



@unittest.skipUnless(PEBBLE and CHALLTESTSRV, "pebble and pebble-challtestsrv are not installed")
class AcmePebbleTest(PebbleEnv, unittest.TestCase):
    # One flow: the steps depend on each other.
    def test_issuance_rejection_renewal_restart(self):
        self.agent("blocked.example")
        self.agent("app.example.com")
        self.wait_valid("app.example.com")
        crt, key = self.files("app.example.com")
        for f in (crt, key):
            self.assertEqual(os.stat(f).st_mode & 0o777, 0o600, f)
        self.assertEqual(os.stat(os.path.join(self.data, "acme", "account.key")).st_mode & 0o777, 0o600)
        self.verify_chain("app.example.com")
        r = openssl("x509", "-noout", "-checkend", "0", "-in", crt)
        self.assertEqual(r.returncode, 0, r.stdout)

        # The rejected order: failed, with pebble's problem document, and it did not hold back app.
        def rejected():
            c = self.certificate("blocked.example")
            assert c is not None and c["state"] == "failed" and c["failures"] >= 1, c
            return c
        c = eventually(rejected, timeout=20 * SCALE, what="the blocked order failing")
        self.assertEqual(c["problem"]["type"], "urn:ietf:params:acme:error:rejectedIdentifier", c)
        self.assertIn("blocked.example", c["error"])
        self.assertIsNotNone(c["next_attempt"])
        self.assertFalse(os.path.exists(self.files("blocked.example")[0]))
        self.relay.proc.wait_line(r"acme: order for blocked.example failed", stream="err", timeout=5)

        # HTTP-01 answers only pending tokens; anything else is routed as usual (here: the origin).
        conn = http.client.HTTPConnection("127.0.0.1", self.relay.http_port, timeout=10)
        conn.request("GET", "/.well-known/acme-challenge/" + "A" * 43, headers={"Host": "app.example.com"})
        r = conn.getresponse()
        self.assertEqual((r.status, r.read()), (200, b"origin says hi\n"))
        conn.close()

        # Forced renewal through the admin API: a new certificate (serial) in place.
        before = self.serial("app.example.com")
        status, body = self.admin("POST", "/api/certificates/app.example.com")
        self.assertEqual(status, 202, body)
        eventually(lambda: self.serial("app.example.com") != before, timeout=30 * SCALE, what="a renewed certificate")
        self.wait_valid("app.example.com")
        self.verify_chain("app.example.com")
        self.assertEqual(self.admin("POST", "/api/certificates/unknown.example")[0], 404)

        # pebble refused 30% of the nonces (PEBBLE_WFE_NONCEREJECT): the orders above went
        # through because badNonce was retried, and /metrics counted it.
        host, port = self.relay.admin_addr
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        counts = {l.split()[0]: float(l.split()[1]) for l in metrics.splitlines() if l.startswith("porthole_acme")}
        self.assertGreater(counts.get("porthole_acme_bad_nonce_retries_total", 0), 0, counts)
        self.assertGreaterEqual(counts.get("porthole_acme_certificates_issued_total", 0), 2, counts)
        self.assertGreater(counts.get("porthole_acme_http01_served_total", 0), 0, counts)

        # Restart: the account and the certificate are reused; the agent re-registers, no new order.
        renewed = self.serial("app.example.com")
        self.relay.proc.stop()
        self.relay.start()
        self.relay.proc.wait_line(r"acme: certificate for app.example.com valid until", stream="err", timeout=10)
        self.relay.proc.wait_line(r"endpoint http://app\.example\.com\S* bound", stream="err", timeout=20)
        self.wait_valid("app.example.com")
        self.assertEqual(self.serial("app.example.com"), renewed)
        self.assertEqual(self.relay.proc.count(r"ordering a certificate for app.example.com", stream="err"), 0)
        if os.environ.get("VERBOSE"):
            print("\n".join(l for l in self.relay.proc.err if "acme" in l))


@unittest.skipUnless(PEBBLE and CHALLTESTSRV, "pebble and pebble-challtestsrv are not installed")
class AcmeRenewalTimerTest(PebbleEnv, unittest.TestCase):
    VALIDITY = 6  # renewal due 4 s after issuance, by the timer alone

    def test_renewed_at_two_thirds_of_the_lifetime(self):
        self.agent("short.example.com")
        self.wait_valid("short.example.com")
        first = self.certificate("short.example.com")
        serials = {self.serial("short.example.com")}
        eventually(lambda: serials.add(self.serial("short.example.com")) or len(serials) >= 2,
                   timeout=20 * SCALE, what="a renewal by the timer")
        self.wait_valid("short.example.com")
        self.verify_chain("short.example.com")
        c = self.certificate("short.example.com")
        self.assertEqual(first["renew_at"] > first["not_before"], True, first)
        # Not before two thirds of the lifetime (4 s; 1 s of rounding allowed).
        gap = to_epoch(c["not_before"]) - to_epoch(first["not_before"])
        self.assertGreaterEqual(gap, 3, (first, c))
        self.assertEqual(self.relay.proc.count(r"admin API: certificate renewal", stream="err"), 0)


@unittest.skipUnless(PEBBLE and CHALLTESTSRV, "pebble and pebble-challtestsrv are not installed")
class AcmeTlsAlpnTest(PebbleEnv, unittest.TestCase):
    CHALLENGE = "tls-alpn-01"  # RFC 8737 on the relay's https port; pebble dials it

    def test_issued_through_tls_alpn_01(self):
        self.agent("alpn.example.com")
        self.wait_valid("alpn.example.com")
        self.verify_chain("alpn.example.com")
        host, port = self.relay.admin_addr
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        served = [l for l in metrics.splitlines() if l.startswith('porthole_relay_https_connections_total{route="acme_challenge"}')]
        self.assertTrue(served and float(served[0].split()[1]) >= 1, served)
        self.assertEqual([l for l in metrics.splitlines() if l.startswith("porthole_acme_http01_served_total ")
                          and float(l.split()[1]) > 0], [], "no HTTP-01 in this run")
        # The certificate is served on the https port for the name (not the challenge one).
        ctx = ssl.create_default_context(cafile=os.path.join(self.tmp, "pebble-root.pem"))
        with socket.create_connection(("127.0.0.1", self.relay.https_port), timeout=10) as s, \
                ctx.wrap_socket(s, server_hostname="alpn.example.com") as t:
            self.assertIn(("DNS", "alpn.example.com"), t.getpeercert()["subjectAltName"])


def to_epoch(rfc3339):
    import calendar
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    unittest.main()
