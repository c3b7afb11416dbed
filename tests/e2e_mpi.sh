#!/usr/bin/env bash
# MPI data parallelism end to end: one SGD step on 2 ranks x 2 clips equals one rank with 4 clips
# (loss and weights within 1e-5; BatchNorm frozen, whose statistics are per rank as in the
# reference), and in train-mode BatchNorm with train.sync_bn (statistics over both ranks' clips;
# per-rank statistics must differ, or the check could not tell), and with the bag rules
# train.loss=max and cat (bags of 3). Skipped when milnce was built without MPI or mpirun is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_cmd mpirun "Open MPI's launcher (Debian package openmpi-bin)"
"$BIN" info | grep -q "built with MPI" ||
  skip_test tool "milnce was built without MPI (Debian package libopenmpi-dev, then re-run cmake)"
need_py numpy
CMP="$PY $SRC/tests/reference/compare_checkpoints.py"
# Under the sanitizer build, LeakSanitizer is off for the processes mpirun starts: Open MPI's
# plugins (MCA components) keep allocations to exit and are dlclose()d by MPI_Finalize, so their
# stacks have no module name a suppression could match. The same training code runs
# leak-checked in the single-process runs below and in e2e_train.
MPIRUN=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mpirun)
W=$(mktemp -d /tmp/milnce-e2e-mpi-XXXXXX)
trap 'rm -rf "$W"' EXIT

"$BIN" synth --out "$W/syn" --videos 8 --eval-videos 1 --min-seconds 20 --max-seconds 24 --size 96x64 --fps 10 -q
"$BIN" preprocess --videos "$W/syn/train/videos.csv" --captions "$W/syn/train/captions" --out "$W/sh" --size 40 --fps 5 >/dev/null 2>&1
common=(--config "$SRC/configs/demo.yaml" --set "data.shards=$W/sh" --set data.size=32 --set data.resize=40
        --set data.num_frames=8 --set model.width=0.125 --set model.blocks4=2 --set model.word_dim=16
        --set model.text_hidden=32 --set model.embed_dim=16 --set train.batch_size=4 --set train.warmup_steps=2
        --set train.epochs=50)
# SGD: the update is linear in the gradient (Adam's first step divides g by |g| and turns
# round-off in near-zero gradients into full-size steps), so equal weights mean equal gradients.
mpi=(--set train.freeze_bn=true --set train.optimizer=sgd --set train.momentum=0 --set train.lr=0.1 --set train.max_steps=1 --set train.warmup_steps=0 --set train.checkpoint_every=1 --set data.workers=1)
"$BIN" train "${common[@]}" "${mpi[@]}" --set "train.out_dir=$W/one" > "$W/one.log" 2>&1 || { cat "$W/one.log"; exit 1; }
OMPI_MCA_plm_rsh_agent= "${MPIRUN[@]}" --allow-run-as-root --oversubscribe -np 2 "$BIN" train "${common[@]}" "${mpi[@]}" --set "train.out_dir=$W/two" > "$W/mpi.log" 2>&1 || { cat "$W/mpi.log"; exit 1; }
$CMP --tol 1e-5 --skip optim. "$W/one/checkpoints/step-00000001.safetensors" "$W/two/checkpoints/step-00000001.safetensors"
"$PY" - "$W/one/log.jsonl" "$W/two/log.jsonl" <<'PY'
import json, sys
a, b = (json.loads(open(p).readline())["loss"] for p in sys.argv[1:3])
print("loss 1 rank %.9g, 2 ranks %.9g" % (a, b))
sys.exit(0 if abs(a - b) <= 1e-5 * max(1, abs(a)) else 1)
PY
echo "ok: 2 MPI ranks x 2 clips = 1 rank x 4 clips (loss and weights within 1e-5)"
# train.sync_bn: BatchNorm in train mode with statistics over both ranks' clips gives the step
# of one rank with all 4 (weights, running statistics, loss); per-rank statistics do not
sb=("${mpi[@]}" --set train.freeze_bn=false)
"$BIN" train "${common[@]}" "${sb[@]}" --set "train.out_dir=$W/one_bn" >/dev/null 2>&1
OMPI_MCA_plm_rsh_agent= "${MPIRUN[@]}" --allow-run-as-root --oversubscribe -np 2 "$BIN" train "${common[@]}" "${sb[@]}" --set train.sync_bn=true --set "train.out_dir=$W/two_sync" > "$W/mpi.log" 2>&1 || { cat "$W/mpi.log"; exit 1; }
$CMP --tol 1e-5 --skip optim. "$W/one_bn/checkpoints/step-00000001.safetensors" "$W/two_sync/checkpoints/step-00000001.safetensors"
"$PY" - "$W/one_bn/log.jsonl" "$W/two_sync/log.jsonl" <<'PY'
import json, sys
a, b = (json.loads(open(p).readline())["loss"] for p in sys.argv[1:3])
print("train-mode BN: loss 1 rank %.9g, 2 ranks with sync_bn %.9g" % (a, b))
sys.exit(0 if abs(a - b) <= 1e-5 * max(1, abs(a)) else 1)
PY
OMPI_MCA_plm_rsh_agent= "${MPIRUN[@]}" --allow-run-as-root --oversubscribe -np 2 "$BIN" train "${common[@]}" "${sb[@]}" --set "train.out_dir=$W/two_local" > "$W/mpi.log" 2>&1 || { cat "$W/mpi.log"; exit 1; }
if $CMP --tol 1e-5 --skip optim. "$W/one_bn/checkpoints/step-00000001.safetensors" "$W/two_local/checkpoints/step-00000001.safetensors" >/dev/null 2>&1; then
  echo "FAIL: per-rank BatchNorm statistics matched one rank's: the sync test cannot tell"; exit 1
fi
echo "ok: train.sync_bn: 2 ranks x 2 clips = 1 rank x 4 clips in train-mode BatchNorm (1e-5); per-rank statistics differ"
for rule in max cat; do
  bag=(--set train.loss=$rule --set data.window=symmetric --set data.window_k=1)
  "$BIN" train "${common[@]}" "${mpi[@]}" "${bag[@]}" --set "train.out_dir=$W/one-$rule" >/dev/null 2>&1
  OMPI_MCA_plm_rsh_agent= "${MPIRUN[@]}" --allow-run-as-root --oversubscribe -np 2 "$BIN" train "${common[@]}" "${mpi[@]}" "${bag[@]}" \
    --set "train.out_dir=$W/two-$rule" > "$W/mpi-$rule.log" 2>&1 || { cat "$W/mpi-$rule.log"; exit 1; }
  $CMP --tol 1e-5 --skip optim. "$W/one-$rule/checkpoints/step-00000001.safetensors" "$W/two-$rule/checkpoints/step-00000001.safetensors"
  "$PY" - "$W/one-$rule/log.jsonl" "$W/two-$rule/log.jsonl" "$W/one/log.jsonl" <<'PY'
import json, sys
a, b, m = (json.loads(open(p).readline())["loss"] for p in sys.argv[1:4])
print("loss 1 rank %.9g, 2 ranks %.9g (NCE %.9g)" % (a, b, m))
sys.exit(0 if abs(a - b) <= 1e-5 * max(1, abs(a)) and a != m else 1)
PY
done
echo "ok: train.loss=max and cat (bags of 3): 2 MPI ranks = 1 rank, and not the NCE loss"
echo "3 passed, 0 failed"
