#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.cpp with clang + libFuzzer + ASan/UBSan and runs each one for
# SECONDS, starting from its corpus. A crash fails the run and leaves the reproducer in BUILD.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECONDS_PER=${2:-15}
cmake -S tests/fuzz -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
status=0
for bin in "$BUILD"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus="tests/fuzz/corpus/$name"
  work="$BUILD/corpus-$name"
  mkdir -p "$work"
  echo "fuzz: $name for ${SECONDS_PER}s"
  if ! "$bin" -max_total_time="$SECONDS_PER" -max_len=65536 -artifact_prefix="$BUILD/$name-" \
       -print_final_stats=0 "$work" "$corpus" >"$BUILD/$name.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -n 40 "$BUILD/$name.log"; status=1
  fi
done
exit $status
