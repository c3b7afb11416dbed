/* milnce preprocess: videos + narration -> shards (see pipeline/preprocess.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "preprocess.h"
#include "transcript.h"


static void help(void) {
    printf("usage: milnce preprocess --videos LIST --captions SRC --out DIR [options]\n"
           "       milnce preprocess --merge-stats DIR\n\n"
           "Transcodes every video (short side --size, --fps, H.264) and its narration (tokenised)\n"
           "into tar shards in the WebDataset layout, with an index per shard, vocab.txt,\n"
           "stats.json and errors.log. Re-running resumes: complete shards are kept when their inputs\n"
           "(videos, narration, options, vocabulary) are unchanged, remade otherwise.\n\n"
           "  --videos LIST          CSV with a video_path or video_id column, or a folder\n"
           "  --video-root DIR       where video_id rows are looked up (default: the CSV's folder)\n"
           "  --captions SRC         folder of <id>.csv|srt|vtt|sbv|json, a caption.json, or 'embedded'\n"
           "  --out DIR              output folder\n"
           "  --config FILE          take data.fps, data.resize, model.vocab* from a config\n"
           "  --set section.key=V    override a config key\n"
           "  --fps F                rendition frame rate (default data.fps = 5)\n"
           "  --size S               rendition short side in pixels (default data.resize = 256)\n"
           "  --crf N                x264 quality (default 23)\n"
           "  --max-seconds S        keep at most S seconds of each video (default all)\n"
           "  --vocab FILE           use this vocabulary instead of building one\n"
           "  --videos-per-shard N   (default 64)\n"
           "  --jobs N               worker threads (default data.workers)\n"
           "  --shard-index I --num-shards N   make part I of N (default: from the MPI launcher's\n"
           "                         rank and size when present, else 0 of 1); each part writes\n"
           "                         stats.partI-of-N.json, the last to finish the merged stats.json\n"
           "  --merge-stats DIR      only write DIR/stats.json and errors.log from its complete shards\n"
           "  --dedupe               drop words that repeat the previous rolling caption line\n"
           "  --encodings LIST       iconv encodings tried for non-UTF-8 subtitles (e.g. GB18030,CP1252)\n"
           "  --keep-complete        keep every complete shard even when its inputs changed or were not\n"
           "                         recorded (shards of an older milnce, a corpus moved elsewhere)\n");
}

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

static int env_int(const char *const *names, int *out) {
    for (int i = 0; names[i]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) {
            *out = atoi(v);
            return 1;
        }
    }
    return 0;
}

int milnce_cmd_preprocess(int argc, char **argv) {
    if (milnce_wants_help(argc, argv)) {
        help();
        return MILNCE_EXIT_OK;
    }
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    milnce_preprocess_opts o;
    milnce_preprocess_opts_default(&o);
    const char *config = NULL, *merge = NULL;
    double fps = 0, max_seconds = 0;
    int size = 0, jobs = 0, idx = -1, num = -1, vps = 64, crf = 0, dedupe = 0;
    enum { O_VIDEOS = 256, O_ROOT, O_CAPTIONS, O_OUT, O_CONFIG, O_SET, O_FPS, O_SIZE, O_CRF, O_MAXS, O_VOCAB,
           O_VPS, O_JOBS, O_IDX, O_NUM, O_DEDUPE, O_ENC, O_KEEP, O_MERGE };
    static const struct option opts[] = {
        {"videos", required_argument, 0, O_VIDEOS}, {"video-root", required_argument, 0, O_ROOT},
        {"captions", required_argument, 0, O_CAPTIONS}, {"out", required_argument, 0, O_OUT},
        {"config", required_argument, 0, O_CONFIG}, {"set", required_argument, 0, O_SET},
        {"fps", required_argument, 0, O_FPS}, {"size", required_argument, 0, O_SIZE},
        {"crf", required_argument, 0, O_CRF}, {"max-seconds", required_argument, 0, O_MAXS},
        {"vocab", required_argument, 0, O_VOCAB}, {"videos-per-shard", required_argument, 0, O_VPS},
        {"jobs", required_argument, 0, O_JOBS}, {"shard-index", required_argument, 0, O_IDX},
        {"num-shards", required_argument, 0, O_NUM}, {"dedupe", no_argument, 0, O_DEDUPE},
        {"encodings", required_argument, 0, O_ENC}, {"keep-complete", no_argument, 0, O_KEEP},
        {"merge-stats", required_argument, 0, O_MERGE}, {0, 0, 0, 0}};
    char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_VIDEOS: o.video_list = optarg; break;
        case O_ROOT: o.video_root = optarg; break;
        case O_CAPTIONS: o.captions = optarg; break;
        case O_OUT: o.out_dir = optarg; break;
        case O_CONFIG: config = optarg; break;
        case O_SET: sets[nsets++] = optarg; break;
        case O_FPS: fps = atof(optarg); break;
        case O_SIZE: size = atoi(optarg); break;
        case O_CRF: crf = atoi(optarg); break;
        case O_MAXS: max_seconds = atof(optarg); break;
        case O_VOCAB: o.vocab_path = optarg; break;
        case O_VPS: vps = atoi(optarg); break;
        case O_JOBS: jobs = atoi(optarg); break;
        case O_IDX: idx = atoi(optarg); break;
        case O_NUM: num = atoi(optarg); break;
        case O_DEDUPE: dedupe = 1; break;
        case O_ENC: o.encoding_fallbacks = optarg; break;
        case O_KEEP: o.keep_complete = 1; break;
        case O_MERGE: merge = optarg; break;
        default:
            fprintf(stderr, "milnce preprocess: bad option '%s' (see --help)\n", argv[optind - 1]);
            free(sets);
            return MILNCE_EXIT_USAGE;
        }
    }
    int rc = MILNCE_EXIT_USAGE;
    if (optind < argc) {
        fprintf(stderr, "milnce preprocess: unexpected argument '%s'\n", argv[optind]);
        goto done;
    }
    if (merge) {
        if (o.video_list || o.captions || o.out_dir) {
            fprintf(stderr, "milnce preprocess: --merge-stats DIR takes no other input (see --help)\n");
            goto done;
        }
        milnce_preprocess_stats st;
        if (milnce_preprocess_merge_stats(merge, &st, &err) < 0) {
            fprintf(stderr, "milnce preprocess: %s\n", err.msg);
            rc = MILNCE_EXIT_ERROR;
            goto done;
        }
        printf("preprocess: merged %d shards: %lld videos (%.1f s of video, %lld sentences), %lld skipped; %s/stats.json, %s/errors.log\n",
               st.shards_total, (long long)st.videos, st.seconds, (long long)st.sentences, (long long)st.skipped, merge, merge);
        rc = MILNCE_EXIT_OK;
        goto done;
    }
    if (config && milnce_config_load(&cfg, config, &err) < 0) {
        fprintf(stderr, "milnce preprocess: %s\n", err.msg);
        goto done;
    }
    for (int i = 0; i < nsets; i++)
        if (milnce_config_set(&cfg, sets[i], &err) < 0) {
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
    o.fps = fps > 0 ? fps : cfg.data.fps;
    o.size = size > 0 ? size : cfg.data.resize;
    o.crf = crf;
    o.max_seconds = max_seconds;
    o.jobs = jobs > 0 ? jobs : cfg.data.workers;
    o.videos_per_shard = vps;
    o.vocab_max = cfg.model.vocab_max;
    o.vocab_min_count = cfg.model.vocab_min_count;
    o.overlap = (dedupe || cfg.data.dedupe) ? MILNCE_OVERLAP_DEDUPE : MILNCE_OVERLAP_KEEP;
    if (idx < 0 && num < 0) {
        static const char *ranks[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID", NULL};
        static const char *sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS", NULL};
        int r, n;
        if (env_int(ranks, &r) && env_int(sizes, &n) && n > 0) {
            idx = r;
            num = n;
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
    free(sets);
    return rc;
}
