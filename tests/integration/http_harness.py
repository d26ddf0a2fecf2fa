"""Helpers for the HTTP tests of the built binary: a recording HTTP origin, raw-socket HTTP
clients, curl, relay + `porthole http` agents, admin metrics.

Everything listens on 127.0.0.1 with port 0; every wait has a deadline (scaled by
PORTHOLE_TIME_SCALE in sanitizer builds); nothing sleeps to synchronise.

The origin (RecordingOrigin) records every request it receives, per connection: method,
target, version, headers, body (the first MiB, plus length and SHA-256 of all of it), whether
the body was chunked, and anything unparsable it was sent (as a request with `error` set). Its
answers are chosen by the request's path (see RecordingOrigin.default_handler), so curl and
raw clients can drive it without configuration.
"""
import hashlib
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, HttpAgent, Proc, Relay  # noqa: E402,F401

SCALE = float(os.environ.get("PORTHOLE_TIME_SCALE", "1"))
CURL = "/usr/bin/curl"
TOKEN = "test-token-0123456789"


def scaled(seconds):
    return seconds * SCALE


# ---------------------------------------------------------------------------------------------
# What the binary offers (so tests of features that have not landed yet skip with a reason)

_help_cache = {}


def help_text(*sub):
    if sub not in _help_cache:
        try:
            r = subprocess.run([BIN, *sub, "--help"], capture_output=True, text=True, timeout=30)
            _help_cache[sub] = r.stdout if r.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            _help_cache[sub] = ""
    return _help_cache[sub]


def has_http_agent():
    return "Usage: porthole http" in help_text("http")


def http_flag(flag):
    """True when `porthole http --help` lists `flag`."""
    return re.search(r"(^|[\s,])" + re.escape(flag) + r"\b", help_text("http"), re.M) is not None


def relay_flag(flag):
    return re.search(r"(^|[\s,])" + re.escape(flag) + r"\b", help_text("relay"), re.M) is not None


def token_flag(flag):
    return re.search(r"(^|[\s,])" + re.escape(flag) + r"\b", help_text("token", "create"), re.M) is not None


NOT_LANDED = "`porthole http` has not landed in this build yet"


# ---------------------------------------------------------------------------------------------
# Deterministic bulk data

_BLOCK = random.Random(0x706F7274).randbytes(1 << 20)


def data_chunks(n, block=1 << 20):
    """n bytes of deterministic data (_BLOCK repeated), in pieces of at most `block` bytes;
    the same bytes whatever the piece size."""
    sent = 0
    while sent < n:
        off = sent % len(_BLOCK)
        piece = _BLOCK[off: off + min(block, n - sent)]
        yield piece
        sent += len(piece)


def data_sha256(n):
    h = hashlib.sha256()
    for piece in data_chunks(n):
        h.update(piece)
    return h.hexdigest()


def bulk_bytes(default=128 << 20):
    """The size of the big transfers: PORTHOLE_BULK_BYTES (smaller under ASan) or `default`."""
    env = os.environ.get("PORTHOLE_BULK_BYTES")
    return min(int(env), default) if env else default


# ---------------------------------------------------------------------------------------------
# Recording origin

class HeaderLookup:
    """Case-insensitive look-ups in `self.headers`, a list of (name, value)."""

    def header(self, name, default=None):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return default

    def headers_named(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]


