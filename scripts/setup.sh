#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) for patchgate: Debian packages, npm ci, the build.
# Idempotent: a second run installs nothing new and only rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(git redis-server public-inbox ccache busybox-static qemu-system-x86 linux-source-6.1
          build-essential bc flex bison libelf-dev libssl-dev perl python3 cpio xz-utils iproute2 util-linux)
# what only the tests need (scripts/test.sh sets it): a browser for the dashboard tests, an IMAP server
# for the IMAP source's tests
# shellcheck disable=SC2206
PACKAGES+=(${PATCHGATE_TEST_PACKAGES:-})

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  # the CI's contract: apt-get update before any install
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
