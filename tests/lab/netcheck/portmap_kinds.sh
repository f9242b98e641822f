#!/usr/bin/env bash
# lab.netcheck.portmap-kinds: netcheck's port-mapping report against every
# port-mapping gateway natlab ships, each in its own lab, one after the
# other (eight labs at once left miniupnpd's UPnP answer later than the
# probe's 250 ms budget now and then):
# `netcheck --json --portmap-test` on the host must say which protocols
# answered exactly as the topology declares, the external address each
# gave (NAT-PMP and UPnP: the lab's public address; a PCP probe gives
# none), and the test mapping by the best protocol that answered (PCP),
# read back and deleted; with nothing answering, why there is no test.
# Behind these single NATs double_nat is false (the gateway's address is
# the one STUN saw and the hop probe saw the server at TTL 2).
#   KIND-upnp, port-restricted-upnp  pcp, nat-pmp and upnp answer
#   pcp-only                         pcp only (NAT-PMP dropped: silence)
#   port-restricted                  nothing answers (no miniupnpd)
# Exit: 0 pass, 1 fail, 77 skipped.
set -uo pipefail
NATLAB=${1:?usage}
NETCHECK=${2:?usage}
SCHEMA=${3:?usage}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../natlab/common.sh"
need_lab miniupnpd python3
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
  skip "python3-jsonschema is needed"
lab_init q
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT

# one_case PREFIX TOPOLOGY ANSWERING: up, netcheck, assert (in a subshell)
one_case() {
  local p=$1 topo=$2 answering=$3
  "$NATLAB" up "$topo" --prefix "$p" -q >"$tmp/$p.up" 2>&1 ||
    { cat "$tmp/$p.up"; fail "$topo: natlab up"; }
  "$NATLAB" exec --prefix "$p" h1 -- "$NETCHECK" -4 --server \
    203.0.113.1:3478 --json --portmap-test >"$tmp/$p.json" 2>"$tmp/$p.err" ||
    fail "$topo: netcheck exited $?: $(cat "$tmp/$p.err")"
  /usr/bin/python3 - "$SCHEMA" "$tmp/$p.json" "$topo" "$answering" <<'PY' ||
import json, sys
import jsonschema
schema, f, topo, answering = sys.argv[1:5]
d = json.load(open(f))
errs = list(jsonschema.Draft202012Validator(json.load(open(schema))).iter_errors(d))
if errs:
    sys.exit("%s: schema: %s at %s" % (topo, errs[0].message, list(errs[0].path)))
want = set(answering.split(",")) - {"none"}
pm = d["port_mapping"]
svc = pm["services"]
got = {k.replace("nat_pmp", "natpmp") for k in svc if svc[k]["answered"]}
if got != want:
    sys.exit("%s: answered %s, declared %s" % (topo, sorted(got), sorted(want)))
if pm["gateway"] != "192.168.1.1" or not pm["gateway_private"] or pm["refused"]:
    sys.exit("%s: gateway %r" % (topo, pm))
pub = d["public_v4"]
for k in ("nat_pmp", "upnp"):
    if svc[k]["answered"] and svc[k]["external_address"] != pub:
        sys.exit("%s: %s external %r, want %s" % (topo, k,
                                                   svc[k]["external_address"], pub))
t = pm["test"]
if want:
    if t["protocol"] != "pcp" or not t["read_back"] or not t["deleted"] or \
            t["error"] is not None or not t["external"].startswith(pub + ":") \
            or not t["lifetime_granted"]:
        sys.exit("%s: test %r" % (topo, t))
    if d["double_nat"] is not False:
        sys.exit("%s: double_nat %r: %s" % (topo, d["double_nat"],
                                           d["double_nat_reason"]))
elif t["error"] is None or t["read_back"]:
    sys.exit("%s: test without a gateway %r" % (topo, t))
print("%s: answered %s, test %s, double_nat %s, %.0f ms" % (
    topo, ",".join(sorted(got)) or "none",
    t["external"] and "%s by %s for %s s" % (t["external"], t["protocol"],
                                            t["lifetime_granted"])
    or t["error"], d["double_nat"], d["duration_ms"]))
PY
    fail "$topo: report"
}

CASES=(
  "full-cone-upnp upnp,natpmp,pcp"
  "restricted-cone-upnp upnp,natpmp,pcp"
  "port-restricted-upnp upnp,natpmp,pcp"
  "symmetric-upnp upnp,natpmp,pcp"
  "symmetric-sequential-upnp upnp,natpmp,pcp"
  "random-range-upnp upnp,natpmp,pcp"
  "pcp-only pcp"
  "port-restricted none"
)
rc=0
for c in "${CASES[@]}"; do
  lab_more q
  # shellcheck disable=SC2086
  (one_case "$MORE" $c) || rc=1
  "$NATLAB" down --prefix "$MORE" >/dev/null 2>&1
done
[ $rc = 0 ] || fail "a case failed (above)"
echo "PASS: lab.netcheck.portmap-kinds"
