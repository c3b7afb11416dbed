#!/usr/bin/env bash
# milnce synth builds a tiny corpus and packs it into shards; Python's tarfile + json read the
# shards back (tests/reference/read_shards.py, which also checks the index against the tar), the
# members equal the video files and the narration, ffprobe decodes a video taken out of a shard,
# and a second run with the same seed gives byte-identical files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_cmd ffprobe "counts the frames of the shards' .mp4 members"
tmp=$(mktemp -d /tmp/milnce-e2e-shards-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" synth --help | grep -q -- "--eval-videos" || fail "synth --help"
set +e
"$BIN" synth --out "$tmp/x" --videos nope >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "bad option exits $rc, not 2"
pass=$((pass + 1))

"$BIN" synth --out "$tmp/a" --videos 5 --eval-videos 2 --seed 11 --min-seconds 6 --max-seconds 12 \
  --shard --shard-samples 2 --quiet
"$BIN" synth --out "$tmp/b" --videos 5 --eval-videos 2 --seed 11 --min-seconds 6 --max-seconds 12 \
  --shard --shard-samples 2 --quiet
(cd "$tmp/a" && find . -type f | sort) > "$tmp/files"
[ "$(wc -l < "$tmp/files")" -ge 20 ] || fail "too few files: $(cat "$tmp/files")"
while read -r f; do cmp -s "$tmp/a/$f" "$tmp/b/$f" || fail "$f differs between runs with one seed"; done < "$tmp/files"
pass=$((pass + 1))

"$PY" "$SRC/tests/reference/read_shards.py" "$tmp"/a/shards/train-*.tar > "$tmp/py.json"
"$PY" - "$tmp/a" "$tmp/py.json" <<'PYEOF'
import csv, json, os, sys
root, doc = sys.argv[1], json.load(open(sys.argv[2]))
def fnv(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h
samples = [s for sh in doc["shards"] for s in sh["samples"]]
assert len(doc["shards"]) == 3, len(doc["shards"])
assert [s["key"] for s in samples] == ["vid_%05d" % i for i in range(5)], [s["key"] for s in samples]
truth = json.load(open(os.path.join(root, "train", "truth.json")))
for s, t in zip(samples, truth):
    data = open(os.path.join(root, "train", t["video_path"]), "rb").read()
    assert s["members"]["mp4"]["size"] == len(data) and s["members"]["mp4"]["fnv1a64"] == fnv(data), s["key"]
    meta = s["members"]["json"]["json"]
    assert meta["video_id"] == s["key"] and abs(meta["duration"] - t["duration"]) < 1e-9
    assert [x["text"] for x in meta["sentences"]] == [x["text"] for x in t["narration"]]
# the narration in the shard is the one in the HowTo100M CSV of video 0
rows = list(csv.DictReader(open(os.path.join(root, "train", "captions", "vid_00000.csv"))))
sent = samples[0]["members"]["json"]["json"]["sentences"]
assert [r["text"] for r in rows] == [x["text"] for x in sent]
assert all(abs(float(r["start"]) - x["start"]) < 0.006 for r, x in zip(rows, sent))
# eval captions: one row per segment, YouCook2 layout
ev = list(csv.DictReader(open(os.path.join(root, "eval", "youcook2_val.csv"))))
et = json.load(open(os.path.join(root, "eval", "truth.json")))
assert list(ev[0].keys()) == ["end", "start", "task", "text", "video_id"]
assert len(ev) == sum(len(v["segments"]) for v in et)
print("python read %d samples from %d shards" % (len(samples), len(doc["shards"])))
PYEOF
pass=$((pass + 1))

# a video taken out of a shard by tarfile decodes
"$PY" -c "
import tarfile, sys
tf = tarfile.open(sys.argv[1]); m = tf.getmember('vid_00001.mp4')
open(sys.argv[2], 'wb').write(tf.extractfile(m).read())" "$tmp/a/shards/train-000000.tar" "$tmp/v1.mp4"
frames=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$tmp/v1.mp4")
want=$("$PY" -c "import json,sys; t=json.load(open(sys.argv[1]))[1]; print(t['frames'])" "$tmp/a/train/truth.json")
[ "$frames" = "$want" ] || fail "decoded $frames frames, expected $want"
pass=$((pass + 1))

# a cut shard is refused with a clear message by the Python reader's index check
cp "$tmp/a/shards/train-000000.tar" "$tmp/cut-000000.tar"
cp "$tmp/a/shards/train-000000.idx.json" "$tmp/cut-000000.idx.json"
truncate -s -3000 "$tmp/cut-000000.tar"
if "$PY" "$SRC/tests/reference/read_shards.py" "$tmp/cut-000000.tar" > /dev/null 2> "$tmp/err"; then
  fail "truncated shard accepted"
fi
pass=$((pass + 1))
echo "$pass passed, 0 failed"
