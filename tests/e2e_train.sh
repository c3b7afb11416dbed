#!/usr/bin/env bash
# milnce train end to end on a small synthetic corpus:
#  1. resume: 3 steps + --resume to 6 gives bit-identical weights and losses to 6 straight steps
#  2. kill -9 in the middle, --resume: same result again
#  3. a NaN loss stops the run naming the step, and the last good checkpoint stays loadable
#  4. (MPI: tests/e2e_mpi.sh)
#  5. bad config values and missing data are refused before any work, naming the key
#  6. a folder holding a run is refused without --resume/--overwrite; --overwrite moves it aside
#  7. the lr column of log.jsonl follows warmup + cosine over max_steps, resumed runs included
#  8. a second run into a locked folder is refused at once, naming the holder's pid and host
#  9. a failed log write stops the run with an error and a whole-line log; resume drops a torn line
# 10. train.precision: bf16 resumes bit for bit too, its first line says so, its losses are
#     fp32's within bf16 rounding (not equal); auto on a CPU without AVX512_BF16 falls back with
#     a warning and bf16 is refused naming the key (whichever of the two this CPU allows)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_py numpy
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
"$BIN" train "${common[@]}" --set "train.out_dir=$W/half" --set train.max_steps=6 --set train.checkpoint_every=3 --stop-at 3 >/dev/null 2>&1
[ "$(cat "$W/half/checkpoints/latest")" = step-00000003.safetensors ] || { echo "FAIL: --stop-at 3 left $(cat "$W/half/checkpoints/latest")"; exit 1; }
"$BIN" train "${common[@]}" --set "train.out_dir=$W/half" --set train.max_steps=6 --set train.checkpoint_every=3 --resume >/dev/null 2>&1
$CMP --exact "$W/full/checkpoints/step-00000006.safetensors" "$W/half/checkpoints/step-00000006.safetensors"
[ "$(losses "$W/full/log.jsonl")" = "$(losses "$W/half/log.jsonl")" ] || { echo "FAIL: losses differ after resume"; losses "$W/full/log.jsonl"; losses "$W/half/log.jsonl"; exit 1; }
ok "3 steps (--stop-at) + resume to 6 = 6 steps, bit for bit ($(losses "$W/full/log.jsonl"))"

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
out=$("$(dirname "$BIN")/milnce_testhooks" --nan-step 3 train "${common[@]}" --set "train.out_dir=$W/nan" --set train.max_steps=6 --set train.checkpoint_every=1 2>&1)
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
# 8. the folder is locked while the run lives: a second run (even --resume) is refused at once
set +e
t0=$(date +%s)
out=$("$BIN" train "${common[@]}" --set "train.out_dir=$W/term" --set train.max_steps=100000 --resume 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$out" | grep -q "in use by another run (pid $pid on host $(hostname)" || { echo "FAIL: second run into a locked folder: $rc $out"; kill -9 $pid; exit 1; }
[ $(( $(date +%s) - t0 )) -lt 20 ] || { echo "FAIL: the refusal waited"; exit 1; }
ok "a second run into a locked folder is refused at once: $(echo "$out" | sed 's/^milnce train: //')"
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 1 ] || { echo "FAIL: SIGTERM exit $rc"; cat "$W/term.log"; exit 1; }
grep -q "stopped by a signal at step" "$W/term.log" || { echo "FAIL: no message"; cat "$W/term.log"; exit 1; }
last=$(tail -1 "$W/term/log.jsonl" | $PY -c "import json,sys; print(json.load(sys.stdin)['step'])")
[ "$(cat "$W/term/checkpoints/latest")" = "$(printf 'step-%08d.safetensors' "$last")" ] || { echo "FAIL: latest $(cat "$W/term/checkpoints/latest") after step $last"; exit 1; }
ok "SIGTERM writes a checkpoint at step $last and exits cleanly"

# 3c. word2vec vectors: loaded into the word table and kept frozen (weight decay included)
"$BIN" train "${common[@]}" --set "train.out_dir=$W/w2v" --set train.max_steps=3 --set train.weight_decay=0.1 \
  --set "model.word2vec=$TD/wordvec/test_glove.txt" --set model.word_dim=50 --set model.freeze_words=true > "$W/w2v.log" 2>&1 || { cat "$W/w2v.log"; exit 1; }
$PY - "$W/w2v/checkpoints/step-00000003.safetensors" "$W/sh/vocab.txt" "$TD/wordvec/test_glove.txt" <<'PY'
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

# 4. MPI: tests/e2e_mpi.sh

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
# 6. a run folder is never clobbered: 30 steps, then 5 steps into the same folder
cl=(--set "train.out_dir=$W/clob" --set train.checkpoint_every=10 --set train.keep_last=3)
"$BIN" train "${common[@]}" "${cl[@]}" --set train.max_steps=30 >/dev/null 2>&1
set +e
out=$("$BIN" train "${common[@]}" "${cl[@]}" --set train.max_steps=5 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$out" | grep -q -- "--resume" && echo "$out" | grep -q -- "--overwrite" || { echo "FAIL: a folder with a run was not refused: $rc $out"; exit 1; }
[ "$(wc -l < "$W/clob/log.jsonl")" -eq 30 ] && [ "$(ls "$W/clob/checkpoints" | tr '\n' ' ')" = "latest step-00000010.safetensors step-00000020.safetensors step-00000030.safetensors " ] \
  || { echo "FAIL: the refused run touched the folder"; ls "$W/clob/checkpoints"; exit 1; }
"$BIN" train "${common[@]}" "${cl[@]}" --set train.max_steps=5 --overwrite > "$W/clob.log" 2>&1 || { cat "$W/clob.log"; exit 1; }
grep -q "moved the earlier run in $W/clob to $W/clob.old-1" "$W/clob.log" || { echo "FAIL: no message about the move"; cat "$W/clob.log"; exit 1; }
[ "$(wc -l < "$W/clob.old-1/log.jsonl")" -eq 30 ] && [ "$(cat "$W/clob.old-1/checkpoints/latest")" = step-00000030.safetensors ] \
  && [ -f "$W/clob.old-1/checkpoints/step-00000010.safetensors" ] && [ -f "$W/clob.old-1/checkpoints/step-00000030.safetensors" ] \
  || { echo "FAIL: the first run is not intact in clob.old-1"; ls -R "$W/clob.old-1"; exit 1; }
[ "$(wc -l < "$W/clob/log.jsonl")" -eq 5 ] && [ "$(ls "$W/clob/checkpoints" | tr '\n' ' ')" = "latest step-00000005.safetensors " ] \
  || { echo "FAIL: the new run is mixed with the old one"; ls "$W/clob/checkpoints"; exit 1; }
$CMP --exact "$W/clob.old-1/checkpoints/step-00000030.safetensors" "$W/clob.old-1/checkpoints/step-00000030.safetensors" >/dev/null
"$BIN" train "${common[@]}" "${cl[@]}" --set train.max_steps=5 --overwrite >/dev/null 2>&1
[ -f "$W/clob.old-2/checkpoints/step-00000005.safetensors" ] && [ "$(wc -l < "$W/clob.old-1/log.jsonl")" -eq 30 ] || { echo "FAIL: a second --overwrite did not go to .old-2"; exit 1; }
ok "30 steps then 5: refused without a flag; --overwrite moved the first run intact to .old-1 (then .old-2)"

# 7. the schedule spans the run: lr column vs warmup + cosine over max_steps (6), resumed run too
$PY - "$W/full/log.jsonl" "$W/half/log.jsonl" "$W/clob/log.jsonl" <<'PY'
import json, math, sys
def expect(t, lr=0.003, W=2, N=6):  # lr of update t (0-based): the reference's cosine with warmup
    return lr * t / W if t < W else lr * max(0.0, 0.5 * (1 + math.cos(math.pi * (t - W) / (N - W))))
for path, N in ((sys.argv[1], 6), (sys.argv[2], 6), (sys.argv[3], 5)):
    rows = [json.loads(l) for l in open(path)]
    got = [r["lr"] for r in rows]
    want = [expect(r["step"] - 1, N=N) for r in rows]
    assert all(abs(a - b) <= 1e-9 + 1e-6 * b for a, b in zip(got, want)), (path, got, want)
    assert got[-1] == min(got[2:]) and got[-1] < 0.3 * 0.003 and max(got) > 0.9 * 0.003, got  # decays to the end
print("lr columns follow the schedule over max_steps:", ["%.3g" % r for r in want])
PY
ok "lr column = warmup + cosine over max_steps (straight, --stop-at + resume, and a 5-step run)"

# 9. log writes that fail: a file-size limit (SIGXFSZ ignored) fails the log after a few lines
set +e
out=$( (ulimit -f 2; trap '' XFSZ; exec "$BIN" train "${common[@]}" --set "train.out_dir=$W/lf" --set train.max_steps=60 --set train.checkpoint_every=1000) 2>&1 ); rc=$?
set -e
[ $rc -eq 1 ] && echo "$out" | grep -q "log.jsonl: cannot append a log line: File too large; stopped after step" \
  && echo "$out" | grep -q "checkpoint" || { echo "FAIL: failed log write: $rc $out"; exit 1; }
n=$(wc -l < "$W/lf/log.jsonl")
[ "$n" -ge 3 ] && [ "$n" -lt 60 ] && [ "$(tail -c 1 "$W/lf/log.jsonl" | od -An -c | tr -d ' ')" = '\n' ] || { echo "FAIL: log has $n lines or ends torn"; exit 1; }
$PY -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$W/lf/log.jsonl"
ok "a failed log write stops the run at once ($n whole lines kept): $(echo "$out" | grep -o 'stopped after step [0-9]*')"
# a torn last line (a crash in the middle of a write) is dropped by --resume
cp -r "$W/full" "$W/torn"
printf '{"step":7,"epoch":3,"lo' >> "$W/torn/log.jsonl"
"$BIN" train "${common[@]}" --set "train.out_dir=$W/torn" --set train.max_steps=8 --set train.checkpoint_every=3 --resume > "$W/torn.log" 2>&1 || { cat "$W/torn.log"; exit 1; }
grep -q "dropped a torn last line" "$W/torn.log" || { echo "FAIL: no warning about the torn line"; cat "$W/torn.log"; exit 1; }
$PY -c "
import json,sys
steps = [json.loads(l)['step'] for l in open(sys.argv[1])]
assert steps == list(range(1, 9)), steps" "$W/torn/log.jsonl"
ok "--resume drops a torn last line: steps 1..8 in whole lines"

# 10. precision
if "$BIN" info | grep -q "bf16 (milnce"; then
  b16=(--set train.precision=bf16 --set train.max_steps=6 --set train.checkpoint_every=3)
  "$BIN" train "${common[@]}" "${b16[@]}" --set "train.out_dir=$W/bf" > "$W/bf.log" 2>&1 || { cat "$W/bf.log"; exit 1; }
  head -1 "$W/bf.log" | grep -q "precision bf16 (train.precision bf16), GEMMs: milnce AVX512_BF16 kernel" \
    || { echo "FAIL: first line of a bf16 run: $(head -1 "$W/bf.log")"; exit 1; }
  "$BIN" train "${common[@]}" "${b16[@]}" --set "train.out_dir=$W/bfh" --stop-at 3 >/dev/null 2>&1
  "$BIN" train "${common[@]}" "${b16[@]}" --set "train.out_dir=$W/bfh" --resume >/dev/null 2>&1
  $CMP --exact "$W/bf/checkpoints/step-00000006.safetensors" "$W/bfh/checkpoints/step-00000006.safetensors"
  [ "$(losses "$W/bf/log.jsonl")" = "$(losses "$W/bfh/log.jsonl")" ] || { echo "FAIL: bf16 losses differ after resume"; exit 1; }
  $PY - "$W/full/log.jsonl" "$W/bf/log.jsonl" <<'PY'
import json, sys
f, b = ([json.loads(l)["loss"] for l in open(p)] for p in sys.argv[1:])
assert f != b, "bf16 losses equal fp32's: bf16 did not run"
# step 1 sees the same weights and batch: only rounding differs (bf16 operands: 2^-8 relative)
assert abs(f[0] - b[0]) <= 0.01 * abs(f[0]), (f[0], b[0])
assert all(abs(x - y) <= 0.05 * abs(x) for x, y in zip(f, b)), (f, b)
PY
  ok "bf16: 3 steps + resume to 6 = 6 steps, bit for bit; losses $(losses "$W/bf/log.jsonl") vs fp32 $(losses "$W/full/log.jsonl")"
else
  out=$("$BIN" train "${common[@]}" --set train.precision=bf16 --set "train.out_dir=$W/bf" 2>&1) && rc=0 || rc=$?
  [ $rc -eq 2 ] && echo "$out" | grep -q "key train.precision: bf16 needs a CPU with AVX512_BF16" \
    || { echo "FAIL: bf16 on a CPU without it: $rc $out"; exit 1; }
  "$BIN" train "${common[@]}" --set train.precision=auto --set train.max_steps=2 --set "train.out_dir=$W/auto" > "$W/auto.log" 2>&1 || { cat "$W/auto.log"; exit 1; }
  grep -q "train.precision auto: this CPU has no AVX512_BF16: fp32" "$W/auto.log" || { echo "FAIL: no fallback warning"; cat "$W/auto.log"; exit 1; }
  ok "no AVX512_BF16 here: bf16 refused naming the key, auto falls back to fp32 with a warning (bf16 runs not tested on this CPU)"
fi
echo "$pass passed, 0 failed"
