#!/usr/bin/env bash
# lab.netcheck.ipv6: netcheck over IPv6 against coturn as an RFC 5780
# server with two IPv6 addresses, in one network namespace of its own
# (unique name; lo up; 2001:db8::1 and 2001:db8::2 on lo, nodad).
#
#  1. coturn on [2001:db8::1] and [2001:db8::2], ports 3478 / 3479.
#     netcheck -6 --server [2001:db8::1]:3478 --json: one IPv6 server,
#     public_v6 2001:db8::1 (the local address), no NAT, endpoint-
#     independent mapping and filtering, RFC 5780 with OTHER-ADDRESS
#     [2001:db8::2]:3479. The same with --bind 2001:db8::1 (every socket on
#     the local address the server sees).
#  2. netcheck -4 against that IPv6 literal: nothing can be tried; exit 1,
#     a schema-valid report (udp false, verdict "check failed: no server
#     could be tried"), the server's status resolve_error naming the server
#     and -4, no transmission; that one error line on stderr.
#  3. Both families at once: 192.0.2.1 and 192.0.2.2 added on lo, coturn
#     listening on all four addresses; netcheck --server 192.0.2.1:3478
#     --server [2001:db8::1]:3478: both servers answer with OTHER-ADDRESS of
#     their family, public_v4 192.0.2.1 and public_v6 2001:db8::1, no NAT on
#     either family, endpoint-independent mapping and filtering.
# Every check of a run is evaluated and every failure printed before the
# test fails. Nothing leaves the namespace; it is deleted on exit (trap).
#
# usage: ipv6.sh NETCHECK SCHEMA
# Exit: 0 pass, 1 fail, 77 skipped (not root, no namespaces, coturn or
# python3-jsonschema missing).
set -uo pipefail
NETCHECK=${1:?usage: ipv6.sh NETCHECK SCHEMA}
SCHEMA=${2:?usage: ipv6.sh NETCHECK SCHEMA}
PY=/usr/bin/python3
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
for p in ip turnserver; do
  command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
done
"$PY" -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema is needed"
[ -x "$NETCHECK" ] || skip "netcheck is not built ($NETCHECK)"

NS="ncv6-$$-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
ip netns add "$NS" 2>/dev/null || skip "cannot create network namespaces"
tmp=$(mktemp -d)
turn_pid=
stop_turn() {
  if [ -n "$turn_pid" ]; then
    kill "$turn_pid" 2>/dev/null
    wait "$turn_pid" 2>/dev/null
    turn_pid=
  fi
}
cleanup() {
  stop_turn
  local p
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
  echo "FAIL: $*" >&2
  [ -s "$tmp/turn.log" ] && { echo "--- coturn log (last lines)" >&2; tail -n 5 "$tmp/turn.log" >&2; }
  exit 1
}
nsx() { ip netns exec "$NS" "$@"; }

ip -n "$NS" link set lo up || fail "lo up"
ip -n "$NS" addr add 2001:db8::1/128 dev lo nodad || fail "add 2001:db8::1"
ip -n "$NS" addr add 2001:db8::2/128 dev lo nodad || fail "add 2001:db8::2"

# start_turn IP...: coturn in the namespace on those addresses, 3478/3479;
# ready when every server in $READY (netcheck --server arguments) answers a
# basic probe: at most 50 tries of at most 200 ms each, no fixed sleep.
start_turn() {
  local a args=() try
  for a in "$@"; do args+=(--listening-ip "$a"); done
  : >"$tmp/turn.log"
  nsx turnserver -n --stun-only --no-tls --no-dtls --no-tcp --no-cli \
    --no-auth "${args[@]}" --listening-port 3478 --alt-listening-port 3479 \
    --log-file "$tmp/turn.log" --simple-log --no-stdout-log -m 1 \
    >/dev/null 2>&1 &
  turn_pid=$!
  for try in $(seq 1 50); do
    kill -0 "$turn_pid" 2>/dev/null || fail "coturn exited at start"
    nsx "$NETCHECK" $READY --basic --timeout 200 --json 2>/dev/null |
      "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not all(s["status"]=="ok" for s in d["servers"]))' &&
      return 0
  done
  fail "coturn did not answer on $* within 50 tries"
}

# check.py JSON CASE: schema, then the facts of CASE; prints every failed
# fact, exits 1 if any.
cat >"$tmp/check.py" <<'PYEOF'
import json, sys
import jsonschema
path, schema, case = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.load(open(path))
bad = []
errs = list(jsonschema.Draft202012Validator(json.load(open(schema))).iter_errors(d))
if errs:
    bad.append("schema: %s at %s" % (errs[0].message, list(errs[0].path)))
def expect(what, got, want):
    if got != want:
        bad.append("%s = %r, want %r" % (what, got, want))
EI = "endpoint-independent"
def server_ok(s, fam, addr, other):
    w = "servers[%s]." % s["name"]
    expect(w + "family", s["family"], fam)
    expect(w + "status", s["status"], "ok")
    expect(w + "error", s["error"], None)
    expect(w + "address", s["address"], addr)
    expect(w + "response_origin", s["response_origin"], addr)
    expect(w + "rfc5780", s["rfc5780"], True)
    expect(w + "other_address", s["other_address"], other)
    expect(w + "mapped == local (no translation)", s["mapped"], s["local"])
def no_nat():
    expect("udp", d["udp"], True)
    expect("nat_present", d["nat_present"], False)
    expect("rfc5780", d["rfc5780"], True)
    expect("filtering", d["filtering"], EI)
    # A host with its own public address has no NAT: endpoint-independent
    # mapping, a single public address, "open internet", easy.
    expect("mapping", d["mapping"], EI)
    expect("pooling", d["pooling"], "single")
    expect("classic_name", d["classic_name"], "open internet")
    expect("difficulty", d["difficulty"], "easy")
    for t in ("basic", "mapping", "filtering"):
        expect("tests.%s.run" % t, d["tests"][t]["run"], True)
    for k, n in d["diagnostics"].items():
        if k != "duplicates":
            expect("diagnostics." + k, n, 0)
