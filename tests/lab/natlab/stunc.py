#!/usr/bin/env python3
"""Minimal STUN Binding client for lab tests (runs inside a lab node).

usage: stunc.py fresh N          N fresh sockets (kept open, so N distinct
                                 local ports), one request each: their
                                 mapped ports on one line
       stunc.py bind PORT [K]    K requests (default 1) from local PORT:
                                 the mapped port of each, one per line
       stunc.py burst N          N requests from one socket paced 2 ms
                                 apart, then 1 s for stragglers: "answered
                                 fastest_rtt_ms median_rtt_ms" (-1 if none)

The server is 203.0.113.1:3478 (the lab's coturn). fresh and bind: each
answer must carry the request's transaction ID; 2 s without one is an
error (exit 1)."""
import os
import select
import socket
import struct
import sys
import time

SERVER = ("203.0.113.1", 3478)


def mapped_port(s):
    tid = os.urandom(12)
    s.sendto(struct.pack("!HHI", 1, 0, 0x2112A442) + tid, SERVER)
    d = s.recv(2048)
    if d[8:20] != tid:
        sys.exit("stunc: answer for another transaction")
    i = 20
    while i + 4 <= len(d):
        t, n = struct.unpack("!HH", d[i:i + 4])
        if t == 0x0020:  # XOR-MAPPED-ADDRESS
            return struct.unpack("!H", d[i + 6:i + 8])[0] ^ 0x2112
        i += 4 + (n + 3) // 4 * 4
    sys.exit("stunc: no XOR-MAPPED-ADDRESS")


def sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    return s


def burst(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, rtt = {}, []

    def drain(deadline):
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                return
            d = s.recv(2048)
            t0 = sent.pop(d[8:20], None)
            if t0 is not None:
                rtt.append((time.monotonic() - t0) * 1000)

    for _ in range(n):
        tid = os.urandom(12)
        sent[tid] = time.monotonic()
        s.sendto(struct.pack("!HHI", 1, 0, 0x2112A442) + tid, SERVER)
        drain(time.monotonic() + 0.002)
    drain(time.monotonic() + 1.0)
    rtt.sort()
    print(len(rtt), rtt[0] if rtt else -1, rtt[len(rtt) // 2] if rtt else -1)


def main(argv):
    if len(argv) >= 2 and argv[0] == "fresh":
        socks = [sock() for _ in range(int(argv[1]))]
        print(" ".join(str(mapped_port(s)) for s in socks))
    elif len(argv) >= 2 and argv[0] == "bind":
        s = sock()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(argv[1])))
        for _ in range(int(argv[2]) if len(argv) > 2 else 1):
            print(mapped_port(s))
    elif len(argv) >= 2 and argv[0] == "burst":
        burst(int(argv[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except socket.timeout:
        sys.exit("stunc: no answer within 2 s")
