"""PROXY protocol v1/v2 with real parsers on both sides of porthole (docs/proxy-protocol.md).

Towards the local service (--upstream-proxy-protocol 1|2): nginx (`listen ... proxy_protocol`)
and HAProxy (`bind ... accept-proxy`) are the local services; each answers with the address it
parsed from the agent's header ($proxy_protocol_addr, %[src]) and nginx logs it too. Visitors
bind 127.0.0.2 / 127.0.0.3, so the relay's own 127.0.0.1 is told apart.

Accepting it (--accept-proxy-protocol-from 127.0.0.1/32): HAProxy in front of the relay with
send-proxy (http listener) and send-proxy-v2 (a tcp endpoint); the origin sees the client's
address in X-Forwarded-For; a direct visitor's forged header, a trusted peer without a header
and garbage after a valid signature each close only that connection, with a counter.
"""
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

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, Proc  # noqa: E402
from http_harness import (TOKEN, CheckedProcesses, Relay, free_port, metrics, scaled,  # noqa: E402
                          start_agent)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + scaled(timeout)
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on 127.0.0.1:{port}")
            time.sleep(0.05)  # polling a port that a child process is opening; bounded above


def http_get(port, host, path="/", source="127.0.0.2", conn=None, keep=False, timeout=10.0):
    """One GET over a raw socket from `source`; returns (status, body, socket-if-kept)."""
    s = conn
    if s is None:
        s = socket.socket()
        s.bind((source, 0))
        s.settimeout(scaled(timeout))
        s.connect(("127.0.0.1", port))
    hdr = "" if keep else "Connection: close\r\n"
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{hdr}\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            raise AssertionError(f"connection closed before a response: {data!r}")
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    if length is None:
        while True:
            d = s.recv(65536)
            if not d:
                break
            body += d
    else:
        while len(body) < length:
            d = s.recv(65536)
            if not d:
                break
            body += d
    status = int(head.split(b" ")[1])
    if not keep:
        s.close()
        s = None
    return status, body.decode(errors="replace"), s


def closed_without_answer(port, payload, source="127.0.0.2", timeout=10.0):
    """Sends `payload`; True if the peer closes (EOF or RST) without sending a byte."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(scaled(timeout))
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(payload)
        return s.recv(65536) == b""
    except ConnectionResetError:
        return True
    finally:
        s.close()


def pp_errors(relay, reason):
    return metrics(relay).get(f'porthole_relay_proxy_protocol_errors_total{{reason="{reason}"}}', 0.0)


def wait_pp_errors(relay, reason, at_least, timeout=10.0):
    deadline = time.monotonic() + scaled(timeout)
    while pp_errors(relay, reason) < at_least:
        if time.monotonic() > deadline:
            raise AssertionError(f"proxy protocol errors {reason} < {at_least}: {metrics(relay)}")
        time.sleep(0.05)


class Daemon:
    """nginx or haproxy in the foreground, with its config in a temp dir; killed at the end."""

    def __init__(self, args, what):
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.what = what

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(scaled(10))
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def start_nginx(tmp, pp_port, plain_port):
    """Server 1 (proxy_protocol): answers "pp=$proxy_protocol_addr". Server 2 (plain): the
    X-Forwarded-For it got."""
    conf = f"""
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log info;
events {{ worker_connections 64; }}
http {{
  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
  uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
  log_format pp '$proxy_protocol_addr $remote_addr "$request"';
  server {{
    listen 127.0.0.1:{pp_port} proxy_protocol;
    access_log {tmp}/access.log pp;
    location / {{ default_type text/plain; return 200 "pp=$proxy_protocol_addr\\n"; }}
  }}
  server {{
    listen 127.0.0.1:{plain_port};
    access_log {tmp}/plain.log;
    location / {{ default_type text/plain; return 200 "xff=$http_x_forwarded_for\\n"; }}
  }}
}}
"""
    path = os.path.join(tmp, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    d = Daemon([NGINX, "-p", tmp, "-c", path, "-g", "daemon off;"], "nginx")
    wait_port(pp_port)
    wait_port(plain_port)
    return d


def start_haproxy(tmp, name, sections):
    conf = """
