#!/usr/bin/env bash
# punch benchmark (prints figures; never passes or fails on them).
#
# Issue goal: from both peers registered (each peer got the other's blob
# from the rendezvous) to QUIC confirmed, with 20 ms each way between the
# peers, in at most 3 RTT + 20 ms.
#
# Lab: tests/bench/punch-delay.topo, two hosts ha, hb behind two kernel
# NATs na, nb; each NAT's WAN link is a natbox delay line of 10 ms each way
# (`link na delay=10`, `link nb delay=10`). So:
#   peer to peer (ha -> na -> wan -> nb -> hb): 10 + 10 = 20 ms each way,
#     a 40 ms round trip;
#   each peer to the rendezvous (`punch serve` on the wan node,
#     203.0.113.1:4000) and to coturn (203.0.113.1:3478): 10 ms each way,
#     a 20 ms round trip.
# Scenarios: port-restricted x port-restricted and full-cone x full-cone.
#
# Per scenario: one lab, one `punch serve`, then RUNS runs (default 10) of
# both peers `punch connect --rendezvous 203.0.113.1:4000 --room CODE
# --json --timeout 10` at once (a fresh room each run). Printed:
#   - per run: times_ms.peer_to_confirmed of both peers, their rtt_ms, the
#     controlling peer's phases (peer blob -> first check ok -> selected ->
#     QUIC confirmed) and the selected path;
#   - median and p90 of peer_to_confirmed (controlling, controlled, and the
#     slower of the two per run);
#   - the reference, measured in the same lab in the same run, before,
#     between and after the punch runs: STUN Binding round trips (one at a
#     time; 20 before, 4 after each run, 20 after) from ha and from hb to
#     coturn on the wan node (203.0.113.1:3478, beside the rendezvous).
#     The peers' packets cross exactly these links (ha - na -
#     natbox - wan - natbox - nb - hb), so the peer path RTT is the sum of
#     the two medians; each one is also the rendezvous RTT. punch's own
#     rtt_ms (its selected pair's check) is printed beside it;
#   - the goal 3 RTT + 20 ms with RTT = the measured peer path RTT (and,
#     for comparison, with the configured 40 ms), the ratio median / goal,
#     and the medians in RTTs.
#
# Usage: punch_bench.sh [BUILD_DIR [RUNS]]   (BUILD_DIR default "build":
#   BUILD/tools/natlab/natlab, BUILD/tools/punch/punch,
#   BUILD/tools/natbox/natbox; RUNS default $PUNCH_BENCH_RUNS, else 10).
#   Needs root; exits 77 with a one-line reason otherwise. Traffic stays in
#   namespaces made here; the lab is torn down on exit (also on failure or
#   Ctrl-C). Waits on FIFO lines and process exits, never on sleeps.
set -uo pipefail
BUILD=${1:-build}
RUNS=${2:-${PUNCH_BENCH_RUNS:-10}}
HERE=$(cd "$(dirname "$0")" && pwd)
TOPO=$HERE/punch-delay.topo
NATLAB=$BUILD/tools/natlab/natlab
PUNCH=$BUILD/tools/punch/punch
export NATLAB_NATBOX=$BUILD/tools/natbox/natbox
RDV=203.0.113.1:4000
PINGS=20 # STUN round trips per peer host before and after the runs
PINGS_RUN=4 # and after each run

skip() {
  echo "SKIP: punch_bench: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
case $RUNS in '' | *[!0-9]* | 0) skip "RUNS must be a positive number, got '$RUNS'" ;; esac
for f in "$NATLAB" "$PUNCH" "$NATLAB_NATBOX"; do
  [ -x "$f" ] || skip "$f is not built"
done
for p in python3 ip nft turnserver mkfifo; do
  command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
[ -r "$TOPO" ] || skip "$TOPO is missing"

