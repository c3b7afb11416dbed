#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"

int milnce_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
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

static volatile int stop_flag; /* the command's process-wide state, set from a signal handler */

static void on_stop_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

const volatile int *milnce_stop_on_signals(void) {
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    return &stop_flag;
}

int milnce_cmd_check_config(const char *cmd, const char *config, const char *const *sets, int nsets) {
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    int ret = config ? milnce_config_load(&cfg, config, &err) : 0;
    for (int i = 0; i < nsets && ret == 0; i++) ret = milnce_config_set(&cfg, sets[i], &err);
    if (ret < 0) fprintf(stderr, "milnce %s: %s\n", cmd, err.msg);
    return ret < 0 ? -1 : 0;
}

/* FFmpeg's messages name the video they are about: a decoder carries its video's name in
 * AVCodecContext.opaque (io/video_decode.c), a demuxer in AVFormatContext.url. */
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
