"""`porthole demo`: relay + agent + sample app in one process, reachable through the tunnel."""
import http.client
import os
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Proc  # noqa: E402


class DemoTest(unittest.TestCase):
    def test_demo_serves_the_sample_app_through_the_tunnel(self):
        p = Proc(["demo", "--data", tempfile.mkdtemp(prefix="porthole-demo-")])
        port = int(p.wait_line(r"Forwarding tcp://127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:\d+").group(1))
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn(b"Hello from porthole", r.read())
        c.close()
        self.assertEqual(p.stop(signal.SIGINT), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
