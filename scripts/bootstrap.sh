#!/usr/bin/env bash
# Makes a fresh Debian/Ubuntu checkout ready for the README's two commands: system packages
# through scripts/setup.sh, npm packages through `npm ci` when node_modules is missing or older
# than the lockfile, and with --tests (the test command) chromium for the dashboard's browser
# test. Safe to run every time: it does nothing when all is in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

for_tests=false
[ "${1:-}" = "--tests" ] && for_tests=true

bash scripts/setup.sh

# The dashboard's browser test drives Debian's chromium (playwright-core downloads no browser
# here). Only for the tests: neither the perf job nor the action ever needs a browser.
if $for_tests && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if command -v apt-get >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo -n); else SUDO=(); fi
    echo "[bootstrap] apt-get install chromium" >&2
    if ! { "${SUDO[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
      echo "[bootstrap] warning: chromium not installed; the dashboard's browser test will be skipped" >&2
    fi
  else
    echo "[bootstrap] no apt-get: install chromium by hand for the dashboard's browser test" >&2
  fi
fi

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "[bootstrap] npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
