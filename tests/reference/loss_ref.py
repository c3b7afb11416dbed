#!/usr/bin/env python3
"""Reference MIL-NCE loss fixtures for tests/check_loss.c.

An independent PyTorch implementation (float64, autograd): scores as an einsum over a (B, B, K)
tensor, masked entries set to -inf, numerator / denominator with torch.logsumexp over explicitly
built sets, mean over the batch; gradients from autograd. Writes for each case
<case>_V.npy (B,D) f32, <case>_T.npy (B,K,D) f32, <case>_mask.npy (B,K) u1, <case>_loss.npy
() f64, <case>_dV.npy, <case>_dT.npy f32, and cases.txt: "name B K D temperature normalize".

The paper's alternative bag rules (train.loss):
- max (Max+NCE): cases_max.txt, files max_<case>_*.npy, same layout. Each bag is reduced to the
  candidate with the largest (masked) positive score x[i,i,k] (torch.max: autograd gives the max's
  subgradient, i.e. the chosen candidate only), then the loss is NCE on those.
- cat (Cat+NCE): the words of a bag's real candidates joined in bag order (padding dropped),
  cut to Lout: cat_<case>_ids.npy (B,K,L) i32, cat_<case>_mask.npy (B,K) u1, cat_<case>_out.npy
  (B,Lout) i32, cat_<case>_dropped.npy () i64, and cases_cat.txt: "name B K L Lout". Built
  from Python lists, not from index arithmetic.
"""
import argparse
import os

import testenv  # exits 77 (a CTest skip) when a module below is missing

testenv.need("numpy", "torch")
import numpy as np
import torch


def milnce_loss(V, T, mask, temperature=0.0, normalize=False):
    """V (B,D), T (B,K,D), mask (B,K) bool. Returns the scalar loss."""
    if normalize:
        V = torch.nn.functional.normalize(V, dim=-1)
        T = torch.nn.functional.normalize(T, dim=-1)
    x = torch.einsum("id,jkd->ijk", V, T)  # x[i,j,k] = <V_i, T_jk>
    if temperature > 0:
        x = x / temperature
    B = V.shape[0]
    neg_inf = torch.tensor(float("-inf"), dtype=x.dtype)
    # entry (i,j,k) is present iff candidate k of sample j is real
    x = torch.where(mask[None, :, :], x, neg_inf)
    losses = []
    for i in range(B):
        num = torch.logsumexp(x[i, i, :], dim=0)
        # both directions: video i against every text, every video against text bag i
        # (x[j,i,k] is present iff candidate k of sample i is real)
        both = torch.cat([x[i].reshape(-1), x[:, i, :].reshape(-1)])
        den = torch.logsumexp(both, dim=0)
        losses.append(den - num)
    return torch.stack(losses).mean()


def max_bag_loss(V, T, mask, temperature=0.0, normalize=False):
    """Max+NCE: V (B,D), T (B,K,D), mask (B,K) bool. Returns the scalar loss."""
    Vs, Ts = V, T
    if normalize:
        Vs = torch.nn.functional.normalize(V, dim=-1)
        Ts = torch.nn.functional.normalize(T, dim=-1)
    pos = torch.einsum("id,ikd->ik", Vs, Ts)  # x[i,i,k] up to the (positive) temperature
    pos = torch.where(mask, pos, torch.tensor(float("-inf"), dtype=pos.dtype))
    best = torch.max(pos, dim=1).indices
    chosen = T[torch.arange(T.shape[0]), best][:, None, :]  # (B, 1, D), gradient to the chosen
    ones = torch.ones((T.shape[0], 1), dtype=torch.bool)
    return milnce_loss(V, chosen, ones, temperature, normalize)


def concat_bag(ids, mask, Lout):
    """ids (B,K,L), mask (B,K) -> (B,Lout) joined word ids, number of words cut."""
    out, dropped = [], 0
    for i in range(ids.shape[0]):
        words = [int(w) for k in range(ids.shape[1]) if mask[i, k] for w in ids[i, k] if w != 0]
        dropped += max(0, len(words) - Lout)
        words = words[:Lout]
        out.append(words + [0] * (Lout - len(words)))
    return np.array(out, dtype=np.int32), dropped


