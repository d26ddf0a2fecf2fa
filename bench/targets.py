"""The things measured: each set-up starts its processes on 127.0.0.1 and returns a Target whose
iperf/echo ports lead (through the tunnel or proxy) to the shared iperf3 and echo servers."""
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from procs import BenchError, free_port

TOKEN = "bench-token-not-secret"
SSH_CIPHER = "aes128-gcm@openssh.com"


@dataclass
class Target:
    name: str
    iperf_port: int
    echo_port: int
    relay_pids: list = field(default_factory=list)  # the public side (relay, sshd, proxy)
    agent_pids: list = field(default_factory=list)  # the private side (agent, ssh client)
    holds: tuple = (1000,)
    commands: list = field(default_factory=list)
    notes: str = ""


@dataclass
class Ctx:
    procs: object
    tmp: str
    probe: str
    porthole: str
    iperf_port: int
    echo_port: int
    iperf_srv: object = None  # the shared iperf3 server (restarted by the driver if it dies)
    iperf_restarts: int = 0


def setup_direct(ctx):
    return Target("direct", ctx.iperf_port, ctx.echo_port, holds=(),
                  commands=["(clients connect straight to the iperf3 / echo servers)"])


def setup_haproxy(ctx):
    fi, fe = free_port(), free_port()
    cfg = os.path.join(ctx.tmp, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(f"""global
  maxconn 5000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen iperf
  bind 127.0.0.1:{fi}
  server s 127.0.0.1:{ctx.iperf_port}
listen echo
  bind 127.0.0.1:{fe}
  server s 127.0.0.1:{ctx.echo_port}
""")
    argv = ["haproxy", "-db", "-f", cfg]
    p = ctx.procs.start("haproxy", argv)
    ctx.procs.wait_port(p, fi, 10)
    ctx.procs.wait_port(p, fe, 10)
    return Target("haproxy", fi, fe, relay_pids=[p.pid], commands=[" ".join(argv), _indent(cfg)],
                  notes="one hop, mode tcp, default buffers (tune.bufsize 16 KiB), 2 threads")


def setup_socat(ctx):
    ports = []
    pids = []
    cmds = []
    for name, dst in (("socat-iperf", ctx.iperf_port), ("socat-echo", ctx.echo_port)):
        port = free_port()
        argv = ["socat", "-b", "65536",
                f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,backlog=4096,nodelay",
                f"TCP:127.0.0.1:{dst},nodelay"]
        p = ctx.procs.start(name, argv)
        ctx.procs.wait_port(p, port, 10)
        ports.append(port)
        pids.append(p.pid)
        cmds.append(" ".join(argv))
    # RSS: the echo listener and its per-connection forks (holds go through the echo port).
    return Target("socat", ports[0], ports[1], relay_pids=[pids[1]], commands=cmds,
                  notes="one hop, fork per connection, 64 KiB buffer, TCP_NODELAY")


def _ssh_files(ctx, tag):
    d = os.path.join(ctx.tmp, tag)
    os.makedirs(d, exist_ok=True)
    for key in ("host_key", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(d, key)],
                       check=True, stdin=subprocess.DEVNULL)
    shutil.copy(os.path.join(d, "id.pub"), os.path.join(d, "authorized_keys"))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    return d


