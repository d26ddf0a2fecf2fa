#!/usr/bin/env python3
"""HTTP tunnels end to end: `porthole relay --http` + `porthole http` agents + recording origins,
driven mostly by curl (*.localhost resolves to loopback in curl; other names go through
--connect-to 127.0.0.1:PORT).

Routing by Host (subdomain, hostname, wildcard, most specific wins, case/dot/port ignored),
random names kept across agent and relay restarts, name ownership between tokens, keep-alive on
both sides, several hosts on one visitor connection, chunked bodies both ways, Expect:
100-continue, HEAD/204/304 framing, SSE timing, bulk bodies with SHA-256, forwarding fields
with and without --trusted-proxy, hop-by-hop fields, error pages with their counters,
--host-header and --upstream https.
"""
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from http_harness import (CURL, SCALE, CheckedProcesses, HttpClient, ProtocolError, RecordingOrigin,  # noqa: E402
                          Relay, bulk_bytes, create_token, curl, curl_many, data_chunks, data_sha256,
                          free_port, host_of, http_error_count,
                          scaled, self_signed_cert, start_agent, wait_metric)

RANDOM_NAME = r"^[a-z]+-[a-z]+-\d+\.localhost$"


class Base(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.relay = Relay()
        self.origins = []
        self.agents = []

    def tearDown(self):
        for o in self.origins:
            o.close()
        super().tearDown()  # stops the relay and agents: each must exit 0

    def origin(self, name="A", **kw):
        o = RecordingOrigin(name, **kw)
        self.origins.append(o)
        return o

    def agent(self, target, *extra, relay=None, **kw):
        a = start_agent(relay or self.relay, target, *extra, **kw)
        self.agents.append(a)
        return a

    def url(self, host, path="/", relay=None):
        return f"http://{host}:{(relay or self.relay).http_port}{path}"

    def get(self, host, path="/", *args, relay=None):
        """curl to the relay's HTTP port whatever `host` resolves to."""
        relay = relay or self.relay
        return curl(self.url(host, path, relay), *args, connect_port=relay.http_port)

    def assertServedBy(self, origin, host, path="/", relay=None):
        r = self.get(host, path, relay=relay)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, f"{origin.name} GET {path}\n".encode(), r)
        return r


class RoutingTest(Base):
    def test_subdomain_forwarding_line_and_plain_curl(self):
        o = self.origin()
        a = self.agent(o.addr, "--subdomain", "app")
        host, port, local = a.url()
        self.assertEqual((host, port, local), ("app.localhost", self.relay.http_port, f"http://{o.addr}"))
        # Plain curl: app.localhost resolves to loopback, no --connect-to.
        r = curl(f"http://app.localhost:{port}/hello?x=1")
        self.assertEqual((r.rc, r.status, r.body), (0, 200, b"A GET /hello?x=1\n"), r)
        req = o.requests[-1]
        self.assertEqual(req.header("Host"), f"app.localhost:{port}")
        self.assertEqual(req.header("User-Agent")[:5], "curl/")

    def test_domain(self):
        self.relay.proc.stop()
        self.relay = Relay(extra=["--domain", "tunnels.example.test"])
        o = self.origin()
        a = self.agent(o.addr, "--subdomain", "app")
        host, port, _ = a.url()
        self.assertEqual((host, port), ("app.tunnels.example.test", self.relay.http_port))
        self.assertServedBy(o, "app.tunnels.example.test", "/d")
        self.assertEqual(self.get("app.localhost", "/d").status, 404, "names live under --domain only")
        random_host = host_of(self.agent(o.addr, name="rnd"))
        self.assertRegex(random_host, r"^[a-z]+-[a-z]+-\d+\.tunnels\.example\.test$")
        self.assertServedBy(o, random_host, "/r")

    def test_idn_hostname_routes_by_its_a_label(self):
        o = self.origin()
        a = self.agent(o.addr, "--hostname", "bücher.example.test")
        self.assertEqual(host_of(a), "xn--bcher-kva.example.test")
        self.assertServedBy(o, "xn--bcher-kva.example.test", "/idn")
        self.assertServedBy(o, "XN--BCHER-KVA.example.test.", "/idn")

    def test_host_is_case_dot_and_port_insensitive(self):
        o = self.origin()
        host_of(self.agent(o.addr, "--subdomain", "mixed"))
        host = "mixed.localhost"
        with HttpClient(self.relay.http_port) as c:
            for h in (host, host.upper(), f"{host}.", f"{host}:1", f"MiXeD.LocalHost.:{self.relay.http_port}"):
                r = c.get("/p", h)
                self.assertEqual((r.status, r.body), (200, b"A GET /p\n"), h)
                self.assertEqual(o.requests[-1].header("Host"), h, "Host is forwarded as sent")

    def test_two_subdomains_two_agents(self):
        a, b = self.origin("A"), self.origin("B")
        self.agent(a.addr, "--subdomain", "one")
        self.agent(b.addr, "--subdomain", "two")
        host_of(self.agents[0]), host_of(self.agents[1])
        for _ in range(2):
            self.assertServedBy(a, "one.localhost", "/x")
            self.assertServedBy(b, "two.localhost", "/y")
        r = self.get("three.localhost")
        self.assertEqual(r.status, 404, r)
        self.assertEqual([q.target for q in a.requests], ["/x", "/x"])
        self.assertEqual([q.target for q in b.requests], ["/y", "/y"])

    def test_hostname_wildcard_and_most_specific_match(self):
        wild, api, deep = self.origin("WILD"), self.origin("API"), self.origin("DEEP")
        aw = self.agent(wild.addr, "--hostname", "*.example.test")
        aa = self.agent(api.addr, "--hostname", "api.example.test")
        ad = self.agent(deep.addr, "--hostname", "*.api.example.test")
        self.assertEqual(host_of(aw), "*.example.test")
        self.assertEqual(host_of(aa), "api.example.test")
        self.assertEqual(host_of(ad), "*.api.example.test")
        self.assertServedBy(wild, "www.example.test")
        self.assertServedBy(wild, "WWW.Example.TEST.")
        self.assertServedBy(api, "api.example.test")
        self.assertServedBy(deep, "v1.api.example.test")
        self.assertServedBy(wild, "apix.example.test")
        for unknown in ("example.test", "www.example.org", "api.example.test.evil"):
            r = self.get(unknown)
            self.assertEqual(r.status, 404, (unknown, r))

    def test_random_name_kept_across_agent_and_relay_restart(self):
        o = self.origin()
        flags = ["--heartbeat-interval", "1s", "--heartbeat-timeout", "3s"]
        a1 = self.agent(o.addr, *flags, name="web")
        host = host_of(a1)
        self.assertRegex(host, RANDOM_NAME)
        self.assertServedBy(o, host)
        other = self.agent(o.addr, *flags, name="api")
        self.assertNotEqual(host_of(other), host, "another tunnel name gets another host name")
        other.proc.stop()

        a1.proc.kill9()
        a2 = self.agent(o.addr, *flags, name="web")
        self.assertEqual(host_of(a2), host, "same token + tunnel name: same host after an agent restart")
        self.assertServedBy(o, host)

        self.relay.proc.kill9()
        self.relay.start()  # same data dir and agents port, a new HTTP port
        port = self.relay.http_port

        def served():
            r = curl(f"http://{host}:{port}/back")
            return r.status == 200 and r.body == b"A GET /back\n"
        deadline = time.monotonic() + scaled(20)
        while not served():
            self.assertLess(time.monotonic(), deadline, "the random name did not come back after a relay restart")
            time.sleep(0.1)  # waiting for the agent's reconnect, bounded by the deadline
        self.assertEqual(self.get("nobody.localhost").status, 404)


