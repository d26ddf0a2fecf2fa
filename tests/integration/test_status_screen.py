"""The agent's terminal status screen (app/status_screen.cpp) in a real terminal: tmux runs
`porthole http` on a pty; capture-pane reads the screen. Checks the ngrok-like fields, a
request appearing, two terminal sizes, a relay restart (reconnecting, then online), and that
`q` quits with status 0 and gives the terminal back."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN  # noqa: E402
from http_harness import TOKEN, RecordingOrigin, Relay, curl, scaled  # noqa: E402

TMUX = shutil.which("tmux")


@unittest.skipUnless(TMUX, "tmux missing (scripts/deps.sh)")
class StatusScreenTest(unittest.TestCase):
    def setUp(self):
        self.sock = f"porthole-test-{os.getpid()}"
        self.dir = tempfile.mkdtemp(prefix="porthole-screen-")

    def tearDown(self):
        # The agent ignores SIGHUP (it is the reload signal), so a failed test must stop it itself:
        # SIGTERM to the children of the pane's shell, then the tmux server.
        pane = self.tmux("display", "-p", "-t", "t", "#{pane_pid}").stdout.strip()
        if pane.isdigit():
            subprocess.run(["pkill", "-TERM", "-P", pane], capture_output=True)
        subprocess.run([TMUX, "-L", self.sock, "kill-server"], capture_output=True)

    def tmux(self, *args):
        return subprocess.run([TMUX, "-L", self.sock, *args], capture_output=True, text=True, timeout=30)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t").stdout.rstrip("\n").split("\n")

    def wait_screen(self, pattern, timeout=15.0):
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + scaled(timeout)
        while True:
            lines = self.screen()
            if rx.search("\n".join(lines)):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"no /{pattern}/ on the screen:\n" + "\n".join(lines))
            time.sleep(0.1)  # polling the terminal, bounded by the deadline

    def test_screen(self):
        relay = Relay()
        origin = RecordingOrigin()
        exit_file = os.path.join(self.dir, "exit")
        cmd = " ".join(shlex.quote(a) for a in [
            "env", f"XDG_CONFIG_HOME={self.dir}", BIN, "http", str(origin.port), "--relay", relay.addr,
            "--token", TOKEN, "--relay-fingerprint", relay.fingerprint, "--inspect", "127.0.0.1:0",
            "--subdomain", "screen", "--heartbeat-interval", "1s", "--heartbeat-timeout", "3s"])
        self.tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30",
                  f"{cmd}; echo EXIT=$? > {shlex.quote(exit_file)}; sleep 120")
        lines = self.wait_screen(r"^Session Status +online$")
        text = "\n".join(lines)
        self.assertRegex(lines[0], r"^porthole +\(Ctrl\+C or q to quit\)$")
        self.assertRegex(text, r"(?m)^Account +token [0-9a-f]{16}$")
        self.assertRegex(text, r"(?m)^Version +\d+\.\d+\.\d+$")
        self.assertRegex(text, rf"(?m)^Relay +{re.escape(relay.addr)}$")
        self.assertRegex(text, r"(?m)^Web Interface +http://127\.0\.0\.1:\d+$")
        self.assertRegex(text, rf"(?m)^Forwarding +http://screen\.localhost:{relay.http_port} -> "
                               rf"http://127\.0\.0\.1:{origin.port}$")
        self.assertRegex(text, r"(?m)^Connections +ttl +opn +rt1 +rt5 +p50 +p90$")
        self.assertNotIn(TOKEN, text)  # the secret never shows
        self.wait_screen(r"^Latency +\d+\.\dms$")  # measured by the heartbeat
        host = f"screen.localhost:{relay.http_port}"
        r = curl(f"http://{host}/screen-test", "--connect-to", f"{host}:127.0.0.1:{relay.http_port}")
        self.assertEqual(r.status, 200)
        lines = self.wait_screen(r"^\d\d:\d\d:\d\d\.\d{3} +GET +/screen-test +200 OK +\d+\.\dms$")
        self.assertRegex("\n".join(lines), r"(?m)^ +1 +0 +")  # ttl 1, opn 0
        self.assertTrue(all(len(line) <= 100 for line in lines))
        # A smaller terminal: the frame follows it.
        self.tmux("resize-window", "-t", "t", "-x", "50", "-y", "12")
        deadline = time.monotonic() + scaled(10)
        while True:
            lines = self.screen()
            if len(lines) <= 12 and all(len(line) <= 50 for line in lines) and lines[0].startswith("porthole"):
                break
            self.assertLess(time.monotonic(), deadline, "\n".join(lines))
            time.sleep(0.1)
        self.assertRegex(lines[2], r"^Session Status +online$")
        self.tmux("resize-window", "-t", "t", "-x", "100", "-y", "30")
        # The relay goes away and comes back on the same port: reconnecting (why), then online.
        relay.proc.kill9()
        self.wait_screen(r"^Session Status +reconnecting \(\S")
        relay.start()
        self.wait_screen(r"^Session Status +online$", timeout=30)
        self.wait_screen(rf"^Forwarding +http://screen\.localhost:{relay.http_port} ->")
        # q quits cleanly, the terminal comes back (no alternate screen left).
        self.tmux("send-keys", "-t", "t", "q")
        deadline = time.monotonic() + scaled(20)
        while not os.path.exists(exit_file) or not open(exit_file).read().strip():
            self.assertLess(time.monotonic(), deadline, "\n".join(self.screen()))
            time.sleep(0.1)
        self.assertEqual(open(exit_file).read().strip(), "EXIT=0")
        self.assertEqual(self.tmux("display", "-p", "-t", "t", "#{alternate_on}").stdout.strip(), "0")
        origin.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
