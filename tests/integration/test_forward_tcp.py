"""`porthole forward` TCP rules (the built binary) on loopback: integrity both ways with
half-close, ranges, allow lists, refused targets, IPv6, names resolved at connect time, the
non-loopback warning, reload with a transfer running and an invalid reload rejected."""
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Proc, recv_exact  # noqa: E402
from forward_harness import TcpEcho, free_ports, metric, sha, start_forward  # noqa: E402


def conn(port, host="127.0.0.1", source=None, timeout=10):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def roundtrip(port, payload=b"ping", **kw):
    with conn(port, **kw) as s:
        s.sendall(payload)
        return recv_exact(s, len(payload))


class ForwardTcpTest(unittest.TestCase):
    def test_integrity_both_ways_and_half_close(self):
        echo = TcpEcho()
        (lp,) = free_ports(1)
        fw = start_forward([f"{lp}:127.0.0.1:{echo.port}"])
        fw.wait_line(rf"Forwarding tcp 127\.0\.0\.1:{lp} -> 127\.0\.0\.1:{echo.port}")
        size = 64 << 20
        block = os.urandom(1 << 20)
        with conn(lp, timeout=30) as s:
            def writer():
                for _ in range(size // len(block)):
                    s.sendall(block)
                s.shutdown(socket.SHUT_WR)  # visitor half-closes; the echo's answer still flows back
            t = threading.Thread(target=writer)
            t.start()
            got = bytearray()
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += d
            t.join()
        self.assertEqual(len(got), size)
        self.assertEqual(sha(bytes(got)), sha(block * (size // len(block))))

        # The target half-closes first: the visitor sees EOF and can still send.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        (lp2,) = free_ports(1)
        fw2 = start_forward([f"{lp2}:127.0.0.1:{srv.getsockname()[1]}"])
        fw2.wait_line(r"Forwarding tcp")
        with conn(lp2) as v:
            srv.settimeout(10)
            t_side, _ = srv.accept()
            t_side.sendall(b"banner\n")
            t_side.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_exact(v, 7), b"banner\n")
            self.assertEqual(v.recv(10), b"")  # EOF passed on
            v.sendall(b"after-eof")
            t_side.settimeout(10)
            self.assertEqual(recv_exact(t_side, 9), b"after-eof")
            v.shutdown(socket.SHUT_WR)
            self.assertEqual(t_side.recv(10), b"")
            t_side.close()
        srv.close()
        self.assertGreater(metric(fw.metrics_port, "porthole_forward_bytes_total{direction=\"to_target\"}"), size - 1)
        self.assertEqual(metric(fw.metrics_port, "porthole_forward_splice_fallback_total"), 0)
        fw.stop()
        fw2.stop()
        echo.close()

    def test_ranges_equal_and_many_to_one(self):
        targets = free_ports(3)
        echos = [TcpEcho(port=p) for p in targets]
        listen = free_ports(3)
        many = free_ports(3)
        fw = start_forward([f"{listen[0]}-{listen[-1]}:127.0.0.1:{targets[0]}-{targets[-1]}",
                            f"{many[0]}-{many[-1]}:localhost:{targets[1]}"])
        fw.wait_line(rf"Forwarding tcp 127\.0\.0\.1:{listen[0]}-{listen[-1]} -> 127\.0\.0\.1:{targets[0]}-{targets[-1]}")
        for i, p in enumerate(listen):
            before = len(echos[i].peers)
            self.assertEqual(roundtrip(p, f"range {i}".encode()), f"range {i}".encode())
            self.assertEqual(len(echos[i].peers), before + 1, "port i goes to target port i")
        for p in many:
            before = len(echos[1].peers)
            self.assertEqual(roundtrip(p), b"ping")  # "localhost": a name, resolved per connection
            self.assertEqual(len(echos[1].peers), before + 1)
        fw.stop()
        for e in echos:
            e.close()

    def test_allow_list_resets_others_and_counts(self):
        echo = TcpEcho()
        (lp,) = free_ports(1)
        fw = start_forward([f"{lp}:127.0.0.1:{echo.port}", "--allow", "127.0.0.1/32"])
        fw.wait_line(r"\(allow 127\.0\.0\.1/32\)")
        self.assertEqual(roundtrip(lp, source="127.0.0.1"), b"ping")
        # RST, not FIN (recv would return b""); the reset may come before connect() returns.
        with self.assertRaises(ConnectionResetError):
            with conn(lp, source="127.0.0.2") as s:
                s.recv(10)
        self.assertEqual(metric(fw.metrics_port, "porthole_forward_denied_total{proto=\"tcp\"}"), 1)
        self.assertEqual(len(echo.peers), 1, "a denied peer never reaches the target")
        fw.stop()
        echo.close()

    def test_refused_target_closes_visitor_at_once(self):
        (lp, dead) = free_ports(2)
        fw = start_forward([f"{lp}:127.0.0.1:{dead}"])
        fw.wait_line(r"Forwarding tcp")
        t0 = time.monotonic()
        try:
            # The reset may come before connect() returns (the forwarder answers at once): the
            # same outcome, a visitor closed without a byte.
            with conn(lp) as s:
                self.assertEqual(s.recv(10), b"")
        except ConnectionResetError:
            pass
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(metric(fw.metrics_port, "porthole_forward_connect_errors_total"), 1)
        fw.stop()

    def test_unix_socket_target(self):
        # `forward PORT:unix:/path`: a unix stream echo behind a TCP port, bytes intact both
        # ways; a missing socket file closes the visitor like a refused target.
        d = tempfile.mkdtemp()
        path = os.path.join(d, "echo.sock")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(8)

        def serve():
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                with c:
                    while True:
                        b = c.recv(65536)
                        if not b:
                            break
                        c.sendall(b)

        threading.Thread(target=serve, daemon=True).start()
        (lp, lp2) = free_ports(2)
        fw = start_forward([f"{lp}:unix:{path}", f"{lp2}:unix:{d}/missing.sock"])
        fw.wait_line(rf"Forwarding tcp 127\.0\.0\.1:{lp} -> unix:{path}")
        payload = os.urandom(1 << 20)
        self.assertEqual(sha(roundtrip(lp, payload, timeout=30)), sha(payload))
        try:
            with conn(lp2) as s:
                self.assertEqual(s.recv(10), b"")
        except ConnectionResetError:
            pass
        self.assertEqual(metric(fw.metrics_port, "porthole_forward_connect_errors_total"), 1)
        fw.stop()
        srv.close()

    def test_ipv6(self):
        try:
            echo = TcpEcho(host="::1")
        except OSError:
            self.skipTest("no IPv6 loopback")
        (lp,) = free_ports(1, family=socket.AF_INET6, host="::1")
        fw = start_forward([f"[::1]:{lp}:[::1]:{echo.port}"])
        fw.wait_line(rf"Forwarding tcp \[::1\]:{lp} -> \[::1\]:{echo.port}")
        self.assertEqual(roundtrip(lp, b"six", host="::1"), b"six")
        fw.stop()
        echo.close()

    def test_non_loopback_bind_warns_and_bad_flags_name_the_rule(self):
        echo = TcpEcho()
        (lp,) = free_ports(1)
        fw = start_forward([f"0.0.0.0:{lp}:127.0.0.1:{echo.port}", "--allow", "127.0.0.0/8"])
        fw.wait_line(rf"warning: tcp 0\.0\.0\.0:{lp} is open to every network", stream="err")
        self.assertEqual(roundtrip(lp), b"ping")
        fw.stop()
        echo.close()
        bad = Proc(["forward", "8000-8010:h:9000-9001"])
        self.assertEqual(bad.p.wait(10), 2)
        bad.wait_line(r"rule '8000-8010:h:9000-9001': port range 8000-8010 has 11 ports", stream="err")

    def test_reload_keeps_transfer_and_rejects_invalid_file(self):
        echo = TcpEcho()
        other = TcpEcho()
        a, b, c = free_ports(3)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "forward.rules")
            with open(path, "w") as f:
                f.write(f"# test rules\ntcp {a} 127.0.0.1:{echo.port}\ntcp {b} 127.0.0.1:{echo.port}\n")
            fw = start_forward(["--rules", path])
            fw.wait_line(rf"Forwarding tcp 127\.0\.0\.1:{b}")
            # A transfer on rule a that runs across two reloads.
            block = os.urandom(256 << 10)
            total = 48
            s = conn(a, timeout=30)
            got = bytearray()
            gate = threading.Event()

            def writer():
                for i in range(total):
                    if i == total // 2:
                        gate.wait(20)
                    s.sendall(block)
                s.shutdown(socket.SHUT_WR)
            t = threading.Thread(target=writer)
            t.start()
            while len(got) < len(block) * 4:
                got += s.recv(1 << 20)
            # Change b, add c, keep a: by editing the file (inotify).
            tmp = path + ".new"
            with open(tmp, "w") as f:
                f.write(f"tcp {a} 127.0.0.1:{echo.port}  # unchanged\ntcp {b} 127.0.0.1:{other.port}\n"
                        f"tcp {c} 127.0.0.1:{other.port}\n")
            os.rename(tmp, path)
            fw.wait_line(r"Reloaded .*forward\.rules \(changed\): 1 added, 1 changed, 0 removed, 1 unchanged")
            self.assertEqual(roundtrip(c), b"ping")
            n_other = len(other.peers)
            self.assertEqual(roundtrip(b), b"ping")
            self.assertEqual(len(other.peers), n_other + 1, "the changed rule goes to its new target")
            # An invalid file is rejected whole, naming the line; the old rules keep working.
            with open(path, "w") as f:
                f.write(f"tcp {a} 127.0.0.1:{echo.port}\ntcp {c} 127.0.0.1:99999\n")
            fw.wait_line(r"forward\.rules:2: target port '99999'", stream="err")
            fw.wait_line(r"rejected \(changed\); the running rules stay", stream="err")
            self.assertEqual(roundtrip(c), b"ping")
            self.assertEqual(roundtrip(b), b"ping")
            # SIGHUP reloads too (here: the same invalid file, rejected again).
            fw.p.send_signal(signal.SIGHUP)
            fw.wait_line(r"rejected \(SIGHUP\)", stream="err")
            gate.set()
            while True:
                d2 = s.recv(1 << 20)
                if not d2:
                    break
                got += d2
            t.join()
            s.close()
            self.assertEqual(len(got), len(block) * total, "no byte lost across reloads")
            self.assertEqual(sha(bytes(got)), sha(block * total))
            self.assertEqual(metric(fw.metrics_port, "porthole_forward_reloads_total{result=\"rejected\"}"), 2)
            fw.stop()
        echo.close()
        other.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
