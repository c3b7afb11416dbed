/* io/video against the ffmpeg and ffprobe command lines (the independent reference).
 *
 * Clips: on every video of testdata/videos, for three spans, milnce's frames must equal those of
 *   ffmpeg -threads 1 [-ss S] -i V -t D -vf fps=F,scale=..,crop=.. -pix_fmt rgb24 -f rawvideo -
 * frame for frame: the same frame count and PSNR >= 40 dB on every frame (in practice they are
 * bit-identical). Two CLI quirks are accounted for, both stated where they are used:
 *  - `-threads 1`: FFmpeg's error concealment (corrupted.mp4) depends on the thread count, and
 *    milnce decodes with one thread;
 *  - start 0 is run without -ss: the CLI cannot seek ucf101_clip.avi to 0 and then starts at a
 *    non-key frame, and without -ss it starts at the first frame as milnce does;
 *  - files with a single stream get "vscfr" sync in the CLI, which does not repeat a late first
 *    frame back to the clip start; milnce does (out.lead), so those leading frames are dropped.
 * Probe: duration, size, frame rates and rotation against ffprobe's JSON. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <libavutil/log.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "npy.h"
#include "testutil.h"
#include "video.h"

#define PSNR_MIN 40.0

/* Runs a shell command and returns its whole stdout (malloc'ed; *n bytes). */
static uint8_t *run_capture(const char *cmd, size_t *n) {
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen %s", cmd);
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    size_t k;
    while ((k = fread(buf + len, 1, cap - len, p)) > 0) {
        len += k;
        if (len == cap) buf = realloc(buf, cap *= 2);
    }
    pclose(p);
    *n = len;
    return buf;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n) {
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        se += d * d;
    }
    if (se == 0) return INFINITY;
    return 10 * log10(255.0 * 255.0 / (se / n));
}

static int64_t even_scaled(int64_t s, int64_t num, int64_t den) {
    int64_t v = (s * num + den) / (den * 2) * 2; /* round(s*num/(2*den))*2, like av_rescale */
    return v < 2 ? 2 : v;
}

typedef struct span {
    double start, end, fps;
    int size;
    milnce_crop_mode crop;
    int crop_size;
    double cx, cy;
} span;

static const span spans[] = {
    {0.0, 2.4, 5, 112, MILNCE_CROP_CENTER, 112, 0, 0},
    {0.0, 1.4, 20, 96, MILNCE_CROP_NONE, 0, 0, 0},
    {0.5, 1.7, 10, 128, MILNCE_CROP_OFFSET, 96, 0.25, 0.75},
};

/* A logger that counts warnings. */
static void count_log_fn(void *user, int level, const char *msg) {
    (void)msg;
    if (level == MILNCE_LOG_WARN) (*(int *)user)++;
}

