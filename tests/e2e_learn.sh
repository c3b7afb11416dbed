#!/usr/bin/env bash
# Proof that training learns: on a synthetic corpus, a short run of the demo model brings the
# MIL-NCE loss clearly below its starting value and the logged curve goes down.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
W=$(mktemp -d /tmp/milnce-e2e-learn-XXXXXX)
trap 'rm -rf "$W"' EXIT
"$BIN" synth --out "$W/syn" --videos 48 --eval-videos 1 --min-seconds 15 --max-seconds 20 --size 96x72 --fps 10 -q
"$BIN" preprocess --videos "$W/syn/train/videos.csv" --captions "$W/syn/train/captions" --out "$W/sh" --size 56 --fps 5 >/dev/null 2>&1
"$BIN" demo --print-config > "$W/demo.yaml"
"$BIN" train --config "$W/demo.yaml" --set "data.shards=$W/sh" --set "train.out_dir=$W/run" \
  --set train.max_steps=150 --set train.epochs=50 --set train.checkpoint_every=150 > "$W/train.log" 2>&1 || { cat "$W/train.log"; exit 1; }
$PY - "$W/run/log.jsonl" <<'PY'
import json, math, sys
L = [json.loads(l)["loss"] for l in open(sys.argv[1])]
assert len(L) == 150, len(L)
first, last = sum(L[:15]) / 15, sum(L[-15:]) / 15
# Moving averages over 30 steps, taken every 30 steps: the curve goes down overall.
avg = [sum(L[i:i + 30]) / 30 for i in range(0, 150, 30)]
print("loss: first 15 steps %.3f, last 15 steps %.3f (floor log 2 = %.3f); 30-step means %s"
      % (first, last, math.log(2), " ".join("%.3f" % a for a in avg)))
assert last < first - 0.4, "loss did not drop clearly"
assert avg[-1] < avg[0] and sum(b < a for a, b in zip(avg, avg[1:])) >= 3, "curve does not decrease"
PY
echo "1 passed, 0 failed"
