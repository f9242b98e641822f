#!/usr/bin/env bash
# lab.netcheck.example: examples/netcheck_verdict (netcheck's verdict
# through the library) in host h1 of natlab labs: the mapping and
# filtering it prints must equal what the topology declares for h1
# (natlab show) and what netcheck --json says in the same lab.
#
# usage: example.sh NATLAB NETCHECK EXAMPLE TOPOLOGY...
# Exit: 0 pass, 1 fail, 77 skipped (not root, no namespaces, a program
# missing). Each lab uses its own prefix and state directory and is torn
# down on exit.
set -uo pipefail
NATLAB=${1:?usage}
NETCHECK=${2:?usage}
EXAMPLE=${3:?usage}
shift 3
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../natlab/common.sh"
need_lab python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The names the verdict uses for the topology format's keys.
name() {
  case $1 in
  ei) echo endpoint-independent ;;
  ad) echo address-dependent ;;
  apd) echo address-and-port-dependent ;;
  *) echo "$1" ;;
  esac
}

for topo in "$@"; do
  lab_init "nx$(printf '%s' "$topo" | cksum | cut -c1-3)"
  trap 'lab_cleanup; rm -rf "$tmp"' EXIT
  decl=$("$NATLAB" show "$topo" 2>&1 | awk '$1 == "host" && $2 == "h1"') ||
    fail "natlab show $topo"
  want_map=$(name "$(sed -n 's/.* mapping=\([a-z]*\).*/\1/p' <<<"$decl")")
  want_filt=$(name "$(sed -n 's/.* filtering=\([a-z]*\).*/\1/p' <<<"$decl")")
  [ -n "$want_map" ] && [ -n "$want_filt" ] ||
    fail "$topo: no mapping/filtering declared for h1: $decl"
  "$NATLAB" up "$topo" --prefix "$PFX" -q >"$tmp/up.log" 2>&1 ||
    { cat "$tmp/up.log"; fail "natlab up $topo"; }
  "$NATLAB" exec --prefix "$PFX" h1 -- "$EXAMPLE" 203.0.113.1:3478 \
    >"$tmp/example.out" 2>"$tmp/example.err" ||
    fail "$topo: netcheck_verdict exited $?: $(cat "$tmp/example.err")"
  "$NATLAB" exec --prefix "$PFX" h1 -- "$NETCHECK" --server 203.0.113.1:3478 \
    --json >"$tmp/netcheck.json" 2>"$tmp/netcheck.err" ||
    fail "$topo: netcheck exited $?: $(cat "$tmp/netcheck.err")"
  lab_cleanup
  got_map=$(sed -n 's/^mapping: //p' "$tmp/example.out")
  got_filt=$(sed -n 's/^filtering: //p' "$tmp/example.out")
  read -r nc_map nc_filt < <(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["mapping"], d["filtering"])' "$tmp/netcheck.json") ||
    fail "$topo: netcheck's JSON"
  for pair in "mapping:$got_map:$want_map:$nc_map" \
    "filtering:$got_filt:$want_filt:$nc_filt"; do
    IFS=: read -r what got want nc <<<"$pair"
    [ "$got" = "$want" ] ||
      fail "$topo: example's $what '$got', the topology declares '$want'"
    [ "$got" = "$nc" ] ||
      fail "$topo: example's $what '$got', netcheck's JSON says '$nc'"
  done
  echo "$topo: $(tr '\n' ' ' <"$tmp/example.out")"
done
echo "PASS: lab.netcheck.example"
