#!/usr/bin/env bash
# lab.netcheck.loss: netcheck's verdict must not change under packet loss.
# Two labs, each with 10 % loss each way on the WAN link (natbox link), a
# fresh random natbox seed per lab (printed, so a failure can be replayed
# with `natlab up TOPOLOGY --set seed=N ...`), and RUNS (default 20)
# netcheck --json runs inside each; every run must give the same verdict:
#   wan-loss (port-restricted, kernel NAT):      mapping endpoint-independent,
#     filtering address-and-port-dependent, port_allocation.kind preserving,
#     hairpinning false, difficulty easy;
#   wan-delay-symmetric --set loss=0.1 (masquerade random, 20 ms each way):
#     mapping and filtering address-and-port-dependent, kind random,
#     hairpinning false, difficulty hard.
# A run that disagrees is printed in full (its JSON) and the test fails.
# A probe of 200 STUN requests checks that the loss is really there
# (about 81 % answered). Durations are printed, never asserted.
#
# usage: loss.sh NATLAB NETCHECK NATBOX
# Exit: 0 pass, 1 fail, 77 skipped (not root, no namespaces, no natbox).
set -uo pipefail
NATLAB=${1:?usage: loss.sh NATLAB NETCHECK NATBOX}
NETCHECK=${2:?usage: loss.sh NATLAB NETCHECK NATBOX}
export NATLAB_NATBOX=${3:?usage: loss.sh NATLAB NETCHECK NATBOX}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../natlab/common.sh"
need_lab python3
[ -x "$NETCHECK" ] || skip "netcheck is not built ($NETCHECK)"
[ -x "$NATLAB_NATBOX" ] || skip "natbox is not built ($NATLAB_NATBOX)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
lab_init q
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
RUNS=${RUNS:-20}

# The loss probe: stunc.py burst N (N requests paced 2 ms apart, then 1 s
# for stragglers; the first figure is how many were answered).
bad=0
# lab NAME SUFFIX WANT TOPOLOGY [--set ...]: one lab, RUNS netcheck runs.
lab() {
  local name=$1 p="${PFX:0:5}$2" want=$3 topo=$4 seed i rc
  shift 4
  seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
  echo "$name: natlab up $topo${*:+ $*} --set seed=$seed"
  "$NATLAB" up "$topo" --prefix "$p" -q "$@" --set seed="$seed" \
    >"$tmp/$name.up" 2>&1 || { cat "$tmp/$name.up"; fail "natlab up $topo"; }
  for i in $(seq "$RUNS"); do
    "$NATLAB" exec --prefix "$p" h1 -- "$NETCHECK" -4 \
      --server 203.0.113.1:3478 --json >"$tmp/$name.$i.json" \
      2>"$tmp/$name.$i.err"
    rc=$?
    [ $rc = 0 ] || echo "$name run $i: netcheck exited $rc:" \
      "$(cat "$tmp/$name.$i.err")" >>"$tmp/$name.$i.json"
  done
  local answered
  read -r answered _ < <("$NATLAB" exec --prefix "$p" h1 -- \
    python3 "$HERE/../natlab/stunc.py" burst 200)
  "$NATLAB" down --prefix "$p" >/dev/null 2>&1
  echo "$name: loss probe: ${answered:-?}/200 answered (10 % each way: ~162)"
  python3 -c 'import sys; sys.exit(0 if 120 <= int(sys.argv[1]) <= 190 else 1)' \
    "${answered:-0}" || { echo "FAIL: $name: loss probe ${answered:-?}/200 answered, want 120..190" >&2; bad=1; }
  python3 - "$tmp" "$name" "$RUNS" "$want" "$seed" <<'PY' || bad=1
import json, statistics, sys
tmp, name, runs, want, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
apd, ei = "address-and-port-dependent", "endpoint-independent"
expect = {
    "easy": {"udp": True, "mapping": ei, "filtering": apd,
             "port_allocation.kind": "preserving", "hairpinning": False,
             "difficulty": "easy"},
    "hard": {"udp": True, "mapping": apd, "filtering": apd,
             "port_allocation.kind": "random", "hairpinning": False,
             "difficulty": "hard"},
}[want]
durs, tx, wrong = [], 0, 0
for i in range(1, runs + 1):
    path = "%s/%s.%d.json" % (tmp, name, i)
    text = open(path).read()
    try:
        d = json.loads(text)
        got = {k: (d["port_allocation"]["kind"] if k == "port_allocation.kind"
                   else d[k]) for k in expect}
    except (ValueError, KeyError, TypeError) as e:
        print("FAIL: %s run %d (seed %s): no report (%s):\n%s" % (
            name, i, seed, e, text), file=sys.stderr)
        wrong += 1
        continue
    diff = {k: (got[k], v) for k, v in expect.items() if got[k] != v}
    if diff:
        print("FAIL: %s run %d (seed %s): %s\n%s" % (
            name, i, seed, "; ".join("%s = %r, want %r" % (k, g, w)
                                     for k, (g, w) in diff.items()),
            json.dumps(d, indent=2)), file=sys.stderr)
        wrong += 1
        continue
    durs.append(d["duration_ms"])
    tx += sum(s["transmissions"] or 0 for s in d["servers"])
print("%s: %d/%d runs agree (%s mapping, %s filtering, %s, hairpinning %s, "
      "%s); basic test transmissions %d for %d runs" % (
    name, runs - wrong, runs, expect["mapping"], expect["filtering"],
    expect["port_allocation.kind"], expect["hairpinning"],
    expect["difficulty"], tx, len(durs)))
if durs:
    durs.sort()
    print("%s: duration_ms median %.1f, max %.1f (printed, not asserted)" % (
        name, statistics.median(durs), durs[-1]))
sys.exit(1 if wrong else 0)
PY
}

lab wan-loss p easy wan-loss
lab wan-delay-symmetric-loss s hard wan-delay-symmetric --set loss=0.1
[ $bad = 0 ] || fail "netcheck's verdict changed under 10 % loss (see above)"
echo "PASS: lab.netcheck.loss"
