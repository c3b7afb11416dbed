#!/usr/bin/env python3
"""Statistics and report of bench/ablation.sh: paired differences to NCE with 95% intervals.

Reads OUT/results.tsv (one line per finished run) and OUT/bags/<corpus>.json
(bench/ablation_bags.py --json). A condition = (narration shift, filler rate, batch, steps); within
a condition every setting is paired with NCE by (corpus, training seed), and for each metric the
mean paired difference (setting - NCE) gets a 95% t interval over the pairs (df = pairs - 1).
Verdict: "better" when the interval lies wholly on the good side of 0 (recall up, rank down),
"worse" when wholly on the bad side, else "indistinguishable"; none below 5 pairs. Pairs share corpora (3 per
condition), so the interval treats corpus-to-corpus variation as part of the pair noise; the
per-corpus means are in table.tsv for a look at that. No correction for the many comparisons.

Writes OUT/table.md, OUT/table.tsv, OUT/report.html (SVG plots made here; no matplotlib).
usage: bench/ablation_stats.py OUT
"""
import csv
import glob
import html
import json
import math
import os
import sys

import numpy as np

METRICS = [("t2v_r1", "t→v R@1", 1), ("t2v_r5", "t→v R@5", 1), ("t2v_r10", "t→v R@10", 1),
           ("t2v_medr", "t→v MedR", -1), ("v2t_r1", "v→t R@1", 1), ("v2t_r5", "v→t R@5", 1),
           ("v2t_r10", "v→t R@10", 1), ("v2t_medr", "v→t MedR", -1)]
# setting -> the window of ablation_bags.py its bag follows
BAG_OF = {"nce": "nce (K=1)", "milnce-s1": "symmetric 1", "milnce-n3": "nearest 3",
          "max-s1": "symmetric 1", "cat-s1": "symmetric 1"}
SETTING_ORDER = ["milnce-s1", "milnce-n3", "max-s1", "cat-s1"]
# fewer pairs give an interval but no verdict: with 3 pairs a discrete metric (MedR) often has
# three equal differences and a zero-width interval
MIN_PAIRS = 5
# two-sided 95% Student t quantiles, df 1..30 (beyond: normal)
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042]


def t975(df):
    return T975[df - 1] if df <= len(T975) else 1.96


def cond_name(c):
    shift, fill, batch, steps = c
    parts = []
    parts.append("aligned (shift 0)" if float(shift) == 0 else "shift %g" % float(shift))
    parts.append("fillers %g" % float(fill))
    parts.append("B %s" % batch)
    parts.append("%s steps" % steps)
    return ", ".join(parts)


def load(out):
    rows = list(csv.DictReader(open(os.path.join(out, "results.tsv")), delimiter="\t"))
    bags = {}
    for p in glob.glob(os.path.join(out, "bags", "*.json")):
        try:
            bags[os.path.basename(p)[:-5]] = json.load(open(p))
        except ValueError:
            pass
    return rows, bags


