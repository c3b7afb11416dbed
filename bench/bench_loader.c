/* Loader throughput in clips per CPU-second (run by bench/loader.sh).
 *
 *   bench_loader shards DIR WORKERS CLIPS [WARMUP] [STARTS_OUT]
 *       milnce_loader_open/next on DIR: B = 1 (one clip per batch), 16 frames at 5 fps, 224 random
 *       crop + flip, float (B,3,T,S,S) output; CPU time (getrusage, all threads of the process)
 *       and wall time between batch WARMUP and batch WARMUP + CLIPS, so the pipeline is in
 *       steady state at both ends. Writes the clips' start times to STARTS_OUT (one a line) so
 *       that the peers load the same clips.
 *   bench_loader raw VIDEO STARTS_FILE CLIPS
 *       milnce_decoder on the raw video, one decoder opened per clip (as a dataset would), for
 *       each start S: frames of [S, S + 3.3) at 5 fps, short side 224, centre crop 224, at most
 *       16 frames (the reference's clip, done in-process).
 * Prints one line: "<mode> workers=W clips=N cpu_s=.. wall_s=.. clips_per_cpu_s=.. clips_per_s=.. wait=.."
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libavutil/log.h>

#include "loader.h"
#include "video.h"

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void quiet(void *user, int level, const char *msg) {
    (void)user;
    if (level <= MILNCE_LOG_WARN) fprintf(stderr, "bench_loader: %s\n", msg);
}

static int run_shards(const char *dir, int workers, int clips, int warmup, const char *starts_out) {
    milnce_logger lg = {quiet, NULL};
    milnce_loader_opts o;
    milnce_loader_opts_default(&o);
    o.shards = dir;
    o.batch_size = 1;
    o.num_frames = 16;
    o.fps = 5;
    o.size = 224;
    o.train = 1;
    o.workers = workers;
    o.queue = 4;
    o.seed = 7;
    o.lg = &lg;
    milnce_error err = {0};
    milnce_loader *l = NULL;
    if (milnce_loader_open(&l, &o, &err) < 0) {
        fprintf(stderr, "bench_loader: %s\n", err.msg);
        return 1;
    }
    FILE *sf = starts_out ? fopen(starts_out, "w") : NULL;
    double c0 = 0, w0 = 0;
    long frames_out = 0;
    for (int i = 0; i < warmup + clips; i++) {
        if (i == warmup) {
            c0 = cpu_now();
            w0 = wall_now();
        }
        milnce_batch *b;
        if (milnce_loader_next(l, &b, &err) < 0) {
            fprintf(stderr, "bench_loader: %s\n", err.msg);
            milnce_loader_close(&l);
            return 1;
        }
        if (i >= warmup) {
            if (sf) fprintf(sf, "%.3f\n", b->clip_start[0]);
            frames_out += (long)b->B * b->T;
        }
        milnce_loader_release(l, b);
    }
    double c1 = cpu_now(), w1 = wall_now();
    double wf = milnce_loader_wait_fraction(l);
    if (sf) fclose(sf);
    milnce_loader_close(&l);
    double cpu = c1 - c0, wall = w1 - w0;
    printf("shards workers=%d clips=%d cpu_s=%.3f wall_s=%.3f clips_per_cpu_s=%.1f clips_per_s=%.1f "
           "wait=%.2f frames=%ld\n",
           workers, clips, cpu, wall, clips / cpu, clips / wall, wf, frames_out);
    return 0;
}

static int run_raw(const char *video, const char *starts, int clips) {
    milnce_logger lg = {quiet, NULL};
    FILE *f = fopen(starts, "r");
    if (!f) {
        perror(starts);
        return 1;
    }
    double *s = malloc(sizeof *s * (size_t)clips);
    int n = 0;
    while (n < clips && fscanf(f, "%lf", &s[n]) == 1) n++;
    fclose(f);
    milnce_frames fr = {0};
    milnce_error err = {0};
    double c0 = cpu_now(), w0 = wall_now();
    long frames = 0;
    for (int i = 0; i < n; i++) {
        milnce_decoder *d = NULL;
        if (milnce_decoder_open(&d, video, &lg, &err) < 0) {
            fprintf(stderr, "bench_loader: %s\n", err.msg);
            return 1;
        }
        milnce_clip_spec spec = {.start = s[i], .end = s[i] + 3.3, .fps = 5, .size = 224,
                                 .crop = MILNCE_CROP_CENTER, .crop_size = 224, .max_frames = 16};
        if (milnce_decoder_clip(d, &spec, &fr, &err) < 0) {
            fprintf(stderr, "bench_loader: %s\n", err.msg);
            return 1;
        }
        frames += fr.t;
        milnce_decoder_free(&d);
    }
    double cpu = cpu_now() - c0, wall = wall_now() - w0;
    milnce_frames_free(&fr);
    free(s);
    printf("raw workers=1 clips=%d cpu_s=%.3f wall_s=%.3f clips_per_cpu_s=%.1f clips_per_s=%.1f wait=0 frames=%ld\n",
           n, cpu, wall, n / cpu, n / wall, frames);
    return 0;
}

/* Where a clip's CPU goes, on the rendition file itself (extracted .mp4 member) read into
 * memory, N clips of the loader's spec (16 frames at 5 fps, 224 crop at (0.3, 0.7), flip):
 *   open_ms        milnce_decoder_open_memory + free (stream-info probing: decodes frames)
 *   open_light_ms  milnce_decoder_reuse_memory alternating between two copies of the file (the
 *                  loader's worker moving to another video: no probing, buffers kept)
 *   clip_before_ms milnce_decoder_clip on an open decoder with the whole-frame conversion, then
 *                  the uint8 -> planar float pass the loader did before (for comparison)
 *   clip_ms        milnce_decoder_clip_planar on an open decoder (the loader's path now)
 * and the frames decoded / skipped per clip. */
