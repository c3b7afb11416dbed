/* The execution context (include/milnce/context.h): no process-wide state in the library.
 *
 *  - two models (different shapes, seeds and thread counts) run training steps (video and text
 *    forward + backward, BatchNorm statistics carried from step to step) in two threads at once,
 *    and every output, gradient and running statistic equals, bit for bit, what each model
 *    computes alone; the same with both at 2 threads (4 threads on the cores at once);
 *  - a model pass leaves the caller's OpenMP thread count and OpenBLAS's thread count as they
 *    were (also with blas_single_passes, which switches OpenBLAS to one thread during a pass);
 * The program makes OpenBLAS single-threaded once, as context.h asks of programs that run
 * several models at once.
 *  - two decoders with different SIMD levels decode in two threads at once, each giving the
 *    bytes it gives alone, and the AVX2 and SSE2 conversions agree.
 * Timings of the model runs (alone one after the other, and together) are printed. */
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "milnce/context.h"
#include "model.h"
#include "testutil.h"
#include "video.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------------------ models */

typedef struct job {
    const char *name;
    milnce_model_cfg cfg;
    uint64_t seed;
    int B, steps;
    /* results of the last step */
    float *emb;     /* (B, E) video embedding */
    float *text;    /* (B, E) text embedding */
    float *grads;   /* (ptab.total) */
    float *buffers; /* (btab.total) BatchNorm running statistics */
    size_t n_emb, n_text, n_grads, n_buffers;
    int omp_after, blas_after; /* the caller's settings after the passes */
    double seconds;
    int ret;
    milnce_error err;
} job;

static job make_job(const char *name, int threads, uint64_t seed, float width, int s2d, int T, int H,
                    int B) {
    job j = {.name = name, .seed = seed, .B = B, .steps = 3};
    j.cfg = milnce_model_default_cfg();
    j.cfg.video.width = width, j.cfg.video.space_to_depth = s2d;
    j.cfg.video.T = T, j.cfg.video.H = H, j.cfg.video.W = H, j.cfg.video.max_batch = B;
    j.cfg.text = (milnce_text_cfg){.vocab = 97, .word_dim = 32, .hidden = 1024, .emb_dim = 512,
                                   .max_words = 16, .max_batch = B, .frozen = 0, .masked = 0};
    j.cfg.ctx.threads = threads;
    return j;
}

static void job_free(job *j) {
    free(j->emb);
    free(j->text);
    free(j->grads);
    free(j->buffers);
    j->emb = j->text = j->grads = j->buffers = NULL;
}

static float *copy_floats(const float *x, size_t n) {
    float *y = malloc(n * sizeof *y);
    if (y) memcpy(y, x, n * sizeof *y);
    return y;
}

/* steps x (zero grads; video forward in training mode, backward of 0.5 |emb|^2 + 0.5 |mix|^2;
 * text forward, backward of 0.5 |out|^2), on inputs generated from the seed. */
