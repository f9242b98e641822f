#!/usr/bin/env bash
# portmap: miniupnpd on a kernel NAT (topology port-restricted-upnp). From
# the host: UPnP IGD discovery and external address (upnpc), NAT-PMP
# external address (natpmpc), a PCP MAP request (RFC 6887, by hand); a UDP
# packet from the WAN reaches the host only once a UPnP mapping exists;
# `down` stops miniupnpd.
set -uo pipefail
NATLAB=$1
. "$(dirname "$0")/common.sh"
need_lab miniupnpd upnpc natpmpc python3
lab_init u
tmp=$(mktemp -d); trap 'lab_cleanup; rm -rf "$tmp"' EXIT
PUB=198.51.100.2

"$NATLAB" up port-restricted-upnp --prefix "$PFX" -q || fail "up port-restricted-upnp"
ex() { local n=$1; shift; "$NATLAB" exec --prefix "$PFX" "$n" -- "$@"; }

# -- UPnP IGD: SSDP discovery, then GetExternalIPAddress. miniupnpc calls
# an IGD whose external address is reserved (198.51.100.0/24 is) "not
# connected", so -i (use it anyway) is needed.
out=$(ex h1 upnpc -i -s 2>&1) || fail "upnpc -s: $out"
grep -q 'desc: http://192.168.1.1:[0-9]*/rootDesc.xml' <<<"$out" ||
  fail "no IGD discovered: $out"
grep -q "^ExternalIPAddress = $PUB\$" <<<"$out" || fail "UPnP external address: $out"
desc=$(grep -o 'http://192.168.1.1:[0-9]*/rootDesc.xml' <<<"$out" | head -1)
echo "upnp: IGD found, external address $PUB"

# -- NAT-PMP: public address request
out=$(ex h1 natpmpc 2>&1) || fail "natpmpc: $out"
grep -q "^Public IP address : $PUB\$" <<<"$out" || fail "NAT-PMP public address: $out"
echo "natpmp: public address $PUB"

# -- PCP: a MAP request (version 2) for UDP 7000, suggesting port 42000
read -r -d '' PCP_PY <<'PY'
import os, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
mapped = lambda ip: b"\0" * 10 + b"\xff\xff" + socket.inet_aton(ip)
nonce = os.urandom(12)
req = struct.pack("!BBHI", 2, 1, 0, 600) + mapped("192.168.1.2")
req += nonce + struct.pack("!B3xHH", 17, 7000, 42000) + mapped("0.0.0.0")
s.sendto(req, ("192.168.1.1", 5351))
d = s.recv(1100)
ver, op, _, result, life = struct.unpack("!BBBBI", d[:8])
assert ver == 2 and op == 0x81 and d[24:36] == nonce, d[:40]
proto, iport, eport = struct.unpack("!B3xHH", d[36:44])
print(result, life, proto, iport, eport, socket.inet_ntoa(d[56:60]))
PY
read -r res life proto iport eport eip < <(ex h1 python3 -c "$PCP_PY") ||
  fail "PCP: no answer (is PCP compiled into miniupnpd?)"
[ "$res" = 0 ] && [ "$proto" = 17 ] && [ "$iport" = 7000 ] && [ "$eip" = "$PUB" ] &&
  [ "$life" -gt 0 ] || fail "PCP MAP: result $res lifetime $life $proto $iport -> $eip:$eport"
echo "pcp: MAP udp 7000 -> $eip:$eport lifetime $life"

# -- inbound through a UPnP mapping. The host listens on UDP 5000; the WAN
# sends "before" to $PUB:40000 (no mapping: the NAT drops it), the host
# adds 40000 -> 5000 by UPnP, the WAN sends "after" from another socket (a
# new conntrack entry). The first datagram the host gets must be "after".
mkfifo "$tmp/listen"
ex h1 python3 -c "$LISTEN_PY" 5000 5 >"$tmp/listen" &
exec 3<"$tmp/listen"
read -r -t 10 -u 3 line && [ "$line" = ready ] || fail "listener did not start"
ex wan python3 -c "$SEND_PY" before "$PUB" 40000 || fail "send before"
out=$(ex h1 upnpc -i -u "$desc" -a 192.168.1.2 5000 40000 UDP 2>&1) || fail "upnpc -a: $out"
grep -q "external $PUB:40000 UDP is redirected to internal 192.168.1.2:5000" <<<"$out" ||
  fail "UPnP AddPortMapping: $out"
ex wan python3 -c "$SEND_PY" after "$PUB" 40000 || fail "send after"
read -r -t 10 -u 3 got from || fail "listener said nothing"
wait
[ "$got" = after ] || fail "host received '$got' from $from, want 'after' (the unmapped 'before' must be dropped)"
echo "upnp: WAN datagram reached the host through the mapping (from $from); the one before it did not"

out=$(ex h1 upnpc -i -u "$desc" -l 2>&1)
grep -q "UDP 40000->192.168.1.2:5000" <<<"$out" || fail "mapping not listed: $out"

# -- down stops miniupnpd
pid=$(awk '$1 == "pid" && $2 == "miniupnpd" {print $3}' "$NATLAB_STATE_DIR/$PFX/state")
[ -n "$pid" ] && kill -0 "$pid" || fail "miniupnpd pid not recorded or not alive"
"$NATLAB" down --prefix "$PFX" >/dev/null || fail "down"
# (a zombie awaiting its reaper counts as gone, as natlab itself counts it)
state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
[ -z "$state" ] || [ "$state" = Z ] || fail "miniupnpd $pid survived down ($state)"
echo "PASS: natlab portmap (UPnP IGD, NAT-PMP, PCP via miniupnpd)"
