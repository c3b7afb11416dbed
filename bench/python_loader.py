#!/usr/bin/python3
"""The Python side of bench/python_loader.sh: milnce.Loader and a torch DataLoader over
milnce.torch.ShardDataset, with bench_loader's options (B = 1, 16 frames at 5 fps, 224 random crop
+ flip, float output, seed 7, the config's other data.* defaults: the same clips).

  python_loader.py loader SHARDS THREADS CLIPS WARMUP
      milnce.Loader(epochs=None), data.workers = THREADS; each batch's video array is touched
      (one read of its first value) as a training step would hand it on. CPU = getrusage(SELF)
      of the process (all its threads) between batch WARMUP and WARMUP + CLIPS.
  python_loader.py torch SHARDS DL_WORKERS THREADS CLIPS WARMUP
      torch.utils.data.DataLoader(ShardDataset(epochs=None), batch_size=None, collate_fn=collate,
      num_workers=DL_WORKERS), each worker with THREADS decoding threads; CPU = this process +
      the worker processes (/proc/PID/stat utime + stime) over the same window.
Prints one line like bench_loader's.
"""
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))

import milnce  # noqa: E402

OPTS = dict(batch_size=1, num_frames=16, fps=5, size=224, crop_random=True, seed=7, queue_batches=4)
TICK = os.sysconf("SC_CLK_TCK")


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_pids(pids):
    t = 0.0
    for p in pids:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        t += (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return t


def measure(it, clips, warmup, cpu):
    c0 = w0 = None
    n = 0
    for i, b in enumerate(it):
        if i == warmup:
            c0, w0 = cpu(), time.monotonic()
        if i >= warmup:
            video = b.video if hasattr(b, "video") else b["video"]
            float(video[0, 0, 0, 0, 0])
            n += 1
            if n == clips:
                break
    return cpu() - c0, time.monotonic() - w0


def main(argv):
    mode, shards = argv[1], argv[2]
    if mode == "loader":
        threads, clips, warmup = int(argv[3]), int(argv[4]), int(argv[5])
        with milnce.Loader(shards, epochs=None, workers=threads, **OPTS) as L:
            cpu, wall = measure(L, clips, warmup, cpu_self)
        label = f"python workers={threads}"
    elif mode == "torch":
        import torch
        from milnce.torch import ShardDataset, collate
        torch.set_num_threads(1)
        dlw, threads, clips, warmup = int(argv[3]), int(argv[4]), int(argv[5]), int(argv[6])
        ds = ShardDataset(shards, epochs=None, workers=threads, **OPTS)
        extra = {"prefetch_factor": 4} if dlw else {}
        dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=dlw, collate_fn=collate, **extra)
        it = iter(dl)
        pids = [w.pid for w in getattr(it, "_workers", [])]
        cpu, wall = measure(it, clips, warmup, lambda: cpu_self() + cpu_pids(pids))
        del it
        label = f"torch dl_workers={dlw} workers={threads}"
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{label} clips={clips} cpu_s={cpu:.3f} wall_s={wall:.3f} clips_per_cpu_s={clips / cpu:.1f} "
          f"clips_per_s={clips / wall:.1f} wait=0")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
