#!/usr/bin/env bash
# Re-run cost of a narration change (issue 14, item 4): a 30-video corpus (milnce synth, 30-45 s
# each, 320x240 at 25 fps) preprocessed into 8-video shards, then ONE caption file gets a line
# with a new word (so the vocabulary changes too, which remakes every shard), and the re-run is
# timed. Reported per binary: wall and CPU seconds (user + sys of /usr/bin/time) of the re-run,
# shards remade, and the .mp4 bytes transcoded again (the members of every remade shard minus
# those copied, from the command's own line when it prints one).
# Usage: bench/recaption.sh [BIN [PEER_BIN]]   e.g. build/milnce /path/to/older/milnce
#   BIN defaults to build/milnce; PEER_BIN (an older build, the "before") is optional.
#   MILNCE_BENCH_OUT=DIR   working folder (default /tmp/milnce-bench/recaption)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-build/milnce}")
PEER=${2:+$(realpath "$2")}
OUT=${MILNCE_BENCH_OUT:-/tmp/milnce-bench/recaption}
PY=${MILNCE_PYTHON:-/usr/bin/python3}
mkdir -p "$OUT"
[ -f "$OUT/syn/train/videos.csv" ] || "$BIN" synth --out "$OUT/syn" --videos 30 --eval-videos 1 --min-seconds 30 \
  --max-seconds 45 --size 320x240 --fps 25 -q
measure() { # name bin
  local name=$1 bin=$2 d="$OUT/$1"
  rm -rf "$d" "$OUT/cap-$1"
  cp -r "$OUT/syn/train/captions" "$OUT/cap-$name"
  "$bin" preprocess --videos "$OUT/syn/train/videos.csv" --captions "$OUT/cap-$name" --out "$d" --size 128 --fps 5 \
    --videos-per-shard 8 --jobs 2 > /dev/null 2>&1
  local first; first=$(ls "$OUT/cap-$name" | head -1)
  echo "$(tail -1 "$OUT/cap-$name/$first" | cut -d, -f1-2),a zyzzogeton crosses the screen" >> "$OUT/cap-$name/$first"
  for t in "$d"/train-*.tar; do stat -c '%n %Y %i' "$t"; done > "$OUT/$name.before"
  /usr/bin/time -f "%e %U %S" -o "$OUT/$name.time" "$bin" preprocess --videos "$OUT/syn/train/videos.csv" \
    --captions "$OUT/cap-$name" --out "$d" --size 128 --fps 5 --videos-per-shard 8 --jobs 2 > "$OUT/$name.log" 2>&1
  $PY - "$name" "$d" "$OUT/$name.before" "$OUT/$name.time" "$OUT/$name.log" <<'PY'
import os, re, sys, tarfile
name, d, before, tfile, logf = sys.argv[1:]
old = {l.split()[0]: l.split()[2] for l in open(before)}
remade = [p for p in old if os.stat(p).st_ino != int(old[p])]
mp4 = sum(m.size for p in remade for m in tarfile.open(p) if m.name.endswith(".mp4"))
wall, user, sys_ = map(float, open(tfile).read().split()[-3:])
log = open(logf).read()
m = re.search(r"(\d+) renditions transcoded \(([\d.]+) MB\), (\d+) copied", log)
if m:
    enc, mb, copied = int(m.group(1)), float(m.group(2)), int(m.group(3))
else:  # a build that does not copy: every video of a remade shard is transcoded again
    enc, mb, copied = sum(1 for p in remade for m in tarfile.open(p) if m.name.endswith(".mp4")), mp4 / 1e6, 0
print("%-6s re-run after one caption change: %5.1f s wall, %5.1f CPU-s; %d of %d shards remade; "
      "%d videos transcoded (%.2f MB of .mp4), %d copied" % (name, wall, user + sys_, len(remade), len(old), enc, mb, copied))
PY
}
[ -n "$PEER" ] && measure before "$PEER"
measure after "$BIN"
