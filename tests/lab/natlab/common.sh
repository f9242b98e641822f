# Shared by the natlab lab tests (sourced). Exit 77 = skipped, with a reason.
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

need_lab() {
  [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
  for p in ip nft turnserver "$@"; do
    command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
  done
  local probe="nlprobe$$"
  ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces"
  ip netns del "$probe"
}

# A run-specific prefix ([a-z0-9]{6}: the tag, then random characters) and
# an isolated state directory, so `down --all` here never touches labs of
# other tests or users. The state directory is made here, atomically: a
# prefix that a lab still holds (namespaces or state directory, e.g. the
# same test run again within a second) is never taken twice.
lab_init() {
  local tag=${1:0:5} i
  for i in $(seq 50); do
    PFX=$tag$(tr -dc 'a-z0-9' </dev/urandom | head -c $((6 - ${#tag})))
    [ -z "$(ns_with_prefix "$PFX")" ] || continue
    mkdir "/run/natlab-test-$PFX" 2>/dev/null && break
    PFX=
  done
  [ -n "$PFX" ] || fail "no free lab prefix for tag '$tag'"
  export NATLAB_STATE_DIR="/run/natlab-test-$PFX"
  trap lab_cleanup EXIT INT TERM
}

lab_cleanup() {
  "$NATLAB" down --all >/dev/null 2>&1 || true
  local p
  for p in "${LAB_MORE[@]}"; do rmdir "/run/natlab-test-$p" 2>/dev/null || true; done
  rmdir "$NATLAB_STATE_DIR" 2>/dev/null || true
  for p in "$PFX" "${LAB_MORE[@]}"; do
    [ -n "$p" ] || continue
    for ns in $(ip netns list | awk '{print $1}' | grep "^$p" || true); do
      ip netns del "$ns" 2>/dev/null || true
    done
  done
}

# One more free prefix (tag, then random characters), for a test that runs
# several labs at once, in $MORE; reserved as lab_init reserves $PFX, kept in
# the same state directory and torn down by lab_cleanup. Call it in the
# test's own shell (not in $(...)): it appends to LAB_MORE.
LAB_MORE=()
lab_more() {
  local tag=${1:0:5} i
  MORE=
  for i in $(seq 50); do
    MORE=$tag$(tr -dc 'a-z0-9' </dev/urandom | head -c $((6 - ${#tag})))
    [ -z "$(ns_with_prefix "$MORE")" ] && mkdir "/run/natlab-test-$MORE" 2>/dev/null &&
      break
    MORE=
  done
  [ -n "$MORE" ] || fail "no free lab prefix for tag '$tag'"
  LAB_MORE+=("$MORE")
}

# Names of namespaces whose names start with $1.
ns_with_prefix() { ip netns list | awk '{print $1}' | grep "^$1-" || true; }
# The PIDs of PROGRAM's processes that natlab started in a namespace of
# one of the labs PREFIX... (natlab's peers.c sets NATLAB_NS=PREFIX-NODE):
# other tests' processes of the same program, running beside, are not ours.
procs_of_labs() {
  local prog=$1 pid p
  shift
  for pid in $(pgrep -f "^$prog " || true); do
    for p in "$@"; do
      tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null |
        grep -q "^NATLAB_NS=$p-" && echo "$pid"
    done
  done
}

# A UDP listener for `python3 -c "$LISTEN_PY" PORT [SECONDS]`: prints
# "ready", then the first datagram's text and its source IP, or "nothing"
# after SECONDS (10). `python3 -c "$SEND_PY" TEXT IP PORT` sends one.
read -r -d '' LISTEN_PY <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(float(sys.argv[2]) if len(sys.argv) > 2 else 10)
print("ready", flush=True)
try:
    d, a = s.recvfrom(100)
    print(d.decode(), a[0], flush=True)
except socket.timeout:
    print("nothing", flush=True)
PY
SEND_PY='import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[1].encode(), (sys.argv[2], int(sys.argv[3])))'
