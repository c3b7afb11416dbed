/* milnce preprocess: videos + narration -> shards (see pipeline/preprocess.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_opts.h"
#include "commands.h"
#include "config.h"
#include "dist.h"
#include "preprocess.h"
#include "transcript.h"


typedef struct preprocess_args {
    milnce_preprocess_opts o;
    int crf, idx, num, vps;
    const char *merge;
    double max_seconds;
} preprocess_args;

#define A(f) offsetof(preprocess_args, f)
static const milnce_opt preprocess_opts[] = {
    {.name = "videos", .type = MILNCE_OPT_STRING, .flags = MILNCE_OPT_NOFIELD, .key = "data.video_list", .meta = "LIST", .help = "CSV with a video_path or video_id column, or a folder (required)"},
    {.name = "video-root", .type = MILNCE_OPT_STRING, .off = A(o.video_root), .meta = "DIR", .dflt = "the CSV's folder", .help = "where video_id rows are looked up"},
    {.name = "captions", .type = MILNCE_OPT_STRING, .flags = MILNCE_OPT_NOFIELD, .key = "data.captions", .meta = "SRC", .help = "folder of <id>.csv|srt|vtt|sbv|json, a caption.json, or 'embedded'\n(required)"},
    {.name = "out", .type = MILNCE_OPT_STRING, .off = A(o.out_dir), .meta = "DIR", .help = "output folder (required)"},
    {.name = "config", .type = MILNCE_OPT_CONFIG, .meta = "FILE", .help = "take data.fps, data.resize, data.workers, model.vocab* from a config"},
    {.name = "set", .type = MILNCE_OPT_SET, .meta = "section.key=V", .help = "override a config key (repeatable)"},
    {.name = "fps", .type = MILNCE_OPT_DOUBLE, .flags = MILNCE_OPT_NOFIELD, .key = "data.fps", .meta = "F", .lo = 0.1, .hi = 120, .help = "rendition frame rate"},
    {.name = "size", .type = MILNCE_OPT_INT, .flags = MILNCE_OPT_NOFIELD, .key = "data.resize", .meta = "S", .lo = 8, .hi = 2048, .help = "rendition short side in pixels"},
    {.name = "crf", .type = MILNCE_OPT_INT, .off = A(crf), .meta = "N", .lo = 0, .hi = 51, .dflt = "23", .help = "x264 quality"},
    {.name = "max-seconds", .type = MILNCE_OPT_DOUBLE, .off = A(max_seconds), .meta = "S", .lo = 0, .hi = 1e9, .dflt = "all", .help = "keep at most S seconds of each video"},
    {.name = "vocab", .type = MILNCE_OPT_STRING, .flags = MILNCE_OPT_NOFIELD, .key = "model.vocab", .meta = "FILE", .help = "use this vocabulary instead of building one"},
    {.name = "videos-per-shard", .type = MILNCE_OPT_INT, .off = A(vps), .meta = "N", .lo = 1, .hi = 1000000, .help = "videos in one shard"},
    {.name = "jobs", .type = MILNCE_OPT_INT, .flags = MILNCE_OPT_NOFIELD, .key = "data.workers", .meta = "N", .lo = 1, .hi = 256, .help = "worker threads"},
    {.name = "shard-index", .type = MILNCE_OPT_INT, .off = A(idx), .meta = "I", .lo = 0, .hi = 1e9, .dflt = "the MPI launcher's rank, else 0", .help = "make part I of N (with --num-shards)"},
    {.name = "num-shards", .type = MILNCE_OPT_INT, .off = A(num), .meta = "N", .lo = 1, .hi = 1e9, .dflt = "the MPI launcher's size, else 1", .help = "number of parts; each part writes stats.partI-of-N.json,\nthe last to finish the merged stats.json"},
    {.name = "merge-stats", .type = MILNCE_OPT_STRING, .off = A(merge), .meta = "DIR", .help = "only write DIR/stats.json and errors.log from its complete shards\n(no other input)"},
    {.name = "dedupe", .type = MILNCE_OPT_FLAG, .flags = MILNCE_OPT_NOFIELD, .key = "data.dedupe", .help = "drop words that repeat the previous rolling caption line"},
    {.name = "encodings", .type = MILNCE_OPT_STRING, .off = A(o.encoding_fallbacks), .meta = "LIST", .help = "iconv encodings tried for non-UTF-8 subtitles (e.g. GB18030,CP1252)"},
    {.name = "keep-complete", .type = MILNCE_OPT_FLAG, .off = A(o.keep_complete), .help = "keep every complete shard even when its inputs changed or were not\nrecorded (shards of an older milnce, a corpus moved elsewhere)"},
    {0}};

const milnce_cmd_spec milnce_cmd_preprocess_spec = {
    "preprocess",
    "Transcodes every video (short side --size, --fps, H.264) and its narration (tokenised)\n"
    "into tar shards in the WebDataset layout, with an index per shard, vocab.txt,\n"
    "stats.json and errors.log. Re-running resumes: complete shards are kept when their inputs\n"
    "(videos, narration, options, vocabulary) are unchanged, remade otherwise.\n"
    "--videos and --captions may come from the config instead (data.video_list, data.captions).",
    preprocess_opts, sizeof(preprocess_args)};

typedef struct progress_state {
    int tty;
    int64_t last_line;
} progress_state;

static void progress(void *user, const milnce_preprocess_progress *p) {
    progress_state *s = user;
    double rate = p->elapsed > 0 ? (double)p->done / p->elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    if (s->tty) {
        int width = 30, fill = p->total ? (int)(width * p->done / p->total) : width;
        fprintf(stderr, "\r[%.*s%*s] %lld/%lld videos  %.2f videos/s  %.0fx real time  ETA %d:%02d  skipped %lld ",
                fill, "##############################", width - fill, "", (long long)p->done, (long long)p->total,
                rate, p->elapsed > 0 ? p->video_seconds / p->elapsed : 0, (int)(eta / 60), (int)eta % 60,
                (long long)p->skipped);
        if (p->done == p->total) fputc('\n', stderr);
    } else {
        int64_t every = p->total / 20 > 0 ? p->total / 20 : 1;
        if (p->done - s->last_line >= every || p->done == p->total) {
            s->last_line = p->done;
            fprintf(stderr, "preprocess: %lld/%lld videos, %.2f videos/s, skipped %lld, ETA %.0f s\n",
                    (long long)p->done, (long long)p->total, rate, (long long)p->skipped, eta);
        }
    }
}

int milnce_cmd_preprocess(int argc, char **argv) {
    preprocess_args a = {.idx = -1, .num = -1, .vps = 64};
    milnce_preprocess_opts_default(&a.o);
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_preprocess_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    milnce_preprocess_opts o = a.o;
    int idx = a.idx, num = a.num;
    rc = MILNCE_EXIT_USAGE;
    if (a.merge) {
        int other = o.out_dir != NULL;
        for (int i = 0; i < cli.nsets; i++)
            other |= strncmp(cli.sets[i], "data.video_list=", 16) == 0 || strncmp(cli.sets[i], "data.captions=", 14) == 0;
        if (other) {
            fprintf(stderr, "milnce preprocess: --merge-stats DIR takes no other input (see --help)\n");
            goto done;
        }
        milnce_preprocess_stats st;
        if (milnce_preprocess_merge_stats(a.merge, &st, &err) < 0) {
            fprintf(stderr, "milnce preprocess: %s\n", err.msg);
            rc = MILNCE_EXIT_ERROR;
            goto done;
        }
        printf("preprocess: merged %d shards: %lld videos (%.1f s of video, %lld sentences), %lld skipped; %s/stats.json, %s/errors.log\n",
               st.shards_total, (long long)st.videos, st.seconds, (long long)st.sentences, (long long)st.skipped, a.merge, a.merge);
        rc = MILNCE_EXIT_OK;
        goto done;
    }
    if (milnce_cli_apply_config(&cli, &cfg, &err) < 0) {
        fprintf(stderr, "milnce preprocess: %s\n", err.msg);
        goto done;
    }
    if (!o.video_list && cfg.data.video_list[0]) o.video_list = cfg.data.video_list;
    if (!o.captions && cfg.data.captions[0]) o.captions = cfg.data.captions;
    if (!o.vocab_path && cfg.model.vocab[0]) o.vocab_path = cfg.model.vocab;
    if (!o.video_list || !o.captions || !o.out_dir) {
        fprintf(stderr, "milnce preprocess: --videos, --captions and --out are required (see --help)\n");
        goto done;
    }
    o.fps = cfg.data.fps;
    o.size = cfg.data.resize;
    o.crf = a.crf;
    o.max_seconds = a.max_seconds;
    o.jobs = cfg.data.workers;
    o.videos_per_shard = a.vps;
    o.vocab_max = cfg.model.vocab_max;
    o.vocab_min_count = cfg.model.vocab_min_count;
    o.overlap = cfg.data.dedupe ? MILNCE_OVERLAP_DEDUPE : MILNCE_OVERLAP_KEEP;
    if (idx < 0 && num < 0) {
        milnce_launcher l = milnce_launcher_detect();
        if (l.rank >= 0 && l.world > 0) {
            idx = l.rank;
            num = l.world;
        }
    }
    o.shard_index = idx < 0 ? 0 : idx;
    o.num_shards = num < 0 ? 1 : num;
    if (o.videos_per_shard < 1 || o.num_shards < 1 || o.shard_index >= o.num_shards) {
        fprintf(stderr, "milnce preprocess: need --videos-per-shard >= 1 and 0 <= --shard-index < --num-shards\n");
        goto done;
    }
    milnce_logger lg = milnce_rank_logger("preprocess", o.shard_index);
    o.lg = &lg;
    progress_state ps = {isatty(2), 0};
    o.progress = progress;
    o.progress_user = &ps;
    o.cancel = milnce_stop_on_signals();
    milnce_preprocess_stats st;
    int ret = milnce_preprocess_run(&o, &st, &err);
    if (ret < 0) {
        fprintf(stderr, "milnce preprocess: %s\n", err.msg);
        rc = MILNCE_EXIT_ERROR;
        goto done;
    }
    char remade[96] = "";
    if (st.shards_remade || st.shards_removed)
        snprintf(remade, sizeof remade, "; %d remade and %d removed: their inputs changed", st.shards_remade,
                 st.shards_removed);
    char part[64] = "";
    if (o.num_shards > 1) snprintf(part, sizeof part, ".part%d-of-%d", o.shard_index, o.num_shards);
    printf("preprocess: %s%lld videos (%.1f s of video, %lld sentences) in %d shards (%d made now, %d kept%s), "
           "%lld skipped; %s/stats%s.json, %s/errors%s.log%s\n", part[0] ? "this part: " : "",
           (long long)st.videos, st.seconds, (long long)st.sentences, st.shards_written + st.shards_reused,
           st.shards_written, st.shards_reused, remade, (long long)st.skipped, o.out_dir, part, o.out_dir, part,
           st.merged ? "; every part is done: merged into stats.json and errors.log" : "");
    if (st.renditions_copied > 0)
        printf("preprocess: %lld renditions transcoded (%.1f MB), %lld copied from the shards they were in "
               "(video unchanged; narration or vocabulary changed)\n", (long long)st.renditions_encoded,
               st.bytes_encoded / 1e6, (long long)st.renditions_copied);
    rc = MILNCE_EXIT_OK;
done:
    milnce_cli_free(&cli);
    return rc;
}
