#!/usr/bin/env bash
# lab.netcheck.lifetime: netcheck --lifetime=MAXSEC (RFC 5780 section 4.6
# with RESPONSE-PORT) must bracket a NAT's known mapping timeout.
#
#   port-restricted-t5 (kernel masquerade, conntrack UDP timeouts 5 s)
#   natbox-t3          (natbox --timeout 3, EI mapping, APD filtering)
#
# netcheck tries the idle times T_k = MAXSEC / 1.5^(7-k), k = 0..7, and
# reports lifetime.min_s (longest idle time the mapping survived) and
# lifetime.max_s (shortest it did not). MAXSEC puts each timeout near the
# geometric middle of two rungs, as far from both as the factor 1.5 allows:
# 5 s in 4.0..6.0 (MAXSEC 9), 3 s in 2.370..3.556 (MAXSEC 8). netcheck
# records the idle time each probe really had (from X_k's last datagram
# out to the probe's first transmission), never less than its rung: a
# probe sent late (a loaded machine: 0.4 s was seen) reports the longer
# idle time it had, so the bracket stays true.
# Assertions: min_s <= timeout <= max_s, and min_s, max_s belong to
# adjacent rungs (the documented granularity: a factor 1.5; each is its
# rung or more, and less than the next rung). A second, short run
# (--lifetime=3 on the 5 s NAT) must find no upper bound:
# {"min_s": 3, "max_s": null}.
# Each run takes about MAXSEC; durations are printed, never asserted.
#
# usage: lifetime.sh NATLAB NETCHECK SCHEMA [NATBOX]
# Exit: 0 pass, 1 fail, 77 skipped (not root, no namespaces, a program
# missing). The natbox part is skipped (said so) without natbox or TUN.
set -uo pipefail
NATLAB=${1:?usage: lifetime.sh NATLAB NETCHECK SCHEMA [NATBOX]}
NETCHECK=${2:?usage: lifetime.sh NATLAB NETCHECK SCHEMA [NATBOX]}
SCHEMA=${3:?usage: lifetime.sh NATLAB NETCHECK SCHEMA [NATBOX]}
export NATLAB_NATBOX=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../natlab/common.sh"
need_lab python3
[ -x "$NETCHECK" ] || skip "netcheck is not built ($NETCHECK)"
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
  skip "python3-jsonschema is needed"
lab_init lt
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT


# check.py JSON SCHEMA NAME TIMEOUT MAXSEC MODE: MODE "bracket" (the
# timeout lies inside the ladder) or "open" (MAXSEC below the timeout).
cat >"$tmp/check.py" <<'PY'
import json, sys
import jsonschema
path, schema, name, timeout, maxsec, mode = sys.argv[1:7]
timeout, maxsec = float(timeout), float(maxsec)
d = json.load(open(path))
errs = list(jsonschema.Draft202012Validator(json.load(open(schema))).iter_errors(d))
if errs:
    sys.exit("%s: schema: %s at %s" % (name, errs[0].message, list(errs[0].path)))
def expect(what, got, want):
    if got != want:
        sys.exit("%s: %s = %r, want %r" % (name, what, got, want))
expect("udp", d["udp"], True)
expect("nat_present", d["nat_present"], True)
# mapping and filtering are other tests' business (lab.netcheck.*): a
# loaded machine can leave filtering unknown without touching the lifetime.
t = d["tests"]["lifetime"]
expect("tests.lifetime.run", t["run"], True)
expect("tests.lifetime.skipped", t["skipped"], None)
lt = d["lifetime"]
if not isinstance(lt, dict):
    sys.exit("%s: lifetime = %r, want an object" % (name, lt))
lo, hi = lt["min_s"], lt["max_s"]
# The ladder netcheck(1) documents: T_k = MAXSEC / 1.5^(7-k), k = 0..7.
ladder = [maxsec / 1.5 ** (7 - k) for k in range(8)]
def rung(x):
    # the measured idle time of the probe of rung k: T_k or a little more
    # (transit, a late timer), never T_{k+1}
    for k, r in enumerate(ladder):
        nxt = ladder[k + 1] if k + 1 < len(ladder) else float("inf")
        if r - 0.002 <= x < nxt:
            return k
    sys.exit("%s: %r s is below every idle time tried (%s)" % (
        name, x, " ".join("%.3f" % r for r in ladder)))
lines = [e for e in d["explanation"] if e.startswith("lifetime:")]
if mode == "bracket":
    if hi is None:
        sys.exit("%s: lifetime %r: no upper bound, but the %g s timeout is "
                 "below MAXSEC %g" % (name, lt, timeout, maxsec))
    if not (lo <= timeout <= hi):
        sys.exit("%s: lifetime %.3f..%.3f s does not bracket the %g s "
                 "timeout" % (name, lo, hi, timeout))
    klo, khi = rung(lo), rung(hi)
    if khi != klo + 1:
        sys.exit("%s: lifetime %.3f..%.3f s: not adjacent idle times "
                 "(factor %.2f, want 1.5)" % (name, lo, hi, hi / lo))
    if not any("between" in e for e in lines):
        sys.exit("%s: explanation lacks the lifetime bracket: %r" % (name, lines))
else:
    expect("lifetime.max_s (no idle time reached the timeout)", hi, None)
    if rung(lo) != len(ladder) - 1:
        sys.exit("%s: lifetime.min_s = %r, want MAXSEC %g (or a little more)"
                 % (name, lo, maxsec))
    if not any("at least" in e for e in lines):
        sys.exit("%s: explanation lacks 'at least': %r" % (name, lines))
