#!/usr/bin/env python3
"""Private endpoints and `porthole connect` (issue 10): a real sshd (inetd mode, one `sshd -i`
per connection, spawned by a loopback listener on port 0: no fixed port) reached only through
`porthole tcp PORT --private pi`; ssh with `ProxyCommand="porthole connect %h --stdio"`
(an interactive command, stdin half-close, scp of 64 MiB with SHA-256, rsync -e, an ssh -W
chain through pi) and through
`porthole connect pi --listen`; several connects at once; reconnect after a relay restart;
scopes across tokens (who may register and who may reach a name) with clear messages on both
sides."""
import hashlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, EchoServer, Proc, Relay, connect, eventually, recv_exact  # noqa: E402

SSHD = "/usr/sbin/sshd"


def token_create(data, name, *scopes):
    r = subprocess.run([BIN, "token", "create", name, "--data", data, *scopes], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


class InetdSshd:
    """Loopback listener on port 0; each connection gets its own `sshd -i` (temp host key,
    temp authorized key, no PAM)."""

    def __init__(self, tmp):
        self.dir = tmp
        self.host_key = os.path.join(tmp, "host_ed25519")
        self.client_key = os.path.join(tmp, "client_ed25519")
        for k in (self.host_key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k], check=True, timeout=30)
        shutil.copy(self.client_key + ".pub", os.path.join(tmp, "authorized_keys"))
        os.chmod(os.path.join(tmp, "authorized_keys"), 0o600)
        with open(self.host_key + ".pub") as f:
            pub = " ".join(f.read().split()[:2])
        self.known_hosts = os.path.join(tmp, "known_hosts")
        with open(self.known_hosts, "w") as f:
            f.write(f"pi {pub}\n")
        self.config = os.path.join(tmp, "sshd_config")
        with open(self.config, "w") as f:
            f.write(f"HostKey {self.host_key}\nAuthorizedKeysFile {tmp}/authorized_keys\nUsePAM no\n"
                    "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "PermitRootLogin prohibit-password\nPidFile none\nLogLevel ERROR\n"
                    "Subsystem sftp internal-sftp\n")
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.children = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            p = subprocess.Popen([SSHD, "-i", "-f", self.config, "-e"], stdin=c, stdout=c, stderr=subprocess.DEVNULL)
            self.children.append(p)
            c.close()

    def close(self):
        self.sock.close()
        for p in self.children:
            if p.poll() is None:
                p.kill()
            p.wait(10)