PFX="pb$(printf '%04d' $(($$ % 10000)))"
export NATLAB_STATE_DIR="/run/natlab-bench-$PFX"
TMP=$(mktemp -d)
SRV_PID='' CAT_PID='' # punch serve and the reader of its log
PA='' PB=''         # the two punch connect of a run
cleanup() {
  local p
  for p in $SRV_PID $PA $PB; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  [ -n "$CAT_PID" ] && wait "$CAT_PID" 2>/dev/null
  "$NATLAB" down --all >/dev/null 2>&1 || true
  rmdir "$NATLAB_STATE_DIR" 2>/dev/null || true
  for p in $(ip netns list | awk '{print $1}' | grep "^$PFX-" || true); do
    ip netns del "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "punch_bench: $*" >&2
  exit 3
}

x() { # NODE CMD...: run CMD in the lab's NODE (natlab exec execs in place)
  local n=$1
  shift
  "$NATLAB" exec --prefix "$PFX" "$n" -- "$@"
}

# STUN pinger for the reference RTT: one Binding request at a time, each
# waits for its answer (1 s at most); prints the RTTs in ms.
cat >"$TMP/rtt.py" <<'PY'
import os, select, socket, struct, sys, time
src, dst, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
rtts = []
for i in range(count):
    tid = os.urandom(12)
    t0 = time.perf_counter()
    s.sendto(struct.pack("!HHI", 1, 0, 0x2112A442) + tid, (dst, port))
    deadline = t0 + 1.0
    while True:
        left = deadline - time.perf_counter()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            break
        d = s.recv(2048)
        if len(d) >= 20 and d[8:20] == tid:
            rtts.append((time.perf_counter() - t0) * 1000.0)
            break
print(" ".join("%.3f" % r for r in rtts))
PY

# reference [COUNT]: STUN round trips from each peer host to the wan node,
# appended to $TMP/NAME.rdv.ha and .hb
reference() {
  local n=${1:-$PINGS}
  x ha python3 "$TMP/rtt.py" 192.168.1.2 203.0.113.1 3478 "$n" \
    >>"$TMP/$NAME.rdv.ha" || die "STUN ha -> wan failed"
  x hb python3 "$TMP/rtt.py" 192.168.2.2 203.0.113.1 3478 "$n" \
    >>"$TMP/$NAME.rdv.hb" || die "STUN hb -> wan failed"
}

# serve: punch serve on the wan node, waited for by its "listening" line.
serve() {
  local fifo="$TMP/srv.fifo" line
  rm -f "$fifo"
  mkfifo "$fifo"
  # not through x(): $! must be punch's own pid (natlab exec execs)
  "$NATLAB" exec --prefix "$PFX" wan -- "$PUNCH" serve --listen "$RDV" \
    2>"$fifo" &
  SRV_PID=$!
  exec 5<"$fifo"
  read -r line <&5 || die "punch serve did not start"
  case $line in *listening*) ;; *) die "punch serve: $line" ;; esac
  cat <&5 >"$TMP/$NAME.srv.log" &
  CAT_PID=$!
  exec 5<&-
}

stop_serve() {
  kill "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null
  wait "$CAT_PID" 2>/dev/null # ends at the FIFO's end of file
  SRV_PID='' CAT_PID=''
}

# scenario NAME KIND_A KIND_B
scenario() {
  NAME=$1
  local ka=$2 kb=$3 i room ra rb
  echo "# $NAME: natlab up punch-delay.topo --set a=$ka --set b=$kb" \
    "(10 ms each way on each NAT's WAN link); $RUNS runs" >&2
  "$NATLAB" up "$TOPO" --prefix "$PFX" -q --set "a=$ka" --set "b=$kb" \
    >"$TMP/up.log" 2>&1 || {
    cat "$TMP/up.log" >&2
    die "natlab up $TOPO --set a=$ka --set b=$kb failed"
  }
  echo "$NAME|$ka|$kb" >>"$TMP/scenarios"
  reference
  serve
  for i in $(seq "$RUNS"); do
    room="bench-$$-$NAME-run$i"
    "$NATLAB" exec --prefix "$PFX" ha -- "$PUNCH" connect --rendezvous "$RDV" \
      --room "$room" --json --timeout 10 \
      >"$TMP/$NAME.$i.a.json" 2>"$TMP/$NAME.$i.a.err" &
    PA=$!
    "$NATLAB" exec --prefix "$PFX" hb -- "$PUNCH" connect --rendezvous "$RDV" \
      --room "$room" --json --timeout 10 \
      >"$TMP/$NAME.$i.b.json" 2>"$TMP/$NAME.$i.b.err" &
    PB=$!
    wait "$PA"
    ra=$?
    wait "$PB"
    rb=$?
    PA='' PB=''
    echo "$i $ra $rb" >>"$TMP/$NAME.exits"
    echo "#   run $i/$RUNS: exits $ra/$rb" >&2
    reference "$PINGS_RUN"
  done
  stop_serve
  reference
  "$NATLAB" down --prefix "$PFX" >/dev/null 2>&1
}