def random_mask(rng, B, K):
    if K == 1:
        return np.ones((B, K), dtype=bool)
    m = rng.random((B, K)) < 0.6
    for i in range(B):
        if not m[i].any():
            m[i, rng.integers(K)] = True
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(20200613)
    cases = []
    D = 16
    for B in (1, 2, 8):
        for K in (1, 4, 5):
            for masked in (False, True):
                if masked and K == 1:
                    continue
                cases.append((f"b{B}_k{K}_{'mask' if masked else 'full'}", B, K, D, 0.0, False, masked, 1.0))
    cases += [
        ("temp", 8, 4, D, 0.07, False, True, 0.3),
        ("norm", 8, 5, D, 0.0, True, False, 1.0),
        ("norm_temp_mask", 8, 5, D, 0.1, True, True, 1.0),
        ("extreme", 8, 4, D, 0.0, False, False, 5.0),  # |x| ~ 100
        ("extreme_mask", 8, 5, D, 0.0, False, True, 5.0),
        ("extreme_k1", 8, 1, D, 0.0, False, False, 5.0),
        ("wide", 8, 4, 64, 0.0, False, True, 0.5),
    ]
    # the same kinds of cases for max (K > 1 where the choice matters; K = 1 must equal NCE)
    for listing, prefix, fn in (("cases.txt", "", milnce_loss), ("cases_max.txt", "max_", max_bag_loss)):
        with open(os.path.join(args.out, listing), "w") as f:
            for name, B, K, D_, temp, norm, masked, scale in cases:
                V = (rng.standard_normal((B, D_)) * scale).astype(np.float32)
                T = (rng.standard_normal((B, K, D_)) * scale).astype(np.float32)
                m = random_mask(rng, B, K) if masked else np.ones((B, K), dtype=bool)
                Vt = torch.tensor(V, dtype=torch.float64, requires_grad=True)
                Tt = torch.tensor(T, dtype=torch.float64, requires_grad=True)
                loss = fn(Vt, Tt, torch.tensor(m), temp, norm)
                loss.backward()
                p = lambda s: os.path.join(args.out, f"{prefix}{name}_{s}.npy")
                np.save(p("V"), V)
                np.save(p("T"), T)
                np.save(p("mask"), m.astype(np.uint8))
                np.save(p("loss"), np.array(loss.item(), dtype=np.float64))
                np.save(p("dV"), Vt.grad.numpy().astype(np.float32))
                np.save(p("dT"), Tt.grad.numpy().astype(np.float32))
                f.write(f"{prefix}{name} {B} {K} {D_} {temp:.9g} {int(norm)}\n")
    # cat: sentences of 0..L words (left-packed, 0 = padding), some candidates masked
    cat_cases = [("k3", 4, 3, 6, 18), ("k3_cut", 4, 3, 6, 7), ("k5_mask", 6, 5, 4, 20), ("k1", 3, 1, 5, 5)]
    with open(os.path.join(args.out, "cases_cat.txt"), "w") as f:
        for name, B, K, L, Lout in cat_cases:
            ids = np.zeros((B, K, L), dtype=np.int32)
            for i in range(B):
                for k in range(K):
                    n = int(rng.integers(0, L + 1))
                    ids[i, k, :n] = rng.integers(1, 50, n)
            m = random_mask(rng, B, K) if "mask" in name else np.ones((B, K), dtype=bool)
            out, dropped = concat_bag(ids, m, Lout)
            p = lambda s: os.path.join(args.out, f"cat_{name}_{s}.npy")
            np.save(p("ids"), ids)
            np.save(p("mask"), m.astype(np.uint8))
            np.save(p("out"), out)
            np.save(p("dropped"), np.array(dropped, dtype=np.int64))
            f.write(f"cat_{name} {B} {K} {L} {Lout}\n")
    print(f"loss_ref: {len(cases)} MIL-NCE, {len(cases)} max and {len(cat_cases)} cat cases in {args.out}")


if __name__ == "__main__":
    main()
