#!/usr/bin/env bash
# milnce train end to end on a small synthetic corpus:
#  1. resume: 3 steps + --resume to 6 gives bit-identical weights and losses to 6 straight steps
#  2. kill -9 in the middle, --resume: same result again
#  3. a NaN loss stops the run naming the step, and the last good checkpoint stays loadable
#  4. MPI (when built with it): one SGD step on 2 ranks x 2 clips = one rank with 4 clips (1e-5),
#     also with the bag rules train.loss=max and cat (bags of 3)
#  5. bad config values and missing data are refused before any work, naming the key
set -euo pipefail
BIN=$(realpath "${MILNCE_BIN:-build/milnce}")
PY=${MILNCE_PYTHON:-/usr/bin/python3}
SRC=${MILNCE_SOURCE_DIR:-$(pwd)}
CMP="$PY $SRC/tests/reference/compare_checkpoints.py"
W=$(mktemp -d /tmp/milnce-e2e-train-XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }

"$BIN" synth --out "$W/syn" --videos 8 --eval-videos 1 --min-seconds 20 --max-seconds 24 --size 96x64 --fps 10 -q
"$BIN" preprocess --videos "$W/syn/train/videos.csv" --captions "$W/syn/train/captions" --out "$W/sh" --size 40 --fps 5 >/dev/null 2>&1
common=(--config "$SRC/configs/demo.yaml" --set "data.shards=$W/sh" --set data.size=32 --set data.resize=40
        --set data.num_frames=8 --set model.width=0.125 --set model.blocks4=2 --set model.word_dim=16
        --set model.text_hidden=32 --set model.embed_dim=16 --set train.batch_size=4 --set train.warmup_steps=2
        --set train.epochs=50 --set data.workers=2)
losses() { $PY -c "import json,sys; print(' '.join('%.9g' % json.loads(l)['loss'] for l in open(sys.argv[1])))" "$1"; }

# 1. resume = uninterrupted
"$BIN" train "${common[@]}" --set "train.out_dir=$W/full" --set train.max_steps=6 --set train.checkpoint_every=3 >/dev/null 2>&1
"$BIN" train "${common[@]}" --set "train.out_dir=$W/half" --set train.max_steps=3 --set train.checkpoint_every=3 >/dev/null 2>&1
"$BIN" train "${common[@]}" --set "train.out_dir=$W/half" --set train.max_steps=6 --set train.checkpoint_every=3 --resume >/dev/null 2>&1
$CMP --exact "$W/full/checkpoints/step-00000006.safetensors" "$W/half/checkpoints/step-00000006.safetensors"
[ "$(losses "$W/full/log.jsonl")" = "$(losses "$W/half/log.jsonl")" ] || { echo "FAIL: losses differ after resume"; losses "$W/full/log.jsonl"; losses "$W/half/log.jsonl"; exit 1; }
ok "3 steps + resume to 6 = 6 steps, bit for bit ($(losses "$W/full/log.jsonl"))"

# 2. SIGKILL after the first checkpoint, then resume
"$BIN" train "${common[@]}" --set "train.out_dir=$W/kill" --set train.max_steps=6 --set train.checkpoint_every=2 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -f "$W/kill/checkpoints/latest" ] && break; sleep 0.1; done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
[ -f "$W/kill/checkpoints/latest" ] || { echo "FAIL: no checkpoint before the kill"; exit 1; }
echo "killed after $(cat "$W/kill/checkpoints/latest")"
"$BIN" train "${common[@]}" --set "train.out_dir=$W/kill" --set train.max_steps=6 --set train.checkpoint_every=2 --resume >/dev/null 2>&1
$CMP --exact "$W/full/checkpoints/step-00000006.safetensors" "$W/kill/checkpoints/step-00000006.safetensors"
[ "$(losses "$W/full/log.jsonl")" = "$(losses "$W/kill/log.jsonl")" ] || { echo "FAIL: losses differ after kill + resume"; exit 1; }
ok "kill -9 + resume = uninterrupted, bit for bit"

