/* milnce info: what this build runs on. */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>

#include "blas_select.h"
#include "cmd_opts.h"
#include "commands.h"
#include "milnce/context.h"

extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);

static void ver(const char *name, unsigned v) {
    printf("  %-12s %u.%u.%u\n", name, v >> 16, (v >> 8) & 0xff, v & 0xff);
}

static const milnce_opt info_opts[] = {{0}};

const milnce_cmd_spec milnce_cmd_info_spec = {
    "info",
    "Prints the milnce version, the FFmpeg and OpenBLAS libraries in use, and the\n"
    "OpenBLAS kernel this process runs (milnce picks the fastest one the CPU supports).",
    info_opts, 0};

int milnce_cmd_info(int argc, char **argv) {
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_info_spec, NULL, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_cli_free(&cli);
    printf("milnce %s\n", MILNCE_VERSION);
    printf("FFmpeg %s\n", av_version_info());
    ver("libavformat", avformat_version());
    ver("libavcodec", avcodec_version());
    ver("libavutil", avutil_version());
    ver("libswscale", swscale_version());
    printf("OpenBLAS %s\n", openblas_get_config());
    printf("  core        %s\n", milnce_blas_core());
    printf("  best for CPU %s\n", milnce_blas_best_core() ? milnce_blas_best_core() : "(default)");
    printf("  selection   %s\n", milnce_blas_status());
    if (milnce_blas_pinned_note()) printf("  note        %s\n", milnce_blas_pinned_note());
    printf("  threads     %d\n", openblas_get_num_threads());
    milnce_cpu_features cpu = milnce_cpu_features_host();
    printf("Precision   fp32 (OpenBLAS sgemm)%s\n",
           milnce_bf16_supported() ? ", bf16 (milnce AVX512_BF16 kernel, vdpbf16ps)"
                                   : "; bf16 not available: no AVX512_BF16");
    printf("  default   train.precision and eval.precision fp32; auto = %s here\n",
           milnce_bf16_supported() ? "bf16" : "fp32");
    if (cpu.flags & MILNCE_CPU_AMX_BF16)
        printf("  AMX       present (AMX-BF16), not used: the bf16 kernel is AVX512_BF16\n");
    printf("OpenMP wait policy %s\n", getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "(library default)");
#ifdef MILNCE_HAVE_MPI
    printf("MPI         built with MPI support\n");
#else
    printf("MPI         not built\n");
#endif
    return MILNCE_EXIT_OK;
}
