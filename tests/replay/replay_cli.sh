#!/usr/bin/env bash
# replay.cli: the command line of `netcheck --replay`: usage errors (exit 2,
# one line), an unusable capture (exit 2), the text report marked as a
# replay with "not measurable from this capture", --client, stdin.
# usage: replay_cli.sh NETCHECK FIXTURES_DIR SCHEMA. Exit 0 pass, 1 fail.
set -u
NC=${1:?usage}
FIX=${2:?usage}
SCHEMA=${3:?usage}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

one_line() { # WANT_RC WORD ARGS...: exit WANT_RC, nothing on stdout, one line naming WORD
  local want=$1 word=$2 rc
  shift 2
  "$NC" "$@" >"$tmp/o" 2>"$tmp/e"
  rc=$?
  [ $rc -eq "$want" ] || fail "netcheck $* exited $rc, want $want"
  [ ! -s "$tmp/o" ] || fail "netcheck $* wrote on stdout"
  [ "$(wc -l <"$tmp/e")" -eq 1 ] || fail "netcheck $*: want one line on stderr: $(cat "$tmp/e")"
  grep -qF -- "$word" "$tmp/e" || fail "netcheck $*: '$(cat "$tmp/e")' lacks '$word'"
}
good=$FIX/port-restricted-netcheck-record.pcap
outside=$FIX/port-restricted-netcheck-outside.pcap
one_line 2 "--replay" --replay "$good" --server 192.0.2.1
one_line 2 "--client" --client 192.168.1.2
one_line 2 "--capture-point" --replay "$good" --capture-point inside
one_line 2 "bad --client 'nope'" --replay "$good" --client nope
one_line 2 "$tmp/missing.pcap" --replay "$tmp/missing.pcap"
one_line 2 "$FIX" --replay "$FIX"
one_line 1 "no Binding request from --client 192.0.2.99" --replay "$good" --client 192.0.2.99
echo "ok: usage errors and unusable captures"

"$NC" --replay "$good" >"$tmp/t" 2>"$tmp/e" || fail "text replay exited $?"
head -n 1 "$tmp/t" | grep -q "^port-restricted cone NAT (endpoint-independent mapping, address-and-port-dependent filtering)" ||
  fail "first line: $(head -n 1 "$tmp/t")"
sed -n 2p "$tmp/t" | grep -q "^Replay of: .*captured at client, client 192.168.1.2" ||
  fail "second line: $(sed -n 2p "$tmp/t")"
grep -q "^Mapping lifetime: *not measurable from this capture: " "$tmp/t" || fail "no lifetime line"
"$NC" --replay "$outside" >"$tmp/t2" 2>/dev/null || fail "outside replay failed"
grep -q "^Filtering: *not measurable from this capture: .*outside the NAT" "$tmp/t2" ||
  fail "outside capture: no 'Filtering: not measurable' line"
grep -q "^NAT: *not measurable from this capture: " "$tmp/t2" || fail "outside: NAT line"
echo "ok: text report marked as a replay"

"$NC" --replay - --json <"$good" >"$tmp/j" || fail "--replay - failed"
/usr/bin/python3 - "$tmp/j" "$SCHEMA" <<'PY' || fail "stdin JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["replay"]["file"] == "-", d["replay"]["file"]
assert d["filtering"] == "address-and-port-dependent"
try:
    import jsonschema
    jsonschema.Draft202012Validator(json.load(open(sys.argv[2]))).validate(d)
except ImportError:
    pass
PY
"$NC" --replay "$outside" --capture-point outside --json >"$tmp/j2" || fail "outside json"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["replay"]
assert r["capture_point"]=="outside" and not r["measurable"]["nat_present"] and d["nat_present"] is None, r
assert r["not_measurable"]["nat_present"].startswith("captured outside the NAT"), r' "$tmp/j2" || fail "--capture-point outside"
echo "ok: stdin and --capture-point"
echo "PASS: replay.cli"
