"""milnce.Model: a trained checkpoint's video and text encoders, as `milnce embed` runs them."""
import ctypes

import numpy as np

from . import _lib


class Model(_lib.Handle):
    """Model(checkpoint, config=None, sets=(), video=True, text=True).

    checkpoint: a .safetensors file or a run folder (its checkpoints/latest). config/sets:
    overrides as `milnce embed --config/--set` (eval.*, model.vocab, data.shards; the shapes are
    the checkpoint's). Attributes: num_frames (T), size (S), fps, dim (E), feature_dim (F),
    max_words, step.
    """

    _close_fn = "milnce_embedder_close"
    _what = "milnce.Model"

    def __init__(self, checkpoint, config=None, sets=(), video=True, text=True):
        self._h = ctypes.c_void_p()
        arr, n, _keep = _lib.strings(sets)
        err = _lib._Error()
        _lib.check(_lib.lib.milnce_embedder_open(ctypes.byref(self._h), _lib.fs(checkpoint), _lib.fs(config),
                                                 arr, n, int(video), int(text), err), err)
        info = _lib._EmbedInfo()
        _lib.lib.milnce_embedder_info_get(self._h, ctypes.byref(info))
        self.num_frames, self.size, self.fps = int(info.T), int(info.S), float(info.fps)
        self.dim, self.feature_dim = int(info.E), int(info.F)
        self.max_words, self.step = int(info.max_words), int(info.step)


    def embed_video(self, frames, feature="embedding"):
        """frames (N, 3, T, S, S) (or one clip (3, T, S, S)): float RGB in [0, 1], or uint8
        pixels. Returns (N, E) float32, or (N, F) with feature="mixed_5c"."""
        self._need()
        x = np.asarray(frames)
        if x.dtype == np.uint8:
            x = x.astype(np.float32) * np.float32(1 / 255)  # as the C decoder scales pixels
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim == 4:
            x = x[None]
        want = (3, self.num_frames, self.size, self.size)
        if x.ndim != 5 or tuple(x.shape[1:]) != want:
            raise ValueError(f"frames of shape {tuple(np.shape(frames))}: expected (N, {', '.join(map(str, want))})")
        if feature not in ("embedding", "mixed_5c"):
            raise ValueError(f"feature is 'embedding' or 'mixed_5c', not {feature!r}")
        mixed = feature == "mixed_5c"
        out = np.empty((x.shape[0], self.feature_dim if mixed else self.dim), np.float32)
        err = _lib._Error()
        fp = ctypes.POINTER(ctypes.c_float)
        _lib.check(_lib.lib.milnce_embedder_video(self._h, x.ctypes.data_as(fp), x.shape[0], int(mixed),
                                                  out.ctypes.data_as(fp), err), err)
        return out

    def embed_text(self, sentences):
        """A list of sentences (str) -> (N, E) float32 (words outside the vocabulary dropped,
        eval.max_words kept)."""
        self._need()
        if isinstance(sentences, str):
            sentences = [sentences]
        arr, n, _keep = _lib.strings(sentences)
        out = np.empty((n, self.dim), np.float32)
        if n == 0:
            return out
        err = _lib._Error()
        _lib.check(_lib.lib.milnce_embedder_text(self._h, arr, n, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                                 None, err), err)
        return out