class OriginRequest(HeaderLookup):
    BODY_KEEP = 1 << 20

    def __init__(self, conn, index):
        self.conn = conn
        self.conn_id = conn.id
        self.index = index  # position on its connection
        self.method = self.target = self.version = None
        self.headers = []
        self.raw_head = b""
        self.body = bytearray()  # the first BODY_KEEP bytes of the decoded body
        self.body_len = 0
        self._sha = hashlib.sha256()
        self.body_sha256 = None
        self.chunked = False
        self.chunk_exts = []
        self.trailers = []
        self.complete = False  # head and body fully received
        self.error = None      # the origin could not parse what it got (garbage, bad chunk)
        self.t_head = time.monotonic()
        self.t_done = None
        self.continue_sent_at = None
        self.body_first_byte_at = None
        self.sse_times = []  # monotonic time just before each SSE event was written

    # Field look-ups (case-insensitive).

    @property
    def path(self):
        t = self.target or ""
        if t.startswith(("http://", "https://")):
            t = urllib.parse.urlsplit(t).path or "/"
        return t.split("?", 1)[0]

    @property
    def query(self):
        t = self.target or ""
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(t).query))

    def _body(self, data):
        if data and self.body_first_byte_at is None:
            self.body_first_byte_at = time.monotonic()
        self._sha.update(data)
        self.body_len += len(data)
        room = self.BODY_KEEP - len(self.body)
        if room > 0:
            self.body += data[:room]

    def summary(self):
        """The part the smuggling corpus compares: method, target, decoded body."""
        return {"method": self.method, "target": self.target, "body": bytes(self.body).decode("latin-1")}

    def __repr__(self):
        return (f"<req conn={self.conn_id}#{self.index} {self.method} {self.target} {self.version} "
                f"body={self.body_len}B complete={self.complete} error={self.error}>")


class OriginConn:
    def __init__(self, cid, peer):
        self.id = cid
        self.peer = peer
        self.requests = []
        self.opened_at = time.monotonic()
        self.closed_at = None


class _Reader:
    """Buffered reads from a socket, for the origin's parser."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def fill(self):
        if self.eof:
            return False
        try:
            d = self.sock.recv(1 << 20)
        except (OSError, ssl.SSLError):
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def read_until(self, seps, limit=1 << 20):
        """Bytes up to and including the first separator found (earliest of `seps`)."""
        while True:
            best = None
            for sep in seps:
                i = self.buf.find(sep)
                if i >= 0 and (best is None or i < best[0]):
                    best = (i, sep)
            if best:
                end = best[0] + len(best[1])
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            if len(self.buf) > limit or not self.fill():
                return None

    def read_some(self, n):
        if not self.buf and not self.fill():
            return b""
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_line(self, limit=65536):
        return self.read_until((b"\n",), limit)


class OriginResponse:
    """A response the origin's handler returns: status, fields, body; or raw bytes."""

    def __init__(self, status=200, headers=None, body=b"", raw=None, close=False, chunked=False):
        self.status = status
        self.headers = list(headers or [])
        self.body = body
        self.raw = raw
        self.close = close
        self.chunked = chunked


REASONS = {100: "Continue", 101: "Switching Protocols", 103: "Early Hints", 200: "OK", 201: "Created",
           204: "No Content", 206: "Partial Content", 301: "Moved Permanently", 304: "Not Modified",
           400: "Bad Request", 404: "Not Found", 417: "Expectation Failed", 500: "Internal Server Error",
           503: "Service Unavailable"}


