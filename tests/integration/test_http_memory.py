#!/usr/bin/env python3
"""Bounded memory: a 1 GiB download and a 1 GiB upload through `porthole http` grow the relay's
and the agent's resident memory together by less than 16 MiB (bodies move chunk by chunk under
the mux window). PORTHOLE_BULK_BYTES shrinks the transfers (the ASan build uses 256 MiB)."""
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from http_harness import RecordingOrigin, Relay, data_sha256, host_of, scaled, start_agent  # noqa: E402

SIZE = int(os.environ.get("PORTHOLE_BULK_BYTES", 1 << 30))
LIMIT_KIB = 16 * 1024
# Under ASan, freed memory waits in a quarantine (256 MiB by default) before it is reused, which
# would show up as growth here; without the quarantine RSS follows what is really held.
os.environ["ASAN_OPTIONS"] = ":".join(
    filter(None, [os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=0", "thread_local_quarantine_size_kb=0"]))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler:
    """The largest RSS sum of `pids` seen while it runs (sampled every 20 ms)."""

    def __init__(self, pids):
        self.pids, self.peak, self.stop = pids, 0, threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, sum(rss_kib(p) for p in self.pids))

    def done(self):
        self.stop.set()
        self.t.join()
        return self.peak


class MemoryTest(unittest.TestCase):
    def test_gib_each_way_in_bounded_memory(self):
        relay = Relay()
        origin = RecordingOrigin("BULK")
        try:
            agent = start_agent(relay, origin.addr, "--subdomain", "bulk")
            self.assertEqual(host_of(agent), "bulk.localhost")
            url = f"http://bulk.localhost:{relay.http_port}"
            pids = [relay.proc.p.pid, agent.proc.p.pid]
            # Warm up (pools, first chunks), then measure from there.
            subprocess.run(["curl", "-sf", "-o", "/dev/null", f"{url}/download?bytes=4194304"], check=True,
                           timeout=scaled(30))
            base = sum(rss_kib(p) for p in pids)
            s = Sampler(pids)
            out = subprocess.run(
                f"curl -sf {url}/download?bytes={SIZE} | sha256sum", shell=True, capture_output=True, text=True,
                timeout=scaled(240))
            self.assertEqual(out.stdout.split()[0], data_sha256(SIZE))
            up = subprocess.run(
                f"head -c {SIZE} /dev/zero | curl -sf -T - -H 'Content-Type: application/octet-stream' "
                f"-X POST {url}/upload", shell=True, capture_output=True, text=True, timeout=scaled(240))
            peak = s.done()
            self.assertEqual(up.returncode, 0, up.stderr)
            self.assertIn(f" {SIZE}", up.stdout)  # "sha256 HEX LEN" from the origin
            grew = peak - base
            print(f"relay+agent RSS {base} KiB before, peak {peak} KiB: +{grew} KiB for {SIZE >> 20} MiB each way")
            self.assertLess(grew, LIMIT_KIB, f"relay+agent grew by {grew} KiB moving {SIZE} bytes each way")
        finally:
            origin.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
