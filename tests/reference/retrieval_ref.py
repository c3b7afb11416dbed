"""Independent numpy implementation of the retrieval metrics (README, "Evaluation"): writes score
matrices, embeddings and the expected ranks/metrics that tests/check_retrieval.c compares against.

rank_i = 1 + #{j : S[i, j] > S[i, i]} (ties do not count against the query);
R@K = 100 * mean(rank <= K); median = numpy.median; mean = numpy.mean."""
import argparse
import json
import os

import testenv  # exits 77 (a CTest skip) when a module below is missing

testenv.need("numpy")
import numpy as np


def metrics(ranks):
    ranks = np.asarray(ranks, dtype=np.float64)
    return {"r1": 100 * np.mean(ranks <= 1), "r5": 100 * np.mean(ranks <= 5),
            "r10": 100 * np.mean(ranks <= 10), "median_rank": float(np.median(ranks)),
            "mean_rank": float(np.mean(ranks))}


def official(S):
    """MIL-NCE_HowTo100M metrics.compute_metrics, in percent: sort each row descending; every
    position holding a score equal to the row's ground truth is one entry (a query tied with t
    others gives t + 1 entries); statistics over all entries, median/mean + 1."""
    S = np.asarray(S)
    pos = []
    for i in range(S.shape[0]):
        row = np.sort(-S[i])
        pos.extend(np.nonzero(row == -S[i, i])[0].tolist())
    pos = np.asarray(pos, dtype=np.float64)
    return {"r1": 100 * np.sum(pos == 0) / len(pos), "r5": 100 * np.sum(pos < 5) / len(pos),
            "r10": 100 * np.sum(pos < 10) / len(pos), "median_rank": float(np.median(pos) + 1),
            "mean_rank": float(np.mean(pos) + 1)}


def ranks_t2v(S):
    gt = np.diag(S)[:, None]
    return 1 + (S > gt).sum(axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(7)
    cases = {}
    # Random scores, odd and even n.
    for n in (1, 2, 37, 100):
        cases[f"random{n}"] = rng.standard_normal((n, n)).astype(np.float32)
    # Heavy ties: integer scores from a tiny range, and a constant matrix (every rank 1).
    cases["ties"] = rng.integers(0, 3, size=(50, 50)).astype(np.float32)
    cases["const"] = np.ones((12, 12), np.float32)
    expected = {}
    for name, S in cases.items():
        np.save(os.path.join(a.out, f"{name}.npy"), S)
        t2v = ranks_t2v(S)
        v2t = ranks_t2v(S.T)
        np.save(os.path.join(a.out, f"{name}_t2v.npy"), t2v.astype(np.int64))
        np.save(os.path.join(a.out, f"{name}_v2t.npy"), v2t.astype(np.int64))
        expected[name] = {"t2v": metrics(t2v), "v2t": metrics(v2t),
                          "t2v_official": official(S), "v2t_official": official(S.T)}
    # Embeddings for the blocked path: small integers make every dot product exact in float32,
    # so ties are real ties; duplicated rows force them.
    n, d = 300, 16
    T = rng.integers(-3, 4, size=(n, d)).astype(np.float32)
    V = rng.integers(-3, 4, size=(n, d)).astype(np.float32)
    V[10] = V[11]
    T[20] = T[21]
    np.save(os.path.join(a.out, "emb_text.npy"), T)
    np.save(os.path.join(a.out, "emb_video.npy"), V)
    S = T.astype(np.float64) @ V.astype(np.float64).T
    np.save(os.path.join(a.out, "emb_t2v.npy"), ranks_t2v(S).astype(np.int64))
    np.save(os.path.join(a.out, "emb_v2t.npy"), ranks_t2v(S.T).astype(np.int64))
    expected["emb"] = {"t2v_official": official(S), "v2t_official": official(S.T)}
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
