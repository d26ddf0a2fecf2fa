#!/usr/bin/env python3
"""Request framing and smuggling through the relay's HTTP listener: every vector of
http_vectors.json goes to a real relay + `porthole http` agent + a recording origin, and the test
checks the statuses the visitor gets, that the connection is closed after an error (or still in
step when it stays open), and the exact list of requests the origin saw: nothing hidden in a
body, after a Connection: close or behind ambiguous framing may ever reach it.

Then the response side: a broken origin (CL+TE, bad chunks, two responses for one request, a
body on a 204, ...) must not desync the visitor connection: the next request on it gets its own
answer, or the connection is closed.
"""
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from http_harness import (BROKEN, CheckedProcesses, HttpClient, ProtocolError, RecordingOrigin, Relay,  # noqa: E402
                          host_of, http_error_count, metrics, start_agent, stop_and_check)

VECTORS = os.path.join(os.path.dirname(__file__), "http_vectors.json")
STATUS_REASON = {400: "bad_request", 501: "bad_request", 505: "bad_request", 431: "head_too_large",
                 404: "unknown_host", 405: "method_not_allowed"}


def load_vectors():
    with open(VECTORS) as f:
        return json.load(f)["vectors"]


def expand(template, env):
    """The request bytes of a vector (see the comment at the top of http_vectors.json)."""
    def one(s):
        def sub(m):
            tok = m.group(1)
            if tok in env:
                return env[tok]
            if tok.startswith("LEN:"):
                return str(len(one(tok[4:]).encode("latin-1")))
            if tok.startswith("HEXLEN:"):
                return "%x" % len(one(tok[7:]).encode("latin-1"))
            if tok.startswith("FIELDS:"):
                _, n, size = tok.split(":")
                lines = []
                for i in range(int(n)):
                    name = f"X-Fill-{i:03d}: "
                    lines.append(name + "f" * (int(size) - len(name) - 2) + "\r\n")
                return "".join(lines)
            m2 = re.fullmatch(r"(.)\*(\d+)", tok, re.S)
            if m2:
                return m2.group(1) * int(m2.group(2))
            raise KeyError(tok)
        # Innermost placeholders first: {LEN:...} may hold {HOST}.
        return re.sub(r"\{((?:LEN|HEXLEN):(?:[^{}]|\{[^{}]*\})*|[A-Z]+|FIELDS:\d+:\d+|.\*\d+)\}", sub, s, flags=re.S)
    return one(template).encode("latin-1")


def allowed(spec):
    return spec if isinstance(spec, list) else [spec]


class RequestVectorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay()
        cls.origin = RecordingOrigin("origin")
        cls.agent = start_agent(cls.relay, cls.origin.addr, "--subdomain", "v")
        cls.host = host_of(cls.agent)
        cls.port = cls.relay.http_port
        cls.env = {"HOST": f"{cls.host}:{cls.port}", "HOSTNAME": cls.host, "PORT": str(cls.port),
                   "HOSTUPPER": f"{cls.host}:{cls.port}".upper()}
        cls.barrier = 0

    @classmethod
    def tearDownClass(cls):
        cls.origin.close()
        stop_and_check([cls.relay.proc, cls.agent.proc])

    def sync(self, client=None):
        """A request through the same tunnel that the origin must see answered in order: after
        it, whatever an earlier vector made the relay forward has reached the origin too (it
        is a barrier on the agent's origin connections, not a sleep)."""
        type(self).barrier += 1
        target = f"/__barrier__/{self.barrier}"
        c = client or HttpClient(self.port)
        try:
            c.request("GET", target, self.env["HOST"])
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, f"origin GET {target}\n".encode(), "the answer to another request")
        finally:
            if client is None:
                c.close()
        return target

    def run_vector(self, v):
        exp = v["expect"]
        data = expand(v["request"], self.env)
        self.origin.clear()
        c = HttpClient(self.port, timeout=10)
        try:
            c.send(data)
            got = []
            for spec in exp["responses"]:
                try:
                    r = c.read_response()
                except ProtocolError as e:
                    self.fail(f"expected a {spec} response, got {got} and then: {e}")
                got.append(r.status)
                self.statuses.append(r.status)
                self.assertIn(r.status, allowed(spec), f"responses so far {got}; last {r!r}")
                if r.status >= 400:
                    reason = r.body.decode("latin-1")
                    self.assertTrue(reason.strip(), "an error response without a reason")
            if exp["closed"]:
                self.assertTrue(c.closed(timeout=5), "the connection stayed open after the error "
                                                     f"(or sent more: {bytes(c.buf[:200])!r})")
            elif exp["closed"] is None:  # either way; if it stays open it must be in step
                try:
                    self.sync(c)
                except (ProtocolError, ConnectionError):
                    pass  # closed: fine
            else:
                self.sync(c)  # still in step: the next request on it gets its own answer
        finally:
            c.close()
        self.sync()
        seen = [r for r in self.origin.requests if not (r.target or "").startswith("/__barrier__/")]
        complete = [r.summary() for r in seen if r.complete]
        want = [{k: expand(x, self.env).decode("latin-1") for k, x in o.items()} for o in exp["origin"]]
        self.assertEqual(complete, want, f"the origin saw {seen}")
        for name, values in exp.get("origin_fields", {}).items():
            want_values = [expand(x, self.env).decode("latin-1") for x in values]
            self.assertEqual(seen[0].headers_named(name), want_values, f"{name} at the origin: {seen[0].headers}")
        partial = [r for r in seen if not r.complete]
        if partial:
            p = exp.get("origin_partial")
            self.assertTrue(p, f"the origin saw an incomplete or unparsable request: {partial}")
            self.assertEqual(len(partial), 1, partial)
            self.assertEqual((partial[0].method, partial[0].target), (p["method"], p["target"]), partial)

    def test_vectors(self):
        vectors = load_vectors()
        self.assertGreaterEqual(len(vectors), 100)
        self.assertEqual(len({v["name"] for v in vectors}), len(vectors), "vector names are unique")
        before = metrics(self.relay)
        self.statuses = []  # every status the relay answered, expected or not
        for v in vectors:
            with self.subTest(v["name"]):
                try:
                    self.run_vector(v)
                except Exception as e:  # noqa: BLE001 (a timeout is a failure of this vector too)
                    raise AssertionError(f"{v['name']} ({v['category']}): {e}\nrequest: "
                                         f"{expand(v['request'], self.env)[:400]!r}") from None
        # Each answer the relay gave itself was counted once, under its reason.
        after = metrics(self.relay)
        for reason in sorted(set(STATUS_REASON.values())):
            key = f'porthole_relay_http_errors_total{{reason="{reason}"}}'
            n = sum(1 for s in self.statuses if STATUS_REASON.get(s) == reason)
            self.assertEqual(after.get(key, 0) - before.get(key, 0), n, key)


class ExpectOnErrorPathTest(CheckedProcesses, unittest.TestCase):
    """A request with Expect: 100-continue the relay refuses itself (unknown host) gets its
    final answer at once, without a 100; then the connection is closed, announced, or still
    reading that body: the body the visitor sends after it is never taken for a request."""

    def test_unknown_host_with_expect(self):
        relay = Relay()
        origin = RecordingOrigin("origin")
        try:
            h = f"{host_of(start_agent(relay, origin.addr, '--subdomain', 'known'))}:{relay.http_port}"
            smuggled = f"GET /smuggled HTTP/1.1\r\nHost: {h}\r\n\r\n".encode()
            with HttpClient(relay.http_port) as c:
                c.send(f"POST / HTTP/1.1\r\nHost: nobody-here.localhost\r\nContent-Length: {len(smuggled)}\r\n"
                       "Expect: 100-continue\r\n\r\n".encode())
                r = c.read_response(timeout=3)
                self.assertEqual(r.status, 404, r)
                self.assertEqual(r.interim, [], "a 100 Continue for a request that will not be forwarded")
                if (r.header("Connection") or "").lower() == "close":
                    self.assertTrue(c.closed())
                else:
                    try:  # still open: what follows is that request's body
                        c.send(smuggled)
                        c.request("GET", "/after", h)
                        r2 = c.read_response()
                        self.assertEqual(r2.body, b"origin GET /after\n")
                    except (ProtocolError, ConnectionError):
                        pass  # closed without a word: also no smuggling
            with HttpClient(relay.http_port) as c:  # barrier: the origin has seen what it will see
                self.assertEqual(c.get("/barrier", h).status, 200)
            self.assertEqual([r.target for r in origin.requests if r.target != "/after"], ["/barrier"])
        finally:
            origin.close()
            relay.proc.stop()


