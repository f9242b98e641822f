#!/usr/bin/env bash
# `natlab run punch` on a reduced set of kinds (public, port-restricted,
# symmetric: 6 pairs): every pair's outcome must be the one RFC 4787 predicts
# and punch's escalation gives (written out here, independently of natlab's
# own expectation), connected pairs must report a selected path and their
# times, port-restricted x symmetric connected by the birthday spray on both
# peers, symmetric x symmetric refused on both peers with the estimate (the
# probes a side, minutes, NAT entries). Then a topology that declares the wrong
# behaviour must make the run fail (the comparison can fail), and bad
# --kinds / --only are usage errors.
# usage: punch_matrix.sh NATLAB PUNCH
set -uo pipefail
NATLAB=$1
export NATLAB_PUNCH=$2
. "$(dirname "$0")/common.sh"
need_lab python3
[ -x "$NATLAB_PUNCH" ] || skip "punch is not built ($NATLAB_PUNCH)"
lab_init k
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT INT TERM

"$NATLAB" run punch --kinds public,port-restricted,symmetric --jobs 2 \
  --json "$tmp/pm.json" --md "$tmp/pm.md"
rc=$?
cat "$tmp/pm.md"
[ -s "$tmp/pm.json" ] || fail "natlab run punch wrote no JSON (exit $rc)"
python3 - "$tmp/pm.json" "$tmp/pm.md" <<'PY' || fail "punch matrix results"
import json, sys
d = json.load(open(sys.argv[1]))
md = open(sys.argv[2]).read()
assert d["schema_version"] == 1 and d["experiment"] == "punch", d.get("experiment")
assert d["kinds"] == ["public", "port-restricted", "symmetric"], d["kinds"]
# RFC 4787: a per-destination mapping (symmetric) meets a side without NAT
# by plain checks, an endpoint-independent one (port-restricted) only by
# the birthday spray; two endpoint-independent mappings always meet; two
# per-destination mappings are refused (about 170,000 probes a side).
want = {
    ("public", "public"): "connected",
    ("public", "port-restricted"): "connected",
    ("public", "symmetric"): "connected",
    ("port-restricted", "port-restricted"): "connected",
    ("port-restricted", "symmetric"): "connected",
    ("symmetric", "symmetric"): "refused",
}
by_birthday = {("port-restricted", "symmetric")}
got = {(c["kind_a"], c["kind_b"]): c for c in d["cases"]}
assert set(got) == set(want), sorted(got)
assert len(d["cases"]) == 6
assert len({c["prefix"] for c in d["cases"]}) == 6, "a prefix per worker"
bad = []
for pair, outcome in sorted(want.items()):
    c = got[pair]
    a, b = c["a"], c["b"]
    line = "%s x %s: %s (%s)" % (pair[0], pair[1], c["outcome"], c["observed"])
    print(line)
    if c["expected"] != outcome:
        bad.append("%s: natlab expected %s" % (line, c["expected"]))
    if c["outcome"] != outcome or c["result"] != "pass":
        bad.append("%s: want %s, result %s %s" % (line, outcome, c["result"],
                                                 c.get("mismatch", "")))
        continue
    if outcome == "connected":
        for p in (a, b):
            if p["exit_code"] != 0 or p["ok"] is not True:
                bad.append("%s: %s exit %s" % (line, p["node"], p["exit_code"]))
            for k in ("quic_confirmed_ms", "peer_to_confirmed_ms"):
                if not isinstance(p[k], (int, float)) or p[k] <= 0:
                    bad.append("%s: %s %s = %r" % (line, p["node"], k, p[k]))
            r = p["report"]
            sel = p["selected"] or ""
            if pair in by_birthday:
                # no checked pair: the spray's authenticated hit on both
                act = (r.get("birthday") or {}).get("actual") or {}
                if not act.get("hit"):
                    bad.append("%s: %s spray actual %r" % (line, p["node"], act))
            elif "->" not in sel:
                bad.append("%s: %s selected %r" % (line, p["node"], sel))
            if r["times_ms"]["quic_confirmed"] != p["quic_confirmed_ms"]:
                bad.append("%s: times not taken from the report" % line)
            # the winning strategy: the spray where only it can meet, plain
            # checks (direct) where neither side maps per destination
            want_s = "birthday" if pair in by_birthday else (
                "direct" if "symmetric" not in pair else None)
            if want_s and (p["strategy"] != want_s or r.get("strategy") != want_s):
                bad.append("%s: %s strategy %r, want %s" % (line, p["node"], p["strategy"], want_s))
        # the public side reaches the peer on its host address
        if pair[0] == "public" and not b["selected"].endswith("->host"):
            bad.append("%s: hb selected %s, want ...->host" % (line, b["selected"]))
    else:
        for p in (a, b):
            if p["exit_code"] != 1 or p["ok"] is not False:
                bad.append("%s: %s exit %s" % (line, p["node"], p["exit_code"]))
            est = p["estimate"] or {}
            if "refused" not in (p["failure_reason"] or "") or not (
                    est.get("probes_per_side", 0) >= 100000 and est.get("minutes", 0) > 0
                    and est.get("nat_entries", 0) > 0):
                bad.append("%s: %s reason %r estimate %r" % (
                    line, p["node"], p["failure_reason"], est))
            if p["quic_confirmed_ms"] is not None:
                bad.append("%s: %s confirmed QUIC yet refused" % (line, p["node"]))
