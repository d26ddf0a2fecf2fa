#!/usr/bin/env python3
"""Health checks and tcp pools: a pool member whose local service fails its --health-check gets
no new requests (and gets them back once healthy); tcp endpoints pool and fail over like http."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, EchoServer  # noqa: E402
from http_harness import (HttpClient, OriginResponse, RecordingOrigin, Relay, host_of,  # noqa: E402
                          scaled, start_agent)


class HealthCheckTest(unittest.TestCase):
    def test_unhealthy_member_is_skipped_and_comes_back(self):
        relay = Relay()
        state = {"ok": True}

        def sick_handler(req, origin):
            if req.path == "/healthz" and not state["ok"]:
                return OriginResponse(status=503, body=b"unhealthy\n")
            return None  # the default answer: "SICK METHOD TARGET"

        good = RecordingOrigin("GOOD")
        sick = RecordingOrigin("SICK", handler=sick_handler)
        try:
            for o, n in ((good, "g"), (sick, "s")):
                a = start_agent(relay, o.addr, "--subdomain", "hc", "--pool", "--health-check", "/healthz", name=n)
                self.assertEqual(host_of(a), "hc.localhost")
            h = f"hc.localhost:{relay.http_port}"

            def seen(k):
                out = set()
                for i in range(k):
                    with HttpClient(relay.http_port) as c:
                        r = c.get(f"/p{i}", h, headers=[("Connection", "close")])
                        self.assertEqual(r.status, 200)
                        out.add(r.body.split(b" ")[0])
                return out
            deadline = time.monotonic() + scaled(10)
            while seen(4) != {b"GOOD", b"SICK"}:
                self.assertLess(time.monotonic(), deadline, "both members never served")
            state["ok"] = False
            deadline = time.monotonic() + scaled(10)
            while seen(6) != {b"GOOD"}:
                self.assertLess(time.monotonic(), deadline, "the unhealthy member kept getting requests")
            state["ok"] = True
            deadline = time.monotonic() + scaled(10)
            while seen(4) != {b"GOOD", b"SICK"}:
                self.assertLess(time.monotonic(), deadline, "the member did not come back when healthy")
        finally:
            good.close()
            sick.close()


class TcpPoolTest(unittest.TestCase):
    def test_tcp_pool_shares_and_fails_over(self):
        relay = Relay()
        e1, e2 = EchoServer(), EchoServer()
        # The relay picks a free port for the first member (a fixed one could be taken); the
        # second asks for that one.
        a1 = Agent(relay.addr, relay.fingerprint, e1.port, extra=["--pool", "--name", "pooled"])
        port = a1.public_port()
        a2 = Agent(relay.addr, relay.fingerprint, e2.port, extra=["--pool", "--name", "pooled", "--remote-port",
                                                                   str(port)])
        self.assertEqual(a2.public_port(), port)

        def echo_once():
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"x")
                return s.recv(1)

        deadline = time.monotonic() + scaled(10)
        while e1.accepted == 0 or e2.accepted == 0:
            self.assertEqual(echo_once(), b"x")
            self.assertLess(time.monotonic(), deadline, "both pool members never served")
        a1.proc.kill9()
        before = e2.accepted
        for _ in range(10):
            self.assertEqual(echo_once(), b"x")  # every new connection goes to the survivor at once
        self.assertEqual(e2.accepted - before, 10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
