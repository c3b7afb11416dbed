#!/usr/bin/env bash
# Clip loading benchmark (not a test): the same N random clips (16 frames at 5 fps, 224 crop) from
# a ~10-minute 640x360 H.264 video, loaded by milnce's decoder, by one ffmpeg process per clip
# (the reference's loader) and by PyAV. Prints clips per CPU-second and the ratios.
# Usage: bench/clip_loading.sh [N clips, default 100] [build dir, default build]
set -euo pipefail
N=${1:-100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${2:-$ROOT/build}
TESTDATA=${MILNCE_TESTDATA:-$ROOT/tests/data}
WORK=${MILNCE_BENCH_DIR:-/tmp/milnce-bench-video}
PY=/usr/bin/python3
mkdir -p "$WORK"
VIDEO=$WORK/long_640x360.mp4
if [ ! -s "$VIDEO" ]; then
  echo "building $VIDEO (10 minutes, 640x360, H.264 with libx264 defaults, 25 fps, no audio)..."
  V=$TESTDATA/videos
  ins=() ; chain="" ; k=0
  for f in flower.mp4 friday.mp4 chaplin.mp4 kinetics_clip.mp4 flipping_a_pancake.mkv stream-of-water.mp4; do
    ins+=(-stream_loop 40 -i "$V/$f")
    chain+="[$k:v]scale=640:360,setsar=1,fps=25,trim=duration=100,setpts=PTS-STARTPTS[v$k];"
    k=$((k+1))
  done
  cat=""; for i in $(seq 0 $((k-1))); do cat+="[v$i]"; done
  ffmpeg -v error -y "${ins[@]}" -filter_complex "${chain}${cat}concat=n=$k:v=1:a=0[out]" -map "[out]" \
    -c:v libx264 -pix_fmt yuv420p -an "$VIDEO.tmp.mp4"
  mv "$VIDEO.tmp.mp4" "$VIDEO"
fi
DUR=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$VIDEO")
STARTS=$WORK/starts_$N.txt
$PY -c "import random,sys; random.seed(1); print('\n'.join('%.3f' % random.uniform(0, $DUR - 4) for _ in range($N)))" > "$STARTS"

BENCH=$WORK/clip_loading_milnce
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT/include" $(find "$ROOT/src" "$ROOT/io" -type d -printf ' -I%p') "$ROOT/bench/clip_loading_milnce.c" \
  "$BUILD/libmilnce.a" $(pkg-config --libs libavformat libavcodec libswscale libavutil) -lm -o "$BENCH"

echo "video: $VIDEO ($DUR s), $N clips, $(nproc) cores"
m=$("$BENCH" "$VIDEO" "$STARTS"); echo "$m"
f=$($PY "$ROOT/bench/clip_loading_peers.py" "$VIDEO" "$STARTS" ffmpeg); echo "$f"
p=$($PY "$ROOT/bench/clip_loading_peers.py" "$VIDEO" "$STARTS" pyav); echo "$p"
rate() { sed -n 's/.*clips_per_cpu_s=\([0-9.]*\).*/\1/p' <<<"$1"; }
$PY -c "m,f,p=$(rate "$m"),$(rate "$f"),$(rate "$p"); print(f'clips per CPU-second: milnce {m:.2f}, ffmpeg per clip {f:.2f}, PyAV {p:.2f}; milnce/ffmpeg {m/f:.1f}x, milnce/PyAV {m/p:.1f}x (target >= 15)')"
