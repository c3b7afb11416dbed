/* Conv3d throughput at S3D-G shapes against the sgemm peak of the selected OpenBLAS kernel.
 *
 * usage: layers_bench [small|full|all] [reps]
 *   small: S3D-G width 0.25, 16x64x64 clips, B = 32 (the training-speed target's model)
 *   full:  S3D-G, 16x224x224 clips, B = 4 (the full network)
 * Prints one line per layer: forward and backward (input + weight gradients) milliseconds and
 * GFLOP/s, FLOPs = 2 * B * C_out * To*Ho*Wo * C_in*kt*kh*kw per pass (backward counts 2 passes,
 * input and weight gradients; 1 for the stem convs, whose input needs no gradient).
 * OpenBLAS should run single-threaded (OPENBLAS_NUM_THREADS=1): OpenMP then runs the work
 * units in parallel, see src/nn/conv3d.c. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas_select.h"
#include "layers.h"

typedef struct {
    const char *name;
    int B, T, H, W;
    milnce_conv3d_cfg c;
} shape;

#define CV(ci, co, kt, kh, kw, st, sh, sw, pt, ph, pw) \
    { ci, co, kt, kh, kw, st, sh, sw, pt, ph, pw, MILNCE_CONV_AUTO }
/* The same layer forced to vol2col + sgemm (the stem picks the direct algorithm). */
#define CV_GEMM(ci, co, kt, kh, kw, st, sh, sw, pt, ph, pw) \
    { ci, co, kt, kh, kw, st, sh, sw, pt, ph, pw, MILNCE_CONV_GEMM }

static const shape SMALL[] = {
    {"conv1 3x7x7/2", 32, 16, 64, 64, CV(3, 16, 3, 7, 7, 2, 2, 2, 1, 3, 3)},
    {"conv1 (gemm)", 32, 16, 64, 64, CV_GEMM(3, 16, 3, 7, 7, 2, 2, 2, 1, 3, 3)},
    {"conv_2b 1x1", 32, 8, 16, 16, CV(16, 16, 1, 1, 1, 1, 1, 1, 0, 0, 0)},
    {"conv_2c 1x3x3", 32, 8, 16, 16, CV(16, 48, 1, 3, 3, 1, 1, 1, 0, 1, 1)},
    {"conv_2c 3x1x1", 32, 8, 16, 16, CV(48, 48, 3, 1, 1, 1, 1, 1, 1, 0, 0)},
    {"3b b0 1x1", 32, 8, 8, 8, CV(48, 16, 1, 1, 1, 1, 1, 1, 0, 0, 0)},
    {"3b b1 1x3x3", 32, 8, 8, 8, CV(24, 32, 1, 3, 3, 1, 1, 1, 0, 1, 1)},
    {"3b b1 3x1x1", 32, 8, 8, 8, CV(32, 32, 3, 1, 1, 1, 1, 1, 1, 0, 0)},
    {"4b b0 1x1", 32, 4, 4, 4, CV(120, 48, 1, 1, 1, 1, 1, 1, 0, 0, 0)},
    {"4b b1 1x3x3", 32, 4, 4, 4, CV(24, 52, 1, 3, 3, 1, 1, 1, 0, 1, 1)},
    {"5c b1 1x3x3", 32, 2, 2, 2, CV(48, 96, 1, 3, 3, 1, 1, 1, 0, 1, 1)},
    {"5c b0 1x1", 32, 2, 2, 2, CV(208, 96, 1, 1, 1, 1, 1, 1, 0, 0, 0)},
};

static const shape FULL[] = {
    {"conv1 3x7x7/2", 4, 16, 224, 224, CV(3, 64, 3, 7, 7, 2, 2, 2, 1, 3, 3)},
    {"conv1 (gemm)", 4, 16, 224, 224, CV_GEMM(3, 64, 3, 7, 7, 2, 2, 2, 1, 3, 3)},
    {"s2d conv1 2x4x4", 4, 8, 112, 112, CV(24, 64, 2, 4, 4, 1, 1, 1, 1, 2, 2)},
    {"conv_2b 1x1", 4, 8, 56, 56, CV(64, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0)},
    {"conv_2c 1x3x3", 4, 8, 56, 56, CV(64, 192, 1, 3, 3, 1, 1, 1, 0, 1, 1)},
    {"conv_2c 3x1x1", 4, 8, 56, 56, CV(192, 192, 3, 1, 1, 1, 1, 1, 1, 0, 0)},
    {"3b b1a 1x1", 4, 8, 28, 28, CV(192, 96, 1, 1, 1, 1, 1, 1, 0, 0, 0)},
    {"3b b1 1x3x3", 4, 8, 28, 28, CV(96, 128, 1, 3, 3, 1, 1, 1, 0, 1, 1)},
    {"3b b1 3x1x1", 4, 8, 28, 28, CV(128, 128, 3, 1, 1, 1, 1, 1, 1, 0, 0)},
    {"4b b0 1x1", 4, 4, 14, 14, CV(480, 192, 1, 1, 1, 1, 1, 1, 0, 0, 0)},
    {"4b b1 1x3x3", 4, 4, 14, 14, CV(96, 208, 1, 3, 3, 1, 1, 1, 0, 1, 1)},
    {"5c b1 1x3x3", 4, 2, 7, 7, CV(192, 384, 1, 3, 3, 1, 1, 1, 0, 1, 1)},
    {"5c b1 3x1x1", 4, 2, 7, 7, CV(384, 384, 3, 1, 1, 1, 1, 1, 1, 0, 0)},
    {"5c b0 1x1", 4, 2, 7, 7, CV(832, 384, 1, 1, 1, 1, 1, 1, 0, 0, 0)},
};

