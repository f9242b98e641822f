#!/usr/bin/env bash
# lab.punch.*: punch connect / punch ticket between two hosts of a natlab
# lab, with `punch serve` on the lab's WAN (203.0.113.1:4000; coturn owns
# 3478/3479).
#
# usage: punch_lab.sh NATLAB PUNCH SCHEMA SCENARIO [ARGS...]
#   pair KIND_A KIND_B   both connect through the rendezvous (KIND public:
#                        ha has a public address); exit 0 both, schema ok
#   same-nat             two hosts behind one NAT: host/host pair wins
#   symmetric            symmetric NATs both sides: exit 1 both within the
#                        timeout, hint birthday, the spray refused with the
#                        estimate
#   both-hard            two symmetric NATs in 10000-10999 (birthday-both):
#                        refused by default; --allow-both-hard on both:
#                        connected by birthday (role both)
#   wrong-room           different codes: both exit 1 (rendezvous), bounded
#   pipe                 1 MiB each way through --pipe, sha256 compared
#   ticket               punch ticket through FIFOs; malformed ticket -> 2
#   ticket-birthday      punch ticket, port-restricted x symmetric: the
#                        mapping from coturn's other address, the spray
#   wrong-pin            tickets with one pin altered: both exit 1, phase
#                        quic, the reason names the pin, within the timeout
# Durations are printed, never asserted beyond the --timeout bound.
# Exit: 0 pass, 1 fail, 77 skipped.
set -uo pipefail
NATLAB=${1:?usage}
PUNCH=${2:?usage}
SCHEMA=${3:?usage}
SCEN=${4:?usage}
shift 4
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../natlab/common.sh"
need_lab python3 sha256sum mkfifo
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
  skip "python3-jsonschema is needed"
lab_init "p$(printf '%s %s' "$SCEN" "$*" | cksum | cut -c1-2)"
tmp=$(mktemp -d)
SRV_PID=
cleanup() {
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
  lab_cleanup
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
RDV=203.0.113.1:4000
A=ha
B=hb

up() {
  "$NATLAB" up "$@" --prefix "$PFX" -q >"$tmp/up.log" 2>&1 ||
    { cat "$tmp/up.log"; fail "natlab up $*"; }
}

# Start the rendezvous on the WAN and wait for its "listening" line.
serve() {
  mkfifo "$tmp/srv.fifo"
  "$NATLAB" exec --prefix "$PFX" wan -- "$PUNCH" serve --listen "$RDV" \
    2>"$tmp/srv.fifo" &
  SRV_PID=$!
  exec 5<"$tmp/srv.fifo"
  read -r line <&5 || fail "punch serve did not start"
  case $line in *listening*) ;; *) fail "punch serve: $line" ;; esac
  cat <&5 >"$tmp/srv.log" &
}

x() { local n=$1; shift; "$NATLAB" exec --prefix "$PFX" "$n" -- "$@"; }

# connect_both ROOM_A ROOM_B ARGS...: run both peers at once; rc in RA/RB.
connect_both() {
  local ra=$1 rb=$2
  shift 2
  x "$A" "$PUNCH" connect --rendezvous $RDV --room "$ra" --json "$@" \
    >"$tmp/a.json" 2>"$tmp/a.err" &
  local pa=$!
  x "$B" "$PUNCH" connect --rendezvous $RDV --room "$rb" --json "$@" \
    >"$tmp/b.json" 2>"$tmp/b.err" &
  local pb=$!
  wait $pa; RA=$?
  wait $pb; RB=$?
}

# check_json FILE EXPECT... : validate against the schema and assert.
check_json() {
  /usr/bin/python3 - "$SCHEMA" "$@" <<'PY'
import json, sys
import jsonschema
schema, f = sys.argv[1], sys.argv[2]
want = dict(a.split("=", 1) for a in sys.argv[3:])
d = json.load(open(f))
errs = list(jsonschema.Draft202012Validator(json.load(open(schema))).iter_errors(d))
if errs:
    sys.exit("%s: schema: %s at %s" % (f, errs[0].message, list(errs[0].path)))
def get(path):
    v = d
    for k in path.split("."):
        v = v[int(k)] if isinstance(v, list) else v[k]
    return v
for k, exp in want.items():
    got = get(k)
    if str(got).lower() != exp.lower():
        sys.exit("%s: %s = %r, want %s" % (f, k, got, exp))
t = d["times_ms"]
print("%s: ok=%s role=%s path=%s first_check_ok=%s quic_confirmed=%s "
      "peer_to_confirmed=%s rtt=%s" % (
      f.rsplit("/", 1)[-1], d["ok"], d["role"],
      d["selected"] and "%s->%s" % (d["selected"]["local"]["type"],
                                    d["selected"]["remote"]["type"]),
      t["first_check_ok"], t["quic_confirmed"], t["peer_to_confirmed"],
      d["rtt_ms"]))
if d["failure"]:
    print("  failure: %s (%s)" % (d["failure"]["reason"], d["failure"]["hint"]))
PY
}

