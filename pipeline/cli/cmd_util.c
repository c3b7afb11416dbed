#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd_opts.h"
#include "commands.h"
#include "config.h"

const milnce_command *milnce_commands(size_t *n) {
    static const milnce_command commands[] = {
        {"demo", milnce_cmd_demo, "the whole job on a generated corpus: synth, preprocess, train, eval, report", &milnce_cmd_demo_spec},
        {"info", milnce_cmd_info, "versions of FFmpeg and OpenBLAS and the BLAS kernel in use", &milnce_cmd_info_spec},
        {"config", milnce_cmd_config, "print a config resolved with its defaults and --set overrides", &milnce_cmd_config_spec},
        {"probe", milnce_cmd_probe, "describe a video file as JSON (container, codec, duration, fps, size, rotation)", &milnce_cmd_probe_spec},
        {"clip", milnce_cmd_clip, "decode the frames training would see from a span of a video into .npy", &milnce_cmd_clip_spec},
        {"preprocess", milnce_cmd_preprocess, "turn videos and their narration into training shards (resumable, parallel)", &milnce_cmd_preprocess_spec},
        {"train", milnce_cmd_train, "train the video and text encoders with MIL-NCE (one machine or MPI)", &milnce_cmd_train_spec},
        {"captions", milnce_cmd_captions, "read narration (CSV, caption.json, SRT, WebVTT) and print cues, tokens and bags as JSON", &milnce_cmd_captions_spec},
        {"report", milnce_cmd_report, "write the self-contained HTML report of a run folder", &milnce_cmd_report_spec},
        {"synth", milnce_cmd_synth, "write a synthetic narrated corpus with a known answer (videos, ASR-like narration, eval split)", &milnce_cmd_synth_spec},
        {"eval", milnce_cmd_eval, "clip<->text retrieval of a checkpoint (YouCook2, MSR-VTT, held-out shards) -> eval.json", &milnce_cmd_eval_spec},
        {"import", milnce_cmd_import, "import the released S3D HowTo100M model or MIL-NCE's word2vec from PyTorch files (no Python)", &milnce_cmd_import_spec},
        {"embed", milnce_cmd_embed, "embed videos (per window or averaged) or sentences with a checkpoint -> .npy + ids", &milnce_cmd_embed_spec},
    };
    *n = sizeof commands / sizeof commands[0];
    return commands;
}

static void stderr_log(void *user, int level, const char *msg) {
    static const char *names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "milnce %s: %s: %s\n", (const char *)user,
            names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

milnce_logger milnce_stderr_logger(const char *cmd) {
    milnce_logger lg = {stderr_log, (void *)cmd};
    return lg;
}

static void stderr_log_warnings(void *user, int level, const char *msg) {
    if (level <= MILNCE_LOG_WARN) stderr_log(user, level, msg);
}

milnce_logger milnce_rank_logger(const char *cmd, int rank) {
    milnce_logger lg = {rank == 0 ? stderr_log : stderr_log_warnings, (void *)cmd};
    return lg;
}

static volatile sig_atomic_t stop_flag; /* the command's process-wide state, set from a signal handler */

static void on_stop_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

const volatile sig_atomic_t *milnce_stop_on_signals(void) {
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    return &stop_flag;
}

int milnce_cmd_check_config(const char *cmd, const milnce_cli *cli) {
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    if (milnce_cli_apply_config(cli, &cfg, &err) == 0) return 0;
    fprintf(stderr, "milnce %s: %s\n", cmd, err.msg);
    return -1;
}

/* FFmpeg's messages name the video they are about: a decoder carries its video's name in
 * AVCodecContext.opaque (io/video/video_decode.c), a demuxer in AVFormatContext.url. */
static void ffmpeg_log(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > av_log_get_level()) return;
    char line[1024];
    int print_prefix = 1;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
    const char *path = NULL;
    const AVClass *c = avcl ? *(const AVClass *const *)avcl : NULL;
    if (c && c->class_name && strcmp(c->class_name, "AVCodecContext") == 0) path = ((const AVCodecContext *)avcl)->opaque;
    else if (c && c->class_name && strcmp(c->class_name, "AVFormatContext") == 0) path = ((const AVFormatContext *)avcl)->url;
    if (path && *path) fprintf(stderr, "milnce: ffmpeg: %s: %s", path, line);
    else fprintf(stderr, "milnce: ffmpeg: %s", line);
}

void milnce_ffmpeg_log_with_paths(void) { av_log_set_callback(ffmpeg_log); }
