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
    """ShardDataset(shards, rank=None, world=None, epochs=1, shared_buffers=8, **Loader options);
    see milnce.Loader.

    One iteration runs `epochs` epochs from self.epoch (set_epoch) back to back, None = without
    end: with persistent DataLoader workers (which keep their copy of the dataset, so set_epoch
    does not reach them) or short epochs, iterate once over an endless dataset and stop after N
    steps.

    shared_buffers: in a DataLoader worker, collate copies each batch into one of this many
    shared-memory buffers, reused in turn (a new shared segment per batch costs several times
    the decoding). A batch the main process received stays intact until the worker has made
    shared_buffers more, so it must exceed the DataLoader's prefetch_factor + 1 (the default
    8 allows prefetch_factor <= 6 and keeps each batch valid for 2 more per worker). 0: a fresh
    segment per batch (batches may be kept indefinitely)."""

    def __init__(self, shards=None, *, rank=None, world=None, epochs=1, shared_buffers=8, **loader_kwargs):
        super().__init__()
        r, w = _dist_rank_world()
        self.rank = r if rank is None else int(rank)
        self.world = w if world is None else int(world)
        self.shards = shards
        self.kwargs = loader_kwargs
        self.epoch = int(loader_kwargs.pop("epoch", 0))
        self.epochs = epochs
        self.shared_buffers = int(shared_buffers)
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
            ring = _SharedRing(self.shared_buffers) if info is not None else None
            for b in loader:
                b.shared = ring
                yield b


class _SharedRing:
    """Shared-memory tensors reused in turn by one DataLoader worker: slot k % n per batch."""

    def __init__(self, n):
        self.n, self.k, self.bufs = n, 0, {}

    def next_slot(self):
        self.k += 1
        return (self.k - 1) % self.n if self.n > 0 else None

    def tensor(self, slot, name, a):
        t = torch.from_numpy(a)
        if slot is None:
            out = torch.empty(a.shape, dtype=t.dtype).share_memory_()
        else:
            key = (name, slot)
            out = self.bufs.get(key)
            if out is None or out.shape != t.shape or out.dtype != t.dtype:
                out = self.bufs[key] = torch.empty(a.shape, dtype=t.dtype).share_memory_()
        out.copy_(t)
        return out


def collate(batch):
    """A milnce.Batch -> dict of torch tensors: video (float32, or uint8 "video_u8" when the
    loader made it), text (int64), mask (bool), video_idx, anchor (int64), clip_times (float64),
    video_ids (list), index, epoch. In the main process the tensors share memory with the
    loader's buffers (valid until its next batch: .clone() to keep one); in a DataLoader worker
    (batches of ShardDataset) they are copied once into the worker's shared-memory buffers
    (see ShardDataset's shared_buffers)."""
    ring = getattr(batch, "shared", None)
    if ring is None and torch.utils.data.get_worker_info() is not None:
        ring = _SharedRing(0)  # a Batch from elsewhere in a worker: fresh segments
    slot = ring.next_slot() if ring is not None else None

    def _tensor(name, a):
        # In a worker the batch is pickled after the loader has moved on (its buffer is reused).
        return ring.tensor(slot, name, a) if ring is not None else torch.from_numpy(a)

    out = {"video": _tensor("video", batch.video),
           "text": _tensor("text", batch.text),
           "mask": _tensor("mask", batch.mask.view(np.bool_)),  # 0/1 bytes: valid bools
           "video_idx": _tensor("video_idx", batch.video_idx.astype(np.int64)),
           "anchor": _tensor("anchor", batch.anchor.astype(np.int64)),
           "clip_times": _tensor("clip_times", batch.clip_times),
           "video_ids": list(batch.video_ids), "index": batch.index, "epoch": batch.epoch}
    if batch.video_u8 is not None:
        out["video_u8"] = _tensor("video_u8", batch.video_u8)
    return out