static void *run_job(void *arg) {
    job *j = arg;
    milnce_model *m = NULL;
    const double t0 = now_s();
    if ((j->ret = milnce_model_create(&m, &j->cfg, &j->err)) < 0) return NULL;
    milnce_model_init(m, j->seed);
    const milnce_s3dg_cfg *vc = milnce_s3dg_get_cfg(m->video);
    const size_t nclip = (size_t)j->B * 3 * vc->T * vc->H * vc->W, nids = (size_t)j->B * 16;
    float *clip = malloc(nclip * sizeof *clip), *u = malloc(nids * sizeof *u);
    int32_t *ids = malloc(nids * sizeof *ids);
    milnce_gen_uniform(j->seed, "clip", nclip, clip);
    milnce_gen_uniform(j->seed, "ids", nids, u);
    for (size_t i = 0; i < nids; i++) ids[i] = (int32_t)(u[i] * 97.0f);
    const int E = 512, F = milnce_s3dg_feat_dim(m->video);
    float *d_emb = malloc(sizeof(float) * (size_t)j->B * E), *d_mix = malloc(sizeof(float) * (size_t)j->B * F);
    const float *emb = NULL, *mix = NULL, *text = NULL;
    for (int s = 0; s < j->steps && j->ret >= 0; s++) {
        milnce_model_zero_grad(m);
        if ((j->ret = milnce_model_video_forward(m, clip, j->B, 1, &emb, &mix, &j->err)) < 0) break;
        memcpy(d_emb, emb, sizeof(float) * (size_t)j->B * E);
        memcpy(d_mix, mix, sizeof(float) * (size_t)j->B * F);
        if ((j->ret = milnce_model_video_backward(m, d_emb, d_mix, &j->err)) < 0) break;
        if ((j->ret = milnce_model_text_forward(m, ids, j->B, &text, &j->err)) < 0) break;
        memcpy(d_emb, text, sizeof(float) * (size_t)j->B * E);
        if ((j->ret = milnce_model_text_backward(m, d_emb, &j->err)) < 0) break;
    }
    if (j->ret >= 0) {
        j->n_emb = j->n_text = (size_t)j->B * E;
        j->n_grads = m->ptab.total, j->n_buffers = m->btab.total;
        j->emb = copy_floats(emb, j->n_emb);
        j->text = copy_floats(text, j->n_text);
        j->grads = copy_floats(m->grads, j->n_grads);
        j->buffers = copy_floats(m->buffers, j->n_buffers);
    }
    j->omp_after = omp_get_max_threads();
    j->blas_after = openblas_get_num_threads();
    free(clip);
    free(u);
    free(ids);
    free(d_emb);
    free(d_mix);
    milnce_model_free(&m);
    j->seconds = now_s() - t0;
    return NULL;
}

static void same(const job *alone, const job *together, const char *what) {
    ck_assert_msg(alone->ret >= 0, "%s alone: %s", alone->name, alone->err.msg);
    ck_assert_msg(together->ret >= 0, "%s %s: %s", together->name, what, together->err.msg);
    ck_assert(alone->n_grads == together->n_grads && alone->n_buffers == together->n_buffers);
    ck_assert_msg(!memcmp(alone->emb, together->emb, alone->n_emb * sizeof(float)),
                  "%s: video embedding differs %s", alone->name, what);
    ck_assert_msg(!memcmp(alone->text, together->text, alone->n_text * sizeof(float)),
                  "%s: text embedding differs %s", alone->name, what);
    ck_assert_msg(!memcmp(alone->grads, together->grads, alone->n_grads * sizeof(float)),
                  "%s: gradients differ %s", alone->name, what);
    ck_assert_msg(!memcmp(alone->buffers, together->buffers, alone->n_buffers * sizeof(float)),
                  "%s: BatchNorm statistics differ %s", alone->name, what);
}

/* a, b alone (one after the other, in this thread), then together in two threads. */
static void alone_then_together(job a, job b, const char *label) {
    job a1 = a, b1 = b, a2 = a, b2 = b;
    const int omp_before = omp_get_max_threads(), blas_before = openblas_get_num_threads();
    run_job(&a1);
    run_job(&b1);
    ck_assert_int_eq(a1.omp_after, omp_before);
    ck_assert_int_eq(b1.omp_after, omp_before);
    ck_assert_int_eq(a1.blas_after, blas_before);
    ck_assert_int_eq(b1.blas_after, blas_before);
    pthread_t ta, tb;
    const double t0 = now_s();
    ck_assert_int_eq(pthread_create(&ta, NULL, run_job, &a2), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, run_job, &b2), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    const double both = now_s() - t0;
    same(&a1, &a2, "in two threads");
    same(&b1, &b2, "in two threads");
    ck_assert_int_eq(omp_get_max_threads(), omp_before);
    ck_assert_int_eq(openblas_get_num_threads(), blas_before);
    printf("context %s: A (%d thr) alone %.3f s, B (%d thr) alone %.3f s, in sequence %.3f s; "
           "A and B in two threads at once %.3f s (A %.3f, B %.3f); bit-identical\n",
           label, a.cfg.ctx.threads, a1.seconds, b.cfg.ctx.threads, b1.seconds, a1.seconds + b1.seconds,
           both, a2.seconds, b2.seconds);
    fflush(stdout);
    job_free(&a1), job_free(&b1), job_free(&a2), job_free(&b2);
}

