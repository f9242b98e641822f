#!/usr/bin/env bash
# natbox benchmark (prints figures; never passes or fails on them).
#   forwarding: UDP blasted for SECONDS (64-byte datagrams) through
#     natbox --nat none and --nat box at no delay, counted at the receiver,
#     next to the same blast over a plain veth pair (the reference) in the
#     same round; ROUNDS rounds (default 3), each round measuring veth, none
#     and box back to back; prints pps and the ratio to that round's veth,
#     and the median of each over the rounds;
#   delay accuracy: 200 UDP probes 10 ms apart through natbox --up-delay 20
#     (20 ms one way, none back): RTT minus the configured 20 ms, median and
#     p99, raw and net of the median RTT through natbox with no delay.
# Sender, natbox and receiver share the machine's CPUs (2 on the lab VMs),
# with whatever else runs there: the same-round ratio is the figure to
# compare between runs, not the absolute pps.
# Usage: natbox_bench.sh PATH/TO/natbox PATH/TO/udpblast [SECONDS [ROUNDS]]
# Needs root. Traffic stays in namespaces made here (198.51.100.0/24,
# 203.0.113.0/24, 192.168.1.0/24 inside them).
set -euo pipefail
NATBOX=${1:?usage: natbox_bench.sh natbox udpblast [seconds]}
BLAST=${2:?usage: natbox_bench.sh natbox udpblast [seconds]}
SECS=${3:-2}
ROUNDS=${4:-3}
[ "$(id -u)" -eq 0 ] || {
  echo "SKIP: natbox_bench needs root"
  exit 77
}
PFX="nbb$$"
A="$PFX-a"
B="$PFX-b"
TMP=$(mktemp -d)
NBPID=""
cleanup() {
  [ -n "$NBPID" ] && kill -TERM "$NBPID" 2>/dev/null && wait "$NBPID" || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

fresh_namespaces() {
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  ip netns add "$A"
  ip netns add "$B"
  for n in "$A" "$B"; do
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
      net.ipv6.conf.default.disable_ipv6=1
    ip -n "$n" link set lo up
  done
}

start_natbox() {
  rm -f "$TMP/ready"
  "$NATBOX" --lan "$A:nb0" --wan "$B:nb0" --ready-file "$TMP/ready" \
    --stats "$TMP/stats.json" "$@" &
  NBPID=$!
  for _ in $(seq 200); do
    [ -s "$TMP/ready" ] && return 0
    sleep 0.025
  done
  echo "natbox not ready" >&2
  exit 1
}

stop_natbox() {
  kill -TERM "$NBPID"
  wait "$NBPID" || true
  NBPID=""
}

wait_bound() { # NS PORT
  for _ in $(seq 200); do
    ip netns exec "$1" ss -Hlun "sport = :$2" | grep -q "$2" && return 0
    sleep 0.01
  done
}

# blast SRC DST: receiver in B on DST:9000, sender in A; sets PPS (run in
# this shell, not in $(...), so that cleanup knows natbox's pid).
blast() {
  ip netns exec "$B" "$BLAST" recv 0.0.0.0 9000 "$SECS" >"$TMP/recv" &
  local rp=$!
  wait_bound "$B" 9000
  ip netns exec "$A" "$BLAST" send "$1" "$2" 9000 "$SECS" >"$TMP/sent"
  wait "$rp"
  local sent pps
  sent=$(awk '{print $2}' "$TMP/sent")
  pps=$(awk '{print $4}' "$TMP/recv")
  echo "  sent $sent in ${SECS}s, $(cat "$TMP/recv")"
  PPS=$pps
}

p2p() {
  ip -n "$A" addr add 198.51.100.1 peer 198.51.100.2 dev nb0
  ip -n "$B" addr add 198.51.100.2 peer 198.51.100.1 dev nb0
}

reference() {
  fresh_namespaces
  ip link add "$PFX-va" netns "$A" type veth peer name "$PFX-vb" netns "$B"
  ip -n "$A" addr add 198.51.100.1/30 dev "$PFX-va"
  ip -n "$B" addr add 198.51.100.2/30 dev "$PFX-vb"
  ip -n "$A" link set "$PFX-va" up
  ip -n "$B" link set "$PFX-vb" up
  blast 198.51.100.1 198.51.100.2
}

through_none() {
  fresh_namespaces
  start_natbox --nat none
  p2p
  blast 198.51.100.1 198.51.100.2
  stop_natbox
}

through_box() {
  fresh_namespaces
  start_natbox --nat box --public 203.0.113.5
  ip -n "$A" addr add 192.168.1.2/24 dev nb0
  ip -n "$A" route add default dev nb0
  ip -n "$B" addr add 198.51.100.10/24 dev nb0
  ip -n "$B" route add 203.0.113.5/32 dev nb0
  blast 192.168.1.2 198.51.100.10
  stop_natbox
}

: >"$TMP/rounds"
for round in $(seq "$ROUNDS"); do
  echo "== round $round: veth reference, natbox --nat none, --nat box (EI)"
  reference
  ref=$PPS
  through_none
  none=$PPS
  through_box
  echo "$ref $none $PPS" >>"$TMP/rounds"
done

echo "== delay accuracy (UDP RTT, 200 probes 10 ms apart)"
rtt() { # OUTFILE natbox args...
  local out=$1
  shift
  fresh_namespaces
  start_natbox --nat none "$@"
  p2p
  ip netns exec "$B" "$BLAST" echo 198.51.100.2 9001 6 &
  local ep=$!
  wait_bound "$B" 9001
  ip netns exec "$A" "$BLAST" ping 198.51.100.1 198.51.100.2 9001 200 10 \
    >"$out"
  kill "$ep" 2>/dev/null || true
  wait "$ep" 2>/dev/null || true
  stop_natbox
}
rtt "$TMP/rtt0"
rtt "$TMP/rtt20" --up-delay 20
# natbox's own part: how late it wrote delayed packets after their release
# time (stats file, release_late_us), without the end hosts' scheduling.
late=$(sed -n 's/.*"release_late_us": {\(.*\)}.*/\1/p' "$TMP/stats.json" | tr -d '"')
r0=$(cat "$TMP/rtt0")
r20=$(cat "$TMP/rtt20")
echo "  no delay:       $r0"
echo "  up-delay 20 ms: $r20"

echo
echo "== figures (rounds: $ROUNDS x ${SECS}s; sender, natbox and receiver share $(nproc) CPUs)"
awk '
function median(a, n,   i, j, t) {
  for (i = 1; i <= n; i++)
    for (j = i + 1; j <= n; j++)
      if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
  n++; r[n] = $1; x[n] = $2; b[n] = $3
  rx[n] = $1 > 0 ? $2 / $1 : 0; rb[n] = $1 > 0 ? $3 / $1 : 0
  printf "round %d: veth %9.0f pps, natbox none %9.0f pps (ratio %.2f), box %9.0f pps (ratio %.2f)\n", n, $1, $2, rx[n], $3, rb[n]
}
END {
  printf "median forwarding, veth reference: %9.0f pps\n", median(r, n)
  printf "median forwarding, natbox none:    %9.0f pps, ratio to same-round veth %.2f\n", median(x, n), median(rx, n)
  printf "median forwarding, natbox box:     %9.0f pps, ratio to same-round veth %.2f\n", median(b, n), median(rb, n)
}' "$TMP/rounds"
awk -v z="$r0" -v d="$r20" 'BEGIN {
  split(z, a, " "); split(d, b, " ")
  # fields: received N min_ms A median_ms B mean_ms C max_ms D p99_ms E
  base = a[6]; med = b[6]; p99 = b[12]
  printf "RTT through natbox, no delay: median %.3f ms, p99 %.3f ms\n", base, a[12]
  printf "delay accuracy, --up-delay 20 (RTT minus configured 20 ms): median %+.3f ms, p99 %+.3f ms\n", med - 20, p99 - 20
  printf "  net of the no-delay median RTT:                           median %+.3f ms, p99 %+.3f ms\n", med - 20 - base, p99 - 20 - base
}'
echo "natbox release lateness (write time minus release time, us): ${late:-n/a}"