def analyse(rows, bags):
    """-> list of dicts, one per (condition, setting != nce) with paired stats per metric."""
    runs = {}
    for r in rows:
        cond = (r["shift"], r["fillers"], r["batch"], r["steps"])
        runs[(cond, r["setting"], r["corpus"], r["seed"])] = r
    conds = sorted({k[0] for k in runs}, key=lambda c: (int(c[3]), -int(c[2]), float(c[1]), float(c[0])))
    res = []
    for cond in conds:
        settings = [s for s in SETTING_ORDER if any(k[0] == cond and k[1] == s for k in runs)]
        for s in settings:
            pairs = sorted((k[2], k[3]) for k in runs if k[0] == cond and k[1] == s and (cond, "nce", k[2], k[3]) in runs)
            if not pairs:
                continue
            corpora = sorted({c for c, _ in pairs})
            x = np.mean([bags[c][BAG_OF[s]]["bag_has_one"] for c in corpora if c in bags] or [np.nan])
            x_nce = np.mean([bags[c][BAG_OF["nce"]]["anchor_right"] for c in corpora if c in bags] or [np.nan])
            entry = {"cond": cond, "setting": s, "n": len(pairs), "corpora": corpora, "bag_hit": x,
                     "nce_hit": x_nce, "metrics": {}}
            for key, label, sign in METRICS:
                a = np.array([float(runs[(cond, s, c, sd)][key]) for c, sd in pairs])
                b = np.array([float(runs[(cond, "nce", c, sd)][key]) for c, sd in pairs])
                d = a - b
                n = len(d)
                mean = float(d.mean())
                half = float(t975(n - 1) * d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
                lo, hi = mean - half, mean + half
                if n < MIN_PAIRS:
                    verdict = "too few pairs"
                elif sign * lo > 0 and sign * hi > 0:
                    verdict = "better"
                elif sign * lo < 0 and sign * hi < 0:
                    verdict = "worse"
                else:
                    verdict = "indistinguishable"
                per_corpus = {c: float(np.mean([d[i] for i, (cc, _) in enumerate(pairs) if cc == c])) for c in corpora}
                entry["metrics"][key] = {"setting_mean": float(a.mean()), "setting_sd": float(a.std(ddof=1)) if n > 1 else 0.0,
                                         "nce_mean": float(b.mean()), "nce_sd": float(b.std(ddof=1)) if n > 1 else 0.0,
                                         "diff": mean, "lo": lo, "hi": hi, "verdict": verdict,
                                         "per_corpus": per_corpus}
            res.append(entry)
    return res


def trend(rows, bags, setting="milnce-s1", batch="16", steps="300"):
    """Does the gain grow with misalignment? OLS over all pairs of the B 16 / 300-step conditions:
    paired difference (setting - NCE) against x = the share of NCE's single sentences that describe
    their clip on that corpus (bench/ablation_bags.py, "anchor right", in %). The claim predicts a
    negative slope. -> {metric: (slope per 10 points, lo, hi, pairs, levels)}; 95% t interval,
    df = pairs - 2."""
    runs = {(r["corpus"], r["setting"], r["seed"]): r for r in rows if r["batch"] == batch and r["steps"] == steps}
    out = {}
    for key, _, _ in METRICS:
        xs, ds, lv = [], [], set()
        for (c, s, sd), r in runs.items():
            if s != setting or (c, "nce", sd) not in runs or c not in bags:
                continue
            xs.append(100 * bags[c]["nce (K=1)"]["anchor_right"])
            ds.append(float(r[key]) - float(runs[(c, "nce", sd)][key]))
            lv.add((r["shift"], r["fillers"]))
        n = len(xs)
        if n < 4 or len(lv) < 2:
            continue
        x, d = np.array(xs), np.array(ds)
        xm = x - x.mean()
        slope = float((xm * (d - d.mean())).sum() / (xm ** 2).sum())
        resid = d - d.mean() - slope * xm
        se = math.sqrt(float((resid ** 2).sum()) / (n - 2) / float((xm ** 2).sum()))
        half = t975(n - 2) * se
        out[key] = (10 * slope, 10 * (slope - half), 10 * (slope + half), n, len(lv))
    return out


def write_tables(out, res, tr=None):
    with open(os.path.join(out, "table.tsv"), "w") as f:
        f.write("condition\tsetting\tpairs\tbag_hit\tnce_anchor_hit\tmetric\tsetting_mean\tnce_mean\tdiff\tci_lo\tci_hi\tverdict\tper_corpus_diff\n")
        for e in res:
            for key, label, _ in METRICS:
                m = e["metrics"][key]
                f.write("%s\t%s\t%d\t%.3f\t%.3f\t%s\t%.2f\t%.2f\t%+.2f\t%+.2f\t%+.2f\t%s\t%s\n" % (
                    cond_name(e["cond"]), e["setting"], e["n"], e["bag_hit"], e["nce_hit"], key, m["setting_mean"],
                    m["nce_mean"], m["diff"], m["lo"], m["hi"], m["verdict"],
                    " ".join("%s:%+.2f" % kv for kv in m["per_corpus"].items())))
    lines = ["# MIL-NCE ablation: paired difference to NCE (setting − NCE), mean [95% t interval]", "",
             "Recall in percentage points (higher is better), MedR in ranks (lower is better). "
             "Pairs = (corpus, training seed). bag hit = share of training bags holding a sentence that "
             "describes the clip (bench/ablation_bags.py; NCE's anchor alone in brackets).", ""]
    hdr = "| condition | setting | pairs | bag hit (NCE) | " + " | ".join(l for _, l, _ in METRICS) + " |"
    lines += [hdr, "|" + " --- |" * (4 + len(METRICS))]
    mark = {"better": " **+**", "worse": " **−**", "indistinguishable": "", "too few pairs": " (n<5)"}
    for e in res:
        cells = []
        for key, _, _ in METRICS:
            m = e["metrics"][key]
            cells.append("%+.1f [%+.1f, %+.1f]%s" % (m["diff"], m["lo"], m["hi"], mark[m["verdict"]]))
        lines.append("| %s | %s | %d | %.0f%% (%.0f%%) | %s |" % (cond_name(e["cond"]), e["setting"], e["n"],
                                                              100 * e["bag_hit"], 100 * e["nce_hit"], " | ".join(cells)))
    lines += ["", "**+** = better than NCE, **−** = worse (95% interval excludes 0); unmarked = indistinguishable; (n<5) = fewer than 5 pairs, no verdict.", ""]
    lines += ["## Verdict per condition and setting", "", "| condition | setting | pairs | better than NCE on | worse on | verdict |",
              "| --- | --- | --- | --- | --- | --- |"]
    for e in res:
        M = e["metrics"]
        good = [l for k, l, _ in METRICS if M[k]["verdict"] == "better"]
        bad = [l for k, l, _ in METRICS if M[k]["verdict"] == "worse"]
        if e["n"] < MIN_PAIRS:
            v = "too few pairs"
        elif good and not bad:
            v = "better"
        elif bad and not good:
            v = "worse"
        elif good and bad:
            v = "mixed"
        else:
            v = "indistinguishable"
        lines.append("| %s | %s | %d | %s | %s | %s |" % (cond_name(e["cond"]), e["setting"], e["n"], ", ".join(good) or "—",
                                                         ", ".join(bad) or "—", v))
    lines.append("")
    if tr:
        lines += ["## Trend with misalignment (milnce-s1 − NCE, B 16, 300 steps)", "",
                  "Slope of the paired difference per +10 points of NCE's anchor-right share (OLS over pairs, "
                  "95% t interval). The claim predicts a negative slope for recall (less aligned narration → "
                  "larger gain) and a positive one for MedR.", "",
                  "| metric | slope per +10 pts aligned | 95% interval | pairs | levels |", "| --- | --- | --- | --- | --- |"]
        for key, label, _ in METRICS:
            if key in tr:
                sl, lo, hi, n, nl = tr[key]
                lines.append("| %s | %+.2f | [%+.2f, %+.2f] | %d | %d |" % (label, sl, lo, hi, n, nl))
        lines.append("")
    lines += [
              "## Absolute values (mean ± sd over pairs)", "",
              "| condition | setting | pairs | t→v R@5 setting | t→v R@5 NCE | t→v R@10 setting | t→v R@10 NCE | v→t R@5 setting | v→t R@5 NCE |",
              "|" + " --- |" * 9]
    for e in res:
        M = e["metrics"]
        f5, f10, v5 = M["t2v_r5"], M["t2v_r10"], M["v2t_r5"]
        lines.append("| %s | %s | %d | %.1f ± %.1f | %.1f ± %.1f | %.1f ± %.1f | %.1f ± %.1f | %.1f ± %.1f | %.1f ± %.1f |" % (
            cond_name(e["cond"]), e["setting"], e["n"], f5["setting_mean"], f5["setting_sd"], f5["nce_mean"], f5["nce_sd"],
            f10["setting_mean"], f10["setting_sd"], f10["nce_mean"], f10["nce_sd"], v5["setting_mean"], v5["setting_sd"],
            v5["nce_mean"], v5["nce_sd"]))
    text = "\n".join(lines) + "\n"
    open(os.path.join(out, "table.md"), "w").write(text)
    return text


COLORS = {"milnce-s1": "#1f77b4", "milnce-n3": "#2ca02c", "max-s1": "#d62728", "cat-s1": "#9467bd"}


def svg_misalignment(res, key, label, sign):
    """Paired difference vs bag hit share, one point per (condition at B 16, 300 steps, setting)."""
    pts = [e for e in res if e["cond"][2] == "16" and e["cond"][3] == "300" and not math.isnan(e["bag_hit"])]
    if not pts:
        return ""
    W, H, L, R, T, Bm = 520, 300, 60, 150, 20, 45
    xs = [e["bag_hit"] * 100 for e in pts]
    ys = [v for e in pts for v in (e["metrics"][key]["lo"], e["metrics"][key]["hi"]) if math.isfinite(v)] + [0]
    x0, x1 = min(xs) - 3, max(xs) + 3
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.08 or 1
    y0, y1 = y0 - pad, y1 + pad
    X = lambda v: L + (v - x0) / (x1 - x0) * (W - L - R)
    Y = lambda v: T + (y1 - v) / (y1 - y0) * (H - T - Bm)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (W, H),
         '<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (L, T, W - L - R, H - T - Bm),
         '<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#666" stroke-dasharray="4 3"/>' % (L, W - R, Y(0), Y(0))]
    for i in range(5):
        v = y0 + (y1 - y0) * i / 4
        o.append('<text x="%d" y="%.1f" text-anchor="end">%+.1f</text>' % (L - 4, Y(v) + 4, v))
        xv = x0 + (x1 - x0) * i / 4
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%.0f%%</text>' % (X(xv), H - Bm + 15, xv))
    o.append('<text x="%.1f" y="%d" text-anchor="middle">share of bags holding a matching sentence</text>' % ((L + W - R) / 2, H - 8))
    o.append('<text x="14" y="%.1f" transform="rotate(-90 14 %.1f)" text-anchor="middle">%s: setting − NCE%s</text>'
             % ((T + H - Bm) / 2, (T + H - Bm) / 2, html.escape(label), "" if sign > 0 else " (lower = better)"))
    seen = set()
    for j, e in enumerate(pts):
        m = e["metrics"][key]
        c = COLORS.get(e["setting"], "#333")
        cx = X(e["bag_hit"] * 100) + (SETTING_ORDER.index(e["setting"]) - 1.5) * 4
        if math.isfinite(m["lo"]):
            o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>' % (cx, cx, Y(m["lo"]), Y(m["hi"]), c))
        o.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s, %s: %+.2f [%+.2f, %+.2f], %d pairs</title></circle>'
                 % (cx, Y(m["diff"]), c, html.escape(cond_name(e["cond"])), e["setting"], m["diff"], m["lo"], m["hi"], e["n"]))
        tag = cond_name(e["cond"]).split(", B")[0]
        if tag not in seen:
            seen.add(tag)
            o.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#555" font-size="9">%s</text>' % (X(e["bag_hit"] * 100), T + 12 + 10 * (len(seen) % 2), html.escape(tag)))
    for i, s in enumerate(SETTING_ORDER):
        o.append('<circle cx="%d" cy="%d" r="4" fill="%s"/><text x="%d" y="%d">%s</text>' % (W - R + 14, T + 12 + 16 * i, COLORS[s], W - R + 22, T + 16 + 16 * i, s))
    o.append("</svg>")
    return "\n".join(o)