global
  maxconn 256
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
""" + sections
    path = os.path.join(tmp, f"{name}.cfg")
    with open(path, "w") as f:
        f.write(conf)
    return Daemon([HAPROXY, "-db", "-f", path], "haproxy")


@unittest.skipUnless(os.path.exists(NGINX) and os.path.exists(HAPROXY), "needs nginx and haproxy")
class ProxyProtocolTest(CheckedProcesses, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="porthole-pp-")
        cls.pp_port, cls.plain_port = free_port(), free_port()
        cls.nginx = start_nginx(cls.tmp, cls.pp_port, cls.plain_port)
        cls.daemons = [cls.nginx]
        # The relay.toml keys end to end (a short header deadline for the timeout test).
        conf = os.path.join(cls.tmp, "relay.toml")
        with open(conf, "w") as f:
            f.write('version = 1\n[relay]\naccept_proxy_protocol_from = ["127.0.0.1/32"]\n'
                    f'proxy_header_timeout = "{max(1, int(scaled(1)))}s"\n')
        cls.relay = Relay(extra=["--config", conf])

    @classmethod
    def tearDownClass(cls):
        for d in cls.daemons:
            d.stop()
        cls.relay.proc.stop()

    def access_log(self):
        with open(os.path.join(self.tmp, "access.log")) as f:
            return f.read()

    def assert_logged(self, *lines, timeout=10.0):
        # nginx writes its access log after the response went out: wait for the lines (deadline).
        deadline = time.monotonic() + scaled(timeout)
        while True:
            log = self.access_log()
            missing = [line for line in lines if line not in log]
            if not missing:
                return log
            if time.monotonic() > deadline:
                self.fail(f"not in nginx's access log: {missing}\n{log}")
            time.sleep(0.01)

    def tcp_agent(self, target, version):
        a = Agent(self.relay.addr, self.relay.fingerprint, target,
                  extra=["--upstream-proxy-protocol", str(version), "--name", f"pp-tcp{version}-{target}"])
        return a, a.public_port(timeout=scaled(15))

    # -- towards the local service ------------------------------------------------------------
    def test_tcp_tunnel_v1_and_v2_to_nginx(self):
        for version in (1, 2):
            agent, port = self.tcp_agent(self.pp_port, version)
            status, body, _ = http_get(port, "x", path=f"/tcp-v{version}", source="127.0.0.2")
            self.assertEqual(status, 200)
            self.assertEqual(body.strip(), "pp=127.0.0.2", f"v{version}")
            self.assert_logged(f'127.0.0.2 127.0.0.1 "GET /tcp-v{version} HTTP/1.1"')
            agent.proc.stop()

    def test_http_tunnel_v1_and_v2_one_local_connection_per_visitor(self):
        for version in (1, 2):
            agent = start_agent(self.relay, self.pp_port, "--upstream-proxy-protocol", str(version),
                                name=f"pp-http{version}")
            host, _, _ = agent.url(timeout=scaled(15))
            # Two keep-alive visitors, requests interleaved: each is announced as itself, so a
            # local connection that carried one visitor's header never serves the other.
            a = b = None
            for i in range(3):
                st, body, a = http_get(self.relay.http_port, host, f"/h{version}-a{i}", "127.0.0.2", conn=a, keep=True)
                self.assertEqual((st, body.strip()), (200, "pp=127.0.0.2"))
                st, body, b = http_get(self.relay.http_port, host, f"/h{version}-b{i}", "127.0.0.3", conn=b, keep=True)
                self.assertEqual((st, body.strip()), (200, "pp=127.0.0.3"))
            a.close()
            b.close()
            self.assert_logged(f'127.0.0.2 127.0.0.1 "GET /h{version}-a2 HTTP/1.1"',
                               f'127.0.0.3 127.0.0.1 "GET /h{version}-b2 HTTP/1.1"')
            agent.proc.stop()

    def test_haproxy_accept_proxy_as_local_service(self):
        port = free_port()
        ha = start_haproxy(self.tmp, "local", f"""
frontend local
  mode http
  bind 127.0.0.1:{port} accept-proxy
  http-request return status 200 content-type text/plain lf-string "src=%[src]\\n"
