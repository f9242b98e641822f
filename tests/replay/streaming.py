#!/usr/bin/python3
"""replay.streaming: `netcheck --replay -` keeps its memory flat however
long the capture is. A generated capture (LINKTYPE_RAW, piped on stdin, no
file) holds a few real transactions and then N filler records that must not
accumulate: retransmissions of one request, unmatched responses and
non-STUN datagrams. The peak RSS with N = 400,000 must stay within 6 MB of
the peak with N = 4,000, and the counters must show every filler record.

    streaming.py NETCHECK
Exit 0 pass, 1 fail (one line).
"""
import json
import os
import struct
import subprocess
import sys

COOKIE = 0x2112A442


def ip_sum(b):
    s = sum((b[i] << 8) + b[i + 1] for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(src, sport, dst, dport, payload):
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 0,
                               0x4000, 64, 17, 0, bytes(src), bytes(dst)))
    ip[10:12] = struct.pack(">H", ip_sum(ip))
    return bytes(ip) + struct.pack(">HHHH", sport, dport, 8 + len(payload),
                                   0) + payload


def request(txid):
    return struct.pack(">HHI", 0x0001, 0, COOKIE) + txid


def response(txid, ip, port):
    xip = struct.unpack(">I", bytes(ip))[0] ^ COOKIE
    attr = struct.pack(">HHBBHI", 0x0020, 8, 0, 1, port ^ (COOKIE >> 16), xip)
    return struct.pack(">HHI", 0x0101, len(attr), COOKIE) + txid + attr


def capture(out, filler):
    rec = struct.Struct("<IIII")
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
    t = [1700000000, 0]

    def put(fr):
        t[1] += 10
        if t[1] >= 1000000:
            t[0], t[1] = t[0] + 1, t[1] - 1000000
        out.write(rec.pack(t[0], t[1], len(fr), len(fr)) + fr)

    cli, srv, pub = (192, 168, 1, 2), (203, 0, 113, 1), (198, 51, 100, 2)
    for i in range(8):
        txid = struct.pack(">III", 1, 2, i)
        put(frame(cli, 40000 + i, srv, 3478, request(txid)))
        put(frame(srv, 3478, cli, 40000 + i, response(txid, pub, 50000 + i)))
    again = struct.pack(">III", 9, 9, 9)
    put(frame(cli, 41000, srv, 3478, request(again)))
    chunk = []
    for i in range(filler):
        k = i % 3
        if k == 0:
            fr = frame(cli, 41000, srv, 3478, request(again))
        elif k == 1:
            fr = frame(srv, 3478, cli, 41000,
                       response(struct.pack(">III", 7, i, 7), pub, 1))
        else:
            fr = frame(cli, 5353, (192, 0, 2, 53), 53, b"\x00" * 24)
        chunk.append(fr)
        if len(chunk) == 4096:
            for f in chunk:
                put(f)
            chunk = []
    for f in chunk:
        put(f)


def run(netcheck, filler):
    p = subprocess.Popen([netcheck, "--replay", "-", "--json"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        capture(p.stdin, filler)
        p.stdin.close()
    except BrokenPipeError:
        pass
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("FAIL: netcheck --replay - exited %d: %s"
                 % (p.returncode, err.decode(errors="replace").strip()))
    return json.loads(out), ru.ru_maxrss  # KiB


def main():
    netcheck = sys.argv[1]
    small, rss_small = run(netcheck, 4000)
    big, rss_big = run(netcheck, 400000)
    d = big["replay"]["diagnostics"]
    n = 400000
    want = {"retransmissions": (n + 2) // 3, "unmatched": (n + 1) // 3,
            "not_stun": n // 3}
    for k, v in want.items():
        if d[k] != v:
            sys.exit("FAIL: replay.diagnostics.%s = %d, want %d" % (k, d[k], v))
    if big["replay"]["packets"] != 17 + n:
        sys.exit("FAIL: replay.packets = %d, want %d"
                 % (big["replay"]["packets"], 17 + n))
    if big["mapping"] != small["mapping"] or not big["udp"]:
        sys.exit("FAIL: the filler changed the verdict")
    print("peak RSS: %d KiB with 4,000 filler records, %d KiB with 400,000"
          % (rss_small, rss_big))
    if rss_big > rss_small + 6 * 1024:
        sys.exit("FAIL: memory grows with the capture: %d KiB -> %d KiB"
                 % (rss_small, rss_big))
    print("PASS: replay.streaming")


if __name__ == "__main__":
    main()
