#!/usr/bin/env bash
# lab.netcheck.hops-TOPOLOGY: netcheck's hop probe and double-NAT verdict
# in a natlab lab (kernel NATs, which translate ICMP time-exceeded back to
# the host as RELATED traffic).
#
# usage: hops.sh NATLAB NETCHECK SCHEMA TOPOLOGY
#   port-restricted: one NAT. The hop list must be [hop 1 = the host's
#     gateway, private; hop 2 = the server] and double_nat false: the
#     server answered at TTL 2, so hop 1 is the only router between, and
#     the reason must say so; no gateway answers port mapping here.
#   port-restricted-upnp: the same NAT serving UPnP IGD, NAT-PMP and PCP
#     (miniupnpd): the same hops, and double_nat false by the gateway's
#     external address, the public address STUN saw; --portmap-test maps
#     the first socket's port, reads it back and deletes it.
#   double-nat: a home NAT inside a carrier NAT. hop 1 = the host's gateway
#     (private), hop 2 = the home NAT's gateway (100.64.0.0/10, shared),
#     hop 3 = the server; double_nat true, carrier_nat true, the reason
#     names hop 2 and its 100.64 address.
#   cgn-upnp: the same with miniupnpd on the home NAT, which learns its
#     external address by STUN and reports the carrier NAT's public
#     address (the one STUN saw) while refusing every mapping: hop 2 in
#     shared space outweighs it (double_nat and carrier_nat true), the
#     --portmap-test mapping is refused, and without the hops the gateway's
#     address alone gives double_nat null with that caveat, never false.
# All: the report validates against the schema, the plan saw nothing it
# did not expect (diagnostics 0: the hop answers never reach it), the
# gateway was probed for port mapping (none answers but in
# port-restricted-upnp), and --no-hops gives hops null. The first run is the one asserted on: routers
# rate-limit ICMP per destination (Linux: a burst of 6, then one a
# second), and the fresh lab has its full burst.
# Exit: 0 pass, 1 fail, 77 skipped (not root, no namespaces, a program
# missing).
set -uo pipefail
NATLAB=${1:?usage}
NETCHECK=${2:?usage}
SCHEMA=${3:?usage}
TOPO=${4:?usage}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../natlab/common.sh"
need_lab python3
case $TOPO in *upnp) command -v miniupnpd >/dev/null ||
  skip "miniupnpd is not installed" ;; esac
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
  skip "python3-jsonschema is needed"
lab_init "h$(printf '%s' "$TOPO" | cksum | cut -c1-2)"
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT

"$NATLAB" up "$TOPO" --prefix "$PFX" -q >"$tmp/up.log" 2>&1 ||
  { cat "$tmp/up.log"; fail "natlab up $TOPO"; }
nc() { "$NATLAB" exec --prefix "$PFX" h1 -- "$NETCHECK" -4 \
  --server 203.0.113.1:3478 "$@"; }
gw_of() { "$NATLAB" exec --prefix "$PFX" "$1" -- ip -4 route show default |
  awk '{print $3; exit}'; }
gw1=$(gw_of h1)
gw2=
case $TOPO in double-nat | cgn-upnp) gw2=$(gw_of home) ;; esac
[ -n "$gw1" ] || fail "$TOPO: no default route in h1"

nc --json >"$tmp/hops.json" 2>"$tmp/hops.err" ||
  fail "$TOPO: netcheck exited $?: $(cat "$tmp/hops.err")"
nc --json --no-hops >"$tmp/nohops.json" 2>"$tmp/nohops.err" ||
  fail "$TOPO: netcheck --no-hops exited $?: $(cat "$tmp/nohops.err")"
nc --json --no-hops --portmap-test >"$tmp/pmtest.json" 2>"$tmp/pmtest.err" ||
  fail "$TOPO: netcheck --portmap-test exited $?: $(cat "$tmp/pmtest.err")"