both_ok() {
  [ "$RA" = 0 ] || fail "$SCEN $*: peer A exited $RA: $(cat "$tmp/a.err" "$tmp/a.json")"
  [ "$RB" = 0 ] || fail "$SCEN $*: peer B exited $RB: $(cat "$tmp/b.err" "$tmp/b.json")"
  check_json "$tmp/a.json" ok=true quic_connected=true "$@" || fail "A report"
  check_json "$tmp/b.json" ok=true quic_connected=true "$@" || fail "B report"
  /usr/bin/python3 - "$tmp/a.json" "$tmp/b.json" <<'PY' || fail "roles/paths"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
if {a["role"], b["role"]} != {"controlling", "controlled"}:
    sys.exit("roles %s/%s" % (a["role"], b["role"]))
if a["selected"]["remote"]["address"] == "" or b["selected"] is None:
    sys.exit("no selected pair")
PY
}

# ticket_start: a port-restricted pair, `punch ticket` on both hosts with
# FIFOs for stdin/stdout (stdin opened read-write so the open does not wait
# for a writer); reads both tickets into TA and TB. Until they are pasted
# the peers wait forever (their stdin never ends), so the trap stops them
# (their PIDs, and the punch each runs) before the lab goes.
ticket_start() {
  up pair --set "a=${1:-port-restricted}" --set "b=${2:-port-restricted}"
  for n in a b; do mkfifo "$tmp/in.$n" "$tmp/out.$n"; done
  x "$A" "$PUNCH" ticket --stun 203.0.113.1:3478 --json --timeout 10 \
    <>"$tmp/in.a" >"$tmp/out.a" 2>"$tmp/a.err" &
  PA=$!
  x "$B" "$PUNCH" ticket --stun 203.0.113.1:3478 --json --timeout 10 \
    <>"$tmp/in.b" >"$tmp/out.b" 2>"$tmp/b.err" &
  PB=$!
  trap 'for p in $PA $PB; do pkill -P "$p"; kill "$p"; done 2>/dev/null
        cleanup' EXIT INT TERM
  exec 6<"$tmp/out.a" 7<"$tmp/out.b"
  read -r TA <&6 || fail "no ticket from A: $(cat "$tmp/a.err")"
  read -r TB <&7 || fail "no ticket from B: $(cat "$tmp/b.err")"
}

# ticket_paste FOR_A FOR_B: give each peer its ticket, collect both
# reports, wait for both; exit codes in RA/RB.
ticket_paste() {
  printf '%s\n' "$1" >"$tmp/in.a"
  printf '%s\n' "$2" >"$tmp/in.b"
  cat <&6 >"$tmp/a.json" &
  cat <&7 >"$tmp/b.json" &
  wait "$PA"; RA=$?
  wait "$PB"; RB=$?
  PA= PB= # gone: nothing for the trap to stop
  wait
}

room() { printf 'lab%05d-%s' $$ "$1"; }

