#!/usr/bin/env python3
"""PyTorch side of bench/train_step.sh: the identical S3D-G (tests/reference/model_ref.py) in
float32, torch.set_num_threads(2). usage: train_step_torch.py train|infer WIDTH T H W B ITERS [s2d]"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
import model_ref  # noqa: E402


def main():
    mode, width, T, H, W, B, iters = sys.argv[1], float(sys.argv[2]), *map(int, sys.argv[3:8])
    s2d = len(sys.argv) > 8 and sys.argv[8] == "s2d"
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    torch.manual_seed(0)
    m = model_ref.S3DG(width, s2d, 2, 5, 2, 512)
    x = torch.rand(B, 3, T, H, W)
    g = (torch.rand(B, 512) - 0.5) / B
    train = mode == "train"
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    m.train(train)
    total = 0.0
    for it in range(iters + 1):
        t0 = time.perf_counter()
        if train:
            e, _ = m(x)
            opt.zero_grad()
            (e * g).sum().backward()
            opt.step()
        else:
            with torch.no_grad():
                m(x)
        if it > 0:
            total += time.perf_counter() - t0
    print("torch  %s width %g %s%dx%dx%d B=%d: %.2f clips/s (%.1f ms/iter, %d threads)" %
          (mode, width, "s2d " if s2d else "", T, H, W, B, B * iters / total, 1e3 * total / iters,
           torch.get_num_threads()))


if __name__ == "__main__":
    main()
