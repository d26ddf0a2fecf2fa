#!/usr/bin/python3
"""`porthole ports`: listeners on 127.0.0.1:0 and 0.0.0.0:0 (and UDP, IPv6, an established
connection) show up with the right exposure, pid and process, in text and --json."""
import json
import os
import socket
import subprocess
import sys

BIN = os.environ.get("PORTHOLE_BIN", "build/porthole")
DEADLINE = 30  # seconds per porthole run


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=DEADLINE)
    return p.returncode, p.stdout, p.stderr


def expect(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def find(sockets, proto, port, addr=None):
    return [s for s in sockets
            if s["proto"] == proto and s["local_port"] == port and (addr is None or s["local_address"] == addr)]


def main():
    me = os.getpid()
    loop = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    loop.bind(("127.0.0.1", 0))
    loop.listen()
    anyv4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    anyv4.bind(("0.0.0.0", 0))
    anyv4.listen()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    lport, aport, uport = loop.getsockname()[1], anyv4.getsockname()[1], udp.getsockname()[1]
    v6 = None
    if socket.has_ipv6:
        try:
            v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            v6.bind(("::1", 0))
            v6.listen()
        except OSError:
            v6 = None

    rc, out, err = run("ports", "--json")
    expect(rc == 0, f"ports --json exit {rc}: {err}")
    sockets = json.loads(out)["sockets"]
    s = find(sockets, "tcp", lport, "127.0.0.1")
    expect(len(s) == 1, f"loopback listener {lport} listed once: {s}")
    expect(s[0]["exposure"] == "loopback" and s[0]["state"] == "LISTEN", f"loopback exposure: {s[0]}")
    expect(s[0]["pid"] == me and s[0]["process"].startswith("python"), f"loopback pid/process: {s[0]}")
    s = find(sockets, "tcp", aport, "0.0.0.0")
    expect(len(s) == 1 and s[0]["exposure"] == "all", f"0.0.0.0 listener {aport}: {s}")
    expect(s[0]["pid"] == me, f"0.0.0.0 pid: {s[0]}")
    s = find(sockets, "udp", uport, "127.0.0.1")
    expect(len(s) == 1 and s[0]["state"] == "UNCONN" and s[0]["exposure"] == "loopback", f"udp {uport}: {s}")
    if v6:
        p6 = v6.getsockname()[1]
        s = find(sockets, "tcp", p6, "::1")
        expect(len(s) == 1 and s[0]["family"] == "ipv6" and s[0]["exposure"] == "loopback", f"v6: {s}")
        expect(s[0].get("v6only") is True, f"v6only attribute: {s[0]}")

    rc, out, err = run("ports")
    expect(rc == 0, f"ports exit {rc}: {err}")
    lines = out.splitlines()
    expect(lines and lines[0].startswith("PROTO"), "text header")
    ll = [l for l in lines if f"127.0.0.1:{lport} " in l]
    expect(len(ll) == 1 and "loopback only" in ll[0] and f"{me}/python" in ll[0], f"text loopback line: {ll}")
    al = [l for l in lines if f"0.0.0.0:{aport} " in l]
    expect(len(al) == 1 and "all interfaces" in al[0] and f"{me}/" in al[0], f"text 0.0.0.0 line: {al}")

    # Without --all no established sockets; with --all the accepted connection is listed.
    client = socket.create_connection(("127.0.0.1", lport), timeout=5)
    conn, _ = loop.accept()
    cport = client.getsockname()[1]
    rc, out, _ = run("ports", "--json")
    expect(not [x for x in json.loads(out)["sockets"] if x["state"] == "ESTAB"], "no ESTAB without --all")
    rc, out, _ = run("ports", "--all", "--json")
    est = [x for x in json.loads(out)["sockets"]
           if x["state"] == "ESTAB" and x["local_port"] == lport and x["peer_port"] == cport]
    expect(len(est) == 1 and est[0]["pid"] == me, f"--all shows the connection: {est}")
    rc, out, _ = run("ports", "--all")
    expect("ESTAB" in out and "PEER" in out.splitlines()[0], "--all text has STATE/PEER")

    rc, out, _ = run("ports", "--help")
    expect(rc == 0 and "--all" in out and "--json" in out, "ports --help")
    rc, _, _ = run("ports", "--bogus")
    expect(rc == 2, "unknown flag is a usage error")
    for s_ in (client, conn, loop, anyv4, udp) + ((v6,) if v6 else ()):
        s_.close()
    print("ok: ports lists loopback/all/udp/v6 listeners with pid, text and json, --all")


if __name__ == "__main__":
    main()
