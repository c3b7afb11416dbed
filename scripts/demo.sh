#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
out=${1:-out/demo}
mkdir -p "$out"
./build/milnce info
./build/milnce probe ../shared/testdata/videos/chaplin.mp4 > "$out/probe.json" && cat "$out/probe.json"
