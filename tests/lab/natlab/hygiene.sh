#!/usr/bin/env bash
# natlab up/down hygiene: namespaces come and go, exec passes exit codes
# through, SIGTERM during up leaves nothing, down --all cleans, no root -> 3,
# a bad topology -> 2 with FILE:LINE.
set -uo pipefail
NATLAB=$1
. "$(dirname "$0")/common.sh"
need_lab setpriv
lab_init h
tmp=$(mktemp -d); trap 'lab_cleanup; rm -rf "$tmp"' EXIT

# -- usage errors need no root: bad topology names file and line
printf 'nat home kind=full-cone\nhost h1 behind=home\nnat x mapping=sideways\n' \
  >"$tmp/bad.topo"
out=$("$NATLAB" up "$tmp/bad.topo" --prefix "$PFX" 2>&1); rc=$?
[ $rc = 2 ] || fail "bad topology: exit $rc, want 2"
grep -q "^$tmp/bad.topo:3: " <<<"$out" || fail "bad topology message: $out"
"$NATLAB" up full-cone --prefix 'Bad!' >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "bad prefix: exit $rc, want 2"
"$NATLAB" up no-such-topology >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "unknown topology: exit $rc, want 2"

# -- not root: one line, exit 3
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$NATLAB" up \
  full-cone --prefix "$PFX" 2>&1); rc=$?
[ $rc = 3 ] || fail "non-root up: exit $rc, want 3"
[ "$out" = "natlab: needs root (network namespaces and nftables)" ] ||
  fail "non-root message: $out"

# -- up, namespaces exist, exec, status, down, nothing left
"$NATLAB" up full-cone --prefix "$PFX" -q || fail "up full-cone failed"
for n in wan home h1; do
  ip netns list | grep -q "^$PFX-$n\b" || fail "namespace $PFX-$n missing"
done
"$NATLAB" exec --prefix "$PFX" h1 -- sh -c 'exit 7'; rc=$?
[ $rc = 7 ] || fail "exec exit status: $rc, want 7"
addr=$("$NATLAB" exec --prefix "$PFX" h1 -- ip -4 -br addr show)
grep -q 192.168.1.2 <<<"$addr" || fail "host address missing: $addr"
"$NATLAB" status --prefix "$PFX" | grep -q 'turnserver.*alive' ||
  fail "status shows no live coturn"
"$NATLAB" up full-cone --prefix "$PFX" -q 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "second up on the same prefix: exit $rc, want 2"
ip netns list | grep -q "^$PFX-h1\b" || fail "failed second up broke the lab"
pid=$(awk '$1=="pid"{print $3}' "$NATLAB_STATE_DIR/$PFX/state")
"$NATLAB" down --prefix "$PFX" >/dev/null || fail "down failed"
[ -z "$(ns_with_prefix "$PFX")" ] || fail "namespaces left: $(ns_with_prefix "$PFX")"
[ ! -e "$NATLAB_STATE_DIR/$PFX" ] || fail "state dir left"
# gone, or a zombie waiting for a reaper (a container's pid 1 may not reap)
if [ -e "/proc/$pid/stat" ] && ! grep -q ') Z' "/proc/$pid/stat"; then
  fail "coturn ($pid) still runs"
fi

# -- SIGTERM during up (a 30-host lab takes a while): nothing left behind
{ echo "nat home kind=port-restricted"
  for i in $(seq 1 30); do echo "host h$i behind=home"; done; } >"$tmp/big.topo"
"$NATLAB" up "$tmp/big.topo" --prefix "$PFX" -q 2>"$tmp/err" &
upid=$!
for _ in $(seq 1000); do  # bounded polling for the first namespace
  grep -q '^ns ' "$NATLAB_STATE_DIR/$PFX/state" 2>/dev/null && break
  kill -0 $upid 2>/dev/null || break
  sleep 0.005
done
kill -TERM $upid
wait $upid; rc=$?
[ $rc = 3 ] || fail "interrupted up: exit $rc, want 3 ($(cat "$tmp/err"))"
grep -q interrupted "$tmp/err" || fail "no 'interrupted' message"
[ -z "$(ns_with_prefix "$PFX")" ] || fail "SIGTERM left: $(ns_with_prefix "$PFX")"
[ ! -e "$NATLAB_STATE_DIR/$PFX" ] || fail "SIGTERM left the state dir"

# -- down --all removes every lab (here: two), and nothing else
"$NATLAB" up public --prefix "${PFX:0:5}a" -q || fail "up public a"
"$NATLAB" up public --prefix "${PFX:0:5}b" -q || fail "up public b"
ip netns add "${PFX:0:5}c-keep"
"$NATLAB" down --all >/dev/null || fail "down --all failed"
ip netns list | grep -q "^${PFX:0:5}c-keep" || fail "down --all deleted a foreign namespace"
ip netns del "${PFX:0:5}c-keep"
for p in a b; do
  [ -z "$(ns_with_prefix "${PFX:0:5}$p")" ] || fail "down --all left ${PFX:0:5}$p"
done
[ -z "$(ls -A "$NATLAB_STATE_DIR")" ] || fail "down --all left state"
echo "PASS: natlab hygiene"
