#!/usr/bin/env python3
"""Independent PyTorch reference for milnce's video encoder (S3D-G family) and text encoder.

Written from the reference repositories (antoine77340/S3D_HowTo100M s3dg.py: the S3D-G video
encoder; antoine77340/MIL-NCE_HowTo100M: the Sentence_Embedding text encoder) and the README's
"Training" section; parameter names are those of the published PyTorch model so a converted
state_dict loads into milnce unchanged.

Weights come from a counter-based generator (splitmix64 of seed, FNV-1a of the tensor name and
the element index) that src/nn/model.c implements bit for bit, so both sides can build identical
full-size weights without shipping files. The reference computes in float64 from the float32
weights; the fixtures are float32.

Fixtures, per config, under --out DIR/<config>/:
  meta.npy (int64: width*1000, s2d, n3, n4, n5, B, T, H, W, emb_dim, seed)
  input.npy (B,3,T,H,W); g_emb.npy, g_mix.npy (upstream gradients)
  params/<name>.npy, buffers/<name>.npy initial values
  <mode><bits>/ for mode eval (running statistics) and train (batch statistics), bits 64 (the
  truth) and 32 (PyTorch float32, whose distance to 64 measures the problem's conditioning):
    emb.npy, mix.npy                    outputs
    grads/<name>.npy                    d(sum(emb*g_emb) + sum(mix*g_mix)) / d param
    buffers_after/<name>.npy            (train) running statistics after the one forward
Text configs under DIR/<config>/: meta.npy, ids.npy (int64), params/, out.npy, g_out.npy, grads/.
MILNCE_SLOW=1 also writes DIR/full_eval/ (full S3D-G, 16x224x224, eval, outputs only).
"""
import argparse
import math
import os
import sys

import testenv  # exits 77 (a CTest skip) when a module below is missing

