#!/usr/bin/env bash
# milnce from Python: clips per CPU-second of milnce.Loader and of a torch DataLoader over
# milnce.torch.ShardDataset, against the C loader, the one-ffmpeg-process-per-clip reference and
# PyAV, in one run (bench/loader.sh's peers and inputs: 16 frames at 5 fps, 224x224, random clips
# of a 10-minute 640x360 H.264 video; shards from `milnce preprocess --size 256 --fps 5`).
#   C loader            bench_loader shards (milnce_loader_open/next, B = 1), 1 and 2 threads
#   milnce.Loader       the same clips through the C API + ctypes + numpy views, 1 and 2 threads
#   torch DataLoader    ShardDataset + collate: in-process (num_workers=0, 2 threads), and 2
#                       worker processes x 1 thread (CPU of the workers counted)
#   ffmpeg/clip, PyAV   bench/loader_ref.py on the raw video, the C loader's first clips
# Usage: bench/python_loader.sh [CLIPS] [PEER_CLIPS]     (defaults 300 and 40)
# Targets (issue 16): milnce.Loader >= 0.9x the C loader, >= 30x the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${MILNCE_BENCH_BUILD:-build-bench}
N=${1:-300}
P=${2:-40}
PY=/usr/bin/python3
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target milnce bench_loader milnce_shared >/dev/null
MILNCE=$PWD/$BUILD/milnce
BL=$PWD/$BUILD/bench_loader
export MILNCE_LIBRARY=$PWD/$BUILD/libmilnce.so
source bench/loader_data.sh
bench_shards 10 "$CACHE/shards10m"
SH=$CACHE/shards10m
STARTS=$CACHE/starts-python.txt
load0=$(cut -d' ' -f1-3 /proc/loadavg)

r_c1=$("$BL" shards "$SH" 1 "$N" 8 "$STARTS")
r_p1=$($PY bench/python_loader.py loader "$SH" 1 "$N" 8)
r_c2=$("$BL" shards "$SH" 2 "$N" 8)
r_p2=$($PY bench/python_loader.py loader "$SH" 2 "$N" 8)
r_t0=$($PY bench/python_loader.py torch "$SH" 0 2 "$N" 8)
r_t2=$($PY bench/python_loader.py torch "$SH" 2 1 "$N" 8)
r_ff=$($PY bench/loader_ref.py ffmpeg "$VIDEO" "$STARTS" "$P")
r_av=$($PY bench/loader_ref.py pyav "$VIDEO" "$STARTS" "$P")
load1=$(cut -d' ' -f1-3 /proc/loadavg)

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
ref=$(field clips_per_cpu_s "$r_ff")
echo "milnce from Python: 16 frames @ 5 fps, 224x224, random clips of $(basename "$VIDEO") (640x360 H.264)"
echo "$(nproc) cores; load average before: $load0, after: $load1"
printf "%-40s %6s %8s %8s %11s %9s %9s %8s\n" "loader" clips "cpu s" "wall s" "clips/CPU-s" "clips/s" "vs C" "vs ffmpeg"
row() {
    local name=$1 r=$2 c=$3 v vc
    v=$(field clips_per_cpu_s "$r")
    vc=-
    [ -n "$c" ] && vc=$(printf "%.2fx" "$(echo "$v / $(field clips_per_cpu_s "$c")" | bc -l)")
    printf "%-40s %6s %8s %8s %11s %9s %9s %7.1fx\n" "$name" "$(field clips "$r")" "$(field cpu_s "$r")" \
        "$(field wall_s "$r")" "$v" "$(field clips_per_s "$r")" "$vc" "$(echo "$v / $ref" | bc -l)"
}
row "C loader, 1 thread" "$r_c1" ""
row "milnce.Loader, 1 thread" "$r_p1" "$r_c1"
row "C loader, 2 threads" "$r_c2" ""
row "milnce.Loader, 2 threads" "$r_p2" "$r_c2"
row "torch DataLoader, in-process, 2 threads" "$r_t0" "$r_c2"
row "torch DataLoader, 2 workers x 1 thread" "$r_t2" "$r_c2"
row "ffmpeg process per clip (reference)" "$r_ff" ""
row "PyAV, raw video" "$r_av" ""
echo "targets: milnce.Loader >= 0.9x the C loader, >= 30x the reference"
