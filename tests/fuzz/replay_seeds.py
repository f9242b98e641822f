#!/usr/bin/python3
"""Write the seed corpus of fuzz_replay (tests/fuzz/corpus/replay/): the
STUN exchanges of the pcap-fixtures/ captures (netcheck's RFC 5780 run,
the classic RFC 3489 client, turnutils_natdiscovery's tests, a capture
outside the NAT, two clients, hop probes, hostile traffic) in the record
layout tests/fuzz/fuzz_replay.c reads, over its 16 addresses:
  0, 1  client A's sockets 192.168.1.2:27820/27821; 2 client B 10.0.0.5
  3, 4  A's mappings 198.51.100.2:27820/27821; 9 B's; 10 another NAT IP
  5-8   the server: 203.0.113.1:3478, .2:3478, .1:3479, .2:3479
  11,12 IPv6 client and server; 13 100.64.0.5 (CGN); 14 loopback
Deterministic. The corpus also holds, not written here, the inputs of
the defects fuzz_replay found (regress_*), kept as they were found.

  replay_seeds.py CORPUS_DIR
"""
import os
import sys

A1, A2, B, MA1, MA2, P1, IP2, P1P2, OA, MB, MX, C6, S6, CGN = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
OUT, IN = 2, 1


def cfg(point=1, client=None, client_ip=False, timeout5=False, pending=15,
        obs=15):
    c0 = point
    if client is not None:
        c0 |= 4 | client << 3 | (0x20 if client_ip else 0)
    c0 |= 0x40 if timeout5 else 0
    return bytes([c0, pending | obs << 4])


def req(src, dst, t, dt=1, change=0, rport=None, ttl=1, dirn=0,
        classic=False, raw=False, low=0, frag=False):
    """A Binding request; change: 1 IP, 2 port, 3 both; ttl code: 0 none,
    1 64, 2 a hop probe's low TTL (1 + low), 3 128."""
    r2 = t | (8 if raw else 0) | (16 if classic else 0) | change << 5
    r3 = ttl | low << 2
    if rport is not None:
        r2 |= 0x80
        r3 = ttl | rport << 2
    r3 |= (3 if frag else dirn) << 6
    return bytes([0 | dt << 3, src | dst << 4, r2, r3])


def resp(src, dst, t, mapped, dt=1, other=True, origin=True, plain=False,
         classic=False, raw=False, bump=None):
    r2 = t | (8 if raw else 0) | (16 if classic else 0)
    r2 |= (0x20 if other else 0) | (0x40 if origin else 0)
    r2 |= 0x80 if plain else 0
    r3 = mapped | ((0x10 | bump << 5) if bump is not None else 0)
    return bytes([3 | dt << 3, src | dst << 4, r2, r3])


def err(src, dst, t, code=0, dt=1):
    return bytes([5 | dt << 3, src | dst << 4, t, code])


def junk(src, dst, data, dt=1):
    return bytes([6 | dt << 3, src | dst << 4, 0, len(data)]) + data


def other(src, dst, t, what, dt=1):
    return bytes([7 | dt << 3, src | dst << 4, t, what])


def wait4(n):
    """A record that only advances the clock: n*4 s (an indication)."""
    return bytes([7 | (23 + n) << 3, A1 | P1 << 4, 7, 0])


def netcheck(mapped2=MA1, filt=True, bump=None):
    """netcheck's run: basic, mapping across the server's addresses,
    filtering by CHANGE-REQUEST, hairpin, a second socket."""
    s = req(A1, P1, 0, dirn=OUT) + resp(P1, A1, 0, MA1)
    s += req(A1, IP2, 1, dirn=OUT) + resp(IP2, A1, 1, mapped2, bump=bump)
    s += req(A1, OA, 2, dirn=OUT) + resp(OA, A1, 2, mapped2, bump=bump)
    s += req(A1, P1, 3, change=3, dirn=OUT)
    s += resp(OA, A1, 3, MA1) if filt else wait4(6)
    s += req(A1, P1, 4, change=2, dirn=OUT)
    s += resp(P1P2, A1, 4, MA1) if filt else b""
    s += req(A2, MA1, 5, dirn=OUT) + req(MA2, A1, 5, dirn=IN)  # hairpin
    s += req(A2, P1, 6, dirn=OUT) + resp(P1, A2, 6, MA2)
    s += req(A2, P1, 6, dirn=OUT)                              # again
    s += resp(P1, A2, 6, MA2)                                  # duplicate
    return s


