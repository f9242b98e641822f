#!/bin/bash
# Make the real IPv6 captures of pcap-fixtures/ and their MANIFEST entries:
#
#   tests/replay/make-v6.sh [OUTDIR]
#
#   public-v6-netcheck-record.pcap  netcheck -6 --record on the client
#                                   (pcap, synthesized IPv6 headers, real
#                                   addresses)
#   public-v6-netcheck-h1.pcap      tcpdump -i any udp on the client during
#                                   that same run (Linux cooked v2)
#
# Topology "public-v6": no NAT. Two network namespaces of unique names
# (nv6c-PID, nv6s-PID) joined by a veth pair on 2001:db8::/64: the client
# 2001:db8::100, the server coturn's turnserver on 2001:db8::1 and
# 2001:db8::2 (two addresses: RFC 5780's OTHER-ADDRESS and CHANGE-REQUEST
# on), ports 3478 and 3479. Both namespaces are deleted on exit, whatever
# happens. Then `manifest.py build NETCHECK OUTDIR RUNS` writes the two
# entries (other entries are kept).
#
# Needs root; exits 77 with a one-line reason otherwise. NETCHECK points at
# netcheck (default: the build/ directory of the source tree).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "skipped: make-v6.sh needs root (network namespaces)"
  exit 77
fi
for p in turnserver tcpdump ip; do
  command -v "$p" >/dev/null || { echo "skipped: no $p"; exit 77; }
done
here=$(cd "$(dirname "$0")/../.." && pwd)
NETCHECK=${NETCHECK:-$here/build/tools/netcheck}
out=${1:-$here/pcap-fixtures}
cli=nv6c-$$
srv=nv6s-$$
work=$(mktemp -d /tmp/make-v6.XXXXXX)
tsrv_pid=
tcpd_pid=

cleanup() {
  [ -z "$tcpd_pid" ] || kill "$tcpd_pid" 2>/dev/null || true
  [ -z "$tsrv_pid" ] || kill "$tsrv_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# until TRIES CMD...: run CMD every 0.1 s until it succeeds (TRIES times).
until_ok() {
  local n=$1
  shift
  while ! "$@" >/dev/null 2>&1; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || return 1
    sleep 0.1
  done
}

ip netns add "$cli"
ip netns add "$srv"
ip link add "v6c$$" netns "$cli" type veth peer name "v6s$$" netns "$srv"
for ns in "$cli" "$srv"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
    net.ipv6.conf.default.accept_dad=0
  ip -n "$ns" link set lo up
done
ip -n "$cli" addr add 2001:db8::100/64 dev "v6c$$" nodad
ip -n "$srv" addr add 2001:db8::1/64 dev "v6s$$" nodad
ip -n "$srv" addr add 2001:db8::2/64 dev "v6s$$" nodad
ip -n "$cli" link set "v6c$$" up
ip -n "$srv" link set "v6s$$" up

ip netns exec "$srv" turnserver -n --stun-only --no-tls --no-dtls --no-tcp \
  --no-cli --no-auth --listening-ip 2001:db8::1 --listening-ip 2001:db8::2 \
  --listening-port 3478 --alt-listening-port 3479 \
  --log-file "$work/turnserver.log" --simple-log --no-stdout-log -m 1 &
tsrv_pid=$!
# four UDP sockets: both addresses, both ports
until_ok 100 bash -c "[ \$(ip netns exec $srv ss -Hlun | grep -c '2001:db8::') -ge 4 ]" ||
  { echo "make-v6.sh: turnserver did not listen" >&2; exit 3; }
until_ok 50 bash -c "ip -n $cli link show v6c$$ | grep -q LOWER_UP" ||
  { echo "make-v6.sh: the veth pair is not up" >&2; exit 3; }

ip netns exec "$cli" tcpdump -i any -B 32768 -U --immediate-mode -w "$out/public-v6-netcheck-h1.pcap" \
  udp 2>"$work/tcpdump.err" &
tcpd_pid=$!
until_ok 50 grep -q "listening on" "$work/tcpdump.err" ||
  { echo "make-v6.sh: tcpdump did not start" >&2; exit 3; }

ip netns exec "$cli" "$NETCHECK" -6 --server '[2001:db8::1]:3478' \
  --no-hops --no-portmap --json \
  --record "$out/public-v6-netcheck-record.pcap" >"$work/netcheck.json" ||
  true
kill -INT "$tcpd_pid"
wait "$tcpd_pid" || true
sed "s/^/make-v6.sh: /" "$work/tcpdump.err" >&2
grep -q "^0 packets dropped by kernel" "$work/tcpdump.err" ||
  { echo "make-v6.sh: tcpdump lost packets: not a fixture" >&2; exit 3; }
tcpd_pid=

note() { # note FILE FORMAT HOW
  /usr/bin/python3 - "$1" "$2" "$3" "$work/netcheck.json" <<'PY'
import json, sys
f, fmt, how, live = sys.argv[1:5]
print(json.dumps({"file": f, "topology": "public-v6", "client": "netcheck",
                  "capture_point": "client", "format": fmt, "how": how,
                  "live_output": open(live).read()}))
PY
}
{
  note public-v6-netcheck-record.pcap pcap \
    "netcheck -6 --server [2001:db8::1]:3478 --no-hops --no-portmap --json --record FILE on the client (tests/replay/make-v6.sh: veth pair between two namespaces, coturn turnserver on 2001:db8::1 and ::2)"
  note public-v6-netcheck-h1.pcap pcap-linux-sll2 \
    "tcpdump -i any udp on the client during the netcheck --record run (tests/replay/make-v6.sh)"
} >"$work/runs.jsonl"
/usr/bin/python3 "$here/tests/replay/manifest.py" build "$NETCHECK" "$out" \
  "$work/runs.jsonl"
