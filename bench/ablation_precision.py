#!/usr/bin/env python3
"""bf16 against fp32 on the ablation's runs (issue 17): does a bf16 training run end within
noise of fp32?

Pairs the runs of two bench/ablation.sh outputs by (block, corpus, setting, seed, batch, steps):
one made with PRECISION=bf16, the other with fp32 (an OUT folder, or a results.tsv such as the
committed bench/results/ablation/results.tsv: fp32 runs are deterministic, so its rows are what
a re-run gives). For each retrieval metric: the mean paired difference bf16 - fp32 with a 95% t
interval, against the noise it must be read with: the spread of fp32 between training seeds on
the same corpus and setting (sd of the seed-to-seed differences). For the loss: where both
folders hold the run's log.jsonl, the mean |bf16 - fp32| of the loss smoothed over 30 steps,
relative to the loss, and the same between two fp32 seeds.

usage: bench/ablation_precision.py BF16_OUT FP32_OUT_OR_RESULTS_TSV
"""
import csv
import itertools
import json
import math
import os
import sys

import numpy as np

from ablation_stats import METRICS, t975

KEY = ("block", "corpus", "setting", "seed", "batch", "steps")


def rows_of(path):
    tsv = path if path.endswith(".tsv") else os.path.join(path, "results.tsv")
    with open(tsv) as f:
        return {tuple(r[k] for k in KEY): r for r in csv.DictReader(f, delimiter="\t")}


def losses(out, key):
    block, corpus, setting, seed, batch, steps = key
    p = os.path.join(out, "runs", corpus, f"{setting}-b{batch}-n{steps}-s{seed}", "log.jsonl")
    if not os.path.isfile(p):
        return None
    with open(p) as f:
        return np.array([json.loads(line)["loss"] for line in f])


def smooth(x, w=30):
    return np.convolve(x, np.ones(w) / w, mode="valid")


def interval(d):
    d = np.asarray(d, float)
    if len(d) < 2:
        return d.mean(), float("nan")
    return d.mean(), t975(len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    bf_out, fp_src = sys.argv[1], sys.argv[2]
    bf, fp = rows_of(bf_out), rows_of(fp_src)
    keys = sorted(set(bf) & set(fp))
    if not keys:
        sys.exit("no run is in both")
    print(f"{len(keys)} paired runs (bf16 {bf_out} vs fp32 {fp_src})\n")
    print("| metric | fp32 mean | bf16 mean | bf16 - fp32 (95% CI) | fp32 seed-to-seed sd |")
    print("| --- | --- | --- | --- | --- |")
    for col, label, _ in METRICS:
        a = np.array([float(fp[k][col]) for k in keys])
        b = np.array([float(bf[k][col]) for k in keys])
        m, h = interval(b - a)
        # noise: fp32 differences between two seeds of the same corpus and setting
        groups = {}
        for k in fp:
            groups.setdefault((k[0], k[1], k[2], k[4], k[5]), []).append(float(fp[k][col]))
        seed_d = [x - y for g in groups.values() for x, y in itertools.combinations(g, 2)]
        sd = np.std(seed_d, ddof=1) if len(seed_d) > 1 else float("nan")
        print(f"| {label} | {a.mean():.2f} | {b.mean():.2f} | {m:+.2f} ± {h:.2f} | {sd:.2f} |")
    # loss curves where both sides kept them
    rel, seed_rel = [], []
    fp_out = None if fp_src.endswith(".tsv") else fp_src
    curves = {}
    for k in keys:
        lb = losses(bf_out, k)
        lf = losses(fp_out, k) if fp_out else None
        if lb is None or lf is None or len(lb) != len(lf):
            continue
        curves[k] = lf
        sb, sf = smooth(lb), smooth(lf)
        rel.append(np.mean(np.abs(sb - sf) / np.abs(sf)))
    groups = {}
    for k, lf in curves.items():
        groups.setdefault((k[0], k[1], k[2], k[4], k[5]), []).append(smooth(lf))
    for g in groups.values():
        for x, y in itertools.combinations(g, 2):
            seed_rel.append(np.mean(np.abs(x - y) / np.abs(y)))
    if rel:
        print(f"\nloss (30-step mean), {len(rel)} paired curves: mean |bf16 - fp32| / fp32 = "
              f"{100 * np.mean(rel):.2f}% (max {100 * np.max(rel):.2f}%)", end="")
        if seed_rel:
            print(f"; between two fp32 seeds: {100 * np.mean(seed_rel):.2f}%")
        else:
            print()
        finals = [(losses(bf_out, k)[-30:].mean(), curves[k][-30:].mean()) for k in curves]
        d = [b - f for b, f in finals]
        m, h = interval(d)
        print(f"final loss (last 30 steps): fp32 {np.mean([f for _, f in finals]):.4f}, "
              f"bf16 {np.mean([b for b, _ in finals]):.4f}, bf16 - fp32 = {m:+.4f} ± {h:.4f}")
    else:
        print("\nno loss curves in both folders (an fp32 results.tsv holds none)")


if __name__ == "__main__":
    main()
