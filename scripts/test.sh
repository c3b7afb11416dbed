#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (Check suites, reference fixtures, e2e).
#   MILNCE_SANITIZE=1  build in build-asan with ASan+UBSan+LeakSanitizer instead of build/
#   CI=true            a test that cannot run for a missing tool or package fails instead of
#                      skipping (only a missing CPU feature stays a skip)
#   extra arguments go to ctest (e.g. -R check_loss, -L slow)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
reuse=()
exclude=slow
if [ "${MILNCE_SANITIZE:-0}" = 1 ]; then
  dir=build-asan
  fx=()
  # The reference fixtures do not depend on the build: reuse those of build/ when it made them.
  if [ -d build/fixtures ] && [ "${MILNCE_REGEN_FIXTURES:-0}" != 1 ]; then
    fx=(-DMILNCE_FIXTURES_DIR="$PWD/build/fixtures")
    reuse=(-FS '.*')
    exclude="slow|reference|heavy"
  else
    fx=(-DMILNCE_FIXTURES_DIR="$PWD/$dir/fixtures")
  fi
  [ "$exclude" = slow ] && exclude="slow|heavy"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DMILNCE_SANITIZE=ON "${fx[@]}" >/dev/null
  # LeakSanitizer runs in every process at exit (Check's forked children included); the
  # suppressions cover only what OpenBLAS, OpenMP and Check keep until exit (tests/lsan.supp).
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  dir=build
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure -j"$(nproc)" -LE "${MILNCE_EXCLUDE_LABEL:-$exclude}" "${reuse[@]}" "$@"