static void compare_clip(const char *path, const span *sp, int *checked) {
    milnce_error err = {0};
    milnce_decoder *d = NULL;
    milnce_frames fr = {0};
    int warnings = 0;
    milnce_logger lg = {count_log_fn, &warnings};
    ck_assert_msg(milnce_decoder_open(&d, path, &lg, &err) == 0, "%s", err.msg);
    const milnce_video_info *info = milnce_decoder_info(d);
    milnce_clip_spec spec = {.start = sp->start, .end = sp->end, .fps = sp->fps, .size = sp->size,
                             .crop = sp->crop, .crop_size = sp->crop_size, .crop_x = sp->cx,
                             .crop_y = sp->cy};
    int ret = milnce_decoder_clip(d, &spec, &fr, &err);
    ck_assert_msg(ret == 0, "%s: %s", path, err.msg);

    /* The equivalent CLI chain. */
    int dw = info->display_width, dh = info->display_height;
    int W = dw < dh ? sp->size : (int)even_scaled(sp->size, dw, dh);
    int H = dw < dh ? (int)even_scaled(sp->size, dh, dw) : sp->size;
    char vf[512], cmd[2048], ss[64] = "";
    int n = snprintf(vf, sizeof vf, "fps=%g,scale='if(lt(iw,ih),%d,-2)':'if(lt(iw,ih),-2,%d)'",
                     sp->fps, sp->size, sp->size);
    if (sp->crop == MILNCE_CROP_CENTER) {
        snprintf(vf + n, sizeof vf - n, ",crop='min(%d,iw)':'min(%d,ih)'", sp->crop_size, sp->crop_size);
    } else if (sp->crop == MILNCE_CROP_OFFSET) {
        int cw = sp->crop_size < W ? sp->crop_size : W, ch = sp->crop_size < H ? sp->crop_size : H;
        snprintf(vf + n, sizeof vf - n, ",crop=%d:%d:%ld:%ld", cw, ch, lrint(sp->cx * (W - cw)),
                 lrint(sp->cy * (H - ch)));
    }
    if (sp->start > 0) snprintf(ss, sizeof ss, "-ss %g", sp->start);
    ck_assert_int_lt(snprintf(cmd, sizeof cmd,
                              "ffmpeg -nostdin -v quiet -threads 1 %s -i '%s' -t %g -vf \"%s\" -pix_fmt rgb24 -f rawvideo -",
                              ss, path, sp->end - sp->start, vf),
                     (int)sizeof cmd);
    size_t nb;
    uint8_t *ref = run_capture(cmd, &nb);
    if (fr.t == 0) {
        ck_assert_msg(nb == 0, "%s [%g,%g): milnce has no frame, the CLI %zu bytes", path, sp->start,
                      sp->end, nb);
    } else {
        size_t fb = (size_t)fr.h * fr.w * 3;
        int lead = info->nb_streams == 1 ? fr.lead : 0;
        int t = fr.t - lead;
        ck_assert_msg(nb == fb * (size_t)t,
                      "%s [%g,%g) fps %g: milnce %d frames (%d leading repeats) of %dx%d, the CLI %.2f frames\n  %s",
                      path, sp->start, sp->end, sp->fps, fr.t, lead, fr.w, fr.h, (double)nb / fb, cmd);
        for (int i = 0; i < t; i++) {
            double p = psnr(fr.data + (size_t)(i + lead) * fb, ref + (size_t)i * fb, fb);
            ck_assert_msg(p >= PSNR_MIN, "%s [%g,%g): frame %d PSNR %.1f dB < %.0f\n  %s", path, sp->start,
                          sp->end, i, p, PSNR_MIN, cmd);
        }
        (*checked) += t;
    }
    free(ref);
    milnce_frames_free(&fr);
    milnce_decoder_free(&d);
}

static int is_video(const char *name) {
    const char *e = strrchr(name, '.');
    return e && (!strcmp(e, ".mp4") || !strcmp(e, ".webm") || !strcmp(e, ".mkv") ||
                 !strcmp(e, ".mov") || !strcmp(e, ".avi"));
}

