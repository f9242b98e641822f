#!/usr/bin/python3
"""pcap-fixtures/MANIFEST.json: build it, and check one capture against it.

  manifest.py build NETCHECK FIXTURES_DIR RUNS.jsonl
      (make-fixtures.sh) replay every capture named in RUNS.jsonl, write
      its MANIFEST entry (origin, expected verdict keys or error, expected
      diagnostics), keep the entries of captures not in RUNS.jsonl, and
      print each capture's verdict next to the topology's declared
      behaviour and the live run's verdict.
  manifest.py build NETCHECK FIXTURES_DIR - [FILE...]
      replay again the captures the MANIFEST lists (or only the FILEs
      named) and rewrite their expect, declared, supports and differences,
      keeping origin and live: after a change of the replay,
      `manifest.py build build/tools/netcheck pcap-fixtures -` rebuilds
      every entry in one command. RUNS.jsonl may be followed by FILEs too.
  manifest.py gate NETCHECK FIXTURES_DIR [--manifest M] [FILE...]
      (CTest replay.gate) replay every lab capture (or the FILEs) and
      judge its verdict against the entry's "supports" (what its packets
      can tell, derived by the SUPPORTS rules below) and "declared": fail
      when a supported key is left unknown, an unsupported key is
      concluded, or a conclusion differs from the declared behaviour
      ("dependent" is right for an AD or APD mapping). Prints the table of
      supported vs concluded keys and one FAIL line per fixture and key.
  manifest.py gate-selftest NETCHECK FIXTURES_DIR
      (CTest replay.gate.selftest) the gate fails on doctored verdicts and
      doctored MANIFEST copies, and passes a good capture.
  manifest.py check NETCHECK SCHEMA FIXTURES_DIR FILE
      (CTest replay.FILE) run `netcheck --replay FILE --json` with the
      entry's args and compare with the entry: exit code, one-line error,
      schema, verdict keys, measurable flags, diagnostics. Exit 0 pass,
      1 fail (one line saying what differs).

The expected verdict of a capture is the topology's declared behaviour for
every key the capture can measure; a key the capture cannot tell is
expected as not measurable (unknown/null). A replay verdict that differs
from the declared behaviour must be listed in the entry's "differences"
with the reason (a limitation of the capture: the SUPPORTS rule; "GAP":
the packets support the key but the replay leaves it unknown; "BUG": a
wrong conclusion); `check` fails on any unexplained difference.
"""
import json
import os
import subprocess
import sys

MANIFEST = "MANIFEST.json"
NAMES = {"ei": "endpoint-independent", "ad": "address-dependent",
         "apd": "address-and-port-dependent"}

# What each natlab topology declares (tests/lab/netcheck/CMakeLists.txt,
# natlab show): the truth a capture of it should lead to.
DECLARED = {
    "full-cone": dict(mapping="ei", filtering="ei", alloc="preserving",
                      hairpin=False, nat=True),
    "restricted-cone": dict(mapping="ei", filtering="ad", alloc="preserving",
                            hairpin=False, nat=True),
    "port-restricted": dict(mapping="ei", filtering="apd", alloc="preserving",
                            hairpin=False, nat=True),
    "symmetric": dict(mapping="apd", filtering="apd", alloc="random",
                      hairpin=False, nat=True),
    "symmetric-sequential": dict(mapping="apd", filtering="apd",
                                 alloc="sequential", delta=1, hairpin=False,
                                 nat=True),
    "random-range": dict(mapping="ei", filtering="apd", alloc="random",
                         hairpin=False, nat=True),
    "full-cone-hairpin": dict(mapping="ei", filtering="ei",
                              alloc="preserving", hairpin=True, nat=True),
    "port-restricted-hairpin": dict(mapping="ei", filtering="apd",
                                    alloc="preserving", hairpin=True,
                                    nat=True),
    # no NAT: hairpinning does not apply (natlab: hairpin=any); a public
    # host's ports are its own (natlab: alloc=preserve)
    "public": dict(mapping="ei", filtering="ei", alloc="preserving",
                   nat=False),
    # the same over IPv6, no namespace of natlab's: a veth pair between a
    # client and coturn on two addresses (tests/replay/make-v6.sh)
    "public-v6": dict(mapping="ei", filtering="ei", alloc="preserving",
                      nat=False),
    "natbox-ad": dict(mapping="ad", filtering="ad", alloc="preserving",
                      hairpin=False, nat=True, engine="natbox"),
    "natbox-sequential": dict(mapping="apd", filtering="apd",
                              alloc="sequential", delta=2, hairpin=False,
                              nat=True, engine="natbox"),
}

# UDP mapping lifetime of the lab's NATs (natlab's default timeout, no
# topology above sets one): a kernel NAT keeps a flow that saw an answer
# 30 s (nf_conntrack_udp_timeout), 120 s once it is a stream
# (nf_conntrack_udp_timeout_stream); natbox's --timeout default is 30 s.
LIFETIME = {"kernel": {"min_s": 30, "max_s": 120},
            "natbox": {"min_s": 30, "max_s": 30}}

