/* The execution context: what a caller decides for the library's work instead of process-wide
 * switches (environment variables read by the library, global counters, OpenBLAS's or OpenMP's
 * settings changed behind the caller's back).
 *
 * A context is a plain value: the caller fills one (milnce_ctx_default() first), hands it to
 * the objects that work for it (a model, a decoder, a run) and may reuse it for many. Two
 * objects with their own contexts can work in two threads of one process at the same time, and
 * each computes exactly what it computes alone (tests/check_context.c).
 *
 * What the library does not decide: OpenBLAS's thread count is process-wide, so the library
 * leaves it alone (unless blas_single_passes asks otherwise). The model's layers split their
 * work over `threads` OpenMP threads, one single-threaded GEMM per work unit, when OpenBLAS runs
 * single-threaded; with a multi-threaded OpenBLAS they leave the threading to OpenBLAS (two
 * thread pools spinning on the same cores take them from each other). So a program that runs
 * several models at once makes OpenBLAS single-threaded once at start
 * (openblas_set_num_threads(1) or OPENBLAS_NUM_THREADS=1). */
#ifndef MILNCE_PUBLIC_CONTEXT_H
#define MILNCE_PUBLIC_CONTEXT_H

#include <signal.h>

#include "error.h"

/* Highest instruction set that run-time dispatched code may use. Today that is the video
 * decoder's uint8 -> float conversion (SSE2 or AVX2; both give the same floats). The layers'
 * kernels are picked once by the CPU when the library loads (GCC target_clones) and are the same
 * in every context. */
enum {
    MILNCE_SIMD_AUTO = 0, /* the best the CPU runs */
    MILNCE_SIMD_SSE2 = 1, /* the x86-64 baseline */
    MILNCE_SIMD_AVX2 = 2
};

/* Arithmetic of a model's convolutions and linear layers. bf16: operands rounded to bfloat16,
 * products summed in fp32 (mixed precision as GPUs train); weights, gradients, optimizer state,
 * BatchNorm, the loss and every stored tensor stay fp32. Needs AVX512_BF16
 * (milnce_bf16_supported); a model asked for bf16 on a CPU without it is refused at create. */
enum { MILNCE_PREC_FP32 = 0, MILNCE_PREC_BF16 = 1 };

/* 1 when this CPU and OS run the bf16 kernels (AVX512F, BW, VL and BF16; ZMM state on). */
int milnce_bf16_supported(void);

typedef struct milnce_ctx {
    /* OpenMP threads of a model's forward and backward; 0 = the calling thread's OpenMP default
     * (omp_get_max_threads(), i.e. OMP_NUM_THREADS or the cores) when the model is created.
     * The weight gradients are summed per thread, so a backward's last bits depend on it. */
    int threads;
    int simd; /* MILNCE_SIMD_* */
    /* 1: a model makes OpenBLAS single-threaded for the duration of each of its forward and
     * backward passes and gives OpenBLAS its thread count back after; other GEMMs (text encoder,
     * loss, retrieval) keep OpenBLAS's threads. That is a process-wide switch, so it is only for
     * a program that runs one model at a time and owns the process: the training and evaluation
     * stages ask for it (milnce_model_cfg_from_config), which keeps their results bit-identical to
     * earlier versions (OpenBLAS rounds differently with threads). 0 (the default): nothing
     * process-wide is touched; set OpenBLAS to one thread once instead. */
    int blas_single_passes;
    /* Set to non-zero (from a signal handler, another thread) to ask long work to stop at its
     * next safe point (a finished checkpoint, shard or batch) with MILNCE_ERR_INTERRUPTED.
     * NULL: never cancelled. */
    const volatile sig_atomic_t *cancel;
    /* Warnings and progress; a NULL fn is silent. */
    milnce_logger log;
    int precision; /* MILNCE_PREC_* of the models made with this context */
} milnce_ctx;

/* threads 0, MILNCE_SIMD_AUTO, no cancel flag, silent, fp32. */
milnce_ctx milnce_ctx_default(void);

/* 1 when the context's cancel flag is set. */
int milnce_ctx_cancelled(const milnce_ctx *ctx);

#endif
