#!/usr/bin/env bash
# The birthday experiment's NAT pairs as netcheck sees them inside the lab:
# each pair's lab comes up, netcheck runs on both hosts, and its mapping,
# filtering and port allocation (and, for a narrow range or a carrier
# NAT's port block, where the ports fall) must be what the pair is meant
# to be. The expectations are written out here, not read from natlab.
# usage: topologies.sh NATLAB NETCHECK NATBOX
set -uo pipefail
NATLAB=$1
NETCHECK=$2
export NATLAB_NATBOX=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/natlab/common.sh
. "$HERE/../natlab/common.sh"
# shellcheck source=tests/lab/birthday/common.sh
. "$HERE/common.sh"
need_lab python3
[ -x "$NETCHECK" ] || skip "netcheck is not built ($NETCHECK)"
if [ -z "$NATLAB_NATBOX" ] || [ ! -x "$NATLAB_NATBOX" ]; then
  skip "natbox is not built"
fi
lab_init bt
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT INT TERM

# What each side of each pair must look like: mapping filtering allocation
# and the ports' bounds (lo hi: every sampled port inside; span: the
# sampled ports within that many ports of each other; - for none).
expect() {
  case $1 in
  port-restricted) echo "endpoint-independent address-and-port-dependent preserving - - -" ;;
  full-cone) echo "endpoint-independent endpoint-independent preserving - - -" ;;
  symmetric-sequential) echo "address-and-port-dependent address-and-port-dependent sequential 20000 20999 -" ;;
  symmetric) echo "address-and-port-dependent address-and-port-dependent random 1024 65535 -" ;;
  symmetric-4096) echo "address-and-port-dependent address-and-port-dependent random 10000 14095 -" ;;
  cgn-block) echo "address-and-port-dependent address-and-port-dependent random 1024 65535 4096" ;;
  *) fail "no expectation for $1" ;;
  esac
}

n=0
while read -r name topo args; do
  n=$((n + 1))
  p="${PFX:0:5}$n"
  # shellcheck disable=SC2086 # $args holds separate --set words
  "$NATLAB" up "$topo" $args --prefix "$p" -q || fail "$name: natlab up $topo $args"
  for side in a b; do
    kind=${name%%:*}
    [ $side = b ] && kind=${name#*:}
    if ! "$NATLAB" exec --prefix "$p" h$side -- "$NETCHECK" --server \
      203.0.113.1:3478 --json -4 >"$tmp/$n$side.json" 2>"$tmp/$n$side.err"; then
      "$NATLAB" down --prefix "$p" >/dev/null 2>&1
      fail "$name: netcheck on h$side: $(tail -n1 "$tmp/$n$side.err")"
    fi
    # shellcheck disable=SC2046 # expect prints the words check takes
    python3 - "$name h$side ($kind)" "$tmp/$n$side.json" $(expect "$kind") <<'PY' || { "$NATLAB" down --prefix "$p" >/dev/null 2>&1; fail "$name: h$side's verdict"; }
import json, sys
what, f, mapping, filtering, kind, lo, hi, span = sys.argv[1:9]
d = json.load(open(f))
pa = d["port_allocation"]
got = (d["mapping"], d["filtering"], pa["kind"])
print("%-50s mapping=%s filtering=%s allocation=%s range=%s" % (what, got[0], got[1], got[2], pa["range"]))
assert got == (mapping, filtering, kind), ("want", (mapping, filtering, kind))
if lo != "-":
    r = pa["range"]
    assert r and int(lo) <= r[0] <= r[1] <= int(hi), ("ports outside", lo, hi, r)
if span != "-":
    r = pa["range"]
    assert r and r[1] - r[0] < int(span), ("ports span more than one block", span, r)
if kind == "random" and lo != "-" and span == "-":
    # random over the range: the samples are spread, not bunched
    r = pa["range"]
    assert r[1] - r[0] > (int(hi) - int(lo)) // 4, ("ports bunched", r)
PY
  done
  "$NATLAB" down --prefix "$p" >/dev/null 2>&1 || fail "$name: natlab down"
  [ -z "$(ns_with_prefix "$p")" ] || fail "$name: namespaces left behind"
done < <(bday_pairs)
[ $n = 6 ] || fail "ran $n pairs, want 6"
echo "PASS: birthday pairs as netcheck sees them"
