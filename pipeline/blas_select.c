#include "blas_select.h"

#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* OpenBLAS extensions (cblas.h declares them too, but only with its own types). */
extern char *openblas_get_corename(void);

static char status_line[256] = "kernel not checked";

static unsigned long long xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

/* Feature levels the OpenBLAS kernels need, checked in both CPUID and the OS's XCR0 (a CPU
 * with AVX-512 under an OS that does not save ZMM state cannot run the SkylakeX kernel). */
static int cpu_level(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx) return 0;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return 0; /* XMM and YMM state */
    int level = 1;                     /* AVX: Sandybridge */
    if (__get_cpuid_max(0, NULL) < 7) return level;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    if (avx2 && fma) level = 2; /* Haswell */
    int f = (b >> 16) & 1, dq = (b >> 17) & 1, cd = (b >> 28) & 1, bw = (b >> 30) & 1,
        vl = (b >> 31) & 1;
    if (level == 2 && f && dq && cd && bw && vl && (xcr0 & 0xe0) == 0xe0) level = 3; /* SkylakeX */
    return level;
}

static const char *level_core[] = {NULL, "Sandybridge", "Haswell", "SkylakeX"};

const char *milnce_blas_best_core(void) { return level_core[cpu_level()]; }

const char *milnce_blas_core(void) {
    const char *n = openblas_get_corename();
    return n ? n : "unknown";
}

const char *milnce_blas_status(void) { return status_line; }

/* Feature level a core name needs; -1 for names we do not know (left alone). */
static int core_level(const char *name) {
    static const struct { const char *name; int level; } t[] = {
        {"prescott", 0},     {"core2", 0},       {"penryn", 0},   {"dunnington", 0},
        {"nehalem", 0},      {"atom", 0},        {"barcelona", 0}, {"bobcat", 0},
        {"sandybridge", 1},  {"bulldozer", 1},   {"piledriver", 1}, {"steamroller", 1},
        {"excavator", 1},    {"haswell", 2},     {"zen", 2},      {"skylakex", 3},
        {"cooperlake", 3},   {"sapphirerapids", 3},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(name, t[i].name) == 0) return t[i].level;
    return -1;
}

/* OpenMP threads that spin while OpenBLAS's own pthreads work (and the reverse) take the
 * cores from each other: with 2 cores, spinning cost a quarter of the cycles of a training step.
 * libgomp reads OMP_WAIT_POLICY when it loads, so like the kernel choice it is set before a
 * re-exec. A user's own setting is kept. Returns 1 when the environment was changed. */
static int set_thread_env(void) {
    if (getenv("OMP_WAIT_POLICY")) return 0;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    return 1;
}

/* Re-executes once to apply an environment change made before any library read it. */
static void reexec_for_env(int env_changed, const char *off, char **argv) {
    if (!env_changed || (off && *off && strcmp(off, "0") != 0)) return;
    setenv("MILNCE_BLAS_REEXEC", "1", 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
}

int milnce_blas_select_kernel(int argc, char **argv) {
    (void)argc;
    int env_changed = getenv("MILNCE_BLAS_REEXEC") ? 0 : set_thread_env();
    int have = cpu_level();
    const char *running = milnce_blas_core();
    const char *user = getenv("OPENBLAS_CORETYPE");
    /* Test hook: treat a preset OPENBLAS_CORETYPE as if OpenBLAS had picked that kernel on its
     * own (how the fallback on an unrecognised CPU is exercised on a CPU it does recognise). */
    if (getenv("MILNCE_BLAS_IGNORE_USER_CORETYPE")) user = NULL;
    const char *done = getenv("MILNCE_BLAS_REEXEC");
    const char *off = getenv("MILNCE_BLAS_NO_REEXEC");
    int run_level = core_level(running);

    if (user && (!done || !getenv("MILNCE_BLAS_SELECTED"))) {
        int ul = core_level(user);
        if (ul >= 0 && ul <= have) {
            snprintf(status_line, sizeof status_line, "%s (set by OPENBLAS_CORETYPE)", running);
            reexec_for_env(env_changed, off, argv);
            return 0;
        }
        if (ul < 0) {
            snprintf(status_line, sizeof status_line, "%s (OPENBLAS_CORETYPE=%s, not checked)",
                     running, user);
            reexec_for_env(env_changed, off, argv);
            return 0;
        }
        /* The user asked for a kernel this CPU cannot execute: fall through and replace it. */
    }
    if (run_level >= have || !level_core[have]) {
        snprintf(status_line, sizeof status_line, "%s (best this CPU supports%s)", running,
                 getenv("MILNCE_BLAS_SELECTED") ? ", selected by milnce" : "");
        reexec_for_env(env_changed, off, argv);
        return 0;
    }
    if (done || (off && *off && strcmp(off, "0") != 0)) {
        snprintf(status_line, sizeof status_line,
                 "%s (CPU supports %s but OpenBLAS did not switch to it)", running,
                 level_core[have]);
        return 1;
    }
    /* Re-execute with the override; the flag stops a loop if OpenBLAS ignores it. */
    setenv("OPENBLAS_CORETYPE", level_core[have], 1);
    setenv("MILNCE_BLAS_SELECTED", "1", 1);
    setenv("MILNCE_BLAS_REEXEC", "1", 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    snprintf(status_line, sizeof status_line, "%s (re-exec for %s failed)", running,
             level_core[have]);
    return 1;
}
