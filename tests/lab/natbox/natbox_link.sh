#!/usr/bin/env bash
# lab.natbox_link: natbox between two network namespaces of its own.
#   1. exit codes: a bad flag gives 2, a missing namespace 3;
#      the TUN devices get the transmit queue of --tun-queue (default 4096);
#   2. --nat none --delay 20: fastest ICMP ping RTT 39-60 ms (20 ms each way), and
#      the stats file times the release of every delayed packet;
#   3. --nat none --loss 0.2: loss of 200 pings near 1-0.8^2 = 36 %, and the
#      link counters in the stats file agree;
#   4. --nat box --mapping apd --filtering apd --public 203.0.113.5: UDP from
#      the LAN reaches the WAN from 203.0.113.5, the answer comes back, and
#      the stats file counts the mapping; with no impairment the packets
#      take the fast path and the link counters still count them.
# Usage: natbox_link.sh PATH/TO/natbox. Exit 77 (skipped) without root or
# network namespaces. Addresses: 198.51.100.0/24, 203.0.113.0/24 and
# 192.168.1.0/24, only inside the namespaces made here.
set -euo pipefail

NATBOX=${1:?usage: natbox_link.sh PATH/TO/natbox}
HERE=$(cd "$(dirname "$0")" && pwd)
PROBE="$HERE/nbprobe.py"
PY=${PYTHON3:-/usr/bin/python3}

skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces and TUN"
[ -x "$PY" ] || skip "needs $PY"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