""")
        self.daemons.append(ha)
        wait_port(port)
        for version in (1, 2):
            agent, public = self.tcp_agent(port, version)
            status, body, _ = http_get(public, "x", source="127.0.0.3")
            self.assertEqual((status, body.strip()), (200, "src=127.0.0.3"), f"v{version}")
            agent.proc.stop()
            agent = start_agent(self.relay, port, "--upstream-proxy-protocol", str(version), name=f"pp-ha{version}")
            host, _, _ = agent.url(timeout=scaled(15))
            status, body, _ = http_get(self.relay.http_port, host, source="127.0.0.2")
            self.assertEqual((status, body.strip()), (200, "src=127.0.0.2"), f"http v{version}")
            agent.proc.stop()

    def test_server_speaks_first_is_not_delayed(self):
        # An unlisted visitor is never asked for a header: a banner from the service arrives
        # although the visitor has sent nothing (the check only watches the visitor's bytes).
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)

        def banner():
            c, _ = srv.accept()
            c.sendall(b"220 ready\r\n")
            c.recv(100)
            c.close()
        t = threading.Thread(target=banner, daemon=True)
        t.start()
        agent = Agent(self.relay.addr, self.relay.fingerprint, srv.getsockname()[1], extra=["--name", "pp-banner"])
        port = agent.public_port(timeout=scaled(15))
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(scaled(10))
        s.connect(("127.0.0.1", port))
        self.assertEqual(s.recv(100), b"220 ready\r\n")
        s.close()
        t.join(scaled(10))
        srv.close()
        agent.proc.stop()

    def test_haproxy_in_front_of_the_https_listener(self):
        # TCP mode in front of the https listener (the relay terminates TLS): HAProxy's v2 header
        # comes before the ClientHello, and the visitor is the client HAProxy saw.
        agent = start_agent(self.relay, self.plain_port, name="pp-front-https")
        host, _, _ = agent.url(timeout=scaled(15))
        fe = free_port()
        ha = start_haproxy(self.tmp, "front-https", f"""
frontend fe_https
  bind 127.0.0.1:{fe}
  default_backend be_https
backend be_https
  server relay 127.0.0.1:{self.relay.https_port} send-proxy-v2
""")
        self.daemons.append(ha)
        wait_port(fe)
        ca = os.path.join(self.relay.data, "ca-cert.pem")
        before = metrics(self.relay).get("porthole_relay_proxy_headers_total", 0)
        r = subprocess.run([shutil.which("curl"), "-sS", "--max-time", str(scaled(15)), "--cacert", ca,
                            "--interface", "127.0.0.4", "--resolve", f"{host}:{fe}:127.0.0.1",
                            f"https://{host}:{fe}/"], capture_output=True, timeout=scaled(20))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().strip(), "xff=127.0.0.4")
        self.assertGreater(metrics(self.relay).get("porthole_relay_proxy_headers_total", 0), before)
        # A peer not listed that starts with a PROXY header: not TLS, refused, nothing served.
        key = 'porthole_relay_tls_rejects_total{reason="not_tls"}'
        not_tls = metrics(self.relay).get(key, 0)
        s = socket.create_connection(("127.0.0.1", self.relay.https_port), timeout=scaled(10), source_address=("127.0.0.2", 0))
        s.sendall(b"PROXY TCP4 6.6.6.6 127.0.0.1 1111 443\r\n")
        reply = s.recv(64)
        s.close()
        self.assertTrue(reply == b"" or reply[:1] == b"\x15", reply)  # nothing, or a TLS alert record
        self.assertEqual(metrics(self.relay).get(key, 0), not_tls + 1)
        agent.proc.stop()

    def test_tls_passthrough_header_before_the_client_hello(self):
        # `porthole tls --upstream-proxy-protocol 1`: the header, then the visitor's bytes as they
        # came (its ClientHello first). A raw server records both and closes.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        srv.settimeout(scaled(15))
        seen = {}

        def serve():
            c, _ = srv.accept()
            c.settimeout(scaled(10))
            buf = b""
            while b"\r\n" not in buf:
                got = c.recv(4096)
                if not got:
                    break
                buf += got
            line, _, rest = buf.partition(b"\r\n")
            while len(rest) < 1:
                rest += c.recv(4096)
            seen["line"], seen["next"] = line.decode(), rest[:1]
            c.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        agent = Proc(["tls", str(srv.getsockname()[1]), "--hostname", "pp.example.test", "--relay", self.relay.addr,
                      "--token", TOKEN, "--relay-fingerprint", self.relay.fingerprint, "--inspect", "off",
                      "--upstream-proxy-protocol", "1"], env={"XDG_CONFIG_HOME": self.tmp})
        try:
            agent.wait_line(r"Forwarding https://pp\.example\.test", timeout=scaled(15))
            v = socket.create_connection(("127.0.0.1", self.relay.https_port), timeout=scaled(10),
                                         source_address=("127.0.0.2", 0))
            me = v.getsockname()
            try:
                ssl.create_default_context().wrap_socket(v, server_hostname="pp.example.test")
            except (ssl.SSLError, OSError):
                pass  # the raw server closes after the first bytes: no handshake is expected
            v.close()
            t.join(scaled(10))
        finally:
            srv.close()
            agent.stop()
        self.assertEqual(seen.get("line"), f"PROXY TCP4 {me[0]} 127.0.0.1 {me[1]} {self.relay.https_port}")
        self.assertEqual(seen.get("next"), b"\x16", "the ClientHello record follows the header")

    def test_listed_peer_silent_or_half_header_times_out(self):
        agent = start_agent(self.relay, self.plain_port, name="pp-timeout")
        host, _, _ = agent.url(timeout=scaled(15))
        before = pp_errors(self.relay, "timeout")
        start = time.monotonic()
        self.assertTrue(closed_without_answer(self.relay.http_port, b"", source="127.0.0.1", timeout=20))
        self.assertTrue(closed_without_answer(self.relay.http_port, b"PROXY TCP4 1.2", source="127.0.0.1", timeout=20))
        self.assertLess(time.monotonic() - start, scaled(10))
        wait_pp_errors(self.relay, "timeout", before + 2)
        # Meanwhile a proper header is served at once.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.settimeout(scaled(10))
        s.connect(("127.0.0.1", self.relay.http_port))
        s.sendall(b"PROXY TCP6 2001:db8::42 ::1 5555 8080\r\n")
        st, body, _ = http_get(None, host, conn=s)
        self.assertEqual((st, body.strip()), (200, "xff=2001:db8::42"))
        agent.proc.stop()

    # -- accepting it from a front load balancer ----------------------------------------------
    def test_haproxy_in_front_of_the_relay(self):
        agent = start_agent(self.relay, self.plain_port, name="pp-front-http")
        host, _, _ = agent.url(timeout=scaled(15))
        tcp_agent, tcp_port = self.tcp_agent(self.pp_port, 1)
        fe_http, fe_tcp = free_port(), free_port()
        ha = start_haproxy(self.tmp, "front", f"""
