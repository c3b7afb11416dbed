#!/usr/bin/env bash
# `milnce import` end to end, as a new user would: a folder holding only files of the released
# S3D HowTo100M layout written by torch.save / np.save (tests/reference/import_ref.py, random
# weights) -> import -> `milnce embed` from another folder with the checkpoint alone, equal to
# PyTorch (<= 1e-4 relative); --out DIR/prefix creates DIR; a 1x1 video is refused as preprocess
# refuses it; a checkpoint with an Inf weight is an error naming it, and nothing is written.
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
