"""milnce.Model against `milnce embed` on the same checkpoint: sentences, and video windows whose
frames come from `milnce clip` (the ffmpeg-equivalent decode of the command); errors."""
import csv
import os

import numpy as np
import pytest

from conftest import BIN, run


@pytest.fixture
def ckpt(corpus, small_config, tmp_path):
    out = tmp_path / "run"
    run(BIN, "train", "--config", small_config, "--set", f"data.shards={corpus['shards']}", "--set",
        f"train.out_dir={out}", "--set", "train.max_steps=3")
    return str(out)


def test_text_equals_milnce_embed(corpus, milnce_mod, ckpt, tmp_path):
    lines = ["the red circle slides right", "THE BLUE SQUARE GROWS", "", "zzz qqq unknown words",
             "a green triangle spins " * 5]
    f = tmp_path / "s.txt"
    f.write_text("\n".join(lines) + "\n")
    run(BIN, "embed", "--checkpoint", ckpt, "--sentences", f, "--out", tmp_path / "t")
    want = np.load(tmp_path / "t.npy")
    with milnce_mod.Model(ckpt, video=False) as m:
        got = m.embed_text(lines)
        assert m.dim == 16 and m.step == 3 and m.max_words == 12
        assert got.shape == want.shape == (5, 16)
        np.testing.assert_array_equal(got, want)
        # alone (a batch of 1, other BLAS blocking): equal to rounding
        np.testing.assert_allclose(m.embed_text("the red circle slides right"), want[:1], rtol=1e-4, atol=1e-6)
        with pytest.raises(milnce_mod.MilnceError, match="without its video encoder"):
            m.embed_video(np.zeros((1, 3, 8, 32, 32), np.float32))


def test_video_equals_milnce_embed(corpus, milnce_mod, ckpt, tmp_path):
    video = os.path.join(corpus["syn"], "eval", "videos", "eval_00000.mp4")
    lst = tmp_path / "v.csv"
    lst.write_text(f"video_path\n{video}\n")
    run(BIN, "embed", "--checkpoint", ckpt, "--videos", lst, "--num-windows", 3, "--out", tmp_path / "v")
    want = np.load(tmp_path / "v.npy")
    rows = list(csv.reader(open(tmp_path / "v.ids.txt"), delimiter="\t"))
    with milnce_mod.Model(ckpt, text=False) as m:
        T, S, fps = m.num_frames, m.size, m.fps
        clips = []
        for _, start in rows:
            s = float(start)
            run(BIN, "clip", video, "--start", s, "--end", s + (T + 0.5) / fps, "--fps", fps, "--size", S,
                "--crop", "center", "--max-frames", T, "--out", tmp_path / "c.npy")
            c = np.load(tmp_path / "c.npy")  # (T, S, S, 3) uint8
            assert c.shape == (T, S, S, 3)
            clips.append(c.transpose(3, 0, 1, 2))
        clips = np.stack(clips)  # (N, 3, T, S, S) uint8
        got = m.embed_video(clips)
        assert got.shape == want.shape == (3, 16)
        np.testing.assert_array_equal(got, want)
        # float frames in [0, 1] give the same; one clip at a time agrees to rounding
        np.testing.assert_array_equal(m.embed_video(clips.astype(np.float32) * np.float32(1 / 255)), want)
        np.testing.assert_allclose(m.embed_video(clips[1]), want[1:2], rtol=1e-5, atol=1e-6)
        mix = m.embed_video(clips, feature="mixed_5c")
        assert mix.shape == (3, m.feature_dim) and np.isfinite(mix).all()
        with pytest.raises(ValueError, match="expected"):
            m.embed_video(np.zeros((1, 3, T, S + 1, S), np.float32))


def test_bad_checkpoints_raise(milnce_mod, ckpt, tmp_path):
    with pytest.raises(milnce_mod.MilnceError, match="no checkpoints/latest"):
        milnce_mod.Model(str(tmp_path))
    with pytest.raises(milnce_mod.MilnceError, match="nowhere.safetensors"):
        milnce_mod.Model(str(tmp_path / "nowhere.safetensors"))
    latest = open(os.path.join(ckpt, "checkpoints", "latest")).read().strip()
    src = os.path.join(ckpt, "checkpoints", latest)
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(open(src, "rb").read()[: os.path.getsize(src) // 2])
    with pytest.raises(milnce_mod.MilnceError, match="cut.safetensors"):
        milnce_mod.Model(str(bad))
    # the checkpoint carries its vocabulary (model.vocab is not consulted): a bad override is
    # what the caller can still get wrong, and the message names the key
    with pytest.raises(milnce_mod.MilnceError, match="no_such_key"):
        milnce_mod.Model(src, sets=["model.no_such_key=1"])
