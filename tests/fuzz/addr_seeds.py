#!/usr/bin/python3
"""Write the seed corpus of fuzz_addr (tests/fuzz/corpus/addr/): a default
port (2 bytes, big endian), a byte giving the host buffer size (byte + 1)
and the family asked of nat_resolve (byte % 3: any, IPv4, IPv6), then the
address string. Deterministic.

  addr_seeds.py CORPUS_DIR
"""
import os
import re
import struct
import sys

SEEDS = [
    # accepted by both parsers
    "1.2.3.4", "1.2.3.4:3478", "0.0.0.0:1", "255.255.255.255:65535",
    "127.0.0.1:0", "::1", "[::1]:3478", "[::]:1", "::", "fe80::1",
    "[2001:db8::1]:65535", "::ffff:192.0.2.1", "[::ffff:192.0.2.1]:80",
    "0000:0000:0000:0000:0000:ffff:255.255.255.255",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[::1]", "1.2.3.4:03478",
    "100.64.0.1:5", "169.254.1.1:7", "224.0.0.1:9", "[ff02::1]:9",
    "fc00::1", "10.0.0.1:8", "172.16.0.1:8", "192.168.1.1:8",
    # names (the splitter only)
    "stun.example.org", "stun.example.org:3478", "localhost:1",
    "a:b:c", "xn--nxasmq6b.example:65535",
    # refused
    "", ":", ":3478", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1",
    "1.2.3.4:+1", "1.2.3.4: 1", "1.2.3.4:0x10", "[1.2.3.4]:80", "[::1",
    "::1]", "[::1]x", "[::1]:", "[]:1", "[::1]:99999", "1.2.3.4.5",
    "1.2.3", "256.1.1.1", "fe80::1%eth0", "[fe80::1%eth0]:1",
    "1.2.3.4:1:2", "host name:1", "a/b:1", "[a]:1", "01.2.3.4",
    "1.2.3.4:000000000000000000001",
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for i, s in enumerate(SEEDS):
        hostlen = 255 if i % 4 else 7  # a short buffer now and then
        fam = i % 3
        b = struct.pack(">HB", 3478 if i % 2 else 0, (hostlen - fam) & 0xFF)
        name = re.sub(r"[^A-Za-z0-9.]", "_", s) or "empty"
        with open(os.path.join(out, "%02d_%s" % (i, name[:40])), "wb") as f:
            f.write(b + s.encode())


main()