# What the packets of a capture can support: the verdict keys that a
# correct replay must conclude from it ("supports" of each MANIFEST entry),
# derived from the client, its mode, the capture point and the topology's
# declared behaviour -- never typed per file. A key is supported when the
# datagrams in that capture suffice to decide it for that topology (the
# lab loses nothing, so one unanswered try counts as a drop). replay.gate
# fails when the replay leaves a supported key unknown, concludes a key
# that is not supported, or concludes a value other than the declared one.
GATE_KEYS = ["udp", "mapping", "filtering", "hairpinning",
             "port_allocation.kind", "port_allocation.delta", "nat_present",
             "lifetime"]


# Conditions on the topology's declared behaviour (DECLARED).
def _nat(d):
    return bool(d.get("nat"))


COND = {
    "always": lambda d: True,
    "never": lambda d: False,
    "nat": _nat,
    "no-nat": lambda d: not _nat(d),
    "mapping-ei": lambda d: d.get("mapping") == "ei",
    "preserving": lambda d: d.get("alloc") == "preserving",
    "preserving-answered": lambda d: d.get("alloc") == "preserving" and
    d.get("filtering") in ("ei", "ad"),
    # turnutils_natdiscovery -m -f: socket 1 makes 1 mapping (EI), 2 (AD:
    # IP2:P1 and IP2:P2 share one) or 3 (APD), socket 2 one more; the
    # rules for few samples (nat/verdict.h) need 2 preserved ones from 2
    # sockets, 3 for sequential, 4 (none preserved) for random
    "mf-alloc": lambda d: d.get("alloc") == "preserving" or
    (d.get("alloc") == "sequential" and d.get("mapping") in ("ad", "apd")) or
    (d.get("alloc") == "random" and d.get("mapping") == "apd"),
    # -m alone: one socket, so never 2 local ports (no preserving); APD
    # gives 3 mappings: sequential only
    "m-alloc": lambda d: d.get("alloc") == "sequential" and
    d.get("mapping") == "apd",
}

NEVER_IDLE = ("no mapping is left idle and then tested: idle times are not "
              "in this capture")

