#!/usr/bin/python3
"""Write the seed corpus of fuzz_capture_reader (tests/fuzz/corpus/
capture_reader/) from pcap-fixtures/: small whole captures in each framing
the reader takes. Deterministic.

  capture_reader_seeds.py FIXTURES_DIR CORPUS_DIR
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "replay"))
mv = __import__("make-variants")


def main():
    fix, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)

    def put(name, data):
        open(os.path.join(out, name), "wb").write(data)

    src = os.path.join(fix, "port-restricted-netcheck-h1.pcap")
    raw = open(src, "rb").read()
    (snaplen, lt), recs, nano = mv.read_pcap(src)
    recs = recs[:4]
    # classic, little-endian, us, LINUX_SLL2: the header and 4 records
    o = 24
    for r in recs:
        o += 16 + r[2]
    put("pcap_sll2_le_us", raw[:o])
    # the same, big-endian, nanoseconds
    b = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, snaplen, lt)
    for s, f, c, n, d in recs:
        b += struct.pack(">IIII", s, f * 1000, c, n) + d
    put("pcap_sll2_be_ns", b)
    # pcapng from tshark (turnutils_natdiscovery run), whole
    put("pcapng_natdiscovery",
        open(os.path.join(fix, "full-cone-natdiscovery.pcapng"), "rb").read())
    # IPv4 fragments (turnutils_natdiscovery -P: each message two
    # fragments), whole: reassembly through the reader
    put("pcapng_fragments",
        open(os.path.join(fix, "full-cone-natdiscovery-padding.pcapng"),
             "rb").read())
    # the two-interface variant, 4 packets
    tmp = os.path.join(out, "pcapng_2if")
    mv.write_2if(tmp, recs, nano, snaplen)
    # a big-endian section (SPB, obsolete PB, unknown block, 2^-20 s,
    # if_tsoffset) then a little-endian one
    frame = recs[0][4][20:]  # the IPv4 packet of the first record
    be = []

    def blk(t, body, e):
        body = mv.pad4(body)
        n = 12 + len(body)
        return struct.pack(e + "II", t, n) + body + struct.pack(e + "I", n)

    shb = blk(0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1), ">")
    idb = blk(1, struct.pack(">HHI", 101, 0, 0) +
              struct.pack(">HHB3x", 9, 1, 0x94) +
              struct.pack(">HHq", 14, 8, 10) + struct.pack(">HH", 0, 0), ">")
    be += [shb, idb, blk(3, struct.pack(">I", len(frame)) + frame, ">"),
           blk(0x0BAD0001, b"\x01" * 8, ">"),
           blk(2, struct.pack(">HHIIII", 0, 0, 1, 2, len(frame), len(frame))
               + frame, ">")]
    le = [blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1), "<"),
          blk(1, struct.pack("<HHI", 228, 0, 0) + struct.pack("<HH", 0, 0),
              "<"),
          blk(6, struct.pack("<IIIII", 0, 0, 5, len(frame), len(frame)) +
              frame, "<")]
    put("pcapng_sections", b"".join(be + le))


if __name__ == "__main__":
    main()
