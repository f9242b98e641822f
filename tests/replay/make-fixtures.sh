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
#
# CLIENTS (environment, blank- or comma-separated) selects what is recorded;
# the default "netcheck natdiscovery stun" is the set above. More:
#   natdiscovery-mapping      TOPO-natdiscovery-mapping.pcapng: -m alone
#   natdiscovery-filtering    TOPO-natdiscovery-filtering.pcapng: -f alone
#   natdiscovery-hairpinning  TOPO-natdiscovery-hairpinning.pcapng: -H
#   natdiscovery-collision    TOPO-natdiscovery-collision.pcapng: -c -A ALT,
#                             ALT a second address of h1 (its own address
#                             + 1, on h1's lo, routed to h1 by its parent)
#   natdiscovery-lifetime     TOPO-natdiscovery-lifetime.pcapng: -t -T 2
#                             (bounded by timeout 30)
#   natdiscovery-padding      TOPO-natdiscovery-padding.pcapng: -m -f -P
#   stunclient                TOPO-stunclient.pcap: turnutils_stunclient
#                             (bounded by timeout 4: it waits forever for an
#                             answer its NAT drops)
#   netcheck-gwout            TOPO-netcheck-gwout.pcap: a netcheck run
#                             captured by tcpdump in the NAT's namespace on
#                             its uplink (kernel NATs only: a natbox NAT
#                             translates in userspace between two TUN
#                             devices, its namespace has no outside
#                             interface carrying translated packets)
# all pcapng ones are tcpdump -i any in h1 converted with editcap; each
# entry's origin records how long the client ran (seconds).
# The damaged and hostile captures are made again only when "netcheck" is
# in CLIENTS and port-restricted among the topologies (they are derived
# from its netcheck record); MANIFEST entries of other files are kept as
# they are.
#
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
CLIENTS=${CLIENTS:-netcheck natdiscovery stun}
clients=" ${CLIENTS//,/ } "
want() { case $clients in *" $1 "*) return 0 ;; esac; return 1; }
for c in $clients; do
  case $c in
    netcheck|natdiscovery|stun|stunclient|netcheck-gwout) ;;
    natdiscovery-mapping|natdiscovery-filtering|natdiscovery-hairpinning) ;;
    natdiscovery-collision|natdiscovery-lifetime|natdiscovery-padding) ;;
    *) echo "make-fixtures.sh: unknown client '$c' in CLIENTS" >&2; exit 2 ;;
  esac
done
for tool in "$NATLAB" "$NETCHECK" tcpdump editcap turnutils_natdiscovery stun \
  turnutils_stunclient timeout /usr/bin/python3; do
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
note() { # note FILE TOPO CLIENT POINT FORMAT HOW LIVEFILE [MODE SECONDS]
  /usr/bin/python3 - "$@" >>"$work/runs.jsonl" <<'PY'
import json, sys
f, topo, client, point, fmt, how, live = sys.argv[1:8]
try:
    text = open(live).read() if live != "-" else ""
except OSError:
    text = ""
o = {"file": f, "topology": topo, "client": client, "capture_point": point,
     "format": fmt, "how": how, "live_output": text}
if len(sys.argv) > 8:
    o["mode"] = sys.argv[8]
    o["seconds"] = round(float(sys.argv[9]), 2)
print(json.dumps(o))
PY
}

# timed CMD...: run CMD, its wall time in seconds in $took.
timed() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" || true
  t1=$(date +%s.%N)
  took=$(echo "$t1 - $t0" | bc)
}

