/* milnce probe VIDEO: describe a video file as JSON. */
#include <jansson.h>
#include <libavutil/log.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cmd_opts.h"
#include "commands.h"
#include "video.h"

typedef struct probe_args {
    const char *path;
} probe_args;

static const milnce_opt probe_opts[] = {
    {.name = "VIDEO", .type = MILNCE_OPT_ARG, .off = offsetof(probe_args, path), .flags = MILNCE_OPT_REQUIRED, .help = "the video file"},
    {0}};

const milnce_cmd_spec milnce_cmd_probe_spec = {
    "probe",
    "Prints a JSON object describing VIDEO: container, codec, pixel format, duration\n"
    "(seconds; scanned from the packets when the header has none, then\n"
    "\"duration_source\": \"scan\"), start time, average and real frame rates\n"
    "(\"variable_frame_rate\" when they differ), frame count from the header (0 when\n"
    "unknown), coded size, display rotation (degrees counter-clockwise, as ffprobe reports\n"
    "it), the size after autorotation, and the list of streams.",
    probe_opts, sizeof(probe_args)};

static json_t *rate(int num, int den) {
    char b[64];
    snprintf(b, sizeof b, "%d/%d", num, den);
    return json_string(b);
}

int milnce_cmd_probe(int argc, char **argv) {
    probe_args a = {0};
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_probe_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_cli_free(&cli);
    const char *path = a.path;
    milnce_video_info info;
    milnce_error err = {0};
    av_log_set_level(AV_LOG_QUIET);
    if (milnce_video_probe(path, &info, &err) < 0) {
        fprintf(stderr, "milnce probe: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(o, "container", json_string(info.container));
    json_object_set_new(o, "codec", json_string(info.codec));
    json_object_set_new(o, "pix_fmt", json_string(info.pix_fmt));
    json_object_set_new(o, "duration", json_real(info.duration));
    json_object_set_new(o, "duration_source", json_string(info.duration_scanned ? "scan" : "header"));
    json_object_set_new(o, "start_time", json_real(info.start_time));
    json_object_set_new(o, "avg_frame_rate", rate(info.avg_fps_num, info.avg_fps_den));
    json_object_set_new(o, "avg_fps", json_real(info.avg_fps));
    json_object_set_new(o, "r_frame_rate", rate(info.r_fps_num, info.r_fps_den));
    json_object_set_new(o, "r_fps", json_real(info.r_fps));
    json_object_set_new(o, "variable_frame_rate", json_boolean(info.vfr));
    json_object_set_new(o, "nb_frames", json_integer(info.nb_frames));
    json_object_set_new(o, "width", json_integer(info.width));
    json_object_set_new(o, "height", json_integer(info.height));
    json_object_set_new(o, "rotation", json_integer(info.rotation));
    json_object_set_new(o, "display_width", json_integer(info.display_width));
    json_object_set_new(o, "display_height", json_integer(info.display_height));
    json_object_set_new(o, "video_stream", json_integer(info.video_stream));
    json_t *streams = json_array();
    for (int i = 0; i < info.nb_streams && i < MILNCE_VIDEO_MAX_STREAMS; i++) {
        const milnce_stream_info *s = &info.streams[i];
        json_t *so = json_object();
        json_object_set_new(so, "index", json_integer(s->index));
        json_object_set_new(so, "type", json_string(s->type));
        json_object_set_new(so, "codec", json_string(s->codec));
        if (!strcmp(s->type, "video")) {
            json_object_set_new(so, "width", json_integer(s->width));
            json_object_set_new(so, "height", json_integer(s->height));
        } else if (!strcmp(s->type, "audio")) {
            json_object_set_new(so, "sample_rate", json_integer(s->sample_rate));
            json_object_set_new(so, "channels", json_integer(s->channels));
        }
        if (s->language[0]) json_object_set_new(so, "language", json_string(s->language));
        json_array_append_new(streams, so);
    }
    json_object_set_new(o, "streams", streams);
    rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (rc < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "milnce probe: cannot write to stdout\n");
        return MILNCE_EXIT_ERROR;
    }
    return MILNCE_EXIT_OK;
}