class RecordingOrigin:
    """A threaded HTTP/1.1 origin on 127.0.0.1:0 that records what it receives.

    handler(req, origin) -> OriginResponse | None. None means the default behaviour for the
    path (default_handler). `tls=(certfile, keyfile)` serves HTTPS.
    """

    def __init__(self, name="origin", handler=None, tls=None):
        self.name = name
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
        self.conns = []
        self.cv = threading.Condition()
        self.closed = threading.Event()
        self._socks = set()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    # -- inspection --------------------------------------------------------------------------
    @property
    def requests(self):
        with self.cv:
            return [r for c in self.conns for r in c.requests]

    def complete_requests(self):
        return [r for r in self.requests if r.complete]

    def connection_count(self):
        with self.cv:
            return len(self.conns)

    def clear(self):
        with self.cv:
            self.conns = [c for c in self.conns if c.closed_at is None]
            for c in self.conns:
                c.requests = []

    def wait_for(self, pred, timeout=10.0, what="origin condition"):
        deadline = time.monotonic() + scaled(timeout)
        with self.cv:
            while True:
                r = pred()
                if r:
                    return r
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what} not reached within {scaled(timeout):.1f}s; "
                                         f"origin {self.name} saw {self.requests}")
                self.cv.wait(min(left, 0.2))

    def wait_requests(self, n, timeout=10.0):
        """Waits until at least n complete requests arrived; returns them all."""
        return self.wait_for(lambda: len([r for c in self.conns for r in c.requests if r.complete]) >= n
                             and [r for c in self.conns for r in c.requests if r.complete],
                             timeout, f"{n} requests")

    def wait_target(self, target, timeout=10.0):
        return self.wait_for(lambda: next((r for c in self.conns for r in c.requests
                                           if r.target == target and r.complete), None),
                             timeout, f"a request for {target}")

    def close(self):
        self.closed.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.cv:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- serving -----------------------------------------------------------------------------
    def _accept_loop(self):
        cid = 0
        while True:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            cid += 1
            conn = OriginConn(cid, peer)
            with self.cv:
                self.conns.append(conn)
                self._socks.add(c)
                self.cv.notify_all()
            threading.Thread(target=self._serve, args=(c, conn), daemon=True).start()

    def _serve(self, c, conn):
        try:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls:
                c.settimeout(10)
                c = self.tls.wrap_socket(c, server_side=True)
                c.settimeout(None)
            rd = _Reader(c)
            while not self.closed.is_set():
                req = self._read_request(rd, conn)
                if req is None:
                    break
                if req.error:
                    break
                if not self._respond(c, rd, req):
                    break
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.cv:
                conn.closed_at = time.monotonic()
                self._socks.discard(c)
                self.cv.notify_all()
            try:
                c.close()
            except OSError:
                pass

    def _new_request(self, conn):
        with self.cv:
            req = OriginRequest(conn, len(conn.requests))
            conn.requests.append(req)
            self.cv.notify_all()
        return req

    def _done(self, req):
        with self.cv:
            req.complete = True
            req.t_done = time.monotonic()
            req.body_sha256 = req._sha.hexdigest()
            self.cv.notify_all()

    def _read_request(self, rd, conn):
        """Parses one request leniently (so that anything a relay lets through is recorded)."""
        while not rd.buf:
            if not rd.fill():
                return None
        head = rd.read_until((b"\r\n\r\n", b"\n\n"), limit=1 << 20)
        req = self._new_request(conn)
        if head is None:
            req.raw_head = bytes(rd.buf)
            req.error = "incomplete or oversized head"
            with self.cv:
                self.cv.notify_all()
            return req
        req.raw_head = head
        lines = re.split(rb"\r?\n", head.rstrip(b"\r\n"))
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            req.error = "bad request line"
            req.method = parts[0].decode("latin-1")
            with self.cv:
                self.cv.notify_all()
            return req
        req.method, req.target, req.version = (p.decode("latin-1") for p in parts)
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                req.error = "field without colon"
                return req
            req.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        with self.cv:
            self.cv.notify_all()
        te = ",".join(req.headers_named("Transfer-Encoding")).lower()
        cl = req.header("Content-Length")
        expect = (req.header("Expect") or "").lower() == "100-continue"
        req.chunked = "chunked" in te
        if req.path == "/early-answer":  # answers at once, then reads (and keeps) the body anyway
            rd.sock.sendall(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 6\r\nX-Origin: " +
                            self.name.encode() + b"\r\n\r\nearly\n")
        if expect and (req.chunked or (cl and cl.strip() != "0")):
            if req.path == "/reject-expect":
                self._done(req)  # answered without reading the body
                return req
            if req.path != "/ignore-expect":
                rd.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                req.continue_sent_at = time.monotonic()
        if req.chunked:
            if not self._read_chunked(rd, req):
                return req
        elif cl is not None:
            try:
                n = int(cl)
            except ValueError:
                req.error = "bad Content-Length"
                return req
            while n > 0:
                d = rd.read_some(min(n, 1 << 20))
                if not d:
                    req.error = "body cut short"
                    with self.cv:
                        self.cv.notify_all()
                    return req
                req._body(d)
                n -= len(d)
        self._done(req)
        return req

    def _read_chunked(self, rd, req):
        while True:
            line = rd.read_line()
            if line is None:
                req.error = "body cut short"
                return False
            size, _, ext = line.rstrip(b"\r\n").partition(b";")
            if ext:
                req.chunk_exts.append(ext.decode("latin-1"))
            try:
                n = int(size.strip(), 16)
            except ValueError:
                req.error = f"bad chunk size {size!r}"
                return False
            if n == 0:
                break
            while n > 0:
                d = rd.read_some(min(n, 1 << 20))
                if not d:
                    req.error = "body cut short"
                    return False
                req._body(d)
                n -= len(d)
            crlf = rd.read_line()
            if crlf not in (b"\r\n", b"\n"):
                req.error = "chunk data not followed by CRLF"
                return False
        while True:
            line = rd.read_line()
            if line is None:
                req.error = "trailers cut short"
                return False
            if line in (b"\r\n", b"\n"):
                return True
            req.trailers.append(line.rstrip(b"\r\n").decode("latin-1"))

    def _respond(self, c, rd, req):
        """Writes the answer; False when the connection must close."""
        resp = self.handler(req, self) if self.handler else None
        if resp is None:
            resp = self.default_handler(req, c)
        if resp is None:  # the handler wrote everything itself and wants the connection closed
            return False
        if resp.raw is not None:
            c.sendall(resp.raw)
            return not resp.close
        c.sendall(self.serialize(req, resp))
        if resp.chunked and req.method != "HEAD":
            for piece in resp.body:
                c.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            c.sendall(b"0\r\n\r\n")
        close = resp.close or (req.header("Connection") or "").lower() == "close" or req.version == "HTTP/1.0"
        return not close

    def serialize(self, req, resp):
        headers = list(resp.headers)
        names = {n.lower() for n, _ in headers}
        if "x-origin" not in names:
            headers += [("X-Origin", self.name), ("X-Origin-Conn", str(req.conn_id)),
                        ("X-Origin-Seq", str(req.index))]
        no_body = req.method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        if resp.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        elif "content-length" not in names and not (resp.status in (204, 304) or 100 <= resp.status < 200):
            headers.append(("Content-Length", str(len(resp.body))))
        if resp.close:
            headers.append(("Connection", "close"))
        head = f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Other')}\r\n"
        head += "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
        out = head.encode("latin-1")
        if not no_body and not resp.chunked:
            out += resp.body
        return out

    def default_handler(self, req, c):
        """Answers by path:
        /headers               JSON of what arrived (method, target, version, headers, body)
        /status/N              status N (no body for 204/304)
        /head                  20 bytes for GET, Content-Length 20 and no body for HEAD
        /chunked?n=K&size=S    a chunked body of K chunks of S bytes
        /download?bytes=N      N bytes of deterministic data (data_chunks), Content-Length
        /download-chunked?bytes=N   the same, chunked
        /upload                "sha256 HEX LEN" of the body received
        /sse?n=K&interval=S    K server-sent events, one every S seconds (chunked, no CL)
        /slow?delay=S          answers after S seconds
        /hang                  never answers (until the client or the origin closes)
        /close                 answers with Connection: close and closes
        /reject-expect         417 without reading a body sent with Expect: 100-continue
        /until-close?bytes=N   an HTTP/1.1 response without framing (the origin closes)
        /early-answer          413 at once, before reading the body (then reads it anyway)
        /early-hints           a 103 before the 200
        /hop                   a response with hop-by-hop fields that must not reach the visitor
        /broken/MODE           malformed responses (see BROKEN)
        anything else          200 "NAME METHOD TARGET\\n"
        """
        p, q = req.path, req.query
        if p == "/headers":
            body = json.dumps({"method": req.method, "target": req.target, "version": req.version,
                               "headers": req.headers, "body": bytes(req.body).decode("latin-1")}).encode()
            return OriginResponse(200, [("Content-Type", "application/json")], body)
        if p.startswith("/status/"):
            code = int(p.split("/")[2])
            hdrs = [("ETag", '"v1"')] if code == 304 else []
            return OriginResponse(code, hdrs, b"" if code in (204, 304) else b"status %d\n" % code)
        if p == "/head":
            return OriginResponse(200, [("Content-Length", "20")] if req.method == "HEAD" else [], b"x" * 20)
        if p == "/chunked":
            k, s = int(q.get("n", 3)), int(q.get("size", 10))
            return OriginResponse(200, [("Content-Type", "text/plain")],
                                  [bytes([0x61 + i % 26]) * s for i in range(k)], chunked=True)
        if p in ("/download", "/download-chunked"):
            n = int(q.get("bytes", 1024))
            chunked = p == "/download-chunked"
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Origin: {self.name}\r\n"
            head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {n}\r\n\r\n"
            c.sendall(head.encode())
            for piece in data_chunks(n):
                c.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                c.sendall(b"0\r\n\r\n")
            return OriginResponse(raw=b"")
        if p == "/upload":
            return OriginResponse(200, [("Content-Type", "text/plain")],
                                  f"sha256 {req.body_sha256} {req.body_len}\n".encode())
        if p == "/sse":
            k, interval = int(q.get("n", 5)), float(q.get("interval", 0.1))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                      b"Transfer-Encoding: chunked\r\nX-Origin: " + self.name.encode() + b"\r\n\r\n")
            for i in range(k):
                if i:
                    time.sleep(interval)  # the stream's own pacing, not synchronisation
                ev = b"id: %d\ndata: event %d\n\n" % (i, i)
                t = time.monotonic()  # before the write: arrival - t is never less than the delay
                c.sendall(b"%x\r\n%s\r\n" % (len(ev), ev))
                with self.cv:
                    req.sse_times.append(t)
                    self.cv.notify_all()
            c.sendall(b"0\r\n\r\n")
            return OriginResponse(raw=b"")
        if p == "/slow":
            if self.closed.wait(float(q.get("delay", 1))):
                return None
            return OriginResponse(200, [], b"slow\n")
        if p == "/hang":
            while not self.closed.is_set():
                try:
                    c.settimeout(0.5)
                    if c.recv(1, socket.MSG_PEEK) == b"":
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
            return None
        if p == "/close":
            return OriginResponse(200, [], b"bye\n", close=True)
        if p == "/reject-expect":
            return OriginResponse(417, [], b"no thanks\n", close=True)
        if p == "/until-close":  # HTTP/1.1 without framing: the body ends when the connection does
            n = int(q.get("bytes", 100000))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Origin: " +
                      self.name.encode() + b"\r\n\r\n")
            for piece in data_chunks(n, 8192):
                c.sendall(piece)
            return None
        if p == "/early-answer":
            return OriginResponse(raw=b"")  # answered before the body was read
        if p == "/early-hints":
            c.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            return OriginResponse(200, [("Link", "</style.css>; rel=preload")], b"hinted\n")
        if p == "/hop":
            return OriginResponse(200, [("Connection", "X-Internal"), ("X-Internal", "secret"),
                                        ("Keep-Alive", "timeout=5"), ("X-Kept", "yes")], b"hop\n")
        if p.startswith("/broken/"):
            mode = p.split("/")[2]
            # Two of them keep the connection open: an agent that pooled it would read the stale
            # second response as the answer to its next request.
            return OriginResponse(raw=BROKEN[mode], close=mode not in ("two-responses", "204-with-body"))
        return OriginResponse(200, [("Content-Type", "text/plain")],
                              f"{self.name} {req.method} {req.target}\n".encode())


