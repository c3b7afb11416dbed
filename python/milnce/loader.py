"""milnce.Loader: batches of (clip, bag of sentences) from milnce shards, as numpy arrays that
view the C loader's buffers (no copy)."""
import ctypes
import logging

import numpy as np

from . import _lib

log = logging.getLogger("milnce")


def _value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _sets(shards, batch_size, seed, workers, options, sets):
    """Keyword options -> "section.key=value" strings: data.* by their bare name."""
    out = []
    if shards is not None:
        out.append(f"data.shards={shards}")
    if batch_size is not None:
        out.append(f"train.batch_size={int(batch_size)}")
    if seed is not None:
        out.append(f"train.seed={int(seed)}")
    if workers is not None:
        out.append(f"data.workers={int(workers)}")
    for k, v in options.items():
        out.append(f"{k if '.' in k else 'data.' + k}={_value(v)}")
    out.extend(sets or ())
    return out


def resolve_config(config=None, sets=()):
    """The resolved milnce configuration (YAML text) of defaults + config file + sets."""
    arr, n, _keep = _lib.strings(sets)
    err = _lib._Error()
    out = ctypes.c_void_p()
    _lib.check(_lib.lib.milnce_data_resolve_config(_lib.fs(config), arr, n, ctypes.byref(out), err), err)
    try:
        return ctypes.string_at(out.value).decode("utf-8")
    finally:
        _lib.lib.milnce_data_free(out)


class Batch:
    """One batch. The arrays view memory of the loader: they are overwritten when the loader
    gives its next batch (use .copy() to keep one).

    video      (B, 3, T, S, S) float32 RGB in [0, 1] (zero after the video's end)
    video_u8   (B, 3, T, S, S) uint8 pixels when the loader was opened with uint8=True, else None
    text       (B, K, L) int64 word ids (line numbers of vocab.txt, 0 = padding)
    mask       (B, K) uint8, 1 = a real sentence of the bag
    video_idx  (B) int32, anchor (B) int32 (anchor sentence), clip_times (B, 2) float64 seconds
    video_ids  list of B video ids; index: global batch number; epoch
    """

    __slots__ = ("index", "epoch", "video", "video_u8", "text", "mask", "video_idx", "anchor",
                 "clip_times", "video_ids", "shared")

    def copy(self):
        b = Batch()
        for k in self.__slots__:
            v = getattr(self, k)
            setattr(b, k, v.copy() if isinstance(v, np.ndarray) else (list(v) if isinstance(v, list) else v))
        return b

    def __repr__(self):
        return (f"Batch(index={self.index}, epoch={self.epoch}, video={self.video.shape}, "
                f"text={self.text.shape})")


def _view(ptr, shape):
    return np.ctypeslib.as_array(ptr, shape=shape)


