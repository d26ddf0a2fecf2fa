#!/usr/bin/python3
"""porthole benchmark driver (called by bench/run.sh): direct vs porthole tcp vs ssh -R vs haproxy
vs socat on 127.0.0.1, in one run. Writes a JSON results file and prints a markdown table."""
import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procs import BenchError, Hold, Procs, free_port, mem_kib, run_json  # noqa: E402
from report import render  # noqa: E402
from targets import SETUPS, Ctx  # noqa: E402

METRICS = ("tput1_gbps", "tput8_gbps", "pp_p50_us", "pp_p99_us", "conn_p50_us", "conn_per_s")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3, help="rounds; medians are reported (3)")
    ap.add_argument("--seconds", type=float, default=10, help="seconds per measurement (10)")
    ap.add_argument("--targets", default="direct,porthole,ssh,haproxy,socat")
    ap.add_argument("--probe", required=True, help="path to tcp_probe")
    ap.add_argument("--porthole", required=True, help="path to the porthole binary")
    ap.add_argument("--no-hold", action="store_true", help="skip the RSS-while-holding phase")
    ap.add_argument("--out", default=None, help="results JSON (default bench/results/<time>.json)")
    ap.add_argument("--tmp", default=None, help="work dir (default: a new temp dir)")
    return ap.parse_args()


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
        return (r.stdout or r.stderr).decode(errors="replace").strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(), "loadavg_start": os.getloadavg(),
        "nofile": tool_version(["sh", "-c", "ulimit -n"]),
        "iperf3": tool_version(["iperf3", "--version"]), "haproxy": tool_version(["haproxy", "-v"]),
        "ssh": tool_version(["ssh", "-V"]), "socat": tool_version(["sh", "-c", "socat -V | grep 'socat version'"]),
    }


def iperf(ctx, port, seconds, streams):
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J",
            "--connect-timeout", "5000"]
    if streams > 1:
        argv += ["-P", str(streams)]
    for attempt in range(5):
        ensure_iperf_server(ctx)
        try:
            j = json.loads(run_json(argv, timeout=seconds + 40, ok_codes=(0, 1)))
        except ValueError as e:
            raise BenchError(f"iperf3 -P {streams}: output is not JSON") from e
        if "error" not in j:
            return j["end"]["sum_received"]["bits_per_second"] / 1e9
        # The server may still be tearing the previous test down behind a proxy.
        if "busy" not in j["error"] or attempt == 4:
            raise BenchError(f"iperf3 -P {streams}: {j['error']}")
        time.sleep(1)
    raise BenchError("iperf3: unreachable")


def ensure_iperf_server(ctx):
    """(Re)starts the shared iperf3 server; a dead one is noted and replaced."""
    srv = ctx.iperf_srv
    if srv is not None and srv.poll() is None:
        return
    if srv is not None:
        print(f"  ! iperf3 server exited ({srv.returncode}); restarting it", file=sys.stderr)
        ctx.iperf_restarts += 1
    ctx.iperf_srv = ctx.procs.start(f"iperf3-server-{ctx.iperf_restarts}",
                                    ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(ctx.iperf_port)])
    ctx.procs.wait_port(ctx.iperf_srv, ctx.iperf_port, 10)  # its stdout is block-buffered


def probe(ctx, mode, port, seconds):
    out = run_json([ctx.probe, mode, "127.0.0.1", str(port), "--seconds", str(seconds)],
                   timeout=seconds + 60)
    return json.loads(out)


def measure_once(ctx, t, seconds, errors):
    """One round of every data-path metric for target t; failures are noted, not fatal."""
    r = {}
    steps = (
        ("tput1_gbps", lambda: {"v": iperf(ctx, t.iperf_port, seconds, 1)}),
        ("tput8_gbps", lambda: {"v": iperf(ctx, t.iperf_port, seconds, 8)}),
        ("pp", lambda: probe(ctx, "pingpong", t.echo_port, seconds)),
        ("conn", lambda: probe(ctx, "connrate", t.echo_port, seconds)),
    )
    for key, fn in steps:
        try:
            v = fn()
        except BenchError as e:
            errors.append(f"{t.name}: {e}")
            print(f"  ! {t.name}: {e}", file=sys.stderr)
            continue
        if key == "pp":
            r["pp_p50_us"], r["pp_p99_us"] = v["p50_us"], v["p99_us"]
        elif key == "conn":
            r["conn_p50_us"], r["conn_p99_us"], r["conn_per_s"] = v["p50_us"], v["p99_us"], v["per_s"]
            if v.get("errors"):
                errors.append(f"{t.name}: connrate had {v['errors']} failed connections")
        else:
            r[key] = v["v"]
    return r


