#!/usr/bin/python3
"""replay.midrun: captures that start mid-run. Every netcheck --record
capture of pcap-fixtures/ is cut after its first K records (K = 2, 4, ...:
answers whose request is gone, retransmissions whose first transmission
is gone, sockets whose first answer is gone) and replayed. A cut capture
may know less, never something else:

  - each verdict key (udp aside) is the full capture's or unknown / null;
  - no server is reported at the client's own public IP (a hairpin
    request whose target mapping's answer was cut is no server);
  - every response whose request was cut is counted as unmatched and
    makes no observation: unmatched >= the responses cut off from their
    request; and a request whose first transmission was cut still counts:
    requests >= the distinct transaction IDs the client sent.

    midrun.py NETCHECK FIXTURES_DIR       exit 0 pass, 1 fail
"""
import ipaddress
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
hostile = __import__("make-hostile")
STUN = hostile.STUN


def run(nc, path):
    p = subprocess.run([nc, "--replay", path, "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, json.loads(p.stdout) if p.stdout else None


def keys(d):
    return {"mapping": d["mapping"], "filtering": d["filtering"],
            "hairpinning": d["hairpinning"],
            "port_allocation.kind": d["port_allocation"]["kind"],
            "nat_present": d["nat_present"], "public_v4": d["public_v4"],
            "public_v6": d["public_v6"],
            "capture_point": d["replay"]["capture_point"]}


def stun(frame):
    """(class bits, transaction ID, source IP) of a Binding message in an
    Ethernet frame holding IPv4 or (netcheck --record's IPv6 header, no
    extension header) IPv6, else None."""
    eth = hostile.ETH
    if frame[12:14] == b"\x86\xdd":
        at, src = eth + 40 + 8, bytes(frame[eth + 8:eth + 24])
    else:
        at, src = STUN, bytes(frame[eth + 12:eth + 16])
    if len(frame) < at + 20 or frame[at + 4:at + 8] != b"\x21\x12\xa4\x42":
        return None
    t, = struct.unpack(">H", frame[at:at + 2])
    if t & ~0x0110 != 0x0001:  # Binding, any class
        return None
    return (t & 0x0110, bytes(frame[at + 8:at + 20]), src)


def main():
    nc, fix = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp()
    cut_path = os.path.join(tmp, "cut.pcap")
    checked = 0
    for name in sorted(os.listdir(fix)):
        if not name.endswith("-netcheck-record.pcap"):
            continue
        hdr, recs = hostile.read_pcap(os.path.join(fix, name))
        rc, full = run(nc, os.path.join(fix, name))
        want = keys(full)
        client = ipaddress.ip_address(full["replay"]["client"]).packed
        for k in range(2, len(recs) - 2, 2):
            kept = recs[k:]
            hostile.write_pcap(cut_path, hdr, kept)
            rc, cut = run(nc, cut_path)
            if cut is None:
                continue  # nothing left to replay: exit 1, one line
            checked += 1
            where = "%s cut after %d records" % (name, k)
            for key, v in keys(cut).items():
                if v not in ("unknown", None) and v != want[key]:
                    sys.exit("FAIL: %s: %s = %r, the full capture says %r"
                             % (where, key, v, want[key]))
            pubs = [cut["public_v4"], cut["public_v6"]]
            for s in cut["servers"]:
                host = s["address"].rsplit(":", 1)[0].strip("[]")
                if host in pubs:
                    sys.exit("FAIL: %s: server %s at the client's public IP"
                             % (where, s["address"]))
            seen, orphans, client_ids = set(), 0, set()
            for _, _, f in kept:
                m = stun(f)
                if m is None:
                    continue
                if m[0] == 0:
                    seen.add(m[1])
                    if m[2] == client:
                        client_ids.add(m[1])
                elif m[0] == 0x0100 and m[1] not in seen:
                    orphans += 1
            d = cut["replay"]["diagnostics"]
            if d["unmatched"] < orphans:
                sys.exit("FAIL: %s: %d answers to requests not in the "
                         "capture, %d unmatched" % (where, orphans,
                                                    d["unmatched"]))
            if d["requests"] < len(client_ids):
                sys.exit("FAIL: %s: the client sent %d transactions, %d "
                         "requests counted" % (where, len(client_ids),
                                               d["requests"]))
    if checked < 50:
        sys.exit("FAIL: only %d cut captures replayed" % checked)
    print("PASS: replay.midrun: %d cut captures know less, never else"
          % checked)


if __name__ == "__main__":
    main()
