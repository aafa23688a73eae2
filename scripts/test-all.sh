#!/usr/bin/env bash
# The whole test suite: formatting, host tests (plain, ASan+UBSan, TSan for concurrent code), the
# freestanding cross build of the core, and the QEMU conformance run. Called by `scripts/dev test`
# and by CI. Stops at the first failing stage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

stage() { printf '\n=== %s ===\n' "$*"; }

# Runs ctest and adds its counts to the totals printed at the end.
total=0
failed=0
run_ctest() {
  local out
  out=$(mktemp)
  local status=0
  ctest "$@" 2>&1 | tee "$out" || status=$?
  local line
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$out" | tail -n 1 || true)
  rm -f "$out"
  if [ -n "$line" ]; then
    total=$((total + $(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")))
  fi
  [ "$status" -eq 0 ] || { echo "test-all: $((total - failed)) passed, $failed failed"; exit "$status"; }
}

build() {  # build PRESET
  local preset=$1
  if [ ! -f "build/$preset/build.ninja" ]; then cmake --preset "$preset" >/dev/null; fi
  cmake --build "build/$preset" -j "$jobs" | { grep -vE '^\[[0-9]+/[0-9]+\]|^ninja: (Entering|no work)' || true; }
}

stage "format (clang-format --dry-run)"
files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src tools tests bench firmware -name '*.cpp' -o -name '*.hpp')
clang-format --dry-run --Werror $files
echo "formatting ok"

stage "freestanding core for aarch64-linux-gnu"
build aarch64-core
echo "core builds with -ffreestanding -fno-exceptions -fno-rtti"

stage "host release build: unit, property and QEMU tests"
build release
run_ctest --test-dir build/release --output-on-failure -j "$jobs"

stage "AddressSanitizer + UndefinedBehaviorSanitizer"
build asan
run_ctest --test-dir build/asan --output-on-failure -j "$jobs" -LE qemu

if grep -rqs --include='*_concurrent_test.cpp' . tests; then
  stage "ThreadSanitizer (concurrent tests)"
  build tsan
  run_ctest --test-dir build/tsan --output-on-failure -j "$jobs" -R Concurrent
fi

echo
echo "test-all: $((total - failed)) passed, $failed failed"
