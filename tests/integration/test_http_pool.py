#!/usr/bin/env python3
"""Agent pools on one HTTP name: several agents of one token with --pool share its traffic round
robin (or --pool least-conn); when one dies (kill -9) new requests go to the others at once.
Without --pool a second agent takes the name over and the first one says so."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from http_harness import (CheckedProcesses, HttpClient, RecordingOrigin, Relay, host_of,  # noqa: E402
                          scaled, start_agent)


def served_by(port, h, path):
    """One request on a new visitor connection; the origin's name, or the status if it failed."""
    try:
        with HttpClient(port, timeout=10) as c:
            r = c.get(path, h, headers=[("Connection", "close")])
    except (OSError, AssertionError) as e:
        return f"error {e}"
    if r.status != 200:
        return f"status {r.status}"
    return r.header("X-Origin")


class PoolTest(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.relay = Relay()
        self.origins = [RecordingOrigin(f"O{i}") for i in range(3)]

    def tearDown(self):
        for o in self.origins:
            o.close()
        super().tearDown()

    def start_pool(self, *pool_args):
        agents = []
        for i, o in enumerate(self.origins):
            a = start_agent(self.relay, o.addr, "--subdomain", "pool", *pool_args, name=f"member{i}")
            self.assertEqual(host_of(a), "pool.localhost")
            agents.append(a)
        self.h = f"pool.localhost:{self.relay.http_port}"
        return agents

    def test_round_robin_and_failover_at_once(self):
        agents = self.start_pool("--pool")
        names = [o.name for o in self.origins]

        def all_members_serve():
            seen = {served_by(self.relay.http_port, self.h, "/warm") for _ in range(6)}
            return seen == set(names)
        deadline = time.monotonic() + scaled(10)
        while not all_members_serve():  # the third member may register a moment after its line
            self.assertLess(time.monotonic(), deadline, "not every pool member got traffic")

        got = [served_by(self.relay.http_port, self.h, f"/rr{i}") for i in range(30)]
        counts = {n: got.count(n) for n in names}
        self.assertEqual(sum(counts.values()), 30, got)
        self.assertLessEqual(max(counts.values()) - min(counts.values()), 1, f"not round robin: {counts}")

        # Kill one member in the middle of a stream of requests: every request that starts after
        # the kill returned succeeds, served by the others.
        stop = threading.Event()
        results = []

        def load():
            i = 0
            while not stop.is_set() and i < 2000:
                t = time.monotonic()
                results.append((t, served_by(self.relay.http_port, self.h, f"/load{i}")))
                i += 1
        th = threading.Thread(target=load)
        th.start()
        deadline = time.monotonic() + scaled(10)
        while len(results) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)  # let the load run for a while before the kill
        agents[1].proc.kill9()
        killed_at = time.monotonic()
        while len([r for r in results if r[0] > killed_at]) < 40 and time.monotonic() < deadline + scaled(10):
            time.sleep(0.01)
        stop.set()
        th.join(scaled(30))
        after = [who for t, who in results if t > killed_at]
        self.assertGreaterEqual(len(after), 40)
        self.assertEqual([w for w in after if w not in ("O0", "O2")], [],
                         "requests after the kill failed or went to the dead member")
        self.assertGreater(after.count("O0"), 5)
        self.assertGreater(after.count("O2"), 5)

    def test_least_conn_prefers_the_idle_member(self):
        agents = self.start_pool("--pool", "least-conn")
        deadline = time.monotonic() + scaled(10)
        while {served_by(self.relay.http_port, self.h, "/warm") for _ in range(6)} != {"O0", "O1", "O2"}:
            self.assertLess(time.monotonic(), deadline, "not every pool member got traffic")
        # Two slow requests occupy two members; the next requests go to the third.
        slow = []
        for _ in range(2):
            c = HttpClient(self.relay.http_port, timeout=30)
            c.request("GET", "/slow?delay=3", self.h)
            slow.append(c)
        busy = self.origins_with_pending("/slow?delay=3", 2)
        idle = ({"O0", "O1", "O2"} - busy).pop()
        for i in range(4):
            self.assertEqual(served_by(self.relay.http_port, self.h, f"/lc{i}"), idle)
        for c in slow:
            self.assertEqual(c.read_response().status, 200)
            c.close()
        del agents

    def origins_with_pending(self, target, n):
        deadline = time.monotonic() + scaled(10)
        while True:
            busy = {o.name for o in self.origins if any(r.target == target for r in o.requests)}
            if len(busy) >= n:
                return busy
            self.assertLess(time.monotonic(), deadline, f"the slow requests did not reach {n} members")
            time.sleep(0.01)


class TakeoverTest(CheckedProcesses, unittest.TestCase):
    def test_second_agent_without_pool_takes_the_name_over(self):
        relay = Relay()
        first, second = RecordingOrigin("FIRST"), RecordingOrigin("SECOND")
        try:
            a1 = start_agent(relay, first.addr, "--subdomain", "solo")
            self.assertEqual(host_of(a1), "solo.localhost")
            h = f"solo.localhost:{relay.http_port}"
            self.assertEqual(served_by(relay.http_port, h, "/1"), "FIRST")
            a2 = start_agent(relay, second.addr, "--subdomain", "solo")
            self.assertEqual(host_of(a2), "solo.localhost")
            deadline = time.monotonic() + scaled(10)
            while not (a1.proc.count("was taken over by another agent", "err") or
                       a1.proc.count("was taken over by another agent", "out")):
                self.assertLess(time.monotonic(), deadline, "the first agent did not say it was taken over:\n"
                                + "\n".join(a1.proc.err[-20:]))
                time.sleep(0.02)
            for i in range(5):
                self.assertEqual(served_by(relay.http_port, h, f"/after{i}"), "SECOND")
            self.assertFalse([r for r in first.requests if r.target.startswith("/after")])
            a2.proc.stop()
            a1.proc.stop()
        finally:
            first.close()
            second.close()
            relay.proc.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