START_TEST(test_clips_match_ffmpeg_cli) {
    const char *dir = tu_testdata("videos");
    DIR *dp = opendir(dir);
    ck_assert_msg(dp != NULL, "cannot list %s", dir);
    struct dirent *e;
    int videos = 0, frames = 0;
    char path[4096];
    while ((e = readdir(dp))) {
        if (!is_video(e->d_name)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        for (size_t s = 0; s < sizeof spans / sizeof spans[0]; s++) compare_clip(path, &spans[s], &frames);
        videos++;
    }
    closedir(dp);
    ck_assert_int_ge(videos, 20);
    fprintf(stderr, "video: %d videos x %zu spans, %d frames equal to the CLI's (PSNR >= %.0f dB)\n",
            videos, sizeof spans / sizeof spans[0], frames, PSNR_MIN);
}
END_TEST

static void clip_of(milnce_decoder *d, double start, milnce_frames *fr) {
    milnce_error err = {0};
    milnce_clip_spec spec = {.start = start, .end = start + 1.6, .fps = 5, .size = 96,
                             .crop = MILNCE_CROP_CENTER, .crop_size = 96};
    ck_assert_msg(milnce_decoder_clip(d, &spec, fr, &err) == 0, "%s", err.msg);
}

/* A decoder reused for clips in any order, and a decoder over a memory buffer, give exactly the
 * frames of a fresh decoder on the file; skipping non-reference frames changes nothing. */
START_TEST(test_memory_reuse_and_skip_identical) {
    const char *names[] = {"videos/chaplin.mp4", "videos/flower.mp4", "videos/kinetics_clip.mp4",
                           "videos/flower.webm", "videos/fire2.mp4", "videos/friday.mp4"};
    const double starts[] = {3.0, 0.0, 1.1, 4.2, 0.4, 2.5};
    for (size_t v = 0; v < sizeof names / sizeof names[0]; v++) {
        const char *path = tu_testdata(names[v]);
        milnce_error err = {0};
        FILE *f = fopen(path, "rb");
        ck_assert(f != NULL);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(size);
        ck_assert(fread(buf, 1, size, f) == (size_t)size);
        fclose(f);
        milnce_decoder *mem = NULL, *reused = NULL;
        ck_assert_msg(milnce_decoder_open_memory(&mem, buf, size, names[v], NULL, &err) == 0, "%s", err.msg);
        ck_assert_msg(milnce_decoder_open(&reused, path, NULL, &err) == 0, "%s", err.msg);
        milnce_frames a = {0}, b = {0}, c = {0}, noskip = {0};
        for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
            milnce_decoder *fresh = NULL;
            ck_assert_msg(milnce_decoder_open(&fresh, path, NULL, &err) == 0, "%s", err.msg);
            clip_of(fresh, starts[s], &a);
            milnce_decoder_set_skip(fresh, 0);
            clip_of(fresh, starts[s], &noskip);
            clip_of(mem, starts[s], &b);
            clip_of(reused, starts[s], &c);
            size_t bytes = (size_t)a.t * a.h * a.w * 3;
            ck_assert_msg(a.t == b.t && a.t == c.t && a.t == noskip.t, "%s @%g: T %d/%d/%d/%d", path,
                          starts[s], a.t, b.t, c.t, noskip.t);
            if (bytes == 0) { /* span after the end */
                milnce_decoder_free(&fresh);
                continue;
            }
            ck_assert_msg(!memcmp(a.data, b.data, bytes), "%s @%g: memory decoder differs", path, starts[s]);
            ck_assert_msg(!memcmp(a.data, c.data, bytes), "%s @%g: reused decoder differs", path, starts[s]);
            ck_assert_msg(!memcmp(a.data, noskip.data, bytes), "%s @%g: skipping changed the frames", path,
                          starts[s]);
            milnce_decoder_free(&fresh);
        }
        int64_t dec, skipped;
        milnce_decoder_stats(reused, &dec, &skipped);
        ck_assert_int_gt(dec, 0);
        milnce_frames_free(&a); milnce_frames_free(&b); milnce_frames_free(&c); milnce_frames_free(&noskip);
        milnce_decoder_free(&mem);
        milnce_decoder_free(&reused);
        ck_assert(mem == NULL && reused == NULL);
        free(buf);
    }
}
END_TEST

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    ck_assert(fread(buf, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

/* The loader's paths against the general ones, exactly (tolerance 0):
 *  - converting only an even-aligned region around the crop block (frames that need no resize)
 *    gives the bytes of the whole-frame conversion, for even and odd crop offsets and sizes,
 *    rotated videos included;
 *  - the planar float output is the uint8 output times 1/255 (float), mirrored when asked, with
 *    and without resize. */
START_TEST(test_crop_region_and_planar_identical) {
    const char *names[] = {"videos/chaplin.mp4", "videos/kinetics_clip.mp4", "videos/carphone_pristine.mp4",
                           "videos/video_90.mov", "videos/flower.webm", "videos/friday.mp4"};
    const int crops[] = {96, 97, 143};
    const double offs[][2] = {{0, 0}, {0.31, 0.77}, {0.5, 0.5}, {0.77, 0.13}, {1, 1}};
    const int sizes[] = {0, 112};
    const float k = 1.0f / 255.0f;
    int compared = 0;
    for (size_t v = 0; v < sizeof names / sizeof names[0]; v++) {
        milnce_error err = {0};
        milnce_decoder *fast = NULL, *slow = NULL;
        ck_assert_msg(milnce_decoder_open(&fast, tu_testdata(names[v]), NULL, &err) == 0, "%s", err.msg);
        ck_assert_msg(milnce_decoder_open(&slow, tu_testdata(names[v]), NULL, &err) == 0, "%s", err.msg);
        milnce_decoder_set_fast_crop(slow, 0);
        double dur = milnce_decoder_info(fast)->duration; /* video_90.mov lasts 0.1 s */
        milnce_frames a = {0}, b = {0}, m = {0};
        for (size_t z = 0; z < 2; z++)
            for (size_t c = 0; c < 3; c++)
                for (size_t o = 0; o < 5; o++) {
                    milnce_clip_spec spec = {.start = dur > 2 ? 0.4 + 0.1 * o : 0, .end = 1.7, .fps = 5, .size = sizes[z],
                                             .crop = MILNCE_CROP_OFFSET, .crop_size = crops[c],
                                             .crop_x = offs[o][0], .crop_y = offs[o][1], .max_frames = 5};
                    ck_assert_msg(milnce_decoder_clip(fast, &spec, &a, &err) == 0, "%s", err.msg);
                    ck_assert_msg(milnce_decoder_clip(slow, &spec, &b, &err) == 0, "%s", err.msg);
                    ck_assert_int_gt(a.t, 0);
                    ck_assert(a.t == b.t && a.h == b.h && a.w == b.w);
                    size_t fb = (size_t)a.h * a.w * 3;
                    ck_assert_msg(!memcmp(a.data, b.data, fb * a.t), "%s crop %d at (%g, %g) size %d: region differs",
                                  names[v], crops[c], offs[o][0], offs[o][1], sizes[z]);
                    size_t plane = (size_t)a.h * a.w, T = (size_t)spec.max_frames;
                    float *pl = malloc(3 * T * plane * sizeof *pl);
                    for (int mode = 0; mode < 4; mode++) { /* flip, and the AVX2 / SSE2 conversion */
                        int flip = mode & 1;
                        const int avx2 = milnce_decoder_set_simd(fast, mode < 2 ? MILNCE_SIMD_AUTO : MILNCE_SIMD_SSE2);
                        ck_assert_int_eq(avx2, mode < 2 ? __builtin_cpu_supports("avx2") != 0 : 0);
                        memset(pl, 0xff, 3 * T * plane * sizeof *pl); /* NaNs: every value must be written */
                        ck_assert_msg(milnce_decoder_clip_planar(fast, &spec, flip, pl, 3 * T * plane, &m, &err) == 0,
                                      "%s", err.msg);
                        ck_assert(m.t == a.t && m.h == a.h && m.w == a.w && m.lead == a.lead);
                        /* Compared in plain C, asserted once: Check records every passing
                         * assertion, and millions of them would dominate the test's time. */
                        long bad = 0, first = -1;
                        for (int t = a.t; t < (int)T; t++) /* past the end of the video: zero */
                            for (size_t i = 0; i < 3 * plane; i++)
                                if (pl[(i / plane * T + t) * plane + i % plane] != 0.0f && bad++ == 0) first = (long)i;
                        for (int t = 0; t < a.t; t++)
                            for (int y = 0; y < a.h; y++)
                                for (int x = 0; x < a.w; x++) {
                                    int xs = flip ? a.w - 1 - x : x;
                                    const uint8_t *px = a.data + (size_t)t * fb + ((size_t)y * a.w + xs) * 3;
                                    for (int ch = 0; ch < 3; ch++) {
                                        size_t at = (ch * T + t) * plane + (size_t)y * a.w + x;
                                        if (pl[at] != px[ch] * k && bad++ == 0) first = (long)at;
                                    }
                                }
                        ck_assert_msg(bad == 0, "%s flip %d avx2 %d: %ld planar values differ, the first at float %ld",
                                      names[v], flip, mode < 2, bad, first);
                    }
                    milnce_decoder_set_simd(fast, MILNCE_SIMD_AUTO);
                    /* Too small an output is an error, not an overflow. */
                    ck_assert_int_lt(milnce_decoder_clip_planar(fast, &spec, 0, pl, 3 * T * plane - 1, &m, &err), 0);
                    free(pl);
                    compared++;
                }
        milnce_frames_free(&a); milnce_frames_free(&b); milnce_frames_free(&m);
        milnce_decoder_free(&fast);
        milnce_decoder_free(&slow);
    }
    fprintf(stderr, "video: %d clips: crop region == whole frame, planar == uint8/255\n", compared);
}
END_TEST

/* One decoder pointed at buffer after buffer (the loader's worker) gives the frames of a fresh
 * decoder per buffer; H.264 in MP4 opens without stream-info probing, others with it. */
START_TEST(test_reuse_memory_matches_fresh) {
    const char *names[] = {"videos/chaplin.mp4", "videos/kinetics_clip.mp4", "videos/flower.webm",
                           "videos/video_270.mov", "videos/carphone_pristine.mp4"};
    const int light[] = {1, 1, 0, 1, 1};
    const int order[] = {0, 0, 1, 0, 2, 2, 3, 1, 4, 4, 0};
    uint8_t *buf[5];
    size_t size[5];
    for (int i = 0; i < 5; i++) buf[i] = read_all(tu_testdata(names[i]), &size[i]);
    milnce_decoder *reused = NULL;
    milnce_frames a = {0}, b = {0};
    milnce_error err = {0};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        int v = order[i];
        ck_assert_msg(milnce_decoder_reuse_memory(&reused, buf[v], size[v], names[v], NULL, &err) == 0, "%s", err.msg);
        ck_assert_msg(milnce_decoder_light(reused) == light[v], "%s: light %d", names[v], milnce_decoder_light(reused));
        const milnce_video_info *vi = milnce_decoder_info(reused);
        milnce_decoder *fresh = NULL;
        ck_assert_msg(milnce_decoder_open_memory(&fresh, buf[v], size[v], names[v], NULL, &err) == 0, "%s", err.msg);
        const milnce_video_info *fi = milnce_decoder_info(fresh);
        ck_assert(vi->display_width == fi->display_width && vi->display_height == fi->display_height);
        ck_assert_double_eq_tol(vi->start_time, fi->start_time, 1e-9);
        double start = 0.2 + 0.37 * (double)i;
        if (start > fi->duration - 1) start = 0;
        milnce_clip_spec spec = {.start = start, .end = start + 1.5, .fps = 6, .size = 0,
                                 .crop = MILNCE_CROP_OFFSET, .crop_size = 101, .crop_x = 0.3, .crop_y = 0.6};
        ck_assert_msg(milnce_decoder_clip(reused, &spec, &a, &err) == 0, "%s", err.msg);
        ck_assert_msg(milnce_decoder_clip(fresh, &spec, &b, &err) == 0, "%s", err.msg);
        ck_assert_msg(a.t == b.t && a.t > 0 && a.lead == b.lead, "%s @%g: T %d vs %d", names[v], start, a.t, b.t);
        ck_assert_msg(!memcmp(a.data, b.data, (size_t)a.t * a.h * a.w * 3), "%s @%g: reused decoder differs",
                      names[v], start);
        milnce_decoder_free(&fresh);
    }
    /* Two videos from one encoder at one size share their codec parameters: the open codec is
     * kept from one to the other, and the frames are still those of a fresh decoder. */
    const char *src[2] = {"testsrc2", "mandelbrot"};
    uint8_t *sb[2];
    size_t ssz[2];
    for (int i = 0; i < 2; i++) {
        char path[4300], cmd[9000];
        snprintf(path, sizeof path, "%s/same%d.mp4", tu_tmpdir(), i);
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -nostdin -v quiet -y -f lavfi -i %s=size=160x96:rate=10 -t 4 -c:v libx264 -preset veryfast "
                 "-tune fastdecode -g 5 -pix_fmt yuv420p '%s'", src[i], path);
        ck_assert_int_eq(system(cmd), 0);
        sb[i] = read_all(path, &ssz[i]);
    }
    int64_t kept0 = milnce_decoder_codec_kept(reused);
    for (int i = 0; i < 5; i++) {
        int v = i % 2;
        ck_assert_msg(milnce_decoder_reuse_memory(&reused, sb[v], ssz[v], src[v], NULL, &err) == 0, "%s", err.msg);
        milnce_decoder *fresh = NULL;
        ck_assert_msg(milnce_decoder_open_memory(&fresh, sb[v], ssz[v], src[v], NULL, &err) == 0, "%s", err.msg);
        milnce_clip_spec spec = {.start = 0.35 + 0.6 * i, .end = 0.35 + 0.6 * i + 1.2, .fps = 5, .size = 0,
                                 .crop = MILNCE_CROP_CENTER, .crop_size = 64};
        ck_assert_msg(milnce_decoder_clip(reused, &spec, &a, &err) == 0, "%s", err.msg);
        ck_assert_msg(milnce_decoder_clip(fresh, &spec, &b, &err) == 0, "%s", err.msg);
        ck_assert_msg(a.t == b.t && a.t > 0, "%s: T %d vs %d", src[v], a.t, b.t);
        ck_assert_msg(!memcmp(a.data, b.data, (size_t)a.t * a.h * a.w * 3), "%s: kept codec differs", src[v]);
        milnce_decoder_free(&fresh);
    }
    ck_assert_int_ge(milnce_decoder_codec_kept(reused) - kept0, 3); /* 4 switches; the first may not match */
    free(sb[0]);
    free(sb[1]);
    /* A bad buffer: an error naming it, and the decoder is gone. */
    static const uint8_t junk[64] = {7};
    ck_assert_int_lt(milnce_decoder_reuse_memory(&reused, junk, sizeof junk, "junk.mp4", NULL, &err), 0);
    ck_assert_ptr_null(reused);
    ck_assert_ptr_nonnull(strstr(err.msg, "junk.mp4"));
    milnce_frames_free(&a); milnce_frames_free(&b);
    for (int i = 0; i < 5; i++) free(buf[i]);
}
END_TEST

