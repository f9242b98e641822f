#!/usr/bin/env python3
"""Probes for the natbox lab test (run inside a namespace with ip netns exec).

  nbprobe.py ping DST COUNT INTERVAL_S WAIT_S
      ICMP echo (raw socket, needs root); prints
      "sent N received M loss_pct P avg_ms A min_ms B max_ms C".
  nbprobe.py udp-recv BIND_IP PORT WAIT_S
      prints "from IP:PORT payload TEXT" for the first datagram, or
      "timeout"; answers it with "pong".
  nbprobe.py udp-send SRC_IP DST_IP PORT TEXT WAIT_S
      sends TEXT from SRC_IP (port 0), prints "reply TEXT" or "timeout".
No sleeping to wait: every wait is a select() with a deadline.
"""
import os
import select
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(dst, count, interval, wait):
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    sent_at = {}
    rtts = []
    seq = 0
    start = time.monotonic()
    deadline = None
    while True:
        now = time.monotonic()
        if seq < count and now >= start + seq * interval:
            payload = struct.pack("!d", now) + b"natbox-lab" * 4
            hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), ident,
                              seq) + payload
            sock.sendto(pkt, (dst, 0))
            sent_at[seq] = now
            seq += 1
            if seq == count:
                deadline = now + wait
            continue
        if deadline is not None and (now >= deadline or
                                     len(rtts) == count):
            break
        nxt = deadline if seq >= count else start + seq * interval
        r, _, _ = select.select([sock], [], [], max(0.0, nxt - now))
        if not r:
            continue
        data = sock.recv(2048)
        ihl = (data[0] & 0x0F) * 4
        typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if typ == 0 and rid == ident and rseq in sent_at:
            rtts.append((time.monotonic() - sent_at.pop(rseq)) * 1000.0)
    n = len(rtts)
    avg = sum(rtts) / n if n else 0.0
    print("sent %d received %d loss_pct %.1f avg_ms %.3f min_ms %.3f "
          "max_ms %.3f" % (count, n, 100.0 * (count - n) / count, avg,
                           min(rtts) if n else 0.0, max(rtts) if n else 0.0))


def udp_recv(bind_ip, port, wait):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((bind_ip, port))
    r, _, _ = select.select([sock], [], [], wait)
    if not r:
        print("timeout")
        return
    data, src = sock.recvfrom(2048)
    sock.sendto(b"pong", src)
    print("from %s:%d payload %s" % (src[0], src[1], data.decode(errors="replace")))


def udp_send(src_ip, dst_ip, port, text, wait):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((src_ip, 0))
    sock.sendto(text.encode(), (dst_ip, port))
    r, _, _ = select.select([sock], [], [], wait)
    if not r:
        print("timeout")
        return
    print("reply %s" % sock.recv(2048).decode(errors="replace"))


def main(argv):
    if len(argv) >= 2 and argv[1] == "ping" and len(argv) == 6:
        ping(argv[2], int(argv[3]), float(argv[4]), float(argv[5]))
    elif len(argv) == 5 and argv[1] == "udp-recv":
        udp_recv(argv[2], int(argv[3]), float(argv[4]))
    elif len(argv) == 7 and argv[1] == "udp-send":
        udp_send(argv[2], argv[3], int(argv[4]), argv[5], float(argv[6]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