PFX="nbt$$"
A="$PFX-a"
B="$PFX-b"
TMP=$(mktemp -d)
NBPID=""
cleanup() {
  if [ -n "$NBPID" ]; then
    kill -TERM "$NBPID" 2>/dev/null || true
    wait "$NBPID" 2>/dev/null || true
  fi
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$A" 2>/dev/null || skip "ip netns add fails here"
ip netns add "$B" || skip "ip netns add fails here"
for n in "$A" "$B"; do
  # No IPv6 chatter (router solicitations) through the link: the packet
  # sequence, and so the seeded loss pattern, is only the test's own.
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1
done

fail() {
  echo "FAIL: $*"
  exit 1
}

# start_natbox ARGS...: run natbox between A and B, wait for the ready file.
start_natbox() {
  rm -f "$TMP/ready" "$TMP/stats.json"
  "$NATBOX" --lan "$A:nb0" --wan "$B:nb0" --ready-file "$TMP/ready" \
    --stats "$TMP/stats.json" "$@" 2>"$TMP/natbox.err" &
  NBPID=$!
  for _ in $(seq 200); do # bounded: 200 x 25 ms
    [ -s "$TMP/ready" ] && break
    kill -0 "$NBPID" 2>/dev/null || fail "natbox exited: $(cat "$TMP/natbox.err")"
    sleep 0.025
  done
  [ -s "$TMP/ready" ] || fail "natbox not ready after 5 s"
  [ "$(sed -n 1p "$TMP/ready")" = ready ] || fail "bad ready file"
  [ "$(sed -n 2p "$TMP/ready")" = "$NBPID" ] || fail "ready file pid"
}

stop_natbox() {
  kill -TERM "$NBPID"
  local rc=0
  wait "$NBPID" || rc=$?
  NBPID=""
  [ "$rc" -eq 0 ] || fail "natbox exited $rc on SIGTERM"
  [ -s "$TMP/stats.json" ] || fail "no stats file"
}

# json FIELD.PATH: a value from the stats file.
json() {
  "$PY" -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$TMP/stats.json" "$1"
}

p2p_addresses() {
  ip -n "$A" addr add 198.51.100.1 peer 198.51.100.2 dev nb0
  ip -n "$B" addr add 198.51.100.2 peer 198.51.100.1 dev nb0
}

# --- 1. exit codes
rc=0
"$NATBOX" --lan "$A:nb0" --wan "$B:nb0" --delay fast 2>"$TMP/err" || rc=$?
[ "$rc" -eq 2 ] || fail "bad flag: exit $rc, want 2"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "bad flag: not one line"
rc=0
"$NATBOX" --lan "$PFX-missing:nb0" --wan "$B:nb0" 2>"$TMP/err" || rc=$?
[ "$rc" -eq 3 ] || fail "missing netns: exit $rc, want 3"
grep -q "not found" "$TMP/err" || fail "missing netns: $(cat "$TMP/err")"
rc=0
"$NATBOX" --lan "$A:nb0" --wan "$B:nb0" --tun-queue 0 2>"$TMP/err" || rc=$?
[ "$rc" -eq 2 ] || fail "--tun-queue 0: exit $rc, want 2"
echo "ok exit codes (2 usage, 3 environment)"

# --- 2. delay: 20 ms each way
start_natbox --nat none --delay 20
ip -n "$A" link show nb0 | grep -q "qlen 4096" || fail "LAN TUN queue not 4096"
ip -n "$B" link show nb0 | grep -q "qlen 4096" || fail "WAN TUN queue not 4096"
p2p_addresses
out=$(ip netns exec "$A" "$PY" "$PROBE" ping 198.51.100.2 10 0.05 1)
echo "delay 20 ms each way: $out"
avg=$(echo "$out" | awk '{print $8}')
min=$(echo "$out" | awk '{print $10}')
recv=$(echo "$out" | awk '{print $4}')
[ "$recv" -eq 10 ] || fail "lost pings without loss configured"
# The fastest round trip shows the delay natbox applies: scheduling on a
# busy machine only ever adds to it (the average is printed, not judged;
# delay accuracy is measured in tests/bench/natbox_bench.sh).
awk -v a="$min" 'BEGIN { exit !(a >= 39 && a <= 60) }' ||
  fail "fastest RTT $min ms, want 39-60 (20 ms each way, applied once)"
stop_natbox
[ "$(json links.up.delivered)" -eq 10 ] || fail "up link delivered"
# Every delayed packet (10 echo requests up, 10 replies down) has its
# release lateness counted.
[ "$(json release_late_us.count)" -eq 20 ] || fail "release_late_us.count"
echo "ok delay (RTT min $min ms, avg $avg ms)"

# --- 3. loss 0.2 each way (seeded)
start_natbox --nat none --loss 0.2 --seed 7
p2p_addresses
out=$(ip netns exec "$A" "$PY" "$PROBE" ping 198.51.100.2 200 0.005 1)
echo "loss 0.2 each way: $out"
recv=$(echo "$out" | awk '{print $4}')
# Expected 200 * 0.8 * 0.8 = 128 replies (sd 6.8).
[ "$recv" -ge 104 ] && [ "$recv" -le 152 ] ||
  fail "$recv of 200 pings answered, want 104-152"
stop_natbox
up_sub=$(json links.up.submitted)
up_lost=$(json links.up.lost)
dn_sub=$(json links.down.submitted)
[ "$up_sub" -eq 200 ] || fail "up link saw $up_sub packets, want 200"
[ "$dn_sub" -eq $((200 - up_lost)) ] || fail "down link saw $dn_sub"
awk -v l="$up_lost" 'BEGIN { exit !(l >= 24 && l <= 56) }' ||
  fail "up link lost $up_lost of 200, want 24-56"
echo "ok loss (up lost $up_lost/200, $recv/200 round trips)"

# --- 4. NAT: APD mapping and filtering behind 203.0.113.5
start_natbox --nat box --mapping apd --filtering apd --public 203.0.113.5
ip -n "$A" addr add 192.168.1.2/24 dev nb0
ip -n "$A" route add default dev nb0
ip -n "$B" addr add 198.51.100.10/24 dev nb0
ip -n "$B" route add 203.0.113.5/32 dev nb0
ip netns exec "$B" "$PY" "$PROBE" udp-recv 198.51.100.10 5000 5 \
  >"$TMP/recv" &
rpid=$!
for _ in $(seq 200); do # bounded: until the receiver's socket is bound
  ip netns exec "$B" ss -Hlun 'sport = :5000' | grep -q 5000 && break
  sleep 0.01
done
sent=$(ip netns exec "$A" "$PY" "$PROBE" udp-send 192.168.1.2 198.51.100.10 \
  5000 hello 5)
wait "$rpid"
got=$(cat "$TMP/recv")
echo "NAT: receiver saw '$got', sender got '$sent'"
case "$got" in
"from 203.0.113.5:"*" payload hello") ;;
*) fail "WAN side saw '$got', want from 203.0.113.5" ;;
esac
[ "$sent" = "reply pong" ] || fail "answer did not come back: '$sent'"
stop_natbox
created=$(json mappings_created)
[ "$created" -ge 1 ] || fail "mappings_created $created"
[ "$(json nat)" = box ] || fail "stats nat mode"
[ "$(json links.up.submitted)" -ge 1 ] || fail "fast path not counted (up)"
[ "$(json links.up.delivered)" -eq "$(json links.up.submitted)" ] ||
  fail "up link: delivered != submitted"
[ "$(json links.down.delivered)" -ge 1 ] || fail "fast path not counted (down)"
[ "$(json links.up.queue_max)" -eq 0 ] || fail "fast path queued a packet"
echo "ok NAT (mappings_created $created)"
echo "lab.natbox_link: all passed"
