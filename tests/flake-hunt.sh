#!/usr/bin/env bash
# Runs a CTest selection again and again and prints, for every test that
# failed even once, how often and where its output was kept. A test that
# can fail by chance is a defect of the test or of the code: this script
# finds them; it never retries anything for a pass.
#
# Usage: tests/flake-hunt.sh [-n RUNS] [-L LABEL] [-j JOBS] [-p PAR] [-s USEC] [-o DIR] BUILD_DIR
#   -n RUNS   repetitions (default 10)
#   -L LABEL  CTest label regex (default lab)
#   -j JOBS   ctest -j inside one run (default: the number of CPUs)
#   -p PAR    runs at once, to load the machine (default 1; 2 runs the
#             selection twice side by side: "the unit suite under load")
#   -s USEC   every read(2) of the tests returns USEC microseconds late
#             (strace fault injection): a loaded machine's scheduling made
#             systematic, for the unit suite (a thread-pool read that took
#             its bytes but has not told the loop yet, say)
#   -o DIR    where failing runs' output goes (default: a new temp dir)
# Exit: 0 no failure, 1 some test failed at least once, 2 usage error.
set -uo pipefail
runs=10 label=lab jobs=$(nproc) par=1 out= delay=
usage() { echo "usage: $0 [-n RUNS] [-L LABEL] [-j JOBS] [-p PAR] [-s USEC] [-o DIR] BUILD_DIR" >&2; exit 2; }
while getopts n:L:j:p:s:o: o; do
  case $o in
    n) runs=$OPTARG ;; L) label=$OPTARG ;; j) jobs=$OPTARG ;;
    p) par=$OPTARG ;; s) delay=$OPTARG ;; o) out=$OPTARG ;; *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# = 1 ] || usage
build=$1
for v in "$runs" "$jobs" "$par"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "$0: '$v' is not a positive count" >&2; exit 2; }
done
wrap=()
if [ -n "$delay" ]; then
  [[ $delay =~ ^[1-9][0-9]*$ ]] || { echo "$0: -s '$delay' is not a positive count of microseconds" >&2; exit 2; }
  command -v strace >/dev/null 2>&1 || { echo "$0: -s needs strace" >&2; exit 2; }
  wrap=(strace -f -qq -o /dev/null -e trace=read -e "inject=read:delay_exit=$delay")
fi
[ -f "$build/CTestTestfile.cmake" ] || { echo "$0: $build is not a configured build directory" >&2; exit 2; }
out=${out:-$(mktemp -d /tmp/flake-hunt.XXXXXX)}
mkdir -p "$out"

declare -A fails=() seen=()
total=0
start=$(date +%s)
for ((r = 1; r <= runs; r++)); do
  pids=()
  for ((k = 1; k <= par; k++)); do
    "${wrap[@]}" ctest --test-dir "$build" -L "$label" -j"$jobs" --output-on-failure \
      >"$out/run-$r.$k.log" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  for ((k = 1; k <= par; k++)); do
    log="$out/run-$r.$k.log"
    total=$((total + 1))
    bad=0
    # " 3/41 Test #39: lab.natlab.reference ......***Failed   12.3 sec"
    while read -r name status; do
      seen[$name]=1
      if [ "$status" != Passed ]; then
        fails[$name]=$((${fails[$name]:-0} + 1))
        bad=1
      fi
    done < <(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.*[* ]*([A-Za-z]+).*/\1 \2/p' "$log")
    if [ $bad = 0 ]; then rm -f "$log"; fi
    printf 'run %d.%d: %s\n' "$r" "$k" "$([ $bad = 0 ] && echo pass || echo "FAIL (kept $log)")"
  done
done
echo "== $total runs of -L '$label' in $(($(date +%s) - start)) s, ${#seen[@]} tests"
if [ ${#fails[@]} = 0 ]; then
  echo "no test failed"
  rmdir "$out" 2>/dev/null
  exit 0
fi
for t in "${!fails[@]}"; do
  printf '%-40s failed %d of %d\n' "$t" "${fails[$t]}" "$total"
done | sort
echo "logs of failing runs: $out"
exit 1