# h1's second address for turnutils_natdiscovery -c -A: h1's address + 1
# (192.168.1.3 behind a NAT, 198.51.100.3 for a public host; both unused
# in single-host topologies), on h1's lo, routed to h1 by its parent (the
# NAT, or wan for a public host: the node holding h1's peer address).
add_alt_address() {
  local line a peer alt node pif
  line=$("$NATLAB" exec --prefix "$prefix" h1 -- ip -o -4 addr show |
    awk '$2 != "lo" && $5 == "peer" { print $4, $6; exit }')
  a=${line%% *}
  peer=${line#* }
  peer=${peer%/*}
  alt=${a%.*}.$(( ${a##*.} + 1 ))
  for node in home wan; do
    pif=$("$NATLAB" exec --prefix "$prefix" "$node" -- ip -o -4 addr show \
      2>/dev/null | awk -v p="$peer" '$4 == p { print $2; exit }') || true
    [ -n "$pif" ] && break
  done
  [ -n "$pif" ] || { echo "make-fixtures.sh: no parent of h1 holds $peer" >&2
                     return 1; }
  "$NATLAB" exec --prefix "$prefix" h1 -- ip addr add "$alt/32" dev lo
  "$NATLAB" exec --prefix "$prefix" "$node" -- \
    ip route add "$alt/32" via "$a" dev "$pif"
  alt_addr=$alt
}

# The NAT's uplink in its own namespace (the interface holding the NAT's
# public address): empty for a natbox NAT (no address there) or no NAT.
gw_wan_iface() {
  "$NATLAB" exec --prefix "$prefix" home -- ip -o -4 addr show 2>/dev/null |
    awk '$4 ~ /^198\.51\.100\./ { print $2; exit }' || true
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

# natdiscovery MODE ARGS...: turnutils_natdiscovery ARGS in h1, captured
# with tcpdump -i any in h1 to $work/$topo-natdiscovery-MODE.pcap.
run_natdiscovery_mode() {
  local mode=$1
  shift
  start_capture h1 any "$work/$topo-natdiscovery-$mode.pcap"
  timed timeout 30 "$NATLAB" exec --prefix "$prefix" h1 -- \
    turnutils_natdiscovery "$@" 203.0.113.1 \
    >"$work/$topo-natdiscovery-$mode.txt" 2>&1
  stop_captures
}

run_stunclient() {
  start_capture h1 any "$out/$topo-stunclient.pcap"
  timed timeout 4 "$NATLAB" exec --prefix "$prefix" h1 -- \
    turnutils_stunclient 203.0.113.1 >"$work/$topo-stunclient.txt" 2>&1
  stop_captures
}

run_netcheck_gwout() {
  start_capture home "$gwif" "$out/$topo-netcheck-gwout.pcap"
  timed "$NATLAB" exec --prefix "$prefix" h1 -- "$NETCHECK" -4 \
    --server 203.0.113.1:3478 --json >"$work/$topo-netcheck-gwout.json"
  stop_captures
}

# record_natdiscovery MODE "ARGS": one mode, pcapng, its MANIFEST origin.
record_natdiscovery() {
  local mode=$1 args=$2
  # shellcheck disable=SC2086
  attempt 3 run_natdiscovery_mode "$mode" $args
  editcap -F pcapng "$work/$topo-natdiscovery-$mode.pcap" \
    "$out/$topo-natdiscovery-$mode.pcapng"
  note "$topo-natdiscovery-$mode.pcapng" "$topo" turnutils_natdiscovery \
    client pcapng-linux-sll2 \
    "tcpdump -i any udp in h1 while turnutils_natdiscovery $args 203.0.113.1 ran; editcap -F pcapng" \
    "$work/$topo-natdiscovery-$mode.txt" "$mode" "$took"
  echo "   natdiscovery $args: ${took}s"
}

for topo in "${topos[@]}"; do
  echo "== $topo"
  "$NATLAB" up "$topo" --prefix "$prefix" -q
  wif=$(wan_iface)

  if want natdiscovery-mapping; then record_natdiscovery mapping "-m"; fi
  if want natdiscovery-filtering; then record_natdiscovery filtering "-f"; fi
  if want natdiscovery-hairpinning; then
    record_natdiscovery hairpinning "-H"
  fi
  if want natdiscovery-lifetime; then
    record_natdiscovery lifetime "-t -T 2"
  fi
  if want natdiscovery-padding; then
    record_natdiscovery padding "-m -f -P"
  fi
  if want natdiscovery-collision; then
    add_alt_address
    record_natdiscovery collision "-c -A $alt_addr"
  fi
  if want stunclient; then
    attempt 3 run_stunclient
    note "$topo-stunclient.pcap" "$topo" turnutils_stunclient client \
      pcap-linux-sll2 \
      "tcpdump -i any udp in h1 while turnutils_stunclient 203.0.113.1 ran (timeout 4)" \
      "$work/$topo-stunclient.txt" plain "$took"
    echo "   stunclient: ${took}s"
  fi
  if want netcheck-gwout; then
    gwif=$(gw_wan_iface)
    if [ -n "$gwif" ]; then
      attempt 3 run_netcheck_gwout
      note "$topo-netcheck-gwout.pcap" "$topo" netcheck outside \
        pcap-ethernet \
        "tcpdump -i $gwif udp in the NAT's namespace (its uplink) during netcheck -4 --server 203.0.113.1:3478 --json in h1" \
        "$work/$topo-netcheck-gwout.json" gwout "$took"
      echo "   netcheck (gateway outside): ${took}s"
    else
      echo "   netcheck-gwout: $topo has no kernel NAT uplink; skipped"
    fi
  fi

  # netcheck: its own record + tcpdump on both sides of the NAT, one run
  if want netcheck; then
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
  fi

  # coturn's RFC 5780 client, saved as pcapng
  if want natdiscovery; then
    attempt 3 run_natdiscovery
    editcap -F pcapng "$work/$topo-natdiscovery.pcap" \
      "$out/$topo-natdiscovery.pcapng"
    note "$topo-natdiscovery.pcapng" "$topo" turnutils_natdiscovery client \
      pcapng-linux-sll2 \
      "tcpdump -i any udp in h1 while turnutils_natdiscovery -m -f 203.0.113.1 ran; editcap -F pcapng" \
      "$work/$topo-natdiscovery.txt"
  fi

  # Debian's classic RFC 3489 client
  if want stun; then
    attempt 3 run_stun
    note "$topo-stun.pcap" "$topo" stun client pcap-linux-sll2 \
      "tcpdump -i any udp in h1 while stun 203.0.113.1 ran" \
      "$work/$topo-stun.txt"
  fi

  "$NATLAB" down --prefix "$prefix" >/dev/null
done

# (only when this run recorded the port-restricted netcheck capture)
if want netcheck && [[ " ${topos[*]} " == *" port-restricted "* ]]; then
  /usr/bin/python3 "$here/tests/replay/make-hostile.py" \
    "$out/port-restricted-netcheck-record.pcap" "$out" >>"$work/runs.jsonl"
fi
# RUNS_COPY=FILE keeps the runs (origins and live outputs) for a later
# `manifest.py build NETCHECK OUTDIR FILE`.
[ -z "${RUNS_COPY:-}" ] || cp "$work/runs.jsonl" "$RUNS_COPY"
/usr/bin/python3 "$here/tests/replay/manifest.py" build "$NETCHECK" "$out" \
  "$work/runs.jsonl"
