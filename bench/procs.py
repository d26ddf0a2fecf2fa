"""Process and port helpers for the benchmark driver (stdlib only, loopback only)."""
import os
import re
import select
import signal
import socket
import subprocess
import time


class BenchError(Exception):
    """A target could not be set up or measured; the message says why."""


def free_port():
    """A port that was free on 127.0.0.1 a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Procs:
    """Starts every helper process in its own process group, logs its output to files in
    tmp/logs, records its pid in tmp/pids (run.sh's trap reads it) and stops them all."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.logs = os.path.join(tmp, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.procs = []

    def start(self, name, argv, env=None, stdin=subprocess.DEVNULL, stdout=None):
        out = open(os.path.join(self.logs, name + ".out"), "wb") if stdout is None else stdout
        err = open(os.path.join(self.logs, name + ".err"), "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        try:
            p = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, env=full_env,
                                 start_new_session=True)
        except OSError as e:
            raise BenchError(f"{name}: cannot start {argv[0]}: {e}") from e
        p.bench_name = name
        self.procs.append(p)
        with open(os.path.join(self.tmp, "pids"), "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def output(self, name):
        text = ""
        for ext in ("out", "err"):
            path = os.path.join(self.logs, f"{name}.{ext}")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    text += f.read().decode(errors="replace")
        return text

    def wait_output(self, proc, pattern, timeout):
        """Waits until proc's stdout+stderr match pattern; returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.output(proc.bench_name))
            if m:
                return m
            if proc.poll() is not None:
                raise BenchError(f"{proc.bench_name} exited ({proc.returncode}): "
                                 f"{self.tail(proc.bench_name)}")
            if time.monotonic() > deadline:
                raise BenchError(f"{proc.bench_name}: no /{pattern}/ within {timeout}s: "
                                 f"{self.tail(proc.bench_name)}")
            time.sleep(0.05)

    def wait_port(self, proc, port, timeout):
        deadline = time.monotonic() + timeout
        while not can_connect(port):
            if proc.poll() is not None:
                raise BenchError(f"{proc.bench_name} exited ({proc.returncode}): "
                                 f"{self.tail(proc.bench_name)}")
            if time.monotonic() > deadline:
                raise BenchError(f"{proc.bench_name}: port {port} not open within {timeout}s")
            time.sleep(0.05)

    def tail(self, name, lines=6):
        text = self.output(name).strip().splitlines()
        return " | ".join(text[-lines:]) or "(no output)"

    def stop(self, proc, grace=3.0):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:  # children that outlived the leader (sshd sessions, socat forks)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)
        self.procs = []


def run_json(argv, timeout, ok_codes=(0,)):
    """Runs a measuring command and returns its stdout; BenchError with stderr on failure."""
    try:
        r = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{' '.join(argv)}: timed out after {timeout}s") from e
    if r.returncode not in ok_codes:
        msg = (r.stderr or r.stdout).decode(errors="replace").strip()[-400:]
        raise BenchError(f"{' '.join(argv)}: exit {r.returncode}: {msg}")
    return r.stdout.decode()


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def _field_kib(path, name):
    try:
        with open(path) as f:
            m = re.search(rf"^{name}:\s+(\d+) kB", f.read(), re.M)
        return int(m.group(1)) if m else 0
    except OSError:
        return 0


def mem_kib(pids, with_children=True):
    """(VmRSS, Pss) sums in KiB over pids and, optionally, all their descendants. Pss splits
    shared pages between the processes that map them, so forking servers are not overcounted."""
    todo = list(pids)
    if with_children:
        kids = _children_map()
        seen = set()
        i = 0
        while i < len(todo):
            todo.extend(k for k in kids.get(todo[i], []) if k not in seen)
            seen.add(todo[i])
            i += 1
        todo = list(dict.fromkeys(todo))
    rss = sum(_field_kib(f"/proc/{pid}/status", "VmRSS") for pid in todo)
    pss = sum(_field_kib(f"/proc/{pid}/smaps_rollup", "Pss") for pid in todo)
    return rss, pss


class Hold:
    """tcp_probe hold: opens N connections through a target and keeps them until released."""

    def __init__(self, probe, port, count, timeout):
        self.p = subprocess.Popen([probe, "hold", "127.0.0.1", str(port), "--count", str(count)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
        line = self._line(timeout)
        if not line.startswith("holding"):
            err = self.p.stderr.read().decode(errors="replace").strip() if self.p.poll() is not None else ""
            self.release()
            raise BenchError(f"hold {count}: {line or err or 'no answer'}")
        self.ready_line = line

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.p.stdout], [], [], 0.2)
            if r:
                return self.p.stdout.readline().decode(errors="replace").strip()
            if self.p.poll() is not None:
                return ""
        return ""

    def release(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(5)
