#!/usr/bin/env python3
"""Train the reference S3D-G + text model with MIL-NCE in PyTorch, fed by milnce's loader.

    python3 python/examples/train_torch.py --shards shards/ --out runs/torch1 \\
        [--config configs/demo.yaml] [--set section.key=value ...] [--steps 200] [--workers 2]

The model is tests/reference/model_ref.py's S3DG and TextModule (the reference's tensor names:
conv1.conv1.weight, mixed_3b..., fc, text_module.*), sized by the resolved config's model.*; the
loss is tests/reference/loss_ref.py's MIL-NCE (positives counted in the denominator, as
milnce). Batches come from milnce.torch.ShardDataset (DataLoader workers and DDP ranks split the
work). Adam with train.lr, linear warmup over train.warmup_steps. At the end (and every
train.checkpoint_every steps) it writes RUN/checkpoints/step-NNNNNNNN.safetensors +
checkpoints/latest with the resolved config stored, the layout `milnce eval --checkpoint RUN`
and `milnce embed` read; RUN/log.jsonl has one {"step", "loss", "lr"} line per step.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))

import milnce  # noqa: E402
from convert_state_dict import write_safetensors  # noqa: E402
from loss_ref import milnce_loss  # noqa: E402
from milnce.torch import ShardDataset, collate  # noqa: E402
from model_ref import S3DG, TextModule  # noqa: E402


def parse_config(yaml_text):
    """milnce's resolved YAML (two levels, scalars) -> {"section.key": python value}."""
    out, section = {}, None
    for line in yaml_text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            section = line.rstrip(":").strip()
            continue
        k, v = line.strip().split(":", 1)
        v = v.strip()
        if v.startswith('"'):
            v = json.loads(v)
        elif v in ("true", "false"):
            v = v == "true"
        else:
            try:
                v = int(v)
            except ValueError:
                v = float(v)
        out[f"{section}.{k}"] = v
    return out


class MILNCEModel(S3DG):
    """The video encoder's tensors at the top level and the text encoder under text_module.,
    as the reference's checkpoints (and milnce's) name them."""

    def __init__(self, c, vocab_size):
        super().__init__(c["model.width"], c["model.space_to_depth"], c["model.blocks3"], c["model.blocks4"],
                         c["model.blocks5"], c["model.embed_dim"])
        self.text_module = TextModule(vocab_size, c["model.word_dim"], c["model.text_hidden"], c["model.embed_dim"],
                                      frozen=c["model.freeze_words"], masked=c["train.masked_words"])

    def forward(self, video, text):
        """video (B, 3, T, S, S), text (B, K, L) -> (B, E), (B, K, E)."""
        v, _ = super().forward(video)
        B, K, L = text.shape
        t = self.text_module(text.reshape(B * K, L)).reshape(B, K, -1)
        return v, t


def save_checkpoint(model, run, step, config_yaml):
    d = os.path.join(run, "checkpoints")
    os.makedirs(d, exist_ok=True)
    tensors = [(n, t.detach().float().cpu().numpy()) for n, t in model.state_dict().items()
               if not n.endswith("num_batches_tracked")]
    name = f"step-{step:08d}.safetensors"
    write_safetensors(os.path.join(d, name), tensors,
                      {"format": "milnce", "format_version": "1", "step": str(step), "config": config_yaml,
                       "source": "python/examples/train_torch.py"})
    tmp = os.path.join(d, "latest.tmp")
    with open(tmp, "w") as f:
        f.write(name + "\n")
    os.replace(tmp, os.path.join(d, "latest"))
    return os.path.join(d, name)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shards", required=True, help="folder of milnce shards (with vocab.txt)")
    ap.add_argument("--out", required=True, help="run folder")
    ap.add_argument("--config", help="milnce YAML config (data.*, model.*, train.*)")
    ap.add_argument("--set", action="append", default=[], dest="sets", help="section.key=value")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    sets = list(a.sets) + [f"data.shards={a.shards}", f"train.out_dir={a.out}"]
    yaml_text = milnce.resolve_config(a.config, sets)
    c = parse_config(yaml_text)
    torch.manual_seed(c["train.seed"])
    vocab = c["model.vocab"] or os.path.join(a.shards, "vocab.txt")
    with open(vocab, encoding="utf-8") as f:
        vocab_size = sum(1 for _ in f) + 1  # + padding id 0
    model = MILNCEModel(c, vocab_size)
    # One pass over an endless dataset: epochs follow one another inside each worker (set_epoch
    # would not reach persistent workers, and restarting workers every short epoch is slow).
    ds = ShardDataset(config=a.config, sets=sets, epochs=None)
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=a.workers, collate_fn=collate)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=c["train.lr"])
    warm = max(1, c["train.warmup_steps"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.yaml"), "w") as f:
        f.write(yaml_text)
    log = open(os.path.join(a.out, "log.jsonl"), "w")
    model.train()
    step, t0 = 0, time.time()
    every = c["train.checkpoint_every"]
    if a.steps > 0:
        for b in dl:
            v, t = model(b["video"], b["text"])
            loss = milnce_loss(v, t, b["mask"], c["train.temperature"], c["train.normalize"])
            opt.zero_grad()
            loss.backward()
            if c["train.grad_clip"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), c["train.grad_clip"])
            opt.step()
            sched.step()
            step += 1
            if not math.isfinite(loss.item()):
                raise SystemExit(f"step {step}: loss is {loss.item()}")
            log.write(json.dumps({"step": step, "loss": loss.item(), "lr": opt.param_groups[0]["lr"]}) + "\n")
            log.flush()
            if step % 10 == 0 or step == 1:
                print(f"step {step}: loss {loss.item():.4f} ({(time.time() - t0) / step:.3f} s/step)", flush=True)
            if every and step % every == 0 and step < a.steps:
                save_checkpoint(model, a.out, step, yaml_text)
            if step >= a.steps:
                break
    path = save_checkpoint(model, a.out, step, yaml_text)
    print(f"checkpoint: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
