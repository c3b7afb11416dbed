/* milnce synth: write a synthetic narrated corpus with a known answer. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>

#include "cmd_opts.h"
#include "commands.h"
#include "synth.h"

/* Warnings always; per-video lines (debug) with --verbose. */
typedef struct synth_log {
    milnce_logger inner;
    int verbose;
} synth_log;

static void filter_log(void *user, int level, const char *msg) {
    synth_log *l = user;
    if (level <= MILNCE_LOG_WARN || l->verbose) l->inner.fn(l->inner.user, level, msg);
}

typedef struct synth_args {
    milnce_synth_opts o;
    int quiet, verbose;
} synth_args;

/* --seed: any unsigned 64-bit integer. */
static int parse_seed(const char *v, void *field, milnce_error *err) {
    char *end;
    errno = 0;
    unsigned long long s = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-')
        return milnce_error_set(err, MILNCE_ERR_INVALID, "bad value '%s': an unsigned integer", v);
    *(uint64_t *)field = s;
    return 0;
}

/* --size WxH: even sides in [16, 4096] -> params.width, params.height. */
static int parse_size(const char *v, void *field, milnce_error *err) {
    milnce_synth_params *p = field;
    int w, h;
    char x;
    if (sscanf(v, "%d%c%d", &w, &x, &h) != 3 || x != 'x' || w < 16 || h < 16 || w > 4096 || h > 4096 || (w & 1) ||
        (h & 1))
        return milnce_error_set(err, MILNCE_ERR_INVALID, "bad value '%s': WxH, even sides in [16, 4096]", v);
    p->width = w;
    p->height = h;
    return 0;
}

#define A(f) offsetof(synth_args, f)
static const milnce_opt synth_opts[] = {
    {.name = "out", .type = MILNCE_OPT_STRING, .off = A(o.out), .meta = "DIR", .flags = MILNCE_OPT_REQUIRED, .help = "output folder"},
    {.name = "videos", .type = MILNCE_OPT_INT, .off = A(o.videos), .meta = "N", .lo = 0, .hi = 99999, .help = "training videos"},
    {.name = "eval-videos", .type = MILNCE_OPT_INT, .off = A(o.eval_videos), .meta = "N", .lo = 0, .hi = 99999, .help = "evaluation videos"},
    {.name = "seed", .type = MILNCE_OPT_CUSTOM, .off = A(o.params.seed), .meta = "S", .parse = parse_seed, .dflt = "1", .help = "random seed"},
    {.name = "min-seconds", .type = MILNCE_OPT_DOUBLE, .off = A(o.params.min_seconds), .meta = "T", .lo = 3, .hi = 36000, .help = "shortest video"},
    {.name = "max-seconds", .type = MILNCE_OPT_DOUBLE, .off = A(o.params.max_seconds), .meta = "T", .lo = 3, .hi = 36000, .help = "longest video"},
    {.name = "size", .type = MILNCE_OPT_CUSTOM, .off = A(o.params), .meta = "WxH", .parse = parse_size, .dflt = "160x120 or 128x96 by video", .help = "one size for all videos"},
    {.name = "fps", .type = MILNCE_OPT_INT, .off = A(o.params.fps), .meta = "F", .lo = 1, .hi = 120, .dflt = "10, 12 or 15 by video", .help = "one frame rate for all videos"},
    {.name = "max-shift", .type = MILNCE_OPT_DOUBLE, .off = A(o.params.max_shift), .meta = "X", .lo = 0, .hi = 100, .help = "largest narration shift, in mean segment lengths (bell-shaped,\nstandard deviation X / 3)"},
    {.name = "drop", .type = MILNCE_OPT_DOUBLE, .off = A(o.params.drop_prob), .meta = "P", .lo = 0, .hi = 1, .help = "probability a sentence is missing"},
    {.name = "fillers", .type = MILNCE_OPT_DOUBLE, .off = A(o.params.filler_per_segment), .meta = "X", .lo = 0, .hi = 10, .help = "filler lines per segment"},
    {.name = "crf", .type = MILNCE_OPT_INT, .off = A(o.crf), .meta = "N", .lo = 0, .hi = 51, .help = "x264 quality"},
    {.name = "threads", .type = MILNCE_OPT_INT, .off = A(o.threads), .meta = "N", .lo = 1, .hi = 64, .help = "parallel encoders"},
    {.name = "shard", .type = MILNCE_OPT_FLAG, .off = A(o.shard), .help = "also pack the training videos + narration JSON into\nDIR/shards/train-NNNNNN.tar (WebDataset layout + index)"},
    {.name = "shard-samples", .type = MILNCE_OPT_INT, .off = A(o.shard_samples), .meta = "N", .lo = 1, .hi = 1000000, .help = "samples per shard"},
    {.name = "quiet", .short_name = 'q', .type = MILNCE_OPT_FLAG, .off = A(quiet), .help = "print nothing on success"},
    {.name = "verbose", .short_name = 'v', .type = MILNCE_OPT_FLAG, .off = A(verbose), .help = "one line per video, and FFmpeg's messages"},
    {0}};

const milnce_cmd_spec milnce_cmd_synth_spec = {
    "synth",
    "Writes a HowTo100M-style corpus with a known answer: H.264 videos of shapes that move,\n"
    "grow, shrink or spin over a moving background; narration that describes each segment\n"
    "with varied wording plus filler lines, shifted in time like ASR (CSV, SRT and WebVTT,\n"
    "by video); a video list; and an evaluation split with clean aligned captions in the\n"
    "YouCook2 layout. The same seed gives byte-identical files.",
    synth_opts, sizeof(synth_args)};

int milnce_cmd_synth(int argc, char **argv) {
    synth_args a;
    memset(&a, 0, sizeof a);
    milnce_synth_opts_init(&a.o);
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_synth_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_cli_free(&cli);
    const milnce_synth_opts o = a.o;
    int quiet = a.quiet, verbose = a.verbose;
    if (o.params.max_seconds < o.params.min_seconds) {
        fprintf(stderr, "milnce synth: --max-seconds %g is below --min-seconds %g\n", o.params.max_seconds,
                o.params.min_seconds);
        return MILNCE_EXIT_USAGE;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    synth_log sl = {milnce_stderr_logger("synth"), verbose};
    milnce_logger lg = {filter_log, &sl};
    av_log_set_level(verbose ? AV_LOG_INFO : AV_LOG_ERROR); /* x264's per-encode statistics */
    milnce_error err = {0};
    milnce_synth_stats st;
    memset(&st, 0, sizeof st);
    if (milnce_synth_run(&o, &lg, &st, &err) < 0) {
        fprintf(stderr, "milnce synth: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (!quiet) {
        printf("wrote %d videos (%.0f s of video, %lld frames, %.1f MB) and %d narration lines to %s",
               st.videos, st.seconds, (long long)st.frames, (double)st.bytes / 1e6, st.lines, o.out);
        if (o.shard) printf(", %d shard%s", st.shards, st.shards == 1 ? "" : "s");
        printf(" in %.1f s (%.0f frames/s)\n", secs, secs > 0 ? (double)st.frames / secs : 0.0);
    }
    return MILNCE_EXIT_OK;
}
