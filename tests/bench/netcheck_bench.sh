#!/usr/bin/env bash
# netcheck benchmark (prints figures; never passes or fails on them).
#
# In natlab labs whose WAN link delays 20 ms each way (40 ms RTT, natbox
# link), without loss and with 10 % and 20 % loss each way, on a
# port-restricted NAT (wan-delay; wan-loss --set delay=20 --set loss=L) and
# on a symmetric NAT (APD mapping and filtering: wan-delay-symmetric, with
# --set loss=L for the lossy cases):
#   - netcheck's full report (`netcheck -4 --server 203.0.113.1:3478
#     --json`), RUNS times (default 20): median and p90 of its own
#     duration_ms and of the wall clock around `natlab exec` (so the wall
#     clock includes entering the namespace and starting the process);
#   - the reference, measured in the same lab in the same run:
#     `turnutils_natdiscovery -m -f 203.0.113.1` and `-H 203.0.113.1`, wall
#     clock, ND_RUNS times (default 3; each takes about 6 s on an APD
#     filter because every unanswered probe costs it 3 s);
#   - the ratio natdiscovery / netcheck (medians of the wall clocks), and
#     the verdicts each tool gave (how many runs said what).
# Goals, printed beside the figures: netcheck's full report (duration_ms)
# median <= 0.3 s without loss, p90 <= 1 s with 10 % loss each way, and
# with 10 % and 20 % loss every run gives the lossless lab's verdict (the
# lossless lab's most common one, "verdicts unchanged: N/RUNS");
# turnutils_natdiscovery -m -f > 6 s on an APD filter (the gap netcheck's
# RTT-adaptive timeouts close).
#
# Usage: netcheck_bench.sh [BUILD_DIR [RUNS [ND_RUNS]]]   (BUILD_DIR default
#   "build": BUILD/tools/natlab/natlab, BUILD/tools/netcheck,
#   BUILD/tools/natbox/natbox). NETCHECK_BEFORE=path/to/another/netcheck
#   also runs that binary (an older build) RUNS times in the same labs,
#   alternating with this one, and prints its figures, its verdicts and
#   the ratio before / after beside them.
# Before every run the NAT's connection-tracking table is flushed
# (`conntrack -F` in the lab's NAT "home"), so that each run meets the NAT
# as a first run would: otherwise a socket that gets the local port an
# earlier run's socket had (ephemeral ports are reused) inherits that
# socket's conntrack entries, e.g. towards the server's other address, and
# the NAT lets in what it would filter (seen: 1 run in 100 to 200 on the
# port-restricted NAT read as endpoint-independent filtering). Needs root; exits 77 with a one-line reason
#   otherwise. Traffic stays in namespaces made here; the lab is torn down
#   on exit. Each lossy lab gets a fresh random natbox seed (printed).
set -uo pipefail
BUILD=${1:-build}
RUNS=${2:-20}
ND_RUNS=${3:-3}
NATLAB=$BUILD/tools/natlab/natlab
NETCHECK=$BUILD/tools/netcheck
export NATLAB_NATBOX=$BUILD/tools/natbox/natbox
skip() {
  echo "SKIP: netcheck_bench: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
BEFORE=${NETCHECK_BEFORE:-}
for f in "$NATLAB" "$NETCHECK" "$NATLAB_NATBOX" ${BEFORE:+"$BEFORE"}; do
  [ -x "$f" ] || skip "$f is not built"
done
for p in turnutils_natdiscovery turnserver python3 ip nft conntrack; do
  command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

PFX="nb$(printf '%04d' $(($$ % 10000)))"
export NATLAB_STATE_DIR="/run/natlab-bench-$PFX"
TMP=$(mktemp -d)
cleanup() {
  "$NATLAB" down --all >/dev/null 2>&1 || true
  rmdir "$NATLAB_STATE_DIR" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { echo "$EPOCHREALTIME"; }

# the NAT forgets earlier runs (see the top)
fresh_nat() {
  "$NATLAB" exec --prefix "$PFX" home -- conntrack -F >/dev/null 2>&1 ||
    echo "netcheck_bench: conntrack -F in the NAT failed" >&2
}

# netcheck_run BINARY TAG I: one report into $TMP/TAG.I.json, its wall
# clock appended to $TMP/TAG.wall.
netcheck_run() {
  local t0 t1
  fresh_nat
  t0=$(now)
  "$NATLAB" exec --prefix "$PFX" h1 -- "$1" -4 \
    --server 203.0.113.1:3478 --json >"$TMP/$2.$3.json" 2>/dev/null
  t1=$(now)
  echo "$t0 $t1" >>"$TMP/$2.wall"
}

# scenario NAME TOPOLOGY [--set K=V]...: one lab, the runs, raw figures
# appended to $TMP/NAME.*.
scenario() {
  local name=$1 topo=$2 seed i t0 t1
  shift 2
  # a lossy lab gets a fresh seed (which packets natbox drops)
  seed=-
  case $name in *-loss*)
    seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
    set -- "$@" --set seed="$seed" ;;
  esac
  echo "# $name: natlab up $topo${*:+ $*}" >&2
  "$NATLAB" up "$topo" --prefix "$PFX" -q "$@" >"$TMP/up.log" 2>&1 || {
    cat "$TMP/up.log" >&2
    echo "netcheck_bench: natlab up $topo failed" >&2
    exit 3
  }
  echo "$name|$topo${*:+ $*}|$seed" >>"$TMP/scenarios"
  for i in $(seq "$RUNS"); do
    netcheck_run "$NETCHECK" "$name.nc" "$i"
    [ -z "$BEFORE" ] || netcheck_run "$BEFORE" "$name.ncb" "$i"
  done
  for i in $(seq "$ND_RUNS"); do
    for mode in mf H; do
      local args=(-m -f)
      [ $mode = H ] && args=(-H)
      fresh_nat
      t0=$(now)
      "$NATLAB" exec --prefix "$PFX" h1 -- turnutils_natdiscovery \
        "${args[@]}" 203.0.113.1 >"$TMP/$name.$mode.$i.out" 2>&1
      t1=$(now)
      echo "$t0 $t1" >>"$TMP/$name.$mode.wall"
    done
  done
  "$NATLAB" down --prefix "$PFX" >/dev/null 2>&1
}

echo "netcheck_bench: $RUNS netcheck runs and $ND_RUNS of each" \
  "turnutils_natdiscovery mode per lab; 20 ms each way on the WAN link" >&2
scenario pr-delay wan-delay
scenario pr-delay-loss10 wan-loss --set delay=20 --set loss=0.1
scenario pr-delay-loss20 wan-loss --set delay=20 --set loss=0.2
scenario sym-delay wan-delay-symmetric
scenario sym-delay-loss10 wan-delay-symmetric --set loss=0.1
scenario sym-delay-loss20 wan-delay-symmetric --set loss=0.2

python3 - "$TMP" "$RUNS" "$ND_RUNS" "$BEFORE" <<'PY'
import collections, json, math, re, statistics, sys
tmp, runs, nd_runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
before = sys.argv[4] != ""

def reports(name, mode):
    """duration_ms of each run (s), verdict counts, runs without JSON"""
    durs, verdicts, failed = [], collections.Counter(), 0
    for i in range(1, runs + 1):
        try:
            d = json.load(open("%s/%s.%s.%d.json" % (tmp, name, mode, i)))
        except ValueError:
            failed += 1
            continue
        durs.append(d["duration_ms"] / 1000.0)
        verdicts["%s / %s / %s / hairpin %s" % (
            d["mapping"], d["filtering"], d["port_allocation"]["kind"],
            d["hairpinning"])] += 1
    return durs, verdicts, failed

def p90(xs):
    xs = sorted(xs)
    return xs[max(0, math.ceil(0.9 * len(xs)) - 1)]

def walls(name, mode):
    out = []
    for line in open("%s/%s.%s.wall" % (tmp, name, mode)):
        a, b = map(float, line.split())
        out.append(b - a)
    return out

def nd_verdict(name, mode, i):
    text = open("%s/%s.%s.%d.out" % (tmp, name, mode, i)).read()
    found = [s.strip() for s in re.findall(r"^\s*NAT with[^\n]*$", text, re.M)]
    found.append("%d receive timeouts" % text.count("STUN receive timeout"))
    return " / ".join(found)

row = "  %-34s %4s %9s %9s  %s"
print("netcheck_bench (figures only; nothing passes or fails on time)")
lossless = {}  # NAT kind -> the lossless lab's most common verdict
for line in open(tmp + "/scenarios"):
    name, topo, seed = line.strip().split("|")
    kind, _, loss = name.partition("-delay")
    loss = loss.lstrip("-")
    apd = True  # every scenario here filters address-and-port-dependently
    print()
    print("%s: natlab up %s" % (name, topo))
    print(row % ("measure", "runs", "median", "p90", "goal"))
    durs, verdicts, failed = reports(name, "nc")
    nc_wall = walls(name, "nc")
    if durs:
        med, q90 = statistics.median(durs), p90(durs)
        if loss == "":
            goal = "median <= 0.3 s: %s" % ("met" if med <= 0.3 else "MISSED")
        elif loss == "loss10":
            goal = "p90 <= 1 s: %s" % ("met" if q90 <= 1.0 else "MISSED")
        else:
            goal = ""
        print(row % ("netcheck duration_ms", len(durs), "%.3f s" % med,
                     "%.3f s" % q90, goal))
    wmed = statistics.median(nc_wall)
    print(row % ("netcheck wall clock", len(nc_wall), "%.3f s" % wmed,
                 "%.3f s" % p90(nc_wall), ""))
    if before:
        bdurs, bverdicts, bfailed = reports(name, "ncb")
        if bdurs:
            print(row % ("before: netcheck duration_ms", len(bdurs),
                         "%.3f s" % statistics.median(bdurs),
                         "%.3f s" % p90(bdurs), ""))
        if bdurs and durs:
            print("  ratio before / after (duration_ms): median %.1f x, "
                  "p90 %.1f x" % (statistics.median(bdurs) / med,
                                  p90(bdurs) / q90))
        for v, n in bverdicts.most_common():
            print("  before: netcheck verdict %2d/%d: %s" % (n, runs, v))
        if bfailed:
            print("  before: netcheck gave no JSON in %d/%d runs" % (
                bfailed, runs))
    nd = {}
    for mode, label in (("mf", "natdiscovery -m -f wall clock"),
                        ("H", "natdiscovery -H wall clock")):
        w = walls(name, mode)
        nd[mode] = statistics.median(w)
        goal = ""
        if mode == "mf" and apd:
            goal = "> 6 s (APD filter): %s" % ("met" if nd[mode] > 6 else "MISSED")
        print(row % (label, len(w), "%.3f s" % nd[mode], "%.3f s" % p90(w), goal))
    print("  ratio natdiscovery -m -f / netcheck (median wall clock): %.1f x" % (
        nd["mf"] / wmed))
    print("  ratio natdiscovery -H    / netcheck (median wall clock): %.1f x" % (
        nd["H"] / wmed))
    print("  ratio (-m -f + -H) / netcheck full report:               %.1f x" % (
        (nd["mf"] + nd["H"]) / wmed))
    for v, n in verdicts.most_common():
        print("  netcheck verdict %2d/%d: %s" % (n, runs, v))
    if loss == "" and verdicts:
        lossless[kind] = verdicts.most_common(1)[0][0]
    elif kind in lossless:
        same = verdicts.get(lossless[kind], 0)
        print("  verdicts unchanged (as without loss): %d/%d: %s" % (
            same, runs, "met" if same == runs else "MISSED"))
    if failed:
        print("  netcheck gave no JSON in %d/%d runs" % (failed, runs))
    for mode in ("mf", "H"):
        c = collections.Counter(nd_verdict(name, mode, i)
                                for i in range(1, nd_runs + 1))
        for v, n in c.most_common():
            print("  natdiscovery %-4s %d/%d: %s" % (
                "-m -f" if mode == "mf" else "-H", n, nd_runs, v))
PY
