#!/usr/bin/env python3
"""Reference MIL-NCE loss fixtures for tests/check_loss.c.

An independent PyTorch implementation (float64, autograd): scores as an einsum over a (B, B, K)
tensor, masked entries set to -inf, numerator / denominator with torch.logsumexp over explicitly
built sets, mean over the batch; gradients from autograd. Writes for each case
<case>_V.npy (B,D) f32, <case>_T.npy (B,K,D) f32, <case>_mask.npy (B,K) u1, <case>_loss.npy
() f64, <case>_dV.npy, <case>_dT.npy f32, and cases.txt: "name B K D temperature normalize".
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
    with open(os.path.join(args.out, "cases.txt"), "w") as f:
        for name, B, K, D_, temp, norm, masked, scale in cases:
            V = (rng.standard_normal((B, D_)) * scale).astype(np.float32)
            T = (rng.standard_normal((B, K, D_)) * scale).astype(np.float32)
            m = random_mask(rng, B, K) if masked else np.ones((B, K), dtype=bool)
            Vt = torch.tensor(V, dtype=torch.float64, requires_grad=True)
            Tt = torch.tensor(T, dtype=torch.float64, requires_grad=True)
            loss = milnce_loss(Vt, Tt, torch.tensor(m), temp, norm)
            loss.backward()
            p = lambda s: os.path.join(args.out, f"{name}_{s}.npy")
            np.save(p("V"), V)
            np.save(p("T"), T)
            np.save(p("mask"), m.astype(np.uint8))
            np.save(p("loss"), np.array(loss.item(), dtype=np.float64))
            np.save(p("dV"), Vt.grad.numpy().astype(np.float32))
            np.save(p("dT"), Tt.grad.numpy().astype(np.float32))
            f.write(f"{name} {B} {K} {D_} {temp:.9g} {int(norm)}\n")
    print(f"loss_ref: {len(cases)} cases in {args.out}")


if __name__ == "__main__":
    main()
