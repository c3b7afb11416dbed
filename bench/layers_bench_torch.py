#!/usr/bin/env python3
"""PyTorch (oneDNN) timings of the conv shapes of bench/layers_bench.c, same B, same threads
(torch.set_num_threads = cores), forward and backward (input + weight gradients)."""
import os
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
# MILNCE_BENCH_CPU=1: process CPU time (a loaded machine, 1 thread), else wall time.
clock = time.process_time if os.environ.get("MILNCE_BENCH_CPU") == "1" else time.perf_counter
# name, B, T, H, W, cin, cout, k, s, p
SMALL = [
    ("conv1 3x7x7/2", 32, 16, 64, 64, 3, 16, (3, 7, 7), (2, 2, 2), (1, 3, 3)),
    ("conv_2b 1x1", 32, 8, 16, 16, 16, 16, (1, 1, 1), (1, 1, 1), (0, 0, 0)),
    ("conv_2c 1x3x3", 32, 8, 16, 16, 16, 48, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("conv_2c 3x1x1", 32, 8, 16, 16, 48, 48, (3, 1, 1), (1, 1, 1), (1, 0, 0)),
    ("3b b0 1x1", 32, 8, 8, 8, 48, 16, (1, 1, 1), (1, 1, 1), (0, 0, 0)),
    ("3b b1 1x3x3", 32, 8, 8, 8, 24, 32, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("3b b1 3x1x1", 32, 8, 8, 8, 32, 32, (3, 1, 1), (1, 1, 1), (1, 0, 0)),
    ("4b b0 1x1", 32, 4, 4, 4, 120, 48, (1, 1, 1), (1, 1, 1), (0, 0, 0)),
    ("4b b1 1x3x3", 32, 4, 4, 4, 24, 52, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("5c b1 1x3x3", 32, 2, 2, 2, 48, 96, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("5c b0 1x1", 32, 2, 2, 2, 208, 96, (1, 1, 1), (1, 1, 1), (0, 0, 0)),
]
FULL = [
    ("conv1 3x7x7/2", 4, 16, 224, 224, 3, 64, (3, 7, 7), (2, 2, 2), (1, 3, 3)),
    ("s2d conv1 2x4x4", 4, 8, 112, 112, 24, 64, (2, 4, 4), (1, 1, 1), (1, 2, 2)),
    ("conv_2b 1x1", 4, 8, 56, 56, 64, 64, (1, 1, 1), (1, 1, 1), (0, 0, 0)),
    ("conv_2c 1x3x3", 4, 8, 56, 56, 64, 192, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("conv_2c 3x1x1", 4, 8, 56, 56, 192, 192, (3, 1, 1), (1, 1, 1), (1, 0, 0)),
    ("3b b1a 1x1", 4, 8, 28, 28, 192, 96, (1, 1, 1), (1, 1, 1), (0, 0, 0)),
    ("3b b1 1x3x3", 4, 8, 28, 28, 96, 128, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("3b b1 3x1x1", 4, 8, 28, 28, 128, 128, (3, 1, 1), (1, 1, 1), (1, 0, 0)),
    ("4b b0 1x1", 4, 4, 14, 14, 480, 192, (1, 1, 1), (1, 1, 1), (0, 0, 0)),
    ("4b b1 1x3x3", 4, 4, 14, 14, 96, 208, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("5c b1 1x3x3", 4, 2, 7, 7, 192, 384, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("5c b1 3x1x1", 4, 2, 7, 7, 384, 384, (3, 1, 1), (1, 1, 1), (1, 0, 0)),
    ("5c b0 1x1", 4, 2, 7, 7, 832, 384, (1, 1, 1), (1, 1, 1), (0, 0, 0)),
]


def run(shapes, reps):
    tf_all = tb_all = 0.0
    for name, B, T, H, W, ci, co, k, s, p in shapes:
        x = torch.randn(B, ci, T, H, W, requires_grad=True)
        w = torch.randn(co, ci, *k, requires_grad=True)
        y = F.conv3d(x, w, None, s, p)
        gy = torch.randn_like(y)
        flops = 2.0 * y.numel() * ci * k[0] * k[1] * k[2]
        with torch.no_grad():
            F.conv3d(x, w, None, s, p)
            t0 = clock()
            for _ in range(reps):
                F.conv3d(x, w, None, s, p)
            tf = (clock() - t0) / reps
        y.backward(gy)
        t0 = clock()
        for _ in range(reps):
            y = F.conv3d(x, w, None, s, p)
            y.backward(gy)
        tb = (clock() - t0) / reps - tf
        tf_all += tf
        tb_all += tb
        print("%-18s B%-2d %4dx%3dx%3d %4d->%-4d  fwd %8.2f ms %6.1f GF/s   bwd %8.2f ms %6.1f GF/s"
              % (name, B, T, H, W, ci, co, tf * 1e3, flops / tf / 1e9, tb * 1e3,
                 2 * flops / tb / 1e9))
    print("total fwd %.1f ms, bwd %.1f ms" % (tf_all * 1e3, tb_all * 1e3))


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print("torch %s, %d threads" % (torch.__version__, torch.get_num_threads()))
    if which in ("small", "all"):
        print("-- S3D-G width 0.25, 16x64x64, B=32")
        run(SMALL, reps)
    if which in ("full", "all"):
        print("-- S3D-G, 16x224x224, B=4")
        run(FULL, reps)


if __name__ == "__main__":
    main()
