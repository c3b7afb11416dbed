#!/usr/bin/env python3
"""Reference fixtures for tests/check_bf16.c: the layers that run in bf16 (conv3d, linear) and
the float -> bfloat16 rounding, from PyTorch, independent of the C code.

What bf16 means in milnce (src/nn/gemm.h): both operands of every product are rounded to
bfloat16 (round to nearest even, as torch.Tensor.bfloat16), each product is then exact in fp32
and the products are summed in fp32. So the exact answer milnce approximates is the float64
result on the bf16-rounded operands, which PyTorch computes here (torch's own bf16 conversion,
F.conv3d / matmul and autograd in float64). The C result may differ from it only by fp32
summation: with n summed terms and u = 2^-24,
    |c - ref| <= (n + 8) * u * ref_abs,
where ref_abs is the same computation on the absolute values (also written here). The +8
covers the alpha/beta update, partial sums added across K blocks, work units and threads, and
the float32 storage of the fixtures. Rounding the operands is not covered by the bound: a
result computed from unrounded operands misses it by ~2^-9 relative, so the bound also proves
that the bf16 path ran. Bias gradients are fp32 sums of the unrounded upstream gradient.

Each case folder holds cfg.npy (the layer's integers, as layers_ref.py), the float32 inputs,
y / gx / gw (/ gb) references, *_abs magnitudes and terms.npy (n for y, gx, gw)."""
import argparse
import os

import testenv  # exits 77 (a CTest skip) when a module below is missing

testenv.need("numpy", "torch")
import numpy as np
import torch
import torch.nn.functional as F

from layers_ref import CONV_CASES, rnd, save

torch.set_num_threads(1)

# every CONV_CASES shape (vol2col and 1x1x1 paths, grouped and per-sample units, the stems,
# odd strides) plus shapes with several K blocks (K > 384) and full 8x48 tiles
BF16_CONV_CASES = dict(CONV_CASES)
BF16_CONV_CASES.update({
    "bf16_kblocks": (2, 32, 40, 4, 12, 12, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1),  # K = 864
    "bf16_sep_wide": (2, 64, 48, 4, 14, 14, 1, 3, 3, 1, 1, 1, 0, 1, 1, 0),  # K = 576, Po 784
    "bf16_pw_deep": (3, 520, 24, 2, 4, 4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),    # grouped, K = 520
})

# N, IC, OC
LINEAR_CASES = {
    "lin_text": (19, 300, 64),
    "lin_kblocks": (6, 520, 40),
    "lin_one": (1, 7, 3),
}


def bf(a):
    """float32 array -> its bfloat16 rounding by PyTorch, as float64."""
    return torch.tensor(np.asarray(a, np.float32)).bfloat16().double()


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def conv_cases(out):
    for name, cfg in BF16_CONV_CASES.items():
        B, Ci, Co, T, H, W, kt, kh, kw, st, sh, sw, pt, ph, pw, hb = cfg
        x, w = rnd(B, Ci, T, H, W), rnd(Co, Ci, kt, kh, kw, scale=0.3)
        b = rnd(Co) if hb else None
        conv = dict(stride=(st, sh, sw), padding=(pt, ph, pw))
        xr, wr = leaf(bf(x)), leaf(bf(w))
        bt = leaf(torch.tensor(b, dtype=torch.float64)) if hb else None
        y = F.conv3d(xr, wr, bt, **conv)
        gy = rnd(*y.shape)
        y.backward(bf(gy))
        xa, wa = leaf(xr.detach().abs()), leaf(wr.detach().abs())
        ya = F.conv3d(xa, wa, bt.detach().abs() if hb else None, **conv)
        ya.backward(bf(gy).abs())
        Po = int(np.prod(y.shape[2:]))
        kv = kt * kh * kw
        arrs = dict(cfg=np.array(cfg, np.int32), x=x, w=w, gy=gy, y=y, gx=xr.grad, gw=wr.grad,
                    y_abs=ya, gx_abs=xa.grad, gw_abs=wa.grad,
                    terms=np.array([Ci * kv + 1, Co * kv, B * Po], np.int32))
        if hb:
            arrs.update(b=b, gb=torch.tensor(gy, dtype=torch.float64).sum(dim=(0, 2, 3, 4)))
        save(os.path.join(out, name), **arrs)


def linear_cases(out):
    for name, (N, IC, OC) in LINEAR_CASES.items():
        x, w, b = rnd(N, IC), rnd(OC, IC, scale=0.2), rnd(OC)
        xr, wr = leaf(bf(x)), leaf(bf(w))
        bt = torch.tensor(b, dtype=torch.float64)
        y = xr @ wr.T + bt
        gy = rnd(N, OC)
        y.backward(bf(gy))
        xa, wa = leaf(xr.detach().abs()), leaf(wr.detach().abs())
        ya = xa @ wa.T + bt.abs()
        ya.backward(bf(gy).abs())
        save(os.path.join(out, name), cfg=np.array([N, IC, OC], np.int32), x=x, w=w, b=b, gy=gy,
             y=y, gx=xr.grad, gw=wr.grad, gb=torch.tensor(gy, dtype=torch.float64).sum(0),
             y_abs=ya, gx_abs=xa.grad, gw_abs=wa.grad,
             terms=np.array([IC + 1, OC, N], np.int32))


def rounding_case(out):
    """Bits of float32 values and of their bf16 rounding by PyTorch: ties both ways, carries
    into the exponent, overflow to infinity, signed zero, infinities, subnormals, NaN and a
    spread of ordinary values."""
    special = np.array([
        0x3F808000, 0x3F818000, 0x3F80C000, 0x3F807FFF, 0xBF808000, 0xBF818000,  # ties, near
        0x3FFF8000, 0x7F7F8000, 0x7F7FFFFF, 0xFF7FFFFF,  # carry into exponent, overflow
        0x00000000, 0x80000000, 0x7F800000, 0xFF800000,  # zeros, infinities
        0x00008000, 0x00018000, 0x007FFFFF, 0x80010000,  # subnormals
        0x7FC00000, 0x7F800001, 0xFFC12345,              # NaNs (a signalling one too)
    ], dtype=np.uint32)
    rng = np.random.default_rng(7)
    spread = rng.integers(0, 2**32, size=2000, dtype=np.uint64).astype(np.uint32)
    bits = np.concatenate([special, spread])
    x = bits.view(np.float32)
    r = torch.tensor(x).bfloat16().float().numpy()
    os.makedirs(os.path.join(out, "round"), exist_ok=True)
    np.save(os.path.join(out, "round", "x.npy"), x)
    np.save(os.path.join(out, "round", "r.npy"), r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    conv_cases(args.out)
    linear_cases(args.out)
    rounding_case(args.out)


if __name__ == "__main__":
    main()
