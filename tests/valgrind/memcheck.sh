#!/usr/bin/env bash
# Runs one program under valgrind memcheck (CTest label `memcheck`: each
# unit test again, see tests/CMakeLists.txt and NAT_MEMCHECK) and fails
# when valgrind finds any error or a definite leak.
#
# Exit status: the program's own, or 99 when valgrind found an error
# (invalid read or write, use of uninitialised memory, bad free,
# definitely lost block...): its report then goes to stderr.
# Build: gcc Debug (-O0, .ci/run's build-ci-memcheck): at -O2 valgrind did
# not see issue 14's uninitialised ngtcp2_pkt_info, -O0 shows it.
# Measured 2026-12-08 (51 entries, ctest -j2, 2 cores shared with other
# work): 15 min 16 s wall, 6 min 37 s CPU at load 8; 8 min 38 s wall,
# 5 min 27 s CPU at load 5. The slowest, test_bday_sim (a 400,000-trial
# Monte Carlo, 4.4 s natively), takes 7 to 12 min of that wall time.
# Suppressions: tests/valgrind/crypto.supp only (what the crypto libraries
# keep by design, each with its reason).
#
# usage: memcheck.sh PROGRAM [ARGS...]
#   MEMCHECK_ARGS   extra valgrind options, e.g. --track-origins=yes
#   MEMCHECK_LOG    keep valgrind's report in this file (default: a
#                   temporary file, removed)
#   NAT_TEST_SLOW   exported (default 20): the tests' real-time budgets
#                   that must let work finish are that many times longer
#                   (tests/unit/test_slow.h)
#   MEMCHECK_NOFILE start with this RLIMIT_NOFILE, soft and hard: valgrind
#                   3.19 refuses a program's own new hard limit
#                   (test_agent_spray's test_rlimit then goes above it)
set -u
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v valgrind >/dev/null 2>&1; then
  echo "memcheck: valgrind is not installed (tools/install-deps.sh)" >&2
  exit 3
fi
if [ -n "${MEMCHECK_NOFILE:-}" ]; then
  ulimit -n "$MEMCHECK_NOFILE" || exit 3
fi
export NAT_TEST_SLOW=${NAT_TEST_SLOW:-20}
log=${MEMCHECK_LOG:-$(mktemp "${TMPDIR:-/tmp}/memcheck.XXXXXX")}
# shellcheck disable=SC2086
valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  --num-callers=40 --child-silent-after-fork=yes \
  --suppressions="$here/crypto.supp" --log-file="$log" \
  ${MEMCHECK_ARGS:-} "$@"
rc=$?
if [ "$rc" -eq 99 ]; then
  cat "$log" >&2
  echo "memcheck: valgrind found errors in: $*" >&2
fi
[ -n "${MEMCHECK_LOG:-}" ] || rm -f "$log"
exit "$rc"
