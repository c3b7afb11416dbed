#include "demo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileutil.h"
#include "preprocess.h"
#include "report.h"
#include "synth.h"
#include "train.h"

/* Sized so the demo finishes in a few minutes on 2 cores and the trained model retrieves far
 * above chance: a narrow, shallow S3D-G (width 0.25, Inception blocks 1/2/1) on 8 frames of
 * 48 x 48, a small text encoder, a bag of the anchor and its neighbour on each side, 40 epochs of
 * the 480 training videos (1200 steps) with the learning rate decayed to zero (cosine) by the end.
 * Measured on the default corpus (seed 1), text->video R@5 (chance 5.1%): 160 videos x 600 steps
 * 40%, 480 x 600 47%, 480 x 900 49-57%, 480 x 1200 52-56% (nearest 3, lr 2e-3, symmetric 1):
 * with narration this noisy, more distinct videos help more than more passes over the same ones. */
static const char demo_yaml[] =
    "# The demo (milnce demo): a small synthetic corpus, a narrow S3D-G on small frames,\n"
    "# a few minutes on 2 cores. `milnce demo` has this text built in.\n"
    "data:\n"
    "  num_frames: 8\n"
    "  fps: 5\n"
    "  size: 48\n"
    "  resize: 56\n"
    "  min_time: 4\n"
    "  window: symmetric\n"
    "  window_k: 1\n"
    "  max_words: 12\n"
    "  workers: 2\n"
    "model:\n"
    "  width: 0.25\n"
    "  blocks3: 1\n"
    "  blocks4: 2\n"
    "  blocks5: 1\n"
    "  word_dim: 64\n"
    "  text_hidden: 256\n"
    "  embed_dim: 128\n"
    "  freeze_words: false\n"
    "train:\n"
    "  out_dir: \"out/demo\"\n"
    "  batch_size: 16\n"
    "  epochs: 40\n"
    "  max_steps: 0\n"
    "  lr: 0.003\n"
    "  warmup_steps: 30\n"
    "  checkpoint_every: 200\n"
    "  log_every: 1\n"
    "eval:\n"
    "  format: youcook2\n"
    "  num_windows: 4\n"
    "  max_words: 12\n"
    "  batch_size: 16\n";

const char *milnce_demo_config_yaml(void) { return demo_yaml; }

