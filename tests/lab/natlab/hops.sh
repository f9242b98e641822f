#!/usr/bin/env bash
# hops: what a hop probe behind NATs sees (the ground the double-NAT
# detector's tests stand on). In the host, hops.py sends a 1000-byte STUN
# Binding request to 203.0.113.1:3478 with TTL 1, 2, ... from one socket
# with IP_RECVERR and reads ICMP errors from the error queue. Asserted, per
# topology, in order: each router's address (its LAN side: hop 1 the home
# NAT's 192.168.m.1, hop 2 a carrier NAT's 100.64.m.1), ICMP 11/0 (time
# exceeded), the quote handed back holds the request's transaction ID and
# 520 bytes of its payload (Linux quotes 576 bytes of IP: 576 - 20 - 8 -
# 20 - 8), then the STUN answer (the server sits on wan itself: wan is
# never a hop). An error from beyond a NAT reaches the host only because
# that NAT translates it back (kernel: conntrack; natbox: RFC 5508, which
# the natbox-home case checks).
set -uo pipefail
NATLAB=$1
[ -n "${2:-}" ] && export NATLAB_NATBOX=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
need_lab python3
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
lab_init o
tmp=$(mktemp -d); trap 'lab_cleanup; rm -rf "$tmp"' EXIT

# natbox as the home NAT behind a kernel carrier NAT: the CGN's error goes
# to natbox's public address and natbox must hand it to the host.
cat >"$tmp/natbox-home.topo" <<'EOF'
description natbox home NAT behind a kernel carrier NAT
nat cgn kind=port-restricted
nat home behind=cgn engine=natbox mapping=ei filtering=apd alloc=preserve
host h1 behind=home
EOF
# and natbox as the carrier NAT, a kernel home NAT behind it
cat >"$tmp/natbox-cgn.topo" <<'EOF'
description kernel home NAT behind a natbox carrier NAT
nat cgn engine=natbox mapping=ei filtering=apd alloc=preserve
nat home behind=cgn kind=port-restricted
host h1 behind=home
EOF

# NAME TOPOLOGY HOPS...: HOPS are the offenders expected at TTL 1, 2, ...
CASES=(
  "opr port-restricted 192.168.1.1"
  "odn double-nat 192.168.2.1 100.64.1.1"
  "ocg cgn-upnp 192.168.2.1 100.64.1.1"
  "onb natbox-ad 192.168.1.1"
  "onh $tmp/natbox-home.topo 192.168.2.1 100.64.1.1"
  "onc $tmp/natbox-cgn.topo 192.168.2.1 100.64.1.1"
)
have_natbox=0 # natbox given, built beside natlab, or on PATH
{ [ -x "${NATLAB_NATBOX:-}" ] || [ -x "$(dirname "$NATLAB")/../natbox/natbox" ] ||
  command -v natbox >/dev/null; } && have_natbox=1

one() { # TOPOLOGY HOP...
  local topo=$1 out want n=0 ttl off type code ok qlen
  shift
  "$NATLAB" up "$topo" --prefix "$P" -q 2>/dev/null || fail "$P: up $topo"
  out=$("$NATLAB" exec --prefix "$P" h1 -- "$PY" "$HERE/hops.py" 203.0.113.1 3478 \
    $(($# + 2)) 1000) || fail "$P: hops.py: $out"
  while read -r ttl off type code ok qlen; do
    n=$((n + 1))
    if [ $n -le $# ]; then
      want=${!n}
      [ "$off $type $code $ok $qlen" = "$want 11 0 1 520" ] ||
        fail "$P $topo: TTL $ttl: '$off $type $code txid=$ok quoted=$qlen', want '$want 11 0 txid=1 quoted=520'"
    else
      [ "$off" = answer ] || fail "$P $topo: TTL $ttl: '$off', want the STUN answer"
      break
    fi
  done <<<"$out"
  [ $n = $(($# + 1)) ] || fail "$P $topo: $n lines: $out"
  echo "$P $(basename "$topo" .topo): $* then the server (ICMP 11/0, txid and 520 bytes quoted)"
}

PFXS=()
for c in "${CASES[@]}"; do lab_more "${c%% *}"; PFXS+=("$MORE"); done
PIDS=() NAMES=()
for i in "${!CASES[@]}"; do
  read -r name topo hops <<<"${CASES[$i]}"
  if [ $have_natbox = 0 ] && [[ $name == on* ]]; then
    echo "natbox not found: case $name skipped"
    continue
  fi
  # shellcheck disable=SC2086
  ( P=${PFXS[$i]}; one "$topo" $hops ) >"$tmp/log.$name" 2>&1 &
  PIDS+=("$!") NAMES+=("$name")
done
bad=0
for i in "${!PIDS[@]}"; do
  wait "${PIDS[$i]}" || { bad=1; echo "== ${NAMES[$i]}: FAILED"; }
  cat "$tmp/log.${NAMES[$i]}"
done
[ $bad = 0 ] || fail "hops (${SECONDS} s)"
echo "PASS: hops: ${#PIDS[@]} topologies (${SECONDS} s)"
