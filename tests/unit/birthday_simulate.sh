#!/usr/bin/env bash
# birthday simulate from the command line (CTest unit.birthday_simulate):
# usage errors exit 2 with one line on stderr and nothing on stdout; --json
# parses, matches docs/schema/birthday-simulate-v1.schema.json (when
# python3 has jsonschema) and its 95 % interval contains the formula for a
# small configuration (fixed seed, so the same figures every run).
# usage: birthday_simulate.sh BIRTHDAY SCHEMA
set -u
bday=$1 schema=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# a usage error: exit 2, one line on stderr naming the problem, no stdout
usage_err() {
  local want=$1
  shift
  "$bday" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines
  lines=$(wc -l <"$tmp/err")
  [ "$rc" -eq 2 ] || fail "'$*': exit $rc, want 2"
  [ "$lines" -eq 1 ] || fail "'$*': $lines lines on stderr, want 1"
  [ -s "$tmp/out" ] && fail "'$*': wrote to stdout"
  grep -q -- "$want" "$tmp/err" || fail "'$*': stderr lacks '$want': $(cat "$tmp/err")"
}
usage_err "missing command"
usage_err "unknown command 'spray'" spray
usage_err "bad --sockets 'x'" simulate --sockets x
usage_err "bad --probes '0'" simulate --probes 0
usage_err "unknown option '--bogus'" simulate --bogus
usage_err "'--trials' needs a value" simulate --trials
usage_err "bad --range '9-3'" simulate --range 9-3
usage_err "bad --alloc 'preserve'" simulate --alloc preserve
usage_err "bad --jitter '2'" simulate --jitter 2
usage_err "bad --delta '0'" simulate --delta 0
usage_err "bad --timeout '-1'" simulate --timeout -1
usage_err "block's 64 ports" simulate --block 64
usage_err "range's 100 ports" simulate --range 2000-2099
usage_err "--sweep sets" simulate --sweep --probes 10
usage_err "unexpected argument 'now'" simulate now

"$bday" --help >/dev/null || fail "--help"
"$bday" simulate --help | grep -q -- "--table-limit" || fail "simulate --help"

# one run as JSON: valid, and the interval contains the formula
"$bday" simulate --json --sockets 64 --probes 300 --range 20000-23999 \
  --trials 5000 --seed 3 >"$tmp/one.json" || fail "simulate --json: exit $?"
"$bday" simulate --sweep --json --trials 200 >"$tmp/sweep.json" ||
  fail "simulate --sweep --json: exit $?"
python3 - "$tmp/one.json" "$tmp/sweep.json" "$schema" <<'PY' || fail "JSON checks"
import json, math, sys
one = json.load(open(sys.argv[1]))
sweep = json.load(open(sys.argv[2]))
assert one["schema_version"] == 1 and one["mode"] == "simulate", one
r = one["result"]
# the formula, computed here independently: n = 4000 ports, K = 64, m = 300
q = math.fsum(math.log1p(-64 / (4000 - i)) for i in range(300))
formula = -math.expm1(q)
assert abs(r["formula"] - formula) < 1e-12, (r["formula"], formula)
assert r["formula_n"] == 4000, r
assert r["trials"] == 5000 and 0 < r["hits"] < 5000, r
assert r["ci_lo"] <= r["success"] <= r["ci_hi"], r
assert r["ci_lo"] <= formula <= r["ci_hi"], (r, formula)
assert r["formula_inside"] is True
assert r["probes_per_sec"] > 0 and r["probes_sent"] > 0
assert sweep["mode"] == "sweep" and len(sweep["curves"]) == 9, sweep.keys()
row = [x for x in sweep["needed"] if x["sockets"] == 256 and x["n"] == 64512]
assert row and row[0]["p99"] == 1148 and row[0]["p999"] == 1715, row
try:
    import jsonschema
except ImportError:
    print("schema: python3 has no jsonschema, not validated")
    sys.exit(0)
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[3])))
for doc in (one, sweep):
    errs = sorted(v.iter_errors(doc), key=str)
    assert not errs, errs[0].message
print("schema: both reports valid")
PY
[ "$fails" -eq 0 ] && echo "birthday simulate: all checks passed"
[ "$fails" -eq 0 ]
