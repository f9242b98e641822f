#!/usr/bin/python3
"""Craft pcap-fixtures/two-clients-record.pcap: two clients behind two
different NATs in one capture, from two captures written by `netcheck
--record` (nanosecond pcap, Ethernet + IPv4 + UDP, no IP options).

    make-two-clients.py FIRST.pcap SECOND.pcap OUT.pcap

FIRST is kept as it is. In SECOND, the client 192.168.1.2 becomes
192.168.2.2 and its NAT's public address 198.51.100.2 becomes
198.51.100.3: in the IP headers and in the STUN address attributes
(MAPPED-ADDRESS, XOR-MAPPED-ADDRESS, in either form), FINGERPRINT
recomputed, UDP checksum set to none. SECOND's timestamps are shifted so
that it starts 1 ms after FIRST, and the records of both are merged in
time order: the two clients probe at the same time, as two hosts behind
one capture point (a router that sees both LANs) would.

Deterministic: the same inputs give the same file.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
hostile = __import__("make-hostile")

ETH, IP, UDP, STUN = hostile.ETH, hostile.IP, hostile.UDP, hostile.STUN
COOKIE = bytes.fromhex("2112a442")
SUBST = {bytes([192, 168, 1, 2]): bytes([192, 168, 2, 2]),
         bytes([198, 51, 100, 2]): bytes([198, 51, 100, 3])}
XSUBST = {bytes(a ^ c for a, c in zip(k, COOKIE)):
          bytes(a ^ c for a, c in zip(v, COOKIE)) for k, v in SUBST.items()}
ADDR_ATTRS = {0x0001: SUBST, 0x0020: XSUBST, 0x8020: XSUBST}


def rewrite(frame):
    f = bytearray(frame)
    if f[12:14] != b"\x08\x00" or f[ETH + 9] != 17:
        return frame
    for off in (ETH + 12, ETH + 16):
        f[off:off + 4] = SUBST.get(bytes(f[off:off + 4]), f[off:off + 4])
    f[ETH + 10:ETH + 12] = b"\0\0"
    f[ETH + 10:ETH + 12] = struct.pack(">H",
                                       hostile.ip_checksum(f[ETH:ETH + IP]))
    f[ETH + IP + 6:ETH + IP + 8] = b"\0\0"
    if len(f) >= STUN + 20 and f[STUN + 4:STUN + 8] == COOKIE:
        for t, off in hostile.stun_attrs(bytes(f)):
            table = ADDR_ATTRS.get(t)
            if table is not None and f[off + 5] == 1:  # IPv4
                ip = bytes(f[off + 8:off + 12])
                f[off + 8:off + 12] = table.get(ip, ip)
        return hostile.refinger(f)
    return bytes(f)


def ns(rec):
    return rec[0] * 10**9 + rec[1]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    hdr, first = hostile.read_pcap(sys.argv[1])
    _, second = hostile.read_pcap(sys.argv[2])
    shift = ns(first[0]) + 10**6 - ns(second[0])
    moved = []
    for rec in second:
        t = ns(rec) + shift
        moved.append([t // 10**9, t % 10**9, rewrite(rec[2])])
    recs = sorted(first + moved, key=ns)  # stable: FIRST first on ties
    hostile.write_pcap(sys.argv[3], hdr, recs)


if __name__ == "__main__":
    main()
