/* milnce clip VIDEO --start S --end E --fps F --size N [--crop ...] --out FILE.npy */
#include <errno.h>
#include <libavutil/log.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "npy.h"
#include "video.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: milnce clip VIDEO --start S --end E --fps F --size N [--crop center|none|X,Y]\n"
            "                   [--crop-size C] [--max-frames T] --out FILE.npy\n\n"
            "Decodes the frames of VIDEO in [S, E) seconds (from the container's start) at F frames\n"
            "per second, autorotated, resized so the short side is N (0 keeps the size; the long\n"
            "side keeps the aspect ratio, rounded to even), cropped, and writes them as uint8\n"
            "(T, H, W, 3) RGB to FILE.npy. The frames are those of\n"
            "  ffmpeg -ss S -i VIDEO -t E-S -vf fps=F,scale=..,crop=C:C -pix_fmt rgb24 -f rawvideo -\n\n"
            "  --crop center   centred C x C square (default)\n"
            "  --crop none     the whole resized frame\n"
            "  --crop X,Y      C x C square at fractions X, Y in [0, 1] of the free room\n"
            "  --crop-size C   side of the crop (default N, or the short side when N is 0)\n"
            "  --max-frames T  at most T frames (default all)\n"
            "  --no-skip       decode every frame, also those the output does not use\n");
}

static int parse_double(const char *s, double *v) {
    char *e;
    errno = 0;
    *v = strtod(s, &e);
    return !(errno || e == s || *e || !isfinite(*v));
}

static int parse_int(const char *s, int *v) {
    char *e;
    errno = 0;
    long x = strtol(s, &e, 10);
    if (errno || e == s || *e || x < 0 || x > 1000000) return 0;
    *v = (int)x;
    return 1;
}

int milnce_cmd_clip(int argc, char **argv) {
    const char *path = NULL, *outp = NULL;
    milnce_clip_spec spec = {0};
    int no_skip = 0, have_start = 0, have_end = 0, have_fps = 0, have_size = 0, crop_size = -1;
    milnce_error err = {0};
    milnce_decoder *d = NULL;
    milnce_frames fr = {0};
    int rc = MILNCE_EXIT_ERROR;

    if (milnce_wants_help(argc, argv)) {
        usage(stdout);
        return MILNCE_EXIT_OK;
    }
    spec.crop = MILNCE_CROP_CENTER;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (a[0] != '-' || !a[1]) {
            if (path) {
                fprintf(stderr, "milnce clip: one VIDEO expected, got '%s' too\n", a);
                return MILNCE_EXIT_USAGE;
            }
            path = a;
            continue;
        }
        if (!strcmp(a, "--no-skip")) { /* decode every frame (for comparisons) */
            no_skip = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "milnce clip: option %s needs a value\n", a);
            return MILNCE_EXIT_USAGE;
        }
        if (!strcmp(a, "--start")) ok = parse_double(v, &spec.start), have_start = 1;
        else if (!strcmp(a, "--end")) ok = parse_double(v, &spec.end), have_end = 1;
        else if (!strcmp(a, "--fps")) ok = parse_double(v, &spec.fps), have_fps = 1;
        else if (!strcmp(a, "--size")) ok = parse_int(v, &spec.size), have_size = 1;
        else if (!strcmp(a, "--crop-size")) ok = parse_int(v, &crop_size);
        else if (!strcmp(a, "--max-frames")) ok = parse_int(v, &spec.max_frames);
        else if (!strcmp(a, "--out")) outp = v;
        else if (!strcmp(a, "--crop")) {
            if (!strcmp(v, "center")) spec.crop = MILNCE_CROP_CENTER;
            else if (!strcmp(v, "none")) spec.crop = MILNCE_CROP_NONE;
            else {
                char extra;
                spec.crop = MILNCE_CROP_OFFSET;
                ok = sscanf(v, "%lf,%lf%c", &spec.crop_x, &spec.crop_y, &extra) == 2 &&
                     spec.crop_x >= 0 && spec.crop_x <= 1 && spec.crop_y >= 0 && spec.crop_y <= 1;
            }
        } else {
            fprintf(stderr, "milnce clip: unknown option '%s'\n", a);
            usage(stderr);
            return MILNCE_EXIT_USAGE;
        }
        if (!ok) {
            fprintf(stderr, "milnce clip: bad value '%s' for %s\n", v, a);
            return MILNCE_EXIT_USAGE;
        }
        i++;
    }
    if (!path || !outp || !have_start || !have_end || !have_fps || !have_size) {
        fprintf(stderr, "milnce clip: VIDEO, --start, --end, --fps, --size and --out are required\n");
        usage(stderr);
        return MILNCE_EXIT_USAGE;
    }
    if (!(spec.end > spec.start) || spec.start < 0 || !(spec.fps > 0)) {
        fprintf(stderr, "milnce clip: need 0 <= --start < --end and --fps > 0\n");
        return MILNCE_EXIT_USAGE;
    }
    spec.crop_size = crop_size >= 0 ? crop_size : spec.size;

    av_log_set_level(AV_LOG_QUIET);
    milnce_logger lg = milnce_stderr_logger("clip");
    if (milnce_decoder_open(&d, path, &lg, &err) < 0) {
        fprintf(stderr, "milnce clip: %s\n", err.msg);
        goto end;
    }
    if (no_skip) milnce_decoder_set_skip(d, 0);
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
