#!/usr/bin/env bash
# Links and NATs realised by natbox: measured RTT and loss against the
# configured values, and natbox's sequential allocation with delta 2.
set -uo pipefail
NATLAB=$1
export NATLAB_NATBOX=$2
. "$(dirname "$0")/common.sh"
need_lab python3
[ -x "$NATLAB_NATBOX" ] || skip "natbox is not built ($NATLAB_NATBOX)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
lab_init i
tmp=$(mktemp -d); trap 'lab_cleanup; rm -rf "$tmp"' EXIT

# STUN probes from the host: N requests paced 2 ms apart, then wait 1 s
# for stragglers; prints answered count, the fastest and the median RTT in
# ms. The delay is judged by the fastest round trip: a loaded machine's
# scheduling only ever adds to it (the median is printed, not judged).
read -r -d '' PROBE_PY <<'PY'
import os, socket, struct, sys, time, select
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent, rtt = {}, []
def drain(deadline):
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            return
        d = s.recv(2048)
        t0 = sent.pop(d[8:20], None)
        if t0 is not None:
            rtt.append((time.monotonic() - t0) * 1000)
for _ in range(n):
    tid = os.urandom(12)
    sent[tid] = time.monotonic()
    s.sendto(struct.pack("!HHI", 1, 0, 0x2112A442) + tid, ("203.0.113.1", 3478))
    drain(time.monotonic() + 0.002)
drain(time.monotonic() + 1.0)
rtt.sort()
print(len(rtt), rtt[0] if rtt else -1, rtt[len(rtt) // 2] if rtt else -1)
PY

# -- 20 ms each way on the WAN link: RTT about 40 ms
p="${PFX:0:5}d"
"$NATLAB" up wan-delay --prefix "$p" -q || fail "up wan-delay"
read -r got low med < <("$NATLAB" exec --prefix "$p" h1 -- python3 -c "$PROBE_PY" 50)
"$NATLAB" down --prefix "$p" >/dev/null
echo "wan-delay: $got/50 answered, fastest RTT $low ms, median $med ms" \
  "(configured 2 x 20 ms)"
[ "$got" = 50 ] || fail "wan-delay lost packets: $got/50"
python3 -c "import sys; m=float(sys.argv[1]); sys.exit(0 if 39 <= m <= 50 else 1)" \
  "$low" || fail "fastest RTT $low ms, want 40 ms (39..50)"

# -- 20 % loss LAN->WAN only: about 80 % of 500 answered
printf 'description loss\nnat home kind=port-restricted\nhost h1 behind=home\nlink home up-loss=0.2 seed=7\n' \
  >"$tmp/loss.topo"
p="${PFX:0:5}l"
"$NATLAB" up "$tmp/loss.topo" --prefix "$p" -q || fail "up loss"
read -r got _ _ < <("$NATLAB" exec --prefix "$p" h1 -- python3 -c "$PROBE_PY" 500)
"$NATLAB" down --prefix "$p" >/dev/null
echo "loss: $got/500 answered (configured up-loss 0.2: expect ~400)"
[ "$got" -ge 360 ] && [ "$got" -le 440 ] || fail "answered $got/500, want 360..440"

# -- natbox sequential allocation, delta 2: 20 fresh sockets step by 2
read -r -d '' PORTS_PY <<'PY'
import os, socket, struct
ports, socks = [], []
for _ in range(20):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    socks.append(s)  # kept open: 20 distinct local ports
    s.settimeout(2)
    tid = os.urandom(12)
    s.sendto(struct.pack("!HHI", 1, 0, 0x2112A442) + tid, ("203.0.113.1", 3478))
    d = s.recv(2048)
    i = 20
    while i < len(d):
        t, l = struct.unpack("!HH", d[i:i + 4])
        if t == 0x0020:
            ports.append(struct.unpack("!H", d[i + 6:i + 8])[0] ^ 0x2112)
        i += 4 + (l + 3) // 4 * 4
print(" ".join(map(str, ports)))
PY
p="${PFX:0:5}s"
"$NATLAB" up natbox-sequential --prefix "$p" -q || fail "up natbox-sequential"
ports=$("$NATLAB" exec --prefix "$p" h1 -- python3 -c "$PORTS_PY")
"$NATLAB" down --prefix "$p" >/dev/null
echo "natbox-sequential ports: $ports"
python3 -c "
import sys; p=[int(x) for x in sys.argv[1].split()]
assert len(p)==20 and all(b-a==2 for a,b in zip(p,p[1:])), p
assert all(20000<=x<=29999 for x in p), p" "$ports" || fail "not +2 steps"
echo "PASS: natlab impairments and natbox NAT"
