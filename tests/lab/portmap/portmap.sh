#!/usr/bin/env bash
# libnat's port mapping (nat/portmap.h) through examples/portmap_probe
# against miniupnpd on a kernel NAT (natlab topology port-restricted-upnp):
#   - the probe: PCP, NAT-PMP and UPnP IGD all answer (NAT-PMP and UPnP
#     with the lab's external address), within the default 250 ms budget;
#   - for each protocol, forced with --proto: a mapping is made, seen in
#     the NAT's nftables ruleset (miniupnpd's dnat rule), a WAN datagram
#     reaches the host through it (one sent before it existed does not),
#     and after `kill -INT` of the example holding it the example deletes
#     it (nat_portmap_delete_now) and the rule is gone;
#   - for each protocol, a mapping made then unmapped on the loop
#     (nat_portmap_unmap): "unmapped: OK" and no rule left.
# usage: portmap.sh NATLAB PORTMAP_PROBE
set -uo pipefail
NATLAB=$1
EX=$2
. "$(dirname "$0")/../natlab/common.sh"
need_lab miniupnpd python3
lab_init p
tmp=$(mktemp -d)
EX_PID=""
# a failure half-way must not leave the example (or a listener) behind
trap '[ -n "$EX_PID" ] && kill "$EX_PID" 2>/dev/null; kill $(jobs -p) 2>/dev/null; lab_cleanup; rm -rf "$tmp"' EXIT
PUB=198.51.100.2
HOST=192.168.1.2

"$NATLAB" up port-restricted-upnp --prefix "$PFX" -q || fail "up port-restricted-upnp"
ex() { local n=$1; shift; "$NATLAB" exec --prefix "$PFX" "$n" -- "$@"; }
# (read whole: `rules | grep -q` would kill nft by SIGPIPE, and pipefail)
rules() { local r; r=$(ex home nft list ruleset) || fail "nft list ruleset"; printf '%s\n' "$r"; }
has_rule() { local r; r=$(rules); grep -q -- "$1" <<<"$r"; }

# -- the probe: all three answer, in one default budget
t0=$(date +%s%N)
out=$(ex h1 "$EX" 2>&1) || fail "probe exited $?: $out"
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q '^gateway: 192.168.1.1 (private) local 192.168.1.2$' <<<"$out" || fail "gateway: $out"
grep -q '^pcp: ok ' <<<"$out" || fail "PCP did not answer: $out"
grep -q "^nat-pmp: ok external $PUB " <<<"$out" || fail "NAT-PMP: $out"
grep -q "^upnp: ok external $PUB " <<<"$out" || fail "UPnP: $out"
echo "probe: pcp, nat-pmp and upnp answered ($ms ms for the whole program)"
printf '%s\n' "$out" | sed 's/^/  /'


# hold PROTO PORT: map, check the rule and a WAN datagram, kill -INT,
# check the delete.
hold() {
  local proto=$1 port=$2 line mapped="" pid got from rc eport
  rm -f "$tmp/listen" "$tmp/ex"
  mkfifo "$tmp/listen" "$tmp/ex"
  ex h1 python3 -c "$LISTEN_PY" "$port" >"$tmp/listen" &
  exec 3<"$tmp/listen"
  read -r -t 10 -u 3 line && [ "$line" = ready ] || fail "$proto: listener did not start"
  ex wan python3 -c "$SEND_PY" before "$PUB" "$port" || fail "send before"
  "$NATLAB" exec --prefix "$PFX" h1 -- "$EX" --proto "$proto" --map "$port" \
    --lease 120 --hold >"$tmp/ex" 2>&1 &
  pid=$!
  EX_PID=$pid
  exec 4<"$tmp/ex"
  while read -r -t 10 -u 4 line; do
    echo "  $line"
    case $line in
    mapped:*) mapped=$line ;;
    holding) break ;;
    esac
  done
  [ "$line" = holding ] || fail "$proto: no mapping held (last line '$line')"
  [[ $mapped =~ ^mapped:\ $proto\ $PUB:([0-9]+)\ -\>\ $port\ lifetime\ [0-9]+ ]] ||
    fail "$proto: grant '$mapped'"
  eport=${BASH_REMATCH[1]}
  has_rule "dport $eport dnat ip to $HOST:$port" ||
    fail "$proto: no dnat rule for $eport in the NAT: $(rules | grep dport)"
  ex wan python3 -c "$SEND_PY" after "$PUB" "$eport" || fail "send after"
  read -r -t 10 -u 3 got from || fail "$proto: listener said nothing"
  [ "$got" = after ] || fail "$proto: host received '$got' from $from, want 'after' (the unmapped 'before' must be dropped)"
  exec 3<&-
  kill -INT "$pid"
  while read -r -t 10 -u 4 line; do echo "  $line"; [[ $line == deleted:* ]] && break; done
  wait "$pid"; rc=$?
  EX_PID=""
  exec 4<&-
  [ "$line" = "deleted: OK" ] || fail "$proto: after SIGINT: '$line'"
  [ "$rc" = 0 ] || fail "$proto: exit code $rc after SIGINT"
  if has_rule "dnat ip to $HOST:$port"; then
    fail "$proto: the rule survived the delete: $(rules | grep "$HOST:$port")"
  fi
  echo "$proto: $PUB:$eport -> $HOST:$port made, seen in nftables, reached by the WAN, deleted after SIGINT"
}

# unmap PROTO PORT: map, unmap on the loop, no rule left.
unmap() {
  local proto=$1 port=$2 out
  out=$(ex h1 "$EX" --proto "$proto" --map "$port" --lease 60 2>&1) ||
    fail "$proto: map/unmap exited $?: $out"
  grep -q "^mapped: $proto $PUB:[0-9]* -> $port " <<<"$out" || fail "$proto: $out"
  grep -q '^unmapped: OK$' <<<"$out" || fail "$proto: $out"
  if has_rule "dnat ip to $HOST:$port"; then
    fail "$proto: the rule survived unmap"
  fi
  echo "$proto: mapped then unmapped (confirmed), no rule left"
}

hold pcp 5101
hold nat-pmp 5102
hold upnp 5103
unmap pcp 5201
unmap nat-pmp 5202
unmap upnp 5203
echo "PASS: portmap (PCP, NAT-PMP, UPnP: probe, map, WAN datagram, unmap, SIGINT delete)"