START_TEST(test_corrupted_warns_and_returns_frames) {
    int warnings = 0;
    milnce_logger lg = {count_log_fn, &warnings};
    milnce_error err = {0};
    milnce_decoder *d = NULL;
    milnce_frames fr = {0};
    ck_assert_msg(milnce_decoder_open(&d, tu_testdata("videos/corrupted.mp4"), &lg, &err) == 0, "%s", err.msg);
    /* 50 frames at 10 fps, one undecodable: all 50 slots at 10 fps are filled. */
    milnce_clip_spec spec = {.start = 0, .end = 5, .fps = 10, .size = 64, .crop = MILNCE_CROP_NONE};
    ck_assert_msg(milnce_decoder_clip(d, &spec, &fr, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(fr.t, 50);
    ck_assert_int_gt(fr.warnings, 0);
    ck_assert_int_gt(warnings, 0);
    milnce_frames_free(&fr);
    milnce_decoder_free(&d);
}
END_TEST

START_TEST(test_bad_inputs_clear_errors) {
    const char *dir = tu_tmpdir();
    char empty[4200], text[4200], missing[4200];
    snprintf(empty, sizeof empty, "%s/empty.mp4", dir);
    snprintf(text, sizeof text, "%s/notes.mp4", dir);
    snprintf(missing, sizeof missing, "%s/missing.mp4", dir);
    close(open(empty, O_CREAT | O_WRONLY, 0644));
    FILE *f = fopen(text, "w");
    fputs("this is a text file, not a video\n", f);
    fclose(f);
    const char *paths[] = {empty, text, missing, tu_testdata("videos/friday.vtt")};
    for (size_t i = 0; i < 4; i++) {
        milnce_error err = {0};
        milnce_decoder *d = NULL;
        milnce_video_info info;
        int ret = milnce_decoder_open(&d, paths[i], NULL, &err);
        ck_assert_msg(ret < 0 && d == NULL, "%s opened", paths[i]);
        ck_assert_msg(strstr(err.msg, paths[i]) != NULL, "message does not name the file: %s", err.msg);
        ck_assert_int_lt(milnce_video_probe(paths[i], &info, &err), 0);
    }
    milnce_error err = {0};
    milnce_decoder *d = NULL;
    static const uint8_t junk[100] = {1, 2, 3};
    ck_assert_int_lt(milnce_decoder_open_memory(&d, junk, 0, "zero.mp4", NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "zero.mp4"));
    ck_assert_int_lt(milnce_decoder_open_memory(&d, junk, sizeof junk, "junk.mp4", NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "junk.mp4"));
    /* Bad specs are refused, not crashed on. */
    ck_assert_int_eq(milnce_decoder_open(&d, tu_testdata("videos/realshort.mp4"), NULL, &err), 0);
    milnce_frames fr = {0};
    milnce_clip_spec bad[] = {{.start = 1, .end = 0.5, .fps = 5}, {.start = 0, .end = 1, .fps = 0},
                              {.start = 0, .end = 1, .fps = 5, .crop = MILNCE_CROP_OFFSET, .crop_x = 2}};
    for (int i = 0; i < 3; i++) ck_assert_int_lt(milnce_decoder_clip(d, &bad[i], &fr, &err), 0);
    /* A span after the end: no frame, no error. */
    milnce_clip_spec late = {.start = 50, .end = 52, .fps = 5, .size = 32};
    ck_assert_int_eq(milnce_decoder_clip(d, &late, &fr, &err), 0);
    ck_assert_int_eq(fr.t, 0);
    milnce_frames_free(&fr);
    milnce_decoder_free(&d);
}
END_TEST

static json_t *ffprobe(const char *path, const char *what) {
    char cmd[4600];
    size_t n;
    snprintf(cmd, sizeof cmd, "ffprobe -v quiet -print_format json %s '%s'", what, path);
    uint8_t *out = run_capture(cmd, &n);
    json_error_t je;
    json_t *j = json_loadb((const char *)out, n, 0, &je);
    free(out);
    ck_assert_msg(j != NULL, "ffprobe JSON for %s: %s", path, je.text);
    return j;
}

static void check_probe(const char *path) {
    milnce_video_info info;
    milnce_error err = {0};
    ck_assert_msg(milnce_video_probe(path, &info, &err) == 0, "%s", err.msg);
    json_t *j = ffprobe(path, "-show_format -show_streams");
    json_t *st = json_array_get(json_object_get(j, "streams"), info.video_stream);
    ck_assert_str_eq(json_string_value(json_object_get(st, "codec_type")), "video");
    ck_assert_str_eq(json_string_value(json_object_get(st, "codec_name")), info.codec);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "width")), info.width);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "height")), info.height);
    char rate[64];
    snprintf(rate, sizeof rate, "%d/%d", info.avg_fps_num, info.avg_fps_den);
    ck_assert_str_eq(json_string_value(json_object_get(st, "avg_frame_rate")), rate);
    snprintf(rate, sizeof rate, "%d/%d", info.r_fps_num, info.r_fps_den);
    ck_assert_str_eq(json_string_value(json_object_get(st, "r_frame_rate")), rate);
    int rot = 0;
    json_t *sd;
    size_t i;
    json_array_foreach(json_object_get(st, "side_data_list"), i, sd) {
        if (json_object_get(sd, "rotation")) rot = (int)json_integer_value(json_object_get(sd, "rotation"));
    }
    ck_assert_msg(rot == info.rotation, "%s: rotation %d, ffprobe %d", path, info.rotation, rot);
    ck_assert_int_eq((int)json_array_size(json_object_get(j, "streams")), info.nb_streams);
    const char *dur = json_string_value(json_object_get(json_object_get(j, "format"), "duration"));
    if (dur) {
        ck_assert_msg(!info.duration_scanned && fabs(atof(dur) - info.duration) < 1e-3,
                      "%s: duration %.4f, ffprobe %s", path, info.duration, dur);
    } else {
        /* No duration in the header: the end of the last video packet, from ffprobe's packets. */
        json_t *pk = ffprobe(path, "-select_streams v:0 -show_entries packet=pts_time,duration_time");
        double first = INFINITY, last = 0;
        json_t *p;
        json_array_foreach(json_object_get(pk, "packets"), i, p) {
            double t = atof(json_string_value(json_object_get(p, "pts_time")));
            json_t *dj = json_object_get(p, "duration_time");
            double e = t + (dj ? atof(json_string_value(dj)) : 0);
            if (t < first) first = t;
            if (e > last) last = e;
        }
        json_decref(pk);
        ck_assert_msg(info.duration_scanned && fabs((last - first) - info.duration) < 1e-3,
                      "%s: scanned duration %.4f, packets say %.4f", path, info.duration, last - first);
    }
    json_decref(j);
}