class PrivateSsh(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="porthole-private-")
        cls.data = os.path.join(cls.tmp, "relay")
        cls.pi_token = token_create(cls.data, "pi", "--allow-private", "pi,echo*")
        cls.friend_token = token_create(cls.data, "friend", "--allow-private", "friend-*", "--allow-connect", "pi")
        cls.stranger_token = token_create(cls.data, "stranger", "--allow-private", "*", "--allow-connect", "other-*")
        cls.relay = Relay(data=cls.data)
        cls.sshd = InetdSshd(cls.tmp)
        cls.home = os.path.join(cls.tmp, "home")
        os.makedirs(cls.home)
        cls.env = {"XDG_CONFIG_HOME": cls.home}
        cls.agent = Proc(["tcp", str(cls.sshd.port), "--private", "pi", "--relay", cls.relay.addr, "--token",
                          cls.pi_token, "--relay-fingerprint", cls.relay.fingerprint, "--inspect", "off"], env=cls.env)
        cls.agent.wait_line(r"Forwarding private://pi -> 127\.0\.0\.1:%d" % cls.sshd.port)
        cls.echo = EchoServer()
        cls.echo_agent = Proc(["tcp", str(cls.echo.port), "--private", "echo", "--relay", cls.relay.addr, "--token",
                               cls.pi_token, "--relay-fingerprint", cls.relay.fingerprint, "--inspect", "off"],
                              env=cls.env)
        cls.echo_agent.wait_line(r"Forwarding private://echo -> ")

    @classmethod
    def tearDownClass(cls):
        for p in Proc.all:
            if p.p.poll() is None:
                p.stop()
        cls.sshd.close()
        cls.echo.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def connect_args(self, token):
        return ["--relay", self.relay.addr, "--token", token, "--relay-fingerprint", self.relay.fingerprint]

    def ssh_base(self, token, proxy=True):
        opts = ["-F", "/dev/null", "-i", self.sshd.client_key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={self.sshd.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"]
        if proxy:
            cmd = " ".join(shlex.quote(a) for a in [BIN, "connect", "%h", "--stdio"] + self.connect_args(token))
            opts += ["-o", f"ProxyCommand={cmd}"]
        return opts

    def ssh(self, token, *remote, input=None, extra=(), timeout=60):
        env = dict(os.environ, **self.env)
        return subprocess.run(["ssh", *self.ssh_base(token), *extra, "pi", *remote], input=input,
                              capture_output=True, timeout=timeout, env=env)

    def test_interactive_command_and_half_close(self):
        r = self.ssh(self.pi_token, "echo", "hello-from-pi", "$((6*7))")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"hello-from-pi 42\n")
        # stdin EOF crosses the relay (half-close): `wc -c` only answers after it.
        r = self.ssh(self.pi_token, "wc", "-c", input=b"x" * 100000)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), b"100000")
        # A terminal session typed into (pty).
        r = self.ssh(self.pi_token, input=b"echo typed-$((40+2))\nexit\n", extra=("-tt",))
        self.assertIn(b"typed-42", r.stdout, r.stderr)

    def test_jump_chain_through_pi(self):
        # ssh -J style: the outer ssh's ProxyCommand is an inner `ssh -W` to pi (itself through
        # porthole connect), which opens a direct-tcpip channel to a second sshd behind pi.
        inner = " ".join(["ssh"] + [shlex.quote(a) for a in self.ssh_base(self.pi_token)] +
                         ["-W", f"127.0.0.1:{self.sshd.port}", "pi"]).replace("%h", "%%h")  # the inner ssh's %h
        opts = self.ssh_base(None, proxy=False) + ["-o", f"ProxyCommand={inner}", "-o", "HostKeyAlias=pi"]
        before = self.sshd.accepted
        r = subprocess.run(["ssh", *opts, "behind-pi", "echo", "two-hops"], capture_output=True, timeout=60,
                           env=dict(os.environ, **self.env))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"two-hops\n")
        self.assertEqual(self.sshd.accepted, before + 2)  # pi itself, then the hop behind it

    def test_scp_64mib_with_checksum_and_rsync(self):
        src = os.path.join(self.tmp, "big.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(64 << 20))
        with open(src, "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()
        dst = os.path.join(self.tmp, "big.copy")
        env = dict(os.environ, **self.env)
        r = subprocess.run(["scp", "-q", *self.ssh_base(self.pi_token), src, f"pi:{dst}"], capture_output=True,
                           timeout=120, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(dst, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), want)
        os.unlink(dst)
        # rsync -e 'ssh -o ProxyCommand=...' a small tree.
        tree = os.path.join(self.tmp, "tree")
        os.makedirs(os.path.join(tree, "sub"))
        for i in range(20):
            with open(os.path.join(tree, "sub" if i % 2 else "", f"f{i}"), "wb") as f:
                f.write(os.urandom(1000 * i))
        e = " ".join(["ssh"] + [shlex.quote(a) for a in self.ssh_base(self.pi_token)])
        out = os.path.join(self.tmp, "tree-copy")
        r = subprocess.run(["rsync", "-a", "-e", e, tree + "/", f"pi:{out}/"], capture_output=True, timeout=60,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(["diff", "-r", tree, out], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stdout)
        os.unlink(src)

    def test_listen_ssh_and_several_connects(self):
        c = Proc(["connect", "pi", "--listen", "127.0.0.1:0"] + self.connect_args(self.friend_token), env=self.env)
        port = int(c.wait_line(r"Listening on 127\.0\.0\.1:(\d+) -> private pi").group(1))
        env = dict(os.environ, **self.env)
        r = subprocess.run(["ssh", *self.ssh_base(None, proxy=False), "-o", "HostKeyAlias=pi", "-p", str(port),
                            "127.0.0.1", "echo", "via-listen"], capture_output=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"via-listen\n")
        # Eight connections at once through one --listen (one session, eight streams), each
        # half-closed by the client and answered in full.
        e = Proc(["connect", "echo", "--listen", "0"] + self.connect_args(self.pi_token), env=self.env)
        eport = int(e.wait_line(r"Listening on 127\.0\.0\.1:(\d+) -> private echo").group(1))
        socks = [connect(eport) for _ in range(8)]
        payloads = [os.urandom(300000 + i) for i in range(8)]
        for s, p in zip(socks, payloads):
            s.sendall(p)
            s.shutdown(socket.SHUT_WR)
        for s, p in zip(socks, payloads):
            self.assertEqual(recv_exact(s, len(p)), p)
            self.assertEqual(s.recv(1), b"")  # the echo's FIN came back through both sessions
            s.close()
        self.assertEqual(c.stop(), 0)
        self.assertEqual(e.stop(), 0)

    def test_refused_connect_is_clear_on_both_sides(self):
        start = len(self.relay.proc.err)
        before = self.sshd.accepted
        r = self.ssh(self.stranger_token, "true", timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.sshd.accepted, before)  # nothing reached the agent's service
        self.assertIn(b"this token may not reach the private name pi", r.stderr)
        self.relay.proc.wait_line(r"token stranger\) to private name pi refused: the token may not reach it",
                                  stream="err", start=start)
        # An unknown name is refused the same way (no oracle of which names exist).
        r = subprocess.run([BIN, "connect", "nothing-here", "--stdio"] + self.connect_args(self.stranger_token),
                           input=b"", capture_output=True, timeout=30, env=dict(os.environ, **self.env))
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"may not reach the private name nothing-here", r.stderr)
        # Its own names a token reaches without --allow-connect, and a name nobody serves is
        # "no agent".
        r = subprocess.run([BIN, "connect", "pi-offline", "--stdio"] + self.connect_args(self.pi_token),
                           input=b"", capture_output=True, timeout=30, env=dict(os.environ, **self.env))
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"private name pi-offline", r.stderr)

    def test_scopes_across_tokens(self):
        before = self.sshd.accepted
        # friend may reach pi (--allow-connect pi) ...
        r = self.ssh(self.friend_token, "echo", "friend-ok")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"friend-ok\n")
        self.assertEqual(self.sshd.accepted, before + 1)
        # ... but not register it (--allow-private friend-*), and stranger (--allow-private *)
        # may not take a name pi's token holds.
        for token, why in ((self.friend_token, r"may not register the private name pi"),
                           (self.stranger_token, r"private name pi is held by another token")):
            a = Proc(["tcp", "1", "--private", "pi", "--relay", self.relay.addr, "--token", token,
                      "--relay-fingerprint", self.relay.fingerprint, "--inspect", "off", "--exit-on-failure"],
                     env=self.env)
            a.wait_line(why, stream="err")
            self.assertEqual(a.p.wait(15), 1)
        # The refusals left pi where it was.
        r = self.ssh(self.pi_token, "echo", "still-mine")
        self.assertEqual(r.stdout, b"still-mine\n", r.stderr)

    def test_zz_reconnects_after_relay_restart(self):
        e = Proc(["connect", "echo", "--listen", "0"] + self.connect_args(self.pi_token), env=self.env)
        eport = int(e.wait_line(r"Listening on 127\.0\.0\.1:(\d+) -> private echo").group(1))
        with connect(eport) as s:
            s.sendall(b"before")
            self.assertEqual(recv_exact(s, 6), b"before")
        self.relay.proc.kill9()
        self.relay.start()

        def roundtrip():
            with connect(eport, timeout=5) as s:
                s.sendall(b"after")
                return recv_exact(s, 5) == b"after"
        eventually(roundtrip, timeout=30, what="a connect after the relay restart")
        self.assertEqual(e.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