START_TEST(test_two_models_two_threads) {
    job a = make_job("A", 2, 11, 0.25f, 0, 8, 32, 2);
    job b = make_job("B", 1, 12, 0.125f, 1, 8, 48, 3);
    job w = b; /* warm-up (page faults, thread pools), not timed */
    run_job(&w);
    job_free(&w);
    alone_then_together(a, b, "2+1 threads");
    a.cfg.ctx.threads = b.cfg.ctx.threads = 2;
    alone_then_together(a, b, "2+2 threads");
}
END_TEST

/* The thread count is the context's: 1 and 2 threads give the same forward (the units are
 * independent), and a model of 1 thread leaves a 2-thread caller's setting alone. */
START_TEST(test_threads_from_context) {
    job a = make_job("A", 1, 5, 0.25f, 0, 8, 32, 2), b = make_job("A2", 2, 5, 0.25f, 0, 8, 32, 2);
    a.steps = b.steps = 1;
    const int prev = omp_get_max_threads();
    omp_set_num_threads(2);
    run_job(&a);
    ck_assert_int_eq(a.omp_after, 2);
    omp_set_num_threads(1);
    run_job(&b);
    ck_assert_int_eq(b.omp_after, 1);
    omp_set_num_threads(prev);
    /* blas_single_passes: OpenBLAS at 2 threads outside the passes, 1 inside, 2 after; the same
     * forward as with OpenBLAS at 1 thread throughout. */
    job c = make_job("A3", 2, 5, 0.25f, 0, 8, 32, 2);
    c.steps = 1, c.cfg.ctx.blas_single_passes = 1;
    openblas_set_num_threads(2);
    run_job(&c);
    ck_assert_int_eq(c.blas_after, 2);
    openblas_set_num_threads(1);
    ck_assert_msg(c.ret >= 0, "%s", c.err.msg);
    ck_assert_msg(!memcmp(a.emb, c.emb, a.n_emb * sizeof(float)), "blas_single_passes changes the forward");
    job_free(&c);
    ck_assert_msg(a.ret >= 0 && b.ret >= 0, "%s %s", a.err.msg, b.err.msg);
    ck_assert_msg(!memcmp(a.emb, b.emb, a.n_emb * sizeof(float)), "forward depends on the thread count");
    ck_assert_msg(!memcmp(a.text, b.text, a.n_text * sizeof(float)), "text forward depends on the thread count");
    job_free(&a), job_free(&b);
}
END_TEST

/* ---------------------------------------------------------------------------- decoders */

typedef struct dec_job {
    int simd;
    int avx2; /* the path taken */
    uint8_t *bytes;
    float *planar;
    size_t n_bytes, n_planar;
    int ret;
    milnce_error err;
} dec_job;

static const char *VIDEO = "videos/chaplin.mp4";

static void *run_dec(void *arg) {
    dec_job *j = arg;
    milnce_decoder *d = NULL;
    milnce_frames fr = {0};
    if ((j->ret = milnce_decoder_open(&d, tu_testdata(VIDEO), NULL, &j->err)) < 0) return NULL;
    j->avx2 = milnce_decoder_set_simd(d, j->simd);
    milnce_clip_spec spec = {.start = 0.5, .end = 3.5, .fps = 10, .size = 112, .crop = MILNCE_CROP_CENTER,
                             .crop_size = 96, .max_frames = 24};
    if ((j->ret = milnce_decoder_clip(d, &spec, &fr, &j->err)) >= 0) {
        j->n_bytes = (size_t)fr.t * fr.h * fr.w * 3;
        j->bytes = malloc(j->n_bytes);
        memcpy(j->bytes, fr.data, j->n_bytes);
        j->n_planar = (size_t)3 * 24 * 96 * 96;
        j->planar = malloc(j->n_planar * sizeof(float));
        for (int rep = 0; rep < 3 && j->ret >= 0; rep++)
            j->ret = milnce_decoder_clip_planar(d, &spec, rep & 1, j->planar, j->n_planar, &fr, &j->err);
    }
    milnce_frames_free(&fr);
    milnce_decoder_free(&d);
    return NULL;
}