def svg_forest(res, key, label, sign):
    """Every (condition, setting): difference and interval, one row each."""
    if not res:
        return ""
    W, row, L, R, T = 760, 18, 330, 30, 20
    H = T + row * len(res) + 30
    vals = [v for e in res for v in (e["metrics"][key]["lo"], e["metrics"][key]["hi"]) if math.isfinite(v)] + [0]
    v0, v1 = min(vals), max(vals)
    pad = (v1 - v0) * 0.05 or 1
    v0, v1 = v0 - pad, v1 + pad
    X = lambda v: L + (v - v0) / (v1 - v0) * (W - L - R)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (W, H),
         '<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#666" stroke-dasharray="4 3"/>' % (X(0), X(0), T - 5, H - 25)]
    for i, e in enumerate(res):
        m = e["metrics"][key]
        y = T + row * i + row / 2
        c = COLORS.get(e["setting"], "#333")
        o.append('<text x="%d" y="%.1f" text-anchor="end">%s — %s (%d)</text>' % (L - 8, y + 4, html.escape(cond_name(e["cond"])), e["setting"], e["n"]))
        if math.isfinite(m["lo"]):
            o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>' % (X(m["lo"]), X(m["hi"]), y, y, c))
        o.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%+.2f [%+.2f, %+.2f] %s</title></circle>' % (X(m["diff"]), y, c, m["diff"], m["lo"], m["hi"], m["verdict"]))
    for i in range(5):
        v = v0 + (v1 - v0) * i / 4
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%+.1f</text>' % (X(v), H - 10, v))
    o.append('<text x="%d" y="12">%s: setting − NCE%s, 95%% t interval (pairs)</text>' % (L, html.escape(label), "" if sign > 0 else " (lower = better)"))
    o.append("</svg>")
    return "\n".join(o)


