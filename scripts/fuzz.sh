#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang, ASan and UBSan in build-fuzz/
# and runs each for a bounded time, starting from its seed corpus (tests/fuzz/corpus/<harness>/,
# plus the matching test files when present). Prints, per harness, the runs made and the
# findings; exits 1 when any harness found a crash, leak, timeout or broken invariant.
#   bash scripts/fuzz.sh            60 s per harness
#   bash scripts/fuzz.sh 3600       an hour each (longer runs find more; see the README)
#   bash scripts/fuzz.sh 60 fuzz_config fuzz_captions   only these harnesses
# A finding is written to build-fuzz/findings/<harness>/; replay it with
#   build-fuzz/<harness> build-fuzz/findings/<harness>/<file>
# and turn it into a regression test of the reader's Check suite.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
command -v clang >/dev/null || { echo "fuzz: clang is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
dir=build-fuzz
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMILNCE_FUZZ=ON -DMILNCE_WITH_MPI=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzzers >/dev/null
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
fi
# Real files as extra seeds for the caption readers.
data=tests/data
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
printf '%-20s %12s %9s\n' harness runs findings
for name in "${names[@]}"; do
  corpus="$dir/corpus/$name" findings="$dir/findings/$name"
  mkdir -p "$corpus" "$findings"
  [ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
  if [ "$name" = fuzz_captions ] && [ -d "$data/subtitles" ]; then
    # Byte 0 selects the format: 0 auto (sniffing), 4 WebVTT, 2 SRT, 1 CSV.
    for f in "$data"/subtitles/srt/*.srt "$data"/subtitles/webvtt-py/*.vtt "$data"/subtitles/youtube/*.vtt; do
      [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 20000 ] && { printf '\0'; cat "$f"; } > "$corpus/seed-$(basename "$f")"
    done
  fi
  log="$dir/$name.log"
  set +e
  nice -n 10 "$dir/$name" "$corpus" -max_total_time="$secs" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  n=$(find "$findings" -type f | wc -l)
  printf '%-20s %12s %9s\n' "$name" "${runs:-?}" "$n"
  if [ $rc -ne 0 ] || [ "$n" -gt 0 ]; then
    status=1
    grep -m5 -E 'ERROR|runtime error|SUMMARY|abort|==[0-9]+==' "$log" | sed 's/^/  /' || true
    echo "  log: $log"
  fi
done
exit $status