int milnce_demo_config(milnce_config *cfg, milnce_error *err) {
    milnce_config_defaults(cfg);
    return milnce_config_load_string(cfg, demo_yaml, "built-in demo config", err);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void stage_done(const milnce_demo_opts *o, const char *name, double *t) {
    double n = now_s();
    if (o->stage) o->stage(o->stage_user, name, n - *t);
    *t = n;
}

int milnce_demo_run(const milnce_demo_opts *o, milnce_demo_result *res, milnce_error *err) {
    memset(res, 0, sizeof *res);
    double t0 = now_s(), t = t0;
    char corpus[MILNCE_PATH_MAX], shards[MILNCE_PATH_MAX], p[MILNCE_PATH_MAX];
    int ret;
    if ((ret = milnce_mkdirs(o->out_dir, err)) < 0) return ret;
    if ((ret = milnce_path(corpus, sizeof corpus, err, "%s/corpus", o->out_dir)) < 0) return ret;
    if ((ret = milnce_path(shards, sizeof shards, err, "%s/shards", o->out_dir)) < 0) return ret;

    /* 1. corpus (deterministic: kept when a previous demo made it with the same options) */
    milnce_synth_opts so;
    milnce_synth_opts_init(&so);
    so.out = corpus;
    so.videos = o->train_videos;
    so.eval_videos = o->eval_videos;
    so.params.seed = (uint64_t)o->seed;
    so.params.min_seconds = o->min_seconds;
    so.params.max_seconds = o->max_seconds;
    /* Small frames at 10 fps: the model sees 48 x 48 crops at 5 fps, so larger videos would only
     * cost rendering and decoding time. */
    so.params.width = 96;
    so.params.height = 72;
    so.params.fps = 10;
    milnce_synth_stats sst;
    if ((ret = milnce_synth_run(&so, NULL, &sst, err)) < 0) return milnce_error_prefix(err, "synth");
    stage_done(o, "synth", &t);

    /* 2. shards; preprocess resumes, so a shard left from an identical run is kept (synth leaves
     * files with unchanged bytes untouched) and one made from another corpus is remade */
    milnce_preprocess_opts po;
    milnce_preprocess_opts_default(&po);
    if ((ret = milnce_path(p, sizeof p, err, "%s/train/videos.csv", corpus)) < 0) return ret;
    char caps[MILNCE_PATH_MAX];
    if ((ret = milnce_path(caps, sizeof caps, err, "%s/train/captions", corpus)) < 0) return ret;
    po.video_list = p;
    po.captions = caps;
    po.out_dir = shards;
    po.fps = o->cfg->data.fps;
    po.size = o->cfg->data.resize;
    po.jobs = o->cfg->data.workers;
    po.videos_per_shard = 64;
    po.lg = o->lg;
    po.cancel = o->cancel;
    milnce_preprocess_stats pst;
    if ((ret = milnce_preprocess_run(&po, &pst, err)) < 0) return milnce_error_prefix(err, "preprocess");
    stage_done(o, "preprocess", &t);

    /* 3. train: a fresh run in out_dir */
    milnce_config cfg = *o->cfg;
    if ((ret = milnce_path(cfg.data.shards, sizeof cfg.data.shards, err, "%s", shards)) < 0) return ret;
    if ((ret = milnce_path(cfg.train.out_dir, sizeof cfg.train.out_dir, err, "%s", o->out_dir)) < 0) return ret;
    if ((ret = milnce_path(cfg.eval.csv, sizeof cfg.eval.csv, err, "%s/eval/youcook2_val.csv", corpus)) < 0) return ret;
    if ((ret = milnce_path(cfg.eval.video_root, sizeof cfg.eval.video_root, err, "%s/eval/videos", corpus)) < 0) return ret;
    /* A previous demo's run is moved aside to <out_dir>.old-N (train's --overwrite); the corpus
     * and shards stay. */
    milnce_train_opts to = {.cfg = &cfg, .overwrite = 1, .cancel = o->cancel, .lg = o->lg,
                            .progress = o->train_progress,
                            .progress_user = o->train_progress_user};
    milnce_train_result tr;
    if ((ret = milnce_train_run(&to, &tr, err)) < 0) return milnce_error_prefix(err, "train");
    res->first_loss = tr.first_loss;
    res->last_loss = tr.last_loss;
    res->steps = tr.steps;
    res->clips_per_s = tr.clips_per_s;
    stage_done(o, "train", &t);

    /* 4. eval on the aligned split */
    char set_csv[MILNCE_PATH_MAX + 16], set_root[MILNCE_PATH_MAX + 24];
    if ((ret = milnce_path(set_csv, sizeof set_csv, err, "eval.csv=%s", cfg.eval.csv)) < 0) return ret;
    if ((ret = milnce_path(set_root, sizeof set_root, err, "eval.video_root=%s", cfg.eval.video_root)) < 0) return ret;
    const char *sets[] = {set_csv, set_root};
    milnce_eval_load_opts lo = {.checkpoint = o->out_dir, .sets = sets, .nsets = 2, .with_video = 1,
                                .with_text = 1, .lg = o->lg};
    milnce_eval_model *em = NULL;
    if ((ret = milnce_eval_model_load(&em, &lo, err)) < 0) return milnce_error_prefix(err, "eval");
    milnce_eval_opts eo = {.out_dir = o->out_dir, .thumbnails = 1, .lg = o->lg};
    milnce_eval_result er;
    memset(&er, 0, sizeof er);
    ret = milnce_eval_run(em, &eo, &er, err);
    milnce_eval_model_free(&em);
    if (ret < 0) return milnce_error_prefix(err, "eval");
    res->t2v = er.t2v;
    res->v2t = er.v2t;
    res->chance_r1 = er.chance_r1;
    res->chance_r5 = er.chance_r5;
    res->chance_r10 = er.chance_r10;
    res->queries = er.n;
    milnce_eval_result_free(&er);
    stage_done(o, "eval", &t);

    /* 5. report */
    if ((ret = milnce_path(res->report, sizeof res->report, err, "%s/report.html", o->out_dir)) < 0) return ret;
    milnce_report_opts ro = {.title = "milnce demo"};
    if ((ret = milnce_report_write(o->out_dir, res->report, &ro, NULL, o->lg, err)) < 0) return milnce_error_prefix(err, "report");
    stage_done(o, "report", &t);
    res->seconds = now_s() - t0;
    return 0;
}
