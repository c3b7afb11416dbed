#!/usr/bin/env python3
"""Files of the released S3D HowTo100M layout, written by torch.save / np.save, for `milnce import`.

The model is the released one (antoine77340/S3D_HowTo100M: full S3D-G with the space-to-depth
stem, fc 1024 -> 512, Sentence_Embedding 300 -> 2048 -> 512, max_words 16) with random weights;
its vocabulary is smaller than the released 66,249 words so the files stay a few tens of MB.
The layers come from model_ref.py (written from DESIGN.md, names of the published model).

Under --out DIR:
  s3d_howto100m.pth          bare state_dict (OrderedDict, num_batches_tracked included), zip format
  s3d_howto100m_legacy.pth   the same, _use_new_zipfile_serialization=False
  s3d_ckpt.pth               main_distributed.py style {"epoch", "state_dict" ("module." names)}, legacy
  s3d_dict.npy               the words, as the released file: a numpy unicode array ('<U..')
  s3d_dict_object.npy        the words as an object array (pickled; refused)
  frames.npy                 (B,3,T,H,W) float32 in [0,1]; video_emb.npy (B,512), mixed5c.npy (B,1024)
  sentences.txt              one sentence a line; text_emb.npy (S,512) (max_words 16, lower case)
  word2vec.pth, dict.npy     MIL-NCE_HowTo100M training inputs: (V+1, 300) tensor (row 0 padding) + words
  evil_zip.pth, evil_legacy.pth   torch.save of an object whose pickle calls os.system (never run)
  truncated_zip.pth, truncated_legacy.pth   the first 60% of the two state_dict files
  nonfinite.pth              the state_dict with one Inf in fc.weight (zip)
"""
import argparse
import collections
import os
import re

import numpy as np
import torch
import torch.nn as nn

import model_ref

MAX_WORDS = 16


class Released(nn.Module):
    """S3D-G + text module, state_dict names as the released s3d_howto100m.pth."""

    def __init__(self, nwords):
        super().__init__()
        self.video = model_ref.S3DG(width=1.0, s2d=True, n3=2, n4=5, n5=2, emb=512)
        self.text_module = model_ref.TextModule(nwords + 1, 300, 2048, 512)

    def state_dict_released(self):
        sd = collections.OrderedDict()
        for k, v in self.video.state_dict().items():
            sd[k] = v
        for k, v in self.text_module.state_dict().items():
            sd["text_module." + k] = v
        # as nn.Module.state_dict() does: pickled as the OrderedDict's state (a BUILD opcode)
        sd._metadata = collections.OrderedDict([("", {"version": 1}), ("conv1", {"version": 1})])
        return sd


class Evil:
    def __reduce__(self):
        return (os.system, ("echo milnce-import-test-should-never-run",))


def make_words(n, rng):
    base = ["the", "a", "onion", "cut", "stir", "pan", "don't", "café", "naïve", "über", "oil",
            "salt", "pepper", "add", "mix", "bowl", "knife", "board", "heat", "water", "garlic"]
    words = list(base)
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(words) < n:
        w = "".join(rng.choice(list(letters), size=rng.integers(3, 9)))
        if w not in words:
            words.append(w)
    return words[:n]


def tokens(sentence, word_to_id):
    ids = [word_to_id[w] for w in re.findall(r"[\w']+", sentence.lower()) if w in word_to_id]
    ids = ids[:MAX_WORDS] + [0] * max(0, MAX_WORDS - len(ids))
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--words", type=int, default=400)
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    words = make_words(a.words, rng)

    m = Released(len(words)).eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity, so eval mode matters
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm3d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.9, 1.1)
                mod.bias.uniform_(-0.1, 0.1)
                mod.num_batches_tracked.fill_(1234)
        m.text_module.word_embd.weight.normal_()
    sd = m.state_dict_released()
    torch.save(sd, os.path.join(a.out, "s3d_howto100m.pth"))
    torch.save(sd, os.path.join(a.out, "s3d_howto100m_legacy.pth"), _use_new_zipfile_serialization=False)
    wrapped = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    torch.save({"epoch": 7, "state_dict": wrapped, "lr": 0.001}, os.path.join(a.out, "s3d_ckpt.pth"),
               _use_new_zipfile_serialization=False)
    np.save(os.path.join(a.out, "s3d_dict.npy"), np.array(words))
    np.save(os.path.join(a.out, "s3d_dict_object.npy"), np.array(words, dtype=object), allow_pickle=True)

    # frames and the embeddings PyTorch gives them
    B, T, S = 2, 16, 64
    frames = torch.rand(B, 3, T, S, S, generator=torch.Generator().manual_seed(a.seed))
    with torch.no_grad():
        emb, mix = m.video(frames)
    np.save(os.path.join(a.out, "frames.npy"), frames.numpy().astype(np.float32))
    np.save(os.path.join(a.out, "video_emb.npy"), emb.numpy().astype(np.float32))
    np.save(os.path.join(a.out, "mixed5c.npy"), mix.numpy().astype(np.float32))

    word_to_id = {w: i + 1 for i, w in enumerate(words)}
    sentences = [
        "Cut the onion and stir it in the pan",
        "Don't add salt; CAFÉ naïve über oil!",
        "nothing known here: zzzz qqqq",
        " ".join(words[20:60]),  # longer than max_words: truncated
        "garlic",
    ]
    with open(os.path.join(a.out, "sentences.txt"), "w", encoding="utf-8") as f:
        for s in sentences:
            f.write(s + "\n")
    ids = torch.tensor([tokens(s, word_to_id) for s in sentences], dtype=torch.long)
    with torch.no_grad():
        temb = m.text_module(ids)
    np.save(os.path.join(a.out, "text_emb.npy"), temb.numpy().astype(np.float32))

    # training-from-scratch inputs: a bare tensor and the words (row i + 1 = word i)
    w2v = torch.randn(len(words) + 1, 300)
    w2v[0] = 0
    torch.save(w2v, os.path.join(a.out, "word2vec.pth"))
    np.save(os.path.join(a.out, "dict.npy"), np.array(words))
    np.save(os.path.join(a.out, "word2vec_rows.npy"), w2v.numpy())

    torch.save({"x": Evil()}, os.path.join(a.out, "evil_zip.pth"))
    torch.save({"x": Evil()}, os.path.join(a.out, "evil_legacy.pth"), _use_new_zipfile_serialization=False)
    for name in ("s3d_howto100m.pth", "s3d_howto100m_legacy.pth"):
        with open(os.path.join(a.out, name), "rb") as f:
            raw = f.read()
        out = "truncated_zip.pth" if "legacy" not in name else "truncated_legacy.pth"
        with open(os.path.join(a.out, out), "wb") as f:
            f.write(raw[: len(raw) * 6 // 10])
    bad = collections.OrderedDict((k, v.clone()) for k, v in sd.items())
    bad["fc.weight"][3, 5] = float("inf")
    torch.save(bad, os.path.join(a.out, "nonfinite.pth"))
    print(f"{a.out}: released layout, {len(words)} words, {sum(v.numel() for v in sd.values())} values")


if __name__ == "__main__":
    main()
