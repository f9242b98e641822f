#!/usr/bin/env bash
# lab.netcheck_coturn: netcheck against coturn running as an RFC 5780 server
# on loopback (127.0.0.1 and 127.0.0.2, a random port P and P+1), then
# against a port nobody listens on, then with bad command lines.
#
# usage: netcheck_coturn.sh NETCHECK SCHEMA
# Exit: 0 pass, 1 fail, 77 skipped (coturn or python3-jsonschema missing).
set -u

NETCHECK=${1:?usage: netcheck_coturn.sh NETCHECK SCHEMA}
# Live runs here are on the host's own loopback: --no-portmap keeps them
# from asking the machine's real gateway.
SCHEMA=${2:?usage: netcheck_coturn.sh NETCHECK SCHEMA}
PY=/usr/bin/python3

if ! command -v turnserver >/dev/null 2>&1; then
  echo "SKIP: turnserver (coturn) is not installed"
  exit 77
fi
if ! "$PY" -c 'import jsonschema' >/dev/null 2>&1; then
  echo "SKIP: $PY with the jsonschema module (python3-jsonschema) is needed"
  exit 77
fi
if ! command -v ss >/dev/null 2>&1; then
  echo "SKIP: ss (iproute2) is needed to find free UDP ports"
  exit 77
fi

tmp=$(mktemp -d)
turn_pid=
cleanup() {
  if [ -n "$turn_pid" ]; then
    kill "$turn_pid" 2>/dev/null
    wait "$turn_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  if [ -s "$tmp/turn.log" ]; then
    echo "--- last lines of the coturn log"
    tail -n 5 "$tmp/turn.log"
  fi
  exit 1
}

udp_port_busy() {
  ss -Hlun "sport = :$1" 2>/dev/null | grep -q .
}

# check.py JSON_FILE SCHEMA CASE [ARGS...]: validate against the schema and
# assert one case's facts. Prints one line and exits 1 on the first failure.
cat >"$tmp/check.py" <<'PYEOF'
import copy, json, sys
import jsonschema

path, schema_path, case = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
schema = json.load(open(schema_path))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
doc = json.load(open(path))
errors = list(validator.iter_errors(doc))
if errors:
    sys.exit("report does not match the schema: %s at %s"
             % (errors[0].message, list(errors[0].path)))

def expect(what, got, want):
    if got != want:
        sys.exit("%s: got %r, want %r" % (what, got, want))

expect("schema_version", doc["schema_version"], 3)
expect("tool", doc["tool"], "netcheck")
expect("number of server entries", len(doc["servers"]), 1)
s = doc["servers"][0]

