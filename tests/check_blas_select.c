/* The OpenBLAS kernel decision (pipeline/cli/blas_select.h) as a pure function of (CPU features,
 * XCR0, the user's OPENBLAS_CORETYPE, the kernel OpenBLAS runs), on the x86 extension flags that
 * /proc/cpuinfo lists for eight CPU families (lines trimmed to those flags), and this machine's
 * CPUID against its /proc/cpuinfo. Accepted = at least as fast as the best kernel the CPU can
 * execute, for sgemm: Cooperlake and SapphireRapids use SkylakeX's sgemm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blas_select.h"
#include "testutil.h"

/* What Linux enables: x87|SSE|AVX, + opmask|ZMM_Hi256|Hi16_ZMM, + AMX tile config|data. */
#define XCR0_AVX 0x7ull
#define XCR0_AVX512 0xe7ull
#define XCR0_AMX (0xe7ull | (3ull << 17))

typedef struct {
    const char *cpu;
    const char *flags;       /* as /proc/cpuinfo, x86 extensions only */
    unsigned long long xcr0; /* as the OS sets it */
    const char *best;        /* milnce_blas_best_for(), NULL = OpenBLAS's default */
    const char *openblas;    /* what OpenBLAS 0.3.21 picks there on its own (must be accepted) */
} recorded_cpu;

static const recorded_cpu cpus[] = {
    {"Intel Xeon Platinum 8480+ (Sapphire Rapids)",
     "sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand bmi1 avx2 bmi2 "
     "avx512f avx512dq rdseed adx avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl "
     "xsaveopt xsavec xgetbv1 xsaves avx_vnni avx512_bf16 avx512vbmi avx512_vbmi2 gfni vaes "
     "vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq movdiri movdir64b serialize tsxldtrk "
     "amx_bf16 avx512_fp16 amx_tile amx_int8",
     XCR0_AMX, "SkylakeX", "SapphireRapids"},
    {"Intel Xeon Platinum 8380H (Cooper Lake)",
     "sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand bmi1 hle avx2 "
     "bmi2 rtm avx512f avx512dq rdseed adx clflushopt clwb avx512cd avx512bw avx512vl xsaveopt "
     "xsavec xgetbv1 xsaves avx512_bf16 avx512_vnni",
     XCR0_AVX512, "SkylakeX", "Cooperlake"},
    {"Intel Xeon Platinum 8375C (Ice Lake)",
     "sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand bmi1 avx2 bmi2 "
     "avx512f avx512dq rdseed adx avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl "
     "xsaveopt xsavec xgetbv1 xsaves avx512vbmi avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni "
     "avx512_bitalg avx512_vpopcntdq",
     XCR0_AVX512, "SkylakeX", "SkylakeX"},
    {"Intel Xeon Gold 6148 (Skylake-X)",
     "sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand bmi1 hle avx2 "
     "bmi2 rtm avx512f avx512dq rdseed adx clflushopt clwb avx512cd avx512bw avx512vl xsaveopt "
     "xsavec xgetbv1 xsaves",
     XCR0_AVX512, "SkylakeX", "SkylakeX"},
    {"AMD EPYC 9654 (Zen 4)",
     "sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand sse4a bmi1 avx2 "
     "bmi2 avx512f avx512dq rdseed adx avx512ifma clflushopt clwb avx512cd sha_ni avx512bw "
     "avx512vl xsaveopt xsavec xgetbv1 xsaves avx512_bf16 avx512vbmi avx512_vbmi2 gfni vaes "
     "vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq",
     XCR0_AVX512, "SkylakeX", "Cooperlake"},
    {"AMD EPYC 7763 (Zen 3)",
     "sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand sse4a bmi1 avx2 "
     "bmi2 rdseed adx clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves vaes vpclmulqdq",
     XCR0_AVX, "Haswell", "Zen"},
    {"Intel Xeon E5-2680 v3 (Haswell)",
     "sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand bmi1 avx2 bmi2 "
     "xsaveopt",
     XCR0_AVX, "Haswell", "Haswell"},
    {"Intel Xeon X5670 (Westmere, no AVX)", "sse sse2 ssse3 cx16 sse4_1 sse4_2 popcnt aes", 0x3, NULL,
     "Nehalem"},
};