# sigint_run LABEL ARGS...: `punch ARGS` on hb (its gateway runs
# miniupnpd), stdin held open, no peer: once it holds the gateway's PCP
# mapping (its stderr line, and the rule in the gateway's ruleset), SIGINT
# must end it with exit 130, a report that says the mapping was deleted,
# and no rule left. Its stdout is in $tmp/out.txt after.
sigint_run() {
  local label=$1 p line= ext rc c1 c2
  shift
  rm -f "$tmp/in" "$tmp/out" "$tmp/err"
  mkfifo "$tmp/in" "$tmp/out" "$tmp/err"
  x "$B" "$PUNCH" "$@" <>"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
  p=$!
  trap 'pkill -P "$p"; kill "$p"; cleanup' EXIT INT TERM
  exec 10<"$tmp/out" 9<"$tmp/err"
  cat <&10 >"$tmp/out.txt" &
  c1=$!
  while [ "${line#*port mapping: pcp}" = "$line" ]; do
    read -r -t 10 line <&9 || fail "$label: no mapping line on stderr"
  done
  cat <&9 >"$tmp/err.txt" &
  c2=$!
  ext=${line##*:}
  ext=${ext%% *}
  case $(ip netns exec "$PFX-nb" nft list ruleset 2>&1) in
  *"dport $ext "*) ;;
  *) fail "$label: no rule for port $ext on the gateway while held" ;;
  esac
  pkill -INT -P "$p" punch || kill -INT "$p"
  wait "$p"
  rc=$?
  wait "$c1" "$c2"
  trap cleanup EXIT INT TERM
  [ "$rc" = 130 ] ||
    fail "$label: exit $rc after SIGINT, want 130: $(cat "$tmp/err.txt" "$tmp/out.txt")"
  grep -q "deleted at exit" "$tmp/out.txt" ||
    fail "$label: the report does not say deleted: $(cat "$tmp/out.txt")"
  case $(ip netns exec "$PFX-nb" nft list ruleset 2>&1) in
  *"dport $ext "*) fail "$label: mapping of port $ext left after SIGINT" ;;
  esac
  echo "portmap-sigint: $label: external port $ext held, deleted after SIGINT (exit 130)"
}

case $SCEN in
pair)
  ka=${1:?kind a}
  kb=${2:?kind b}
  if [ "$ka" = public ]; then
    up public-pair --set "b=$kb"
  else
    up pair --set "a=$ka" --set "b=$kb"
  fi
  serve
  # A NAT that maps per destination (symmetric) shows it only with a
  # second server (--stun): then the peer aims at predicted ports of a
  # sequential one, and the pair sprays (birthday) against a random one.
  seq=
  case "$ka $kb" in *symmetric*) seq="--stun 203.0.113.1:3478" ;; esac
  connect_both "$(room r)" "$(room r)" --timeout 10 $seq
  both_ok
  # the winning path and strategy: direct (srflx, or host for the public
  # side) between cones; b reaches a sequential a at a predicted port
  # (prflx if learned first) or by the spray, whichever is first; against
  # a random symmetric b, the spray on both sides (a dials, b accepts)
  /usr/bin/python3 - "$tmp/a.json" "$tmp/b.json" "$ka" "$kb" <<'PY' ||
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ka, kb = sys.argv[3:5]
ta, tb = (d["selected"]["remote"]["type"] for d in (a, b))
sa, sb = a["strategy"], b["strategy"]
print("remote types: a %s, b %s; strategies: a %s, b %s" % (ta, tb, sa, sb))
if kb == "symmetric":
    if sa != "birthday":
        sys.exit("a random symmetric peer is reached by birthday, not %s" % sa)
    for d, role in ((a, "dialer"), (b, "acceptor")):
        bd = d["birthday"]
        if bd["role"] != role or not bd["actual"]["hit"]:
            sys.exit("birthday %s: %s" % (role, bd))
    if not b["birthday"]["actual"]["sockets_opened"]:
        sys.exit("the acceptor opened no socket")
    # the hit has a probe number, unless a plain check of a's to one of b's
    # signalled addresses met a spray socket (its mapping took the same
    # port: about 1 run in 120 with 256 sockets over the full range)
    signalled = {c["address"] for c in b["candidates"]["local"]}
    if a["birthday"]["actual"]["hit_probe"] is None and \
            a["selected"]["remote"]["address"] not in signalled:
        sys.exit("the dialer's hit has no probe number")
elif ka == "symmetric-sequential":
    # the spray's sockets take the very ports the prediction names: b's
    # check to a predicted port may reach one of them, and each side then
    # names the path as it made it (b predicted, a birthday)
    if ta not in ("srflx", "host", "prflx") or sa not in ("direct", "birthday"):
        sys.exit("a: remote type %s, strategy %s" % (ta, sa))
    if tb not in ("predicted", "prflx") or sb not in ("predicted", "direct",
                                                       "birthday"):
        sys.exit("b: remote type %s (want predicted or prflx), strategy %s"
                 % (tb, sb))
