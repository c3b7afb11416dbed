/* The H.264 encoder (checked by the ffmpeg/ffprobe CLIs), the synthetic scripts, the renderer
 * and `milnce synth` runs (determinism, layout, formats). */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "shard.h"
#include "synth.h"
#include "synth_render.h"
#include "synth_script.h"
#include "testutil.h"
#include "video_encode.h"

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    uint8_t *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* ---- encoder ---- */

#define EW 96
#define EH 64
#define EFPS 10
#define EN 35

/* Smooth gradients with a moving square: what a real encoder should reproduce well. */
static void pattern(uint8_t *rgb, int f) {
    for (int y = 0; y < EH; y++)
        for (int x = 0; x < EW; x++) {
            uint8_t *p = rgb + 3 * (y * EW + x);
            p[0] = (uint8_t)(x * 255 / EW);
            p[1] = (uint8_t)(y * 255 / EH);
            p[2] = (uint8_t)(128 + 100 * sin(0.1 * (x + y) + 0.3 * f));
            if (x >= 10 + f && x < 30 + f && y >= 20 && y < 40) p[0] = p[1] = p[2] = 240;
        }
}

static void encode_pattern(milnce_video_encoder *enc) {
    milnce_error err = {0};
    uint8_t rgb[EW * EH * 3];
    for (int f = 0; f < EN; f++) {
        pattern(rgb, f);
        ck_assert_msg(milnce_video_encoder_write_rgb(enc, rgb, EW * 3, &err) == 0, "%s", err.msg);
    }
    ck_assert_msg(milnce_video_encoder_finish(enc, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(milnce_video_encoder_frames(enc), EN);
}

START_TEST(test_encode_psnr_and_keyframes) {
    char path[4200], cmd[9000];
    snprintf(path, sizeof path, "%s/p.mp4", tu_tmpdir());
    milnce_encode_opts o;
    milnce_encode_opts_init(&o, EW, EH, EFPS);
    milnce_error err = {0};
    milnce_video_encoder *enc = NULL;
    ck_assert_msg(milnce_video_encoder_open_file(&enc, path, &o, &err) == 0, "%s", err.msg);
    encode_pattern(enc);
    milnce_video_encoder_free(&enc);
    ck_assert_ptr_null(enc);

    /* decode with the ffmpeg CLI */
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -i %s -f rawvideo -pix_fmt rgb24 -", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    static uint8_t got[EN + 1][EW * EH * 3];
    size_t nread = fread(got, 1, sizeof got, p);
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_uint_eq(nread, (size_t)EN * EW * EH * 3);
    double se = 0;
    uint8_t want[EW * EH * 3];
    for (int f = 0; f < EN; f++) {
        pattern(want, f);
        for (int i = 0; i < EW * EH * 3; i++) {
            double d = (double)got[f][i] - want[i];
            se += d * d;
        }
    }
    double mse = se / ((double)EN * EW * EH * 3);
    double psnr = 10 * log10(255.0 * 255.0 / mse);
    fprintf(stderr, "encode: PSNR %.2f dB over %d frames\n", psnr, EN);
    ck_assert_msg(psnr >= 30, "PSNR %.2f dB", psnr);

    /* key frames at least every second, by ffprobe; codec and rate as asked */
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams v -show_entries packet=pts_time,flags -of csv=p=0 %s", path);
    p = popen(cmd, "r");
    char line[256];
    double last = -1, worst = 0;
    int keys = 0, packets = 0;
    while (fgets(line, sizeof line, p)) {
        double t;
        char flags[16];
        if (sscanf(line, "%lf,%15s", &t, flags) != 2) continue;
        packets++;
        if (flags[0] != 'K') continue;
        if (last >= 0 && t - last > worst) worst = t - last;
        last = t;
        keys++;
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_int_eq(packets, EN);
    ck_assert_int_ge(keys, EN / EFPS);
    ck_assert_msg(worst <= 1.0 + 1e-6, "key frames %.3f s apart", worst);
    ck_assert_double_le(3.4 - last, 1.0 + 1e-6); /* the last second has one too */
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -show_entries stream=codec_name,width,height,r_frame_rate -of csv=p=0 %s", path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    pclose(p);
    ck_assert_str_eq(line, "h264,96,64,10/1\n");
}
END_TEST

START_TEST(test_encode_memory_faststart_deterministic) {
    char path[4200];
    snprintf(path, sizeof path, "%s/p.mp4", tu_tmpdir());
    milnce_encode_opts o;
    milnce_encode_opts_init(&o, EW, EH, EFPS);
    milnce_error err = {0};
    milnce_video_encoder *enc = NULL;
    ck_assert_int_eq(milnce_video_encoder_open_file(&enc, path, &o, &err), 0);
    encode_pattern(enc);
    milnce_video_encoder_free(&enc);
    uint8_t *mem[2];
    size_t n[2];
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(milnce_video_encoder_open_mem(&enc, &o, &err), 0);
        encode_pattern(enc);
        ck_assert_int_eq(milnce_video_encoder_take(enc, &mem[k], &n[k], &err), 0);
        milnce_video_encoder_free(&enc);
    }
    size_t fn;
    uint8_t *file = slurp(path, &fn);
    ck_assert_uint_eq(n[0], n[1]);
    ck_assert(memcmp(mem[0], mem[1], n[0]) == 0);
    ck_assert_uint_eq(fn, n[0]);
    ck_assert(memcmp(file, mem[0], fn) == 0);
    /* moov before mdat: top-level boxes in order */
    size_t off = 0;
    int moov = -1, mdat = -1, k = 0;
    while (off + 8 <= fn) {
        uint32_t sz = (uint32_t)file[off] << 24 | (uint32_t)file[off + 1] << 16 | (uint32_t)file[off + 2] << 8 |
                      file[off + 3];
        if (memcmp(file + off + 4, "moov", 4) == 0) moov = k;
        if (memcmp(file + off + 4, "mdat", 4) == 0) mdat = k;
        if (sz < 8) break;
        off += sz;
        k++;
    }
    ck_assert_uint_eq(off, fn);
    ck_assert_int_ge(moov, 0);
    ck_assert_int_lt(moov, mdat);
    free(file);
    free(mem[0]);
    free(mem[1]);
    /* bad options */
    o.width = 95;
    ck_assert_int_eq(milnce_video_encoder_open_mem(&enc, &o, &err), MILNCE_ERR_INVALID);
    ck_assert_ptr_null(enc);
}
END_TEST

/* ---- scripts ---- */

static int has_word(const char *text, const char *w) {
    size_t n = strlen(w);
    for (const char *p = text; (p = strstr(p, w)); p++) {
        int left = p == text || p[-1] == ' ';
        int right = p[n] == 0 || p[n] == ' ';
        if (left && right) return 1;
    }
    return 0;
}

START_TEST(test_script_deterministic) {
    milnce_synth_params p;
    milnce_synth_params_init(&p);
    p.seed = 42;
    milnce_error err = {0};
    milnce_synth_video a, b, c;
    ck_assert_int_eq(milnce_synth_video_make(&a, &p, MILNCE_SYNTH_TRAIN, 3, &err), 0);
    ck_assert_int_eq(milnce_synth_video_make(&b, &p, MILNCE_SYNTH_TRAIN, 3, &err), 0);
    ck_assert_int_eq(a.nseg, b.nseg);
    ck_assert_int_eq(a.nlines, b.nlines);
    ck_assert(memcmp(a.seg, b.seg, sizeof *a.seg * (size_t)a.nseg) == 0);
    ck_assert(memcmp(a.lines, b.lines, sizeof *a.lines * (size_t)a.nlines) == 0);
    p.seed = 43;
    ck_assert_int_eq(milnce_synth_video_make(&c, &p, MILNCE_SYNTH_TRAIN, 3, &err), 0);
    ck_assert(c.nseg != a.nseg || memcmp(a.seg, c.seg, sizeof *a.seg * (size_t)a.nseg) != 0);
    milnce_synth_video_free(&c);
    p.seed = 42; /* another index, another split: other videos */
    ck_assert_int_eq(milnce_synth_video_make(&c, &p, MILNCE_SYNTH_EVAL, 3, &err), 0);
    ck_assert(c.nseg != a.nseg || memcmp(a.seg, c.seg, sizeof *a.seg * (size_t)a.nseg) != 0);
    milnce_synth_video_free(&a);
    milnce_synth_video_free(&b);
    milnce_synth_video_free(&c);
    p.min_seconds = 2;
    ck_assert_int_eq(milnce_synth_video_make(&a, &p, 0, 0, &err), MILNCE_ERR_RANGE);
}
END_TEST

/* Every narrated sentence describes its segment (colour, a word for the shape, words only its
 * action uses) and was said inside it before the shift; the shift stays within bounds; fillers
 * name no object; segments tile the video in 3..6 s pieces. */
START_TEST(test_narration_matches_segments) {
    milnce_synth_params p;
    milnce_synth_params_init(&p);
    milnce_error err = {0};
    int content = 0, fillers = 0, segs = 0, shifted = 0;
    for (int seed = 1; seed <= 3; seed++)
        for (int i = 0; i < 10; i++) {
            p.seed = (uint64_t)seed;
            milnce_synth_video v;
            ck_assert_int_eq(milnce_synth_video_make(&v, &p, MILNCE_SYNTH_TRAIN, i, &err), 0);
            ck_assert(v.duration >= p.min_seconds - 3 && v.duration <= p.max_seconds);
            ck_assert(v.width == 160 || v.width == 128);
            ck_assert(v.fps >= 10 && v.fps <= 15);
            ck_assert_int_eq(v.nframes, (int)lround(v.duration * v.fps));
            for (int s = 0; s < v.nseg; s++, segs++) {
                double d = v.seg[s].end - v.seg[s].start;
                ck_assert(d >= 3 && d <= 6);
                ck_assert(s == 0 ? v.seg[s].start == 0 : v.seg[s].start == v.seg[s - 1].end);
                for (int k = 0; k < v.seg[s].ndistractors; k++) {
                    ck_assert_int_ne(v.seg[s].distractor[k].color, v.seg[s].obj.color);
                    ck_assert_int_ne(v.seg[s].distractor[k].shape, v.seg[s].obj.shape);
                }
            }
            double mean = v.duration / v.nseg;
            int kept = 0;
            for (int k = 0; k < v.nlines; k++) {
                const milnce_synth_line *l = &v.lines[k];
                ck_assert(k == 0 || l->start >= v.lines[k - 1].start);
                ck_assert(l->start >= 0 && l->end <= v.duration && l->end > l->start);
                if (l->segment < 0) {
                    fillers++;
                    for (int c = 0; c < MILNCE_SYNTH_NCOLORS; c++)
                        ck_assert_msg(!has_word(l->text, milnce_synth_color_name(c)), "%s", l->text);
                    continue;
                }
                content++;
                kept++;
                const milnce_synth_segment *s = &v.seg[l->segment];
                ck_assert_msg(has_word(l->text, milnce_synth_color_name(s->obj.color)), "'%s'", l->text);
                int shape_ok = 0;
                for (const char *const *w = milnce_synth_shape_words(s->obj.shape); *w; w++)
                    shape_ok |= strstr(l->text, *w) != NULL;
                ck_assert_msg(shape_ok, "'%s' does not name a %s", l->text,
                              milnce_synth_shape_name(s->obj.shape));
                for (int a = 0; a < MILNCE_SYNTH_NACTIONS; a++) {
                    int hit = 0;
                    for (const char *const *w = milnce_synth_action_cues(a); *w; w++) hit |= has_word(l->text, *w);
                    ck_assert_msg(hit == (a == s->action), "'%s' vs action %s", l->text,
                                  milnce_synth_action_name(s->action));
                }
                ck_assert(l->true_start >= s->start && l->true_start < s->end);
                ck_assert(l->true_end <= s->end + 1e-9);
                ck_assert_msg(fabs(l->start - l->true_start) <= p.max_shift * mean + 0.011,
                              "shift %g > %g", l->start - l->true_start, p.max_shift * mean);
                if (fabs(l->start - l->true_start) > 0.5 * mean) shifted++;
            }
            ck_assert_int_le(kept, v.nseg);
            milnce_synth_video_free(&v);
        }
    ck_assert_int_gt(fillers, 0);
    /* about 15% dropped; the shift is bell-shaped with sd max_shift / 3 = half a segment: about a
     * third of the sentences (|z| > 1) move past half a segment, far from none and from all */
    ck_assert(content < segs && content > segs * 7 / 10);
    ck_assert_msg(shifted > content / 5 && shifted < content / 2, "%d of %d shifted", shifted, content);
}
END_TEST

START_TEST(test_eval_is_aligned_and_clean) {
    milnce_synth_params p;
    milnce_synth_params_init(&p);
    milnce_error err = {0};
    milnce_synth_video v;
    ck_assert_int_eq(milnce_synth_video_make(&v, &p, MILNCE_SYNTH_EVAL, 0, &err), 0);
    ck_assert_int_eq(v.nlines, v.nseg);
    for (int k = 0; k < v.nlines; k++) {
        ck_assert_int_ge(v.lines[k].segment, 0);
        ck_assert(v.lines[k].start == v.lines[k].true_start);
    }
    char cap[128];
    milnce_synth_caption(cap, sizeof cap, &v.seg[0]);
    ck_assert(strncmp(cap, "the ", 4) == 0 && has_word(cap, milnce_synth_color_name(v.seg[0].obj.color)));
    milnce_synth_video_free(&v);
}
END_TEST

/* The actor's centre pixel has its colour; the background never uses palette colours. */
START_TEST(test_render_draws_actor) {
    milnce_synth_params p;
    milnce_synth_params_init(&p);
    milnce_error err = {0};
    milnce_synth_video v;
    ck_assert_int_eq(milnce_synth_video_make(&v, &p, MILNCE_SYNTH_TRAIN, 1, &err), 0);
    uint8_t *rgb = malloc((size_t)v.width * v.height * 3), *rgb2 = malloc((size_t)v.width * v.height * 3);
    float *scratch = malloc(sizeof(float) * MILNCE_SYNTH_SCRATCH(v.width, v.height));
    for (int s = 0; s < v.nseg; s++) {
        double t = 0.5 * (v.seg[s].start + v.seg[s].end);
        int f = (int)(t * v.fps);
        milnce_synth_render(rgb, v.width * 3, &v, f, scratch);
        milnce_synth_object a;
        milnce_synth_actor_at(&v.seg[s], (double)f / v.fps, &a);
        int x = (int)(a.x * v.width), y = (int)(a.y * v.height);
        uint8_t want[3];
        milnce_synth_color_rgb(a.color, want);
        ck_assert(memcmp(rgb + 3 * (y * v.width + x), want, 3) == 0);
        milnce_synth_render(rgb2, v.width * 3, &v, f, scratch);
        ck_assert(memcmp(rgb, rgb2, (size_t)v.width * v.height * 3) == 0);
    }
    /* the actor moves within a segment */
    int f0 = (int)(v.seg[0].start * v.fps), f1 = (int)(v.seg[0].end * v.fps) - 1;
    milnce_synth_render(rgb, v.width * 3, &v, f0, scratch);
    milnce_synth_render(rgb2, v.width * 3, &v, f1, scratch);
    ck_assert(memcmp(rgb, rgb2, (size_t)v.width * v.height * 3) != 0);
    free(rgb);
    free(rgb2);
    free(scratch);
    milnce_synth_video_free(&v);
    /* shapes */
    ck_assert(milnce_synth_inside(MILNCE_SYNTH_CIRCLE, 0, 0) && !milnce_synth_inside(MILNCE_SYNTH_CIRCLE, 0.8f, 0.8f));
    ck_assert(milnce_synth_inside(MILNCE_SYNTH_STAR, 0, -0.95f) && !milnce_synth_inside(MILNCE_SYNTH_STAR, 0.4f, -0.8f));
    ck_assert(milnce_synth_inside(MILNCE_SYNTH_TRIANGLE, 0, -0.9f) && !milnce_synth_inside(MILNCE_SYNTH_TRIANGLE, 0, 0.6f));
}
END_TEST

/* ---- runs ---- */

static void run_synth(const char *out, uint64_t seed, int shard) {
    milnce_synth_opts o;
    milnce_synth_opts_init(&o);
    o.out = out;
    o.videos = 3;
    o.eval_videos = 1;
    o.params.seed = seed;
    o.params.min_seconds = 6;
    o.params.max_seconds = 9;
    o.shard = shard;
    o.shard_samples = 2;
    milnce_error err = {0};
    milnce_synth_stats st;
    ck_assert_msg(milnce_synth_run(&o, NULL, &st, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(st.videos, 4);
    ck_assert_int_eq(st.shards, shard ? 2 : 0);
}

static const char *const run_files[] = {
    "synth.json", "train/videos.csv", "train/truth.json", "train/videos/vid_00000.mp4",
    "train/videos/vid_00001.mp4", "train/videos/vid_00002.mp4", "train/captions/vid_00000.csv",
    "train/captions/vid_00001.srt", "train/captions/vid_00002.vtt", "eval/videos.csv",
    "eval/youcook2_val.csv", "eval/truth.json", "eval/videos/eval_00000.mp4",
    "shards/train-000000.tar", "shards/train-000000.idx.json", "shards/train-000001.tar",
    "shards/train-000001.idx.json", NULL};

START_TEST(test_run_deterministic) {
    char a[4200], b[4200], c[4200], pa[8500], pb[8500];
    snprintf(a, sizeof a, "%s/out", tu_tmpdir());
    snprintf(b, sizeof b, "%s/other/out", tu_tmpdir());
    snprintf(c, sizeof c, "%s/out", tu_tmpdir());
    run_synth(a, 7, 1);
    run_synth(b, 7, 1);
    run_synth(c, 8, 1);
    int differ = 0;
    for (int i = 0; run_files[i]; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, run_files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, run_files[i]);
        ck_assert_msg(access(pa, F_OK) == 0, "missing %s", pa);
        ck_assert_msg(same_file(pa, pb), "%s differs between two runs with one seed", run_files[i]);
        snprintf(pb, sizeof pb, "%s/%s", c, run_files[i]);
        if (!same_file(pa, pb)) differ++;
    }
    ck_assert_int_ge(differ, 14); /* everything but (maybe) the lists */
    /* A re-run with the same seed leaves the corpus files untouched (same mtime), so that
     * preprocess's resume, which judges inputs by size and mtime, keeps shards made from them. */
    struct stat before[32], after;
    for (int i = 0; run_files[i] && strncmp(run_files[i], "shards/", 7) != 0; i++) {
        snprintf(pb, sizeof pb, "%s/%s", b, run_files[i]);
        ck_assert_int_eq(stat(pb, &before[i]), 0);
    }
    run_synth(b, 7, 1);
    for (int i = 0; run_files[i] && strncmp(run_files[i], "shards/", 7) != 0; i++) {
        snprintf(pb, sizeof pb, "%s/%s", b, run_files[i]);
        ck_assert_int_eq(stat(pb, &after), 0);
        ck_assert_msg(after.st_mtim.tv_sec == before[i].st_mtim.tv_sec && after.st_mtim.tv_nsec == before[i].st_mtim.tv_nsec
                          && after.st_ino == before[i].st_ino,
                      "%s was rewritten by an identical run", run_files[i]);
    }
    /* no temporary files left behind */
    snprintf(pa, sizeof pa, "%s/train/videos", a);
    DIR *d = opendir(pa);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(n, 3);

    /* formats */
    size_t len;
    snprintf(pa, sizeof pa, "%s/train/captions/vid_00000.csv", a);
    char *t = (char *)slurp(pa, &len);
    ck_assert(strncmp(t, "start,end,text\n", 15) == 0);
    free(t);
    snprintf(pa, sizeof pa, "%s/train/captions/vid_00001.srt", a);
    t = (char *)slurp(pa, &len);
    ck_assert_msg(strncmp(t, "1\n00:00:", 8) == 0 && strstr(t, " --> "), "%s", t);
    free(t);
    snprintf(pa, sizeof pa, "%s/train/captions/vid_00002.vtt", a);
    t = (char *)slurp(pa, &len);
    ck_assert(strncmp(t, "WEBVTT\n\n", 8) == 0);
    free(t);
    snprintf(pa, sizeof pa, "%s/eval/youcook2_val.csv", a);
    t = (char *)slurp(pa, &len);
    ck_assert(strncmp(t, "end,start,task,text,video_id\n", 29) == 0 && strstr(t, ",eval_00000\n"));
    free(t);
    snprintf(pa, sizeof pa, "%s/train/videos.csv", a);
    t = (char *)slurp(pa, &len);
    ck_assert_str_eq(t, "video_path\nvideos/vid_00000.mp4\nvideos/vid_00001.mp4\nvideos/vid_00002.mp4\n");
    free(t);

    /* the shard holds the same video bytes */
    snprintf(pa, sizeof pa, "%s/shards/train-000001.tar", a);
    milnce_error err = {0};
    milnce_shard_reader *r = NULL;
    ck_assert_msg(milnce_shard_open(&r, pa, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(milnce_shard_count(r), 1);
    ck_assert_str_eq(milnce_shard_key(r, 0), "vid_00002");
    const uint8_t *d2;
    size_t n2, nf;
    ck_assert_int_eq(milnce_shard_get(r, 0, "mp4", &d2, &n2, &err), 0);
    snprintf(pb, sizeof pb, "%s/train/videos/vid_00002.mp4", a);
    uint8_t *f = slurp(pb, &nf);
    ck_assert_uint_eq(nf, n2);
    ck_assert(memcmp(f, d2, nf) == 0);
    free(f);
    ck_assert_int_eq(milnce_shard_get(r, 0, "json", &d2, &n2, &err), 0);
    ck_assert(n2 > 20 && memmem(d2, n2, "\"sentences\":[", 13));
    milnce_shard_close(&r);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_cmd("ffmpeg", "decodes the synthetic videos");
    tu_need_cmd("ffprobe", "lists their key frames");
    av_log_set_level(AV_LOG_ERROR);
    Suite *s = suite_create("synth");
    TCase *enc = tcase_create("encode");
    tcase_set_timeout(enc, 120);
    tcase_add_test(enc, test_encode_psnr_and_keyframes);
    tcase_add_test(enc, test_encode_memory_faststart_deterministic);
    suite_add_tcase(s, enc);
    TCase *scr = tcase_create("script");
    tcase_set_timeout(scr, 120);
    tcase_add_test(scr, test_script_deterministic);
    tcase_add_test(scr, test_narration_matches_segments);
    tcase_add_test(scr, test_eval_is_aligned_and_clean);
    tcase_add_test(scr, test_render_draws_actor);
    suite_add_tcase(s, scr);
    TCase *run = tcase_create("run");
    tcase_set_timeout(run, 300);
    tcase_add_test(run, test_run_deterministic);
    suite_add_tcase(s, run);
    return tu_run(s, argc, argv);
}
