/* The thread count of a model pass, without process-wide state.
 *
 * The layers size their per-thread workspaces and split their work by omp_get_max_threads():
 * OpenMP's nthreads-var, which belongs to the calling thread (each thread has its own copy),
 * not to the process. A model sets it to its context's count around creation (workspace sizes)
 * and every forward/backward, and gives the caller its own value back, so two models with
 * different counts can run in two threads at once. Not a public header. */
#ifndef MILNCE_OMP_SCOPE_H
#define MILNCE_OMP_SCOPE_H

#include <omp.h>

/* Sets the calling thread's OpenMP thread count to n (n <= 0: leaves it) and returns the value
 * to restore. */
static inline int milnce_omp_scope_enter(int n) {
    const int old = omp_get_max_threads();
    if (n > 0 && n != old) omp_set_num_threads(n);
    return old;
}

static inline void milnce_omp_scope_leave(int old) {
    if (omp_get_max_threads() != old) omp_set_num_threads(old);
}

#endif
