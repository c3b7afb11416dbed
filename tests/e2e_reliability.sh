#!/usr/bin/env bash
# Bad data through the command (issue 15): nothing wrong passes silently, nothing right is lost.
#  1. preprocess: flower.mp4 + flower.webm share an id -> the second is refused ("duplicate id"
#     in errors.log); no_duration.webm (no duration in its header) gets its scanned duration and
#     lands in a shard; an unsafe id is logged as "unsafe id", not "missing video"
#  2. train: an empty vocabulary, or one that does not keep the shards' ids, is refused at
#     start-up naming the file(s) (exit 1); a sample with a token id beyond the vocabulary is
#     replaced with a warning naming its shard and key, and the run goes on
#  3. a non-UTF-8 path in data.shards / train.out_dir: the run's config.yaml reloads
#  4. a clip too small for S3D-G names data.num_frames and data.size
#  5. captions --encodings reads a GB2312 file; without it the error advises it (exit 1)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_py numpy
W=$(mktemp -d /tmp/milnce-e2e-rel-XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; exit 1; }

# 1. preprocess
mkdir -p "$W/v" "$W/c"
ln -s "$TD/videos/flower.mp4" "$W/v/flower.mp4"
ln -s "$TD/videos/flower.webm" "$W/v/flower.webm"
ln -s "$TD/videos/no_duration.webm" "$W/v/nodur.webm"
cp "$TD/howto100m/captions/2Mn5sVpFDTg.csv" "$W/c/flower.csv"
cp "$TD/howto100m/captions/3lL8XUUWg_Q.csv" "$W/c/nodur.csv"
"$BIN" preprocess --videos "$W/v" --captions "$W/c" --out "$W/o" --size 32 --fps 2 --jobs 1 >"$W/pre.log" 2>&1 \
  || fail "preprocess: $(tail -5 "$W/pre.log")"
$PY - "$W/o" <<'PY' || fail "preprocess outcome: $(cat "$W/o/errors.log")"
import glob, json, sys, tarfile
d = sys.argv[1]
st = json.load(open(d + "/stats.json"))
log = [l.split("\t") for l in open(d + "/errors.log").read().splitlines()]
keys = []
for t in sorted(glob.glob(d + "/train-*.tar")):
    with tarfile.open(t) as tf:
        names = tf.getnames()
        keys += [n.split(".")[0] for n in names if n.endswith(".json")]
        for n in names:
            if n.endswith(".json"):
                meta = json.load(tf.extractfile(n))
                if n.startswith("nodur."):
                    assert abs(meta["duration"] - 4.938) < 0.05, meta["duration"]
assert sorted(keys) == ["flower", "nodur"], keys                   # one sample per key
assert st["videos"] == 2 and st["skipped"] == 1, st
dup = [l for l in log if l[2] == "duplicate id"]
assert len(dup) == 1 and dup[0][0] == "flower" and "flower.webm" in dup[0][1] and "flower.mp4" in dup[0][3], log
PY
ok "duplicate id refused in errors.log; no_duration.webm shard-ed with its scanned 4.94 s"

printf 'video_id\nflower\n../../etc/passwd\n' > "$W/list.csv"
"$BIN" preprocess --videos "$W/list.csv" --video-root "$W/v" --captions "$W/c" --out "$W/o2" --size 32 --fps 2 \
  --jobs 1 >"$W/pre2.log" 2>&1 || fail "preprocess list: $(tail -5 "$W/pre2.log")"
grep -P '^line3\t[^\t]*\tunsafe id\t' "$W/o2/errors.log" >/dev/null || fail "unsafe id category: $(cat "$W/o2/errors.log")"
! grep -q "missing video" "$W/o2/errors.log" || fail "unsafe id logged as missing video: $(cat "$W/o2/errors.log")"
ok "refused ids logged as 'unsafe id'"

# 2. vocabulary and token ids (a small synthetic corpus trains fast)
"$BIN" synth --out "$W/syn" --videos 8 --eval-videos 1 --min-seconds 20 --max-seconds 24 --size 96x64 --fps 10 -q
"$BIN" preprocess --videos "$W/syn/train/videos.csv" --captions "$W/syn/train/captions" --out "$W/sh" --size 40 \
  --fps 5 >/dev/null 2>&1
common=(--config "$SRC/configs/demo.yaml" --set data.size=32 --set data.resize=40
        --set data.num_frames=8 --set model.width=0.125 --set model.blocks4=2 --set model.word_dim=16
        --set model.text_hidden=32 --set model.embed_dim=16 --set train.batch_size=4 --set train.warmup_steps=2
        --set train.epochs=50 --set data.workers=1 --set train.max_steps=2)
: > "$W/empty.txt"
set +e
"$BIN" train "${common[@]}" --set "data.shards=$W/sh" --set "train.out_dir=$W/r0" --set "model.vocab=$W/empty.txt" >"$W/t0.log" 2>&1; rc0=$?
$PY -c "import sys; w = open(sys.argv[1]).read().split('\n'); w[0], w[1] = w[1], w[0]; open(sys.argv[2], 'w').write('\n'.join(w))" \
  "$W/sh/vocab.txt" "$W/swapped.txt"
