#!/usr/bin/env bash
# `natlab run netcheck`: on every single-host topology, netcheck's JSON
# verdict (mapping, filtering, hairpinning, port_allocation kind and delta)
# must match the declared behaviour, and turnutils_natdiscovery's must
# agree with it. Then a topology that declares the wrong filtering must make
# the run fail (the comparison can fail).
set -uo pipefail
NATLAB=$1
export NATLAB_NETCHECK=$2
[ -n "${3:-}" ] && export NATLAB_NATBOX=$3
. "$(dirname "$0")/common.sh"
need_lab turnutils_natdiscovery python3
[ -x "$NATLAB_NETCHECK" ] || skip "netcheck is not built ($NATLAB_NETCHECK)"
lab_init c
tmp=$(mktemp -d); trap 'lab_cleanup; rm -rf "$tmp"' EXIT

"$NATLAB" run netcheck --json "$tmp/nc.json" --md "$tmp/nc.md"; rc=$?
cat "$tmp/nc.md"
[ -s "$tmp/nc.json" ] || fail "natlab run netcheck wrote no JSON (exit $rc)"
python3 - "$tmp/nc.json" <<'PY' || fail "netcheck results"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 1 and d["experiment"] == "netcheck"
seen = {}
for c in d["cases"]:
    seen.setdefault(c["topology"], {})[c["case"]] = c
need = {"full-cone", "restricted-cone", "port-restricted", "symmetric",
        "symmetric-sequential", "random-range", "full-cone-hairpin",
        "port-restricted-hairpin", "public", "double-nat",
        "port-restricted-upnp"}
missing = need - set(seen)
assert not missing, missing
bad = []
for t, cases in sorted(seen.items()):
    assert set(cases) == {"netcheck", "natdiscovery -m -f",
                          "netcheck = natdiscovery"}, (t, set(cases))
    for name, c in sorted(cases.items()):
        if c["result"] != "pass":
            bad.append("%s / %s: expected %s, observed %s" % (
                t, name, c["expected"], c["observed"]))
print("netcheck experiment: %d topologies, %d passed, %d failed" % (
    len(seen), d["passed"], d["failed"]))
for b in bad:
    print("  MISMATCH", b)
assert not bad
PY
[ $rc = 0 ] || fail "natlab run netcheck exited $rc"

# A lie must be caught: a full cone declared port-restricted.
mkdir "$tmp/topos"
printf 'description liar\nnat home kind=full-cone\nhost h1 behind=home\nexpect h1 filtering=apd\n' \
  >"$tmp/topos/liar.topo"
NATLAB_TOPOLOGIES="$tmp/topos" "$NATLAB" run netcheck --json "$tmp/liar.json" \
  >/dev/null; rc=$?
[ $rc = 1 ] || fail "a wrong declaration gave exit $rc, want 1"
python3 - "$tmp/liar.json" <<'PY' || fail "liar: netcheck's case must fail"
import json, sys
c = {c["case"]: c for c in json.load(open(sys.argv[1]))["cases"]}
assert c["netcheck"]["result"] == "fail", c["netcheck"]
assert c["netcheck = natdiscovery"]["result"] == "pass", c["netcheck = natdiscovery"]
PY
echo "PASS: natlab run netcheck"
