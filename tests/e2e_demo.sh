#!/usr/bin/env bash
# `milnce demo` end to end on a reduced budget: every stage runs and leaves its outputs, the
# printed table has both directions and chance, and configs/demo.yaml is the built-in config.
set -euo pipefail
BIN=$(realpath "${MILNCE_BIN:-build/milnce}")
SRC=${MILNCE_SOURCE_DIR:-$(pwd)}
PY=${MILNCE_PYTHON:-/usr/bin/python3}
W=$(mktemp -d /tmp/milnce-e2e-demo-XXXXXX)
trap 'rm -rf "$W"' EXIT
"$BIN" demo --print-config | diff - "$SRC/configs/demo.yaml"
"$BIN" demo --out "$W/demo" --train-videos 16 --eval-videos 3 --set train.max_steps=12 --set train.checkpoint_every=6 --set train.epochs=50 > "$W/out.txt" 2> "$W/err.txt" || { cat "$W/err.txt"; exit 1; }
cat "$W/out.txt"
for f in corpus/eval/youcook2_val.csv shards/train-000000.tar shards/vocab.txt config.yaml log.jsonl \
         checkpoints/latest eval.json report.html; do
  [ -s "$W/demo/$f" ] || { echo "FAIL: $f missing"; exit 1; }
done
grep -q "text -> video" "$W/out.txt" && grep -q "chance" "$W/out.txt"
$PY - "$W/demo" <<'PY'
import json, sys
d = sys.argv[1]
e = json.load(open(d + "/eval.json"))
assert e["n"] > 0 and 0 <= e["t2v"]["r5"] <= 100 and e["chance"]["r5"] > 0, e
html = open(d + "/report.html").read()
assert "<svg" in html and "http" not in html.replace("http://www.w3.org", ""), "report not self-contained"
assert len(open(d + "/log.jsonl").read().splitlines()) == 12
PY
echo "1 passed, 0 failed"