if case == "v6":
    expect("number of servers", len(d["servers"]), 1)
    server_ok(d["servers"][0], "ipv6", "[2001:db8::1]:3478", "[2001:db8::2]:3479")
    expect("servers[0].local IP", d["servers"][0]["local"].rsplit(":", 1)[0], "[2001:db8::1]")
    expect("public_v6", d["public_v6"], "2001:db8::1")
    expect("public_v4", d["public_v4"], None)
    expect("nat_present_v6", d["nat_present_v6"], False)
    expect("nat_present_v4", d["nat_present_v4"], None)
    no_nat()
elif case == "v4only":
    expect("number of servers", len(d["servers"]), 1)
    s = d["servers"][0]
    expect("udp", d["udp"], False)
    expect("verdict", d["verdict"], "check failed: no server could be tried")
    expect("difficulty", d["difficulty"], "unknown")
    expect("public_v4", d["public_v4"], None)
    expect("public_v6", d["public_v6"], None)
    expect("nat_present", d["nat_present"], None)
    expect("servers[0].name", s["name"], "[2001:db8::1]:3478")
    expect("servers[0].status", s["status"], "resolve_error")
    expect("servers[0].family", s["family"], None)
    expect("servers[0].address", s["address"], None)
    expect("servers[0].transmissions", s["transmissions"], 0)
    expect("servers[0].error", s["error"],
           "resolution failed: no IPv4 address for [2001:db8::1]:3478 (-4 given)")
elif case == "both":
    expect("number of servers", len(d["servers"]), 2)
    if len(d["servers"]) == 2:
        server_ok(d["servers"][0], "ipv4", "192.0.2.1:3478", "192.0.2.2:3479")
        server_ok(d["servers"][1], "ipv6", "[2001:db8::1]:3478", "[2001:db8::2]:3479")
    expect("public_v4", d["public_v4"], "192.0.2.1")
    expect("public_v6", d["public_v6"], "2001:db8::1")
    expect("nat_present_v4", d["nat_present_v4"], False)
    expect("nat_present_v6", d["nat_present_v6"], False)
    no_nat()
for b in bad:
    print("  %s: %s" % (case, b), file=sys.stderr)
if bad:
    print("  %s: verdict %r; explanation:\n    %s" % (
        case, d["verdict"], "\n    ".join(d["explanation"])), file=sys.stderr)
    sys.exit(1)
print("ok: %s: %s (%.1f ms)" % (case, d["verdict"], d["duration_ms"]))
PYEOF
failed=()
check() { "$PY" "$tmp/check.py" "$1" "$SCHEMA" "$2" || failed+=("$3"); }

# ---- 1. IPv6 only
READY="-6 --server [2001:db8::1]:3478"
start_turn 2001:db8::1 2001:db8::2
nsx "$NETCHECK" -6 --server '[2001:db8::1]:3478' --json >"$tmp/v6.json" 2>"$tmp/v6.err"
rc=$?
[ $rc = 0 ] || fail "netcheck -6 exited $rc: $(cat "$tmp/v6.err")"
check "$tmp/v6.json" v6 "netcheck -6 --server [2001:db8::1]:3478"
nsx "$NETCHECK" -6 --bind 2001:db8::1 --server '[2001:db8::1]:3478' --json \
  >"$tmp/v6b.json" 2>"$tmp/v6b.err"
rc=$?
[ $rc = 0 ] || fail "netcheck -6 --bind exited $rc: $(cat "$tmp/v6b.err")"
check "$tmp/v6b.json" v6 "netcheck -6 --bind 2001:db8::1 --server [2001:db8::1]:3478"

# ---- 2. -4 against an IPv6-only server
nsx "$NETCHECK" -4 --server '[2001:db8::1]:3478' --json >"$tmp/v4.json" 2>"$tmp/v4.err"
rc=$?
[ $rc = 1 ] || fail "netcheck -4 against [2001:db8::1]:3478 exited $rc, want 1"
check "$tmp/v4.json" v4only "netcheck -4 --server [2001:db8::1]:3478"
want_err="netcheck: resolution failed: no IPv4 address for [2001:db8::1]:3478 (-4 given)"
if [ "$(cat "$tmp/v4.err")" != "$want_err" ]; then
  echo "  v4only: stderr = '$(cat "$tmp/v4.err")', want '$want_err'" >&2
  failed+=("netcheck -4 --server [2001:db8::1]:3478: stderr")
fi
stop_turn

# ---- 3. both families at once
ip -n "$NS" addr add 192.0.2.1/32 dev lo || fail "add 192.0.2.1"
ip -n "$NS" addr add 192.0.2.2/32 dev lo || fail "add 192.0.2.2"
READY="--server 192.0.2.1:3478 --server [2001:db8::1]:3478"
start_turn 192.0.2.1 192.0.2.2 2001:db8::1 2001:db8::2
nsx "$NETCHECK" --server 192.0.2.1:3478 --server '[2001:db8::1]:3478' --json \
  >"$tmp/both.json" 2>"$tmp/both.err"
rc=$?
[ $rc = 0 ] || fail "netcheck (both families) exited $rc: $(cat "$tmp/both.err")"
check "$tmp/both.json" both "netcheck --server 192.0.2.1:3478 --server [2001:db8::1]:3478"

if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "PASS: lab.netcheck.ipv6"
