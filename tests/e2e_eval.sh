#!/usr/bin/env bash
# `milnce eval` and `milnce embed` end to end: real test videos -> preprocess -> a 2-step tiny
# training run -> eval on a YouCook2-layout CSV (own spans, and the real reference CSV with most
# videos missing), on MSR-VTT layout, on the held-out shards; embed videos and sentences, read
# back with numpy.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_py numpy
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

T=$(mktemp -d /tmp/milnce-e2e-eval-XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/videos" "$T/captions"
vids=(chaplin.mp4 kinetics_clip.mp4 flipping_a_pancake.mkv friday.mp4)
caps=(2Mn5sVpFDTg 3lL8XUUWg_Q 5VLwcVOLoFs 9KzO5wNWRsM)
for i in 0 1 2 3; do
  ext=${vids[$i]##*.}
  ln -s "$TD/videos/${vids[$i]}" "$T/videos/${caps[$i]}.$ext"
  ln -s "$TD/howto100m/captions/${caps[$i]}.csv" "$T/captions/${caps[$i]}.csv"
done
"$BIN" preprocess --videos "$T/videos" --captions "$T/captions" --out "$T/shards" --size 40 --fps 4 \
  --jobs 1 >"$T/pre.log" 2>&1 || fail "preprocess: $(tail -5 "$T/pre.log")"
cat >"$T/tiny.yaml" <<YAML
data:
  num_frames: 8
  fps: 4
  size: 32
  resize: 40
  workers: 1
  max_words: 8
model:
  width: 0.125
  blocks3: 1
  blocks4: 1
  blocks5: 1
  embed_dim: 16
  word_dim: 8
  text_hidden: 24
train:
  batch_size: 2
  max_steps: 2
  log_every: 1
eval:
  num_windows: 2
  batch_size: 4
YAML
"$BIN" train --config "$T/tiny.yaml" --set "data.shards=$T/shards" --set "train.out_dir=$T/run" \
  >"$T/train.log" 2>&1 || fail "train: $(tail -5 "$T/train.log")"
[ -s "$T/run/checkpoints/latest" ] || fail "no checkpoint"
ok "tiny run trained"

# usage and runtime errors
set +e
"$BIN" eval >/dev/null 2>&1; rc1=$?
"$BIN" eval --checkpoint "$T/run" --bogus >/dev/null 2>&1; rc2=$?
"$BIN" eval --checkpoint "$T/nothere" >/dev/null 2>&1; rc3=$?
"$BIN" embed --checkpoint "$T/run" --videos "$T/videos" --sentences x --out "$T/e" >/dev/null 2>&1; rc4=$?
"$BIN" eval --checkpoint "$T/run" --set eval.format=msrvtt >/dev/null 2>"$T/err"; rc5=$?
set -e
[ "$rc1$rc2$rc3$rc4" = 2212 ] || fail "exit codes $rc1 $rc2 $rc3 $rc4, want 2 2 1 2"
grep -q "eval.csv" "$T/err" || fail "no eval.csv in the error: $(cat "$T/err")"
"$BIN" eval --help | grep -q "usage: milnce eval" || fail "eval --help"
"$BIN" embed --help | grep -q "usage: milnce embed" || fail "embed --help"
ok "usage and errors"

# Bad file content exits 1 (runtime error), not 2 (usage): a checkpoint with a tensor the model
# does not have, and one whose stored config does not parse.
ck=$(cat "$T/run/checkpoints/latest")
case "$ck" in /*) ;; *) ck="$T/run/checkpoints/$ck" ;; esac
"$PY" - "$ck" "$T/extra.safetensors" "$T/badcfg.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr, data = json.loads(raw[8:8 + n]), raw[8 + n:]
def write(path, h, d):
    t = json.dumps(h).encode()
    t += b" " * (-len(t) % 8)
    open(path, "wb").write(struct.pack("<Q", len(t)) + t + d)
h = dict(hdr)
h["bogus.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
write(sys.argv[2], h, data + struct.pack("<f", 1.0))
h = dict(hdr)
h["__metadata__"] = dict(hdr["__metadata__"], config="data:\n  num_frames: [1\n")
write(sys.argv[3], h, data)
PY
set +e
"$BIN" eval --checkpoint "$T/extra.safetensors" >/dev/null 2>"$T/err1"; rc1=$?
"$BIN" eval --checkpoint "$T/badcfg.safetensors" >/dev/null 2>"$T/err2"; rc2=$?
"$BIN" embed --checkpoint "$T/extra.safetensors" --sentences /dev/null --out "$T/e" >/dev/null 2>"$T/err3"; rc3=$?
set -e
[ "$rc1$rc2$rc3" = 111 ] || fail "bad checkpoint content exits $rc1 $rc2 $rc3, want 1 1 1: $(cat "$T/err1" "$T/err2" "$T/err3")"
grep -q "bogus.weight" "$T/err1" || fail "unexpected tensor not named: $(cat "$T/err1")"
ok "bad checkpoint content exits 1"

# YouCook2 layout, spans inside the videos, one video missing (2 rows)
cat >"$T/yc.csv" <<CSV
end,start,task,text,video_id
4,0,t1,man walks with a cane,2Mn5sVpFDTg
9,5,t1,the man falls,2Mn5sVpFDTg
5,1,t2,people dance,3lL8XUUWg_Q
10,6,t2,dancing in a room,3lL8XUUWg_Q
4,0,t3,flip the pancake,5VLwcVOLoFs
9,5,t3,pancake in the pan,5VLwcVOLoFs
5,1,t4,friday,9KzO5wNWRsM
5,1,t5,add the onion,notAVideo
8,6,t5,stir,notAVideo
CSV
"$BIN" eval --checkpoint "$T/run" --set "eval.csv=$T/yc.csv" --set "eval.video_root=$T/videos" \
  --save-embeddings >"$T/out.txt" 2>"$T/err" || fail "eval: $(cat "$T/err")"
grep -q "text->video" "$T/out.txt" && grep -q "chance" "$T/out.txt" || fail "no table: $(cat "$T/out.txt")"
[ "$(grep -c notAVideo "$T/err")" = 1 ] || fail "missing video not warned once: $(cat "$T/err")"
"$PY" - "$T/run" <<'PY' || fail "eval.json check"
import json, sys, os
import numpy as np
run = sys.argv[1]
j = json.load(open(os.path.join(run, "eval.json")))
assert j["n"] == 7 and j["missing_videos"] == 1 and j["dropped_queries"] == 2, j
for d in ("t2v", "v2t"):
    for k in ("r1", "r5", "r10", "median_rank", "mean_rank"):
        assert k in j[d], (d, k)
assert abs(j["chance"]["r1"] - 100 / 7) < 1e-6
t = np.load(os.path.join(run, "eval_text.npy")); v = np.load(os.path.join(run, "eval_video.npy"))
assert t.shape == (7, 16) and v.shape == (7, 16) and t.dtype == np.float32
S = t.astype(np.float64) @ v.astype(np.float64).T
gt = np.diag(S)
tol = 1e-5 * np.abs(gt) + 1e-9
r = 1 + (S > (gt + tol)[:, None]).sum(1)
assert abs(j["t2v"]["r1"] - 100 * (r <= 1).mean()) < 1e-6, (j["t2v"], r)
assert abs(j["t2v"]["mean_rank"] - r.mean()) < 1e-6, (j["t2v"], r)
assert abs(j["t2v"]["median_rank"] - np.median(r)) < 1e-6
ex = j["examples"]
assert len(ex) == 5 and all(len(e["top"]) == 5 for e in ex)
for e in ex:
    for c in e["top"]:
        p = os.path.join(run, c["thumbnail"])
        assert open(p, "rb").read(2) == b"\xff\xd8", p
PY
ok "youcook2 layout: eval.json, metrics vs numpy, thumbnails"

# Score the saved embeddings again (eval --embeddings): no checkpoint, no videos, same eval.json.
# A copy of what the run wrote, so that the default output (the folder itself) is checked too.
mkdir -p "$T/saved"
cp -r "$T/run/eval.json" "$T/run/eval_text.npy" "$T/run/eval_video.npy" "$T/run/eval_ids.txt" "$T/run/thumbs" "$T/saved/"
"$BIN" eval --embeddings "$T/saved" >"$T/out_saved.txt" 2>"$T/err" || fail "eval --embeddings: $(cat "$T/err")"
grep -q "text->video" "$T/out_saved.txt" || fail "eval --embeddings: no table: $(cat "$T/out_saved.txt")"
"$BIN" eval --checkpoint "$T/run" --set "eval.csv=$T/yc.csv" --set "eval.video_root=$T/videos" --set eval.ties=official \
  --no-thumbnails --save-embeddings --out "$T/official" >/dev/null 2>"$T/err" || fail "eval ties official: $(cat "$T/err")"
"$BIN" eval --embeddings "$T/saved" --set eval.ties=official --out "$T/saved_official" >/dev/null 2>"$T/err" \
  || fail "eval --embeddings --set eval.ties=official: $(cat "$T/err")"
"$PY" - "$T" <<'PY' || fail "eval --embeddings: metrics differ from the full run"
import json, sys
T = sys.argv[1]
full = json.load(open(T + "/run/eval.json"))
again = json.load(open(T + "/saved/eval.json"))
assert again.pop("embeddings") == T + "/saved", again
assert again == full, [(k, full.get(k), again.get(k)) for k in set(full) | set(again) if full.get(k) != again.get(k)]
off = json.load(open(T + "/official/eval.json"))
off_again = json.load(open(T + "/saved_official/eval.json"))
assert off["ties"] == off_again["ties"] == "official" and off["tie_rule"] == off_again["tie_rule"]
for k in ("n", "dim", "t2v", "v2t", "chance", "identical_video_embeddings"):
    assert off[k] == off_again[k], (k, off[k], off_again[k])
for a, b in zip(off["examples"], off_again["examples"]):
    assert a["rank"] == b["rank"] and [c["video_id"] for c in a["top"]] == [c["video_id"] for c in b["top"]]
PY
if "$BIN" eval --embeddings "$T/saved" --checkpoint "$T/run" >/dev/null 2>"$T/err"; then fail "--embeddings with --checkpoint accepted"; fi
[ "$(set +e; "$BIN" eval --embeddings "$T/saved" --checkpoint "$T/run" >/dev/null 2>&1; echo $?)" = 2 ] || fail "--embeddings with --checkpoint: not exit 2"
[ "$(set +e; "$BIN" eval >/dev/null 2>&1; echo $?)" = 2 ] || fail "eval without --checkpoint or --embeddings: not exit 2"
mkdir -p "$T/no_emb"
[ "$(set +e; "$BIN" eval --embeddings "$T/no_emb" >/dev/null 2>"$T/err"; echo $?)" = 1 ] || fail "--embeddings of an empty folder: not exit 1"
grep -q "no_emb/eval_text.npy" "$T/err" || fail "--embeddings of an empty folder: the file is not named: $(cat "$T/err")"
ok "eval --embeddings: the saved embeddings scored again give the full run's eval.json (both tie rules)"

# The reference's YouCook2-style CSV: only two of its 31 videos exist here.
mkdir -p "$T/yc2/404"
ln -s "$TD/videos/chaplin.mp4" "$T/yc2/RFE7qdhjgXc.mp4"
ln -s "$TD/videos/friday.mp4" "$T/yc2/404/sGzBQrg1adY.mp4" 2>/dev/null || true
# The CSV's segments of RFE7qdhjgXc lie past the end of the 23 s video standing in for it: they
# are invalid, not clips of zeros that all tie (which once gave R@1 = 38% on no content).
if "$BIN" eval --checkpoint "$T/run" --set "eval.csv=$TD/howto100m/youcook2_style_val_captions.csv" \
  --set "eval.video_root=$T/yc2" --set eval.num_windows=1 --examples 2 --out "$T/out_ref" \
  >"$T/out2.txt" 2>"$T/err2"; then fail "eval on segments past the video end succeeded: $(cat "$T/out2.txt")"; fi
grep -q "rows have a segment past their video's end (7)" "$T/err2" || fail "invalid segments not reported: $(cat "$T/err2")"
grep -q "RFE7qdhjgXc 44.0-55.0 s (starts after the video's end)" "$T/err2" || fail "first invalid segment not named: $(cat "$T/err2")"
grep -q "7 invalid segments" "$T/err2" || fail "final error does not count the invalid segments: $(tail -1 "$T/err2")"
[ ! -e "$T/out_ref/eval.json" ] || fail "eval.json written for an evaluation without a valid query"
ok "reference CSV: $(grep -c 'dropped' "$T/err2") missing videos and 7 segments past the video end reported"

# MSR-VTT layout (whole videos) and the held-out shards
printf 'key,vid_key,video_id,sentence\nr0,m0,2Mn5sVpFDTg,a man\nr1,m1,3lL8XUUWg_Q,dance\nr2,m2,5VLwcVOLoFs,pancake\n' >"$T/msr.csv"
"$BIN" eval --checkpoint "$T/run" --set "eval.csv=$T/msr.csv" --set "eval.video_root=$T/videos" \
  --set eval.format=msrvtt --out "$T/out_msr" >/dev/null 2>"$T/err" || fail "msrvtt: $(cat "$T/err")"
"$PY" -c "import json; j = json.load(open('$T/out_msr/eval.json')); assert j['n'] == 3 and j['format'] == 'msrvtt', j" \
  || fail "msrvtt eval.json"
"$BIN" eval --checkpoint "$T/run" --set "eval.csv=$T/shards" --set eval.format=shards --set eval.num_windows=1 \
  --no-thumbnails --out "$T/out_sh" >/dev/null 2>"$T/err" || fail "shards: $(cat "$T/err")"
"$PY" - "$T/shards" "$T/out_sh/eval.json" <<'PY' || fail "shards eval.json"
import json, sys, tarfile, glob
n = 0
for t in sorted(glob.glob(sys.argv[1] + "/*.tar")):
    with tarfile.open(t) as tf:
        for m in tf.getmembers():
            if m.name.endswith(".json"):
                n += len(json.load(tf.extractfile(m))["sentences"])
j = json.load(open(sys.argv[2]))
# the stand-in videos are shorter than the narration: sentences past their end are invalid
inv = j["invalid_segments"]
assert j["n"] + inv["start_after_video_end"] + inv["no_decodable_frame"] == n and j["missing_videos"] == 0, (j["n"], inv, n)
assert j["n"] > 0
PY
ok "msrvtt and shards formats"

# embed
"$BIN" embed --checkpoint "$T/run" --videos "$T/videos" --out "$T/emb" >/dev/null 2>"$T/err" || fail "embed videos: $(cat "$T/err")"
"$BIN" embed --checkpoint "$T/run" --videos "$T/videos" --feature mixed_5c --average --num-windows 3 --out "$T/mix" \
  >/dev/null 2>"$T/err" || fail "embed mixed_5c: $(cat "$T/err")"
printf 'add the onion\nflip the pancake\nman walks\n' >"$T/sent.txt"
"$BIN" embed --checkpoint "$T/run" --sentences "$T/sent.txt" --out "$T/txt" >/dev/null 2>"$T/err" || fail "embed sentences: $(cat "$T/err")"
"$PY" - "$T" <<'PY' || fail "embed outputs"
import sys, numpy as np
T = sys.argv[1]
def check(prefix, cols):
    a = np.load(prefix + ".npy")
    ids = open(prefix + ".ids.txt").read().splitlines()
    assert a.dtype == np.float32 and a.ndim == 2 and a.shape == (len(ids), cols), (prefix, a.shape, len(ids))
    assert np.isfinite(a).all()
    return a, ids
a, ids = check(T + "/emb", 16)
assert len(ids) > 4 and all("\t" in i for i in ids), ids[:3]
m, mids = check(T + "/mix", 128)
assert len(mids) == 4 and all("\t" not in i for i in mids)
t, tids = check(T + "/txt", 16)
assert tids == ["1", "2", "3"]
PY
ok "embed: videos, mixed_5c averaged, sentences"
echo "e2e_eval: all passed"
