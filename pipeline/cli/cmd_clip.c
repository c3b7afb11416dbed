/* milnce clip VIDEO --start S --end E --fps F --size N [--crop ...] --out FILE.npy */
#include <libavutil/log.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_opts.h"
#include "commands.h"
#include "npy.h"
#include "video.h"

typedef struct clip_args {
    const char *path, *out;
    milnce_clip_spec spec;
    int crop_size, no_skip;
} clip_args;

/* --crop center | none | X,Y (fractions of the free room, in [0, 1]) -> the spec's crop fields. */
static int parse_crop(const char *v, void *field, milnce_error *err) {
    milnce_clip_spec *spec = field;
    char extra;
    if (!strcmp(v, "center")) spec->crop = MILNCE_CROP_CENTER;
    else if (!strcmp(v, "none")) spec->crop = MILNCE_CROP_NONE;
    else if (sscanf(v, "%lf,%lf%c", &spec->crop_x, &spec->crop_y, &extra) == 2 && spec->crop_x >= 0 &&
             spec->crop_x <= 1 && spec->crop_y >= 0 && spec->crop_y <= 1)
        spec->crop = MILNCE_CROP_OFFSET;
    else return milnce_error_set(err, MILNCE_ERR_INVALID, "bad value '%s': center, none or X,Y in [0, 1]", v);
    return 0;
}

#define A(f) offsetof(clip_args, f)
static const milnce_opt clip_opts[] = {
    {.name = "VIDEO", .type = MILNCE_OPT_ARG, .off = A(path), .flags = MILNCE_OPT_REQUIRED, .help = "the video file"},
    {.name = "start", .type = MILNCE_OPT_DOUBLE, .off = A(spec.start), .meta = "S", .lo = 0, .hi = 1e9, .flags = MILNCE_OPT_REQUIRED, .help = "first second (from the container's start)"},
    {.name = "end", .type = MILNCE_OPT_DOUBLE, .off = A(spec.end), .meta = "E", .lo = 0, .hi = 1e9, .flags = MILNCE_OPT_REQUIRED, .help = "end second (excluded), > S"},
    {.name = "fps", .type = MILNCE_OPT_DOUBLE, .off = A(spec.fps), .meta = "F", .lo = 1e-3, .hi = 1000, .flags = MILNCE_OPT_REQUIRED, .help = "frames per second"},
    {.name = "size", .type = MILNCE_OPT_INT, .off = A(spec.size), .meta = "N", .lo = 0, .hi = 1000000, .flags = MILNCE_OPT_REQUIRED, .help = "short side after resizing (0 keeps the size; the long side keeps\nthe aspect ratio, rounded to even)"},
    {.name = "out", .type = MILNCE_OPT_STRING, .off = A(out), .meta = "FILE.npy", .flags = MILNCE_OPT_REQUIRED, .help = "uint8 (T, H, W, 3) RGB frames"},
    {.name = "crop", .type = MILNCE_OPT_CUSTOM, .off = A(spec), .meta = "center|none|X,Y", .parse = parse_crop, .dflt = "center", .help = "centred C x C square, the whole resized frame, or the C x C square\nat fractions X, Y in [0, 1] of the free room"},
    {.name = "crop-size", .type = MILNCE_OPT_INT, .off = A(crop_size), .meta = "C", .lo = 0, .hi = 1000000, .dflt = "N, or the short side when N is 0", .help = "side of the crop"},
    {.name = "max-frames", .type = MILNCE_OPT_INT, .off = A(spec.max_frames), .meta = "T", .lo = 0, .hi = 1000000, .dflt = "all", .help = "at most T frames"},
    {.name = "no-skip", .type = MILNCE_OPT_FLAG, .off = A(no_skip), .help = "decode every frame, also those the output does not use"},
    {0}};

const milnce_cmd_spec milnce_cmd_clip_spec = {
    "clip",
    "Decodes the frames of VIDEO in [S, E) seconds at F frames per second, autorotated,\n"
    "resized, cropped, and writes them as uint8 (T, H, W, 3) RGB to FILE.npy. The frames are those of\n"
    "  ffmpeg -ss S -i VIDEO -t E-S -vf fps=F,scale=..,crop=C:C -pix_fmt rgb24 -f rawvideo -",
    clip_opts, sizeof(clip_args)};

int milnce_cmd_clip(int argc, char **argv) {
    clip_args a = {.spec = {.crop = MILNCE_CROP_CENTER}, .crop_size = -1};
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_clip_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_cli_free(&cli);
    const char *path = a.path, *outp = a.out;
    milnce_clip_spec spec = a.spec;
    milnce_error err = {0};
    milnce_decoder *d = NULL;
    milnce_frames fr = {0};
    rc = MILNCE_EXIT_ERROR;
    if (!(spec.end > spec.start)) {
        fprintf(stderr, "milnce clip: need 0 <= --start < --end and --fps > 0\n");
        return MILNCE_EXIT_USAGE;
    }
    spec.crop_size = a.crop_size >= 0 ? a.crop_size : spec.size;

    av_log_set_level(AV_LOG_QUIET);
    milnce_logger lg = milnce_stderr_logger("clip");
    if (milnce_decoder_open(&d, path, &lg, &err) < 0) {
        fprintf(stderr, "milnce clip: %s\n", err.msg);
        goto end;
    }
    if (a.no_skip) milnce_decoder_set_skip(d, 0);
    if (milnce_decoder_clip(d, &spec, &fr, &err) < 0) {
        fprintf(stderr, "milnce clip: %s\n", err.msg);
        goto end;
    }
    if (fr.t == 0) {
        fprintf(stderr, "milnce clip: %s: no frame in [%g, %g) s (duration %.3f s)\n", path, spec.start,
                spec.end, milnce_decoder_info(d)->duration);
        goto end;
    }
    int64_t shape[4] = {fr.t, fr.h, fr.w, 3};
    if (milnce_npy_write(outp, MILNCE_NPY_U8, 4, shape, fr.data, &err) < 0) {
        fprintf(stderr, "milnce clip: %s\n", err.msg);
        goto end;
    }
    fprintf(stderr, "milnce clip: %s: %d frames of %dx%d to %s\n", path, fr.t, fr.w, fr.h, outp);
    rc = MILNCE_EXIT_OK;
end:
    milnce_frames_free(&fr);
    milnce_decoder_free(&d);
    return rc;
}