"$BIN" train "${common[@]}" --set "data.shards=$W/sh" --set "train.out_dir=$W/r1" --set "model.vocab=$W/swapped.txt" >"$W/t1.log" 2>&1; rc1=$?
set -e
[ $rc0 -eq 1 ] && grep -q "empty.txt is empty" "$W/t0.log" || fail "empty vocabulary: rc $rc0: $(cat "$W/t0.log")"
[ $rc1 -eq 1 ] && grep -q "swapped.txt" "$W/t1.log" && grep -q "$W/sh/vocab.txt" "$W/t1.log" \
  || fail "vocabulary mismatch: rc $rc1: $(cat "$W/t1.log")"
[ ! -e "$W/r0/log.jsonl" ] && [ ! -e "$W/r1/log.jsonl" ] || fail "a refused run wrote a log"
ok "empty or mismatched vocabulary refused at start-up naming the files (exit 1)"

# one sample's first token id replaced, in place and with as many digits, by one beyond the vocabulary
cp -r "$W/sh" "$W/shbad"
victim=$($PY - "$W/shbad" <<'PY'
import glob, json, re, sys, tarfile
d = sys.argv[1]
n = len(open(d + "/vocab.txt", encoding="utf-8").read().split("\n")) - 1
for t in sorted(glob.glob(d + "/*.tar")):
    with tarfile.open(t) as tf:
        for m in tf.getmembers():
            if not m.name.endswith(".json"):
                continue
            raw = tf.extractfile(m).read()
            mt = re.search(rb'"tokens": ?\[(\d+)', raw)
            if not mt:
                continue
            k = len(mt.group(1))
            bad = b"9" * k
            if int(bad) <= n:
                continue
            with open(t, "r+b") as f:
                f.seek(m.offset_data + mt.start(1))
                f.write(bad)
            print(t + " " + m.name.split(".")[0])
            sys.exit(0)
sys.exit("no token id to corrupt")
PY
)
tar_path=${victim% *}; key=${victim#* }
"$BIN" train "${common[@]}" --set "data.shards=$W/shbad" --set "train.out_dir=$W/r2" >"$W/t2.log" 2>&1 \
  || fail "a bad sample ended the run: $(tail -5 "$W/t2.log")"
grep "sample replaced" "$W/t2.log" | grep -F "$tar_path" | grep -F "sample $key" | grep -q "beyond the vocabulary" \
  || fail "no warning naming shard $tar_path and key $key: $(grep -i 'replaced\|token' "$W/t2.log")"
[ "$(wc -l < "$W/r2/log.jsonl")" -eq 2 ] || fail "the run did not finish its 2 steps"
ok "token id beyond the vocabulary: sample replaced, warned with shard and key, run finished"

# 3. non-UTF-8 paths in the config round-trip through config.yaml
odd=$(printf 'x\377y')
ln -s "$W/sh" "$W/sh-$odd"
"$BIN" train "${common[@]}" --set "data.shards=$W/sh-$odd" --set "train.out_dir=$W/run-$odd" --set train.max_steps=1 \
  >"$W/t3.log" 2>&1 || fail "train with a non-UTF-8 path: $(tail -5 "$W/t3.log")"
"$BIN" config --config "$W/run-$odd/config.yaml" > "$W/reloaded.yaml" 2>"$W/c3.err" || fail "config.yaml does not reload: $(cat "$W/c3.err")"
cmp -s "$W/run-$odd/config.yaml" "$W/reloaded.yaml" || fail "config.yaml changes on reload: $(diff "$W/run-$odd/config.yaml" "$W/reloaded.yaml")"
ok "non-UTF-8 path: config.yaml reloads to the same text"

# 4. too small a clip names the keys
set +e
"$BIN" train "${common[@]}" --set "data.shards=$W/sh" --set "train.out_dir=$W/r4" --set data.num_frames=2 --set data.size=8 >"$W/t4.log" 2>&1; rc4=$?
set -e
[ $rc4 -ne 0 ] && grep -q "data.num_frames = 2 and data.size = 8" "$W/t4.log" || fail "small clip: rc $rc4: $(cat "$W/t4.log")"
ok "a clip too small for the encoder names data.num_frames and data.size"

# 5. captions: --encodings
set +e
"$BIN" captions "$TD/subtitles/srt/gb2312.srt" >/dev/null 2>"$W/c5.err"; rc5=$?
set -e
[ $rc5 -eq 1 ] && grep -q -- "--encodings" "$W/c5.err" || fail "captions on GB2312 without an encoding: rc $rc5: $(cat "$W/c5.err")"
"$BIN" captions "$TD/subtitles/srt/gb2312.srt" --encodings UTF-8,GB18030 > "$W/c5.json" 2>/dev/null || fail "captions --encodings"
$PY -c "import json,sys; d = json.load(open(sys.argv[1])); assert d['n'] == 3, d" "$W/c5.json"
ok "captions --encodings reads a GB2312 file; the error without it says so (exit 1)"
echo "$pass passed, 0 failed"
