#!/usr/bin/env bash
# portmap_kinds: every port-mapping gateway natlab ships, each in its own
# lab, all at once. From the host: which protocols answer (UPnP IGD by
# `upnpc -i -s`, NAT-PMP by `natpmpc`, PCP by a 24-byte ANNOUNCE: version 2,
# R bit, result 0), exactly as the topology declares; for each protocol
# that answers, a UDP mapping it makes forwards a WAN datagram to the host,
# and after the delete its DNAT rule is gone and a datagram from the WAN no
# longer arrives (the next datagram the host gets is a later marker's).
#   KIND-upnp, port-restricted-upnp   upnp, natpmp, pcp; all map
#   pcp-only                          pcp only (NAT-PMP dropped: silence)
#   portmap=natpmp (a file made here) NAT-PMP only (PCP dropped: silence)
#   port-restricted                   nothing (ICMP port unreachable)
#   cgn-upnp                          all answer with the public address
#                                     198.51.100.2 and refuse every mapping
#   cgn-upnp --set stun=off           PCP MAP says 100.64.1.2 and refuses,
#                                     NAT-PMP's address request fails (3),
#                                     UPnP has no external address
#   pair-sym-upnp                     ha reaches hb through hb's PCP mapping
#                                     on its symmetric NAT, and back
set -uo pipefail
NATLAB=$1
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
need_lab miniupnpd upnpc natpmpc python3
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # no shim: 20 ms, not 250
lab_init k
tmp=$(mktemp -d); trap 'lab_cleanup; rm -rf "$tmp"' EXIT
PUB=198.51.100.2

# -- the topology language: contradictions are one-line usage errors, and
# a PCP-only or NAT-PMP-only NAT drops the other protocol by version byte
bad_topo() { # OPTIONS MESSAGE
  printf 'nat home %s\nhost h1 behind=home\n' "$1" >"$tmp/bad.topo"
  out=$("$NATLAB" show "$tmp/bad.topo" 2>&1); rc=$?
  [ $rc = 2 ] && [ "$out" = "$tmp/bad.topo:1: $2" ] ||
    fail "'$1': exit $rc, '$out', want 2 and '$2'"
}
bad_topo "portmap=none,pcp" "portmap 'none,pcp' contradicts itself: all and none stand alone, not in a list"
bad_topo "portmap=pcp,all" "portmap 'pcp,all' contradicts itself: all and none stand alone, not in a list"
bad_topo "portmap-stun=off" "portmap-stun=off needs portmap= (it configures miniupnpd)"
bad_topo "engine=natbox portmap=pcp" "portmap (miniupnpd) needs engine=kernel: miniupnpd programs nftables"
"$NATLAB" show pcp-only | grep -q 'udp dport 5351 @th,64,8 0 drop' || fail "pcp-only: no NAT-PMP drop rule"
printf 'description NAT-PMP only\nnat home portmap=natpmp\nhost h1 behind=home\n' \
  >"$tmp/pmp.topo"
"$NATLAB" show "$tmp/pmp.topo" | grep -q 'udp dport 5351 @th,64,8 != 0 drop' ||
  fail "portmap=natpmp: no PCP drop rule"
"$NATLAB" show port-restricted-upnp | grep -q '@th,64,8' && fail "port-restricted-upnp drops by version"

# -- helpers (each runs inside one case's subshell, prefix $P)
ex() { local n=$1; shift; "$NATLAB" exec --prefix "$P" "$n" -- "$@"; }
pcp() { ex h1 "$PY" "$HERE/pcpc.py" "$GW" "$@"; }
wan_send() { # MESSAGE IP PORT, from a fresh socket (a new conntrack entry)
  ex wan "$PY" -c 'import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
    sys.argv[1].encode(), (sys.argv[2], int(sys.argv[3])))' "$@"
}
field() { grep -o " $1=[^ ]*" <<<"$2" | cut -d= -f2; }