# 3. NaN stop
set +e
out=$(MILNCE_TEST_NAN_STEP=3 "$BIN" train "${common[@]}" --set "train.out_dir=$W/nan" --set train.max_steps=6 --set train.checkpoint_every=1 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || { echo "FAIL: NaN run exited $rc"; echo "$out"; exit 1; }
echo "$out" | grep -q "step 3: loss is nan" || { echo "FAIL: message does not name step 3: $out"; exit 1; }
[ "$(cat "$W/nan/checkpoints/latest")" = "step-00000002.safetensors" ] || { echo "FAIL: latest is $(cat "$W/nan/checkpoints/latest")"; exit 1; }
$CMP --exact "$W/nan/checkpoints/step-00000002.safetensors" "$W/nan/checkpoints/step-00000002.safetensors" >/dev/null
"$BIN" train "${common[@]}" --set "train.out_dir=$W/nan" --set train.max_steps=4 --set train.checkpoint_every=1 --resume >/dev/null 2>&1
ok "NaN at step 3 stops the run naming the step; checkpoint 2 is kept and resumes"

# 3b. SIGTERM: a checkpoint at the step reached, `latest` points to it, exit 1 with a message
"$BIN" train "${common[@]}" --set "train.out_dir=$W/term" --set train.max_steps=100000 --set train.checkpoint_every=100000 > "$W/term.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -s "$W/term/log.jsonl" ] && [ "$(wc -l < "$W/term/log.jsonl")" -ge 3 ] && break; sleep 0.1; done
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 1 ] || { echo "FAIL: SIGTERM exit $rc"; cat "$W/term.log"; exit 1; }
grep -q "stopped by a signal at step" "$W/term.log" || { echo "FAIL: no message"; cat "$W/term.log"; exit 1; }
last=$(tail -1 "$W/term/log.jsonl" | $PY -c "import json,sys; print(json.load(sys.stdin)['step'])")
[ "$(cat "$W/term/checkpoints/latest")" = "$(printf 'step-%08d.safetensors' "$last")" ] || { echo "FAIL: latest $(cat "$W/term/checkpoints/latest") after step $last"; exit 1; }
ok "SIGTERM writes a checkpoint at step $last and exits cleanly"

# 3c. word2vec vectors: loaded into the word table and kept frozen (weight decay included)
"$BIN" train "${common[@]}" --set "train.out_dir=$W/w2v" --set train.max_steps=3 --set train.weight_decay=0.1 \
  --set "model.word2vec=$(realpath "${MILNCE_TESTDATA:-../shared/testdata}")/wordvec/test_glove.txt" --set model.word_dim=50 --set model.freeze_words=true > "$W/w2v.log" 2>&1 || { cat "$W/w2v.log"; exit 1; }
$PY - "$W/w2v/checkpoints/step-00000003.safetensors" "$W/sh/vocab.txt" "$(realpath "${MILNCE_TESTDATA:-../shared/testdata}")/wordvec/test_glove.txt" <<'PY'
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8]); h = json.loads(raw[8:8 + n]); data = raw[8 + n:]
e = h["text_module.word_embd.weight"]; b, t = e["data_offsets"]
W = np.frombuffer(data[b:t], np.float32).reshape(e["shape"])
vocab = open(sys.argv[2]).read().split("\n")[:-1]
glove = {}
for line in open(sys.argv[3]):
    p = line.rstrip().split(" ")
    glove[p[0]] = np.array(p[1:], np.float32)
found = 0
for i, w in enumerate(vocab, 1):
    want = glove.get(w, np.zeros(50, np.float32))
    assert np.array_equal(W[i], want), (w, W[i][:3], want[:3])
    found += w in glove
print("word table = GloVe rows after 3 steps with weight decay;", found, "of", len(vocab), "words have vectors")
PY
ok "word2vec vectors loaded and kept frozen"