class BrokenOriginTest(unittest.TestCase):
    """A broken local service: the visitor gets a 502 (or a cut connection once a response was
    under way), never the bytes of a second response, and never a stale answer later."""

    # What the relay can still do when the head is bad (502) vs. once it forwarded a good head
    # (cut the connection).
    BAD_HEAD = {"cl-te", "double-cl", "bare-lf", "garbage", "bad-status", "obs-fold", "te-not-chunked", "huge-head"}
    BAD_BODY = {"bad-chunk", "chunk-overrun", "short-body"}
    EXTRA_BYTES = {"two-responses": 200, "204-with-body": 204}

    @classmethod
    def setUpClass(cls):
        cls.relay = Relay()
        cls.origin = RecordingOrigin("origin")
        cls.agent = start_agent(cls.relay, cls.origin.addr, "--subdomain", "broken")
        cls.host = f"{host_of(cls.agent)}:{cls.relay.http_port}"

    @classmethod
    def tearDownClass(cls):
        cls.origin.close()
        stop_and_check([cls.relay.proc, cls.agent.proc])

    def test_modes_cover_the_table(self):
        self.assertEqual(self.BAD_HEAD | self.BAD_BODY | set(self.EXTRA_BYTES), set(BROKEN))

    def after(self, c, what):
        """The next request on the same visitor connection: its own answer, or a closed
        connection; never the broken origin's leftovers."""
        try:
            c.request("GET", f"/after/{what}", self.host)
            r = c.read_response()
        except (ProtocolError, ConnectionError, BrokenPipeError):
            return "closed"
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, f"origin GET /after/{what}\n".encode(), "a stale answer: the connection desynced")
        self.assertIsNone(r.header("X-Smuggled"))
        return "answered"

    def test_bad_heads_are_502(self):
        for mode in sorted(self.BAD_HEAD):
            with self.subTest(mode):
                n0 = http_error_count(self.relay, "bad_response")
                with HttpClient(self.relay.http_port) as c:
                    c.request("GET", f"/broken/{mode}", self.host)
                    r = c.read_response()
                    self.assertEqual(r.status, 502, r)
                    self.assertNotIn(b"SMUGGLED", r.raw)
                    if (r.header("Connection") or "").lower() == "close":
                        self.assertTrue(c.closed())
                    else:  # kept open: in step
                        self.assertEqual(self.after(c, mode), "answered")
                self.assertEqual(http_error_count(self.relay, "bad_response"), n0 + 1)

    def test_bad_bodies_cut_the_connection(self):
        for mode in sorted(self.BAD_BODY):
            with self.subTest(mode):
                with HttpClient(self.relay.http_port) as c:
                    c.request("GET", f"/broken/{mode}", self.host)
                    try:
                        # The error may be found before the head went out: then a 502 ...
                        r = c.read_response()
                    except ProtocolError:
                        # ... else the head came and the body cannot complete: cut.
                        rest = bytes(c.buf) + c.read_until_close(timeout=5)
                        self.assertNotIn(b"SMUGGLED", rest)
                        self.assertNotIn(b"HTTP/1.1 ", rest)
                        continue
                    self.assertEqual(r.status, 502, r)
                    self.assertNotIn(b"SMUGGLED", r.raw)
                    if (r.header("Connection") or "").lower() == "close":
                        self.assertTrue(c.closed())
                    else:  # kept open: in step
                        self.assertEqual(self.after(c, mode), "answered")

    def test_extra_bytes_after_a_response_do_not_desync(self):
        for mode, status in sorted(self.EXTRA_BYTES.items()):
            with self.subTest(mode):
                for attempt in range(3):  # the agent's pool must drop that origin connection each time
                    with HttpClient(self.relay.http_port) as c:
                        c.request("GET", f"/broken/{mode}", self.host)
                        r = c.read_response()
                        self.assertEqual(r.status, status, r)
                        self.assertNotIn(b"SMUGGLED", r.raw)
                        self.after(c, f"{mode}-{attempt}")
                    # A new visitor connection (maybe the same pooled origin connection).
                    with HttpClient(self.relay.http_port) as c2:
                        self.assertEqual(self.after(c2, f"{mode}-{attempt}-new"), "answered")


if __name__ == "__main__":
    unittest.main(verbosity=2)
