#!/usr/bin/python3
"""Make the input-format variants of pcap-fixtures/ from one fixture: the
same netcheck run in other framings, each of which must replay to the
verdict of its source (their MANIFEST entries say so).

  make-variants.py FIXTURES_DIR
      the variants that pcap-fixtures/ holds (PLAN below):
      port-restricted-netcheck-h1-{sll1.pcap,2if.pcapng,ipv6.pcap} and
      full-cone-netcheck-h1-cut.pcap, written beside their sources;
  make-variants.py SOURCE.pcap OUTDIR
      all four variants of one source.

A SOURCE is a classic pcap of link type LINUX_SLL2 (tcpdump -i any), e.g.
pcap-fixtures/port-restricted-netcheck-h1.pcap. Written, named after it
(BASE = SOURCE without .pcap):

  BASE-sll1.pcap    every SLL2 header rewritten as a Linux cooked v1
                    header (same packet type, ARPHRD type, link-layer
                    address and protocol); classic pcap, microseconds.
  BASE-2if.pcapng   one pcapng section with two interfaces: the Binding
                    requests (STUN class request or indication) on
                    interface 0, LINUX_SLL with if_tsresol 9 (ns), the
                    rest (responses) on interface 1, Ethernet (synthesized
                    locally administered MAC addresses, the SLL2 protocol
                    as EtherType) with the default resolution (us); the
                    records in the source's order, as Enhanced Packet
                    Blocks.
  BASE-cut.pcap     the source without its first CUT (3) records: the
                    capture starts in the middle of the run, with the
                    response to a request it does not hold. Only the
                    full-cone and public runs keep their whole verdict
                    when cut so (tried on every *-netcheck-h1.pcap with 1
                    to 8 records dropped): in the others the first
                    socket's exchanges are what filtering and
                    hairpinning are rated on (port-restricted cut by 3:
                    filtering and hairpinning become not measurable), so
                    the fixture's cut is of full-cone-netcheck-h1.pcap.
  BASE-ipv6.pcap    every IPv4/UDP packet rewritten as IPv6/UDP: each
                    address a.b.c.d becomes 2001:db8::a.b.c.d (the
                    documentation prefix), the hop limit is the TTL, the
                    UDP checksum is computed over the IPv6 pseudo-header;
                    inside STUN, every IPv4 address attribute
                    (MAPPED-ADDRESS, RESPONSE-ADDRESS, SOURCE-ADDRESS,
                    CHANGED-ADDRESS, REFLECTED-FROM, XOR-MAPPED-ADDRESS
                    and its old 0x8020 code, ALTERNATE-SERVER,
                    RESPONSE-ORIGIN, OTHER-ADDRESS) becomes the IPv6 one,
                    the XOR ones XORed with the magic cookie and the
                    transaction ID (RFC 8489 14.2), the message length
                    grows and FINGERPRINT is recomputed. A message with
                    MESSAGE-INTEGRITY cannot be rewritten (no key): the
                    script stops.

Pure Python 3, no third-party modules; deterministic (same input, same
bytes).
"""
import os
import struct
import sys
import zlib

CUT = 3
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
COOKIE = 0x2112A442


def read_pcap(path):
    """(header fields, [(sec, frac, caplen, origlen, data)], nano)"""
    raw = open(path, "rb").read()
    magic = raw[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        e, nano = "<", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        e, nano = "<", True
    elif magic == b"\xa1\xb2\xc3\xd4":
        e, nano = ">", False
    elif magic == b"\xa1\xb2\x3c\x4d":
        e, nano = ">", True
    else:
        sys.exit("%s: not a classic pcap file" % path)
    _, vmaj, vmin, zone, sigfigs, snaplen, lt = struct.unpack(
        e + "IHHiIII", raw[:24])
    recs = []
    o = 24
    while o < len(raw):
        sec, frac, cap, orig = struct.unpack(e + "IIII", raw[o:o + 16])
        recs.append((sec, frac, cap, orig, raw[o + 16:o + 16 + cap]))
        o += 16 + cap
    return (snaplen, lt & 0xFFFF), recs, nano


def write_pcap(path, lt, snaplen, recs, nano):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D if nano else 0xA1B2C3D4,
                            2, 4, 0, 0, snaplen, lt))
        for sec, frac, cap, orig, data in recs:
            f.write(struct.pack("<IIII", sec, frac, len(data),
                                orig - cap + len(data)))
            f.write(data)


