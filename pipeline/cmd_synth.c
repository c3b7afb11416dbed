/* milnce synth: write a synthetic narrated corpus with a known answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>

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

static void usage(FILE *f) {
    fprintf(f,
            "usage: milnce synth --out DIR [options]\n"
            "\n"
            "Writes a HowTo100M-style corpus with a known answer: H.264 videos of shapes that move,\n"
            "grow, shrink or spin over a moving background; narration that describes each segment\n"
            "with varied wording plus filler lines, shifted in time like ASR (CSV, SRT and WebVTT,\n"
            "by video); a video list; and an evaluation split with clean aligned captions in the\n"
            "YouCook2 layout. The same seed gives byte-identical files.\n"
            "\n"
            "options:\n"
            "  --out DIR            output folder (required)\n"
            "  --videos N           training videos (default 8)\n"
            "  --eval-videos N      evaluation videos (default 4)\n"
            "  --seed S             random seed (default 1)\n"
            "  --min-seconds T      shortest video (default 30)\n"
            "  --max-seconds T      longest video (default 90)\n"
            "  --size WxH           one size for all videos (default: 160x120 or 128x96 by video)\n"
            "  --fps F              one frame rate for all videos (default: 10, 12 or 15 by video)\n"
            "  --max-shift X        largest narration shift, in mean segment lengths (default\n"
            "                       1.5; bell-shaped, standard deviation X / 3)\n"
            "  --drop P             probability a sentence is missing (default 0.15)\n"
            "  --fillers X          filler lines per segment (default 0.4)\n"
            "  --crf N              x264 quality, 0..51 (default 23)\n"
            "  --threads N          parallel encoders (default 2)\n"
            "  --shard              also pack the training videos + narration JSON into\n"
            "                       DIR/shards/train-NNNNNN.tar (WebDataset layout + index)\n"
            "  --shard-samples N    samples per shard (default 16)\n"
            "  -q, --quiet          print nothing on success\n"
            "  -v, --verbose        one line per video, and FFmpeg's messages\n");
}

static int parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

int milnce_cmd_synth(int argc, char **argv) {
    if (milnce_wants_help(argc, argv)) {
        usage(stdout);
        return MILNCE_EXIT_OK;
    }
    milnce_synth_opts o;
    milnce_synth_opts_init(&o);
    int quiet = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        int bad = 0, used = 1;
        if (strcmp(a, "--shard") == 0) { o.shard = 1; used = 0; }
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) { quiet = 1; used = 0; }
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) { verbose = 1; used = 0; }
        else if (!val) bad = 1;
        else if (strcmp(a, "--out") == 0) o.out = val;
        else if (strcmp(a, "--videos") == 0) { bad = parse_int(val, 0, 99999, &n); o.videos = (int)n; }
        else if (strcmp(a, "--eval-videos") == 0) { bad = parse_int(val, 0, 99999, &n); o.eval_videos = (int)n; }
        else if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            bad = errno || end == val || *end || val[0] == '-';
            o.params.seed = s;
        }
        else if (strcmp(a, "--min-seconds") == 0) bad = parse_double(val, 3, 36000, &o.params.min_seconds);
        else if (strcmp(a, "--max-seconds") == 0) bad = parse_double(val, 3, 36000, &o.params.max_seconds);
        else if (strcmp(a, "--size") == 0) {
            int w, h;
            char x;
            bad = sscanf(val, "%d%c%d", &w, &x, &h) != 3 || x != 'x' || w < 16 || h < 16 || w > 4096 ||
                  h > 4096 || (w & 1) || (h & 1);
            o.params.width = w;
            o.params.height = h;
        }
        else if (strcmp(a, "--fps") == 0) { bad = parse_int(val, 1, 120, &n); o.params.fps = (int)n; }
        else if (strcmp(a, "--max-shift") == 0) bad = parse_double(val, 0, 100, &o.params.max_shift);
        else if (strcmp(a, "--drop") == 0) bad = parse_double(val, 0, 1, &o.params.drop_prob);
        else if (strcmp(a, "--fillers") == 0) bad = parse_double(val, 0, 10, &o.params.filler_per_segment);
        else if (strcmp(a, "--crf") == 0) { bad = parse_int(val, 0, 51, &n); o.crf = (int)n; }
        else if (strcmp(a, "--threads") == 0) { bad = parse_int(val, 1, 64, &n); o.threads = (int)n; }
        else if (strcmp(a, "--shard-samples") == 0) { bad = parse_int(val, 1, 1000000, &n); o.shard_samples = (int)n; }
        else {
            fprintf(stderr, "milnce synth: unknown option '%s'\n", a);
            usage(stderr);
            return MILNCE_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "milnce synth: bad or missing value for %s%s%s\n", a, val ? ": " : "",
                    val ? val : "");
            return MILNCE_EXIT_USAGE;
        }
        i += used;
    }
    if (!o.out) {
        fprintf(stderr, "milnce synth: --out DIR is required\n");
        usage(stderr);
        return MILNCE_EXIT_USAGE;
    }
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
