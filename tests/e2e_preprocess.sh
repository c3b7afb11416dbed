#!/usr/bin/env bash
# milnce preprocess end to end, on real test videos and real HowTo100M captions plus broken inputs:
#  1. bad inputs (zero bytes, not a video, truncated, corrupted, 1x1, missing/empty narration,
#     unsafe ids) are skipped and logged with a reason; the good ones land in shards
#  2. Python's tarfile + json read the shards; the sentences' token ids match vocab.txt
#  3. the .mp4 members decode; one job (renditions streamed straight into the shard) and several
#     (spooled) give identical shards; a re-run keeps the shards byte-identical; kill -9 mid-run
#     + re-run gives identical shards
#  4. --shard-index i --num-shards 2: the union of the parts equals the single-process output
#  5. a re-run over changed inputs remakes exactly the shards they touch (and the vocabulary),
#     and removes shards beyond a shorter list's end
#  4b. the last part merges stats.json + errors.log equal to one process's (and --merge-stats);
#     a second process on the same part is refused, naming the holder
#  6. narration past the video's end (real HowTo100M captions on shorter videos): sentences
#     starting after the end are dropped and counted per video and in stats.json, a video left
#     without any is skipped, a video losing more than half is named in errors.log, one warning
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_cmd ffprobe "decodes the shards' .mp4 members"
W=$(mktemp -d /tmp/milnce-e2e-pre-XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }

