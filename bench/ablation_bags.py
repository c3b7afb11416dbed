#!/usr/bin/env python3
"""How often a training bag holds a sentence that describes its clip, on a synth corpus.

Reads train/truth.json (which segment each narration line describes, -1 for fillers) and
replays the loader's sampling: a random anchor sentence, the clip span = the anchor's
[start, end] widened to min_time, a num_frames/fps clip at a random place inside it, the bag
by the nearest or symmetric window rule (as src/text/window.c and the reference loader state it).
A bag "hits" when one of its sentences describes the segment under the clip's centre.

usage: bench/ablation_bags.py CORPUS_DIR [SAMPLES] [--json]   (min_time 4 s, clip 8 frames at 5 fps)
--json prints {window: {"anchor_right", "bag_has_one", "bag_share_right"}} (fractions) instead
of the table; bench/ablation.sh uses "bag_has_one" as its misalignment axis.
"""
import json
import random
import sys


def nearest(start, end, anchor, k):
    s = e = anchor
    last = len(start) - 1
    for count in range(1, k):
        if s == 0:
            break
        if e == last:
            s -= k - count
            break
        if end[e] - start[s - 1] < end[e + 1] - start[s]:
            s -= 1
        else:
            e += 1
    return [min(max(s + i, 0), last) for i in range(k)]


def symmetric(start, end, anchor, k):
    return list(range(max(0, anchor - k), min(len(start), anchor + k + 1)))


def segment_at(video, t):
    for i, s in enumerate(video["segments"]):
        if s["start"] <= t < s["end"]:
            return i
    return len(video["segments"]) - 1


def main():
    args = [a for a in sys.argv[1:] if a != "--json"]
    as_json = len(args) < len(sys.argv) - 1
    corpus = args[0]
    samples = int(args[1]) if len(args) > 1 else 20000
    videos = json.load(open(corpus + "/train/truth.json"))
    min_time, clip = 4.0, 8 / 5.0
    settings = [("nce (K=1)", nearest, 1), ("nearest 3", nearest, 3), ("nearest 5", nearest, 5),
                ("symmetric 1", symmetric, 1), ("symmetric 2", symmetric, 2)]
    if not as_json:
        print("%-12s %14s %14s %14s" % ("window", "anchor right", "bag has one", "bag share right"))
    stats = {}
    for name, rule, k in settings:
        rng = random.Random(1)
        right = hit = share = 0.0
        for _ in range(samples):
            v = rng.choice(videos)
            lines = v["narration"]
            st = [l["start"] for l in lines]
            en = [l["end"] for l in lines]
            a = rng.randrange(len(lines))
            s0, s1 = st[a], en[a]
            if s1 - s0 < min_time:
                s0 = max(0.0, s0 - (min_time - (s1 - s0)) / 2)
                s1 = s0 + min_time
            centre = s0 + max(0.0, s1 - s0 - clip) * rng.random() + clip / 2
            seg = segment_at(v, centre)
            bag = [lines[j]["segment"] for j in rule(st, en, a, k)]
            right += lines[a]["segment"] == seg
            hit += seg in bag
            share += sum(b == seg for b in bag) / len(bag)
        stats[name] = {"anchor_right": right / samples, "bag_has_one": hit / samples,
                       "bag_share_right": share / samples}
        if not as_json:
            print("%-12s %13.0f%% %13.0f%% %13.0f%%" % (name, 100 * right / samples, 100 * hit / samples,
                                                       100 * share / samples))
    if as_json:
        print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
