#!/usr/bin/env python3
"""Reference fixtures for tests/check_layers.c: every layer of S3D-G and the text encoder in
PyTorch (computed in float64 from float32 inputs, gradients by autograd from a random upstream
gradient), written as .npy under --out/<case>/.

Independent of the C code: convolutions, BatchNorm, pooling etc. are torch.nn / torch.nn.functional;
TF "SAME" pooling is ConstantPad3d(0) + MaxPool3d(ceil_mode=True) as the S3D_HowTo100M reference
builds it. Each case folder holds cfg.npy (integers describing the case, order documented per
layer below and mirrored in check_layers.c), the inputs, the weights, the outputs and g*.npy
gradients (gy is the upstream gradient)."""
import argparse
import os

import testenv  # exits 77 (a CTest skip) when a module below is missing

testenv.need("numpy", "torch")
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
RNG = np.random.default_rng(20240611)


def rnd(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def t64(a, grad=True):
    t = torch.tensor(np.asarray(a, dtype=np.float64))
    t.requires_grad_(grad)
    return t


def save(d, **arrs):
    os.makedirs(d, exist_ok=True)
    for k, v in arrs.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().numpy()
        v = np.asarray(v)
        if v.dtype == np.float64:
            v = v.astype(np.float32)
        np.save(os.path.join(d, k + ".npy"), v)


# cfg: B, Cin, Cout, T, H, W, kt, kh, kw, st, sh, sw, pt, ph, pw, has_bias
CONV_CASES = {
    "conv_stem": (2, 3, 5, 6, 13, 13, 3, 7, 7, 2, 2, 2, 1, 3, 3, 0),   # conv1, grouped GEMM
    "conv_pw_small": (3, 6, 4, 3, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),  # 1x1x1, grouped
    "conv_pw_large": (2, 4, 3, 4, 32, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1),  # 1x1x1, per sample
    "conv_sep_s": (2, 4, 6, 3, 7, 6, 1, 3, 3, 1, 1, 1, 0, 1, 1, 0),   # (1,3,3) pad (0,1,1)
    "conv_sep_t": (3, 5, 4, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0),   # (3,1,1) pad (1,0,0)
    "conv_s2d": (2, 24, 8, 3, 5, 5, 2, 4, 4, 1, 1, 1, 1, 2, 2, 1),    # space-to-depth stem
    "conv_odd": (2, 3, 4, 5, 9, 8, 2, 3, 3, 2, 1, 2, 0, 1, 0, 1),     # mixed strides/pads
    "conv_big": (2, 2, 3, 4, 34, 34, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0),   # vol2col, per sample
    # row-chunked samples (K large enough that one sample's columns exceed a chunk)
    "conv_chunk": (2, 16, 5, 4, 20, 10, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0),
    "conv_chunk_s2": (3, 12, 4, 5, 30, 21, 3, 5, 5, 2, 2, 2, 1, 2, 2, 1),
    "conv_pw_chunk": (2, 64, 3, 2, 48, 48, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),
    "conv_b1": (1, 3, 4, 3, 6, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 0),
    # conv1 of S3D-G (direct algorithm): 16 output channels, Wo = 35 (a partial vector of
    # columns), several frame runs per sample
    "conv_stem_wide": (2, 3, 16, 5, 14, 70, 3, 7, 7, 2, 2, 2, 1, 3, 3, 1),
}


def conv_cases(out):
    for name, cfg in CONV_CASES.items():
        B, Ci, Co, T, H, W, kt, kh, kw, st, sh, sw, pt, ph, pw, hb = cfg
        x, w = rnd(B, Ci, T, H, W), rnd(Co, Ci, kt, kh, kw, scale=0.3)
        b = rnd(Co) if hb else None
        xt, wt = t64(x), t64(w)
        bt = t64(b) if hb else None
        y = F.conv3d(xt, wt, bt, stride=(st, sh, sw), padding=(pt, ph, pw))
        gy = rnd(*y.shape)
        y.backward(t64(gy, False))
        arrs = dict(cfg=np.array(cfg, np.int32), x=x, w=w, y=y, gy=gy, gx=xt.grad, gw=wt.grad)
        if hb:
            arrs.update(b=b, gb=bt.grad)
        save(os.path.join(out, name), **arrs)


# cfg: B, C, T, H, W, train, relu
BN_CASES = {
    "bn_train": (3, 4, 3, 5, 7, 1, 0),
    "bn_eval": (3, 4, 3, 5, 7, 0, 0),
    "bnrelu_train": (2, 5, 2, 3, 5, 1, 1),
    "bnrelu_eval": (2, 5, 2, 3, 5, 0, 1),
    "bn_train_b1": (1, 3, 1, 1, 3, 1, 0),  # 3 values per channel: unbiased var = 1.5 * biased
}


def bn_cases(out):
    for name, cfg in BN_CASES.items():
        B, C, T, H, W, train, relu = cfg
        x = rnd(B, C, T, H, W, scale=2.0) + 0.5
        gamma, beta = rnd(C) + 1.0, rnd(C)
        rm, rv = rnd(C), np.abs(rnd(C)) + 0.5
        bn = nn.BatchNorm3d(C, eps=1e-5, momentum=0.1).double()
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(gamma))
            bn.bias.copy_(torch.tensor(beta))
            bn.running_mean.copy_(torch.tensor(rm))
            bn.running_var.copy_(torch.tensor(rv))
        bn.train(bool(train))
        xt = t64(x)
        y = bn(xt)
        if relu:
            y = F.relu(y)
        gy = rnd(*y.shape)
        y.backward(t64(gy, False))
        save(os.path.join(out, name), cfg=np.array(cfg, np.int32), x=x, gamma=gamma, beta=beta,
             rm=rm, rv=rv, y=y, gy=gy, gx=xt.grad, ggamma=bn.weight.grad, gbeta=bn.bias.grad,
             rm_out=bn.running_mean, rv_out=bn.running_var)


