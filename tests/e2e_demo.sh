#!/usr/bin/env bash
# `milnce demo` end to end, as the README runs it (built-in configuration, nothing reduced): every
# stage runs and leaves its outputs, the printed table has both directions and chance, the model
# learned (text -> video R@5 >= 10x chance, parsed from the printed table and checked against
# eval.json), the report is self-contained, and configs/demo.yaml is the built-in config.
# Results are deterministic per CPU family (OpenBLAS kernel), not bit-equal across machines.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
W=$(mktemp -d /tmp/milnce-e2e-demo-XXXXXX)
trap 'rm -rf "$W"' EXIT
"$BIN" demo --print-config | diff - "$SRC/configs/demo.yaml"
"$BIN" demo --out "$W/demo" > "$W/out.txt" 2> "$W/err.txt" || { cat "$W/err.txt"; exit 1; }
cat "$W/out.txt"
for f in corpus/eval/youcook2_val.csv shards/train-000000.tar shards/vocab.txt config.yaml log.jsonl \
         checkpoints/latest eval.json report.html; do
  [ -s "$W/demo/$f" ] || { echo "FAIL: $f missing"; exit 1; }
done
grep -q "^  text -> video " "$W/out.txt" && grep -q "^  video -> text " "$W/out.txt" && grep -q "^  chance " "$W/out.txt" ||
  { echo "FAIL: the retrieval table lacks a row"; exit 1; }
# The table's R@5 column (3rd number) for text -> video and chance, and the printed ratio; the
# exact ratio (unrounded chance) is checked on eval.json below.
r5=$(awk '/^  text -> video +[0-9]/ {print $5}' "$W/out.txt")
c5=$(awk '/^  chance +[0-9]/ {print $3}' "$W/out.txt")
ratio=$(sed -n 's/^  text -> video R@5 is \([0-9.]*\)x chance.*/\1/p' "$W/out.txt")
echo "text -> video R@5 $r5 %, chance $c5 %, printed ratio ${ratio}x"
awk -v r="$r5" -v c="$c5" -v x="$ratio" 'BEGIN { exit !(c > 0 && r > 0 && x >= 10) }' ||
  { echo "FAIL: text -> video R@5 $r5 is below 10x chance ($c5): ${ratio}x"; exit 1; }
steps=$(sed -n 's/^milnce demo: [0-9]* training videos, \([0-9]*\) steps.*/\1/p' "$W/out.txt")
"$PY" - "$W/demo" "$r5" "$steps" <<'PY'
import json, sys
d, r5, steps = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
e = json.load(open(d + "/eval.json"))
assert e["n"] > 0 and abs(e["t2v"]["r5"] - r5) < 0.05 + 1e-9, (e["t2v"], r5)
assert e["t2v"]["r5"] >= 10 * e["chance"]["r5"] > 0, e
html = open(d + "/report.html").read()
assert "<svg" in html and "http" not in html.replace("http://www.w3.org", ""), "report not self-contained"
log = [json.loads(l) for l in open(d + "/log.jsonl")]
assert steps > 0 and len(log) == steps and log[-1]["step"] == steps, (steps, len(log))
PY
echo "1 passed, 0 failed"
