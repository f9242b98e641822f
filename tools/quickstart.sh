#!/usr/bin/env bash
# The README's first command: install what libnat needs, build it, build the
# default NAT lab (natlab's port-restricted topology: one host behind a
# kernel NAT, an RFC 5780 STUN server on 203.0.113.1/.2 in the lab's WAN),
# run netcheck on the host inside it, print the report and tear the lab down.
# Extra arguments go to netcheck (for example --json).
# Needs root (network namespaces and nftables).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: needs root (it installs packages and builds a network-namespace lab)" >&2
  exit 3
fi
bash tools/install-deps.sh >&2
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >&2

natlab=./build/tools/natlab/natlab
netcheck=$PWD/build/tools/netcheck
prefix="qs$$"
prefix=${prefix:0:6}
export NATLAB_NATBOX=$PWD/build/tools/natbox/natbox
trap '$natlab down --prefix "$prefix" >/dev/null 2>&1 || true' EXIT INT TERM
$natlab up --prefix "$prefix" -q >&2
echo "quickstart: lab '$prefix' is up (port-restricted NAT); running netcheck on host h1" >&2
$natlab exec --prefix "$prefix" h1 -- "$netcheck" --server 203.0.113.1:3478 "$@"
