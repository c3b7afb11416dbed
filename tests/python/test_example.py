"""python/examples/train_torch.py: 50 MIL-NCE steps on the synthetic corpus lower the loss; the
checkpoint it writes is read by `milnce eval`, and milnce's encoders on it agree with the
PyTorch model that trained it."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import BIN, SRC, run

torch = pytest.importorskip("torch")
EXAMPLE = os.path.join(SRC, "python", "examples", "train_torch.py")


def test_example_trains_and_milnce_reads_its_checkpoint(corpus, milnce_mod, small_config, tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, EXAMPLE, "--shards", corpus["shards"], "--out", str(out), "--config",
                        small_config, "--steps", "50", "--workers", "2"], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    losses = [json.loads(line)["loss"] for line in open(out / "log.jsonl")]
    assert len(losses) == 50
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    print(f"loss: first 10 steps {first:.4f}, last 10 {last:.4f}")
    assert last < 0.9 * first, f"loss did not fall: {first:.4f} -> {last:.4f}"

    # `milnce eval` reads the checkpoint (every tensor present, shapes from its stored config)
    syn = corpus["syn"]
    run(BIN, "eval", "--checkpoint", out, "--set", f"eval.csv={syn}/eval/youcook2_val.csv", "--set",
        f"eval.video_root={syn}/eval/videos")
    ev = json.load(open(out / "eval.json"))
    assert ev["step"] == 50 and ev["n"] > 0 and ev["missing_videos"] == 0

    # milnce's encoders on the checkpoint = the PyTorch model that wrote it (eval mode)
    sys.path.insert(0, os.path.dirname(EXAMPLE))
    import train_torch
    yaml_text = open(out / "config.yaml").read()
    c = train_torch.parse_config(yaml_text)
    vocab = sum(1 for _ in open(os.path.join(corpus["shards"], "vocab.txt"))) + 1
    net = train_torch.MILNCEModel(c, vocab)
    ck = sorted((out / "checkpoints").glob("step-*.safetensors"))[-1]
    sys.path.insert(0, os.path.join(SRC, "tests", "reference"))
    from convert_state_dict import read_safetensors
    tensors, meta = read_safetensors(str(ck))
    assert meta["step"] == "50" and "model:" in meta["config"]
    missing, unexpected = net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    net.eval()
    rng = np.random.default_rng(0)
    clips = rng.random((2, 3, 8, 32, 32), dtype=np.float32)
    ids = np.zeros((3, 12), np.int64)
    ids[0, :4] = [1, 2, 3, 4]
    ids[1, :2] = [5, vocab - 1]
    ids[2, :1] = [7]
    words = open(os.path.join(corpus["shards"], "vocab.txt"), encoding="utf-8").read().split("\n")
    sentences = [" ".join(words[i - 1] for i in row if i) for row in ids]
    with torch.no_grad():
        v_ref, _ = super(train_torch.MILNCEModel, net).forward(torch.from_numpy(clips))
        t_ref = net.text_module(torch.from_numpy(ids))
    with milnce_mod.Model(str(out)) as m:
        np.testing.assert_allclose(m.embed_video(clips), v_ref.numpy(), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(m.embed_text(sentences), t_ref.numpy(), rtol=1e-3, atol=1e-4)