rows = [l for l in md.splitlines() if l.startswith("| ") and "---" not in l]
assert len(rows) == 7, rows  # header + 6 pairs
for b in bad:
    print("  MISMATCH", b)
assert not bad
assert d["passed"] == 6 and d["failed"] == 0, (d["passed"], d["failed"])
PY
[ $rc = 0 ] || fail "natlab run punch exited $rc"

# A lie must be caught: hb of `pair` declared endpoint-independent while its
# NAT is symmetric. natlab then expects symmetric x symmetric to connect;
# the peers see two symmetric NATs and refuse, so the case and the run fail.
mkdir "$tmp/topos"
sed 's/^host hb behind=nb$/host hb behind=nb\nexpect hb mapping=ei filtering=ei/' \
  "$(dirname "$0")/../../../tools/natlab/topologies/pair.topo" \
  >"$tmp/topos/pair.topo"
grep -q '^expect hb' "$tmp/topos/pair.topo" || fail "could not write the liar topology"
NATLAB_TOPOLOGIES="$tmp/topos" "$NATLAB" run punch --kinds symmetric \
  --json "$tmp/liar.json" >"$tmp/liar.md"
rc=$?
cat "$tmp/liar.md"
[ $rc = 1 ] || fail "a wrong declaration gave exit $rc, want 1"
python3 - "$tmp/liar.json" <<'PY' || fail "liar: the case must fail"
import json, sys
d = json.load(open(sys.argv[1]))
(c,) = d["cases"]
assert c["expected"] == "connected" and c["outcome"] == "refused", c
assert c["result"] == "fail" and "outcome refused" in c["mismatch"], c
assert d["failed"] == 1 and d["passed"] == 0
PY

# usage errors: exit 2, one line naming what is wrong
"$NATLAB" run punch --kinds public,bogus >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 2 ] || fail "--kinds bogus: exit $rc, want 2"
grep -q "unknown kind 'bogus'" "$tmp/err" || fail "--kinds bogus: $(cat "$tmp/err")"
"$NATLAB" run punch --kinds symmetric,symmetric >/dev/null 2>"$tmp/err"
[ $? = 2 ] || fail "--kinds with a repeated kind must be a usage error"
"$NATLAB" run punch --only pair >/dev/null 2>"$tmp/err"
[ $? = 2 ] || fail "--only with punch must be a usage error"
# everything torn down: no lab recorded, none of the workers' namespaces,
# no rendezvous
[ -z "$(ls -A "$NATLAB_STATE_DIR" 2>/dev/null)" ] ||
  fail "labs left behind: $(ls "$NATLAB_STATE_DIR")"
prefixes=
for f in "$tmp/pm.json" "$tmp/liar.json"; do
  for p in $(python3 -c 'import json, sys
for c in json.load(open(sys.argv[1]))["cases"]: print(c["prefix"])' "$f"); do
    left=$(ns_with_prefix "$p")
    [ -z "$left" ] || fail "namespaces left behind: $left"
    prefixes="$prefixes $p"
  done
done
# shellcheck disable=SC2086 # one prefix a word
left=$(procs_of_labs "$NATLAB_PUNCH" $prefixes)
[ -z "$left" ] || fail "punch processes left behind: $left"
echo "PASS: natlab run punch"
