"""milnce.Loader against the C loader (pipeline/loader.c), byte for byte; epoch coverage across
ranks and consumers; errors as Python exceptions carrying milnce's message."""
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import OPTS, run

DUMP = os.environ.get("MILNCE_C_LOADER_DUMP")
SEED = 7


def c_batches(shards, out, start, count, rank=0, world=1, train=1):
    """Global batches start.. of the C loader, made with options given one by one."""
    os.makedirs(out, exist_ok=True)
    run(DUMP, shards, out, start, count, OPTS["batch_size"] // world, OPTS["num_frames"], OPTS["fps"],
        OPTS["size"], OPTS["min_time"], OPTS["window"], OPTS["num_candidates"], OPTS["max_words"], train,
        SEED, rank, world, OPTS["resize"])
    names = ("video", "text", "mask", "video_idx", "anchor", "clip_start")
    return [{n: np.load(os.path.join(out, f"{i}_{n}.npy")) for n in names} for i in range(start, start + count)]


def assert_same(py, c):
    assert py.video.dtype == np.float32 and c["video"].dtype == np.float32
    assert py.video.shape == c["video"].shape
    assert py.video.tobytes() == c["video"].tobytes(), f"batch {py.index}: video differs"
    assert py.text.dtype == np.int64
    np.testing.assert_array_equal(py.text, c["text"].astype(np.int64))
    np.testing.assert_array_equal(py.mask, c["mask"])
    np.testing.assert_array_equal(py.video_idx, c["video_idx"])
    np.testing.assert_array_equal(py.anchor, c["anchor"])
    assert py.clip_times[:, 0].tobytes() == c["clip_start"].tobytes()
    np.testing.assert_allclose(py.clip_times[:, 1] - py.clip_times[:, 0], OPTS["num_frames"] / OPTS["fps"])


@pytest.mark.skipif(not DUMP, reason="MILNCE_C_LOADER_DUMP not set (run through ctest)")
@pytest.mark.parametrize("rank,world", [(0, 1), (1, 2)])
def test_same_batches_as_c_loader(corpus, milnce_mod, tmp_path, rank, world):
    with milnce_mod.Loader(corpus["shards"], seed=SEED, rank=rank, world=world, uint8=True, **OPTS) as L:
        P = L.batches_per_epoch
        assert L.num_videos == 16 and P == 16 // OPTS["batch_size"]
        ref = c_batches(corpus["shards"], str(tmp_path / "c"), 0, 2 * P, rank, world)
        got = 0
        for epoch in (0, 1):
            L.set_epoch(epoch)
            for b in L:
                assert b.epoch == epoch and b.index == epoch * P + got % P
                assert_same(b, ref[b.index])
                # uint8 on request: the pixels the floats were made from (px * (1/255) in C)
                assert b.video_u8.dtype == np.uint8
                np.testing.assert_array_equal(b.video_u8.astype(np.float32) * np.float32(1 / 255), b.video)
                assert b.video_ids == [L.video_ids[i] for i in ref[b.index]["video_idx"]]
                got += 1
        assert got == 2 * P


@pytest.mark.skipif(not DUMP, reason="MILNCE_C_LOADER_DUMP not set (run through ctest)")
def test_consumer_gets_every_other_batch_and_centre_crop(corpus, milnce_mod, tmp_path):
    ref = c_batches(corpus["shards"], str(tmp_path / "c"), 0, 4, train=0)
    with milnce_mod.Loader(corpus["shards"], seed=SEED, consumer=1, consumers=2, crop_random=False, **OPTS) as L:
        assert len(L) == 2
        idx = []
        for b in L:
            assert_same(b, ref[b.index])
            idx.append(b.index)
        assert idx == [1, 3]


def test_zero_copy_views(corpus, milnce_mod):
    with milnce_mod.Loader(corpus["shards"], seed=SEED, **OPTS) as L:
        b = next(iter(L))
        for a in (b.video, b.text, b.mask, b.video_idx, b.clip_times):
            assert not a.flags.owndata  # a view of the loader's buffer, not a copy
        assert b.video.flags.c_contiguous
        kept = b.copy()
        assert kept.video.flags.owndata and kept.video.tobytes() == b.video.tobytes()


def test_epoch_visits_every_video_once_across_ranks_and_consumers(corpus, milnce_mod):
    world, consumers = 2, 2
    for epoch in (0, 3):
        seen, order = [], []
        for rank in range(world):
            for c in range(consumers):
                with milnce_mod.Loader(corpus["shards"], seed=SEED, rank=rank, world=world, epoch=epoch,
                                       consumer=c, consumers=consumers, **OPTS) as L:
                    for b in L:
                        assert b.epoch == epoch
                        seen.extend(b.video_idx.tolist())
                        order.append((b.index, rank, b.video_idx.tolist()))
        assert sorted(seen) == list(range(16)), f"epoch {epoch}: {sorted(seen)}"
        # the same epoch in one process: the concatenation of the ranks' parts, batch by batch
        with milnce_mod.Loader(corpus["shards"], seed=SEED, epoch=epoch, **OPTS) as L:
            whole = {b.index: b.video_idx.tolist() for b in L}
        for index, rank, part in order:
            B = OPTS["batch_size"] // world
            assert whole[index][rank * B:(rank + 1) * B] == part


def test_deterministic_and_epochs_differ(corpus, milnce_mod):
    def epoch_ids(e, workers):
        with milnce_mod.Loader(corpus["shards"], seed=SEED, epoch=e, workers=workers, **OPTS) as L:
            return [(b.video_idx.tolist(), b.clip_times.tolist(), b.video.sum()) for b in L]
    a = epoch_ids(1, 1)
    assert a == epoch_ids(1, 3)  # any number of decoding threads
    assert a != epoch_ids(2, 2)


