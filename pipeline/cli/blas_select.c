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

/* XCR0 state components: SSE (XMM) and AVX (YMM); opmask, ZMM_Hi256 and Hi16_ZMM; AMX tile
 * configuration and data. */
#define XCR0_YMM 0x6ull
#define XCR0_ZMM 0xe0ull
#define XCR0_AMX (3ull << 17)

#define AVX512 (MILNCE_CPU_AVX512F | MILNCE_CPU_AVX512DQ | MILNCE_CPU_AVX512CD | MILNCE_CPU_AVX512BW | \
                MILNCE_CPU_AVX512VL)
#define HASWELL (MILNCE_CPU_AVX | MILNCE_CPU_FMA | MILNCE_CPU_AVX2)

/* OpenBLAS's x86-64 kernel names (OPENBLAS_CORETYPE, case-insensitive), their sgemm speed rank
 * (0 SSE, 1 AVX, 2 AVX2+FMA, 3 AVX-512: Cooperlake and SapphireRapids only add bf16/AMX
 * kernels to SkylakeX's) and what they execute. */
typedef struct {
    const char *name;
    int rank;
    unsigned flags;
    unsigned long long xcr0;
} kernel;

static const kernel kernels[] = {
    {"Prescott", 0, 0, 0},
    {"Core2", 0, 0, 0},
    {"Penryn", 0, 0, 0},
    {"Dunnington", 0, 0, 0},
    {"Nehalem", 0, 0, 0},
    {"Atom", 0, 0, 0},
    {"Barcelona", 0, 0, 0},
    {"Bobcat", 0, 0, 0},
    {"Sandybridge", 1, MILNCE_CPU_AVX, XCR0_YMM},
    {"Bulldozer", 1, MILNCE_CPU_AVX, XCR0_YMM},
    {"Piledriver", 1, MILNCE_CPU_AVX | MILNCE_CPU_FMA, XCR0_YMM},
    {"Steamroller", 1, MILNCE_CPU_AVX | MILNCE_CPU_FMA, XCR0_YMM},
    {"Excavator", 1, MILNCE_CPU_AVX | MILNCE_CPU_FMA, XCR0_YMM},
    {"Haswell", 2, HASWELL, XCR0_YMM},
    {"Zen", 2, HASWELL, XCR0_YMM},
    {"SkylakeX", 3, HASWELL | AVX512, XCR0_YMM | XCR0_ZMM},
    {"Cooperlake", 3, HASWELL | AVX512 | MILNCE_CPU_AVX512_BF16, XCR0_YMM | XCR0_ZMM},
    {"SapphireRapids", 3, HASWELL | AVX512 | MILNCE_CPU_AVX512_BF16 | MILNCE_CPU_AMX_TILE | MILNCE_CPU_AMX_BF16,
     XCR0_YMM | XCR0_ZMM | XCR0_AMX},
};

/* Kernels milnce sets itself, best first: the names every OpenBLAS since 0.3.x knows. */
static const char *const choices[] = {"SkylakeX", "Haswell", "Sandybridge"};

static const kernel *find_kernel(const char *name) {
    for (size_t i = 0; name && i < sizeof kernels / sizeof kernels[0]; i++)
        if (strcasecmp(name, kernels[i].name) == 0) return &kernels[i];
    return NULL;
}

static int executable(const kernel *k, const milnce_cpu_features *cpu) {
    return (cpu->flags & k->flags) == k->flags && (cpu->xcr0 & k->xcr0) == k->xcr0;
}

const char *milnce_blas_best_for(const milnce_cpu_features *cpu) {
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
        if (executable(find_kernel(choices[i]), cpu)) return choices[i];
    return NULL;
}

milnce_blas_plan milnce_blas_decide(const milnce_cpu_features *cpu, const char *user, const char *running) {
    const char *best = milnce_blas_best_for(cpu);
    if (user && *user) {
        const kernel *u = find_kernel(user);
        if (!u) return (milnce_blas_plan){0, user, "OPENBLAS_CORETYPE set to a kernel milnce does not know: not checked", 0};
        if (executable(u, cpu))
            return (milnce_blas_plan){0, user, "set by OPENBLAS_CORETYPE",
                                      best && u->rank < find_kernel(best)->rank};
        return (milnce_blas_plan){1, best, "OPENBLAS_CORETYPE names a kernel this CPU cannot execute", 0};
    }
    const kernel *r = find_kernel(running);
    if (r && !executable(r, cpu))
        return (milnce_blas_plan){1, best, "running a kernel this CPU cannot execute", 0};
    if (!best) return (milnce_blas_plan){0, running, "best this CPU supports", 0};
    if (r && executable(r, cpu) && r->rank >= find_kernel(best)->rank)
        return (milnce_blas_plan){0, running, "best this CPU supports", 0};
    return (milnce_blas_plan){1, best, "the CPU supports a faster kernel", 0};
}