/* Features from a /proc/cpuinfo flags list (written here independently of the CPUID reader). */
static milnce_cpu_features parse_flags(const char *flags, unsigned long long xcr0) {
    static const struct { const char *name; unsigned bit; } names[] = {
        {"avx", MILNCE_CPU_AVX},           {"fma", MILNCE_CPU_FMA},
        {"avx2", MILNCE_CPU_AVX2},         {"avx512f", MILNCE_CPU_AVX512F},
        {"avx512dq", MILNCE_CPU_AVX512DQ}, {"avx512cd", MILNCE_CPU_AVX512CD},
        {"avx512bw", MILNCE_CPU_AVX512BW}, {"avx512vl", MILNCE_CPU_AVX512VL},
        {"avx512_bf16", MILNCE_CPU_AVX512_BF16}, {"amx_tile", MILNCE_CPU_AMX_TILE},
        {"amx_bf16", MILNCE_CPU_AMX_BF16},
    };
    milnce_cpu_features f = {0, xcr0};
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", flags);
    for (char *save = NULL, *w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(w, names[i].name) == 0) f.flags |= names[i].bit;
    return f;
}

static int same(const char *a, const char *b) { return a == b || (a && b && strcasecmp(a, b) == 0); }

/* The best kernel for each recorded CPU. */
START_TEST(test_best_kernel) {
    const recorded_cpu *c = &cpus[_i];
    milnce_cpu_features f = parse_flags(c->flags, c->xcr0);
    const char *best = milnce_blas_best_for(&f);
    ck_assert_msg(same(best, c->best), "%s: best %s, want %s", c->cpu, best ? best : "(default)",
                  c->best ? c->best : "(default)");
}
END_TEST

/* What OpenBLAS picks on its own there, and the best kernel, are kept; its Prescott fallback (an
 * unknown CPU), a slower kernel and an unknown name are replaced by the best one. */
START_TEST(test_running_kernel) {
    const recorded_cpu *c = &cpus[_i];
    milnce_cpu_features f = parse_flags(c->flags, c->xcr0);
    const char *keep[] = {c->openblas, c->best};
    for (int k = 0; k < 2; k++) {
        if (!keep[k]) continue;
        milnce_blas_plan p = milnce_blas_decide(&f, NULL, keep[k]);
        ck_assert_msg(!p.reexec && same(p.core, keep[k]), "%s running %s: reexec %d to %s (%s)", c->cpu, keep[k],
                      p.reexec, p.core, p.why);
    }
    /* sgemm rank: 0 SSE, 1 AVX, 2 AVX2+FMA, 3 AVX-512; -1 a name milnce does not know. */
    static const struct { const char *name; int rank; unsigned needs; } slower[] = {
        {"Prescott", 0, 0},
        {"Sandybridge", 1, MILNCE_CPU_AVX},
        {"Haswell", 2, MILNCE_CPU_AVX | MILNCE_CPU_AVX2 | MILNCE_CPU_FMA},
        {"NotAKernel", -1, 0}};
    int best_rank = !c->best ? 0 : same(c->best, "SkylakeX") ? 3 : same(c->best, "Haswell") ? 2 : 1;
    for (int k = 0; k < 4; k++) {
        milnce_blas_plan p = milnce_blas_decide(&f, NULL, slower[k].name);
        /* replaced when slower than the best (no AVX: nothing beyond the default), or when the
         * CPU cannot execute it (then by the best, or by OpenBLAS's default) */
        int can = (f.flags & slower[k].needs) == slower[k].needs;
        int replace = (c->best && slower[k].rank < best_rank) || !can;
        ck_assert_msg(p.reexec == replace, "%s running %s: reexec %d (%s)", c->cpu, slower[k].name, p.reexec, p.why);
        if (replace) ck_assert_msg(same(p.core, c->best), "%s: switches to %s", c->cpu, p.core);
    }
    /* SkylakeX-class kernels on a CPU without what they execute are replaced, not accepted. */
    if (!(f.flags & MILNCE_CPU_AVX512_BF16)) {
        milnce_blas_plan p = milnce_blas_decide(&f, NULL, "Cooperlake");
        ck_assert_msg(p.reexec, "%s: Cooperlake accepted without avx512_bf16", c->cpu);
    }
}
END_TEST

/* A user's OPENBLAS_CORETYPE: kept when the CPU can execute it (also a slower one) or when
 * milnce does not know the name; replaced by the best kernel when the CPU cannot execute it. */