class Loader(_lib.Handle):
    """Iterates batches of milnce shards (one epoch by default), as `milnce train` loads them.

    Loader(shards, batch_size=16, num_frames=16, size=224, ...) or Loader(config="c.yaml"):
    options are milnce config keys: data.* by their bare name (num_frames, fps, size, min_time,
    window, num_candidates, window_k, max_words, crop_random, clip_start, workers,
    queue_batches, ...), others as "section.key" (e.g. **{"train.seed": 3}); `sets` takes
    "section.key=value" strings and `config` a YAML file, applied first. batch_size is the
    GLOBAL batch (train.batch_size): rank r of `world` loads batch_size / world clips of each.
    Batches depend only on (seed, batch number): the same as the C loader's, whatever the
    threads, ranks or consumers. Epoch e is the global batches [e * P, (e + 1) * P), every video
    once across ranks. An iteration runs `epochs` epochs from `epoch` back to back (None = without
    end); iterate again after set_epoch(e) (as torch's DistributedSampler).
    consumer/consumers: deliver only the batches s + c, s + c + C, ... of the run (s its first:
    DataLoader workers; taking one from each consumer in turn gives the run's order).
    uint8=True also fills batch.video_u8.
    """

    _close_fn = "milnce_data_close"
    _what = "milnce.Loader"

    def __init__(self, shards=None, *, config=None, batch_size=None, seed=None, workers=None,
                 rank=0, world=1, epoch=0, epochs=1, consumer=0, consumers=1, uint8=False, sets=(),
                 **options):
        self._h = ctypes.c_void_p()
        self._epoch = int(epoch)
        self._fresh = True
        self.uint8 = bool(uint8)
        arr, n, _keep = _lib.strings(_sets(shards, batch_size, seed, workers, options, sets))
        if epochs is not None and int(epochs) < 1:
            raise ValueError(f"epochs={epochs!r}: a count >= 1, or None for no end")
        self.epochs = epochs
        split = _lib._Split(int(rank), int(world), int(consumer), int(consumers), self._epoch,
                            0 if epochs is None else int(epochs), int(self.uint8))
        err = _lib._Error()
        _lib.check(_lib.lib.milnce_data_open(ctypes.byref(self._h), _lib.fs(config), arr, n,
                                             ctypes.byref(split), err), err)
        self.rank, self.world, self.consumer, self.consumers = rank, world, consumer, consumers
        self.num_videos = int(_lib.lib.milnce_data_videos(self._h))
        self.batches_per_epoch = int(_lib.lib.milnce_data_batches_per_epoch(self._h))
        self.config_yaml = _lib.lib.milnce_data_config_yaml(self._h).decode("utf-8")
        self.video_ids = [_lib.lib.milnce_data_key(self._h, i).decode("utf-8") for i in range(self.num_videos)]
        self._cb = _lib._Batch()

    @property
    def epoch(self):
        return self._epoch

    def set_epoch(self, epoch):
        """The epoch the next iteration runs (restarts at its first batch)."""
        self._need()
        err = _lib._Error()
        _lib.check(_lib.lib.milnce_data_set_epoch(self._h, int(epoch), err), err)
        self._epoch = int(epoch)
        self._fresh = True

    def __len__(self):
        """Batches this loader delivers in one iteration (TypeError without an end)."""
        self._need()
        n = int(_lib.lib.milnce_data_consumer_batches(self._h))
        if n < 0:
            raise TypeError("milnce.Loader(epochs=None) has no length")
        return n


    def next_batch(self):
        """The next batch of the run, or None at its end."""
        self._need()
        err = _lib._Error()
        b = self._cb
        try:
            r = _lib.check(_lib.lib.milnce_data_next(self._h, ctypes.byref(b), err), err)
        finally:
            self._fresh = False
            self._drain_warnings()
        if r == 1:
            return None
        B, K, T, S, L = b.B, b.K, b.T, b.S, b.L
        out = Batch()
        out.shared = None  # milnce.torch's shared-memory buffers, in a DataLoader worker
        out.index, out.epoch = int(b.index), int(b.epoch)
        out.video = _view(b.video, (B, 3, T, S, S))
        out.video_u8 = _view(b.video_u8, (B, 3, T, S, S)) if b.video_u8 else None
        out.text = _view(b.text, (B, K, L))
        out.mask = _view(b.mask, (B, K))
        out.video_idx = _view(b.video_idx, (B,))
        out.anchor = _view(b.anchor, (B,))
        out.clip_times = _view(b.clip_time, (B, 2))
        out.video_ids = [self.video_ids[i] for i in out.video_idx.tolist()]
        return out

    def _drain_warnings(self):
        """The loader's warnings (a damaged sample replaced, ...) to the "milnce" logger."""
        buf = ctypes.create_string_buffer(2048)
        lost = ctypes.c_uint64()
        while _lib.lib.milnce_data_pop_warning(self._h, buf, len(buf), ctypes.byref(lost)):
            if lost.value:
                log.warning("%d older loader warnings were dropped", lost.value)
            log.warning("%s", buf.value.decode("utf-8", "replace"))

    def __iter__(self):
        if not self._fresh:
            self.set_epoch(self._epoch)  # a second pass over the same epoch starts it again
        while True:
            b = self.next_batch()
            if b is None:
                return
            yield b