# cfg: B, C, T, H, W, kt, kh, kw, st, sh, sw, same, pt, ph, pw, relu_input
POOL_CASES = {
    "pool_2a_odd": (2, 3, 2, 9, 9, 1, 3, 3, 1, 2, 2, 1, 0, 0, 0, 0),
    "pool_2a_even": (2, 3, 2, 8, 8, 1, 3, 3, 1, 2, 2, 1, 0, 0, 0, 0),
    "pool_2a_relu": (2, 3, 2, 7, 8, 1, 3, 3, 1, 2, 2, 1, 0, 0, 0, 1),  # ties with padded zeros
    "pool_4a_even": (2, 2, 4, 6, 6, 3, 3, 3, 2, 2, 2, 1, 0, 0, 0, 0),
    "pool_4a_odd": (2, 2, 5, 7, 5, 3, 3, 3, 2, 2, 2, 1, 0, 0, 0, 0),
    "pool_5a_odd": (2, 3, 3, 5, 4, 2, 2, 2, 2, 2, 2, 1, 0, 0, 0, 0),
    "pool_5a_even": (1, 2, 2, 4, 4, 2, 2, 2, 2, 2, 2, 1, 0, 0, 0, 0),
    "pool_incep": (2, 3, 3, 5, 6, 3, 3, 3, 1, 1, 1, 0, 1, 1, 1, 0),  # MaxPool3d(3, 1, 1)
    # rows of several vectors of outputs (full vectors and a partial one)
    "pool_incep_wide": (1, 2, 3, 4, 37, 3, 3, 3, 1, 1, 1, 0, 1, 1, 1, 0),
    "pool_2a_wide": (1, 2, 2, 5, 70, 1, 3, 3, 1, 2, 2, 1, 0, 0, 0, 1),
}


def same_pad(k, s):
    tot = max(k - s, 0)
    return tot // 2, tot - tot // 2


def pool_cases(out):
    for name, cfg in POOL_CASES.items():
        B, C, T, H, W, kt, kh, kw, st, sh, sw, same, pt, ph, pw, relu_in = cfg
        # Distinct values (a shuffled grid) so that no two inputs tie and finite differences of
        # 1e-3 never change the argmax; the relu variant then zeroes half of them.
        n = B * C * T * H * W
        x = (RNG.permutation(n).astype(np.float32) - n / 2) / n * 4.0
        x = x.reshape(B, C, T, H, W)
        if relu_in:
            x = np.maximum(x, 0).astype(np.float32)
        xt = t64(x)
        if same:
            (t0, t1), (h0, h1), (w0, w1) = same_pad(kt, st), same_pad(kh, sh), same_pad(kw, sw)
            xp = nn.ConstantPad3d((w0, w1, h0, h1, t0, t1), 0.0)(xt)
            y = F.max_pool3d(xp, (kt, kh, kw), (st, sh, sw), ceil_mode=True)
        else:
            y = F.max_pool3d(xt, (kt, kh, kw), (st, sh, sw), padding=(pt, ph, pw))
        gy = rnd(*y.shape)
        y.backward(t64(gy, False))
        save(os.path.join(out, name), cfg=np.array(cfg, np.int32), x=x, y=y, gy=gy, gx=xt.grad)


