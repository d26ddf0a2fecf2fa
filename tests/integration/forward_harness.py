"""Helpers for the `porthole forward` / `porthole udp` binary tests: free ports, echo servers
(TCP and UDP, IPv4 and IPv6), a dnsmasq on a loopback port, /metrics scraping."""
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

from harness import EchoServer, Proc, _procs


def free_ports(n=1, family=socket.AF_INET, host="127.0.0.1", kinds=(socket.SOCK_STREAM, socket.SOCK_DGRAM)):
    """n consecutive ports below the ephemeral range, free for TCP and UDP right now."""
    for _ in range(200):
        lo = random.randrange(20000, 32768 - n)
        socks = []
        try:
            for p in range(lo, lo + n):
                for k in kinds:
                    s = socket.socket(family, k)
                    socks.append(s)
                    s.bind((host, p))
            return list(range(lo, lo + n))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range")


class TcpEcho:
    """Echoes until EOF, then half-closes; IPv4 or IPv6; on a given port or any."""

    def __init__(self, host="127.0.0.1", port=0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.peers = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, addr = self.sock.accept()
            except OSError:
                return
            self.peers.append(addr)
            threading.Thread(target=EchoServer._echo, args=(c,), daemon=True).start()

    def close(self):
        self.sock.close()


class UdpEcho:
    """Echoes every datagram to its sender; records the source addresses it saw."""

    def __init__(self, host="127.0.0.1", port=0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.sources = set()
        self.count = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                d, a = self.sock.recvfrom(65536)
            except OSError:
                return
            self.sources.add(a)
            self.count += 1
            try:
                self.sock.sendto(d, a)
            except OSError:
                pass

    def close(self):
        self.sock.close()


class Dnsmasq:
    """dnsmasq on 127.0.0.1:PORT answering example.test (and subdomains) with 127.0.0.9."""

    def __init__(self, port):
        exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        self.port = port
        self.p = subprocess.Popen([exe, "--no-daemon", "--port", str(port), "--listen-address", "127.0.0.1",
                                   "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=",
                                   "--address=/example.test/127.0.0.9", "--conf-file=/dev/null"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _procs.append(self.p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # ready when it answers
            if dig(port, "example.test", timeout=1) == "127.0.0.9":
                return
        raise AssertionError("dnsmasq did not answer")

    def stop(self):
        self.p.terminate()
        self.p.wait(10)


def dig(port, name, timeout=2, host="127.0.0.1"):
    r = subprocess.run(["dig", "-p", str(port), f"@{host}", "+short", f"+time={timeout}", "+tries=1", name],
                       capture_output=True, text=True, timeout=timeout + 5)
    return r.stdout.strip()


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(port, name):
    """The value of one sample (full name with labels), 0 when absent."""
    for line in metrics(port).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def start_forward(args, env=None):
    p = Proc(["forward", "--metrics", "127.0.0.1:0"] + args, env=env)
    m = p.wait_line(r"Metrics on http://127\.0\.0\.1:(\d+)/metrics")
    p.metrics_port = int(m.group(1))
    return p


def sha(b):
    return hashlib.sha256(b).hexdigest()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
