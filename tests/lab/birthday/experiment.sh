#!/usr/bin/env bash
# `natlab run birthday` on two pairs, a few trials each: port-restricted x
# symmetric (random ports over the whole range) must connect by the
# birthday spray in every trial (the prediction for the defaults, 256
# sockets and 2,048 probes, is 99.9 %), ha the dialer and hb the
# acceptor, with a time and the spray's packets; symmetric x symmetric must
# be refused on both peers with the estimate. The JSON must be valid
# against its schema and the Markdown table must have a row per pair.
# Expectations are written out here, independently of natlab's own.
# usage: experiment.sh NATLAB PUNCH SCHEMA [TRIALS]
set -uo pipefail
NATLAB=$1
export NATLAB_PUNCH=$2
SCHEMA=$3
TRIALS=${4:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/natlab/common.sh
. "$HERE/../natlab/common.sh"
need_lab python3
[ -x "$NATLAB_PUNCH" ] || skip "punch is not built ($NATLAB_PUNCH)"
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
  skip "python3-jsonschema is needed"
lab_init be
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT INT TERM

"$NATLAB" run birthday --pairs port-restricted:symmetric,symmetric:symmetric \
  --trials "$TRIALS" --jobs 1 --json "$tmp/b.json" --md "$tmp/b.md"
rc=$?
cat "$tmp/b.md" 2>/dev/null
[ -s "$tmp/b.json" ] || fail "natlab run birthday wrote no JSON (exit $rc)"
/usr/bin/python3 - "$SCHEMA" "$tmp/b.json" "$tmp/b.md" "$TRIALS" <<'PY' || fail "birthday experiment results"
import json, sys
import jsonschema
schema, f, md, trials = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
d = json.load(open(f))
errs = list(jsonschema.Draft202012Validator(json.load(open(schema))).iter_errors(d))
assert not errs, "schema: %s at %s" % (errs[0].message, list(errs[0].path))
assert d["experiment"] == "birthday" and d["trials"] == trials and d["tool"] == "punch"
cases = {c["pair"]: c for c in d["cases"]}
assert sorted(cases) == ["port-restricted:symmetric", "symmetric:symmetric"], sorted(cases)
bad = []

c = cases["port-restricted:symmetric"]
for r in c["runs"]:
    a, b = r["a"], r["b"]
    t = "port-restricted:symmetric trial %d" % r["trial"]
    if r["outcome"] != "connected" or r["strategy"] != "birthday":
        bad.append("%s: %s by %s (ha: %s / hb: %s)" % (t, r["outcome"], r["strategy"],
                   a["failure_reason"], b["failure_reason"]))
        continue
    for p, role in ((a, "dialer"), (b, "acceptor")):
        bd = p["birthday"] or {}
        if p["exit_code"] != 0 or p["strategy"] != "birthday":
            bad.append("%s: %s exit %s strategy %s" % (t, p["node"], p["exit_code"], p["strategy"]))
        if bd.get("role") != role or bd.get("why") != "spray" or not bd.get("ran"):
            bad.append("%s: %s birthday role %s why %s ran %s, want %s" % (
                t, p["node"], bd.get("role"), bd.get("why"), bd.get("ran"), role))
    act = (a["birthday"] or {}).get("actual") or {}
    if not act.get("hit") or not act.get("probes_sent"):
        bad.append("%s: the dialer's actual says no hit: %r" % (t, act))
    if not (r["time_ms"] and r["time_ms"] > 0 and r["packets"] and r["packets"] > 0):
        bad.append("%s: time %r packets %r" % (t, r["time_ms"], r["packets"]))
    if not (r["predicted_p"] and 0.99 <= r["predicted_p"] <= 1):
        bad.append("%s: predicted p %r for 256 sockets and 2,048 probes" % (t, r["predicted_p"]))
if c["result"] != "pass" or c["outcomes"]["connected"] != trials:
    bad.append("port-restricted:symmetric: %s, %s" % (c["result"], c.get("mismatch")))
if c["prediction_inside"] is not True or c["time_ms"]["median"] is None:
    bad.append("port-restricted:symmetric: prediction inside %r, median %r" % (
        c["prediction_inside"], c["time_ms"]["median"]))
if not (c["simulated_p"] and 0.99 <= c["simulated_p"] <= 1) or c["simulation_inside"] is not True:
    bad.append("port-restricted:symmetric: simulated p %r inside %r" % (
        c["simulated_p"], c["simulation_inside"]))

c = cases["symmetric:symmetric"]
for r in c["runs"]:
    t = "symmetric:symmetric trial %d" % r["trial"]
    if r["outcome"] != "refused":
        bad.append("%s: %s, want refused" % (t, r["outcome"]))
    for p in (r["a"], r["b"]):
        bd = p["birthday"] or {}
        est = bd.get("both_hard") or {}
        if p["exit_code"] != 1 or "refused" not in (p["failure_reason"] or ""):
            bad.append("%s: %s exit %s reason %r" % (t, p["node"], p["exit_code"], p["failure_reason"]))
        if bd.get("why") != "both-hard" or bd.get("ran"):
            bad.append("%s: %s why %r ran %r" % (t, p["node"], bd.get("why"), bd.get("ran")))
        # about 170,000 probes a side for 99.9 % over the full range
        if not (est.get("probes_per_side", 0) >= 100000 and est.get("minutes", 0) > 0
                and est.get("nat_entries", 0) > 0):
            bad.append("%s: %s estimate %r" % (t, p["node"], est))
        if p["quic_confirmed_ms"] is not None:
            bad.append("%s: %s confirmed QUIC yet refused" % (t, p["node"]))
if c["result"] != "pass" or c["outcomes"]["refused"] != trials or not c["estimate"]:
    bad.append("symmetric:symmetric: %s, %s" % (c["result"], c.get("mismatch")))

rows = [l for l in open(md).read().splitlines() if l.startswith("| ") and "---" not in l]
assert len(rows) == 3, rows  # header + 2 pairs
assert "probes a side" in rows[2], rows[2]
for b in bad:
    print("  MISMATCH", b)
assert not bad
assert d["passed"] == 2 and d["failed"] == 0, (d["passed"], d["failed"])
PY
[ $rc = 0 ] || fail "natlab run birthday exited $rc"
[ -z "$(ls -A "$NATLAB_STATE_DIR" 2>/dev/null)" ] ||
  fail "labs left behind: $(ls "$NATLAB_STATE_DIR")"
prefixes=$(/usr/bin/python3 -c 'import json, sys
for c in json.load(open(sys.argv[1]))["cases"]: print(c["prefix"])' "$tmp/b.json")
for p in $prefixes; do
  left=$(ns_with_prefix "$p")
  [ -z "$left" ] || fail "namespaces left behind: $left"
done
# shellcheck disable=SC2086 # one prefix a word
left=$(procs_of_labs "$NATLAB_PUNCH" $prefixes)
[ -z "$left" ] || fail "punch processes left behind: $left"

# usage errors: exit 2, one line naming what is wrong
"$NATLAB" run birthday --pairs port-restricted:bogus >/dev/null 2>"$tmp/err"
[ $? = 2 ] || fail "--pairs bogus must be a usage error"
grep -q "unknown pair 'port-restricted:bogus'" "$tmp/err" || fail "--pairs bogus: $(cat "$tmp/err")"
"$NATLAB" run birthday --trials 0 >/dev/null 2>&1
[ $? = 2 ] || fail "--trials 0 must be a usage error"
"$NATLAB" run birthday --kinds symmetric >/dev/null 2>&1
[ $? = 2 ] || fail "--kinds with birthday must be a usage error"
echo "PASS: natlab run birthday"