START_TEST(test_user_coretype) {
    const recorded_cpu *c = &cpus[_i];
    milnce_cpu_features f = parse_flags(c->flags, c->xcr0);
    static const struct { const char *name; unsigned needs; } users[] = {
        {"Prescott", 0},
        {"haswell", MILNCE_CPU_AVX2 | MILNCE_CPU_FMA},
        {"SKYLAKEX", MILNCE_CPU_AVX512F | MILNCE_CPU_AVX512BW},
        {"Cooperlake", MILNCE_CPU_AVX512F | MILNCE_CPU_AVX512_BF16},
        {"SapphireRapids", MILNCE_CPU_AVX512_BF16 | MILNCE_CPU_AMX_TILE},
        {"Zen5Turbo", 0}, /* not a name milnce knows: the user's business */
    };
    for (size_t u = 0; u < sizeof users / sizeof users[0]; u++) {
        milnce_blas_plan p = milnce_blas_decide(&f, users[u].name, "Prescott");
        int can = (f.flags & users[u].needs) == users[u].needs;
        if (can) {
            ck_assert_msg(!p.reexec && p.core == users[u].name, "%s: user's %s not kept (%s)", c->cpu,
                          users[u].name, p.why);
            /* slower: a known kernel ranked below the CPU's best (Haswell on an AVX-512 CPU,
             * Prescott on anything with AVX2); SkylakeX, Cooperlake, SapphireRapids share sgemm */
            const char *nm = users[u].name;
            int avx512 = c->best && strcmp(c->best, "SkylakeX") == 0;
            int want = (strcasecmp(nm, "Prescott") == 0 && c->best) ||
                       (strcasecmp(nm, "haswell") == 0 && avx512);
            ck_assert_msg(p.slower == want, "%s: user's %s slower = %d", c->cpu, nm, p.slower);
        } else {
            ck_assert_msg(p.reexec && same(p.core, c->best), "%s: user's %s (not executable) -> %s", c->cpu,
                          users[u].name, p.core ? p.core : "(default)");
        }
    }
}
END_TEST

/* OS support: the same CPUs under an OS that saves no ZMM state (XCR0 = x87|SSE|AVX) fall back
 * to Haswell; with no XSAVE enabled at all (XCR0 unreadable: 0) to OpenBLAS's default. */
START_TEST(test_os_support) {
    for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
        milnce_cpu_features f = parse_flags(cpus[i].flags, XCR0_AVX);
        const char *best = milnce_blas_best_for(&f);
        const char *want = cpus[i].best && strcmp(cpus[i].best, "SkylakeX") == 0 ? "Haswell" : cpus[i].best;
        ck_assert_msg(same(best, want), "%s, XCR0 without ZMM: %s", cpus[i].cpu, best);
        milnce_blas_plan p = milnce_blas_decide(&f, NULL, "SkylakeX");
        if (want) ck_assert_msg(p.reexec && same(p.core, want), "%s: SkylakeX kept without ZMM state", cpus[i].cpu);
        f.xcr0 = 0;
        ck_assert_msg(milnce_blas_best_for(&f) == NULL, "%s without XSAVE", cpus[i].cpu);
    }
}
END_TEST

/* This machine: CPUID (milnce_cpu_features_host) agrees with the kernel's /proc/cpuinfo on the
 * flags every Linux since 4.x lists, and the decision holds for what OpenBLAS runs now. */
START_TEST(test_host) {
    FILE *fp = fopen("/proc/cpuinfo", "r"); /* milnce runs on Linux (it re-executes /proc/self/exe) */
    ck_assert_msg(fp != NULL, "cannot read /proc/cpuinfo");
    char line[8192] = "";
    while (fgets(line, sizeof line, fp) && strncmp(line, "flags", 5) != 0) line[0] = '\0';
    fclose(fp);
    ck_assert_msg(strncmp(line, "flags", 5) == 0, "no flags line in /proc/cpuinfo");
    milnce_cpu_features host = milnce_cpu_features_host();
    milnce_cpu_features listed = parse_flags(strchr(line, ':') + 1, host.xcr0);
    unsigned base = MILNCE_CPU_AVX | MILNCE_CPU_FMA | MILNCE_CPU_AVX2 | MILNCE_CPU_AVX512F | MILNCE_CPU_AVX512DQ |
                    MILNCE_CPU_AVX512CD | MILNCE_CPU_AVX512BW | MILNCE_CPU_AVX512VL;
    ck_assert_msg((host.flags & base) == (listed.flags & base), "CPUID %#x, /proc/cpuinfo %#x", host.flags & base,
                  listed.flags & base);
    /* Flags newer kernels list: whatever the kernel lists, CPUID has. */
    ck_assert_msg((listed.flags & ~host.flags) == 0, "listed but not in CPUID: %#x", listed.flags & ~host.flags);
    printf("this CPU: best %s, running %s (%s)\n", milnce_blas_best_core() ? milnce_blas_best_core() : "(default)",
           milnce_blas_core(), milnce_blas_status());
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("blas_select");
    TCase *tc = tcase_create("decide");
    int n = (int)(sizeof cpus / sizeof cpus[0]);
    tcase_add_loop_test(tc, test_best_kernel, 0, n);
    tcase_add_loop_test(tc, test_running_kernel, 0, n);
    tcase_add_loop_test(tc, test_user_coretype, 0, n);
    tcase_add_test(tc, test_os_support);
    tcase_add_test(tc, test_host);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