def write_html(out, res, table_md, rows):
    secs = sum(float(r["train_s"]) for r in rows)
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>milnce ablation</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:20px auto;padding:0 10px}"
             "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 5px}"
             "pre{font-size:11px;overflow-x:auto}</style></head><body>",
             "<h1>MIL-NCE ablation: does a bag of narrations beat one?</h1>",
             "<p>%d runs, %.0f s of training (bench/ablation.sh). Paired differences to NCE by (corpus, training seed), "
             "95%% t intervals. Misalignment plots: the conditions at B 16, 300 steps; x = share of training bags that hold a "
             "sentence describing the clip.</p>" % (len(rows), secs)]
    for key, label, sign in METRICS:
        if key.endswith("r5") or key.endswith("r10") or key == "t2v_medr":
            parts.append("<h2>%s</h2>" % html.escape(label))
            parts.append(svg_misalignment(res, key, label, sign))
            parts.append(svg_forest(res, key, label, sign))
    parts.append("<h2>Table</h2><pre>%s</pre>" % html.escape(table_md))
    parts.append("</body></html>")
    open(os.path.join(out, "report.html"), "w").write("\n".join(parts))


def main():
    out = sys.argv[1]
    rows, bags = load(out)
    res = analyse(rows, bags)
    text = write_tables(out, res, trend(rows, bags))
    write_html(out, res, text, rows)
    print(text)
    print("wrote %s/table.md, table.tsv, report.html (%d runs)" % (out, len(rows)))


if __name__ == "__main__":
    main()