# Malformed responses of the "broken origin" (each followed by the origin closing the
# connection). A relay must answer 502 or cut the visitor connection, and never let the extra
# bytes answer the visitor's next request.
BROKEN = {
    "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED",
    "double-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n",
    "bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nSMUGGLED\r\n0\r\n\r\n",
    "chunk-overrun": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhelloHTTP/1.1 200 OK\r\n\r\n",
    "two-responses": b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfirst\n"
                     b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nX-Smuggled: 1\r\n\r\nSMUGGLED\n",
    "204-with-body": b"HTTP/1.1 204 No Content\r\nContent-Length: 37\r\n\r\n"
                     b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nSMUGGLED\n",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
    "garbage": b"\x00\x01\x02 this is not http\r\n\r\n",
    "bad-status": b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
    "te-not-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 2\r\n\r\nok",
    "short-body": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-this",
    "huge-head": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Fill-%d: %s\r\n" % (i, b"h" * 1000) for i in range(40))
                 + b"Content-Length: 2\r\n\r\nok",
}


# ---------------------------------------------------------------------------------------------
# TLS material for an HTTPS origin (openssl CLI)

def self_signed_cert(cn="127.0.0.1"):
    d = tempfile.mkdtemp(prefix="porthole-cert-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=IP:{cn}"], check=True, capture_output=True, timeout=30)
    return cert, key


