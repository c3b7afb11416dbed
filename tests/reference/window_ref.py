#!/usr/bin/env python3
"""Reference bags for tests/check_window.c, from an independent transcription of the reference
windowing (antoine77340/MIL-NCE_HowTo100M, video_loader.py, _find_nearest_candidates/_get_text)
and of the design's symmetric rule, on every real HowTo100M caption file.

Writes <out>/bags.json:
  {"files": [{"name": "x.csv", "n": N, "start": [...], "end": [...],
              "nearest": {"1": [[bag of anchor 0], ...], ..., "6": ...},
              "symmetric": {"0": ..., "1": ..., "2": ..., "3": ...},      # no max_gap
              "symmetric_gap": {"2:0.5": ..., "3:2.0": ...},            # k:max_gap
              "span": [[start, end] for min_time 5 of every anchor],
              "start_range": {"3.2": [[lo, hi] of the whole-second clip start], "1.6": ...}}]}
Symmetric bags list only the kept indices (the C side's mask-1 slots).

Rows are read with the csv module and stably sorted by start (the reference reads the file in
order without sorting; these files are already sorted, which the script asserts so a change in
the data is noticed)."""
import argparse
import csv
import glob
import json
import os

import testenv


def nearest(start, end, a, K):
    # Same loop as the reference, written over plain lists.
    s = e = a
    n = len(start)
    got = 1
    while got < K:
        if s == 0:
            s = 0
            break
        if e == n - 1:
            s = s - (K - got)
            break
        if end[e] - start[s - 1] < end[e + 1] - start[s]:
            s -= 1
        else:
            e += 1
        got += 1
    return [max(0, min(n - 1, s + i)) for i in range(K)]


def symmetric(start, end, a, k, max_gap=None):
    left = []
    for j in range(a - 1, max(-1, a - 1 - k), -1):
        if max_gap is not None and start[a] - end[j] > max_gap:
            break
        left.append(j)
    right = []
    for j in range(a + 1, min(len(start), a + 1 + k)):
        if max_gap is not None and start[j] - end[a] > max_gap:
            break
        right.append(j)
    return sorted(left) + [a] + right


def span(s, e, min_time):
    if e - s < min_time:
        d = min_time - e + s
        s = max(0.0, s - d / 2)
        e = s + min_time
    return [s, e]


def start_range(s, e, min_time, num_sec):
    """The reference's clip start: _get_text returns int(start), int(end) of the widened span and
    _get_video draws random.randint(start, int(max(start, end - num_sec))): [lo, hi] inclusive."""
    s, e = span(s, e, min_time)
    s, e = int(s), int(e)
    return [s, int(max(s, e - num_sec))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = testenv.data_dir()
    files = sorted(glob.glob(os.path.join(data, "howto100m", "captions", "*.csv")))
    assert len(files) == 40, "expected the 40 HowTo100M caption files, found %d" % len(files)
    out = []
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        raw = [float(r["start"]) for r in rows]
        assert raw == sorted(raw), path + " is not sorted by start"
        order = sorted(range(len(rows)), key=lambda i: raw[i])
        start = [float(rows[i]["start"]) for i in order]
        end = [float(rows[i]["end"]) for i in order]
        n = len(start)
        rec = {"name": os.path.basename(path), "n": n, "start": start, "end": end,
               "nearest": {}, "symmetric": {}, "symmetric_gap": {}}
        for K in range(1, 7):
            rec["nearest"][str(K)] = [nearest(start, end, a, K) for a in range(n)]
        for k in range(0, 4):
            rec["symmetric"][str(k)] = [symmetric(start, end, a, k) for a in range(n)]
        for k, g in ((2, 0.5), (3, 2.0)):
            rec["symmetric_gap"]["%d:%s" % (k, g)] = [symmetric(start, end, a, k, g) for a in range(n)]
        rec["span"] = [span(start[a], end[a], 5.0) for a in range(n)]
        rec["start_range"] = {str(t): [start_range(start[a], end[a], 5.0, t) for a in range(n)] for t in (3.2, 1.6)}
        out.append(rec)
    os.makedirs(args.out, exist_ok=True)
    tmp = os.path.join(args.out, "bags.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"files": out}, f)
    os.replace(tmp, os.path.join(args.out, "bags.json"))
    print("wrote %d files, %d anchors" % (len(out), sum(r["n"] for r in out)))


if __name__ == "__main__":
    main()