# (client, mode, capture point, key, condition, reason); the first match
# decides; "*" matches anything. port_allocation.delta is derived from
# port_allocation.kind (supported when it is and the allocation is
# sequential). Modes: netcheck "run" (client side) / "outside" (wan
# router) / "gwout" (the NAT's own uplink); turnutils_natdiscovery
# "mapping+filtering" (-m -f), "mapping" (-m), "filtering" (-f),
# "hairpinning" (-H), "lifetime" (-t -T 2), "padding" (-m -f -P),
# "collision" (-c -A ALT); stun "classic"; turnutils_stunclient "plain".
SUPPORTS = [
    # --- outside the NAT (the wan router's link, or the NAT's own uplink)
    ("*", "*", "outside", "udp", "always",
     "answered requests are in the capture"),
    ("*", "*", "outside", "mapping", "mapping-ei",
     "outside, each new mapping looks like another client socket: only an "
     "endpoint-independent mapping shows (one source answered by two server "
     "IPs with one mapped address); AD and APD never do"),
    ("*", "*", "outside", "filtering", "never",
     "outside the NAT, answers the NAT then drops are still seen: filtering "
     "is not measurable there"),
    ("*", "*", "outside", "hairpinning", "never",
     "a hairpinned request never leaves the NAT: not in an outside capture"),
    ("*", "*", "outside", "port_allocation.kind", "never",
     "outside, the internal ports are not in the capture"),
    ("*", "*", "outside", "nat_present", "never",
     "outside, the client's private address is not in the capture"),
    ("*", "*", "outside", "lifetime", "never", NEVER_IDLE),
    # --- every capture on the client
    ("*", "*", "client", "udp", "always",
     "answered requests are in the capture"),
    ("*", "*", "client", "nat_present", "always",
     "the client's local address and its mapped address (an answer's "
     "XOR-MAPPED-ADDRESS) are both in the capture"),
    ("turnutils_natdiscovery", "lifetime", "client", "lifetime", "nat",
     "-t -T 2: socket X asks IP1:P1, 2 s later socket Y asks it with "
     "RESPONSE-PORT = X's port, the answer reaches X through X's idle "
     "mapping: the lifetime is at least 2 s (a lower bound); no NAT: none"),
    ("*", "*", "client", "lifetime", "never", NEVER_IDLE),
    # --- netcheck on the client (its --record, tcpdump in h1)
    ("netcheck", "run", "client", "mapping", "always",
     "one socket asks IP1:P1, IP2:P1 and IP2:P2: EI, AD, APD told apart"),
    ("netcheck", "run", "client", "filtering", "always",
     "change-IP and change-port requests after an opening request, "
     "retransmitted"),
    ("netcheck", "run", "client", "hairpinning", "nat",
     "a request from a second socket to the first one's mapped address: "
     "its arrival or absence is in the capture; no NAT: does not apply"),
    ("netcheck", "run", "client", "port_allocation.kind", "always",
     "fresh sockets' mappings: four or more samples"),
    # --- turnutils_natdiscovery
    ("turnutils_natdiscovery", "mapping+filtering|mapping|padding", "client",
     "mapping", "always",
     "-m: one socket asks IP1:P1, IP2:P1 and, when those two mapped apart, "
     "IP2:P2: EI, AD, APD told apart"),
    ("turnutils_natdiscovery", "mapping+filtering|filtering|padding",
     "client", "filtering", "always",
     "-f: after an answered request to IP1:P1, one change-IP-and-port and "
     "one change-port request from the same socket: EI (first answered), "
     "AD (second only), APD (neither)"),
    ("turnutils_natdiscovery", "hairpinning", "client", "hairpinning", "nat",
     "-H: socket B sends a request to socket A's mapped address: its "
     "arrival at A, or its absence, is in the capture; no NAT: does not "
     "apply"),
    ("turnutils_natdiscovery", "lifetime", "client", "port_allocation.kind",
     "preserving",
     "-t: two sockets' mappings are known (X's from its answer, Y's from "
     "the XOR-MAPPED-ADDRESS of the answer delivered to X); two preserved "
     "ports show preservation, two others tell neither random nor "
     "sequential"),
    ("turnutils_natdiscovery", "mapping+filtering|padding", "client",
     "port_allocation.kind", "mf-alloc",
     "-m -f: socket 1's mappings for IP1:P1, IP2:P1 and IP2:P2 (one, two "
     "or three, by the mapping behaviour) and socket 2's: two preserved "
     "ports from two sockets show preservation, three mappings a "
     "sequential step, four unpreserved ones with large steps random"),
    ("turnutils_natdiscovery", "mapping", "client", "port_allocation.kind",
     "m-alloc",
     "-m: one socket; an APD mapping makes three mappings (IP1:P1, IP2:P1, "
     "IP2:P2): a sequential step shows; one local port never shows "
     "preservation, three samples never random"),
    ("turnutils_natdiscovery", "collision", "client", "port_allocation.kind",
     "never",
     "-c: the second socket has the first one's port on another local IP: "
     "it collides by design, its mapping shows the NAT's collision "
     "handling, not an allocation sample; one sample is left"),
    ("turnutils_natdiscovery", "hairpinning", "client",
     "port_allocation.kind", "never",
     "-H: socket B's mapping shows only as the source of a hairpinned "
     "arrival (a translation towards the NAT's own address, not towards a "
     "server): one sample"),
    ("turnutils_natdiscovery", "*", "client", "port_allocation.kind",
     "never", "one socket: one allocation sample"),
    ("turnutils_natdiscovery", "*", "client", "mapping", "never",
     "this mode asks only IP1:P1"),
    ("turnutils_natdiscovery", "*", "client", "filtering", "never",
     "this mode sends no CHANGE-REQUEST and gets no answer from an address "
     "its socket did not send to"),
    ("turnutils_natdiscovery", "*", "client", "hairpinning", "never",
     "only -H tests hairpinning"),
    # --- Debian's classic stun client (RFC 3489)
    ("stun", "classic", "client", "mapping", "always",
     "socket 1 asks IP1:P1 and IP2:P1 with plain requests: one mapped "
     "address -> EI, two -> dependent (AD and APD are not told apart: "
     "IP2:P2 is never asked; 'dependent' counts as right for both)"),
    ("stun", "classic", "client", "filtering", "always",
     "socket 2 sends change-IP and change-port requests to IP1:P1 (up to "
     "eight tries each, until answered), which also open its filter for "
     "IP1:P1: a change-IP answer -> EI, only a change-port answer -> AD, "
     "none -> APD (the server's RFC 3489 support shows in socket 1's "
     "answers)"),
    ("stun", "classic", "client", "hairpinning", "nat",
     "socket 1 sends requests to its own mapped address (up to seven): "
     "their arrival or absence is in the capture; no NAT: does not apply"),
    ("stun", "classic", "client", "port_allocation.kind",
     "preserving-answered",
     "both sockets' mappings are known only when socket 2 gets an answer "
     "(EI filter: change-IP; AD: change-port): two preserved samples; an "
     "APD filter leaves socket 2 unanswered, and two samples never tell "
     "random or sequential"),
    # --- coturn's turnutils_stunclient
    ("turnutils_stunclient", "plain", "client", "filtering", "no-nat",
     "its change-IP-and-port request carries RESPONSE-PORT = its port + 1, "
     "a socket that has sent nothing: behind a NAT no mapping exists there "
     "and the answer is dropped whatever the filtering; without a NAT it "
     "arrives (EI)"),
    ("turnutils_stunclient", "plain", "client", "port_allocation.kind",
     "no-nat",
     "behind a NAT only its first socket is answered: one sample; without "
     "one the second socket's padded request is answered too: two "
     "preserved samples"),
    ("turnutils_stunclient", "plain", "client", "mapping", "never",
     "it asks only IP1:P1"),
    ("turnutils_stunclient", "plain", "client", "hairpinning", "never",
     "it has no hairpinning test"),
]

