#!/usr/bin/env bash
# Mapping timeouts end to end: an idle mapping really goes away.
#  kernel (timeout=5, sequential ports): the host maps local port 40001,
#   maps it again at once (same external port: the mapping lives), then
#   natlab polls conntrack in the NAT's namespace until the entry is gone
#   (bounded polling, no sleep), and the next packet from 40001 gets the
#   next sequential port.
#  natbox (timeout=3, a one-port range): socket A takes the only external
#   port; socket B probes every 100 ms and is refused (ports exhausted)
#   until A's mapping expires; B then gets that very port.
set -uo pipefail
NATLAB=$1
export NATLAB_NATBOX=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
need_lab conntrack python3
lab_init t
tmp=$(mktemp -d); trap 'lab_cleanup; rm -rf "$tmp"' EXIT

# One STUN Binding request from 192.168.1.2:PORT; prints the mapped port.
# -- kernel: symmetric-sequential with a 5 s UDP timeout
mkdir "$tmp/topos"
printf 'description kernel timeout\nnat home kind=symmetric-sequential timeout=5\nhost h1 behind=home\n' \
  >"$tmp/topos/kto.topo"
p="${PFX:0:5}k"
"$NATLAB" up "$tmp/topos/kto.topo" --prefix "$p" -q || fail "up kernel timeout lab"
# Two probes from one process, back to back: well inside the timeout even
# on a loaded machine.
two=$("$NATLAB" exec --prefix "$p" h1 -- python3 "$HERE/stunc.py" bind 40001 2) || fail "stun 1"
read -r x1 x2 <<<"$(echo $two)"
[ -n "$x1" ] && [ "$x1" = "$x2" ] || fail "kernel: a live mapping changed port ($x1 then $x2)"
t0=$(date +%s.%N)
gone=""
while :; do  # bounded polling of the NAT's state (deadline 15 s)
  n=$("$NATLAB" exec --prefix "$p" home -- conntrack -L -p udp --orig-port-src 40001 2>/dev/null | grep -c 'sport=40001')
  [ "$n" = 0 ] && { gone=$(date +%s.%N); break; }
  python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) < 15 else 1)" \
    "$t0" "$(date +%s.%N)" || break
done
[ -n "$gone" ] || fail "kernel: conntrack entry still there after 15 s (timeout=5)"
idle=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$gone")
# Not before the timeout (the lower bound allows for when t0 was taken);
# late only by the polling interval, which a loaded machine stretches.
python3 -c "import sys; sys.exit(0 if 3.5 <= float(sys.argv[1]) <= 12 else 1)" "$idle" ||
  fail "kernel: the entry went after ${idle}s idle, want 5 (3.5..12 allowing for polling)"
x3=$("$NATLAB" exec --prefix "$p" h1 -- python3 "$HERE/stunc.py" bind 40001) || fail "stun 3"
"$NATLAB" down --prefix "$p" >/dev/null
[ "$x3" = $((x1 + 1)) ] || fail "kernel: after expiry got port $x3, want the next one $((x1 + 1))"
echo "kernel timeout=5: mapping $x1 dropped after ${idle}s idle; next mapping $x3"

# -- natbox: one external port, timeout 3 s
if [ -z "$NATLAB_NATBOX" ] || [ ! -x "$NATLAB_NATBOX" ] || [ ! -c /dev/net/tun ]; then
  echo "PASS: kernel mapping timeout (natbox part skipped: natbox not built or no /dev/net/tun)"
  exit 0
fi
read -r -d '' EXPIRY_PY <<'PY'
import os, select, socket, struct, time
def sock(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    return s
def ask(s, wait):
    tid = os.urandom(12)
    s.sendto(struct.pack("!HHI", 1, 0, 0x2112A442) + tid, ("203.0.113.1", 3478))
    end = time.monotonic() + wait
    while select.select([s], [], [], max(0, end - time.monotonic()))[0]:
        d = s.recv(2048)
        if d[8:20] == tid:
            return struct.unpack("!H", d[26:28])[0] ^ 0x2112
    return None
a, b = sock(40001), sock(40002)
t0 = time.monotonic()
pa = ask(a, 2)
assert pa is not None, "A got no mapping"
tries, pb = 0, None
while pb is None and time.monotonic() - t0 < 10:  # bounded polling
    tries += 1
    pb = ask(b, 0.1)
print(pa, pb, tries, "%.1f" % (time.monotonic() - t0))
PY
printf 'description natbox timeout\nnat home engine=natbox mapping=ei filtering=ei alloc=sequential range=20000-20000 timeout=3\nhost h1 behind=home\n' \
  >"$tmp/topos/nto.topo"
p="${PFX:0:5}n"
"$NATLAB" up "$tmp/topos/nto.topo" --prefix "$p" -q || fail "up natbox timeout lab"
read -r pa pb tries idle < <("$NATLAB" exec --prefix "$p" h1 -- python3 -c "$EXPIRY_PY")
"$NATLAB" down --prefix "$p" >/dev/null
echo "natbox timeout=3: A mapped $pa; B refused $((tries - 1)) times, then mapped $pb after ${idle}s"
[ "$pa" = 20000 ] || fail "natbox: A got '$pa', want 20000"
[ "$pb" = 20000 ] || fail "natbox: B got '$pb' within 10 s, want 20000 once A's mapping expired"
[ "$tries" -gt 10 ] || fail "natbox: B got the port after $tries probes: A's mapping did not hold"
python3 -c "import sys; sys.exit(0 if 2.5 <= float(sys.argv[1]) <= 9 else 1)" "$idle" ||
  fail "natbox: A's mapping expired after ${idle}s, want 3 (2.5..9 allowing for polling)"
echo "PASS: mapping timeouts (kernel conntrack, natbox)"
