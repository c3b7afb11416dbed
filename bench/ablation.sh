#!/usr/bin/env bash
# The MIL-NCE paper's central claim on a corpus with a known answer: with misaligned narration,
# a bag of nearby narrations (MIL-NCE) beats a single narration (NCE, K = 1).
#
# One misaligned synthetic corpus; for each setting and seed: train with the demo's model and
# budget, evaluate text<->video retrieval on the aligned split; print mean +- std over seeds.
#   settings: nce (nearest:1), milnce-n3 (nearest:3), milnce-n5 (nearest:5),
#             milnce-s1 (symmetric:1 = 3 slots), milnce-s2 (symmetric:2 = 5 slots)
# The corpus is the demo's (480 videos of 15-20 s, seed 1); each run gets 10 epochs = 300 steps.
# usage: bench/ablation.sh [OUT=/tmp/milnce-ablation]   (env: SEEDS="1 2 3", EPOCHS=10, VIDEOS=480)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/build/milnce
OUT=${1:-/tmp/milnce-ablation}
SEEDS=${SEEDS:-1 2 3}
EPOCHS=${EPOCHS:-10}
VIDEOS=${VIDEOS:-480}
PY=/usr/bin/python3
mkdir -p "$OUT/runs"
if [ ! -f "$OUT/corpus/eval/youcook2_val.csv" ]; then
  "$BIN" synth --out "$OUT/corpus" --videos "$VIDEOS" --eval-videos 24 --min-seconds 15 --max-seconds 20 --size 96x72 --fps 10 -q
fi
if [ ! -f "$OUT/shards/stats.json" ]; then
  "$BIN" preprocess --videos "$OUT/corpus/train/videos.csv" --captions "$OUT/corpus/train/captions" \
    --out "$OUT/shards" --size 56 --fps 5 --videos-per-shard 64 > /dev/null 2>&1
fi
declare -A SET=(
  [nce]="--set data.window=nearest --set data.num_candidates=1"
  [milnce-n3]="--set data.window=nearest --set data.num_candidates=3"
  [milnce-n5]="--set data.window=nearest --set data.num_candidates=5"
  [milnce-s1]="--set data.window=symmetric --set data.window_k=1"
  [milnce-s2]="--set data.window=symmetric --set data.window_k=2"
)
ORDER="nce milnce-n3 milnce-n5 milnce-s1 milnce-s2"
start=$(date +%s)
for name in $ORDER; do
  for seed in $SEEDS; do
    run="$OUT/runs/$name-seed$seed"
    [ -f "$run/eval.json" ] && continue
    "$BIN" demo --print-config > "$OUT/demo.yaml"
    # shellcheck disable=SC2086
    "$BIN" train --config "$OUT/demo.yaml" --set "data.shards=$OUT/shards" --set "train.out_dir=$run" \
      --set train.seed=$seed --set train.epochs=$EPOCHS ${SET[$name]} > "$run.train.log" 2>&1 || { mkdir -p "$run"; tail -3 "$run.train.log"; exit 1; }
    "$BIN" eval --checkpoint "$run" --set "eval.csv=$OUT/corpus/eval/youcook2_val.csv" \
      --set "eval.video_root=$OUT/corpus/eval/videos" --no-thumbnails > "$run.eval.log" 2>&1
    echo "$name seed $seed: $(grep 'text->video' "$run.eval.log")  ($(( $(date +%s) - start )) s so far)"
  done
done
$PY - "$OUT" $ORDER <<'PY'
import json, statistics as st, sys, glob
out, names = sys.argv[1], sys.argv[2:]
print("\nsetting        t2v R@1       t2v R@5       t2v R@10      v2t R@5       (mean +- std over seeds, %)")
for n in names:
    rs = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/runs/{n}-seed*/eval.json"))]
    def ms(d, k):
        v = [r[d][k] for r in rs]
        return "%5.1f +- %4.1f" % (st.mean(v), st.stdev(v) if len(v) > 1 else 0.0)
    print("%-14s %s  %s  %s  %s" % (n, ms("t2v", "r1"), ms("t2v", "r5"), ms("t2v", "r10"), ms("v2t", "r5")))
if rs:
    c = rs[0]["chance"]
    print("%-14s %5.1f          %5.1f          %5.1f" % ("chance", c["r1"], c["r5"], c["r10"]))
PY
echo
echo "what the windows give on this corpus (bench/ablation_bags.py: the loader's sampling replayed on train/truth.json):"
$PY bench/ablation_bags.py "$OUT/corpus"
echo "total $(( $(date +%s) - start )) s"