else:
    if ta not in ("srflx", "host", "prflx") or sa != "direct" or sb != "direct":
        sys.exit("remote type %s, strategies %s/%s" % (ta, sa, sb))
PY
    fail "path types"
  ;;
same-nat)
  up same-nat
  A=h1 B=h2
  serve
  connect_both "$(room s)" "$(room s)" --timeout 10
  both_ok selected.local.type=host selected.remote.type=host
  ;;
symmetric)
  up pair --set a=symmetric --set b=symmetric
  serve
  t0=$(date +%s%N)
  connect_both "$(room y)" "$(room y)" --timeout 5 --stun 203.0.113.1:3478
  el=$((($(date +%s%N) - t0) / 1000000))
  echo "symmetric: both gave up after ${el} ms"
  [ "$RA" = 1 ] && [ "$RB" = 1 ] || fail "symmetric: exits $RA/$RB, want 1/1"
  [ "$el" -lt 7000 ] || fail "symmetric: took ${el} ms (timeout 5 s)"
  check_json "$tmp/a.json" ok=false failure.phase=checks failure.hint=birthday \
    mapping.local=address-and-port-dependent || fail "A report"
  check_json "$tmp/b.json" ok=false failure.phase=checks failure.hint=birthday ||
    fail "B report"
  grep -q "birthday" "$tmp/a.json" || fail "no birthday advice"
  # refused, with the estimate: both map per destination over the full
  # range, about 170,000 probes a side for 99.9 %
  for f in a b; do
    /usr/bin/python3 - "$tmp/$f.json" <<'PY' || fail "$f: the refusal"
import json, sys
d = json.load(open(sys.argv[1]))
bd, r = d["birthday"], d["failure"]["reason"]
print("refusal: %s" % r)
if bd["why"] != "both-hard" or bd["ran"] or bd["role"] != "none":
    sys.exit("plan %s" % bd)
if not 160000 < bd["both_hard"]["probes_per_side"] < 180000:
    sys.exit("estimate %s" % bd["both_hard"])
if "refused" not in r or str(bd["both_hard"]["probes_per_side"]) not in r:
    sys.exit("the reason gives no estimate: %s" % r)
PY
  done
  ;;
both-hard)
  # two NATs mapping per destination at random ports of 10000-10999 (their
  # firewalls dropping unsolicited input): refused by default, with the
  # estimate; with --allow-both-hard on both, each sprays the other's range
  # from its sockets: 4096 probes a side give 1 - (1 - 1/1000^2)^(4096^2)
  # (the ranges each side estimates from its probes are narrower: still
  # above 99.99 %)
  up birthday-both
  serve
  connect_both "$(room h)" "$(room h)" --timeout 3 --stun 203.0.113.1:3478
  [ "$RA" = 1 ] && [ "$RB" = 1 ] || fail "both-hard: exits $RA/$RB, want 1/1"
  check_json "$tmp/a.json" ok=false failure.hint=birthday birthday.why=both-hard \
    birthday.ran=false || fail "A report (refused)"
  # --range: both know their NAT's range; estimated from four samples it
  # sometimes is not told (measured: 1 run in about 30 took the samples for
  # a sequential NAT's and sprayed the whole range)
  connect_both "$(room h)" "$(room h)" --timeout 10 --stun 203.0.113.1:3478 \
    --allow-both-hard --probes 4096 --rate 1000 --range 10000-10999
  # a spray's path has no connectivity check: that interval is null
  both_ok strategy=birthday birthday.role=both birthday.why=spray \
    birthday.actual.hit=true times_ms.first_check_to_confirmed=none
  ;;
wrong-room)
  up pair --set a=port-restricted --set b=port-restricted
  serve
  t0=$(date +%s%N)
  connect_both "$(room w)-one" "$(room w)-two" --timeout 3
  el=$((($(date +%s%N) - t0) / 1000000))
  echo "wrong-room: both gave up after ${el} ms"
  [ "$RA" = 1 ] && [ "$RB" = 1 ] || fail "wrong-room: exits $RA/$RB, want 1/1"
  [ "$el" -lt 5000 ] || fail "wrong-room: took ${el} ms (timeout 3 s)"
  check_json "$tmp/a.json" ok=false failure.phase=rendezvous || fail "A report"
  check_json "$tmp/b.json" ok=false failure.phase=rendezvous || fail "B report"
  grep -q "same room code" "$tmp/a.json" || fail "reason does not name the code"
  ;;
