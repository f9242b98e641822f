#!/usr/bin/env bash
# natbox benchmark (prints figures; never passes or fails on them).
#   forwarding: UDP blasted for SECONDS (64-byte datagrams) through
#     natbox --nat none and --nat box, counted at the receiver, next to the
#     same blast over a plain veth pair (the reference), as pps and ratio;
#   delay accuracy: median UDP RTT through natbox --delay 20 minus the
#     configured 40 ms, and the RTT through natbox with no delay.
# Usage: natbox_bench.sh PATH/TO/natbox PATH/TO/udpblast [SECONDS]
# Needs root. Traffic stays in namespaces made here (198.51.100.0/24,
# 203.0.113.0/24, 192.168.1.0/24 inside them).
set -euo pipefail
NATBOX=${1:?usage: natbox_bench.sh natbox udpblast [seconds]}
BLAST=${2:?usage: natbox_bench.sh natbox udpblast [seconds]}
SECS=${3:-2}
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

# blast SRC DST: receiver in B on DST:9000, sender in A; prints pps.
blast() {
  ip netns exec "$B" "$BLAST" recv 0.0.0.0 9000 "$SECS" >"$TMP/recv" &
  local rp=$!
  wait_bound "$B" 9000
  ip netns exec "$A" "$BLAST" send "$1" "$2" 9000 "$SECS" >"$TMP/sent"
  wait "$rp"
  local sent pps
  sent=$(awk '{print $2}' "$TMP/sent")
  pps=$(awk '{print $4}' "$TMP/recv")
  echo "  sent $sent in ${SECS}s, $(cat "$TMP/recv")" >&2
  echo "$pps"
}

p2p() {
  ip -n "$A" addr add 198.51.100.1 peer 198.51.100.2 dev nb0
  ip -n "$B" addr add 198.51.100.2 peer 198.51.100.1 dev nb0
}

echo "== reference: veth pair"
fresh_namespaces
ip link add "$PFX-va" netns "$A" type veth peer name "$PFX-vb" netns "$B"
ip -n "$A" addr add 198.51.100.1/30 dev "$PFX-va"
ip -n "$B" addr add 198.51.100.2/30 dev "$PFX-vb"
ip -n "$A" link set "$PFX-va" up
ip -n "$B" link set "$PFX-vb" up
ref=$(blast 198.51.100.1 198.51.100.2)

echo "== natbox --nat none"
fresh_namespaces
start_natbox --nat none
p2p
none=$(blast 198.51.100.1 198.51.100.2)
stop_natbox

echo "== natbox --nat box (EI mapping, 203.0.113.5)"
fresh_namespaces
start_natbox --nat box --public 203.0.113.5
ip -n "$A" addr add 192.168.1.2/24 dev nb0
ip -n "$A" route add default dev nb0
ip -n "$B" addr add 198.51.100.10/24 dev nb0
ip -n "$B" route add 203.0.113.5/32 dev nb0
box=$(blast 192.168.1.2 198.51.100.10)
stop_natbox

echo "== delay accuracy (UDP RTT, 200 probes 10 ms apart)"
rtt() { # natbox args...
  fresh_namespaces
  start_natbox --nat none "$@"
  p2p
  ip netns exec "$B" "$BLAST" echo 198.51.100.2 9001 6 &
  local ep=$!
  wait_bound "$B" 9001
  ip netns exec "$A" "$BLAST" ping 198.51.100.1 198.51.100.2 9001 200 10
  kill "$ep" 2>/dev/null || true
  wait "$ep" 2>/dev/null || true
  stop_natbox
}
r0=$(rtt)
r20=$(rtt --delay 20)
echo "  no delay:   $r0"
echo "  delay 20:   $r20"

med0=$(echo "$r0" | awk '{print $6}')
med20=$(echo "$r20" | awk '{print $6}')
echo
echo "== figures"
awk -v r="$ref" -v n="$none" -v b="$box" 'BEGIN {
  printf "forwarding, veth reference: %9.0f pps\n", r
  printf "forwarding, natbox none:    %9.0f pps (ratio %.2f of veth)\n", n, n / r
  printf "forwarding, natbox box:     %9.0f pps (ratio %.2f of veth)\n", b, b / r
}'
awk -v a="$med0" -v b="$med20" 'BEGIN {
  printf "RTT median through natbox, no delay: %.3f ms\n", a
  printf "RTT median, --delay 20 (40 ms configured): %.3f ms\n", b
  printf "delay error: %+.3f ms per round trip (%+.3f ms one way), %+.3f ms one way net of the no-delay RTT\n", b - 40, (b - 40) / 2, (b - a - 40) / 2
}'
