#!/usr/bin/python3
"""Write the seed corpus of fuzz_natbox (tests/fuzz/corpus/natbox/): one
file per NAT configuration, each the same exchange of packets (the
natbox unit tests' flows: a binding request out, the answer in, an answer
from another port and another address, an ICMP error about the mapping,
a hairpin, the timeout, damaged datagrams). The byte layout is the one
tests/fuzz/fuzz_natbox.c reads. Deterministic.

  natbox_seeds.py CORPUS_DIR
"""
import os
import sys


def cfg(mapping=0, filtering=0, alloc=0, per_host=False, arbitrary=False,
        npublic=1, hairpin=False, overload=False, refresh=False,
        interleave=False, blocks=False, neg=False, start=0x1000, span=21,
        block=0, delta=0, imax=0, timeout=29, maxmap=255):
    c0 = mapping + 3 * filtering + 9 * alloc
    c0 |= 0x40 if per_host else 0
    c0 |= 0x80 if arbitrary else 0
    c1 = (npublic - 1) | (4 if hairpin else 0) | (8 if overload else 0)
    c1 |= 0x10 if refresh else 0
    c1 |= 0x20 if interleave else 0
    c1 |= 0x40 if blocks else 0
    c1 |= 0x80 if neg else 0
    c4 = span | block << 6
    c5 = delta | imax << 5
    return bytes([c0, c1, start >> 8, start & 255, c4, c5, timeout, maxmap])


def out(host=0, iport=0, dst=0, dport=0, csum=0, plen=2, dt=1, op=0):
    """Outbound UDP (op 0): payload plen*4 bytes."""
    b1 = host | iport << 2 | dst << 5
    b2 = dport | csum << 3 | plen << 5
    return bytes([op | dt << 3, b1, b2]) + bytes(range(1, plen * 4 + 1))


def inb(src=0, sport=0, pub=0, seen=None, port=None, csum=0, plen=1, dt=1):
    """Inbound UDP (op 2) to an external endpoint seen or a given port."""
    b1 = src | sport << 3 | pub << 6
    if seen is not None:
        b2 = 1 | seen << 1 | csum << 3 | plen << 5
        extra = b""
    else:
        b2 = csum << 3 | plen << 5
        extra = bytes([port >> 8, port & 255])
    return bytes([2 | dt << 3, b1, b2]) + extra + bytes(plen * 4)


def icmp(typ=0, seen=0, qdst=0, qport=0, trunc=0, bad=False, opts=False):
    """Inbound ICMP (op 4) quoting a datagram from external endpoint
    `seen` to remote qdst:qport."""
    b1 = typ | seen << 2 | qdst << 5
    b2 = qport | trunc << 3 | (0x20 if bad else 0) | (0x40 if opts else 0)
    return bytes([4 | 1 << 3, b1, b2, 0, 0]) + b"STUN"


def damaged(kind, inbound=False, extra=0):
    """Op 6: a datagram damaged one way (kind 0-12)."""
    return bytes([6 | 1 << 3, (1 if inbound else 0) | 1 << 5,
                  kind | extra << 4]) + bytes(4)


def raw(data, inbound=False, fix=True):
    b2 = (1 if inbound else 0) | (6 if fix else 0)
    return bytes([5, len(data), b2]) + data


def wait(secs):
    return bytes([7, secs, 0])


def flow():
    s = out()                                   # 10.0.0.1:5000 -> R0:3478
    s += inb(seen=0)                            # the answer
    s += inb(src=0, sport=1, seen=0)            # other port (APD filter)
    s += inb(src=1, sport=0, seen=0)            # other address (AD filter)
    s += out(host=0, iport=0, dst=1, dport=1)   # same socket, other server
    s += inb(src=1, sport=1, seen=1)
    s += icmp(typ=0, seen=0, qdst=0, qport=0)   # port unreachable
    s += icmp(typ=1, seen=1, qdst=1, qport=1, opts=True)  # time exceeded
    s += icmp(typ=2, seen=0)                    # echo reply: dropped
    s += icmp(typ=0, seen=0, trunc=2)           # quoted UDP cut short
    s += icmp(typ=0, seen=0, bad=True)
    s += out(host=1, iport=1, dst=5, dport=0)   # hairpin to a mapping
    s += out(host=2, iport=7, dst=2, dport=3, csum=1)  # no UDP checksum
    s += out(host=3, iport=2, dst=3, dport=4, csum=2)  # wrong checksum
    s += inb(src=2, sport=3, port=0x1234)       # no mapping
    for k in range(13):
        s += damaged(k, inbound=k % 2 == 1)
    s += raw(bytes.fromhex("45000020000000004006") + bytes(22))
    s += wait(31)                               # past the timeout
    s += inb(seen=0)
    s += out()
    return s


CONFIGS = {
    "ei_ei_preserve": cfg(),
    "ei_ad": cfg(filtering=1),
    "ei_apd": cfg(filtering=2),
    "ad_ad": cfg(mapping=1, filtering=1),
    "apd_apd_overload": cfg(mapping=2, filtering=2, overload=True),
    "apd_ei_overload": cfg(mapping=2, overload=True),
    "seq_per_host_neg": cfg(alloc=1, per_host=True, neg=True, delta=3),
    "seq_interleave": cfg(alloc=1, interleave=True, imax=5, filtering=2),
    "random_blocks": cfg(alloc=2, blocks=True, block=2, span=21),
    "hairpin_refresh": cfg(hairpin=True, refresh=True, filtering=1),
    "pool4_arbitrary": cfg(npublic=4, arbitrary=True, alloc=2),
    "pool3_paired_blocks": cfg(npublic=3, blocks=True, block=1, span=12),
    "two_ports_two_maps": cfg(span=2, maxmap=1, alloc=1),
    "default_range_1s": cfg(span=31, timeout=0, hairpin=True),
}


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    f = flow()
    for name, c in sorted(CONFIGS.items()):
        with open(os.path.join(out_dir, name), "wb") as fh:
            fh.write(c + f)


if __name__ == "__main__":
    main()
