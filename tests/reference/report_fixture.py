#!/usr/bin/env python3
"""Makes a fake run folder for `milnce report` (tests/e2e_report.sh): the files train and eval
write, with the layout documented in pipeline/report/report.h.

  report_fixture.py OUT_DIR [--steps N] [--milnce BIN]

- config.yaml: `milnce config` output when --milnce is given, else a short YAML;
- log.jsonl: N steps of linear warm-up + cosine lr, a decaying noisy MIL-NCE loss (>= log 2),
  throughput and data-wait that settle after start-up, one NaN loss and one malformed line;
- eval.json: YouCook2-like metrics, example queries taken from the real YouCook2-style caption
  file, one with an injected <script>;
- thumbs/*.jpg: 160x90 frames of the real test videos (tests/data), grabbed with the ffmpeg
  command (a lavfi test pattern when a video is missing).
"""
import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys

import testenv

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = testenv.data_dir()
VIDEOS = ["flower.mp4", "chaplin.mp4", "kinetics_clip.mp4", "flipping_a_pancake.mkv", "friday.mp4",
          "stream-of-water.mp4", "ucf101_clip.avi", "carphone_pristine.mp4", "fire2.mp4", "realshort.mp4"]


def thumb(out, video, t, seed):
    src = os.path.join(TESTDATA, "videos", video)
    vf = "scale=160:90:force_original_aspect_ratio=increase,crop=160:90"
    if os.path.exists(src):
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "%.2f" % t, "-i", src, "-frames:v", "1",
               "-vf", vf, "-q:v", "4", out]
    else:
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
               "testsrc2=size=160x90:rate=1,hue=h=%d" % (seed * 40), "-frames:v", "1", "-q:v", "4", out]
    subprocess.run(cmd, check=True)
    if not os.path.exists(out) or os.path.getsize(out) == 0:  # -ss past the end: first frame
        subprocess.run([c for c in cmd if c not in ("-ss", "%.2f" % t)], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--milnce", default=None)
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "thumbs"), exist_ok=True)
    rng = random.Random(7)

    if a.milnce:
        cfg = subprocess.run([a.milnce, "config", "--set", "train.batch_size=32", "--set", "train.lr=0.001"],
                             check=True, capture_output=True, text=True).stdout
    else:
        cfg = "data:\n  num_frames: 16\n  fps: 5\ntrain:\n  batch_size: 32\n  lr: 0.001\n"
    with open(os.path.join(a.out, "config.yaml"), "w") as f:
        f.write(cfg)

    warm, lr0 = max(1, a.steps // 15), 1e-3
    with open(os.path.join(a.out, "log.jsonl"), "w") as f:
        for s in range(1, a.steps + 1):
            lr = lr0 * s / warm if s <= warm else lr0 * 0.5 * (1 + math.cos(math.pi * (s - warm) / (a.steps - warm)))
            loss = math.log(2) + 3.2 * math.exp(-s / (a.steps / 5)) + 0.6 + rng.gauss(0, 0.12)
            cps = 55 * (1 - math.exp(-s / 30)) + rng.gauss(0, 2)
            wait = 0.05 + 0.5 * math.exp(-s / 40) + abs(rng.gauss(0, 0.02))
            rec = {"step": s, "epoch": s * 32 // 4000, "loss": loss, "lr": lr, "clips_per_s": max(cps, 1),
                   "data_wait": min(wait, 1), "grad_norm": 4 * math.exp(-s / 800) + 0.5 + abs(rng.gauss(0, 0.2))}
            if s == a.steps // 2:
                rec["loss"] = float("nan")  # Python's json writes NaN
            f.write(json.dumps(rec) + "\n")
            if s == a.steps // 3:
                f.write('{"step": 17, "loss": \n')  # a torn line

    queries = []
    with open(os.path.join(TESTDATA, "howto100m", "youcook2_style_val_captions.csv")) as f:
        for row in csv.DictReader(f):
            queries.append((row["text"], row["video_id"]))
    if not queries:
        queries = [("cut the tomato", "v0"), ("boil the water", "v1"), ("add salt", "v2")]
    picks = [queries[i * len(queries) // 5] for i in range(4)]
    picks.insert(1, ("<script>document.title='pwned'</script> whisk the eggs & milk", "vid_x"))
    examples = []
    for qi, (text, vid) in enumerate(picks):
        hit = [0, 2, None, 1, 4][qi % 5]
        top = []
        for r in range(5):
            video = VIDEOS[(qi * 3 + r) % len(VIDEOS)]
            name = "q%d_r%d.jpg" % (qi, r)
            t0 = rng.uniform(0.2, 4.0)
            thumb(os.path.join(a.out, "thumbs", name), video, t0, qi * 5 + r)
            top.append({"video_id": vid if r == hit else os.path.splitext(video)[0] + "_%d" % r,
                        "start": round(t0, 2), "end": round(t0 + 5, 2), "score": round(9.5 - r * 0.7 - qi * 0.3, 3),
                        "correct": r == hit, "thumbnail": "thumbs/" + name})
        examples.append({"query": text, "gt_video": vid, "top": top})
    n = 3350
    ev = {"dataset": "youcook2 (fixture)", "n": n, "missing_videos": 3,
          "tie_rule": "rank = 1 + number of items scoring strictly higher; ties do not count against the query",
          "t2v": {"r1": 15.1, "r5": 38.0, "r10": 51.2, "median_rank": 10, "mean_rank": 88.4},
          "v2t": {"r1": 13.4, "r5": 35.2, "r10": 48.9, "median_rank": 11, "mean_rank": 92.1},
          "chance": {"r1": 100 / n, "r5": 500 / n, "r10": 1000 / n}, "examples": examples}
    with open(os.path.join(a.out, "eval.json"), "w") as f:
        json.dump(ev, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
