#!/usr/bin/env bash
# Port allocation patterns seen from 20 fresh sockets in the host:
# symmetric-sequential +1 steps, random-range random in 10000-10999,
# symmetric random over the ephemeral range.
set -uo pipefail
NATLAB=$1
NETCHECK=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
need_lab python3
lab_init a

# The mapped ports of 20 fresh sockets: 20 runs of `netcheck --basic --json` (one
# fresh socket each) when netcheck is built, else stunc.py fresh 20
# (20 fresh sockets, one Binding request each, XOR-MAPPED-ADDRESS ports).
netcheck_ports() {  # prefix -> 20 mapped ports from netcheck runs
  # A run whose local port repeats an earlier one reuses that conntrack
  # entry (the same mapping): such runs are not fresh and are skipped.
  local out=() seen=" " i line local mapped
  for i in $(seq 40); do
    line=$("$NATLAB" exec --prefix "$1" h1 -- "$NETCHECK" --server \
      203.0.113.1:3478 --basic --json -4 | python3 -c '
import json, sys
s = json.load(sys.stdin)["servers"][0]
print(s["local"].rsplit(":", 1)[1], s["mapped"].rsplit(":", 1)[1])') || return 1
    read -r local mapped <<<"$line"
    case "$seen" in *" $local "*) continue ;; esac
    seen="$seen$local "
    out+=("$mapped")
    [ ${#out[@]} = 20 ] && break
  done
  echo "${out[*]}"
}

ports_of() {  # topology -> 20 mapped ports
  local p="${PFX:0:5}$2" r=0
  "$NATLAB" up "$1" --prefix "$p" -q || fail "up $1"
  if [ -n "$NETCHECK" ] && [ -x "$NETCHECK" ]; then
    netcheck_ports "$p" || r=1
  else
    "$NATLAB" exec --prefix "$p" h1 -- python3 "$HERE/stunc.py" fresh 20 || r=1
  fi
  "$NATLAB" down --prefix "$p" >/dev/null || fail "down $1"
  [ $r = 0 ] || fail "no mapped ports in $1"
}

check() {  # name kind lo hi ports...
  python3 - "$@" <<'PY'
import sys
name, kind, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
p = [int(x) for x in sys.argv[5].split()]
assert len(p) == 20, (name, p)
d = [b - a for a, b in zip(p, p[1:])]
assert all(lo <= x <= hi for x in p), (name, "out of range", p)
if kind == "seq":
    assert all(x == 1 for x in d), (name, "not +1", d)
else:
    assert len(set(p)) == 20, (name, "repeated ports", p)
    assert sum(1 for x in d if x == 1) < 5, (name, "looks sequential", d)
    spread = max(p) - min(p)
    assert spread > (hi - lo) * 0.3, (name, "not spread over the range", spread)
print("%s: %s ok, ports %s" % (name, kind, p[:6]))
PY
}

seq=$(ports_of symmetric-sequential s) || exit 1
check symmetric-sequential seq 20000 20999 "$seq" || fail "sequential pattern"
rr=$(ports_of random-range r) || exit 1
check random-range random 10000 10999 "$rr" || fail "random-range pattern"
sym=$(ports_of symmetric y) || exit 1
check symmetric random 1024 65535 "$sym" || fail "symmetric pattern"
echo "PASS: natlab allocation patterns (client: ${NETCHECK:-python3})"
