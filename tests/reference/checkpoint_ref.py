#!/usr/bin/env python3
"""Checkpoint fixtures for tests/check_checkpoint.c.

Builds a small state_dict with the reference model's naming (S3D HowTo100M s3dg.py: space-to-depth
stem conv1.conv1.weight (64, 24, 2, 4, 4), BatchNorm buffers with num_batches_tracked, an
Inception branch, self-gating, the text module; one tensor in float64 and one in float16),
wraps it as main_distributed.py saves it ({"epoch", "state_dict" with DataParallel "module."
prefixes, "optimizer"}), torch.save's it, converts it with convert_state_dict.py, and writes what
the C reader must find: expected/<name>.npy and tensors.txt ("name kind ndim dims...", kind
param or buffer).
"""
import argparse
import os
import sys

import testenv  # exits 77 (a CTest skip) when a module below is missing

testenv.need("numpy", "torch")
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_state_dict  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "expected"), exist_ok=True)
    g = torch.Generator().manual_seed(5)
    sd = {}

    def bn(prefix, c):
        sd[prefix + ".weight"] = torch.rand(c, generator=g)
        sd[prefix + ".bias"] = torch.randn(c, generator=g)
        sd[prefix + ".running_mean"] = torch.randn(c, generator=g)
        sd[prefix + ".running_var"] = torch.rand(c, generator=g) + 0.5
        sd[prefix + ".num_batches_tracked"] = torch.tensor(1234, dtype=torch.long)

    sd["conv1.conv1.weight"] = torch.randn(64, 24, 2, 4, 4, generator=g)
    bn("conv1.bn1", 64)
    sd["mixed_3b.conv_b1_b.conv1.weight"] = torch.randn(4, 3, 1, 3, 3, generator=g)
    bn("mixed_3b.conv_b1_b.bn1", 4)
    sd["mixed_3b.conv_b1_b.conv2.weight"] = torch.randn(4, 4, 3, 1, 1, generator=g)
    bn("mixed_3b.conv_b1_b.bn2", 4)
    sd["mixed_3b.gating_b0.fc.weight"] = torch.randn(4, 4, generator=g)
    sd["mixed_3b.gating_b0.fc.bias"] = torch.randn(4, generator=g)
    sd["text_module.word_embd.weight"] = torch.randn(10, 6, generator=g, dtype=torch.float64)
    sd["text_module.fc1.weight"] = torch.randn(8, 6, generator=g).half()
    sd["text_module.fc1.bias"] = torch.randn(8, generator=g)
    sd["fc.weight"] = torch.randn(5, 8, generator=g)
    sd["fc.bias"] = torch.randn(5, generator=g)

    wrapped = {"epoch": 3, "state_dict": {"module." + k: v for k, v in sd.items()},
               "optimizer": {"state": {}, "param_groups": []}}
    pth = os.path.join(args.out, "ref_model.pth.tar")
    torch.save(wrapped, pth)
    convert_state_dict.convert(pth, os.path.join(args.out, "ref_model.safetensors"), log=lambda m: None)

    with open(os.path.join(args.out, "tensors.txt"), "w") as f:
        for name, t in sd.items():
            if name.endswith("num_batches_tracked"):
                continue
            kind = "buffer" if name.endswith(("running_mean", "running_var")) else "param"
            arr = t.to(torch.float32).numpy()
            np.save(os.path.join(args.out, "expected", name + ".npy"), arr)
            f.write(f"{name} {kind} {arr.ndim} {' '.join(str(d) for d in arr.shape)}\n")
    print(f"checkpoint_ref: {len(sd)} state_dict entries converted in {args.out}")


if __name__ == "__main__":
    main()
