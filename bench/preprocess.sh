#!/usr/bin/env bash
# Preprocess throughput (video-seconds per CPU-second) and peak memory, in one run:
#   milnce preprocess --size 256 --fps 5 --jobs 1 on the 10-minute 640x360 H.264 video, against
#   the ffmpeg command line doing the same transcode
#     ffmpeg -i V -vf fps=5,scale=-2:256 -c:v libx264 -preset veryfast -tune fastdecode -crf 23 -g 5
#            -x264-params scenecut=0 -an out.mp4
#   (the encoder settings of milnce's renditions: key frames exactly every second, CAVLC, no
#   deblocking)
#   (CPU = user + sys of /usr/bin/time; ffmpeg with its default threads), and the peak RSS of
#   milnce preprocess for the 10-minute and a LONG-minute input (same footage looped; default 30).
# DESIGN.md target: memory bounded by a few frames and one shard buffer, whatever the length.
# The rendition streams into the shard as it is encoded; what still grows with the length is
# FFmpeg's own bookkeeping: the mov demuxer's index of the source (~24 bytes per source packet,
# audio included: ~5.7 MiB for 60 min at 25 fps + AAC) and the muxer's sample table of the
# rendition (tens of bytes per rendition frame).
# Usage: bench/preprocess.sh [LONG_MINUTES]       inputs cached under /tmp/milnce-bench
#   MILNCE_BENCH_BUILD=DIR   build folder (default build-bench)
#   MILNCE_BENCH_BIN=PATH    measure this milnce binary instead of building one (e.g. a saved
#                            copy of an older build, to compare before/after in one session)
#   MILNCE_BENCH_OUT=DIR     working folder of this run (default $CACHE/pp-run)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${MILNCE_BENCH_BUILD:-build-bench}
LONG=${1:-30}
if [ -n "${MILNCE_BENCH_BIN:-}" ]; then
    MILNCE=$(realpath "$MILNCE_BENCH_BIN")
else
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j2 --target milnce >/dev/null
    MILNCE=$PWD/$BUILD/milnce
fi
source bench/loader_data.sh
T=/usr/bin/time
OUT=${MILNCE_BENCH_OUT:-$CACHE/pp-run}
rm -rf "$OUT"
mkdir -p "$OUT"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# run NAME MINUTES: milnce preprocess of that video, "wall user sys maxrss_kb" into $OUT/NAME.time
run_milnce() {
    bench_make_video "$2"
    $T -f "%e %U %S %M" -o "$OUT/$1.time" "$MILNCE" preprocess --videos "$VDIR/videos.csv" \
        --captions "$VDIR/captions" --out "$OUT/$1" --size 256 --fps 5 --jobs 1 >/dev/null 2>"$OUT/$1.log"
    DUR[$1]=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$VIDEO")
    TAR[$1]=$(stat -c %s "$OUT/$1/train-000000.tar")
}
declare -A DUR TAR
run_milnce m10 10
$T -f "%e %U %S %M" -o "$OUT/ff10.time" ffmpeg -nostdin -v error -y -i "$VIDEO" \
    -vf fps=5,scale=-2:256 -c:v libx264 -preset veryfast -tune fastdecode -crf 23 -g 5 -x264-params scenecut=0 \
    -an "$OUT/ff10.mp4"
DUR[ff10]=${DUR[m10]}
run_milnce mlong "$LONG"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

echo "preprocess: rendition short side 256, 5 fps, x264 veryfast fastdecode CRF 23, key frame on every second"
echo "$(nproc) cores; load average before: $load0, after: $load1"
printf "%-40s %8s %8s %8s %14s %9s %10s\n" run "video s" "CPU s" "wall s" "video-s/CPU-s" "vs ffmpeg" "peak RSS"
read -r _ fu fs _ < "$OUT/ff10.time"
ffrate=$(echo "${DUR[ff10]} / ($fu + $fs)" | bc -l)
line() {
    local name=$1 key=$2 w u s m rate
    read -r w u s m < "$OUT/$key.time"
    rate=$(echo "${DUR[$key]} / ($u + $s)" | bc -l)
    printf "%-40s %8.0f %8.1f %8.1f %14.1f %8.2fx %7.0f MiB\n" "$name" "${DUR[$key]}" "$(echo "$u + $s" | bc)" "$w" \
        "$rate" "$(echo "$rate / $ffrate" | bc -l)" "$(echo "$m / 1024" | bc -l)"
}
line "milnce preprocess, 10 min (1 job)" m10
line "ffmpeg CLI transcode, 10 min" ff10
line "milnce preprocess, $LONG min (1 job)" mlong
read -r _ _ _ m10 < "$OUT/m10.time"
read -r _ _ _ ml < "$OUT/mlong.time"
echo "rendition (whole tar) 10 min: $((TAR[m10] / 1048576)) MiB, $LONG min: $((TAR[mlong] / 1048576)) MiB;" \
     "ffmpeg's rendition: $(($(stat -c %s "$OUT/ff10.mp4") / 1048576)) MiB"
echo "peak RSS growth: $(((ml - m10) / 1024)) MiB for $((LONG - 10)) more minutes" \
     "($(echo "($ml - $m10) / 1024 / ($LONG - 10)" | bc -l | xargs printf %.2f) MiB per minute; the encoded rendition" \
     "grows $(echo "(${TAR[mlong]} - ${TAR[m10]}) / 1048576 / ($LONG - 10)" | bc -l | xargs printf %.2f) MiB per minute)"
