#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds a tiny consumer
# against it twice: with find_package(libnat) (nat::nat) and with pkg-config.
# Runs each consumer, which calls into libnat and checks the answer.
set -euo pipefail
build=$1; here=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(find "$tmp/prefix" -name libnat.pc -printf '%h\n' | head -1)
[ -n "$libdir" ] || { echo "libnat.pc was not installed"; exit 1; }
libdir=$(dirname "$libdir")
for f in include/nat/nat.h include/nat/stun.h; do
  [ -f "$tmp/prefix/$f" ] || { echo "missing installed header $f"; exit 1; }
done
# Only NAT_EXTERN symbols are exported from the shared library.
if nm -D --defined-only "$libdir/libnat.so" | awk '{print $3}' | grep -v '^nat_' | grep -v '^_' ; then
  echo "libnat.so exports symbols outside nat_*"; exit 1
fi
if nm -D --defined-only "$libdir/libnat.so" | awk '{print $3}' | grep '^nat__'; then
  echo "libnat.so exports private nat__ symbols"; exit 1
fi
cmake -S "$here/consumer" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cmake-build/consumer"
PKG_CONFIG_PATH="$libdir/pkgconfig" cc -o "$tmp/pc-consumer" "$here/consumer/consumer.c" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs libnat)
LD_LIBRARY_PATH="$libdir" "$tmp/pc-consumer"
echo "install: cmake package and pkg-config consumers built and ran"
