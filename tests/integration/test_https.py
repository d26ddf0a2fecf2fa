#!/usr/bin/env python3
"""The relay's https listener end to end, with real peers: curl (--resolve, --cacert, client
certificates), `openssl s_client` / `openssl s_server`, raw sockets for bad input.

Terminated hosts (the relay's local CA for *.localhost, [[certificate]] files with a wildcard and
an exact name, reload on change), passthrough (`porthole tls`: the visitor sees the agent's
certificate; the relay has none for that name), 421, unknown SNI, mTLS accepted and refused,
--redirect-https and HSTS, bad input by reason, and 1,000 stalled handshakes."""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Proc  # noqa: E402
from http_harness import (CURL, TOKEN, CheckedProcesses, RecordingOrigin, Relay, free_port, host_of,  # noqa: E402
                          metrics, scaled, start_agent)

OPENSSL = "/usr/bin/openssl"


def run(*cmd, timeout=30, **kw):
    return subprocess.run(list(cmd), capture_output=True, timeout=timeout, **kw)


class Pki:
    """A test CA (openssl CLI) that issues EC P-256 server and client certificates."""

    def __init__(self, name="test-ca"):
        self.dir = tempfile.mkdtemp(prefix="porthole-pki-")
        self.cert, self.key = self.path(f"{name}.pem"), self.path(f"{name}-key.pem")
        r = run(OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", f"/CN={name}",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
        assert r.returncode == 0, r.stderr
        self.n = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, cn, dns=(), client=False, out=None):
        self.n += 1
        base = out or self.path(f"leaf{self.n}")
        cert, key, ext = base + ".pem", base + "-key.pem", base + ".ext"
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            f.write(f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n")
            if dns:
                f.write("subjectAltName=" + ",".join(f"DNS:{d}" for d in dns) + "\n")
        r = run(OPENSSL, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key + ".tmp", "-out", base + ".csr", "-subj", f"/CN={cn}")
        assert r.returncode == 0, r.stderr
        r = run(OPENSSL, "x509", "-req", "-in", base + ".csr", "-CA", self.cert, "-CAkey", self.key,
                "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert + ".tmp")
        assert r.returncode == 0, r.stderr
        os.replace(key + ".tmp", key)  # the key first: a reload never sees a new cert with an old key for long
        os.replace(cert + ".tmp", cert)
        return cert, key

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def s_client(port, servername, *extra, data=b"", timeout=15):
    """openssl s_client against 127.0.0.1:port; (returncode, stdout+stderr text)."""
    cmd = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername, "-showcerts",
           "-verify_quiet", *extra]
    if data:
        cmd.append("-ign_eof")  # read until the server closes (the answer, and TLS 1.3 tickets)
    r = run(*cmd, input=data, timeout=scaled(timeout))
    return r.returncode, r.stdout.decode("latin-1") + r.stderr.decode("latin-1")


def served_cn(port, servername):
    _, out = s_client(port, servername)
    m = re.search(r"^\s*0 s:.*?CN\s*=\s*([^,\n/]+)", out, re.M)
    return m.group(1).strip() if m else None


def corpus(name):
    """A real ClientHello captured from curl / openssl (the fuzz corpus)."""
    with open(os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus", "fuzz_tls_hello", name), "rb") as f:
        return f.read()


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def fingerprint(cert_file):
    r = run(OPENSSL, "x509", "-in", cert_file, "-noout", "-fingerprint", "-sha256")
    return r.stdout.decode().split("=", 1)[1].strip()


def https_curl(port, host, path="/", *args, cacert=None, timeout=15):
    """curl https://HOST:PORT/PATH resolved to 127.0.0.1; (returncode, status, headers text, body)."""
    d = tempfile.mkdtemp(prefix="porthole-curl-")
    hdr = os.path.join(d, "h")
    cmd = [CURL, "-sS", "-D", hdr, "--max-time", str(scaled(timeout)), "--resolve", f"{host}:{port}:127.0.0.1"]
    if cacert:
        cmd += ["--cacert", cacert]
    cmd += list(args) + [f"https://{host}:{port}{path}"]
    try:
        r = run(*cmd, timeout=scaled(timeout) + 10)
        headers = ""
        if os.path.exists(hdr):
            with open(hdr, encoding="latin-1") as f:
                headers = f.read()
        m = re.findall(r"^HTTP/\S+ (\d{3})", headers, re.M)
        return r.returncode, int(m[-1]) if m else 0, headers, r.stdout + r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def reject_count(relay, reason):
    return metrics(relay).get(f'porthole_relay_tls_rejects_total{{reason="{reason}"}}', 0.0)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + scaled(timeout)
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling a condition, bounded by the deadline


def forwarding(agent_proc, scheme="https"):
    m = agent_proc.wait_line(rf"Forwarding {scheme}://([^/:\s]+)(?::(\d+))? -> (\S+)", timeout=scaled(15))
    return m.group(1)


class HttpsTest(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="porthole-https-")
        self.origin = RecordingOrigin("O")

    def tearDown(self):
        self.origin.close()
        super().tearDown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def relay_with(self, toml_body="", extra=()):
        cfg = os.path.join(self.tmp, "relay.toml")
        with open(cfg, "w") as f:
            f.write("version = 1\n" + toml_body)
        return Relay(extra=["--config", cfg, *extra])

    def test_terminated_local_ca_421_and_relay_ca(self):
        relay = Relay()
        agent = start_agent(relay, self.origin.port, "--subdomain", "app")
        host = host_of(agent)
        ca = os.path.join(relay.data, "ca-cert.pem")
        rc, status, headers, _ = https_curl(relay.https_port, host, "/headers", cacert=ca)
        self.assertEqual((rc, status), (0, 200), headers)
        req = self.origin.requests[-1]
        self.assertEqual(req.header("X-Forwarded-Proto"), "https")
        self.assertIn("proto=https", req.header("Forwarded"))
        # A request for another host on this connection's certificate: 421, never routed.
        n = len(self.origin.requests)
        rc, status, _, _ = https_curl(relay.https_port, host, "/", "-H", "Host: other.localhost", cacert=ca)
        self.assertEqual(status, 421)
        self.assertEqual(len(self.origin.requests), n)
        # Only http/1.1 is offered in ALPN, never h2.
        rc, out = s_client(relay.https_port, host, "-alpn", "h2,http/1.1")
        self.assertIn("ALPN protocol: http/1.1", out)
        rc, out = s_client(relay.https_port, host, "-alpn", "h2")
        self.assertIn("No ALPN negotiated", out)
        # TLS 1.0/1.1 refused, 1.2 and 1.3 accepted.
        self.assertNotEqual(s_client(relay.https_port, host, "-tls1_1")[0], 0)
        self.assertIn("Protocol  : TLSv1.2", s_client(relay.https_port, host, "-tls1_2")[1])
        # Session tickets: a second connection resumes.
        sess = os.path.join(self.tmp, "sess")
        s_client(relay.https_port, host, "-sess_out", sess,
                 data=f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        self.assertIn("Reused, TLSv1.3", s_client(relay.https_port, host, "-sess_in", sess)[1])
        # Renegotiation (TLS 1.2, s_client's "R" command) is refused and counted.
        r = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{relay.https_port}", "-servername", host,
                            "-tls1_2"], input=b"R\n", capture_output=True, timeout=scaled(15))
        self.assertIn(b"RENEGOTIATING", r.stdout + r.stderr)
        wait_for(lambda: reject_count(relay, "renegotiation") >= 1, 5, "the renegotiation count")
        # `porthole relay ca` prints that CA.
        r = run(BIN, "relay", "ca", "--data", relay.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(ca) as f:
            self.assertEqual(r.stdout.decode(), f.read())
        # Unknown name under the domain: unrecognized_name, not another host's certificate.
        before = reject_count(relay, "unknown_sni")
        rc, out = s_client(relay.https_port, "nobody.localhost")
        self.assertNotEqual(rc, 0)
        self.assertIn("unrecognized name", out)
        self.assertNotIn("BEGIN CERTIFICATE", out)
        self.assertEqual(reject_count(relay, "unknown_sni"), before + 1)

    def test_file_certificates_wildcard_exact_and_reload(self):
        pki = Pki()
        try:
            wild = pki.issue("wildcard", ["*.example.test"], out=pki.path("wild"))
            exact = pki.issue("exact-1", ["exact.example.test"], out=pki.path("exact"))
            relay = self.relay_with(
                f'[[certificate]]\nhost = "*.example.test"\ncert = "{wild[0]}"\nkey = "{wild[1]}"\n'
                f'[[certificate]]\ncert = "{exact[0]}"\nkey = "{exact[1]}"\n')
            a1 = start_agent(relay, self.origin.port, "--hostname", "a.example.test", name="a1")
            a2 = start_agent(relay, self.origin.port, "--hostname", "exact.example.test", name="a2")
            host_of(a1)
            host_of(a2)
            for host in ("a.example.test", "exact.example.test"):
                rc, status, headers, out = https_curl(relay.https_port, host, "/", cacert=pki.cert)
                self.assertEqual((rc, status), (0, 200), (host, out))
            self.assertEqual(served_cn(relay.https_port, "a.example.test"), "wildcard")
            self.assertEqual(served_cn(relay.https_port, "exact.example.test"), "exact-1")  # most specific
            # The wildcard covers one label only: b.a.example.test has no certificate (and no route).
            rc, out = s_client(relay.https_port, "b.a.example.test")
            self.assertIn("unrecognized name", out)
            # Reload: a new certificate in the same files is served without a restart.
            time.sleep(0.01)  # a different mtime than the first write (filesystem timestamp granularity)
            pki.issue("exact-2", ["exact.example.test"], out=pki.path("exact"))
            wait_for(lambda: served_cn(relay.https_port, "exact.example.test") == "exact-2", 10, "the reload")
        finally:
            pki.close()

    def test_repeated_cert_key_flags(self):
        # --cert/--key pairs on the command line: each serves its names; the first is also the
        # agent listener's certificate (the agents' pin is its fingerprint).
        pki = Pki()
        try:
            one = pki.issue("one", ["one.example.test"], out=pki.path("one"))
            two = pki.issue("two", ["two.example.test"], out=pki.path("two"))
            relay = Relay(extra=["--cert", one[0], "--key", one[1], "--cert", two[0], "--key", two[1]])
            self.assertEqual(relay.fingerprint.replace(":", "").lower(),
                             fingerprint(one[0]).replace(":", "").lower())
            for name in ("one", "two"):
                a = start_agent(relay, self.origin.port, "--hostname", f"{name}.example.test", name=name)
                host_of(a)
                self.assertEqual(served_cn(relay.https_port, f"{name}.example.test"), name)
            bad = Proc(["relay", "--cert", one[0], "--key", one[1], "--cert", two[0], "--data", self.tmp])
            self.assertEqual(bad.p.wait(10), 2)
            bad.wait_line("--cert and --key go together: 2 --cert, 1 --key", stream="err")
        finally:
            pki.close()

    def test_terminated_at_the_agent(self):
        # --terminate-at agent: the relay passes TLS through by SNI; the agent holds the key and
        # speaks HTTP inside (keep-alive, forwarding fields, 421, uploads, error pages).
        pki = Pki("agent-ca")
        cert, key = pki.issue("secure.example.test", ["secure.example.test"])
        relay = Relay()
        agent = Proc(["http", str(self.origin.port), "--hostname", "secure.example.test", "--terminate-at", "agent",
                      "--cert", cert, "--key", key, "--relay", relay.addr, "--token", TOKEN,
                      "--relay-fingerprint", relay.fingerprint, "--inspect", "off"], env={"XDG_CONFIG_HOME": self.tmp})
        self.assertEqual(forwarding(agent), "secure.example.test")
        host, port = "secure.example.test", relay.https_port
        # Two requests, one connection (curl reuses it): both answered, one TLS session.
        rc, status, headers, out = https_curl(port, host, "/headers", "-o", os.devnull, "--next", "--resolve",
                                              f"{host}:{port}:127.0.0.1", "--cacert", pki.cert, "-w",
                                              "%{num_connects}", f"https://{host}:{port}/second", cacert=pki.cert)
        self.assertEqual((rc, status), (0, 200), out)
        self.assertTrue(out.decode().strip().endswith("0"), f"the second request reused the connection: {out}")
        first = self.origin.requests[-2]
        self.assertEqual(first.header("X-Forwarded-Proto"), "https")
        self.assertEqual(first.header("X-Forwarded-For"), "127.0.0.1")
        self.assertIn("proto=https", first.header("Forwarded"))
        # The certificate the visitor saw is the agent's; the relay holds none for the name.
        rc, out = s_client(port, host, "-CAfile", pki.cert)
        pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S).group(0)
        seen = os.path.join(self.tmp, "seen-agent.pem")
        with open(seen, "w") as f:
            f.write(pem + "\n")
        self.assertEqual(fingerprint(seen), fingerprint(cert))
        self.assertGreaterEqual(metrics(relay).get('porthole_relay_https_connections_total{route="passthrough"}', 0), 2)
        # An upload, whole (a body read by the agent off the TLS stream).
        body = os.path.join(self.tmp, "up.bin")
        data = os.urandom(3 << 20)
        with open(body, "wb") as f:
            f.write(data)
        rc, status, _, out = https_curl(port, host, "/upload", "--data-binary", f"@{body}", cacert=pki.cert)
        self.assertEqual((rc, status), (0, 200), out)
        self.assertIn(hashlib.sha256(data).hexdigest(), out.decode())
        # Another Host than the SNI on this connection: 421, never forwarded.
        n = len(self.origin.requests)
        rc, status, _, _ = https_curl(port, host, "/", "-H", "Host: other.example.test", cacert=pki.cert)
        self.assertEqual(status, 421)
        self.assertEqual(len(self.origin.requests), n)
        # Plain HTTP for the name: refused at the relay (it never sees the traffic in clear).
        r = run(CURL, "-s", "-o", os.devnull, "-w", "%{http_code}", "-H", f"Host: {host}",
                f"http://127.0.0.1:{relay.http_port}/")
        self.assertNotEqual(r.stdout.decode(), "200")
        agent.stop()
        # The service down: a 502 page from the agent.
        dead = free_port()
        agent = Proc(["http", str(dead), "--hostname", "secure.example.test", "--terminate-at", "agent",
                      "--cert", cert, "--key", key, "--relay", relay.addr, "--token", TOKEN,
                      "--relay-fingerprint", relay.fingerprint, "--inspect", "off"], env={"XDG_CONFIG_HOME": self.tmp})
        forwarding(agent)
        rc, status, _, _ = https_curl(port, host, "/", cacert=pki.cert)
        self.assertEqual(status, 502)
        agent.stop()

    def test_passthrough_sees_the_agents_certificate(self):
        pki = Pki("agent-ca")
        try:
            cert, key = pki.issue("pass.example.test", ["pass.example.test"])
            port = free_port()
            server = subprocess.Popen([OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", cert, "-key", key,
                                       "-www", "-quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            try:
                wait_for(lambda: listening(port), 10, "openssl s_server")
                relay = Relay()
                agent = Proc(["tls", str(port), "--hostname", "pass.example.test", "--relay", relay.addr, "--token",
                              TOKEN, "--relay-fingerprint", relay.fingerprint, "--inspect", "off"],
                             env={"XDG_CONFIG_HOME": self.tmp})
                self.assertEqual(forwarding(agent), "pass.example.test")
                rc, out = s_client(relay.https_port, "pass.example.test", "-CAfile", pki.cert,
                                   data=b"GET / HTTP/1.0\r\n\r\n")
                self.assertIn("Verify return code: 0 (ok)", out)
                pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S).group(0)
                seen = os.path.join(self.tmp, "seen.pem")
                with open(seen, "w") as f:
                    f.write(pem + "\n")
                self.assertEqual(fingerprint(seen), fingerprint(cert))  # the agent's certificate, end to end
                self.assertIn("s_server", out)  # the -www page came back through the tunnel
                # The relay holds no certificate for that name: plain HTTP to it is refused too.
                self.assertEqual(metrics(relay).get('porthole_relay_https_connections_total{route="passthrough"}'), 1.0)
            finally:
                server.kill()
                server.wait()
        finally:
            pki.close()

    def test_mtls_accepted_refused_and_subject_header(self):
        pki = Pki("visitors-ca")
        try:
            ccert, ckey = pki.issue("visitor-7", client=True)
            relay = Relay()
            agent = start_agent(relay, self.origin.port, "--subdomain", "secure", "--mtls-ca", pki.cert)
            host = host_of(agent)
            ca = os.path.join(relay.data, "ca-cert.pem")
            rc, status, headers, out = https_curl(relay.https_port, host, "/headers", "--cert", ccert, "--key", ckey,
                                                  "-H", "X-Client-Cert-Subject: CN=forged", cacert=ca)
            self.assertEqual((rc, status), (0, 200), out)
            self.assertEqual(self.origin.requests[-1].headers_named("X-Client-Cert-Subject"), ["CN=visitor-7"])
            n = len(self.origin.requests)
            before = reject_count(relay, "client_certificate")
            rc, status, _, out = https_curl(relay.https_port, host, "/", cacert=ca)
            self.assertNotEqual(rc, 0, out)
            self.assertEqual(status, 0)
            self.assertEqual(len(self.origin.requests), n)
            wait_for(lambda: reject_count(relay, "client_certificate") >= before + 1, 5, "the client_certificate count")
            # Without mTLS the header is stripped: visitors cannot forge it.
            a2 = start_agent(relay, self.origin.port, "--subdomain", "open", name="open")
            rc, status, _, _ = https_curl(relay.https_port, host_of(a2), "/headers", "-H", "X-Client-Cert-Subject: CN=x",
                                          cacert=ca)
            self.assertEqual(status, 200)
            self.assertEqual(self.origin.requests[-1].headers_named("X-Client-Cert-Subject"), [])
        finally:
            pki.close()

    def test_redirect_https_and_hsts(self):
        relay = Relay()
        agent = start_agent(relay, self.origin.port, "--subdomain", "red", "--redirect-https", "--hsts")
        host = host_of(agent)
        r = run(CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--resolve",
                f"{host}:{relay.http_port}:127.0.0.1", f"http://{host}:{relay.http_port}/a/b?c=1")
        self.assertEqual(r.stdout.decode(), f"308 https://{host}:{relay.https_port}/a/b?c=1")
        rc, status, headers, out = https_curl(relay.https_port, host, "/", cacert=os.path.join(relay.data, "ca-cert.pem"))
        self.assertEqual(status, 200, out)
        self.assertRegex(headers, r"(?im)^strict-transport-security: max-age=31536000\r?$")

    def test_bad_input_by_reason(self):
        relay = self.relay_with("[relay]\ntls_handshake_timeout = \"1s\"\n")
        port = relay.https_port

        def send(data, expect_alert=None):
            s = socket.create_connection(("127.0.0.1", port), timeout=scaled(5))
            s.sendall(data)
            got = b""
            try:
                while True:
                    d = s.recv(4096)
                    if not d:
                        break
                    got += d
            except ConnectionResetError:
                pass
            s.close()
            if expect_alert is not None:
                self.assertEqual(got, bytes([21, 3, 3, 0, 2, 2, expect_alert]))
            return got

        send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        send(bytes([0x80, 0x2e, 0x01, 0x00, 0x02]) + b"\x00" * 45)
        send(bytes([22, 3, 1, 0x40, 0x01]), expect_alert=22)  # record_overflow
        hello = corpus("curl")
        t0 = time.monotonic()
        send(hello[:60])  # half a hello, then silence: closed at the deadline
        self.assertLess(time.monotonic() - t0, scaled(5))
        no_sni = corpus("openssl_nosni")
        send(no_sni, expect_alert=112)
        m = metrics(relay)
        for reason in ("not_tls", "sslv2", "record_overflow", "timeout", "no_sni"):
            self.assertGreaterEqual(m.get(f'porthole_relay_tls_rejects_total{{reason="{reason}"}}', 0), 1, reason)

    def test_stalled_handshakes_leave_visitors_served(self):
        relay = Relay()
        agent = start_agent(relay, self.origin.port, "--subdomain", "busy")
        host = host_of(agent)
        ca = os.path.join(relay.data, "ca-cert.pem")
        stalled = []
        try:
            for i in range(1000):
                s = socket.create_connection(("127.0.0.1", relay.https_port), timeout=scaled(10))
                s.sendall(bytes([22, 3, 1, 0, 200]) if i % 2 else b"")  # a record header, or nothing
                stalled.append(s)
            # All 1,000 reached the relay: pending, or dropped (oldest first) at the per-address cap.
            def seen():
                m = metrics(relay)
                return (m.get("porthole_relay_tls_handshakes_pending", 0) +
                        m.get('porthole_relay_tls_rejects_total{reason="evicted"}', 0)) >= 1000
            wait_for(seen, 20, "1,000 stalled handshakes at the relay")
            t0 = time.monotonic()
            rc, status, _, out = https_curl(relay.https_port, host, "/", cacert=ca)
            elapsed = time.monotonic() - t0
            self.assertEqual((rc, status), (0, 200), out)
            self.assertLess(elapsed, scaled(1.0))
        finally:
            for s in stalled:
                s.close()


if __name__ == "__main__":
    unittest.main()
