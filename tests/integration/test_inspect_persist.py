"""Captures kept across an agent restart (--inspect-db, docs/inspector.md), against the built
binary: relay + `porthole http` + the recording origin. The API lists the persisted captures
after the restart (same ids, bodies, bytes), replay works on them, DELETE reaches the file, a
corrupt or foreign file costs the persistence and nothing else. Then 5,000 requests through a
small --inspect-memory: the ring, the file and the agent's RSS stay bounded (the 100k-request
run is bench/inspect_memory.sh)."""
import base64
import http.client
import os
import socket
import sqlite3
import sys
import threading
import time
import unittest

# Under ASan, freed memory waits in a quarantine (256 MiB by default) before it is reused, which
# would show up as RSS growth in MemoryBoundTest; without it RSS follows what is really held.
os.environ["ASAN_OPTIONS"] = ":".join(
    filter(None, [os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=0", "thread_local_quarantine_size_kb=0"]))

sys.path.insert(0, os.path.dirname(__file__))
from http_harness import CheckedProcesses, RecordingOrigin, Relay, scaled  # noqa: E402
from test_inspect import Api, start_agent  # noqa: E402


def send(relay, host, path, body=b"", conn=None):
    """One request through the relay's http listener (keep-alive on `conn` when given)."""
    c = conn or http.client.HTTPConnection("127.0.0.1", relay.http_port, timeout=scaled(15))
    c.request("POST", path, body=body, headers={"Host": f"{host}:{relay.http_port}"})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, data


def db_rows(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM captures").fetchone()[0]
    finally:
        con.close()


class PersistTest(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.relay = Relay()
        self.origin = RecordingOrigin()
        self.db = os.path.join(self.relay.data, "agent-state", "captures.db")

    def tearDown(self):
        super().tearDown()
        self.origin.close()

    def agent(self, *extra):
        return start_agent(self.relay, self.origin.port, "--inspect", "127.0.0.1:0", "--inspect-db", self.db, *extra)

    def test_captures_survive_a_restart_and_replay_works_on_them(self):
        agent, port, host = self.agent()
        api = Api(port)
        for i in range(3):
            status, _ = send(self.relay, host, f"/hook/{i}", f"payload-{i}".encode())
            self.assertEqual(status, 200)
        before = api.wait_requests(3)
        self.assertEqual(api.get("/api/status")["inspect"]["db"], self.db)
        self.assertEqual(agent.stop(), 0)
        self.assertEqual(oct(os.stat(self.db).st_mode & 0o777), "0o600")
        self.assertEqual(db_rows(self.db), 3)

        agent, port, host2 = self.agent()
        self.assertEqual(host2, host)  # the same name back
        agent.wait_line(r"inspect db .*: 3 captures loaded", timeout=scaled(5), stream="err")
        api = Api(port)
        after = api.get("/api/requests/http")["requests"]
        self.assertEqual([e["id"] for e in after], [e["id"] for e in before])
        for a, b in zip(after, before):
            self.assertEqual(a, b)  # every field, raw bytes included
        one = api.get("/api/requests/http/" + before[1]["id"])
        self.assertEqual(base64.b64decode(one["request"]["raw"]).partition(b"\r\n\r\n")[2], b"payload-1")
        # Replay of a capture made by the previous agent reaches the origin again.
        self.origin.clear()
        status, _ = api.call("POST", "/api/requests/http", {"id": before[1]["id"]})
        self.assertEqual(status, 204)
        [r] = self.origin.wait_requests(1)
        self.assertEqual(r.body, b"payload-1")
        reqs = api.wait_requests(4)
        self.assertEqual(reqs[0]["capture"]["replay_of"], before[1]["id"])
        # The page is served and lists from the same API (what it shows is this list).
        status, page = api.call("GET", "/")
        self.assertEqual(status, 200)
        self.assertIn(b"<title>", page)
        # DELETE reaches the file: a third start finds nothing.
        status, _ = api.call("DELETE", "/api/requests/http")
        self.assertEqual(status, 204)
        self.assertEqual(agent.stop(), 0)
        self.assertEqual(db_rows(self.db), 0)
        agent, port, _ = self.agent()
        self.assertEqual(Api(port).get("/api/requests/http")["requests"], [])

    def test_header_bytes_that_are_not_utf8(self):
        # obs-text in a header value: the JSON shows U+FFFD, `raw` the exact bytes, before and
        # after a restart (a capture like this once made every list request fail).
        agent, port, host = self.agent()
        s = socket.create_connection(("127.0.0.1", self.relay.http_port), timeout=scaled(10))
        s.sendall(b"GET /latin1 HTTP/1.1\r\nHost: " + f"{host}:{self.relay.http_port}".encode() +
                  b"\r\nX-Name: caf\xe9\xff\r\nConnection: close\r\n\r\n")
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200"))
        s.close()
        for attempt in range(2):
            api = Api(port)
            [e] = api.wait_requests(1)
            self.assertEqual(e["request"]["headers"]["X-Name"], ["caf\ufffd\ufffd"])
            self.assertIn(b"X-Name: caf\xe9\xff\r\n", base64.b64decode(e["request"]["raw"]))
            if attempt == 0:
                self.assertEqual(agent.stop(), 0)
                agent, port, _ = self.agent()

    def test_corrupt_or_foreign_file_runs_without_persistence(self):
        os.makedirs(os.path.dirname(self.db), exist_ok=True)
        with open(self.db, "wb") as f:
            f.write(b"this is not a database " * 200)
        agent, port, host = self.agent()
        agent.wait_line(r"captures not persisted: .*not an SQLite database", timeout=scaled(5), stream="err")
        api = Api(port)
        self.assertEqual(send(self.relay, host, "/x")[0], 200)
        api.wait_requests(1)  # capture in memory goes on
        self.assertIsNone(api.get("/api/status")["inspect"]["db"])
        self.assertEqual(agent.stop(), 0)
        with open(self.db, "rb") as f:
            self.assertTrue(f.read().startswith(b"this is not a database"))  # left as it was
        # A copy of the relay's own database (another program's SQLite file): refused, untouched.
        relay_db = os.path.join(self.relay.data, "relay.db")
        foreign = os.path.join(self.relay.data, "relay-copy.db")
        src, dst = sqlite3.connect(relay_db), sqlite3.connect(foreign)
        src.backup(dst)
        src.close()
        dst.close()
        with open(foreign, "rb") as f:
            before = f.read()
        agent, port, host = start_agent(self.relay, self.origin.port, "--inspect", "127.0.0.1:0", "--inspect-db",
                                        foreign)
        agent.wait_line(r"captures not persisted: .*another program's SQLite database", timeout=scaled(5),
                        stream="err")
        self.assertEqual(send(self.relay, host, "/y")[0], 200)
        self.assertEqual(agent.stop(), 0)
        with open(foreign, "rb") as f:
            self.assertEqual(f.read(), before)
        # The live relay.db itself: not used (the relay holds it), and the relay goes on.
        agent, port, host = start_agent(self.relay, self.origin.port, "--inspect", "127.0.0.1:0", "--inspect-db",
                                        relay_db)
        agent.wait_line(r"captures not persisted: ", timeout=scaled(5), stream="err")
        self.assertEqual(send(self.relay, host, "/z")[0], 200)


class MemoryBoundTest(CheckedProcesses, unittest.TestCase):
    """The CI-sized version of the 100k-request run: 5,000 requests, 256 KiB of ring."""

    N = 5000

    def test_ring_file_and_rss_stay_bounded(self):
        relay = Relay()
        origin = RecordingOrigin()
        db = os.path.join(relay.data, "agent-state", "captures.db")
        agent, port, host = start_agent(relay, origin.port, "--inspect", "127.0.0.1:0", "--inspect-memory", "256KiB",
                                        "--inspect-body-limit", "1KiB", "--inspect-db", db)
        api = Api(port)
        body = b"b" * 2000  # over the body limit: 1 KiB kept of each
        done = [0] * 4
        rss = {}

        def worker(k, n):
            conn = http.client.HTTPConnection("127.0.0.1", relay.http_port, timeout=scaled(30))
            for i in range(k, n, 4):
                status, _ = send(relay, host, f"/m/{i}", body, conn)
                assert status == 200, status
                done[k] += 1
            conn.close()

        # A warm-up of 500 first (the ring fills, allocators settle), then the rest.
        total = self.N
        threads = [threading.Thread(target=worker, args=(k, 500)) for k in range(4)]
        [t.start() for t in threads]
        [t.join(scaled(120)) for t in threads]
        self.assertEqual(sum(done), 500)
        rss["warm"] = agent.rss_kib()
        done[:] = [0] * 4
        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(k, total)) for k in range(4)]
        [t.start() for t in threads]
        [t.join(scaled(300)) for t in threads]
        took = time.monotonic() - t0
        self.assertEqual(sum(done), total)
        rss["end"] = agent.rss_kib()
        deadline = time.monotonic() + scaled(10)
        while True:
            s = api.get("/api/status")["inspect"]
            if s["captured"] + s["dropped"] >= 500 + total or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # polling the API, bounded by the deadline
        self.assertEqual(s["captured"] + s["dropped"], 500 + total, s)
        self.assertLessEqual(s["bytes"], 256 << 10)
        self.assertGreater(s["evicted"], 4000)
        held = s["held"]
        self.assertLess(held, 200)  # ~1.5 KiB each in 256 KiB
        self.assertEqual(len(api.get("/api/requests/http")["requests"]), held)
        self.assertEqual(agent.stop(), 0)
        rows = db_rows(db)
        self.assertLessEqual(rows, held)  # the file holds what the ring held (minus any not written)
        self.assertGreater(rows, 0)
        self.assertLess(os.path.getsize(db), 8 << 20)
        grew = rss["end"] - rss["warm"]
        sys.stderr.write(f"\n{total} requests in {took:.1f}s; held {held}, rows {rows}, db "
                         f"{os.path.getsize(db) >> 10} KiB; agent RSS {rss['warm']} -> {rss['end']} KiB\n")
        self.assertLess(grew, 16 << 10, rss)  # MiB-scale growth would mean captures are kept
        origin.close()


if __name__ == "__main__":
    unittest.main()