if case == "coturn":
    port, alt = args
    expect("udp", doc["udp"], True)
    expect("nat_present", doc["nat_present"], False)
    expect("nat_present_v4", doc["nat_present_v4"], False)
    expect("public_v4", doc["public_v4"], "127.0.0.1")
    expect("public_v6", doc["public_v6"], None)
    expect("status", s["status"], "ok")
    expect("error", s["error"], None)
    expect("family", s["family"], "ipv4")
    expect("address", s["address"], "127.0.0.1:%s" % port)
    expect("local IP", s["local"].rsplit(":", 1)[0], "127.0.0.1")
    expect("mapped == local", s["mapped"], s["local"])
    expect("rfc5780", s["rfc5780"], True)
    expect("other_address", s["other_address"], "127.0.0.2:%s" % alt)
    expect("response_origin", s["response_origin"], "127.0.0.1:%s" % port)
    expect("transmissions", s["transmissions"], 1)
    if not (isinstance(s["rtt_ms"], (int, float)) and 0 <= s["rtt_ms"] < 1000):
        sys.exit("rtt_ms: got %r, want a number of ms below 1000"
                 % s["rtt_ms"])
    if not (s["software"] or "").startswith("Coturn"):
        sys.exit("software: got %r, want coturn's" % s["software"])
    # A late duplicate of a retransmitted request's answer is benign (a slow
    # sanitizer build); nothing else may be refused on loopback.
    for k, v in doc["diagnostics"].items():
        if k != "duplicates":
            expect("diagnostics." + k, v, 0)
    # Behaviour discovery on loopback: no NAT; coturn answers change
    # requests from 127.0.0.2 / the alternate port.
    expect("mapping", doc["mapping"], "endpoint-independent")
    expect("filtering", doc["filtering"], "endpoint-independent")
    expect("rfc5780 used", doc["rfc5780"], True)
    expect("hairpinning (no NAT: not tested)", doc["hairpinning"], None)
    expect("classic_name", doc["classic_name"], "open internet")
    expect("difficulty", doc["difficulty"], "easy")
    expect("port_allocation.kind", doc["port_allocation"]["kind"], "preserving")
    expect("port_allocation.delta", doc["port_allocation"]["delta"], None)
    if doc["port_allocation"]["samples"] < 6:
        sys.exit("port_allocation.samples: got %r, want >= 6"
                 % doc["port_allocation"]["samples"])
    expect("prediction", doc["prediction"], [])
    expect("pooling", doc["pooling"], "single")
    expect("lifetime", doc["lifetime"], None)
    for t in ("basic", "mapping", "filtering", "allocation"):
        expect("tests.%s.run" % t, doc["tests"][t]["run"], True)
    expect("tests.mapping.requests", doc["tests"]["mapping"]["requests"], 3)
    expect("tests.filtering.requests", doc["tests"]["filtering"]["requests"], 3)
    expect("tests.hairpin.run", doc["tests"]["hairpin"]["run"], False)
    expect("tests.lifetime.run", doc["tests"]["lifetime"]["run"], False)
    for k in ("easy", "hard-sequential", "hard-random"):
        expect("strategy." + k, doc["strategy"][k]["kind"], "direct")
    if not doc["explanation"] or not all(isinstance(x, str) for x in doc["explanation"]):
        sys.exit("explanation: want a non-empty list of strings")
    if not (doc["duration_ms"] > 0):
        sys.exit("duration_ms: got %r, want a positive duration" % doc["duration_ms"])
    bad = copy.deepcopy(doc)
    bad["mapping"] = "cone"
    if validator.is_valid(bad):
        sys.exit("schema accepted an unknown mapping name")
    bad = copy.deepcopy(doc)
    bad["port_allocation"]["kind"] = "sequential"
    if validator.is_valid(bad):
        sys.exit("schema accepted a sequential allocation without delta")
    # The schema is strict: a stray key or an unknown status is refused.
    bad = copy.deepcopy(doc)
    bad["servers"][0]["extra"] = 1
    if validator.is_valid(bad):
        sys.exit("schema accepted an unknown server key")
    bad = copy.deepcopy(doc)
    bad["servers"][0]["status"] = "fine"
    if validator.is_valid(bad):
        sys.exit("schema accepted an unknown status")
    bad = copy.deepcopy(doc)
    del bad["public_v4"]
    if validator.is_valid(bad):
        sys.exit("schema accepted a report without public_v4")
elif case == "dead":
    port, = args
    expect("udp", doc["udp"], False)
    expect("nat_present", doc["nat_present"], None)
    expect("public_v4", doc["public_v4"], None)
    expect("status", s["status"], "timeout")
    # How many retransmissions fit in 300 ms depends on scheduling; the
    # schedule itself is unit-tested (test_probe, test_txn).
    if not (1 <= s["transmissions"] <= 4):
        sys.exit("transmissions: got %r, want 1..4 within 300 ms"
                 % s["transmissions"])
    expect("error", s["error"],
           "timed out after %d transmissions" % s["transmissions"])
    expect("mapping", doc["mapping"], "unknown")
    expect("filtering", doc["filtering"], "unknown")
    expect("difficulty", doc["difficulty"], "unknown")
    expect("address", s["address"], "127.0.0.1:%s" % port)
    expect("mapped", s["mapped"], None)
    expect("rtt_ms", s["rtt_ms"], None)
    expect("rfc5780", s["rfc5780"], False)
else:
    sys.exit("unknown case " + case)
PYEOF

check() { "$PY" "$tmp/check.py" "$@" || fail "JSON check '$3' failed"; }

# ---- start coturn on a free random port pair, retrying when busy
port=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  # below the ephemeral ports (32768-60999): no socket bound to port 0
  # can take it between the check and the bind
  p=$((10000 + RANDOM % 20000))
  if udp_port_busy "$p" || udp_port_busy $((p + 1)); then
    continue
  fi
  : >"$tmp/turn.log"
  turnserver -n --stun-only --no-tls --no-dtls --no-tcp --no-cli --no-auth \
    --listening-ip 127.0.0.1 --listening-ip 127.0.0.2 \
    --listening-port "$p" --alt-listening-port $((p + 1)) \
    --log-file "$tmp/turn.log" --simple-log --no-stdout-log -m 1 \
    >/dev/null 2>&1 &
  turn_pid=$!
  # Ready when netcheck gets an answer: each try waits at most 200 ms, so
  # 50 tries bound the wait to about 10 s without any fixed sleep.
  for try in $(seq 1 50); do
    if ! kill -0 "$turn_pid" 2>/dev/null; then
      break
    fi
    if "$NETCHECK" --no-portmap --server "127.0.0.1:$p" --timeout 200 --json \
      >/dev/null 2>&1; then
      port=$p
      break
    fi
  done
  [ -n "$port" ] && break
  kill "$turn_pid" 2>/dev/null
  wait "$turn_pid" 2>/dev/null
  turn_pid=
