"""UDP half of bench/forward.sh: datagrams per second and loss at 64 and 1,200-byte payloads,
directly, through `porthole forward --udp`, through `porthole udp` (relay + agent, one TLS
session) and through socat UDP (one hop, fork per peer), all
in one run on 127.0.0.1. udp_probe keeps a window of datagrams in flight on one socket (closed
loop): a forwarder that drops shows up as loss and as a lower rate. Not a test."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procs import BenchError, Procs, free_port, run_json  # noqa: E402

TOKEN = "bench-token-not-secret"


def udp_free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_udp_line(procs, p, pattern, timeout):
    procs.wait_output(p, pattern, timeout)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--porthole", required=True)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--sizes", default="64,1200")
    ap.add_argument("--targets", default="direct,forward,porthole-udp,socat")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="porthole-udp-bench-")
    procs = Procs(tmp)
    results = {}
    try:
        echo_port = udp_free_port()
        echo = procs.start("udp-echo", [args.probe, "echo-server", str(echo_port)])
        procs.wait_output(echo, r"listening \d+", 10)
        ports = {"direct": echo_port}
        cmds = {}
        for t in args.targets.split(","):
            if t == "forward":
                p = udp_free_port()
                argv = [args.porthole, "forward", "--udp", f"{p}:127.0.0.1:{echo_port}"]
                fw = procs.start("forward-udp", argv)
                procs.wait_output(fw, r"Forwarding udp", 10)
                ports[t], cmds[t] = p, " ".join(argv)
            elif t == "socat":
                p = udp_free_port()
                argv = ["socat", "-T", "60", f"UDP4-LISTEN:{p},bind=127.0.0.1,reuseaddr,fork", f"UDP4:127.0.0.1:{echo_port}"]
                procs.start("socat-udp", argv)
                time.sleep(0.3)  # socat prints nothing when ready; a bench, not a test
                ports[t], cmds[t] = p, " ".join(argv)
            elif t == "porthole-udp":  # relay + agent: visitor -> relay -> session -> agent -> echo
                d = os.path.join(tmp, "porthole")
                os.makedirs(os.path.join(d, "xdg"), exist_ok=True)
                ap = free_port()
                lo = udp_free_port()
                relay_argv = [args.porthole, "relay", "--agents", f"127.0.0.1:{ap}", "--admin", "127.0.0.1:0",
                              "--http", "off", "--data", os.path.join(d, "data"), "--token", TOKEN,
                              "--udp-ports", f"{lo}-{lo}"]
                relay = procs.start("porthole-relay", relay_argv)
                fp = procs.wait_output(relay, r"fingerprint SHA256:([0-9a-f]{64})", 20).group(1)
                agent_argv = [args.porthole, "udp", str(echo_port), "--relay", f"127.0.0.1:{ap}", "--token", TOKEN,
                              "--relay-fingerprint", fp, "--inspect", "off"]
                agent = procs.start("porthole-udp-agent", agent_argv, env={"XDG_CONFIG_HOME": os.path.join(d, "xdg")})
                p = int(procs.wait_output(agent, r"Forwarding udp://[^:]+:(\d+)", 20).group(1))
                ports[t], cmds[t] = p, " ".join(relay_argv) + " ; " + " ".join(agent_argv)
            elif t != "direct":
                raise SystemExit(f"unknown UDP target {t}")
        for t, port in ports.items():
            results[t] = {"command": cmds.get(t, "(straight to the echo server)")}
            for size in [int(x) for x in args.sizes.split(",")]:
                # warm-up (socat forks its child on the first datagram)
                run_json([args.probe, "load", "127.0.0.1", str(port), "--size", str(size), "--seconds", "0.3",
                          "--window", str(args.window)], timeout=30)
                out = run_json([args.probe, "load", "127.0.0.1", str(port), "--size", str(size), "--seconds",
                                str(args.seconds), "--window", str(args.window)], timeout=args.seconds + 30)
                results[t][str(size)] = json.loads(out)
                print(f"  {t} {size} B: {results[t][str(size)]}", file=sys.stderr)
    except BenchError as e:
        print(f"forward_udp: {e}", file=sys.stderr)
        return 1
    finally:
        procs.stop_all()
    doc = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg": os.getloadavg(), "results": results,
           "window": args.window, "seconds": args.seconds}
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                   time.strftime("forward-udp-%Y%m%d-%H%M%S.json"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
    sizes = args.sizes.split(",")
    print("| target | " + " | ".join(f"{s} B datagrams/s | loss" for s in sizes) + " |")
    print("|---" * (1 + 2 * len(sizes)) + "|")
    base = results.get("socat", {})
    for t, r in results.items():
        cells = []
        for s in sizes:
            v = r.get(s, {})
            ratio = ""
            if t != "socat" and s in base and base[s].get("per_s"):
                ratio = f" ({v.get('per_s', 0) / base[s]['per_s']:.2f}x socat)"
            cells.append(f"{v.get('per_s', 0):,.0f}{ratio} | {v.get('loss_pct', 0):.2f} %")
        print(f"| {t} | " + " | ".join(cells) + " |")
    print(f"\nresults: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