START_TEST(test_probe_matches_ffprobe) {
    const char *dir = tu_testdata("videos");
    DIR *dp = opendir(dir);
    struct dirent *e;
    char path[4096];
    while ((e = readdir(dp))) {
        if (!is_video(e->d_name)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        check_probe(path);
    }
    closedir(dp);
    milnce_video_info info;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_video_probe(tu_testdata("videos/video_90.mov"), &info, &err), 0);
    ck_assert_int_eq(info.rotation, -90);
    ck_assert_int_eq(info.display_width, 320);
    ck_assert_int_eq(info.display_height, 568);
    ck_assert_int_eq(milnce_video_probe(tu_testdata("videos/fire2.mp4"), &info, &err), 0);
    ck_assert_int_eq(info.rotation, -180); /* as ffprobe reports it */
    ck_assert(info.vfr);
    ck_assert_int_eq(milnce_video_probe(tu_testdata("videos/no_duration.webm"), &info, &err), 0);
    ck_assert(info.duration_scanned && info.duration > 1);
}
END_TEST

/* The commands: `milnce probe` JSON and `milnce clip` .npy equal the library's results. */
START_TEST(test_commands) {
    char cmd[8192];
    size_t n;
    const char *v = tu_testdata("videos/video_270.mov");
    snprintf(cmd, sizeof cmd, "'%s' probe '%s'", tu_bin(), v);
    uint8_t *out = run_capture(cmd, &n);
    json_error_t je;
    json_t *j = json_loadb((const char *)out, n, 0, &je);
    free(out);
    ck_assert_msg(j != NULL, "probe output is not JSON: %s", je.text);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "rotation")), 90);
    ck_assert_str_eq(json_string_value(json_object_get(j, "codec")), "h264");
    ck_assert_int_eq((int)json_array_size(json_object_get(j, "streams")), 1);
    json_decref(j);

    const char *dir = tu_tmpdir();
    const char *c = tu_testdata("videos/chaplin.mp4");
    snprintf(cmd, sizeof cmd, "'%s' clip '%s' --start 1 --end 4.2 --fps 5 --size 112 --out '%s/c.npy' 2>/dev/null",
             tu_bin(), c, dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/c.npy", dir);
    milnce_npy a;
    milnce_error err = {0};
    ck_assert_msg(milnce_npy_read(cmd, &a, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(a.ndim, 4);
    ck_assert_int_eq(a.shape[0], 16);
    ck_assert_int_eq(a.shape[1], 112);
    ck_assert_int_eq(a.shape[2], 112);
    milnce_decoder *d = NULL;
    milnce_frames fr = {0};
    ck_assert_int_eq(milnce_decoder_open(&d, c, NULL, &err), 0);
    milnce_clip_spec spec = {.start = 1, .end = 4.2, .fps = 5, .size = 112, .crop_size = 112};
    ck_assert_int_eq(milnce_decoder_clip(d, &spec, &fr, &err), 0);
    ck_assert(!memcmp(a.data, fr.data, a.count));
    milnce_npy_free(&a);
    milnce_frames_free(&fr);
    milnce_decoder_free(&d);
    snprintf(cmd, sizeof cmd, "'%s' clip '%s/none.mp4' --start 0 --end 1 --fps 5 --size 8 --out '%s/x.npy' 2>/dev/null",
             tu_bin(), dir, dir);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "'%s' clip '%s' --fps 5 2>/dev/null", tu_bin(), c);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_cmd("ffmpeg", "the reference decoder");
    tu_need_cmd("ffprobe", "the reference prober");
    av_log_set_level(AV_LOG_QUIET);
    Suite *s = suite_create("video");
    TCase *tc = tcase_create("video");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_probe_matches_ffprobe);
    tcase_add_test(tc, test_bad_inputs_clear_errors);
    tcase_add_test(tc, test_corrupted_warns_and_returns_frames);
    tcase_add_test(tc, test_memory_reuse_and_skip_identical);
    tcase_add_test(tc, test_crop_region_and_planar_identical);
    tcase_add_test(tc, test_reuse_memory_matches_fresh);
    tcase_add_test(tc, test_commands);
    tcase_add_test(tc, test_clips_match_ffmpeg_cli);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