mkdir -p "$W/v" "$W/c"
caps=($(ls "$TD/howto100m/captions/"*.csv | head -12))
i=0
for v in chaplin.mp4 kinetics_clip.mp4 flipping_a_pancake.mkv friday.mp4 stream-of-water.webm carphone_pristine.mp4 \
         ucf101_clip.avi video_90.mov corrupted.mp4 bitmap.mp4; do
  ext=${v##*.}
  ln -s "$TD/videos/$v" "$W/v/v$i.$ext"
  cp "${caps[$i]}" "$W/c/v$i.csv"
  i=$((i + 1))
done
: > "$W/v/zero.mp4"; cp "${caps[10]}" "$W/c/zero.csv"
echo "this is not a video" > "$W/v/text.mp4"; cp "${caps[10]}" "$W/c/text.csv"
head -c 30000 "$TD/videos/chaplin.mp4" > "$W/v/trunc.mp4"; cp "${caps[10]}" "$W/c/trunc.csv"
ln -s "$TD/videos/chaplin.mp4" "$W/v/nonarr.mp4"                     # no narration file
ln -s "$TD/videos/chaplin.mp4" "$W/v/emptynarr.mp4"; echo "start,end,text" > "$W/c/emptynarr.csv"
# a list with unsafe ids as well
{ echo "video_id"; for f in "$W"/v/*; do b=$(basename "$f"); echo "${b%.*}"; done; echo "../../etc/passwd"; echo "a.b"; } > "$W/list.csv"

run() { "$BIN" preprocess --videos "$W/list.csv" --video-root "$W/v" --captions "$W/c" --size 64 --fps 5 --videos-per-shard 4 "$@"; }
run --out "$W/a" --jobs 3 > "$W/a.log" 2>&1 || { cat "$W/a.log"; exit 1; }
[ "$(grep -c "videos lost more than half of their narration" "$W/a.log")" = 1 ] || { echo "FAIL: not one warning line"; cat "$W/a.log"; exit 1; }
$PY - "$W/a" <<'PY'
import json, sys
d = sys.argv[1]
st = json.load(open(d + "/stats.json"))
log = open(d + "/errors.log").read().splitlines()
print("videos", st["videos"], "skipped", st["skipped"], st["skips_by_reason"])
# the 8 good videos + corrupted.mp4 (49 of 50 frames decode), less v2 whose narration all
# starts after its end (real HowTo100M captions paired with short clips)
assert st["videos"] == 8, st
assert st["skipped"] == 9, st
assert st["skips_by_reason"]["narration after the video's end"] == 1, st
assert st["sentences_after_end"] > 0 and st["videos_losing_most_narration"] >= 1, st
warned = [l for l in log if l.split("\t")[2] == "narration after the video's end" and "kept;" in l]
assert len(warned) == st["videos_losing_most_narration"], (warned, st)
ids = {l.split("\t")[0] for l in log}
for want in ("v9", "zero", "text", "trunc", "nonarr", "emptynarr"):
    assert want in ids, (want, ids)
assert any("separator" in l for l in log) and any("'.'" in l for l in log), log
assert sum(1 for l in log if "1x1" in l) == 1, log
PY
ok "bad inputs skipped and logged with reasons; good ones in shards"

$PY "$SRC/tests/reference/read_shards.py" "$W"/a/train-*.tar > "$W/py.json"
$PY - "$W/py.json" "$W/a/vocab.txt" "$W/c" "$W/a" <<'PY'
import csv, json, re, sys
doc = json.load(open(sys.argv[1]))
vocab = {w: i + 1 for i, w in enumerate(open(sys.argv[2], encoding="utf-8").read().split("\n")[:-1])}
n = after = 0
for sh in doc["shards"]:
    for s in sh["samples"]:
        meta = s["members"]["json"]["json"]
        assert s["members"]["mp4"]["size"] > 0
        rows = list(csv.DictReader(open(sys.argv[3] + "/" + s["key"] + ".csv", encoding="utf-8")))
        rows = [r for r in rows if r["text"].strip()]
        # the documented rule: a sentence starting at or after the video's end is dropped
        kept = [r for r in rows if float(r["start"]) < meta["duration"]]
        assert meta["sentences_after_end"] == len(rows) - len(kept), (s["key"], meta["sentences_after_end"], len(rows), len(kept))
        assert meta["sentences_ending_after_end"] == sum(float(r["end"]) > meta["duration"] for r in kept), s["key"]
        after += meta["sentences_after_end"]
        rows = kept
        assert len(meta["sentences"]) == len(rows), (s["key"], len(meta["sentences"]), len(rows))
        for sent, r in zip(meta["sentences"], sorted(rows, key=lambda r: float(r["start"]))):
            want = [vocab[w] for w in re.findall(r"[\w']+", r["text"].lower()) if w in vocab]
            assert sent["tokens"] == want, (s["key"], sent, want)
        n += 1
print(n, "samples read by tarfile + json; tokens match vocab.txt;", after, "sentences after the end dropped")
assert n == 8 and after == json.load(open(sys.argv[4] + "/stats.json"))["sentences_after_end"]
PY
ok "Python tarfile + json read every sample; token ids agree with vocab.txt; narration past the end dropped and counted"

# the .mp4 members are complete MP4s (moov at the end, written as they were encoded): ffprobe
# decodes one taken out of the shard to the frame count its .json gives
$PY - "$(ls "$W"/a/train-*.tar | head -1)" "$W/one.mp4" <<'PY'
import json, sys, tarfile
tf = tarfile.open(sys.argv[1])
mp4 = [m for m in tf.getmembers() if m.name.endswith(".mp4")][0]
open(sys.argv[2], "wb").write(tf.extractfile(mp4).read())
meta = json.load(tf.extractfile(mp4.name[:-4] + ".json"))
open(sys.argv[2] + ".frames", "w").write(str(meta["frames"]))
PY
frames=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$W/one.mp4")
[ "$frames" = "$(cat "$W/one.mp4.frames")" ] || { echo "FAIL: member decodes to $frames frames, json says $(cat "$W/one.mp4.frames")"; exit 1; }
ok "an .mp4 member taken out by tarfile decodes with ffprobe ($frames frames)"

# one job streams each rendition straight into the shard (bad videos rolled back), several
# spool and copy: the same bytes
run --out "$W/j1" --jobs 1 > /dev/null 2>&1
for f in "$W"/a/train-*; do cmp "$f" "$W/j1/$(basename "$f")"; done
[ "$(ls "$W"/j1/train-* | wc -l)" = "$(ls "$W"/a/train-* | wc -l)" ]
ok "--jobs 1 (streamed into the shard) and --jobs 3 (spooled) give byte-identical shards"

cp -r "$W/a" "$W/a0"
run --out "$W/a" > /dev/null 2>&1
for f in "$W"/a0/train-*; do cmp "$f" "$W/a/$(basename "$f")"; done
grep -q '"videos": 8' "$W/a/stats.json"
ok "re-run keeps complete shards byte-identical"

# kill -9 while the run is in progress, then re-run
# (the command itself in the background, not the shell function: kill must reach milnce)
"$BIN" preprocess --videos "$W/list.csv" --video-root "$W/v" --captions "$W/c" --size 64 --fps 5 --videos-per-shard 4 \
  --out "$W/k" --jobs 1 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do ls "$W"/k/train-000000.stats.json >/dev/null 2>&1 && break; sleep 0.05; done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
echo "killed with $(ls "$W"/k/*.stats.json 2>/dev/null | wc -l) complete shard(s)"
run --out "$W/k" > /dev/null 2>&1
for f in "$W"/a0/train-*; do cmp "$f" "$W/k/$(basename "$f")"; done
left=$(ls "$W/k" | grep "\.tmp\." || true); [ -z "$left" ] || { echo "FAIL: temporary files left: $left"; exit 1; }
ok "kill -9 + re-run gives byte-identical shards"

run --out "$W/p" --shard-index 0 --num-shards 2 > /dev/null 2>&1
[ -f "$W/p/stats.part0-of-2.json" ] && [ ! -e "$W/p/stats.json" ] || { echo "FAIL: part 0 alone wrote merged stats"; ls "$W/p"; exit 1; }
run --out "$W/p" --shard-index 1 --num-shards 2 > "$W/p1.out" 2>&1
for f in "$W"/a0/train-*; do cmp "$f" "$W/p/$(basename "$f")"; done
[ "$(ls "$W"/p/train-* | wc -l)" = "$(ls "$W"/a0/train-* | wc -l)" ]
ok "parts 0 and 1 of 2 together equal the single-process shards"
# the last part to finish merges: stats.json and errors.log identical to the single run's
grep -q "this part: .*stats.part1-of-2.json.*merged into stats.json" "$W/p1.out" || { echo "FAIL: part message"; cat "$W/p1.out"; exit 1; }
cmp "$W/a0/stats.json" "$W/p/stats.json" && cmp "$W/a0/errors.log" "$W/p/errors.log"
rm "$W/p/stats.json" "$W/p/errors.log"
"$BIN" preprocess --merge-stats "$W/p" > /dev/null
cmp "$W/a0/stats.json" "$W/p/stats.json" && cmp "$W/a0/errors.log" "$W/p/errors.log"
rm "$W/p/train-000001.stats.json"
set +e; out=$("$BIN" preprocess --merge-stats "$W/p" 2>&1); rc=$?; set -e
[ $rc -eq 1 ] && echo "$out" | grep -q "shard 1 is not complete" || { echo "FAIL: merge with a missing shard: $rc $out"; exit 1; }
ok "the last part writes stats.json + errors.log identical to one process's; --merge-stats too; a gap is refused"

# two runs of the same part into one folder: the second is refused at once, naming the holder
"$BIN" preprocess --videos "$W/list.csv" --video-root "$W/v" --captions "$W/c" --size 64 --fps 5 --videos-per-shard 4 \
  --out "$W/lk" --jobs 1 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do [ -s "$W/lk/.lock" ] && break; sleep 0.05; done
set +e; out=$(run --out "$W/lk" 2>&1); rc=$?; set -e
kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
[ $rc -eq 1 ] && echo "$out" | grep -q "in use by another run (pid $pid on host $(hostname)" || { echo "FAIL: second preprocess: $rc $out"; exit 1; }
ok "a second preprocess into a folder in use is refused: $(echo "$out" | sed 's/^milnce preprocess: //')"

# the same narration as one HowTo100M caption.json (streamed twice when the vocabulary is built:
# count, then keep this run's entries): the same sentences in the same shards; a re-run keeps all
$PY - "$W/c" "$W/caption.json" <<'PY'
import csv, glob, json, os, sys
out = {}
for p in sorted(glob.glob(sys.argv[1] + "/*.csv")):
    rows = [r for r in csv.DictReader(open(p, encoding="utf-8"))]
    out[os.path.basename(p)[:-4]] = {"start": [float(r["start"]) for r in rows], "end": [float(r["end"]) for r in rows],
                                     "text": [r["text"] for r in rows]}
json.dump(out, open(sys.argv[2], "w"))
PY
"$BIN" preprocess --videos "$W/list.csv" --video-root "$W/v" --captions "$W/caption.json" --size 64 --fps 5 \
  --videos-per-shard 4 --out "$W/cj" > "$W/cj.log" 2>&1 || { cat "$W/cj.log"; exit 1; }
$PY "$SRC/tests/reference/read_shards.py" "$W"/a0/train-*.tar > "$W/folder.json"
$PY "$SRC/tests/reference/read_shards.py" "$W"/cj/train-*.tar > "$W/cj.json"
$PY - "$W/folder.json" "$W/cj.json" "$W/cj/vocab.txt" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
vocab = open(sys.argv[3], encoding="utf-8").read().split("\n")[:-1]
def sents(doc):
    return [(s["key"], [(x["start"], x["end"], x["text"]) for x in s["members"]["json"]["json"]["sentences"]])
            for sh in doc["shards"] for s in sh["samples"]]
assert sents(a) == sents(b), "caption.json and the folder give other sentences"
for sh in b["shards"]:
    for s in sh["samples"]:
        for x in s["members"]["json"]["json"]["sentences"]:
            words = [vocab[t - 1] for t in x["tokens"]]
            assert all(w in x["text"].lower() for w in words), (x, words)
print(len(sents(b)), "samples with the same sentences")
PY
out=$("$BIN" preprocess --videos "$W/list.csv" --video-root "$W/v" --captions "$W/caption.json" --size 64 --fps 5 \
  --videos-per-shard 4 --out "$W/cj" 2>&1)
echo "$out" | grep -q "0 made now, 5 kept" || { echo "FAIL: caption.json re-run: $out"; exit 1; }
ok "a HowTo100M caption.json gives the folder's sentences in the same shards; a re-run keeps them"

# a narration file rewritten with the same words (here: touched) leaves the built vocabulary as
# it was, so only the shard holding that video is remade
touch "$W/c/v3.csv"
out=$(run --out "$W/a" 2>&1)
echo "$out" | grep -q "1 made now, 4 kept; 1 remade" || { echo "FAIL: touched narration: $out"; exit 1; }
cmp "$W/a0/vocab.txt" "$W/a/vocab.txt"
for f in "$W"/a0/train-*.tar "$W"/a0/train-*.idx.json; do cmp "$f" "$W/a/$(basename "$f")"; done
ok "narration rewritten without changing the vocabulary: its shard remade (byte-identical), the rest kept"

# inputs changed under complete shards: with a fixed vocabulary, a changed narration file remakes
# only its shard (the others stay byte-identical); a different list (shorter, other videos)
# remakes what changed, rebuilds the vocabulary and removes the shards beyond its end
cp "$W/a0/vocab.txt" "$W/vocab.txt"
run --out "$W/f" --vocab "$W/vocab.txt" > /dev/null 2>&1
cp -r "$W/f" "$W/f0"
k=$(grep -l '"key":"v1"' "$W"/f/train-*.idx.json)   # the shard holding v1
echo "1.5,2.5,the chaplin film now ends here" >> "$W/c/v1.csv"
out=$(run --out "$W/f" --vocab "$W/vocab.txt" 2>&1)
echo "$out" | grep -q "1 remade" || { echo "FAIL: changed narration did not remake one shard: $out"; exit 1; }
changed=$(for f in "$W"/f0/train-*; do cmp -s "$f" "$W/f/$(basename "$f")" || basename "$f"; done | sort | tr '\n' ' ')
[ "$changed" = "$(basename "${k%.idx.json}").idx.json $(basename "${k%.idx.json}").stats.json $(basename "${k%.idx.json}").tar " ] \
  || { echo "FAIL: changed files: '$changed' (v1 is in $k)"; exit 1; }
$PY "$SRC/tests/reference/read_shards.py" "${k%.idx.json}.tar" > "$W/f.json"
grep -q "the chaplin film now ends here" "$W/f.json" || { echo "FAIL: the remade shard lacks the new sentence"; exit 1; }
echo "$out" | grep -q "0 renditions transcoded (0.0 MB), 4 copied" || { echo "FAIL: the remade shard re-encoded its videos: $out"; exit 1; }
ok "a changed narration file remakes its shard only, copying its renditions; the others stay byte-identical"

cp -r "$W/f" "$W/f1"
echo "3.5,4.5,another closing line" >> "$W/c/v1.csv"
out=$(run --out "$W/f" --vocab "$W/vocab.txt" --keep-complete 2>&1)
echo "$out" | grep -q "0 made now" || { echo "FAIL: --keep-complete remade shards: $out"; exit 1; }
for f in "$W"/f1/train-*; do cmp "$f" "$W/f/$(basename "$f")"; done
ok "--keep-complete keeps complete shards whose inputs changed"

# a new word in one caption file changes the vocabulary: every shard is remade, no video is
# transcoded again (the .mp4 members are copied), and the result equals a fresh run's
cp -r "$W/a0" "$W/voc"
echo "5.5,6.5,a zyzzogeton appears" >> "$W/c/v3.csv"
out=$(run --out "$W/voc" 2>&1)
echo "$out" | grep -q "5 made now, 0 kept; 5 remade" && echo "$out" | grep -q "0 renditions transcoded (0.0 MB), 8 copied" \
  || { echo "FAIL: a vocabulary change re-encoded videos: $out"; exit 1; }
grep -qx zyzzogeton "$W/voc/vocab.txt"
run --out "$W/vf" > /dev/null 2>&1
for f in "$W"/vf/train-*.tar "$W"/vf/train-*.idx.json "$W/vf/vocab.txt" "$W/vf/stats.json"; do cmp "$f" "$W/voc/$(basename "$f")"; done
ok "a vocabulary change remakes every shard with 0 videos transcoded (8 copied), equal to a fresh run"

{ echo "video_id"; for b in v0 v2 v3 v4 v5; do echo $b; done; } > "$W/short.csv"
out=$("$BIN" preprocess --videos "$W/short.csv" --video-root "$W/v" --captions "$W/c" --size 64 --fps 5 \
  --videos-per-shard 4 --out "$W/a" 2>&1)
echo "$out" | grep -q "2 remade and" || { echo "FAIL: another list did not remake the shards: $out"; exit 1; }
[ "$(ls "$W"/a/train-*.tar | wc -l)" = 2 ] || { echo "FAIL: shards beyond the list's end left: $(ls "$W"/a)"; exit 1; }
"$BIN" preprocess --videos "$W/short.csv" --video-root "$W/v" --captions "$W/c" --size 64 --fps 5 \
  --videos-per-shard 4 --out "$W/s" > /dev/null 2>&1
for f in "$W"/s/train-* "$W/s/vocab.txt"; do cmp "$f" "$W/a/$(basename "$f")"; done
ok "another list in the same folder: shards remade, vocabulary rebuilt, extra shards removed; equal to a fresh run"

set +e
out=$("$BIN" preprocess --videos "$W/list.csv" --captions "$W/nowhere" --out "$W/x" 2>&1); rc=$?
set -e
[ $rc -ne 0 ] && echo "$out" | grep -q nowhere || { echo "FAIL: missing captions folder: $rc $out"; exit 1; }
ok "a missing narration source is refused naming it"
echo "$pass passed, 0 failed"