# ---------------------------------------------------------------------------------------------
# Raw-socket HTTP client

class ProtocolError(AssertionError):
    pass


class Response(HeaderLookup):
    def __init__(self):
        self.version = self.reason = None
        self.status = None
        self.headers = []
        self.body = b""
        self.raw = b""          # the bytes of this response as received (head + framed body)
        self.interim = []       # 1xx responses before it (status, headers)
        self.chunked = False
        self.until_close = False
        self.t_first_byte = None


    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Response {self.status} {self.reason} {len(self.body)}B {self.body[:200]!r}>"


class HttpClient:
    """One visitor connection with buffered reads and response framing (RFC 9112 6.3)."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, source=None):
        self.sock = socket.create_connection((host, port), timeout=scaled(timeout),
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = scaled(timeout)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def request(self, method, target, host, headers=(), body=None, version="HTTP/1.1"):
        """Sends a well-formed request (Content-Length added for a body)."""
        lines = [f"{method} {target} {version}", f"Host: {host}"]
        names = {n.lower() for n, _ in headers}
        lines += [f"{n}: {v}" for n, v in headers]
        if body is not None and "content-length" not in names and "transfer-encoding" not in names:
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.send(data + (body if isinstance(body, bytes) else (body or "").encode()))

    def get(self, target, host, headers=()):
        self.request("GET", target, host, headers)
        return self.read_response()

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(1 << 20)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _line(self, deadline, raw):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                raw += line
                return line
            if not self._fill(deadline):
                raise ProtocolError(f"connection closed inside a line; got {bytes(raw)[:300]!r}")

    def _exact(self, n, deadline, raw, sink):
        while n > 0:
            if not self.buf and not self._fill(deadline):
                raise ProtocolError(f"connection closed with {n} body bytes missing")
            take = bytes(self.buf[:n])
            del self.buf[:n]
            raw += take
            sink(take)
            n -= len(take)

    def read_response(self, method="GET", timeout=None, sink=None, keep_raw=True):
        """Reads one final response (1xx before it are collected in .interim, except a 101,
        which is returned). `sink(bytes)` receives the body instead of .body when given."""
        deadline = time.monotonic() + (scaled(timeout) if timeout else self.timeout)
        resp = Response()
        while True:
            raw = bytearray()
            if not self.buf and not self._fill(deadline):
                raise ProtocolError("connection closed before a response")
            resp.t_first_byte = resp.t_first_byte or time.monotonic()
            status_line = self._line(deadline, raw)
            m = re.match(rb"(HTTP/\d\.\d) (\d{3})(?: (.*))?\r\n$", status_line)
            if not m:
                raise ProtocolError(f"bad status line {status_line[:200]!r}")
            headers = []
            while True:
                line = self._line(deadline, raw)
                if line == b"\r\n":
                    break
                if not line.endswith(b"\r\n"):
                    raise ProtocolError(f"bare LF in response head: {bytes(raw)[:300]!r}")
                name, sep, value = line[:-2].partition(b":")
                if not sep:
                    raise ProtocolError(f"field without colon {line!r}")
                headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
            status = int(m.group(2))
            if 100 <= status < 200 and status != 101:
                resp.interim.append((status, headers))
                continue
            resp.version = m.group(1).decode()
            resp.status = status
            resp.reason = (m.group(3) or b"").decode("latin-1")
            resp.headers = headers
            break
        body = bytearray()
        put = sink or body.extend
        te = ",".join(resp.headers_named("Transfer-Encoding")).lower()
        cl = resp.headers_named("Content-Length")
        if method == "HEAD" or status in (101, 204, 304):
            pass
        elif te:
            if not te.replace(" ", "").endswith("chunked"):
                raise ProtocolError(f"unframed Transfer-Encoding {te}")
            resp.chunked = True
            while True:
                line = self._line(deadline, raw)
                size = line.rstrip(b"\r\n").split(b";")[0]
                try:
                    n = int(size, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size line {line!r}")
                if n == 0:
                    while self._line(deadline, raw) != b"\r\n":
                        pass
                    break
                self._exact(n, deadline, raw, put)
                if self._line(deadline, raw) != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
        elif cl:
            if len(set(cl)) != 1 or not cl[0].isdigit():
                raise ProtocolError(f"bad Content-Length {cl}")
            self._exact(int(cl[0]), deadline, raw, put)
        else:
            resp.until_close = True
            while True:
                if self.buf:
                    take = bytes(self.buf)
                    self.buf.clear()
                    raw += take
                    put(take)
                if not self._fill(deadline):
                    break
        resp.body = bytes(body)
        resp.raw = bytes(raw) if keep_raw else b""
        return resp

    def read_until_close(self, timeout=10.0):
        deadline = time.monotonic() + scaled(timeout)
        while self._fill(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def closed(self, timeout=5.0):
        """True when the peer closes (EOF or RST) within `timeout` and sent nothing more;
        False if it sent more bytes or stayed open."""
        deadline = time.monotonic() + scaled(timeout)
        if self.buf:
            return False
        try:
            return not self._fill(deadline)
        except (socket.timeout, TimeoutError):
            return False

    def expect_open(self, within=0.3):
        """Asserts the connection is still open and quiet after `within` seconds."""
        try:
            more = self._fill(time.monotonic() + within)
        except (socket.timeout, TimeoutError):
            return True
        raise AssertionError("connection " + ("sent unexpected bytes: %r" % bytes(self.buf[:200])
                                              if more else "was closed"))


# ---------------------------------------------------------------------------------------------
# curl

class CurlResult:
    def __init__(self, rc, status, headers, body, stderr, write_out):
        self.rc, self.status, self.headers, self.body, self.stderr = rc, status, headers, body, stderr
        self.write_out = write_out

    def header(self, name, default=None):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return default

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<curl rc={self.rc} {self.status} {self.body[:200]!r} {self.stderr[-300:]!r}>"


def _parse_dump(dump):
    """The last response head of a `curl -D` dump: (status, headers)."""
    blocks = [b for b in dump.replace(b"\r\n", b"\n").split(b"\n\n") if b.startswith(b"HTTP/")]
    if not blocks:
        return None, []
    lines = blocks[-1].decode("latin-1").split("\n")
    status = int(lines[0].split()[1])
    headers = []
    for line in lines[1:]:
        n, sep, v = line.partition(":")
        if sep:
            headers.append((n.strip(), v.strip()))
    return status, headers


def _read(path):
    if not os.path.exists(path):
        return b""
    with open(path, "rb") as f:
        return f.read()


def curl(url, *args, connect_port=None, timeout=20.0, stdin=None):
    """Runs curl on one URL; returns a CurlResult. `connect_port` sends the request to
    127.0.0.1:PORT whatever the URL's host (for names that do not resolve to loopback)."""
    d = tempfile.mkdtemp(prefix="porthole-curl-")
    hdr, body = os.path.join(d, "h"), os.path.join(d, "b")
    cmd = [CURL, "-sS", "-D", hdr, "-o", body, "-w", "%{http_code} %{num_connects}\n",
           "--max-time", str(scaled(timeout))]
    if connect_port:
        cmd += ["--connect-to", f"::127.0.0.1:{connect_port}"]
    cmd += list(args) + [url]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=scaled(timeout) + 10, input=stdin)
        status, headers = _parse_dump(_read(hdr))
        data = _read(body)
        return CurlResult(r.returncode, status, headers, data, r.stderr.decode("utf-8", "replace"),
                          r.stdout.decode())
    finally:
        shutil.rmtree(d, ignore_errors=True)


