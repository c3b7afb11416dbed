/* milnce: the command. Dispatches to the subcommands of milnce_commands(); `milnce --help` lists them. */
#include <libavutil/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas_select.h"
#include "commands.h"

static void usage(FILE *out) {
    fprintf(out, "usage: milnce <command> [options]\n\nLearn joint video-text embeddings from narrated videos (MIL-NCE).\n\ncommands:\n");
    size_t n;
    const milnce_command *commands = milnce_commands(&n);
    for (size_t i = 0; i < n; i++) fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n'milnce <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv) {
    milnce_blas_select_kernel(argc, argv);
    /* FFmpeg's own chatter (x264 statistics, demuxer notes) is process-wide state, so the
     * command sets it: errors only, unless MILNCE_FFMPEG_LOG=1. Library code reports through
     * milnce_logger. */
    if (!getenv("MILNCE_FFMPEG_LOG")) av_log_set_level(AV_LOG_ERROR);
    milnce_ffmpeg_log_with_paths();
    if (argc < 2) {
        usage(stderr);
        return MILNCE_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return MILNCE_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("milnce %s\n", MILNCE_VERSION);
        return MILNCE_EXIT_OK;
    }
    size_t n;
    const milnce_command *commands = milnce_commands(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "milnce: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return MILNCE_EXIT_USAGE;
}
