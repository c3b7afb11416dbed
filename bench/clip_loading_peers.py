"""The two peers of bench/clip_loading.sh: one ffmpeg process per clip (the reference's loader)
and PyAV. Prints clips per CPU-second for each (CPU of this process and its children)."""
import resource, subprocess, sys, time
import numpy as np

def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN); return r.ru_utime + r.ru_stime

def ffmpeg_per_clip(video, starts):
    c0 = cpu_children() + cpu_self()
    frames = 0
    for s in starts:
        # The reference (MIL-NCE_HowTo100M video_loader.py): -ss before -i, fps, square crop, scale.
        out = subprocess.run(['ffmpeg', '-v', 'error', '-ss', str(s), '-t', '3.3', '-i', video, '-vf',
                              r'fps=5,crop=min(iw\,ih):min(iw\,ih),scale=224:224', '-pix_fmt', 'rgb24',
                              '-f', 'rawvideo', 'pipe:'], capture_output=True, check=True).stdout
        frames += len(out) // (224 * 224 * 3)
    return len(starts), frames, cpu_children() + cpu_self() - c0

def pyav(video, starts):
    import av
    c0 = cpu_self()
    frames = 0
    with av.open(video) as c:
        st = c.streams.video[0]
        tb = float(st.time_base)
        for s in starts:
            c.seek(int(s / tb), stream=st, backward=True, any_frame=False)
            want = [s + k / 5.0 for k in range(16)]
            got = []
            prev = None
            for fr in c.decode(st):
                t = fr.pts * tb
                while len(got) < 16 and t > want[len(got)] + 0.1:  # nearest frame to each slot
                    got.append(prev if prev is not None else fr)
                if len(got) >= 16:
                    break
                if t >= want[len(got)] - 0.1:
                    prev = fr
            imgs = []
            for fr in got:
                w, h = fr.width, fr.height
                sc = 224 / min(w, h)
                img = fr.to_ndarray(width=int(round(w * sc / 2)) * 2, height=int(round(h * sc / 2)) * 2,
                                    format='rgb24')
                y0 = (img.shape[0] - 224) // 2; x0 = (img.shape[1] - 224) // 2
                imgs.append(img[y0:y0 + 224, x0:x0 + 224])
            frames += len(imgs)
    return len(starts), frames, cpu_self() - c0

if __name__ == '__main__':
    video, starts_file, which = sys.argv[1], sys.argv[2], sys.argv[3]
    starts = [float(x) for x in open(starts_file).read().split()]
    n, frames, cpu = (ffmpeg_per_clip if which == 'ffmpeg' else pyav)(video, starts)
    print(f"{which:7s} clips={n} frames={frames} cpu={cpu:.2f}s clips_per_cpu_s={n / cpu:.2f}")
