#!/usr/bin/env bash
# Clip loading in clips per CPU-second, side by side in one run (DESIGN.md "Targets"):
# 16 frames at 5 fps, 224x224, the same random clips of a 10-minute 640x360 H.264 video.
#   milnce, shards   milnce_loader_open/next (B = 1, random crop + flip, float output), 1 and 2
#                    workers, from shards made by `milnce preprocess --size 256 --fps 5`
#   milnce, 8 videos the loader (1 worker) on a shard holding that rendition 8 times under
#                    distinct keys: every clip opens another member, as training on many videos does
#   milnce, raw      milnce_decoder on the raw video, one decoder opened per clip
#   ffmpeg/clip      the reference: one ffmpeg process per clip (-ss S -t 3.3, fps=5, square
#                    centre crop, scale 224, rgb24 to a pipe); CPU of the children
#   PyAV             in-process open + seek + decode + resize (bench/loader_ref.py)
# Usage: bench/loader.sh [SHARD_CLIPS] [PEER_CLIPS]     (defaults 300 and 40)
# Inputs are cached under /tmp/milnce-bench (see bench/loader_data.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${MILNCE_BENCH_BUILD:-build-bench}
N=${1:-300}
P=${2:-40}
PY=/usr/bin/python3
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target milnce bench_loader >/dev/null
MILNCE=$PWD/$BUILD/milnce
BL=$PWD/$BUILD/bench_loader
source bench/loader_data.sh
bench_shards 10 "$CACHE/shards10m"
bench_copy_shard "$CACHE/shards10m" "$CACHE/copies10m" 8
STARTS=$CACHE/starts.txt
load0=$(cut -d' ' -f1-3 /proc/loadavg)

r_s1=$("$BL" shards "$CACHE/shards10m" 1 "$N" 8 "$STARTS")
r_s2=$("$BL" shards "$CACHE/shards10m" 2 "$N" 8)
r_c1=$("$BL" shards "$CACHE/copies10m" 1 "$N" 8)
r_raw=$("$BL" raw "$VIDEO" "$STARTS" "$P")
r_ff=$($PY bench/loader_ref.py ffmpeg "$VIDEO" "$STARTS" "$P")
r_av=$($PY bench/loader_ref.py pyav "$VIDEO" "$STARTS" "$P")
load1=$(cut -d' ' -f1-3 /proc/loadavg)

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
ref=$(field clips_per_cpu_s "$r_ff")
echo "clip loading: 16 frames @ 5 fps, 224x224, random clips of $(basename "$VIDEO") (640x360 H.264, $(printf %.0f "$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$VIDEO")") s)"
echo "$(nproc) cores; load average before: $load0, after: $load1"
printf "%-34s %6s %8s %8s %11s %9s %8s %6s\n" "loader" clips "cpu s" "wall s" "clips/CPU-s" "clips/s" "vs ffmpeg" "wait"
row() {
    local name=$1 r=$2 c
    c=$(field clips_per_cpu_s "$r")
    printf "%-34s %6s %8s %8s %11s %9s %8.1fx %6s\n" "$name" "$(field clips "$r")" "$(field cpu_s "$r")" \
        "$(field wall_s "$r")" "$c" "$(field clips_per_s "$r")" "$(echo "$c / $ref" | bc -l)" "$(field wait "$r")"
}
row "milnce loader, shards, 1 worker" "$r_s1"
row "milnce loader, shards, 2 workers" "$r_s2"
row "milnce loader, 8 videos, 1 worker" "$r_c1"
row "milnce decoder, raw video" "$r_raw"
row "ffmpeg process per clip (ref)" "$r_ff"
row "PyAV, raw video" "$r_av"
echo "targets: shards >= 100 clips/CPU-s, raw >= 15 (ref ~3.3, PyAV ~6.6 on the design's machine)"
echo "where a shard clip's CPU goes (rendition extracted from the shard):"
$PY - "$CACHE/shards10m/train-000000.tar" "$CACHE/rendition10m.mp4" <<'EOF'
import sys, tarfile
t = tarfile.open(sys.argv[1])
m = [x for x in t.getmembers() if x.name.endswith(".mp4")][0]
open(sys.argv[2], "wb").write(t.extractfile(m).read())
EOF
echo "  $("$BL" profile "$CACHE/rendition10m.mp4" "$STARTS" 100)"
