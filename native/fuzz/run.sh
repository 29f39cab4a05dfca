#!/usr/bin/env bash
# Builds the tokenizer's libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined) in
# build/native/fuzz and runs each from its seeds: the loader from the small tokenizer.json
# files in native/fuzz/seeds/load, encode from the shipped corpus. A crash leaves its
# reproducer in build/native/fuzz/artifacts/ and fails the script; turn it into a regression
# test in native/tests/ (tokenizer_load_test.cpp or tokenizer_core_test.cpp) and add the
# input to the seeds.
#
# Two modes. CI's is a fixed number of inputs from a fixed seed, so a run is reproducible
# and a red CI means the change under test, not a lucky draw:
#   FUZZ_RUNS=150000 bash native/fuzz/run.sh       (FUZZ_SEED=1 unless set)
# Exploring is by time, from a fresh random seed each run:
#   FUZZ_SECONDS=600 bash native/fuzz/run.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if [ -n "${FUZZ_SECONDS:-}" ]; then
  budget=(-max_total_time="$FUZZ_SECONDS")
  what="for ${FUZZ_SECONDS}s"
else
  runs="${FUZZ_RUNS:-150000}"
  seed="${FUZZ_SEED:-1}"
  what="for $runs inputs from seed $seed"
fi
env_file=build/toolchain.env
[ -f "$env_file" ] || bash scripts/setup.sh
# shellcheck disable=SC1090
. "$env_file"
build=build/native/fuzz
cmake -S native -B "$build" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$root/native/cmake/toolchains/clang17.cmake" \
  -DINFENG_CLANG_VERSION="$INFENG_CLANG_VERSION" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINFENG_FUZZ=ON -DINFENG_BUILD_TESTS=OFF -DINFENG_BUILD_BENCH=OFF -DINFENG_TOKENIZER_ADDON=OFF >/dev/null
cmake --build "$build" --target infeng_tokenizer_fuzz_load infeng_tokenizer_fuzz_encode
work="$build/work"
rm -rf "$work"
mkdir -p "$work/load" "$work/encode" "$build/artifacts"
cp native/fuzz/seeds/load/* "$work/load/"
cp native/testdata/corpus/*.txt "$work/encode/"
# a symbolized stack names the file and line of a crash in CI's log
symbolizer="$(command -v "llvm-symbolizer-$INFENG_CLANG_VERSION" || command -v llvm-symbolizer || true)"
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"
for target in load encode; do
  if [ -z "${FUZZ_SECONDS:-}" ]; then
    # encode inputs are whole corpus texts, ~40× slower each than a tokenizer.json
    n=$runs
    [ "$target" = encode ] && n=$((runs / 40 > 0 ? runs / 40 : 1))
    budget=(-runs="$n" -seed="$seed")
    what="for $n inputs from seed $seed"
  fi
  echo "fuzz: tokenizer $target $what"
  "$build/src/tokenizer/infeng_tokenizer_fuzz_$target" "${budget[@]}" -max_len=16384 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "$work/$target" \
    2> "$build/fuzz_$target.log" || {
      # the sanitizer's report with its stack, then the input that caused it
      sed -n '/ERROR: \|runtime error:/,/^SUMMARY/p' "$build/fuzz_$target.log" | head -80 >&2
      tail -8 "$build/fuzz_$target.log" >&2
      exit 1
    }
  grep -E "^stat::number_of_executed_units|^Done" "$build/fuzz_$target.log" || true
done