def setup_ssh(ctx, interactive=True):
    tag = "ssh" if interactive else "ssh-N"
    d = _ssh_files(ctx, tag)
    sp, ri, re_ = free_port(), free_port(), free_port()
    cfg = os.path.join(d, "sshd_config")
    with open(cfg, "w") as f:
        f.write(f"""Port {sp}
ListenAddress 127.0.0.1
HostKey {d}/host_key
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Ciphers {SSH_CIPHER}
AllowTcpForwarding yes
MaxStartups 100
LogLevel ERROR
""")
    sshd_argv = ["/usr/sbin/sshd", "-D", "-e", "-f", cfg]
    sshd = ctx.procs.start(tag + "-sshd", sshd_argv)
    ctx.procs.wait_port(sshd, sp, 10)
    # -tt + a remote command makes the session "interactive", which is what turns TCP_NODELAY
    # on in OpenSSH; with -N every new forwarded connection waits ~40 ms on Nagle + delayed ACK.
    ssh_argv = ["ssh", "-F", "/dev/null", "-i", f"{d}/id", "-p", str(sp), "-tt" if interactive else "-N",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", f"UserKnownHostsFile={d}/known_hosts", "-o", f"Ciphers={SSH_CIPHER}",
                "-o", "ExitOnForwardFailure=yes",
                "-R", f"127.0.0.1:{ri}:127.0.0.1:{ctx.iperf_port}",
                "-R", f"127.0.0.1:{re_}:127.0.0.1:{ctx.echo_port}",
                "root@127.0.0.1"] + (["exec sleep 2147483647"] if interactive else [])
    ssh = ctx.procs.start(tag + "-client", ssh_argv)
    ctx.procs.wait_port(ssh, ri, 15)
    ctx.procs.wait_port(ssh, re_, 15)
    name, how = ("ssh -R", "-tt session, so TCP_NODELAY is on") if interactive else \
        ("ssh -R -N", "-N: no TCP_NODELAY (Nagle)")
    return Target(name, ri, re_, relay_pids=[sshd.pid], agent_pids=[ssh.pid],
                  commands=[" ".join(sshd_argv), _indent(cfg), " ".join(ssh_argv)],
                  notes=f"OpenSSH, {SSH_CIPHER}, {how}")


# The relay prints "SHA256:<64 hex>" (colon-separated pairs accepted too).
_FP_RE = re.compile(r"((?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|\b[0-9A-Fa-f]{64}\b)")
_FWD_RE = r"Forwarding tcp://(\[[^\]]+\]|[^\s:/]+):(\d+)"


def _start_agent(ctx, name, local_port, agents_port, fingerprint, env):
    argv = [ctx.porthole, "tcp", f"127.0.0.1:{local_port}", "--relay", f"127.0.0.1:{agents_port}",
            "--token", TOKEN, "--inspect", "off"]
    if fingerprint:
        argv += ["--relay-fingerprint", fingerprint]
    p = ctx.procs.start(name, argv, env=env)
    m = ctx.procs.wait_output(p, _FWD_RE, 20)
    return p, int(m.group(2)), argv


def setup_porthole(ctx):
    if not os.access(ctx.porthole, os.X_OK):
        raise BenchError(f"{ctx.porthole} is not built")
    d = os.path.join(ctx.tmp, "porthole")
    env = {"XDG_CONFIG_HOME": os.path.join(d, "xdg")}
    os.makedirs(env["XDG_CONFIG_HOME"], exist_ok=True)
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    ap, adm, http, https = free_port(), free_port(), free_port(), free_port()
    relay_argv = [ctx.porthole, "relay", "--agents", f"127.0.0.1:{ap}", "--admin", f"127.0.0.1:{adm}",
                  "--http", f"127.0.0.1:{http}", "--https", f"127.0.0.1:{https}",
                  "--data", os.path.join(d, "data"), "--token", TOKEN]
    relay = ctx.procs.start("porthole-relay", relay_argv, env=env)
    ctx.procs.wait_port(relay, ap, 20)
    m = _FP_RE.search(ctx.procs.output("porthole-relay"))
    fp = m.group(1) if m else None  # None: the agents pin the certificate on first use
    a1, pi, a1_argv = _start_agent(ctx, "porthole-agent-iperf", ctx.iperf_port, ap, fp, env)
    a2, pe, a2_argv = _start_agent(ctx, "porthole-agent-echo", ctx.echo_port, ap, fp, env)
    del a1
    return Target("porthole", pi, pe, relay_pids=[relay.pid], agent_pids=[a2.pid], holds=(1000, 10000),
                  commands=[" ".join(relay_argv), " ".join(a1_argv), " ".join(a2_argv)],
                  notes="relay + agent on loopback, TLS 1.3 session; RSS agent = the echo tunnel's agent")


SETUPS = {
    "direct": setup_direct,
    "porthole": setup_porthole,
    "ssh": setup_ssh,
    "ssh-N": lambda ctx: setup_ssh(ctx, interactive=False),  # not in the default list
    "haproxy": setup_haproxy,
    "socat": setup_socat,
}


def _indent(path):
    with open(path) as f:
        return f"# {os.path.basename(path)}\n" + f.read()
