#!/usr/bin/env bash
# Builds native/ (release preset, with the compiler scripts/setup.sh chose) and runs the
# GoogleTest suite through ctest: every ISA path against the scalar reference.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
env_file=build/toolchain.env
[ -f "$env_file" ] || bash scripts/setup.sh
# shellcheck disable=SC1090
. "$env_file"
preset="${INFENG_NATIVE_PRESET:-release}"
cmake -S native --preset "$preset" -DINFENG_CLANG_VERSION="$INFENG_CLANG_VERSION" >/dev/null
cmake --build "build/native/$preset"
ctest --test-dir "build/native/$preset" --output-on-failure -j2
