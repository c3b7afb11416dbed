"""milnce for PyTorch: an IterableDataset of milnce batches and a collate to torch tensors.

    from milnce.torch import ShardDataset, collate
    ds = ShardDataset("shards/", batch_size=32, num_frames=16, size=224)
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, collate_fn=collate)
    for epoch in range(E):
        ds.set_epoch(epoch)
        for b in dl: ...   # b["video"] (B, 3, T, S, S), b["text"] (B, K, L), b["mask"] (B, K)

The dataset yields whole batches (hence batch_size=None). Its work is split twice:
 - by DDP rank: each rank loads its part (train.batch_size / world clips) of every global batch,
   as `milnce train` on that many ranks (rank/world from torch.distributed when initialised,
   else the RANK / WORLD_SIZE environment variables, else 0 / 1);
 - by DataLoader worker: worker w of W produces the batches s + w, s + w + W, ... of the run
   (s its first batch), which the DataLoader takes in turn, so any number of workers gives the
   same sequence.
Each worker opens its own C loader (after the fork), with data.workers decoding threads.
"""
import os

import numpy as np
import torch
import torch.utils.data

from .loader import Loader


def _dist_rank_world():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class ShardDataset(torch.utils.data.IterableDataset):
    """ShardDataset(shards, rank=None, world=None, epochs=1, **Loader options); see milnce.Loader.

    One iteration runs `epochs` epochs from self.epoch (set_epoch) back to back, None = without
    end: with persistent DataLoader workers (which keep their copy of the dataset, so set_epoch
    does not reach them) or short epochs, iterate once over an endless dataset and stop after N
    steps."""

    def __init__(self, shards=None, *, rank=None, world=None, epochs=1, **loader_kwargs):
        super().__init__()
        r, w = _dist_rank_world()
        self.rank = r if rank is None else int(rank)
        self.world = w if world is None else int(world)
        self.shards = shards
        self.kwargs = loader_kwargs
        self.epoch = int(loader_kwargs.pop("epoch", 0))
        self.epochs = epochs
        # Opened once here to check the options (errors surface in the main process) and to know
        # the epoch's length; closed at once (no decoding threads are forked).
        with Loader(shards, rank=self.rank, world=self.world, epoch=self.epoch, **self.kwargs) as probe:
            self.batches_per_epoch = probe.batches_per_epoch
            self.video_ids = probe.video_ids
            self.config_yaml = probe.config_yaml

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        if self.epochs is None:
            raise TypeError("ShardDataset(epochs=None) has no length")
        return self.batches_per_epoch * self.epochs

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        c, C = (info.id, info.num_workers) if info is not None else (0, 1)
        with Loader(self.shards, rank=self.rank, world=self.world, epoch=self.epoch, epochs=self.epochs,
                    consumer=c, consumers=C, **self.kwargs) as loader:
            yield from loader


def _tensor(a, shared):
    t = torch.from_numpy(a)  # shares memory with the loader's buffer
    if not shared:
        return t
    # In a DataLoader worker the batch is pickled to the main process after the loader has moved
    # on (its buffer is reused): one copy into shared memory, as torch's default_collate does.
    out = torch.empty(a.shape, dtype=t.dtype).share_memory_()
    out.copy_(t)
    return out


def collate(batch):
    """A milnce.Batch -> dict of torch tensors: video (float32, or uint8 "video_u8" when the
    loader made it), text (int64), mask (bool), video_idx, anchor (int64), clip_times (float64),
    video_ids (list), index, epoch. In the main process the tensors share memory with the
    loader's buffers (valid until its next batch); in a DataLoader worker they are copied once
    into shared memory."""
    shared = torch.utils.data.get_worker_info() is not None
    out = {"video": _tensor(batch.video, shared),
           "text": _tensor(batch.text, shared),
           "mask": _tensor(batch.mask, shared).bool(),
           "video_idx": torch.from_numpy(batch.video_idx.astype(np.int64)),
           "anchor": torch.from_numpy(batch.anchor.astype(np.int64)),
           "clip_times": torch.from_numpy(batch.clip_times.copy()),
           "video_ids": list(batch.video_ids), "index": batch.index, "epoch": batch.epoch}
    if batch.video_u8 is not None:
        out["video_u8"] = _tensor(batch.video_u8, shared)
    return out