# The text run: its hops may be silent by now (the first run's hairpin
# test, retransmitted to a NAT without hairpinning, drew port-unreachable
# messages that spent the router's ICMP allowance towards the host).
nc >"$tmp/text" 2>/dev/null || fail "$TOPO: text run failed"

/usr/bin/python3 - "$SCHEMA" "$TOPO" "$tmp" "$gw1" "$gw2" <<'PY' ||
import ipaddress, json, sys
import jsonschema
schema, topo, tmp, gw1, gw2 = sys.argv[1:6]
v = jsonschema.Draft202012Validator(json.load(open(schema)))

def load(name):
    d = json.load(open("%s/%s.json" % (tmp, name)))
    errs = list(v.iter_errors(d))
    if errs:
        sys.exit("%s %s: schema: %s at %s" % (topo, name, errs[0].message,
                                              list(errs[0].path)))
    for k, n in d["diagnostics"].items():
        if k != "duplicates" and n != 0:
            sys.exit("%s %s: diagnostics.%s = %d" % (topo, name, k, n))
    return d

def want(what, got, exp):
    if got != exp:
        sys.exit("%s: %s = %r, want %r" % (topo, what, got, exp))

d = load("hops")
h = d["hops"]
if h is None:
    sys.exit("%s: hops is null" % topo)
want("hops.target", h["target"], "203.0.113.1:3478")
want("hops.send_errors", h["send_errors"], 0)
lst = h["list"]
def hop(i, addr, space, kind):
    e = lst[i]
    want("hop %d ttl" % (i + 1), e["ttl"], i + 1)
    want("hop %d address" % (i + 1), e["address"], addr)
    want("hop %d space" % (i + 1), e["space"], space)
    want("hop %d kind" % (i + 1), e["kind"], kind)
    want("hop %d by_order" % (i + 1), e["by_order"], False)
    if not (isinstance(e["rtt_ms"], (int, float)) and e["rtt_ms"] >= 0):
        sys.exit("%s: hop %d rtt_ms %r" % (topo, i + 1, e["rtt_ms"]))
cgn = topo in ("double-nat", "cgn-upnp")
if cgn:
    want("hops.reached_ttl", h["reached_ttl"], 3)
    want("hops.list length", len(lst), 3)
    hop(0, gw1, "private", "time-exceeded")
    if ipaddress.ip_address(gw2) not in ipaddress.ip_network("100.64.0.0/10"):
        sys.exit("%s: home's gateway %s is not in 100.64.0.0/10" % (topo, gw2))
    hop(1, gw2, "shared", "time-exceeded")
    hop(2, "203.0.113.1", "public", "server")
    want("double_nat", d["double_nat"], True)
    want("carrier_nat", d["carrier_nat"], True)
    r = d["double_nat_reason"]
    if "hop 2 " + gw2 not in r or "100.64" not in r or "RFC 6598" not in r:
        sys.exit("%s: reason %r does not name hop 2 and 100.64" % (topo, r))
else:  # one NAT: hop 1 its inside address, hop 2 the server
    want("hops.reached_ttl", h["reached_ttl"], 2)
    want("hops.list length", len(lst), 2)
    hop(0, gw1, "private", "time-exceeded")
    hop(1, "203.0.113.1", "public", "server")
pub = d["public_v4"]
if topo == "port-restricted-upnp":
    want("double_nat", d["double_nat"], False)
    want("carrier_nat", d["carrier_nat"], None)
    r = d["double_nat_reason"]
    if ("external address %s (by " % pub) not in r or \
            "is the public address STUN saw" not in r:
        sys.exit("%s: reason %r does not name the gateway's %s" % (topo, r, pub))
elif topo == "port-restricted":
    want("double_nat", d["double_nat"], False)
    want("carrier_nat", d["carrier_nat"], None)
    r = d["double_nat_reason"]
    if ("the server answered at TTL 2: hop 1 %s is the only router" % gw1) \
            not in r:
        sys.exit("%s: reason %r does not name hop 1" % (topo, r))
