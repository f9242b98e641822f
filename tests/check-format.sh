#!/usr/bin/env bash
# Fails, listing the files, if any tracked C file differs from .clang-format.
# The files are checked in parallel (one clang-format per CPU).
set -u
cf=${1:-clang-format}
command -v "$cf" >/dev/null 2>&1 || { echo "format: '$cf' not found"; exit 1; }
export cf
out=$(find libnat tools tests examples -name '*.[ch]' -not -path '*/build*' 2>/dev/null |
  sort | xargs -P "$(nproc)" -n 8 sh -c '
    for f; do
      "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 ||
        echo "not clang-formatted: $f (run: $cf -i $f)"
    done' sh)
if [ -n "$out" ]; then
  printf '%s\n' "$out" | sort
  exit 1
fi
echo "format: all C files obey .clang-format"
