#!/usr/bin/env bash
# Makes a fresh Debian/Ubuntu checkout ready for the README's two commands: system packages
# through scripts/setup.sh, npm packages through `npm ci` when node_modules is missing or older
# than the lockfile. Safe to run every time: it does nothing when all is in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup.sh

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "[bootstrap] npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