class OwnershipTest(CheckedProcesses, unittest.TestCase):
    def test_name_held_by_first_token_online_and_offline(self):
        data = tempfile.mkdtemp(prefix="porthole-relay-")
        alice = create_token(data, "alice", "--allow-subdomain", "*")
        bob = create_token(data, "bob", "--allow-subdomain", "*")
        relay = Relay(data=data)
        oa, ob = RecordingOrigin("ALICE"), RecordingOrigin("BOB")
        try:
            a = start_agent(relay, oa.addr, "--subdomain", "shared", token=alice)
            host = host_of(a)
            self.assertEqual(host, "shared.localhost")
            url = f"http://{host}:{relay.http_port}/"
            self.assertEqual(curl(url).body, b"ALICE GET /\n")

            # Online owner: bob's bind is refused, with a clear reason, and exits 1 when asked.
            b = start_agent(relay, ob.addr, "--subdomain", "shared", "--exit-on-failure", token=bob)
            self.assertEqual(b.proc.p.wait(scaled(15)), 1)
            b.proc.wait_line(r"held by another token", stream="err")
            self.assertEqual(curl(url).body, b"ALICE GET /\n")
            # Without --exit-on-failure it keeps trying but still gets nothing.
            b2 = start_agent(relay, ob.addr, "--subdomain", "shared", token=bob)
            b2.proc.wait_line(r"held by another token", stream="err", timeout=scaled(15))
            self.assertEqual(curl(url).body, b"ALICE GET /\n")
            b2.proc.stop()

            # Offline owner: the name stays alice's; visitors get 503, bob is still refused.
            self.assertEqual(a.proc.stop(), 0)
            r = curl(url)
            self.assertEqual(r.status, 503, r)
            self.assertIn("offline", r.text)
            b3 = start_agent(relay, ob.addr, "--subdomain", "shared", "--exit-on-failure", token=bob)
            self.assertEqual(b3.proc.p.wait(scaled(15)), 1)
            b3.proc.wait_line(r"held by another token", stream="err")
            self.assertEqual(curl(url).status, 503)
            self.assertEqual(ob.requests, [], "bob's origin must never be reached for alice's name")

            # A random name is owned like any other.
            ar = start_agent(relay, oa.addr, token=alice, name="rnd")
            rnd = host_of(ar)
            self.assertRegex(rnd, RANDOM_NAME)
            br = start_agent(relay, ob.addr, "--subdomain", rnd.split(".")[0], "--exit-on-failure", token=bob)
            self.assertEqual(br.proc.p.wait(scaled(15)), 1)
            br.proc.wait_line(r"held by another token", stream="err")
            self.assertEqual(curl(f"http://{rnd}:{relay.http_port}/").body, b"ALICE GET /\n")
            ar.proc.stop()

            # A token only gets the names its scopes allow.
            carol = create_token(data, "carol", "--allow-subdomain", "carol-*")
            c1 = start_agent(relay, ob.addr, "--subdomain", "dave-app", "--exit-on-failure", token=carol)
            self.assertEqual(c1.proc.p.wait(scaled(15)), 1)
            c1.proc.wait_line(r"carol-\*", stream="err")
            c2 = start_agent(relay, ob.addr, "--subdomain", "carol-app", token=carol)
            self.assertEqual(host_of(c2), "carol-app.localhost")
            self.assertEqual(curl(f"http://carol-app.localhost:{relay.http_port}/").body, b"BOB GET /\n")
            c2.proc.stop()
            ob.clear()

            # ... and survives a relay restart.
            relay.proc.stop()
            relay.start()
            b4 = start_agent(relay, ob.addr, "--subdomain", "shared", "--exit-on-failure", token=bob)
            self.assertEqual(b4.proc.p.wait(scaled(15)), 1)
            b4.proc.wait_line(r"held by another token", stream="err")
            a2 = start_agent(relay, oa.addr, "--subdomain", "shared", token=alice)
            host_of(a2)
            self.assertEqual(curl(f"http://{host}:{relay.http_port}/").body, b"ALICE GET /\n")
            a2.proc.stop()
        finally:
            oa.close()
            ob.close()
            relay.proc.stop()


