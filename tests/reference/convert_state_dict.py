#!/usr/bin/env python3
"""Convert a PyTorch state_dict of the reference MIL-NCE / S3D-G model to safetensors.

Users: `milnce import s3d-howto100m` replaces this script (no Python, a self-contained
checkpoint with config and vocabulary). It stays as the tests' independent safetensors
reader/writer (read_safetensors / write_safetensors) and for other state_dict layouts.

    convert_state_dict.py IN.pth OUT.safetensors     convert (float32, names kept)
    convert_state_dict.py --to-npy IN.safetensors DIR  dump every tensor as DIR/<name>.npy and the
                                                     metadata as DIR/__metadata__.json (checks
                                                     milnce's files with an independent reader)

The input may be a bare state_dict, or a checkpoint dict holding it under "state_dict" or
"model" (main_distributed.py saves {"epoch", "state_dict", "optimizer", "scheduler"}); the
"module." prefix that DataParallel / DistributedDataParallel add is removed. Floating tensors are
written as F32; BatchNorm's num_batches_tracked counters are dropped; any other non-float tensor
is dropped with a note. Names are kept (conv1.conv1.weight, mixed_3b.conv_b1_b.bn2.running_mean,
text_module.fc1.weight, ...), so the released S3D HowTo100M weights (space-to-depth stem,
conv1.conv1.weight of shape (64, 24, 2, 4, 4)) convert as they are.

Only torch, numpy, json and struct are used: the safetensors package is not needed.
"""
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U8": "u1", "BOOL": "?", "U16": "<u2", "U32": "<u4", "U64": "<u8"}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, float32 ndarray) in file order; written atomically."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
        blobs.append(arr.tobytes())
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)  # data section 8-byte aligned
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_safetensors(path):
    """Returns ({name: ndarray}, metadata dict). A small independent reader with checks."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} beyond the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    spans = []
    for name, e in header.items():
        b, en = e["data_offsets"]
        dt = np.dtype(DTYPES[e["dtype"]])
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        if not (0 <= b <= en <= len(data)) or en - b != count * dt.itemsize:
            raise ValueError(f"{path}: tensor {name}: bad data_offsets")
        spans.append((b, en, name))
        out[name] = np.frombuffer(data[b:en], dtype=dt).reshape(e["shape"]).copy()
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError(f"{path}: {n0} and {n1} overlap")
    return out, meta


def unwrap_state_dict(obj):
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    return obj


def convert(src, dst, log=print):
    import torch

    obj = torch.load(src, map_location="cpu")
    sd = unwrap_state_dict(obj)
    tensors = []
    seen = set()
    for name, t in sd.items():
        if not torch.is_tensor(t):
            log(f"skip {name}: not a tensor")
            continue
        if name.startswith("module."):
            name = name[len("module."):]
        if name in seen:
            raise ValueError(f"{src}: tensor {name} twice (with and without module.)")
        seen.add(name)
        if name.endswith("num_batches_tracked"):
            continue
        if not t.is_floating_point():
            log(f"skip {name}: dtype {t.dtype} is not floating point")
            continue
        tensors.append((name, t.detach().to(torch.float32).contiguous().numpy()))
    write_safetensors(dst, tensors, {"format": "milnce", "format_version": "1",
                                     "source": os.path.basename(src)})
    return [n for n, _ in tensors]


def main(argv):
    if len(argv) == 4 and argv[1] == "--to-npy":
        tensors, meta = read_safetensors(argv[2])
        os.makedirs(argv[3], exist_ok=True)
        for name, arr in tensors.items():
            np.save(os.path.join(argv[3], name + ".npy"), arr)
        with open(os.path.join(argv[3], "__metadata__.json"), "w") as f:
            json.dump(meta, f)
        print(f"{len(tensors)} tensors, {len(meta)} metadata keys")
        return 0
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    names = convert(argv[1], argv[2], log=lambda m: print(m, file=sys.stderr))
    print(f"{argv[2]}: {len(names)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
