#!/usr/bin/env bash
# Test inputs for bench/loader.sh and bench/preprocess.sh, cached under $MILNCE_BENCH_CACHE
# (default /tmp/milnce-bench). Sourced, not run. After `bench_make_video MIN` the files are
#   $CACHE/v${MIN}m/bench${MIN}m.mp4   ~MIN minutes, 640x360 25 fps H.264 (x264 veryfast, CRF 23,
#                                      default GOP: keyint 250, scene cuts) + AAC silence
#   $CACHE/v${MIN}m/captions/bench${MIN}m.csv   a real HowTo100M caption file clipped to it
#   $CACHE/v${MIN}m/videos.csv                  the list (video_path)
# The video is real footage from tests/data/videos (7 clips, each scaled to fit
# 640x360 and padded, concatenated: ~51 s) looped to the length by stream copy.
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESTDATA=${MILNCE_TESTDATA:-$BENCH_ROOT/tests/data}
CACHE=${MILNCE_BENCH_CACHE:-/tmp/milnce-bench}
CAPTIONS_SRC=$TESTDATA/howto100m/captions/Lyw91iVROTI.csv   # 260 lines over 1362 s

bench_base_video() {
    local base=$CACHE/base640x360.mp4
    [ -s "$base" ] && return 0
    mkdir -p "$CACHE"
    local v=$TESTDATA/videos ins=() fc="" n=0
    for f in chaplin.mp4 flower.mp4 friday.mp4 stream-of-water.mp4 kinetics_clip.mp4 \
             flipping_a_pancake.mkv ucf101_clip.avi; do
        ins+=(-i "$v/$f")
        fc+="[$n:v:0]scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2,"
        fc+="setsar=1,fps=25,format=yuv420p[v$n];"
        n=$((n + 1))
    done
    for ((i = 0; i < n; i++)); do fc+="[v$i]"; done
    fc+="concat=n=$n:v=1:a=0[v]"
    ffmpeg -nostdin -v error -y "${ins[@]}" -f lavfi -i anullsrc=r=44100:cl=stereo \
        -filter_complex "$fc" -map '[v]' -map "$n:a" -shortest \
        -c:v libx264 -preset veryfast -crf 23 -c:a aac -b:a 64k -movflags +faststart "$base.tmp.mp4"
    mv "$base.tmp.mp4" "$base"
}

# bench_make_video MINUTES: sets VIDEO, VDIR, VID (id)
bench_make_video() {
    local min=$1
    VID=bench${min}m
    VDIR=$CACHE/v${min}m
    VIDEO=$VDIR/$VID.mp4
    local secs=$((min * 60))
    mkdir -p "$VDIR/captions"
    if [ ! -s "$VIDEO" ]; then
        bench_base_video
        ffmpeg -nostdin -v error -y -stream_loop -1 -i "$CACHE/base640x360.mp4" -t "$secs" -c copy \
            -movflags +faststart "$VIDEO.tmp.mp4"
        mv "$VIDEO.tmp.mp4" "$VIDEO"
    fi
    # HowTo100M caption CSV: rows starting before the end, end times clipped to the duration;
    # a longer video repeats the file shifted by its length.
    local dur
    dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$VIDEO")
    awk -F, -v D="$dur" 'NR == 1 { print; next }
        { rows[++n] = $0; s[n] = $1; e[n] = $2; if ($2 > L) L = $2 }
        END { for (off = 0; off < D; off += L + 1)
                for (i = 1; i <= n; i++) {
                    a = s[i] + off; b = e[i] + off
                    if (a >= D) continue
                    if (b > D) b = D
                    t = rows[i]; sub(/^[^,]*,[^,]*,/, "", t)
                    printf "%.2f,%.2f,%s\n", a, b, t } }' "$CAPTIONS_SRC" > "$VDIR/captions/$VID.csv"
    printf 'video_path\n%s\n' "$VIDEO" > "$VDIR/videos.csv"
}

# bench_shards MINUTES OUTDIR [extra preprocess args]: preprocess (rendition 256, 5 fps). A
# re-run keeps the shards unless their inputs or the rendition settings changed (preprocess
# records them with each shard), so a cached shard never measures an older encoder.
bench_shards() {
    local min=$1 out=$2
    shift 2
    bench_make_video "$min"
    "$MILNCE" preprocess --videos "$VDIR/videos.csv" --captions "$VDIR/captions" --out "$out" \
        --size 256 --fps 5 --jobs 1 "$@" >/dev/null
}

# bench_copy_shard SRC_DIR OUT_DIR COPIES [MP4]: a shard of COPIES samples that all hold the
# first sample of SRC_DIR's shard (its .json, and its .mp4 or the given MP4 file), under distinct
# keys: the loader then opens another member for every clip, as in training on many videos, and
# a hand-made rendition (MP4) can be measured without changing the encoder.
bench_copy_shard() {
    local src=$1 out=$2 copies=$3 mp4=${4:-}
    # Kept only when made from the same source shard, copy count and MP4 (recorded in .args).
    local args="$src $copies $mp4 $(stat -c %Y.%s "$src/train-000000.tar" ${mp4:+"$mp4"} | tr '\n' ' ')"
    [ -s "$out/train-000000.idx.json" ] && [ "$(cat "$out/.args" 2>/dev/null)" = "$args" ] && return 0
    rm -rf "$out"
    mkdir -p "$out"
    /usr/bin/python3 - "$src/train-000000.tar" "$out" "$copies" "$mp4" <<'PY'
import io, json, os, sys, tarfile
src, out, copies, mp4 = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
t = tarfile.open(src)
ms = t.getmembers()
video = open(mp4, "rb").read() if mp4 else t.extractfile([m for m in ms if m.name.endswith(".mp4")][0]).read()
meta = t.extractfile([m for m in ms if m.name.endswith(".json")][0]).read()
tar_path = os.path.join(out, "train-000000.tar")
samples, pos = [], 0
with tarfile.open(tar_path + ".tmp", "w", format=tarfile.USTAR_FORMAT) as w:
    for i in range(copies):
        key = "copy%04d" % i
        members = []
        for ext, data in (("mp4", video), ("json", meta)):
            ti = tarfile.TarInfo("%s.%s" % (key, ext))
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            w.addfile(ti, io.BytesIO(data))  # ustar: one 512-byte header, data padded to 512
            members.append({"name": ti.name, "header": pos, "offset": pos + 512, "size": ti.size})
            pos += 512 + (ti.size + 511) // 512 * 512
        samples.append({"key": key, "members": members})
os.rename(tar_path + ".tmp", tar_path)
idx = {"format": "milnce-shard-index", "version": 1, "tar": "train-000000.tar",
       "tar_size": os.path.getsize(tar_path), "samples": samples}
json.dump(idx, open(os.path.join(out, "train-000000.idx.json"), "w"))
PY
    echo "$args" > "$out/.args"
}
