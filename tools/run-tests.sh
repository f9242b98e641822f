#!/usr/bin/env bash
# Configure, build and run libnat's whole test suite (the README's test
# command). Lab tests need root and network namespaces; without them they
# say why in one line and count as skipped.
#
# Environment:
#   BUILD_DIR     build directory (default: build)
#   NAT_SANITIZE  e.g. address,undefined (default: none)
#   NAT_FUZZ      ON to build libFuzzer targets (needs CC=clang)
#   CTEST_ARGS    extra arguments for ctest, e.g. "-L unit"
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DNAT_WERROR=ON \
  -DNAT_SANITIZE="${NAT_SANITIZE:-}" -DNAT_FUZZ="${NAT_FUZZ:-OFF}" >/dev/null
cmake --build "$build" -j"$(nproc)"
# shellcheck disable=SC2086
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" ${CTEST_ARGS:-}