pm = d["port_mapping"]
if pm is None:
    sys.exit("%s: port_mapping is null" % topo)
want("port_mapping.gateway", pm["gateway"], gw1)
want("port_mapping.test", pm["test"], None)
svc = pm["services"]
upnp = topo.endswith("upnp")
for k in ("pcp", "nat_pmp", "upnp"):
    want("port_mapping %s asked" % k, svc[k]["asked"], True)
    if not upnp:
        want("port_mapping %s answered" % k, svc[k]["answered"], False)
        if not svc[k]["status"]:  # NAT_ETIMEDOUT, UV_ECONNREFUSED...
            sys.exit("%s: port_mapping %s status %r" % (topo, k, svc[k]["status"]))
if upnp:  # behind the carrier NAT too: the address miniupnpd's STUN saw
    ext = [svc[k]["external_address"] for k in ("nat_pmp", "upnp")]
    want("port_mapping external addresses", ext, [pub] * 2)
t = load("pmtest")["port_mapping"]["test"]
if topo == "port-restricted-upnp":
    for k, val in (("read_back", True), ("deleted", True), ("error", None),
                   ("lifetime_asked", 30)):
        want("test." + k, t[k], val)
    if not (t["external"] or "").startswith(d["public_v4"] + ":"):
        sys.exit("%s: test.external %r" % (topo, t["external"]))
elif topo == "cgn-upnp":  # every mapping refused behind the carrier NAT
    want("test.read_back", t["read_back"], False)
    if not t["error"]:
        sys.exit("%s: the mapping test was not refused: %r" % (topo, t))
else:
    want("test.external", t["external"], None)
    want("test.error", t["error"], "no port-mapping protocol answered the probe")
if not any(x.startswith("double NAT: ") and r in x for x in d["explanation"]):
    sys.exit("%s: no explanation line with the reason" % topo)
n = load("nohops")
want("--no-hops hops", n["hops"], None)
if upnp:  # the gateway's address alone: it may come from STUN
    want("--no-hops double_nat", n["double_nat"], None)
    if "a gateway behind a carrier NAT can report that address" not in \
            n["double_nat_reason"]:
        sys.exit("%s: --no-hops reason %r" % (topo, n["double_nat_reason"]))
else:
    want("--no-hops double_nat", n["double_nat"], None)
    if "no hop probe" not in n["double_nat_reason"]:
        sys.exit("%s: --no-hops reason %r" % (topo, n["double_nat_reason"]))
for k in ("mapping", "filtering", "hairpinning"):
    want("%s with and without hops" % k, n[k], d[k])
want("allocation with and without hops", n["port_allocation"]["kind"],
     d["port_allocation"]["kind"])
print("%s: double_nat %s, carrier_nat %s: %s; hops %s; %.1f ms (%.1f ms "
      "without hops); port mapping %.1f ms, test %s" % (
          topo, d["double_nat"], d["carrier_nat"], r,
          ", ".join("%d %s" % (x["ttl"], x["address"]) for x in lst),
          d["duration_ms"], n["duration_ms"], pm["duration_ms"],
          t["error"] or "%s by %s" % (t["external"], t["protocol"])))
PY
  fail "$TOPO: hops"
reached=2
case $TOPO in double-nat | cgn-upnp) reached=3 ;; esac
grep -Eq "^Hops: *1 ($gw1 private [0-9.]+ ms|\*), .*server 203\.0\.113\.1 public [0-9.]+ ms \(reached at TTL $reached\)\$" \
  "$tmp/text" ||
  fail "$TOPO: text report: $(grep '^Hops:' "$tmp/text")"
grep -q "^Double NAT: *[a-z]* (" "$tmp/text" ||
  fail "$TOPO: text report: $(grep '^Double NAT:' "$tmp/text")"
echo "PASS: lab.netcheck.hops-$TOPO"
