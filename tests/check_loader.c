/* The training loader on shards made by preprocess from real videos and real HowTo100M captions:
 * shapes and ranges, bags against the window rule, determinism across worker counts, epochs,
 * and the data-parallel split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "fileutil.h"
#include "loader.h"
#include "milnce/loader.h"
#include "preprocess.h"
#include "shard.h"
#include "video.h"
#include "testutil.h"

static char shard_dir[4200];

static void make_shards(void) {
    if (shard_dir[0]) return;
    static const char *videos[] = {"chaplin.mp4", "kinetics_clip.mp4", "flipping_a_pancake.mkv", "friday.mp4",
                                   "stream-of-water.webm", "carphone_pristine.mp4"};
    /* Real HowTo100M narration whose first lines start within the clips' few seconds
     * (preprocess drops sentences starting after a video's end). */
    static const char *caps[] = {"2Mn5sVpFDTg", "3lL8XUUWg_Q", "5VLwcVOLoFs", "QnjEvGLZBjQ", "P2G5q97odD8", "5VlHWukTHbk"};
    char d[4200];
    ck_assert_int_eq(milnce_path(d, sizeof d, NULL, "%s", tu_tmpdir()), 0);
    char vd[4200], cd[4200], p[4400], q[4400];
    ck_assert_int_eq(milnce_path(vd, sizeof vd, NULL, "%s/videos", d), 0);
    ck_assert_int_eq(milnce_path(cd, sizeof cd, NULL, "%s/captions", d), 0);
    mkdir(vd, 0755);
    mkdir(cd, 0755);
    for (int i = 0; i < 6; i++) {
        const char *ext = strrchr(videos[i], '.');
        ck_assert_int_eq(milnce_path(p, sizeof p, NULL, "%s/v%d%s", vd, i, ext), 0);
        char src[4200];
        ck_assert_int_eq(milnce_path(src, sizeof src, NULL, "videos/%s", videos[i]), 0);
        ck_assert_int_eq(symlink(tu_testdata(src), p), 0);
        ck_assert_int_eq(milnce_path(src, sizeof src, NULL, "howto100m/captions/%s.csv", caps[i]), 0);
        ck_assert_int_eq(milnce_path(q, sizeof q, NULL, "%s/v%d.csv", cd, i), 0);
        ck_assert_int_eq(symlink(tu_testdata(src), q), 0);
    }
    ck_assert_int_eq(milnce_path(shard_dir, sizeof shard_dir, NULL, "%s/shards", d), 0);
    milnce_preprocess_opts o;
    milnce_preprocess_opts_default(&o);
    o.video_list = vd;
    o.captions = cd;
    o.out_dir = shard_dir;
    o.size = 40;
    o.videos_per_shard = 4;
    milnce_preprocess_stats st;
    milnce_error err = {0};
    ck_assert_msg(milnce_preprocess_run(&o, &st, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(st.videos, 6);
}

static milnce_loader_opts opts(void) {
    milnce_loader_opts o;
    milnce_loader_opts_default(&o);
    o.shards = shard_dir;
    o.batch_size = 2;
    o.num_frames = 4;
    o.size = 32;
    o.max_words = 6;
    o.window.kind = MILNCE_WINDOW_NEAREST;
    o.window.k = 3;
    o.seed = 42;
    return o;
}

START_TEST(test_shapes_ranges_and_bags) {
    make_shards();
    milnce_loader_opts o = opts();
    milnce_loader *l;
    milnce_error err = {0};
    ck_assert_msg(milnce_loader_open(&l, &o, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(milnce_loader_videos(l), 6);
    ck_assert_int_eq(milnce_loader_batches_per_epoch(l), 3);
    for (int n = 0; n < 4; n++) {
        milnce_batch *b;
        ck_assert_msg(milnce_loader_next(l, &b, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(b->index, n);
        ck_assert_int_eq(b->B, 2);
        ck_assert_int_eq(b->K, 3);
        size_t nv = (size_t)b->B * 3 * b->T * b->S * b->S;
        double sum = 0;
        for (size_t i = 0; i < nv; i++) {
            ck_assert(b->video[i] >= 0.0f && b->video[i] <= 1.0f);
            sum += b->video[i];
        }
        ck_assert_msg(sum > 0.01 * nv, "clip is (nearly) black: mean %g", sum / nv);
        for (int i = 0; i < b->B; i++) {
            /* Recompute the bag from the sample's sentences with the window rule. */
            const uint8_t *js;
            size_t jn;
            ck_assert_int_eq(milnce_loader_sample_json(l, (size_t)b->video_idx[i], &js, &jn, &err), 0);
            json_t *root = json_loadb((const char *)js, jn, 0, NULL), *sent = json_object_get(root, "sentences");
            size_t ns = json_array_size(sent);
            double *st = malloc(ns * sizeof *st), *en = malloc(ns * sizeof *en);
            for (size_t k = 0; k < ns; k++) {
                st[k] = json_real_value(json_object_get(json_array_get(sent, k), "start"));
                en[k] = json_real_value(json_object_get(json_array_get(sent, k), "end"));
            }
            int64_t bag[8];
            uint8_t mask[8];
            int count;
            ck_assert_int_eq(milnce_window_bag(bag, mask, &count, &o.window, st, en, ns, (size_t)b->anchor[i], &err), 0);
            for (int k = 0; k < b->K; k++) {
                ck_assert_int_eq(b->mask[i * b->K + k], 1);
                json_t *tok = json_object_get(json_array_get(sent, (size_t)bag[k]), "tokens");
                const int32_t *row = b->text + ((size_t)i * b->K + k) * b->L;
                for (int w = 0; w < b->L; w++) {
                    int32_t want = w < (int)json_array_size(tok) ? (int32_t)json_integer_value(json_array_get(tok, w)) : 0;
                    ck_assert_int_eq(row[w], want);
                }
            }
            /* The clip lies inside the anchor's span widened to min_time (or the video's end). */
            double s0, s1;
            milnce_clip_span(&s0, &s1, st[b->anchor[i]], en[b->anchor[i]], o.min_time);
            ck_assert(b->clip_start[i] >= 0 && b->clip_start[i] <= s1 + 1e-9);
            /* ... on a whole second of the reference's range, or the last whole second that
             * still holds the clip when the range runs past the video's end */
            int64_t lo, hi;
            double len = o.num_frames / o.fps, dur = json_real_value(json_object_get(root, "duration"));
            milnce_clip_start_range(s0, s1, len, &lo, &hi);
            ck_assert_double_eq(b->clip_start[i], floor(b->clip_start[i]));
            ck_assert_msg((b->clip_start[i] >= lo && b->clip_start[i] <= hi) || b->clip_start[i] == floor(dur - len),
                          "clip start %g outside [%lld, %lld] (duration %g)", b->clip_start[i], (long long)lo,
                          (long long)hi, dur);
            free(st);
            free(en);
            json_decref(root);
        }
        milnce_loader_release(l, b);
    }
    milnce_loader_close(&l);
}
END_TEST

START_TEST(test_deterministic_across_workers_and_ranks) {
    make_shards();
    milnce_loader_opts o1 = opts(), o2 = opts();
    o1.workers = 1;
    o2.workers = 3;
    o2.queue = 2;
    milnce_loader *a, *b;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_loader_open(&a, &o1, &err), 0);
    ck_assert_int_eq(milnce_loader_open(&b, &o2, &err), 0);
    /* rank 0 and 1 of 2, one clip each, make the same global batch as one rank with two. */
    milnce_loader_opts r0 = opts(), r1 = opts();
    r0.batch_size = r1.batch_size = 1;
    r0.world = r1.world = 2;
    r1.rank = 1;
    milnce_loader *la, *lb;
    ck_assert_int_eq(milnce_loader_open(&la, &r0, &err), 0);
    ck_assert_int_eq(milnce_loader_open(&lb, &r1, &err), 0);
    for (int n = 0; n < 5; n++) { /* crosses an epoch boundary (3 batches per epoch) */
        milnce_batch *x, *y, *p, *q;
        ck_assert_int_eq(milnce_loader_next(a, &x, &err), 0);
        ck_assert_int_eq(milnce_loader_next(b, &y, &err), 0);
        ck_assert_int_eq(milnce_loader_next(la, &p, &err), 0);
        ck_assert_int_eq(milnce_loader_next(lb, &q, &err), 0);
        size_t nv = (size_t)x->B * 3 * x->T * x->S * x->S;
        ck_assert_mem_eq(x->video, y->video, nv * sizeof(float));
        ck_assert_mem_eq(x->text, y->text, (size_t)x->B * x->K * x->L * sizeof(int32_t));
        ck_assert_mem_eq(x->video_idx, y->video_idx, (size_t)x->B * sizeof(int32_t));
        ck_assert_int_eq(p->video_idx[0], x->video_idx[0]);
        ck_assert_int_eq(q->video_idx[0], x->video_idx[1]);
        ck_assert_mem_eq(p->video, x->video, nv / 2 * sizeof(float));
        ck_assert_mem_eq(q->video, x->video + nv / 2, nv / 2 * sizeof(float));
        milnce_loader_release(a, x);
        milnce_loader_release(b, y);
        milnce_loader_release(la, p);
        milnce_loader_release(lb, q);
    }
    milnce_loader_close(&a);
    milnce_loader_close(&b);
    milnce_loader_close(&la);
    milnce_loader_close(&lb);
}
END_TEST

START_TEST(test_epoch_visits_every_video_once) {
    make_shards();
    milnce_loader_opts o = opts();
    o.batch_size = 1;
    milnce_loader *l;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_loader_open(&l, &o, &err), 0);
    for (int e = 0; e < 2; e++) {
        int seen[6] = {0};
        for (int n = 0; n < 6; n++) {
            milnce_batch *b;
            ck_assert_int_eq(milnce_loader_next(l, &b, &err), 0);
            ck_assert_int_eq(b->epoch, e);
            seen[b->video_idx[0]]++;
            milnce_loader_release(l, b);
        }
        for (int v = 0; v < 6; v++) ck_assert_int_eq(seen[v], 1);
    }
    milnce_loader_close(&l);
}
END_TEST

START_TEST(test_eval_mode_centre_crop_and_symmetric_mask) {
    make_shards();
    milnce_loader_opts o = opts();
    o.train = 0;
    o.window.kind = MILNCE_WINDOW_SYMMETRIC;
    o.window.k = 2;
    o.window.max_gap = 0.0; /* only overlapping neighbours */
    milnce_loader *l;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_loader_open(&l, &o, &err), 0);
    milnce_batch b1, b2;
    ck_assert_int_eq(milnce_batch_alloc(&b1, 2, 5, 4, 32, 6, &err), 0);
    ck_assert_int_eq(milnce_batch_alloc(&b2, 2, 5, 4, 32, 6, &err), 0);
    ck_assert_int_eq(milnce_loader_make_batch(l, 1, &b1, &err), 0);
    ck_assert_int_eq(milnce_loader_make_batch(l, 1, &b2, &err), 0);
    ck_assert_mem_eq(b1.video, b2.video, (size_t)2 * 3 * 4 * 32 * 32 * sizeof(float));
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(b1.mask[i * 5], 1); /* the anchor is always in its own bag */
        int used = 0;
        for (int k = 0; k < 5; k++) used += b1.mask[i * 5 + k];
        ck_assert_int_ge(used, 1);
    }
    milnce_batch_free(&b1);
    milnce_batch_free(&b2);
    milnce_loader_close(&l);
}
END_TEST

/* The loader's clips (one decoder per worker pointed at member after member, the crop region
 * converted straight to planar float, zero padding) equal, exactly, what a fresh decoder on
 * the .mp4 member gives through the general path (whole-frame conversion, uint8) / 255, in
 * eval mode (centre crop, no flip) with the rendition used as is (S <= its short side) and
 * resized (S above it). */
START_TEST(test_clips_equal_general_decoder_path) {
    make_shards();
    char **names = NULL;
    size_t nsh = 0;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_shard_list(shard_dir, &names, &nsh, &err), 0);
    milnce_shard_reader *sh[8] = {0};
    ck_assert(nsh <= 8);
    for (size_t i = 0; i < nsh; i++) ck_assert_msg(milnce_shard_open(&sh[i], names[i], NULL, &err) == 0, "%s", err.msg);
    /* Renditions have short side 40: used as they are (S 32, resize 0 or 40), resized up to S
     * (48), resized down to data.resize before the crop (resize 32 with S 32 and 24). */
    const int sizes[] = {32, 48, 32, 32, 24}, resizes[] = {0, 0, 40, 32, 32};
    for (int z = 0; z < 5; z++) {
        milnce_loader_opts o = opts();
        o.train = 0;
        o.batch_size = 1;
        o.size = sizes[z];
        o.resize = resizes[z];
        milnce_loader *l;
        ck_assert_int_eq(milnce_loader_open(&l, &o, &err), 0);
        milnce_batch bt;
        int S = o.size, T = o.num_frames;
        ck_assert_int_eq(milnce_batch_alloc(&bt, 1, 3, T, S, o.max_words, &err), 0);
        milnce_frames fr = {0};
        /* More than an epoch (every video), and batch 2 twice in a row (the same member again). */
        const int64_t order[] = {0, 1, 2, 2, 3, 4, 5, 6, 7};
        for (size_t j = 0; j < sizeof order / sizeof order[0]; j++) {
            int64_t n = order[j];
            ck_assert_msg(milnce_loader_make_batch(l, n, &bt, &err) == 0, "%s", err.msg);
            const char *key = milnce_loader_key(l, (size_t)bt.video_idx[0]);
            const uint8_t *mp4 = NULL;
            size_t mp4_size = 0;
            for (size_t i = 0; i < nsh && !mp4; i++) {
                long k = milnce_shard_find(sh[i], key);
                if (k >= 0) ck_assert_int_eq(milnce_shard_get(sh[i], (size_t)k, "mp4", &mp4, &mp4_size, &err), 0);
            }
            ck_assert_ptr_nonnull(mp4);
            milnce_decoder *d = NULL;
            ck_assert_msg(milnce_decoder_open_memory(&d, mp4, mp4_size, key, NULL, &err) == 0, "%s", err.msg);
            milnce_decoder_set_fast_crop(d, 0);
            const milnce_video_info *vi = milnce_decoder_info(d);
            int ss = vi->display_width < vi->display_height ? vi->display_width : vi->display_height;
            double t0 = bt.clip_start[0];
            milnce_clip_spec spec = {.start = t0, .end = t0 + (T + 0.5) / o.fps, .fps = o.fps,
                                     .size = o.resize > 0 ? (ss == o.resize ? 0 : o.resize) : ss < S ? S : 0,
                                     .crop = MILNCE_CROP_CENTER, .crop_size = S,
                                     .max_frames = T};
            ck_assert_msg(milnce_decoder_clip(d, &spec, &fr, &err) == 0, "%s", err.msg);
            ck_assert_int_gt(fr.t, 0);
            size_t plane = (size_t)S * S;
            long bad = 0, first = -1; /* one assertion per clip: Check records every passing one */
            for (int c = 0; c < 3; c++)
                for (int t = 0; t < T; t++)
                    for (size_t i = 0; i < plane; i++) {
                        float want = t < fr.t ? fr.data[((size_t)t * plane + i) * 3 + c] * (1.0f / 255.0f) : 0.0f;
                        size_t at = ((size_t)c * T + t) * plane + i;
                        if (bt.video[at] != want && bad++ == 0) first = (long)at;
                    }
            ck_assert_msg(bad == 0, "%s size %d batch %lld: %ld values differ from the decoder's, the first at %ld",
                          key, S, (long long)n, bad, first);
            milnce_decoder_free(&d);
        }
        milnce_frames_free(&fr);
        milnce_batch_free(&bt);
        milnce_loader_close(&l);
    }
    for (size_t i = 0; i < nsh; i++) milnce_shard_close(&sh[i]);
    milnce_shard_list_free(names, nsh);
}
END_TEST