frontend fe_http
  bind 127.0.0.1:{fe_http}
  default_backend be_http
backend be_http
  server relay 127.0.0.1:{self.relay.http_port} send-proxy
frontend fe_tcp
  bind 127.0.0.1:{fe_tcp}
  default_backend be_tcp
backend be_tcp
  server relay 127.0.0.1:{tcp_port} send-proxy-v2
""")
        self.daemons.append(ha)
        wait_port(fe_http)
        wait_port(fe_tcp)
        # http listener, v1 from HAProxy: the origin's X-Forwarded-For is the client, not HAProxy.
        status, body, _ = http_get(fe_http, host, source="127.0.0.2")
        self.assertEqual((status, body.strip()), (200, "xff=127.0.0.2"))
        # tcp endpoint, v2 from HAProxy, and a v1 header from the agent to nginx: the client all along.
        status, body, _ = http_get(fe_tcp, "x", path="/chain", source="127.0.0.3")
        self.assertEqual((status, body.strip()), (200, "pp=127.0.0.3"))
        self.assert_logged('127.0.0.3 127.0.0.1 "GET /chain HTTP/1.1"')
        self.assertGreaterEqual(metrics(self.relay).get("porthole_relay_proxy_headers_total", 0), 2)

        # A direct visitor (not listed) with a forged header: closed, never reaches the service.
        before = pp_errors(self.relay, "untrusted")
        forged = f"PROXY TCP4 6.6.6.6 127.0.0.1 1111 80\r\nGET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        self.assertTrue(closed_without_answer(self.relay.http_port, forged, source="127.0.0.2"))
        v2sig = b"\r\n\r\n\x00\r\nQUIT\n"
        forged_v2 = v2sig + b"\x21\x11\x00\x0c" + bytes([6, 6, 6, 6, 127, 0, 0, 1, 4, 87, 0, 80]) + b"GET / HTTP/1.1\r\n\r\n"
        self.assertTrue(closed_without_answer(tcp_port, forged_v2, source="127.0.0.2"))
        wait_pp_errors(self.relay, "untrusted", before + 2)
        self.assertNotIn("6.6.6.6", self.access_log())

        # A listed peer (127.0.0.1) without a header, and with garbage after a valid signature:
        # each closes that connection only; the load balancer's traffic goes on.
        before_missing, before_family = pp_errors(self.relay, "not_proxy"), pp_errors(self.relay, "v2_family")
        self.assertTrue(closed_without_answer(self.relay.http_port, f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
                                              source="127.0.0.1"))
        self.assertTrue(closed_without_answer(tcp_port, v2sig + b"\x21\xff\x00\x04garbage", source="127.0.0.1"))
        wait_pp_errors(self.relay, "not_proxy", before_missing + 1)
        wait_pp_errors(self.relay, "v2_family", before_family + 1)
        status, body, _ = http_get(fe_http, host, source="127.0.0.3")
        self.assertEqual((status, body.strip()), (200, "xff=127.0.0.3"))
        # A direct visitor without a header is served as before (its own address).
        status, body, _ = http_get(self.relay.http_port, host, source="127.0.0.2")
        self.assertEqual((status, body.strip()), (200, "xff=127.0.0.2"))
        ha.stop()
        tcp_agent.proc.stop()
        agent.proc.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
