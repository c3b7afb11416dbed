#!/usr/bin/env bash
# The MIL-NCE paper's central claim with statistical power (issue 18): with misaligned narration,
# does a bag of nearby narrations (MIL-NCE) beat a single narration (NCE, K = 1), and when?
#
# Every run: the demo's model (S3D-G w0.25, 8 frames of 48x48), trained on a synthetic corpus of
# 480 videos (15-20 s), evaluated both ways on the corpus's own aligned evaluation split
# (80 videos, about 340 queries). Runs are PAIRED by (corpus, training seed): each setting is
# compared with NCE on the same corpus and seed, and the statistics use the paired differences.
#
# The grid (not the full cross product: settings other than NCE and MIL-NCE +-1 only at the
# demo's corpus), every condition 3 corpora x 5 training seeds:
#   power     3 corpora (synth seeds 1, 7, 13; --max-shift 1.5, fillers 0.4 = the demo's corpus)
#             x 5 training seeds x {nce, milnce-s1, max-s1, cat-s1}, 300 steps, B 16
#   misalign  the shift and filler axis, 3 corpora each x 5 seeds x {nce, milnce-s1}:
#             --max-shift 0 (aligned), 3.0 (larger); --fillers 1.5 at shift 1.5
#             (the power grid is the shift 1.5 / fillers 0.4 point)
#   budget    power corpora x 5 seeds x {nce, milnce-s1}: 300 steps at B 8 (half the
#             negatives), and 1200 steps at B 16 (4x the demo's 300)
#   extra     milnce-n3 (the reference's nearest-3 bag) on the power pairs
# The phases run in priority order (PHASES, default all): 1 power seeds 1-3, all settings;
# 2 power seeds 4-5, nce + milnce-s1; 3 misalign seed 1; 4 budget B 8 seed 1; 5 budget 1200
# steps seed 1; 6 misalign seed 2; 7 power seeds 4-5, max + cat; 8, 9 budget seed 2; 10 extra;
# 11 misalign seeds 3-5; 12, 13 budget seeds 3-5 (11-13 bring every level to 3 x 5 pairs).
# Pairs are innermost, so a run cut off part-way still leaves complete pairs (and the
# statistics use complete pairs only). bench/results/ablation: all 13 phases, 225 runs (13,687 s
# of training), run as two or three streams sharing OUT on the shared 2-core machine.
# Every finished run appends a line to OUT/results.tsv; a re-run skips the runs results.tsv
# already holds (copy a results.tsv into a new OUT to extend its grid).
# At the end (or with REPORT_ONLY=1) bench/ablation_stats.py writes OUT/table.md, OUT/table.tsv
# and OUT/report.html (paired differences vs misalignment, 95% t intervals, as SVG).
#
# usage: bench/ablation.sh [OUT=/tmp/milnce-ablation]
# Two streams may share OUT (e.g. PHASES="4 7" in a second one): corpora and runs are locked.
#   env: PHASES="1 2 ..." (below)  SETTINGS="nce milnce-s1 ..." (others skipped)
#        MILNCE=path/to/milnce  REPORT_ONLY=1  NICE=10
#        POWER_CORPORA="m1 ..." (the power block's corpora, default m1 m7 m13)
#        PRECISION=fp32|bf16 (train.precision and eval.precision of every run; one OUT per
#        precision: bench/ablation_precision.py pairs the runs of two OUTs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${MILNCE:-$ROOT/build/milnce}
OUT=${1:-/tmp/milnce-ablation}
PHASES=${PHASES:-1 2 3 4 5 6 7 8 9 10 11 12 13}
SETTINGS=${SETTINGS:-nce milnce-s1 max-s1 cat-s1 milnce-n3}
PY=/usr/bin/python3
NICE=${NICE:-10}
PRECISION=${PRECISION:-fp32}
VIDEOS=480
EVAL_VIDEOS=80
mkdir -p "$OUT/runs" "$OUT/corpora" "$OUT/bags"
RES=$OUT/results.tsv
[ -f "$RES" ] || printf 'block\tcorpus\tcorpus_seed\tshift\tfillers\tsetting\tseed\tbatch\tsteps\tqueries\tt2v_r1\tt2v_r5\tt2v_r10\tt2v_medr\tv2t_r1\tv2t_r5\tv2t_r10\tv2t_medr\ttrain_s\n' > "$RES"

