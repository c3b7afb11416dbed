"""Compares the tensors of two safetensors files: exits 1 when any differs by more than --tol
(absolute, relative to max(1, |b|)); --exact asks for bit equality. Prints the worst tensor.
Reads the format by hand (the safetensors package is not installed): u64 LE header length,
JSON header, raw little-endian data."""
import argparse
import json
import struct
import sys

import numpy as np

DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "F16": np.float16}


def load(path, skip_prefix):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for k, v in header.items():
        if k == "__metadata__" or any(k.startswith(p) for p in skip_prefix):
            continue
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(data[b:e], dtype=DT[v["dtype"]]).reshape(v["shape"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tol", type=float, default=0.0)
    ap.add_argument("--exact", action="store_true")
    ap.add_argument("--skip", action="append", default=[], help="ignore tensors with this prefix")
    a = ap.parse_args()
    A, B = load(a.a, a.skip), load(a.b, a.skip)
    if set(A) != set(B):
        print("tensor names differ:", sorted(set(A) ^ set(B))[:10])
        sys.exit(1)
    worst, name = 0.0, None
    for k in A:
        if A[k].shape != B[k].shape:
            print(f"{k}: shape {A[k].shape} vs {B[k].shape}")
            sys.exit(1)
        if a.exact:
            if A[k].tobytes() != B[k].tobytes():
                d = np.max(np.abs(A[k].astype(np.float64) - B[k].astype(np.float64)))
                print(f"{k}: not bit-identical (max |diff| {d:g})")
                sys.exit(1)
            continue
        d = np.max(np.abs(A[k].astype(np.float64) - B[k].astype(np.float64)) / np.maximum(1.0, np.abs(B[k].astype(np.float64)))) if A[k].size else 0
        if d > worst:
            worst, name = d, k
    print(f"{len(A)} tensors compared; worst {worst:g} ({name})" if not a.exact else f"{len(A)} tensors bit-identical")
    sys.exit(1 if worst > a.tol else 0)


if __name__ == "__main__":
    main()
