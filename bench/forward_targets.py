"""Set-ups for bench/forward.sh (issue 9): `porthole forward` and the one-hop forwarders it is
compared with (rinetd, HAProxy with forced splice, HAProxy, socat). Registered into the shared
driver's SETUPS, so bench.py measures them exactly like bench/run.sh's targets."""
import os

import targets
from procs import free_port
from targets import Target, _indent


def setup_forward(ctx):
    fi, fe = free_port(), free_port()
    argv = [ctx.porthole, "forward", f"{fi}:127.0.0.1:{ctx.iperf_port}", f"{fe}:127.0.0.1:{ctx.echo_port}"]
    p = ctx.procs.start("porthole-forward", argv)
    ctx.procs.wait_port(p, fi, 10)
    ctx.procs.wait_port(p, fe, 10)
    return Target("porthole forward", fi, fe, relay_pids=[p.pid], commands=[" ".join(argv)],
                  notes="splice(2) through pooled pipes, one SO_REUSEPORT acceptor per core")


def _haproxy(ctx, name, splice):
    fi, fe = free_port(), free_port()
    cfg = os.path.join(ctx.tmp, name + ".cfg")
    tune = "  tune.maxpollevents 1024\n"
    opts = "  option splice-auto\n  option splice-request\n  option splice-response\n" if splice else ""
    with open(cfg, "w") as f:
        f.write(f"""global
  maxconn 5000
{tune}defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
{opts}listen iperf
  bind 127.0.0.1:{fi}
  server s 127.0.0.1:{ctx.iperf_port}
listen echo
  bind 127.0.0.1:{fe}
  server s 127.0.0.1:{ctx.echo_port}
""")
    argv = ["haproxy", "-db", "-f", cfg]
    p = ctx.procs.start(name, argv)
    ctx.procs.wait_port(p, fi, 10)
    ctx.procs.wait_port(p, fe, 10)
    return Target(name, fi, fe, relay_pids=[p.pid], commands=[" ".join(argv), _indent(cfg)],
                  notes="one hop, mode tcp" + (", splice forced both ways" if splice else ", no splice"))


def setup_haproxy_splice(ctx):
    return _haproxy(ctx, "haproxy-splice", True)


def setup_rinetd(ctx):
    fi, fe = free_port(), free_port()
    cfg = os.path.join(ctx.tmp, "rinetd.conf")
    with open(cfg, "w") as f:
        f.write(f"127.0.0.1 {fi} 127.0.0.1 {ctx.iperf_port}\n127.0.0.1 {fe} 127.0.0.1 {ctx.echo_port}\n")
    argv = ["rinetd", "-f", "-c", cfg]
    p = ctx.procs.start("rinetd", argv)
    ctx.procs.wait_port(p, fi, 10)
    ctx.procs.wait_port(p, fe, 10)
    return Target("rinetd", fi, fe, relay_pids=[p.pid], commands=[" ".join(argv), _indent(cfg)],
                  notes="one hop, single-threaded select() loop")


targets.SETUPS.update({
    "forward": setup_forward,
    "haproxy-splice": setup_haproxy_splice,
    "rinetd": setup_rinetd,
})