def curl_many(urls, *args, connect_port=None, timeout=30.0):
    """One curl process for several URLs (it reuses its connection); returns
    [(status, num_connects)] per URL and the concatenated bodies."""
    cmd = [CURL, "-sS", "-w", "\n@@ %{http_code} %{num_connects}\n", "--max-time", str(scaled(timeout))]
    if connect_port:
        cmd += ["--connect-to", f"::127.0.0.1:{connect_port}"]
    cmd += list(args) + list(urls)
    r = subprocess.run(cmd, capture_output=True, timeout=scaled(timeout) + 10)
    out = r.stdout.decode("latin-1")
    stats = [(int(a), int(b)) for a, b in re.findall(r"@@ (\d{3}) (\d+)", out)]
    return stats, out, r


# ---------------------------------------------------------------------------------------------
# Relay metrics

def parse_metrics(text):
    """Prometheus text -> {'name{labels}': value} (labels as printed)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(\S+?(?:\{.*\})?)\s+(\S+)(?:\s+\d+)?$", line)
        if m:
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def metrics(relay):
    host, port = relay.admin_addr
    s = socket.create_connection((host, port), timeout=scaled(10))
    try:
        s.sendall(f"GET /metrics HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return parse_metrics(body.decode())


def http_error_count(relay, reason):
    return metrics(relay).get(f'porthole_relay_http_errors_total{{reason="{reason}"}}', 0.0)


def wait_metric(relay, reason, at_least, timeout=10.0):
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = http_error_count(relay, reason)
        if v >= at_least:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f'porthole_relay_http_errors_total{{reason="{reason}"}} is {v}, '
                                 f"expected >= {at_least}")
        time.sleep(0.05)  # polling the counter, bounded by the deadline


# ---------------------------------------------------------------------------------------------
# Tokens, relay + agents

SANITIZER_REPORT = re.compile(r"ERROR: (?:AddressSanitizer|LeakSanitizer)|runtime error: |"
                              r"SUMMARY: (?:AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)")


def stop_and_check(procs):
    """Stops (SIGTERM, newest first) each of `procs` still running and fails unless it exits 0;
    fails if any of them printed a sanitizer report (ASan/UBSan builds). Processes a test ended
    itself (kill -9, --exit-on-failure) are only checked for reports."""
    problems = []
    for p in reversed(list(procs)):
        if p.p.poll() is None:
            try:
                rc = p.stop(timeout=scaled(20))
            except subprocess.TimeoutExpired:
                p.p.kill()
                p.p.wait()
                rc = "hung"
            if rc != 0:
                problems.append(f"porthole {' '.join(p.args[:2])} exited {rc} on SIGTERM:\n" + "\n".join(p.err[-15:]))
        with p._cv:
            while p._eof < 2 and p.p.poll() is not None:
                if not p._cv.wait(scaled(5)):
                    break
            reports = [line for line in p.err if SANITIZER_REPORT.search(line)]
        if reports:
            problems.append(f"porthole {' '.join(p.args[:2])}: sanitizer report:\n" + "\n".join(p.err[-60:]))
    if problems:
        raise AssertionError("\n\n".join(problems))


class CheckedProcesses:
    """Mixin for a TestCase: every porthole process a test started is stopped at its end and
    must exit 0 without a sanitizer report."""

    def setUp(self):
        self._procs_from = len(Proc.all)
        super().setUp()

    def tearDown(self):
        super().tearDown()
        stop_and_check(Proc.all[self._procs_from:])


def create_token(data, name, *allow):
    """`porthole token create NAME ARGS --data DATA`; returns the secret."""
    r = subprocess.run([BIN, "token", "create", name, "--data", data, *allow], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_agent(relay, target, *extra, token=TOKEN, env=None, name=None):
    """An `porthole http` agent of `relay` for `target` (port or HOST:PORT)."""
    args = list(extra)
    if name:
        args += ["--name", name]
    return HttpAgent(relay.addr, relay.fingerprint, target, token=token, extra=args, env=env)


def host_of(agent, timeout=15.0, start=0):
    """The public host name the agent printed (`Forwarding http://HOST[:PORT] -> ...`)."""
    return agent.url(timeout=scaled(timeout), start=start)[0]
