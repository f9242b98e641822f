#!/usr/bin/env bash
# lab.netcheck.TOPOLOGY: run netcheck --json in host h1 of a natlab lab and
# compare the verdict with what the topology declares.
#
# usage: netcheck_lab.sh NATLAB NETCHECK SCHEMA TOPOLOGY KEY=VALUE...
#   keys: mapping filtering (ei|ad|apd), alloc (preserving|sequential|
#   random), delta N, hairpin (true|false|null), nat (true|false),
#   rtt_ms LO-HI, range LO-HI (allocation range must lie inside).
# Durations are printed, never asserted: speed goals live in tests/bench/.
# Exit: 0 pass, 1 fail, 77 skipped (not root, no namespaces, a program
# missing). Each run uses its own prefix and NATLAB_STATE_DIR and tears the
# lab down on exit.
set -uo pipefail
NATLAB=${1:?usage}
NETCHECK=${2:?usage}
SCHEMA=${3:?usage}
TOPO=${4:?usage}
shift 4
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../natlab/common.sh"
need_lab python3
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
  skip "python3-jsonschema is needed"
lab_init "n$(printf '%s' "$TOPO" | cksum | cut -c1-2)"
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT

"$NATLAB" up "$TOPO" --prefix "$PFX" -q >"$tmp/up.log" 2>&1 ||
  { cat "$tmp/up.log"; fail "natlab up $TOPO"; }

runs=${RUNS:-3}
for i in $(seq "$runs"); do
  "$NATLAB" exec --prefix "$PFX" h1 -- "$NETCHECK" -4 \
    --server 203.0.113.1:3478 --json >"$tmp/r$i.json" 2>"$tmp/r$i.err"
  rc=$?
  [ $rc = 0 ] || fail "$TOPO run $i: netcheck exited $rc: $(cat "$tmp/r$i.err")"
done
"$NATLAB" exec --prefix "$PFX" h1 -- "$NETCHECK" -4 \
  --server 203.0.113.1:3478 >"$tmp/text" 2>/dev/null ||
  fail "$TOPO: text run failed"

/usr/bin/python3 - "$SCHEMA" "$TOPO" "$tmp" "$runs" "$@" <<'PY' || fail "$TOPO: verdict"
import json, statistics, sys
import jsonschema
schema, topo, tmp, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
want = dict(a.split("=", 1) for a in sys.argv[5:])
v = jsonschema.Draft202012Validator(json.load(open(schema)))
names = {"ei": "endpoint-independent", "ad": "address-dependent",
         "apd": "address-and-port-dependent"}
durs = []
for i in range(1, runs + 1):
    d = json.load(open("%s/r%d.json" % (tmp, i)))
    errs = list(v.iter_errors(d))
    if errs:
        sys.exit("run %d: schema: %s at %s" % (i, errs[0].message,
                                               list(errs[0].path)))
    def expect(what, got, exp):
        if got != exp:
            sys.exit("%s run %d: %s = %r, want %r" % (topo, i, what, got, exp))
    expect("udp", d["udp"], True)
    if "mapping" in want:
        expect("mapping", d["mapping"], names[want["mapping"]])
    if "filtering" in want:
        expect("filtering", d["filtering"], names[want["filtering"]])
    if "alloc" in want:
        expect("port_allocation.kind", d["port_allocation"]["kind"], want["alloc"])
    if "delta" in want:
        expect("port_allocation.delta", d["port_allocation"]["delta"], int(want["delta"]))
    if "hairpin" in want:
        expect("hairpinning", d["hairpinning"],
               {"true": True, "false": False, "null": None}[want["hairpin"]])
    if "nat" in want:
        expect("nat_present", d["nat_present"], want["nat"] == "true")
    if "range" in want:
        lo, hi = map(int, want["range"].split("-"))
        r = d["port_allocation"]["range"]
        if not (r and lo <= r[0] and r[1] <= hi):
            sys.exit("%s: allocation range %r outside %d-%d" % (topo, r, lo, hi))
    if "rtt_ms" in want:
        lo, hi = map(float, want["rtt_ms"].split("-"))
        rtt = d["servers"][0]["rtt_ms"]
        if not (lo <= rtt <= hi):
            sys.exit("%s: rtt_ms %r outside %s" % (topo, rtt, want["rtt_ms"]))
    if d["port_allocation"]["kind"] == "sequential" and not d["prediction"]:
        sys.exit("%s: sequential allocation without a prediction" % topo)
    if d["difficulty"] != ("easy" if d["mapping"] == names["ei"] else "hard"):
        sys.exit("%s: difficulty %r for mapping %r" % (topo, d["difficulty"], d["mapping"]))
    # A retransmission whose first answer was only slow (a loaded machine,
    # a sanitizer build) makes a late duplicate: benign. Nothing else may
    # be refused on a clean lab path.
    for k, n in d["diagnostics"].items():
        if k != "duplicates":
            expect("diagnostics." + k, n, 0)
    durs.append(d["duration_ms"])
med = statistics.median(durs)
print("%s: %s; %s mapping, %s filtering, allocation %s%s, hairpinning %s; "
      "median %.1f ms over %d runs (%s)" % (
    topo, d["classic_name"], d["mapping"], d["filtering"],
    d["port_allocation"]["kind"],
    " delta %s" % d["port_allocation"]["delta"] if d["port_allocation"]["delta"] else "",
    d["hairpinning"], med, runs, ", ".join("%.1f" % x for x in durs)))
PY
head -n 1 "$tmp/text" | grep -q ' — \(easy\|hard\)$' ||
  fail "$TOPO: first text line '$(head -n 1 "$tmp/text")' is not the verdict"
echo "PASS: lab.netcheck.$TOPO"
