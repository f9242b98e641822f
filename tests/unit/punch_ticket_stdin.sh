#!/usr/bin/env bash
# punch ticket (and birthday ticket, the same front end) reading the peer's
# ticket from stdin (CTest unit.punch_ticket_stdin; no root, no server: the
# ticket holds host candidates only, nothing is sent anywhere). Every wait
# is bounded with timeout(1) and no test sleeps:
# - `< /dev/zero` ends at once: the NUL is refused (exit 2, one line);
# - a NUL inside the line is refused, not cut off;
# - a line longer than a ticket can be is refused when the limit is hit,
#   without reading the rest (a 5 MB line without newline);
# - --timeout ends the wait on a stdin that never writes (a FIFO held
#   open): exit 1 within the timeout, one line naming it;
# - SIGINT right after the ticket is out ends the run with 130 (stopped
#   by SIGINT), every time.
# usage: punch_ticket_stdin.sh PUNCH [BIRTHDAY]
set -u
punch=$1 bday=${2:-}
tmp=$(mktemp -d)
trap 'exec 3>&- 4>&-; rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect RC WANT CMD...: CMD's stdin comes from the caller; the exit
# status, one line on stderr containing WANT, the time taken (ms)
expect() {
  local want_rc=$1 want=$2 rc lines t0 t1
  shift 2
  t0=$(date +%s%N)
  timeout -s KILL 20 "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  t1=$(date +%s%N)
  ms=$(((t1 - t0) / 1000000))
  lines=$(wc -l <"$tmp/err")
  [ "$rc" -eq "$want_rc" ] || fail "'$*': exit $rc, want $want_rc ($(cat "$tmp/err"))"
  [ "$lines" -eq 1 ] || fail "'$*': $lines lines on stderr, want 1: $(cat "$tmp/err")"
  grep -qF -- "$want" "$tmp/err" ||
    fail "'$*': stderr lacks '$want': $(cat "$tmp/err")"
  grep -q '^natp1\.' "$tmp/out" || fail "'$*': no ticket of its own printed"
}

tools=("$punch")
[ -n "$bday" ] && tools+=("$bday")
for t in "${tools[@]}"; do
  name=$(basename "$t")
  expect 2 "$name: the peer's ticket line holds a NUL byte (column 1): not a ticket" \
    "$t" ticket </dev/zero
  [ "$ms" -lt 5000 ] || fail "$name ticket < /dev/zero took $ms ms"
done

printf 'natp1.AAAA\000BBBB\n' >"$tmp/nul"
expect 2 "the peer's ticket line holds a NUL byte (column 11): not a ticket" \
  "$punch" ticket <"$tmp/nul"

# 5 MB without a newline: refused at the limit, fast
head -c 5000000 /dev/zero | tr '\0' 'a' >"$tmp/long"
expect 2 "the peer's ticket line is longer than 1151 bytes: not a ticket" \
  "$punch" ticket <"$tmp/long"
[ "$ms" -lt 5000 ] || fail "a 5 MB line took $ms ms"

# an empty stdin: as before
expect 2 "no peer ticket on stdin: paste the peer's ticket line" \
  "$punch" ticket </dev/null

# a stdin that never writes and never ends: --timeout 1 ends the wait
mkfifo "$tmp/in"
exec 3<>"$tmp/in"
expect 1 "no peer ticket on stdin within --timeout 1 s" \
  "$punch" ticket --timeout 1 <&3
[ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ] ||
  fail "--timeout 1 ended the wait after $ms ms"

# SIGINT as soon as the ticket is out, during the wait: 130 (the run ends
# through the agent's close), three times (a signal sent right after the
# ticket line used to be lost now and then)
mkfifo "$tmp/outfifo"
for i in 1 2 3; do
  timeout -s KILL 20 "$punch" ticket --timeout 60 <&3 >"$tmp/outfifo" \
    2>"$tmp/err" &
  pid=$!
  exec 4<"$tmp/outfifo"
  if read -r -t 15 line <&4 && [[ "$line" == natp1.* ]]; then
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" -eq 130 ] || fail "SIGINT during the wait ($i): exit $rc, want 130"
    grep -q "stopped by SIGINT" "$tmp/err" ||
      fail "SIGINT ($i): stderr lacks 'stopped by SIGINT': $(cat "$tmp/err")"
  else
    fail "no ticket line from punch ticket"
    kill -KILL "$pid"
    wait "$pid"
  fi
  exec 4<&-
done

[ "$fails" -eq 0 ] && echo "punch ticket stdin: all checks passed"
[ "$fails" -eq 0 ]