static int batches_equal(const milnce_batch *a, const milnce_batch *b) {
    size_t nv = (size_t)a->B * 3 * a->T * a->S * a->S, nt = (size_t)a->B * a->K * a->L;
    return a->index == b->index && memcmp(a->video, b->video, nv * sizeof *a->video) == 0 &&
           memcmp(a->text, b->text, nt * sizeof *a->text) == 0 && memcmp(a->mask, b->mask, (size_t)a->B * a->K) == 0 &&
           memcmp(a->video_idx, b->video_idx, (size_t)a->B * sizeof *a->video_idx) == 0 &&
           memcmp(a->clip_start, b->clip_start, (size_t)a->B * sizeof *a->clip_start) == 0;
}

/* batch_stride / end_batch (the Python consumers): batches start, start + stride, ... equal to
 * the synchronous ones, and past end_batch next fails instead of waiting. */
START_TEST(test_stride_and_end) {
    make_shards();
    milnce_loader_opts o = opts();
    o.start_batch = 1;
    o.batch_stride = 3;
    o.end_batch = 8; /* 1, 4, 7 */
    milnce_loader *l, *ref;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_loader_open(&l, &o, &err), 0);
    milnce_loader_opts r = opts();
    ck_assert_int_eq(milnce_loader_open(&ref, &r, &err), 0);
    milnce_batch want;
    ck_assert_int_eq(milnce_batch_alloc(&want, o.batch_size, 3, o.num_frames, o.size, o.max_words, &err), 0);
    for (int64_t n = 1; n < 8; n += 3) {
        milnce_batch *b;
        ck_assert_msg(milnce_loader_next(l, &b, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(b->index, n);
        ck_assert_int_eq(milnce_loader_make_batch(ref, n, &want, &err), 0);
        ck_assert_msg(batches_equal(b, &want), "batch %lld differs from the synchronous one", (long long)n);
        milnce_loader_release(l, b);
    }
    milnce_batch *b;
    ck_assert_int_eq(milnce_loader_next(l, &b, &err), MILNCE_ERR_RANGE);
    milnce_batch_free(&want);
    milnce_loader_close(&ref);
    milnce_loader_close(&l);
}
END_TEST

/* The C API of include/milnce/loader.h: config strings -> the loader's batches; consumers in
 * turn = the whole run; errors name the key. */
START_TEST(test_public_api) {
    make_shards();
    char set_shards[4300];
    snprintf(set_shards, sizeof set_shards, "data.shards=%s", shard_dir);
    /* data.resize 40 = the renditions' short side: used as they are, as opts() does */
    const char *sets[] = {set_shards, "train.batch_size=2", "data.num_frames=4", "data.size=32", "data.max_words=6",
                          "data.num_candidates=3", "train.seed=42", "data.resize=40"};
    milnce_error err = {0};
    milnce_data_loader *d[3];
    milnce_data_split whole = {.world = 1, .consumers = 1, .epoch = 1, .epochs = 2, .video_uint8 = 1};
    ck_assert_msg(milnce_data_open(&d[0], NULL, sets, 8, &whole, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(milnce_data_videos(d[0]), 6);
    ck_assert_int_eq(milnce_data_batches_per_epoch(d[0]), 3);
    ck_assert_int_eq(milnce_data_consumer_batches(d[0]), 6);
    ck_assert_str_eq(milnce_data_key(d[0], 0), "v0");
    ck_assert_ptr_null(milnce_data_key(d[0], 6));
    milnce_loader_opts o = opts();
    milnce_loader *ref;
    ck_assert_int_eq(milnce_loader_open(&ref, &o, &err), 0);
    milnce_batch want;
    ck_assert_int_eq(milnce_batch_alloc(&want, 2, 3, 4, 32, 6, &err), 0);
    int64_t idx[6];
    for (int i = 0; i < 6; i++) {
        milnce_data_batch b;
        ck_assert_msg(milnce_data_next(d[0], &b, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(b.index, 3 + i);
        idx[i] = b.index;
        ck_assert_int_eq(milnce_loader_make_batch(ref, b.index, &want, &err), 0);
        size_t nv = (size_t)2 * 3 * 4 * 32 * 32;
        ck_assert(memcmp(b.video, want.video, nv * sizeof *b.video) == 0);
        for (size_t k = 0; k < nv; k++) ck_assert_int_eq(b.video_u8[k], (int)lrintf(want.video[k] * 255.0f));
        for (int k = 0; k < 2 * 3 * 6; k++) ck_assert_int_eq(b.text[k], want.text[k]);
        ck_assert_double_eq(b.clip_time[0], want.clip_start[0]);
        ck_assert_double_eq_tol(b.clip_time[1] - b.clip_time[0], 4 / 5.0, 1e-9);
    }
    milnce_data_batch b;
    ck_assert_int_eq(milnce_data_next(d[0], &b, &err), 1); /* the run is over */
    ck_assert_int_eq(milnce_data_next(d[0], &b, &err), 1);
    milnce_data_close(&d[0]);
    /* three consumers, taken in turn */
    for (int c = 0; c < 3; c++) {
        milnce_data_split sp = {.world = 1, .consumer = c, .consumers = 3, .epoch = 1, .epochs = 2};
        ck_assert_msg(milnce_data_open(&d[c], NULL, sets, 8, &sp, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(milnce_data_consumer_batches(d[c]), 2);
    }
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(milnce_data_next(d[i % 3], &b, &err), 0);
        ck_assert_int_eq(b.index, idx[i]);
    }
    /* set_epoch restarts */
    ck_assert_int_eq(milnce_data_set_epoch(d[1], 0, &err), 0);
    ck_assert_int_eq(milnce_data_next(d[1], &b, &err), 0);
    ck_assert_int_eq(b.index, 1);
    char w[64];
    ck_assert_int_eq(milnce_data_pop_warning(d[1], w, sizeof w, NULL), 0);
    for (int c = 0; c < 3; c++) milnce_data_close(&d[c]);
    ck_assert_ptr_null(d[0]);
    /* errors */
    const char *bad[] = {set_shards, "data.fps=-1"};
    ck_assert_int_lt(milnce_data_open(&d[0], NULL, bad, 2, NULL, &err), 0);
    ck_assert_msg(strstr(err.msg, "data.fps") != NULL, "%s", err.msg);
    const char *none[] = {"data.shards=/nonexistent/shards"};
    ck_assert_int_eq(milnce_data_open(&d[0], NULL, none, 1, NULL, &err), MILNCE_ERR_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "/nonexistent/shards") != NULL, "%s", err.msg);
    milnce_data_split odd = {.world = 4, .rank = 0, .consumers = 1, .epochs = 1};
    ck_assert_int_lt(milnce_data_open(&d[0], NULL, sets, 8, &odd, &err), 0);
    ck_assert_msg(strstr(err.msg, "train.batch_size") != NULL, "%s", err.msg);
    char *yaml = NULL;
    ck_assert_int_eq(milnce_data_resolve_config(NULL, sets, 8, &yaml, &err), 0);
    ck_assert_ptr_nonnull(strstr(yaml, "num_frames: 4"));
    milnce_data_free(yaml);
    milnce_batch_free(&want);
    milnce_loader_close(&ref);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("loader");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, make_shards, NULL); /* once, in the parent process */
    tcase_add_test(tc, test_shapes_ranges_and_bags);
    tcase_add_test(tc, test_deterministic_across_workers_and_ranks);
    tcase_add_test(tc, test_epoch_visits_every_video_once);
    tcase_add_test(tc, test_eval_mode_centre_crop_and_symmetric_mask);
    tcase_add_test(tc, test_clips_equal_general_decoder_path);
    tcase_add_test(tc, test_stride_and_end);
    tcase_add_test(tc, test_public_api);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
