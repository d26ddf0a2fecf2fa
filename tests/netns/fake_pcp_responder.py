#!/usr/bin/python3
"""A scripted, deliberately misbehaving PCP server and SSDP answerer for tests (NOT a router).

Runs inside the test's router namespace on the gateway address. For every PCP request it first
sends the hostile replies named by --pcp-bad (each: wrong_nonce, truncated, wrong_source,
natpmp, garbage), then, unless --pcp-never-valid, one valid reply (MAP success with external
address --external, or ANNOUNCE success). With --ssdp-offsubnet URL it answers SSDP M-SEARCH
with a LOCATION on another subnet (which porthole must ignore). Stops after --seconds.
"""
import argparse
import select
import socket
import struct
import time


def reply_for(req, external, epoch, nonce_flip=False):
    op = req[1] & 0x7F
    header = bytes([2, 0x80 | op, 0, 0]) + struct.pack(">II", 120 if op == 1 else 0, epoch) + bytes(12)
    if op != 1 or len(req) < 60:
        return header
    nonce = bytearray(req[24:36])
    if nonce_flip:
        nonce[0] ^= 0xFF
    proto, iport, eport = req[36], req[40:42], req[42:44]
    ext = bytes(10) + b"\xff\xff" + socket.inet_aton(external)
    return header + bytes(nonce) + bytes([proto, 0, 0, 0]) + iport + eport + ext


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="gateway address to serve PCP on (port 5351)")
    ap.add_argument("--other", help="second local address to send wrong_source replies from")
    ap.add_argument("--external", default="11.77.0.2")
    ap.add_argument("--pcp-bad", default="", help="comma list of hostile replies to send first")
    ap.add_argument("--pcp-never-valid", action="store_true")
    ap.add_argument("--ssdp-offsubnet", help="LOCATION URL to announce in SSDP answers")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--ready", help="file to create once listening")
    a = ap.parse_args()

    pcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pcp.bind((a.listen, 5351))
    socks = [pcp]
    other = None
    if a.other:
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind((a.other, 5351))
    ssdp = None
    if a.ssdp_offsubnet:
        ssdp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ssdp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ssdp.bind(("0.0.0.0", 1900))
        mreq = socket.inet_aton("239.255.255.250") + socket.inet_aton(a.listen)
        ssdp.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        socks.append(ssdp)
    if a.ready:
        open(a.ready, "w").close()
    epoch = 1000
    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline:
        r, _, _ = select.select(socks, [], [], 0.2)
        for s in r:
            data, peer = s.recvfrom(2048)
            if s is ssdp:
                if data.startswith(b"M-SEARCH"):
                    msg = ("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
                           "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
                           "USN: uuid:fake::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
                           "EXT:\r\nSERVER: fake/1.0 UPnP/1.1 fake/1.0\r\n"
                           f"LOCATION: {a.ssdp_offsubnet}\r\n\r\n")
                    s.sendto(msg.encode(), peer)
                continue
            if not data or data[0] != 2:
                continue
            epoch += 1
            for bad in filter(None, a.pcp_bad.split(",")):
                if bad == "wrong_nonce":
                    pcp.sendto(reply_for(data, a.external, epoch, nonce_flip=True), peer)
                elif bad == "truncated":
                    pcp.sendto(reply_for(data, a.external, epoch)[:44], peer)
                elif bad == "garbage":
                    pcp.sendto(b"\x02\x81" + bytes(30), peer)
                elif bad == "natpmp":
                    pcp.sendto(bytes([0, 128, 0, 0]) + struct.pack(">I", epoch) + socket.inet_aton(a.external), peer)
                elif bad == "wrong_source" and other:
                    other.sendto(reply_for(data, a.external, epoch), peer)
            if not a.pcp_never_valid:
                pcp.sendto(reply_for(data, a.external, epoch), peer)


if __name__ == "__main__":
    main()
