#!/usr/bin/env bash
# Fails, listing the files, if any tracked C file differs from .clang-format.
set -u
cf=${1:-clang-format}
bad=0
while IFS= read -r f; do
  if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not clang-formatted: $f (run: $cf -i $f)"
    bad=1
  fi
done < <(find libnat tools tests -name '*.[ch]' -not -path '*/build*' | sort)
[ $bad -eq 0 ] && echo "format: all C files obey .clang-format"
exit $bad
