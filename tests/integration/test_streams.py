"""Many streams on one session, and back-pressure: a slow visitor costs bounded memory and
does not stall the other streams."""
import asyncio
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Agent, EchoServer, Relay, connect, echo_roundtrip, eventually  # noqa: E402


class StreamsTest(unittest.TestCase):
    def test_1000_concurrent_streams(self):
        relay = Relay()
        echo = EchoServer()
        agent = Agent(relay.addr, relay.fingerprint, echo.port)
        port = agent.public_port()

        async def one(i):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            payload = os.urandom(1024 + i)
            w.write(payload)
            await w.drain()
            got = await r.readexactly(len(payload))
            w.close()
            return got == payload

        async def all_streams():
            # Open all 1000 first, then exchange: they are concurrent on one session.
            return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(1000))), 60)

        results = asyncio.run(all_streams())
        self.assertEqual(sum(results), 1000)
        self.assertEqual(echo.accepted, 1000)

    def test_slow_reader_bounded_memory_and_no_head_of_line_blocking(self):
        relay = Relay()
        # A service that pushes 256 MiB to whoever connects.
        src = socket.socket()
        src.bind(("127.0.0.1", 0))
        src.listen(16)
        pushed = {"bytes": 0, "stalled": threading.Event()}

        def firehose():
            c, _ = src.accept()
            c.settimeout(2)
            block = b"x" * (1 << 20)
            try:
                for _ in range(256):
                    c.sendall(block)
                    pushed["bytes"] += len(block)
            except (socket.timeout, OSError):
                pushed["stalled"].set()  # back-pressure reached the service

        threading.Thread(target=firehose, daemon=True).start()
        agent = Agent(relay.addr, relay.fingerprint, src.getsockname()[1], extra=["--name", "hose"])
        hose_port = agent.public_port()
        rss0 = relay.proc.rss_kib() + agent.proc.rss_kib()
        slow = connect(hose_port)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.send(b"go")
        self.assertTrue(pushed["stalled"].wait(30), "the service was never slowed down")
        grown = relay.proc.rss_kib() + agent.proc.rss_kib() - rss0
        self.assertLess(pushed["bytes"], 64 << 20, "bytes were buffered somewhere instead of pushed back")
        self.assertLess(grown, 32 * 1024, f"relay+agent grew {grown} KiB for one stalled stream")
        # Another tunnel of another agent through the same relay still works...
        echo = EchoServer()
        other = Agent(relay.addr, relay.fingerprint, echo.port, extra=["--name", "other"])
        echo_roundtrip(other.public_port())
        slow.close()


class SameSessionFairnessTest(unittest.TestCase):
    def test_stalled_stream_does_not_block_its_session(self):
        relay = Relay()
        echo = EchoServer()
        agent = Agent(relay.addr, relay.fingerprint, echo.port)
        port = agent.public_port()
        # One visitor sends a lot and never reads: its echo backs up to its own window.
        hog = connect(port)
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.settimeout(2)
        sent = 0
        try:
            while sent < (64 << 20):
                sent += hog.send(b"y" * 65536)
        except (socket.timeout, BlockingIOError):
            pass
        # The same session still carries other streams promptly.
        t0 = time.monotonic()
        for _ in range(20):
            echo_roundtrip(port)
        self.assertLess(time.monotonic() - t0, 5)
        hog.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