def test_iterating_twice_repeats_the_epoch(corpus, milnce_mod):
    with milnce_mod.Loader(corpus["shards"], seed=SEED, **OPTS) as L:
        first = [b.video_idx.tolist() for b in L]
        again = [b.video_idx.tolist() for b in L]
        assert first == again and len(first) == len(L)


def expect_error(milnce_mod, *words, **kw):
    with pytest.raises(milnce_mod.MilnceError) as ei:
        with milnce_mod.Loader(**kw) as L:
            for _ in L:
                pass
    for w in words:
        assert w in str(ei.value), str(ei.value)
    assert ei.value.code < 0
    return ei.value


def test_errors_carry_milnce_messages(corpus, milnce_mod, tmp_path):
    expect_error(milnce_mod, "key data.shards", str(tmp_path / "nowhere"), shards=str(tmp_path / "nowhere"), **OPTS)
    expect_error(milnce_mod, "data.num_frames", shards=corpus["shards"], **dict(OPTS, num_frames=0))
    expect_error(milnce_mod, "data.no_such_key", shards=corpus["shards"], no_such_key=3, **OPTS)
    expect_error(milnce_mod, "train.batch_size", shards=corpus["shards"], world=3, **OPTS)
    expect_error(milnce_mod, "cannot fill one global batch", shards=corpus["shards"], **dict(OPTS, batch_size=32))
    bad_cfg = tmp_path / "bad.yaml"
    bad_cfg.write_text("data:\n  fps: fast\n")
    expect_error(milnce_mod, str(bad_cfg), "data.fps", config=str(bad_cfg))
    empty = tmp_path / "empty"
    empty.mkdir()
    expect_error(milnce_mod, str(empty), shards=str(empty), **OPTS)


def test_truncated_shard_raises_naming_the_file(corpus, milnce_mod, tmp_path):
    bad = tmp_path / "trunc"
    shutil.copytree(corpus["shards"], bad)
    tar = bad / "train-000001.tar"
    os.truncate(tar, os.path.getsize(tar) // 3)
    expect_error(milnce_mod, "train-000001.tar", "truncated", shards=str(bad), **OPTS)


def garble_videos(shard_dir, shards):
    import json
    for s in shards:
        idx = json.load(open(os.path.join(shard_dir, f"train-{s:06d}.idx.json")))
        with open(os.path.join(shard_dir, f"train-{s:06d}.tar"), "r+b") as f:
            for sample in idx["samples"]:
                for m in sample["members"]:
                    if m["name"].endswith(".mp4"):
                        f.seek(m["offset"])
                        f.write((b"\x00garbage" * (m["size"] // 8 + 1))[:m["size"]])


def test_damaged_videos_are_replaced_with_a_warning(corpus, milnce_mod, tmp_path, caplog):
    bad = tmp_path / "half"
    shutil.copytree(corpus["shards"], bad)
    garble_videos(str(bad), [0])  # videos 0..7 unreadable, 8..15 fine
    with milnce_mod.Loader(str(bad), seed=SEED, **OPTS) as L:
        ids = [i for b in L for i in b.video_idx.tolist()]
    assert len(ids) == 16 and min(ids) >= 8
    assert any("sample replaced" in r.getMessage() and ".mp4" in r.getMessage() for r in caplog.records)


def test_all_videos_damaged_raises(corpus, milnce_mod, tmp_path):
    bad = tmp_path / "all"
    shutil.copytree(corpus["shards"], bad)
    garble_videos(str(bad), [0, 1])
    expect_error(milnce_mod, "8 samples in a row failed", "cannot open as a video", shards=str(bad), **OPTS)


def test_library_error_does_not_crash_the_interpreter(corpus, tmp_path):
    """A closed loader raises instead of touching freed memory (in a child, to survive a crash)."""
    code = ("import milnce\n"
            f"L = milnce.Loader({corpus['shards']!r}, **{OPTS!r})\n"
            "L.close()\n"
            "try:\n    L.next_batch()\nexcept milnce.MilnceError as e:\n    print('raised', e)\n")
    r = subprocess.run([os.environ.get("MILNCE_PYTHON", "/usr/bin/python3"), "-c", code], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "raised milnce.Loader is closed" in r.stdout, r.stderr


def test_run_of_epochs_split_over_three_consumers_in_turn(corpus, milnce_mod):
    """4 batches per epoch, 3 consumers: taking one batch from each in turn (as a DataLoader
    does with its workers) gives the run's order across the epoch boundary."""
    with milnce_mod.Loader(corpus["shards"], seed=SEED, epoch=1, epochs=2, **OPTS) as L:
        assert len(L) == 8
        whole = [(b.index, b.video_idx.tolist()) for b in L]
    assert [i for i, _ in whole] == list(range(4, 12))
    parts = []
    for c in range(3):
        with milnce_mod.Loader(corpus["shards"], seed=SEED, epoch=1, epochs=2, consumer=c, consumers=3, **OPTS) as L:
            parts.append([(b.index, b.video_idx.tolist()) for b in L])
            assert len(L) == len(parts[-1])
    turn = [p[k] for k in range(3) for p in parts if k < len(p)]
    assert turn == whole
    with milnce_mod.Loader(corpus["shards"], seed=SEED, epoch=1, epochs=None, **OPTS) as L:
        with pytest.raises(TypeError):
            len(L)
        endless = []
        for b in L:
            endless.append((b.index, b.video_idx.tolist()))
            if len(endless) == 12:
                break
    assert endless[:8] == whole and endless[8][0] == 12
