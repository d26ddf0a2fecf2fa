"""Helpers for tests that run the built porthole binary: relay, agents, echo servers.

Everything listens on 127.0.0.1 with port 0 or a per-test random port range; every wait has
a deadline; processes are killed at exit.
"""
import atexit
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("PORTHOLE_BIN", os.path.join(os.path.dirname(__file__), "../../build/porthole"))
_procs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_cleanup)


class Proc:
    """A porthole process whose stdout/stderr lines are collected by threads."""

    all = []  # every Proc started, in order (tests that check how each one ended)

    def __init__(self, args, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.args = args
        self.p = subprocess.Popen([BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, env=full_env, text=True)
        _procs.append(self.p)
        Proc.all.append(self)
        self.out, self.err = [], []
        self._eof = 0
        self._cv = threading.Condition()
        for stream, sink in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=self._reader, args=(stream, sink), daemon=True).start()

    def _reader(self, stream, sink):
        for line in stream:
            with self._cv:
                sink.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._eof += 1
            self._cv.notify_all()

    def wait_line(self, pattern, timeout=10.0, stream="out", start=0):
        """Waits for a line matching `pattern`; returns the match."""
        rx = re.compile(pattern)
        sink = self.out if stream == "out" else self.err
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for line in sink[start:]:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self._eof == 2:
                    raise AssertionError(f"no line /{pattern}/ within {timeout}s in {stream}; "
                                         f"rc={self.p.poll()}\nstdout:\n" + "\n".join(self.out) +
                                         "\nstderr:\n" + "\n".join(self.err[-40:]))
                self._cv.wait(min(left, 0.5))

    def count(self, pattern, stream="out"):
        rx = re.compile(pattern)
        with self._cv:
            return sum(1 for l in (self.out if stream == "out" else self.err) if rx.search(l))

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        return self.p.wait(timeout)

    def rss_kib(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def port_range(size=200):
    # Below the ephemeral range (32768+), where the kernel's own client ports could hold a port
    # a test asks for.
    lo = random.randrange(20000, 32768 - size)
    return f"{lo}-{lo + size - 1}"


class Relay:
    def __init__(self, token="test-token-0123456789", data=None, extra=(), agents_port=0, tcp_ports=None,
                 host="127.0.0.1"):
        self.data = data or tempfile.mkdtemp(prefix="porthole-relay-")
        self.token = token
        self.tcp_ports = tcp_ports or port_range()
        self.host = host
        self.args = ["relay", "--agents", f"{self._fmt(host)}:{agents_port}", "--admin", "127.0.0.1:0",
                     "--http", "127.0.0.1:0", "--data", self.data, "--tcp-ports", self.tcp_ports, "--token", token] + list(extra)
        if "--https" not in extra:  # never the default 0.0.0.0:8443: tests run in parallel
            self.args += ["--https", "127.0.0.1:0"]
        self.start()

    @staticmethod
    def _fmt(host):
        return f"[{host}]" if ":" in host else host

    def start(self):
        self.proc = Proc(self.args)
        m = self.proc.wait_line(r"Relay listening for agents on (\S+):(\d+)")
        self.port = int(m.group(2))
        self.addr = f"{self._fmt(self.host)}:{self.port}"
        self.fingerprint = self.proc.wait_line(r"fingerprint SHA256:([0-9a-f]{64})").group(1)
        # Restarts keep the same port (agents reconnect to it).
        self.args[self.args.index("--agents") + 1] = self.addr
        self._http_port = self._admin_addr = self._https_port = None

    @property
    def http_port(self):
        """The port of the HTTP visitor listener (`Relay listening for HTTP visitors on ...`)."""
        if self._http_port is None:
            m = self.proc.wait_line(r"Relay listening for HTTP visitors on (\S+):(\d+)")
            self._http_port = int(m.group(2))
        return self._http_port

    @property
    def https_port(self):
        """The port of the HTTPS visitor listener (`Relay listening for HTTPS visitors on ...`)."""
        if getattr(self, "_https_port", None) is None:
            m = self.proc.wait_line(r"Relay listening for HTTPS visitors on (\S+):(\d+)")
            self._https_port = int(m.group(2))
        return self._https_port

    @property
    def admin_addr(self):
        """(host, port) of the admin API (`Admin API on http://HOST:PORT`)."""
        if self._admin_addr is None:
            m = self.proc.wait_line(r"Admin API on http://(\S+):(\d+)$")
            self._admin_addr = (m.group(1), int(m.group(2)))
        return self._admin_addr


class Agent:
    def __init__(self, relay_addr, fingerprint, target, token="test-token-0123456789", extra=(), env=None):
        self.home = tempfile.mkdtemp(prefix="porthole-agent-")
        args = ["tcp", str(target), "--relay", relay_addr, "--token", token, "--inspect", "off"]
        if fingerprint:
            args += ["--relay-fingerprint", fingerprint]
        e = {"XDG_CONFIG_HOME": self.home}
        e.update(env or {})
        self.proc = Proc(args + list(extra), env=e)

    def public_port(self, timeout=10.0, start=0):
        m = self.proc.wait_line(r"Forwarding tcp://[^:]+:(\d+) -> (\S+)", timeout=timeout, start=start)
        return int(m.group(1))


class HttpAgent:
    """`porthole http TARGET` (an HTTP tunnel) against a relay, like Agent for `porthole tcp`."""

    def __init__(self, relay_addr, fingerprint, target, token="test-token-0123456789", extra=(), env=None,
                 home=None):
        self.home = home or tempfile.mkdtemp(prefix="porthole-agent-")
        args = ["http", str(target), "--relay", relay_addr, "--token", token, "--inspect", "off"]
        if fingerprint:
            args += ["--relay-fingerprint", fingerprint]
        e = {"XDG_CONFIG_HOME": self.home}
        e.update(env or {})
        self.proc = Proc(args + list(extra), env=e)

    def url(self, timeout=10.0, start=0):
        """(host, port, local) from `Forwarding http://HOST[:PORT] -> LOCAL`; port 80 if omitted."""
        m = self.proc.wait_line(r"Forwarding http://([^/:\s]+)(?::(\d+))? -> (\S+)", timeout=timeout, start=start)
        return m.group(1), int(m.group(2) or 80), m.group(3)


class EchoServer:
    """Threaded TCP echo server on 127.0.0.1:0. Echoes until EOF, then half-closes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()


def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(min(65536, n - len(buf)))
        if not d:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += d
    return bytes(buf)


def echo_roundtrip(port, payload=b"hello porthole", timeout=10.0):
    with connect(port, timeout) as s:
        s.sendall(payload)
        got = recv_exact(s, len(payload))
        assert got == payload, (got, payload)


def eventually(fn, timeout=10.0, what="condition"):
    """Retries fn() until it returns without raising (or truthy), within the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            r = fn()
            if r is None or r:
                return r
        except (OSError, AssertionError) as e:
            last = e
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s: {last}")