# The host listens on UDP 5001-5004 and prints "PORT PAYLOAD" per datagram.
listen_start() {
  mkfifo "$tmp/$P.fifo"
  ex h1 "$PY" -c 'import select, socket
ss = []
for p in range(5001, 5005):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", p))
    ss.append(s)
print("ready", flush=True)
while True:
    for s in select.select(ss, [], [], 30)[0]:
        d = s.recv(200)
        print(s.getsockname()[1], d.decode(), flush=True)' >"$tmp/$P.fifo" &
  LPID=$!
  exec {LFD}<"$tmp/$P.fifo"
  read -r -t 10 -u "$LFD" line && [ "$line" = ready ] || fail "$P: listener did not start"
}
listen_stop() { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; exec {LFD}<&-; }
# The next datagram the host gets must be PORT PAYLOAD.
expect_rx() {
  local port payload
  read -r -t 5 -u "$LFD" port payload || fail "$P: host got nothing, want '$2' on $1"
  [ "$port $payload" = "$1 $2" ] || fail "$P: host got '$payload' on $port, want '$2' on $1"
}
rule_gone() { # EXTERNAL_PORT: poll until miniupnpd's DNAT rule for it is gone
  local i
  for i in $(seq 100); do
    ex "$NAT" nft list chain inet miniupnpd prerouting_miniupnpd |
      grep -q "dport $1 " || return 0
    sleep 0.02 # bounded polling
  done
  fail "$P: DNAT rule for port $1 still there after delete"
}

# -- which protocols answer: "upnp natpmp pcp" present or absent
answers() { # WANT: space list of the protocols that must answer
  local want=" $1 " out
  out=$(ex h1 upnpc -i -s 2>&1)
  if [[ $want == *" upnp "* ]]; then
    grep -q "desc: http://$GW:[0-9]*/rootDesc.xml" <<<"$out" || fail "$P: no IGD: $out"
    grep -q "^ExternalIPAddress = $PUB\$" <<<"$out" || fail "$P: UPnP external address: $out"
    DESC=$(grep -o "http://$GW:[0-9]*/rootDesc.xml" <<<"$out" | head -1)
  else
    grep -q "desc: " <<<"$out" && fail "$P: UPnP answers, must not: $out"
  fi
  if [[ $want == *" natpmp "* ]]; then
    out=$(ex h1 natpmpc 2>&1) || fail "$P: natpmpc: $out"
    grep -q "^Public IP address : $PUB\$" <<<"$out" || fail "$P: NAT-PMP address: $out"
  else
    out=$(pcp natpmp-addr)
    [ "$out" = "$NOANSWER" ] || fail "$P: NAT-PMP: '$out', want $NOANSWER"
  fi
  out=$(pcp announce)
  if [[ $want == *" pcp "* ]]; then
    [[ $out == "answer version=2 op=0 r=1 result=0 "* ]] || fail "$P: PCP ANNOUNCE: $out"
  else
    [ "$out" = "$NOANSWER" ] || fail "$P: PCP: '$out', want $NOANSWER"
  fi
  echo "$P $TOPO: answers: ${1:-none} (others: $NOANSWER)"
}

# -- a mapping by PROTO from external E to host port L forwards, then goes
map_cycle() { # PROTO L E
  local proto=$1 l=$2 e=$3 out
  case $proto in
  upnp)
    out=$(ex h1 upnpc -i -u "$DESC" -a "$HOST" "$l" "$e" UDP 2>&1)
    grep -q "external $PUB:$e UDP is redirected to internal $HOST:$l" <<<"$out" ||
      fail "$P: UPnP AddPortMapping: $out" ;;
  natpmp)
    out=$(ex h1 natpmpc -a "$e" "$l" udp 60 2>&1)
    grep -q "Mapped public port $e protocol UDP to local port $l" <<<"$out" ||
      fail "$P: NAT-PMP map: $out" ;;
  pcp)
    out=$(pcp map 17 "$l" "$e" 60)
    [ "$(field result "$out")" = 0 ] && [ "$(field addr "$out")" = "$PUB" ] ||
      fail "$P: PCP MAP: $out"
    e=$(field eport "$out") ;;
  esac
  wan_send "in-$proto" "$PUB" "$e" || fail "$P: WAN send"
  expect_rx "$l" "in-$proto"
  case $proto in
  upnp) out=$(ex h1 upnpc -i -u "$DESC" -d "$e" UDP 2>&1) ||
    fail "$P: UPnP DeletePortMapping: $out" ;;
  natpmp) out=$(ex h1 natpmpc -a "$e" "$l" udp 0 2>&1) || fail "$P: NAT-PMP delete: $out" ;;
  pcp) out=$(pcp map 17 "$l" "$e" 0)
    [ "$(field result "$out")" = 0 ] || fail "$P: PCP delete: $out" ;;
  esac
  rule_gone "$e"
  # must never arrive: the next expect_rx (a later mapping's) would see it
  wan_send "gone-$proto" "$PUB" "$e" || fail "$P: WAN send"
  echo "$P $TOPO: $proto mapping $PUB:$e -> $HOST:$l forwarded, deleted"
}

