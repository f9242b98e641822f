#!/usr/bin/env bash
# lab.punch.names: --rendezvous and --stun take HOST:PORT. In a private
# network namespace (its own loopback only: nothing leaves the host), two
# peers meet through `punch serve` named localhost:4000, one of them with
# --stun localhost:4001 (a second server: the allocation probes run and
# find no NAT). A name that does not resolve ends the run with exit 1 and
# one line on stderr (the reason in the report with --json); a malformed
# value is a usage error, exit 2. No DNS query is sent: localhost comes
# from /etc/hosts, and the resolver refuses a 64-character label before
# building a query (tests/unit/test_resolve.c).
#
# usage: punch_names.sh PUNCH SCHEMA
# Exit: 0 pass, 1 fail, 77 skipped.
set -uo pipefail
PUNCH=${1:?usage}
SCHEMA=${2:?usage}
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ -z "${PUNCH_NAMES_NETNS:-}" ]; then
  [ "$(id -u)" = 0 ] || skip "needs root (a private network namespace)"
  for p in unshare ip python3 mkfifo getent; do
    command -v $p >/dev/null 2>&1 || skip "$p is not installed"
  done
  /usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
    skip "python3-jsonschema is needed"
  getent ahostsv4 localhost | grep -q '^127\.0\.0\.1 ' ||
    skip "localhost does not resolve to 127.0.0.1 on this host"
  exec env PUNCH_NAMES_NETNS=1 unshare --net -- bash "$0" "$@"
fi

ip link set lo up || fail "cannot bring up lo in the namespace"
tmp=$(mktemp -d)
PIDS=
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# serve PORT: start `punch serve` on 127.0.0.1:PORT, wait for "listening"
serve() {
  mkfifo "$tmp/srv$1.fifo"
  "$PUNCH" serve --listen "127.0.0.1:$1" 2>"$tmp/srv$1.fifo" &
  PIDS="$PIDS $!"
  exec {fd}<"$tmp/srv$1.fifo"
  read -r line <&$fd || fail "punch serve on port $1 did not start"
  case $line in *listening*) ;; *) fail "punch serve: $line" ;; esac
  cat <&$fd >"$tmp/srv$1.log" &
  PIDS="$PIDS $!"
}

# check_json FILE KEY=VALUE...: schema-valid, and each dotted KEY has VALUE
# (VALUE ~TEXT: the value contains TEXT)
check_json() {
  /usr/bin/python3 - "$SCHEMA" "$@" <<'PY'
import json, sys
import jsonschema
schema, f = sys.argv[1], sys.argv[2]
d = json.load(open(f))
errs = list(jsonschema.Draft202012Validator(json.load(open(schema))).iter_errors(d))
if errs:
    sys.exit("%s: schema: %s at %s" % (f, errs[0].message, list(errs[0].path)))
for kv in sys.argv[3:]:
    k, exp = kv.split("=", 1)
    v = d
    for part in k.split("."):
        v = v[part]
    ok = exp[1:] in str(v) if exp.startswith("~") else str(v).lower() == exp.lower()
    if not ok:
        sys.exit("%s: %s = %r, want %s" % (f, k, v, exp))
PY
}

serve 4000
serve 4001
room="names-$$-room"

# 1. names resolve: both peers connect through localhost:4000
"$PUNCH" connect --rendezvous localhost:4000 --stun localhost:4001 \
  --room "$room" --allow-loopback --json --timeout 10 \
  >"$tmp/a.json" 2>"$tmp/a.err" &
pa=$!
"$PUNCH" connect -r localhost:4000 -c "$room" -L --json --timeout 10 \
  >"$tmp/b.json" 2>"$tmp/b.err" &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
[ "$ra" = 0 ] || fail "peer A exited $ra: $(cat "$tmp/a.err" "$tmp/a.json")"
[ "$rb" = 0 ] || fail "peer B exited $rb: $(cat "$tmp/b.err" "$tmp/b.json")"
check_json "$tmp/a.json" ok=true quic_connected=true \
  mapping.local=endpoint-independent prediction.status=mapping-independent \
  prediction.allocation=preserving prediction.answered=4 ||
  fail "A report"
check_json "$tmp/b.json" ok=true quic_connected=true prediction=None ||
  fail "B report"
grep -q "peer 127.0.0.1:" "$tmp/srv4000.log" ||
  fail "the rendezvous on 127.0.0.1:4000 saw no peer"
echo "localhost:4000 and localhost:4001: both peers connected"

# 2. a name that does not resolve: exit 1, one line naming it
long=$(printf 'a%.0s' $(seq 64)).invalid
for args in "--rendezvous $long:4000 --room $room" \
  "--rendezvous localhost:4000 --stun $long:3478 --room $room"; do
  t0=$(date +%s%N)
  "$PUNCH" connect $args >"$tmp/bad.out" 2>"$tmp/bad.err"
  rc=$?
  el=$((($(date +%s%N) - t0) / 1000000))
  case $args in *--stun*) opt=--stun ;; *) opt=--rendezvous ;; esac
  [ "$rc" = 1 ] || fail "$opt bad name: exit $rc, want 1: $(cat "$tmp/bad.err")"
  [ "$(wc -l <"$tmp/bad.err")" = 1 ] ||
    fail "$opt bad name: want one line, got: $(cat "$tmp/bad.err")"
  grep -q "cannot resolve $opt '$long:" "$tmp/bad.err" ||
    fail "$opt bad name: message: $(cat "$tmp/bad.err")"
  echo "$opt bad name: exit 1 after $el ms: $(cat "$tmp/bad.err")"
done
"$PUNCH" connect -r "$long:4000" -c "$room" --json >"$tmp/bad.json" \
  2>"$tmp/bad.err"
rc=$?
[ "$rc" = 1 ] || fail "bad name with --json: exit $rc, want 1"
check_json "$tmp/bad.json" ok=false exit_code=1 failure.phase=setup \
  "failure.reason=~cannot resolve --rendezvous" || fail "bad name report"
"$PUNCH" ticket --stun "$long:3478" </dev/null >"$tmp/bad.out" \
  2>"$tmp/bad.err"
rc=$?
[ "$rc" = 1 ] && grep -q "cannot resolve --stun" "$tmp/bad.err" ||
  fail "ticket --stun bad name: exit $rc: $(cat "$tmp/bad.err")"

# 3. malformed values: usage errors, exit 2, one line
for v in localhost localhost:0 "[::1" "localhost:99999" "a b:4000"; do
  "$PUNCH" connect --rendezvous "$v" --room "$room" >"$tmp/bad.out" \
    2>"$tmp/bad.err"
  rc=$?
  [ "$rc" = 2 ] || fail "--rendezvous '$v': exit $rc, want 2"
  [ "$(wc -l <"$tmp/bad.err")" = 1 ] && grep -q "expected HOST:PORT" \
    "$tmp/bad.err" || fail "--rendezvous '$v': $(cat "$tmp/bad.err")"
done
echo "malformed values: exit 2: $(cat "$tmp/bad.err")"
echo "PASS: names"