def seeds():
    out = {}
    out["netcheck_full_cone"] = cfg() + netcheck()
    out["netcheck_port_restricted"] = cfg() + netcheck(filt=False)
    out["netcheck_symmetric"] = cfg() + netcheck(bump=1)
    out["netcheck_client_given"] = cfg(client=0) + netcheck()
    out["netcheck_client_ip_timeout5"] = (
        cfg(client=0, client_ip=True, timeout5=True) + netcheck(filt=False))
    # the classic RFC 3489 client: 128-bit IDs, MAPPED/CHANGED-ADDRESS
    s = cfg(point=0)
    s += req(A1, P1, 0, classic=True) + resp(
        P1, A1, 0, MA1, classic=True, origin=False)
    s += req(A1, P1, 1, change=3, classic=True)
    s += resp(OA, A1, 1, MA1, classic=True, origin=False)
    s += req(A2, P1, 2, change=2, classic=True) + wait4(6)
    s += req(A1, OA, 3, classic=True) + resp(
        OA, A1, 3, MA1, classic=True, origin=False)
    out["classic_stun"] = s
    # turnutils_natdiscovery: RESPONSE-PORT, padding-free, lifetime waits
    s = cfg(point=1)
    s += req(A1, P1, 0, rport=1) + resp(P1, A2, 0, MA1)
    s += req(A1, P1, 1) + resp(P1, A1, 1, MA1, plain=True)
    s += wait4(3) + req(A2, P1, 2, rport=0) + resp(P1, A1, 2, MA2)
    s += wait4(8) + req(A2, P1, 3, rport=0) + wait4(6)
    out["natdiscovery_lifetime"] = s
    # outside the NAT: requests from the mapped addresses
    s = cfg(point=2)
    s += req(MA1, P1, 0, ttl=1) + resp(P1, MA1, 0, MA1)
    s += req(MA1, IP2, 1) + resp(IP2, MA1, 1, MA1)
    s += req(MA2, P1, 2) + resp(P1, MA2, 2, MA2)
    s += req(MA1, P1, 3, change=3) + resp(OA, MA1, 3, MA1)
    out["outside"] = s
    # two clients, and one hairpinning to the other
    s = cfg(point=0)
    s += req(A1, P1, 0) + resp(P1, A1, 0, MA1)
    s += req(B, P1, 1) + resp(P1, B, 1, MB)
    s += req(B, IP2, 2) + resp(IP2, B, 2, MB, bump=2)
    s += req(A1, MB, 3) + req(MA1, B, 3)
    s += req(A2, P1, 4) + resp(P1, A2, 4, MA2)
    out["two_clients"] = s
    # hop probes (low TTLs) among usual ones, IPv6, CGN, fragments
    s = cfg(point=0)
    for t in range(3):
        s += req(A1, P1, t, ttl=1, dirn=OUT) + resp(P1, A1, t, MA1)
    s += req(A1, P1, 3, ttl=2, low=0) + req(A1, P1, 4, ttl=2, low=1)
    s += wait4(6)
    s += req(C6, S6, 5, ttl=1) + resp(S6, C6, 5, C6)
    s += req(A1, IP2, 6, frag=True) + resp(IP2, A1, 6, CGN)
    out["hops_v6_cgn_frag"] = s
    # hostile: spoofed answers, unmatched, malformed bytes, errors, raw
    # copies, other methods, ICE checks
    s = cfg(point=0, pending=0, obs=0)
    s += req(A1, P1, 0) + resp(IP2, A1, 0, MA1, other=False)  # spoofed
    s += resp(P1, A1, 7, MA1)                                # unmatched
    s += junk(P1, A1, b"\x01\x01\x00\x00\x21\x12\xa4\x42" + bytes(12))
    s += junk(A1, P1, b"not stun at all")
    s += req(A1, P1, 1, raw=True) + err(P1, A1, 1, code=0)
    s += req(A1, P1, 2) + req(A1, P1, 3) + req(A1, P1, 4)    # evicts
    s += other(P1, A1, 5, 0) + other(A1, P1, 5, 1) + other(P1, A1, 5, 2)
    s += other(P1, A1, 6, 3)                                 # ICE check
    s += resp(P1, A1, 4, MA1, raw=True)
    out["hostile"] = s
    return out


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