/* Seconds of process CPU time (MILNCE_BENCH_CPU=1, for a loaded machine: GFLOP per CPU-second
 * with 1 thread) or of wall time (default). */
static double now(void) {
    struct timespec ts;
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("MILNCE_BENCH_CPU") && atoi(getenv("MILNCE_BENCH_CPU"));
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static float *rnd(size_t n) {
    float *p = malloc(n * sizeof(float));
    unsigned s = 1;
    for (size_t i = 0; i < n; i++) p[i] = (float)rand_r(&s) / RAND_MAX - 0.5f;
    return p;
}

static double sgemm_peak(void) {
    const int n = 1536;
    float *a = rnd((size_t)n * n), *b = rnd((size_t)n * n), *c = rnd((size_t)n * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double t0 = now();
    int reps = 5;
    for (int r = 0; r < reps; r++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double t = (now() - t0) / reps;
    free(a); free(b); free(c);
    return 2.0 * n * n * n / t / 1e9;
}

static void run(const shape *s, int n, int reps, double *tf_all, double *tb_all) {
    for (int i = 0; i < n; i++) {
        const milnce_conv3d_cfg *c = &s[i].c;
        int To, Ho, Wo;
        if (milnce_conv3d_out_dims(c, s[i].T, s[i].H, s[i].W, &To, &Ho, &Wo) < 0) continue;
        size_t nin = (size_t)s[i].B * c->c_in * s[i].T * s[i].H * s[i].W;
        size_t nout = (size_t)s[i].B * c->c_out * To * Ho * Wo;
        size_t nw = (size_t)c->c_out * c->c_in * c->kt * c->kh * c->kw;
        size_t nws = milnce_conv3d_workspace_floats(c, s[i].B, s[i].T, s[i].H, s[i].W);
        float *x = rnd(nin), *w = rnd(nw), *y = rnd(nout), *dx = calloc(nin, 4), *dw = calloc(nw, 4);
        float *ws = malloc((nws ? nws : 1) * sizeof(float));
        double flops = 2.0 * nout * c->c_in * c->kt * c->kh * c->kw;
        milnce_conv3d_forward(y, x, w, NULL, ws, c, s[i].B, s[i].T, s[i].H, s[i].W);
        double t0 = now();
        for (int r = 0; r < reps; r++)
            milnce_conv3d_forward(y, x, w, NULL, ws, c, s[i].B, s[i].T, s[i].H, s[i].W);
        double tf = (now() - t0) / reps;
        /* the stem's input is the clip: no input gradient, as in training */
        float *gx = strstr(s[i].name, "conv1") ? NULL : dx;
        double passes = gx ? 2 : 1;
        milnce_conv3d_backward(gx, dw, NULL, y, x, w, ws, c, s[i].B, s[i].T, s[i].H, s[i].W);
        t0 = now();
        for (int r = 0; r < reps; r++)
            milnce_conv3d_backward(gx, dw, NULL, y, x, w, ws, c, s[i].B, s[i].T, s[i].H, s[i].W);
        double tb = (now() - t0) / reps;
        *tf_all += tf;
        *tb_all += tb;
        printf("%-18s B%-2d %4dx%3dx%3d %4d->%-4d  fwd %8.2f ms %6.1f GF/s   bwd %8.2f ms %6.1f GF/s\n",
               s[i].name, s[i].B, s[i].T, s[i].H, s[i].W, c->c_in, c->c_out, tf * 1e3,
               flops / tf / 1e9, tb * 1e3, passes * flops / tb / 1e9);
        free(x); free(w); free(y); free(dx); free(dw); free(ws);
    }
}

int main(int argc, char **argv) {
    milnce_blas_select_kernel(argc, argv);
    const char *which = argc > 1 ? argv[1] : "all";
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    printf("OpenBLAS kernel %s, %d OpenMP threads; sgemm 1536^3 peak %.1f GFLOP/s\n",
           milnce_blas_core(), omp_get_max_threads(), sgemm_peak());
    openblas_set_num_threads(1); /* the layers' GEMMs, as in the command (pipeline/cli/main.c) */
    double tf = 0, tb = 0;
    if (!strcmp(which, "small") || !strcmp(which, "all")) {
        printf("-- S3D-G width 0.25, 16x64x64, B=32\n");
        run(SMALL, sizeof SMALL / sizeof SMALL[0], reps, &tf, &tb);
        printf("total fwd %.1f ms, bwd %.1f ms\n", tf * 1e3, tb * 1e3);
    }
    tf = tb = 0;
    if (!strcmp(which, "full") || !strcmp(which, "all")) {
        printf("-- S3D-G, 16x224x224, B=4\n");
        run(FULL, sizeof FULL / sizeof FULL[0], reps, &tf, &tb);
        printf("total fwd %.1f ms, bwd %.1f ms\n", tf * 1e3, tb * 1e3);
    }
    return 0;
}
