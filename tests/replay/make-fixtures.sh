#!/bin/bash
# Regenerate the STUN captures of pcap-fixtures/ and their MANIFEST.json.
#
#   tests/replay/make-fixtures.sh [OUTDIR] [TOPOLOGY...]
#
# For each topology, in a natlab lab of its own (unique prefix, private
# NATLAB_STATE_DIR, torn down on exit):
#   TOPO-netcheck-record.pcap   netcheck --record in h1 (pcap, Ethernet,
#                               synthesized headers, real addresses)
#   TOPO-netcheck-h1.pcap       tcpdump -i any in h1 during that same run
#                               (Linux cooked v2): the client side
#   TOPO-netcheck-outside.pcap  tcpdump on the wan router's link to the NAT
#                               during that same run (Ethernet): outside the
#                               NAT, the client's private address unknown
#   TOPO-natdiscovery.pcapng    turnutils_natdiscovery -m -f (coturn),
#                               tcpdump -i any in h1, converted to pcapng
#                               with editcap
#   TOPO-stun.pcap              Debian's RFC 3489 `stun` client, tcpdump -i
#                               any in h1
# then the damaged and hostile captures (make-hostile.py, from the
# port-restricted netcheck record) and MANIFEST.json (manifest.py build,
# which replays every capture, compares it with the topology's declared
# behaviour and with the live run's verdict, and records both).
#
# Ports and timestamps change from run to run; verdicts do not (the lab is
# deterministic in behaviour). Needs root; exits 77 with a one-line reason
# otherwise. NATLAB and NETCHECK point at the programs (default: the build/
# directory of the source tree).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "skipped: make-fixtures.sh needs root (network namespaces)"
  exit 77
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
NATLAB=${NATLAB:-$here/build/tools/natlab/natlab}
NETCHECK=${NETCHECK:-$here/build/tools/netcheck}
out=${1:-$here/pcap-fixtures}
shift || true
topos=("$@")
[ ${#topos[@]} -gt 0 ] || topos=(full-cone restricted-cone port-restricted
  symmetric symmetric-sequential random-range full-cone-hairpin
  port-restricted-hairpin public natbox-ad natbox-sequential)
for tool in "$NATLAB" "$NETCHECK" tcpdump editcap turnutils_natdiscovery stun \
  /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not found"; exit 77; }
done
[ -x "$NETCHECK" ] && [ ! -d "$NETCHECK" ] ||
  { echo "skipped: NETCHECK=$NETCHECK is not a program"; exit 77; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
NATLAB_STATE_DIR=$(mktemp -d /tmp/capfix.XXXXXX)
export NATLAB_STATE_DIR
work=$(mktemp -d /tmp/capfix-work.XXXXXX)
prefix=cf$(( $$ % 10000 ))
td_pids=()
td_files=()
cleanup() {
  local p
  for p in "${td_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  "$NATLAB" down --prefix "$prefix" >/dev/null 2>&1 || true
  rm -rf "$NATLAB_STATE_DIR" "$work"
}
trap cleanup EXIT

# start_capture NODE IFACE FILE: tcpdump in NODE, returns once it listens;
# its pid is appended to td_pids.
start_capture() {
  local node=$1 iface=$2 file=$3 fifo line fd
  fifo=$(mktemp -u "$work/fifo.XXXXXX")
  mkfifo "$fifo"
  # natlab exec replaces itself by tcpdump: $! is tcpdump's pid
  "$NATLAB" exec --prefix "$prefix" "$node" -- \
    tcpdump -i "$iface" -B 16384 --immediate-mode -U -n -w "$file" udp \
    2>"$fifo" &
  td_pids+=("$!")
  exec {fd}<"$fifo"
  while read -r line <&"$fd"; do
    case $line in *"listening on"*) break ;; esac
  done
  cat <&"$fd" >"$file.err" &   # keep draining tcpdump's stderr
  td_files+=("$file")
  exec {fd}<&-
  rm -f "$fifo"
}

# stop_captures: send a marker datagram (not STUN) from h1 through the NAT,
# wait until every capture holds it (tcpdump -U writes packet by packet),
# stop tcpdump, and fail (return 1) if the kernel dropped packets: -i any
# sometimes does, and a capture with holes gives another verdict.
stop_captures() {
  local p f i ok=0
  "$NATLAB" exec --prefix "$prefix" h1 -- bash -c \
    'echo capfix-end >/dev/udp/203.0.113.1/9' || true
  for f in "${td_files[@]}"; do
    for i in $(seq 200); do
      grep -qa capfix-end "$f" 2>/dev/null && break
      sleep 0.02
    done
  done
  for p in "${td_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${td_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for f in "${td_files[@]}"; do
    grep -q "^0 packets dropped by kernel" "$f.err" || ok=1
    rm -f "$f.err"
  done
  td_pids=()
  td_files=()
  return $ok
}

# attempt N CMD...: run CMD (a function that captures) up to N times until
# no capture lost packets.
attempt() {
  local n=$1 i
  shift
  for i in $(seq "$n"); do
    "$@" && return 0
    echo "   (a capture lost packets; again)"
  done
  echo "make-fixtures.sh: $* lost packets $n times" >&2
  return 1
}

# The wan router's link towards the NAT (its one non-loopback interface).
wan_iface() {
  "$NATLAB" exec --prefix "$prefix" wan -- ip -o link show |
    awk -F': ' '$2 != "lo" { sub(/@.*/, "", $2); print $2; exit }'
}

: >"$work/runs.jsonl"
note() { # note FILE TOPO CLIENT POINT FORMAT HOW LIVEFILE
  /usr/bin/python3 - "$@" >>"$work/runs.jsonl" <<'PY'
import json, sys
f, topo, client, point, fmt, how, live = sys.argv[1:8]
try:
    text = open(live).read() if live != "-" else ""
except OSError:
    text = ""
print(json.dumps({"file": f, "topology": topo, "client": client,
                  "capture_point": point, "format": fmt, "how": how,
                  "live_output": text}))
PY
}

run_netcheck() {
  start_capture h1 any "$out/$topo-netcheck-h1.pcap"
  start_capture wan "$wif" "$out/$topo-netcheck-outside.pcap"
  "$NATLAB" exec --prefix "$prefix" h1 -- "$NETCHECK" -4 \
    --server 203.0.113.1:3478 --json \
    --record "$out/$topo-netcheck-record.pcap" >"$work/$topo-netcheck.json" ||
    true
  stop_captures
}

run_natdiscovery() {
  start_capture h1 any "$work/$topo-natdiscovery.pcap"
  "$NATLAB" exec --prefix "$prefix" h1 -- turnutils_natdiscovery -m -f \
    203.0.113.1 >"$work/$topo-natdiscovery.txt" 2>&1 || true
  stop_captures
}

run_stun() {
  start_capture h1 any "$out/$topo-stun.pcap"
  "$NATLAB" exec --prefix "$prefix" h1 -- stun 203.0.113.1 \
    >"$work/$topo-stun.txt" 2>&1 || true
  stop_captures
}

for topo in "${topos[@]}"; do
  echo "== $topo"
  "$NATLAB" up "$topo" --prefix "$prefix" -q
  wif=$(wan_iface)

  # netcheck: its own record + tcpdump on both sides of the NAT, one run
  attempt 3 run_netcheck
  note "$topo-netcheck-record.pcap" "$topo" netcheck client pcap \
    "netcheck -4 --server 203.0.113.1:3478 --json --record FILE in h1" \
    "$work/$topo-netcheck.json"
  note "$topo-netcheck-h1.pcap" "$topo" netcheck client pcap-linux-sll2 \
    "tcpdump -i any udp in h1 during the netcheck --record run" \
    "$work/$topo-netcheck.json"
  note "$topo-netcheck-outside.pcap" "$topo" netcheck outside pcap-ethernet \
    "tcpdump -i $wif udp in the wan router during the netcheck --record run" \
    "$work/$topo-netcheck.json"

  # coturn's RFC 5780 client, saved as pcapng
  attempt 3 run_natdiscovery
  editcap -F pcapng "$work/$topo-natdiscovery.pcap" \
    "$out/$topo-natdiscovery.pcapng"
  note "$topo-natdiscovery.pcapng" "$topo" turnutils_natdiscovery client \
    pcapng-linux-sll2 \
    "tcpdump -i any udp in h1 while turnutils_natdiscovery -m -f 203.0.113.1 ran; editcap -F pcapng" \
    "$work/$topo-natdiscovery.txt"

  # Debian's classic RFC 3489 client
  attempt 3 run_stun
  note "$topo-stun.pcap" "$topo" stun client pcap-linux-sll2 \
    "tcpdump -i any udp in h1 while stun 203.0.113.1 ran" \
    "$work/$topo-stun.txt"

  "$NATLAB" down --prefix "$prefix" >/dev/null
done

/usr/bin/python3 "$here/tests/replay/make-hostile.py" \
  "$out/port-restricted-netcheck-record.pcap" "$out" >>"$work/runs.jsonl"
/usr/bin/python3 "$here/tests/replay/manifest.py" build "$NETCHECK" "$out" \
  "$work/runs.jsonl"