class KeepAliveTest(Base):
    def test_sequential_requests_share_one_origin_connection(self):
        o = self.origin()
        host = host_of(self.agent(o.addr, "--subdomain", "ka"))
        n = 8
        urls = [self.url(host, f"/r{i}") for i in range(n)]
        stats, out, r = curl_many(urls)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([s for s, _ in stats], [200] * n, out)
        self.assertEqual(sum(c for _, c in stats), 1, "curl opened more than one visitor connection")
        for i in range(n):
            self.assertIn(f"A GET /r{i}\n", out)
        reqs = o.wait_requests(n)
        self.assertEqual([q.target for q in reqs], [f"/r{i}" for i in range(n)])
        self.assertEqual(len({q.conn_id for q in reqs}), 1, f"origin connections used: {reqs}")
        self.assertEqual(o.connection_count(), 1)

    def test_raw_keep_alive_and_pipelining_one_origin_connection(self):
        o = self.origin()
        host = host_of(self.agent(o.addr, "--subdomain", "pipe"))
        h = f"{host}:{self.relay.http_port}"
        with HttpClient(self.relay.http_port) as c:
            for i in range(5):
                self.assertEqual(c.get(f"/seq{i}", h).body, f"A GET /seq{i}\n".encode())
            c.send(b"".join(f"GET /pl{i} HTTP/1.1\r\nHost: {h}\r\n\r\n".encode() for i in range(5)))
            for i in range(5):
                self.assertEqual(c.read_response().body, f"A GET /pl{i}\n".encode())
            c.expect_open()
        self.assertEqual(o.connection_count(), 1, o.requests)

    def test_many_concurrent_visitors(self):
        o = self.origin()
        h = f"{host_of(self.agent(o.addr, '--subdomain', 'many'))}:{self.relay.http_port}"
        port = self.relay.http_port
        n, per = 200, 3

        async def visitor(i):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            bodies = []
            for j in range(per):
                w.write(f"GET /c{i}/{j} HTTP/1.1\r\nHost: {h}\r\n\r\n".encode())
                await w.drain()
                head = await r.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
                bodies.append(await r.readexactly(length))
            w.close()
            return bodies == [f"A GET /c{i}/{j}\n".encode() for j in range(per)]

        async def run():
            return await asyncio.wait_for(asyncio.gather(*(visitor(i) for i in range(n))), scaled(60))
        self.assertEqual(sum(asyncio.run(run())), n)
        self.assertEqual(len(o.complete_requests()), n * per)

    def test_origin_closing_does_not_close_the_visitor(self):
        o = self.origin()
        h = f"{host_of(self.agent(o.addr, '--subdomain', 'closer'))}:{self.relay.http_port}"
        with HttpClient(self.relay.http_port) as c:
            for i in range(4):
                r = c.get(f"/close?i={i}", h)  # the origin answers with Connection: close and closes
                self.assertEqual((r.status, r.body), (200, b"bye\n"))
                self.assertNotEqual((r.header("Connection") or "").lower(), "close",
                                    "the origin's Connection: close is hop-by-hop")
            c.expect_open()
        self.assertEqual(o.connection_count(), 4, "one origin connection per request, each closed by the origin")

    def test_visitor_half_close_still_gets_the_response(self):
        o = self.origin()
        h = f"{host_of(self.agent(o.addr, '--subdomain', 'half'))}:{self.relay.http_port}"
        with HttpClient(self.relay.http_port) as c:
            c.request("POST", "/upload", h, body=b"abc")
            c.sock.shutdown(socket.SHUT_WR)  # the request is complete; nothing more will come
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.text.endswith(" 3\n"), r)
            self.assertTrue(c.closed())

    def test_pipelined_answers_keep_their_order(self):
        o = self.origin()
        h = f"{host_of(self.agent(o.addr, '--subdomain', 'order'))}:{self.relay.http_port}"
        with HttpClient(self.relay.http_port) as c:
            c.send(f"GET /slow?delay=0.3 HTTP/1.1\r\nHost: {h}\r\n\r\nGET /fast HTTP/1.1\r\nHost: {h}\r\n\r\n".encode())
            self.assertEqual(c.read_response().body, b"slow\n")
            self.assertEqual(c.read_response().body, b"A GET /fast\n")

    def test_two_hosts_on_one_visitor_connection(self):
        a, b = self.origin("A"), self.origin("B")
        ha = host_of(self.agent(a.addr, "--subdomain", "left"))
        hb = host_of(self.agent(b.addr, "--subdomain", "right"))
        with HttpClient(self.relay.http_port) as c:
            for h, want in ((ha, "A"), (hb, "B"), (ha, "A"), ("nobody.localhost", None), (hb, "B")):
                r = c.get("/m", h)
                if want:
                    self.assertEqual((r.status, r.body), (200, f"{want} GET /m\n".encode()), h)
                else:
                    self.assertEqual(r.status, 404, r)
            # Pipelined: each answered by its own host's agent, in order.
            c.send(b"".join(f"GET /p{i} HTTP/1.1\r\nHost: {h}\r\n\r\n".encode()
                            for i, h in enumerate((ha, hb, hb, ha))))
            self.assertEqual([c.read_response().body for _ in range(4)],
                             [b"A GET /p0\n", b"B GET /p1\n", b"B GET /p2\n", b"A GET /p3\n"])
        self.assertEqual([q.target for q in a.requests], ["/m", "/m", "/p0", "/p3"])
        self.assertEqual([q.target for q in b.requests], ["/m", "/m", "/p1", "/p2"])


