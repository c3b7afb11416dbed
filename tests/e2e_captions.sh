#!/usr/bin/env bash
# `milnce captions` on real HowTo100M caption files: cues, tokens, ids, bags and clip spans in its
# JSON checked by Python (csv module, re.findall, a transcription of the reference window rule).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_py csv
TMP=$(mktemp -d /tmp/milnce-e2e-captions-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
pass=0

for f in 5vKzzqkTt-Q 2Mn5sVpFDTg kCqWcFokgoc; do
  csv="$TD/howto100m/captions/$f.csv"
  # A vocabulary of the file's most frequent words (ids = line numbers), made by Python.
  "$PY" - "$csv" "$TMP/vocab.txt" <<'PY'
import collections, csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
c = collections.Counter(w for r in rows for w in re.findall(r"[\w']+", r["text"].lower()))
open(sys.argv[2], "w", encoding="utf-8").write("".join(w + "\n" for w, _ in c.most_common(60)))
PY
  for win in nearest:4 symmetric:2:1.0; do
    "$BIN" captions "$csv" --window "$win" --vocab "$TMP/vocab.txt" --max-words 8 --min-time 5 > "$TMP/out.json"
    "$PY" - "$csv" "$TMP/vocab.txt" "$TMP/out.json" "$win" <<'PY'
import csv, json, re, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
vocab = {w: i + 1 for i, w in enumerate(open(sys.argv[2], encoding="utf-8").read().split("\n")[:-1])}
out = json.load(open(sys.argv[3], encoding="utf-8"))
rule, _, arg = sys.argv[4].partition(":")
assert out["n"] == len(rows) == len(out["cues"]), (out["n"], len(rows))
st = [float(r["start"]) for r in rows]
en = [float(r["end"]) for r in rows]
for r, c in zip(rows, out["cues"]):
    assert c["start"] == float(r["start"]) and c["end"] == float(r["end"]), (c, r)
    assert c["text"] == " ".join(r["text"].split()), (c["text"], r["text"])
    words = re.findall(r"[\w']+", r["text"].lower())
    assert c["tokens"] == words, (c["tokens"], words)
    ids = [vocab[w] for w in words if w in vocab][:8]
    assert c["ids"] == ids + [0] * (8 - len(ids)), (c["ids"], ids)
def nearest(a, K):
    s = e = a
    for got in range(1, K):
        if s == 0: break
        if e == len(st) - 1:
            s -= K - got
            break
        if en[e] - st[s - 1] < en[e + 1] - st[s]: s -= 1
        else: e += 1
    return [max(0, min(len(st) - 1, s + i)) for i in range(K)]
def symmetric(a, k, gap):
    lo = a
    while lo > 0 and a - lo < k and st[a] - en[lo - 1] <= gap: lo -= 1
    hi = a
    while hi < len(st) - 1 and hi - a < k and st[hi + 1] - en[a] <= gap: hi += 1
    return list(range(lo, hi + 1))
assert out["window"]["rule"] == rule
for b in out["bags"]:
    a = b["anchor"]
    if rule == "nearest":
        want = nearest(a, int(arg))
    else:
        k, g = arg.split(":")
        want = symmetric(a, int(k), float(g))
    assert b["indices"] == want, (a, b["indices"], want)
    s, e = st[a], en[a]
    if e - s < 5:
        s = max(0.0, s - (5 - (e - s)) / 2)
        e = s + 5
    assert abs(b["clip"][0] - s) < 1e-9 and abs(b["clip"][1] - e) < 1e-9, (b["clip"], s, e)
assert len(out["bags"]) == len(rows)
print("ok", sys.argv[1].rsplit("/", 1)[-1], sys.argv[4], len(rows), "cues")
PY
    pass=$((pass + 1))
  done
done

# Other formats go through the same path: a YouTube VTT gives cues with tokens.
"$BIN" captions "$TD/subtitles/youtube/meow.en.vtt" --window nearest:2 > "$TMP/vtt.json" 2>/dev/null
"$PY" -c "
import json, re, sys
o = json.load(open('$TMP/vtt.json'))
assert o['n'] > 0 and len(o['bags']) == o['n']
for c in o['cues']: assert c['tokens'] == re.findall(r\"[\w']+\", c['text'].lower()), c
print('ok vtt', o['n'], 'cues')"
pass=$((pass + 1))

# Usage errors exit 2, runtime errors 1, with a message naming the culprit.
set +e
"$BIN" captions "$TD/howto100m/captions/2Mn5sVpFDTg.csv" --window wide:3 2> "$TMP/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "wide:3" "$TMP/err" || { echo "FAIL: bad window: rc $rc: $(cat "$TMP/err")"; exit 1; }
set +e
"$BIN" captions "$TMP/none.csv" 2> "$TMP/err"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "none.csv" "$TMP/err" || { echo "FAIL: missing file: rc $rc: $(cat "$TMP/err")"; exit 1; }
printf 'a\n\nb\n' > "$TMP/bad_vocab.txt"
set +e
"$BIN" captions "$TD/howto100m/captions/2Mn5sVpFDTg.csv" --vocab "$TMP/bad_vocab.txt" 2> "$TMP/err"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "bad_vocab.txt:2:" "$TMP/err" || { echo "FAIL: bad vocab: rc $rc: $(cat "$TMP/err")"; exit 1; }
pass=$((pass + 3))
echo "$pass passed, 0 failed"