# A topology whose NAT serves PROTOS: they answer, each maps, then a last
# mapping (by the first of them) is the marker that proves the last
# deleted one forwards nothing more.
case_portmap() { # TOPOLOGY PROTO...
  TOPO=$1 GW=192.168.1.1 HOST=192.168.1.2 NAT=home NOANSWER=silent
  shift
  local protos="$*" p0
  "$NATLAB" up "$TOPO" --prefix "$P" -q || fail "$P: up $TOPO"
  answers "$protos"
  [ -n "$protos" ] || return 0
  listen_start
  local l=5001 e=40001
  for proto in $protos; do
    map_cycle "$proto" $l $e
    l=$((l + 1)) e=$((e + 1))
  done
  p0=${protos%% *}
  map_cycle "$p0" 5004 40004 # the marker: 'gone-*' before it would show
  listen_stop
}

case_none() { # port-restricted: no miniupnpd; the NAT's kernel says unreachable
  TOPO=port-restricted GW=192.168.1.1 NOANSWER=refused
  "$NATLAB" up "$TOPO" --prefix "$P" -q || fail "$P: up"
  answers ""
}

case_cgn() { # cgn-upnp, STUN on or off
  TOPO="cgn-upnp stun=$1" GW=192.168.2.1 HOST=192.168.2.2
  local out addr
  "$NATLAB" up cgn-upnp --set "stun=$1" --prefix "$P" -q 2>"$tmp/$P.err" || fail "$P: up"
  if [ "$1" = on ]; then
    grep -q "forwards no port" "$tmp/$P.err" || fail "$P: up did not say miniupnpd forwards no port"
    addr=$PUB
  else
    addr=100.64.1.2
  fi
  out=$(pcp announce)
  [[ $out == "answer version=2 op=0 r=1 result=0 "* ]] || fail "$P: PCP ANNOUNCE: $out"
  out=$(pcp map 17 5003 40003 60)
  [ "$(field result "$out")" = 8 ] && [ "$(field addr "$out")" = "$addr" ] ||
    fail "$P: PCP MAP: '$out', want result 8 (NO_RESOURCES) addr $addr"
  echo "$P $TOPO: PCP MAP refused, result 8 NO_RESOURCES, external address $addr"
  out=$(pcp natpmp-addr)
  if [ "$1" = on ]; then
    [[ $out == *" result=0 "*" addr=$PUB" ]] || fail "$P: NAT-PMP address: $out"
    out=$(pcp natpmp-map 5002 40002 60)
    [ "$(field result "$out")" = 3 ] || fail "$P: NAT-PMP map: '$out', want result 3"
    echo "$P $TOPO: NAT-PMP address $PUB, mapping refused: result 3 NETWORK_FAILURE"
  else
    [[ $out == *" result=3 "*" addr=0.0.0.0" ]] || fail "$P: NAT-PMP address: $out"
    echo "$P $TOPO: NAT-PMP address request: result 3 NETWORK_FAILURE, 0.0.0.0"
  fi
  out=$(ex h1 upnpc -i -s 2>&1)
  DESC=$(grep -o "http://$GW:[0-9]*/rootDesc.xml" <<<"$out" | head -1)
  [ -n "$DESC" ] || fail "$P: no IGD: $out"
  if [ "$1" = on ]; then
    grep -q "^ExternalIPAddress = $PUB\$" <<<"$out" || fail "$P: UPnP address: $out"
  else
    grep -q "GetExternalIPAddress failed" <<<"$out" || fail "$P: UPnP address: $out"
  fi
  out=$(ex h1 upnpc -i -u "$DESC" -a "$HOST" 5001 40001 UDP 2>&1)
  grep -q "failed with code 501" <<<"$out" || fail "$P: UPnP AddPortMapping: $out"
  echo "$P $TOPO: UPnP external address $([ "$1" = on ] && echo $PUB || echo none), AddPortMapping refused: 501"
}