done
[ -n "$port" ] || fail "coturn did not answer on any port tried"
alt=$((port + 1))
echo "coturn (pid $turn_pid) on 127.0.0.1:$port, 127.0.0.2:$alt"

# ---- JSON report against coturn
"$NETCHECK" --no-portmap --server "127.0.0.1:$port" --json >"$tmp/ok.json" 2>"$tmp/ok.err"
rc=$?
[ $rc -eq 0 ] || fail "netcheck against coturn exited $rc, want 0: $(cat "$tmp/ok.err")"
check "$tmp/ok.json" "$SCHEMA" coturn "$port" "$alt"
echo "ok: JSON report (no NAT, RFC 5780, schema valid)"

# ---- --record: tshark dissects the capture; its replay gives the same
# verdict through the same analyzers; live JSON has "replay": null
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["replay"] is not None)' "$tmp/ok.json" ||
  fail "live report: want \"replay\": null"
"$NETCHECK" --no-portmap --server "127.0.0.1:$port" --json --record "$tmp/rec.pcap" \
  >"$tmp/rec.json" 2>"$tmp/rec.err" || fail "--record run failed: $(cat "$tmp/rec.err")"
if command -v tshark >/dev/null 2>&1; then
  n=$(tshark -r "$tmp/rec.pcap" -Y stun 2>/dev/null | wc -l)
  [ "$n" -ge 10 ] || fail "tshark -Y stun dissects $n packets of the record, want >= 10"
  tshark -r "$tmp/rec.pcap" -Y 'stun.type == 0x0101 && stun.att.ipv4 == 127.0.0.1' \
    2>/dev/null | grep -q . || fail "tshark sees no Binding success with a mapped 127.0.0.1"
  echo "ok: tshark dissects $n STUN packets of --record"
else
  echo "note: tshark not installed, dissection not checked"
fi
"$NETCHECK" --replay "$tmp/rec.pcap" --capture-point client --json >"$tmp/rp.json" 2>"$tmp/rp.err" ||
  fail "replay of the record failed: $(cat "$tmp/rp.err")"
"$PY" - "$tmp/rec.json" "$tmp/rp.json" "$SCHEMA" "$port" <<'PYEOF' || fail "replay of --record"
import json, sys
import jsonschema
live, rp = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[3])))
for d in (live, rp):
    errs = list(v.iter_errors(d))
    if errs:
        sys.exit("schema: %s at %s" % (errs[0].message, list(errs[0].path)))
for k in ("udp", "nat_present", "mapping", "filtering", "public_v4",
          "classic_name", "difficulty"):
    if live[k] != rp[k]:
        sys.exit("replay %s = %r, live %r" % (k, rp[k], live[k]))
if live["port_allocation"]["kind"] != rp["port_allocation"]["kind"]:
    sys.exit("replay allocation %r, live %r" % (rp["port_allocation"]["kind"],
                                                live["port_allocation"]["kind"]))
r = rp["replay"]
if r["client"] != "127.0.0.1" or r["capture_point"] != "client":
    sys.exit("replay client/capture_point: %r %r" % (r["client"], r["capture_point"]))
if rp["servers"][0]["address"] != "127.0.0.1:%s" % sys.argv[4]:
    sys.exit("replay server address %r" % rp["servers"][0]["address"])
if live["servers"][0]["local"] != rp["servers"][0]["local"]:
    sys.exit("record has local %r, live %r" % (rp["servers"][0]["local"],
                                               live["servers"][0]["local"]))
PYEOF
echo "ok: --record replays to the live verdict"
"$NETCHECK" --no-portmap --server "127.0.0.1:$port" --record "$tmp/nodir/x.pcap" >/dev/null 2>"$tmp/r.err"
rc=$?
[ $rc -eq 3 ] || fail "--record into a missing directory exited $rc, want 3"
[ "$(wc -l <"$tmp/r.err")" -eq 1 ] && grep -q "nodir/x.pcap" "$tmp/r.err" ||
  fail "--record error: $(cat "$tmp/r.err")"
