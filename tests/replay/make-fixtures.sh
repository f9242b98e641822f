#!/bin/bash
# Regenerate real STUN captures for pcap-fixtures/: in natlab labs, record
# `tcpdump -i any udp` in host h1 (Linux cooked captures, v1 or v2) while
# the reference clients run there: coturn's `turnutils_natdiscovery -m -f`
# (RFC 5780 mapping + filtering) and Debian's `stun` (RFC 3489).
#
#   tests/replay/make-fixtures.sh [OUTDIR] [TOPOLOGY...]
#
# OUTDIR defaults to pcap-fixtures/; topologies default to a set covering
# each mapping/filtering pair. Writes OUTDIR/<topology>-natdiscovery.pcap
# and OUTDIR/<topology>-stun.pcap, and prints each client's own verdict
# (keep it in the MANIFEST next to the expected replay verdict). Needs root;
# exits 77 with a one-line reason otherwise. NATLAB points at the natlab
# binary (default: build/tools/natlab/natlab).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "skipped: make-fixtures.sh needs root (network namespaces)"
  exit 77
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
NATLAB=${NATLAB:-$here/build/tools/natlab/natlab}
out=${1:-$here/pcap-fixtures}
shift || true
topos=("$@")
[ ${#topos[@]} -gt 0 ] || topos=(full-cone restricted-cone port-restricted
  symmetric public)
for tool in "$NATLAB" tcpdump turnutils_natdiscovery stun; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not found"; exit 77; }
done
mkdir -p "$out"
NATLAB_STATE_DIR=$(mktemp -d /tmp/capfix.XXXXXX)
export NATLAB_STATE_DIR
prefix=cap$(( $$ % 1000 ))
cleanup() {
  "$NATLAB" down --prefix "$prefix" >/dev/null 2>&1 || true
  rm -rf "$NATLAB_STATE_DIR"
}
trap cleanup EXIT

# record FILE CMD...: capture in h1 while CMD runs in h1.
record() {
  local file=$1 line
  shift
  # natlab exec replaces itself by tcpdump: TD_PID is tcpdump's pid
  coproc TD { exec "$NATLAB" exec --prefix "$prefix" h1 -- \
    tcpdump -i any --immediate-mode -U -n -w "$file" udp 2>&1; }
  # tcpdump says "listening on ..." once the capture is open
  while read -r line <&"${TD[0]}"; do
    case $line in *"listening on"*) break ;; esac
  done
  "$NATLAB" exec --prefix "$prefix" h1 -- "$@" || true
  local pid=$TD_PID
  kill -INT "$pid"
  wait "$pid" || true
}

for topo in "${topos[@]}"; do
  "$NATLAB" up "$topo" --prefix "$prefix" -q
  echo "== $topo"
  record "$out/$topo-natdiscovery.pcap" \
    turnutils_natdiscovery -m -f 203.0.113.1 | grep -iE "behavior|nat|filter" || true
  record "$out/$topo-stun.pcap" stun 203.0.113.1 || true
  "$NATLAB" down --prefix "$prefix" >/dev/null
done
