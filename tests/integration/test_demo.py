"""`porthole demo`: relay + agent + sample app in one process, reachable through the tunnel; the
HTTP story: a webhook through http://demo.localhost:PORT/ shows up in the inspector's API and
replays to the sample app."""
import base64
import http.client
import json
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Proc  # noqa: E402

SCALE = float(os.environ.get("PORTHOLE_TIME_SCALE", "1"))


def call(port, method, path, body=None, headers=None, host=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SCALE)
    h = {"Host": host or f"127.0.0.1:{port}"}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


class DemoTest(unittest.TestCase):
    def test_demo_serves_the_sample_app_through_the_tunnel(self):
        p = Proc(["demo", "--data", tempfile.mkdtemp(prefix="porthole-demo-"), "--inspect", "127.0.0.1:0"])
        port = int(p.wait_line(r"Forwarding tcp://127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:\d+").group(1))
        status, body = call(port, "GET", "/")
        self.assertEqual(status, 200)
        self.assertIn(b"Hello from porthole", body)
        self.assertEqual(p.stop(signal.SIGINT), 0)

    def test_http_story_webhook_inspect_replay(self):
        p = Proc(["demo", "--data", tempfile.mkdtemp(prefix="porthole-demo-"), "--inspect", "127.0.0.1:0"])
        web = p.wait_line(r"^Open http://demo\.localhost:(\d+)/ in a browser")
        http_port = int(web.group(1))
        api = int(p.wait_line(r"^Web Interface http://127\.0\.0\.1:(\d+)").group(1))
        p.wait_line(rf"Forwarding http://demo\.localhost:{http_port} -> http://127\.0\.0\.1:\d+")
        host = f"demo.localhost:{http_port}"
        status, body = call(http_port, "GET", "/", host=host)
        self.assertEqual(status, 200)
        self.assertIn(b"Send a webhook", body)
        hook = json.dumps({"event": "demo", "n": 1})
        status, body = call(http_port, "POST", "/webhook", hook, {"Content-Type": "application/json"}, host=host)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["webhook"], 1)
        # The inspector's API has it (the capture is handed over asynchronously: bounded wait).
        deadline = time.monotonic() + 10 * SCALE
        while True:
            reqs = json.loads(call(api, "GET", "/api/requests/http")[1])["requests"]
            posts = [r for r in reqs if r["request"]["method"] == "POST"]
            if posts or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # polling the API, bounded by the deadline
        self.assertEqual(len(posts), 1, reqs)
        self.assertEqual(posts[0]["tunnel_name"], "demo-http")
        self.assertTrue(base64.b64decode(posts[0]["request"]["raw"]).endswith(hook.encode()))
        status, _ = call(api, "POST", "/api/requests/http", json.dumps({"id": posts[0]["id"]}),
                         {"Content-Type": "application/json"})
        self.assertEqual(status, 204)
        status, body = call(http_port, "GET", "/webhooks", host=host)
        got = json.loads(body)
        self.assertEqual(got["count"], 2)  # the original and the replay
        self.assertEqual(got["last"][1]["json"], {"event": "demo", "n": 1})
        status, page = call(api, "GET", "/")
        self.assertEqual(status, 200)
        self.assertIn(b"porthole inspector", page)
        self.assertEqual(p.stop(signal.SIGINT), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
