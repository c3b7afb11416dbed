#!/usr/bin/env python3
"""Optimizer + schedule fixtures for tests/check_optim.c, from torch.optim itself.

For each configuration: two float32 tensors w (3,5) and b (7,) with random initial values are
stepped S times with given random gradients through torch.optim.Adam / AdamW / SGD,
torch.nn.utils.clip_grad_norm_ and the reference's warmup + cosine LambdaLR (stepped after every
optimizer step). Writes <name>_p0.npy (22,), <name>_grads.npy (S,22), <name>_params.npy (S,22)
(after each step), <name>_lr.npy (S,) f64 (lr used by each step), and configs.txt:
"name kind lr beta1 beta2 eps weight_decay momentum nesterov clip warmup total cycles".
"""
import argparse
import math
import os

import testenv  # exits 77 (a CTest skip) when a module below is missing

testenv.need("numpy", "torch")
import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR


def cosine_with_warmup(optimizer, num_warmup_steps, num_training_steps, num_cycles=0.5):
    # The reference's schedule (MIL-NCE_HowTo100M utils.py), written out again here.
    def f(step):
        if step < num_warmup_steps:
            return float(step) / float(max(1, num_warmup_steps))
        progress = float(step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))

    return LambdaLR(optimizer, f)


CONFIGS = [
    # name kind lr b1 b2 eps wd momentum nesterov clip warmup total cycles
    ("adam", "adam", 1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0, 0, 0.0, 0, 0, 0.5),
    ("adam_wd", "adam", 1e-2, 0.8, 0.99, 1e-6, 0.1, 0.0, 0, 0.0, 0, 0, 0.5),
    ("adamw", "adamw", 1e-2, 0.9, 0.999, 1e-8, 0.05, 0.0, 0, 0.0, 0, 0, 0.5),
    ("adam_sched_clip", "adam", 1e-2, 0.9, 0.999, 1e-8, 0.0, 0.0, 0, 0.5, 2, 6, 0.5),
    ("sgd", "sgd", 0.1, 0, 0, 0, 0.0, 0.0, 0, 0.0, 0, 0, 0.5),
    ("sgd_momentum", "sgd", 0.05, 0, 0, 0, 1e-3, 0.9, 0, 0.0, 0, 0, 0.5),
    ("sgd_nesterov_sched", "sgd", 0.05, 0, 0, 0, 1e-2, 0.9, 1, 1.0, 3, 8, 0.5),
]
STEPS = 8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(1234)
    with open(os.path.join(args.out, "configs.txt"), "w") as f:
        for (name, kind, lr, b1, b2, eps, wd, mom, nest, clip, warm, total, cyc) in CONFIGS:
            p0 = rng.standard_normal(22).astype(np.float32)
            grads = rng.standard_normal((STEPS, 22)).astype(np.float32)
            w = torch.nn.Parameter(torch.tensor(p0[:15].reshape(3, 5)))
            b = torch.nn.Parameter(torch.tensor(p0[15:]))
            if kind == "adam":
                opt = torch.optim.Adam([w, b], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
            elif kind == "adamw":
                opt = torch.optim.AdamW([w, b], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
            else:
                opt = torch.optim.SGD([w, b], lr=lr, momentum=mom, weight_decay=wd, nesterov=bool(nest))
            sched = cosine_with_warmup(opt, warm, total, cyc) if total > 0 else None
            params, lrs = [], []
            for s in range(STEPS):
                opt.zero_grad()
                w.grad = torch.tensor(grads[s, :15].reshape(3, 5))
                b.grad = torch.tensor(grads[s, 15:])
                if clip > 0:
                    torch.nn.utils.clip_grad_norm_([w, b], clip)
                lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                if sched:
                    sched.step()
                params.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy()]))
            p = lambda s: os.path.join(args.out, f"{name}_{s}.npy")
            np.save(p("p0"), p0)
            np.save(p("grads"), grads)
            np.save(p("params"), np.stack(params).astype(np.float32))
            np.save(p("lr"), np.array(lrs, dtype=np.float64))
            f.write(f"{name} {kind} {lr!r} {b1!r} {b2!r} {eps!r} {wd!r} {mom!r} {nest} {clip!r} {warm} {total} {cyc!r}\n")
    print(f"optim_ref: {len(CONFIGS)} configurations x {STEPS} steps in {args.out}")


if __name__ == "__main__":
    main()