for k, n in d["diagnostics"].items():
    if k != "duplicates":
        expect("diagnostics." + k, n, 0)
print("%s: timeout %g s, --lifetime=%g: lifetime %s..%s s; run took %.1f s "
      "(lifetime test %.1f s; not asserted)" % (
    name, timeout, maxsec, "%.3f" % lo, "none" if hi is None else "%.3f" % hi,
    d["duration_ms"] / 1000, (t["duration_ms"] or 0) / 1000))
PY

# idle.py PCAP: from netcheck's --record capture, the idle time each
# lifetime probe really had (its send time minus the last packet the target
# socket X_k got, the answer that made the mapping) and whether its answer
# came back: printed when a check fails, to tell a late probe from a NAT
# that expired early.
cat >"$tmp/idle.py" <<'PY'
import struct, sys
buf = open(sys.argv[1], "rb").read()
pkts, off = [], 24
while off + 16 <= len(buf):
    sec, frac, incl, _ = struct.unpack("<IIII", buf[off:off + 16])
    d = buf[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(d) < 14 + 20 + 8 + 20 or d[12:14] != b"\x08\x00":
        continue
    ihl = (d[14] & 15) * 4
    u = 14 + ihl
    sport, dport = struct.unpack("!HH", d[u:u + 4])
    m = d[u + 8:]
    typ, = struct.unpack("!H", m[:2])
    attrs, i = {}, 20
    while i + 4 <= len(m):
        t, l = struct.unpack("!HH", m[i:i + 4])
        attrs[t] = m[i + 4:i + 4 + l]
        i += 4 + (l + 3) // 4 * 4
    pkts.append((sec + frac / 1e9, sport, dport, typ, m[8:20], attrs))
last = {}   # local port -> time of the last datagram it received
probes = []
for t, sport, dport, typ, tid, attrs in pkts:
    if typ == 0x0001 and 0x0027 in attrs:
        rp, = struct.unpack("!H", attrs[0x0027][:2])
        probes.append([t, rp, tid, None])
    if typ == 0x0101:
        for pr in probes:
            if pr[2] == tid and pr[3] is None:
                pr[3] = t
        if 0x0020 in attrs:
            mp = struct.unpack("!H", attrs[0x0020][2:4])[0] ^ 0x2112
            last.setdefault(mp, {})[dport] = t
for t, rp, tid, ans in probes:
    # ports are preserved in these labs: X_k's local port is its mapped port
    made = max((v for v in last.get(rp, {}).values() if v < t), default=None)
    print("  probe to port %d: idle %s s, %s" % (
        rp, "?" if made is None else "%.3f" % (t - made),
        "answered" if ans else "no answer"), file=sys.stderr)
PY

# run NAME PREFIX TOPOLOGY TIMEOUT MAXSEC MODE: one netcheck --lifetime run
# in h1 of the lab PREFIX, checked by check.py.
run() {
  local name=$1 p=$2 timeout=$4 maxsec=$5 mode=$6 rc
  "$NATLAB" exec --prefix "$p" h1 -- "$NETCHECK" -4 \
    --server 203.0.113.1:3478 --lifetime="$maxsec" --json \
    --record "$tmp/$name.pcap" >"$tmp/$name.json" 2>"$tmp/$name.err"
  rc=$?
  [ $rc = 0 ] || fail "$name: netcheck exited $rc: $(cat "$tmp/$name.err")"
  /usr/bin/python3 "$tmp/check.py" "$tmp/$name.json" "$SCHEMA" "$name" \
    "$timeout" "$maxsec" "$mode" ||
    { python3 -m json.tool "$tmp/$name.json" >&2
      echo "$name: lifetime probes as captured (--record):" >&2
      python3 "$tmp/idle.py" "$tmp/$name.pcap"
      fail "$name"; }
}

# -- kernel NAT, conntrack UDP timeout 5 s
p="${PFX:0:5}k"
"$NATLAB" up port-restricted-t5 --prefix "$p" -q >"$tmp/k.up" 2>&1 ||
  { cat "$tmp/k.up"; fail "natlab up port-restricted-t5"; }
to=$("$NATLAB" exec --prefix "$p" home -- sysctl -n net.netfilter.nf_conntrack_udp_timeout)
[ "$to" = 5 ] || fail "kernel NAT: nf_conntrack_udp_timeout is '$to', want 5"
run kernel "$p" port-restricted-t5 5 9 bracket
run kernel-short "$p" port-restricted-t5 5 3 open
"$NATLAB" down --prefix "$p" >/dev/null 2>&1

# -- natbox NAT, --timeout 3
if [ -z "$NATLAB_NATBOX" ] || [ ! -x "$NATLAB_NATBOX" ] || [ ! -c /dev/net/tun ]; then
  echo "PASS: lab.netcheck.lifetime (kernel; natbox part skipped: natbox not built or no /dev/net/tun)"
  exit 0
fi
p="${PFX:0:5}n"
"$NATLAB" up natbox-t3 --prefix "$p" -q >"$tmp/n.up" 2>&1 ||
  { cat "$tmp/n.up"; fail "natlab up natbox-t3"; }
run natbox "$p" natbox-t3 3 8 bracket
"$NATLAB" down --prefix "$p" >/dev/null 2>&1
echo "PASS: lab.netcheck.lifetime"