static double convert_u8(const milnce_frames *f, float *dst, int flip) {
    int S = f->w, T = f->t;
    size_t plane = (size_t)S * S, cstride = (size_t)T * plane;
    const float k = 1.0f / 255.0f;
    double sum = 0;
    for (int t = 0; t < T; t++) {
        float *r = dst + (size_t)t * plane, *g = r + cstride, *bl = g + cstride;
        const uint8_t *in = f->data + (size_t)t * plane * 3;
        for (int y = 0; y < S; y++) {
            const uint8_t *row = in + (size_t)y * S * 3;
            for (int x = 0; x < S; x++) {
                const uint8_t *px = row + (size_t)(flip ? S - 1 - x : x) * 3;
                r[y * S + x] = px[0] * k;
                g[y * S + x] = px[1] * k;
                bl[y * S + x] = px[2] * k;
            }
        }
        sum += r[0];
    }
    return sum;
}

static int run_profile(const char *mp4, const char *starts, int n) {
    FILE *f = fopen(mp4, "rb");
    if (!f) { perror(mp4); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size), *buf2 = malloc((size_t)size);
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    memcpy(buf2, buf, (size_t)size);
    double *s = malloc(sizeof *s * (size_t)n);
    f = fopen(starts, "r");
    int m = 0;
    while (f && m < n && fscanf(f, "%lf", &s[m]) == 1) m++;
    if (f) fclose(f);
    milnce_logger lg = {quiet, NULL};
    milnce_error err = {0};
    milnce_frames fr = {0};
    float *planar = malloc(sizeof(float) * 3 * 16 * 224 * 224);
    double c0 = cpu_now();
    for (int i = 0; i < m; i++) {
        milnce_decoder *d = NULL;
        if (milnce_decoder_open_memory(&d, buf, (size_t)size, "x.mp4", &lg, &err) < 0) return 1;
        milnce_decoder_free(&d);
    }
    double t_open = (cpu_now() - c0) / m;
    milnce_decoder *d = NULL;
    c0 = cpu_now();
    for (int i = 0; i < m; i++)
        if (milnce_decoder_reuse_memory(&d, i % 2 ? buf2 : buf, (size_t)size, "x.mp4", &lg, &err) < 0) return 1;
    double t_light = (cpu_now() - c0) / m;
    int light = milnce_decoder_light(d);
    double sink = 0;
    c0 = cpu_now();
    milnce_decoder_set_fast_crop(d, 0);
    for (int i = 0; i < m; i++) {
        milnce_clip_spec spec = {.start = s[i], .end = s[i] + 16.5 / 5, .fps = 5, .size = 0,
                                 .crop = MILNCE_CROP_OFFSET, .crop_size = 224, .crop_x = 0.3, .crop_y = 0.7,
                                 .max_frames = 16};
        if (milnce_decoder_clip(d, &spec, &fr, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
        sink += convert_u8(&fr, planar, i % 2);
    }
    double t_before = (cpu_now() - c0) / m;
    milnce_decoder_set_fast_crop(d, 1);
    int64_t dec0, skip0, dec1, skip1;
    milnce_decoder_stats(d, &dec0, &skip0);
    c0 = cpu_now();
    for (int i = 0; i < m; i++) {
        milnce_clip_spec spec = {.start = s[i], .end = s[i] + 16.5 / 5, .fps = 5, .size = 0,
                                 .crop = MILNCE_CROP_OFFSET, .crop_size = 224, .crop_x = 0.3, .crop_y = 0.7,
                                 .max_frames = 16};
        if (milnce_decoder_clip_planar(d, &spec, i % 2, planar, (size_t)3 * 16 * 224 * 224, &fr, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        sink += planar[0];
    }
    double t_clip = (cpu_now() - c0) / m;
    milnce_decoder_stats(d, &dec1, &skip1);
    milnce_decoder_free(&d);
    milnce_frames_free(&fr);
    printf("profile clips=%d open_ms=%.2f open_light_ms=%.2f (light=%d) clip_before_ms=%.2f clip_ms=%.2f "
           "frames_decoded_per_clip=%.1f skipped_per_clip=%.1f%s\n",
           m, 1e3 * t_open, 1e3 * t_light, light, 1e3 * t_before, 1e3 * t_clip, (double)(dec1 - dec0) / m,
           (double)(skip1 - skip0) / m, sink < 0 ? " " : "");
    free(planar);
    free(buf);
    free(buf2);
    free(s);
    return 0;
}

/* The transcode's decoding pattern (io/video/transcode.c: one milnce_decoder_clip per 8-s chunk,
 * 5 fps, short side 256) against one clip call for the same SECONDS: shows what re-seeking to
 * the key frame before every chunk costs on this source's GOP. PASSES = 1: the chunked pass only
 * (with /usr/bin/time %M: the decoding side's peak memory over the whole video). */
static int run_chunks(const char *video, double seconds, double chunk, int passes) {
    milnce_logger lg = {quiet, NULL};
    milnce_error err = {0};
    milnce_frames fr = {0};
    for (int pass = 0; pass < passes; pass++) {
        milnce_decoder *d = NULL;
        if (milnce_decoder_open(&d, video, &lg, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double c0 = cpu_now();
        double step = pass == 0 ? chunk : seconds;
        long out = 0;
        for (double a = 0; a < seconds - 1e-9; a += step) {
            milnce_clip_spec spec = {.start = a, .end = a + step, .fps = 5, .size = 256, .crop = MILNCE_CROP_NONE};
            if (milnce_decoder_clip(d, &spec, &fr, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
            out += fr.t;
        }
        int64_t dec, skip;
        milnce_decoder_stats(d, &dec, &skip);
        printf("chunks=%s seconds=%.0f cpu_s=%.3f frames_out=%ld decoded=%lld skipped=%lld\n",
               pass == 0 ? "8s" : "one", seconds, cpu_now() - c0, out, (long long)dec, (long long)skip);
        milnce_decoder_free(&d);
    }
    milnce_frames_free(&fr);
    return 0;
}

int main(int argc, char **argv) {
    av_log_set_level(AV_LOG_ERROR);
    if (argc >= 5 && strcmp(argv[1], "shards") == 0)
        return run_shards(argv[2], atoi(argv[3]), atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 8,
                          argc > 6 ? argv[6] : NULL);
    if (argc >= 5 && strcmp(argv[1], "raw") == 0) return run_raw(argv[2], argv[3], atoi(argv[4]));
    if (argc >= 4 && strcmp(argv[1], "chunks") == 0) return run_chunks(argv[2], atof(argv[3]), 8.0, argc > 4 ? atoi(argv[4]) : 2);
    if (argc >= 5 && strcmp(argv[1], "profile") == 0) return run_profile(argv[2], argv[3], atoi(argv[4]));
    fprintf(stderr, "usage: bench_loader shards DIR WORKERS CLIPS [WARMUP] [STARTS_OUT]\n"
                    "       bench_loader raw VIDEO STARTS_FILE CLIPS\n"
                    "       bench_loader profile RENDITION.mp4 STARTS_FILE CLIPS\n"
                    "       bench_loader chunks VIDEO SECONDS [PASSES]\n");
    return 2;
}