def misc_cases(out):
    # Linear: cfg N, IC, OC (linear_big is past the size where the GEMMs are split over threads)
    for name, (N, IC, OC) in (("linear", (7, 9, 6)), ("linear_big", (65, 130, 129))):
        x, w, b = rnd(N, IC), rnd(OC, IC, scale=0.3), rnd(OC)
        xt, wt, bt = t64(x), t64(w), t64(b)
        y = F.linear(xt, wt, bt)
        gy = rnd(*y.shape)
        y.backward(t64(gy, False))
        save(os.path.join(out, name), cfg=np.array([N, IC, OC], np.int32), x=x, w=w, b=b, y=y,
             gy=gy, gx=xt.grad, gw=wt.grad, gb=bt.grad)

    # Self-gating: cfg B, C, T, H, W
    B, C, T, H, W = 2, 5, 3, 4, 5
    x, w, b = rnd(B, C, T, H, W), rnd(C, C, scale=0.5), rnd(C)
    xt, wt, bt = t64(x), t64(w), t64(b)
    g = torch.sigmoid(F.linear(xt.mean(dim=[2, 3, 4]), wt, bt))
    y = g[:, :, None, None, None] * xt
    gy = rnd(*y.shape)
    y.backward(t64(gy, False))
    save(os.path.join(out, "selfgating"), cfg=np.array([B, C, T, H, W], np.int32), x=x, w=w, b=b,
         y=y, gy=gy, gx=xt.grad, gw=wt.grad, gb=bt.grad)

    # ReLU and sigmoid: cfg n
    x = rnd(1000)
    for name, fn in (("relu", F.relu), ("sigmoid", torch.sigmoid)):
        xt = t64(x)
        y = fn(xt)
        gy = rnd(*y.shape)
        y.backward(t64(gy, False))
        save(os.path.join(out, name), cfg=np.array([x.size], np.int32), x=x, y=y, gy=gy,
             gx=xt.grad)

    # Global average pool: cfg B, C, T, H, W
    B, C, T, H, W = 2, 3, 3, 4, 5
    x = rnd(B, C, T, H, W)
    xt = t64(x)
    y = xt.mean(dim=[2, 3, 4])
    gy = rnd(*y.shape)
    y.backward(t64(gy, False))
    save(os.path.join(out, "gap"), cfg=np.array([B, C, T, H, W], np.int32), x=x, y=y, gy=gy,
         gx=xt.grad)

    # Concat on channels: cfg B, P, c0, c1, c2
    B, P, cs = 2, 7, (2, 3, 1)
    xs = [rnd(B, c, 1, 1, P) for c in cs]
    xts = [t64(a) for a in xs]
    y = torch.cat(xts, dim=1)
    gy = rnd(*y.shape)
    y.backward(t64(gy, False))
    save(os.path.join(out, "concat"), cfg=np.array([B, P] + list(cs), np.int32), x0=xs[0],
         x1=xs[1], x2=xs[2], y=y, gy=gy, gx0=xts[0].grad, gx1=xts[1].grad, gx2=xts[2].grad)

    # Space-to-depth as the reference's S3D._space_to_depth (view + permute): cfg B, C, T, H, W
    B, C, T, H, W = 2, 3, 4, 6, 8
    x = rnd(B, C, T, H, W)
    xt = t64(x)
    y = xt.view(B, C, T // 2, 2, H // 2, 2, W // 2, 2).permute(0, 3, 5, 7, 1, 2, 4, 6)
    y = y.contiguous().view(B, 8 * C, T // 2, H // 2, W // 2)
    gy = rnd(*y.shape)
    y.backward(t64(gy, False))
    save(os.path.join(out, "s2d"), cfg=np.array([B, C, T, H, W], np.int32), x=x, y=y, gy=gy,
         gx=xt.grad)

    # Crop dropping index 0 of T, H, W (the stem): cfg B, C, T, H, W
    B, C, T, H, W = 2, 3, 3, 4, 5
    x = rnd(B, C, T, H, W)
    xt = t64(x)
    y = xt[:, :, 1:, 1:, 1:]
    gy = rnd(*y.shape)
    y.backward(t64(gy, False))
    save(os.path.join(out, "crop"), cfg=np.array([B, C, T, H, W], np.int32), x=x, y=y, gy=gy,
         gx=xt.grad)

    # Embedding: cfg B, L, V, D, padding_idx (-1 = none as the reference)
    B, L, V, D = 3, 5, 10, 6
    ids = RNG.integers(0, V, size=(B, L)).astype(np.int32)
    ids[0, 3:] = 0
    ids[2, 1] = ids[2, 2]  # a repeated id: gradients add up
    table = rnd(V, D)
    for name, pad in (("embedding", -1), ("embedding_pad0", 0)):
        emb = nn.Embedding(V, D, padding_idx=pad if pad >= 0 else None).double()
        with torch.no_grad():
            emb.weight.copy_(torch.tensor(table))
        y = emb(torch.tensor(ids, dtype=torch.long))
        gy = rnd(*y.shape)
        y.backward(t64(gy, False))
        save(os.path.join(out, name), cfg=np.array([B, L, V, D, pad], np.int32), ids=ids,
             table=table, y=y, gy=gy, gtable=emb.weight.grad)

    # Max over words: cfg B, L, D, masked
    B, L, D = 3, 5, 7
    x = rnd(B, L, D)
    mask = np.ones((B, L), np.uint8)
    mask[0, 3:] = 0
    mask[2, 1:] = 0
    for name, masked in (("maxwords", 0), ("maxwords_mask", 1)):
        xt = t64(x)
        xm = xt.masked_fill(torch.tensor(mask == 0)[:, :, None], float("-inf")) if masked else xt
        y = torch.max(xm, dim=1)[0]
        gy = rnd(*y.shape)
        y.backward(t64(gy, False))
        save(os.path.join(out, name), cfg=np.array([B, L, D, masked], np.int32), x=x, mask=mask,
             y=y, gy=gy, gx=xt.grad)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    conv_cases(args.out)
    bn_cases(args.out)
    pool_cases(args.out)
    misc_cases(args.out)


if __name__ == "__main__":
    main()