pipe)
  up pair --set a=port-restricted --set b=port-restricted
  serve
  head -c 1048576 /dev/urandom >"$tmp/in.a"
  head -c 1048576 /dev/urandom >"$tmp/in.b"
  r=$(room p)
  x "$A" "$PUNCH" connect --rendezvous $RDV --room "$r" --pipe --json \
    <"$tmp/in.a" >"$tmp/out.a" 2>"$tmp/a.json" &
  pa=$!
  x "$B" "$PUNCH" connect --rendezvous $RDV --room "$r" --pipe --json \
    <"$tmp/in.b" >"$tmp/out.b" 2>"$tmp/b.json" &
  pb=$!
  wait $pa; RA=$?
  wait $pb; RB=$?
  [ "$RA" = 0 ] && [ "$RB" = 0 ] || fail "pipe: exits $RA/$RB: $(cat "$tmp/a.json" "$tmp/b.json")"
  [ "$(sha256sum <"$tmp/in.a")" = "$(sha256sum <"$tmp/out.b")" ] ||
    fail "pipe: A->B bytes differ ($(stat -c %s "$tmp/out.b") bytes arrived)"
  [ "$(sha256sum <"$tmp/in.b")" = "$(sha256sum <"$tmp/out.a")" ] ||
    fail "pipe: B->A bytes differ ($(stat -c %s "$tmp/out.a") bytes arrived)"
  check_json "$tmp/a.json" ok=true pipe.bytes_sent=1048576 \
    pipe.bytes_received=1048576 || fail "A report"
  echo "pipe: 1 MiB each way, sha256 equal"
  ;;
ticket)
  ticket_start
  case "$TA$TB" in natp1.*natp1.*) ;; *) fail "tickets: '$TA' '$TB'" ;; esac
  ticket_paste "$TB" "$TA"
  both_ok mode=ticket
  # a malformed ticket: exit 2, one line on stderr
  echo "natp1.this-is-not-a-ticket" |
    x "$A" "$PUNCH" ticket >/dev/null 2>"$tmp/bad.err"
  rc=$?
  [ "$rc" = 2 ] || fail "malformed ticket: exit $rc, want 2"
  [ "$(wc -l <"$tmp/bad.err")" = 1 ] ||
    fail "malformed ticket: want one line, got: $(cat "$tmp/bad.err")"
  echo "malformed ticket: $(cat "$tmp/bad.err")"
  ;;
ticket-birthday)
  # ticket mode with an RFC 5780 STUN server (coturn names its other
  # address): each peer's second Binding there tells its mapping, so a
  # port-restricted A and a symmetric B plan the spray without --role
  ticket_start port-restricted symmetric
  ticket_paste "$TB" "$TA"
  both_ok mode=ticket strategy=birthday
  check_json "$tmp/a.json" birthday.role=dialer \
    mapping.local=endpoint-independent || fail "A report"
  check_json "$tmp/b.json" birthday.role=acceptor || fail "B report"
  ;;
wrong-pin)
  # A gets B's ticket with one bit of B's certificate pin flipped. punch has
  # no option to give a peer pin by hand (--rendezvous-pin is the server's)
  # and a ticket carries a CRC-32 over its body (libnat/include/nat/ticket.h:
  # "natp1." base64url(BODY || CRC32(BODY)), BODY = version 1, then the PIN
  # TLV: type 1, length 32, the pin), so the pin is altered here and the
  # CRC recomputed in Python (the checks first that the untouched ticket
  # decodes and re-encodes the same way). Whichever side is the QUIC
  # client, A refuses B's certificate (or B's, A's as A's server check
  # fails): the refusing side sends CONNECTION_CLOSE with bad_certificate
  # and the other side fails at once from it, not from a timeout.
  ticket_start
  bad=$(
    /usr/bin/python3 - "$TB" <<'PY'
import base64, sys, zlib
# the line is the ticket, then maybe " map=N" (punch's mapping hint): kept
t, _, rest = sys.argv[1].strip().partition(" ")
prefix, text = t.split(".", 1)
raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
body, crc = bytearray(raw[:-4]), int.from_bytes(raw[-4:], "big")
def encode(body):
    whole = bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "big")
    return prefix + "." + base64.urlsafe_b64encode(whole).decode().rstrip("=")
