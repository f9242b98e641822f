#!/usr/bin/env bash
# natbox's numeric options (CTest unit.natbox_options, no root: options are
# parsed before any TUN device is opened; a valid command line is checked
# with --help, which exits 0 once every option before it was accepted). A
# value the link would replace by its default (--queue 0 or a fraction of
# a packet, a --rate that rounds to 0 bit/s, a --reorder-gap that rounds
# to 0 ns) is a usage error naming the valid range, in every direction.
# usage: natbox_options.sh NATBOX
set -u
natbox=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
base=(--lan nbopt-no-such-ns-a:lan0 --wan nbopt-no-such-ns-b:wan0)

# refused WANT ARG...: exit 2, one line on stderr containing WANT
refused() {
  local want=$1 rc lines
  shift
  timeout 10 "$natbox" "${base[@]}" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  lines=$(wc -l <"$tmp/err")
  [ "$rc" -eq 2 ] || fail "'$*': exit $rc, want 2"
  [ "$lines" -eq 1 ] || fail "'$*': $lines lines on stderr, want 1"
  grep -qF -- "$want" "$tmp/err" ||
    fail "'$*': stderr lacks '$want': $(cat "$tmp/err")"
}
accepted() {
  timeout 10 "$natbox" "${base[@]}" "$@" --help >/dev/null 2>"$tmp/err" ||
    fail "'$*': refused: $(cat "$tmp/err")"
}

for d in "" up- down-; do
  refused "--${d}queue: '0' is not a whole number of packets 1..1000000" --${d}queue 0
  refused "--${d}queue: '2.5' is not a whole number of packets 1..1000000" --${d}queue 2.5
  refused "--${d}queue: '0.4'" --${d}queue 0.4
  refused "--${d}queue: '1000001'" --${d}queue 1000001
  accepted --${d}queue 1
  accepted --${d}queue 1e3
  refused "--${d}rate: '0' is not kbit/s 0.001..1000000000; omit it for no limit" --${d}rate 0
  refused "--${d}rate: '0.0001' is not kbit/s" --${d}rate 0.0001
  accepted --${d}rate 0.5
  refused "--${d}reorder-gap: '0' is not milliseconds 0.000001..3600000" --${d}reorder-gap 0
  refused "--${d}reorder-gap: '1e-9'" --${d}reorder-gap 1e-9
  accepted --${d}reorder-gap 0.5
  accepted --${d}delay 0 --${d}jitter 0 --${d}loss 0
done
# --port-range: digits only
nat=(--nat box --public 192.0.2.1)
refused "--port-range wants A-B, 1 <= A <= B <= 65535, got '5-+10'" "${nat[@]}" --port-range 5-+10
refused "got ' 5-10'" "${nat[@]}" --port-range " 5-10"
accepted "${nat[@]}" --port-range 5-10
# the others were already strict: keep them so
refused "--tun-queue wants packets 1..1000000, got '0'" --tun-queue 0
refused "--tun-queue wants packets 1..1000000, got '1.5'" --tun-queue 1.5
refused "--delta wants a non-zero integer, got '0.5'" "${nat[@]}" --delta 0.5
refused "--port-block wants ports 1..65535, got '0'" "${nat[@]}" --port-block 0
refused "--timeout wants seconds > 0, got '0'" "${nat[@]}" --timeout 0

[ "$fails" -eq 0 ] && echo "natbox options: all checks passed"
[ "$fails" -eq 0 ]