# setting -> train flags (loss + bag rule); nce = a bag of one sentence, the anchor
declare -A SET=(
  [nce]="--set data.window=nearest --set data.num_candidates=1"
  [milnce-s1]="--set data.window=symmetric --set data.window_k=1"
  [milnce-n3]="--set data.window=nearest --set data.num_candidates=3"
  [max-s1]="--set train.loss=max --set data.window=symmetric --set data.window_k=1"
  [cat-s1]="--set train.loss=cat --set data.window=symmetric --set data.window_k=1"
)

# corpus name -> "synth seed, max shift, fillers"
declare -A CORPUS=(
  [m1]="1 1.5 0.4" [m7]="7 1.5 0.4" [m13]="13 1.5 0.4"
  [a1]="1 0 0.4" [a7]="7 0 0.4" [a13]="13 0 0.4"
  [x1]="1 3 0.4" [x7]="7 3 0.4" [x13]="13 3 0.4"
  [f1]="1 1.5 1.5" [f7]="7 1.5 1.5" [f13]="13 1.5 1.5"
)

corpus() { # name: synth + preprocess + bag statistics once (locked: two streams may share a corpus)
  ( flock 9; make_corpus "$1" ) 9> "$OUT/corpora/$1.lock"
}
make_corpus() {
  local name=$1 c=$OUT/corpora/$1
  read -r cseed shift fill <<< "${CORPUS[$name]}"
  if [ ! -f "$c/corpus/eval/youcook2_val.csv" ]; then
    rm -rf "$c"; mkdir -p "$c"
    nice -n "$NICE" "$BIN" synth --out "$c/corpus" --seed "$cseed" --max-shift "$shift" --fillers "$fill" \
      --videos $VIDEOS --eval-videos $EVAL_VIDEOS --min-seconds 15 --max-seconds 20 --size 96x72 --fps 10 -q
  fi
  if [ ! -f "$c/shards/stats.json" ]; then
    nice -n "$NICE" "$BIN" preprocess --videos "$c/corpus/train/videos.csv" --captions "$c/corpus/train/captions" \
      --out "$c/shards" --size 56 --fps 5 --videos-per-shard 64 > "$c/preprocess.log" 2>&1
  fi
  [ -f "$OUT/bags/$name.json" ] || $PY bench/ablation_bags.py "$c/corpus" 20000 --json > "$OUT/bags/$name.json"
}

