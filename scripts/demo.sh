#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo: synth -> preprocess -> train -> eval ->
# report, into out/demo (or the folder given). Extra arguments go to `milnce demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/milnce info
./build/milnce demo "$@"
