#!/usr/bin/env bash
# `milnce import` end to end, as a new user would: a folder holding only files of the released
# S3D HowTo100M layout written by torch.save / np.save (tests/reference/import_ref.py, random
# weights) -> import -> `milnce embed` from another folder with the checkpoint alone, equal to
# PyTorch (<= 1e-4 relative); --out DIR/prefix creates DIR; a 1x1 video is refused as preprocess
# refuses it; eval with the shipped YouCook2 config applies the released protocol and counts a
# row past its video's end; a checkpoint with an Inf weight is an error naming it, and nothing is written.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
need_py torch numpy
need_cmd ffmpeg "makes the 1x1 video"

T=$(mktemp -d /tmp/milnce-e2e-import-XXXXXX)
trap 'rm -rf "$T"' EXIT
"$PY" tests/reference/import_ref.py --out "$T/ref" >"$T/ref.log" 2>&1 || fail "reference: $(tail -3 "$T/ref.log")"
mkdir -p "$T/user" "$T/elsewhere"
cp "$T/ref/s3d_howto100m_legacy.pth" "$T/user/s3d_howto100m.pth"
cp "$T/ref/s3d_dict.npy" "$T/user/"
(cd "$T/user" && "$BIN" import s3d-howto100m --weights s3d_howto100m.pth --dict s3d_dict.npy --out s3d_howto100m.safetensors) \
  >"$T/imp.log" 2>&1 || fail "import: $(cat "$T/imp.log")"
grep -q "legacy torch.save format" "$T/imp.log" || fail "import summary: $(cat "$T/imp.log")"
ok "import from the legacy format"

(cd "$T/elsewhere" && "$BIN" embed --checkpoint "$T/user/s3d_howto100m.safetensors" --sentences "$T/ref/sentences.txt" \
  --out new/sub/text) >"$T/emb.log" 2>&1 || fail "embed from another folder: $(cat "$T/emb.log")"
"$PY" - "$T/elsewhere/new/sub/text.npy" "$T/ref/text_emb.npy" <<'PY' || fail "text embeddings differ from PyTorch"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.shape == b.shape, (a.shape, b.shape)
err = np.abs(a - b).max() / np.abs(b).max()
assert err <= 1e-4, err
print(f"text rel err {err:.2e}")
PY
ok "embed --sentences from another folder, checkpoint alone, --out DIR/prefix made DIR; equal to PyTorch"

# The README's second command: eval with the shipped config (32 frames at 10 fps, 224 x 224,
# 4 windows, 16 words, official ties) on a YouCook2-layout set of three real videos, one row
# starting after its video's end (counted as invalid, left out).
mkdir -p "$T/user/yc/videos"
cp "$TD/videos/flower.mp4" "$T/user/yc/videos/vidA.mp4"
cp "$TD/videos/chaplin.mp4" "$T/user/yc/videos/vidB.mp4"
cp "$TD/videos/fire2.mp4" "$T/user/yc/videos/vidC.mp4"
{
  echo "end,start,task,text,video_id"
  echo "4,0,1,$(sed -n 1p "$T/ref/sentences.txt"),vidA"
  echo "8,2,1,$(sed -n 2p "$T/ref/sentences.txt"),vidB"
  echo "2,0,1,$(sed -n 3p "$T/ref/sentences.txt"),vidC"
  echo "40,30,1,$(sed -n 4p "$T/ref/sentences.txt"),vidC"
} >"$T/user/yc/val.csv"
(cd "$T/user" && "$BIN" eval --checkpoint s3d_howto100m.safetensors --config "$SRC/configs/eval_s3d_howto100m_youcook2.yaml" \
  --set eval.csv=yc/val.csv --set eval.video_root=yc/videos --out ev --no-thumbnails) >"$T/ev.log" 2>&1 ||
  fail "eval with the shipped config: $(tail -5 "$T/ev.log")"
"$PY" - "$T/user/ev/eval.json" <<'PY' || fail "eval.json of the released protocol: $(cat "$T/user/ev/eval.json")"
import json, sys
e = json.load(open(sys.argv[1]))
assert (e["num_frames"], e["fps"], e["size"], e["num_windows"], e["max_words"]) == (32, 10, 224, 4, 16), e
assert e["ties"] == "official", e["ties"]
assert e["invalid_segments"]["start_after_video_end"] == 1, e["invalid_segments"]
assert e["n"] == 3, e["n"]
for d in ("t2v", "v2t"):
    r = e[d]
    assert 0 <= r["r1"] <= r["r5"] <= r["r10"] <= 100, r
print("n", e["n"], "t2v", e["t2v"])
PY
grep -q "invalid_segments" "$T/ev.log" || fail "no warning about the row past the video's end: $(cat "$T/ev.log")"
ok "eval with configs/eval_s3d_howto100m_youcook2.yaml: released protocol applied, the row past the end counted and left out"

ffmpeg -loglevel error -f lavfi -i color=c=red:s=16x16:d=2:r=5 -vf scale=1:1 -c:v ffv1 "$T/tiny.mkv"
printf 'video_path\n%s\n' "$T/tiny.mkv" >"$T/list.csv"
if "$BIN" embed --checkpoint "$T/user/s3d_howto100m.safetensors" --videos "$T/list.csv" --out "$T/v" >"$T/e1" 2>&1; then
  fail "embed accepted a 1x1 video"
fi
grep -q "1x1 video is too small to train on" "$T/e1" || fail "1x1 reason: $(cat "$T/e1")"
ok "1x1 video refused with preprocess's reason"

"$PY" - "$T/user/s3d_howto100m.safetensors" "$T/inf.safetensors" <<'PY'
import sys
sys.path.insert(0, "tests/reference")
import numpy as np
from convert_state_dict import read_safetensors, write_safetensors
t, meta = read_safetensors(sys.argv[1])
t["fc.weight"][2, 3] = np.inf
write_safetensors(sys.argv[2], list(t.items()), meta)
PY
if "$BIN" embed --checkpoint "$T/inf.safetensors" --sentences "$T/ref/sentences.txt" --out "$T/inf_text" >"$T/e2" 2>&1; then
  fail "embed with an Inf weight exited 0"
fi
grep -q "inf.safetensors: 1 non-finite value (NaN/Inf) in 1 tensor: fc.weight" "$T/e2" || fail "Inf message: $(cat "$T/e2")"
[ ! -e "$T/inf_text.npy" ] || fail "embed wrote rows from a non-finite model"
ok "a non-finite checkpoint is refused naming the tensor; nothing written"

for f in evil_zip evil_legacy truncated_zip; do
  if "$BIN" import s3d-howto100m --weights "$T/ref/$f.pth" --dict "$T/ref/s3d_dict.npy" --out "$T/x.safetensors" >"$T/e3" 2>&1; then
    fail "import accepted $f"
  fi
  [ ! -e "$T/x.safetensors" ] || fail "$f left an output"
done
grep -q "truncated" "$T/e3" || fail "truncated message: $(cat "$T/e3")"
ok "foreign and truncated pickles refused"