start=$(date +%s)
run() { # block corpus setting seed batch steps
  local block=$1 name=$2 setting=$3 seed=$4 batch=$5 steps=$6
  local per_epoch=$(( VIDEOS / batch )) dir=$OUT/runs/$2/$3-b$5-n$6-s$4
  [ -f "$dir/done" ] && return 0
  case " $SETTINGS " in *" $setting "*) ;; *) return 0 ;; esac
  # a run already in results.tsv (e.g. the committed bench/results/ablation/results.tsv copied
  # into a new OUT to extend the grid) is not run again: columns block..steps identify it
  awk -F'\t' -v b="$block" -v c="$name" -v s="$setting" -v d="$seed" -v B="$batch" -v n="$steps" \
    '$1 == b && $2 == c && $6 == s && $7 == d && $8 == B && $9 == n {f = 1} END {exit !f}' "$RES" && return 0
  # a run another stream holds is skipped (the lock goes with its process)
  mkdir -p "$OUT/runs/$name"
  local lk
  exec {lk}> "$dir.lock"
  flock -n "$lk" || { exec {lk}>&-; return 0; }
  run_locked "$@"
  exec {lk}>&-
}
run_locked() {
  local block=$1 name=$2 setting=$3 seed=$4 batch=$5 steps=$6
  local per_epoch=$(( VIDEOS / batch )) dir=$OUT/runs/$2/$3-b$5-n$6-s$4
  [ -f "$dir/done" ] && return 0
  corpus "$name"
  local c=$OUT/corpora/$name
  read -r cseed shift fill <<< "${CORPUS[$name]}"
  [ -f "$OUT/demo.yaml" ] || "$BIN" demo --print-config > "$OUT/demo.yaml"
  rm -rf "$dir"; mkdir -p "$dir"
  local t0; t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  if ! nice -n "$NICE" "$BIN" train --config "$OUT/demo.yaml" --set "data.shards=$c/shards" --set "train.out_dir=$dir" \
      --set train.seed="$seed" --set train.batch_size="$batch" --set train.epochs=$(( steps / per_epoch )) \
      --set train.precision="$PRECISION" ${SET[$setting]} > "$dir/train.log" 2>&1; then
    echo "ablation: $dir failed (the grid goes on):"; tail -3 "$dir/train.log"; return 0
  fi
  local t1; t1=$(date +%s.%N)
  nice -n "$NICE" "$BIN" eval --checkpoint "$dir" --set "eval.csv=$c/corpus/eval/youcook2_val.csv" \
    --set "eval.video_root=$c/corpus/eval/videos" --set eval.precision="$PRECISION" --no-thumbnails \
    > "$dir/eval.log" 2>&1
  $PY - "$dir/eval.json" "$block" "$name" "$cseed" "$shift" "$fill" "$setting" "$seed" "$batch" "$steps" \
    "$(echo "$t1 - $t0" | bc)" >> "$RES" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
m = [e[d][k] for d in ("t2v", "v2t") for k in ("r1", "r5", "r10", "median_rank")]
print("\t".join(sys.argv[2:11] + [str(e["n"])] + ["%.4f" % x for x in m] + ["%.1f" % float(sys.argv[11])]))
PY
  touch "$dir/done"
  echo "ablation: $block $name $setting seed $seed B $batch steps $steps: $(grep 'text->video' "$dir/eval.log")" \
       "($(( $(date +%s) - start )) s so far)"
}

power() { # seeds settings...
  local seeds=$1; shift
  for seed in $seeds; do for name in ${POWER_CORPORA:-m1 m7 m13}; do for s in "$@"; do run power $name "$s" "$seed" 16 300; done; done; done
}
misalign() { # seeds
  for seed in $1; do for name in a1 x1 f1 a7 x7 f7 a13 x13 f13; do
    for s in nce milnce-s1; do run misalign $name $s "$seed" 16 300; done
  done; done
}
budget() { # seeds batch steps
  for seed in $1; do for name in m1 m7 m13; do for s in nce milnce-s1; do run budget $name $s "$seed" "$2" "$3"; done; done; done
}
if [ -z "${REPORT_ONLY:-}" ]; then
  # priority order: what is cut off last matters least
  for phase in $PHASES; do
    case $phase in
      1) power "1 2 3" nce milnce-s1 max-s1 cat-s1 ;;
      2) power "4 5" nce milnce-s1 ;;
      3) misalign 1 ;;
      4) budget 1 8 300 ;;
      5) budget 1 16 1200 ;;
      6) misalign 2 ;;
      7) power "4 5" max-s1 cat-s1 ;;
      8) budget 2 8 300 ;;
      9) budget 2 16 1200 ;;
      10) power "1 2 3 4 5" milnce-n3 ;;
      11) misalign "3 4 5" ;;
      12) budget "3 4 5" 8 300 ;;
      13) budget "3 4 5" 16 1200 ;;
      *) echo "ablation: unknown phase '$phase'" >&2; exit 2 ;;
    esac
  done
  echo "ablation: grid done in $(( $(date +%s) - start )) s"
fi
$PY bench/ablation_stats.py "$OUT"