if prefix != "natp1" or zlib.crc32(bytes(body)) != crc or encode(body) != t:
    sys.exit("not a ticket this script understands")
if body[:3] != b"\x01\x01\x20":
    sys.exit("the PIN TLV is not first")
body[3 + 31] ^= 0x01  # one bit of the pin's last byte
print(encode(body) + (" " + rest if rest else ""))
PY
  ) || fail "cannot alter the pin in '$TB'"
  [ "$bad" != "$TB" ] || fail "pin not altered"
  t0=$(date +%s%N)
  ticket_paste "$bad" "$TA"
  el=$((($(date +%s%N) - t0) / 1000000))
  echo "wrong-pin: both gave up ${el} ms after the tickets were pasted"
  [ "$RA" = 1 ] && [ "$RB" = 1 ] ||
    fail "wrong-pin: exits $RA/$RB, want 1/1: $(cat "$tmp/a.err" "$tmp/a.json" "$tmp/b.err" "$tmp/b.json")"
  [ "$el" -lt 10000 ] || fail "wrong-pin: took ${el} ms (timeout 10 s)"
  for n in a b; do
    check_json "$tmp/$n.json" ok=false mode=ticket quic_connected=false \
      failure.phase=quic || fail "${n^^} report"
    /usr/bin/python3 - "$tmp/$n.json" <<'PY' || fail "${n^^}: reason"
import json, sys
r = json.load(open(sys.argv[1]))["failure"]["reason"]
if "pin" not in r.lower():
    sys.exit("reason does not name the pin: %r" % r)
PY
  done
  ;;
mapped)
  # hb behind a symmetric random NAT whose gateway runs miniupnpd
  # (pair-sym-upnp): its punch asks for a mapping of its socket (PCP
  # first) and offers it; ha (port-restricted) reaches it directly, no
  # spray; the mapping is gone from the gateway after both exit.
  up pair-sym-upnp
  serve
  connect_both "$(room m)" "$(room m)" --timeout 10 --stun 203.0.113.1:3478
  both_ok strategy=mapped birthday.why=mapped birthday.ran=false
  check_json "$tmp/b.json" portmap.offered=true portmap.deleted=true \
    portmap.mapping.protocol=pcp portmap.answered.pcp=true \
    portmap.answered.nat_pmp=true \
    mapping.local=address-and-port-dependent ||
    fail "B report (mapped)"
  check_json "$tmp/a.json" portmap.offered=false portmap.mapping=none \
    selected.remote.type=mapped || fail "A report (no gateway mapping)"
  ext=$(/usr/bin/python3 -c 'import json,sys
print(json.load(open(sys.argv[1]))["portmap"]["mapping"]["external"].rsplit(":",1)[1])' "$tmp/b.json")
  rules=$(ip netns exec "$PFX-nb" nft list ruleset 2>&1)
  case $rules in *"dport $ext "*) fail "mapping of port $ext left on the gateway: $rules" ;; esac
  echo "mapped: external port $ext deleted at exit"
  # --no-portmap on hb: no mapping asked, the pair meets by the spray
  connect_both "$(room n)" "$(room n)" --timeout 10 --stun 203.0.113.1:3478 \
    --no-portmap
  both_ok strategy=birthday portmap=none
  ;;
portmap-sigint)
  # a punch holding a mapping (no peer comes) is stopped by SIGINT: exit
  # 130, the report says deleted, and the gateway has no rule for it; the
  # same while `punch ticket` waits for the peer's ticket on stdin (a
  # blocking read): SIGINT still ends the run through the agent's close
  up pair-sym-upnp
  serve
  sigint_run connect connect --rendezvous $RDV --room "$(room s)" --timeout 60
  sigint_run ticket ticket --timeout 60
  head -n 1 "$tmp/out.txt" | grep -q '^natp1\.' ||
    fail "ticket: no ticket before the report: $(cat "$tmp/out.txt")"
  ;;
*) fail "unknown scenario $SCEN" ;;
esac
echo "PASS: $SCEN $*"