# 4. MPI: 2 ranks x 2 clips vs 1 rank x 4 clips, BatchNorm frozen
if command -v mpirun >/dev/null && "$BIN" info | grep -q "built with MPI"; then
  # SGD: the update is linear in the gradient (Adam's first step divides g by |g| and turns
  # round-off in near-zero gradients into full-size steps), so equal weights mean equal gradients.
  mpi=(--set train.freeze_bn=true --set train.optimizer=sgd --set train.momentum=0 --set train.lr=0.1 --set train.max_steps=1 --set train.warmup_steps=0 --set train.checkpoint_every=1 --set data.workers=1)
  "$BIN" train "${common[@]}" "${mpi[@]}" --set "train.out_dir=$W/one" >/dev/null 2>&1
  OMPI_MCA_plm_rsh_agent= mpirun --allow-run-as-root --oversubscribe -np 2 "$BIN" train "${common[@]}" "${mpi[@]}" --set "train.out_dir=$W/two" > "$W/mpi.log" 2>&1 || { cat "$W/mpi.log"; exit 1; }
  $CMP --tol 1e-5 --skip optim. "$W/one/checkpoints/step-00000001.safetensors" "$W/two/checkpoints/step-00000001.safetensors"
  $PY - "$W/one/log.jsonl" "$W/two/log.jsonl" <<'PY'
import json, sys
a, b = (json.loads(open(p).readline())["loss"] for p in sys.argv[1:3])
print("loss 1 rank %.9g, 2 ranks %.9g" % (a, b))
sys.exit(0 if abs(a - b) <= 1e-5 * max(1, abs(a)) else 1)
PY
  ok "2 MPI ranks x 2 clips = 1 rank x 4 clips (loss and weights within 1e-5)"
  for rule in max cat; do
    bag=(--set train.loss=$rule --set data.window=symmetric --set data.window_k=1)
    "$BIN" train "${common[@]}" "${mpi[@]}" "${bag[@]}" --set "train.out_dir=$W/one-$rule" >/dev/null 2>&1
    OMPI_MCA_plm_rsh_agent= mpirun --allow-run-as-root --oversubscribe -np 2 "$BIN" train "${common[@]}" "${mpi[@]}" "${bag[@]}" \
      --set "train.out_dir=$W/two-$rule" > "$W/mpi-$rule.log" 2>&1 || { cat "$W/mpi-$rule.log"; exit 1; }
    $CMP --tol 1e-5 --skip optim. "$W/one-$rule/checkpoints/step-00000001.safetensors" "$W/two-$rule/checkpoints/step-00000001.safetensors"
    $PY - "$W/one-$rule/log.jsonl" "$W/two-$rule/log.jsonl" "$W/one/log.jsonl" <<'PY'
import json, sys
a, b, m = (json.loads(open(p).readline())["loss"] for p in sys.argv[1:4])
print("loss 1 rank %.9g, 2 ranks %.9g (NCE %.9g)" % (a, b, m))
sys.exit(0 if abs(a - b) <= 1e-5 * max(1, abs(a)) and a != m else 1)
PY
  done
  ok "train.loss=max and cat: 2 MPI ranks = 1 rank, and not the NCE loss"
else
  echo "skip: MPI not built or mpirun missing"
fi

# 5. refused before any work
set +e
out=$("$BIN" train "${common[@]}" --set "train.out_dir=$W/bad" --set data.size=64 --set train.max_steps=1 2>&1); rc1=$?
out2=$("$BIN" train "${common[@]}" --set "train.out_dir=$W/bad" --set "data.shards=$W/nothing" 2>&1); rc2=$?
out3=$("$BIN" train "${common[@]}" --set train.lr=fast 2>&1); rc3=$?
out4=$("$BIN" train "${common[@]}" --set train.loss=mean 2>&1); rc4=$?
set -e
[ $rc1 -eq 2 ] && echo "$out" | grep -q "data.size" || { echo "FAIL: crop larger than rendition: $rc1 $out"; exit 1; }
[ $rc3 -eq 2 ] && echo "$out3" | grep -q "train.lr" || { echo "FAIL: bad lr: $rc3 $out3"; exit 1; }
[ $rc4 -eq 2 ] && echo "$out4" | grep -q "train.loss" || { echo "FAIL: unknown bag rule: $rc4 $out4"; exit 1; }
[ $rc2 -ne 0 ] && echo "$out2" | grep -q "nothing" || { echo "FAIL: missing shards: $rc2 $out2"; exit 1; }
[ ! -e "$W/bad/log.jsonl" ] || { echo "FAIL: a run with missing data wrote a log"; exit 1; }
ok "bad config and missing data refused before any work"
echo "$pass passed, 0 failed"
