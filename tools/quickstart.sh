#!/usr/bin/env bash
# The README's first command: install what libnat needs, build it, and run
# netcheck against an RFC 5780 STUN server (coturn) that this script starts
# on loopback (127.0.0.1 and 127.0.0.2, ports 3478/3479) and stops after.
# Extra arguments go to netcheck (for example --json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh >&2
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >&2

log=$(mktemp /tmp/nat-quickstart-coturn.XXXXXX)
turnserver -n --stun-only --no-tls --no-dtls --no-tcp --no-cli --no-auth \
  --listening-ip 127.0.0.1 --listening-ip 127.0.0.2 \
  --listening-port 3478 --alt-listening-port 3479 \
  --log-file "$log" --simple-log --no-stdout-log -m 1 &
coturn=$!
trap 'kill $coturn 2>/dev/null; wait $coturn 2>/dev/null; rm -f "$log"' EXIT
# Wait until coturn answers (bounded: about 5 s).
for _ in $(seq 1 100); do
  if ./build/tools/netcheck --server 127.0.0.1:3478 --timeout 50 >/dev/null 2>&1; then
    break
  fi
  kill -0 $coturn 2>/dev/null || { echo "quickstart: coturn failed to start (see $log)" >&2; exit 3; }
done
./build/tools/netcheck --server 127.0.0.1:3478 "$@"
