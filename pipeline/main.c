/* milnce: the command. One table of subcommands; `milnce --help` prints it. */
#include <libavutil/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas_select.h"
#include "commands.h"

static const milnce_command commands[] = {
    {"demo", milnce_cmd_demo, "the whole job on a generated corpus: synth, preprocess, train, eval, report"},
    {"info", milnce_cmd_info, "versions of FFmpeg and OpenBLAS and the BLAS kernel in use"},
    {"config", milnce_cmd_config, "print a config resolved with its defaults and --set overrides"},
    {"probe", milnce_cmd_probe, "describe a video file as JSON (container, codec, duration, fps, size, rotation)"},
    {"clip", milnce_cmd_clip, "decode the frames training would see from a span of a video into .npy"},
    {"preprocess", milnce_cmd_preprocess, "turn videos and their narration into training shards (resumable, parallel)"},
    {"train", milnce_cmd_train, "train the video and text encoders with MIL-NCE (one machine or MPI)"},
    {"captions", milnce_cmd_captions, "read narration (CSV, caption.json, SRT, WebVTT) and print cues, tokens and bags as JSON"},
    {"report", milnce_cmd_report, "write the self-contained HTML report of a run folder"},
    {"synth", milnce_cmd_synth, "write a synthetic narrated corpus with a known answer (videos, ASR-like narration, eval split)"},
    {"eval", milnce_cmd_eval, "clip<->text retrieval of a checkpoint (YouCook2, MSR-VTT, held-out shards) -> eval.json"},
    {"import", milnce_cmd_import, "import the released S3D HowTo100M model or MIL-NCE's word2vec from PyTorch files (no Python)"},
    {"embed", milnce_cmd_embed, "embed videos (per window or averaged) or sentences with a checkpoint -> .npy + ids"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: milnce <command> [options]\n\nLearn joint video-text embeddings from narrated videos (MIL-NCE).\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n'milnce <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv) {
    milnce_blas_select_kernel(argc, argv);
    /* FFmpeg's own chatter (x264 statistics, demuxer notes) is process-wide state, so the
     * command sets it: errors only, unless MILNCE_FFMPEG_LOG=1. Library code reports through
     * milnce_logger. */
    if (!getenv("MILNCE_FFMPEG_LOG")) av_log_set_level(AV_LOG_ERROR);
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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "milnce: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return MILNCE_EXIT_USAGE;
}