# Checked before SUPPORTS: (client, mode, condition, reason) under which a
# capture supports nothing at all.
NOTHING = [
    ("turnutils_natdiscovery", "padding", "natbox",
     "-P pads every request to 1500 bytes: IP fragments; natbox forwards no "
     "fragment (measured: no padded request is answered through natbox-ad "
     "or natbox-sequential), so nothing is answered"),
]
COND["natbox"] = lambda d: d.get("engine") == "natbox"

DEFAULT_MODE = {"netcheck": "run", "turnutils_natdiscovery":
                "mapping+filtering", "stun": "classic",
                "turnutils_stunclient": "plain"}


def mode_of(origin):
    """The client's mode: origin's "mode", else the default of its client
    (the original netcheck, -m -f, stun entries have none); a capture taken
    outside the NAT by the wan router is "outside"."""
    m = origin.get("mode")
    if m:
        return m
    if origin.get("client") == "netcheck" and \
            origin.get("capture_point") == "outside":
        return "outside"
    return DEFAULT_MODE.get(origin.get("client"), "?")


HOST_LINK = ("captured on the host's own link (no NAT in the topology, its "
             "requests not forwarded yet: origin requests_forwarded false), "
             "as on the client: ")


def host_link(origin, d):
    """An outside-labelled capture of a topology with no NAT whose requests
    were not forwarded yet (origin "requests_forwarded": false: they carry
    the TTL they were sent with): the router's link to the host is the
    host's own link, and the servers saw the host's own address, so the
    capture supports what a capture on the client supports."""
    return origin.get("capture_point") == "outside" and not _nat(d) and \
        origin.get("requests_forwarded") is False


def support_rule(origin, key):
    """(supported, reason) of one key of one capture: the first SUPPORTS
    rule matching its client, mode, capture point and key."""
    d = DECLARED.get(origin.get("topology"), {})
    if host_link(origin, d):
        o = dict(origin, capture_point="client")
        ok, why = support_rule(o, key)
        return ok, HOST_LINK + why if why else why
    client, point = origin.get("client"), origin.get("capture_point")
    mode = mode_of(origin)
    for c, m, cond, why in NOTHING:
        if c == client and m == mode and COND[cond](d):
            return False, why
    if key == "port_allocation.delta":
        ok, why = support_rule(origin, "port_allocation.kind")
        if not ok:
            return False, "no allocation: " + why
        if d.get("alloc") != "sequential":
            return False, "delta only exists for sequential allocation"
        return True, "sequential allocation with the samples above: " + why
    for c, m, p, k, cond, why in SUPPORTS:
        if c in ("*", client) and (m == "*" or mode in m.split("|")) and \
                p in ("*", point) and k == key:
            return COND[cond](d), why
    return False, None  # no rule: an unknown client or mode


def supports_of(origin):
    return [k for k in GATE_KEYS if support_rule(origin, k)[0]]


