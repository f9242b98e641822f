#!/usr/bin/python3
"""Craft the damaged and hostile captures of pcap-fixtures/ from one good
capture written by `netcheck --record` (classic pcap, nanosecond
timestamps, Ethernet + IPv4 + UDP, no IP options).

    make-hostile.py GOOD.pcap OUTDIR

Writes the files below into OUTDIR and prints, for each, one JSON line
(the raw facts manifest.py build turns into MANIFEST entries):

  damaged-empty.pcap           zero-length file
  damaged-garbage.pcap         2 KB of pseudo-random bytes (fixed seed)
  damaged-wrong-magic.pcap     the good file with another magic number
  damaged-truncated.pcap       the good file cut in the middle of its
                               last record
  damaged-bad-record.pcap      a record header claiming 2 GB
  no-stun.pcap                 a valid capture of DNS-like UDP only
  responses-only.pcap          only the server's responses: no requests
  hostile-spoofed.pcap         before each success response, a forged copy
                               from 203.0.113.66 with another mapped port
  hostile-txid.pcap            after each success response, a copy with a
                               transaction ID no request used
  hostile-malformed.pcap       after each success response, a copy whose
                               first attribute overruns the message
  hostile-mixed.pcap           all three

Deterministic: the same GOOD.pcap gives the same files.
"""
import json
import os
import struct
import sys
import zlib

MAGIC_NS = 0xA1B23C4D


def read_pcap(path):
    data = open(path, "rb").read()
    magic, = struct.unpack("<I", data[:4])
    if magic != MAGIC_NS:
        sys.exit("%s: expected a nanosecond pcap written by netcheck --record"
                 % path)
    hdr, off, recs = data[:24], 24, []
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        recs.append([sec, frac, data[off + 16:off + 16 + incl]])
        off += 16 + incl
    return hdr, recs


def write_pcap(path, hdr, recs):
    with open(path, "wb") as f:
        f.write(hdr)
        for sec, frac, frame in recs:
            f.write(struct.pack("<IIII", sec, frac, len(frame), len(frame)))
            f.write(frame)


def ip_checksum(b):
    s = 0
    for i in range(0, len(b), 2):
        s += (b[i] << 8) + (b[i + 1] if i + 1 < len(b) else 0)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


# Frame layout: Ethernet 14, IPv4 20 (netcheck --record writes no options),
# UDP 8, then STUN.
ETH, IP, UDP = 14, 20, 8
STUN = ETH + IP + UDP


def is_success_response(frame):
    return (len(frame) >= STUN + 20 and frame[12:14] == b"\x08\x00"
            and frame[STUN:STUN + 2] == b"\x01\x01")


def set_ip_src(frame, ip4):
    f = bytearray(frame)
    f[ETH + 12:ETH + 16] = bytes(ip4)
    f[ETH + 10:ETH + 12] = b"\0\0"
    f[ETH + 10:ETH + 12] = struct.pack(">H", ip_checksum(f[ETH:ETH + IP]))
    f[ETH + IP + 6:ETH + IP + 8] = b"\0\0"  # UDP checksum: none
    return bytes(f)


def stun_attrs(frame):
    off = STUN + 20
    end = STUN + 20 + struct.unpack(">H", frame[STUN + 2:STUN + 4])[0]
    while off + 4 <= end:
        t, n = struct.unpack(">HH", frame[off:off + 4])
        yield t, off
        off += 4 + ((n + 3) & ~3)


def refinger(f):
    """Recompute FINGERPRINT (RFC 8489 section 14.7) after an edit: an
    attacker does, and a message with a wrong one is refused as malformed
    before any pairing."""
    for t, off in stun_attrs(bytes(f)):
        if t == 0x8028:
            crc = zlib.crc32(bytes(f[STUN:off])) ^ 0x5354554E
            f[off + 4:off + 8] = struct.pack(">I", crc & 0xFFFFFFFF)
    return bytes(f)


def forge(frame):
    """Forged response: from 203.0.113.66, XOR-MAPPED-ADDRESS port ^ 1000,
    FINGERPRINT recomputed."""
    f = bytearray(set_ip_src(frame, (203, 0, 113, 66)))
    for t, off in stun_attrs(bytes(f)):
        if t == 0x0020:
            port = struct.unpack(">H", f[off + 6:off + 8])[0]
            f[off + 6:off + 8] = struct.pack(">H", port ^ 0x03E8)
    return refinger(f)


def other_txid(frame):
    f = bytearray(frame)
    f[STUN + 19] ^= 0xFF
    f[STUN + 8] ^= 0x5A
    f[ETH + IP + 6:ETH + IP + 8] = b"\0\0"
    return refinger(f)


def overrun(frame):
    f = bytearray(frame)
    first = STUN + 20
    f[first + 2:first + 4] = b"\xff\xf0"
    f[ETH + IP + 6:ETH + IP + 8] = b"\0\0"
    return bytes(f)


