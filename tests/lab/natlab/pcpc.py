#!/usr/bin/env python3
"""A small PCP (RFC 6887) and NAT-PMP (RFC 6886) client for the lab tests.

  pcpc.py GATEWAY announce                      PCP ANNOUNCE
  pcpc.py GATEWAY map PROTO IPORT EPORT LIFE    PCP MAP (LIFE 0 deletes)
  pcpc.py GATEWAY natpmp-addr                   NAT-PMP public address request
  pcpc.py GATEWAY natpmp-map IPORT EPORT LIFE   NAT-PMP UDP mapping

The MAP nonce is derived from PROTO and IPORT, so the request that deletes
a mapping (LIFE 0) carries the nonce of the one that made it (RFC 6887
section 11.1).
Prints one line: "answer KEY=VALUE..." (version, op, r (the R bit), result,
lifetime, epoch, and for MAP/NAT-PMP the external port and address), or
"silent" when nothing came back within --timeout seconds (default 1.5:
requests are resent at 0, 0.25 and 0.75 s), or "refused" when an ICMP port
unreachable came back. Exit 0 after any of these; 2 on a malformed answer.
"""
import socket
import struct
import sys
import time


def mapped(ip):
    return b"\0" * 10 + b"\xff\xff" + socket.inet_aton(ip)


def local_ip(gw):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((gw, 5351))
    ip = s.getsockname()[0]
    s.close()
    return ip


def exchange(gw, req, timeout, ok):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((gw, 5351))  # a connected socket sees ICMP port unreachable
    start = time.monotonic()
    sends = [0.0, 0.25, 0.75]
    while True:
        el = time.monotonic() - start
        try:
            while sends and el >= sends[0]:
                sends.pop(0)
                s.send(req)
            if el >= timeout:
                return None
            s.settimeout(max(min([timeout] + sends[:1]) - el, 0.005))
            d = s.recv(1100)
        except socket.timeout:
            continue
        except ConnectionRefusedError:
            return "refused"
        if ok(d):
            return d


def main():
    argv = sys.argv[1:]
    timeout = 1.5
    if len(argv) >= 2 and argv[0] == "--timeout":
        timeout = float(argv[1])
        argv = argv[2:]
    gw, cmd, args = argv[0], argv[1], argv[2:]
    me = local_ip(gw)
    if cmd == "announce":
        req = struct.pack("!BBHI", 2, 0, 0, 0) + mapped(me)
        d = exchange(gw, req, timeout, lambda d: len(d) >= 24 and d[1] == 0x80)
    elif cmd == "map":
        proto, iport, eport, life = (int(a) for a in args)
        nonce = struct.pack("!6sHI", b"natlab", iport, proto)
        req = struct.pack("!BBHI", 2, 1, 0, life) + mapped(me)
        req += nonce + struct.pack("!B3xHH", proto, iport, eport)
        req += mapped("0.0.0.0")
        d = exchange(gw, req, timeout,
                     lambda d: len(d) >= 60 and d[1] == 0x81 and
                     d[24:36] == nonce)
    elif cmd == "natpmp-addr":
        d = exchange(gw, b"\0\0", timeout,
                     lambda d: len(d) >= 12 and d[:2] == b"\0\x80")
    elif cmd == "natpmp-map":
        iport, eport, life = (int(a) for a in args)
        req = struct.pack("!BBHHHI", 0, 1, 0, iport, eport, life)
        d = exchange(gw, req, timeout,
                     lambda d: len(d) >= 16 and d[:2] == b"\0\x81")
    else:
        sys.exit("unknown command " + cmd)
    if d is None:
        print("silent")
        return
    if d == "refused":
        print("refused")
        return
    if cmd == "natpmp-addr":
        _, op, result, epoch = struct.unpack("!BBHI", d[:8])
        print("answer version=0 op=%d r=1 result=%d epoch=%d addr=%s" %
              (op & 0x7F, result, epoch, socket.inet_ntoa(d[8:12])))
        return
    if cmd == "natpmp-map":
        _, op, result, epoch, ip, ep, life = struct.unpack("!BBHIHHI", d[:16])
        print("answer version=0 op=%d r=1 result=%d epoch=%d iport=%d "
              "eport=%d lifetime=%d" % (op & 0x7F, result, epoch, ip, ep, life))
        return
    ver, op, _, result, life, epoch = struct.unpack("!BBBBII", d[:12])
    if ver != 2:
        print("answer version=%d op=%d" % (ver, op))
        sys.exit(2)
    out = "answer version=%d op=%d r=%d result=%d lifetime=%d epoch=%d" % (
        ver, op & 0x7F, op >> 7, result, life, epoch)
    if cmd == "map":
        p, ip, ep = struct.unpack("!B3xHH", d[36:44])
        out += " proto=%d iport=%d eport=%d addr=%s" % (
            p, ip, ep, socket.inet_ntoa(d[56:60]))
    print(out)


main()
