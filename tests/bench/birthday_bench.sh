#!/usr/bin/env bash
# birthday benchmark (prints figures; never passes or fails on them).
#
# Issue 11's goals: port-restricted x symmetric-random connects in at least
# 99 % of trials within the default timeout, median time from both peers
# registered to QUIC confirmed at most 3 s at 20 ms each way and at most
# 250 probes/s (the defaults: 256 acceptor sockets, 2,048 probes,
# 250 probes/s); with a 4,096-port range, median at most 1 s.
#
# Lab: tests/bench/birthday-delay.topo, ha behind a port-restricted kernel
# NAT (the easy side, the dialer), hb behind a symmetric kernel NAT (the
# acceptor) drawing ports at random from the whole range (1024-65535), then
# from 10000-14095; each NAT's WAN link a natbox delay line of 10 ms each
# way, so peer to peer is 20 ms each way (a 40 ms round trip) and each
# peer to the rendezvous is 10 ms each way, as in punch_bench.sh.
#
# Each scenario is `natlab run birthday --topology birthday-delay.topo
# --trials N` (N trials of both peers' `punch connect --json` at once,
# each in a fresh lab with its own rendezvous; natlab(1)). Printed per
# scenario: trials connected (and by which strategy), the success rate
# with its Wilson 95 % interval against the predicted probability the
# peers' reports give, time from both registered to both QUIC confirmed
# (median, p90, max) against the goal, the spray's packets (dialer's
# probes + acceptor's keepalives) and the probe that hit (median, p90).
#
# Usage: birthday_bench.sh [BUILD_DIR [TRIALS]]  (BUILD_DIR default
#   "build": BUILD/tools/natlab/natlab, BUILD/tools/punch/punch,
#   BUILD/tools/natbox/natbox; TRIALS default $BIRTHDAY_BENCH_TRIALS, else
#   40, at least 40). Needs root; exits 77 with a one-line reason
#   otherwise. Traffic stays in namespaces natlab makes; natlab tears each
#   lab down (also on failure or Ctrl-C). Results: $BIRTHDAY_BENCH_OUT
#   (default a temporary directory, removed) gets full.json/.md and
#   range4096.json/.md.
set -uo pipefail
BUILD=${1:-build}
TRIALS=${2:-${BIRTHDAY_BENCH_TRIALS:-40}}
HERE=$(cd "$(dirname "$0")" && pwd)
TOPO=$HERE/birthday-delay.topo
NATLAB=$BUILD/tools/natlab/natlab
export NATLAB_PUNCH=$BUILD/tools/punch/punch
export NATLAB_NATBOX=$BUILD/tools/natbox/natbox

skip() {
  echo "SKIP: birthday_bench: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
case $TRIALS in '' | *[!0-9]*) skip "TRIALS must be a number, got '$TRIALS'" ;; esac
[ "$TRIALS" -ge 40 ] || skip "TRIALS must be at least 40 (the goal is a rate over >= 40 trials), got $TRIALS"
for f in "$NATLAB" "$NATLAB_PUNCH" "$NATLAB_NATBOX"; do
  [ -x "$f" ] || skip "$f is not built"
done
for p in python3 ip nft turnserver; do
  command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
[ -r "$TOPO" ] || skip "$TOPO is missing"

OUT=${BIRTHDAY_BENCH_OUT:-}
KEEP=1
if [ -z "$OUT" ]; then
  OUT=$(mktemp -d)
  KEEP=0
fi
mkdir -p "$OUT" || skip "cannot make $OUT"
# natlab's state of this run only, so nothing here touches other labs
export NATLAB_STATE_DIR="/run/natlab-bench-bd$$"
trap 'rmdir "$NATLAB_STATE_DIR" 2>/dev/null; [ $KEEP = 1 ] || rm -rf "$OUT"' EXIT

echo "birthday bench: port-restricted x symmetric, 20 ms each way peer to peer, $TRIALS trials a scenario"
echo "punch: $NATLAB_PUNCH"
for scen in full:1024-65535:3000 range4096:10000-14095:1000; do
  IFS=: read -r name range goal <<<"$scen"
  echo
  echo "== $name: hb's NAT draws ports from $range (goal: >= 99 % connected, median <= $goal ms)"
  "$NATLAB" run birthday --topology "$TOPO" --set range="$range" \
    --trials "$TRIALS" --jobs 1 --json "$OUT/$name.json" --md "$OUT/$name.md" \
    >/dev/null
  rc=$?
  if [ ! -s "$OUT/$name.json" ]; then
    echo "  natlab run birthday wrote no results (exit $rc)"
    continue
  fi
  python3 - "$OUT/$name.json" "$goal" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
goal = float(sys.argv[2])
(c,) = d["cases"]
runs = c["runs"]
n = len(runs)
def q(xs, p):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    return xs[max(0, math.ceil(p * len(xs)) - 1)]
def f(x, fmt="%.0f"):
    return "-" if x is None else fmt % x
o = c["outcomes"]
strat = {}
for r in runs:
    if r["outcome"] == "connected":
        # one connection, one strategy; "ha X / hb Y" when the peers disagree
        k = r["strategy"] or "ha %s / hb %s" % tuple(r["strategies"])
        strat[k] = strat.get(k, 0) + 1
print("  trials %d: connected %d (%s), failed %d, refused %d, other %d" % (
    n, o["connected"], ", ".join("%s %d" % kv for kv in sorted(strat.items(), key=str)) or "-",
    o["failed"], o["refused"], o["one-sided"] + o["error"]))
lo, hi = c["ci95"]
print("  success %s, Wilson 95 %% [%.3f, %.3f] over %d spray trials; predicted p %s: %s" % (
    f(c["measured_p"], "%.3f"), lo, hi, c["spray_trials"], f(c["predicted_p"], "%.4f"),
    {True: "inside", False: "OUTSIDE", None: "not compared"}[c["prediction_inside"]]))
t = [r["time_ms"] for r in runs]
med, p90, mx = q(t, 0.5), q(t, 0.9), q(t, 1.0)
print("  both registered -> both QUIC confirmed: median %s ms, p90 %s ms, max %s ms; goal %d ms%s" % (
    f(med), f(p90), f(mx), goal, "" if med is None else " (median / goal %.2f)" % (med / goal)))
pk = [r["packets"] for r in runs]
hit = [r["hit_probe"] for r in runs]
print("  spray packets (probes + keepalives, both peers): median %s, p90 %s; hit at probe: median %s, p90 %s" % (
    f(q(pk, 0.5)), f(q(pk, 0.9)), f(q(hit, 0.5)), f(q(hit, 0.9))))
for r in runs:
    if r["outcome"] not in ("connected", "refused"):
        pa = r["a"]
        print("  trial %d %s: ha: %s" % (r["trial"], r["outcome"],
              pa["failure_reason"] or pa["stderr"] or "exit %s" % pa["exit_code"]))
bd = next((r["a"]["birthday"] for r in runs if r["a"]["birthday"]), None)
if bd:
    pr = bd.get("predicted") or {}
    print("  plan (ha's report): role %s, %s sockets, %s probes at %s/s over %s (%s ports); "
          "50 %% at %s probes, 99 %% at %s; %s s median, %s s for all" % (
              bd.get("role"), bd.get("sockets"), bd.get("probes"), bd.get("rate"),
              bd.get("range"), bd.get("range_ports"), pr.get("probes_50"), pr.get("probes_99"),
              pr.get("seconds_median"), pr.get("seconds_all")))
else:
    print("  no birthday object in the reports (the spray is not in this punch)")
PY
done