def run(netcheck, path, args):
    p = subprocess.run([netcheck, "--replay", path, "--json"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def keys_of(doc):
    """The verdict keys a MANIFEST entry pins (no volatile counts)."""
    r = doc["replay"]
    return {
        "udp": doc["udp"],
        "mapping": doc["mapping"],
        "filtering": doc["filtering"],
        "hairpinning": doc["hairpinning"],
        "port_allocation.kind": doc["port_allocation"]["kind"],
        "port_allocation.delta": doc["port_allocation"]["delta"],
        "nat_present": doc["nat_present"],
        "capture_point": r["capture_point"],
        "measurable": r["measurable"],
    }


def clients_of(doc):
    """replay.clients, the keys a MANIFEST entry pins per client."""
    keys = ("address", "main", "capture_point", "udp", "nat_present",
            "public_v4", "mapping", "filtering", "hairpinning",
            "port_allocation_kind")
    return [{k: c[k] for k in keys} for c in doc["replay"]["clients"]]


def declared_keys(topo):
    d = DECLARED.get(topo, {})
    out = {}
    if "mapping" in d:
        out["mapping"] = NAMES[d["mapping"]]
    if "filtering" in d:
        out["filtering"] = NAMES[d["filtering"]]
    if "alloc" in d:
        out["port_allocation.kind"] = d["alloc"]
    if "delta" in d:
        out["port_allocation.delta"] = d["delta"]
    if "hairpin" in d:
        out["hairpinning"] = d["hairpin"]
    if "nat" in d:
        out["nat_present"] = d["nat"]
        if d["nat"]:
            out["lifetime"] = LIFETIME[d.get("engine", "kernel")]
    return out


def live_keys(origin):
    text = origin.get("live_output") or ""
    if origin.get("client") == "netcheck":
        try:
            d = json.loads(text)
        except ValueError:
            return {"error": "live run gave no JSON"}
        return {"mapping": d["mapping"], "filtering": d["filtering"],
                "hairpinning": d["hairpinning"],
                "port_allocation.kind": d["port_allocation"]["kind"],
                "port_allocation.delta": d["port_allocation"]["delta"],
                "nat_present": d["nat_present"]}
    lines = [l.strip() for l in text.splitlines()
             if any(w in l.lower() for w in ("behavio", "nat type", "primary:",
                                             "nat ", "filter", "mapping",
                                             "reflexive", "hairpin",
                                             "timeout", "local addr"))]
    return {"output": lines[:8]}


def concluded(k, v):
    """Whether a verdict value is a conclusion (not unknown/null)."""
    return v is not None and v != "unknown"


def right(k, got, want):
    """Whether a concluded value agrees with the declared one: "dependent"
    is right for an address- or address-and-port-dependent mapping; a
    lifetime interval is right when it overlaps the declared one."""
    if k == "mapping" and got == "dependent":
        return want in (NAMES["ad"], NAMES["apd"])
    if k == "lifetime":
        lo, hi = got.get("min_s"), got.get("max_s")
        return (lo is None or lo <= want["max_s"]) and \
            (hi is None or hi >= want["min_s"])
    return got == want


def differences(origin, got, decl):
    """Every declared key the replay does not give, with its reason: the
    SUPPORTS rule when the capture cannot support it, "GAP" when it can
    but the replay leaves it unknown, "BUG" for a wrong conclusion."""
    diffs = []
    for k, want in decl.items():
        if k == "lifetime":  # not pinned in expect: replay.gate judges it
            continue
        g = got.get(k)
        if g == want:
            continue
        ok, why = support_rule(origin, k)
        if concluded(k, g) and right(k, g, want):
            why = "'dependent' is right for an AD or APD mapping"
        elif concluded(k, g):
            why = "BUG: the replay concludes %r, the topology declares %r" \
                % (g, want)
        elif ok:
            why = ("GAP: the packets support it (%s) but the replay leaves "
                   "it unknown; replay.gate fails until it concludes it"
                   % why)
        diffs.append({"key": k, "replay": g, "declared": want,
                      "reason": why or "UNEXPLAINED"})
    return diffs


def build(netcheck, fixtures, runs_path, only=()):
    mpath = os.path.join(fixtures, MANIFEST)
    manifest = {"schema": "pcap-fixtures manifest 1",
                "about": "One entry per capture: origin, the netcheck "
                         "arguments of its replay, what the replay must give "
                         "(expect), the topology's declared behaviour, the "
                         "live verdict, and every difference explained. "
                         "See pcap-fixtures/README.md.",
                "fixtures": {}}
    if os.path.exists(mpath):
        manifest["fixtures"] = json.load(open(mpath)).get("fixtures", {})
    if runs_path == "-":  # refresh: replay again what the MANIFEST lists
        runs = []
        for name, e in sorted(manifest["fixtures"].items(),
                              key=lambda kv: kv[1]["origin"].get("kind",
                                                                 "capture")
                              != "capture"):
            o = dict(e["origin"], file=name)
            if o.get("kind") == "hostile":
                o["inserted"] = e["expect"].get("diagnostics", {})
            o["live_kept"] = e.get("live")
            runs.append(o)
    else:
        runs = [json.loads(l) for l in open(runs_path) if l.strip()]
    if only:  # a chosen subset of the files
        missing = set(only) - set(o["file"] for o in runs)
        if missing:
            sys.exit("manifest.py build: not in %s: %s"
                     % ("the MANIFEST" if runs_path == "-" else runs_path,
                        " ".join(sorted(missing))))
        runs = [o for o in runs if o["file"] in only]
    for o in runs:
        name = o["file"]
        path = os.path.join(fixtures, name)
        kind = o.get("kind", "capture")
        entry = {"origin": {k: v for k, v in o.items()
                            if k not in ("file", "live_output", "inserted",
                                         "live_kept")},
                 "args": []}
        if kind == "capture":
            rc, out, err = run(netcheck, path, entry["args"])
            entry["live"] = o["live_kept"] if "live_kept" in o \
                else live_keys(o)
            entry["declared"] = declared_keys(o["topology"])
            entry["supports"] = supports_of(entry["origin"])
            if rc not in (0, 1) or not out:
                # the message after "netcheck: PATH: " (the path differs
                # between a build and CTest)
                msg = err.strip().split(path + ": ", 1)[-1]
                entry["expect"] = {"exit": rc, "stderr_contains": msg}
                got = {}
            else:
                got = keys_of(json.loads(out))
                entry["expect"] = dict(exit=rc, **got)
            entry["differences"] = differences(entry["origin"], got,
                                               entry["declared"])
        elif kind == "merged":  # several clients: make-two-clients.py
            rc, out, err = run(netcheck, path, entry["args"])
            doc = json.loads(out)
            entry["expect"] = dict(exit=rc, clients=clients_of(doc),
                                   **keys_of(doc))
        elif kind == "hostile":
            src = manifest["fixtures"].get(o["source"], {}).get("expect", {})
            rc, out, err = run(netcheck, path, [])
            doc = json.loads(out) if out else None
            entry["expect"] = {k: v for k, v in src.items()}
            entry["expect"]["diagnostics"] = o["inserted"]
            entry["same_verdict_as"] = o["source"]
            if doc is None:
                entry["expect"] = {"exit": rc, "stderr_contains": err.strip()}
        else:
            rc, out, err = run(netcheck, path, [])
            entry["expect"] = {"exit": rc,
                               "stderr_contains": ERRORS.get(name, err.strip())}
        manifest["fixtures"][name] = entry
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    summary(manifest)


# The part of each damaged capture's one-line error the check insists on.
ERRORS = {
    "damaged-empty.pcap": "damaged-empty.pcap",
    "damaged-garbage.pcap": "damaged-garbage.pcap",
    "damaged-wrong-magic.pcap": "damaged-wrong-magic.pcap",
    "damaged-truncated.pcap": "damaged-truncated.pcap",
    "damaged-bad-record.pcap": "damaged-bad-record.pcap",
    "no-stun.pcap": "no STUN datagrams in the capture",
    "responses-only.pcap": "no Binding request from a client",
}


def summary(manifest):
    for name in sorted(manifest["fixtures"]):
        e = manifest["fixtures"][name]["expect"]
        if "mapping" in e:
            print("%-44s %-27s %-27s hairpin=%-5s alloc=%s%s nat=%s point=%s"
                  % (name, e["mapping"], e["filtering"], e["hairpinning"],
                     e["port_allocation.kind"],
                     "" if e["port_allocation.delta"] is None
                     else "/%+d" % e["port_allocation.delta"],
                     e["nat_present"], e["capture_point"]))
        else:
            print("%-44s exit %d: %s" % (name, e["exit"],
                                         e.get("stderr_contains", "")))
        for d in manifest["fixtures"][name].get("differences", []):
            print("    differs from declared: %s replay=%r declared=%r (%s)"
                  % (d["key"], d["replay"], d["declared"], d["reason"]))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(netcheck, schema_path, fixtures, name):
    manifest = json.load(open(os.path.join(fixtures, MANIFEST)))
    entry = manifest["fixtures"].get(name)
    if entry is None:
        fail("%s has no entry in %s: add one (see pcap-fixtures/README.md)"
             % (name, MANIFEST))
    exp = entry["expect"]
    rc, out, err = run(netcheck, os.path.join(fixtures, name), entry["args"])
    if rc != exp["exit"]:
        fail("%s: exit %d, want %d (stderr: %s)" % (name, rc, exp["exit"],
                                                    err.strip()))
    if "stderr_contains" in exp:
        if out:
            fail("%s: wrote a report on stdout with exit %d" % (name, rc))
        if err.count("\n") != 1:
            fail("%s: want one line on stderr, got %r" % (name, err))
        if exp["stderr_contains"] not in err:
            fail("%s: stderr %r lacks %r" % (name, err.strip(),
                                            exp["stderr_contains"]))
        print("PASS: %s: exit %d, %s" % (name, rc, err.strip()))
        return
    import jsonschema
    doc = json.loads(out)
    schema = json.load(open(schema_path))
    v = jsonschema.Draft202012Validator(schema)
    errs = list(v.iter_errors(doc))
    if errs:
        fail("%s: report does not match the schema: %s at %s"
             % (name, errs[0].message, list(errs[0].path)))
    if doc["replay"] is None or doc["replay"]["file"] != \
            os.path.join(fixtures, name):
        fail("%s: report not marked as a replay of the file" % name)
    got = keys_of(doc)
    if "clients" in exp and clients_of(doc) != exp["clients"]:
        fail("%s: replay.clients = %r, want %r" % (name, clients_of(doc),
                                                   exp["clients"]))
    for k, want in exp.items():
        if k in ("exit", "diagnostics", "clients"):
            continue
        if got.get(k) != want:
            fail("%s: %s = %r, want %r" % (name, k, got.get(k), want))
    for k, want in exp.get("diagnostics", {}).items():
        have = doc["replay"]["diagnostics"][k]
        if have != want:
            fail("%s: replay.diagnostics.%s = %r, want %r"
                 % (name, k, have, want))
    for d in entry.get("differences", []):
        if d["reason"] == "UNEXPLAINED":
            fail("%s: %s = %r differs from the declared %r without a reason"
                 % (name, d["key"], d["replay"], d["declared"]))
    # measurable false -> the verdict is withheld
    m = doc["replay"]["measurable"]
    if not m["filtering"] and doc["filtering"] != "unknown":
        fail("%s: filtering not measurable but reported" % name)
    if not m["mapping"] and doc["mapping"] != "unknown":
        fail("%s: mapping not measurable but reported" % name)
    if not m["hairpinning"] and doc["hairpinning"] is not None:
        fail("%s: hairpinning not measurable but reported" % name)
    print("PASS: %s: %s" % (name, doc["verdict"]))



# ---------------------------------------------------------------- the gate
GATE_HEAD = {"udp": "udp", "mapping": "mapping", "filtering": "filtering",
             "hairpinning": "hairpin", "port_allocation.kind": "alloc",
             "port_allocation.delta": "delta", "nat_present": "nat",
             "lifetime": "lifetime"}


def gate_values(doc):
    """The gate's verdict keys of a report (None: no report)."""
    if doc is None:
        return {k: None for k in GATE_KEYS}
    v = keys_of(doc)
    v["lifetime"] = doc.get("lifetime")
    return {k: v.get(k) for k in GATE_KEYS}


def judge(name, entry, doc):
    """Judge one fixture's replay: (cells, failures). A cell per GATE_KEY:
    "ok" supported and rightly concluded, "LOST" supported but left
    unknown (a), "CLAIM" concluded but not supported (b), "WRONG"
    concluded and not the declared value (c), "." neither supported nor
    concluded. Each failure is one line naming the fixture and the key."""
    sup = set(entry.get("supports", []))
    decl = entry.get("declared", {})
    got = gate_values(doc)
    cells, fails = {}, []
    for k in GATE_KEYS:
        g = got[k]
        c = concluded(k, g)
        cell = "ok" if (c and k in sup) else "."
        if k in sup and not c:
            cell = "LOST"
            fails.append("%s: %s: supported by the capture but the replay "
                         "leaves it %s" % (name, k, json.dumps(g)))
        if c and k not in sup:
            cell = "CLAIM"
            fails.append("%s: %s: the replay concludes %s, which the "
                         "capture cannot support (%s)"
                         % (name, k, json.dumps(g),
                            support_rule(entry["origin"], k)[1]))
        if c and k in decl and not right(k, g, decl[k]):
            cell = "WRONG"
            fails.append("%s: %s: the replay concludes %s, the topology "
                         "declares %s" % (name, k, json.dumps(g),
                                          json.dumps(decl[k])))
        cells[k] = cell
    return cells, fails


def gate(netcheck, fixtures, manifest_path, only):
    manifest = json.load(open(manifest_path))
    names = sorted(n for n, e in manifest["fixtures"].items()
                   if e["origin"].get("kind", "capture") == "capture")
    if only:
        unknown = set(only) - set(names)
        if unknown:
            sys.exit("gate: no capture entry for %s" % " ".join(unknown))
        names = [n for n in names if n in only]
    if not names:
        sys.exit("gate: no capture to judge")
    rows, fails = [], []
    tally = {"ok": 0, "LOST": 0, "CLAIM": 0, "WRONG": 0}
    for name in names:
        e = manifest["fixtures"][name]
        derived = supports_of(e["origin"])
        if e.get("supports") != derived:
            fails.append("%s: supports: MANIFEST says %s, the SUPPORTS rules "
                         "give %s (manifest.py build)"
                         % (name, e.get("supports"), derived))
        if "declared" not in e:
            fails.append("%s: declared: no declared behaviour" % name)
        rc, out, err = run(netcheck, os.path.join(fixtures, name), e["args"])
        try:
            doc = json.loads(out) if out else None
        except ValueError:
            doc = None
        cells, f = judge(name, e, doc)
        fails += f
        for c in cells.values():
            if c in tally:
                tally[c] += 1
        rows.append((name, rc, cells))
    w = max(len(n) for n in names)
    print("Supported keys vs the replay's conclusions (ok: supported and "
          "right; LOST: supported, left unknown; CLAIM: concluded, not "
          "supported; WRONG: not the declared value; .: neither)")
    print("%-*s exit %s" % (w, "fixture", " ".join(
        "%-9s" % GATE_HEAD[k] for k in GATE_KEYS)))
    for name, rc, cells in rows:
        print("%-*s %-4d %s" % (w, name, rc, " ".join(
            "%-9s" % cells[k] for k in GATE_KEYS)))
    print("gate: %d fixtures; %d supported keys concluded right, %d lost, "
          "%d claimed without support, %d wrong"
          % (len(rows), tally["ok"], tally["LOST"], tally["CLAIM"],
             tally["WRONG"]))
    for f in fails:
        print("FAIL: " + f)
    if fails:
        print("gate: FAILED (%d)" % len(fails))
        return 1
    print("gate: passed")
    return 0


def gate_selftest(netcheck, fixtures):
    """The gate must fail on each kind of fault and pass on a good
    fixture: judge() on doctored verdicts, then whole gate runs on
    doctored copies of the MANIFEST."""
    import copy
    import tempfile
    problems = []

    def expect(cond, what):
        print("%s: %s" % ("ok" if cond else "NOT OK", what))
        if not cond:
            problems.append(what)

    origin = {"client": "netcheck", "capture_point": "client",
              "topology": "natbox-ad", "kind": "capture"}
    entry = {"origin": origin, "declared": declared_keys("natbox-ad"),
             "supports": supports_of(origin)}
    good = {"udp": True, "mapping": NAMES["ad"], "filtering": NAMES["ad"],
            "hairpinning": False,
            "port_allocation": {"kind": "preserving", "delta": None},
            "nat_present": True, "lifetime": None,
            "replay": {"capture_point": "client", "measurable": {}}}
    cells, f = judge("t", entry, good)
    expect(not f, "a right verdict of every supported key passes")
    d = copy.deepcopy(good)
    d["mapping"] = "dependent"
    cells, f = judge("t", entry, d)
    expect(not f, "mapping 'dependent' is right for an AD mapping")
    d["filtering"] = "unknown"
    cells, f = judge("t", entry, d)
    expect(cells["filtering"] == "LOST" and len(f) == 1 and
           f[0].startswith("t: filtering:"), "(a) a supported key left "
           "unknown fails, naming fixture and key")
    d = copy.deepcopy(good)
    d["lifetime"] = {"min_s": 2, "max_s": None}
    cells, f = judge("t", entry, d)
    expect(cells["lifetime"] == "CLAIM" and len(f) == 1 and
           f[0].startswith("t: lifetime:"), "(b) a concluded key that the "
           "capture cannot support fails")
    d = copy.deepcopy(good)
    d["port_allocation"]["kind"] = "random"
    cells, f = judge("t", entry, d)
    expect(cells["port_allocation.kind"] == "WRONG" and len(f) == 1,
           "(c) a wrong conclusion fails")
    e2 = copy.deepcopy(entry)
    e2["declared"] = declared_keys("full-cone")
    d = copy.deepcopy(good)
    d["mapping"] = "dependent"
    d["filtering"] = NAMES["ei"]
    d["port_allocation"]["kind"] = "preserving"
    cells, f = judge("t", e2, d)
    expect(cells["mapping"] == "WRONG", "(c) mapping 'dependent' is wrong "
           "for an EI mapping")
    cells, f = judge("t", entry, None)
    expect(all(cells[k] == "LOST" for k in entry["supports"]) and
           len(f) == len(entry["supports"]),
           "(a) a replay without a report loses every supported key")

    # whole runs on doctored MANIFEST copies
    real = json.load(open(os.path.join(fixtures, MANIFEST)))
    base = "full-cone-netcheck-record.pcap"
    outside = "full-cone-netcheck-outside.pcap"

    def run_gate(doctor, files):
        m = copy.deepcopy(real)
        doctor(m["fixtures"])
        with tempfile.NamedTemporaryFile("w", suffix=".json") as t:
            json.dump(m, t)
            t.flush()
            p = subprocess.run([sys.executable, os.path.abspath(__file__),
                                "gate", netcheck, fixtures, "--manifest",
                                t.name] + files, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=300)
        return p.returncode, p.stdout.decode()

    rc, out = run_gate(lambda f: None, [base])
    expect(rc == 0 and "gate: passed" in out,
           "%s as recorded passes the gate" % base)

    def wrong_decl(f):
        f[base]["declared"]["mapping"] = NAMES["apd"]
    rc, out = run_gate(wrong_decl, [base])
    expect(rc == 1 and "FAIL: %s: mapping: the replay concludes" % base
           in out, "(c) a doctored declared mapping fails the gate run")

    def as_outside(f):  # the client capture taken for an outside one
        o = f[base]["origin"]
        o["capture_point"] = "outside"
        f[base]["supports"] = supports_of(o)
    rc, out = run_gate(as_outside, [base])
    expect(rc == 1 and "FAIL: %s: filtering: the replay concludes" % base
           in out, "(b) a capture claimed beyond its support fails the run")

    def as_client(f):  # the outside capture taken for a client one
        o = f[outside]["origin"]
        o["capture_point"] = "client"
        f[outside]["supports"] = supports_of(o)
    rc, out = run_gate(as_client, [outside])
    expect(rc == 1 and "FAIL: %s: filtering: supported" % outside in out,
           "(a) a supported key left unknown fails the run")

    def stale(f):
        f[base]["supports"] = ["udp"]
    rc, out = run_gate(stale, [base])
    expect(rc == 1 and "FAIL: %s: supports:" % base in out,
           "a hand-edited supports list differing from the rules fails")
    if problems:
        print("gate selftest: FAILED: " + "; ".join(problems))
        return 1
    print("gate selftest: passed")
    return 0


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3], sys.argv[4], tuple(sys.argv[5:]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "gate":
        args = sys.argv[4:]
        mpath = os.path.join(sys.argv[3], MANIFEST)
        if args[:1] == ["--manifest"] and len(args) >= 2:
            mpath, args = args[1], args[2:]
        sys.exit(gate(sys.argv[2], sys.argv[3], mpath, tuple(args)))
    elif len(sys.argv) == 4 and sys.argv[1] == "gate-selftest":
        sys.exit(gate_selftest(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) == 6 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
