#!/usr/bin/python3
"""The peers of bench/loader.sh: load the same clips from the raw video.

  loader_ref.py ffmpeg VIDEO STARTS N   one ffmpeg process per clip, as the reference
      (antoine77340/MIL-NCE_HowTo100M video_loader.py) does:
      ffmpeg -ss S -t 3.3 -i V -vf fps=5,crop=min(iw,ih):min(iw,ih),scale=224:224 -pix_fmt rgb24
             -f rawvideo pipe:
      CPU = getrusage(RUSAGE_CHILDREN) user+sys (ffmpeg's own threads, its default thread
      count); the Python side reading the pipe is not counted (in the peer's favour).
  loader_ref.py pyav VIDEO STARTS N     PyAV in-process: open, seek(S) to the key frame before,
      decode, keep frames at 5 fps from S (nearest frame per slot), centre square crop, resize to
      224 (frame.reformat, bicubic), rgb24 ndarray; 16 frames. CPU = time.process_time().
Prints one line like bench_loader's.
"""
import resource
import subprocess
import sys
import time


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_ffmpeg(video, starts):
    c0, w0 = cpu_children(), time.monotonic()
    frames = 0
    for s in starts:
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-ss", "%.3f" % s, "-t", "3.3", "-i", video,
               "-vf", r"fps=5,crop=min(iw\,ih):min(iw\,ih),scale=224:224", "-pix_fmt", "rgb24",
               "-f", "rawvideo", "pipe:"]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True).stdout
        frames += len(out) // (224 * 224 * 3)
    return cpu_children() - c0, time.monotonic() - w0, frames


def run_pyav(video, starts):
    import av
    import numpy as np
    c0, w0 = time.process_time(), time.monotonic()
    frames = 0
    for s in starts:
        with av.open(video) as c:
            st = c.streams.video[0]
            tb = float(st.time_base)
            c.seek(int(s / tb), stream=st, backward=True, any_frame=False)
            clip, slot = [], 0
            for f in c.decode(st):
                t = f.pts * tb
                if t < s - 0.5 / 5:
                    continue
                # nearest frame for each 5 fps slot: take the first frame at or after the slot centre
                if t + 0.5 / 25 < s + slot / 5.0:
                    continue
                w, h = f.width, f.height
                side = min(w, h)
                img = f.reformat(width=w * 224 // side, height=h * 224 // side, format="rgb24",
                                 interpolation="BICUBIC").to_ndarray()
                y0, x0 = (img.shape[0] - 224) // 2, (img.shape[1] - 224) // 2
                clip.append(np.ascontiguousarray(img[y0:y0 + 224, x0:x0 + 224]))
                slot += 1
                if slot == 16:
                    break
            frames += len(clip)
    return time.process_time() - c0, time.monotonic() - w0, frames


def main():
    mode, video, starts_file, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    starts = [float(x) for x in open(starts_file).read().split()][:n]
    cpu, wall, frames = (run_ffmpeg if mode == "ffmpeg" else run_pyav)(video, starts)
    print("%s workers=1 clips=%d cpu_s=%.3f wall_s=%.3f clips_per_cpu_s=%.2f clips_per_s=%.2f wait=0 "
          "frames=%d" % (mode, len(starts), cpu, wall, len(starts) / cpu, len(starts) / wall, frames))


if __name__ == "__main__":
    main()
