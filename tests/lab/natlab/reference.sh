#!/usr/bin/env bash
# `natlab run reference`: on every single-host kernel topology,
# turnutils_natdiscovery (-m -f, -H) and `stun` must agree with the
# declared behaviour. Then a topology that declares the wrong behaviour
# must make the run fail (the comparison can fail).
set -uo pipefail
NATLAB=$1
. "$(dirname "$0")/common.sh"
need_lab turnutils_natdiscovery stun python3
lab_init r
tmp=$(mktemp -d); trap 'lab_cleanup; rm -rf "$tmp"' EXIT

"$NATLAB" run reference --json "$tmp/ref.json" --md "$tmp/ref.md"; rc=$?
cat "$tmp/ref.md"
[ $rc = 0 ] || fail "natlab run reference exited $rc"
python3 - "$tmp/ref.json" <<'PY' || fail "reference results"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 1 and d["failed"] == 0, d["failed"]
need = {"full-cone", "restricted-cone", "port-restricted", "symmetric",
        "symmetric-sequential", "random-range", "full-cone-hairpin",
        "port-restricted-hairpin", "public", "double-nat"}
seen = {}
for c in d["cases"]:
    seen.setdefault(c["topology"], []).append(c)
    assert c["result"] == "pass", c
    assert isinstance(c["exit_code"], int) and c["duration_ms"] >= 0
missing = need - set(seen)
assert not missing, missing
for t in need:
    assert len(seen[t]) == 3, (t, len(seen[t]))
# spot-check what the references said, independently of natlab's verdicts
def out(t, case):
    return next(c for c in seen[t] if c["case"] == case)
assert "Address Dependent Filtering" in out("restricted-cone", "natdiscovery -m -f")["stdout"]
assert "Address and Port Dependent Mapping" in out("symmetric", "natdiscovery -m -f")["stdout"]
assert out("full-cone", "stun")["exit_code"] & 0x0e == 0x02
assert out("port-restricted", "stun")["exit_code"] & 0x0e == 0x06
assert out("symmetric", "stun")["exit_code"] & 0x0e == 0x08
assert out("public", "stun")["exit_code"] & 0x0e == 0x00
assert "successful hairpinning" in out("full-cone-hairpin", "natdiscovery -H")["stdout"]
print("reference: %d topologies, %d cases pass" % (len(seen), len(d["cases"])))
PY

# A lie must be caught: a full cone declared port-restricted fails.
mkdir "$tmp/topos"
printf 'description liar\nnat home kind=full-cone\nhost h1 behind=home\nexpect h1 filtering=apd\n' \
  >"$tmp/topos/liar.topo"
NATLAB_TOPOLOGIES="$tmp/topos" "$NATLAB" run reference --json "$tmp/liar.json" \
  >/dev/null; rc=$?
[ $rc = 1 ] || fail "a wrong declaration gave exit $rc, want 1"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['failed']==2, d['failed']" \
  "$tmp/liar.json" || fail "liar: want natdiscovery -m -f and stun to fail"
echo "PASS: natlab run reference"
