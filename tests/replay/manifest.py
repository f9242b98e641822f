#!/usr/bin/python3
"""pcap-fixtures/MANIFEST.json: build it, and check one capture against it.

  manifest.py build NETCHECK FIXTURES_DIR RUNS.jsonl
      (make-fixtures.sh) replay every capture named in RUNS.jsonl, write
      its MANIFEST entry (origin, expected verdict keys or error, expected
      diagnostics), keep the entries of captures not in RUNS.jsonl, and
      print each capture's verdict next to the topology's declared
      behaviour and the live run's verdict.
  manifest.py check NETCHECK SCHEMA FIXTURES_DIR FILE
      (CTest replay.FILE) run `netcheck --replay FILE --json` with the
      entry's args and compare with the entry: exit code, one-line error,
      schema, verdict keys, measurable flags, diagnostics. Exit 0 pass,
      1 fail (one line saying what differs).

The expected verdict of a capture is the topology's declared behaviour for
every key the capture can measure; a key the capture cannot tell is
expected as not measurable (unknown/null). A replay verdict that differs
from the declared behaviour must be listed in the entry's "differences"
with the reason (a limitation of the capture); `check` fails on any
unexplained difference.
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
                                 alloc="sequential", delta=1, nat=True),
    "random-range": dict(mapping="ei", filtering="apd", alloc="random",
                         nat=True),
    "full-cone-hairpin": dict(mapping="ei", filtering="ei", hairpin=True,
                              nat=True),
    "port-restricted-hairpin": dict(mapping="ei", filtering="apd",
                                    hairpin=True, nat=True),
    "public": dict(mapping="ei", filtering="ei", nat=False),
    "natbox-ad": dict(mapping="ad", filtering="ad", alloc="preserving",
                      nat=True),
    "natbox-sequential": dict(mapping="apd", filtering="apd",
                              alloc="sequential", delta=2, nat=True),
}

# Known limitations: (client, capture point, key) -> why a replay cannot
# give the declared value. Matched with "*" as a wildcard.
LIMITS = [
    (("*", "outside", "filtering"),
     "outside the NAT, answers the NAT then drops are still seen: filtering "
     "is not measurable there"),
    (("*", "outside", "hairpin"),
     "a hairpinned request never leaves the NAT: not in an outside capture"),
    (("*", "outside", "alloc"),
     "outside, the internal ports are not in the capture"),
    (("*", "outside", "nat"),
     "outside, the client's private address is not in the capture"),
    (("*", "outside", "mapping"),
     "outside, each new mapping looks like another client socket: only an "
     "endpoint-independent mapping keeps the RFC 5780 probes on one socket"),
    (("turnutils_natdiscovery", "*", "alloc"),
     "turnutils_natdiscovery -m -f uses one socket: no allocation samples"),
    (("turnutils_natdiscovery", "*", "hairpin"),
     "turnutils_natdiscovery -m -f does not test hairpinning (-H does)"),
    (("stun", "*", "alloc"),
     "the classic stun client uses one or two sockets: no allocation "
     "samples"),
    (("stun", "*", "mapping"),
     "the classic stun client's RFC 3489 tests cannot always tell an "
     "address-dependent from an address-and-port-dependent mapping"),
    (("stun", "*", "hairpin"),
     "the classic stun client's hairpin request goes to its own mapped "
     "address; answered or not, see the entry"),
    (("stun", "*", "filtering"),
     "the classic stun client sends its CHANGE-REQUEST probes from a second "
     "socket that sent no plain request first: its change requests to the "
     "primary address opened the mapping themselves. The replay marks "
     "filtering measurable for their shape (7 unanswered change-IP tries, "
     "and 7 unanswered change-port tries or change-port answers from another "
     "port, the alternate address known); the analyzer's rule that rates "
     "that shape AD / APD (issue 13, analyzer branch) is not on this branch "
     "yet, so the verdict is still unknown here"),
    (("*", "*", "delta"),
     "delta only exists for sequential allocation"),
]


def limit(client, point, key):
    for (c, p, k), why in LIMITS:
        if c in ("*", client) and p in ("*", point) and k == key:
            return why
    return None


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
    return out


SHORT = {"mapping": "mapping", "filtering": "filtering",
         "port_allocation.kind": "alloc", "port_allocation.delta": "delta",
         "hairpinning": "hairpin", "nat_present": "nat"}


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
                                             "nat ", "filter", "mapping"))]
    return {"output": lines[:6]}


def build(netcheck, fixtures, runs_path):
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
            if rc not in (0, 1) or not out:
                entry["expect"] = {"exit": rc, "stderr_contains": err.strip()}
            else:
                doc = json.loads(out)
                got = keys_of(doc)
                entry["expect"] = dict(exit=rc, **got)
                decl = declared_keys(o["topology"])
                entry["declared"] = decl
                diffs = []
                for k, want in decl.items():
                    if got.get(k) == want:
                        continue
                    why = limit(o["client"], o["capture_point"], SHORT[k])
                    diffs.append({"key": k, "replay": got.get(k),
                                  "declared": want,
                                  "reason": why or "UNEXPLAINED"})
                entry["differences"] = diffs
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


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 6 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