def udp_frame(src, sport, dst, dport, payload):
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, IP + UDP + len(payload),
                               0, 0x4000, 64, 17, 0, bytes(src), bytes(dst)))
    ip[10:12] = struct.pack(">H", ip_checksum(ip))
    udp = struct.pack(">HHHH", sport, dport, UDP + len(payload), 0)
    eth = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
    return eth + bytes(ip) + udp + payload


def main():
    good, outdir = sys.argv[1], sys.argv[2]
    hdr, recs = read_pcap(good)
    src = os.path.basename(good)
    data = open(good, "rb").read()
    made = []

    def out(name, kind, **facts):
        made.append(dict(file=name, kind=kind, source=src, **facts))

    open(os.path.join(outdir, "damaged-empty.pcap"), "wb").close()
    out("damaged-empty.pcap", "damaged", how="zero-length file")

    seed, junk = 12345, bytearray()
    for _ in range(2048):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        junk.append(seed >> 16 & 0xFF)
    open(os.path.join(outdir, "damaged-garbage.pcap"), "wb").write(junk)
    out("damaged-garbage.pcap", "damaged",
        how="2048 pseudo-random bytes (LCG, seed 12345)")

    open(os.path.join(outdir, "damaged-wrong-magic.pcap"), "wb").write(
        b"\x0b\xad\xf0\x0d" + data[4:])
    out("damaged-wrong-magic.pcap", "damaged",
        how="the good capture with magic 0x0badf00d")

    last = len(recs[-1][2])
    open(os.path.join(outdir, "damaged-truncated.pcap"), "wb").write(
        data[:len(data) - last // 2])
    out("damaged-truncated.pcap", "damaged",
        how="the good capture cut in the middle of its last record")

    bad = bytearray(data)
    off = 24
    for _ in range(2):
        off += 16 + struct.unpack("<I", bad[off + 8:off + 12])[0]
    bad[off + 8:off + 16] = struct.pack("<II", 0x7FFFFFFF, 0x7FFFFFFF)
    open(os.path.join(outdir, "damaged-bad-record.pcap"), "wb").write(bad)
    out("damaged-bad-record.pcap", "damaged",
        how="the good capture with record 3's caplen set to 0x7fffffff")

    dns = [[1700000000 + i, 0, udp_frame((192, 168, 1, 2), 40000 + i,
                                         (192, 0, 2, 53), 53,
                                         b"\x12\x34\x01\x00\x00\x01" + b"\0" * 6 +
                                         b"\x07example\x03com\x00\x00\x01\x00\x01")]
           for i in range(5)]
    write_pcap(os.path.join(outdir, "no-stun.pcap"), hdr, dns)
    out("no-stun.pcap", "no-stun", how="5 DNS queries over UDP, no STUN")

    write_pcap(os.path.join(outdir, "responses-only.pcap"), hdr,
               [r for r in recs if r[2][STUN:STUN + 1] == b"\x01"])
    out("responses-only.pcap", "no-requests",
        how="only the responses of the good capture")

    def hostile(name, before=None, after=None, how=""):
        res, n = [], 0
        for r in recs:
            if is_success_response(r[2]) and before:
                res.append([r[0], r[1], before(r[2])])
                n += 1
            res.append(r)
            if is_success_response(r[2]) and after:
                res.append([r[0], r[1], after(r[2])])
                n += 1
        write_pcap(os.path.join(outdir, name), hdr, res)
        return n

    n = hostile("hostile-spoofed.pcap", before=forge)
    out("hostile-spoofed.pcap", "hostile", inserted={"spoofed": n},
        how="before each success response a forged copy from 203.0.113.66 "
            "with another XOR-MAPPED-ADDRESS port")
    n = hostile("hostile-txid.pcap", after=other_txid)
    out("hostile-txid.pcap", "hostile", inserted={"unmatched": n},
        how="after each success response a copy with a transaction ID no "
            "request used")
    n = hostile("hostile-malformed.pcap", after=overrun)
    out("hostile-malformed.pcap", "hostile", inserted={"malformed": n},
        how="after each success response a copy whose first attribute "
            "claims 65520 bytes")

    res, counts = [], {"spoofed": 0, "unmatched": 0, "malformed": 0}
    for r in recs:
        if is_success_response(r[2]):
            res.append([r[0], r[1], forge(r[2])])
            counts["spoofed"] += 1
        res.append(r)
        if is_success_response(r[2]):
            res.append([r[0], r[1], other_txid(r[2])])
            res.append([r[0], r[1], overrun(r[2])])
            counts["unmatched"] += 1
            counts["malformed"] += 1
    write_pcap(os.path.join(outdir, "hostile-mixed.pcap"), hdr, res)
    out("hostile-mixed.pcap", "hostile", inserted=counts,
        how="forged, unmatched and malformed copies around each response")

    for m in made:
        print(json.dumps(m))


if __name__ == "__main__":
    main()
