#!/usr/bin/env bash
# Links and NATs realised by natbox: measured RTT and loss against the
# configured values, and natbox's sequential allocation with delta 2.
set -uo pipefail
NATLAB=$1
export NATLAB_NATBOX=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
need_lab python3
[ -x "$NATLAB_NATBOX" ] || skip "natbox is not built ($NATLAB_NATBOX)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
lab_init i
tmp=$(mktemp -d); trap 'lab_cleanup; rm -rf "$tmp"' EXIT

# STUN probes from the host (stunc.py burst N: N requests paced 2 ms apart,
# answered count, fastest and median RTT). The delay is judged by the
# fastest round trip: a loaded machine's scheduling only ever adds to it
# (the median is printed, not judged).

# -- 20 ms each way on the WAN link: RTT about 40 ms
p="${PFX:0:5}d"
"$NATLAB" up wan-delay --prefix "$p" -q || fail "up wan-delay"
read -r got low med < <("$NATLAB" exec --prefix "$p" h1 -- python3 "$HERE/stunc.py" burst 50)
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
read -r got _ _ < <("$NATLAB" exec --prefix "$p" h1 -- python3 "$HERE/stunc.py" burst 500)
"$NATLAB" down --prefix "$p" >/dev/null
echo "loss: $got/500 answered (configured up-loss 0.2: expect ~400)"
[ "$got" -ge 360 ] && [ "$got" -le 440 ] || fail "answered $got/500, want 360..440"

# -- natbox sequential allocation, delta 2: 20 fresh sockets step by 2
p="${PFX:0:5}s"
"$NATLAB" up natbox-sequential --prefix "$p" -q || fail "up natbox-sequential"
ports=$("$NATLAB" exec --prefix "$p" h1 -- python3 "$HERE/stunc.py" fresh 20)
"$NATLAB" down --prefix "$p" >/dev/null
echo "natbox-sequential ports: $ports"
python3 -c "
import sys; p=[int(x) for x in sys.argv[1].split()]
assert len(p)==20 and all(b-a==2 for a,b in zip(p,p[1:])), p
assert all(20000<=x<=29999 for x in p), p" "$ports" || fail "not +2 steps"
echo "PASS: natlab impairments and natbox NAT"
