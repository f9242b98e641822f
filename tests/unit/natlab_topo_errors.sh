#!/usr/bin/env bash
# natlab's topology reader on bad files, through `natlab show` (no root,
# no lab; CTest unit.natlab_topo_errors): every refusal exits 2 with one
# line on stderr, printable ASCII only and bounded, naming the problem:
# a NUL byte (not "line too long"), binary words quoted with \xHH escapes,
# natbox.KEY=VALUE checked against natbox's options when the file is read
# (not at `natlab up`), `nat wan` refused as reserved. Every shipped
# topology is still accepted.
# usage: natlab_topo_errors.sh NATLAB TOPOLOGY_DIR
set -u
natlab=$1 topodir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# refused FILE WANT...: exit 2, one line on stderr, printable, < 256
# bytes, containing each WANT (fixed strings), nothing on stdout
refused() {
  local f=$1 rc lines
  shift
  "$natlab" show "$f" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  lines=$(wc -l <"$tmp/err")
  [ "$rc" -eq 2 ] || fail "$f: exit $rc, want 2"
  [ "$lines" -eq 1 ] || fail "$f: $lines lines on stderr, want 1: $(cat -v "$tmp/err")"
  [ -s "$tmp/out" ] && fail "$f: wrote to stdout"
  LC_ALL=C grep -q '[^ -~]' "$tmp/err" &&
    fail "$f: stderr holds unprintable bytes: $(cat -v "$tmp/err")"
  [ "$(head -1 "$tmp/err" | wc -c)" -le 256 ] ||
    fail "$f: error line longer than 256 bytes"
  for want in "$@"; do
    grep -qF -- "$want" "$tmp/err" ||
      fail "$f: stderr lacks '$want': $(cat -v "$tmp/err")"
  done
}
accepted() {
  "$natlab" show "$1" >"$tmp/out" 2>"$tmp/err" ||
    fail "$1: refused: $(cat -v "$tmp/err")"
}

# a NUL byte is binary data, not a long line
printf 'nat n1\nhost h\000 behind=n1\n' >"$tmp/nul.topo"
refused "$tmp/nul.topo" "nul.topo:2: NUL byte" "not binary"
grep -q "too long" "$tmp/err" && fail "NUL reported as a long line"
printf 'nat n1\x01\nhost h\n' >"$tmp/ctl.topo"
refused "$tmp/ctl.topo" "ctl.topo:1: control byte 0x01"
# an unknown statement is quoted escaped and bounded
printf 'foo\xff\xfe\x80 bar\nhost h\n' >"$tmp/bin.topo"
refused "$tmp/bin.topo" "unknown statement 'foo\\xff\\xfe\\x80'" \
  "(description, param, nat, host, link, expect)"
printf '%s\nhost h\n' "$(printf 'x%.0s' $(seq 1000))" >"$tmp/long.topo"
refused "$tmp/long.topo" "unknown statement 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'"
printf '%s\nhost h\n' "$(printf 'x%.0s' $(seq 1100))" >"$tmp/toolong.topo"
refused "$tmp/toolong.topo" "toolong.topo:1: line too long (at most 1023 bytes)"
# natbox.KEY=VALUE: natbox's own options and value forms, at parse time
nb() { printf 'nat n engine=natbox %s\nhost h behind=n\n' "$1" >"$tmp/$2.topo"; }
nb 'natbox.=on' nb-empty
refused "$tmp/nb-empty.topo" "unknown natbox option 'natbox.'" \
  "natbox.pooling" "natbox.per-host" "natbox.interleave" "natbox.tun-queue"
nb 'natbox.bogus=1' nb-bogus
refused "$tmp/nb-bogus.topo" "unknown natbox option 'natbox.bogus'"
nb 'natbox.interleave=2' nb-il
refused "$tmp/nb-il.topo" "natbox.interleave=2: natbox says: --interleave wants P[:MAX], P in 0..1"
nb 'natbox.per-host=3' nb-flag
refused "$tmp/nb-flag.topo" "natbox.per-host must be on or off, not '3'"
nb 'natbox.seed=on' nb-seed
refused "$tmp/nb-seed.topo" "natbox.seed wants a value, not 'on'"
nb 'natbox.pooling=odd' nb-pool
refused "$tmp/nb-pool.topo" "natbox.pooling=odd: natbox says: --pooling wants paired or arbitrary"
nb 'natbox.mapping=ei' nb-owned
refused "$tmp/nb-owned.topo" "natbox.mapping is set by natlab: use mapping="
nb 'natbox.delay=5' nb-link
refused "$tmp/nb-link.topo" "natbox.delay is a link option: use a link line"
nb 'natbox.per-host=on natbox.overload=off natbox.seed=7 natbox.pooling=arbitrary natbox.interleave=0.3:3 natbox.tun-queue=512 natbox.inbound-refresh=yes' nb-good
accepted "$tmp/nb-good.topo"
# link options: checked by natbox's parser too (queue=0 was the default)
printf 'host h\nlink h delay=5 queue=0\n' >"$tmp/link-q.topo"
refused "$tmp/link-q.topo" "link-q.topo:2: link queue=0: natbox says: --queue: '0' is not a whole number of packets 1..1000000"
printf 'host h\nlink h seed=1.5\n' >"$tmp/link-seed.topo"
refused "$tmp/link-seed.topo" "link seed=1.5: natbox says: --seed wants an unsigned integer"
printf 'host h\nlink h up-delay=5 down-loss=0.1 queue=64 rate=1000 seed=3\n' >"$tmp/link-ok.topo"
accepted "$tmp/link-ok.topo"
# wan is reserved, not "declared twice"
printf 'nat wan\nhost h\n' >"$tmp/wan.topo"
refused "$tmp/wan.topo" "wan.topo:1: the node name 'wan' is reserved"
grep -q "declared twice" "$tmp/err" && fail "nat wan: said declared twice"
printf 'host wan\n' >"$tmp/wanhost.topo"
refused "$tmp/wanhost.topo" "'wan' is reserved"
# every shipped topology still reads
for f in "$topodir"/*.topo; do accepted "$f"; done

[ "$fails" -eq 0 ] && echo "natlab topology errors: all checks passed"
[ "$fails" -eq 0 ]