static unsigned long long xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

milnce_cpu_features milnce_cpu_features_host(void) {
    milnce_cpu_features f = {0, 0};
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    if ((c >> 28) & 1) f.flags |= MILNCE_CPU_AVX;
    if ((c >> 12) & 1) f.flags |= MILNCE_CPU_FMA;
    if ((c >> 27) & 1) f.xcr0 = xgetbv0(); /* OSXSAVE: the OS enabled XSAVE, XGETBV works */
    if (__get_cpuid_max(0, NULL) < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    static const struct { int bit; unsigned flag; } ebx[] = {
        {5, MILNCE_CPU_AVX2},      {16, MILNCE_CPU_AVX512F},  {17, MILNCE_CPU_AVX512DQ},
        {28, MILNCE_CPU_AVX512CD}, {30, MILNCE_CPU_AVX512BW}, {31, MILNCE_CPU_AVX512VL},
    };
    for (size_t i = 0; i < sizeof ebx / sizeof ebx[0]; i++)
        if ((b >> ebx[i].bit) & 1) f.flags |= ebx[i].flag;
    if ((d >> 24) & 1) f.flags |= MILNCE_CPU_AMX_TILE;
    if ((d >> 22) & 1) f.flags |= MILNCE_CPU_AMX_BF16;
    unsigned max_sub = a;
    if (max_sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        if ((a >> 5) & 1) f.flags |= MILNCE_CPU_AVX512_BF16;
    }
    return f;
}

const char *milnce_blas_best_core(void) {
    milnce_cpu_features f = milnce_cpu_features_host();
    return milnce_blas_best_for(&f);
}

const char *milnce_blas_core(void) {
    const char *n = openblas_get_corename();
    return n ? n : "unknown";
}

const char *milnce_blas_status(void) { return status_line; }

static char pinned_line[256];

const char *milnce_blas_pinned_note(void) { return pinned_line[0] ? pinned_line : NULL; }

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
    const char *running = milnce_blas_core();
    /* An OPENBLAS_CORETYPE milnce set itself (marked by MILNCE_BLAS_SELECTED, also in child
     * processes that inherit it) is not the user's. */
    int ours = getenv("MILNCE_BLAS_SELECTED") != NULL;
    const char *user = ours ? NULL : getenv("OPENBLAS_CORETYPE");
    const char *done = getenv("MILNCE_BLAS_REEXEC");
    const char *off = getenv("MILNCE_BLAS_NO_REEXEC");
    milnce_cpu_features cpu = milnce_cpu_features_host();
    milnce_blas_plan plan = milnce_blas_decide(&cpu, user, running);

    if (plan.slower)
        snprintf(pinned_line, sizeof pinned_line,
                 "OPENBLAS_CORETYPE=%s pins OpenBLAS to a slower sgemm kernel than this CPU's best "
                 "(%s); kept as set: unset it for the fastest fp32 GEMMs",
                 user, milnce_blas_best_for(&cpu));
    if (!plan.reexec) {
        snprintf(status_line, sizeof status_line, "%s (%s%s)", running, plan.why,
                 ours && !user ? ", selected by milnce" : "");
        reexec_for_env(env_changed, off, argv);
        return 0;
    }
    if (done || (off && *off && strcmp(off, "0") != 0)) {
        snprintf(status_line, sizeof status_line, "%s (%s: %s, but OpenBLAS did not switch to it)", running,
                 plan.why, plan.core ? plan.core : "its default");
        return 1;
    }
    /* Re-execute with the override; the flag stops a loop if OpenBLAS ignores it. */
    if (plan.core)
        setenv("OPENBLAS_CORETYPE", plan.core, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    setenv("MILNCE_BLAS_SELECTED", "1", 1);
    setenv("MILNCE_BLAS_REEXEC", "1", 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    snprintf(status_line, sizeof status_line, "%s (re-exec for %s failed)", running,
             plan.core ? plan.core : "the default kernel");
    return 1;
}
