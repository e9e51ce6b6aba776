#!/usr/bin/env bash
# The README's test command (`npm run test:all`): on a Debian 12 machine with Node.js 20 and nothing
# else done first, installs the Debian packages the tests drive that are missing (the list is
# scripts/test-peers.txt, shared with src/testing/peers.ts), installs the npm dependencies when
# node_modules is missing or older than package-lock.json, then builds and runs every test.
# Idempotent: a second run installs nothing. `--peers-only` stops after the Debian packages.
# Extra arguments go to vitest (e.g. `scripts/test.sh src/gateway/`).
set -euo pipefail
cd "$(dirname "$0")/.."

peers_only=0
if [ "${1:-}" = "--peers-only" ]; then
  peers_only=1
  shift
fi

# The packages whose program is not on this machine yet.
missing=()
while read -r name package path; do
  case "$name" in '' | '#'*) continue ;; esac
  if [ ! -x "$path" ]; then missing+=("$package"); fi
done < scripts/test-peers.txt

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "scripts/test.sh: the tests need these Debian packages: ${missing[*]}" >&2
    echo "Run this script as root, or install them as root first:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 2
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test.sh: no apt-get here; install the programs of scripts/test-peers.txt (${missing[*]}) by hand" >&2
    exit 2
  fi
  echo "scripts/test.sh: installing the missing test peers: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "scripts/test.sh: every test peer is installed (scripts/test-peers.txt)"
fi
[ "$peers_only" = "1" ] && exit 0

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# Never set in CI: a missing peer must fail the run, not skip tests (docs/testing.md).
unset PATHWARDEN_ALLOW_MISSING_PEERS
npm test -- "$@"
