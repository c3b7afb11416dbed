/* Picking the fastest OpenBLAS kernel this CPU can execute.
 *
 * A DYNAMIC_ARCH OpenBLAS chooses its kernel from CPUID when the shared library loads, before
 * main() runs; Debian's 0.3.21 does not know recent Xeons and falls back to "Prescott"
 * (SSE3, ~53 GFLOP/s sgemm on 2 cores here, against ~300 with the AVX-512 "SkylakeX" kernel).
 * The only supported override is the OPENBLAS_CORETYPE environment variable, read at that same
 * load, so a process that finds itself on a slower kernel than the CPU supports sets the
 * variable and re-executes itself, once. A user's own OPENBLAS_CORETYPE is kept unless the CPU
 * cannot execute it. */
#ifndef MILNCE_BLAS_SELECT_H
#define MILNCE_BLAS_SELECT_H

/* Call first thing in main(). May not return (execv of /proc/self/exe); returns 0 when the
 * running kernel is the best available, 1 when it could not be improved (reason in
 * milnce_blas_status()). Set MILNCE_BLAS_NO_REEXEC=1 to disable. */
int milnce_blas_select_kernel(int argc, char **argv);

/* Best OpenBLAS core name the CPU and OS support ("SkylakeX", "Haswell", "Sandybridge", or NULL
 * when nothing beyond the default applies). */
const char *milnce_blas_best_core(void);

/* Name of the kernel OpenBLAS runs now (openblas_get_corename()). */
const char *milnce_blas_core(void);

/* One line describing what was chosen and why. */
const char *milnce_blas_status(void);

#endif
