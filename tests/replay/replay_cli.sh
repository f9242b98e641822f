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

# --capture-point host (client: its old spelling) and the inferred point:
# the public host's capture taken on its link says so by TTL 64 alone.
pub=$FIX/public-netcheck-outside.pcap
"$NC" --replay "$pub" --json >"$tmp/p1" || fail "public auto"
"$NC" --replay "$pub" --capture-point host --json >"$tmp/p2" || fail "public host"
"$NC" --replay "$pub" --capture-point client --json >"$tmp/p3" || fail "public client"
"$NC" --replay "$outside" --json >"$tmp/p4" || fail "outside auto"
/usr/bin/python3 - "$tmp" <<'PY' || fail "capture point keys"
import json, sys
t = sys.argv[1]
a, h, c, o = (json.load(open("%s/%s" % (t, n))) for n in ("p1", "p2", "p3", "p4"))
ra, rh, rc, ro = a["replay"], h["replay"], c["replay"], o["replay"]
assert ra["capture_point"] == "client" and ra["capture_point_inferred"], ra
assert ra["request_ttl"] == 64 and "TTL 64" in ra["capture_point_reason"], ra
assert "no NAT" in ra["capture_point_reason"] and a["nat_present"] is False, ra
assert rh["capture_point"] == "client" and not rh["capture_point_inferred"], rh
assert rh["capture_point_reason"].startswith("given with --capture-point"), rh
assert {k: v for k, v in rc.items() if k != "file"} == \
       {k: v for k, v in rh.items() if k != "file"}, "client != host"
assert ro["capture_point"] == "unknown" and ro["capture_point_inferred"], ro
assert ro["request_ttl"] == 63 and "TTL 63" in ro["capture_point_reason"], ro
assert o["nat_present"] is None, o["nat_present"]
PY
grep -q "^Capture point: *client (inferred): captured on the sending host" \
  <("$NC" --replay "$pub") || fail "text: capture point line"
echo "ok: --capture-point host|client|auto, capture_point_reason, request_ttl"

# Two clients behind two NATs in one capture: each gets the verdict of its
# own capture, the main report stays the busiest (first on a tie) client's.
two=$FIX/two-clients-record.pcap
"$NC" --replay "$two" --json >"$tmp/t1" || fail "two clients"
"$NC" --replay "$two" --client 192.168.2.2 --json >"$tmp/t2" || fail "--client 2"
"$NC" --replay "$FIX/full-cone-netcheck-record.pcap" --json >"$tmp/t3" || fail "fc"
"$NC" --replay "$good" --json >"$tmp/t4" || fail "prc"
/usr/bin/python3 - "$tmp" <<'PY' || fail "two clients JSON"
import json, sys
t = sys.argv[1]
two, only2, fc, prc = (json.load(open("%s/%s" % (t, n)))
                       for n in ("t1", "t2", "t3", "t4"))
cl = two["replay"]["clients"]
assert [c["address"] for c in cl] == ["192.168.1.2", "192.168.2.2"], cl
assert [c["main"] for c in cl] == [True, False], cl
assert two["replay"]["client"] == "192.168.1.2"
def keys(d):
    return {"udp": d["udp"], "nat_present": d["nat_present"],
            "mapping": d["mapping"], "filtering": d["filtering"],
            "hairpinning": d["hairpinning"],
            "port_allocation_kind": d["port_allocation"]["kind"],
            "measurable": d["replay"]["measurable"]}
def ckeys(c):
    return {k: c[k] for k in ("udp", "nat_present", "mapping", "filtering",
                              "hairpinning", "port_allocation_kind",
                              "measurable")}
assert keys(two) == keys(prc), (keys(two), keys(prc))
assert ckeys(cl[0]) == keys(prc), (cl[0], keys(prc))
assert ckeys(cl[1]) == keys(fc), (cl[1], keys(fc))
assert ckeys(cl[1]) == keys(only2), (cl[1], keys(only2))
assert cl[1]["public_v4"] == only2["public_v4"] == "198.51.100.3", cl[1]
assert cl[0]["public_v4"] == "198.51.100.2", cl[0]
assert only2["replay"]["clients"] == [], "--client: no per-client list"
PY
"$NC" --replay "$two" >"$tmp/tt" || fail "two clients text"
grep -q "^Other client: *192.168.2.2: 19 requests, captured at client, .*public 198.51.100.3, mapping endpoint-independent, filtering endpoint-independent" "$tmp/tt" ||
  fail "text: other client line: $(grep Other "$tmp/tt")"
echo "ok: two clients, reported per client"
echo "PASS: replay.cli"