class BodiesTest(Base):
    def setUp(self):
        super().setUp()
        self.o = self.origin()
        self.host = host_of(self.agent(self.o.addr, "--subdomain", "body"))
        self.h = f"{self.host}:{self.relay.http_port}"

    def test_chunked_upload_with_curl(self):
        n = 3 * 1024 * 1024 + 17
        data = b"".join(data_chunks(n))
        # curl -T - streams stdin with Transfer-Encoding: chunked.
        r = curl(self.url(self.host, "/upload"), "-T", "-", stdin=data)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.text, f"sha256 {data_sha256(n)} {n}\n")
        req = self.o.requests[-1]
        self.assertTrue(req.chunked, "the body reached the origin chunked")
        self.assertEqual(req.header("Transfer-Encoding").lower(), "chunked")
        self.assertIsNone(req.header("Content-Length"))

    def test_chunked_upload_raw_with_extensions_and_trailers(self):
        with HttpClient(self.relay.http_port) as c:
            c.send(f"POST /upload HTTP/1.1\r\nHost: {self.h}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                   + b"3;ext=1\r\nabc\r\n" + b"4\r\ndefg\r\n" + b"0\r\nX-Sum: 7\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            import hashlib
            self.assertEqual(r.text, f"sha256 {hashlib.sha256(b'abcdefg').hexdigest()} 7\n")
            self.assertEqual(c.get("/after", self.h).body, b"A GET /after\n")
        self.assertEqual(self.o.requests[-2].trailers, ["X-Sum: 7"])

    def test_chunked_download(self):
        r = curl(self.url(self.host, "/chunked?n=50&size=1000"), "--raw")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        with HttpClient(self.relay.http_port) as c:
            resp = c.get("/chunked?n=50&size=1000", self.h)
            self.assertTrue(resp.chunked)
            self.assertEqual(resp.body, b"".join(bytes([0x61 + i % 26]) * 1000 for i in range(50)))
            n = 5 * 1024 * 1024 + 3
            c.request("GET", f"/download-chunked?bytes={n}", self.h)
            import hashlib
            h = hashlib.sha256()
            resp = c.read_response(sink=h.update, keep_raw=False)
            self.assertTrue(resp.chunked)
            self.assertEqual(h.hexdigest(), data_sha256(n))
            self.assertEqual(c.get("/after", self.h).body, b"A GET /after\n")

    def test_expect_100_continue(self):
        with HttpClient(self.relay.http_port) as c:
            c.send(f"POST /upload HTTP/1.1\r\nHost: {self.h}\r\nContent-Length: 11\r\n"
                   "Expect: 100-continue\r\n\r\n".encode())
            # The 100 comes before any body byte was sent.
            line = b""
            deadline = time.monotonic() + scaled(5)
            while b"\r\n\r\n" not in line:
                c.sock.settimeout(max(0.01, deadline - time.monotonic()))
                d = c.sock.recv(4096)
                self.assertTrue(d, "closed instead of 100 Continue")
                line += d
            self.assertTrue(line.startswith(b"HTTP/1.1 100"), line)
            c.buf += line[line.index(b"\r\n\r\n") + 4:]
            c.send(b"hello world")
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            import hashlib
            self.assertEqual(r.text, f"sha256 {hashlib.sha256(b'hello world').hexdigest()} 11\n")

            # The origin refuses without reading: the visitor gets the 417 without sending it.
            c2 = HttpClient(self.relay.http_port)
            c2.send(f"POST /reject-expect HTTP/1.1\r\nHost: {self.h}\r\nContent-Length: 1000000\r\n"
                    "Expect: 100-continue\r\n\r\n".encode())
            r = c2.read_response()
            self.assertEqual(r.status, 417, r)
            self.assertEqual(r.interim, [], "no 100 Continue before a refusal")
            c2.close()
        # curl waits up to 1 s for a 100 before sending anyway: the 100 must come at once.
        data = b"x" * (2 << 20)
        t0 = time.monotonic()
        r = curl(self.url(self.host, "/upload"), "--data-binary", "@-", "-H", "Expect: 100-continue", stdin=data)
        self.assertEqual(r.status, 200, r)
        self.assertLess(time.monotonic() - t0, 0.9 * SCALE, "curl waited for a 100 Continue that never came")

    def test_response_before_the_request_body(self):
        n = 300000
        with HttpClient(self.relay.http_port) as c:
            c.send(f"POST /early-answer HTTP/1.1\r\nHost: {self.h}\r\nContent-Length: {n}\r\n\r\n".encode())
            r = c.read_response()  # before any body byte was sent
            self.assertEqual((r.status, r.body), (413, b"early\n"))
            if (r.header("Connection") or "").lower() == "close":
                self.assertTrue(c.closed())
                return
            # Still open: the body the visitor sends now belongs to that request, not the next.
            c.send(b"G" * n)
            self.assertEqual(c.get("/after-early", self.h).body, b"A GET /after-early\n")
        # Whether the origin still gets the body it did not wait for is the agent's choice; it
        # never gets it as a request.
        self.assertEqual([q for q in self.o.requests if (q.method or "").startswith("GGGG")], [])

    def test_response_until_close(self):
        n = 200003
        import hashlib
        with HttpClient(self.relay.http_port) as c:
            r = c.get(f"/until-close?bytes={n}", self.h)
            # Re-framed (chunked/length) on a kept connection, or delimited by the close.
            self.assertEqual((len(r.body), hashlib.sha256(r.body).hexdigest()), (n, data_sha256(n)))
            if r.until_close:
                self.assertTrue(c.eof)
            elif (r.header("Connection") or "").lower() == "close":
                self.assertTrue(c.closed())
            else:
                self.assertEqual(c.get("/after", self.h).body, b"A GET /after\n")
        r = curl(self.url(self.host, f"/until-close?bytes={n}"))
        self.assertEqual((r.rc, len(r.body)), (0, n), r)

    def test_early_hints_pass_through(self):
        with HttpClient(self.relay.http_port) as c:
            r = c.get("/early-hints", self.h)
            self.assertEqual([s for s, _ in r.interim], [103])
            self.assertEqual(dict(r.interim[0][1]).get("Link"), "</style.css>; rel=preload")
            self.assertEqual((r.status, r.body), (200, b"hinted\n"))
            self.assertEqual(c.get("/next", self.h).body, b"A GET /next\n")

    def test_head_204_304_framing(self):
        with HttpClient(self.relay.http_port) as c:
            c.request("HEAD", "/head", self.h)
            r = c.read_response("HEAD")
            self.assertEqual((r.status, r.header("Content-Length"), r.body), (200, "20", b""))
            r = c.get("/status/204", self.h)
            self.assertEqual((r.status, r.body), (204, b""))
            r = c.get("/status/304", self.h, headers=[("If-None-Match", '"v1"')])
            self.assertEqual((r.status, r.header("ETag"), r.body), (304, '"v1"', b""))
            self.assertEqual(c.get("/next", self.h).body, b"A GET /next\n", "desynced after a bodiless response")
            # Pipelined the same way.
            c.send("".join(f"{m} {p} HTTP/1.1\r\nHost: {self.h}\r\n\r\n" for m, p in
                           (("HEAD", "/head"), ("GET", "/status/204"), ("GET", "/status/304"), ("GET", "/last"))).encode())
            self.assertEqual(c.read_response("HEAD").status, 200)
            self.assertEqual(c.read_response().status, 204)
            self.assertEqual(c.read_response().status, 304)
            self.assertEqual(c.read_response().body, b"A GET /last\n")
            c.expect_open()
        with HttpClient(self.relay.http_port) as c:  # a chunked answer to HEAD has no body either
            c.request("HEAD", "/chunked?n=2", self.h)
            r = c.read_response("HEAD")
            self.assertEqual((r.status, r.header("Transfer-Encoding"), r.body), (200, "chunked", b""))
            self.assertEqual(c.get("/after-head", self.h).body, b"A GET /after-head\n")
        r = curl(self.url(self.host, "/head"), "-I")
        self.assertEqual((r.rc, r.status, r.header("Content-Length")), (0, 200, "20"), r)

    def test_sse_events_arrive_as_written(self):
        n, interval = 8, 0.15
        p = subprocess.Popen([CURL, "-sS", "-N", "--max-time", str(scaled(30)),
                              self.url(self.host, f"/sse?n={n}&interval={interval}")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        arrivals = {}
        buf = b""
        try:
            while len(arrivals) < n:
                d = os.read(p.stdout.fileno(), 65536)
                if not d:
                    break
                now = time.monotonic()
                buf += d
                for m in re.finditer(rb"data: event (\d+)\n", buf):
                    arrivals.setdefault(int(m.group(1)), now)
        finally:
            p.kill()
            p.wait()
        self.assertEqual(sorted(arrivals), list(range(n)), buf)
        req = self.o.wait_target(f"/sse?n={n}&interval={interval}")
        # The origin notes each write right after it: the client may be faster than that note.
        self.o.wait_for(lambda: len(req.sse_times) == n, what="the origin's notes of its writes")
        budget = 0.05 * SCALE
        late = [(i, arrivals[i] - req.sse_times[i]) for i in range(n) if arrivals[i] - req.sse_times[i] > budget]
        self.assertEqual(late, [], f"events later than {budget * 1000:.0f} ms after the origin wrote them")

    def test_sse_raw_delivery(self):
        with HttpClient(self.relay.http_port) as c:
            c.request("GET", "/sse?n=5&interval=0.1", self.h)
            times = []
            r = c.read_response(sink=lambda b: times.append((time.monotonic(), b)))
            self.assertEqual(r.header("Content-Type"), "text/event-stream")
            data = b"".join(b for _, b in times)
            self.assertEqual(data.count(b"data: event"), 5)
            req = self.o.wait_target("/sse?n=5&interval=0.1")
            self.o.wait_for(lambda: len(req.sse_times) == 5, what="the origin's notes of its writes")
            # Each event was delivered in its own read, soon after it was written.
            seen = 0
            for t, b in times:
                for _ in range(b.count(b"data: event")):
                    self.assertLess(t - req.sse_times[seen], 0.05 * SCALE, seen)
                    seen += 1

    def test_bulk_download_and_upload_sha256(self):
        n = bulk_bytes()
        want = data_sha256(n)
        # Download with curl, hashed as it streams.
        import hashlib
        p = subprocess.Popen([CURL, "-sS", "--max-time", str(scaled(90)), self.url(self.host, f"/download?bytes={n}")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        h, total = hashlib.sha256(), 0
        while True:
            d = p.stdout.read(1 << 20)
            if not d:
                break
            h.update(d)
            total += len(d)
        self.assertEqual(p.wait(), 0, p.stderr.read())
        self.assertEqual((total, h.hexdigest()), (n, want))

        # Upload with curl (chunked, stdin streamed by a thread).
        p = subprocess.Popen([CURL, "-sS", "--max-time", str(scaled(90)), "-T", "-", self.url(self.host, "/upload")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def feed():
            try:
                for piece in data_chunks(n):
                    p.stdin.write(piece)
            finally:
                p.stdin.close()
        t = threading.Thread(target=feed)
        t.start()
        out = p.stdout.read()
        t.join()
        self.assertEqual(p.wait(), 0, p.stderr.read())
        self.assertEqual(out.decode(), f"sha256 {want} {n}\n")

        # Upload with Content-Length from a raw client, then the connection is still usable.
        with HttpClient(self.relay.http_port, timeout=90) as c:
            c.send(f"PUT /upload HTTP/1.1\r\nHost: {self.h}\r\nContent-Length: {n}\r\n\r\n".encode())
            for piece in data_chunks(n):
                c.send(piece)
            r = c.read_response()
            self.assertEqual(r.text, f"sha256 {want} {n}\n")
            self.assertEqual(c.get("/after", self.h).body, b"A GET /after\n")


class ForwardingFieldsTest(CheckedProcesses, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.o = RecordingOrigin("A")

    def tearDown(self):
        self.o.close()
        super().tearDown()

    def send_from(self, relay, source, h, headers):
        with HttpClient(relay.http_port, source=source) as c:
            r = c.get("/fields", h, headers=headers)
            self.assertEqual(r.status, 200, r)
        return self.o.requests[-1]

    SPOOF = [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "spoofed.example"),
             ("Forwarded", "for=1.2.3.4;proto=https")]

    def test_fields_replaced_for_untrusted_visitors_and_hop_by_hop_removed(self):
        relay = Relay()
        a = start_agent(relay, self.o.addr, "--subdomain", "fwd")
        h = f"{host_of(a)}:{relay.http_port}"
        req = self.send_from(relay, "127.0.0.5", h, self.SPOOF)
        self.assertEqual(req.headers_named("X-Forwarded-For"), ["127.0.0.5"])
        self.assertEqual(req.headers_named("X-Forwarded-Proto"), ["http"])
        self.assertEqual(req.headers_named("X-Forwarded-Host"), [h])
        self.assertEqual(len(req.headers_named("Forwarded")), 1, req.headers)
        self.assertRegex(req.header("Forwarded"), rf'^for=127\.0\.0\.5;host=(?:{re.escape(h)}|"{re.escape(h)}");proto=http$')

        # Hop-by-hop fields and those named in Connection go; framing, Host and the relay's own
        # X-Forwarded-* cannot be removed that way.
        with HttpClient(relay.http_port, source="127.0.0.6") as c:
            c.request("POST", "/hop-in", h, headers=[
                ("Connection", "keep-alive, X-Secret, X-Forwarded-For, X-Forwarded-Host, Forwarded, Content-Length, Host"),
                ("Keep-Alive", "timeout=300"), ("TE", "trailers"), ("Trailer", "X-T"), ("Proxy-Connection", "keep-alive"),
                ("Upgrade", "websocket"), ("X-Secret", "s3cret"), ("X-Kept", "yes")], body=b"body!")
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            # And the response's: X-Internal is named in the origin's Connection field.
            r = c.get("/hop", h)
            self.assertEqual(r.header("X-Kept"), "yes")
            self.assertIsNone(r.header("X-Internal"))
            self.assertIsNone(r.header("Keep-Alive"))
        req = next(q for q in self.o.requests if q.target == "/hop-in")
        names = {n.lower() for n, _ in req.headers}
        for gone in ("keep-alive", "te", "trailer", "proxy-connection", "upgrade", "x-secret"):
            self.assertNotIn(gone, names, req.headers)
        self.assertNotIn("x-secret", (req.header("Connection") or "").lower())
        self.assertEqual(req.header("X-Kept"), "yes")
        self.assertEqual(req.header("Host"), h)
        self.assertEqual(req.header("Content-Length"), "5")
        self.assertEqual(bytes(req.body), b"body!")
        self.assertEqual(req.headers_named("X-Forwarded-For"), ["127.0.0.6"])
        self.assertEqual(req.headers_named("X-Forwarded-Host"), [h])
        self.assertEqual(len(req.headers_named("Forwarded")), 1)

    def test_trusted_proxy_appends(self):
        relay = Relay(extra=["--trusted-proxy", "127.0.0.5/32", "--trusted-proxy", "127.0.0.7/32"])
        a = start_agent(relay, self.o.addr, "--subdomain", "fwd")
        h = f"{host_of(a)}:{relay.http_port}"
        req = self.send_from(relay, "127.0.0.5", h, self.SPOOF)
        self.assertEqual(", ".join(req.headers_named("X-Forwarded-For")), "1.2.3.4, 127.0.0.5")
        self.assertEqual(req.headers_named("X-Forwarded-Proto"), ["https"])
        self.assertEqual(req.headers_named("X-Forwarded-Host"), ["spoofed.example"])
        fwd = ", ".join(req.headers_named("Forwarded"))
        self.assertRegex(fwd, rf'^for=1\.2\.3\.4;proto=https, for=127\.0\.0\.5;host=(?:{re.escape(h)}|"{re.escape(h)}");proto=http$')
        # The second --trusted-proxy counts too; an address outside both does not.
        req = self.send_from(relay, "127.0.0.7", h, [("X-Forwarded-For", "5.6.7.8")])
        self.assertEqual(", ".join(req.headers_named("X-Forwarded-For")), "5.6.7.8, 127.0.0.7")
        req = self.send_from(relay, "127.0.0.6", h, self.SPOOF)
        self.assertEqual(req.headers_named("X-Forwarded-For"), ["127.0.0.6"])
        self.assertEqual(req.headers_named("X-Forwarded-Proto"), ["http"])
        self.assertEqual(req.headers_named("X-Forwarded-Host"), [h])
        self.assertNotIn("1.2.3.4", ", ".join(req.headers_named("Forwarded")))


class ErrorPagesTest(Base):
    def check_page(self, r, status, *needles):
        self.assertEqual(r.status, status, r)
        text = r.text
        lines = text.strip("\n").split("\n")
        self.assertEqual(len(lines), 1, f"a text error is one line: {text!r}")
        self.assertRegex(lines[0], r"^[^:\n]+: .+$", "TITLE: DETAIL")
        for n in needles:
            self.assertIn(n, text)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/plain"), r.headers)

    def check_html(self, r, status, *needles):
        self.assertEqual(r.status, status, r)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/html"), r.headers)
        self.assertIn("<html", r.text.lower())
        for n in needles:
            self.assertIn(n, r.text)

    def check_keep_or_announced_close(self, host, path="/", status=None):
        """After the relay's own answer the visitor connection either stays usable or was
        announced closed (Connection: close) before it closes: a keep-alive client must be able
        to tell a closed connection from a usable one (RFC 9112 section 9.6)."""
        h = f"{host}:{self.relay.http_port}"
        with HttpClient(self.relay.http_port) as c:
            r = c.get(path, h)
            self.assertEqual(r.status, status, r)
            if (r.header("Connection") or "").lower() == "close":
                self.assertTrue(c.closed(), "Connection: close but the connection stayed open")
                return
            try:
                c.request("GET", path, h)
                r2 = c.read_response()
            except (ProtocolError, ConnectionError) as e:
                self.fail(f"the relay closed the connection after a {status} without Connection: close ({e})")
            self.assertEqual(r2.status, status, r2)

    def test_unknown_host_404(self):
        n0 = http_error_count(self.relay, "unknown_host")
        r = self.get("nobody.localhost", "/x")
        self.check_page(r, 404, "no tunnel is registered for nobody.localhost")
        self.check_keep_or_announced_close("nobody.localhost", "/x", 404)
        n0 += 2
        r = self.get("nobody.localhost", "/x", "-H", "Accept: text/html,application/xhtml+xml;q=0.9")
        self.check_html(r, 404, "no tunnel is registered for nobody.localhost")
        self.assertEqual(wait_metric(self.relay, "unknown_host", n0 + 2), n0 + 2)

    def test_offline_503(self):
        o = self.origin()
        a = self.agent(o.addr, "--subdomain", "gone")
        host = host_of(a)
        self.assertServedBy(o, host)
        n0 = http_error_count(self.relay, "agent_offline")
        self.assertEqual(a.proc.stop(), 0)
        r = self.get(host)
        self.check_page(r, 503, "offline")
        self.check_html(self.get(host, "/", "-H", "Accept: text/html"), 503, "offline")
        self.assertEqual(wait_metric(self.relay, "agent_offline", n0 + 2), n0 + 2)
        self.check_keep_or_announced_close(host, "/", 503)

    def test_local_service_refused_502(self):
        dead = free_port()
        a = self.agent(f"127.0.0.1:{dead}", "--subdomain", "dead")
        host = host_of(a)
        n0 = http_error_count(self.relay, "upstream_failed")
        r = self.get(host)
        self.check_page(r, 502, "failed to complete tunnel connection", f"127.0.0.1:{dead}")
        self.check_html(self.get(host, "/", "-H", "Accept: text/html"), 502, f"127.0.0.1:{dead}")
        self.assertEqual(wait_metric(self.relay, "upstream_failed", n0 + 2), n0 + 2)
        self.check_keep_or_announced_close(host, "/", 502)

    def test_bad_request_400_and_closed(self):
        n0 = http_error_count(self.relay, "bad_request")
        with HttpClient(self.relay.http_port) as c:
            c.send(b"GET / HTTP/1.1\r\nHost: a.localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy")
            r = c.read_response()
            self.assertEqual(r.status, 400)
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(c.closed())
        self.assertEqual(wait_metric(self.relay, "bad_request", n0 + 1), n0 + 1)

    def test_head_too_large_431(self):
        n0 = http_error_count(self.relay, "head_too_large")
        field = b"GET / HTTP/1.1\r\nHost: a.localhost\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
        head = (b"GET / HTTP/1.1\r\nHost: a.localhost\r\n" +
                b"".join(b"X-F%d: %s\r\n" % (i, b"c" * 1000) for i in range(40)) + b"\r\n")
        for payload in (field, head):
            with HttpClient(self.relay.http_port) as c:
                c.send(payload)
                r = c.read_response()
                self.assertEqual(r.status, 431, r)
                self.assertTrue(c.closed())
        r = self.get("a.localhost", "/", "-H", "X-Big: " + "z" * 9000)
        self.assertEqual(r.status, 431, r)
        self.assertEqual(wait_metric(self.relay, "head_too_large", n0 + 3), n0 + 3)

    def test_bad_response_502(self):
        o = self.origin()
        host = host_of(self.agent(o.addr, "--subdomain", "bad"))
        n0 = http_error_count(self.relay, "bad_response")
        r = self.get(host, "/broken/garbage")
        self.check_page(r, 502, "malformed response")
        self.assertEqual(wait_metric(self.relay, "bad_response", n0 + 1), n0 + 1)
        self.check_keep_or_announced_close(host, "/broken/garbage", 502)

    def test_upstream_timeout_504(self):
        self.relay.proc.stop()
        self.relay = Relay(extra=["--upstream-timeout", "1s"])
        o = self.origin()
        host = host_of(self.agent(o.addr, "--subdomain", "slow"))
        n0 = http_error_count(self.relay, "upstream_timeout")
        t0 = time.monotonic()
        r = self.get(host, "/hang")
        elapsed = time.monotonic() - t0
        self.check_page(r, 504)
        self.assertGreater(elapsed, 0.9, "answered before the 1 s upstream timeout")
        self.assertLess(elapsed, 10 * SCALE)
        self.assertEqual(wait_metric(self.relay, "upstream_timeout", n0 + 1), n0 + 1)
        self.assertServedBy(o, host, "/fine")
        self.check_keep_or_announced_close(host, "/hang", 504)


class AgentOptionsTest(Base):
    def test_host_header_rewrite_preserve_value(self):
        o = self.origin()
        cases = {"rewrite": o.addr, "preserve": None, "custom.internal:8443": "custom.internal:8443"}
        for i, (mode, want) in enumerate(cases.items()):
            host = host_of(self.agent(o.addr, "--subdomain", f"hh{i}", "--host-header", mode))
            original = f"{host}:{self.relay.http_port}"
            r = self.get(host, f"/hh/{i}")
            self.assertEqual(r.status, 200, r)
            req = o.requests[-1]
            self.assertEqual(req.target, f"/hh/{i}")
            self.assertEqual(req.headers_named("Host"), [want or original], mode)
            self.assertEqual(req.header("X-Forwarded-Host"), original, mode)

    def test_upstream_https(self):
        cert, key = self_signed_cert()  # CN and SAN IP:127.0.0.1
        o = self.origin("TLS", tls=(cert, key))
        # --upstream-insecure: served, and sequential requests reuse one TLS connection.
        host = host_of(self.agent(o.addr, "--subdomain", "tls", "--upstream", "https", "--upstream-insecure"))
        self.assertServedBy(o, host, "/secure")
        n = 5
        stats, out, r = curl_many([self.url(host, f"/ka{i}") for i in range(n)], connect_port=self.relay.http_port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([s for s, _ in stats], [200] * n, out)
        for i in range(n):
            self.assertIn(f"TLS GET /ka{i}\n", out)
        reqs = o.wait_requests(n + 1)
        self.assertEqual(len({q.conn_id for q in reqs}), 1, f"origin connections used: {reqs}")
        self.assertEqual(o.connection_count(), 1, "the agent kept its TLS connection alive")
        # A close-delimited body from an origin that closes without close_notify (Python's ssl)
        # arrives whole.
        r = self.get(host, "/until-close?bytes=100000")
        self.assertEqual((r.rc, r.status, len(r.body)), (0, 200, 100000), r.stderr)

        # Verified by default: a self-signed origin is not trusted, 502 naming the reason.
        strict = host_of(self.agent(o.addr, "--subdomain", "tls-strict", "--upstream", "https"))
        done = len(o.complete_requests())
        r = self.get(strict, "/nope")
        self.assertEqual(r.status, 502, r)
        self.assertIn(b"certificate verify failed: self-signed certificate", r.body, r)
        self.assertIn(o.addr.encode(), r.body, r)
        self.assertEqual(len(o.complete_requests()), done, "nothing reached an untrusted origin")

        # The system CA store (SSL_CERT_FILE) trusting it: verified, also the IP address.
        trusted = host_of(self.agent(o.addr, "--subdomain", "tls-ca", "--upstream", "https",
                                     env={"SSL_CERT_FILE": cert}))
        self.assertServedBy(o, trusted, "/verified")
        # A trusted certificate for another name: refused (it names 127.0.0.1, not localhost).
        wrong = host_of(self.agent(f"localhost:{o.port}", "--subdomain", "tls-name", "--upstream", "https",
                                   env={"SSL_CERT_FILE": cert}))
        r = self.get(wrong, "/wrong-name")
        self.assertEqual(r.status, 502, r)
        self.assertIn(b"certificate verify failed: hostname mismatch", r.body, r)
        self.assertEqual(len(o.complete_requests()), done + 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
