#!/usr/bin/env bash
# `make test`: release build + every test, then the ASan/UBSan build + its tests, then fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# Cache hits across clones in other directories (CI clones afresh each run).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
ulimit -n 20000 2>/dev/null || true
JOBS=$(nproc)
CTEST_J=${CTEST_J:-4}

status=0
echo "== release build"
make --no-print-directory build JOBS="$JOBS"
echo "== release tests"
(cd build && ctest -j "$CTEST_J" --output-on-failure --timeout 300) || status=1

echo "== ASan+UBSan build"
make --no-print-directory asan JOBS="$JOBS"
echo "== ASan+UBSan tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The binary tests run against the sanitized porthole too (1 GiB becomes 256 MiB there).
(cd build-asan && PORTHOLE_BULK_BYTES=268435456 PORTHOLE_TIME_SCALE=3 ctest -j "$CTEST_J" --output-on-failure --timeout 600 \
   -L 'unit|integration|fuzz|binary') || status=1

echo "== fuzz (libFuzzer, ${FUZZ_SECONDS:-15}s per target)"
bash scripts/fuzz.sh build-fuzz "${FUZZ_SECONDS:-15}" || status=1
exit $status
