/* milnce_testhooks: the milnce command with test-only fault injection, for the end-to-end tests.
 * Built beside the command, never installed: the shipped binary reads no test switches.
 *
 *   milnce_testhooks [--nan-step N] train ARGS...   milnce train ARGS with step N's loss NaN */
#include <libavutil/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas_select.h"
#include "commands.h"

int main(int argc, char **argv) {
    milnce_blas_select_kernel(argc, argv);
    if (!getenv("MILNCE_FFMPEG_LOG")) av_log_set_level(AV_LOG_ERROR);
    milnce_train_test_hooks th = {0};
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--nan-step") == 0) th.nan_step = atoll(argv[i + 1]);
        else break;
    }
    if (i < argc && strcmp(argv[i], "train") == 0) return milnce_cmd_train_hooked(argc - i, argv + i, &th);
    fprintf(stderr, "usage: milnce_testhooks [--nan-step N] train ARGS...\n");
    return MILNCE_EXIT_USAGE;
}