cut -d' ' -f1-3 /proc/loadavg >"$TMP/load.start"
echo "punch_bench: $RUNS runs per NAT pair; peers 20 ms each way" \
  "(10 ms on each NAT's WAN link), rendezvous 10 ms each way" >&2
scenario prc-prc port-restricted port-restricted
scenario fc-fc full-cone full-cone
cut -d' ' -f1-3 /proc/loadavg >"$TMP/load.end"

python3 - "$TMP" "$RUNS" <<'PY'
import json, math, os, statistics, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
NOMINAL_RTT = 40.0  # configured: 2 x (10 + 10) ms

def p90(xs):
    xs = sorted(xs)
    return xs[max(0, math.ceil(0.9 * len(xs)) - 1)]

def floats(path):
    out = []
    for line in open(path):
        out += [float(v) for v in line.split()]
    return out

def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None

def span(t, a, b):
    if t.get(a) is None or t.get(b) is None:
        return None
    return t[b] - t[a]

def fmt(v):
    return "%6.1f" % v if v is not None else "     -"

print("punch_bench (figures only; nothing passes or fails on time)")
print("load average (1, 5, 15 min) at start: %s, at end: %s (on %d CPUs: delays"
      " in natbox and in the peers grow with it)" % (
          open(tmp + "/load.start").read().strip(),
          open(tmp + "/load.end").read().strip(), os.cpu_count() or 0))
print("lab: tests/bench/punch-delay.topo: 10 ms each way on each NAT's WAN "
      "link (natbox), so peer to peer 20 ms each way (40 ms RTT configured),")
print("     peer to rendezvous 10 ms each way (20 ms RTT configured)")
print("p2c = times_ms.peer_to_confirmed (this peer got the other's blob -> "
      "QUIC confirmed); phases of the controlling peer from times_ms:")
print("     chk = peer -> first_check_ok, nom = first_check_ok -> selected, "
      "quic = selected -> quic_confirmed")