def ns_of(sec, frac, nano):
    return sec * 10**9 + (frac if nano else frac * 1000)


def sll2_fields(d):
    """protocol, ifindex, hatype, pkttype, halen, addr(8), payload"""
    proto, _, ifindex, hatype, pkttype, halen = struct.unpack(
        ">HHIHBB", d[:12])
    return proto, ifindex, hatype, pkttype, halen, d[12:20], d[20:]


def sll1_of(d):
    proto, _, hatype, pkttype, halen, addr, rest = sll2_fields(d)
    return struct.pack(">HHH", pkttype, hatype, halen) + addr + \
        struct.pack(">H", proto) + rest


def eth_of(d):
    proto, _, _, pkttype, _, _, rest = sll2_fields(d)
    host, other = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
    # outgoing (4): from this host; else to it
    src, dst = (host, other) if pkttype == 4 else (other, host)
    return dst + src + struct.pack(">H", proto) + rest


def stun_class_request(payload):
    if len(payload) < 20:
        return False
    t = struct.unpack(">H", payload[:2])[0]
    return (t & 0x0110) == 0x0000


def pad4(b):
    return b + b"\x00" * (-len(b) % 4)


def pcapng_block(btype, body):
    body = pad4(body)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng_option(code, value):
    return struct.pack("<HH", code, len(value)) + pad4(value)


def write_2if(path, recs, nano, snaplen):
    out = [pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0,
                                                -1) +
                        pcapng_option(4, b"make-variants.py") +
                        struct.pack("<HH", 0, 0))]
    # interface 0: LINUX_SLL, ns; interface 1: Ethernet, us (default)
    out.append(pcapng_block(1, struct.pack("<HHI", LINKTYPE_LINUX_SLL, 0,
                                           snaplen) +
                            pcapng_option(2, b"any") +
                            pcapng_option(9, b"\x09") +
                            struct.pack("<HH", 0, 0)))
    out.append(pcapng_block(1, struct.pack("<HHI", LINKTYPE_ETHERNET, 0,
                                           snaplen) +
                            pcapng_option(2, b"eth0") +
                            struct.pack("<HH", 0, 0)))
    for sec, frac, cap, orig, data in recs:
        ns = ns_of(sec, frac, nano)
        payload = udp_payload(data[20:])
        if payload is not None and stun_class_request(payload):
            ifid, frame, ticks = 0, sll1_of(data), ns
        else:
            ifid, frame, ticks = 1, eth_of(data), ns // 1000
        grow = len(frame) - len(data)
        out.append(pcapng_block(6, struct.pack(
            "<IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
            orig + grow) + frame))
    open(path, "wb").write(b"".join(out))


def udp_payload(ip):
    """The UDP payload of an IPv4 packet, or None."""
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 15) * 4
    return ip[ihl + 8:]


def v6_of(a4):
    return b"\x20\x01\x0d\xb8" + b"\x00" * 8 + a4


ADDR_ATTRS = {0x0001, 0x0002, 0x0004, 0x0005, 0x000B, 0x8023, 0x802B,
              0x802C}
XOR_ATTRS = {0x0020, 0x8020}


