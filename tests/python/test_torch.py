"""milnce.torch: the IterableDataset under a DataLoader with 0 and 2 workers, split by DDP rank;
collate's tensors share memory with the loader in the main process."""
import os

import numpy as np
import pytest

from conftest import OPTS

torch = pytest.importorskip("torch")
SEED = 5


def loader_batches(milnce_mod, shards, epoch, rank=0, world=1):
    with milnce_mod.Loader(shards, seed=SEED, epoch=epoch, rank=rank, world=world, **OPTS) as L:
        return [(b.index, b.video.copy(), b.text.copy(), b.mask.copy(), list(b.video_ids)) for b in L]


def check_same(dl_batches, ref):
    assert len(dl_batches) == len(ref)
    for got, (index, video, text, mask, ids) in zip(dl_batches, ref):
        assert got["index"] == index
        assert got["video"].dtype == torch.float32 and got["video"].numpy().tobytes() == video.tobytes()
        assert got["text"].dtype == torch.int64 and np.array_equal(got["text"].numpy(), text)
        assert got["mask"].dtype == torch.bool and np.array_equal(got["mask"].numpy(), mask.astype(bool))
        assert got["video_ids"] == ids


def run_dataloader(ds, workers):
    from milnce.torch import collate
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers, collate_fn=collate,
                                     timeout=300 if workers else 0)
    out = []
    for b in dl:  # keep copies: with 0 workers the tensors are the loader's buffer
        out.append({k: (v.clone() if torch.is_tensor(v) else v) for k, v in b.items()})
    return out


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_gives_the_loader_batches_in_order(corpus, milnce_mod, workers):
    from milnce.torch import ShardDataset
    ds = ShardDataset(corpus["shards"], seed=SEED, rank=0, world=1, **OPTS)
    assert len(ds) == 16 // OPTS["batch_size"]
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        check_same(run_dataloader(ds, workers), loader_batches(milnce_mod, corpus["shards"], epoch))


def test_ranks_and_workers_cover_the_epoch_once(corpus, milnce_mod, monkeypatch):
    from milnce.torch import ShardDataset
    seen = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))  # as torchrun sets them
        monkeypatch.setenv("WORLD_SIZE", "2")
        ds = ShardDataset(corpus["shards"], seed=SEED, **OPTS)
        assert (ds.rank, ds.world) == (rank, 2)
        ds.set_epoch(2)
        got = run_dataloader(ds, 2)
        check_same(got, loader_batches(milnce_mod, corpus["shards"], 2, rank, 2))
        for b in got:
            assert b["video"].shape[0] == OPTS["batch_size"] // 2
            seen.extend(b["video_idx"].tolist())
    assert sorted(seen) == list(range(16))


def test_endless_dataset_with_workers_keeps_the_run_order(corpus, milnce_mod):
    from milnce.torch import ShardDataset, collate
    ds = ShardDataset(corpus["shards"], seed=SEED, rank=0, world=1, epochs=None, **OPTS)
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, collate_fn=collate, timeout=300)
    got = []
    for b in dl:
        got.append((b["index"], b["video_idx"].tolist()))
        if len(got) == 10:
            break
    with milnce_mod.Loader(corpus["shards"], seed=SEED, epochs=3, **OPTS) as L:
        ref = [(b.index, b.video_idx.tolist()) for b in L][:10]
    assert got == ref and got[-1][0] == 9


@pytest.mark.parametrize("shared_buffers", [8, 0])
def test_worker_batches_stay_intact(corpus, milnce_mod, shared_buffers):
    """Shared-memory buffers reused in turn: a received batch is intact while the next ones
    arrive (with 0: fresh segments, every batch may be kept)."""
    from milnce.torch import ShardDataset, collate
    ds = ShardDataset(corpus["shards"], seed=SEED, rank=0, world=1, epochs=3, shared_buffers=shared_buffers, **OPTS)
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, collate_fn=collate, timeout=300)
    with milnce_mod.Loader(corpus["shards"], seed=SEED, epochs=3, **OPTS) as L:
        ref = [b.video.copy() for b in L]
    kept = []
    for b in dl:
        kept.append(b)
        for old in kept[-5:] if shared_buffers else kept:  # the last 4 before this one
            assert old["video"].numpy().tobytes() == ref[old["index"]].tobytes(), old["index"]
    assert len(kept) == len(ref) == 12


def test_collate_shares_memory_in_the_main_process(corpus, milnce_mod):
    from milnce.torch import collate
    with milnce_mod.Loader(corpus["shards"], seed=SEED, uint8=True, **OPTS) as L:
        b = next(iter(L))
        t = collate(b)
        assert t["video"].data_ptr() == b.video.ctypes.data
        assert t["text"].data_ptr() == b.text.ctypes.data
        assert t["video_u8"].data_ptr() == b.video_u8.ctypes.data
        assert t["video_u8"].dtype == torch.uint8


def test_bad_options_raise_in_the_main_process(corpus, milnce_mod, tmp_path):
    from milnce.torch import ShardDataset
    with pytest.raises(milnce_mod.MilnceError, match="key data.shards"):
        ShardDataset(str(tmp_path / "missing"), **OPTS)