echo "ok: unwritable --record exits 3"

# ---- text report: the verdict comes first, one fact a line
"$NETCHECK" --no-portmap --server "127.0.0.1:$port" >"$tmp/ok.txt" 2>/dev/null
rc=$?
[ $rc -eq 0 ] || fail "text run exited $rc, want 0"
first=$(head -n 1 "$tmp/ok.txt")
case "$first" in
"no NAT (open internet: endpoint-independent mapping, endpoint-independent filtering)"*easy) ;;
*) fail "first line of the text report is '$first', want 'no NAT (open internet: ...) ... easy'" ;;
esac
grep -Eq '^Filtering: +endpoint-independent$' "$tmp/ok.txt" ||
  fail "text report lacks 'Filtering: endpoint-independent'"
grep -Eq "^  other address: +127\.0\.0\.2:$alt\$" "$tmp/ok.txt" ||
  fail "text report lacks 'other address: 127.0.0.2:$alt'"
grep -Eq '^  RFC 5780: +yes$' "$tmp/ok.txt" || fail "text report lacks 'RFC 5780: yes'"
echo "ok: text report starts with the verdict"

# ---- -v writes progress on stderr only: stdout stays valid JSON
"$NETCHECK" --no-portmap -v --server "127.0.0.1:$port" --json >"$tmp/v.json" 2>"$tmp/v.err"
[ $? -eq 0 ] || fail "-v run failed"
"$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/v.json" ||
  fail "stdout of -v --json is not JSON"
[ -s "$tmp/v.err" ] || fail "-v wrote nothing on stderr"
echo "ok: -v keeps stdout clean"

# ---- a port nobody listens on: timeout, exit 1
dead=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  # below the ephemeral ports (32768-60999): no socket bound to port 0
  # can take it between the check and the bind
  p=$((10000 + RANDOM % 20000))
  if ! udp_port_busy "$p"; then
    dead=$p
    break
  fi
done
[ -n "$dead" ] || fail "no free UDP port found"
"$NETCHECK" --no-portmap --server "127.0.0.1:$dead" --timeout 300 --json >"$tmp/dead.json" 2>/dev/null
rc=$?
[ $rc -eq 1 ] || fail "netcheck against a dead port exited $rc, want 1"
check "$tmp/dead.json" "$SCHEMA" dead "$dead"
"$NETCHECK" --no-portmap --server "127.0.0.1:$dead" --timeout 300 >"$tmp/dead.txt" 2>/dev/null
first=$(head -n 1 "$tmp/dead.txt")
[ "$first" = "UDP blocked" ] || fail "verdict for a dead server is '$first', want 'UDP blocked'"
echo "ok: dead server -> timeout, exit 1, 'UDP blocked'"

# ---- usage errors: exit 2, nothing on stdout, one line on stderr
usage_case() {
  local want_word=$1
  shift
  "$NETCHECK" "$@" >"$tmp/u.out" 2>"$tmp/u.err"
  local rc=$?
  [ $rc -eq 2 ] || fail "netcheck $* exited $rc, want 2"
  [ ! -s "$tmp/u.out" ] || fail "netcheck $* wrote on stdout"
  [ "$(wc -l <"$tmp/u.err")" -eq 1 ] ||
    fail "netcheck $* wrote $(wc -l <"$tmp/u.err") lines on stderr, want 1"
  grep -qF -- "$want_word" "$tmp/u.err" ||
    fail "netcheck $*: stderr '$(cat "$tmp/u.err")' does not name '$want_word'"
}
usage_case "::1:bad" --server ::1:bad
usage_case "[IPv6]:PORT" --server ::1:bad
usage_case "--frobnicate" --frobnicate
usage_case "abc" --server "127.0.0.1:$port" --timeout abc
usage_case "70000" --server "127.0.0.1:70000"
usage_case "stray" --server "127.0.0.1:$port" stray
echo "ok: usage errors exit 2 with one line"

# ---- environment error: a local address this host does not have
"$NETCHECK" --no-portmap --bind 192.0.2.1 --server "127.0.0.1:$port" >"$tmp/e.out" 2>"$tmp/e.err"
rc=$?
[ $rc -eq 3 ] || fail "--bind 192.0.2.1 exited $rc, want 3"
[ "$(wc -l <"$tmp/e.err")" -eq 1 ] || fail "--bind 192.0.2.1: want one line on stderr"
echo "ok: unusable --bind exits 3"

echo "PASS: lab.netcheck_coturn"
exit 0