def stun_to_v6(m):
    """A STUN message with its IPv4 address attributes made IPv6."""
    if len(m) < 20:
        return m
    mtype, mlen = struct.unpack(">HH", m[:4])
    if 20 + mlen != len(m):
        return m
    key = m[4:20]  # cookie + transaction ID
    attrs, o, fp = [], 20, False
    while o + 4 <= len(m):
        at, al = struct.unpack(">HH", m[o:o + 4])
        v = m[o + 4:o + 4 + al]
        o += 4 + al + (-al % 4)
        if at == 0x0008:
            sys.exit("make-variants.py: MESSAGE-INTEGRITY: cannot rewrite")
        if at == 0x8028:
            fp = True
            continue
        if (at in ADDR_ATTRS or at in XOR_ATTRS) and al == 8 and v[1] == 1:
            a4 = v[4:8]
            if at in XOR_ATTRS:
                a4 = bytes(x ^ y for x, y in zip(a4, key[:4]))
                a6 = bytes(x ^ y for x, y in zip(v6_of(a4), key))
            else:
                a6 = v6_of(a4)
            v = b"\x00\x02" + v[2:4] + a6
        attrs.append(struct.pack(">HH", at, len(v)) + pad4(v))
    body = b"".join(attrs)
    if fp:
        hdr = struct.pack(">HH", mtype, len(body) + 8) + key
        crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF
        return hdr + body + struct.pack(">HHI", 0x8028, 4, crc)
    return struct.pack(">HH", mtype, len(body)) + key + body


def csum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ipv4_to_v6(ip):
    """An IPv4/UDP packet as IPv6/UDP, or None if it is not one."""
    payload = udp_payload(ip)
    if payload is None:
        return None
    ihl = (ip[0] & 15) * 4
    sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
    payload = stun_to_v6(payload)
    src, dst = v6_of(ip[12:16]), v6_of(ip[16:20])
    ulen = 8 + len(payload)
    pseudo = src + dst + struct.pack(">IxxxB", ulen, 17)
    udp = struct.pack(">HHHH", sport, dport, ulen, 0) + payload
    c = 0xFFFF - csum(pseudo + udp)
    udp = udp[:6] + struct.pack(">H", c or 0xFFFF) + udp[8:]
    hdr = struct.pack(">IHBB", 6 << 28, ulen, 17, ip[8]) + src + dst
    return hdr + udp


def ipv6_of(d):
    proto, ifindex, hatype, pkttype, halen, addr, rest = sll2_fields(d)
    if proto != 0x0800:
        return d
    v6 = ipv4_to_v6(rest)
    if v6 is None:
        return d
    return struct.pack(">HHIHBB", 0x86DD, 0, ifindex, hatype, pkttype,
                       halen) + addr + v6


# (source, variants): the variants made of each source fixture.
PLAN = [("port-restricted-netcheck-h1.pcap", ("sll1", "2if", "ipv6")),
        ("full-cone-netcheck-h1.pcap", ("cut",))]


def make(src, outdir, kinds):
    (snaplen, lt), recs, nano = read_pcap(src)
    if lt != LINKTYPE_LINUX_SLL2:
        sys.exit("%s: link type %d, want LINUX_SLL2 (276)" % (src, lt))
    base = os.path.join(outdir, os.path.basename(src)[:-len(".pcap")])
    for kind in kinds:
        if kind == "sll1":
            path = base + "-sll1.pcap"
            write_pcap(path, LINKTYPE_LINUX_SLL, snaplen,
                       [(s, f, c, o, sll1_of(d)) for s, f, c, o, d in recs],
                       nano)
        elif kind == "2if":
            path = base + "-2if.pcapng"
            write_2if(path, recs, nano, snaplen)
        elif kind == "cut":
            path = base + "-cut.pcap"
            write_pcap(path, lt, snaplen, recs[CUT:], nano)
        else:
            path = base + "-ipv6.pcap"
            write_pcap(path, lt, snaplen,
                       [(s, f, c, o, ipv6_of(d)) for s, f, c, o, d in recs],
                       nano)
        print(path)


def main():
    if len(sys.argv) == 2:
        for src, kinds in PLAN:
            make(os.path.join(sys.argv[1], src), sys.argv[1], kinds)
    elif len(sys.argv) == 3:
        make(sys.argv[1], sys.argv[2], ("sll1", "2if", "cut", "ipv6"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
