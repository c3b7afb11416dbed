#!/usr/bin/env python3
"""Reads milnce shards with nothing but Python's tarfile and json, independently of the C reader.

usage: read_shards.py SHARD.tar [SHARD.tar ...]

For every shard: groups the members into WebDataset samples (key = name up to the first dot of
its last path component, members contiguous), checks the sidecar index <shard>.idx.json against
what tarfile sees (names, data offsets, sizes, tar size), and prints one JSON document on stdout:
  {"shards": [{"path": ..., "samples": [{"key": ..., "members": {ext: {"size": n, "fnv1a64":
   "hex", "json": <parsed, for .json members>}}}]}]}
Exits 1 with a message on stderr when the index and the tar disagree."""
import json
import os
import sys
import tarfile


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def read_shard(path):
    samples = []
    with tarfile.open(path, "r:") as tf:  # plain tar, no compression
        infos = [ti for ti in tf.getmembers() if ti.isfile()]
        for ti in infos:
            base = os.path.basename(ti.name)
            prefix = ti.name[: len(ti.name) - len(base)]
            key, _, ext = base.partition(".")
            key = prefix + key
            if not samples or samples[-1]["key"] != key:
                if any(s["key"] == key for s in samples):
                    raise SystemExit("%s: sample %r is not contiguous" % (path, key))
                samples.append({"key": key, "members": {}, "_infos": []})
            data = tf.extractfile(ti).read()
            m = {"size": len(data), "fnv1a64": fnv1a64(data)}
            if ext.endswith("json"):
                m["json"] = json.loads(data.decode("utf-8"))
            samples[-1]["members"][ext] = m
            samples[-1]["_infos"].append(ti)
            # deterministic headers
            if ti.mtime != 0 or ti.uid != 0 or ti.gid != 0 or ti.mode != 0o644 or ti.uname or ti.gname:
                raise SystemExit("%s: member %s has non-deterministic header fields" % (path, ti.name))
    idx_path = path[: -len(".tar")] + ".idx.json"
    with open(idx_path, "rb") as f:
        idx = json.load(f)
    if idx.get("format") != "milnce-shard-index" or idx.get("version") != 1:
        raise SystemExit("%s: unexpected format/version" % idx_path)
    if idx["tar_size"] != os.path.getsize(path):
        raise SystemExit("%s: tar_size %d != file size %d" % (idx_path, idx["tar_size"], os.path.getsize(path)))
    if [s["key"] for s in idx["samples"]] != [s["key"] for s in samples]:
        raise SystemExit("%s: keys differ from the tar" % idx_path)
    for s, si in zip(samples, idx["samples"]):
        infos = s.pop("_infos")
        if len(infos) != len(si["members"]):
            raise SystemExit("%s: sample %s member count differs" % (idx_path, s["key"]))
        for ti, m in zip(infos, si["members"]):
            if (ti.name, ti.offset_data, ti.size, ti.offset) != (m["name"], m["offset"], m["size"], m["header"]):
                raise SystemExit("%s: member %s: tar has (%s, %d, %d, %d), index has %r" % (
                    idx_path, ti.name, ti.name, ti.offset_data, ti.size, ti.offset, m))
    return {"path": path, "samples": samples}


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = {"shards": [read_shard(p) for p in sys.argv[1:]]}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