def rss(t):
    (relay, relay_pss), (agent, agent_pss) = mem_kib(t.relay_pids), mem_kib(t.agent_pids)
    return {"relay_kib": relay, "agent_kib": agent, "total_kib": relay + agent,
            "total_pss_kib": relay_pss + agent_pss}


def measure_holds(ctx, t, errors):
    out = {}
    for n in t.holds:
        try:
            h = Hold(ctx.probe, t.echo_port, n, timeout=120)
        except BenchError as e:
            errors.append(f"{t.name}: {e}")
            print(f"  ! {t.name}: {e}", file=sys.stderr)
            continue
        out[str(n)] = rss(t)
        out[str(n)]["open"] = h.ready_line
        h.release()
        print(f"  {t.name}: {h.ready_line}: {out[str(n)]['total_kib'] / 1024:.1f} MiB", file=sys.stderr)
    return out


def medians(rounds):
    med = {}
    for k in METRICS + ("conn_p99_us",):
        vals = [r[k] for r in rounds if k in r]
        if vals:
            med[k] = statistics.median(vals)
    return med


def setup_all(ctx, names, results):
    targets = []
    for name in names:
        if name not in SETUPS:
            raise SystemExit(f"bench: unknown target {name!r} (known: {', '.join(SETUPS)})")
        print(f"== setting up {name}", file=sys.stderr)
        try:
            t = SETUPS[name](ctx)
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            print(f"  ! {name}: not measured: {e}", file=sys.stderr)
            results[name] = {"status": "pending", "reason": str(e)}
            continue
        results[t.name] = {"status": "ok", "commands": t.commands, "notes": t.notes, "rounds": []}
        targets.append(t)
    return targets


def run(args, ctx, results, errors):
    ensure_iperf_server(ctx)
    echo = ctx.procs.start("echo-server", [ctx.probe, "echo-server", str(ctx.echo_port)])
    ctx.procs.wait_output(echo, r"listening \d+", 10)
    targets = setup_all(ctx, args.targets.split(","), results)
    for t in targets:
        if t.relay_pids or t.agent_pids:
            try:  # warm the path up once, then measure idle
                probe(ctx, "pingpong", t.echo_port, 0.2)
            except BenchError as e:
                errors.append(f"{t.name}: warm-up: {e}")
            results[t.name]["rss_idle"] = rss(t)
    for i in range(args.runs):
        for t in targets:
            print(f"== round {i + 1}/{args.runs}: {t.name}", file=sys.stderr)
            results[t.name]["rounds"].append(measure_once(ctx, t, args.seconds, errors))
    for t in targets:
        results[t.name]["median"] = medians(results[t.name]["rounds"])
        if not args.no_hold and t.holds:
            print(f"== holding connections: {t.name}", file=sys.stderr)
            results[t.name]["rss_hold"] = measure_holds(ctx, t, errors)


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds through main's finally, which stops every helper


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    tmp = args.tmp or tempfile.mkdtemp(prefix="porthole-bench-")
    ctx = Ctx(procs=Procs(tmp), tmp=tmp, probe=os.path.abspath(args.probe),
              porthole=os.path.abspath(args.porthole), iperf_port=free_port(), echo_port=free_port())
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    doc = {"started": started, "machine": machine_info(),
           "config": {"runs": args.runs, "seconds": args.seconds, "targets": args.targets},
           "results": {}, "errors": []}
    try:
        run(args, ctx, doc["results"], doc["errors"])
    except BenchError as e:
        doc["errors"].append(f"fatal: {e}")
        print(f"bench: {e}", file=sys.stderr)
    finally:
        ctx.procs.stop_all()
    if ctx.iperf_restarts:
        doc["errors"].append(f"the iperf3 server exited {ctx.iperf_restarts} time(s) and was restarted")
    doc["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    doc["machine"]["loadavg_end"] = os.getloadavg()
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                   time.strftime("bench-%Y%m%d-%H%M%S.json"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
    shutil.copytree(ctx.procs.logs, out.removesuffix(".json") + ".logs", dirs_exist_ok=True)
    print(render(doc))
    print(f"\nresults: {out}", file=sys.stderr)
    return 1 if any(e.startswith("fatal") for e in doc["errors"]) else 0


if __name__ == "__main__":
    sys.exit(main())
