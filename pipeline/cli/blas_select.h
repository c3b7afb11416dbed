/* Picking the fastest OpenBLAS kernel this CPU can execute.
 *
 * A DYNAMIC_ARCH OpenBLAS chooses its kernel from CPUID when the shared library loads, before
 * main() runs; Debian's 0.3.21 does not know recent Xeons and falls back to "Prescott"
 * (SSE3, ~53 GFLOP/s sgemm on 2 cores here, against ~300 with the AVX-512 "SkylakeX" kernel).
 * The only supported override is the OPENBLAS_CORETYPE environment variable, read at that same
 * load, so a process that finds itself on a slower kernel than the CPU supports sets the
 * variable and re-executes itself, once. A user's own OPENBLAS_CORETYPE is kept unless the CPU
 * cannot execute it.
 *
 * The decision is a pure function of (CPU features, the OS's XCR0, the user's OPENBLAS_CORETYPE,
 * the kernel OpenBLAS runs): milnce_blas_decide(), unit-tested on recorded CPUs. Kernels are
 * ranked by sgemm speed: Cooperlake and SapphireRapids are SkylakeX's sgemm plus bf16 (and AMX)
 * kernels, so any of the three is accepted where SkylakeX is the best. */
#ifndef MILNCE_BLAS_SELECT_H
#define MILNCE_BLAS_SELECT_H

/* CPUID features the x86-64 kernels need (bits of milnce_cpu_features.flags). */
enum {
    MILNCE_CPU_AVX = 1u << 0,
    MILNCE_CPU_FMA = 1u << 1,
    MILNCE_CPU_AVX2 = 1u << 2,
    MILNCE_CPU_AVX512F = 1u << 3,
    MILNCE_CPU_AVX512DQ = 1u << 4,
    MILNCE_CPU_AVX512CD = 1u << 5,
    MILNCE_CPU_AVX512BW = 1u << 6,
    MILNCE_CPU_AVX512VL = 1u << 7,
    MILNCE_CPU_AVX512_BF16 = 1u << 8,
    MILNCE_CPU_AMX_TILE = 1u << 9,
    MILNCE_CPU_AMX_BF16 = 1u << 10,
};

/* What the CPU offers and what the OS saves on a context switch: a kernel needs both (a CPU with
 * AVX-512 under an OS that does not save ZMM state cannot run the SkylakeX kernel). */
typedef struct milnce_cpu_features {
    unsigned flags;          /* MILNCE_CPU_* from CPUID */
    unsigned long long xcr0; /* XGETBV(0); 0 when the OS has not enabled XSAVE (CPUID OSXSAVE) */
} milnce_cpu_features;

/* This machine's CPUID and XCR0. */
milnce_cpu_features milnce_cpu_features_host(void);

/* What to do about the kernel. */
typedef struct milnce_blas_plan {
    int reexec;       /* 1: re-execute with OPENBLAS_CORETYPE = core (unset when core is NULL) */
    const char *core; /* the kernel to run: the user's, the best one, or NULL (OpenBLAS's default) */
    const char *why;  /* static text for the status line */
    int slower;       /* 1: the user's OPENBLAS_CORETYPE is kept but sgemm-ranks below the best
                         kernel this CPU executes (e.g. Haswell preset on Zen 4) */
} milnce_blas_plan;

/* The decision, from nothing but its arguments. cpu: the machine; user: OPENBLAS_CORETYPE as the
 * user set it, or NULL; running: openblas_get_corename() now. A user's kernel the CPU can
 * execute, or one we do not know, is kept; otherwise the running kernel is kept when it is at
 * least as fast as the best the CPU can execute, and replaced by that best one when not. */
milnce_blas_plan milnce_blas_decide(const milnce_cpu_features *cpu, const char *user, const char *running);

/* Best kernel name for the CPU ("SkylakeX", "Haswell", "Sandybridge"), or NULL when nothing
 * beyond OpenBLAS's default applies. */
const char *milnce_blas_best_for(const milnce_cpu_features *cpu);

/* Call first thing in main(). May not return (execv of /proc/self/exe); returns 0 when the
 * running kernel is the best available or the user's, 1 when it could not be improved (reason in
 * milnce_blas_status()). Set MILNCE_BLAS_NO_REEXEC=1 to disable the re-execution. */
int milnce_blas_select_kernel(int argc, char **argv);

/* milnce_blas_best_for() this machine. */
const char *milnce_blas_best_core(void);

/* Name of the kernel OpenBLAS runs now (openblas_get_corename()). */
const char *milnce_blas_core(void);

/* One line describing what was chosen and why. */
const char *milnce_blas_status(void);

/* NULL, or one line saying OPENBLAS_CORETYPE pins this process to a slower kernel than the best
 * this CPU runs (kept: the user's choice). For `milnce info` and the first line of `train`. */
const char *milnce_blas_pinned_note(void);

#endif
