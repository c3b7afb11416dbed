"""Shared set-up of the Python tests: a small synthetic corpus made once per build (shards of 16
training videos, 2 shards of 8; the evaluation split for embeddings), under MILNCE_PY_WORK (set
by CMake to <build>/pytest-work) or a temporary folder; a lock keeps parallel CTest runs from
making it twice. The tests read nothing outside the repository and the build."""
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MILNCE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "python"))

BIN = os.environ.get("MILNCE_BIN", os.path.join(SRC, "build", "milnce"))
# Loader options every test uses (small clips keep CI fast).
# resize 48 on the 40-px shards: frames are resized before the crop (data.resize).
OPTS = dict(batch_size=4, num_frames=8, fps=5, size=32, resize=48, min_time=4, max_words=12, window="nearest",
            num_candidates=3)


def run(*args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def _make(root):
    syn = os.path.join(root, "syn")
    run(BIN, "synth", "--out", syn, "--videos", 16, "--eval-videos", 2, "--min-seconds", 20,
        "--max-seconds", 24, "--size", "96x64", "--fps", 10, "-q")
    run(BIN, "preprocess", "--videos", os.path.join(syn, "train", "videos.csv"), "--captions",
        os.path.join(syn, "train", "captions"), "--out", os.path.join(root, "shards"), "--size", 40,
        "--fps", 5, "--videos-per-shard", 8)


@pytest.fixture(scope="session")
def corpus():
    """{'root', 'shards', 'syn'}: made once, reused by later runs of the same build."""
    root = os.environ.get("MILNCE_PY_WORK") or os.path.join(tempfile.gettempdir(), f"milnce-py-{os.getuid()}")
    os.makedirs(root, exist_ok=True)
    done = os.path.join(root, "corpus.done")
    with open(os.path.join(root, "corpus.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(done):
            for d in ("syn", "shards"):
                shutil.rmtree(os.path.join(root, d), ignore_errors=True)
            _make(root)
            open(done, "w").close()
    return {"root": root, "shards": os.path.join(root, "shards"), "syn": os.path.join(root, "syn")}


@pytest.fixture
def milnce_mod():
    import milnce
    return milnce


# A tiny model on the corpus's clips (shared by the embedding and example tests).
SMALL_CONFIG = """data:
  num_frames: 8
  size: 32
  min_time: 4
  max_words: 12
  num_candidates: 3
model:
  width: 0.125
  blocks3: 1
  blocks4: 1
  blocks5: 1
  word_dim: 16
  text_hidden: 32
  embed_dim: 16
  freeze_words: false
train:
  batch_size: 8
  lr: 0.003
  warmup_steps: 5
  checkpoint_every: 1000
eval:
  num_windows: 2
  max_words: 12
  batch_size: 8
"""


@pytest.fixture
def small_config(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text(SMALL_CONFIG)
    return str(p)
