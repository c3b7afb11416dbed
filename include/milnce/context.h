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
 * never changes it. The model's layers run their GEMMs on `threads` OpenMP threads of their own,
 * one single-threaded GEMM per work unit, so a program that runs models should make OpenBLAS
 * single-threaded once at start (openblas_set_num_threads(1) or OPENBLAS_NUM_THREADS=1; the
 * `milnce` command does). Results do not depend on it, only the speed does. */
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

typedef struct milnce_ctx {
    /* OpenMP threads of a model's forward and backward; 0 = the calling thread's OpenMP default
     * (omp_get_max_threads(), i.e. OMP_NUM_THREADS or the cores) when the model is created.
     * The weight gradients are summed per thread, so a backward's last bits depend on it. */
    int threads;
    int simd; /* MILNCE_SIMD_* */
    /* Set to non-zero (from a signal handler, another thread) to ask long work to stop at its
     * next safe point (a finished checkpoint, shard or batch) with MILNCE_ERR_INTERRUPTED.
     * NULL: never cancelled. */
    const volatile sig_atomic_t *cancel;
    /* Warnings and progress; a NULL fn is silent. */
    milnce_logger log;
} milnce_ctx;

/* threads 0, MILNCE_SIMD_AUTO, no cancel flag, silent. */
milnce_ctx milnce_ctx_default(void);

/* 1 when the context's cancel flag is set. */
int milnce_ctx_cancelled(const milnce_ctx *ctx);

#endif