START_TEST(test_two_decoders_two_simd_levels) {
    dec_job a1 = {.simd = MILNCE_SIMD_AUTO}, b1 = {.simd = MILNCE_SIMD_SSE2};
    run_dec(&a1);
    run_dec(&b1);
    ck_assert_msg(a1.ret >= 0 && b1.ret >= 0, "%s %s", a1.err.msg, b1.err.msg);
    ck_assert_int_eq(a1.avx2, __builtin_cpu_supports("avx2") != 0);
    ck_assert_int_eq(b1.avx2, 0);
    ck_assert_int_gt((long)a1.n_bytes, 0);
    dec_job a2 = {.simd = MILNCE_SIMD_AUTO}, b2 = {.simd = MILNCE_SIMD_SSE2};
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, run_dec, &a2), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, run_dec, &b2), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ck_assert_msg(a2.ret >= 0 && b2.ret >= 0, "%s %s", a2.err.msg, b2.err.msg);
    ck_assert_int_eq(a2.avx2, a1.avx2);
    ck_assert_int_eq(b2.avx2, 0);
    ck_assert(a1.n_bytes == a2.n_bytes && b1.n_bytes == b2.n_bytes && a1.n_bytes == b1.n_bytes);
    ck_assert(!memcmp(a1.bytes, a2.bytes, a1.n_bytes) && !memcmp(b1.bytes, b2.bytes, b1.n_bytes));
    ck_assert_msg(!memcmp(a1.planar, a2.planar, a1.n_planar * sizeof(float)), "AVX2 decoder differs in a thread");
    ck_assert_msg(!memcmp(b1.planar, b2.planar, b1.n_planar * sizeof(float)), "SSE2 decoder differs in a thread");
    ck_assert_msg(!memcmp(a1.planar, b1.planar, a1.n_planar * sizeof(float)), "AVX2 and SSE2 conversions differ");
    ck_assert_int_eq(milnce_decoder_set_simd(NULL, 0), MILNCE_ERR_INVALID);
    dec_job *all[] = {&a1, &b1, &a2, &b2};
    for (int i = 0; i < 4; i++) free(all[i]->bytes), free(all[i]->planar);
}
END_TEST

START_TEST(test_ctx_default) {
    milnce_ctx c = milnce_ctx_default();
    ck_assert_int_eq(c.threads, 0);
    ck_assert_int_eq(c.simd, MILNCE_SIMD_AUTO);
    ck_assert(c.cancel == NULL);
    ck_assert_ptr_null(c.log.fn);
    ck_assert_int_eq(milnce_ctx_cancelled(&c), 0);
    ck_assert_int_eq(milnce_ctx_cancelled(NULL), 0);
    volatile sig_atomic_t flag = 0;
    c.cancel = &flag;
    ck_assert_int_eq(milnce_ctx_cancelled(&c), 0);
    flag = 1;
    ck_assert_int_eq(milnce_ctx_cancelled(&c), 1);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("context");
    TCase *tc = tcase_create("context");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_ctx_default);
    tcase_add_test(tc, test_threads_from_context);
    tcase_add_test(tc, test_two_models_two_threads);
    tcase_add_test(tc, test_two_decoders_two_simd_levels);
    suite_add_tcase(s, tc);
    openblas_set_num_threads(1);
    return tu_run(s, argc, argv);
}
