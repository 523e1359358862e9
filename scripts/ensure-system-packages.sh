#!/usr/bin/env bash
# Installs the Debian packages named on the command line when their command is missing.
# Usage: ensure-system-packages.sh chromium nginx haproxy wrk redis-server nftables
set -euo pipefail
missing=()
for pkg in "$@"; do
  cmd="$pkg"
  [ "$pkg" = redis-server ] && cmd=redis-server
  [ "$pkg" = nftables ] && cmd=nft
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
echo "installing system packages: ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