for line in open(tmp + "/scenarios"):
    name, ka, kb = line.strip().split("|")
    print()
    print("%s: ha behind %s NAT, hb behind %s NAT" % (name, ka, kb))
    rha = floats("%s/%s.rdv.ha" % (tmp, name))
    rhb = floats("%s/%s.rdv.hb" % (tmp, name))
    exits = {}
    for l in open("%s/%s.exits" % (tmp, name)):
        f = l.split()
        exits[int(f[0])] = f[1:]
    ctl, ctd, worst, rtts = [], [], [], []
    ph = {"chk": [], "nom": [], "quic": [], "fc2c": []}
    print("  run  ha role      p2c ms   hb role      p2c ms   rtt_ms ha/hb"
          "    chk    nom   quic  selected path")
    failed = 0
    for i in range(1, runs + 1):
        a = load("%s/%s.%d.a.json" % (tmp, name, i))
        b = load("%s/%s.%d.b.json" % (tmp, name, i))
        if not (a and b and a["ok"] and b["ok"] and exits.get(i) == ["0", "0"]):
            failed += 1
            why = []
            for tag, d, k in (("ha", a, 0), ("hb", b, 1)):
                rc = exits.get(i, ["?", "?"])[k]
                f = (d or {}).get("failure") or {}
                why.append("%s exit %s%s" % (tag, rc, ": " + f["reason"] if f else ""))
            print("  %3d  FAILED: %s" % (i, "; ".join(why)))
            continue
        c = a if a["role"] == "controlling" else b
        d = b if c is a else a
        pa = a["times_ms"]["peer_to_confirmed"]
        pb = b["times_ms"]["peer_to_confirmed"]
        ctl.append(c["times_ms"]["peer_to_confirmed"])
        ctd.append(d["times_ms"]["peer_to_confirmed"])
        worst.append(max(pa, pb))
        rtts += [r for r in (a["rtt_ms"], b["rtt_ms"]) if r is not None]
        t = c["times_ms"]
        sp = {"chk": span(t, "peer", "first_check_ok"),
              "nom": span(t, "first_check_ok", "selected"),
              "quic": span(t, "selected", "quic_confirmed"),
              "fc2c": t.get("first_check_to_confirmed")}
        for k, v in sp.items():  # fc2c is not printed per run
            if v is not None:
                ph[k].append(v)
        sel = c["selected"]
        print("  %3d  %-11s %6.1f   %-11s %6.1f   %5.1f / %5.1f  %s %s %s  %s -> %s" % (
            i, a["role"], pa, b["role"], pb, a["rtt_ms"] or 0, b["rtt_ms"] or 0,
            fmt(sp["chk"]), fmt(sp["nom"]), fmt(sp["quic"]),
            sel["local"]["type"], sel["remote"]["type"]))
    print("  connected in %d/%d runs" % (runs - failed, runs))
    if not rha or not rhb:
        print("  no reference RTT (STUN to the wan node unanswered)")
        continue
    mha, mhb = statistics.median(rha), statistics.median(rhb)
    rtt = mha + mhb
    print("  reference, same lab, same run (STUN Binding round trips to "
          "203.0.113.1:3478 before, between and after the punch runs):")
    print("    ha <-> wan (rendezvous RTT of ha): median %5.1f ms, p90 %5.1f ms (%d)" % (
        mha, p90(rha), len(rha)))
    print("    hb <-> wan (rendezvous RTT of hb): median %5.1f ms, p90 %5.1f ms (%d)" % (
        mhb, p90(rhb), len(rhb)))
    print("    peer path RTT = sum of the medians: %5.1f ms (configured %.0f ms)" % (
        rtt, NOMINAL_RTT))
    if rtts:
        print("    punch's own rtt_ms (selected pair's check), both peers: "
              "median %5.1f ms, p90 %5.1f ms" % (statistics.median(rtts), p90(rtts)))
    if not worst:
        continue
    goal = 3 * rtt + 20
    goal_nom = 3 * NOMINAL_RTT + 20
    print("  goal: 3 RTT + 20 ms = 3 x %.1f + 20 = %.1f ms (with the configured "
          "40 ms: %.0f ms)" % (rtt, goal, goal_nom))
    row = "  %-36s %9s %9s %8s %9s %9s"
    print(row % ("peer_to_confirmed", "median", "p90", "in RTTs",
                 "med/goal", "/goal@40"))
    for label, xs in (("controlling peer (QUIC client)", ctl),
                      ("controlled peer (QUIC server)", ctd),
                      ("slower peer of each run", worst)):
        m = statistics.median(xs)
        print(row % (label, "%.1f ms" % m, "%.1f ms" % p90(xs), "%.2f" % (m / rtt),
                     "%.2f x" % (m / goal), "%.2f x" % (m / goal_nom)))
    m = statistics.median(worst)
    print("  RATIO median / goal (slower peer): %.2f x -> %s (%.0f ms %s the goal)" % (
        m / goal, "goal met" if m <= goal else "goal MISSED",
        abs(m - goal), "under" if m <= goal else "over"))
    print("  controlling peer's phases, medians:")
    for k, label in (("chk", "peer blob -> first check ok"),
                     ("nom", "first check ok -> selected (nomination)"),
                     ("quic", "selected -> QUIC confirmed (handshake)"),
                     ("fc2c", "first check ok -> QUIC confirmed")):
        if ph[k]:
            v = statistics.median(ph[k])
            print("    %-42s %6.1f ms  %5.2f RTT" % (label, v, v / rtt))
PY
