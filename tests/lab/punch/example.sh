#!/usr/bin/env bash
# lab.punch.example: examples/punch_echo (the agent API, nat/agent.h) on
# two hosts of a natlab lab behind port-restricted NATs. Ticket style:
# each prints its blob, gets the other's on stdin (FIFOs); then through
# `punch serve` on the lab's WAN. Both exit 0 and the QUIC client prints
# the line echoed by the other peer.
#
# usage: example.sh NATLAB PUNCH PUNCH_ECHO
# Exit: 0 pass, 1 fail, 77 skipped.
set -uo pipefail
NATLAB=${1:?usage}
PUNCH=${2:?usage}
ECHO=${3:?usage}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../natlab/common.sh"
need_lab mkfifo
lab_init "pex"
tmp=$(mktemp -d)
PIDS=
cleanup() {
  for p in $PIDS; do pkill -P "$p"; kill "$p"; done 2>/dev/null
  lab_cleanup
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
STUN=203.0.113.1:3478
RDV=203.0.113.1:4000
LINE="hello through two NATs $$"

"$NATLAB" up pair --set a=port-restricted --set b=port-restricted \
  --prefix "$PFX" -q >"$tmp/up.log" 2>&1 ||
  { cat "$tmp/up.log"; fail "natlab up"; }
x() { local n=$1; shift; "$NATLAB" exec --prefix "$PFX" "$n" -- "$@"; }

# check A_OUT B_OUT: both exited 0 (RA/RB), exactly one printed the echo
check() {
  [ "$RA" = 0 ] || fail "$1: peer A exited $RA: $(cat "$tmp/a.err")"
  [ "$RB" = 0 ] || fail "$1: peer B exited $RB: $(cat "$tmp/b.err")"
  n=$(cat "$tmp/a.out" "$tmp/b.out" | grep -cxF "echo: $LINE")
  [ "$n" = 1 ] || fail "$1: want one 'echo: $LINE', got: $(cat "$tmp/a.out" "$tmp/b.out")"
  echo "$1: the line came back"
}

# 1. ticket style: blobs through FIFOs
for n in a b; do mkfifo "$tmp/in.$n" "$tmp/out.$n"; done
x ha "$ECHO" --stun $STUN "$LINE" <>"$tmp/in.a" >"$tmp/out.a" 2>"$tmp/a.err" &
PA=$!
x hb "$ECHO" --stun $STUN "$LINE" <>"$tmp/in.b" >"$tmp/out.b" 2>"$tmp/b.err" &
PB=$!
PIDS="$PA $PB"
exec 6<"$tmp/out.a" 7<"$tmp/out.b"
read -r BA <&6 || fail "no blob from A: $(cat "$tmp/a.err")"
read -r BB <&7 || fail "no blob from B: $(cat "$tmp/b.err")"
case "$BA $BB" in natp1.*natp1.*) ;; *) fail "blobs: '$BA' '$BB'" ;; esac
printf '%s\n' "$BB" >"$tmp/in.a"
printf '%s\n' "$BA" >"$tmp/in.b"
cat <&6 >"$tmp/a.out" &
cat <&7 >"$tmp/b.out" &
wait "$PA"; RA=$?
wait "$PB"; RB=$?
PIDS=
wait
check tickets

# 2. through the rendezvous
mkfifo "$tmp/srv.fifo"
x wan "$PUNCH" serve --listen $RDV 2>"$tmp/srv.fifo" &
PIDS=$!
exec 5<"$tmp/srv.fifo"
read -r line <&5 || fail "punch serve did not start"
cat <&5 >"$tmp/srv.log" &
room="example-$$-room"
x ha "$ECHO" --rendezvous $RDV --room "$room" "$LINE" >"$tmp/a.out" \
  2>"$tmp/a.err" &
pa=$!
x hb "$ECHO" --rendezvous $RDV --room "$room" "$LINE" >"$tmp/b.out" \
  2>"$tmp/b.err" &
pb=$!
wait $pa; RA=$?
wait $pb; RB=$?
check rendezvous
echo "PASS: example"
