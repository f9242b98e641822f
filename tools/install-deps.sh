#!/usr/bin/env bash
# Installs exactly the Debian 12 packages libnat, its tests and its lab need.
# Idempotent: packages already present are left as they are.
# Usage: tools/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang-format
  # libnat
  libuv1-dev libssl-dev libjansson-dev
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev
  libminiupnpc-dev libnatpmp-dev
  # tests
  libcmocka-dev clang libfuzzer-14-dev libclang-rt-14-dev python3-jsonschema
  valgrind
  # lab and reference clients
  iproute2 nftables conntrack coturn miniupnpd-nftables miniupnpc natpmpc
  tcpdump tshark stun-client
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: must run as root (or with sudo) to apt-get install" >&2
    exit 3
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Services shipped by these packages (coturn, miniupnpd) must not start on install.
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
trap '[ $policy_added -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