case_pair() { # pair-sym-upnp: ha -> hb's PCP-mapped address and back
  TOPO=pair-sym-upnp
  local out e nb=198.51.100.6
  "$NATLAB" up "$TOPO" --prefix "$P" -q || fail "$P: up"
  out=$(ex hb "$PY" "$HERE/pcpc.py" 192.168.2.1 map 17 6000 46000 60)
  [ "$(field result "$out")" = 0 ] && [ "$(field addr "$out")" = $nb ] ||
    fail "$P: PCP MAP on hb's symmetric NAT: $out"
  e=$(field eport "$out")
  mkfifo "$tmp/$P.fifo"
  ex hb "$PY" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 6000))
s.settimeout(10)
print("ready", flush=True)
d, a = s.recvfrom(100)
s.sendto(b"back", a)
print(d.decode(), a[0], flush=True)' >"$tmp/$P.fifo" &
  local lpid=$! fd
  exec {fd}<"$tmp/$P.fifo"
  read -r -t 10 -u "$fd" line && [ "$line" = ready ] || fail "$P: hb listener"
  out=$(ex ha "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
d, a = s.recvfrom(100)
print(d.decode(), "%s:%d" % a)' $nb "$e") || fail "$P: ha got no answer through hb's mapping"
  read -r -t 5 -u "$fd" got from || fail "$P: hb got nothing"
  wait "$lpid"
  [ "$out" = "back $nb:$e" ] && [ "$got $from" = "hello $PUB" ] ||
    fail "$P: ha got '$out' (want 'back $nb:$e'), hb got '$got' from $from"
  echo "$P $TOPO: ha -> $nb:$e (hb's PCP mapping on its symmetric NAT) -> hb and back, directly"
}

# -- run every case in its own lab, at once
CASES=(
  "kfc case_portmap full-cone-upnp upnp,natpmp,pcp"
  "krc case_portmap restricted-cone-upnp upnp,natpmp,pcp"
  "kpr case_portmap port-restricted-upnp upnp,natpmp,pcp"
  "ksy case_portmap symmetric-upnp upnp,natpmp,pcp"
  "ksq case_portmap symmetric-sequential-upnp upnp,natpmp,pcp"
  "krr case_portmap random-range-upnp upnp,natpmp,pcp"
  "kpc case_portmap pcp-only pcp"
  "kpm case_portmap $tmp/pmp.topo natpmp"
  "kno case_none"
  "kcg case_cgn on"
  "kcs case_cgn off"
  "kpa case_pair"
)
# every prefix first (ip netns list complains while namespaces come up)
PFXS=()
for c in "${CASES[@]}"; do lab_more "${c%% *}"; PFXS+=("$MORE"); done
PIDS=()
for i in "${!CASES[@]}"; do
  read -r name fn args <<<"${CASES[$i]}"
  # shellcheck disable=SC2086
  ( P=${PFXS[$i]}; $fn ${args//,/ } ) >"$tmp/log.$name" 2>&1 &
  PIDS+=("$!")
done
bad=0
for i in "${!CASES[@]}"; do
  name=${CASES[$i]%% *}
  wait "${PIDS[$i]}" || { bad=1; echo "== $name: FAILED"; }
  cat "$tmp/log.$name"
done
[ $bad = 0 ] || fail "portmap_kinds (${SECONDS} s)"
echo "PASS: portmap_kinds: ${#CASES[@]} gateways as declared (${SECONDS} s)"
