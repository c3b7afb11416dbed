"""milnce from Python: the shard loader and the trained encoders of libmilnce.

    import milnce
    loader = milnce.Loader("shards/", batch_size=16, num_frames=16, size=224)
    for batch in loader:                # one epoch; loader.set_epoch(e) for the next
        batch.video                     # (B, 3, T, S, S) float32 in [0, 1], no copy
        batch.text, batch.mask          # (B, K, L) int64 word ids, (B, K) bool-like uint8
    model = milnce.Model("runs/r1")     # a checkpoint file or a run folder
    model.embed_text(["cut the onion"]) # (1, E) float32

milnce.torch (imported on demand) wraps the loader as a torch IterableDataset.
"""
from ._lib import MilnceError
from .loader import Batch, Loader, resolve_config
from .model import Model

__all__ = ["Batch", "Loader", "MilnceError", "Model", "resolve_config"]
__version__ = "0.1.0"
