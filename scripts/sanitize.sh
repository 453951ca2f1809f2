#!/usr/bin/env bash
# The torch-free code under the sanitizers, as CI runs it (scripts/test.sh calls this):
#   1. builds trainbench_base and trainbench_base_tests with clang, ASan and UBSan
#      (-fno-sanitize-recover=all: any report fails) into build-sanitize/, without LibTorch,
#      and runs the tests;
#   2. runs the libFuzzer target idx_fuzz (the IDX/gzip reader) for FUZZ_SECONDS seconds
#      (default 60) from the seed corpus the build wrote. Any finding fails, and the input that
#      caused it is kept in build-sanitize/fuzz-artifacts/.
# Needs clang and its runtime libraries (Debian: clang, libclang-rt-dev; scripts/setup.sh
# installs them).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=build-sanitize
fuzz_seconds=${FUZZ_SECONDS:-60}

if [ ! -f "$build/build.ninja" ]; then
  # RelWithDebInfo: -O2 keeps the fuzzer fast, -g gives the reports file and line.
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DTRAINBENCH_WITH_TORCH=OFF \
    -DTRAINBENCH_SANITIZE=ON -DTRAINBENCH_FUZZ=ON > "$build-configure.log" 2>&1 ||
    { tail -30 "$build-configure.log"; echo "sanitize: cmake configure failed ($build-configure.log)" >&2; exit 1; }
  rm -f "$build-configure.log"
fi
cmake --build "$build" -j"$(nproc)" --target trainbench_base_tests idx_fuzz idx_fuzz_corpus

echo "sanitize: trainbench_base_tests under ASan and UBSan"
ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  "$build/trainbench_base_tests" --gtest_brief=1

echo "sanitize: idx_fuzz for ${fuzz_seconds} s"
# New inputs the fuzzer finds go to a scratch directory, so the seed corpus stays as built.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build/fuzz-artifacts"
# -timeout: an input taking over 10 s is a hang, a finding; -rss_limit_mb: 2 GiB of memory is.
"$build/idx_fuzz" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/" \
  "$scratch" "$build/idx_fuzz_corpus" 2> "$scratch/fuzz.log" ||
  { tail -60 "$scratch/fuzz.log"; echo "sanitize: idx_fuzz found a problem (input in $build/fuzz-artifacts/)" >&2; exit 1; }
grep -E "^(stat::number_of_executed_units|Done )" "$scratch/fuzz.log" || true
echo "sanitize: no sanitizer report, no fuzzer finding"