testenv.need("numpy", "torch")
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------- deterministic weights
def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def uniform01(seed, name, n):
    """n values in [0, 1) with 24 random bits each, identical to milnce_model_gen_uniform()."""
    with np.errstate(over="ignore"):
        key = np.uint64(((seed * 0x9E3779B97F4A7C15) & MASK64) ^ fnv1a64(name))
        z = key + np.arange(n, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def gen_tensor(seed, name, shape):
    """The init rule of milnce_model_init_params(): by the last part of the name."""
    n = int(np.prod(shape)) if len(shape) else 1
    u = 2.0 * uniform01(seed, name, n) - 1.0  # [-1, 1)
    leaf = name.rsplit(".", 1)[-1]
    parent = name.rsplit(".", 2)[-2] if name.count(".") >= 1 else ""
    is_bn = parent.startswith("bn")
    if leaf == "running_mean":
        v = 0.1 * u
    elif leaf == "running_var":
        v = 1.0 + 0.5 * u
    elif is_bn and leaf == "weight":
        v = 1.0 + 0.1 * u
    elif is_bn and leaf == "bias":
        v = 0.1 * u
    elif name.endswith("word_embd.weight"):
        v = u
    elif len(shape) == 5:  # conv: He-uniform, fan_in = C_in * kT * kH * kW
        v = u * math.sqrt(6.0 / float(np.prod(shape[1:])))
    elif len(shape) == 2:  # linear weight (out, in)
        v = u * (1.0 / math.sqrt(float(shape[1])))
    else:  # linear bias: same bound as its weight is unknown here; use 1/sqrt(len)
        v = u * (1.0 / math.sqrt(float(shape[0])))
    return v.astype(np.float32).reshape(shape)


# ---------------------------------------------------------------- video model
def wmul(c, w):
    return max(1, int(math.floor(c * w + 0.5)))


# (name, a, b1, b2, c1, c2, d) in network order; stage = name[6]
INCEPTION = [
    ("mixed_3b", 64, 96, 128, 16, 32, 32),
    ("mixed_3c", 128, 128, 192, 32, 96, 64),
    ("mixed_4b", 192, 96, 208, 16, 48, 64),
    ("mixed_4c", 160, 112, 224, 24, 64, 64),
    ("mixed_4d", 128, 128, 256, 24, 64, 64),
    ("mixed_4e", 112, 144, 288, 32, 64, 64),
    ("mixed_4f", 256, 160, 320, 32, 128, 128),
    ("mixed_5b", 256, 160, 320, 32, 128, 128),
    ("mixed_5c", 384, 192, 384, 48, 128, 128),
]


def stage_blocks(stage, n):
    """Depth choice: the first n-1 blocks of a stage plus its last one (so stage widths match)."""
    blocks = [b for b in INCEPTION if b[0][6] == stage]
    n = max(1, min(n, len(blocks)))
    return blocks[: n - 1] + [blocks[-1]]


class Unit(nn.Module):
    """Conv3d without bias -> BatchNorm3d -> ReLU; separable = (1,k,k) unit then (k,1,1) unit."""

    def __init__(self, cin, cout, k, stride=(1, 1, 1), pad=(0, 0, 0), separable=False):
        super().__init__()
        self.separable = separable
        if separable:
            self.conv1 = nn.Conv3d(cin, cout, (1, k[1], k[2]), (1, stride[1], stride[2]),
                                   (0, pad[1], pad[2]), bias=False)
            self.bn1 = nn.BatchNorm3d(cout, eps=1e-5, momentum=0.1)
            self.conv2 = nn.Conv3d(cout, cout, (k[0], 1, 1), (stride[0], 1, 1), (pad[0], 0, 0),
                                   bias=False)
            self.bn2 = nn.BatchNorm3d(cout, eps=1e-5, momentum=0.1)
        else:
            self.conv1 = nn.Conv3d(cin, cout, k, stride, pad, bias=False)
            self.bn1 = nn.BatchNorm3d(cout, eps=1e-5, momentum=0.1)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.separable:
            x = F.relu(self.bn2(self.conv2(x)))
        return x


class Gate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc = nn.Linear(c, c)

    def forward(self, x):
        g = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return x * g[:, :, None, None, None]


class Inception(nn.Module):
    def __init__(self, cin, a, b1, b2, c1, c2, d):
        super().__init__()
        self.conv_b0 = Unit(cin, a, (1, 1, 1))
        self.conv_b1_a = Unit(cin, b1, (1, 1, 1))
        self.conv_b1_b = Unit(b1, b2, (3, 3, 3), pad=(1, 1, 1), separable=True)
        self.conv_b2_a = Unit(cin, c1, (1, 1, 1))
        self.conv_b2_b = Unit(c1, c2, (3, 3, 3), pad=(1, 1, 1), separable=True)
        self.conv_b3_b = Unit(cin, d, (1, 1, 1))
        self.gating_b0 = Gate(a)
        self.gating_b1 = Gate(b2)
        self.gating_b2 = Gate(c2)
        self.gating_b3 = Gate(d)
        self.cout = a + b2 + c2 + d

    def forward(self, x):
        y0 = self.gating_b0(self.conv_b0(x))
        y1 = self.gating_b1(self.conv_b1_b(self.conv_b1_a(x)))
        y2 = self.gating_b2(self.conv_b2_b(self.conv_b2_a(x)))
        y3 = self.gating_b3(self.conv_b3_b(F.max_pool3d(x, 3, 1, 1)))
        return torch.cat([y0, y1, y2, y3], dim=1)


def tf_same_maxpool(x, k, s):
    """Zero padding pad_total = max(k - s, 0) split front = total // 2, then ceil-mode max pool."""
    pads = []
    for kk, ss in zip(reversed(k), reversed(s)):  # F.pad wants last dim first
        tot = max(kk - ss, 0)
        pads += [tot // 2, tot - tot // 2]
    return F.max_pool3d(F.pad(x, pads, value=0.0), k, s, ceil_mode=True)


class S3DG(nn.Module):
    def __init__(self, width=1.0, s2d=False, n3=2, n4=5, n5=2, emb=512):
        super().__init__()
        W = lambda c: wmul(c, width)  # noqa: E731
        self.s2d = s2d
        if s2d:
            self.conv1 = Unit(24, W(64), (2, 4, 4), pad=(1, 2, 2))
        else:
            self.conv1 = Unit(3, W(64), (3, 7, 7), stride=(2, 2, 2), pad=(1, 3, 3))
        self.conv_2b = Unit(W(64), W(64), (1, 1, 1))
        self.conv_2c = Unit(W(64), W(192), (3, 3, 3), pad=(1, 1, 1), separable=True)
        self.gating = Gate(W(192))
        self.stages = []
        cin = W(192)
        for st, n in (("3", n3), ("4", n4), ("5", n5)):
            names = []
            for (name, a, b1, b2, c1, c2, d) in stage_blocks(st, n):
                blk = Inception(cin, W(a), W(b1), W(b2), W(c1), W(c2), W(d))
                self.add_module(name, blk)
                names.append(name)
                cin = blk.cout
            self.stages.append(names)
        self.fc = nn.Linear(cin, emb)
        self.feat_dim = cin

    def forward(self, x):
        if self.s2d:
            B, C, T, H, Wd = x.shape
            x = x.reshape(B, C, T // 2, 2, H // 2, 2, Wd // 2, 2)
            x = x.permute(0, 3, 5, 7, 1, 2, 4, 6).reshape(B, 8 * C, T // 2, H // 2, Wd // 2)
        x = self.conv1(x)
        if self.s2d:
            x = x[:, :, 1:, 1:, 1:]
        x = tf_same_maxpool(x, (1, 3, 3), (1, 2, 2))
        x = self.gating(self.conv_2c(self.conv_2b(x)))
        x = tf_same_maxpool(x, (1, 3, 3), (1, 2, 2))
        for i, names in enumerate(self.stages):
            if i == 1:
                x = tf_same_maxpool(x, (3, 3, 3), (2, 2, 2))
            if i == 2:
                x = tf_same_maxpool(x, (2, 2, 2), (2, 2, 2))
            for n in names:
                x = getattr(self, n)(x)
        mix = x.mean(dim=(2, 3, 4))
        return self.fc(mix), mix


# ---------------------------------------------------------------- text model
class TextModule(nn.Module):
    def __init__(self, vocab, wdim=300, hidden=2048, emb=512, frozen=True, masked=False):
        super().__init__()
        self.word_embd = nn.Embedding(vocab, wdim)
        self.fc1 = nn.Linear(wdim, hidden)
        self.fc2 = nn.Linear(hidden, emb)
        self.frozen, self.masked = frozen, masked

    def forward(self, ids):
        e = self.word_embd(ids)
        if self.frozen:
            e = e.detach()
        h = F.relu(self.fc1(e))
        if self.masked:  # padding positions excluded; an all-padding row gives 0 (ReLU >= 0)
            h = h * (ids != 0)[:, :, None].to(h.dtype)
        return self.fc2(h.max(dim=1)[0])


# ---------------------------------------------------------------- fixtures
def save(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.ascontiguousarray(arr))


def load_generated(model, seed, prefix=""):
    """Sets every parameter and BN running stat from the generator; returns {name: float32}."""
    vals = {}
    sd = model.state_dict()
    for name, t in sd.items():
        if name.endswith("num_batches_tracked"):
            continue
        v = gen_tensor(seed, prefix + name, tuple(t.shape))
        vals[name] = v
        t.copy_(torch.from_numpy(v.astype(np.float64)))
    return vals


def run_video(width, s2d, n3, n4, n5, emb, seed, x, ge, gm, train, dtype, grads=True):
    """One forward (and backward of sum(emb*ge) + sum(mix*gm)) of a freshly generated model."""
    m = S3DG(width, s2d, n3, n4, n5, emb).to(dtype)
    with torch.no_grad():
        load_generated(m, seed)
    m.train(train)
    xt = torch.from_numpy(x).to(dtype)
    with torch.set_grad_enabled(grads):
        e, mix = m(xt)
    res = {"emb": e.detach().numpy().astype(np.float32),
           "mix": mix.detach().numpy().astype(np.float32)}
    if grads:
        ((e * torch.from_numpy(ge).to(dtype)).sum() +
         (mix * torch.from_numpy(gm).to(dtype)).sum()).backward()
        res["grads"] = {n: p.grad.numpy().astype(np.float32) for n, p in m.named_parameters()}
        res["buffers_after"] = {n: b.numpy().astype(np.float32) for n, b in m.named_buffers()
                                if not n.endswith("num_batches_tracked")}
    return res, m


def video_case(out, tag, width, s2d, n3, n4, n5, B, T, H, Wd, seed, emb=512, grads=True):
    """Eval and train mode, each in float64 (the truth) and float32 (PyTorch's own rounding
    noise, from which the C suite sets its tolerance on ill-conditioned tensors)."""
    d = os.path.join(out, tag)
    save(os.path.join(d, "meta.npy"),
         np.array([round(width * 1000), int(s2d), n3, n4, n5, B, T, H, Wd, emb, seed], np.int64))
    x = uniform01(seed, "input", B * 3 * T * H * Wd).astype(np.float32).reshape(B, 3, T, H, Wd)
    save(os.path.join(d, "input.npy"), x)
    feat = S3DG(width, s2d, n3, n4, n5, emb).feat_dim
    rng = np.random.default_rng(seed + 1)
    ge = rng.standard_normal((B, emb)).astype(np.float32)
    gm = rng.standard_normal((B, feat)).astype(np.float32)
    save(os.path.join(d, "g_emb.npy"), ge)
    save(os.path.join(d, "g_mix.npy"), gm)
    runs = [("eval64", False, torch.float64)]
    if grads:
        runs += [("eval32", False, torch.float32), ("train64", True, torch.float64),
                 ("train32", True, torch.float32)]
    for sub, train, dtype in runs:
        res, m = run_video(width, s2d, n3, n4, n5, emb, seed, x, ge, gm, train, dtype, grads)
        save(os.path.join(d, sub, "emb.npy"), res["emb"])
        save(os.path.join(d, sub, "mix.npy"), res["mix"])
        if not grads:
            continue
        for n, v in res["grads"].items():
            save(os.path.join(d, sub, "grads", n + ".npy"), v)
        if train:
            for n, v in res["buffers_after"].items():
                save(os.path.join(d, sub, "buffers_after", n + ".npy"), v)
    if grads:  # the generated initial values, to check milnce's generator bit for bit
        buf_names = {n for n, _ in m.named_buffers()}
        for n, t in m.state_dict().items():
            if not n.endswith("num_batches_tracked"):
                save(os.path.join(d, "buffers" if n in buf_names else "params", n + ".npy"),
                     gen_tensor(seed, n, tuple(t.shape)))


def text_case(out, tag, vocab, wdim, hidden, emb, max_words, B, frozen, masked, seed):
    d = os.path.join(out, tag)
    m = TextModule(vocab, wdim, hidden, emb, frozen, masked).double()
    with torch.no_grad():
        vals = load_generated(m, seed, prefix="text_module.")
    save(os.path.join(d, "meta.npy"),
         np.array([vocab, wdim, hidden, emb, max_words, B, int(frozen), int(masked), seed],
                  np.int64))
    rng = np.random.default_rng(seed)
    ids = np.zeros((B, max_words), np.int64)
    for b in range(B):
        n = [max_words, 3, 0, 7, 1, max_words - 2][b % 6]  # full, short, empty, ... rows
        ids[b, :n] = rng.integers(1, vocab, n)
    ids[0, 5] = ids[0, 9]  # a repeated word: embedding gradient accumulates
    save(os.path.join(d, "ids.npy"), ids)
    for n, v in vals.items():
        save(os.path.join(d, "params", "text_module." + n + ".npy"), v)
    out_t = m(torch.from_numpy(ids))
    g = rng.standard_normal((B, emb)).astype(np.float32)
    (out_t * torch.from_numpy(g.astype(np.float64))).sum().backward()
    save(os.path.join(d, "out.npy"), out_t.detach().numpy().astype(np.float32))
    save(os.path.join(d, "g_out.npy"), g)
    for n, p in m.named_parameters():
        gr = p.grad if p.grad is not None else torch.zeros_like(p)
        save(os.path.join(d, "grads", "text_module." + n + ".npy"), gr.numpy().astype(np.float32))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    # Small video configs (the C suite hard-codes the same list and checks meta.npy).
    # Clip sizes keep >= 8 values per channel in the last BatchNorms: with fewer (2 values at
    # 1x1x1, B=2) train-mode BN amplifies rounding by up to 1/sqrt(eps) and no float32
    # implementation, PyTorch's included, stays within 1e-4 of float64.
    video_case(args.out, "v_w25", 0.25, False, 2, 5, 2, 2, 16, 64, 64, seed=11)
    video_case(args.out, "v_w125_s2d_shallow", 0.125, True, 1, 2, 1, 2, 16, 64, 64, seed=12)
    video_case(args.out, "v_w125_b3", 0.125, False, 2, 5, 2, 3, 8, 64, 48, seed=13)
    text_case(args.out, "t_frozen", 60, 300, 2048, 512, 16, 6, True, False, seed=21)
    text_case(args.out, "t_trained_masked", 40, 24, 64, 32, 12, 6, False, True, seed=22)
    text_case(args.out, "t_trained", 40, 24, 64, 32, 12, 6, False, False, seed=23)
    if os.environ.get("MILNCE_SLOW") == "1":
        video_case(args.out, "full_eval", 1.0, False, 2, 5, 2, 1, 16, 224, 224, seed=31,
                   grads=False)
        video_case(args.out, "full_s2d_eval", 1.0, True, 2, 5, 2, 1, 16, 224, 224, seed=32,
                   grads=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
