/* milnce side of bench/train_step.sh: S3D-G training step or inference, clips per second.
 *
 * usage: train_step_milnce train|infer WIDTH T H W B ITERS [s2d] [bf16]
 * train: forward in train mode, a fixed random upstream gradient on the embedding (the loss is
 * not what is measured), zero grads, backward, one Adam update (src/nn/optim.h). infer: eval-mode
 * forward only. One warm-up iteration is not timed. Prints one line of results and the time per
 * kind of layer of the last iteration, conv with its GFLOP/s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas_select.h"
#include "model.h"
#include "optim.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    milnce_blas_select_kernel(argc, argv);
    if (argc < 8) {
        fprintf(stderr, "usage: %s train|infer WIDTH T H W B ITERS [s2d] [bf16]\n", argv[0]);
        return 2;
    }
    int train = strcmp(argv[1], "train") == 0;
    milnce_model_cfg cfg = {.with_video = 1, .with_text = 0};
    cfg.ctx.blas_single_passes = 1; /* as training does (pipeline/train.c) */
    cfg.video = milnce_s3dg_default_cfg();
    cfg.video.width = (float)atof(argv[2]);
    cfg.video.T = atoi(argv[3]), cfg.video.H = atoi(argv[4]), cfg.video.W = atoi(argv[5]);
    int B = cfg.video.max_batch = atoi(argv[6]);
    int iters = atoi(argv[7]);
    for (int a = 8; a < argc; a++) {
        if (strcmp(argv[a], "s2d") == 0) cfg.video.space_to_depth = 1;
        else if (strcmp(argv[a], "bf16") == 0) cfg.ctx.precision = MILNCE_PREC_BF16;
        else if (strcmp(argv[a], "fp32") == 0) cfg.ctx.precision = MILNCE_PREC_FP32;
        else {
            fprintf(stderr, "unknown option %s\n", argv[a]);
            return 2;
        }
    }
    milnce_error err = {0};
    milnce_model *m = NULL;
    if (milnce_model_create(&m, &cfg, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    milnce_model_init(m, 1);
    size_t nclip = (size_t)B * 3 * cfg.video.T * cfg.video.H * cfg.video.W;
    float *clip = malloc(sizeof(float) * nclip);
    float *g = malloc(sizeof(float) * (size_t)B * cfg.video.emb_dim);
    milnce_gen_uniform(7, "clip", nclip, clip);
    milnce_gen_uniform(8, "grad", (size_t)B * cfg.video.emb_dim, g);
    for (int i = 0; i < B * cfg.video.emb_dim; i++) g[i] = (g[i] - 0.5f) / (float)B;
    milnce_optim opt;
    milnce_optim_config oc = milnce_optim_defaults();
    if (milnce_optim_init(&opt, &oc, m->ptab.total, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t_total = 0, t_opt = 0;
    for (int it = 0; it <= iters; it++) {
        double t0 = now_s();
        const float *emb;
        if (milnce_model_video_forward(m, clip, B, train, &emb, NULL, &err) < 0) break;
        if (train) {
            milnce_model_zero_grad(m);
            if (milnce_model_video_backward(m, g, NULL, &err) < 0) break;
            double t1 = now_s();
            if (milnce_optim_step(&opt, m->params, m->grads, NULL, NULL, &err) < 0) break;
            if (it > 0) t_opt += now_s() - t1;
        }
        if (it > 0) t_total += now_s() - t0;
    }
    if (err.code) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("milnce %s %s width %g %s%dx%dx%d B=%d: %.2f clips/s (%.1f ms/iter, kernel %s)\n",
           train ? "train" : "infer", cfg.ctx.precision == MILNCE_PREC_BF16 ? "bf16" : "fp32",
           (double)cfg.video.width,
           cfg.video.space_to_depth ? "s2d " : "", cfg.video.T, cfg.video.H, cfg.video.W, B,
           B * iters / t_total, 1e3 * t_total / iters, milnce_blas_core());
    milnce_s3dg_timing tm[8];
    int n = milnce_s3dg_timings(m->video, tm, 8);
    for (int i = 0; i < n; i++) {
        printf("  %-8s fwd %7.1f ms", tm[i].kind, 1e3 * tm[i].fwd_s);
        if (train) printf("  bwd %7.1f ms", 1e3 * tm[i].bwd_s);
        if (tm[i].gflop > 0) {
            printf("  fwd %6.1f GFLOP/s", tm[i].gflop / tm[i].fwd_s);
            if (train) printf("  bwd %6.1f GFLOP/s", 2 * tm[i].gflop / tm[i].bwd_s);
        }
        printf("\n");
    }
    if (train) printf("  %-8s %7.1f ms\n", "adam", 1e3 * t_opt / iters);
    milnce_optim_free(&opt);
    free(clip);
    free(g);
    milnce_model_free(&m);
    return 0;
}
