#!/usr/bin/env bash
# Installs what the native build needs on Debian/Ubuntu, idempotently:
# clang-<version> (INFENG_CLANG_VERSION, default 17), cmake, ninja, Google Benchmark,
# GoogleTest and OpenBLAS (the GEMM peer). It prints what it used, or why it cannot.
#
# When the default version is not packaged for this release (clang-17 is not in Debian 12),
# the nearest packaged major is used and said so; an explicitly requested version that is not
# packaged is an error, because the user asked for that compiler and nothing else.
# The chosen compiler is written to build/toolchain.env for the build step to read.
set -euo pipefail

requested="${INFENG_CLANG_VERSION:-}"
version="${requested:-17}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_env="${INFENG_TOOLCHAIN_ENV:-$root/build/toolchain.env}"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo -n); else SUDO=(); fi

command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian/Ubuntu only; install clang-$version, cmake, ninja, libbenchmark-dev, libgtest-dev, libopenblas-dev and libblis-pthread-dev by hand"

# Captured first, then matched: with pipefail, `grep -q` closing the pipe early would fail it.
installed() { local s; s=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true); [[ "$s" == *"install ok installed"* ]]; }
updated=0
apt_update() {
  if [ "$updated" -eq 0 ]; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -qq || die "apt-get update failed (no network, or no permission: run as root or with sudo)"
    updated=1
  fi
}
packaged() { local s; s=$(apt-cache policy "$1" 2>/dev/null || true); [[ "$s" =~ Candidate:\ [0-9] ]]; }

# Pick the compiler first: it decides the package names.
if ! command -v "clang++-$version" >/dev/null; then
  packaged "clang-$version" || apt_update
  if ! packaged "clang-$version"; then
    if [ -n "$requested" ]; then
      die "clang-$version is not packaged for this release ($(. /etc/os-release; echo "$PRETTY_NAME")); unset INFENG_CLANG_VERSION to use the nearest packaged major, or install clang-$version yourself"
    fi
    best=""; bestd=99
    for v in 14 15 16 18 19 20 21; do
      if command -v "clang++-$v" >/dev/null || packaged "clang-$v"; then
        d=$(( v > version ? v - version : version - v ))
        if [ "$d" -lt "$bestd" ] || { [ "$d" -eq "$bestd" ] && [ "$v" -gt "${best:-0}" ]; }; then best=$v; bestd=$d; fi
      fi
    done
    [ -n "$best" ] || die "no clang between 14 and 21 is packaged here; install clang-$version by hand"
    log "clang-$version is not packaged for this release; using the nearest packaged major, clang-$best (set INFENG_CLANG_VERSION to choose)"
    version=$best
  fi
fi

pkgs=("clang-$version" "libclang-rt-$version-dev" cmake ninja-build libbenchmark-dev libgtest-dev libopenblas-dev libblis-pthread-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
else
  log "all packages present"
fi

cc="$(command -v "clang-$version")"; cxx="$(command -v "clang++-$version")"
[ -x "$cxx" ] || die "clang++-$version still not found after install"
mkdir -p "$(dirname "$out_env")"
{
  echo "INFENG_CLANG_VERSION=$version"
  echo "CC=$cc"
  echo "CXX=$cxx"
} >"$out_env"
log "compiler: $("$cxx" --version | head -n1) ($cxx)"
log "wrote $out_env"
