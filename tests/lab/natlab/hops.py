#!/usr/bin/env python3
"""Hop probe for the lab tests: from one UDP socket with IP_RECVERR, send a
STUN Binding request with TTL 1..MAX to SERVER:PORT and read the ICMP
errors from the error queue (recvmsg MSG_ERRQUEUE).

  hops.py SERVER PORT [MAX [SIZE]]

SIZE (default 20) pads the request with a SOFTWARE attribute to SIZE bytes
of UDP payload. One line per TTL: "TTL OFFENDER TYPE CODE QUOTED_TXID_OK
QUOTED_LEN" where OFFENDER is
the address that sent the ICMP error ("-" when none came back within
0.5 s, "answer" when the STUN server itself answered), TYPE/CODE the ICMP
type and code (11/0: time exceeded in transit), QUOTED_TXID_OK 1 when the
error queue handed back the whole datagram with this probe's STUN
transaction ID (the kernel gives the quoted payload as the message data),
QUOTED_LEN how many bytes of the UDP payload the error quoted.
"""
import os
import select
import socket
import struct
import sys
import time

IP_RECVERR = 11
SO_EE_ORIGIN_ICMP = 2


def parse_err(anc):
    for level, typ, data in anc:
        if level == socket.IPPROTO_IP and typ == IP_RECVERR:
            # struct sock_extended_err: errno u32, origin u8, type u8,
            # code u8, pad u8, info u32, data u32; then sockaddr_in offender
            _, origin, itype, icode, _, _, _ = struct.unpack(
                "=IBBBBII", data[:16])
            off = "?"
            if len(data) >= 32 and origin == SO_EE_ORIGIN_ICMP:
                off = socket.inet_ntoa(data[20:24])
            return off, itype, icode
    return None


def probe(s, server, port, ttl, wait, size):
    txid = os.urandom(12)
    pad = max(0, (size - 24) // 4 * 4)
    attrs = struct.pack("!HH", 0x8022, pad) + b"x" * pad if size > 20 else b""
    req = struct.pack("!HHI", 1, len(attrs), 0x2112A442) + txid + attrs
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    s.sendto(req, (server, port))
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return "-", 0, 0, 0, 0
        r, _, x = select.select([s], [], [s], left)
        if not r and not x:
            continue
        try:
            data, anc, _, _ = s.recvmsg(2048, 1024, socket.MSG_ERRQUEUE)
        except BlockingIOError:
            data = None
        if data is not None:
            e = parse_err(anc)
            if e:
                return e[0], e[1], e[2], int(data[8:20] == txid), len(data)
            continue
        d, _ = s.recvfrom(2048)
        if len(d) >= 20 and d[8:20] == txid:
            return "answer", 0, 0, 1, len(d)


def main():
    server, port = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    s.setblocking(False)
    s.bind(("0.0.0.0", 0))
    for ttl in range(1, top + 1):
        off, t, c, ok, qlen = probe(s, server, port, ttl, 0.5, size)
        print(ttl, off, t, c, ok, qlen, flush=True)
        if off == "answer":
            break


main()
