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

# A run-specific prefix ([a-z0-9]{1,6}) and an isolated state directory, so
# `down --all` here never touches labs of other tests or users.
lab_init() {
  PFX="${1}$(printf '%05d' $(($$ % 100000)))"
  PFX=${PFX:0:6}
  export NATLAB_STATE_DIR="/run/natlab-test-$PFX"
  trap lab_cleanup EXIT INT TERM
}

lab_cleanup() {
  "$NATLAB" down --all >/dev/null 2>&1 || true
  rmdir "$NATLAB_STATE_DIR" 2>/dev/null || true
  for ns in $(ip netns list | awk '{print $1}' | grep "^$PFX" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
}

# Names of namespaces whose names start with $1.
ns_with_prefix() { ip netns list | awk '{print $1}' | grep "^$1-" || true; }
